"""REINFORCE in latent space (reference §7.1): a Gaussian policy whose action snaps to the pool.

The policy is an LSTM cell (128) over the latent of the last queried architecture, then a Dense
layer to the 16-d mean ``m``. The action ``a ~ N(m, sigma^2 I)`` is snapped to the nearest
unvisited architecture of the pool (a masked argmin of ``||f_i - a||``), which is queried; its
signal is the reward and its latent the next input. Every ``episode`` queries the policy takes one
Adam step on ``mean_t[-log N(a_t; m_t, sigma^2 I) * A_t]`` and the LSTM state is reset; the
latent input carries over.

Presets (the table in :mod:`a2v_jax.search.presets`):

``paper`` -- the original NB201 script, quirks included: the nearest architecture of the whole
  pool is skipped, so usually the 2nd-nearest unvisited one is taken (``skip_nearest``); the
  advantage is ``A_t = r_t - 0.4``, a constant baseline (the discounted returns are computed but
  overwritten); the initial architecture is drawn uniformly and marked visited but neither charged
  nor counted (``block_initial``); the last query may end past the budget (``overshoot``).

``default`` -- the same algorithm with those fixed: the nearest unvisited architecture is taken;
  the baseline is a running mean of the rewards (``baseline="ema"``): episode ``e`` uses
  ``b_e = mu * b_{e-1} + (1 - mu) * mean(r of episode e-1)`` (the first episode uses its own
  mean); the initial latent is a random pool architecture's, used only as the first LSTM input;
  no query is charged past the budget.

Parameter initialisation follows PyTorch's ``LSTMCell`` / ``Linear`` (uniform in
``+-1/sqrt(128)``; the LSTM's two bias vectors are drawn separately and summed). Not reproduced,
because they cannot matter beyond ties and RNG streams: the original's pool shuffle and its
out-of-range ``random.randint(0, N)``. What the fixes change, measured:
``docs/search-tuning.md``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax
from flax import struct

from a2v_jax.search.core import (
    MethodTraits,
    QueryLog,
    SearchEnv,
    StepRecord,
    Strategy,
    fast_argmin,
    init_log,
    record_query,
)


@dataclasses.dataclass(frozen=True)
class RLConfig:
    """REINFORCE hyper-parameters; :func:`a2v_jax.search.presets.strategy_config` gives each preset's.

    Attributes:
      baseline: ``constant`` (``baseline_value``) or ``ema`` (running mean of episode rewards).
      baseline_value: the constant baseline (NB201 0.4, NB101 and DARTS 0.95 in the original).
      skip_nearest: skip the nearest architecture of the whole pool (the NB201 script's off-by-one).
      block_initial: the initial architecture is marked visited without being queried.
      overshoot: the last query may end past the budget (``record_query(overshoot=True)``).
      hidden: LSTM cell size.
      episode: queries per policy update (the original ``bs``).
      lr: Adam learning rate.
      sigma: action standard deviation (fixed).
      ema_momentum: ``mu`` of the ``ema`` baseline, per episode.
      gamma: None: advantage from the immediate reward (the original's effective behaviour);
        a float: from the discounted reward-to-go within the episode.
    """

    baseline: str
    baseline_value: float
    skip_nearest: bool
    block_initial: bool
    overshoot: bool
    hidden: int = 128
    episode: int = 16
    lr: float = 1e-2
    sigma: float = 1.0
    ema_momentum: float = 0.5
    gamma: float | None = None

    def __post_init__(self):
        if self.baseline not in ("constant", "ema"):
            raise ValueError(f"RLConfig.baseline must be 'constant' or 'ema', got {self.baseline!r}")
        if self.episode < 1 or self.hidden < 1:
            raise ValueError(f"RLConfig.episode and hidden must be >= 1, got {self.episode}, {self.hidden}")
        if not self.sigma > 0:
            raise ValueError(f"RLConfig.sigma must be > 0, got {self.sigma}")
        if not 0.0 <= self.ema_momentum < 1.0:
            raise ValueError(f"RLConfig.ema_momentum must be in [0, 1), got {self.ema_momentum}")
        if self.gamma is not None and not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"RLConfig.gamma must be None or in [0, 1], got {self.gamma}")

    @property
    def traits(self) -> MethodTraits:
        """Never repeats a query; overshoots where configured; searches the latent features."""
        return MethodTraits(distinct=True, overshoot=self.overshoot, neighbours=False, features=True)


# --------------------------------------------------------------------------- policy


def init_policy(key: chex.PRNGKey, latent_dim: int, hidden: int) -> dict:
    """LSTMCell(latent_dim -> hidden) + Dense(hidden -> latent_dim), PyTorch's default init.

    Gate order in the ``(., 4 * hidden)`` matrices is PyTorch's: input, forget, cell, output.
    """
    k = jax.random.split(key, 6)
    bound = 1.0 / math.sqrt(hidden)

    def u(key, shape):
        return jax.random.uniform(key, shape, jnp.float32, -bound, bound)

    return {
        "lstm": {
            "w_ih": u(k[0], (latent_dim, 4 * hidden)),
            "w_hh": u(k[1], (hidden, 4 * hidden)),
            "b": u(k[2], (4 * hidden,)) + u(k[3], (4 * hidden,)),  # b_ih + b_hh
        },
        # nn.Linear(128, 16): kaiming_uniform(a=sqrt(5)) is U(+-1/sqrt(fan_in)), bias the same.
        "head": {"w": u(k[4], (hidden, latent_dim)), "b": u(k[5], (latent_dim,))},
    }


def lstm_cell(pre: chex.Array, c: chex.Array) -> tuple[chex.Array, chex.Array]:
    """The LSTM nonlinearity: gate pre-activations ``(4H,)`` and cell ``(H,)`` -> ``(h, c)``."""
    i, f, g, o = jnp.split(pre, 4)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return jax.nn.sigmoid(o) * jnp.tanh(c), c


def policy_step(
    params: dict, x: chex.Array, h: chex.Array, c: chex.Array
) -> tuple[chex.Array, chex.Array, chex.Array, chex.Array]:
    """One LSTM-cell step and the Gaussian mean.

    Args:
      params: from :func:`init_policy`.
      x: ``(D,)`` input latent.
      h: ``(H,)`` hidden state.
      c: ``(H,)`` cell state.

    Returns:
      ``(mean (D,), h (H,), c (H,), pre (4H,))``, ``pre`` the gate pre-activations.
    """
    lstm = params["lstm"]
    pre = x @ lstm["w_ih"] + h @ lstm["w_hh"] + lstm["b"]  # (4H,)
    h, c = lstm_cell(pre, c)
    mean = h @ params["head"]["w"] + params["head"]["b"]  # (D,)
    return mean, h, c, pre


def gaussian_log_prob(a: chex.Array, mean: chex.Array, sigma: float) -> chex.Array:
    """``log N(a; mean, sigma^2 I)`` over the last axis: ``-|a-m|^2/(2 s^2) - D log s - D/2 log 2pi``."""
    d = a.shape[-1]
    sq = jnp.sum(jnp.square(a - mean), axis=-1)
    return -0.5 * sq / sigma**2 - d * math.log(sigma) - 0.5 * d * math.log(2.0 * math.pi)


def episode_grads(
    params: dict,
    xs: chex.Array,
    pres: chex.Array,
    c_prev: chex.Array,
    hs: chex.Array,
    actions: chex.Array,
    advantages: chex.Array,
    mask: chex.Array,
    sigma: float,
) -> dict:
    """The gradient of one episode's REINFORCE loss, from the activations stored while acting.

    The loss, re-run from a zero LSTM state, is
    ``L = sum_t mask_t * (-log N(a_t; m_t, sigma^2 I)) * A_t / max(sum_t mask_t, 1)``; its gradient
    is taken without a forward re-run.

    Reverse-mode through the recurrence written out so that the recurrent weight gradient is one
    ``(H, E) x (E, 4H)`` product after the backward scan; autodiff of the scan instead accumulates
    a weight-sized cotangent at every step, which made a 500-seed update several times slower.

    Args:
      params: policy parameters (unchanged since the episode began).
      xs: ``(E, D)`` inputs.
      pres: ``(E, 4H)`` gate pre-activations of each step.
      c_prev: ``(E, H)`` cell state entering each step (zeros at step 0).
      hs: ``(E, H)`` hidden state after each step.
      actions: ``(E, D)``.
      advantages: ``(E,)``.
      mask: ``(E,)`` bool.
      sigma: action standard deviation.

    Returns:
      Gradients with the structure of ``params``.
    """
    w_hh = params["lstm"]["w_hh"]  # (H, 4H)

    def head_loss(head, hs):
        means = hs @ head["w"] + head["b"]  # (E, D)
        logp = gaussian_log_prob(actions, means, sigma)  # (E,)
        m = mask.astype(logp.dtype)
        return -jnp.sum(m * logp * advantages) / jnp.maximum(jnp.sum(m), 1.0)

    d_head, d_hs = jax.grad(head_loss, argnums=(0, 1))(params["head"], hs)

    def back(carry, inp):
        dh_next, dc_next = carry
        pre, c0, dh_out = inp
        _, vjp = jax.vjp(lstm_cell, pre, c0)
        d_pre, dc0 = vjp((dh_out + dh_next, dc_next))
        return (w_hh @ d_pre, dc0), d_pre

    zeros = jnp.zeros_like(hs[0])
    _, d_pres = jax.lax.scan(back, (zeros, zeros), (pres, c_prev, d_hs), reverse=True)  # (E, 4H)
    h_prev = jnp.concatenate([zeros[None], hs[:-1]], axis=0)  # (E, H)
    return {
        "lstm": {"w_ih": xs.T @ d_pres, "w_hh": h_prev.T @ d_pres, "b": jnp.sum(d_pres, axis=0)},
        "head": d_head,
    }


# --------------------------------------------------------------------------- strategy


@struct.dataclass
class RLState:
    """One run's REINFORCE state."""

    log: QueryLog
    params: Any  # policy parameters (see init_policy)
    opt_state: Any  # optax Adam state
    h: chex.Array  # (H,) LSTM hidden state
    c: chex.Array  # (H,) LSTM cell state
    x: chex.Array  # (D,) latent fed at the next step: the last queried architecture's
    blocked_init: chex.Array  # () int32 initial architecture blocked without a query (-1: none)
    ep_x: chex.Array  # (E, D) inputs of the current episode
    ep_a: chex.Array  # (E, D) actions of the current episode
    ep_pre: chex.Array  # (E, 4H) gate pre-activations of the current episode
    ep_c: chex.Array  # (E, H) LSTM cell state entering each step
    ep_h: chex.Array  # (E, H) LSTM hidden state after each step
    ep_r: chex.Array  # (E,) rewards of the current episode
    ep_mask: chex.Array  # (E,) bool: the step's query was made
    baseline: chex.Array  # () float32 running baseline (ema)
    has_baseline: chex.Array  # () bool: the ema has seen at least one episode


def nearest_index(
    features: chex.Array, action: chex.Array, blocked: chex.Array, skip_nearest: bool
) -> tuple[chex.Array, chex.Array]:
    """The pool index the action snaps to.

    Args:
      features: ``(P, D)`` pool latents.
      action: ``(D,)``.
      blocked: ``(P,)`` bool, architectures that may not be taken (visited).
      skip_nearest: static; also exclude the nearest architecture of the whole pool.

    Returns:
      ``(idx () int32, found () bool)``; ``found`` is False once nothing is left.
    """
    # |f - a|^2 up to the constant |a|^2: a population's step is one (S, D) x (D, P) GEMM.
    # (Written a @ F^T: vmap of F @ a would produce (P, S) and a costly transpose.)
    sq = jnp.sum(jnp.square(features), axis=-1)  # (P,)
    d = sq - 2.0 * jnp.dot(action, features.T, precision=jax.lax.Precision.HIGHEST)  # (P,)
    if skip_nearest:
        blocked = blocked | (jnp.arange(d.shape[0]) == fast_argmin(d))
    masked = jnp.where(blocked, jnp.inf, d)
    idx = fast_argmin(masked)
    return idx, jnp.isfinite(masked[idx])


def _advantages(cfg: RLConfig, state: RLState) -> tuple[chex.Array, chex.Array]:
    """Advantages of the finished episode and the baseline after it."""
    m = state.ep_mask.astype(jnp.float32)
    r = state.ep_r * m
    if cfg.gamma is None:
        target = r
    else:

        def back(carry, rm):
            rt, mt = rm
            g = rt + cfg.gamma * carry * mt
            return g, g

        _, rev = jax.lax.scan(back, jnp.zeros(()), (r[::-1], m[::-1]))
        target = rev[::-1]
    if cfg.baseline == "constant":
        return target - cfg.baseline_value, state.baseline
    ep_mean = jnp.sum(target * m) / jnp.maximum(jnp.sum(m), 1.0)
    b = jnp.where(state.has_baseline, state.baseline, ep_mean)
    new_b = jnp.where(
        state.has_baseline, cfg.ema_momentum * state.baseline + (1 - cfg.ema_momentum) * ep_mean, ep_mean
    )
    return target - b, new_b


def make_rl(cfg: RLConfig) -> Strategy:
    """REINFORCE in latent space as a :class:`Strategy`.

    The episode position is the step index modulo ``cfg.episode`` (every step attempts exactly one
    query, and after the run is done nothing matters), so the update's ``lax.cond`` is on the
    unbatched clock and runs once per episode even under ``vmap``.
    """
    opt = optax.adam(cfg.lr)
    e = cfg.episode

    def init(env: SearchEnv, key: chex.PRNGKey) -> RLState:
        p, d = env.features.shape
        k_pol, k_init = jax.random.split(key)
        params = init_policy(k_pol, d, cfg.hidden)
        init_idx = jax.random.randint(k_init, (), 0, p, dtype=jnp.int32)
        zeros_h = jnp.zeros((cfg.hidden,), jnp.float32)
        return RLState(
            log=init_log(p),
            params=params,
            opt_state=opt.init(params),
            h=zeros_h,
            c=zeros_h,
            x=env.features[init_idx].astype(jnp.float32),
            blocked_init=init_idx if cfg.block_initial else jnp.full((), -1, jnp.int32),
            ep_x=jnp.zeros((e, d), jnp.float32),
            ep_a=jnp.zeros((e, d), jnp.float32),
            ep_pre=jnp.zeros((e, 4 * cfg.hidden), jnp.float32),
            ep_c=jnp.zeros((e, cfg.hidden), jnp.float32),
            ep_h=jnp.zeros((e, cfg.hidden), jnp.float32),
            ep_r=jnp.zeros((e,), jnp.float32),
            ep_mask=jnp.zeros((e,), bool),
            baseline=jnp.asarray(cfg.baseline_value, jnp.float32),
            has_baseline=jnp.zeros((), bool),
        )

    def update(state: RLState) -> RLState:
        adv, new_b = _advantages(cfg, state)
        grads = episode_grads(
            state.params,
            state.ep_x,
            state.ep_pre,
            state.ep_c,
            state.ep_h,
            state.ep_a,
            adv,
            state.ep_mask,
            cfg.sigma,
        )
        updates, opt_state = opt.update(grads, state.opt_state, state.params)
        zeros_h = jnp.zeros_like(state.h)
        return state.replace(
            params=optax.apply_updates(state.params, updates),
            opt_state=opt_state,
            h=zeros_h,
            c=zeros_h,
            ep_mask=jnp.zeros_like(state.ep_mask),
            baseline=new_b,
            has_baseline=jnp.ones((), bool),
        )

    def step(state: RLState, env: SearchEnv, key: chex.PRNGKey, t: chex.Array) -> tuple[RLState, StepRecord]:
        pos = (t % e).astype(jnp.int32)
        mean, h, c, pre = policy_step(state.params, state.x, state.h, state.c)
        action = mean + cfg.sigma * jax.random.normal(key, mean.shape, mean.dtype)  # (D,)
        blocked = state.log.visited | (jnp.arange(env.pool_size) == state.blocked_init)
        idx, found = nearest_index(env.features, action, blocked, cfg.skip_nearest)
        log, rec = record_query(state.log, env, idx, overshoot=cfg.overshoot, valid=found)
        state = state.replace(
            log=log,
            h=h,
            c=c,
            x=jnp.where(rec.accepted, env.features[idx].astype(jnp.float32), state.x),
            ep_x=state.ep_x.at[pos].set(state.x),
            ep_a=state.ep_a.at[pos].set(action),
            ep_pre=state.ep_pre.at[pos].set(pre),
            ep_c=state.ep_c.at[pos].set(state.c),
            ep_h=state.ep_h.at[pos].set(h),
            ep_r=state.ep_r.at[pos].set(env.signal[idx]),
            ep_mask=state.ep_mask.at[pos].set(rec.accepted),
        )
        state = jax.lax.cond(pos == e - 1, update, lambda s: s, state)
        return state, rec

    return Strategy(init=init, step=step)
