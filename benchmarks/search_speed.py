"""Search speed on NAS-Bench-201 CIFAR-10: 500 seeds of each method in one program, and one seed alone.

Run::

    python benchmarks/search_speed.py --data-dir /path/to/nb201 \\
        [--embeddings runs/nb201/embeddings.npz] --out benchmarks/results/search_speed_cpu.json

For each method and preset it reports, on the named device:
- ``compile_s``: ahead-of-time compile of the vmapped init and chunk programs (500 seeds);
- ``run_s``: the compiled run of all 500 seeds to the end of their budgets (``block_until_ready``);
- ``total_s`` = compile + run, the number the 30-second target for 500 RL seeds refers to;
- ``one_seed_run_s``: one seed alone (its own compiled program), i.e. seconds per seed run alone;
- ``seeds_per_s`` and ``s_per_seed`` of the 500-seed run, the mean queries and the steps run.

Without ``--embeddings`` the latent features are random N(0, 1) (the search cost does not depend
on their values beyond the number of queries). The original arch2vec took about 7.3 s per RL seed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

from a2v_jax.data import get_protocol, load_nb201
from a2v_jax.runtime import device_name
from a2v_jax.search.core import ChunkedRunner
from a2v_jax.search.nb201 import build_pool
from a2v_jax.search.report import seed_keys
from a2v_jax.search.runner import embeddings_or_random, plan_method

ORIGINAL_RL_S_PER_SEED = 7.3


def time_method(
    method: str,
    preset: str,
    env,
    seeds: int,
    chunk_steps: int,
    *,
    space: str = "nb201",
    one_seed: bool = True,
) -> dict:
    """Compile and run times of ``method`` on ``env`` for ``seeds`` seeds (and one seed alone).

    ``compile_s`` is the ahead-of-time compile of the vmapped init and chunk programs, ``run_s``
    the compiled run of every seed to the end of its budget (``block_until_ready``).
    ``one_seed``: also time seed 1 alone in its own program (``one_seed_compile_s`` / ``_run_s``).
    """
    strategy, max_steps = plan_method(method, preset, env, space=space)
    out = {"method": method, "preset": preset, "seeds": seeds, "max_steps": max_steps}
    for label, n in (("", seeds), ("one_seed_", 1))[: 2 if one_seed else 1]:
        keys = seed_keys(np.arange(1, n + 1))
        runner = ChunkedRunner(strategy, chunk_steps=chunk_steps)
        compile_s = runner.compile(env, keys)
        t0 = time.perf_counter()
        state, rec = runner(env, keys, max_steps)
        jax.block_until_ready((state, rec))
        run_s = time.perf_counter() - t0
        out[f"{label}compile_s"] = compile_s
        out[f"{label}run_s"] = run_s
        if not label:
            out["total_s"] = compile_s + run_s
            out["seeds_per_s"] = n / run_s
            out["s_per_seed"] = run_s / n
            out["steps_run"] = int(rec.idx.shape[1])
            out["mean_queries"] = float(np.asarray(state.log.n_queries).mean())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None, help="NAS-Bench-201 data (default: $A2V_NB201_DIR)")
    ap.add_argument("--embeddings", default=None, help="embeddings.npz (default: random N(0,1) features)")
    ap.add_argument("--methods", default="rl,bo,random,rea,ls", help="comma-separated methods")
    ap.add_argument("--presets", default="paper,default", help="comma-separated presets")
    ap.add_argument("--seeds", type=int, default=500)
    ap.add_argument("--chunk-steps", type=int, default=16)
    ap.add_argument("--out", default=None, help="JSON output path")
    args = ap.parse_args(argv)

    table = load_nb201(args.data_dir)
    proto = get_protocol("arch2vec", "cifar10")
    emb, features = embeddings_or_random(args.embeddings, table)
    pool = build_pool(table, proto, embeddings=emb, with_neighbours=True)
    results = []
    for method in args.methods.split(","):
        for preset in args.presets.split(","):
            try:
                r = time_method(method, preset, pool.env, args.seeds, args.chunk_steps)
            except ImportError as e:  # bo.py not there yet
                r = {"method": method, "preset": preset, "skipped": f"{type(e).__name__}: {e}"}
            results.append(r)
            print(json.dumps(r), flush=True)
    rl = [r for r in results if r["method"] == "rl" and "total_s" in r]
    report = {
        "benchmark": "search_speed",
        "dataset": "cifar10",
        "protocol": proto.name,
        "budget_s": proto.budget_s,
        "features": features,
        "device": device_name(),
        "host": {"machine": platform.machine(), "processor": platform.processor(), "cpus": _cpus()},
        "jax": jax.__version__,
        "chunk_steps": args.chunk_steps,
        "original_rl_s_per_seed": ORIGINAL_RL_S_PER_SEED,
        "rl_total_s_500_seeds": {r["preset"]: r["total_s"] for r in rl} if args.seeds == 500 else None,
        "results": results,
    }
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


def _cpus() -> int | None:
    import os

    return os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
