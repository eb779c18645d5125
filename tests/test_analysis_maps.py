"""2-D maps of the space: PCA against an eigen-decomposition, subsampling, optional packages."""

from __future__ import annotations

import numpy as np
import pytest

from a2v_jax.analysis.maps import available_map_methods, density_2d, map_2d, pca_2d


def test_pca_2d__matches_the_covariance_eigenvectors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4)) * np.array([5.0, 2.0, 1.0, 0.1])
    coords, explained = pca_2d(x)
    evals, evecs = np.linalg.eigh(np.cov(x, rowvar=False))
    order = np.argsort(evals)[::-1]
    np.testing.assert_allclose(explained, evals[order[:2]] / evals.sum(), rtol=1e-6)
    proj = (x - x.mean(0)) @ evecs[:, order[:2]]
    np.testing.assert_allclose(np.abs(coords), np.abs(proj), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(coords.mean(0), 0.0, atol=1e-9)
    # deterministic signs: the same data shuffled maps to the same points
    perm = rng.permutation(500)
    np.testing.assert_allclose(pca_2d(x[perm])[0], coords[perm], atol=1e-9)


def test_map_2d__subsample_and_errors():
    x = np.random.default_rng(1).normal(size=(300, 16)).astype(np.float32)
    full = map_2d(x, label="a2v")
    assert full.coords.shape == (300, 2) and full.index.tolist() == list(range(300))
    sub = map_2d(x, max_points=50, seed=2)
    assert sub.coords.shape == (50, 2) and len(set(sub.index.tolist())) == 50
    np.testing.assert_array_equal(sub.index, map_2d(x, max_points=50, seed=2).index)
    with pytest.raises(ValueError, match="unknown map method"):
        map_2d(x, method="mds")
    assert "pca" in available_map_methods()


@pytest.mark.parametrize("method", ["tsne", "umap"])
def test_map_2d__optional_methods(method):
    x = np.random.default_rng(1).normal(size=(120, 8)).astype(np.float32)
    if method not in available_map_methods():
        with pytest.raises(ImportError, match="pip install"):
            map_2d(x, method=method)
    else:
        m = map_2d(x, method=method, max_points=60)
        assert m.coords.shape == (60, 2) and m.explained is None


def test_density_2d__peaks_where_points_crowd():
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(0, 0.05, size=(200, 2)), rng.uniform(-5, 5, size=(50, 2))])
    d = density_2d(pts, bins=20)
    assert d.shape == (250,) and d.max() == 1.0 and d.min() > 0
    assert np.median(d[:200]) > np.median(d[200:])
