"""Search with a host evaluator: the pool's signal is unknown until a cell is queried (DARTS).

On the benchmarks every signal is a table lookup, so a whole run is one ``lax.scan``. On DARTS a
query trains a network (reference §7.4), so the signal of a cell exists only once the host has
evaluated it. An evaluator is any Python function ``cell_index -> (reward, cost_s)``.

Design: the strategies stay the pure ``(init, step)`` pairs of :mod:`a2v_jax.search.rl` and
:mod:`a2v_jax.search.bo`; the env's ``signal`` and ``cost`` are filled progressively. A step's
*proposal* (RL: the snapped action; BO: the fit's top-k entry) depends only on the strategy's
state and the features, never on the signal of the cell it proposes, so each query is

1. **propose**: run the compiled one-step program (``run_steps(..., 1)``) on the current env and
   read the index it chose; the resulting state is discarded if that cell is new;
2. **evaluate**: call the evaluator on the host (once per cell; a strategy that revisits, the
   ``paper`` BO without de-duplication, gets the stored result again);
3. **record**: write the reward and cost into ``env.signal`` / ``env.cost``, and run the same step
   again, which now records the true signal into the log and the strategy's buffers.

Step ``t`` uses ``fold_in(key, t)`` as in :func:`~a2v_jax.search.core.run`, so with an evaluator
that returns a table's values the trajectory equals ``run`` on the full table (a test checks it);
the record run must propose the index the propose run did, else :class:`EvaluationError`.

Cost: two dispatches of one compiled program per new query (one where the cell was already
known or the step makes no query); the program is compiled once (the step index is a traced
argument). On CPU with a 2,000-cell pool this is milliseconds per RL step and a DNGO fit per BO
batch, negligible against a real evaluator (a 50-epoch proxy training). Budget: ``num_queries``
accepted queries (``env.max_queries``), no simulated-seconds budget; ``cost_s`` is recorded only.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from a2v_jax.search.core import SearchEnv, Strategy, init_state, run_steps

#: ``cell_index -> (reward, cost_s)``.
Evaluator = Callable[[int], tuple[float, float]]


class EvaluationError(RuntimeError):
    """An evaluator failed or returned a reward / cost that is not a finite number."""


@dataclasses.dataclass(frozen=True)
class EvaluatedRun:
    """One evaluated search run.

    Attributes:
      idx: ``(Q,)`` int pool index of each accepted query, in order.
      reward: ``(Q,)`` float its reward.
      cost_s: ``(Q,)`` float its cost (seconds the evaluator reported).
      repeat: ``(Q,)`` bool the cell had been queried before (its stored result reused).
      best_idx: pool index of the best reward (first one on ties).
      steps: strategy steps run (>= Q: steps that made no query are not in the arrays).
      evaluations: evaluator calls made.
      search_s: wall seconds spent in the strategy (compile included), not in the evaluator.
      evaluate_s: wall seconds spent in the evaluator.
    """

    idx: np.ndarray
    reward: np.ndarray
    cost_s: np.ndarray
    repeat: np.ndarray
    best_idx: int
    steps: int
    evaluations: int
    search_s: float
    evaluate_s: float


def _check_result(out: Any, i: int, describe: Callable[[int], str]) -> tuple[float, float]:
    if not isinstance(out, Sequence) or len(out) != 2:
        raise EvaluationError(f"evaluator returned {out!r} for {describe(i)}; expected (reward, cost_s)")
    try:
        reward, cost = float(out[0]), float(out[1])
    except (TypeError, ValueError) as e:
        raise EvaluationError(f"evaluator returned {out!r} for {describe(i)}: {e}") from e
    if not math.isfinite(reward):
        raise EvaluationError(
            f"evaluator returned reward {reward} for {describe(i)}; expected a finite number"
        )
    if not (math.isfinite(cost) and cost >= 0):
        raise EvaluationError(f"evaluator returned cost_s {cost} for {describe(i)}; expected finite and >= 0")
    return reward, cost


def evaluated_search(
    strategy: Strategy,
    features: np.ndarray,
    evaluator: Evaluator,
    num_queries: int,
    seed: int,
    *,
    describe: Callable[[int], str] | None = None,
    max_steps: int | None = None,
    progress: bool | str = False,
) -> EvaluatedRun:
    """Runs ``strategy`` on the pool ``features`` until ``num_queries`` queries were made.

    Args:
      strategy: a strategy of the ``darts`` space's presets (:mod:`a2v_jax.search.presets`), or
        any one-query-per-step strategy whose proposal does not read the proposed cell's signal.
      features: ``(P, D)`` the pool's latents.
      evaluator: ``cell_index -> (reward, cost_s)``; called once per distinct queried cell.
      num_queries: accepted queries to make (the run also ends if the strategy runs out of cells).
      seed: run seed; the run key is ``jax.random.key(seed)``.
      describe: ``cell_index -> str`` naming a cell in error messages (default ``pool cell i``).
      max_steps: safety bound on steps (default ``4 * num_queries + 64``).
      progress: False, or True / a description for a tqdm bar over queries.

    Returns:
      The :class:`EvaluatedRun`.

    Raises:
      EvaluationError: the evaluator raised, or returned a non-finite reward or a bad cost,
        naming the cell; or the strategy's proposal changed once the signal was known.
    """
    features = np.asarray(features, np.float32)
    if features.ndim != 2 or features.shape[0] < 1:
        raise ValueError(f"features must be a non-empty (P, D) array, got shape {features.shape}")
    if num_queries < 1:
        raise ValueError(f"num_queries must be >= 1, got {num_queries}")
    describe = describe or (lambda i: f"pool cell {i}")
    max_steps = 4 * num_queries + 64 if max_steps is None else max_steps
    p = features.shape[0]
    signal = np.zeros((p,), np.float32)  # (P,) filled as cells are evaluated
    cost = np.zeros((p,), np.float32)  # (P,)
    known = np.zeros((p,), bool)  # (P,)
    results: dict[int, tuple[float, float]] = {}  # the evaluator's values, unrounded

    def make_env():
        return SearchEnv(
            features=jnp.asarray(features),
            signal=jnp.asarray(signal),
            cost=jnp.asarray(cost),
            budget_s=jnp.asarray(np.inf, jnp.float32),
            max_queries=jnp.asarray(num_queries, jnp.int32),
        )

    key = jax.random.key(seed)
    one_step = jax.jit(lambda state, env, t: run_steps(strategy, env, state, key, t, 1))
    t_search = time.perf_counter()
    env = make_env()
    state = init_state(strategy, env, key)
    idx_l, rew_l, cost_l, rep_l = [], [], [], []
    evaluations, evaluate_s = 0, 0.0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=num_queries, desc=progress if isinstance(progress, str) else "search", unit="query")
    try:
        steps = 0
        while steps < max_steps:
            t = jnp.asarray(steps, jnp.uint32)
            new_state, rec = one_step(state, env, t)
            i, accepted = int(rec.idx[0]), bool(rec.accepted[0])
            if accepted and not known[i]:
                t0 = time.perf_counter()
                try:
                    out = evaluator(i)
                except Exception as e:
                    raise EvaluationError(
                        f"evaluator failed on {describe(i)}: {type(e).__name__}: {e}"
                    ) from e
                evaluate_s += time.perf_counter() - t0
                evaluations += 1
                results[i] = _check_result(out, i, describe)
                signal[i], cost[i] = results[i]
                known[i] = True
                env = make_env()
                new_state, rec = one_step(state, env, t)
                if int(rec.idx[0]) != i or not bool(rec.accepted[0]):
                    raise EvaluationError(
                        f"step {steps} proposed {describe(i)} before its evaluation and "
                        f"{describe(int(rec.idx[0]))} after: the strategy's proposal reads the signal"
                    )
                repeat = False
            else:
                repeat = accepted
            state = new_state
            steps += 1
            if accepted:
                idx_l.append(i)
                rew_l.append(results[i][0])
                cost_l.append(results[i][1])
                rep_l.append(repeat)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(best=f"{max(rew_l):.4f}")
            if bool(state.log.done) or int(state.log.n_queries) >= num_queries:
                break
    finally:
        if bar is not None:
            bar.close()
    search_s = time.perf_counter() - t_search - evaluate_s
    if not idx_l:
        raise EvaluationError("the search made no query")
    reward = np.asarray(rew_l, np.float64)
    return EvaluatedRun(
        idx=np.asarray(idx_l, np.int64),
        reward=reward,
        cost_s=np.asarray(cost_l, np.float64),
        repeat=np.asarray(rep_l, bool),
        best_idx=int(idx_l[int(np.argmax(reward))]),
        steps=steps,
        evaluations=evaluations,
        search_s=search_s,
        evaluate_s=evaluate_s,
    )


# --------------------------------------------------------------------------- evaluators

#: Seed of the toy evaluator's fixed random weights.
TOY_SEED = 20201206


def toy_scores(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A toy stand-in for training: a fixed random linear score of the cell, plus a size term.

    NOT an accuracy model: a deterministic, cheap function of the genotype so that the whole
    pipeline can be run and tested on a CPU. ``reward = 0.9 + 0.04 tanh(s) + 0.01 m``, where
    ``s`` is a fixed random (seed :data:`TOY_SEED`) linear function of the one-hot op and input
    of each of the 8 slots, ``m`` the cell's ImageNet multiply-adds / 6e8 (bigger cells score a
    little higher, as trained networks tend to); ``cost_s = 1 + 10 m`` simulated seconds.

    Args:
      cells: ``(P, 8, 2)`` DARTS cell arrays.

    Returns:
      ``(reward (P,), cost_s (P,))`` float64.
    """
    from a2v_jax.spaces.darts import CELL_OPS, MAX_MACS, NUM_INPUTS, NUM_SLOTS, cells_macs

    cells = np.asarray(cells)
    rng = np.random.default_rng(TOY_SEED)
    w_op = rng.normal(size=(NUM_SLOTS, len(CELL_OPS)))  # (8, 8)
    w_in = rng.normal(size=(NUM_SLOTS, NUM_INPUTS))  # (8, 5)
    slots = np.arange(NUM_SLOTS)
    s = w_op[slots, cells[:, :, 0]].sum(-1) + w_in[slots, cells[:, :, 1]].sum(-1)  # (P,)
    m = cells_macs(cells).astype(np.float64) / MAX_MACS  # (P,)
    return 0.9 + 0.04 * np.tanh(s / math.sqrt(2 * NUM_SLOTS)) + 0.01 * m, 1.0 + 10.0 * m


def toy_evaluator(cells: np.ndarray) -> Evaluator:
    """The :func:`toy_scores` of the pool ``cells`` ``(P, 8, 2)`` as an evaluator."""
    reward, cost = toy_scores(cells)
    return lambda i: (float(reward[i]), float(cost[i]))


def load_table(path: str) -> dict[str, tuple[float, float]]:
    """A table of cell id -> ``(reward, cost_s)`` from ``.json`` or ``.npz``.

    ``.json``: an object ``{cell_id: reward}`` or ``{cell_id: [reward, cost_s]}``. ``.npz``:
    arrays ``arch_str`` (cell ids) and ``reward``, optionally ``cost_s`` (default 0).

    Raises:
      ValueError: naming the file and the entry that is malformed.
    """
    import json
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"evaluator table {path} does not exist")
    out: dict[str, tuple[float, float]] = {}
    if p.suffix == ".json":
        data = json.loads(p.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object cell_id -> reward, got {type(data).__name__}")
        for k, v in data.items():
            val = v if isinstance(v, list) else [v, 0.0]
            if len(val) != 2 or not all(isinstance(x, (int, float)) for x in val):
                raise ValueError(f"{path}: entry {k!r} = {v!r} is not a reward or [reward, cost_s]")
            out[str(k)] = (float(val[0]), float(val[1]))
        return out
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            for field in ("arch_str", "reward"):
                if field not in z:
                    raise ValueError(f"{path}: missing array {field!r} (has {sorted(z.files)})")
            ids, rew = z["arch_str"].astype(str), z["reward"].astype(np.float64)
            cst = z["cost_s"].astype(np.float64) if "cost_s" in z else np.zeros_like(rew)
        if not (ids.shape == rew.shape == cst.shape) or ids.ndim != 1:
            raise ValueError(
                f"{path}: arch_str {ids.shape}, reward {rew.shape}, cost_s {cst.shape} must be (N,)"
            )
        return {a: (float(r), float(c)) for a, r, c in zip(ids.tolist(), rew, cst, strict=True)}
    raise ValueError(f"{path}: evaluator table must be .json or .npz")


def table_evaluator(table: dict[str, Any], cell_ids: Sequence[str]) -> Evaluator:
    """Looks up ``table[cell_ids[i]]`` (a reward, or ``(reward, cost_s)``); a missing id is an error."""

    def evaluate(i: int) -> tuple[float, float]:
        cid = str(cell_ids[i])
        if cid not in table:
            raise KeyError(f"cell id {cid!r} is not in the evaluator table ({len(table)} entries)")
        v = table[cid]
        return (float(v), 0.0) if np.ndim(v) == 0 else (float(v[0]), float(v[1]))

    return evaluate


def darts_proxy_evaluator(
    cells: np.ndarray, cifar10_dir: str | None, seed: int = 0, **overrides: Any
) -> Evaluator:
    """The real query (reference §7.4): :func:`a2v_jax.darts.train.make_evaluator`'s proxy training.

    Args:
      cells: ``(P, 8, 2)`` the pool's cell arrays.
      cifar10_dir: the CIFAR-10 python batches (else ``$A2V_CIFAR10_DIR``).
      seed: the evaluator's seed.
      **overrides: fields of the ``proxy`` :class:`~a2v_jax.darts.train.DartsTrainConfig` to
        replace (e.g. ``epochs``, ``init_channels``, ``layers`` for smoke runs; None is ignored).

    Raises:
      RuntimeError: :mod:`a2v_jax.darts` is not available.
    """
    try:
        from a2v_jax.darts.train import get_preset, make_evaluator
    except ImportError as e:
        raise RuntimeError(f"the darts-proxy evaluator needs a2v_jax.darts.train ({e})") from e
    from a2v_jax.spaces.darts import genotype_from_cell

    ev = make_evaluator(cifar10_dir, get_preset("proxy", **overrides), seed)
    return lambda i: ev(genotype_from_cell(cells[i]))
