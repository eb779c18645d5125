"""One device suite: pretraining, the NB201 and NB101 searches and the DARTS proxy step, timed on one device.

Run (one command; writes ``benchmarks/results/device_suite_<device>.json`` after every section, so
a run stopped by a time limit keeps what it measured; ``--merge`` redoes some sections of it)::

    python benchmarks/device_suite.py                 # full sizes (made for one accelerator)
    python benchmarks/device_suite.py --quick         # tiny sizes on a CPU (its test)

Sections, cheap and decisive first (``--sections`` picks some); compile and run times apart:

- ``pretrain``: NAS-Bench-201, ``paper`` preset, 10 epochs, populations 1 and 8 (the epoch
  program compiled ahead of time, then every epoch timed); the population's epoch against one
  model's; the whole ``python -m a2v_jax.pretrain --epochs 10`` command's wall time.
- ``agreement``: the cell each of 20 fixed seeds ends on, for RL and the baselines (random, REA,
  local search), both presets, three datasets; compared with ``--reference`` (default: the
  committed ``device_suite_cpu.json``) when its sizes are the same: float rounding may move a seed,
  a systematic difference moves many.
- ``search``: arch2vec-RL and -BO, both presets, the three datasets, 500 seeds each as one vmapped
  program, on N(0, 1) features (the cost does not depend on their values); the totals per preset.
- ``darts``: the DARTS proxy network (``proxy`` preset: C=36, 20 cells, auxiliary head, batch 96)
  trained for one proxy epoch's steps (45,000 images) on random images: images per second, and
  the step's FLOPs (XLA's count) per second.
- ``kernels``: the largest loop-free search and pretraining kernels (a pretraining step of 8
  models; DNGO's predictive mean and variance over the pool for 500 seeds, whole and in the
  presets' 256-row chunks): XLA's FLOP and byte counts, time, achieved rates and, on a listed
  accelerator (:data:`PEAKS`), the fraction of its peak. XLA counts a loop's body once, so whole
  programs are not rated.
- ``nb101``: RL and BO, both presets, 100 seeds on a synthetic pool of the whole space (423,624
  cells), last because it is the longest.

``--quick`` (:data:`QUICK`) shrinks every size: 300 cells, 2 epochs, populations 1 and 2; the
``default`` preset only; 4 seeds on a 400-cell pool at 15 % of the budget, CIFAR-10 only; a 3,000-cell
NB101 pool; a 4-channel, 3-cell network at batch 8. Its JSON goes to ``..._quick.json``. The NB201
tables are the packaged ones: no data needs to be configured.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# On a GPU, JAX would take 75 % of its memory at the first call and leave the timed pretraining
# command (a second process) too little; allocate on demand instead (read when the backend starts).
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmarks, also when imported

from nb101_search import synthetic_nb101_env  # noqa: E402
from pretrain_speed import time_population  # noqa: E402
from search_speed import time_method  # noqa: E402

from a2v_jax.data import DATASETS, get_protocol, load_nb201  # noqa: E402
from a2v_jax.embed import Embeddings  # noqa: E402
from a2v_jax.runtime import device_name  # noqa: E402
from a2v_jax.search.nb201 import build_pool  # noqa: E402
from a2v_jax.search.report import write_json  # noqa: E402
from a2v_jax.search.runner import embeddings_or_random, run_method  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: The sizes that decide the agreement section's found cells (a reference must have the same).
AGREEMENT_SIZES = ("search_pool", "budget_scale", "search_datasets", "agree_seeds", "presets", "chunk_steps")
SECTIONS = ("pretrain", "agreement", "search", "darts", "kernels", "nb101")  # cheap and decisive first
#: Peak rates of the accelerators this project is lent (dense FP32 without tensor cores, since the
#: surrogates ask for HIGHEST precision; HBM bandwidth), from NVIDIA's data sheets (SXM parts).
PEAKS = {
    "H100": {"fp32_flop_s": 67e12, "tf32_tensor_flop_s": 495e12, "hbm_bytes_s": 3.35e12},
    "H200": {"fp32_flop_s": 67e12, "tf32_tensor_flop_s": 495e12, "hbm_bytes_s": 4.8e12},
}


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big each section's work is (see the module docstring for the two sets)."""

    name: str
    pretrain_cells: int | None  # None: all 15,625
    pretrain_epochs: int
    populations: tuple[int, ...]
    command_args: tuple[str, ...]  # the timed ``python -m a2v_jax.pretrain`` command's arguments
    search_seeds: int
    search_pool: int | None  # None: all 15,625 cells
    budget_scale: float  # fraction of each protocol's budget
    search_datasets: tuple[str, ...]
    agree_seeds: int
    nb101_pool: int
    nb101_seeds: int
    nb101_budget_s: float
    darts_channels: int
    darts_layers: int
    darts_batch: int
    darts_images: int  # images in the timed epoch
    kernel_seeds: int
    presets: tuple[str, ...] = ("paper", "default")
    chunk_steps: int = 16


FULL = Sizes(
    "full", None, 10, (1, 8), ("--epochs", "10"), 500, None, 1.0, DATASETS, 20,
    423_624, 100, 1.5e6, 36, 20, 96, 45_000, 500,
)  # fmt: skip
QUICK = Sizes(
    "quick", 300, 2, (1, 2), ("--subset", "300", "--epochs", "1", "--prior-samples", "100"), 4, 400,
    0.15, ("cifar10",), 4, 3_000, 2, 2e4, 4, 3, 8, 16, 8, ("default",),
)  # fmt: skip


def _timed(fn, *args) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t0


def _peak_device_bytes() -> int | None:
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def device_slug() -> str:
    """The file-name form of the device: ``cpu``, ``nvidia_h100_80gb_hbm3``."""
    d = jax.devices()[0]
    kind = "cpu" if d.platform == "cpu" else d.device_kind
    return re.sub(r"[^a-z0-9]+", "_", kind.lower()).strip("_")


def xla_counts(compiled) -> tuple[float, float]:
    """XLA's ``(flops, bytes accessed)`` of a compiled program (a loop's body counted once)."""
    cost = compiled.cost_analysis() or {}
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", 0.0)), float(cost.get("bytes accessed", 0.0))


def peak_fractions(flop_s: float, bytes_s: float | None = None) -> dict:
    """The achieved rates as fractions of the device's peaks (empty off a listed accelerator)."""
    peaks = device_peaks()
    if not peaks:
        return {}
    out = {"frac_fp32_peak": flop_s / peaks["fp32_flop_s"]}
    if bytes_s is not None:
        out["frac_hbm_peak"] = bytes_s / peaks["hbm_bytes_s"]
    return out


def device_peaks() -> dict | None:
    """The peak rates of the device (:data:`PEAKS`), None where it is not a listed accelerator."""
    d = jax.devices()[0]
    if d.platform == "cpu":
        return None
    return next((v for k, v in PEAKS.items() if k in d.device_kind), None)


def random_embeddings(table, n: int | None) -> Embeddings:
    """The first ``n`` rows (None: all) of the benchmarks' N(0, 1) features (:func:`embeddings_or_random`)."""
    emb, _ = embeddings_or_random(None, table)
    rows = slice(None) if n is None else slice(n)
    return dataclasses.replace(
        emb, features=emb.features[rows], arch_str=emb.arch_str[rows], index=emb.index[rows]
    )


def _pools(sizes: Sizes, table) -> dict:
    emb = random_embeddings(table, sizes.search_pool)
    pools = {}
    for d in sizes.search_datasets:
        proto = get_protocol("arch2vec", d)
        pools[d] = build_pool(table, proto, embeddings=emb, budget_s=proto.budget_s * sizes.budget_scale)
    return pools


@functools.cache
def nb201_dataset():
    """The NB201 pretraining graphs (read once for the pretrain and kernels sections)."""
    from a2v_jax.pretrain.input_pipeline import load_space_dataset
    from a2v_jax.spaces import get_space

    return load_space_dataset(get_space("nb201"))


def section_pretrain(sizes: Sizes) -> dict:
    """Epoch-program compile and run times for each population, and the whole command's wall time."""
    data = nb201_dataset()
    runs = [
        time_population(k, "paper", sizes.pretrain_epochs, data, sizes.pretrain_cells)
        for k in sizes.populations
    ]
    for r in runs:
        r.pop("final_loss")
    one, many = runs[0], runs[-1]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "a2v_jax.pretrain",
            *sizes.command_args,
            "--workdir",
            tmp,
            "--no-progress",
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        command_s = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return {
        "cells": sizes.pretrain_cells or data.graphs.num_graphs,
        "epochs": sizes.pretrain_epochs,
        "populations": runs,
        "population_epoch_vs_single": many["epoch_s_median"] / one["epoch_s_median"],
        "command": " ".join(["python -m a2v_jax.pretrain", *sizes.command_args]),
        "command_wall_s": command_s,
    }


def section_search(sizes: Sizes, table) -> dict:
    """RL and BO, both presets, every dataset: ``search_seeds`` seeds in one program each."""
    runs = []
    for dataset, pool in _pools(sizes, table).items():
        for method in ("rl", "bo"):
            for preset in sizes.presets:
                r = time_method(
                    method, preset, pool.env, sizes.search_seeds, sizes.chunk_steps, one_seed=False
                )
                runs.append({"dataset": dataset, **r})
                print(json.dumps(runs[-1]), flush=True)
    totals = {p: sum(r["total_s"] for r in runs if r["preset"] == p) for p in sizes.presets}
    return {"seeds": sizes.search_seeds, "features": "random N(0, 1), 16-d", "runs": runs, "total_s": totals}


def section_agreement(sizes: Sizes, table, reference: dict | None) -> dict:
    """The cell each fixed seed ends on (RL and the baselines), compared with ``reference``."""
    seeds = np.arange(1, sizes.agree_seeds + 1)
    found = {}
    for dataset, pool in _pools(sizes, table).items():
        for method in ("rl", "random", "rea", "ls"):
            for preset in sizes.presets:
                out = run_method(method, preset, pool, seeds, chunk_steps=sizes.chunk_steps)
                found[f"{method}/{preset}/{dataset}"] = [int(i) for i in out.best_idx]
    return {"seeds": [int(s) for s in seeds], "found": found, **compare_found(found, sizes, reference)}


def compare_found(found: dict[str, list[int]], sizes: Sizes, reference: dict | None) -> dict:
    """The share of seeds whose found cell equals ``reference``'s, per search and over all.

    Only a reference suite JSON with the same :data:`AGREEMENT_SIZES` is compared (other sizes
    search other pools and budgets); otherwise ``compared`` is None and a note says why.
    """
    ref = (reference or {}).get("sections", {}).get("agreement")
    mine = json.loads(json.dumps(dataclasses.asdict(sizes)))  # tuples as the JSON's lists
    if ref is None or any(reference["sizes"].get(k) != mine[k] for k in AGREEMENT_SIZES):
        return {"compared": None, "compare_note": "no reference run of the same agreement sizes"}
    same = {k: [a == b for a, b in zip(v, ref["found"][k], strict=True)] for k, v in found.items()}
    return {
        "compared": {"reference_device": reference["device"]},
        "agree_frac": {k: float(np.mean(v)) for k, v in same.items()},
        "agree_all": float(np.mean([x for v in same.values() for x in v])),
        "differ": {k: [i for i, ok in enumerate(v) if not ok] for k, v in same.items() if not all(v)},
    }


def section_nb101(sizes: Sizes) -> dict:
    """RL and BO, both presets, ``nb101_seeds`` seeds on a synthetic whole-space pool."""
    env = synthetic_nb101_env(sizes.nb101_pool, sizes.nb101_budget_s)
    runs = []
    for method in ("rl", "bo"):
        for preset in sizes.presets:
            r = time_method(
                method, preset, env, sizes.nb101_seeds, sizes.chunk_steps, space="nb101", one_seed=False
            )
            runs.append(r)
            print(json.dumps(r), flush=True)
    return {
        "pool": sizes.nb101_pool,
        "budget_s": sizes.nb101_budget_s,
        "seeds": sizes.nb101_seeds,
        "runs": runs,
    }


def _darts_state(sizes: Sizes):
    from a2v_jax.darts.config import get_preset
    from a2v_jax.darts.train import create_state

    cfg = get_preset(
        "proxy", init_channels=sizes.darts_channels, layers=sizes.darts_layers, batch_size=sizes.darts_batch
    )
    steps = -(-sizes.darts_images // cfg.batch_size)
    return create_state(jax.random.key(0), "arch2vec_bo", cfg, steps), cfg, steps


def _darts_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int32)


def section_darts(sizes: Sizes) -> dict:
    """One proxy epoch's steps on random images: compile, run, images per second, the step's rates.

    The jitted ``train_step`` (augmentation and drop-path inside) is compiled once and called for
    each batch: one compile serves the throughput and XLA's count of the step's FLOPs (training
    scans the same step; a call's dispatch is microseconds against the step's milliseconds).
    """
    from a2v_jax.darts.steps import train_step

    state, cfg, steps = _darts_state(sizes)
    x, y = _darts_images(steps * cfg.batch_size)
    batches = [
        {
            "image": jnp.asarray(x[i::steps]),
            "label": jnp.asarray(y[i::steps]),
            "mask": jnp.ones(cfg.batch_size, bool),
        }
        for i in range(steps)
    ]
    keys = jax.random.split(jax.random.key(1), steps)
    t0 = time.perf_counter()
    step = jax.jit(train_step, donate_argnums=(0,)).lower(state, batches[0], keys[0]).compile()
    compile_s = time.perf_counter() - t0
    flops, _ = xla_counts(step)
    t0 = time.perf_counter()
    for b, k in zip(batches, keys, strict=True):
        state, metrics = step(state, b, k)
    loss = float(jax.block_until_ready(metrics["loss"]))
    run_s = time.perf_counter() - t0
    return {
        "preset": "proxy",
        "init_channels": cfg.init_channels,
        "layers": cfg.layers,
        "batch_size": cfg.batch_size,
        "images": steps * cfg.batch_size,
        "steps": steps,
        "compile_s": compile_s,
        "run_s": run_s,
        "images_per_s": steps * cfg.batch_size / run_s,
        "step_flops": flops,
        "flop_s": flops * steps / run_s,
        "finite_loss": bool(np.isfinite(loss)),
        **peak_fractions(flops * steps / run_s),
    }


def rate(name: str, fn, args: tuple, repeats: int = 3, counts: dict | None = None) -> dict:
    """XLA's FLOP and byte counts of ``jit(fn)(*args)``, its best time of ``repeats`` and the rates.

    ``counts``: the ``flops`` / ``bytes`` to rate by instead (a kernel with a loop, whose body XLA
    counts once, rated by the counts of its loop-free equivalent).
    """
    compiled = jax.jit(fn).lower(*args).compile()
    jax.block_until_ready(compiled(*args))
    best = min(_timed(compiled, *args)[1] for _ in range(repeats))
    flops, nbytes = xla_counts(compiled)
    if counts is not None:
        flops, nbytes = counts["flops"], counts["bytes"]
    out = {"kernel": name, "s": best, "flops": flops, "bytes": nbytes}
    out["flop_s"], out["bytes_s"] = flops / best, nbytes / best
    return out | peak_fractions(out["flop_s"], out["bytes_s"])


def section_kernels(sizes: Sizes, table) -> dict:
    """The loop-free kernels that dominate each program, rated against the device's peak."""
    from a2v_jax.pretrain.config import ModelConfig, TrainConfig, get_preset
    from a2v_jax.pretrain.graphs import take
    from a2v_jax.pretrain.programs import Programs, map_members
    from a2v_jax.pretrain.steps import train_step
    from a2v_jax.surrogates.dngo.model import DNGOState, dngo_predict

    out = []
    k = sizes.populations[-1]
    data = nb201_dataset()
    programs = Programs(get_preset("paper"), ModelConfig(), TrainConfig(), 8, 7, k)
    states, keys = programs.init(np.arange(k, dtype=np.uint32))
    batch = take(data.graphs, jnp.arange(TrainConfig().batch_size))
    step = map_members(lambda s, kk: train_step(s, batch, kk[0])[0], (0, 0), k)
    out.append(rate(f"pretrain train_step, {k} models, batch 32", step, (states, keys)))

    s, h = sizes.kernel_seeds, 50
    pool = jnp.asarray(random_embeddings(table, sizes.search_pool).features)
    rng = np.random.default_rng(0)
    arr = lambda *shape: jnp.asarray(rng.normal(size=(s, *shape)).astype(np.float32))  # noqa: E731
    one = jnp.ones((s,), jnp.float32)
    dngo = DNGOState(
        {}, arr(16), one[:, None] * jnp.ones(16), arr(16, h), arr(h), arr(h), 0.1 * arr(h, h),
        one, one, one, one, 0 * one, one,
    )  # fmt: skip
    for chunk in (None, 256):  # chunk 256: the presets' pool_chunk, a lax.map over row chunks
        pred = jax.vmap(lambda st, c=chunk: dngo_predict(st, pool, chunk=c))
        name = f"DNGO predict, {s} seeds x {pool.shape[0]} cells, chunk {chunk}"
        out.append(rate(name, pred, (dngo,), counts=None if chunk is None else out[-1]))
    return {"peaks": device_peaks(), "kernels": out}


def run_suite(
    sizes: Sizes, sections: list[str], out: Path, reference: dict | None, merge: bool = False
) -> dict:
    """Runs ``sections`` at ``sizes`` and writes the JSON to ``out`` after each one.

    ``merge``: keep the sections of the JSON already at ``out`` that this run does not redo (it
    must be of the same device and sizes), so a slow device can be measured a section at a time.
    """
    result: dict[str, Any] = {
        "benchmark": "device_suite",
        "device": device_name(),
        "jax": jax.__version__,
        "sizes": json.loads(json.dumps(dataclasses.asdict(sizes))),
        "sections": {},
        "wall_s": {},
    }
    if merge and out.is_file():
        old = json.loads(out.read_text())
        if (old.get("device"), old.get("sizes")) != (result["device"], result["sizes"]):
            raise SystemExit(
                f"--merge: {out} holds another device's or other sizes' suite; use another --out"
            )
        result["sections"] = {k: v for k, v in old["sections"].items() if k not in sections}
        result["wall_s"] = {k: v for k, v in old["wall_s"].items() if k not in sections and k != "total"}
    table = load_nb201() if {"search", "agreement", "kernels"} & set(sections) else None
    for name in sections:
        t0 = time.perf_counter()
        if name == "pretrain":
            res = section_pretrain(sizes)
        elif name == "search":
            res = section_search(sizes, table)
        elif name == "agreement":
            res = section_agreement(sizes, table, reference)
        elif name == "nb101":
            res = section_nb101(sizes)
        elif name == "darts":
            res = section_darts(sizes)
        else:
            res = section_kernels(sizes, table)
        res["peak_device_bytes"] = _peak_device_bytes()
        result["sections"][name] = res
        result["wall_s"][name] = time.perf_counter() - t0
        result["wall_s"]["total"] = sum(v for k, v in result["wall_s"].items() if k != "total")
        write_json(result, out)
        print(f"{name}: {result['wall_s'][name]:.1f} s, written to {out}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (under a minute on a CPU)")
    ap.add_argument("--merge", action="store_true", help="keep the sections of --out this run does not redo")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {SECTIONS}")
    ap.add_argument(
        "--out", default=None, help="JSON path (default: results/device_suite_<device>[_quick].json)"
    )
    ap.add_argument("--reference", default=str(RESULTS / "device_suite_cpu.json"),
                    help="a suite JSON whose agreement section this run's is compared with")  # fmt: skip
    args = ap.parse_args(argv)
    sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        ap.error(f"unknown sections {unknown}; expected some of {SECTIONS}")
    sizes = QUICK if args.quick else FULL
    out = Path(args.out or RESULTS / f"device_suite_{device_slug()}{'_quick' if args.quick else ''}.json")
    ref_path = Path(args.reference)
    reference = json.loads(ref_path.read_text()) if ref_path.is_file() and ref_path != out else None
    run_suite(sizes, sections, out, reference, merge=args.merge)
    return 0


if __name__ == "__main__":
    sys.exit(main())
