"""Figures for every analysis and for search results; each function returns a matplotlib ``Figure``.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot state, nothing shown):
a notebook displays the returned figure, a script calls ``fig.savefig(path)``. The ``plot_*``
functions except :func:`plot_search_curves` (which takes ``ax=``) also take ``fig=``, a Figure or
SubFigure to draw into, so figures compose (``top, bottom = Figure().subfigures(2, 1)``); they
return the top-level Figure.

=================================  ==========================================================
paper figure                       call
=================================  ==========================================================
Fig. 2 (predicted vs true)         ``plot_pred_vs_true([a2v, onehot], train_size=205)``
predictive-performance curves      ``plot_predictive([a2v, onehot, ...])``
Fig. 3 (smoothness)                ``plot_smoothness([a2v_smooth, onehot_smooth])``
Fig. 4 (map of the space)          ``plot_maps([map_a2v, map_onehot], values)``
Fig. 5 (decoded latent walks)      ``plot_walks([walks_a2v, walks_onehot], walk=0)``
search curves (NB101 Fig. 6 style)  ``plot_search({"paper": {...}, "default": {...}}, table)``
NB101 regret vs time (log-log)     ``plot_nb101_regret({"arch2vec-RL": rep_rl, "arch2vec-BO": rep_bo})``
=================================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from a2v_jax.analysis.curves import PAPER_NB101, Curves, nb101_regret_curve, search_curves
from a2v_jax.analysis.maps import Map2D, density_2d
from a2v_jax.analysis.metrics import METRICS
from a2v_jax.analysis.predictive import PredictiveResult
from a2v_jax.analysis.smoothness import SmoothnessResult
from a2v_jax.analysis.walks import LatentWalks
from a2v_jax.spaces.nb201 import CELL_OPS, EDGES

METRIC_NAMES = {
    "rmse": "RMSE",
    "pearson": "Pearson r",
    "spearman": "Spearman ρ",
    "kendall": "Kendall τ",
    "precision_at_k": "precision@k",
}
CURVE_NAMES = {
    # The incumbent is the cell with the best search signal so far: its accuracies may go down.
    "test": "incumbent's test accuracy (%)",
    "valid": "incumbent's validation accuracy (%)",
    "signal": "best search signal (%)",
    "regret_test": "test regret (pp)",
    "regret_valid": "validation regret (pp)",
}
X_NAMES = {"queries": "queries", "seconds": "simulated seconds"}
#: NB201 op colours (benchmark op-code order: none, skip, conv1x1, conv3x3, avg pool).
OP_COLOURS = ("#bbbbbb", "#2ca02c", "#1f77b4", "#d62728", "#ff7f0e")
OP_SHORT = ("none", "skip", "1x1", "3x3", "pool")


def axes_grid(
    nrows: int, ncols: int, size: tuple[float, float] = (4.0, 3.0), fig=None
) -> tuple[Any, np.ndarray]:
    """A new figure of ``nrows x ncols`` axes, or those axes inside ``fig`` (a Figure or SubFigure)."""
    if fig is None:
        fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    return fig, np.atleast_2d(fig.subplots(nrows, ncols, squeeze=False))


def _top(fig) -> Figure:
    """The top-level Figure of a Figure or SubFigure."""
    return fig if isinstance(fig, Figure) else fig.figure


# --------------------------------------------------------------------------- search


def plot_search_curves(
    curves: Sequence[Curves],
    ax=None,
    *,
    band: str = "se",
    log_x: bool = False,
    log_y: bool = False,
    title: str | None = None,
) -> Figure:
    """Mean ± band over seeds of several methods' curves on one axis.

    Args:
      curves: from :func:`~a2v_jax.analysis.curves.search_curves`, same ``x_kind`` and ``metric``.
      ax: draw into this axis (its figure is returned); None makes a new figure.
      band: ``"se"`` (standard error) or ``"std"`` over seeds.
      log_x, log_y: logarithmic axes.
      title: axis title.

    Returns:
      The figure.
    """
    if not curves:
        raise ValueError("no curves to plot")
    kinds = {(c.x_kind, c.metric) for c in curves}
    if len(kinds) > 1:
        raise ValueError(f"curves mix x kinds / metrics {sorted(kinds)}; plot them on separate axes")
    if ax is None:
        fig, axes = axes_grid(1, 1, (5.0, 3.6))
        ax = axes[0, 0]
    fig = ax.figure
    for c in curves:
        m, b = c.mean(), c.band(band)
        (line,) = ax.plot(c.x, m, label=f"{c.label} ({c.values.shape[0]} seeds)")
        ax.fill_between(c.x, m - b, m + b, color=line.get_color(), alpha=0.2, linewidth=0)
    x_kind, metric = kinds.pop()
    ax.set_xlabel(X_NAMES[x_kind])
    ax.set_ylabel(CURVE_NAMES[metric])
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log", nonpositive="clip")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _top(fig)


def plot_search(
    reports: Mapping[str, Mapping[str, Mapping[str, Any]]],
    table,
    *,
    metrics: Sequence[str] = ("test", "regret_test"),
    xs: Sequence[str] = ("queries", "seconds"),
    dataset: str | None = None,
    band: str = "se",
    log_regret: bool = True,
    fig=None,
) -> Figure:
    """Search curves of several methods, presets side by side.

    Args:
      reports: ``{preset (column): {method label: report}}``.
      table: the ``NB201Table`` the searches ran on.
      metrics: one row per metric and x kind (see :data:`~a2v_jax.analysis.curves.CURVE_METRICS`).
      xs: ``"queries"`` and/or ``"seconds"``.
      dataset: report on this dataset (default: each report's searched one).
      band: ``"se"`` or ``"std"``.
      log_regret: regret rows on a log y axis.

    Returns:
      A figure of ``len(metrics) * len(xs)`` rows and ``len(reports)`` columns.
    """
    cols = list(reports)
    rows = [(m, x) for m in metrics for x in xs]
    fig, axes = axes_grid(len(rows), len(cols), (5.0, 3.4), fig)
    for j, preset in enumerate(cols):
        for i, (metric, x) in enumerate(rows):
            curves = [
                search_curves(rep, table, x=x, metric=metric, dataset=dataset, label=label)
                for label, rep in reports[preset].items()
            ]
            plot_search_curves(
                curves,
                axes[i, j],
                band=band,
                log_y=log_regret and metric.startswith("regret"),
                title=f"{preset}" if i == 0 else None,
            )
    return _top(fig)


def plot_nb101_regret(
    reports: Mapping[str, Mapping[str, Any]],
    *,
    metric: str = "regret_test",
    published: Sequence[str] = ("arch2vec-RL", "arch2vec-BO"),
    best_test: float = 0.943175752957662,
    ax=None,
    title: str | None = None,
) -> Figure:
    """NB101 regret vs estimated wall-clock time on log-log axes, as the original's Fig. 6.

    Each report's averaged curve (:func:`~a2v_jax.analysis.curves.nb101_regret_curve`: by query
    index, truncated to the shortest run, points past 1e6 s dropped) is one line; regrets of 0
    (the optimum found) cannot be drawn on a log axis and are left out. ``published`` adds the
    paper's test regrets (:data:`~a2v_jax.analysis.curves.PAPER_NB101`) as markers: at 1e6 s the
    published regret, at 1e4 / 1e5 s ``best_test`` minus the published (rounded) accuracy.

    Args:
      reports: ``{label: NB101 search report}``.
      metric: ``regret_test`` or ``regret_validation`` (published markers are test regrets only).
      published: rows of ``PAPER_NB101`` to mark (only those with time points).
      best_test: the anchor of the published accuracies.
      ax: draw into this axis (its figure is returned); None makes a new figure.
      title: axis title.

    Returns:
      The figure.
    """
    if not reports:
        raise ValueError("no reports to plot")
    if ax is None:
        fig, axes = axes_grid(1, 1, (5.0, 3.8))
        ax = axes[0, 0]
    fig = ax.figure
    for label, rep in reports.items():
        x, y = nb101_regret_curve(rep, metric)
        y = 100.0 * y  # percentage points, the unit of every accuracy in the figures
        ok = (x > 0) & (y > 0)
        ax.plot(x[ok], y[ok], label=f"{label} ({rep['summary']['seeds']} seeds)")
    if metric == "regret_test":
        for name in published:
            row = PAPER_NB101[name]
            pts = [
                (t, 100.0 * best_test - float(row[f"test_{k}"]))
                for t, k in ((1e4, "1e4"), (1e5, "1e5"))
                if f"test_{k}" in row
            ]
            if "regret_test_1e6" in row:
                pts.append((1e6, 100.0 * float(row["regret_test_1e6"])))
            if pts:
                px, py = zip(*pts, strict=True)
                ax.plot(px, py, linestyle="none", marker="o", mfc="none", label=f"{name} (published)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("estimated wall-clock time (simulated s)")
    ax.set_ylabel("test regret (pp)" if metric == "regret_test" else "validation regret (pp)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return _top(fig)


# --------------------------------------------------------------------------- predictive performance


def plot_predictive(
    results: Sequence[PredictiveResult],
    metrics: Sequence[str] = ("rmse", "spearman", "kendall", "precision_at_k"),
    fig=None,
) -> Figure:
    """Each metric against the training size (log axis), mean ± std over seeds, one line per result.

    Args:
      results: from :func:`~a2v_jax.analysis.predictive.predictive_performance`.
      metrics: one panel each (names of :data:`~a2v_jax.analysis.metrics.METRICS`).
      fig: draw into this Figure / SubFigure instead of a new one.

    Returns:
      The figure.
    """
    if not results:
        raise ValueError("no results to plot")
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise ValueError(f"unknown metrics {bad}; expected some of {METRICS}")
    fig, axes = axes_grid(1, len(metrics), (3.6, 3.0), fig)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for r in results:
            m, s = r.mean_std(metric)
            (line,) = ax.plot(r.train_sizes, m, marker="o", markersize=3, label=f"{r.label} / {r.surrogate}")
            ax.fill_between(r.train_sizes, m - s, m + s, color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set_xscale("log")
        ax.set_xlabel("training cells")
        name = METRIC_NAMES[metric] + (f" (k={results[0].k})" if metric == "precision_at_k" else "")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize="small")
    fig.suptitle(
        f"surrogate predictive performance ({len(results[0].seeds)} seeds, "
        f"test set {results[0].pred.shape[-1]})"
    )
    return _top(fig)


def plot_pred_vs_true(
    results: Sequence[PredictiveResult], train_size: int, bins: int = 40, fig=None
) -> Figure:
    """Fig. 2: 2-D histograms of predicted against true values at one training size, all seeds pooled.

    Args:
      results: one panel each; every result must include ``train_size``.
      train_size: which training size to show.
      bins: histogram bins per axis.
      fig: draw into this Figure / SubFigure instead of a new one.

    Returns:
      The figure.
    """
    if not results:
        raise ValueError("no results to plot")
    fig, axes = axes_grid(1, len(results), (3.6, 3.4), fig)
    for ax, r in zip(axes[0], results, strict=True):
        hit = np.flatnonzero(r.train_sizes == train_size)
        if not hit.size:
            raise ValueError(
                f"{r.label}/{r.surrogate} has no training size {train_size}; it has {r.train_sizes.tolist()}"
            )
        z = int(hit[0])
        true, pred = r.true[z].ravel(), r.pred[z].ravel()
        lo, hi = (
            float(min(true.min(), np.percentile(pred, 0.5))),
            float(max(true.max(), np.percentile(pred, 99.5))),
        )
        ax.hist2d(true, pred, bins=bins, range=[[lo, hi], [lo, hi]], cmap="viridis", cmin=1)
        ax.plot([lo, hi], [lo, hi], color="white", linewidth=0.8, linestyle="--")
        rm, rs = r.mean_std("rmse")
        pm, ps = r.mean_std("pearson")
        ax.set_title(
            f"{r.label} / {r.surrogate}, n={train_size}\n"
            f"RMSE {rm[z]:.3f}±{rs[z]:.3f}, r {pm[z]:.2f}±{ps[z]:.2f}",
            fontsize="small",
        )
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
    return _top(fig)


# --------------------------------------------------------------------------- smoothness


def plot_smoothness(results: Sequence[SmoothnessResult], fig=None) -> Figure:
    """Fig. 3: L2 distance against edit distance (one box plot per encoding) and the random-walk
    autocorrelation against L2 distance and against edit distance (all encodings on one axis).

    Args:
      results: from :func:`~a2v_jax.analysis.smoothness.smoothness`, ideally on the same walks.
      fig: draw into this Figure / SubFigure instead of a new one.

    Returns:
      The figure.
    """
    if not results:
        raise ValueError("no results to plot")
    n = len(results)
    fig, axes = axes_grid(1, n + 2, (3.4, 3.2), fig)
    unit = " (relative)" if any(r.distance_scale != 1.0 for r in results) else ""
    for ax, r in zip(axes[0, :n], results, strict=True):
        geds = [d for d, v in r.l2_by_ged.items() if v.size]
        ax.boxplot([r.l2_by_ged[d] for d in geds], positions=geds, widths=0.6, showfliers=False)
        ax.set_xlabel("edit distance")
        ax.set_ylabel("L2 distance" + unit)
        ax.set_title(f"{r.label}: Spearman {r.l2_ged_spearman:.2f}", fontsize="small")
        ax.grid(alpha=0.3)
    ax_l2, ax_ged = axes[0, n], axes[0, n + 1]
    for r in results:
        ok = np.isfinite(r.autocorr_l2) & (r.l2_bins > 0)  # the zero bin is revisits: r = 1
        ax_l2.plot(r.l2_bins[ok], r.autocorr_l2[ok], marker="o", markersize=3, label=r.label)
        d = np.arange(r.autocorr_ged.size)
        ok = np.isfinite(r.autocorr_ged) & (d > 0)
        ax_ged.plot(d[ok], r.autocorr_ged[ok], marker="o", markersize=3, label=r.label)
    ax_l2.set_xlabel("L2 distance" + unit + " (bin upper edge)")
    ax_l2.set_ylabel("accuracy correlation")
    ax_l2.set_title("random-walk autocorrelation", fontsize="small")
    ax_ged.set_xlabel("edit distance")
    ax_ged.set_ylabel("accuracy correlation")
    for ax in (ax_l2, ax_ged):
        ax.axhline(0.0, color="black", linewidth=0.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return _top(fig)


# --------------------------------------------------------------------------- maps


def plot_maps(
    maps: Sequence[Map2D],
    values: np.ndarray,
    *,
    density: bool = True,
    value_name: str = "test accuracy (%)",
    floor_percentile: float = 5.0,
    fig=None,
) -> Figure:
    """Fig. 4: each map coloured by ``values`` (``(P,)`` over the pool) and, optionally, by density.

    The colour scale starts at the ``floor_percentile`` percentile of ``values``, so the few
    broken cells (NB201: 10 % accuracy) do not flatten the scale of all the others.

    Args:
      maps: from :func:`~a2v_jax.analysis.maps.map_2d`, one row each.
      values: ``(P,)`` over the whole pool (each map picks its ``index``).
      density: add a column coloured by point density.
      value_name: colour-bar label.
      floor_percentile: lower end of the colour scale.
      fig: draw into this Figure / SubFigure instead of a new one.

    Returns:
      The figure.
    """
    if not maps:
        raise ValueError("no maps to plot")
    values = np.asarray(values, np.float64)
    ncols = 2 if density else 1
    fig, axes = axes_grid(len(maps), ncols, (4.2, 3.6), fig)
    vmin = float(np.percentile(values, floor_percentile))
    for i, mp in enumerate(maps):
        v = values[mp.index]
        order = np.argsort(v)  # best cells drawn last, on top
        sc = axes[i, 0].scatter(
            mp.coords[order, 0],
            mp.coords[order, 1],
            c=v[order],
            s=2,
            cmap="viridis",
            vmin=vmin,
            rasterized=True,
        )
        fig.colorbar(sc, ax=axes[i, 0], label=value_name)
        ex = "" if mp.explained is None else f" ({100 * mp.explained.sum():.0f}% var.)"
        axes[i, 0].set_title(f"{mp.label}: {mp.method}{ex}", fontsize="small")
        if density:
            dens = density_2d(mp.coords)
            o = np.argsort(dens)
            sc = axes[i, 1].scatter(
                mp.coords[o, 0], mp.coords[o, 1], c=dens[o], s=2, cmap="magma", rasterized=True
            )
            fig.colorbar(sc, ax=axes[i, 1], label="relative density")
            axes[i, 1].set_title(f"{mp.label}: density", fontsize="small")
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    return _top(fig)


# --------------------------------------------------------------------------- cells and walks

_NODE_X = np.array([0.0, 1.0, 2.0, 3.0])


def draw_cell(ax, codes: Sequence[int], *, title: str | None = None) -> None:
    """Draws one NB201 cell: 4 nodes in a row, each edge an arc coloured by its op (``none`` dotted)."""
    codes = np.asarray(codes)
    if codes.shape != (len(EDGES),):
        raise ValueError(f"an NB201 cell has {len(EDGES)} op codes, got shape {codes.shape}")
    for (dst, src), code in zip(EDGES, codes, strict=True):
        span = dst - src
        rad = 0.0 if span == 1 else (-0.45 if span == 2 else 0.55)
        invalid = code < 0
        arrow = FancyArrowPatch(
            (_NODE_X[src], 0.0),
            (_NODE_X[dst], 0.0),
            connectionstyle=f"arc3,rad={rad}",
            arrowstyle="-|>",
            mutation_scale=8,
            linewidth=1.8,
            color="black" if invalid else OP_COLOURS[code],
            linestyle=":" if invalid or code == 0 else "-",
            shrinkA=6,
            shrinkB=6,
        )
        ax.add_patch(arrow)
    ax.scatter(_NODE_X, np.zeros(4), s=60, color="white", edgecolors="black", zorder=3)
    ax.set_xlim(-0.4, 3.4)
    ax.set_ylim(-1.0, 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize="x-small")


def op_legend(ax) -> None:
    """Adds the op colour legend of :func:`draw_cell` to ``ax``."""
    handles = [
        Line2D([0], [0], color=c, linewidth=2, linestyle=":" if i == 0 else "-")
        for i, c in enumerate(OP_COLOURS)
    ]
    ax.legend(
        handles,
        [f"{s} ({n})" for s, n in zip(OP_SHORT, CELL_OPS, strict=True)],
        fontsize="x-small",
        loc="center",
    )
    ax.axis("off")


def plot_walks(
    walks: Sequence[LatentWalks],
    walk: int = 0,
    *,
    value_name: str = "acc",
    percent: bool = True,
    fig=None,
) -> Figure:
    """Fig. 5: one greedy latent walk per encoding, decoded to cells, start on the left.

    Each cell's title gives its value (times 100 if ``percent``: values in [0, 1]) and the edit
    distance of the move that reached it.

    Args:
      walks: from :func:`~a2v_jax.analysis.walks.latent_walks`, one row each.
      walk: which of their walks to draw.
      value_name: label of the value in each title.
      percent: show values times 100.
      fig: draw into this Figure / SubFigure instead of a new one.

    Returns:
      The figure.
    """
    if not walks:
        raise ValueError("no walks to plot")
    steps = walks[0].index.shape[1]
    scale = 100.0 if percent else 1.0
    fig, axes = axes_grid(len(walks), steps + 1, (1.5, 1.25), fig)
    for i, w in enumerate(walks):
        if not 0 <= walk < w.index.shape[0]:
            raise ValueError(f"walk {walk} is outside 0..{w.index.shape[0] - 1} ({w.label})")
        for s in range(steps):
            ged = "start" if s == 0 else f"+{w.step_ged[walk, s - 1]} edit"
            draw_cell(
                axes[i, s], w.codes[walk, s], title=f"{value_name} {scale * w.values[walk, s]:.1f}\n{ged}"
            )
        axes[i, 0].text(-0.9, 0.0, w.label, rotation=90, va="center", ha="center", fontsize="small")
        op_legend(axes[i, steps])
    return _top(fig)
