"""Scale-out: search seeds per second and pretraining throughput against the number of devices.

Run::

    python benchmarks/scaling.py --data-dir ../shared/data/nb201 \\
        [--embeddings runs/nb201-paper/embeddings.npz] --out benchmarks/results/scaling_cpu.json

On a CPU-only machine the script simulates ``--host-devices`` (default 4) CPU devices with
``XLA_FLAGS=--xla_force_host_platform_device_count`` (set before JAX starts); they share the
machine's cores, so they show that the sharded programs run and what the partitioning costs, not a
speed-up beyond the core count. On accelerators ``jax.devices()`` are the real chips.

For every device count ``k`` in ``--device-counts`` (default 1, 2, 4, ... up to all devices):

- search: ``--seeds`` seeds of ``--method`` (default RL, paper preset) on NAS-Bench-201 CIFAR-10,
  the seeds sharded over ``k`` devices (:class:`~a2v_jax.search.core.ChunkedRunner` with a mesh):
  ``compile_s``, ``run_s`` (median of ``--repeats`` compiled runs, ``block_until_ready``),
  ``seeds_per_s``, and the agreement with ``k = 1``: the fraction of seeds whose whole trajectory
  (indices, acceptance, incumbents) is identical, and the largest difference of the final incumbent
  signal;
- pretraining (``--pretrain``): seconds per epoch (paper preset, batch 32, all 15,625 cells) of one
  model data-parallel over ``k`` devices (mesh ``1 x k``) and of a population of ``k`` models, one
  per device (mesh ``k x 1``); ``models_epochs_per_s``; the first epoch's loss against ``k = 1``.

Without ``--embeddings`` the latent features are random N(0, 1): the search cost does not depend on
their values beyond the number of queries.
"""

from __future__ import annotations

import argparse
import os
import sys


def _simulate_host_devices(argv: list[str] | None) -> None:
    """Adds ``--xla_force_host_platform_device_count`` to XLA_FLAGS before JAX is imported."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--host-devices", type=int, default=4)
    n = pre.parse_known_args(argv)[0].host_devices
    flags = os.environ.get("XLA_FLAGS", "")
    if n > 1 and "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


def main(argv: list[str] | None = None) -> int:
    _simulate_host_devices(argv)
    import json
    import platform
    import time
    from pathlib import Path

    import jax
    import numpy as np

    from a2v_jax.data import get_protocol, load_nb201
    from a2v_jax.runtime import device_name
    from a2v_jax.search import strategy_config
    from a2v_jax.search.core import ChunkedRunner
    from a2v_jax.search.nb201 import build_pool
    from a2v_jax.search.report import seed_keys
    from a2v_jax.search.runner import embeddings_or_random, plan_method
    from a2v_jax.sharding import describe, make_mesh

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host-devices", type=int, default=4, help="simulated CPU devices (CPU platform only)")
    ap.add_argument("--device-counts", default=None, help="comma-separated device counts (default 1,2,4,..)")
    ap.add_argument("--data-dir", default=None, help="NAS-Bench-201 data (default: $A2V_NB201_DIR)")
    ap.add_argument("--embeddings", default=None, help="embeddings.npz (default: random N(0,1) features)")
    ap.add_argument("--method", default="rl")
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--seeds", type=int, default=500)
    ap.add_argument("--chunk-steps", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per device count (median)")
    ap.add_argument(
        "--pretrain", action="store_true", help="also time data- and population-parallel pretraining"
    )
    ap.add_argument("--pretrain-epochs", type=int, default=2, help="timed epochs per configuration")
    ap.add_argument("--out", default=None, help="JSON output path")
    args = ap.parse_args(argv)

    load_start = os.getloadavg()[0]  # other processes on the machine skew the timings; recorded
    total = jax.device_count()
    if args.device_counts:
        counts = [int(c) for c in args.device_counts.split(",")]
    else:
        counts = [k for k in (2**i for i in range(12)) if k <= total]
    bad = [k for k in counts if not 1 <= k <= total]
    if bad:
        ap.error(f"--device-counts {bad}: JAX sees {total} device(s)")

    # ----------------------------------------------------------------------------------- search
    table = load_nb201(args.data_dir)
    proto = get_protocol("arch2vec", "cifar10")
    emb, features = embeddings_or_random(args.embeddings, table)
    traits = strategy_config(args.method, args.preset).traits
    pool = build_pool(table, proto, embeddings=emb, with_neighbours=traits.neighbours)
    strategy, max_steps = plan_method(args.method, args.preset, pool.env)
    keys = seed_keys(np.arange(1, args.seeds + 1))

    search_rows, reference = [], None
    for k in counts:
        mesh = make_mesh(k)
        runner = ChunkedRunner(strategy, chunk_steps=args.chunk_steps, mesh=mesh)
        compile_s = runner.compile(pool.env, keys)
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            state, rec = runner(pool.env, keys, max_steps)
            jax.block_until_ready((state, rec))
            times.append(time.perf_counter() - t0)
        rec = jax.tree.map(np.asarray, rec)
        best = np.asarray(state.log.best_signal)
        if reference is None:
            reference = (rec, best)
        ref_rec, ref_best = reference
        same = (
            (rec.idx == ref_rec.idx).all(1) & (rec.accepted == ref_rec.accepted).all(1)
            if rec.idx.shape == ref_rec.idx.shape
            else np.zeros(args.seeds, bool)
        )
        if rec.idx.shape == ref_rec.idx.shape:
            same &= (rec.best_idx == ref_rec.best_idx).all(1)
        run_s = float(np.median(times))
        row = {
            "devices": k,
            "sharding": describe(mesh),
            "compile_s": compile_s,
            "run_s": run_s,
            "run_s_all": times,
            "seeds_per_s": args.seeds / run_s,
            "steps_run": int(rec.idx.shape[1]),
            "mean_queries": float(np.asarray(state.log.n_queries).mean()),
            "frac_seeds_identical_to_1_device": float(same.mean()),
            "max_abs_diff_best_signal_vs_1_device": float(np.abs(best - ref_best).max()),
        }
        search_rows.append(row)
        print(json.dumps({"search": row}), flush=True)
    base = search_rows[0]["seeds_per_s"]
    for row in search_rows:
        row["speedup_vs_1_device"] = row["seeds_per_s"] / base

    # ------------------------------------------------------------------------------ pretraining
    pretrain_rows = []
    if args.pretrain:
        pretrain_rows = _time_pretraining(counts, args.pretrain_epochs)

    report = {
        "benchmark": "scaling",
        "device": device_name(),
        "devices_visible": total,
        "simulated_host_devices": jax.devices()[0].platform == "cpu" and total > 1,
        "host": {
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "load_avg_1m": {"start": load_start, "end": os.getloadavg()[0]},
        },
        "jax": jax.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "search": {
            "method": args.method,
            "preset": args.preset,
            "dataset": "cifar10",
            "protocol": proto.name,
            "budget_s": proto.budget_s,
            "seeds": args.seeds,
            "chunk_steps": args.chunk_steps,
            "features": features,
            "max_steps": max_steps,
            "results": search_rows,
        },
        "pretrain": pretrain_rows,
    }
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def _time_pretraining(counts: list[int], epochs: int) -> list[dict]:
    """Epoch seconds of data-parallel (1 x k) and population-parallel (k x 1) pretraining."""
    import json
    import time

    import jax
    import numpy as np

    from a2v_jax.pretrain.config import ModelConfig, TrainConfig, get_preset
    from a2v_jax.pretrain.input_pipeline import load_space_dataset, num_train_graphs
    from a2v_jax.pretrain.programs import Programs
    from a2v_jax.sharding import describe, make_mesh, put, replicated
    from a2v_jax.spaces import get_space

    data = load_space_dataset(get_space("nb201"))
    p = data.graphs.num_graphs
    num_train = num_train_graphs(p)
    host_train = jax.tree.map(lambda x: np.asarray(x[:num_train]), data.graphs)
    rows, reference = [], {}
    for k in counts:
        for mode, population, shape in (("data_parallel", 1, (1, k)), ("population", k, (k, 1))):
            mesh = make_mesh(k, shape) if k > 1 else None
            programs = Programs(get_preset("paper"), ModelConfig(), TrainConfig(), 8, 7, population, mesh)
            place = jax.numpy.asarray if mesh is None else (lambda x, m=mesh: put(x, replicated(m)))
            train_set = jax.tree.map(place, host_train)
            states, keys = programs.init(np.arange(3, 3 + population, dtype=np.uint32))
            t0 = time.perf_counter()
            compiled = programs.epoch.lower(states, train_set, keys, np.uint32(0)).compile()
            compile_s = time.perf_counter() - t0
            times, first_loss = [], None
            for e in range(epochs):
                t0 = time.perf_counter()
                states, losses, _ = compiled(states, train_set, keys, np.uint32(e))
                jax.block_until_ready(losses)
                times.append(time.perf_counter() - t0)
                if first_loss is None:
                    first_loss = np.asarray(losses["loss"])
            reference.setdefault(mode, first_loss)
            n_ref = min(len(reference[mode]), len(first_loss))
            epoch_s = float(np.median(times))
            row = {
                "mode": mode,
                "devices": k,
                "sharding": describe(mesh),
                "population": population,
                "compile_s": compile_s,
                "epoch_s": epoch_s,
                "epoch_s_all": times,
                "models_epochs_per_s": population / epoch_s,
                "first_epoch_loss": first_loss.tolist(),
                "first_epoch_loss_max_rel_diff_vs_1_device": float(
                    np.max(
                        np.abs(first_loss[:n_ref] - reference[mode][:n_ref]) / np.abs(reference[mode][:n_ref])
                    )
                ),
            }
            rows.append(row)
            print(json.dumps({"pretrain": row}), flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
