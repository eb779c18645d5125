"""A sparse-spectrum Gaussian process: an RBF kernel's random Fourier features and a Bayesian
linear regression on them, with the length scale chosen by marginal likelihood over a grid.

The RBF kernel ``k(x, x') = s^2 exp(-|x - x'|^2 / (2 l^2))`` on standardised inputs is
approximated by ``F`` random features ``phi(x) = sqrt(2 / F) cos(x W / l + b)``, ``W ~ N(0, I)``,
``b ~ U(0, 2 pi)`` (Rahimi & Recht 2007; Lazaro-Gredilla et al. 2010). For every length scale of
the grid the regression's two hyper-parameters (weight precision, i.e. the kernel's amplitude, and
the noise) are fitted by DNGO's profile likelihood (:func:`~a2v_jax.surrogates.dngo.fit_hyperparameters`),
and the length scale with the largest log marginal likelihood wins. Every solve is a Cholesky
factor of an ``F x F`` matrix in float32 (the prior precision keeps it positive definite), so a
fit costs a few dozen small factorisations and no network training, and a prediction over a pool
costs what DNGO's does::

    from a2v_jax.surrogates.rff_gp import RFFGPConfig, rff_gp_fit, rff_gp_predict

    state = rff_gp_fit(x, y, mask, jax.random.key(0), RFFGPConfig())  # padded buffer, as DNGO
    mean, var = rff_gp_predict(state, pool)  # (P,), (P,)

Why a stationary kernel on the latent codes, and what it changed in the search:
``docs/beyond-the-paper.md``.
"""

from __future__ import annotations

import dataclasses
import math

import chex
import jax
import jax.numpy as jnp
from flax import struct

from a2v_jax.surrogates.dngo.config import HIGHEST, VAR_FLOOR, DNGOConfig
from a2v_jax.surrogates.dngo.hyper import fit_hyperparameters
from a2v_jax.surrogates.dngo.model import _standardise, map_row_chunks
from a2v_jax.surrogates.dngo.regression import blr_posterior


@dataclasses.dataclass(frozen=True)
class RFFGPConfig:
    """Sparse-spectrum GP settings.

    Attributes:
      features: random Fourier features ``F`` (the regression's basis size).
      length_scales: the grid of RBF length scales, in units of the standardised inputs.
      theta_bound: the box of ``log alpha`` and ``log sigma^2`` (as :class:`DNGOConfig`).
      hyper_grid: profile-likelihood grid points per length scale.
      hyper_refine: golden-section steps after the grid (0 or >= 2).
    """

    features: int = 128
    length_scales: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    theta_bound: float = 10.0
    hyper_grid: int = 9
    hyper_refine: int = 6

    def __post_init__(self):
        if self.features < 1 or not self.length_scales or min(self.length_scales) <= 0:
            raise ValueError(
                f"RFFGPConfig needs features >= 1 and positive length scales, got {self.features}, "
                f"{self.length_scales}"
            )
        _ = self.hyper  # validates the likelihood fields

    @property
    def hyper(self) -> DNGOConfig:
        """The config :func:`fit_hyperparameters` reads (exact likelihood, profile optimiser)."""
        return DNGOConfig(
            likelihood="exact",
            hyper_opt="profile",
            theta_bound=self.theta_bound,
            hyper_grid=self.hyper_grid,
            hyper_refine=self.hyper_refine,
        )


@struct.dataclass
class RFFGPState:
    """A fitted sparse-spectrum GP (the standardisation and length scale folded into ``w``, ``b``)."""

    w: chex.Array  # (D, F) frequencies on raw inputs
    b: chex.Array  # (F,) phases on raw inputs
    mean_w: chex.Array  # (F,) posterior mean of the weights
    l_inv: chex.Array  # (F, F) inverse Cholesky factor of the posterior precision
    beta: chex.Array  # () noise precision
    length_scale: chex.Array  # () the chosen length scale
    mll: chex.Array  # (L,) log marginal likelihood of each length scale of the grid
    y_mean: chex.Array  # () output standardisation
    y_std: chex.Array  # ()


def _features(x: chex.Array, w: chex.Array, b: chex.Array) -> chex.Array:
    return math.sqrt(2.0 / w.shape[1]) * jnp.cos(jnp.dot(x, w, precision=HIGHEST) + b)


def rff_gp_fit(
    x: chex.Array, y: chex.Array, mask: chex.Array, key: chex.PRNGKey, cfg: RFFGPConfig
) -> RFFGPState:
    """Fits the GP on the valid rows of a padded buffer (pure; static shapes).

    Args:
      x: ``(n_max, D)`` observed features (raw).
      y: ``(n_max,)`` observed signals.
      mask: ``(n_max,)`` bool, valid rows; the others influence nothing.
      key: the random spectrum (``W``, ``b``).
      cfg: the config.

    Returns:
      An :class:`RFFGPState`.
    """
    chex.assert_rank([x, y, mask], [2, 1, 1])
    mask = mask.astype(bool)
    x, y = x.astype(jnp.float32), y.astype(jnp.float32)
    x_mean, x_std = _standardise(x, mask)
    y_mean, y_std = _standardise(y[:, None], mask)
    y_mean, y_std = y_mean[0], y_std[0]
    xs = (x - x_mean) / x_std
    yt = jnp.where(mask, (y - y_mean) / y_std, 0.0)
    k_w, k_b = jax.random.split(key)
    w0 = jax.random.normal(k_w, (x.shape[1], cfg.features), jnp.float32)
    b = jax.random.uniform(k_b, (cfg.features,), jnp.float32, 0.0, 2.0 * math.pi)
    scales = jnp.asarray(cfg.length_scales, jnp.float32)  # (L,)
    hyper = cfg.hyper

    def per_scale(ls):
        phi = _features(xs, w0 / ls, b)
        return fit_hyperparameters(phi, yt, mask, hyper)

    log_alpha, log_sigma2, mll = jax.vmap(per_scale)(scales)  # (L,) each
    j = jnp.argmax(mll)
    ls = scales[j]
    post = blr_posterior(_features(xs, w0 / ls, b), yt, mask, log_alpha[j], log_sigma2[j])
    # The inverse waits for the posterior's solve: two independent LAPACK calls can deadlock XLA's
    # CPU pool under vmap (surrogates/dngo/hyper.py); without this a gp-ls benchmark hung.
    chol, _ = jax.lax.optimization_barrier((post.chol, post.mean))
    eye = jnp.eye(cfg.features, dtype=jnp.float32)
    l_inv = jax.scipy.linalg.solve_triangular(chol, eye, lower=True)
    w = w0 / (ls * x_std[:, None])
    return RFFGPState(
        w=w,
        b=b - jnp.dot(x_mean, w, precision=HIGHEST),
        mean_w=post.mean,
        l_inv=l_inv,
        beta=post.beta,
        length_scale=ls,
        mll=mll,
        y_mean=y_mean,
        y_std=y_std,
    )


def rff_gp_predict(
    state: RFFGPState, xq: chex.Array, chunk: int | None = None
) -> tuple[chex.Array, chex.Array]:
    """Predictive mean and variance at raw inputs ``xq`` ``(Q, D)``, on the scale of ``y``.

    ``chunk`` rows are evaluated at a time (``lax.map``; None: all at once), as
    :func:`~a2v_jax.surrogates.dngo.dngo_predict`.
    """
    chex.assert_rank(xq, 2)

    def one(xc):
        phi = _features(xc, state.w, state.b)  # (C, F)
        mean = jnp.dot(phi, state.mean_w, precision=HIGHEST)
        z = jnp.dot(phi, state.l_inv.T, precision=HIGHEST)
        var = jnp.maximum(1.0 / state.beta + jnp.sum(jnp.square(z), axis=-1), VAR_FLOOR)
        return mean * state.y_std + state.y_mean, var * jnp.square(state.y_std)

    return map_row_chunks(one, xq, chunk)
