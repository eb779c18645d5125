"""How well predictions rank and fit the truth: RMSE, Pearson, Spearman, Kendall tau-b, precision@k.

Every function is written for one prediction vector and is jit- and vmap-safe (static shapes, no
host round trips), so a sweep over seeds is ``jax.vmap(regression_metrics)``. Ties are handled the
way ``scipy.stats`` handles them (average ranks for Spearman, tau-b for Kendall): NAS-Bench-201 has
many cells with equal accuracies (every cell whose output is cut off by ``none`` edges scores 10 %).
A correlation whose denominator is zero (constant predictions) is NaN, as in scipy.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

METRICS = ("rmse", "pearson", "spearman", "kendall", "precision_at_k")


def rmse(pred: chex.Array, true: chex.Array) -> chex.Array:
    """Root mean squared error of ``(T,)`` predictions."""
    return jnp.sqrt(jnp.mean(jnp.square(pred - true)))


def pearson(x: chex.Array, y: chex.Array) -> chex.Array:
    """Pearson correlation of two ``(T,)`` vectors; NaN if either is constant."""
    xc = x - jnp.mean(x)
    yc = y - jnp.mean(y)
    denom = jnp.sqrt(jnp.sum(xc * xc) * jnp.sum(yc * yc))
    return jnp.where(denom > 0, jnp.sum(xc * yc) / jnp.where(denom > 0, denom, 1.0), jnp.nan)


def average_ranks(x: chex.Array) -> chex.Array:
    """1-based ranks of ``(T,)`` values, ties sharing their average rank (``scipy.stats.rankdata``)."""
    s = jnp.sort(x)
    lo = jnp.searchsorted(s, x, side="left")  # (T,) values strictly below
    hi = jnp.searchsorted(s, x, side="right")  # (T,) values below or equal
    return (lo + hi + 1).astype(jnp.float32) / 2.0


def spearman(x: chex.Array, y: chex.Array) -> chex.Array:
    """Spearman rank correlation: Pearson of the average ranks."""
    return pearson(average_ranks(x), average_ranks(y))


def kendall_tau(x: chex.Array, y: chex.Array) -> chex.Array:
    """Kendall's tau-b of two ``(T,)`` vectors (``scipy.stats.kendalltau``'s default).

    ``tau_b = sum_{i<j} s_ij t_ij / sqrt(sum s_ij^2 * sum t_ij^2)`` with ``s_ij = sign(x_i - x_j)``
    and ``t_ij = sign(y_i - y_j)``: pairs tied in one variable count in neither numerator nor that
    variable's factor. ``O(T^2)`` memory, fine for test sets of a few thousand.
    """
    sx = jnp.sign(x[:, None] - x[None, :])  # (T, T)
    sy = jnp.sign(y[:, None] - y[None, :])  # (T, T)
    num = jnp.sum(sx * sy)
    denom = jnp.sqrt(jnp.sum(sx * sx) * jnp.sum(sy * sy))
    return jnp.where(denom > 0, num / jnp.where(denom > 0, denom, 1.0), jnp.nan)


def precision_at_k(pred: chex.Array, true: chex.Array, k: int) -> chex.Array:
    """Fraction of the ``k`` best-predicted items that are among the ``k`` truly best.

    "Among the truly best" means a true value at least the ``k``-th largest true value, so ties
    at the boundary count as hits rather than being broken arbitrarily.

    Args:
      pred: ``(T,)`` predictions (higher is better).
      true: ``(T,)`` true values.
      k: static, ``1 <= k <= T``.

    Returns:
      () float in [0, 1].
    """
    t = pred.shape[0]
    if not 1 <= k <= t:
        raise ValueError(f"precision_at_k needs 1 <= k <= {t} (test-set size), got k={k}")
    _, top_pred = jax.lax.top_k(pred, k)  # (k,)
    kth_true = jax.lax.top_k(true, k)[0][-1]
    return jnp.mean((true[top_pred] >= kth_true).astype(jnp.float32))


def regression_metrics(pred: chex.Array, true: chex.Array, k: int) -> dict[str, chex.Array]:
    """All of :data:`METRICS` for one ``(T,)`` prediction vector.

    Args:
      pred: ``(T,)`` predictions.
      true: ``(T,)`` targets.
      k: static ``k`` of precision@k.

    Returns:
      ``{name: () float}`` for every name in :data:`METRICS`.
    """
    chex.assert_equal_shape([pred, true])
    chex.assert_rank(pred, 1)
    pred = pred.astype(jnp.float32)
    true = true.astype(jnp.float32)
    return {
        "rmse": rmse(pred, true),
        "pearson": pearson(pred, true),
        "spearman": spearman(pred, true),
        "kendall": kendall_tau(pred, true),
        "precision_at_k": precision_at_k(pred, true, k),
    }
