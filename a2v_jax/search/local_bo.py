"""Bayesian optimisation with local-search proposals: DNGO-LS and a GP, beyond the paper.

Steps ``0 .. init_size - 1`` query a random initial design, as BO (:mod:`a2v_jax.search.bo`).
Every later fit refits the surrogate on all observations, scores the pool by the logarithm of
the expected improvement over the incumbent (BO ``default``'s acquisition) and proposes
``n_global + n_local`` unvisited cells, each queried in its own step:

* ``n_global`` *global* proposals: the best EI over the whole pool;
* ``n_local`` *local* proposals: the best EI among the one-edit neighbours (``env.neighbours``,
  the relation REA and local search use) of the ``n_best`` best observed cells, as the same
  authors' DNGO-LS (CATE) and BANANAS propose from mutations of their best architectures. Where
  that neighbourhood is exhausted the slot takes the next global proposal.

The split ``n_global : n_local`` is the config's: ``bo-ls`` proposes 1 : 3, so a fit serves four
queries and a run makes a quarter of BO's fits; ``gp-ls`` 1 : 1. The surrogate is the config's
``surrogate``: a :class:`~a2v_jax.surrogates.dngo.DNGOConfig` (``bo-ls``, BO ``default``'s
DNGO) or an :class:`~a2v_jax.surrogates.rff_gp.RFFGPConfig` (``gp-ls``, a sparse-spectrum GP
whose length scale is fitted by marginal likelihood). No query is repeated or charged past the budget.

Presets: both methods have only a ``default`` (the paper has neither); ``--preset paper`` is
refused with an error that says so (:func:`a2v_jax.search.presets.strategy_config`). The
settings, what was tried and the measured table: ``docs/beyond-the-paper.md``.
"""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
from flax import struct

from a2v_jax.search.bo import fit_schedule, log_expected_improvement, select_top
from a2v_jax.search.core import (
    MethodTraits,
    QueryLog,
    SearchEnv,
    StepRecord,
    Strategy,
    init_log,
    record_query,
)
from a2v_jax.surrogates.dngo import DNGOConfig, dngo_fit, dngo_predict
from a2v_jax.surrogates.rff_gp import RFFGPConfig, rff_gp_fit, rff_gp_predict


@dataclasses.dataclass(frozen=True)
class LocalBOConfig:
    """BO with global and local proposals; :func:`a2v_jax.search.presets.strategy_config` gives each.

    Attributes:
      surrogate: a :class:`DNGOConfig` (DNGO-LS) or an :class:`RFFGPConfig` (the GP).
      init_size: random initial queries.
      n_global: proposals per fit by EI over the whole pool.
      n_local: proposals per fit by EI over the one-edit neighbours of the best observed cells.
      n_best: how many of the best observed cells lend their neighbourhoods.
      fit_key: ``step``: each fit draws from its step's key; ``run``: one key per run (for the GP:
        the same random spectrum at every fit, so successive surrogates differ by the data only).
      max_obs: static capacity of the observation buffer (>= the steps a run can make).
      pool_chunk: pool rows scored at a time.
    """

    surrogate: DNGOConfig | RFFGPConfig
    init_size: int = 8
    n_global: int = 1
    n_local: int = 1
    n_best: int = 2
    fit_key: str = "step"
    max_obs: int = 256
    pool_chunk: int = 256

    def __post_init__(self):
        if not isinstance(self.surrogate, DNGOConfig | RFFGPConfig):
            raise ValueError(
                f"LocalBOConfig.surrogate must be a DNGOConfig or RFFGPConfig, got {self.surrogate!r}"
            )
        if self.fit_key not in ("step", "run"):
            raise ValueError(f"LocalBOConfig.fit_key must be 'step' or 'run', got {self.fit_key!r}")
        for name in ("init_size", "n_best", "pool_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"LocalBOConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_global < 0 or self.n_local < 0 or self.n_global + self.n_local < 1:
            raise ValueError(
                f"LocalBOConfig needs n_global, n_local >= 0 and one proposal per fit, got "
                f"{self.n_global}, {self.n_local}"
            )
        if self.max_obs < self.init_size:
            raise ValueError(
                f"LocalBOConfig.max_obs ({self.max_obs}) must be >= init_size ({self.init_size})"
            )

    @property
    def proposals(self) -> int:
        """Queries per fit: ``n_global + n_local``."""
        return self.n_global + self.n_local

    @property
    def traits(self) -> MethodTraits:
        """Distinct; never past the budget; needs the neighbour table (if local) and the features."""
        return MethodTraits(distinct=True, overshoot=False, neighbours=self.n_local > 0, features=True)


@struct.dataclass
class LocalBOState:
    """One run's state."""

    log: QueryLog
    init_idx: chex.Array  # (init_size,) int32 the random initial design
    i_obs: chex.Array  # (max_obs,) int32 pool indices of the accepted queries, in order
    x_obs: chex.Array  # (max_obs, D) float32 their features
    y_obs: chex.Array  # (max_obs,) float32 their signals; rows >= log.n_queries are unused
    priority: chex.Array  # (P,) float32 random ranks: break exact ties in the acquisition
    queue: chex.Array  # (k,) int32 the last fit's proposals (global first, then local)
    queue_ok: chex.Array  # (k,) bool the proposal exists
    queue_local: chex.Array  # (k,) bool the proposal came from a best cell's neighbourhood
    fit_key: chex.Array  # (2,) uint32 the key of every fit when cfg.fit_key == "run"


def local_candidates(state: LocalBOState, env: SearchEnv, n_best: int) -> chex.Array:
    """``(P,)`` bool: the unvisited one-edit neighbours of the ``n_best`` best observed cells."""
    p, m = env.pool_size, state.y_obs.shape[0]
    valid = jnp.arange(m) < state.log.n_queries
    _, rows = jax.lax.top_k(jnp.where(valid, state.y_obs, -jnp.inf), min(n_best, m))  # (B,)
    nbrs = env.neighbours[state.i_obs[rows]]  # (B, K)
    keep = (nbrs >= 0) & valid[rows][:, None]
    mask = jnp.zeros((p,), bool).at[jnp.where(keep, nbrs, p).reshape(-1)].set(True, mode="drop")
    return mask & ~state.log.visited


def make_local_bo(cfg: LocalBOConfig) -> Strategy:
    """BO with local proposals as a :class:`~a2v_jax.search.core.Strategy` (one query per step)."""
    k = cfg.proposals
    gp = isinstance(cfg.surrogate, RFFGPConfig)

    def init(env: SearchEnv, key: chex.PRNGKey) -> LocalBOState:
        p, d = env.features.shape
        if cfg.init_size > p:
            raise ValueError(f"LocalBOConfig.init_size ({cfg.init_size}) exceeds the pool size ({p})")
        if cfg.n_local and env.neighbours is None:
            raise ValueError("local proposals need env.neighbours (a pool built with_neighbours=True)")
        k_init, k_prio, k_fit = jax.random.split(key, 3)
        return LocalBOState(
            log=init_log(p),
            init_idx=jax.random.permutation(k_init, p)[: cfg.init_size].astype(jnp.int32),
            i_obs=jnp.zeros((cfg.max_obs,), jnp.int32),
            x_obs=jnp.zeros((cfg.max_obs, d), jnp.float32),
            y_obs=jnp.zeros((cfg.max_obs,), jnp.float32),
            priority=jax.random.permutation(k_prio, p).astype(jnp.float32),
            queue=jnp.zeros((k,), jnp.int32),
            queue_ok=jnp.zeros((k,), bool),
            queue_local=jnp.zeros((k,), bool),
            fit_key=jax.random.key_data(k_fit),
        )

    def surrogate(state: LocalBOState, env: SearchEnv, key: chex.PRNGKey, t: chex.Array):
        mask = jnp.arange(cfg.max_obs) < state.log.n_queries
        if gp:
            fit = rff_gp_fit(state.x_obs, state.y_obs, mask, key, cfg.surrogate)
            return rff_gp_predict(fit, env.features, chunk=cfg.pool_chunk)
        n_bound = jnp.minimum(t, cfg.max_obs)  # shared by all seeds: no query before step t is missing
        fit = dngo_fit(state.x_obs, state.y_obs, mask, key, cfg.surrogate, n_bound=n_bound)
        return dngo_predict(fit, env.features, chunk=cfg.pool_chunk)

    def propose(state: LocalBOState, env: SearchEnv, key: chex.PRNGKey, t: chex.Array):
        if cfg.fit_key == "run":
            key = jax.random.wrap_key_data(state.fit_key)
        mean, var = surrogate(state, env, key, t)
        score = log_expected_improvement(mean, var, state.log.best_signal)  # (P,)
        score = jnp.where(jnp.isnan(score) | state.log.visited, -jnp.inf, score)
        if cfg.n_local == 0:
            idx, ok = select_top(score, state.priority, k)
            return idx, ok, jnp.zeros((k,), bool)
        near = local_candidates(state, env, cfg.n_best)
        loc_idx, loc_ok = select_top(jnp.where(near, score, -jnp.inf), state.priority, cfg.n_local)
        rest = score.at[jnp.where(loc_ok, loc_idx, env.pool_size)].set(-jnp.inf, mode="drop")
        glob_idx, glob_ok = select_top(rest, state.priority, k)  # (k,): n_global, then spares
        # Local picks that do not exist are a suffix (select_top takes the best first): spares fill it.
        spare = cfg.n_global + jnp.arange(cfg.n_local) - jnp.sum(loc_ok)
        spare = jnp.clip(spare, cfg.n_global, k - 1)
        idx = jnp.concatenate([glob_idx[: cfg.n_global], jnp.where(loc_ok, loc_idx, glob_idx[spare])])
        ok = jnp.concatenate([glob_ok[: cfg.n_global], loc_ok | glob_ok[spare]])
        is_local = jnp.concatenate([jnp.zeros((cfg.n_global,), bool), loc_ok])
        first = jnp.argsort(~ok, stable=True)  # proposals that exist first: a run ends at the pool's end only
        return idx[first], ok[first], is_local[first]

    def step(
        state: LocalBOState, env: SearchEnv, key: chex.PRNGKey, t: chex.Array
    ) -> tuple[LocalBOState, StepRecord]:
        t, is_init, slot, is_fit = fit_schedule(t, cfg.init_size, k)
        queue, queue_ok, queue_local = jax.lax.cond(
            is_fit,
            lambda s: propose(s, env, key, t),
            lambda s: (s.queue, s.queue_ok, s.queue_local),
            state,
        )
        idx = jnp.where(is_init, state.init_idx[jnp.clip(t, 0, cfg.init_size - 1)], queue[slot])
        valid = jnp.where(is_init, True, queue_ok[slot]) & (state.log.n_queries < cfg.max_obs)
        valid = valid & jnp.logical_not(state.log.visited[idx])
        n = state.log.n_queries
        log, rec = record_query(state.log, env, idx, valid=valid)
        acc = rec.accepted
        state = state.replace(
            log=log,
            i_obs=state.i_obs.at[n].set(jnp.where(acc, idx, 0), mode="drop"),
            x_obs=state.x_obs.at[n].set(
                jnp.where(acc, env.features[idx].astype(jnp.float32), 0.0), mode="drop"
            ),
            y_obs=state.y_obs.at[n].set(
                jnp.where(acc, env.signal[idx].astype(jnp.float32), 0.0), mode="drop"
            ),
            queue=queue,
            queue_ok=queue_ok,
            queue_local=queue_local,
        )
        return state, rec

    return Strategy(init=init, step=step)
