"""REINFORCE in latent space: the policy maths, the snapping rule, presets, budget and determinism."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from a2v_jax.search import strategy_config
from a2v_jax.search.core import ChunkedRunner, SearchEnv, run, run_population
from a2v_jax.search.rl import (
    RLConfig,
    episode_grads,
    gaussian_log_prob,
    init_policy,
    make_rl,
    nearest_index,
    policy_step,
)


def make_env(p=300, d=16, budget=1e9, seed=0, cost=None) -> SearchEnv:
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(p, d)).astype(np.float32)
    sig = 1.0 / (1.0 + np.exp(-2.0 * feats[:, 0]))  # rises along latent axis 0
    c = rng.uniform(5.0, 30.0, size=p) if cost is None else np.full(p, cost)
    return SearchEnv(
        features=jnp.asarray(feats),
        signal=jnp.asarray(sig.astype(np.float32)),
        cost=jnp.asarray(c.astype(np.float32)),
        budget_s=jnp.float32(budget),
        max_queries=jnp.int32(10**6),
    )


def _np(tree):
    return jax.tree.map(np.asarray, tree)


def episode_loss(params, xs, actions, advantages, mask, sigma):
    """REINFORCE loss of one episode re-run from a zero LSTM state: the oracle of ``episode_grads``.

    ``L = sum_t mask_t * (-log N(a_t; m_t, sigma^2 I)) * A_t / max(sum_t mask_t, 1)``.
    """
    hidden = params["lstm"]["w_hh"].shape[0]
    zeros = jnp.zeros((hidden,), xs.dtype)

    def body(carry, x):
        h, c = carry
        mean, h, c, _ = policy_step(params, x, h, c)
        return (h, c), mean

    _, means = jax.lax.scan(body, (zeros, zeros), xs)  # (E, D)
    logp = gaussian_log_prob(actions, means, sigma)  # (E,)
    m = mask.astype(logp.dtype)
    return -jnp.sum(m * logp * advantages) / jnp.maximum(jnp.sum(m), 1.0)


def test_policy_step__pytorch_lstm_cell_equations():
    params = init_policy(jax.random.key(0), 16, 128)
    rng = np.random.default_rng(1)
    x, h, c = (rng.normal(size=n).astype(np.float32) for n in (16, 128, 128))
    mean, h2, c2, _ = policy_step(params, jnp.asarray(x), jnp.asarray(h), jnp.asarray(c))
    p = _np(params)
    g = x @ p["lstm"]["w_ih"] + h @ p["lstm"]["w_hh"] + p["lstm"]["b"]
    i, f, gg, o = np.split(g, 4)

    def sig(z):
        return 1 / (1 + np.exp(-z))

    c_ref = sig(f) * c + sig(i) * np.tanh(gg)
    h_ref = sig(o) * np.tanh(c_ref)
    np.testing.assert_allclose(c2, c_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h2, h_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean, h_ref @ p["head"]["w"] + p["head"]["b"], rtol=1e-5, atol=1e-6)
    bound = 1 / math.sqrt(128)
    assert np.abs(p["lstm"]["w_hh"]).max() <= bound and np.abs(p["head"]["w"]).max() <= bound


def test_gaussian_log_prob__is_the_isotropic_normal_density():
    a, m = jnp.arange(16.0) / 10, jnp.zeros(16)
    ref = -0.5 * float(jnp.sum(a**2)) - 8 * math.log(2 * math.pi)
    assert float(gaussian_log_prob(a, m, 1.0)) == pytest.approx(ref, rel=1e-6)


def test_episode_grads__equal_autodiff_of_the_rerun_episode():
    e, d, h = 16, 16, 128
    params = init_policy(jax.random.key(0), d, h)
    k = jax.random.split(jax.random.key(1), 3)
    xs = jax.random.normal(k[0], (e, d))
    acts = jax.random.normal(k[1], (e, d))
    adv = jax.random.normal(k[2], (e,))
    mask = jnp.arange(e) < 13  # a partial last episode

    def body(carry, x):
        hh, cc = carry
        _, h2, c2, pre = policy_step(params, x, hh, cc)
        return (h2, c2), (pre, cc, h2)

    z = jnp.zeros((h,))
    _, (pres, c_prev, hs) = jax.lax.scan(body, (z, z), xs)
    got = episode_grads(params, xs, pres, c_prev, hs, acts, adv, mask, 1.0)
    ref = jax.grad(episode_loss)(params, xs, acts, adv, mask, 1.0)
    for g, r in zip(jax.tree.leaves(got), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(g, r, rtol=2e-4, atol=1e-6)


def test_nearest_index__paper_skips_the_nearest_of_the_whole_pool():
    feats = jnp.array([[0.0], [1.0], [2.0], [3.0]])
    none = jnp.zeros((4,), bool)
    a = jnp.array([0.9])
    assert int(nearest_index(feats, a, none, False)[0]) == 1
    assert int(nearest_index(feats, a, none, True)[0]) == 0  # 2nd nearest: |0 - .9| < |2 - .9|
    visited = none.at[1].set(True)  # nearest visited: the scan from position 1 takes the next one
    assert int(nearest_index(feats, a, visited, True)[0]) == 0
    visited = jnp.array([True, False, True, True])  # only the nearest is free: paper finds nothing
    assert not bool(nearest_index(feats, a, visited, True)[1])
    idx, found = nearest_index(feats, a, visited, False)
    assert int(idx) == 1 and bool(found)


@pytest.mark.parametrize("preset", ["paper", "default"])
def test_rl__vmapped_seeds_equal_separate_runs(preset):
    env = make_env(budget=600.0)
    strat = make_rl(strategy_config("rl", preset))
    keys = jax.vmap(jax.random.key)(jnp.arange(1, 4))
    _, recs = run_population(strat, env, keys, 40)
    one = jax.jit(lambda k: run(strat, env, k, 40))
    for s in range(3):
        _, rec = one(jax.random.key(s + 1))
        np.testing.assert_array_equal(np.asarray(rec.idx), np.asarray(recs.idx[s]))
        np.testing.assert_array_equal(np.asarray(rec.accepted), np.asarray(recs.accepted[s]))
        np.testing.assert_allclose(np.asarray(rec.spent_s), np.asarray(recs.spent_s[s]), rtol=1e-6)


def test_rl__same_key_same_result():
    env = make_env(budget=600.0)
    strat = make_rl(strategy_config("rl", "default"))
    fn = jax.jit(lambda k: run(strat, env, k, 40))
    a, b, c = (_np(fn(jax.random.key(k))) for k in (5, 5, 6))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1].idx, c[1].idx)


@pytest.mark.parametrize("preset", ["paper", "default"])
def test_rl__budget_no_revisits_and_initial_state(preset):
    env = make_env(budget=800.0)
    cfg = strategy_config("rl", preset)
    strat = make_rl(cfg)
    keys = jax.vmap(jax.random.key)(jnp.arange(1, 9))
    runner = ChunkedRunner(strat, chunk_steps=16)
    state, rec = _np(runner(env, keys, 200))
    budget = float(env.budget_s)
    cost = np.asarray(env.cost)
    for s in range(8):
        acc = rec.accepted[s]
        q = rec.idx[s][acc]
        assert len(set(q.tolist())) == q.size  # never the same architecture twice
        spent = np.cumsum(cost[q])
        assert state.log.done[s]
        if cfg.overshoot:  # the original's `while rt < budget`: only the last query may cross
            assert np.all(spent[:-1] < budget) and spent[-1] >= budget
        else:
            assert spent[-1] <= budget
        init = int(state.blocked_init[s])
        assert (init >= 0) == cfg.block_initial
        if cfg.block_initial:
            assert init not in q.tolist() and not state.log.visited[s][init]


@pytest.mark.parametrize("preset", ["paper", "default"])
def test_rl__policy_learns_to_follow_the_reward(preset):
    env = make_env(p=2000, cost=1.0)
    strat = make_rl(strategy_config("rl", preset))
    keys = jax.vmap(jax.random.key)(jnp.arange(16))
    _, rec = run_population(strat, env, keys, 128)
    sig = np.asarray(rec.signal)
    first, last = sig[:, :16].mean(), sig[:, -16:].mean()
    assert first < 0.6 and last > first + 0.15


def test_rl__policy_updates_once_per_episode_and_resets_the_lstm():
    env = make_env(cost=1.0)
    strat = make_rl(strategy_config("rl", "default"))
    state = strat.init(env, jax.random.key(0))
    p0 = _np(state.params)
    step = jax.jit(strat.step)
    for t in range(16):
        state, _ = step(state, env, jax.random.key(t), jnp.uint32(t))
        changed = not np.array_equal(np.asarray(state.params["head"]["b"]), p0["head"]["b"])
        assert changed == (t == 15)
    assert not np.asarray(state.h).any() and not np.asarray(state.c).any()
    assert bool(state.has_baseline)


def test_rl_config__presets_and_validation():
    paper = strategy_config("rl", "paper")
    assert (paper.baseline, paper.baseline_value, paper.skip_nearest, paper.block_initial) == (
        "constant",
        0.4,
        True,
        True,
    )
    assert paper.episode == 16 and paper.lr == 1e-2 and paper.sigma == 1.0 and paper.hidden == 128
    default = strategy_config("rl", "default")
    assert not default.skip_nearest and default.baseline == "ema" and not default.overshoot
    assert isinstance(paper, RLConfig) and paper.overshoot and paper.gamma is None
    with pytest.raises(ValueError, match="unknown preset"):
        strategy_config("rl", "fast")
    with pytest.raises(ValueError, match="baseline"):
        strategy_config("rl", "default", baseline="moving")
    nb101 = strategy_config("rl", "paper", "nb101")  # the NB101 script: no skip, baseline 0.95
    assert (nb101.skip_nearest, nb101.baseline_value, nb101.block_initial) == (False, 0.95, True)
