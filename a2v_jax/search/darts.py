"""The DARTS search driver (``--space darts``): pool, pretraining, embedding, an evaluated search.

Samples (or reads the cached) DARTS pool, pre-trains arch2vec on it, embeds it, runs one seed of
BO or REINFORCE in the latent space with a host evaluator (:mod:`a2v_jax.search.evaluated`) and
writes every query and the best genotype. On a CPU with the ``toy`` evaluator::

    python -m a2v_jax.search --space darts --pool-size 2000 --epochs 1 --method bo \\
        --evaluator toy --queries 100 --out runs/darts-toy

The paper's run (reference §7.4): ``--pool-size 600000 --epochs 10 --seed 3 --preset paper
--evaluator darts-proxy --cifar10-dir DIR`` (each query trains a network for 50 epochs).

The pool is the first ``--pool-size`` cells of the DARTS space's sampler (seed 0): a prefix of the
cached 600,000-cell pool if it exists, else sampled (not cached).

Outputs under ``--out`` (a directory): ``pretrain/`` (the pretraining workdir, resumed if it
exists), ``search.json`` (settings, every query: step, index, cell id, genotype, reward, cost_s,
and the best), ``best_genotype.txt``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from a2v_jax.search.config import DartsOptions, PathLike, SearchConfig
from a2v_jax.search.evaluated import EvaluationError
from a2v_jax.search.report import check_output, write_json
from a2v_jax.search.runner import Driver

EVALUATORS = ("toy", "table", "darts-proxy")
#: Methods that run on DARTS (with a host evaluator).
DARTS_METHODS = ("bo", "rl")


def check(config: SearchConfig) -> DartsOptions:
    """The DARTS options of ``config``; raises ValueError for settings that cannot run."""
    d = config.darts or DartsOptions()
    if config.method not in DARTS_METHODS:
        raise ValueError(f"--space darts runs one of {DARTS_METHODS}, not {config.method!r}")
    for name in ("pool_size", "epochs", "queries", "prior_samples"):
        if getattr(d, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(d, name)}")
    if d.evaluator not in EVALUATORS:
        raise ValueError(f"unknown evaluator {d.evaluator!r}; expected one of {EVALUATORS}")
    if d.evaluator == "table" and d.table is None:
        raise ValueError("--evaluator table needs --table PATH")
    if d.evaluator == "darts-proxy" and d.cifar10_dir is None and not os.environ.get("A2V_CIFAR10_DIR"):
        raise ValueError("--evaluator darts-proxy needs --cifar10-dir DIR (or $A2V_CIFAR10_DIR)")
    if d.evaluator == "table" and not Path(d.table).is_file():
        raise ValueError(f"--table {d.table}: no such file")
    return d


def make_evaluator(d: DartsOptions, cells: np.ndarray, cell_ids: np.ndarray):
    """The evaluator named by ``d.evaluator`` over the pool ``cells`` ``(P, 8, 2)``."""
    from a2v_jax.search import evaluated

    if d.evaluator == "toy":
        return evaluated.toy_evaluator(cells)
    if d.evaluator == "table":
        return evaluated.table_evaluator(evaluated.load_table(d.table), cell_ids)
    return evaluated.darts_proxy_evaluator(
        cells,
        d.cifar10_dir,
        d.seed,
        epochs=d.proxy_epochs,
        init_channels=d.proxy_channels,
        layers=d.proxy_layers,
        batch_size=d.proxy_batch_size,
    )


def run(config: SearchConfig) -> dict:
    """Pretrain, embed, search (one seed); returns the report. ``config.out`` is the output directory.

    Writes the pretraining workdir ``<out>/pretrain``; :func:`write` writes the report beside it.
    """
    from a2v_jax.embed import load_embeddings
    from a2v_jax.pretrain import PretrainConfig, run_pretraining
    from a2v_jax.search.evaluated import evaluated_search
    from a2v_jax.search.presets import get_strategy
    from a2v_jax.spaces.darts import cells_from_codes, format_genotype, genotype_from_cell

    d = check(config)
    if config.out is None:
        raise ValueError("--space darts needs --out DIR (the output directory)")
    check_output(config.out, directory=True)
    t_start = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = config.progress
    pre = run_pretraining(
        PretrainConfig(
            space="darts",
            preset=d.pretrain_preset,
            epochs=d.epochs,
            seed=d.seed,
            prior_samples=d.prior_samples,
            workdir=str(out / "pretrain"),
            subset=d.pool_size,
            progress=progress,
        )
    )
    t_pre = time.perf_counter()
    emb = load_embeddings(pre["embeddings"])
    cell_ids = emb.arch_str.astype(str)
    cells = cells_from_codes(cell_ids)  # (P, 8, 2)
    evaluator = make_evaluator(d, cells, cell_ids)
    max_obs = {"max_obs": max(d.queries, 16)} if config.method == "bo" else {}  # BO's buffer
    strategy = get_strategy(config.method, config.preset, "darts", **max_obs)
    res = evaluated_search(
        strategy,
        emb.features,
        evaluator,
        d.queries,
        d.seed,
        describe=lambda i: (
            f"pool cell {i} (id {cell_ids[i]}, {format_genotype(genotype_from_cell(cells[i]))})"
        ),
        progress=f"{config.method}-{config.preset}" if progress else False,
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
        "method": config.method,
        "preset": config.preset,
        "evaluator": d.evaluator,
        "seed": d.seed,
        "queries_requested": d.queries,
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
    return report


def write(report: dict, out: PathLike) -> Path:
    """Writes ``search.json`` and ``best_genotype.txt`` into the directory ``out``; returns the first."""
    out = Path(out)
    path = write_json(report, out / "search.json", indent=2)
    (out / "best_genotype.txt").write_text(report["best"]["genotype"] + "\n")
    return path


def format_summary(report: dict) -> str:
    """The report without its per-query list, as indented JSON."""
    return json.dumps({k: v for k, v in report.items() if k != "queries"}, indent=2)


#: The ``--space darts`` driver.
DRIVER = Driver(
    run=run,
    write=write,
    format_summary=format_summary,
    errors=(EvaluationError, ValueError, RuntimeError, FileNotFoundError, KeyError),
)
