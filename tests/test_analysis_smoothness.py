"""Random walks of one-edit mutations, the edit distance, and the Fig. 3 statistics."""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest

from a2v_jax.analysis.encodings import edit_distance, one_hot_codes
from a2v_jax.analysis.smoothness import binned_correlation, random_walks, smoothness, walk_pairs
from a2v_jax.search.core import one_edit_neighbours
from a2v_jax.spaces.nb201 import all_codes, encode_codes

_PERMS = np.array(list(itertools.permutations(range(8))), dtype=np.int64)  # (40320, 8)


def _brute_force_ged(codes_a, codes_b) -> int:
    """Unit-cost graph edit distance of two arch2vec NB201 graphs, minimised over node bijections."""
    adj, ops = encode_codes(np.stack([codes_a, codes_b]))
    la, lb = ops.argmax(-1)
    aa, ab = adj.astype(np.int64)
    label_cost = (la[None, :] != lb[_PERMS]).sum(1)
    edge_cost = (aa[None] != ab[_PERMS[:, :, None], _PERMS[:, None, :]]).sum((1, 2))
    return int((label_cost + edge_cost).min())


def test_edit_distance__equals_brute_force_graph_edit_distance():
    rng = np.random.default_rng(0)
    codes = all_codes()
    pairs = [(codes[i], codes[j]) for i, j in rng.integers(0, len(codes), size=(6, 2))]
    pairs.append((codes[100], codes[100]))
    c = codes[4321].copy()
    c2 = c.copy()
    c2[2] = (c2[2] + 1) % 5
    pairs.append((c, c2))
    for a, b in pairs:
        assert edit_distance(a, b) == _brute_force_ged(a, b), (a, b)


def test_random_walks__every_step_is_one_edit():
    codes = all_codes().astype(np.int64)
    nbrs = one_edit_neighbours(codes, 5)
    keys = jax.random.split(jax.random.key(0), 3)
    walks = random_walks(nbrs, np.array([0, 77, 15624]), keys, 50)
    assert walks.shape == (3, 51)
    np.testing.assert_array_equal(walks[:, 0], [0, 77, 15624])
    steps = edit_distance(codes[walks[:, 1:]], codes[walks[:, :-1]])
    assert np.all(steps == 1)
    again = random_walks(nbrs, np.array([0, 77, 15624]), keys, 50)
    np.testing.assert_array_equal(walks, again)


def test_random_walks__stay_inside_a_subset_pool():
    codes = all_codes()[:60].astype(np.int64)  # neighbours mostly outside the pool
    codes = np.concatenate([codes, all_codes()[[15624]].astype(np.int64)])  # an isolated cell
    nbrs = one_edit_neighbours(codes, 5)
    assert np.all(nbrs[-1] == -1)
    walks = np.asarray(random_walks(nbrs, np.array([5, 60]), jax.random.split(jax.random.key(1), 2), 30))
    assert walks.min() >= 0 and walks.max() < len(codes)
    assert np.all(walks[1] == 60)  # no neighbour in the pool: it stays
    steps = edit_distance(codes[walks[0, 1:]], codes[walks[0, :-1]])
    assert np.all(steps <= 1)


def test_walk_pairs__every_lag_up_to_max():
    walks = np.array([[0, 1, 2, 3, 4]])
    feats = np.arange(5, dtype=np.float32)[:, None] * np.array([[3.0, 4.0]])  # |f_i - f_j| = 5 |i - j|
    codes = np.zeros((5, 6), np.int64)
    codes[np.arange(5), 0] = np.arange(5)
    pairs = walk_pairs(walks, feats, codes, np.linspace(0, 1, 5), max_lag=2)
    assert pairs.lag.tolist() == [1, 1, 1, 1, 2, 2, 2]
    np.testing.assert_allclose(pairs.l2, 5.0 * pairs.lag)
    assert pairs.first.tolist() == [0, 1, 2, 3, 0, 1, 2] and pairs.second.tolist() == [1, 2, 3, 4, 2, 3, 4]
    assert np.all(pairs.ged == 1)
    with pytest.raises(ValueError, match="max_lag"):
        walk_pairs(walks, feats, codes, np.zeros(5), max_lag=5)


def test_binned_correlation__per_bin_pearson_and_small_bins_nan():
    rng = np.random.default_rng(0)
    a = rng.normal(size=40)
    key = np.repeat([1, 2], 20)
    b = np.where(key == 1, a, -a)
    key[-15:] = 3  # bin 2 keeps 5 pairs, bin 3 gets 15
    r, n = binned_correlation(key, a, b, np.array([1, 2, 3, 4]), min_pairs=10)
    assert n.tolist() == [20, 5, 15, 0]
    assert r[0] == pytest.approx(1.0) and r[2] == pytest.approx(-1.0)
    assert np.isnan(r[1]) and np.isnan(r[3])


def test_smoothness__one_hot_distance_is_sqrt_two_edits_and_seed_fixes_the_walk():
    codes = all_codes().astype(np.int64)
    values = np.random.default_rng(0).uniform(size=len(codes))
    kw = dict(seed=3, num_steps=80, num_walks=2, max_lag=4)
    oh = smoothness(one_hot_codes(codes), codes, values, label="one-hot", **kw)
    np.testing.assert_allclose(oh.pairs.l2, np.sqrt(2.0 * oh.pairs.ged), rtol=1e-6)
    assert oh.l2_ged_spearman == pytest.approx(1.0)
    assert oh.walks.shape == (2, 81)
    feats = np.random.default_rng(1).normal(size=(len(codes), 16)).astype(np.float32)
    other = smoothness(feats, codes, values, label="random", **kw)
    np.testing.assert_array_equal(oh.walks, other.walks)
    assert sum(v.size for v in other.l2_by_ged.values()) == other.pairs.l2.size
    assert other.count_l2.sum() == other.pairs.l2.size
    rel = smoothness(feats, codes, values, relative=True, **kw)
    assert np.mean(rel.pairs.l2[rel.pairs.ged == 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same P cells"):
        smoothness(feats, codes[:-1], values)
