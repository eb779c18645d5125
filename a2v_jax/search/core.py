"""The machinery every search strategy shares: the environment, budget accounting and the scan.

A strategy is a pair of pure functions ``(init, step)``. ``step`` makes exactly one query per
call; :func:`run` carries it with ``jax.lax.scan`` for a fixed number of steps, and once the
simulated budget (seconds) or the query cap is spent the :class:`QueryLog` sets ``done`` and every
later step is a no-op. A whole run is a pure function of a key, so ``jax.vmap`` over keys runs all
seeds as one program (:func:`run_population`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class SearchEnv:
    """A fixed pool of architectures, what querying each one returns and what it costs.

    The pool is indexed like the benchmark table (row ``i`` is architecture ``i``).
    """

    features: chex.Array  # (P, D) float32: the frozen latent table (arch2vec embeddings)
    signal: chex.Array  # (P,) float32: the search signal a query returns (accuracy in [0, 1])
    cost: chex.Array  # (P,) float32: simulated seconds charged per query
    budget_s: chex.Array  # () float32: simulated-seconds budget of one run
    max_queries: chex.Array  # () int32: query cap (use a large value for "budget only")

    @property
    def pool_size(self) -> int:
        return self.features.shape[0]


@struct.dataclass
class QueryLog:
    """What a run has queried so far; carried inside every strategy's state."""

    visited: chex.Array  # (P,) bool: queried at least once
    spent_s: chex.Array  # () float32: simulated seconds charged so far
    n_queries: chex.Array  # () int32: accepted queries (repeats included where a preset allows them)
    best_signal: chex.Array  # () float32: incumbent search signal (-inf before the first query)
    best_idx: chex.Array  # () int32: incumbent pool index (-1 before the first query)
    done: chex.Array  # () bool: budget or query cap reached; later steps change nothing


class StepRecord(NamedTuple):
    """One scan step's output, stacked over steps into a run's trajectory."""

    idx: chex.Array  # () int32: index proposed by the strategy at this step
    accepted: chex.Array  # () bool: the query was made and charged
    signal: chex.Array  # () float32: its signal (NaN if not accepted)
    spent_s: chex.Array  # () float32: seconds spent after this step
    best_idx: chex.Array  # () int32: incumbent after this step


class Strategy(NamedTuple):
    """A search strategy as two pure functions.

    ``init(env, key) -> state`` and ``step(state, env, key) -> (state, StepRecord)``; every state
    has a ``log`` field of type :class:`QueryLog`.
    """

    init: Callable[[SearchEnv, chex.PRNGKey], Any]
    step: Callable[[Any, SearchEnv, chex.PRNGKey], tuple[Any, StepRecord]]


def init_log(pool_size: int) -> QueryLog:
    """An empty log for a pool of ``pool_size`` architectures."""
    return QueryLog(
        visited=jnp.zeros((pool_size,), dtype=bool),
        spent_s=jnp.zeros((), jnp.float32),
        n_queries=jnp.zeros((), jnp.int32),
        best_signal=jnp.full((), -jnp.inf, jnp.float32),
        best_idx=jnp.full((), -1, jnp.int32),
        done=jnp.zeros((), dtype=bool),
    )


def record_query(log: QueryLog, env: SearchEnv, idx: chex.Array) -> tuple[QueryLog, StepRecord]:
    """Charges one query of pool index ``idx`` if the budget allows it.

    A query is made iff the run is not done, ``spent_s + cost[idx] <= budget_s`` and fewer than
    ``max_queries`` were made. The first query that does not fit ends the run (``done``): no
    query is ever charged past the budget. Revisits are charged again; strategies that must not
    revisit mask ``log.visited`` before choosing ``idx``.
    """
    idx = jnp.asarray(idx, jnp.int32)
    cost = env.cost[idx]
    fits = (log.spent_s + cost <= env.budget_s) & (log.n_queries < env.max_queries)
    accepted = jnp.logical_not(log.done) & fits
    sig = env.signal[idx]
    improves = accepted & (sig > log.best_signal)
    new = QueryLog(
        visited=log.visited.at[idx].set(log.visited[idx] | accepted),
        spent_s=jnp.where(accepted, log.spent_s + cost, log.spent_s),
        n_queries=log.n_queries + accepted.astype(jnp.int32),
        best_signal=jnp.where(improves, sig, log.best_signal),
        best_idx=jnp.where(improves, idx, log.best_idx),
        done=log.done | jnp.logical_not(fits),
    )
    rec = StepRecord(
        idx=idx,
        accepted=accepted,
        signal=jnp.where(accepted, sig, jnp.nan),
        spent_s=new.spent_s,
        best_idx=new.best_idx,
    )
    return new, rec


def run(strategy: Strategy, env: SearchEnv, key: chex.PRNGKey, num_steps: int) -> tuple[Any, StepRecord]:
    """One whole search run: ``init`` then ``num_steps`` scanned ``step`` calls.

    Step ``t`` uses ``jax.random.fold_in(key, t)``; ``init`` uses ``fold_in(key, -1 mod 2**32)``.

    Returns:
      The final state and the stacked :class:`StepRecord` trajectory, each field ``(num_steps,)``.
    """
    init_key = jax.random.fold_in(key, 0xFFFFFFFF)
    state = strategy.init(env, init_key)

    def body(state, t):
        return strategy.step(state, env, jax.random.fold_in(key, t))

    return jax.lax.scan(body, state, jnp.arange(num_steps, dtype=jnp.uint32))


def run_population(
    strategy: Strategy, env: SearchEnv, keys: chex.PRNGKey, num_steps: int, env_axis: int | None = None
) -> tuple[Any, StepRecord]:
    """All seeds at once: ``vmap`` of :func:`run` over ``keys`` (``(S,)``), jit-compiled.

    ``env_axis=0`` also maps over a stacked env (per-seed signals); ``None`` shares one env.
    """
    fn = jax.vmap(lambda e, k: run(strategy, e, k, num_steps), in_axes=(env_axis, 0))
    return jax.jit(fn)(env, keys)
