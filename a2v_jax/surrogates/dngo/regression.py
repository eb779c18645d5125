"""DNGO's Bayesian linear regression on the network's basis, by Cholesky.

With ``Phi = tanh(fc1(x))`` (``(n, H)``, no bias column), ``A = Phi^T Phi``, ``alpha`` the weight
precision and ``beta = 1 / sigma^2`` the noise precision::

    K = beta A + alpha I,    m = beta K^-1 Phi^T y,    S = K^-1
    mean(x) = phi(x)^T m,    var(x) = 1 / beta + phi(x)^T S phi(x)

Every solve goes through a Cholesky factor of ``K`` (no explicit inverse); masked rows of the
padded buffer are left out.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from a2v_jax.surrogates.dngo.config import HIGHEST, VAR_FLOOR


class BLRPosterior(NamedTuple):
    """The weight posterior of the Bayesian linear regression."""

    mean: chex.Array  # (H,) m = beta K^-1 Phi^T y
    chol: chex.Array  # (H, H) lower Cholesky factor of K = beta Phi^T Phi + alpha I
    beta: chex.Array  # () noise precision 1 / sigma^2


def masked(phi: chex.Array, y: chex.Array, mask: chex.Array) -> tuple[chex.Array, chex.Array, chex.Array]:
    """``(Phi, y, n)`` with the masked rows zeroed and ``n`` the float count of valid rows."""
    m = mask.astype(phi.dtype)
    return phi * m[:, None], y * m, jnp.sum(m)


def blr_posterior(
    phi: chex.Array, y: chex.Array, mask: chex.Array, log_alpha: chex.Array, log_sigma2: chex.Array
) -> BLRPosterior:
    """The posterior ``N(m, K^-1)`` of the output weights, by Cholesky.

    ``K = beta Phi^T Phi + alpha I``, ``m = beta K^-1 Phi^T y`` (two triangular solves), with
    ``alpha = exp(log_alpha)``, ``beta = exp(-log_sigma2)``; masked rows are left out.

    Args:
      phi: ``(n_max, H)`` basis values of the observations.
      y: ``(n_max,)`` targets.
      mask: ``(n_max,)`` bool, valid rows.
      log_alpha: () log weight precision.
      log_sigma2: () log noise variance.

    Returns:
      A :class:`BLRPosterior`.
    """
    phi, y, _ = masked(phi, y, mask)
    alpha, beta = jnp.exp(log_alpha), jnp.exp(-log_sigma2)
    h = phi.shape[1]
    k = beta * jnp.dot(phi.T, phi, precision=HIGHEST) + alpha * jnp.eye(h, dtype=phi.dtype)  # (H, H)
    chol = jnp.linalg.cholesky(k)
    rhs = beta * jnp.dot(phi.T, y, precision=HIGHEST)  # (H,)
    mean = jax.scipy.linalg.cho_solve((chol, True), rhs)
    return BLRPosterior(mean=mean, chol=chol, beta=beta)


def blr_predict(post: BLRPosterior, phi_q: chex.Array) -> tuple[chex.Array, chex.Array]:
    """Predictive mean ``phi^T m`` and variance ``1/beta + |L^-1 phi|^2`` (``K = L L^T``).

    Args:
      post: from :func:`blr_posterior`.
      phi_q: ``(Q, H)`` basis values of the queries.

    Returns:
      ``(mean (Q,), var (Q,))``, the variance clipped below at float64's epsilon (as the original).
    """
    mean = jnp.dot(phi_q, post.mean, precision=HIGHEST)
    z = jax.scipy.linalg.solve_triangular(post.chol, phi_q.T, lower=True)  # (H, Q)
    var = 1.0 / post.beta + jnp.sum(jnp.square(z), axis=0)
    return mean, jnp.maximum(var, VAR_FLOOR)
