"""``python -m a2v_jax.search.darts_pipeline``: the whole DARTS search in one command.

Samples (or reads the cached) DARTS pool, pre-trains arch2vec on it, embeds it, runs one seed of
BO or REINFORCE in the latent space with a host evaluator (:mod:`a2v_jax.search.evaluated`) and
writes every query and the best genotype. On a CPU with the ``toy`` evaluator::

    python -m a2v_jax.search.darts_pipeline --pool-size 2000 --epochs 1 --method bo \\
        --evaluator toy --queries 100 --out runs/darts-toy

The paper's run (reference §7.4): ``--pool-size 600000 --epochs 10 --seed 3 --preset paper
--evaluator darts-proxy --cifar10-dir DIR`` (each query trains a network for 50 epochs).

The pool is the first ``--pool-size`` cells of the DARTS space's sampler (seed 0): a prefix of the
cached 600,000-cell pool if it exists, else sampled (not cached).

Outputs under ``--out``: ``pretrain/`` (the pretraining workdir, resumed if it exists),
``search.json`` (settings, every query: step, index, cell id, genotype, reward, cost_s, and the
best), ``best_genotype.txt``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

EVALUATORS = ("toy", "table", "darts-proxy")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(
        prog="python -m a2v_jax.search.darts_pipeline", description=__doc__.splitlines()[0]
    )
    p.add_argument("--pool-size", type=int, default=2000, help="DARTS pool cells (paper: 600000)")
    p.add_argument("--epochs", type=int, default=1, help="pretraining epochs (paper: 10)")
    p.add_argument("--pretrain-preset", default="paper", choices=["paper", "default"])
    p.add_argument("--prior-samples", type=int, default=1000, help="graphs decoded for the validity metric")
    p.add_argument("--method", default="bo", choices=["bo", "rl"])
    p.add_argument("--preset", default="default", choices=["paper", "default"], help="search preset")
    p.add_argument("--queries", type=int, default=100, help="queries (paper: 100)")
    p.add_argument("--seed", type=int, default=3, help="pretraining and search seed (paper: 3)")
    p.add_argument("--evaluator", default="toy", choices=EVALUATORS)
    p.add_argument("--table", default=None, help="--evaluator table: .json {cell_id: reward} or .npz")
    p.add_argument("--cifar10-dir", default=None, help="--evaluator darts-proxy: CIFAR-10 python batches")
    p.add_argument("--proxy-epochs", type=int, default=None, help="darts-proxy epochs (default 50)")
    p.add_argument("--proxy-channels", type=int, default=None, help="darts-proxy init channels (default 36)")
    p.add_argument("--proxy-layers", type=int, default=None, help="darts-proxy cells (default 20)")
    p.add_argument("--proxy-batch-size", type=int, default=None, help="darts-proxy batch (default 96)")
    p.add_argument("--out", default="runs/darts-search", help="output directory")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    for name in ("pool_size", "epochs", "queries", "prior_samples"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")
    if a.evaluator == "table" and a.table is None:
        p.error("--evaluator table needs --table PATH")
    if a.evaluator == "darts-proxy" and a.cifar10_dir is None:
        import os

        if not os.environ.get("A2V_CIFAR10_DIR"):
            p.error("--evaluator darts-proxy needs --cifar10-dir DIR (or $A2V_CIFAR10_DIR)")
    return a


def make_evaluator(args: argparse.Namespace, cells: np.ndarray, cell_ids: np.ndarray):
    """The evaluator named by ``args.evaluator`` over the pool ``cells`` ``(P, 8, 2)``."""
    from a2v_jax.search import evaluated

    if args.evaluator == "toy":
        return evaluated.toy_evaluator(cells)
    if args.evaluator == "table":
        return evaluated.table_evaluator(evaluated.load_table(args.table), cell_ids)
    return evaluated.darts_proxy_evaluator(
        cells,
        args.cifar10_dir,
        args.seed,
        epochs=args.proxy_epochs,
        init_channels=args.proxy_channels,
        layers=args.proxy_layers,
        batch_size=args.proxy_batch_size,
    )


def run_pipeline(args: argparse.Namespace) -> dict:
    """Pretrain, embed, search; writes ``search.json`` and ``best_genotype.txt``; returns the report."""
    from a2v_jax.embed import load_embeddings
    from a2v_jax.pretraining import PretrainConfig, run_pretraining
    from a2v_jax.search.evaluated import darts_strategy, evaluated_search
    from a2v_jax.spaces.darts import cells_from_codes, format_genotype, genotype_from_cell

    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress
    pre = run_pretraining(
        PretrainConfig(
            space="darts",
            preset=args.pretrain_preset,
            epochs=args.epochs,
            seed=args.seed,
            prior_samples=args.prior_samples,
            workdir=str(out / "pretrain"),
            subset=args.pool_size,
            progress=progress,
        )
    )
    t_pre = time.perf_counter()
    emb = load_embeddings(pre["embeddings"])
    cell_ids = emb.arch_str.astype(str)
    cells = cells_from_codes(cell_ids)  # (P, 8, 2)
    evaluator = make_evaluator(args, cells, cell_ids)
    strategy = darts_strategy(args.method, args.preset, args.queries)
    res = evaluated_search(
        strategy,
        emb.features,
        evaluator,
        args.queries,
        args.seed,
        describe=lambda i: (
            f"pool cell {i} (id {cell_ids[i]}, {format_genotype(genotype_from_cell(cells[i]))})"
        ),
        progress=f"{args.method}-{args.preset}" if progress else False,
    )
    queries = []
    best = -np.inf
    for q, (i, r, c, rep) in enumerate(zip(res.idx, res.reward, res.cost_s, res.repeat, strict=True)):
        best = max(best, float(r))
        queries.append(
            {
                "query": q,
                "index": int(i),
                "cell_id": str(cell_ids[i]),
                "genotype": format_genotype(genotype_from_cell(cells[i])),
                "reward": float(r),
                "cost_s": float(c),
                "repeat": bool(rep),
                "best_so_far": best,
            }
        )
    bi = res.best_idx
    best_genotype = format_genotype(genotype_from_cell(cells[bi]))
    report = {
        "method": args.method,
        "preset": args.preset,
        "evaluator": args.evaluator,
        "seed": args.seed,
        "queries_requested": args.queries,
        "queries_made": len(queries),
        "evaluations": res.evaluations,
        "steps": res.steps,
        "pool_size": len(cell_ids),
        "pool_seed": 0,  # the pretraining space's sampler seed (DARTSSpace default)
        "pretrain": {k: pre.get(k) for k in ("epochs", "acc_ops", "validity", "wall_s", "embeddings")},
        "best": {
            "index": bi,
            "cell_id": str(cell_ids[bi]),
            "genotype": best_genotype,
            "reward": float(res.reward.max()),
        },
        "total_cost_s": float(res.cost_s.sum()),
        "pretrain_s": t_pre - t_start,
        "search_s": res.search_s,
        "evaluate_s": res.evaluate_s,
        "wall_s": time.perf_counter() - t_start,
        "queries": queries,
    }
    (out / "search.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "best_genotype.txt").write_text(best_genotype + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    """Runs the pipeline; prints a short summary; clear messages on bad input."""
    args = parse_args(argv)
    from a2v_jax.runtime import enable_compilation_cache
    from a2v_jax.search.evaluated import EvaluationError

    enable_compilation_cache()
    try:
        report = run_pipeline(args)
    except (EvaluationError, ValueError, RuntimeError, FileNotFoundError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    summary = {k: v for k, v in report.items() if k != "queries"}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
