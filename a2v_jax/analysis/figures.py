"""The paper's figures, one call each: an embeddings file and the benchmark table in, a Figure out.

Each function computes its analysis (arch2vec against the one-hot op-code baseline on the same cells
and seeds) and draws it; the analysis modules and :mod:`~a2v_jax.analysis.plots` hold the pieces
for anything more specific::

    from a2v_jax.analysis import figures
    figures.figure_3("runs/nb201/embeddings.npz").savefig("fig3.png")

``table`` defaults to :func:`a2v_jax.data.load_nb201` (``$A2V_NB201_DIR``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from a2v_jax.analysis import plots
from a2v_jax.analysis.encodings import aligned_features, one_hot_codes
from a2v_jax.analysis.maps import map_2d
from a2v_jax.analysis.predictive import (
    NASLIB_TRAIN_SIZES,
    dngo_surrogate,
    mlp_surrogate,
    predictive_performance,
)
from a2v_jax.analysis.smoothness import smoothness
from a2v_jax.analysis.walks import latent_walks


@dataclasses.dataclass(frozen=True)
class LatentData:
    """The embedded cells with what the benchmark says about them, rows aligned."""

    encodings: dict[str, np.ndarray]  # {"arch2vec": (P, 16), "one-hot": (P, 30)}
    codes: np.ndarray  # (P, 6) op codes
    arch_str: np.ndarray  # (P,) str
    test: np.ndarray | None  # (P,) test accuracy in [0, 1] (None if the table has none)
    valid: np.ndarray  # (P,) 200-epoch validation accuracy in [0, 1]
    rows: np.ndarray  # (P,) benchmark-table rows


def latent_data(embeddings: Any, table=None, dataset: str = "cifar10") -> LatentData:
    """Loads and aligns an embeddings file (path or loaded object) with the benchmark table.

    Args:
      embeddings: path of an ``embeddings.npz``, or an object with ``features`` and ``arch_str``.
      table: an ``NB201Table`` (default: :func:`a2v_jax.data.load_nb201`).
      dataset: whose accuracies (``cifar10 | cifar100 | imagenet16``).

    Returns:
      A :class:`LatentData`.
    """
    if isinstance(embeddings, str | os.PathLike):
        from a2v_jax.embed import load_embeddings

        embeddings = load_embeddings(embeddings)
    if table is None:
        from a2v_jax.data import load_nb201

        table = load_nb201()
    features, rows = aligned_features(embeddings, table)
    codes = np.asarray(table.codes, np.int64)[rows]
    res = table.datasets[dataset]
    return LatentData(
        encodings={"arch2vec": features, "one-hot": one_hot_codes(codes)},
        codes=codes,
        arch_str=np.asarray(table.arch_str).astype(str)[rows],
        test=None if res.test_mean is None else np.asarray(res.test_mean)[rows] / 100.0,
        valid=np.asarray(res.valid_mean)[rows] / 100.0,
        rows=rows,
    )


def _accuracy(data: LatentData) -> np.ndarray:
    """Test accuracy as the original's figures, validation accuracy where the table has no test."""
    return data.valid if data.test is None else data.test


def figure_2(
    embeddings: Any,
    table=None,
    *,
    surrogate: str = "dngo",
    train_sizes: Sequence[int] = NASLIB_TRAIN_SIZES[:8],
    seeds: Iterable[int] = range(20),
    test_size: int = 1000,
    dataset: str = "cifar10",
) -> Figure:
    """Fig. 2 and the predictive-performance curves: ``surrogate`` (``dngo`` or ``mlp``) trained on
    arch2vec and on one-hot codes, validation accuracy predicted at every training size.

    Returns:
      A figure: the metrics against the training size (top) and predicted-against-true
      histograms at the largest size (bottom).
    """
    data = latent_data(embeddings, table, dataset)
    if surrogate == "dngo":
        from a2v_jax.surrogates.dngo import DNGOConfig

        model = dngo_surrogate(DNGOConfig(normalize_output=True))
    elif surrogate == "mlp":
        model = mlp_surrogate()
    else:
        raise ValueError(f"surrogate must be 'dngo' or 'mlp', got {surrogate!r}")
    seeds = list(seeds)
    results = [
        predictive_performance(
            x, data.valid, model, train_sizes=train_sizes, seeds=seeds, test_size=test_size, label=name
        )
        for name, x in data.encodings.items()
    ]
    fig = Figure(figsize=(14.4, 6.8), layout="constrained")
    top, bottom = fig.subfigures(2, 1)
    plots.plot_predictive(results, fig=top)
    plots.plot_pred_vs_true(results, train_size=int(max(train_sizes)), fig=bottom)
    return fig


def figure_3(
    embeddings: Any,
    table=None,
    *,
    seed: int = 0,
    num_steps: int = 1000,
    num_walks: int = 1,
    relative: bool = True,
    dataset: str = "cifar10",
) -> Figure:
    """Fig. 3: L2 against edit distance and the random-walk autocorrelation, arch2vec and one-hot
    on the same walks (distances relative to each encoding's mean one-edit distance by default)."""
    data = latent_data(embeddings, table, dataset)
    acc = _accuracy(data)
    results = [
        smoothness(
            x,
            data.codes,
            acc,
            seed=seed,
            num_steps=num_steps,
            num_walks=num_walks,
            relative=relative,
            label=n,
        )
        for n, x in data.encodings.items()
    ]
    return plots.plot_smoothness(results)


def figure_4(
    embeddings: Any,
    table=None,
    *,
    method: str = "pca",
    max_points: int | None = None,
    seed: int = 0,
    dataset: str = "cifar10",
) -> Figure:
    """Fig. 4: 2-D maps of arch2vec and one-hot coloured by accuracy and by density
    (``method``: ``pca``, or ``tsne`` / ``umap`` where installed)."""
    data = latent_data(embeddings, table, dataset)
    maps = [map_2d(x, method, max_points=max_points, seed=seed, label=n) for n, x in data.encodings.items()]
    name = "validation accuracy (%)" if data.test is None else "test accuracy (%)"
    return plots.plot_maps(maps, 100.0 * _accuracy(data), value_name=name)  # percent, as every figure


def figure_5(
    embeddings: Any,
    table=None,
    *,
    start: int | None = None,
    num_steps: int = 8,
    seed: int = 0,
    dataset: str = "cifar10",
) -> Figure:
    """Fig. 5: one greedy walk in each encoding from the same start cell (random if None), decoded."""
    data = latent_data(embeddings, table, dataset)
    p = data.codes.shape[0]
    start = int(np.random.default_rng(seed).integers(p)) if start is None else int(start)
    walks = [
        latent_walks(x, data.codes, data.arch_str, _accuracy(data), [start], num_steps, label=n)
        for n, x in data.encodings.items()
    ]
    return plots.plot_walks(walks, walk=0)
