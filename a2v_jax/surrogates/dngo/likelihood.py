"""The log marginal likelihood of DNGO's regression hyper-parameters, and its profile over ``beta``.

``theta = (log alpha, log sigma^2)`` is scored by the log marginal likelihood (Bishop, PRML eq.
3.86) inside the box ``[-bound, bound]^2``::

    exact:  D/2 log a + N/2 log b - b/2 |y - Phi m|^2 - a/2 |m|^2 - 1/2 log|K| - N/2 log 2 pi
    paper:  D/2 log a + N/2 log b - b/2 |y - Phi m|   - a/2 |m|^2 - 1/2 log(|K| + 1e-10)
            - N/2 log 2 pi,   -inf where |K| overflows float64 (or ``det_dtype``)

``paper`` is the original's function exactly: the data-fit norm is not squared (a pybnn quirk),
the determinant is taken plus ``1e-10`` (so its log saturates at ``log 1e-10``), no prior term.
:func:`evidence` is that formula, written once, from its sufficient terms; it serves
:func:`log_marginal_likelihood` (from a posterior) and the Nelder--Mead objective (from
interpolated terms, :mod:`~a2v_jax.surrogates.dngo.hyper`).

The profile. With ``lambda = alpha / beta`` the posterior mean ``m = (A + lambda I)^-1 Phi^T y``
does not depend on ``beta``, and ``log|K| = D log beta + log|A + lambda I|``, so one Cholesky
factor of ``A + lambda I`` (:func:`lambda_terms`) gives the likelihood for every ``beta``, and
:func:`profile` maximises it over ``beta`` inside the box (closed form for ``exact``, bisection
for ``paper``). The derivation and how it compares with the original's search: ``docs/dngo.md``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from a2v_jax.surrogates.dngo.config import HIGHEST, LIKELIHOODS, LOG_DET_JITTER, LOG_MAX, DNGOConfig
from a2v_jax.surrogates.dngo.regression import blr_posterior, masked


def out_of_box(log_alpha: chex.Array, log_sigma2: chex.Array, bound: float) -> chex.Array:
    """Whether ``(log_alpha, log_sigma2)`` lies outside ``[-bound, bound]^2``."""
    return (jnp.abs(log_alpha) > bound) | (jnp.abs(log_sigma2) > bound)


def data_norm(rr: chex.Array, likelihood: str) -> chex.Array:
    """The data-fit term's norm from ``rr = |y - Phi m|^2``: squared (``exact``) or not (``paper``)."""
    return rr if likelihood == "exact" else jnp.sqrt(rr)


def evidence(
    d: int,
    n: chex.Array,
    log_alpha: chex.Array,
    log_beta: chex.Array,
    rr: chex.Array,
    mm: chex.Array,
    logdet: chex.Array,
    likelihood: str,
    log_max: float,
) -> chex.Array:
    """The log marginal likelihood (module docstring) from its sufficient terms.

    Args:
      d: basis size ``H``.
      n: () number of valid rows.
      log_alpha: () log weight precision.
      log_beta: () log noise precision (``-log sigma^2``).
      rr: () ``|y - Phi m|^2``.
      mm: () ``|m|^2``.
      logdet: () ``log|K|``.
      likelihood: ``exact`` or ``paper``.
      log_max: ``paper`` only: ``-inf`` where ``logdet`` exceeds it.

    Returns:
      () the likelihood; NaN and the box are left to the caller.
    """
    mll = 0.5 * d * log_alpha + 0.5 * n * log_beta - 0.5 * n * math.log(2 * math.pi)
    mll = mll - 0.5 * jnp.exp(log_alpha) * mm
    mll = mll - 0.5 * jnp.exp(log_beta) * data_norm(rr, likelihood)
    if likelihood == "exact":
        return mll - 0.5 * logdet
    mll = mll - 0.5 * jnp.logaddexp(logdet, LOG_DET_JITTER)
    return jnp.where(logdet > log_max, -jnp.inf, mll)


def log_marginal_likelihood(
    phi: chex.Array,
    y: chex.Array,
    mask: chex.Array,
    log_alpha: chex.Array,
    log_sigma2: chex.Array,
    likelihood: str = "exact",
    bound: float = 10.0,
    det_dtype: str = "float64",
) -> chex.Array:
    """The log marginal likelihood of ``theta = (log alpha, log sigma^2)`` (module docstring).

    ``-inf`` outside the box ``[-bound, bound]^2``, where the ``paper`` determinant overflows
    ``det_dtype``, and where the float32 Cholesky factor fails.

    Args:
      phi, y, mask, log_alpha, log_sigma2: the observations and ``theta``, as for
        :func:`~a2v_jax.surrogates.dngo.regression.blr_posterior`.
      likelihood: ``exact`` or ``paper``.
      bound: the box.
      det_dtype: ``paper`` only: ``float64`` or ``float32`` (the original's, see ``docs/dngo.md``).

    Returns:
      () float32 log marginal likelihood.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    post = blr_posterior(phi, y, mask, log_alpha, log_sigma2)
    phi_m, y_m, n = masked(phi, y, mask)
    resid = y_m - jnp.dot(phi_m, post.mean, precision=HIGHEST)  # (n_max,) zero on masked rows
    sq = jnp.sum(jnp.square(resid))
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(post.chol)))
    mm = jnp.sum(jnp.square(post.mean))
    mll = evidence(phi.shape[1], n, log_alpha, -log_sigma2, sq, mm, logdet, likelihood, LOG_MAX[det_dtype])
    bad = out_of_box(log_alpha, log_sigma2, bound) | jnp.isnan(mll)
    return jnp.where(bad, -jnp.inf, mll)


class Stats(NamedTuple):
    """What the likelihood needs of the observations, for any ``theta``."""

    phi: chex.Array  # (n_max, H) masked basis
    y: chex.Array  # (n_max,) masked targets
    gram: chex.Array  # (H, H) Phi^T Phi
    rhs: chex.Array  # (H,) Phi^T y
    n: chex.Array  # () float number of valid rows


def stats(phi: chex.Array, y: chex.Array, mask: chex.Array) -> Stats:
    """The :class:`Stats` of the valid rows of ``phi (n_max, H)``, ``y (n_max,)``."""
    phi, y, n = masked(phi, y, mask)
    gram = jnp.dot(phi.T, phi, precision=HIGHEST)
    rhs = jnp.dot(phi.T, y, precision=HIGHEST)
    return Stats(phi, y, gram, rhs, n)


def lambda_terms(st: Stats, log_lam: chex.Array) -> tuple[chex.Array, chex.Array, chex.Array]:
    """``(log|A + lambda I|, |y - Phi m|^2, |m|^2)`` with ``m = (A + lambda I)^-1 Phi^T y``.

    Everything in the likelihood that depends on ``lambda = alpha / beta`` (``K = beta (A + lambda
    I)`` and ``m`` does not depend on ``beta``), from one Cholesky factor.
    """
    d = st.gram.shape[0]
    chol = jnp.linalg.cholesky(st.gram + jnp.exp(log_lam) * jnp.eye(d, dtype=st.gram.dtype))
    ld = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol)))  # log|A + lambda I|
    z = jax.scipy.linalg.solve_triangular(chol, st.rhs, lower=True)  # (H,)
    # The residual is computed, not taken as y^T y - |z|^2: that difference cancels badly in
    # float32 when the noise is small (the exact likelihood often pins sigma^2 at e^-10).
    m = jax.scipy.linalg.solve_triangular(chol, z, lower=True, trans="T")  # (H,)
    rr = jnp.sum(jnp.square(st.y - jnp.dot(st.phi, m, precision=HIGHEST)))  # |r|^2
    return ld, rr, jnp.sum(jnp.square(m))


def profile(st: Stats, log_lam: chex.Array, cfg: DNGOConfig) -> tuple[chex.Array, chex.Array]:
    """The best ``log beta`` at ``lambda = exp(log_lam)`` and the likelihood there.

    The likelihood is :func:`evidence` at ``log alpha = log_lam + log beta`` with the ``D log
    beta`` terms of ``log alpha`` and ``log|K|`` cancelled where they cancel (``exact``), so its
    last bits are its own.

    Returns:
      ``(mll (), log_beta ())``; ``mll = -inf`` where no ``beta`` is feasible or the factor fails.
    """
    d = st.gram.shape[0]
    bound = cfg.theta_bound
    lam = jnp.exp(log_lam)
    ld, rr, mm = lambda_terms(st, log_lam)
    # log beta = -log sigma^2 in [-B, B] and log alpha = log_lam + log beta in [-B, B].
    lo = jnp.maximum(-bound, -bound - log_lam)
    hi = jnp.minimum(bound, bound - log_lam)
    const = 0.5 * d * log_lam - 0.5 * st.n * math.log(2 * math.pi)
    q = data_norm(rr, cfg.likelihood) + lam * mm
    if cfg.likelihood == "exact":
        lb = jnp.clip(jnp.log(st.n / q), lo, hi)
        mll = const + 0.5 * st.n * lb - 0.5 * jnp.exp(lb) * q - 0.5 * ld
    else:
        hi = jnp.minimum(hi, (LOG_MAX[cfg.det_dtype] - ld) / d - 1e-4)  # |K| must not overflow

        def f(lb):
            ldk = d * lb + ld  # log|K|
            fit = 0.5 * (d + st.n) * lb - 0.5 * jnp.exp(lb) * q
            return const + fit - 0.5 * jnp.logaddexp(ldk, LOG_DET_JITTER)

        def grad(lb):
            sat = jax.nn.sigmoid(d * lb + ld - LOG_DET_JITTER)  # d/dx logaddexp(x, log 1e-10)
            return 0.5 * (d + st.n) - 0.5 * jnp.exp(lb) * q - 0.5 * d * sat

        def bisect(_, ab):
            a, b = ab
            mid = 0.5 * (a + b)
            up = grad(mid) > 0  # concave: the maximum is above mid
            return jnp.where(up, mid, a), jnp.where(up, b, mid)

        a, b = jax.lax.fori_loop(0, cfg.beta_bisect, bisect, (lo, hi))
        lb = 0.5 * (a + b)
        mll = jnp.where(hi >= lo, f(lb), -jnp.inf)
    return jnp.where(jnp.isnan(mll) | (hi < lo), -jnp.inf, mll), lb
