"""Every figure function draws without pyplot, returns a Figure, and refuses empty input."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from a2v_jax.analysis import plots
from a2v_jax.analysis.curves import search_curves
from a2v_jax.analysis.encodings import one_hot_codes
from a2v_jax.analysis.maps import map_2d
from a2v_jax.analysis.predictive import MLPConfig, mlp_surrogate, predictive_performance
from a2v_jax.analysis.smoothness import smoothness
from a2v_jax.analysis.walks import latent_walks
from a2v_jax.spaces.nb201 import all_codes, arch_str_from_codes

matplotlib.use("Agg")

CODES = all_codes()[::10].astype(np.int64)  # (1563, 6)
VALUES = np.random.default_rng(0).uniform(0.1, 0.95, size=len(CODES))
FEATS = np.random.default_rng(1).normal(size=(len(CODES), 16)).astype(np.float32)


def _renders(fig: Figure, n_axes: int) -> None:
    assert isinstance(fig, Figure)
    assert len([ax for ax in fig.axes if ax.get_label() != "<colorbar>"]) == n_axes
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.getvalue()[:4] == b"\x89PNG"


def test_plot_predictive_and_pred_vs_true():
    kw = dict(train_sizes=(5, 20), seeds=[0, 1], test_size=40, k=5)
    rs = [
        predictive_performance(
            FEATS, VALUES, mlp_surrogate(MLPConfig(hidden=(8,), steps=20)), label="a2v", **kw
        ),
        predictive_performance(
            one_hot_codes(CODES),
            VALUES,
            mlp_surrogate(MLPConfig(hidden=(8,), steps=20)),
            label="one-hot",
            **kw,
        ),
    ]
    _renders(plots.plot_predictive(rs), 4)
    _renders(plots.plot_predictive(rs, metrics=("kendall",)), 1)
    _renders(plots.plot_pred_vs_true(rs, 20), 2)
    with pytest.raises(ValueError, match="no training size 7"):
        plots.plot_pred_vs_true(rs, 7)
    with pytest.raises(ValueError, match="unknown metrics"):
        plots.plot_predictive(rs, metrics=("r2",))


def test_plot_smoothness_maps_and_walks():
    sm = [
        smoothness(f, CODES, VALUES, num_steps=60, label=lab)
        for f, lab in ((FEATS, "a2v"), (one_hot_codes(CODES), "oh"))
    ]
    _renders(plots.plot_smoothness(sm), 4)
    maps = [map_2d(FEATS, label="a2v"), map_2d(one_hot_codes(CODES), label="oh")]
    _renders(plots.plot_maps(maps, VALUES), 4)
    colourbars = [
        ax.get_ylabel() for ax in plots.plot_maps(maps, 100 * VALUES).axes if ax.get_label() == "<colorbar>"
    ]
    assert "test accuracy (%)" in colourbars  # one unit, percent, in every figure
    _renders(plots.plot_maps(maps[:1], VALUES, density=False), 1)
    arch = np.array([arch_str_from_codes(c) for c in CODES])
    ws = [latent_walks(FEATS, CODES, arch, VALUES, [3, 9], num_steps=4, label="a2v")]
    _renders(plots.plot_walks(ws, walk=1), 6)
    with pytest.raises(ValueError, match="walk 2"):
        plots.plot_walks(ws, walk=2)


def test_draw_cell__marks_undecodable_edges():
    fig = Figure()
    ax = fig.subplots()
    plots.draw_cell(ax, [0, 1, 2, 3, 4, -1], title="x")
    assert len(ax.patches) == 6
    assert ax.patches[0].get_linestyle() == ":" and ax.patches[1].get_linestyle() == "-"
    with pytest.raises(ValueError, match="6 op codes"):
        plots.draw_cell(ax, [0, 1])


def test_plot_search__presets_side_by_side():
    runs = [
        {
            "seed": s,
            "trajectory": {
                "spent_s": [10.0 * (i + 1) for i in range(5)],
                "best_index": [s, s, 7, 7, 9],
                "best_signal": [0.1] * 5,
            },
        }
        for s in range(3)
    ]
    rep = {
        "summary": {"method": "rl", "preset": "paper", "dataset": "cifar10", "budget_s": 60.0},
        "runs": runs,
    }
    table = type(
        "T",
        (),
        {
            "path": "fake",
            "datasets": {"cifar10": type("D", (), {"valid_mean": VALUES * 100, "test_mean": VALUES * 100})()},
        },
    )()
    fig = plots.plot_search({"paper": {"rl": rep, "rl again": rep}, "default": {"rl": rep}}, table)
    _renders(fig, 8)
    assert fig.axes[0].get_title() == "paper"
    # The incumbent is chosen by the signal: the curves say so instead of "best-so-far".
    assert {ax.get_ylabel() for ax in fig.axes} >= {"incumbent's test accuracy (%)"}
    curves = [search_curves(rep, table, x="queries"), search_curves(rep, table, x="seconds")]
    with pytest.raises(ValueError, match="mix"):
        plots.plot_search_curves(curves)
    with pytest.raises(ValueError, match="no curves"):
        plots.plot_search_curves([])
