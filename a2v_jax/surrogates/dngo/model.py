"""DNGO's fit and prediction: the network, the regression and its hyper-parameters composed.

:func:`dngo_fit` standardises the inputs (per dimension, the valid rows' mean and population
standard deviation; outputs only with ``normalize_output``), trains a freshly initialised network
(:mod:`~a2v_jax.surrogates.dngo.network`), fits ``theta`` (:mod:`~a2v_jax.surrogates.dngo.hyper`)
and the posterior (:mod:`~a2v_jax.surrogates.dngo.regression`). The result, a :class:`DNGOState`,
has the standardisation folded into the first layer and the inverse of ``K``'s Cholesky factor
precomputed, so :func:`dngo_predict` over a whole pool is a few matmuls.
"""

from __future__ import annotations

from collections.abc import Callable

import chex
import jax
import jax.numpy as jnp
from flax import struct

from a2v_jax.surrogates.dngo.config import HIGHEST, VAR_FLOOR, DNGOConfig
from a2v_jax.surrogates.dngo.hyper import fit_hyperparameters
from a2v_jax.surrogates.dngo.network import basis, init_mlp, train_mlp
from a2v_jax.surrogates.dngo.regression import blr_posterior


@struct.dataclass
class DNGOState:
    """A fitted DNGO: the basis on raw inputs and the regression's posterior."""

    params: dict  # trained network (on standardised inputs)
    x_mean: chex.Array  # (D,) input standardisation
    x_std: chex.Array  # (D,)
    w1: chex.Array  # (D, H) first layer on raw inputs (standardisation folded in)
    b1: chex.Array  # (H,)
    mean_w: chex.Array  # (H,) posterior mean of the output weights
    l_inv: chex.Array  # (H, H) inverse of K's Cholesky factor: var = 1/beta + |l_inv phi|^2
    beta: chex.Array  # () noise precision
    log_alpha: chex.Array  # () fitted log weight precision
    log_sigma2: chex.Array  # () fitted log noise variance
    mll: chex.Array  # () log marginal likelihood at the fit
    y_mean: chex.Array  # () output standardisation (0 unless normalize_output)
    y_std: chex.Array  # () (1 unless normalize_output)


def _standardise(x: chex.Array, mask: chex.Array) -> tuple[chex.Array, chex.Array]:
    """Per-column mean and population std over the valid rows (std 1 where it is 0)."""
    m = mask.astype(x.dtype)
    n = jnp.maximum(jnp.sum(m), 1.0)
    mean = jnp.sum(x * m[:, None], axis=0) / n
    var = jnp.sum(jnp.square(x - mean) * m[:, None], axis=0) / n
    std = jnp.sqrt(var)
    return mean, jnp.where(std > 0, std, 1.0)


def dngo_fit(
    x: chex.Array,
    y: chex.Array,
    mask: chex.Array,
    key: chex.PRNGKey,
    cfg: DNGOConfig,
    n_bound: chex.Array | int | None = None,
) -> DNGOState:
    """Fits DNGO from scratch on the valid rows of a padded buffer (pure; static shapes).

    Standardise the inputs, train a freshly initialised network, fit the regression's two
    hyper-parameters (:func:`fit_hyperparameters`) and its posterior (:func:`blr_posterior`).

    Args:
      x: ``(n_max, D)`` observed features (raw).
      y: ``(n_max,)`` observed signals.
      mask: ``(n_max,)`` bool, valid rows; the others influence nothing.
      key: network initialisation and minibatch shuffling.
      cfg: the config.
      n_bound: optional: every valid row has an index below it; best shared across a ``vmap``
        (see :func:`train_mlp`). It only makes the training cheaper, never changes the result.

    Returns:
      A :class:`DNGOState`.
    """
    chex.assert_rank([x, y, mask], [2, 1, 1])
    mask = mask.astype(bool)
    x = x.astype(jnp.float32)
    y = y.astype(jnp.float32)
    x_mean, x_std = _standardise(x, mask)
    xs = (x - x_mean) / x_std  # (n_max, D)
    if cfg.normalize_output:
        y_mean, y_std = _standardise(y[:, None], mask)
        y_mean, y_std = y_mean[0], y_std[0]
    else:
        y_mean, y_std = jnp.zeros((), jnp.float32), jnp.ones((), jnp.float32)
    yt = jnp.where(mask, (y - y_mean) / y_std, 0.0)
    k_init, k_train = jax.random.split(key)
    k_hyper = jax.random.fold_in(key, 2)  # Nelder--Mead's prior draw (profile: unused)
    params = init_mlp(k_init, x.shape[1], cfg.hidden)
    params, _ = train_mlp(params, xs, yt, mask, k_train, cfg, n_bound)
    phi = basis(params, xs)  # (n_max, H)
    log_alpha, log_sigma2, mll = fit_hyperparameters(phi, yt, mask, cfg, k_hyper)
    post = blr_posterior(phi, yt, mask, log_alpha, log_sigma2)
    chol, _ = jax.lax.optimization_barrier((post.chol, post.mean))  # after the solve (hyper: serial LAPACK)
    eye = jnp.eye(cfg.hidden, dtype=jnp.float32)
    l_inv = jax.scipy.linalg.solve_triangular(chol, eye, lower=True)  # (H, H)
    w1 = params["w1"] / x_std[:, None]
    b1 = params["b1"] - jnp.dot(x_mean / x_std, params["w1"], precision=HIGHEST)
    return DNGOState(
        params=params,
        x_mean=x_mean,
        x_std=x_std,
        w1=w1,
        b1=b1,
        mean_w=post.mean,
        l_inv=l_inv,
        beta=post.beta,
        log_alpha=log_alpha,
        log_sigma2=log_sigma2,
        mll=mll,
        y_mean=y_mean,
        y_std=y_std,
    )


def dngo_predict(state: DNGOState, xq: chex.Array, chunk: int | None = None) -> tuple[chex.Array, chex.Array]:
    """Predictive mean and variance at raw inputs ``xq``.

    Args:
      state: from :func:`dngo_fit`.
      xq: ``(Q, D)`` query features (raw).
      chunk: static; evaluate ``chunk`` rows at a time (``lax.map``) to bound the ``(Q, H)``
        intermediates, which matters under a ``vmap`` over many seeds. None: all at once.

    Returns:
      ``(mean (Q,), var (Q,))``; ``var = 1/beta + phi^T K^-1 phi`` clipped below at float64's
      epsilon (the original's clip), both on the scale of ``y``.
    """
    chex.assert_rank(xq, 2)

    def one(xc):
        phi = jnp.tanh(jnp.dot(xc, state.w1, precision=HIGHEST) + state.b1)  # (C, H)
        mean = jnp.dot(phi, state.mean_w, precision=HIGHEST)  # (C,)
        z = jnp.dot(phi, state.l_inv.T, precision=HIGHEST)  # (C, H)
        var = jnp.maximum(1.0 / state.beta + jnp.sum(jnp.square(z), axis=-1), VAR_FLOOR)
        return mean * state.y_std + state.y_mean, var * jnp.square(state.y_std)

    return map_row_chunks(one, xq, chunk)


def map_row_chunks(
    fn: Callable[[chex.Array], tuple[chex.Array, chex.Array]], xq: chex.Array, chunk: int | None
) -> tuple[chex.Array, chex.Array]:
    """``fn(xq)`` for a row-wise ``fn`` returning two ``(Q,)`` arrays, ``chunk`` rows at a time.

    ``chunk`` is static; the rows are padded to a multiple of it and mapped with ``lax.map``, which
    bounds the intermediates under a ``vmap`` over seeds. None (or ``chunk >= Q``): one call.
    """
    q = xq.shape[0]
    if chunk is None or chunk >= q:
        return fn(xq)
    nc = -(-q // chunk)
    xp = jnp.pad(xq, ((0, nc * chunk - q), (0, 0))).reshape(nc, chunk, xq.shape[1])
    a, b = jax.lax.map(fn, xp)
    return a.reshape(-1)[:q], b.reshape(-1)[:q]
