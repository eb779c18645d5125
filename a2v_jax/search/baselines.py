"""Black-box baselines on the same machinery: random search, regularised evolution, local search.

All three are :class:`~a2v_jax.search.core.Strategy` pairs making one query per step, with the
simulated-seconds budget of the protocol; none of them uses the latent features.

Presets (the table in :mod:`a2v_jax.search.presets`):

``paper`` -- as NAS-Bench-201 ran them (``exps/NAS-Bench-201-algos/{RANDOM,R_EA}.py``, the
numbers the arch2vec table copies):
  * random search draws a uniformly random cell each time, *with* replacement (a repeat is
    re-charged);
  * REA: population 10, tournament (sample) size 3 drawn with replacement from the population
    (``R-EA.sh``: ``--ea_population 10 --ea_sample_size 3``), the parent the best of the
    sample; the child changes one edge's op to a different op, where the edge is drawn by first
    drawing a node (1, 2 or 3) uniformly and then one of its incoming edges, so edge ``1<-0`` is
    three times as likely as each edge into node 3; children may repeat and are re-charged;
  * a query is made only if it fits in what is left of the budget (``total + cost > budget``
    stops the run).

``default`` -- the same algorithms without repeats:
  * random search draws without replacement;
  * REA's initial population is drawn without replacement and the child is a uniformly random
    *unvisited* one-edit neighbour of the parent (a random unvisited cell if it has none);
  * local search is the same in both presets (the paper has no local search): start from a
    random cell, query its one-edit neighbours in random order, then move to the best
    neighbour if it beats the current cell (best improvement, re-using known values), and
    restart from a random unvisited cell at a local optimum.

Neighbour structure comes from ``env.neighbours`` (``core.one_edit_neighbours`` of the pool's op
codes); REA and local search raise a clear error without it.
"""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
from flax import struct

from a2v_jax.search.core import (
    MethodTraits,
    QueryLog,
    SearchEnv,
    StepRecord,
    Strategy,
    init_log,
    random_unvisited,
    record_query,
)


def _neighbours(env: SearchEnv, method: str) -> chex.Array:
    if env.neighbours is None:
        raise ValueError(
            f"{method} needs env.neighbours: build the env with "
            "neighbours=one_edit_neighbours(codes, num_ops) from the pool's op codes"
        )
    return env.neighbours


# --------------------------------------------------------------------------- random search


@dataclasses.dataclass(frozen=True)
class RandomConfig:
    """Random search.

    Attributes:
      with_replacement: draw uniformly each time (a repeat is re-charged) instead of without
        replacement.
    """

    with_replacement: bool

    @property
    def traits(self) -> MethodTraits:
        """Distinct unless drawing with replacement; ignores the features."""
        return MethodTraits(
            distinct=not self.with_replacement, overshoot=False, neighbours=False, features=False
        )


@struct.dataclass
class RandomState:
    """One random-search run."""

    log: QueryLog


def _n_free(state_log: QueryLog, env: SearchEnv) -> chex.Array:
    # Strategies without repeats: every accepted query visited a new architecture.
    return env.pool_size - state_log.n_queries


def make_random(cfg: RandomConfig) -> Strategy:
    """Random search as a :class:`Strategy`."""

    def init(env: SearchEnv, key: chex.PRNGKey) -> RandomState:
        return RandomState(log=init_log(env.pool_size))

    def step(
        state: RandomState, env: SearchEnv, key: chex.PRNGKey, t: chex.Array
    ) -> tuple[RandomState, StepRecord]:
        del t  # one query per step, whatever the step index
        if cfg.with_replacement:
            idx = jax.random.randint(key, (), 0, env.pool_size, dtype=jnp.int32)
            found = jnp.ones((), bool)
        else:
            idx, found = random_unvisited(key, state.log.visited, _n_free(state.log, env))
        log, rec = record_query(state.log, env, idx, valid=found)
        return state.replace(log=log), rec

    return Strategy(init=init, step=step)


# --------------------------------------------------------------------------- regularised evolution


@dataclasses.dataclass(frozen=True)
class REAConfig:
    """Regularised (aging) evolution, Real et al. 2019, as run by NAS-Bench-201.

    Attributes:
      revisit: paper behaviour: random cells and children may repeat (re-charged), and the
        mutated edge is drawn node-first (NAS-Bench-201's ``mutate_arch``). False: children are
        uniformly random unvisited one-edit neighbours.
      population: population size (NAS-Bench-201: 10).
      sample_size: tournament size, drawn with replacement (NAS-Bench-201: 3).
      nodes_edges: static; for ``revisit``: the edge ranges of each node in op-code order
        (NB201: node 1 has edge 0, node 2 edges 1-2, node 3 edges 3-5).
      num_ops: ops per edge (NB201: 5).
    """

    revisit: bool
    population: int = 10
    sample_size: int = 3
    nodes_edges: tuple[tuple[int, int], ...] = ((0, 1), (1, 3), (3, 6))
    num_ops: int = 5

    def __post_init__(self):
        if self.population < 1 or self.sample_size < 1:
            raise ValueError(
                f"REAConfig.population and sample_size must be >= 1, got {self.population}, "
                f"{self.sample_size}"
            )

    @property
    def traits(self) -> MethodTraits:
        """Distinct unless revisiting; needs the neighbour table; ignores the features."""
        return MethodTraits(distinct=not self.revisit, overshoot=False, neighbours=True, features=False)


@struct.dataclass
class REAState:
    """One REA run: the log and the aging population (a ring buffer, oldest at ``head``)."""

    log: QueryLog
    pop_idx: chex.Array  # (N,) int32 members' pool indices, in insertion order from head
    pop_sig: chex.Array  # (N,) float32 members' signals
    n_pop: chex.Array  # () int32 members so far (< N while the initial population is drawn)
    head: chex.Array  # () int32 position of the oldest member


def _paper_mutation(cfg: REAConfig, nbrs: chex.Array, key: chex.PRNGKey) -> chex.Array:
    """NAS-Bench-201's ``mutate_arch``: a node uniformly, then one of its edges, then another op."""
    k_node, k_edge, k_op = jax.random.split(key, 3)
    starts = jnp.array([a for a, _ in cfg.nodes_edges], jnp.int32)  # (nodes,)
    sizes = jnp.array([b - a for a, b in cfg.nodes_edges], jnp.int32)  # (nodes,)
    node = jax.random.randint(k_node, (), 0, len(cfg.nodes_edges))
    edge = starts[node] + jax.random.randint(k_edge, (), 0, sizes[node])
    other = jax.random.randint(k_op, (), 0, cfg.num_ops - 1)
    return nbrs[edge * (cfg.num_ops - 1) + other]


def make_rea(cfg: REAConfig) -> Strategy:
    """Regularised evolution as a :class:`Strategy` (needs ``env.neighbours``)."""
    n_pop_max = cfg.population

    def init(env: SearchEnv, key: chex.PRNGKey) -> REAState:
        _neighbours(env, "rea")
        p = env.pool_size
        return REAState(
            log=init_log(p),
            pop_idx=jnp.zeros((n_pop_max,), jnp.int32),
            pop_sig=jnp.full((n_pop_max,), -jnp.inf, jnp.float32),
            n_pop=jnp.zeros((), jnp.int32),
            head=jnp.zeros((), jnp.int32),
        )

    def step(
        state: REAState, env: SearchEnv, key: chex.PRNGKey, t: chex.Array
    ) -> tuple[REAState, StepRecord]:
        del t  # one query per step, whatever the step index
        nbr_table = _neighbours(env, "rea")
        p = env.pool_size
        k_rand, k_tour, k_mut = jax.random.split(key, 3)
        visited = state.log.visited
        # A random cell: the initial population, and the fallback of a child that does not exist.
        if cfg.revisit:
            rand_idx = jax.random.randint(k_rand, (), 0, p, dtype=jnp.int32)
            rand_ok = jnp.ones((), bool)
        else:
            rand_idx, rand_ok = random_unvisited(k_rand, visited, _n_free(state.log, env))
        # Tournament: sample_size members with replacement; the parent is the first best one.
        pos = jax.random.randint(k_tour, (cfg.sample_size,), 0, n_pop_max)
        parent = state.pop_idx[pos[jnp.argmax(state.pop_sig[pos])]]
        nbrs = nbr_table[parent]  # (K,)
        if cfg.revisit:
            child = _paper_mutation(cfg, nbrs, k_mut)
            child_ok = child >= 0
        else:
            free = (nbrs >= 0) & ~visited[jnp.maximum(nbrs, 0)]  # (K,)
            score = jnp.where(free, jax.random.uniform(k_mut, nbrs.shape), -1.0)
            child = nbrs[jnp.argmax(score)]
            child_ok = jnp.any(free)
        evolving = state.n_pop >= n_pop_max
        use_child = evolving & child_ok
        idx = jnp.where(use_child, child, rand_idx)
        found = use_child | rand_ok
        log, rec = record_query(state.log, env, idx, valid=found)
        write = jnp.where(evolving, state.head, state.n_pop)
        acc = rec.accepted
        state = state.replace(
            log=log,
            pop_idx=jnp.where(acc, state.pop_idx.at[write].set(idx), state.pop_idx),
            pop_sig=jnp.where(acc, state.pop_sig.at[write].set(env.signal[idx]), state.pop_sig),
            n_pop=state.n_pop + (acc & ~evolving).astype(jnp.int32),
            head=jnp.where(acc & evolving, (state.head + 1) % n_pop_max, state.head),
        )
        return state, rec

    return Strategy(init=init, step=step)


# --------------------------------------------------------------------------- local search


@dataclasses.dataclass(frozen=True)
class LSConfig:
    """Best-improvement local search with random restarts (no settings; the same in both presets)."""

    @property
    def traits(self) -> MethodTraits:
        """Never repeats a query; needs the neighbour table; ignores the features."""
        return MethodTraits(distinct=True, overshoot=False, neighbours=True, features=False)


@struct.dataclass
class LSState:
    """One local-search run."""

    log: QueryLog
    center: chex.Array  # () int32 current cell (-1 before the first query / a restart)


def make_ls(cfg: LSConfig) -> Strategy:
    """Local search as a :class:`Strategy` (needs ``env.neighbours``).

    Each step queries one cell: the next unvisited neighbour of the current cell (in random
    order). When none is left, the search moves to the best neighbour while that beats the
    current cell (all of them are known by then; a move costs no query) and, at a local optimum,
    restarts from a random unvisited cell, which is that step's query.
    """
    del cfg

    def init(env: SearchEnv, key: chex.PRNGKey) -> LSState:
        _neighbours(env, "ls")
        return LSState(log=init_log(env.pool_size), center=jnp.full((), -1, jnp.int32))

    def step(state: LSState, env: SearchEnv, key: chex.PRNGKey, t: chex.Array) -> tuple[LSState, StepRecord]:
        del t  # one query per step, whatever the step index
        nbr_table = _neighbours(env, "ls")
        visited = state.log.visited

        def free_of(center):
            nbrs = nbr_table[jnp.maximum(center, 0)]  # (K,)
            return nbrs, (nbrs >= 0) & ~visited[jnp.maximum(nbrs, 0)] & (center >= 0)

        def best_neighbour(center):
            nbrs = nbr_table[jnp.maximum(center, 0)]
            sig = jnp.where(nbrs >= 0, env.signal[jnp.maximum(nbrs, 0)], -jnp.inf)  # (K,)
            j = jnp.argmax(sig)
            return nbrs[j], sig[j]

        def must_move(center):
            _, free = free_of(center)
            _, best_sig = best_neighbour(center)
            cur = env.signal[jnp.maximum(center, 0)]
            return (center >= 0) & ~jnp.any(free) & (best_sig > cur)

        # Every move strictly increases the signal, so this ends.
        center = jax.lax.while_loop(must_move, lambda c: best_neighbour(c)[0], state.center)
        nbrs, free = free_of(center)
        k_nbr, k_restart = jax.random.split(key)
        score = jnp.where(free, jax.random.uniform(k_nbr, nbrs.shape), -1.0)
        nbr_idx = nbrs[jnp.argmax(score)]
        restart = ~jnp.any(free)
        rand_idx, rand_ok = random_unvisited(k_restart, visited, _n_free(state.log, env))
        idx = jnp.where(restart, rand_idx, nbr_idx)
        log, rec = record_query(state.log, env, idx, valid=~restart | rand_ok)
        center = jnp.where(restart & rec.accepted, idx, center)
        return state.replace(log=log, center=center), rec

    return Strategy(init=init, step=step)
