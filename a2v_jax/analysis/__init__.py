"""Analyses of the latent space (the paper's Figs. 2-5) and of search results; figures in ``plots``.

=======================  ===============================================================
module                   what it computes
=======================  ===============================================================
``metrics``              RMSE, Pearson, Spearman, Kendall tau-b, precision@k (vmappable)
``encodings``            the one-hot op-code baseline, NB201 edit distance, alignment
``predictive``           surrogate predictive performance over training sizes and seeds
``smoothness``           random walks of one-edit mutations: L2 vs edit distance, autocorrelation
``walks``                greedy latent walks decoded to cells; loading a pre-trained model
``maps``                 2-D maps of the space (PCA; t-SNE / UMAP where installed)
``curves``               search curves, the NB201 table, NB101 regret curves from search reports
``plots``                one figure function per analysis (matplotlib, returns a Figure)
``figures``              the paper's Figs. 2-5 in one call each, from an embeddings file
=======================  ===============================================================
"""

from a2v_jax.analysis.curves import (
    PAPER_NB101,
    Curves,
    format_markdown,
    nb101_regret_curve,
    paper_rows,
    search_curves,
    search_table,
)
from a2v_jax.analysis.encodings import aligned_features, edit_distance, one_hot_codes
from a2v_jax.analysis.maps import Map2D, available_map_methods, map_2d, pca_2d
from a2v_jax.analysis.metrics import METRICS, regression_metrics
from a2v_jax.analysis.predictive import (
    NASLIB_TRAIN_SIZES,
    MLPConfig,
    PredictiveResult,
    Surrogate,
    dngo_surrogate,
    mlp_surrogate,
    predictive_performance,
    predictive_table,
)
from a2v_jax.analysis.smoothness import SmoothnessResult, smoothness
from a2v_jax.analysis.walks import LatentWalks, latent_walks, load_pretrained_state, reconstruct_codes

__all__ = [
    "METRICS",
    "NASLIB_TRAIN_SIZES",
    "PAPER_NB101",
    "Curves",
    "LatentWalks",
    "MLPConfig",
    "Map2D",
    "PredictiveResult",
    "SmoothnessResult",
    "Surrogate",
    "aligned_features",
    "available_map_methods",
    "dngo_surrogate",
    "edit_distance",
    "format_markdown",
    "latent_walks",
    "load_pretrained_state",
    "map_2d",
    "mlp_surrogate",
    "nb101_regret_curve",
    "one_hot_codes",
    "paper_rows",
    "pca_2d",
    "predictive_performance",
    "predictive_table",
    "reconstruct_codes",
    "regression_metrics",
    "search_curves",
    "search_table",
    "smoothness",
]
