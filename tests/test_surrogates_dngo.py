"""DNGO: the Bayesian linear regression against float64 numpy, the hyper-parameter search against
Nelder--Mead on the original's likelihood, minibatch accounting, padding invariance."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from a2v_jax.surrogates import dngo as D

TINY = D.DNGOConfig(hidden=16, epochs=20, hyper_grid=9, hyper_refine=6)


def _basis_data(n=30, n_max=40, h=8, seed=0):
    """Random tanh features and a noisy linear-ish target; rows >= n hold garbage."""
    rng = np.random.default_rng(seed)
    phi = np.tanh(rng.normal(size=(n_max, h))).astype(np.float32)
    w = rng.normal(size=h)
    y = (0.6 + 0.05 * phi @ w + 0.01 * rng.normal(size=n_max)).astype(np.float32)
    mask = np.arange(n_max) < n
    phi[~mask] = 7.0  # garbage that must not matter
    y[~mask] = -3.0
    return phi, y, mask


def _np_posterior(phi, y, log_alpha, log_sigma2):
    a, b = np.exp(log_alpha), np.exp(-log_sigma2)
    k = b * phi.T @ phi + a * np.eye(phi.shape[1])
    return b * np.linalg.solve(k, phi.T @ y), np.linalg.inv(k), b, k


def _np_mll(theta, phi, y, likelihood):
    """The original's function (paper) or Bishop's (exact), float64."""
    if np.any(np.abs(theta) > 10):
        return -np.inf
    m, _, b, k = _np_posterior(phi, y, *theta)
    a = np.exp(theta[0])
    n, d = phi.shape
    mll = d / 2 * np.log(a) + n / 2 * np.log(b) - n / 2 * np.log(2 * np.pi) - a / 2 * m @ m
    if likelihood == "paper":
        with np.errstate(over="ignore"):
            det = np.linalg.det(k)
        return mll - b / 2 * np.linalg.norm(y - phi @ m, 2) - 0.5 * np.log(det + 1e-10)
    return mll - b / 2 * np.sum((y - phi @ m) ** 2) - 0.5 * np.linalg.slogdet(k)[1]


def test_blr_posterior__matches_float64_numpy():
    phi, y, mask = _basis_data()
    theta = (0.7, -5.0)
    post = D.blr_posterior(phi, y, mask, *theta)
    p64, y64 = phi[mask].astype(np.float64), y[mask].astype(np.float64)
    m, s, b, k = _np_posterior(p64, y64, *theta)
    np.testing.assert_allclose(post.mean, m, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(post.chol @ post.chol.T, k, rtol=1e-4, atol=1e-3)
    q = np.tanh(np.random.default_rng(1).normal(size=(5, phi.shape[1])))
    mean, var = D.blr_predict(post, jnp.asarray(q, jnp.float32))
    np.testing.assert_allclose(mean, q @ m, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(var, 1 / b + np.einsum("qh,hk,qk->q", q, s, q), rtol=1e-3)


@pytest.mark.parametrize("likelihood", ["exact", "paper"])
def test_log_marginal_likelihood__matches_float64_formula(likelihood):
    phi, y, mask = _basis_data()
    p64, y64 = phi[mask].astype(np.float64), y[mask].astype(np.float64)
    for theta in [(0.0, -3.0), (2.5, -6.0), (-1.0, -1.0)]:
        got = D.log_marginal_likelihood(phi, y, mask, *theta, likelihood=likelihood)
        np.testing.assert_allclose(got, _np_mll(np.array(theta), p64, y64, likelihood), rtol=1e-4, atol=2e-3)
    assert D.log_marginal_likelihood(phi, y, mask, 10.5, -3.0, likelihood=likelihood) == -np.inf
    assert D.log_marginal_likelihood(phi, y, mask, 0.0, -10.5, likelihood=likelihood) == -np.inf


def test_log_marginal_likelihood__paper_determinant_saturates_and_overflows():
    phi, y, mask = _basis_data(n=6, h=8)  # rank-deficient: |K| underflows for small alpha
    p64, y64 = phi[mask].astype(np.float64), y[mask].astype(np.float64)
    theta = np.array([-9.0, 9.0])  # |K| ~ e^-72 < 1e-10: log(|K| + 1e-10) = log 1e-10
    got = D.log_marginal_likelihood(phi, y, mask, *theta, likelihood="paper")
    np.testing.assert_allclose(got, _np_mll(theta, p64, y64, "paper"), rtol=1e-4, atol=2e-3)
    big = _basis_data(n=40, n_max=40, h=96)  # |K| > float64 max at alpha = e^9.9
    assert D.log_marginal_likelihood(*big, 9.9, -9.0, likelihood="paper") == -np.inf
    assert np.isfinite(D.log_marginal_likelihood(*big, 9.9, -9.0, likelihood="exact"))


@pytest.mark.parametrize("likelihood", ["exact", "paper"])
def test_fit_hyperparameters__matches_nelder_mead(likelihood):
    phi, y, mask = _basis_data(n=30, h=8, seed=3)
    cfg = dataclasses.replace(TINY, likelihood=likelihood, hyper_grid=17, hyper_refine=12)
    la, ls, mll = D.fit_hyperparameters(jnp.asarray(phi), jnp.asarray(y), jnp.asarray(mask), cfg)
    p64, y64 = phi[mask].astype(np.float64), y[mask].astype(np.float64)
    rng = np.random.default_rng(0)
    best = max(
        (
            optimize.fmin(lambda t: -_np_mll(t, p64, y64, likelihood), rng.normal([0, -3], 1), disp=False)
            for _ in range(4)
        ),
        key=lambda t: _np_mll(t, p64, y64, likelihood),
    )
    ours = _np_mll(np.array([la, ls], np.float64), p64, y64, likelihood)
    assert ours >= _np_mll(best, p64, y64, likelihood) - 1e-3
    np.testing.assert_allclose([la, ls], best, atol=0.05)
    np.testing.assert_allclose(mll, D.log_marginal_likelihood(phi, y, mask, la, ls, likelihood), atol=1e-3)


def _np_mll_f32(theta, phi, y):
    """The original's likelihood as NumPy 1.x ran it: ``Theta`` and ``y`` float32 arrays and the
    float64 scalars ``alpha, beta`` do not promote them, so ``K``, its inverse and its determinant
    are float32 (the determinant overflows at about e^88.7)."""
    if np.any(np.abs(theta) > 10):
        return -np.inf
    a, b = np.exp(theta[0]), 1 / np.exp(theta[1])
    p32, y32 = phi.astype(np.float32), y.astype(np.float32)
    n, d = p32.shape
    k = (b * (p32.T @ p32)).astype(np.float32) + (a * np.eye(d)).astype(np.float32)
    m = (np.float32(b) * np.linalg.inv(k) @ p32.T) @ y32
    sign, logdet = np.linalg.slogdet(k)
    with np.errstate(over="ignore"):
        det = float(sign * np.exp(np.float32(logdet)))
    mll = d / 2 * np.log(a) + n / 2 * np.log(b) - n / 2 * np.log(2 * np.pi) - a / 2 * float(m @ m)
    mll = mll - b / 2 * float(np.linalg.norm(y32 - p32 @ m, 2)) - 0.5 * np.log(det + 1e-10)
    return -1e25 if np.isnan(mll) else mll


def test_log_marginal_likelihood__float32_determinant_overflows_where_float64_does_not():
    phi, y, mask = _basis_data(n=40, n_max=40, h=32, seed=1)
    theta = np.array([1.0, -4.0])  # log|K| about 190: above float32's 88.7, far below float64's 709
    assert np.isfinite(D.log_marginal_likelihood(phi, y, mask, *theta, likelihood="paper"))
    assert D.log_marginal_likelihood(phi, y, mask, *theta, likelihood="paper", det_dtype="float32") == -np.inf
    assert _np_mll_f32(theta, phi, y) == -np.inf
    ok = np.array([-2.0, 0.5])  # small alpha and beta: |K| fits float32
    np.testing.assert_allclose(
        D.log_marginal_likelihood(phi, y, mask, *ok, likelihood="paper", det_dtype="float32"),
        _np_mll_f32(ok, phi, y),
        rtol=1e-4,
    )


def _rosen(x):
    return (1 - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2


def _walled(x):
    """A bowl at (0.3, -1) with an infinite wall (the overflow cliff) where x0 + x1 > 0.5."""
    v = (x[0] - 0.3) ** 2 + 3 * (x[1] + 1) ** 2
    return jnp.where(x[0] + x[1] > 0.5, jnp.inf, v)


@pytest.mark.parametrize("f", [_rosen, _walled])
def test_nelder_mead__follows_scipy_fmin(f):
    run = jax.jit(lambda x0: D.nelder_mead(f, x0, 400))
    for x0 in np.random.default_rng(0).normal([0, -3], 1, size=(3, 2)).astype(np.float32):
        ref = optimize.fmin(lambda t: float(f(t)), x0.astype(np.float64), disp=False, full_output=True)
        x, fx, calls = run(jnp.asarray(x0))
        np.testing.assert_allclose(x, ref[0], atol=2e-4)
        assert abs(int(calls) - ref[3]) <= 6  # float32 vs float64 arithmetic near convergence


def test_nelder_mead__a_start_inside_the_wall_never_moves():
    x0 = np.array([2.0, 2.0], np.float32)  # the whole initial simplex is +inf
    ref = optimize.fmin(lambda t: float(_walled(t)), x0.astype(np.float64), disp=False)
    x, fx, calls = D.nelder_mead(_walled, jnp.asarray(x0), 400)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(ref, x0)
    assert fx == np.inf and int(calls) >= 400


def test_fit_hyperparameters__nelder_mead_is_the_originals_fmin_from_its_prior_draw():
    phi, y, mask = _basis_data(n=40, n_max=48, h=24, seed=2)  # 7 of 10 prior draws start infeasible
    cfg = dataclasses.replace(
        TINY, likelihood="paper", det_dtype="float32", hyper_opt="nelder-mead", nm_grid=161
    )
    coarse = dataclasses.replace(cfg, nm_grid=41)  # the default table: same decisions, the cliff a bit off

    def fitter(c):
        return jax.jit(
            lambda k: D.fit_hyperparameters(jnp.asarray(phi), jnp.asarray(y), jnp.asarray(mask), c, k)
        )

    fit, fit41 = fitter(cfg), fitter(coarse)
    p32, y32 = phi[mask], y[mask]
    stuck = moved = 0
    for i in range(10):
        key = jax.random.key(i)
        p0 = np.asarray(jnp.array([0.0, -3.0]) + jax.random.normal(key, (2,)), np.float64)
        ref = optimize.fmin(lambda t: -_np_mll_f32(t, p32, y32), p0, disp=False)
        la, ls, mll = fit(key)
        if np.array_equal(ref, p0):  # the original never left an infeasible start: neither do we
            np.testing.assert_allclose([la, ls], p0, rtol=1e-6)
            assert mll == -np.inf
            stuck += 1
        else:
            # The optimum here lies on the overflow cliff; both crawl along it and stop a little
            # apart (the cliff's position differs by float32 LU vs interpolated Cholesky terms).
            np.testing.assert_allclose([la, ls], ref, atol=0.1)
            assert abs(float(mll) - _np_mll_f32(ref, p32, y32)) < 0.1
            assert abs(float(fit41(key)[2]) - _np_mll_f32(ref, p32, y32)) < 0.1
            moved += 1
    assert stuck >= 1 and moved >= 1  # both behaviours of the original are exercised
    with pytest.raises(ValueError, match="needs a key"):
        D.fit_hyperparameters(jnp.asarray(phi), jnp.asarray(y), jnp.asarray(mask), cfg)


def _fit_data(n=25, n_max=32, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_max, d)).astype(np.float32)
    y = (0.5 + 0.2 * np.tanh(x[:, 0] - 0.5 * x[:, 1])).astype(np.float32)
    mask = np.arange(n_max) < n
    return x, y, mask


@pytest.mark.parametrize(("n", "expected_batches"), [(25, 2), (10, 1), (7, 1), (30, 3)])
def test_train_mlp__drops_the_last_incomplete_minibatch(n, expected_batches):
    x, y, mask = _fit_data(n=n)
    cfg = dataclasses.replace(TINY, epochs=3)
    params = D.init_mlp(jax.random.key(0), x.shape[1], cfg.hidden)
    _, opt_state = D.train_mlp(params, x, y, mask, jax.random.key(1), cfg)
    assert int(opt_state[0].count) == 3 * expected_batches


def test_train_mlp__loop_bound_does_not_change_the_result():
    x, y, mask = _fit_data(n=25, n_max=96)  # prefixes of 32, 64, 96 rows are sorted
    cfg = dataclasses.replace(TINY, epochs=5)
    params = D.init_mlp(jax.random.key(0), x.shape[1], cfg.hidden)
    full, _ = D.train_mlp(params, x, y, mask, jax.random.key(1), cfg)
    bounded = jax.jit(lambda b: D.train_mlp(params, x, y, mask, jax.random.key(1), cfg, n_bound=b)[0])
    for b in (25, 40, 96):
        jax.tree.map(np.testing.assert_array_equal, full, bounded(b))


def test_dngo_fit__masked_rows_do_not_matter():
    x, y, mask = _fit_data()
    x2, y2 = x.copy(), y.copy()
    x2[~mask], y2[~mask] = 50.0, 9.0
    fit = jax.jit(lambda x, y: D.dngo_fit(x, y, mask, jax.random.key(0), TINY))
    q = jnp.asarray(np.random.default_rng(5).normal(size=(7, x.shape[1])), jnp.float32)
    a, b = D.dngo_predict(fit(x, y), q), D.dngo_predict(fit(x2, y2), q)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-5)


def test_dngo_fit__learns_a_smooth_function_and_chunked_predict_agrees():
    x, y, mask = _fit_data(n=60, n_max=64, seed=2)
    cfg = dataclasses.replace(TINY, epochs=60, hidden=32)
    st = jax.jit(lambda: D.dngo_fit(x, y, mask, jax.random.key(0), cfg))()
    xt, yt, _ = _fit_data(n=1, n_max=200, seed=9)
    mean, var = D.dngo_predict(st, jnp.asarray(xt))
    assert np.all(np.isfinite(mean)) and np.all(var > 0)
    assert np.corrcoef(mean, yt)[0, 1] > 0.8
    mc, vc = D.dngo_predict(st, jnp.asarray(xt), chunk=64)
    np.testing.assert_allclose(mc, mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(vc, var, rtol=1e-5)


def test_dngo_fit__same_key_same_result():
    x, y, mask = _fit_data()
    fit = jax.jit(lambda k: D.dngo_fit(x, y, mask, k, TINY))
    jax.tree.map(np.testing.assert_array_equal, fit(jax.random.key(3)), fit(jax.random.key(3)))


def test_dngo_config__rejects_bad_values():
    with pytest.raises(ValueError, match="likelihood"):
        D.DNGOConfig(likelihood="bishop")
    with pytest.raises(ValueError, match="hyper_refine"):
        D.DNGOConfig(hyper_refine=1)
    with pytest.raises(ValueError, match="batch_size"):
        D.DNGOConfig(batch_size=0)


def test_dngo_fit__normalized_output_is_scale_equivariant():
    x, y, mask = _fit_data()
    cfg = dataclasses.replace(TINY, normalize_output=True)
    fit = jax.jit(lambda y: D.dngo_fit(x, y, mask, jax.random.key(0), cfg))
    q = jnp.asarray(np.random.default_rng(5).normal(size=(7, x.shape[1])), jnp.float32)
    m1, v1 = D.dngo_predict(fit(y), q)
    m2, v2 = D.dngo_predict(fit(10.0 * y + 3.0), q)
    np.testing.assert_allclose(m2, 10.0 * m1 + 3.0, rtol=1e-4)
    np.testing.assert_allclose(v2, 100.0 * v1, rtol=1e-3)


@pytest.mark.parametrize("optimizer", ["profile", "nelder-mead"])
def test_dngo_fit__every_lapack_call_waits_for_the_last(optimizer):
    """Two independent solves can deadlock XLA's CPU pool under vmap (see surrogates/dngo/hyper.py)."""
    from conftest import unchained_lapack_calls

    x, y, mask = _fit_data()
    cfg = dataclasses.replace(TINY, hyper_opt=optimizer)
    fit = lambda x, y: D.dngo_fit(x, y, mask, jax.random.key(0), cfg)  # noqa: E731
    assert unchained_lapack_calls(jax.make_jaxpr(jax.vmap(fit))(x[None], y[None])) == []
