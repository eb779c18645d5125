"""Runs a search: a method's seeds on a pool, and a :class:`SearchConfig` through its space's driver.

Every space has a driver (:class:`Driver`): ``run(config) -> report``, ``write(report, out)`` and
``format_summary(report)``. :func:`run` picks it by ``config.space``::

    report = run(SearchConfig(space="nb101", method="rl", preset="paper", seeds=500,
                              embeddings="runs/nb101/embeddings.npz", data_dir="~/data/nasbench"))

The table drivers (NB201, NB101) put the searched architectures in a :class:`Pool` and call
:func:`run_method`: every seed in one jitted ``vmap``
(:class:`~a2v_jax.search.core.ChunkedRunner`: chunks of steps until every seed has spent its
budget). The DARTS driver queries a host evaluator instead (:mod:`a2v_jax.search.evaluated`).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from a2v_jax.embed import Embeddings, EmbeddingsError, load_embeddings, space_of_ids
from a2v_jax.search.config import PathLike, SearchConfig
from a2v_jax.search.core import (
    ChunkedRunner,
    MethodTraits,
    SearchEnv,
    StepRecord,
    Strategy,
    max_queries_in_budget,
)
from a2v_jax.search.presets import make_strategy, strategy_config, with_capacity
from a2v_jax.search.report import check_output, jsonable, seed_keys
from a2v_jax.sharding import describe, to_host

if TYPE_CHECKING:
    from jax.sharding import Mesh


@dataclasses.dataclass(frozen=True)
class Pool:
    """The searched pool: the env and, for each pool row, its benchmark-table row."""

    env: SearchEnv
    rows: np.ndarray  # (P,) int64 table row (= benchmark index) of each pool row
    arch_str: np.ndarray  # (P,) str


def pool_env(
    features: np.ndarray,
    signal: np.ndarray,
    cost: np.ndarray,
    budget_s: float,
    *,
    max_queries: int | None = None,
    neighbours: np.ndarray | None = None,
) -> SearchEnv:
    """The env of a pool: features, signal and cost per row, the budget and the query cap.

    Raises:
      ValueError: ``budget_s`` is not positive.
    """
    budget = float(budget_s)
    if not budget > 0:
        raise ValueError(f"budget_s must be > 0, got {budget}")
    return SearchEnv(
        features=jnp.asarray(features),
        signal=jnp.asarray(signal),
        cost=jnp.asarray(cost),
        budget_s=jnp.asarray(budget, jnp.float32),
        max_queries=jnp.asarray(np.iinfo(np.int32).max if max_queries is None else max_queries, jnp.int32),
        neighbours=None if neighbours is None else jnp.asarray(neighbours),
    )


def embeddings_or_random(path: PathLike | None, table: Any, dim: int = 16) -> tuple[Embeddings, str]:
    """The embeddings at ``path``, or N(0, 1) features (seed 0) for every row of the NB201 ``table``.

    For benchmarks whose cost does not depend on the features' values. Returns the embeddings and
    a description of them for the benchmark's report.
    """
    if path:
        return load_embeddings(path), str(path)
    feats = np.random.default_rng(0).normal(size=(len(table), dim)).astype(np.float32)
    arch = np.asarray(table.arch_str)
    emb = Embeddings(feats, arch, np.arange(len(arch)), "", "nb201", "", -1, "benchmark", "<random>")
    return emb, f"random N(0, 1), {dim}-d"


@dataclasses.dataclass(frozen=True)
class RunOutput:
    """A population's raw result, on the host."""

    seeds: np.ndarray  # (S,) int seed ids
    best_idx: np.ndarray  # (S,) int pool index of the incumbent (-1: no query fitted)
    best_signal: np.ndarray  # (S,) float
    n_queries: np.ndarray  # (S,) int
    spent_s: np.ndarray  # (S,) float
    records: StepRecord  # fields (S, T) numpy
    max_steps: int
    wall_s: float


def scan_bound(traits: MethodTraits, env: SearchEnv) -> int:
    """The most steps a run of a strategy with ``traits`` can need on ``env`` (a static scan length).

    The budget bound of :func:`~a2v_jax.search.core.max_queries_in_budget`, capped by the env's
    query cap; without a time budget, the query cap.
    """
    budget, cap = float(env.budget_s), int(env.max_queries)
    if not math.isfinite(budget):
        if cap == np.iinfo(np.int32).max:
            raise ValueError("a protocol without a time budget needs a query cap (max_queries)")
        return cap
    cost = np.asarray(env.cost)
    return max_queries_in_budget(cost, budget, distinct=traits.distinct, overshoot=traits.overshoot, cap=cap)


def plan_method(
    method: str,
    preset: str,
    env: SearchEnv,
    *,
    space: str = "nb201",
    overrides: dict | None = None,
    max_steps: int | None = None,
) -> tuple[Strategy, int]:
    """The strategy of ``method`` under ``preset`` on ``space`` and the steps its runs get on ``env``.

    ``max_steps`` defaults to :func:`scan_bound` of the config's traits; BO gets it as its
    observation-buffer size ``max_obs`` unless ``overrides`` names one.
    """
    overrides = dict(overrides or {})
    cfg = strategy_config(method, preset, space, **overrides)
    if cfg.traits.neighbours and env.neighbours is None:
        raise ValueError(f"method {method!r} needs a pool built with_neighbours=True")
    if max_steps is None:
        max_steps = scan_bound(cfg.traits, env)
    elif max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    if "max_obs" not in overrides:
        cfg = with_capacity(cfg, max_steps)
    return make_strategy(cfg), max_steps


def run_method(
    method: str,
    preset: str,
    pool: Pool,
    seeds: np.ndarray,
    *,
    space: str = "nb201",
    chunk_steps: int = 16,
    progress: bool | str = False,
    overrides: dict | None = None,
    mesh: Mesh | None = None,
    max_steps: int | None = None,
) -> RunOutput:
    """Runs ``method`` on ``pool`` for every seed id in ``seeds`` (one vmapped program).

    The strategy and the scan length come from :func:`plan_method`. With a ``mesh``
    (:func:`a2v_jax.sharding.make_mesh`) the seeds are sharded over its devices and every process
    gets the gathered result.
    """
    strategy, max_steps = plan_method(
        method, preset, pool.env, space=space, overrides=overrides, max_steps=max_steps
    )
    runner = ChunkedRunner(strategy, chunk_steps=chunk_steps, mesh=mesh)
    seeds = np.asarray(seeds, dtype=np.int64)
    t0 = time.perf_counter()
    state, rec = runner(pool.env, seed_keys(seeds), max_steps, progress=progress)
    rec = to_host(jax.block_until_ready(rec))
    wall = time.perf_counter() - t0
    log = to_host(state.log)
    return RunOutput(
        seeds=seeds,
        best_idx=log.best_idx,
        best_signal=log.best_signal,
        n_queries=log.n_queries,
        spent_s=log.spent_s,
        records=rec,
        max_steps=max_steps,
        wall_s=wall,
    )


def report_settings(
    protocol: Any,
    seeds: np.ndarray,
    embeddings: Embeddings | None,
    mesh: Mesh | None,
    *,
    after_cost: dict,
    after_seeds: dict,
) -> dict:
    """The settings a table driver's summary records, each space's own keys in their places."""
    return {
        "signal": protocol.signal,
        "cost": protocol.cost,
        **after_cost,
        "seed_ids": [int(seeds[0]), int(seeds[-1])],
        **after_seeds,
        "embeddings": None if embeddings is None else {"path": embeddings.path, **jsonable(embeddings.meta)},
        "sharding": describe(mesh),
    }


def check_config(config: SearchConfig) -> None:
    """Checks a search before any work: names, counts, numbers and the output path.

    Raises:
      ValueError: an unknown method or preset, no seeds, a budget that is not a finite positive
        number, a latent method without embeddings, or an ``out`` that cannot be written.
    """
    traits = strategy_config(config.method, config.preset).traits  # validates both names
    if config.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {config.seeds}")
    if config.chunk_steps < 1:
        raise ValueError(f"--chunk-steps must be >= 1, got {config.chunk_steps}")
    if config.budget_s is not None and not (math.isfinite(config.budget_s) and config.budget_s > 0):
        raise ValueError(f"--budget-s must be a finite number of seconds > 0, got {config.budget_s}")
    if traits.features and config.embeddings is None:
        raise ValueError(f"method {config.method!r} searches the latent space: pass --embeddings PATH")
    if config.out is not None:
        check_output(config.out, directory=config.space == "darts")


def load_space_embeddings(path: PathLike, space: str) -> Embeddings:
    """The embeddings at ``path``, refused unless they were pretrained on ``space``.

    The recorded space decides; a hand-made file without one is judged by its ids
    (:func:`a2v_jax.embed.space_of_ids`).

    Raises:
      EmbeddingsError: naming the space the file holds and the one the search needs.
    """
    emb = load_embeddings(path)
    holds = emb.space or space_of_ids(emb.arch_str)
    if holds is not None and holds != space:
        raise EmbeddingsError(
            f"{path} holds {holds} embeddings; a --space {space} search needs embeddings pretrained "
            f"with python -m a2v_jax.pretrain --space {space}"
        )
    return emb


# --------------------------------------------------------------------------- drivers


class Driver(NamedTuple):
    """A space's search driver.

    Attributes:
      run: ``run(config, **data) -> report`` (the table drivers take an already loaded ``table=``).
      write: ``write(report, out) -> path`` writes the report where ``config.out`` says.
      format_summary: ``format_summary(report) -> str``, one human-readable summary.
      errors: the exceptions the command reports as ``error: ...`` (exit 2) instead of a traceback.
    """

    run: Callable[..., dict]
    write: Callable[[dict, PathLike], Path]
    format_summary: Callable[[dict], str]
    errors: tuple[type[BaseException], ...] = (ValueError,)


#: Space -> the module that defines its ``DRIVER``.
DRIVER_MODULES = {
    "nb201": "a2v_jax.search.nb201",
    "nb101": "a2v_jax.search.nb101",
    "darts": "a2v_jax.search.darts",
}


def get_driver(space: str) -> Driver:
    """The :class:`Driver` of ``space`` (its module imported on first use)."""
    if space not in DRIVER_MODULES:
        raise ValueError(f"unknown search space {space!r}; expected one of {tuple(DRIVER_MODULES)}")
    return importlib.import_module(DRIVER_MODULES[space]).DRIVER


def run(config: SearchConfig, **data: Any) -> dict:
    """Runs ``config`` with its space's driver and returns the report (nothing is written)."""
    return get_driver(config.space).run(config, **data)
