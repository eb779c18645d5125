"""The NAS-Bench-201 search driver: the pool, the report and ``run(config)`` (``--space nb201``).

The pool is the embedded architectures (the rows of ``embeddings.npz``, aligned to the benchmark
table by ``arch_str``) or, for methods that do not use features and without an embeddings file,
the whole table. Every seed runs in one jitted ``vmap`` (:func:`a2v_jax.search.runner.run_method`),
and the found architecture of each seed is reported with the protocol's seed-averaged 200-epoch
accuracies.

Example::

    python -m a2v_jax.search --space nb201 --dataset cifar10 --method rl --seeds 500 \\
        --preset paper --embeddings runs/nb201/embeddings.npz --out results/nb201-c10-rl.json
"""

from __future__ import annotations

from typing import Any

import numpy as np

from a2v_jax.data import DATASETS, get_protocol, load_nb201, protocol_arrays
from a2v_jax.data.protocols import missing_test_note
from a2v_jax.embed import Embeddings, EmbeddingsError
from a2v_jax.runtime import device_name
from a2v_jax.search.config import SearchConfig
from a2v_jax.search.core import one_edit_neighbours
from a2v_jax.search.presets import strategy_config
from a2v_jax.search.report import (
    median_or_none,
    most_found,
    most_found_line,
    num,
    plus_minus,
    queries_to_best,
    running_max,
    seed_ids,
    stats,
    write_json,
)
from a2v_jax.search.runner import (
    Driver,
    Pool,
    RunOutput,
    check_config,
    load_space_embeddings,
    pool_env,
    report_settings,
    run_method,
)
from a2v_jax.sharding import make_mesh
from a2v_jax.spaces.nb201 import CELL_OPS

#: Keys of the report's top-level ``summary`` object that the issue fixes.
SUMMARY_KEYS = (
    "valid_mean",
    "valid_std",
    "test_mean",
    "test_std",
    "frac_found_best",
    "median_queries_to_best",
    "seeds",
    "method",
    "dataset",
    "preset",
    "protocol",
    "budget_s",
    "wall_s",
    "device",
)


def build_pool(
    table,
    protocol,
    *,
    embeddings: Embeddings | None = None,
    budget_s: float | None = None,
    signal_seed: int = 0,
    with_neighbours: bool = True,
) -> Pool:
    """The env for ``protocol`` over the embedded architectures (or the whole table).

    Args:
      table: an ``NB201Table``.
      protocol: a ``SearchProtocol``.
      embeddings: the latent table; None uses every table row with a dummy 1-d feature (for
        methods that ignore features).
      budget_s: overrides ``protocol.budget_s``.
      signal_seed: seed of the protocol's one frozen random-run draw (cifar100 / imagenet16).
      with_neighbours: also build the one-edit neighbour table (REA, local search).

    Returns:
      A :class:`Pool`.
    """
    signal, cost = protocol_arrays(table, protocol, seed=signal_seed)
    if embeddings is None:
        rows = np.arange(len(table), dtype=np.int64)
        features = np.zeros((len(table), 1), np.float32)
    else:
        try:
            rows = table.align(list(embeddings.arch_str))
        except (KeyError, ValueError) as e:
            raise EmbeddingsError(f"{embeddings.path}: arch_str does not match the table: {e}") from e
        features = embeddings.features
    env = pool_env(
        features,
        signal[rows],
        cost[rows],
        protocol.budget_s if budget_s is None else budget_s,
        neighbours=one_edit_neighbours(np.asarray(table.codes)[rows], len(CELL_OPS))
        if with_neighbours
        else None,
    )
    return Pool(env=env, rows=rows, arch_str=np.asarray(table.arch_str)[rows])


def summarize(
    table,
    protocol,
    pool: Pool,
    out: RunOutput,
    *,
    method: str,
    preset: str,
    trajectories: bool = True,
    extra: dict | None = None,
) -> dict[str, Any]:
    """The JSON report: per-seed results and the summary over seeds.

    Reported accuracies are the benchmark's seed-averaged 200-epoch ``valid_mean`` / ``test_mean``
    (percent) of each seed's found architecture, on ``protocol.dataset`` in the summary and on
    every ``protocol.report_datasets`` in ``per_dataset``. Spreads are population std
    (``ddof=0``) over seeds. "Found best" means the reported architecture is the pool's
    best-``valid_mean`` architecture on ``protocol.dataset``; its queries-to-best is the 1-based
    query at which it became the incumbent, and the median is over the seeds that found it.
    """
    rec = out.records
    s = out.seeds.shape[0]
    ds_main = protocol.dataset
    report_ds = tuple(dict.fromkeys((ds_main, *protocol.report_datasets)))
    found = out.best_idx >= 0
    rows = np.where(found, pool.rows[np.maximum(out.best_idx, 0)], -1)  # (S,) table rows

    def acc(ds: str, field: str) -> np.ndarray:
        arr = getattr(table.datasets[ds], field)
        if arr is None:
            return np.full(s, np.nan)
        return np.where(found, np.asarray(arr, np.float64)[np.maximum(rows, 0)], np.nan)

    per_ds = {ds: {"valid": acc(ds, "valid_mean"), "test": acc(ds, "test_mean")} for ds in report_ds}
    valid_main = np.asarray(table.datasets[ds_main].valid_mean, np.float64)
    best_pool = int(np.argmax(np.asarray(table.datasets[ds_main].valid_mean)[pool.rows]))
    found_best, q_to_best = queries_to_best(rec.accepted, rec.best_idx, out.best_idx, best_pool)
    # The architecture a perfect search finds: the pool's best search signal (NaN signals never win).
    best_signal_pool = int(np.argmax(np.nan_to_num(np.asarray(pool.env.signal), nan=-np.inf)))
    found_best_signal, q_to_best_signal = queries_to_best(
        rec.accepted, rec.best_idx, out.best_idx, best_signal_pool
    )

    runs = []
    for i in range(s):
        r = {
            "seed": int(out.seeds[i]),
            "index": int(rows[i]),
            "arch_str": str(table.arch_str[rows[i]]) if found[i] else None,
            "signal": num(100.0 * float(out.best_signal[i])) if found[i] else None,
            "valid_mean": num(per_ds[ds_main]["valid"][i]),
            "test_mean": num(per_ds[ds_main]["test"][i]),
            "queries": int(out.n_queries[i]),
            "spent_s": float(out.spent_s[i]),
        }
        if len(report_ds) > 1:
            r["per_dataset"] = {
                ds: {"valid_mean": num(v["valid"][i]), "test_mean": num(v["test"][i])}
                for ds, v in per_ds.items()
            }
        if trajectories:
            a = rec.accepted[i]
            incumbents = pool.rows[rec.best_idx[i][a]]
            r["trajectory"] = {
                "spent_s": [round(float(x), 3) for x in rec.spent_s[i][a]],
                "best_index": [int(j) for j in incumbents],
                "best_signal": [round(100.0 * float(x), 4) for x in running_max(rec.signal[i][a])],
                "best_valid_mean": [round(float(x), 4) for x in valid_main[incumbents]],
            }
        runs.append(r)

    vm, vs = stats(per_ds[ds_main]["valid"])
    tm, ts = stats(per_ds[ds_main]["test"])
    pool_size = int(pool.rows.shape[0])
    summary = {
        "valid_mean": vm,
        "valid_std": vs,
        "test_mean": tm,
        "test_std": ts,
        "test_source": table.test_source,
        "test_note": missing_test_note(table),
        "frac_found_best": float(found_best.mean()),
        "found_best_seeds": int(found_best.sum()),
        "median_queries_to_best": median_or_none(q_to_best),
        "frac_found_best_signal": float(found_best_signal.mean()),
        "median_queries_to_best_signal": median_or_none(q_to_best_signal),
        "most_found": most_found(
            [r["arch_str"] for r in runs], [r["valid_mean"] for r in runs], [r["test_mean"] for r in runs]
        ),
        "seeds": int(s),
        "method": method,
        "dataset": ds_main,
        "preset": preset,
        "protocol": protocol.name,
        "budget_s": float(pool.env.budget_s),
        "wall_s": float(out.wall_s),
        "device": device_name(),
        "mean_queries": float(out.n_queries.mean()),
        "mean_spent_s": float(out.spent_s.mean()),
        "pool_size": pool_size,
        "table_size": len(table),
        "pool_note": None
        if pool_size == len(table)
        else f"the pool is the {pool_size:,} cells of the embeddings file, not all {len(table):,} cells of "
        "the table (embeddings of a --subset pretraining?): the best cell may be outside it",
        "signal_unit": "percent",
        "best_valid_index": int(pool.rows[best_pool]),
        "optimum": {
            ds: {
                "valid_mean": float(np.max(np.asarray(table.datasets[ds].valid_mean)[pool.rows])),
                "test_mean": (
                    None
                    if table.datasets[ds].test_mean is None
                    else float(np.max(np.asarray(table.datasets[ds].test_mean)[pool.rows]))
                ),
            }
            for ds in report_ds
        },
        "max_steps": int(out.max_steps),
        "steps_run": int(rec.idx.shape[1]),
    }
    if ds_main == "cifar10" and table.datasets["cifar10"].valid_model_test_mean is not None:
        vtm, vts = stats(acc("cifar10", "valid_model_test_mean"))
        summary["valid_model_test_mean"], summary["valid_model_test_std"] = vtm, vts
    if len(report_ds) > 1:
        summary["per_dataset"] = {}
        for ds, v in per_ds.items():
            m1, s1 = stats(v["valid"])
            m2, s2 = stats(v["test"])
            summary["per_dataset"][ds] = {"valid_mean": m1, "valid_std": s1, "test_mean": m2, "test_std": s2}
    if extra:
        summary.update(extra)
    return {
        "summary": summary,
        "definitions": {
            "accuracies": "percent; the benchmark's seed-averaged 200-epoch valid_mean / test_mean of the "
            "architecture with the best search signal within the budget",
            "std": "population std (ddof=0) over seeds",
            "test_source": "where test_mean came from; null: the table has no test accuracies (test_note "
            "says how to add them)",
            "valid_model_test_mean": "cifar10 only: ori-test accuracy of the cifar10-valid model (trained "
            "on 25k images), not the paper's cifar10 test column (test_mean: the model trained on 50k)",
            "frac_found_best": "fraction of seeds whose reported architecture is the pool's "
            "best-valid_mean one",
            "frac_found_best_signal": "fraction of seeds whose reported architecture is the pool's best "
            "by the search signal (what a perfect search within the protocol finds)",
            "median_queries_to_best": "median over those seeds of the 1-based query at which it became "
            "the incumbent",
            "median_queries_to_best_signal": "the same for the seeds that found the best-signal architecture",
            "signal": "the search signal of the found architecture, percent (signal_unit)",
            "most_found": "the architecture most seeds ended on: its seeds, share of seeds and accuracies",
            "pool_note": "null when the pool is the whole table, else why it is smaller",
            "trajectory": "per accepted query: simulated seconds spent, incumbent benchmark index, best "
            "signal so far (percent) and the incumbent's valid_mean (percent; it may go down when a "
            "better signal belongs to a cell of lower validation accuracy)",
            "null": "a value that is absent or not finite (strict JSON)",
        },
        "runs": runs,
    }


def run(config: SearchConfig, *, table: Any = None) -> dict[str, Any]:
    """Loads the data, runs ``config.seeds`` seeds of ``config.method`` and returns the JSON report.

    Args:
      config: the search (:class:`~a2v_jax.search.config.SearchConfig`); ``embeddings``, if given,
        defines the pool for every method.
      table: an already loaded ``NB201Table`` (skips ``load_nb201``).

    Returns:
      The report (see :func:`summarize`).
    """
    c = config
    if c.dataset is None:
        raise ValueError("--space nb201 needs --dataset (one of " + ", ".join(DATASETS) + ")")
    if c.protocol not in ("arch2vec", "nb201"):
        raise ValueError(f"--protocol {c.protocol} is an NB101 protocol; nb201 has arch2vec | nb201")
    check_config(c)
    proto = get_protocol(c.protocol, c.dataset, cost=c.cost)
    device_mesh = make_mesh(c.devices, c.mesh)
    if table is None:
        table = load_nb201(c.data_dir, source=c.source, test_data=c.test_data)
    emb = load_space_embeddings(c.embeddings, "nb201") if c.embeddings is not None else None
    pool = build_pool(
        table,
        proto,
        embeddings=emb,
        budget_s=c.budget_s,
        signal_seed=c.signal_seed,
        with_neighbours=strategy_config(c.method, c.preset).traits.neighbours,
    )
    seeds = seed_ids(c.seed_start, c.seeds)
    desc = f"{c.method}/{c.preset} {c.dataset}" if c.progress else False
    out = run_method(
        c.method, c.preset, pool, seeds, chunk_steps=c.chunk_steps, progress=desc, mesh=device_mesh
    )
    extra = report_settings(
        proto,
        seeds,
        emb,
        device_mesh,
        after_cost={"signal_seed": c.signal_seed},
        after_seeds={"table_source": table.source, "table_path": table.path},
    )
    return summarize(
        table, proto, pool, out, method=c.method, preset=c.preset, trajectories=c.trajectories, extra=extra
    )


def format_summary(report: dict) -> str:
    """Two human lines: the accuracies over seeds, then the cell the seeds found and how often."""
    summary = report["summary"]
    test = plus_minus(summary["test_mean"], summary["test_std"])
    if summary.get("test_source") is None and summary["test_mean"] is None:
        test = "n/a (no test accuracies configured: --test-data PATH, see the summary's test_note)"
    seeds = summary["seeds"]
    found = summary.get("found_best_seeds", round(summary["frac_found_best"] * seeds))
    mq = summary["median_queries_to_best"]
    pool = ""
    if summary.get("pool_note"):
        pool = f", searching {summary['pool_size']:,} of {summary['table_size']:,} cells (see pool_note)"
    line = (
        f"{summary['method']}/{summary['preset']} {summary['dataset']} ({summary['protocol']}, "
        f"{seeds} seeds, {summary['budget_s']:.0f} s budget{pool}): "
        f"valid {plus_minus(summary['valid_mean'], summary['valid_std'])}, test {test}; "
        f"found the best cell in {found} of {seeds} seeds"
        f"{'' if mq is None else f' (median {mq:.0f} queries)'}, {summary['mean_queries']:.1f} queries/seed, "
        f"wall {summary['wall_s']:.1f} s on {summary['device']}"
    )
    return line + most_found_line(summary.get("most_found"), seeds)


#: The ``--space nb201`` driver.
DRIVER = Driver(run=run, write=write_json, format_summary=format_summary)
