"""Budget accounting, the scan, chunked populations and the host helpers of a2v_jax.search.core."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from a2v_jax.search import get_strategy, strategy_config
from a2v_jax.search.core import (
    ChunkedRunner,
    QueryLog,
    SearchEnv,
    Strategy,
    fast_argmin,
    init_log,
    max_queries_in_budget,
    one_edit_neighbours,
    random_unvisited,
    record_query,
    run,
    run_population,
)
from a2v_jax.spaces.nb201 import all_codes


def make_env(p=40, budget=300.0, seed=0, max_queries=10**6) -> SearchEnv:
    rng = np.random.default_rng(seed)
    return SearchEnv(
        features=jnp.asarray(rng.normal(size=(p, 4)).astype(np.float32)),
        signal=jnp.asarray(rng.uniform(size=p).astype(np.float32)),
        cost=jnp.asarray(rng.uniform(5.0, 30.0, size=p).astype(np.float32)),
        budget_s=jnp.float32(budget),
        max_queries=jnp.int32(max_queries),
    )


def _numpy(tree):
    return jax.tree.map(np.asarray, tree)


def test_record_query__never_charges_past_budget():
    env = make_env()
    strat = get_strategy("random", "paper")  # with replacement: revisits are charged again
    _, rec = run(strat, env, jax.random.key(3), 60)
    rec = _numpy(rec)
    cost = np.asarray(env.cost)
    spent = np.cumsum(np.where(rec.accepted, cost[rec.idx], 0.0))
    np.testing.assert_allclose(rec.spent_s, spent, rtol=1e-5)
    assert rec.spent_s.max() <= float(env.budget_s)
    # The run stops at the first query that does not fit, and never resumes.
    first_refused = int(np.argmin(rec.accepted))
    assert not rec.accepted[first_refused:].any()
    assert rec.spent_s[first_refused - 1] + cost[rec.idx[first_refused]] > float(env.budget_s)
    assert np.all(np.isnan(rec.signal[~rec.accepted]))


def test_record_query__overshoot_rule_lets_only_the_last_query_cross():
    env = make_env()
    log = init_log(env.pool_size)
    spent_before = []
    for idx in itertools.cycle(range(env.pool_size)):
        spent_before.append(float(log.spent_s))
        log, rec = record_query(log, env, jnp.int32(idx), overshoot=True)
        if not bool(rec.accepted):
            break
    assert bool(log.done)
    before = np.array(spent_before[:-1])  # spent before each accepted query
    assert np.all(before < float(env.budget_s))
    assert float(log.spent_s) >= float(env.budget_s)


def test_record_query__query_cap_and_invalid_proposals_end_the_run():
    env = make_env(max_queries=3)
    log = init_log(env.pool_size)
    for i in range(5):
        log, rec = record_query(log, env, jnp.int32(i))
        assert bool(rec.accepted) == (i < 3)
    assert int(log.n_queries) == 3 and bool(log.done)
    log = init_log(env.pool_size)
    log, rec = record_query(log, env, jnp.int32(0), valid=jnp.bool_(False))
    assert not bool(rec.accepted) and bool(log.done) and int(log.n_queries) == 0


def test_record_query__incumbent_is_best_signal_first_wins():
    env = make_env().replace(signal=jnp.array([0.5, 0.7, 0.7, 0.2] + [0.0] * 36, jnp.float32))
    log = init_log(env.pool_size)
    for i in range(4):
        log, _ = record_query(log, env, jnp.int32(i))
    assert int(log.best_idx) == 1 and float(log.best_signal) == pytest.approx(0.7)


@pytest.mark.parametrize("method", ["random", "ls"])
def test_run_population__vmapped_seeds_equal_separate_runs(method):
    env = make_env().replace(neighbours=jnp.asarray(_ring_neighbours(40)))
    strat = get_strategy(method, "default")
    keys = jax.vmap(jax.random.key)(jnp.arange(1, 4))
    _, recs = run_population(strat, env, keys, 30)
    for s in range(3):
        _, rec = run(strat, env, jax.random.key(s + 1), 30)
        for a, b in zip(_numpy(rec), _numpy(recs), strict=True):
            np.testing.assert_array_equal(a, b[s])


def test_run__same_key_same_result_and_keys_matter():
    env = make_env()
    strat = get_strategy("random", "default")
    a = _numpy(run(strat, env, jax.random.key(7), 20)[1])
    b = _numpy(run(strat, env, jax.random.key(7), 20)[1])
    c = _numpy(run(strat, env, jax.random.key(8), 20)[1])
    np.testing.assert_array_equal(a.idx, b.idx)
    assert not np.array_equal(a.idx, c.idx)


def _counting(strat: Strategy) -> tuple[Strategy, list[int]]:
    """The strategy with a step that counts how often it is traced."""
    traces = [0]

    def step(state, env, key, t):
        traces[0] += 1
        return strat.step(state, env, key, t)

    return Strategy(strat.init, step), traces


def test_chunked_runner__equals_one_scan_and_does_not_retrace():
    env = make_env()
    strat = get_strategy("random", "default")
    keys = jax.vmap(jax.random.key)(jnp.arange(1, 5))
    counted, traces = _counting(strat)
    runner = ChunkedRunner(counted, chunk_steps=8)
    state, rec = runner(env, keys, 40)
    t = rec.idx.shape[1]
    assert t % 8 == 0 and t <= 40
    assert bool(np.asarray(state.log.done).all())
    _, ref = run_population(strat, env, keys, t)
    for a, b in zip(_numpy(rec), _numpy(ref), strict=True):
        np.testing.assert_array_equal(a, b)
    runner(env, keys, 40)
    assert traces[0] == 1


def test_run_population__compiles_once_per_strategy():
    env = make_env()
    counted, traces = _counting(get_strategy("random", "default"))
    keys = jax.vmap(jax.random.key)(jnp.arange(1, 4))
    a = _numpy(run_population(counted, env, keys, 12)[1])
    b = _numpy(run_population(counted, env, keys, 12)[1])
    assert traces[0] == 1
    np.testing.assert_array_equal(a.idx, b.idx)


@struct.dataclass
class _ClockState:
    log: QueryLog
    seen: jax.Array  # (8,) uint32


def test_chunked_runner__step_gets_the_global_step():
    def init(env, key):
        return _ClockState(log=init_log(env.pool_size), seen=jnp.zeros((8,), jnp.uint32))

    def step(state, env, key, t):
        log, rec = record_query(state.log, env, jnp.int32(0))
        return _ClockState(log=log, seen=state.seen.at[t % 8].set(t)), rec

    strat = Strategy(init, step)
    runner = ChunkedRunner(strat, chunk_steps=4)
    env = make_env(budget=1e9)
    state, _ = runner(env, jax.vmap(jax.random.key)(jnp.arange(2)), 8)
    seen = np.asarray(state.seen)
    np.testing.assert_array_equal(seen, np.tile(np.arange(8), (2, 1)))


@pytest.mark.parametrize("distinct", [True, False])
@pytest.mark.parametrize("overshoot", [True, False])
def test_max_queries_in_budget__is_the_tight_bound(distinct, overshoot):
    cost = np.array([5.0, 7.0, 3.0, 11.0, 2.0])
    budget = 16.0
    n = max_queries_in_budget(cost, budget, distinct=distinct, overshoot=overshoot)
    if distinct:  # 2 + 3 + 5 = 10 <= 16, + 7 = 17 > 16
        assert n == 3 + int(overshoot)
    else:  # 8 queries of cost 2
        assert n == 8 + int(overshoot)
    with pytest.raises(ValueError, match=r"cost\[1\]"):
        max_queries_in_budget(np.array([1.0, 0.0]), 5.0, distinct=True)


def test_one_edit_neighbours__nb201_structure():
    codes = all_codes()
    nbrs = one_edit_neighbours(codes, 5)
    assert nbrs.shape == (15625, 24) and nbrs.min() >= 0
    rows = np.random.default_rng(0).choice(15625, 50, replace=False)
    for r in rows:
        diff = codes[nbrs[r]] != codes[r]  # (24, 6)
        assert np.all(diff.sum(1) == 1)
        np.testing.assert_array_equal(np.argmax(diff, 1), np.repeat(np.arange(6), 4))
        assert len(set(nbrs[r].tolist())) == 24
        assert all(r in nbrs[n] for n in nbrs[r])  # symmetric
    sub = codes[codes[:, 5] == 0]  # a pool without the other ops on the last edge
    sub_n = one_edit_neighbours(sub, 5)
    assert np.all(sub_n[:, 20:] == -1) and np.all(sub_n[:, :20] >= 0)
    with pytest.raises(ValueError, match="same architecture"):
        one_edit_neighbours(np.concatenate([sub[:3], sub[:1]]), 5)


def test_fast_argmin__matches_jnp_argmin_with_ties_and_inf():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 125, 15625, 1001):
        x = rng.integers(0, 5, size=n).astype(np.float32)  # many ties
        x[rng.uniform(size=n) < 0.3] = np.inf
        assert int(jax.jit(fast_argmin)(jnp.asarray(x))) == int(np.argmin(x))
    assert int(fast_argmin(jnp.full((10,), jnp.inf))) == 0


def test_random_unvisited__uniform_over_the_free_architectures():
    blocked = jnp.zeros((10,), bool).at[jnp.array([0, 3, 4, 9])].set(True)
    keys = jax.random.split(jax.random.key(0), 6000)
    idx, ok = jax.vmap(lambda k: random_unvisited(k, blocked, jnp.int32(6)))(keys)
    assert bool(ok.all())
    freq = np.bincount(np.asarray(idx), minlength=10) / 6000
    np.testing.assert_array_equal(freq[[0, 3, 4, 9]], 0.0)
    np.testing.assert_allclose(freq[[1, 2, 5, 6, 7, 8]], 1 / 6, atol=0.02)
    all_blocked = jnp.ones((10,), bool)
    assert not bool(random_unvisited(jax.random.key(1), all_blocked, jnp.int32(0))[1])


def test_traits__carried_by_the_configs():
    def traits(method, preset):
        return strategy_config(method, preset).traits

    assert traits("rl", "paper").overshoot and not traits("rl", "default").overshoot
    assert not traits("random", "paper").distinct and traits("random", "default").distinct
    assert not traits("bo", "paper").distinct and traits("bo", "default").distinct
    assert traits("rea", "paper").neighbours and traits("ls", "default").neighbours
    assert traits("rl", "default").features and not traits("ls", "paper").features
    with pytest.raises(ValueError, match="unknown search method"):
        strategy_config("dqn", "paper")
    with pytest.raises(ValueError, match="unknown preset"):
        strategy_config("rl", "fast")


def _ring_neighbours(p: int) -> np.ndarray:
    idx = np.arange(p)
    return np.stack([(idx - 1) % p, (idx + 1) % p, (idx + 5) % p, (idx - 5) % p], 1).astype(np.int32)
