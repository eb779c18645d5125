"""Smoothness of an encoding along random walks of one-edit mutations (the paper's Fig. 3).

As the original ``plot_scripts/distance_comparison_fig3.py`` (reference §8): a random walk of
one-edit mutations visits cells ``c_0, c_1, ..., c_T``; every pair ``(c_p, c_{p+k})`` with lag
``1 <= k <= max_lag`` gives an L2 distance between the encodings, a graph edit distance and a pair
of accuracies. Two views follow:

- **L2 against edit distance**: the L2 distances grouped by edit distance (a box plot). A smooth
  encoding grows with the edit distance and spreads little within a group.
- **Random-walk autocorrelation**: the Pearson correlation of the accuracy pairs, with pairs
  binned by L2 distance (bin ``0.5``, the original's; bin ``b`` holds ``(b-1)*w < L2 <= b*w`` and
  is plotted at ``b*w``; bin 0 holds the zero distances of revisited cells), by edit distance
  and by lag. Bins with fewer than ``min_pairs`` pairs (the original: more than 9) are NaN.

On NAS-Bench-201 a one-edit mutation changes the op of one of the 6 edges to one of the 4 others,
and the edit distance is the Hamming distance of the op codes (exact, see
:func:`~a2v_jax.analysis.encodings.edit_distance`); the original walked NAS-Bench-101 and used
networkx's graph edit distance.
"""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np

from a2v_jax.analysis.encodings import edit_distance
from a2v_jax.search.core import one_edit_neighbours
from a2v_jax.spaces.nb201 import CELL_OPS


def random_walk(neighbours: chex.Array, start: chex.Array, key: chex.PRNGKey, num_steps: int) -> chex.Array:
    """One random walk of one-edit mutations over a pool.

    Each step moves to a uniformly drawn one-edit neighbour among those in the pool; a cell with
    none in the pool (possible in a subset pool) stays where it is.

    Args:
      neighbours: ``(P, K)`` int32 one-edit neighbour table (-1: not in the pool), from
        :func:`~a2v_jax.search.core.one_edit_neighbours`.
      start: () int pool index of ``c_0``.
      key: randomness; step ``t`` uses ``fold_in(key, t)``.
      num_steps: static number of mutations ``T``.

    Returns:
      ``(T + 1,)`` int32 pool indices ``c_0 .. c_T``.
    """

    def step(cur, t):
        nb = neighbours[cur]  # (K,)
        score = jnp.where(nb >= 0, jax.random.uniform(jax.random.fold_in(key, t), nb.shape), -1.0)
        j = jnp.argmax(score)
        nxt = jnp.where(score[j] >= 0, nb[j], cur).astype(jnp.int32)
        return nxt, nxt

    start = jnp.asarray(start, jnp.int32)
    _, path = jax.lax.scan(step, start, jnp.arange(num_steps, dtype=jnp.uint32))
    return jnp.concatenate([start[None], path])


def random_walks(
    neighbours: chex.Array, starts: chex.Array, keys: chex.PRNGKey, num_steps: int
) -> chex.Array:
    """Many walks at once: ``jax.vmap`` of :func:`random_walk`; ``(W,)`` starts and keys -> ``(W, T+1)``."""
    return _random_walks(jnp.asarray(neighbours), jnp.asarray(starts, jnp.int32), keys, num_steps)


_random_walks = jax.jit(jax.vmap(random_walk, in_axes=(None, 0, 0, None)), static_argnums=3)


@dataclasses.dataclass(frozen=True)
class WalkPairs:
    """Every pair ``(c_p, c_{p+k})``, ``1 <= k <= max_lag``, of a set of walks."""

    first: np.ndarray  # (M,) int pool index of c_p
    second: np.ndarray  # (M,) int pool index of c_{p+k}
    lag: np.ndarray  # (M,) int k
    l2: np.ndarray  # (M,) float L2 distance between the encodings
    ged: np.ndarray  # (M,) int graph edit distance
    value_first: np.ndarray  # (M,) float accuracy of c_p
    value_second: np.ndarray  # (M,) float accuracy of c_{p+k}


def walk_pairs(
    walks: np.ndarray, features: np.ndarray, codes: np.ndarray, values: np.ndarray, max_lag: int = 8
) -> WalkPairs:
    """The pairs of ``walks`` ``(W, T+1)`` up to ``max_lag`` apart, with distances and values.

    Args:
      walks: ``(W, T+1)`` pool indices.
      features: ``(P, D)`` encoding of the pool.
      codes: ``(P, 6)`` op codes of the pool (for the edit distance).
      values: ``(P,)`` accuracies.
      max_lag: largest lag ``k`` (the original: 8).

    Returns:
      A :class:`WalkPairs` of ``M = W * sum_k (T + 1 - k)`` pairs.
    """
    walks = np.asarray(walks)
    if walks.ndim != 2:
        raise ValueError(f"walks must be (W, T+1), got shape {walks.shape}")
    n = walks.shape[1]
    if not 1 <= max_lag < n:
        raise ValueError(f"max_lag must be in 1..{n - 1} for walks of {n} cells, got {max_lag}")
    p_idx = np.concatenate([np.arange(n - k) for k in range(1, max_lag + 1)])
    lag = np.concatenate([np.full(n - k, k) for k in range(1, max_lag + 1)])
    first = walks[:, p_idx].reshape(-1)
    second = walks[:, p_idx + lag].reshape(-1)
    lag = np.tile(lag, walks.shape[0])
    f = np.asarray(features, np.float64)
    v = np.asarray(values, np.float64)
    return WalkPairs(
        first=first,
        second=second,
        lag=lag,
        l2=np.linalg.norm(f[first] - f[second], axis=1),
        ged=edit_distance(np.asarray(codes)[first], np.asarray(codes)[second]),
        value_first=v[first],
        value_second=v[second],
    )


def binned_correlation(
    key: np.ndarray, a: np.ndarray, b: np.ndarray, bins: np.ndarray, min_pairs: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of ``(a, b)`` pairs grouped by an integer bin ``key``.

    Returns:
      ``(r (len(bins),), count (len(bins),))``; ``r`` is NaN where a bin has fewer than
      ``min_pairs`` pairs or a constant side.
    """
    r = np.full(len(bins), np.nan)
    count = np.zeros(len(bins), dtype=np.int64)
    for i, bin_id in enumerate(bins):
        sel = key == bin_id
        count[i] = int(sel.sum())
        if count[i] >= min_pairs:
            x, y = a[sel], b[sel]
            if x.std() > 0 and y.std() > 0:
                r[i] = float(np.corrcoef(x, y)[0, 1])
    return r, count


@dataclasses.dataclass(frozen=True)
class SmoothnessResult:
    """Fig. 3 for one encoding."""

    label: str
    pairs: WalkPairs
    walks: np.ndarray  # (W, T+1) pool indices
    distance_scale: float  # L2 distances were divided by this (1.0 unless relative)
    l2_by_ged: dict[int, np.ndarray]  # edit distance -> L2 distances of the pairs at it
    l2_bins: np.ndarray  # (B,) upper edge of each L2 bin (0 for the zero-distance bin)
    autocorr_l2: np.ndarray  # (B,) Pearson r of the accuracy pairs in each L2 bin
    count_l2: np.ndarray  # (B,) pairs per L2 bin
    autocorr_ged: np.ndarray  # (E+1,) r per edit distance 0..E
    count_ged: np.ndarray  # (E+1,)
    autocorr_lag: np.ndarray  # (max_lag,) r per lag 1..max_lag
    l2_ged_spearman: float  # rank correlation of L2 and edit distance over all pairs


def smoothness(
    features: np.ndarray,
    codes: np.ndarray,
    values: np.ndarray,
    *,
    seed: int = 0,
    num_steps: int = 1000,
    num_walks: int = 1,
    max_lag: int = 8,
    bin_size: float = 0.5,
    min_pairs: int = 10,
    relative: bool = False,
    label: str = "",
) -> SmoothnessResult:
    """Fig. 3 for one encoding: random walks, L2 against edit distance, autocorrelation.

    Walk ``w`` starts at a uniformly drawn pool cell and uses ``fold_in(key(seed), w)``, so two
    encodings of the same pool called with the same seed walk the same cells.

    Args:
      features: ``(P, D)`` encoding of the pool.
      codes: ``(P, 6)`` op codes of the pool.
      values: ``(P,)`` accuracies (the original used test accuracy).
      seed: seed of the walks.
      num_steps: mutations per walk (the original: 1,000, one walk).
      num_walks: independent walks (vmapped).
      max_lag: pairs up to this many steps apart (the original: 8).
      bin_size: width of the L2 bins (the original: 0.5).
      min_pairs: smallest bin that gets a correlation.
      relative: divide L2 distances by the mean L2 distance of the edit-distance-1 pairs, so
        encodings of different scales share an axis (the original used raw distances).
      label: name of the encoding.

    Returns:
      A :class:`SmoothnessResult`.
    """
    features = np.asarray(features, np.float32)
    codes = np.asarray(codes)
    values = np.asarray(values, np.float64)
    p = features.shape[0]
    if codes.shape != (p, 6) or values.shape != (p,):
        raise ValueError(
            f"features {features.shape}, codes {codes.shape} and values {values.shape} must describe "
            "the same P cells: (P, D), (P, 6), (P,)"
        )
    if bin_size <= 0:
        raise ValueError(f"bin_size must be > 0, got {bin_size}")
    nbrs = one_edit_neighbours(codes.astype(np.int64), len(CELL_OPS))
    key = jax.random.key(seed)
    keys = jax.vmap(lambda w: jax.random.fold_in(key, w))(jnp.arange(num_walks, dtype=jnp.uint32))
    starts = jax.random.randint(jax.random.fold_in(key, 0xFFFFFFFF), (num_walks,), 0, p)
    walks = np.asarray(random_walks(nbrs, starts, keys, num_steps))
    pairs = walk_pairs(walks, features, codes, values, max_lag)
    scale = 1.0
    if relative:
        one = pairs.l2[pairs.ged == 1]
        if one.size == 0 or one.mean() <= 0:
            raise ValueError("relative=True needs edit-distance-1 pairs with a positive mean L2 distance")
        scale = float(one.mean())
        pairs = dataclasses.replace(pairs, l2=pairs.l2 / scale)
    num_edges = codes.shape[1]
    l2_by_ged = {d: pairs.l2[pairs.ged == d] for d in range(num_edges + 1)}
    bin_id = np.floor((pairs.l2 - 1e-6) / bin_size).astype(np.int64) + 1  # the original's binning
    bins = np.arange(0, max(int(bin_id.max()), 1) + 1)  # bin 0: L2 = 0 (a cell revisited)
    r_l2, n_l2 = binned_correlation(bin_id, pairs.value_first, pairs.value_second, bins, min_pairs)
    r_ged, n_ged = binned_correlation(
        pairs.ged, pairs.value_first, pairs.value_second, np.arange(num_edges + 1), min_pairs
    )
    r_lag, _ = binned_correlation(
        pairs.lag, pairs.value_first, pairs.value_second, np.arange(1, max_lag + 1), min_pairs
    )
    return SmoothnessResult(
        label=label,
        pairs=pairs,
        walks=walks,
        distance_scale=scale,
        l2_by_ged=l2_by_ged,
        l2_bins=bins * bin_size,
        autocorr_l2=r_l2,
        count_l2=n_l2,
        autocorr_ged=r_ged,
        count_ged=n_ged,
        autocorr_lag=r_lag,
        l2_ged_spearman=_spearman(pairs.l2, pairs.ged.astype(np.float64)),
    )


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from a2v_jax.analysis.metrics import spearman

    return float(spearman(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)))
