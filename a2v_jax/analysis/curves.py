"""Search curves and tables from ``python -m a2v_jax.search`` reports.

A report (:func:`a2v_jax.search.nb201.run`) holds, for every seed, the trajectory of accepted
queries: simulated seconds spent, the incumbent's benchmark index and the best signal so far.
:func:`search_curves` turns that into the incumbent's accuracy or regret on a common grid of queries
or simulated seconds, one row per seed, for mean +- band plots; :func:`search_table` gives the
paper's NAS-Bench-201 table (seed-averaged 200-epoch accuracies of the found cells, reference §9.1).

Conventions. Accuracies are the benchmark's seed-averaged 200-epoch ``valid_mean`` / ``test_mean``
of the incumbent (percent); the incumbent is chosen by the search signal, so its test (and
validation) accuracy need not be monotone: a curve goes down where a seed moves to a cell with a
better signal and a lower accuracy. Regret is the pool's optimum minus that value, in percentage
points. Before a seed's first query its value is NaN; after its last query (the budget is spent)
the final incumbent is carried forward, so every seed contributes at every grid point once started.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

CURVE_METRICS = ("test", "valid", "signal", "regret_test", "regret_valid")
X_KINDS = ("queries", "seconds")


@dataclasses.dataclass(frozen=True)
class Curves:
    """Per-seed curves of one method on a common grid."""

    label: str
    x_kind: str  # "queries" | "seconds"
    metric: str  # one of CURVE_METRICS
    x: np.ndarray  # (G,) grid: query counts 1..Q or simulated seconds
    values: np.ndarray  # (S, G) per seed; NaN before its first query

    def mean(self) -> np.ndarray:
        """``(G,)`` mean over the seeds that have started (NaN where none has)."""
        return _nan_reduce(np.nanmean, self.values)

    def band(self, kind: str = "se") -> np.ndarray:
        """``(G,)`` half-width of the band: ``"std"`` over seeds or its standard error ``"se"``."""
        if kind not in ("std", "se"):
            raise ValueError(f"band kind must be 'std' or 'se', got {kind!r}")
        std = _nan_reduce(np.nanstd, self.values)
        if kind == "std":
            return std
        n = np.sum(np.isfinite(self.values), axis=0)
        return std / np.sqrt(np.maximum(n, 1))


def _nan_reduce(fn, v: np.ndarray) -> np.ndarray:
    out = np.full(v.shape[1], np.nan)
    ok = np.isfinite(v).any(axis=0)
    if ok.any():
        out[ok] = fn(v[:, ok], axis=0)
    return out


def _metric_table(table, dataset: str, metric: str) -> np.ndarray | None:
    res = table.datasets[dataset]
    if metric in ("test", "regret_test"):
        return None if res.test_mean is None else np.asarray(res.test_mean, np.float64)
    return np.asarray(res.valid_mean, np.float64)


def _optimum(report: Mapping, table, dataset: str, metric: str) -> float:
    field = "test_mean" if metric == "regret_test" else "valid_mean"
    opt = report.get("summary", {}).get("optimum", {}).get(dataset, {}).get(field)
    if opt is not None:
        return float(opt)  # the optimum of the searched pool
    arr = _metric_table(table, dataset, metric)
    return float(np.max(arr))


def search_curves(
    report: Mapping[str, Any],
    table,
    *,
    x: str = "queries",
    metric: str = "test",
    dataset: str | None = None,
    grid: np.ndarray | None = None,
    num_points: int = 200,
    label: str | None = None,
) -> Curves:
    """Best-so-far curves of every seed of a search report on one grid.

    Args:
      report: a report with per-seed ``trajectory`` (the runner's default).
      table: the ``NB201Table`` the search ran on (maps incumbent indices to accuracies).
      x: ``"queries"`` (grid ``1..max queries``) or ``"seconds"`` (simulated seconds).
      metric: ``test`` / ``valid`` (incumbent's 200-epoch accuracy, %), ``signal`` (best search
        signal so far, %), ``regret_test`` / ``regret_valid`` (pool optimum minus the accuracy).
      dataset: dataset to report on (default: the searched one; any of the report's datasets).
      grid: explicit grid (default: every query count, or ``num_points`` seconds from 0 to the budget).
      num_points: size of the default seconds grid.
      label: curve label (default ``"<method>/<preset>"``).

    Returns:
      :class:`Curves` with ``values (S, G)``.

    Raises:
      ValueError: unknown ``x`` / ``metric``, a report without trajectories, or a table without
        test accuracies for a test metric.
    """
    if x not in X_KINDS:
        raise ValueError(f"x must be one of {X_KINDS}, got {x!r}")
    if metric not in CURVE_METRICS:
        raise ValueError(f"metric must be one of {CURVE_METRICS}, got {metric!r}")
    summary = report.get("summary", {})
    runs = report.get("runs") or []
    if not runs:
        raise ValueError("the report has no runs")
    missing = [r.get("seed") for r in runs if "trajectory" not in r]
    if missing:
        raise ValueError(
            f"runs of seeds {missing[:5]} have no 'trajectory': rerun the search without --no-trajectories"
        )
    dataset = dataset or summary.get("dataset")
    if dataset is None:
        raise ValueError("the report names no dataset; pass dataset=")
    if metric == "signal":
        acc = None
    else:
        acc = _metric_table(table, dataset, metric)
        if acc is None:
            raise ValueError(f"the table from {table.path} has no test accuracies for {dataset}")
    opt = _optimum(report, table, dataset, metric) if metric.startswith("regret") else None

    signal_scale = 1.0 if summary.get("signal_unit") == "percent" else 100.0
    per_seed = []  # (spent (Q,), value (Q,))
    for r in runs:
        tr = r["trajectory"]
        spent = np.asarray(tr["spent_s"], np.float64)
        if metric == "signal":  # percent; reports before signal_unit stored fractions
            val = signal_scale * np.asarray(tr["best_signal"], np.float64)
        else:
            val = acc[np.asarray(tr["best_index"], np.int64)] if spent.size else np.zeros(0)
            if opt is not None:
                val = opt - val
        per_seed.append((spent, val))

    if grid is None:
        if x == "queries":
            grid = np.arange(1, max(1, max(s.size for s, _ in per_seed)) + 1)
        else:
            budget = float(summary.get("budget_s") or max(s[-1] for s, _ in per_seed if s.size))
            grid = np.linspace(0.0, budget, num_points)
    grid = np.asarray(grid, np.float64)
    values = np.full((len(per_seed), grid.size), np.nan)
    for i, (spent, val) in enumerate(per_seed):
        if not val.size:
            continue
        if x == "queries":
            pos = np.minimum(grid.astype(np.int64), val.size) - 1  # carry the last value forward
        else:
            pos = np.searchsorted(spent, grid, side="right") - 1  # last query finished by t
        values[i] = np.where(pos >= 0, val[np.maximum(pos, 0)], np.nan)
    if label is None:
        label = f"{summary.get('method', '?')}/{summary.get('preset', '?')}"
    return Curves(label=label, x_kind=x, metric=metric, x=grid, values=values)


# --------------------------------------------------------------------------- tables

#: The paper's NAS-Bench-201 table (reference §9.1): mean ± std over 500 runs of the seed-averaged
#: 200-epoch accuracies (%). Only arch2vec-BO's row is firmly sourced; treat the others as approximate.
PAPER_NB201: dict[str, dict[str, tuple[float, float]]] = {
    "RS": {
        "cifar10_valid": (90.93, 0.36), "cifar10_test": (93.70, 0.36),
        "cifar100_valid": (70.93, 1.09), "cifar100_test": (71.04, 1.07),
        "imagenet16_valid": (44.45, 1.10), "imagenet16_test": (44.57, 1.25),
    },
    "REA": {
        "cifar10_valid": (91.19, 0.31), "cifar10_test": (93.92, 0.30),
        "cifar100_valid": (71.81, 1.12), "cifar100_test": (71.84, 0.99),
        "imagenet16_valid": (45.15, 0.89), "imagenet16_test": (45.54, 1.03),
    },
    "REINFORCE": {
        "cifar10_valid": (91.09, 0.37), "cifar10_test": (93.85, 0.37),
        "cifar100_valid": (71.61, 1.12), "cifar100_test": (71.71, 1.09),
        "imagenet16_valid": (45.05, 1.02), "imagenet16_test": (45.24, 1.18),
    },
    "BOHB": {
        "cifar10_valid": (90.82, 0.53), "cifar10_test": (93.61, 0.52),
        "cifar100_valid": (70.74, 1.29), "cifar100_test": (70.85, 1.28),
        "imagenet16_valid": (44.26, 1.36), "imagenet16_test": (44.42, 1.49),
    },
    "arch2vec-RL": {
        "cifar10_valid": (91.32, 0.42), "cifar10_test": (94.12, 0.42),
        "cifar100_valid": (73.13, 0.72), "cifar100_test": (73.15, 0.78),
        "imagenet16_valid": (46.22, 0.30), "imagenet16_test": (46.16, 0.38),
    },
    "arch2vec-BO": {
        "cifar10_valid": (91.41, 0.22), "cifar10_test": (94.18, 0.24),
        "cifar100_valid": (73.35, 0.32), "cifar100_test": (73.37, 0.30),
        "imagenet16_valid": (46.34, 0.18), "imagenet16_test": (46.27, 0.37),
    },
    "Optimal": {
        "cifar10_valid": (91.61, 0.0), "cifar10_test": (94.37, 0.0),
        "cifar100_valid": (73.49, 0.0), "cifar100_test": (73.51, 0.0),
        "imagenet16_valid": (46.77, 0.0), "imagenet16_test": (47.31, 0.0),
    },
}  # fmt: skip


def search_table(reports: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per report: ``{method, seeds, queries, <dataset>_valid, <dataset>_test}``.

    Each accuracy is ``(mean, std)`` over seeds (the report's population std) of the found cells,
    for every dataset the report covers (its ``per_dataset`` summary, else its searched dataset).

    Args:
      reports: ``{row label: report}``; reports of one method on several datasets may be merged
        by giving them the same label with a ``"|"`` suffix, e.g. ``"rl/paper|cifar100"``.

    Returns:
      Rows in the order given (merged rows in first-seen order).
    """
    rows: dict[str, dict[str, Any]] = {}
    for key, rep in reports.items():
        name = key.split("|")[0]
        s = rep["summary"]
        row = rows.setdefault(name, {"method": name, "seeds": s["seeds"], "queries": s.get("mean_queries")})
        per = s.get("per_dataset") or {
            s["dataset"]: {k: s[k] for k in ("valid_mean", "valid_std", "test_mean", "test_std")}
        }
        for ds, v in per.items():
            row[f"{ds}_valid"] = (v["valid_mean"], v["valid_std"])
            row[f"{ds}_test"] = None if v["test_mean"] is None else (v["test_mean"], v["test_std"])
    return list(rows.values())


def format_markdown(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, digits: int = 2
) -> str:
    """A markdown table of ``rows``; ``(mean, std)`` cells print as ``mean ± std``, missing as ``-``."""
    if not rows:
        return ""
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))

    def cell(v) -> str:
        if v is None:
            return "-"
        if isinstance(v, tuple) and len(v) == 2:
            m, s = v
            if m is None or not np.isfinite(m):
                return "-"
            return f"{m:.{digits}f} ± {s:.{digits}f}"
        if isinstance(v, float | np.floating):
            return "-" if not np.isfinite(v) else f"{v:.{digits}f}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def paper_rows(methods: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The paper's table (:data:`PAPER_NB201`) as rows for :func:`format_markdown`."""
    names = list(PAPER_NB201) if methods is None else list(methods)
    return [{"method": f"{n} (published)", **PAPER_NB201[n]} for n in names]


# --------------------------------------------------------------------------- NAS-Bench-101

#: The paper's NAS-Bench-101 numbers (reference §9.2, from the original's ``results/*.json``): mean test
#: regret (fraction, against 0.943175752957662) and mean test accuracy (%) of the incumbent at about 1e6
#: simulated seconds; for arch2vec also the test accuracy at 1e4 and 1e5 s. Percentages are rounded, so a
#: regret derived from them is good to about 5e-5.
PAPER_NB101: dict[str, dict[str, float | str]] = {
    "arch2vec-RL": {"regret_test_1e6": 0.00209, "test_1e6": 94.11, "test_1e4": 92.67, "test_1e5": 93.66},
    "arch2vec-BO": {"regret_test_1e6": 0.00275, "test_1e6": 94.04, "test_1e4": 92.45, "test_1e5": 93.85},
    "Supervised-BO": {"regret_test_1e6": 0.00596, "test_1e6": 93.72, "note": "curve ends at 8.7e5 s"},
    "Supervised-RL": {"regret_test_1e6": 0.00620, "test_1e6": 93.70, "note": "curve ends at 8.2e5 s"},
    "BOHB": {"test_1e6": 93.60},
    "RE": {"test_1e6": 93.57},
    "REINFORCE": {"test_1e6": 93.48},
    "RS": {"test_1e6": 93.46},
}


def nb101_regret_curve(
    report: Mapping[str, Any], metric: str = "regret_test"
) -> tuple[np.ndarray, np.ndarray]:
    """The averaged NB101 regret curve of a ``--space nb101`` report, as the original plots it.

    Args:
      report: from :func:`a2v_jax.search.nb101.search_nb101` (its ``summary["curve"]``: runs
        averaged by query index, truncated to the shortest run, points past 1e6 s dropped).
      metric: ``regret_test`` or ``regret_validation``.

    Returns:
      ``(runtime (G,), regret (G,))``: mean cumulative simulated seconds and mean regret (fraction).

    Raises:
      ValueError: not an NB101 report, no curve (no seed made a query), or an unknown metric.
    """
    if metric not in ("regret_test", "regret_validation"):
        raise ValueError(f"metric must be 'regret_test' or 'regret_validation', got {metric!r}")
    summary = report.get("summary", {})
    if summary.get("space") != "nb101":
        raise ValueError(f"not an NB101 search report (space {summary.get('space')!r})")
    curve = summary.get("curve")
    if not curve:
        raise ValueError("the report has no averaged curve (no seed made a query)")
    return np.asarray(curve["runtime"], np.float64), np.asarray(curve[metric], np.float64)
