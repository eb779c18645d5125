"""Random search, regularised evolution and local search on small synthetic NB201-like pools."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from a2v_jax.search import get_strategy, strategy_config
from a2v_jax.search.baselines import REAConfig, _paper_mutation, make_rea
from a2v_jax.search.core import ChunkedRunner, SearchEnv, one_edit_neighbours, run, run_population
from a2v_jax.spaces.nb201 import all_codes


def nb201_subset_env(budget=1e9, seed=0, cost=None, smooth=True) -> tuple[SearchEnv, np.ndarray]:
    """The 625 NB201 cells with 'none' on edges 4 and 5, a signal and costs."""
    codes = all_codes()
    codes = codes[(codes[:, 4] == 0) & (codes[:, 5] == 0)]  # (625, 6)
    rng = np.random.default_rng(seed)
    if smooth:  # unimodal: one-edit moves climb to the unique optimum (op 3 everywhere)
        sig = 1.0 - 0.1 * np.abs(codes[:, :4].astype(np.float32) - 3).sum(1) + 0.001 * rng.uniform(size=625)
    else:
        sig = rng.uniform(size=625)
    p = codes.shape[0]
    c = rng.uniform(5.0, 30.0, size=p) if cost is None else np.full(p, cost)
    env = SearchEnv(
        features=jnp.zeros((p, 1)),
        signal=jnp.asarray(sig.astype(np.float32)),
        cost=jnp.asarray(c.astype(np.float32)),
        budget_s=jnp.float32(budget),
        max_queries=jnp.int32(10**6),
        neighbours=jnp.asarray(one_edit_neighbours(codes, 5)),
    )
    return env, codes


def _np(tree):
    return jax.tree.map(np.asarray, tree)


def _queries(rec, s=None):
    idx, acc = (rec.idx, rec.accepted) if s is None else (rec.idx[s], rec.accepted[s])
    return np.asarray(idx)[np.asarray(acc)]


def test_random__finds_the_known_best_with_enough_queries():
    env, _ = nb201_subset_env(cost=1.0, smooth=False)
    best = int(np.argmax(np.asarray(env.signal)))
    strat = get_strategy("random", "default")
    state, rec = run(strat, env, jax.random.key(0), 625)
    assert int(state.log.best_idx) == best
    assert sorted(_queries(rec).tolist()) == list(range(625))  # each cell exactly once
    few, _ = run(strat, env, jax.random.key(0), 20)
    assert float(few.log.best_signal) <= float(state.log.best_signal)


def test_random_paper__draws_with_replacement():
    env, _ = nb201_subset_env(cost=1.0)
    _, rec = run(get_strategy("random", "paper"), env, jax.random.key(1), 200)
    q = _queries(rec)
    assert q.size == 200 and len(set(q.tolist())) < 200  # birthday: repeats are near certain


@pytest.mark.parametrize("method", ["rea", "ls"])
@pytest.mark.parametrize("preset", ["paper", "default"])
def test_baselines__vmapped_seeds_equal_separate_runs(method, preset):
    env, _ = nb201_subset_env(budget=1500.0)
    strat = get_strategy(method, preset)
    keys = jax.vmap(jax.random.key)(jnp.arange(1, 4))
    _, recs = _np(run_population(strat, env, keys, 60))
    one = jax.jit(lambda k: run(strat, env, k, 60))
    for s in range(3):
        _, rec = _np(one(jax.random.key(s + 1)))
        for a, b in zip(rec, recs, strict=True):
            np.testing.assert_array_equal(a, b[s])


@pytest.mark.parametrize("method", ["random", "rea", "ls"])
@pytest.mark.parametrize("preset", ["paper", "default"])
def test_baselines__budget_and_repeats(method, preset):
    env, _ = nb201_subset_env(budget=1000.0)
    strat = get_strategy(method, preset)
    runner = ChunkedRunner(strat, chunk_steps=32)
    state, rec = _np(runner(env, jax.vmap(jax.random.key)(jnp.arange(6)), 200))
    cost = np.asarray(env.cost)
    for s in range(6):
        q = _queries(rec, s)
        assert state.log.done[s] and cost[q].sum() <= 1000.0 + 1e-3
        if preset == "default" or method == "ls":
            assert len(set(q.tolist())) == q.size


@pytest.mark.parametrize("preset", ["paper", "default"])
def test_rea__children_are_one_edit_mutants_of_the_population(preset):
    codes = all_codes()  # the full space: every mutant exists
    p = codes.shape[0]
    env = SearchEnv(
        features=jnp.zeros((p, 1)),
        signal=jnp.asarray(np.random.default_rng(0).uniform(size=p).astype(np.float32)),
        cost=jnp.ones((p,)),
        budget_s=jnp.float32(1e9),
        max_queries=jnp.int32(10**6),
        neighbours=jnp.asarray(one_edit_neighbours(codes, 5)),
    )
    cfg = strategy_config("rea", preset)
    strat = make_rea(cfg)
    state = strat.init(env, jax.random.key(0))
    step = jax.jit(strat.step)
    nbrs = np.asarray(env.neighbours)
    for t in range(60):
        pop_before = set(np.asarray(state.pop_idx)[: int(state.n_pop)].tolist())
        evolving = int(state.n_pop) == cfg.population
        state, rec = step(state, env, jax.random.key(t), jnp.uint32(t))
        assert bool(rec.accepted)
        if evolving:
            assert any(int(rec.idx) in nbrs[m] for m in pop_before)
            assert int(state.n_pop) == cfg.population
    # The population holds exactly the last `population` queries (aging).
    assert int(state.n_pop) == cfg.population


def test_rea_paper__mutation_draws_the_node_first():
    cfg = strategy_config("rea", "paper")
    nbrs = jnp.arange(24, dtype=jnp.int32)  # column ids stand for themselves
    keys = jax.random.split(jax.random.key(0), 12000)
    cols = np.asarray(jax.vmap(lambda k: _paper_mutation(cfg, nbrs, k))(keys))
    edge_freq = np.bincount(cols // 4, minlength=6) / cols.size
    np.testing.assert_allclose(edge_freq, [1 / 3, 1 / 6, 1 / 6, 1 / 9, 1 / 9, 1 / 9], atol=0.015)
    np.testing.assert_allclose(np.bincount(cols % 4, minlength=4) / cols.size, 0.25, atol=0.015)


def test_ls__climbs_to_the_optimum_of_a_unimodal_signal():
    env, codes = nb201_subset_env(cost=1.0)
    best = int(np.argmax(np.asarray(env.signal)))
    assert codes[best, :4].tolist() == [3, 3, 3, 3]
    strat = get_strategy("ls", "default")
    keys = jax.vmap(jax.random.key)(jnp.arange(4))
    state, rec = run_population(strat, env, keys, 150)
    assert np.all(np.asarray(state.log.best_idx) == best)
    # Fewer queries than random search would need on average (313 of 625).
    first = np.argmax(np.asarray(rec.best_idx) == best, axis=1)
    assert first.max() < 150


def test_ls__restarts_at_a_local_optimum():
    env, codes = nb201_subset_env(cost=1.0, smooth=False)
    strat = get_strategy("ls", "default")
    state, rec = run(strat, env, jax.random.key(3), 300)
    q = _queries(rec)
    nbrs = np.asarray(env.neighbours)
    # Any query that is not a neighbour of an earlier query is a restart; there must be some,
    # and every restart comes after all neighbours of some earlier query were queried.
    restarts = [t for t in range(1, q.size) if not any(q[t] in nbrs[u] for u in q[:t])]
    assert restarts
    for t in restarts:
        seen = set(q[:t].tolist())
        assert any({n for n in nbrs[u].tolist() if n >= 0} <= seen for u in q[:t])


def test_rea_ls__need_neighbours():
    env, _ = nb201_subset_env()
    env = env.replace(neighbours=None)
    for method in ("rea", "ls"):
        with pytest.raises(ValueError, match="env.neighbours"):
            get_strategy(method, "default").init(env, jax.random.key(0))


def test_baseline_presets__validated():
    with pytest.raises(ValueError, match="unknown preset"):
        get_strategy("random", "fast")
    with pytest.raises(ValueError, match="population"):
        REAConfig(revisit=False, population=0)
    paper = strategy_config("rea", "paper")  # NAS-Bench-201's R-EA.sh
    assert (paper.population, paper.sample_size, paper.revisit) == (10, 3, True)
    assert not strategy_config("rea", "default").revisit
