"""Figures and a Markdown table of searches, from their report files alone.

``python -m a2v_jax.report RESULT.json [...] --out DIR`` (:mod:`a2v_jax.report`) reads the JSON
reports that ``python -m a2v_jax.search`` writes (NAS-Bench-201 or -101, with trajectories) and
writes into ``DIR``:

- ``report.md``: one row per report (method, preset, dataset, seeds, validation and test accuracy
  over seeds, how many seeds found the best cell, the cell most seeds found) and the figures;
- ``curves.png``: the incumbent's validation accuracy against simulated seconds, mean and a band
  of one standard deviation over seeds, one panel per dataset, every report a line;
- ``final.png``: the distribution over seeds of the found cells' validation accuracy, one box per
  report, one panel per dataset.

No benchmark table is read: everything comes from the reports. The incumbent is the cell with the
best search signal so far, so its validation accuracy may go down along a curve. Accuracies are in
percent; which preset produced a row is said in its label (``rl/paper``, ``bo/default``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class ReportError(ValueError):
    """A file is not a search report this module can read; the message names the file and why."""


def load_report(path: str | os.PathLike) -> dict[str, Any]:
    """Reads one search report and checks it has what the figures need."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except OSError as e:
        raise ReportError(f"{path}: cannot be read ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ReportError(f"{path}: not a JSON file ({e})") from None
    if not isinstance(report, dict) or "summary" not in report or "runs" not in report:
        raise ReportError(
            f"{path}: not a search report (no 'summary' and 'runs'); write one with python -m a2v_jax.search"
        )
    if report["summary"].get("space", "nb201") not in ("nb201", "nb101"):
        raise ReportError(
            f"{path}: a {report['summary']['space']} report; figures need NAS-Bench-201 or -101 reports"
        )
    missing = [r.get("seed") for r in report["runs"] if "trajectory" not in r]
    if missing:
        raise ReportError(
            f"{path}: seeds {missing[:5]} have no trajectory; rerun the search without --no-trajectories"
        )
    for run in report["runs"]:
        try:
            incumbent_valid(run, report["summary"].get("space", "nb201"))
        except ReportError as e:
            raise ReportError(f"{path}: {e}") from None
    report["path"] = str(path)
    return report


def label(report: dict[str, Any]) -> str:
    """``method/preset`` (the preset says which is the paper's behaviour and which is fixed)."""
    s = report["summary"]
    return f"{s['method']}/{s['preset']}"


def dataset_of(report: dict[str, Any]) -> str:
    s = report["summary"]
    return s.get("dataset") or ("cifar10 (nb101)" if s.get("space") == "nb101" else "?")


def incumbent_valid(run: dict[str, Any], space: str) -> np.ndarray:
    """The incumbent's validation accuracy (percent) after each accepted query of one seed."""
    tr = run["trajectory"]
    if space == "nb101":  # its signal is the incumbent's mean validation accuracy, in percent
        return np.asarray(tr["best_signal"], np.float64)
    if "best_valid_mean" not in tr:
        raise ReportError(
            f"seed {run.get('seed')}: the trajectory has no best_valid_mean (a report written before it was "
            "recorded); rerun the search"
        )
    return np.asarray(tr["best_valid_mean"], np.float64)


def valid_curves(report: dict[str, Any], grid: np.ndarray) -> np.ndarray:
    """``(S, G)`` incumbent validation accuracy of every seed at the simulated seconds ``grid``.

    NaN before a seed's first query; after its last query the final incumbent is carried forward.
    """
    space = report["summary"].get("space", "nb201")
    out = np.full((len(report["runs"]), grid.size), np.nan)
    for i, run in enumerate(report["runs"]):
        spent = np.asarray(run["trajectory"]["spent_s"], np.float64)
        value = incumbent_valid(run, space)
        if spent.size:
            at = np.searchsorted(spent, grid, side="right") - 1
            out[i] = np.where(at >= 0, value[np.maximum(at, 0)], np.nan)
    return out


def _final(report: dict[str, Any], field: str) -> np.ndarray:
    vals = [r.get(field) for r in report["runs"]]
    return np.asarray([np.nan if v is None else v for v in vals], np.float64)


def _pm(x: np.ndarray) -> str:
    x = x[np.isfinite(x)]
    return "n/a" if x.size == 0 else f"{x.mean():.2f} ± {x.std():.2f}"


def markdown_table(reports: Sequence[dict[str, Any]]) -> str:
    """One row per report: accuracies over seeds, how often the best cell was found, the cell most found."""
    lines = [
        "| search | dataset | seeds | budget (s) | valid (%) | test (%) | found the best cell "
        "| most found cell |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rep in reports:
        s = rep["summary"]
        seeds = s["seeds"]
        found = s.get("found_best_seeds", round(s.get("frac_found_best", 0.0) * seeds))
        top = s.get("most_found")
        arch = top["arch_str"].replace("|", "\\|") if top else ""  # a pipe would end the table cell
        cell = "n/a" if not top else f"`{arch}` ({top['seeds']} of {seeds})"
        lines.append(
            f"| {label(rep)} | {dataset_of(rep)} | {seeds} | {s['budget_s']:.0f} | "
            f"{_pm(_final(rep, 'valid_mean'))} | {_pm(_final(rep, 'test_mean'))} | "
            f"{found} of {seeds} | {cell} |"
        )
    return "\n".join(lines) + "\n"


def _by_dataset(reports: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for rep in reports:
        groups.setdefault(dataset_of(rep), []).append(rep)
    return groups


def plot_curves(reports: Sequence[dict[str, Any]], num_points: int = 200):
    """The incumbent's validation accuracy against simulated seconds, mean ± std over seeds, per dataset."""
    from a2v_jax.analysis.plots import axes_grid

    groups = _by_dataset(reports)
    fig, axes = axes_grid(1, len(groups), (5.0, 3.6))
    for ax, (ds, reps) in zip(axes[0], groups.items(), strict=True):
        budget = max(r["summary"]["budget_s"] for r in reps)
        grid = np.linspace(0.0, budget, num_points)
        lows, highs = [], []
        for rep in reps:
            v = valid_curves(rep, grid)
            started = np.isfinite(v).any(0)
            with np.errstate(all="ignore"):
                m, sd = np.nanmean(v[:, started], 0), np.nanstd(v[:, started], 0)
            (line,) = ax.plot(grid[started], m, label=f"{label(rep)} ({v.shape[0]} seeds)")
            late = grid[started] >= 0.1 * budget
            lows.append(np.nanmin((m - sd)[late], initial=np.inf))
            highs.append(np.nanmax((m + sd)[late], initial=-np.inf))
            ax.fill_between(grid[started], m - sd, m + sd, color=line.get_color(), alpha=0.15, linewidth=0)
        if np.isfinite(min(lows)):  # the first tenth of the budget would squash the rest
            ax.set_ylim(np.floor(min(lows)) - 0.5, np.ceil(max(highs)) + 0.5)
        ax.set_title(ds)
        ax.set_xlabel("simulated seconds")
        ax.set_ylabel("incumbent's validation accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def plot_final(reports: Sequence[dict[str, Any]]):
    """The found cells' validation accuracy over seeds: a box per report, a panel per dataset."""
    from a2v_jax.analysis.plots import axes_grid

    groups = _by_dataset(reports)
    fig, axes = axes_grid(1, len(groups), (1.2 + 1.1 * max(len(r) for r in groups.values()), 3.6))
    for ax, (ds, reps) in zip(axes[0], groups.items(), strict=True):
        data = [_final(r, "valid_mean") for r in reps]
        ax.boxplot([d[np.isfinite(d)] for d in data], tick_labels=[label(r) for r in reps], showmeans=True)
        ax.set_title(ds)
        ax.set_ylabel("found cell's validation accuracy (%)")
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.grid(alpha=0.3, axis="y")
    return fig


def write_report(
    paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike, dpi: int = 110
) -> dict[str, Path]:
    """Reads the reports at ``paths``; writes ``report.md``, ``curves.png``, ``final.png`` in ``out_dir``."""
    if not paths:
        raise ReportError("no report files given")
    reports = [load_report(p) for p in paths]
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out {out} is a file; name a directory")
    out.mkdir(parents=True, exist_ok=True)
    files = {"curves": out / "curves.png", "final": out / "final.png", "table": out / "report.md"}
    plot_curves(reports).savefig(files["curves"], dpi=dpi)
    plot_final(reports).savefig(files["final"], dpi=dpi)
    sources = "\n".join(f"- `{r['path']}`" for r in reports)
    files["table"].write_text(
        "# Search report\n\n"
        + markdown_table(reports)
        + "\nAccuracies: the benchmark's 200-epoch accuracies of each seed's found cell, mean ± std over "
        "seeds. `paper` rows run the original's search as it ran, `default` rows with its bugs fixed.\n\n"
        "![incumbent's validation accuracy](curves.png)\n\n![found cells](final.png)\n\nReports:\n"
        + sources
        + "\n"
    )
    return files
