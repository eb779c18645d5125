"""DNGO-BO speed probe: seconds per BO step of a vmapped population, and a 500-seed projection.

Run::

    python benchmarks/bo_speed_probe.py --seeds 32 --out benchmarks/results/bo_speed_probe_cpu.json

A BO step's cost depends on how many observations the run has (the training loop walks
``min(t, max_obs) // 10`` minibatches per epoch), so the probe builds states holding ``n``
random observations and times a few steps starting at ``t = n`` for several ``n``, on a pool of
15,625 architectures with 16-d features (synthetic unless ``--embeddings`` and the NB201 table
are given: the cost does not depend on the values). The compiled chunk program is reused for
every ``n`` (``t0`` is an argument), so its compile time is reported once, separately.

The projection for ``--project-seeds`` seeds and ``--project-steps`` steps interpolates the
per-step time linearly in ``t`` between the measured points, scales it linearly in the number of
seeds (the population is one batched program; on a saturated CPU its cost is proportional to
the seeds), and adds the compile time; it is an extrapolation, stated as such in the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from a2v_jax.search.core import ChunkedRunner, SearchEnv
from a2v_jax.search.presets import make_strategy, strategy_config


def synthetic_env(pool: int, dim: int, seed: int = 0) -> SearchEnv:
    """Random features, a smooth signal in (0, 1), NB201-like costs, the cifar10 budget."""
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(pool, dim)).astype(np.float32)
    signal = 0.6 + 0.2 * np.tanh(feats[:, 0] - 0.3 * feats[:, 1] ** 2)
    cost = rng.uniform(35.0, 210.0, size=pool)
    return SearchEnv(
        features=jnp.asarray(feats),
        signal=jnp.asarray(signal, jnp.float32),
        cost=jnp.asarray(cost, jnp.float32),
        budget_s=jnp.asarray(12_000.0, jnp.float32),
        max_queries=jnp.asarray(np.iinfo(np.int32).max, jnp.int32),
    )


def state_with_observations(state, env: SearchEnv, n: int, seed: int):
    """``state`` (batched over seeds) holding ``n`` distinct random observations per seed."""
    s, p = state.log.visited.shape
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.choice(p, n, replace=False) for _ in range(s)])  # (S, n)
    feats, sig, cost = (np.asarray(a) for a in (env.features, env.signal, env.cost))
    x_obs = np.zeros(state.x_obs.shape, np.float32)
    y_obs = np.zeros(state.y_obs.shape, np.float32)
    x_obs[:, :n] = feats[idx]
    y_obs[:, :n] = sig[idx]
    visited = np.zeros((s, p), bool)
    np.put_along_axis(visited, idx, True, axis=1)
    best = sig[idx].argmax(axis=1)
    log = state.log.replace(
        visited=jnp.asarray(visited),
        spent_s=jnp.asarray(cost[idx].sum(axis=1) * 0.0, jnp.float32),  # keep the budget open
        n_queries=jnp.full((s,), n, jnp.int32),
        best_signal=jnp.asarray(sig[idx][np.arange(s), best], jnp.float32),
        best_idx=jnp.asarray(idx[np.arange(s), best], jnp.int32),
    )
    return state.replace(log=log, x_obs=jnp.asarray(x_obs), y_obs=jnp.asarray(y_obs))


def main() -> None:
    """Parses arguments, runs the probe, writes the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="paper", choices=("paper", "default"))
    ap.add_argument("--seeds", type=int, default=32, help="seeds in the measured population")
    ap.add_argument("--pool", type=int, default=15_625)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--n-obs", type=int, nargs="+", default=[16, 48, 96, 144])
    ap.add_argument("--chunk-steps", type=int, default=4, help="steps timed at each n")
    ap.add_argument("--max-obs", type=int, default=352, help="buffer capacity (cifar10 paper scan: 350)")
    ap.add_argument("--pool-chunk", type=int, default=256)
    ap.add_argument("--project-seeds", type=int, default=500)
    ap.add_argument("--project-steps", type=int, default=150)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    env = synthetic_env(args.pool, args.dim)
    cfg = strategy_config("bo", args.preset, max_obs=args.max_obs, pool_chunk=args.pool_chunk)
    runner = ChunkedRunner(make_strategy(cfg), chunk_steps=args.chunk_steps)
    keys = jax.vmap(jax.random.key)(jnp.arange(1, args.seeds + 1, dtype=jnp.uint32))
    base = jax.block_until_ready(runner.init(env, keys))

    t0 = time.perf_counter()
    st = state_with_observations(base, env, args.n_obs[0], 0)
    jax.block_until_ready(runner.chunk(st, env, keys, args.n_obs[0]))
    first_call_s = time.perf_counter() - t0

    points = []
    for n in args.n_obs:
        st = state_with_observations(base, env, n, n)
        t0 = time.perf_counter()
        out, rec = runner.chunk(st, env, keys, n)
        jax.block_until_ready(rec)
        dt = (time.perf_counter() - t0) / args.chunk_steps
        points.append({"n_obs": n, "step_s": dt, "step_s_per_seed": dt / args.seeds})
        print(f"n={n:4d}: {dt:.3f} s per step for {args.seeds} seeds ({1e3 * dt / args.seeds:.2f} ms/seed)")
    compile_s = max(first_call_s - points[0]["step_s"] * args.chunk_steps, 0.0)

    ns = np.array([p["n_obs"] for p in points], float)
    per_seed = np.array([p["step_s_per_seed"] for p in points])
    init = cfg.init_size
    ts = np.arange(init, args.project_steps)
    projected = float(np.interp(ts, ns, per_seed).sum() * args.project_seeds) + compile_s
    result = {
        "device": f"{jax.devices()[0].platform} ({jax.devices()[0].device_kind})",
        "cpu_count": os.cpu_count(),
        "load_avg_at_end": os.getloadavg(),
        "preset": args.preset,
        "seeds_measured": args.seeds,
        "pool": args.pool,
        "max_obs": args.max_obs,
        "pool_chunk": args.pool_chunk,
        "compile_s": compile_s,
        "points": points,
        "projection": {
            "seeds": args.project_seeds,
            "steps": args.project_steps,
            "total_s": projected,
            "method": "extrapolated: per-seed step time interpolated in t, times seeds, plus compile",
        },
    }
    print(
        f"compile {compile_s:.1f} s; projected {args.project_seeds} seeds x {args.project_steps} steps: "
        f"{projected / 60:.1f} min"
    )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
