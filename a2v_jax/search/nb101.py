"""The NAS-Bench-101 search driver (``--space nb101``): the pool, regret bookkeeping and the report.

The pool is the embedded cells (rows of ``embeddings.npz`` whose ``arch_str`` is the cell's module
hash, aligned to the 108-epoch table) or, for methods that ignore features and without an
embeddings file, the whole table. A query returns the cell's mean validation accuracy and adds its
mean training time to the simulated clock (:func:`~a2v_jax.data.protocols.get_nb101_protocol`).

The original's NB101 settings (reference §7.1, §7.2) are the ``nb101`` rows of the preset table
(:data:`a2v_jax.search.presets.SPACE_OVERRIDES`); the report records them as ``overrides``.

Regret (reference §7.3). After each accepted query ``regret_validation = BEST_VALID - best
validation accuracy so far`` and ``regret_test = BEST_TEST - test accuracy of the best-by-validation
cell so far`` (the first cell to reach that validation accuracy), against the cumulative simulated
``runtime``. The summary averages runs as ``plot_{dngo,reinforce}_search_arch2vec.py``: by query
index, truncated to the shortest run, x the mean runtime, points with mean x past 1e6 s dropped; and
reports each run's test regret at 1e5 and 1e6 s with ``plot_cdf.py``'s rule (the incumbent after
the first query whose runtime exceeds t; the final incumbent if the run never passes t).

Example::

    python -m a2v_jax.search --space nb101 --method rl --preset paper --seeds 500 \\
        --embeddings runs/nb101/embeddings.npz --data-dir ~/data/nasbench --out results/nb101-rl.json
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from a2v_jax.data import load_nb101
from a2v_jax.data.protocols import NB101Protocol, get_nb101_protocol, nb101_protocol_arrays
from a2v_jax.embed import Embeddings, EmbeddingsError
from a2v_jax.runtime import device_name
from a2v_jax.search.config import SearchConfig
from a2v_jax.search.nb201 import SUMMARY_KEYS
from a2v_jax.search.presets import METHODS, space_overrides
from a2v_jax.search.report import (
    jsonable,
    median_or_none,
    most_found,
    most_found_line,
    num,
    plus_minus,
    queries_to_best,
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

#: Methods that run on NB101 (REA and local search need a one-edit neighbour table of NB101 cells,
#: which is not built).
NB101_METHODS = ("rl", "bo", "random")
#: Keys of the NB101 report's summary (the NB201 report's keys plus the regret ones).
NB101_SUMMARY_KEYS = (
    *SUMMARY_KEYS,
    "space",
    "regret_test_final",
    "regret_validation_final",
    "regret_test_at",
    "curve",
    "anchors",
)


def align_nb101(table, embeddings: Embeddings) -> np.ndarray:
    """``(P,)`` int64 table rows of the embedded cells (``arch_str`` = module hash).

    Raises:
      EmbeddingsError: a hash is not in the table, or appears twice (names the file and row).
    """
    hashes = np.asarray(embeddings.arch_str).astype(str)
    rows = np.empty(hashes.shape[0], np.int64)
    seen: dict[str, int] = {}
    for i, h in enumerate(hashes.tolist()):
        if h in seen:
            raise EmbeddingsError(
                f"{embeddings.path}: arch_str rows {seen[h]} and {i} are the same NB101 cell {h!r}"
            )
        seen[h] = i
        try:
            rows[i] = table.index_of(h)
        except KeyError as e:
            raise EmbeddingsError(
                f"{embeddings.path}: arch_str row {i} ({h!r}) is not an NB101 module hash of the table "
                f"({table.path}); NB101 embeddings must be keyed by module hash: {e}"
            ) from None
    return rows


def build_nb101_pool(
    table,
    protocol: NB101Protocol,
    *,
    embeddings: Embeddings | None = None,
    budget_s: float | None = None,
) -> Pool:
    """The env for ``protocol`` over the embedded cells (or the whole table).

    Args:
      table: the 108-epoch ``NB101Table``.
      protocol: from :func:`~a2v_jax.data.protocols.get_nb101_protocol`.
      embeddings: the latent table; None uses every table row with a dummy 1-d feature (for
        methods that ignore features).
      budget_s: overrides ``protocol.budget_s``.

    Returns:
      A :class:`~a2v_jax.search.runner.Pool` whose ``arch_str`` are module hashes.
    """
    signal, cost = nb101_protocol_arrays(table, protocol)
    if embeddings is None:
        rows = np.arange(len(table), dtype=np.int64)
        features = np.zeros((len(table), 1), np.float32)
    else:
        rows = align_nb101(table, embeddings)
        features = embeddings.features
    budget = protocol.budget_s if budget_s is None else budget_s
    env = pool_env(features, signal[rows], cost[rows], budget, max_queries=protocol.max_queries)
    return Pool(env=env, rows=rows, arch_str=np.asarray(table.hash)[rows])


# --------------------------------------------------------------------------- regret


def regret_trajectories(
    table, pool: Pool, out: RunOutput, protocol: NB101Protocol
) -> list[dict[str, np.ndarray]]:
    """Per seed, per accepted query: runtime and both regrets (reference §7.3).

    Args:
      table: the ``NB101Table`` the search ran on.
      pool: its pool.
      out: the population's result.
      protocol: anchors ``best_valid`` / ``best_test``.

    Returns:
      One dict per seed with ``(Q,)`` arrays ``runtime`` (cumulative simulated s), ``queried`` and
      ``best_index`` (table rows), ``regret_validation`` and ``regret_test`` (fractions).
    """
    rec = out.records
    valid = np.asarray(table.valid_mean, np.float64)
    test = np.asarray(table.test_mean, np.float64)
    res = []
    for i in range(out.seeds.shape[0]):
        a = np.asarray(rec.accepted[i], bool)
        best = pool.rows[np.asarray(rec.best_idx[i])[a]]  # (Q,) table rows of the incumbent
        res.append(
            {
                "runtime": np.asarray(rec.spent_s[i], np.float64)[a],
                "queried": pool.rows[np.asarray(rec.idx[i])[a]],
                "best_index": best,
                "regret_validation": protocol.best_valid - valid[best],
                "regret_test": protocol.best_test - test[best],
            }
        )
    return res


def regret_at(runtime: np.ndarray, regret: np.ndarray, t: float) -> float:
    """``plot_cdf.py``'s rule: the regret after the first query whose runtime exceeds ``t``.

    A run that never passes ``t`` gives its final regret; a run without queries gives NaN.
    """
    runtime, regret = np.asarray(runtime), np.asarray(regret)
    if runtime.size == 0:
        return float("nan")
    k = int(np.searchsorted(runtime, t, side="right"))
    return float(regret[min(k, runtime.size - 1)])


def average_by_query(
    runtimes: Sequence[np.ndarray], values: dict[str, Sequence[np.ndarray]], x_max: float | None = None
) -> dict[str, Any]:
    """Runs averaged as the original plots them: by query index, truncated to the shortest run.

    Args:
      runtimes: per seed ``(Q_s,)`` cumulative simulated seconds.
      values: ``{name: per seed (Q_s,) values}`` (e.g. the two regrets).
      x_max: drop the points whose mean runtime is past it (the original: 1e6); None keeps all.

    Returns:
      ``{"runtime": (G,), name: (G,) ..., "queries": (G,) 1-based query index, "truncated_to": int,
      "x_max": x_max}`` as lists.
    """
    if not runtimes:
        raise ValueError("average_by_query needs at least one run")
    n = min(r.shape[0] for r in runtimes)
    x = np.mean([r[:n] for r in runtimes], axis=0) if n else np.zeros(0)
    keep = np.ones(n, bool) if x_max is None else x <= x_max
    out: dict[str, Any] = {
        "queries": (np.arange(1, n + 1)[keep]).tolist(),
        "runtime": x[keep].tolist(),
    }
    for name, vs in values.items():
        y = np.mean([v[:n] for v in vs], axis=0) if n else np.zeros(0)
        out[name] = y[keep].tolist()
    out["truncated_to"] = int(n)
    out["x_max"] = x_max
    return out


# --------------------------------------------------------------------------- report


def summarize_nb101(
    table,
    protocol: NB101Protocol,
    pool: Pool,
    out: RunOutput,
    *,
    method: str,
    preset: str,
    trajectories: bool = True,
    extra: dict | None = None,
) -> dict[str, Any]:
    """The NB101 JSON report: per-seed found cell, regret trajectories, and the summary.

    Accuracies (``signal``, ``valid_mean``, ``test_mean``) are percent, as in the NB201 report;
    regrets are fractions, as the original logs them. Spreads are population std over seeds.
    """
    rec = out.records
    s = out.seeds.shape[0]
    found = out.best_idx >= 0
    rows = np.where(found, pool.rows[np.maximum(out.best_idx, 0)], -1)  # (S,)
    valid = np.asarray(table.valid_mean, np.float64)
    test = np.asarray(table.test_mean, np.float64)
    v_found = np.where(found, 100.0 * valid[np.maximum(rows, 0)], np.nan)
    t_found = np.where(found, 100.0 * test[np.maximum(rows, 0)], np.nan)
    traj = regret_trajectories(table, pool, out, protocol)

    best_pool = int(np.argmax(valid[pool.rows]))
    found_best, q_to_best = queries_to_best(rec.accepted, rec.best_idx, out.best_idx, best_pool)

    final_rt = np.array([tr["regret_test"][-1] if tr["runtime"].size else np.nan for tr in traj])
    final_rv = np.array([tr["regret_validation"][-1] if tr["runtime"].size else np.nan for tr in traj])
    at = {
        t: np.array([regret_at(tr["runtime"], tr["regret_test"], t) for tr in traj])
        for t in protocol.regret_at_s
    }
    reached = {
        t: np.array([tr["runtime"].size > 0 and tr["runtime"][-1] > t for tr in traj])
        for t in protocol.regret_at_s
    }

    runs = []
    for i in range(s):
        tr = traj[i]
        r = {
            "seed": int(out.seeds[i]),
            "index": int(rows[i]),
            "hash": str(table.hash[rows[i]]) if found[i] else None,
            "signal": num(100.0 * float(out.best_signal[i])) if found[i] else None,
            "valid_mean": num(v_found[i]),
            "test_mean": num(t_found[i]),
            "queries": int(out.n_queries[i]),
            "spent_s": float(out.spent_s[i]),
            "regret_validation": num(final_rv[i]),
            "regret_test": num(final_rt[i]),
            "regret_test_at": {_tkey(t): num(at[t][i]) for t in protocol.regret_at_s},
        }
        if trajectories:
            r["trajectory"] = {
                "spent_s": [round(float(x), 3) for x in tr["runtime"]],
                "queried": [int(x) for x in tr["queried"]],
                "best_index": [int(x) for x in tr["best_index"]],
                "best_signal": [round(100.0 * float(x), 6) for x in valid[tr["best_index"]]],
                "regret_validation": [float(x) for x in tr["regret_validation"]],
                "regret_test": [float(x) for x in tr["regret_test"]],
            }
        runs.append(r)

    started = [tr for tr in traj if tr["runtime"].size]
    curve = (
        average_by_query(
            [tr["runtime"] for tr in started],
            {k: [tr[k] for tr in started] for k in ("regret_test", "regret_validation")},
            protocol.curve_max_s,
        )
        if started
        else None
    )
    vm, vs = stats(v_found)
    tm, ts = stats(t_found)
    rtm, rts = stats(final_rt)
    rvm, rvs = stats(final_rv)
    budget = float(pool.env.budget_s)
    pool_valid, pool_test = float(np.max(valid[pool.rows])), float(np.max(test[pool.rows]))
    summary = {
        "valid_mean": vm,
        "valid_std": vs,
        "test_mean": tm,
        "test_std": ts,
        "frac_found_best": float(found_best.mean()),
        "median_queries_to_best": median_or_none(q_to_best),
        "seeds": int(s),
        "method": method,
        "dataset": "cifar10",
        "preset": preset,
        "protocol": protocol.name,
        "budget_s": budget if math.isfinite(budget) else None,
        "max_queries": protocol.max_queries,
        "wall_s": float(out.wall_s),
        "device": device_name(),
        "space": "nb101",
        "mean_queries": float(out.n_queries.mean()),
        "mean_spent_s": float(out.spent_s.mean()),
        "pool_size": int(pool.rows.shape[0]),
        "signal_unit": "percent",
        "best_valid_index": int(pool.rows[best_pool]),
        "regret_test_final": {"mean": rtm, "std": rts},
        "regret_validation_final": {"mean": rvm, "std": rvs},
        "regret_test_at": {
            _tkey(t): {
                "mean": stats(at[t])[0],
                "std": stats(at[t])[1],
                "frac_reached": float(reached[t].mean()),
            }
            for t in protocol.regret_at_s
        },
        "curve": curve,
        "anchors": {
            "best_valid": protocol.best_valid,
            "best_test": protocol.best_test,
            "source": "NAS-Bench-101 constants hard-coded in arch2vec's search_methods",
            "pool_best_valid": pool_valid,
            "pool_best_test": pool_test,
            # True on the whole benchmark; a subset or another table makes regrets relative to constants.
            "match_pool": bool(
                abs(pool_valid - protocol.best_valid) < 1e-9 and abs(pool_test - protocol.best_test) < 1e-9
            ),
        },
        "max_steps": int(out.max_steps),
        "steps_run": int(rec.idx.shape[1]),
        "most_found": most_found(
            [r["hash"] for r in runs], [r["valid_mean"] for r in runs], [r["test_mean"] for r in runs]
        ),
    }
    if extra:
        summary.update(extra)
    return {
        "summary": summary,
        "definitions": {
            "accuracies": "percent; the benchmark's 108-epoch mean over 3 repeats (valid_mean / test_mean) "
            "of the cell with the best search signal (mean validation accuracy) within the budget",
            "regret_validation": "anchors.best_valid minus the best validation accuracy so far (fraction)",
            "regret_test": "anchors.best_test minus the test accuracy of the best-by-validation cell so far "
            "(fraction)",
            "regret_test_at": "each run's test regret after its first query whose cumulative simulated time "
            "exceeds t (plot_cdf.py's rule), its final regret if it never passes t; frac_reached: the "
            "fraction of runs that passed t",
            "curve": "runs averaged by query index, truncated to the shortest run; runtime = mean "
            "cumulative simulated seconds; points with runtime > x_max dropped (the original's plots)",
            "std": "population std (ddof=0) over seeds",
            "frac_found_best": "fraction of seeds whose reported cell is the pool's best-valid_mean one",
            "most_found": "the cell most seeds ended on (arch_str: its module hash), its seeds, share of "
            "seeds and accuracies",
            "trajectory": "per accepted query: simulated seconds spent, queried and incumbent table rows, "
            "best validation accuracy so far (%), both regrets",
        },
        "runs": runs,
    }


def _tkey(t: float) -> str:
    return f"{t:.0e}".replace("e+0", "e").replace("e+", "e")


def run(config: SearchConfig, *, table: Any = None) -> dict[str, Any]:
    """Loads the NB101 table, runs ``config.seeds`` seeds of ``config.method`` and returns the report.

    Args:
      config: the search; ``method`` one of :data:`NB101_METHODS`, ``protocol`` ``arch2vec``
        (1.5e6 s budget) or ``q150`` (150 queries), ``embeddings`` keyed by module hash (required
        by ``rl`` and ``bo``), ``data_dir`` the ``nasbench_only108.tfrecord`` or its directory.
      table: an already loaded ``NB101Table`` (skips ``load_nb101``).

    Returns:
      The report (:func:`summarize_nb101`).

    Raises:
      DataNotConfiguredError: no NB101 data configured (says how to configure it).
    """
    c = config
    if c.protocol not in ("arch2vec", "q150"):
        raise ValueError(f"--protocol {c.protocol} is an NB201 protocol; nb101 has arch2vec | q150")
    if c.cost is not None:
        raise ValueError("--cost applies to nb201 only (nb101 charges the benchmark's training time)")
    if c.test_data is not None or c.source != "auto":
        raise ValueError("--test-data and --source apply to nb201 only (nb101 reads its .tfrecord)")
    if c.dataset not in (None, "cifar10"):
        raise ValueError(f"NB101 is a CIFAR-10 benchmark; --dataset {c.dataset} does not apply")
    if c.method in METHODS and c.method not in NB101_METHODS:
        raise ValueError(
            f"method {c.method!r} is not available on NB101 (it needs a one-edit neighbour table of NB101 "
            f"cells, which is not built); use one of {NB101_METHODS}"
        )
    check_config(c)
    proto = get_nb101_protocol(c.protocol)
    device_mesh = make_mesh(c.devices, c.mesh)
    if table is None:
        table = load_nb101(c.data_dir, progress=c.progress)
    emb = load_space_embeddings(c.embeddings, "nb101") if c.embeddings is not None else None
    pool = build_nb101_pool(table, proto, embeddings=emb, budget_s=c.budget_s)
    seeds = seed_ids(c.seed_start, c.seeds)
    desc = f"{c.method}/{c.preset} nb101" if c.progress else False
    out = run_method(
        c.method,
        c.preset,
        pool,
        seeds,
        space="nb101",
        chunk_steps=c.chunk_steps,
        progress=desc,
        mesh=device_mesh,
    )
    extra = report_settings(
        proto,
        seeds,
        emb,
        device_mesh,
        after_cost={"overrides": jsonable(space_overrides(c.method, c.preset, "nb101"))},
        after_seeds={"table": {"path": table.path, "checksum": table.checksum, "epochs": int(table.epochs)}},
    )
    return summarize_nb101(
        table, proto, pool, out, method=c.method, preset=c.preset, trajectories=c.trajectories, extra=extra
    )


def format_summary(report: dict) -> str:
    """``rl/paper nb101 (arch2vec, 500 seeds): test 94.11 +- .., regret@1e6 ...``, then the most found."""
    summary = report["summary"]
    pm = plus_minus
    at = summary["regret_test_at"]
    ats = ", ".join(f"@{k} " + ("n/a" if v["mean"] is None else f"{v['mean']:.5f}") for k, v in at.items())
    rt = summary["regret_test_final"]
    budget = "no time limit" if summary["budget_s"] is None else f"{summary['budget_s']:.3g} s budget"
    cap = "" if summary.get("max_queries") is None else f", {summary['max_queries']} queries"
    line = (
        f"{summary['method']}/{summary['preset']} nb101 ({summary['protocol']}, {summary['seeds']} seeds, "
        f"{budget}{cap}): valid {pm(summary['valid_mean'], summary['valid_std'])}, "
        f"test {pm(summary['test_mean'], summary['test_std'])}, test regret final "
        f"{pm(rt['mean'], rt['std'], digits=5)} ({ats}), {summary['mean_queries']:.1f} queries/seed, "
        f"wall {summary['wall_s']:.1f} s on {summary['device']}"
    )
    return line + most_found_line(summary.get("most_found"), summary["seeds"])


#: The ``--space nb101`` driver.
DRIVER = Driver(run=run, write=write_json, format_summary=format_summary)
