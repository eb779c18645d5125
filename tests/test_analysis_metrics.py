"""Regression and ranking metrics of a2v_jax.analysis.metrics against scipy and hand-made cases."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from a2v_jax.analysis.metrics import (
    METRICS,
    average_ranks,
    kendall_tau,
    pearson,
    precision_at_k,
    regression_metrics,
)


def _tied_pair(seed: int, t: int = 60):
    rng = np.random.default_rng(seed)
    true = np.round(rng.uniform(0, 1, t), 1)  # many ties, like NB201's 10 % cells
    pred = np.round(true + rng.normal(0, 0.2, t), 1)
    return pred.astype(np.float32), true.astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regression_metrics__match_scipy_with_ties(seed):
    pred, true = _tied_pair(seed)
    m = jax.jit(regression_metrics, static_argnums=2)(jnp.asarray(pred), jnp.asarray(true), 5)
    assert set(m) == set(METRICS)
    np.testing.assert_allclose(m["rmse"], np.sqrt(np.mean((pred - true) ** 2)), rtol=1e-5)
    np.testing.assert_allclose(m["pearson"], stats.pearsonr(pred, true)[0], atol=1e-5)
    np.testing.assert_allclose(m["spearman"], stats.spearmanr(pred, true)[0], atol=1e-5)
    np.testing.assert_allclose(m["kendall"], stats.kendalltau(pred, true)[0], atol=1e-5)  # tau-b


def test_average_ranks__equal_scipy_rankdata():
    x = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 1.0], np.float32)
    np.testing.assert_allclose(average_ranks(jnp.asarray(x)), stats.rankdata(x))


def test_precision_at_k__counts_boundary_ties_as_hits():
    true = jnp.array([0.9, 0.8, 0.8, 0.1, 0.0])
    # predicted top-2 = items 3 and 2: item 2 ties the 2nd-best true value, item 3 is a miss
    pred = jnp.array([0.0, 0.1, 0.5, 0.9, 0.2])
    assert float(precision_at_k(pred, true, 2)) == pytest.approx(0.5)
    assert float(precision_at_k(true, true, 3)) == 1.0
    assert float(precision_at_k(-true, true, 1)) == 0.0
    with pytest.raises(ValueError, match="k=6"):
        precision_at_k(pred, true, 6)


def test_correlations__constant_input_is_nan():
    x = jnp.ones(10)
    y = jnp.arange(10.0)
    assert np.isnan(pearson(x, y)) and np.isnan(kendall_tau(x, y))
    assert float(pearson(y, 2 * y + 1)) == pytest.approx(1.0)


def test_regression_metrics__vmap_equals_loop():
    pairs = [_tied_pair(s, 40) for s in range(3)]
    preds = jnp.asarray(np.stack([p for p, _ in pairs]))
    trues = jnp.asarray(np.stack([t for _, t in pairs]))
    batched = jax.vmap(lambda p, t: regression_metrics(p, t, 4))(preds, trues)
    for i in range(3):
        single = regression_metrics(preds[i], trues[i], 4)
        for name in METRICS:
            np.testing.assert_allclose(batched[name][i], single[name], rtol=1e-6, atol=1e-7)
