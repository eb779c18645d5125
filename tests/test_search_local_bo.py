"""BO with local proposals (bo-ls, gp-ls): budget, no repeats, determinism, vmap, local proposals."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from a2v_jax.search import strategy_config
from a2v_jax.search.core import SearchEnv, one_edit_neighbours, run, run_population
from a2v_jax.search.local_bo import LocalBOConfig, make_local_bo
from a2v_jax.spaces.nb201 import all_codes
from a2v_jax.surrogates.dngo import DNGOConfig
from a2v_jax.surrogates.rff_gp import RFFGPConfig

SURROGATES = {
    "dngo": DNGOConfig(
        hidden=16, epochs=4, hyper_grid=5, hyper_refine=2, beta_bisect=12, normalize_output=True
    ),
    "gp": RFFGPConfig(features=16, length_scales=(1.0, 4.0), hyper_grid=5, hyper_refine=2),
}


def _env(budget=20.0, cost=None, seed=0, edges=4) -> tuple[SearchEnv, np.ndarray]:
    """NB201 cells with ``none`` on the last ``6 - edges`` edges; features near the op codes."""
    codes = all_codes()
    codes = codes[np.all(codes[:, edges:] == 0, axis=1)]  # (5**edges, 6)
    rng = np.random.default_rng(seed)
    p = codes.shape[0]
    feats = codes[:, :edges].astype(np.float32) + 0.3 * rng.normal(size=(p, edges)).astype(np.float32)
    sig = 0.9 - 0.05 * np.abs(codes[:, :edges] - 3).sum(1) + 0.01 * rng.uniform(size=p)
    env = SearchEnv(
        features=jnp.asarray(feats),
        signal=jnp.asarray(sig, jnp.float32),
        cost=jnp.asarray(np.ones(p) if cost is None else cost, jnp.float32),
        budget_s=jnp.asarray(budget, jnp.float32),
        max_queries=jnp.asarray(10**6, jnp.int32),
        neighbours=jnp.asarray(one_edit_neighbours(codes, 5)),
    )
    return env, codes


def _cfg(surrogate="dngo", **kw) -> LocalBOConfig:
    kw.setdefault("init_size", 4)
    kw.setdefault("max_obs", 24)
    kw.setdefault("pool_chunk", 128)
    return LocalBOConfig(surrogate=SURROGATES[surrogate], **kw)


@functools.cache
def _compiled(cfg, steps):
    return jax.jit(lambda env, key: run(make_local_bo(cfg), env, key, steps))


def _run(cfg, env, seed, steps=24):
    return _compiled(cfg, steps)(env, jax.random.key(seed))


@pytest.mark.parametrize("surrogate", ["dngo", "gp"])
def test_local_bo__budget_accounting_and_no_repeats(surrogate):
    env, _ = _env(budget=14.0, cost=np.random.default_rng(1).uniform(0.5, 1.5, 625))
    cfg = _cfg(surrogate)
    state, rec = _run(cfg, env, 0)
    acc, spent = np.asarray(rec.accepted), np.asarray(rec.spent_s)
    cost = np.asarray(env.cost)[np.asarray(rec.idx)]
    assert acc[: cfg.init_size].all()  # the initial design first, charged like any query
    n = int(state.log.n_queries)
    assert acc[:n].all() and not acc[n:].any()  # accepted queries are a prefix
    np.testing.assert_allclose(spent[n - 1], cost[:n].sum(), rtol=1e-5)
    assert float(state.log.spent_s) <= 14.0 < float(state.log.spent_s) + cost[n]  # stopped by the budget
    assert bool(state.log.done)
    idx = np.asarray(rec.idx)[acc]
    assert len(set(idx.tolist())) == n  # no query repeated
    assert float(state.log.best_signal) == np.asarray(rec.signal)[:n].max()
    np.testing.assert_array_equal(np.asarray(state.i_obs)[:n], idx)


def test_local_bo__pool_exhausted_ends_the_run_without_repeats():
    env, _ = _env(budget=12.0, edges=1)  # 5 cells, every one a neighbour of every other
    state, rec = _run(_cfg("dngo", init_size=2), env, 0)
    idx = np.asarray(rec.idx)[np.asarray(rec.accepted)]
    assert sorted(idx.tolist()) == [0, 1, 2, 3, 4] and bool(state.log.done)


@pytest.mark.parametrize("surrogate", ["dngo", "gp"])
def test_local_bo__same_key_same_result_and_vmapped_seeds_equal_separate_runs(surrogate):
    cfg, (env, _) = _cfg(surrogate), _env(budget=12.0)
    a = _run(cfg, env, 7)
    b = jax.jit(lambda env, key: run(make_local_bo(cfg), env, key, 24))(env, jax.random.key(7))
    jax.tree.map(np.testing.assert_array_equal, a, b)
    keys = jax.vmap(jax.random.key)(jnp.arange(3, dtype=jnp.uint32))
    _, pop = run_population(make_local_bo(cfg), env, keys, 24)
    for s in range(3):
        _, rec = _run(cfg, env, s)
        acc = np.asarray(rec.accepted)
        np.testing.assert_array_equal(np.asarray(pop.accepted[s]), acc)
        np.testing.assert_array_equal(np.asarray(pop.idx[s])[acc], np.asarray(rec.idx)[acc])
        np.testing.assert_array_equal(np.asarray(pop.spent_s[s]), np.asarray(rec.spent_s))


@pytest.mark.parametrize("surrogate", ["dngo", "gp"])
def test_local_bo__local_proposals_are_one_edit_neighbours_of_the_incumbent(surrogate):
    env, codes = _env(budget=20.0)
    cfg = _cfg(surrogate, n_global=0, n_local=1, n_best=1)  # every proposal local: the incumbent's
    _, rec = _run(cfg, env, 3)
    idx, acc = np.asarray(rec.idx), np.asarray(rec.accepted)
    best = np.asarray(rec.best_idx)
    nbrs = np.asarray(env.neighbours)
    visited = set(idx[: cfg.init_size].tolist())
    for t in range(cfg.init_size, int(acc.sum())):
        inc = best[t - 1]
        free = [j for j in nbrs[inc] if j >= 0 and j not in visited]
        if free:  # else the slot falls back to the global proposal
            assert idx[t] in nbrs[inc]
            assert np.sum(codes[idx[t]] != codes[inc]) == 1  # one edge's op changed
        visited.add(int(idx[t]))
    assert len(visited) == int(acc.sum())


def test_local_bo__mixed_split_queues_global_then_local():
    env, _ = _env(budget=16.0)
    cfg = _cfg("gp", n_global=1, n_local=2, n_best=2)
    state, rec = _run(cfg, env, 0)
    assert np.asarray(state.queue).shape == (3,)
    assert np.asarray(state.queue_local).tolist() == [False, True, True]
    assert int(state.log.n_queries) == 16


def test_local_bo__presets_traits_and_validation():
    for method, n_local in (("bo-ls", 3), ("gp-ls", 1)):
        cfg = strategy_config(method, "default")
        assert isinstance(cfg, LocalBOConfig) and (cfg.n_global, cfg.n_local, cfg.n_best) == (1, n_local, 2)
        assert cfg.traits == (True, False, True, True)  # distinct, no overshoot, neighbours, features
        with pytest.raises(ValueError, match="no 'paper' preset"):
            strategy_config(method, "paper")
    assert isinstance(strategy_config("bo-ls", "default").surrogate, DNGOConfig)
    assert isinstance(strategy_config("gp-ls", "default").surrogate, RFFGPConfig)
    assert not strategy_config("gp-ls", "default", n_local=0).traits.neighbours
    with pytest.raises(ValueError, match="one proposal per fit"):
        _cfg(n_global=0, n_local=0)
    with pytest.raises(ValueError, match="surrogate"):
        LocalBOConfig(surrogate="dngo")
    env, _ = _env()
    with pytest.raises(ValueError, match="neighbours"):
        make_local_bo(_cfg()).init(env.replace(neighbours=None), jax.random.key(0))


@pytest.mark.parametrize(
    "method,preset", [("bo", "paper"), ("bo", "default"), ("bo-ls", "default"), ("gp-ls", "default")]
)
def test_model_based_step__every_lapack_call_waits_for_the_last(method, preset):
    """The vmapped step's LAPACK calls form one chain in the jaxpr (two at once can block XLA's CPU
    pool; README, known problem: this is necessary, not sufficient, so a hang stays possible)."""
    from conftest import unchained_lapack_calls

    from a2v_jax.search.report import seed_keys
    from a2v_jax.search.runner import plan_method, pool_env

    rng = np.random.default_rng(0)
    p = 200
    env = pool_env(
        rng.normal(size=(p, 4)).astype(np.float32),
        rng.uniform(0.6, 0.9, p).astype(np.float32),
        rng.uniform(1e3, 3e3, p).astype(np.float32),
        1e5,
        neighbours=rng.integers(-1, p, size=(p, 6)).astype(np.int32),
    )
    strategy, _ = plan_method(method, preset, env)
    keys = seed_keys(np.arange(1, 4))
    state = jax.vmap(strategy.init, in_axes=(None, 0))(env, keys)

    def step(state, t):
        return jax.vmap(lambda s, k: strategy.step(s, env, k, t))(state, keys)

    assert unchained_lapack_calls(jax.make_jaxpr(step)(state, jnp.int32(20))) == []
