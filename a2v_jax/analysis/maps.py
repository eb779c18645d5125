"""2-D maps of the whole space (the paper's Fig. 4): PCA always, t-SNE or UMAP where installed.

The original (``plot_scripts/visdensity.py``) ran t-SNE (``random_state=0``) on 1,000 sampled
embeddings and coloured the points by density and by test accuracy. PCA here is exact and cheap
enough for all 15,625 NB201 cells; t-SNE (scikit-learn) and UMAP (umap-learn) are optional
packages, used only when installed, and get a random subsample of ``max_points`` cells by default.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np

METHODS = ("pca", "tsne", "umap")
_PACKAGES = {"tsne": ("sklearn", "scikit-learn"), "umap": ("umap", "umap-learn")}


def available_map_methods() -> tuple[str, ...]:
    """The methods usable here: ``pca`` always, ``tsne`` / ``umap`` if their package is installed."""
    return tuple(m for m in METHODS if m == "pca" or importlib.util.find_spec(_PACKAGES[m][0]) is not None)


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projection of ``(P, D)`` rows onto their first two principal components.

    Returns:
      ``(coords (P, 2), explained (2,))``: the centred data times the top-2 right singular vectors
      (each sign fixed so that its largest-magnitude loading is positive, for determinism), and
      the fraction of the total variance each component explains.
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"PCA needs a (P, D) array with P >= 2 and D >= 2, got shape {x.shape}")
    xc = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    comps = vt[:2]  # (2, D)
    signs = np.sign(comps[np.arange(2), np.argmax(np.abs(comps), axis=1)])
    comps = comps * signs[:, None]
    total = np.sum(s**2)
    explained = (s[:2] ** 2) / total if total > 0 else np.zeros(2)
    return xc @ comps.T, explained


@dataclasses.dataclass(frozen=True)
class Map2D:
    """A 2-D map of (a subsample of) a pool."""

    label: str
    method: str
    coords: np.ndarray  # (M, 2)
    index: np.ndarray  # (M,) pool rows the points are
    explained: np.ndarray | None  # (2,) PCA explained-variance ratio; None for t-SNE / UMAP


def map_2d(
    features: np.ndarray,
    method: str = "pca",
    *,
    max_points: int | None = None,
    seed: int = 0,
    label: str = "",
) -> Map2D:
    """A 2-D map of an encoding.

    Args:
      features: ``(P, D)`` encoding of the pool.
      method: ``pca``, ``tsne`` (needs scikit-learn) or ``umap`` (needs umap-learn).
      max_points: map a random subsample of this many cells (None: all for PCA, 1,000 for t-SNE and
        UMAP, the original's sample size).
      seed: subsample seed, and ``random_state`` of t-SNE / UMAP (the original: 0).
      label: name of the encoding.

    Returns:
      A :class:`Map2D`.

    Raises:
      ValueError: unknown method.
      ImportError: the method's package is not installed (names the pip package).
    """
    if method not in METHODS:
        raise ValueError(f"unknown map method {method!r}; expected one of {METHODS}")
    if method != "pca" and method not in available_map_methods():
        mod, pkg = _PACKAGES[method]
        raise ImportError(f"map method {method!r} needs the package {pkg!r} (pip install {pkg})")
    x = np.asarray(features, np.float32)
    p = x.shape[0]
    if max_points is None and method != "pca":
        max_points = 1000
    if max_points is not None and max_points < p:
        index = np.sort(np.random.default_rng(seed).choice(p, size=max_points, replace=False))
    else:
        index = np.arange(p)
    sub = x[index]
    explained = None
    if method == "pca":
        coords, explained = pca_2d(sub)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        coords = TSNE(n_components=2, random_state=seed, init="pca").fit_transform(sub)
    else:
        import umap

        coords = umap.UMAP(n_components=2, random_state=seed).fit_transform(sub)
    return Map2D(
        label=label, method=method, coords=np.asarray(coords, np.float64), index=index, explained=explained
    )


def density_2d(coords: np.ndarray, bins: int = 60) -> np.ndarray:
    """Relative density at each of ``(M, 2)`` points: its cell's count in a ``bins x bins`` grid."""
    coords = np.asarray(coords, np.float64)
    h, xe, ye = np.histogram2d(coords[:, 0], coords[:, 1], bins=bins)
    ix = np.clip(np.searchsorted(xe, coords[:, 0], side="right") - 1, 0, bins - 1)
    iy = np.clip(np.searchsorted(ye, coords[:, 1], side="right") - 1, 0, bins - 1)
    return h[ix, iy] / h.max()
