"""The machinery every search strategy shares: the environment, budget accounting and the scan.

A strategy is a pair of pure functions ``(init, step)``. ``step`` makes exactly one query per
call; :func:`run` carries it with ``jax.lax.scan`` for a fixed number of steps, and once the
simulated budget (seconds) or the query cap is spent the :class:`QueryLog` sets ``done`` and every
later step is a no-op. A whole run is a pure function of a key, so ``jax.vmap`` over keys runs all
seeds as one program (:func:`run_population`).

Scan length. Under ``vmap`` every seed executes every step, ``done`` or not, so the number of
steps should be tight. :func:`max_queries_in_budget` gives the static bound (the most queries any
run can make: the cheapest architectures first, each once, or the cheapest one over and over for
strategies that revisit). :class:`ChunkedRunner` then runs the population in fixed-size chunks of
steps (one compiled program, reused) from a host loop that stops as soon as every seed is done and
drives a progress bar; its result equals one long :func:`run` step for step, because step ``t``
always uses ``fold_in(key, t)``. Given a device mesh, it shards the seeds over every device
(:mod:`a2v_jax.sharding`), padding a seed count that does not divide the mesh; seeds are
independent, so a sharded run equals the one-device run.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import Mesh

from a2v_jax.sharding import pad_leading, padded_size, put, replicated, seed_sharding, to_host

#: ``run`` derives the init key with this ``fold_in`` data (-1 mod 2**32), steps use their index.
INIT_FOLD = 0xFFFFFFFF


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
    # (P, K) int32: pool indices of each architecture's one-edit neighbours, -1 where the
    # neighbour is not in the pool (see one_edit_neighbours); None for strategies that need none.
    neighbours: chex.Array | None = None

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


class MethodTraits(NamedTuple):
    """What a runner must know about a strategy to size and build its run.

    Every strategy config exposes its traits as ``config.traits``.

    Attributes:
      distinct: never queries an architecture twice (bounds the scan by the cheapest cells).
      overshoot: may start a query while ``spent < budget`` (the last one ends past it).
      neighbours: needs ``env.neighbours``.
      features: uses the latent features (the embeddings file).
    """

    distinct: bool
    overshoot: bool
    neighbours: bool
    features: bool


class Strategy(NamedTuple):
    """A search strategy as two pure functions.

    ``init(env, key) -> state`` and ``step(state, env, key, t) -> (state, StepRecord)``; every
    state has a ``log`` field of type :class:`QueryLog`.

    ``t`` is the step index, a uint32 scalar; strategies that do not need it ignore it. ``t`` is
    the same for every seed of a population, so under ``vmap`` a ``lax.cond`` on it stays a real
    branch instead of becoming a select that runs both sides (REINFORCE uses it to do its policy
    update once per episode, not on every step).
    """

    init: Callable[[SearchEnv, chex.PRNGKey], Any]
    step: Callable[[Any, SearchEnv, chex.PRNGKey, chex.Array], tuple[Any, StepRecord]]


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


def record_query(
    log: QueryLog,
    env: SearchEnv,
    idx: chex.Array,
    *,
    overshoot: bool = False,
    valid: chex.Array | None = None,
) -> tuple[QueryLog, StepRecord]:
    """Charges one query of pool index ``idx`` if the budget allows it.

    A query is made iff the run is not done, ``spent_s + cost[idx] <= budget_s`` and fewer than
    ``max_queries`` were made. The first query that does not fit ends the run (``done``): no
    query is ever charged past the budget. Revisits are charged again; strategies that must not
    revisit mask ``log.visited`` before choosing ``idx``.

    Args:
      log: the run's log so far.
      env: the environment.
      idx: () int pool index to query.
      overshoot: static. The original arch2vec loops' rule instead (``while spent < budget:
        query``): a query is made iff ``spent_s < budget_s`` before it, so the last query of a run
        may end past the budget. Only the ``paper`` presets use it.
      valid: () bool, optional. False means the strategy has nothing left to propose (the pool
        is exhausted): no query is made and the run ends.

    Returns:
      The updated log and this step's :class:`StepRecord`.
    """
    idx = jnp.asarray(idx, jnp.int32)
    cost = env.cost[idx]
    in_budget = (log.spent_s < env.budget_s) if overshoot else (log.spent_s + cost <= env.budget_s)
    fits = in_budget & (log.n_queries < env.max_queries)
    if valid is not None:
        fits = fits & valid
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


def run_steps(
    strategy: Strategy, env: SearchEnv, state: Any, key: chex.PRNGKey, t0: chex.Array, num_steps: int
) -> tuple[Any, StepRecord]:
    """Continues a run from ``state`` with steps ``t0 .. t0 + num_steps - 1`` (one ``lax.scan``).

    Returns:
      The state after the last step and the stacked :class:`StepRecord` (fields ``(num_steps,)``).
    """
    ts = jnp.asarray(t0, jnp.uint32) + jnp.arange(num_steps, dtype=jnp.uint32)
    return jax.lax.scan(lambda s, t: strategy.step(s, env, jax.random.fold_in(key, t), t), state, ts)


def init_state(strategy: Strategy, env: SearchEnv, key: chex.PRNGKey) -> Any:
    """The strategy's initial state for run key ``key`` (init key ``fold_in(key, INIT_FOLD)``)."""
    return strategy.init(env, jax.random.fold_in(key, INIT_FOLD))


def run(strategy: Strategy, env: SearchEnv, key: chex.PRNGKey, num_steps: int) -> tuple[Any, StepRecord]:
    """One whole search run: ``init`` then ``num_steps`` scanned ``step`` calls.

    Step ``t`` uses ``jax.random.fold_in(key, t)``; ``init`` uses ``fold_in(key, -1 mod 2**32)``.

    Returns:
      The final state and the stacked :class:`StepRecord` trajectory, each field ``(num_steps,)``.
    """
    return run_steps(strategy, env, init_state(strategy, env, key), key, 0, num_steps)


@functools.partial(jax.jit, static_argnames=("strategy", "num_steps", "env_axis"))
def run_population(
    strategy: Strategy, env: SearchEnv, keys: chex.PRNGKey, num_steps: int, env_axis: int | None = None
) -> tuple[Any, StepRecord]:
    """All seeds at once: ``vmap`` of :func:`run` over ``keys`` (``(S,)``), jit-compiled.

    ``env_axis=0`` also maps over a stacked env (per-seed signals); ``None`` shares one env. The
    strategy, ``num_steps`` and ``env_axis`` are static: one compiled program per strategy object
    and shapes, reused by later calls.
    """
    return jax.vmap(lambda e, k: run(strategy, e, k, num_steps), in_axes=(env_axis, 0))(env, keys)


class ChunkedRunner:
    """Runs a population in fixed-size chunks of steps until every seed is done.

    Two programs are compiled once per runner (per input shapes): the vmapped ``init`` and a
    vmapped scan of ``chunk_steps`` steps that takes the first step index as an (unbatched)
    argument. A host loop calls the chunk program until all seeds are ``done`` or ``max_steps``
    steps ran, updating an optional tqdm bar. The result equals :func:`run_population` with the
    same number of steps.

    With a ``mesh`` of more than one device both programs are jitted with the seed axis sharded
    over all its devices (the env replicated, or sharded with the seeds when ``env_axis=0``);
    :meth:`prepare` pads the seeds to a multiple of the device count with copies of the last one,
    and ``__call__`` drops them again.
    """

    def __init__(
        self,
        strategy: Strategy,
        chunk_steps: int = 16,
        env_axis: int | None = None,
        mesh: Mesh | None = None,
    ):
        if chunk_steps < 1:
            raise ValueError(f"chunk_steps must be >= 1, got {chunk_steps}")
        if mesh is not None and env_axis not in (None, 0):
            raise ValueError(f"a sharded runner maps envs over axis 0 or none, got env_axis={env_axis}")
        self.strategy = strategy
        self.chunk_steps = chunk_steps
        self.env_axis = env_axis
        self.mesh = mesh if mesh is not None and mesh.size > 1 else None

        def chunk_one(state, env, key, t0):
            return run_steps(strategy, env, state, key, t0, chunk_steps)

        init = jax.vmap(lambda e, k: init_state(strategy, e, k), in_axes=(env_axis, 0))
        chunk = jax.vmap(chunk_one, in_axes=(0, env_axis, 0, None))
        if self.mesh is None:
            self._init = jax.jit(init)
            self._chunk = jax.jit(chunk)
        else:
            seeds, rep = seed_sharding(self.mesh), replicated(self.mesh)
            env_s = rep if env_axis is None else seeds
            self._init = jax.jit(init, in_shardings=(env_s, seeds), out_shardings=seeds)
            self._chunk = jax.jit(chunk, in_shardings=(seeds, env_s, seeds, rep), out_shardings=seeds)
        self._init_exe = None
        self._chunk_exe = None

    def prepare(self, env: SearchEnv, keys: chex.PRNGKey) -> tuple[SearchEnv, chex.PRNGKey]:
        """The env and keys placed on the mesh, seeds padded to a multiple of its size.

        Without a mesh they are returned unchanged. :meth:`init` and :meth:`chunk` of a sharded
        runner take prepared inputs; ``__call__`` and :meth:`compile` prepare their own.
        """
        if self.mesh is None:
            return env, keys
        size = padded_size(keys.shape[0], self.mesh.size)
        seeds = seed_sharding(self.mesh)
        keys = put(pad_leading(keys, size), seeds)
        stacked = self.env_axis is not None
        env = put(pad_leading(env, size), seeds) if stacked else put(env, replicated(self.mesh))
        return env, keys

    def compile(self, env: SearchEnv, keys: chex.PRNGKey) -> float:
        """Compiles both programs ahead of time for these shapes; returns the seconds it took.

        Later calls with the same shapes use the compiled programs (no tracing, no compile);
        calls with other shapes fail, so use one runner per population size.
        """
        t0 = time.perf_counter()
        env, keys = self.prepare(env, keys)
        self._init_exe = self._init.lower(env, keys).compile()
        state = jax.eval_shape(self._init, env, keys)
        self._chunk_exe = self._chunk.lower(state, env, keys, jnp.zeros((), jnp.uint32)).compile()
        return time.perf_counter() - t0

    def init(self, env: SearchEnv, keys: chex.PRNGKey) -> Any:
        """The batched initial states ``(S, ...)``."""
        return (self._init_exe or self._init)(env, keys)

    def chunk(self, state: Any, env: SearchEnv, keys: chex.PRNGKey, t0: int) -> tuple[Any, StepRecord]:
        """Steps ``t0 .. t0 + chunk_steps - 1`` for every seed; records ``(S, chunk_steps)``."""
        return (self._chunk_exe or self._chunk)(state, env, keys, jnp.asarray(t0, jnp.uint32))

    def __call__(
        self,
        env: SearchEnv,
        keys: chex.PRNGKey,
        max_steps: int,
        progress: bool | str = False,
    ) -> tuple[Any, StepRecord]:
        """Runs every seed of ``keys`` ``(S,)`` to the end of its budget.

        Args:
          env: the environment (stacked along ``env_axis`` if the runner maps over envs).
          keys: ``(S,)`` run keys.
          max_steps: static bound on the steps a run can need (see :func:`max_queries_in_budget`);
            a seed still not done after it is cut off there.
          progress: False, or True / a description string for a tqdm bar that counts toward the
            end of every seed's budget (:class:`_BudgetBar`).

        Returns:
          The final batched state and the records ``(S, T)``, ``T`` the steps run (a multiple of
          ``chunk_steps``, at most ``max_steps`` rounded up).
        """
        num_seeds = keys.shape[0]
        bar = _BudgetBar(env, num_seeds, progress) if progress else None
        env, keys = self.prepare(env, keys)
        state = self.init(env, keys)
        records = []
        try:
            t0 = 0
            while t0 < max_steps:
                state, rec = self.chunk(state, env, keys, t0)
                records.append(rec)
                t0 += self.chunk_steps
                # Padding seeds copy a real one, so they are done when it is; in multi-host runs
                # every process gathers the same flags and leaves the loop at the same step.
                done = to_host(state.log.done)[:num_seeds]
                if bar is not None:
                    bar.update(state.log, done)
                if done.all():
                    break
        finally:
            if bar is not None:
                bar.close()
        stacked = jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=1), *records)
        if keys.shape[0] != num_seeds:
            state, stacked = _take_first((state, stacked), num_seeds)
        return state, stacked


class _BudgetBar:
    """A tqdm bar over the seeds' share of their budget spent, so its rate and ETA are honest.

    Each seed counts 1 when done, else the larger of its simulated seconds spent over the budget and
    its queries over the query cap; the bar's total is the number of seeds.
    """

    def __init__(self, env: SearchEnv, num_seeds: int, desc: bool | str):
        from tqdm import tqdm

        budget = np.asarray(to_host(env.budget_s), np.float64).reshape(-1)
        cap = np.asarray(to_host(env.max_queries), np.float64).reshape(-1)
        self.budget = budget[:num_seeds] if budget.size >= num_seeds else budget.max()
        self.cap = cap[:num_seeds] if cap.size >= num_seeds else cap.max()
        self.num_seeds = num_seeds
        label = desc if isinstance(desc, str) else "search"
        self.bar = tqdm(total=num_seeds, desc=label, unit="seed", leave=False, bar_format=_BAR_FORMAT)

    def update(self, log: QueryLog, done: np.ndarray) -> None:
        spent = np.asarray(to_host(log.spent_s), np.float64)[: self.num_seeds]
        queries = np.asarray(to_host(log.n_queries), np.float64)[: self.num_seeds]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.maximum(np.nan_to_num(spent / self.budget), np.nan_to_num(queries / self.cap))
        share = np.where(done, 1.0, np.clip(share, 0.0, 1.0))
        self.bar.n = float(share.sum())
        self.bar.set_postfix(
            done=f"{int(done.sum())}/{done.size}", sim_s=f"{spent.mean():.0f}", refresh=False
        )
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| budget spent [{elapsed}<{remaining}{postfix}]"


@functools.partial(jax.jit, static_argnums=1)
def _take_first(tree: Any, n: int) -> Any:
    """The first ``n`` rows of every leaf (drops the seeds that padded a sharded population)."""
    return jax.tree.map(lambda x: x[:n], tree)


def max_queries_in_budget(
    cost: np.ndarray,
    budget_s: float,
    *,
    distinct: bool,
    overshoot: bool = False,
    cap: int | None = None,
) -> int:
    """The most queries any run can make: a static scan length.

    Args:
      cost: ``(P,)`` simulated seconds per query.
      budget_s: the budget.
      distinct: True for strategies that never query an architecture twice: the cheapest
        architectures each once. False: the cheapest one over and over.
      overshoot: the run may start one more query while ``spent < budget`` (``record_query``'s
        ``overshoot`` rule).
      cap: optional query cap (``SearchEnv.max_queries``).

    Returns:
      A positive int bound.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 1 or cost.size == 0:
        raise ValueError(f"cost must be a non-empty (P,) array, got shape {cost.shape}")
    if not np.all(np.isfinite(cost)) or cost.min() <= 0:
        bad = int(np.flatnonzero(~np.isfinite(cost) | (cost <= 0))[0])
        raise ValueError(f"every query cost must be finite and > 0; cost[{bad}] = {cost[bad]}")
    if distinct:
        cum = np.cumsum(np.sort(cost))
        n = int(np.searchsorted(cum, budget_s, side="right"))
        n = min(n + int(overshoot), cost.size)
    else:
        n = int(np.floor(budget_s / cost.min())) + int(overshoot)
    if cap is not None:
        n = min(n, int(cap))
    return max(n, 1)


def one_edit_neighbours(codes: np.ndarray, num_ops: int) -> np.ndarray:
    """Pool indices of every architecture's one-edit neighbours (one edge's op changed).

    Args:
      codes: ``(P, E)`` integer op codes of the pool (NB201: ``E = 6``, codes ``0..4``).
      num_ops: ops per edge (NB201: 5).

    Returns:
      ``(P, E * (num_ops - 1))`` int32: column ``e * (num_ops - 1) + j`` is the architecture whose
      edge ``e`` carries the ``j``-th op other than its current one (ascending), ``-1`` where that
      architecture is not in the pool.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must be a (P, E) integer array, got {codes.dtype} {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= num_ops):
        r = int(np.flatnonzero(((codes < 0) | (codes >= num_ops)).any(1))[0])
        raise ValueError(f"codes row {r} = {codes[r].tolist()} has an op outside 0..{num_ops - 1}")
    p, e = codes.shape
    weights = num_ops ** np.arange(e - 1, -1, -1, dtype=np.int64)  # (E,)
    keys = codes.astype(np.int64) @ weights  # (P,)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if p > 1 and np.any(sorted_keys[1:] == sorted_keys[:-1]):
        dup = int(sorted_keys[1:][sorted_keys[1:] == sorted_keys[:-1]][0])
        rows = np.flatnonzero(keys == dup).tolist()
        raise ValueError(f"codes rows {rows} are the same architecture")
    out = np.empty((p, e * (num_ops - 1)), dtype=np.int32)
    cur = codes.astype(np.int64)  # (P, E)
    for edge in range(e):
        for j in range(num_ops - 1):
            new_op = np.where(j < cur[:, edge], j, j + 1)  # (P,) the j-th op other than the current
            nkeys = keys + (new_op - cur[:, edge]) * weights[edge]  # (P,)
            pos = np.minimum(np.searchsorted(sorted_keys, nkeys), p - 1)
            found = sorted_keys[pos] == nkeys
            out[:, edge * (num_ops - 1) + j] = np.where(found, order[pos], -1)
    return out


def fast_argmin(x: chex.Array) -> chex.Array:
    """``jnp.argmin`` of a 1-d array (first index of the minimum), fast on CPU.

    XLA's CPU argmin is a variadic (value, index) reduction that does not vectorise: about 2 ns
    per element, which dominated a population's search step. Here it is two plain float
    reductions over ``(ceil(N / b), b)`` blocks, ``b = ceil(sqrt(N))`` (padded with ``+inf``),
    then the same inside the winning block; index arithmetic is exact in float32 up to ``2**24``.

    Args:
      x: ``(N,)`` float array without NaN (``+inf`` marks masked entries).

    Returns:
      () int32 index, equal to ``jnp.argmin(x)``.
    """
    n = x.shape[0]
    b = max(1, math.isqrt(n - 1) + 1) if n > 1 else 1
    nb = -(-n // b)
    xb = jnp.pad(x, (0, nb * b - n), constant_values=jnp.inf).reshape(nb, b)  # (nb, b)
    blk = _first_min(jnp.min(xb, axis=1))
    return (blk * b + _first_min(xb[blk])).astype(jnp.int32)


def _first_min(v: chex.Array) -> chex.Array:
    iota = jnp.arange(v.shape[0], dtype=jnp.float32)
    return jnp.min(jnp.where(v == jnp.min(v), iota, jnp.inf)).astype(jnp.int32)


def random_unvisited(
    key: chex.PRNGKey, blocked: chex.Array, n_free: chex.Array
) -> tuple[chex.Array, chex.Array]:
    """A uniformly random unblocked architecture, by rejection sampling.

    Draws ``randint(0, P)`` until the draw is not blocked: exactly uniform over the free
    architectures, ``P / n_free`` draws on average (about one while few are blocked), and no
    ``O(P)`` work per call. Under ``vmap`` the loop runs until every seed has its draw.

    Args:
      key: PRNG key.
      blocked: ``(P,)`` bool, True where the architecture may not be chosen.
      n_free: () int, the number of unblocked architectures (the loop needs ``n_free > 0``).

    Returns:
      ``(idx () int32, found () bool)``; ``found`` is False (and ``idx`` meaningless) when
      ``n_free == 0``.
    """
    p = blocked.shape[0]
    found = n_free > 0

    def draw(k):
        return jax.random.randint(k, (), 0, p, dtype=jnp.int32)

    def cond(carry):
        idx, _ = carry
        return blocked[idx] & found

    def body(carry):
        _, k = carry
        k, sub = jax.random.split(k)
        return draw(sub), k

    k0, k1 = jax.random.split(key)
    idx, _ = jax.lax.while_loop(cond, body, (draw(k0), k1))
    return idx, found
