"""arch2vec's NAS-Bench-101 search (reference §7, §9.2): {rl, bo} x presets x protocols, beside the paper.

Each cell of the grid is one ``python -m a2v_jax.search --space nb101`` run
(:func:`a2v_jax.search.nb101.run`) of N seeds on the 108-epoch table: the ``arch2vec``
protocol (1.5e6 simulated seconds, test regret against 0.943175752957662, runs averaged by query
index and cut at 1e6 s) and the ``q150`` protocol (150 queries). Writes ``<out>.json`` (every
summary, with the averaged curves and each seed's final numbers; no per-query trajectories),
``<out>.md`` (our rows beside the paper's) and ``<out>.png`` (log-log test regret vs simulated time,
the paper's points as markers).

It needs the official ``nasbench_only108.tfrecord`` (``--data-dir`` or ``$A2V_NB101_DIR``) and NB101
embeddings keyed by module hash (``python -m a2v_jax.pretrain --space nb101 --data-dir ...`` then
its ``embeddings.npz``); without the data it stops with the loader's message before running
anything. The paper's protocol, on one GPU::

    python benchmarks/nb101_search.py --embeddings runs/nb101/embeddings.npz --data-dir ~/data/nasbench \\
        --seeds 500

``--speed`` needs no data: it times one seed's steps on a synthetic 423,624 x 16 pool (the size of
the whole space) for RL and BO and writes ``<out>_speed_<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from a2v_jax.analysis.curves import PAPER_NB101
from a2v_jax.data import exit_2_on_data_error, load_nb101
from a2v_jax.data.nb101 import BEST_TEST, NUM_CELLS
from a2v_jax.runtime import device_name, enable_compilation_cache
from a2v_jax.search.config import SearchConfig
from a2v_jax.search.nb101 import run

#: Our (method, preset) -> the paper's row.
PAPER_ROW = {"rl": "arch2vec-RL", "bo": "arch2vec-BO"}


def parse_args(argv=None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--embeddings", default=None, help="NB101 embeddings.npz (arch_str = module hash)")
    p.add_argument(
        "--data-dir", default=None, help="nasbench_only108.tfrecord or its directory ($A2V_NB101_DIR)"
    )
    p.add_argument("--methods", nargs="+", default=["rl", "bo"], choices=["rl", "bo", "random"])
    p.add_argument("--presets", nargs="+", default=["paper", "default"], choices=["paper", "default"])
    p.add_argument("--protocols", nargs="+", default=["arch2vec", "q150"], choices=["arch2vec", "q150"])
    p.add_argument("--seeds", type=int, default=500, help="seeds per run (ids 1..N, as the original)")
    p.add_argument("--chunk-steps", type=int, default=16)
    p.add_argument("--devices", type=int, default=None, help="devices to shard the seeds over")
    p.add_argument("--out", default="benchmarks/results/nb101_search", help="output path without suffix")
    p.add_argument("--speed", action="store_true", help="time one seed's steps on a synthetic full-size pool")
    p.add_argument("--speed-steps", type=int, default=64, help="steps timed per method (--speed)")
    return p.parse_args(argv)


def _pm(m, s, scale=1.0, digits=2) -> str:
    return "-" if m is None else f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}"


def _num(x, digits=5) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def markdown(rows: list[dict], meta: dict) -> str:
    """Our rows beside the paper's (reference §9.2)."""
    lines = [
        "# NAS-Bench-101 search (arch2vec reference §7, §9.2)",
        "",
        f"{meta['device']}; {meta['seeds']} seeds per row; table {meta['table']}; embeddings "
        f"{meta['embeddings']}. Test accuracy (%) of the best-by-validation cell at the end of the run; "
        "test regret = 0.943175752957662 minus its test accuracy (fraction); @1e5 / @1e6: each run's "
        "regret after its first query past that time (plot_cdf.py's rule), mean over seeds.",
        "",
        "| method | preset | protocol | queries | test acc (%) | test regret final | @1e5 s | @1e6 s | "
        "published regret @1e6 | published acc @1e6 | wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = r["summary"]
        pub = PAPER_NB101.get(PAPER_ROW.get(s["method"], ""), {})
        at = s["regret_test_at"]
        lines.append(
            f"| {s['method']} | {s['preset']} | {s['protocol']} | {s['mean_queries']:.1f} | "
            f"{_pm(s['test_mean'], s['test_std'])} | "
            f"{_pm(s['regret_test_final']['mean'], s['regret_test_final']['std'], digits=5)} | "
            f"{_num(at['1e5']['mean'])} | {_num(at['1e6']['mean'])} | "
            f"{_num(pub.get('regret_test_1e6'))} | {_num(pub.get('test_1e6'), 2)} | {s['wall_s']:.0f} |"
        )
    lines += ["", "Published (reference §9.2, mean test regret / accuracy at about 1e6 s):", ""]
    lines += ["| method | test regret | test acc (%) | note |", "|---|---|---|---|"]
    for name, row in PAPER_NB101.items():
        lines.append(
            f"| {name} | {_num(row.get('regret_test_1e6'))} | {_num(row.get('test_1e6'), 2)} | "
            f"{row.get('note', '')} |"
        )
    return "\n".join(lines) + "\n"


def run_grid(args: argparse.Namespace) -> int:
    """Runs every (method, preset, protocol) cell and writes the JSON, Markdown and figure."""
    table = load_nb101(args.data_dir, progress=True)  # fails first, with the loader's message
    if len(table) != NUM_CELLS:
        print(
            f"warning: the table has {len(table):,} cells, not the benchmark's {NUM_CELLS:,}", file=sys.stderr
        )
    needs_emb = any(m in ("rl", "bo") for m in args.methods)
    if needs_emb and args.embeddings is None:
        print("error: rl and bo search the latent space: pass --embeddings PATH", file=sys.stderr)
        return 2
    rows, reports = [], {}
    for protocol in args.protocols:
        for method in args.methods:
            for preset in args.presets:
                t0 = time.perf_counter()
                try:
                    config = SearchConfig(
                        space="nb101",
                        method=method,
                        preset=preset,
                        seeds=args.seeds,
                        protocol=protocol,
                        embeddings=args.embeddings if method != "random" else None,
                        chunk_steps=args.chunk_steps,
                        devices=args.devices,
                        trajectories=False,
                    )
                    rep = run(config, table=table)
                except ValueError as e:
                    print(f"error: {method}/{preset} {protocol}: {e}", file=sys.stderr)
                    return 2
                s = rep["summary"]
                print(
                    f"{method}/{preset} {protocol}: test {_pm(s['test_mean'], s['test_std'])}, regret "
                    f"{_num(s['regret_test_final']['mean'])}, {time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
                rows.append(rep)
                reports[(protocol, method, preset)] = rep
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "device": device_name(),
        "seeds": args.seeds,
        "table": f"{table.path} ({len(table):,} cells, sha256 of arrays {table.checksum[:12]})",
        "embeddings": args.embeddings,
    }
    payload = {"meta": meta, "published": PAPER_NB101, "best_test": BEST_TEST, "reports": rows}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
    out.with_suffix(".md").write_text(markdown(rows, meta))
    curves = {f"{m}/{p}": r for (proto, m, p), r in reports.items() if proto == "arch2vec"}
    if curves:
        from a2v_jax.analysis.plots import plot_nb101_regret

        fig = plot_nb101_regret(curves, title=f"NAS-Bench-101, {args.seeds} seeds")
        fig.savefig(out.with_suffix(".png"), dpi=120)
    print(f"wrote {out.with_suffix('.json')}, {out.with_suffix('.md')}")
    return 0


def synthetic_nb101_env(pool: int = NUM_CELLS, budget_s: float = 1.5e6, seed: int = 0):
    """A synthetic NB101-sized env: N(0, 1) 16-d features, signal U(0.80, 0.95), cost U(500, 3000) s.

    The search cost does not depend on the values, only on the pool size and the queries a
    budget buys.
    """
    from a2v_jax.search.runner import pool_env

    rng = np.random.default_rng(seed)
    cost = rng.uniform(500.0, 3000.0, pool).astype(np.float32)
    features = rng.normal(size=(pool, 16)).astype(np.float32)
    return pool_env(features, rng.uniform(0.80, 0.95, pool).astype(np.float32), cost, budget_s)


def run_speed(args: argparse.Namespace) -> dict:
    """One seed's step times on a synthetic 423,624 x 16 pool (RL and BO, NB101 settings)."""
    import jax

    from a2v_jax.search.core import ChunkedRunner
    from a2v_jax.search.presets import space_overrides
    from a2v_jax.search.report import seed_keys
    from a2v_jax.search.runner import plan_method

    p = NUM_CELLS
    env = synthetic_nb101_env(p)
    res = {
        "device": device_name(),
        "pool": [p, 16],
        "budget_s": 1.5e6,
        "cost": "uniform 500-3000 s",
        "runs": [],
    }
    chunk = 16
    for method in args.methods:
        for preset in args.presets:
            strategy, max_steps = plan_method(method, preset, env, space="nb101")
            ov = {
                **space_overrides(method, preset, "nb101"),
                **({"max_obs": max_steps} if method == "bo" else {}),
            }
            runner = ChunkedRunner(strategy, chunk_steps=chunk)
            keys = seed_keys(np.array([1]))
            compile_s = runner.compile(env, keys)
            state = jax.block_until_ready(runner.init(env, keys))
            times = []
            for i in range(-(-args.speed_steps // chunk)):
                t0 = time.perf_counter()
                state, rec = runner.chunk(state, env, keys, i * chunk)
                jax.block_until_ready(rec)
                times.append((time.perf_counter() - t0) / chunk)
            row = {
                "method": method,
                "preset": preset,
                "overrides": {k: v for k, v in ov.items() if isinstance(v, int | float | str | bool)},
                "compile_s": round(compile_s, 2),
                "ms_per_step_by_chunk": [round(1e3 * t, 2) for t in times],
                "ms_per_step_after_first_chunk": round(1e3 * float(np.mean(times[1:] or times)), 2),
                "queries": int(state.log.n_queries[0]),
            }
            print(json.dumps(row), flush=True)
            res["runs"].append(row)
    return res


@exit_2_on_data_error
def main(argv=None) -> int:
    """Entry point."""
    args = parse_args(argv)
    enable_compilation_cache()
    if args.speed:
        res = run_speed(args)
        import jax

        kind = jax.devices()[0].platform
        path = Path(f"{args.out}_speed_{kind}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(res, indent=1) + "\n")
        print(f"wrote {path}")
        return 0
    return run_grid(args)


if __name__ == "__main__":
    sys.exit(main())
