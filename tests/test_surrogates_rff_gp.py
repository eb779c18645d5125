"""The sparse-spectrum GP: fits a smooth function, learns its length scale, ignores masked rows."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from a2v_jax.surrogates.rff_gp import RFFGPConfig, rff_gp_fit, rff_gp_predict


def _data(n=40, n_max=48, seed=0, freq=1.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, size=(n_max, 2)).astype(np.float32)
    y = (0.5 + 0.2 * np.sin(freq * x[:, 0]) + 0.01 * rng.normal(size=n_max)).astype(np.float32)
    mask = np.arange(n_max) < n
    return jnp.asarray(x), jnp.asarray(y), jnp.asarray(mask)


def test_rff_gp__fits_a_smooth_function_with_calibrated_variance():
    x, y, mask = _data()
    state = rff_gp_fit(x, y, mask, jax.random.key(0), RFFGPConfig(features=64))
    xq = jnp.asarray(np.random.default_rng(1).uniform(-2.5, 2.5, size=(200, 2)), jnp.float32)
    mean, var = rff_gp_predict(state, xq)
    truth = 0.5 + 0.2 * np.sin(np.asarray(xq[:, 0]))
    assert np.sqrt(np.mean((np.asarray(mean) - truth) ** 2)) < 0.03
    far_mean, far_var = rff_gp_predict(state, jnp.full((1, 2), 30.0))
    assert float(far_var[0]) > 5 * float(jnp.median(var))  # far from the data: uncertain


def test_rff_gp__length_scale_follows_the_data():
    cfg = RFFGPConfig(features=64, length_scales=(0.5, 1.0, 2.0, 4.0, 8.0))
    slow = rff_gp_fit(*_data(freq=0.3), jax.random.key(0), cfg)
    fast = rff_gp_fit(*_data(freq=3.0, n=48), jax.random.key(0), cfg)
    assert float(fast.length_scale) < float(slow.length_scale)
    assert slow.mll.shape == (5,) and np.all(np.isfinite(np.asarray(slow.mll)))


def test_rff_gp__masked_rows_change_nothing_and_chunks_equal_one_call():
    x, y, mask = _data()
    a = rff_gp_fit(x, y, mask, jax.random.key(3), RFFGPConfig(features=32))
    b = rff_gp_fit(x, jnp.where(mask, y, 123.0), mask, jax.random.key(3), RFFGPConfig(features=32))
    xq = x + 0.1
    one = rff_gp_predict(a, xq)
    np.testing.assert_allclose(rff_gp_predict(b, xq), one, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rff_gp_predict(a, xq, chunk=7), one, rtol=1e-5, atol=1e-6)


def test_rff_gp_config__validated():
    with pytest.raises(ValueError, match="length scales"):
        RFFGPConfig(length_scales=())
    with pytest.raises(ValueError, match="hyper_refine"):
        RFFGPConfig(hyper_refine=1)


def test_rff_gp_fit__every_lapack_call_waits_for_the_last():
    """Two independent solves can deadlock XLA's CPU pool under vmap (a gp-ls run hung so)."""
    from conftest import unchained_lapack_calls

    x, y, mask = _data()
    fit = lambda x, y: rff_gp_fit(x, y, mask, jax.random.key(0), RFFGPConfig(features=16))  # noqa: E731
    assert unchained_lapack_calls(jax.make_jaxpr(jax.vmap(fit))(x[None], y[None])) == []
