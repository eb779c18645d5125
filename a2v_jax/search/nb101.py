"""Search on NAS-Bench-101: the pool, the original's settings, regret bookkeeping and the report.

The pool is the embedded cells (rows of ``embeddings.npz`` whose ``arch_str`` is the cell's module
hash, aligned to the 108-epoch table) or, for methods that ignore features and without an
embeddings file, the whole table. A query returns the cell's mean validation accuracy and adds its
mean training time to the simulated clock (:func:`~a2v_jax.data.protocols.get_nb101_protocol`).

The original's NB101 settings (reference §7.1, §7.2), applied as config overrides by
:func:`nb101_overrides`:

- RL: constant baseline 0.95 in the ``paper`` preset, and no nearest-neighbour skip in either
  preset (the skip is an off-by-one of the NB201 script only);
- BO: five proposals per DNGO fit (``topk=5``) in both presets; in ``paper`` the EI target 0.95
  and one DNGO key per run (the original builds every DNGO with ``rng=seed``).

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
import os
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from a2v_jax.data import load_nb101
from a2v_jax.data.protocols import NB101Protocol, get_nb101_protocol, nb101_protocol_arrays
from a2v_jax.embed import Embeddings, EmbeddingsError, load_embeddings
from a2v_jax.runtime import device_name
from a2v_jax.search import METHODS, method_traits
from a2v_jax.search.core import SearchEnv, max_queries_in_budget
from a2v_jax.search.runner import SUMMARY_KEYS, Pool, RunOutput, _jsonable, _num, _stats, run_method
from a2v_jax.sharding import describe, make_mesh

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


def nb101_overrides(method: str, preset: str) -> dict[str, Any]:
    """Config overrides that turn a method's preset into the original's NB101 variant.

    Args:
      method: one of :data:`NB101_METHODS`.
      preset: ``paper`` or ``default``.

    Returns:
      Keyword overrides for :func:`~a2v_jax.search.get_strategy`.
    """
    method_traits(method, preset)  # validates both names
    paper = preset == "paper"
    if method == "rl":
        out: dict[str, Any] = {"skip_nearest": False}
        if paper:
            out["baseline_value"] = 0.95
        return out
    if method == "bo":
        out = {"topk": 5}
        if paper:
            out.update(ei_target=0.95, fit_key="run")
        return out
    return {}


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
    budget = float(protocol.budget_s if budget_s is None else budget_s)
    if not budget > 0:
        raise ValueError(f"budget_s must be > 0, got {budget}")
    cap = np.iinfo(np.int32).max if protocol.max_queries is None else int(protocol.max_queries)
    env = SearchEnv(
        features=jnp.asarray(features),
        signal=jnp.asarray(signal[rows]),
        cost=jnp.asarray(cost[rows]),
        budget_s=jnp.asarray(budget, jnp.float32),
        max_queries=jnp.asarray(cap, jnp.int32),
    )
    return Pool(env=env, rows=rows, arch_str=np.asarray(table.hash)[rows])


def nb101_max_steps(method: str, preset: str, pool: Pool, protocol: NB101Protocol) -> int:
    """The scan bound of a run: the query cap, or the budget bound of the method's traits."""
    traits = method_traits(method, preset)
    budget = float(pool.env.budget_s)
    cap = protocol.max_queries
    if not math.isfinite(budget):
        if cap is None:
            raise ValueError("an NB101 protocol without a time budget needs a query cap (max_queries)")
        return int(cap)
    return max_queries_in_budget(
        np.asarray(pool.env.cost), budget, distinct=traits.distinct, overshoot=traits.overshoot, cap=cap
    )


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
    found_best = out.best_idx == best_pool
    n_acc = np.cumsum(rec.accepted, axis=1)  # (S, T)
    hit = rec.accepted & (rec.best_idx == best_pool)
    first = np.where(hit.any(axis=1), n_acc[np.arange(s), np.argmax(hit, axis=1)], -1)
    q_to_best = first[found_best & (first > 0)]

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
            "signal": _num(100.0 * float(out.best_signal[i])) if found[i] else None,
            "valid_mean": _num(v_found[i]),
            "test_mean": _num(t_found[i]),
            "queries": int(out.n_queries[i]),
            "spent_s": float(out.spent_s[i]),
            "regret_validation": _num(final_rv[i]),
            "regret_test": _num(final_rt[i]),
            "regret_test_at": {_tkey(t): _num(at[t][i]) for t in protocol.regret_at_s},
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
    vm, vs = _stats(v_found)
    tm, ts = _stats(t_found)
    rtm, rts = _stats(final_rt)
    rvm, rvs = _stats(final_rv)
    budget = float(pool.env.budget_s)
    pool_valid, pool_test = float(np.max(valid[pool.rows])), float(np.max(test[pool.rows]))
    summary = {
        "valid_mean": vm,
        "valid_std": vs,
        "test_mean": tm,
        "test_std": ts,
        "frac_found_best": float(found_best.mean()),
        "median_queries_to_best": float(np.median(q_to_best)) if q_to_best.size else None,
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
        "best_valid_index": int(pool.rows[best_pool]),
        "regret_test_final": {"mean": rtm, "std": rts},
        "regret_validation_final": {"mean": rvm, "std": rvs},
        "regret_test_at": {
            _tkey(t): {
                "mean": _stats(at[t])[0],
                "std": _stats(at[t])[1],
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
            "trajectory": "per accepted query: simulated seconds spent, queried and incumbent table rows, "
            "best validation accuracy so far (%), both regrets",
        },
        "runs": runs,
    }


def _tkey(t: float) -> str:
    return f"{t:.0e}".replace("e+0", "e").replace("e+", "e")


def search_nb101(
    *,
    method: str,
    preset: str,
    seeds: int,
    protocol: str = "arch2vec",
    embeddings: str | os.PathLike | None = None,
    budget_s: float | None = None,
    data_dir: str | os.PathLike | None = None,
    seed_start: int = 1,
    chunk_steps: int = 16,
    progress: bool = True,
    trajectories: bool = True,
    table=None,
    devices: int | None = None,
    mesh: str | None = None,
    overrides: dict | None = None,
) -> dict[str, Any]:
    """Loads the NB101 table, runs ``seeds`` seeds of ``method`` and returns the JSON report.

    Args:
      method: one of :data:`NB101_METHODS`.
      preset: ``paper | default`` (with the NB101 overrides of :func:`nb101_overrides`).
      seeds: number of seeds; seed ids ``seed_start .. seed_start + seeds - 1``.
      protocol: ``arch2vec`` (1.5e6 s budget) or ``q150`` (150 queries).
      embeddings: ``embeddings.npz`` keyed by module hash (required by ``rl`` and ``bo``).
      budget_s: overrides the protocol's budget.
      data_dir: directory of ``nasbench_only108.tfrecord`` or the file (else ``$A2V_NB101_DIR``).
      seed_start: first seed id.
      chunk_steps: steps per compiled chunk.
      progress: show a tqdm bar.
      trajectories: include per-seed trajectories.
      table: an already loaded ``NB101Table`` (skips ``load_nb101``).
      devices: devices to shard the seeds over.
      mesh: ``"POPxDATA"`` mesh shape.
      overrides: further strategy config overrides (win over the NB101 ones).

    Returns:
      The report (:func:`summarize_nb101`).

    Raises:
      DataNotConfiguredError: no NB101 data configured (says how to configure it).
    """
    if method not in METHODS:
        raise ValueError(f"unknown search method {method!r}; expected one of {METHODS}")
    if method not in NB101_METHODS:
        raise ValueError(
            f"method {method!r} is not available on NB101 (it needs a one-edit neighbour table of NB101 "
            f"cells, which is not built); use one of {NB101_METHODS}"
        )
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    traits = method_traits(method, preset)
    if traits.features and embeddings is None:
        raise ValueError(f"method {method!r} searches the latent space: pass --embeddings PATH")
    proto = get_nb101_protocol(protocol)
    device_mesh = make_mesh(devices, mesh)
    if table is None:
        table = load_nb101(data_dir, progress=progress)
    emb = load_embeddings(embeddings) if embeddings is not None else None
    pool = build_nb101_pool(table, proto, embeddings=emb, budget_s=budget_s)
    max_steps = nb101_max_steps(method, preset, pool, proto)
    ov = {**nb101_overrides(method, preset), **(overrides or {})}
    seed_ids = np.arange(seed_start, seed_start + seeds, dtype=np.int64)
    desc = f"{method}/{preset} nb101" if progress else False
    out = run_method(
        method,
        preset,
        pool,
        seed_ids,
        chunk_steps=chunk_steps,
        progress=desc,
        mesh=device_mesh,
        overrides=ov,
        max_steps=max_steps,
    )
    extra = {
        "signal": proto.signal,
        "cost": proto.cost,
        "overrides": _jsonable(ov),
        "seed_ids": [int(seed_ids[0]), int(seed_ids[-1])],
        "table": {"path": table.path, "checksum": table.checksum, "epochs": int(table.epochs)},
        "embeddings": None if emb is None else {"path": emb.path, **_jsonable(emb.meta)},
        "sharding": describe(device_mesh),
    }
    return summarize_nb101(
        table, proto, pool, out, method=method, preset=preset, trajectories=trajectories, extra=extra
    )


def format_nb101_summary(summary: dict) -> str:
    """One human line: ``rl/paper nb101 (arch2vec, 500 seeds): test 94.11 +- .., regret@1e6 ...``."""

    def pm(m, s, scale=1.0, digits=2):
        return "n/a" if m is None else f"{m * scale:.{digits}f} +- {s * scale:.{digits}f}"

    at = summary["regret_test_at"]
    ats = ", ".join(f"@{k} " + ("n/a" if v["mean"] is None else f"{v['mean']:.5f}") for k, v in at.items())
    rt = summary["regret_test_final"]
    budget = "no time limit" if summary["budget_s"] is None else f"{summary['budget_s']:.3g} s budget"
    cap = "" if summary.get("max_queries") is None else f", {summary['max_queries']} queries"
    return (
        f"{summary['method']}/{summary['preset']} nb101 ({summary['protocol']}, {summary['seeds']} seeds, "
        f"{budget}{cap}): valid {pm(summary['valid_mean'], summary['valid_std'])}, "
        f"test {pm(summary['test_mean'], summary['test_std'])}, test regret final "
        f"{pm(rt['mean'], rt['std'], digits=5)} ({ats}), {summary['mean_queries']:.1f} queries/seed, "
        f"wall {summary['wall_s']:.1f} s on {summary['device']}"
    )
