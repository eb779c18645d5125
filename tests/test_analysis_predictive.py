"""The predictive-performance sweep: splits, surrogates, determinism, one compile, errors."""

from __future__ import annotations

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from a2v_jax.analysis.encodings import one_hot_codes
from a2v_jax.analysis.metrics import METRICS
from a2v_jax.analysis.predictive import (
    MLPConfig,
    Surrogate,
    mlp_surrogate,
    predictive_performance,
    predictive_table,
    split_indices,
)
from a2v_jax.spaces.nb201 import all_codes

FAST_MLP = MLPConfig(hidden=(16,), steps=60)


def _toy(p=300, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(p, d)).astype(np.float32)
    y = (x @ np.array([1.0, -0.5, 0.25, 0.0][:d]) + 0.05 * rng.normal(size=p)).astype(np.float32)
    return x, y


def test_split_indices__disjoint_and_nested_across_sizes():
    key = jax.random.key(7)
    test_a, train_small = split_indices(key, 100, 20, 5)
    test_b, train_big = split_indices(key, 100, 20, 30)
    np.testing.assert_array_equal(test_a, test_b)
    np.testing.assert_array_equal(train_small, train_big[:5])
    assert not set(np.asarray(test_b)) & set(np.asarray(train_big))
    assert len(set(np.asarray(train_big))) == 30


def test_mlp_surrogate__masked_rows_change_nothing():
    x, y = _toy(40)
    mask = np.arange(40) < 25
    x2, y2 = x.copy(), y.copy()
    x2[~mask] = 1e3
    y2[~mask] = -7.0
    s = mlp_surrogate(FAST_MLP)
    key = jax.random.key(0)
    m1, _ = s.predict(s.fit(jnp.asarray(x), jnp.asarray(y), jnp.asarray(mask), key), jnp.asarray(x))
    m2, _ = s.predict(s.fit(jnp.asarray(x2), jnp.asarray(y2), jnp.asarray(mask), key), jnp.asarray(x))
    np.testing.assert_allclose(m1, m2, rtol=1e-5, atol=1e-6)


def test_predictive_performance__learns_a_linear_target():
    x, y = _toy()
    r = predictive_performance(
        x, y, mlp_surrogate(FAST_MLP), train_sizes=(5, 100), seeds=range(3), test_size=100, k=10
    )
    assert r.metrics["rmse"].shape == (2, 3) and r.pred.shape == (2, 3, 100)
    mean_sp, _ = r.mean_std("spearman")
    assert mean_sp[1] > 0.9 and mean_sp[1] > mean_sp[0]
    assert np.all(np.isfinite(r.metrics["kendall"]))


def test_predictive_performance__same_cells_for_every_encoding():
    codes = all_codes()[::37].astype(np.int64)  # (423, 6)
    y = (codes == 3).sum(1).astype(np.float32) / 6
    feats = np.random.default_rng(0).normal(size=(codes.shape[0], 16)).astype(np.float32)
    kw = dict(train_sizes=(5, 24), seeds=[1, 2], test_size=50, k=5)
    a = predictive_performance(feats, y, mlp_surrogate(FAST_MLP), label="a2v", **kw)
    b = predictive_performance(one_hot_codes(codes), y, mlp_surrogate(FAST_MLP), label="one-hot", **kw)
    np.testing.assert_array_equal(a.test_index, b.test_index)
    np.testing.assert_array_equal(a.true, b.true)
    np.testing.assert_array_equal(a.true[0, 0], y[a.test_index[0]])


def test_predictive_performance__deterministic_and_vmap_equals_single_seed():
    x, y = _toy()
    kw = dict(train_sizes=(8, 20), test_size=60, k=5)
    both = predictive_performance(x, y, mlp_surrogate(FAST_MLP), seeds=[3, 4], **kw)
    again = predictive_performance(x, y, mlp_surrogate(FAST_MLP), seeds=[3, 4], **kw)
    one = predictive_performance(x, y, mlp_surrogate(FAST_MLP), seeds=[4], **kw)
    np.testing.assert_array_equal(both.pred, again.pred)
    np.testing.assert_allclose(both.pred[:, 1], one.pred[:, 0], rtol=1e-5, atol=1e-6)


def test_predictive_performance__compiles_once_for_all_sizes():
    traces = []
    base = mlp_surrogate(FAST_MLP)

    def fit(x, y, mask, key):
        traces.append(1)
        return base.fit(x, y, mask, key)

    x, y = _toy()
    predictive_performance(
        x, y, Surrogate("counted", fit, base.predict), train_sizes=(5, 8, 14), seeds=[0, 1], test_size=50, k=5
    )
    assert len(traces) == 1


def test_predictive_performance__bad_arguments_are_named():
    x, y = _toy(50)
    s = mlp_surrogate(FAST_MLP)
    with pytest.raises(ValueError, match="exceeds the pool of 50"):
        predictive_performance(x, y, s, train_sizes=(5, 40), test_size=20)
    with pytest.raises(ValueError, match=">= 2"):
        predictive_performance(x, y, s, train_sizes=(1,), test_size=20)
    with pytest.raises(ValueError, match="k must be"):
        predictive_performance(x, y, s, train_sizes=(5,), test_size=20, k=21)
    y_bad = y.copy()
    y_bad[7] = np.nan
    with pytest.raises(ValueError, match="targets row 7"):
        predictive_performance(x, y_bad, s, train_sizes=(5,), test_size=20)
    with pytest.raises(ValueError, match=r"\(P, D\)"):
        predictive_performance(x, y[:-1], s, train_sizes=(5,), test_size=20)


def test_predictive_table__one_row_per_size_and_result():
    x, y = _toy()
    kw = dict(seeds=[0, 1], test_size=50, k=5)
    a = predictive_performance(x, y, mlp_surrogate(FAST_MLP), train_sizes=(5, 10), label="a", **kw)
    b = predictive_performance(x[:, :2], y, mlp_surrogate(FAST_MLP), train_sizes=(10,), label="b", **kw)
    rows = predictive_table([a, b])
    assert [(r["n"], r["encoding"]) for r in rows] == [(5, "a"), (10, "a"), (10, "b")]
    assert set(METRICS) <= set(rows[0]) and rows[0]["seeds"] == 2
    m, s = rows[1]["spearman"]
    assert m == pytest.approx(np.mean(a.metrics["spearman"][1])) and s >= 0
    assert [r["n"] for r in predictive_table([a, b], train_sizes=[5])] == [5]


@pytest.mark.skipif(
    importlib.util.find_spec("a2v_jax.surrogates.dngo") is None, reason="a2v_jax.surrogates.dngo not present"
)
def test_dngo_surrogate__runs_in_the_sweep():
    from a2v_jax.analysis.predictive import dngo_surrogate
    from a2v_jax.surrogates.dngo import DNGOConfig

    x, y = _toy()
    s = dngo_surrogate(DNGOConfig(hidden=16, epochs=5, hyper_grid=5, hyper_refine=0, normalize_output=True))
    r = predictive_performance(x, y, s, train_sizes=(8, 30), seeds=[0, 1], test_size=50, k=5)
    assert r.surrogate == "dngo"
    assert np.all(np.isfinite(r.metrics["rmse"])) and np.all(np.isfinite(r.pred))
