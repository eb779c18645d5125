"""DNGO-BO strategy: budget accounting, de-duplication, determinism, vmap vs separate runs, EI."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from a2v_jax.search import strategy_config
from a2v_jax.search.bo import (
    BOConfig,
    expected_improvement,
    fixed_target_ei,
    log_expected_improvement,
    make_bo,
    select_top,
)
from a2v_jax.search.core import ChunkedRunner, SearchEnv, Strategy, run, run_population
from a2v_jax.surrogates.dngo import DNGOConfig

SMALL_DNGO = dict(hidden=16, epochs=4, hyper_grid=5, hyper_refine=2, beta_bisect=12)


def _env(pool=200, dim=16, budget=20.0, cost=None, seed=0) -> SearchEnv:
    """Random features, a smooth signal of them in (0, 1), constant (or given) cost."""
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(pool, dim)).astype(np.float32)
    signal = 0.6 + 0.25 * np.tanh(feats[:, 0] - 0.5 * feats[:, 1])
    cost = np.ones(pool) if cost is None else cost
    return SearchEnv(
        features=jnp.asarray(feats),
        signal=jnp.asarray(signal, jnp.float32),
        cost=jnp.asarray(cost, jnp.float32),
        budget_s=jnp.asarray(budget, jnp.float32),
        max_queries=jnp.asarray(10**6, jnp.int32),
    )


def _cfg(preset="default", **kw) -> BOConfig:
    paper = preset == "paper"
    kw.setdefault("init_size", 6)
    kw.setdefault("max_obs", 24)
    kw.setdefault("pool_chunk", 64)
    dngo = DNGOConfig(likelihood="paper" if paper else "exact", normalize_output=not paper, **SMALL_DNGO)
    return strategy_config("bo", preset, dngo=dngo, **kw)


@functools.cache
def _compiled_run(cfg, steps):
    """One jitted run per (config, steps), shared by the tests (the env is an argument)."""
    return jax.jit(lambda env, key: run(make_bo(cfg), env, key, steps))


def _run(cfg, env, seed, steps=24):
    return _compiled_run(cfg, steps)(env, jax.random.key(seed))


@pytest.mark.parametrize("preset", ["default", "paper"])
def test_bo__budget_accounting(preset):
    rng = np.random.default_rng(1)
    env = _env(budget=14.0, cost=rng.uniform(0.5, 1.5, 200))
    cfg = _cfg(preset)
    state, rec = _run(cfg, env, 0)
    acc = np.asarray(rec.accepted)
    spent = np.asarray(rec.spent_s)
    cost = np.asarray(env.cost)[np.asarray(rec.idx)]
    # The initial design is queried first and charged like any query.
    assert acc[: cfg.init_size].all()
    np.testing.assert_allclose(spent[: cfg.init_size], np.cumsum(cost[: cfg.init_size]), rtol=1e-5)
    # Accepted queries are a prefix; nothing is charged after the first refusal.
    n = int(state.log.n_queries)
    assert acc[:n].all() and not acc[n:].any()
    np.testing.assert_allclose(float(state.log.spent_s), cost[:n].sum(), rtol=1e-5)
    if preset == "default":
        assert float(state.log.spent_s) <= 14.0  # never past the budget
        assert float(state.log.spent_s) + cost[n] > 14.0  # and stopped by it
    else:
        assert cost[: n - 1].sum() < 14.0 <= float(state.log.spent_s)  # overshoot by the last query only
    assert bool(state.log.done)
    # The incumbent is the best accepted signal.
    sig = np.asarray(rec.signal)[:n]
    assert float(state.log.best_signal) == sig.max()


def test_bo__default_never_repeats_and_paper_recharges_repeats():
    env = _env(pool=8, budget=12.0)  # 12 unit-cost queries but only 8 architectures
    s_def, r_def = _run(_cfg("default"), env, 0)
    idx = np.asarray(r_def.idx)[np.asarray(r_def.accepted)]
    assert len(set(idx.tolist())) == len(idx) == 8  # the pool is exhausted, then the run ends
    assert int(s_def.log.n_queries) == 8 and bool(s_def.log.done)
    s_pap, r_pap = _run(_cfg("paper"), env, 0)
    assert int(s_pap.log.n_queries) == 12  # repeats are proposed, queried and charged
    assert float(s_pap.log.spent_s) == 12.0
    assert len(set(np.asarray(r_pap.idx)[np.asarray(r_pap.accepted)].tolist())) <= 8


def test_bo__default_no_repeats_on_a_larger_pool():
    state, rec = _run(_cfg("default"), _env(budget=20.0), 3)
    idx = np.asarray(rec.idx)[np.asarray(rec.accepted)]
    assert len(idx) == 20 and len(set(idx.tolist())) == 20


def test_bo__full_observation_buffer_ends_the_run():
    cfg = _cfg("default", max_obs=9)
    state, rec = _run(cfg, _env(budget=50.0), 0, 10)
    assert int(state.log.n_queries) == 9 and bool(state.log.done)
    np.testing.assert_array_equal(np.asarray(state.y_obs), np.asarray(rec.signal)[:9])


def test_bo__same_key_same_result():
    cfg, env = _cfg("default"), _env()
    a = _run(cfg, env, 7)
    b = jax.jit(lambda env, key: run(make_bo(cfg), env, key, 24))(env, jax.random.key(7))  # a new compile
    jax.tree.map(np.testing.assert_array_equal, a, b)


def _assert_same_queries(batched, s, single):
    """Same queries (index, acceptance, signal) for seed ``s``; proposals after the run ended may
    differ, as a refit's float rounding differs between batched and single programs."""
    acc = np.asarray(single.accepted)
    np.testing.assert_array_equal(np.asarray(batched.accepted[s]), acc)
    np.testing.assert_array_equal(np.asarray(batched.idx[s])[acc], np.asarray(single.idx)[acc])
    np.testing.assert_array_equal(np.asarray(batched.spent_s[s]), np.asarray(single.spent_s))


def test_bo__vmapped_seeds_equal_separate_runs():
    cfg, env = _cfg("paper"), _env(budget=10.0)
    keys = jax.vmap(jax.random.key)(jnp.arange(3, dtype=jnp.uint32))
    pop_state, pop_rec = run_population(make_bo(cfg), env, keys, 24)
    for s in range(3):
        state, rec = _run(cfg, env, s)
        _assert_same_queries(pop_rec, s, rec)
        np.testing.assert_allclose(pop_state.theta[s], state.theta, rtol=1e-4, atol=1e-4)


def test_bo__chunked_runner_equals_one_scan_and_does_not_retrace():
    cfg, env = _cfg("default"), _env(budget=14.0)
    keys = jax.vmap(jax.random.key)(jnp.arange(2, dtype=jnp.uint32))
    strat = make_bo(cfg)
    traces = []

    def step(state, env, key, t):
        traces.append(t)  # runs while tracing only
        return strat.step(state, env, key, t)

    runner = ChunkedRunner(Strategy(strat.init, step), chunk_steps=6)
    state, rec = runner(env, keys, max_steps=24)
    assert len(traces) == 1 and rec.idx.shape[1] < 24  # stopped early: every seed was done
    for s in range(2):
        _, ref = _run(cfg, env, s)
        _assert_same_queries(rec, s, jax.tree.map(lambda x: x[: rec.idx.shape[1]], ref))


def test_bo__topk_queries_each_proposal_once():
    cfg = _cfg("default", topk=3)
    state, rec = _run(cfg, _env(budget=15.0), 0, 16)
    idx = np.asarray(rec.idx)[np.asarray(rec.accepted)]
    assert len(idx) == 15 and len(set(idx.tolist())) == 15
    # Proposals after the initial design come from fits at steps 6, 9, 12: three per fit.
    assert np.asarray(state.queue).shape == (3,)


@pytest.mark.parametrize("formula", ["incumbent", "fixed_target"])
def test_expected_improvement__equals_its_closed_form(formula):
    rng = np.random.default_rng(0)
    mean = rng.uniform(0.5, 0.95, 50)
    var = rng.uniform(1e-3, 0.5, 50)
    best = 0.9 if formula == "incumbent" else 1.0
    ei = expected_improvement if formula == "incumbent" else fixed_target_ei
    got = np.asarray(ei(jnp.asarray(mean), jnp.asarray(var), best), np.float64)
    s = np.sqrt(var) if formula == "incumbent" else var  # the original puts the variance where sigma goes
    u = (mean - best) / s
    want = s * (stats.norm.pdf(u) + u * stats.norm.cdf(u))
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-7)


def test_log_expected_improvement__matches_float64_where_ei_underflows():
    z = np.concatenate([np.linspace(-35.0, 4.0, 400), [-13.0, -5.0]])  # branch edges included
    sigma = np.full_like(z, 0.05)
    best = 0.8
    mean = best + z * sigma
    got = np.asarray(log_expected_improvement(jnp.asarray(mean), jnp.asarray(sigma**2), best), np.float64)
    zz = (mean.astype(np.float32).astype(np.float64) - best) / sigma  # the z float32 actually sees
    want = np.log(sigma) + np.log(stats.norm.pdf(zz) + zz * stats.norm.cdf(zz))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    assert np.all(np.diff(got[:400]) > 0)  # monotone: a usable ranking where the EI is 0
    ei = np.asarray(expected_improvement(jnp.asarray(mean), jnp.asarray(sigma**2), best))
    assert np.sum(ei[:400] == 0) > 100  # ... which the plain EI is not


def test_select_top__ties_broken_by_priority_and_masks_respected():
    score = jnp.array([0.0, 0.0, -jnp.inf, 0.0, -1.0])
    priority = jnp.array([3.0, 1.0, 4.0, 2.0, 0.0])
    idx, ok = select_top(score, priority, 1)
    assert idx.tolist() == [0] and ok.tolist() == [True]
    idx, ok = select_top(score, priority, 5)
    assert idx.tolist() == [0, 3, 1, 4, 2] and ok.tolist() == [True, True, True, True, False]
    idx, ok = select_top(jnp.full((3,), -jnp.inf), priority[:3], 1)
    assert ok.tolist() == [False]


def test_bo_config__presets_and_validation():
    paper, default = strategy_config("bo", "paper"), strategy_config("bo", "default")
    assert (paper.acquisition, paper.dedup, paper.overshoot, paper.dngo.likelihood) == (
        "fixed_target",
        False,
        True,
        "paper",
    )
    assert (default.acquisition, default.dedup, default.overshoot, default.dngo.likelihood) == (
        "incumbent",
        True,
        False,
        "exact",
    )
    assert default.dngo.normalize_output and not paper.dngo.normalize_output
    assert (paper.init_size, default.init_size, default.dngo.epochs) == (16, 8, 50)
    assert strategy_config("bo", "paper", dedup=True).dedup is True  # an explicit field wins
    nb101 = strategy_config("bo", "paper", "nb101")
    assert (nb101.topk, nb101.ei_target, nb101.fit_key, nb101.dedup) == (5, 0.95, "run", False)
    assert strategy_config("bo", "paper", "darts").dedup  # the DARTS script's de-duplication works
    with pytest.raises(ValueError, match="preset"):
        strategy_config("bo", "faithful")
    with pytest.raises(ValueError, match="acquisition"):
        strategy_config("bo", "paper", acquisition="paper")
    with pytest.raises(ValueError, match="max_obs"):
        strategy_config("bo", "paper", max_obs=8)
    with pytest.raises(ValueError, match="init_size"):
        make_bo(_cfg(init_size=8)).init(_env(pool=5), jax.random.key(0))
