"""Runs a search method on NAS-Bench-201 for many seeds and writes the report (JSON).

The pool is the embedded architectures (the rows of ``embeddings.npz``, aligned to the benchmark
table by ``arch_str``) or, for methods that do not use features and without an embeddings file,
the whole table. Every seed runs in one jitted ``vmap`` (:class:`~a2v_jax.search.core.ChunkedRunner`:
chunks of steps until every seed has spent its budget), and the found architecture of each seed is
reported with the protocol's seed-averaged 200-epoch accuracies.

Example::

    python -m a2v_jax.search --space nb201 --dataset cifar10 --method rl --seeds 500 \\
        --preset paper --embeddings runs/nb201/embeddings.npz --out results/nb201-c10-rl.json
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from a2v_jax.data import get_protocol, load_nb201, protocol_arrays
from a2v_jax.data.protocols import missing_test_note
from a2v_jax.embed import Embeddings, EmbeddingsError, load_embeddings
from a2v_jax.runtime import device_name
from a2v_jax.search import METHODS, get_strategy, method_traits
from a2v_jax.search.core import (
    ChunkedRunner,
    SearchEnv,
    StepRecord,
    max_queries_in_budget,
    one_edit_neighbours,
)
from a2v_jax.sharding import describe, make_mesh, to_host
from a2v_jax.spaces.nb201 import CELL_OPS

if TYPE_CHECKING:
    from jax.sharding import Mesh

#: Keys of the report's top-level ``summary`` object that the issue fixes.
SUMMARY_KEYS = (
    "valid_mean",
    "valid_std",
    "test_mean",
    "test_std",
    "frac_found_best",
    "median_queries_to_best",
    "seeds",
    "method",
    "dataset",
    "preset",
    "protocol",
    "budget_s",
    "wall_s",
    "device",
)


@dataclasses.dataclass(frozen=True)
class Pool:
    """The searched pool: the env and, for each pool row, its benchmark-table row."""

    env: SearchEnv
    rows: np.ndarray  # (P,) int64 table row (= benchmark index) of each pool row
    arch_str: np.ndarray  # (P,) str


def build_pool(
    table,
    protocol,
    *,
    embeddings: Embeddings | None = None,
    budget_s: float | None = None,
    signal_seed: int = 0,
    with_neighbours: bool = True,
) -> Pool:
    """The env for ``protocol`` over the embedded architectures (or the whole table).

    Args:
      table: an ``NB201Table``.
      protocol: a ``SearchProtocol``.
      embeddings: the latent table; None uses every table row with a dummy 1-d feature (for
        methods that ignore features).
      budget_s: overrides ``protocol.budget_s``.
      signal_seed: seed of the protocol's one frozen random-run draw (cifar100 / imagenet16).
      with_neighbours: also build the one-edit neighbour table (REA, local search).

    Returns:
      A :class:`Pool`.
    """
    signal, cost = protocol_arrays(table, protocol, seed=signal_seed)
    if embeddings is None:
        rows = np.arange(len(table), dtype=np.int64)
        features = np.zeros((len(table), 1), np.float32)
    else:
        try:
            rows = table.align(list(embeddings.arch_str))
        except (KeyError, ValueError) as e:
            raise EmbeddingsError(f"{embeddings.path}: arch_str does not match the table: {e}") from e
        features = embeddings.features
    budget = float(protocol.budget_s if budget_s is None else budget_s)
    if not budget > 0:
        raise ValueError(f"budget_s must be > 0, got {budget}")
    env = SearchEnv(
        features=jnp.asarray(features),
        signal=jnp.asarray(signal[rows]),
        cost=jnp.asarray(cost[rows]),
        budget_s=jnp.asarray(budget, jnp.float32),
        max_queries=jnp.asarray(np.iinfo(np.int32).max, jnp.int32),
        neighbours=(
            jnp.asarray(one_edit_neighbours(np.asarray(table.codes)[rows], len(CELL_OPS)))
            if with_neighbours
            else None
        ),
    )
    return Pool(env=env, rows=rows, arch_str=np.asarray(table.arch_str)[rows])


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


def seed_keys(seeds: np.ndarray) -> jax.Array:
    """``(S,)`` run keys, ``jax.random.key(seed)`` for each seed id."""
    return jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))


def run_method(
    method: str,
    preset: str,
    pool: Pool,
    seeds: np.ndarray,
    *,
    chunk_steps: int = 16,
    progress: bool | str = False,
    overrides: dict | None = None,
    mesh: Mesh | None = None,
    max_steps: int | None = None,
) -> RunOutput:
    """Runs ``method`` on ``pool`` for every seed id in ``seeds`` (one vmapped program).

    The scan is bounded by :func:`~a2v_jax.search.core.max_queries_in_budget` for the method's
    traits (or by ``max_steps`` where the caller knows a bound, e.g. a query cap without a time
    budget); BO gets that bound as its observation-buffer size ``max_obs``. With a ``mesh``
    (:func:`a2v_jax.sharding.make_mesh`) the seeds are sharded over its devices and every process
    gets the gathered result.
    """
    traits = method_traits(method, preset)
    if traits.neighbours and pool.env.neighbours is None:
        raise ValueError(f"method {method!r} needs a pool built with_neighbours=True")
    if max_steps is None:
        max_steps = max_queries_in_budget(
            np.asarray(pool.env.cost),
            float(pool.env.budget_s),
            distinct=traits.distinct,
            overshoot=traits.overshoot,
        )
    elif max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    overrides = dict(overrides or {})
    if method == "bo":
        overrides.setdefault("max_obs", max_steps)
    strategy = get_strategy(method, preset, **overrides)
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


def _stats(x: np.ndarray) -> tuple[float | None, float | None]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None, None
    return float(np.mean(x)), float(np.std(x))


def summarize(
    table,
    protocol,
    pool: Pool,
    out: RunOutput,
    *,
    method: str,
    preset: str,
    trajectories: bool = True,
    extra: dict | None = None,
) -> dict[str, Any]:
    """The JSON report: per-seed results and the summary over seeds.

    Reported accuracies are the benchmark's seed-averaged 200-epoch ``valid_mean`` / ``test_mean``
    (percent) of each seed's found architecture, on ``protocol.dataset`` in the summary and on
    every ``protocol.report_datasets`` in ``per_dataset``. Spreads are population std
    (``ddof=0``) over seeds. "Found best" means the reported architecture is the pool's
    best-``valid_mean`` architecture on ``protocol.dataset``; its queries-to-best is the 1-based
    query at which it became the incumbent, and the median is over the seeds that found it.
    """
    rec = out.records
    s = out.seeds.shape[0]
    ds_main = protocol.dataset
    report_ds = tuple(dict.fromkeys((ds_main, *protocol.report_datasets)))
    found = out.best_idx >= 0
    rows = np.where(found, pool.rows[np.maximum(out.best_idx, 0)], -1)  # (S,) table rows

    def acc(ds: str, field: str) -> np.ndarray:
        arr = getattr(table.datasets[ds], field)
        if arr is None:
            return np.full(s, np.nan)
        return np.where(found, np.asarray(arr, np.float64)[np.maximum(rows, 0)], np.nan)

    per_ds = {ds: {"valid": acc(ds, "valid_mean"), "test": acc(ds, "test_mean")} for ds in report_ds}
    best_pool = int(np.argmax(np.asarray(table.datasets[ds_main].valid_mean)[pool.rows]))
    found_best = out.best_idx == best_pool
    # 1-based query count at which the incumbent became the best-valid architecture.
    n_acc = np.cumsum(rec.accepted, axis=1)  # (S, T)
    hit = rec.accepted & (rec.best_idx == best_pool)
    first = np.where(hit.any(axis=1), n_acc[np.arange(s), np.argmax(hit, axis=1)], -1)
    q_to_best = first[found_best & (first > 0)]
    # The architecture a perfect search finds: the pool's best search signal (NaN signals never win).
    best_signal_pool = int(np.argmax(np.nan_to_num(np.asarray(pool.env.signal), nan=-np.inf)))
    found_best_signal = out.best_idx == best_signal_pool

    runs = []
    for i in range(s):
        r = {
            "seed": int(out.seeds[i]),
            "index": int(rows[i]),
            "arch_str": str(table.arch_str[rows[i]]) if found[i] else None,
            "signal": float(out.best_signal[i]) if found[i] else None,
            "valid_mean": _num(per_ds[ds_main]["valid"][i]),
            "test_mean": _num(per_ds[ds_main]["test"][i]),
            "queries": int(out.n_queries[i]),
            "spent_s": float(out.spent_s[i]),
        }
        if len(report_ds) > 1:
            r["per_dataset"] = {
                ds: {"valid_mean": _num(v["valid"][i]), "test_mean": _num(v["test"][i])}
                for ds, v in per_ds.items()
            }
        if trajectories:
            a = rec.accepted[i]
            r["trajectory"] = {
                "spent_s": [round(float(x), 3) for x in rec.spent_s[i][a]],
                "best_index": [int(pool.rows[j]) for j in rec.best_idx[i][a]],
                "best_signal": [round(float(x), 6) for x in _running_max(rec.signal[i][a])],
            }
        runs.append(r)

    vm, vs = _stats(per_ds[ds_main]["valid"])
    tm, ts = _stats(per_ds[ds_main]["test"])
    summary = {
        "valid_mean": vm,
        "valid_std": vs,
        "test_mean": tm,
        "test_std": ts,
        "test_source": table.test_source,
        "test_note": missing_test_note(table),
        "frac_found_best": float(found_best.mean()),
        "median_queries_to_best": float(np.median(q_to_best)) if q_to_best.size else None,
        "frac_found_best_signal": float(found_best_signal.mean()),
        "seeds": int(s),
        "method": method,
        "dataset": ds_main,
        "preset": preset,
        "protocol": protocol.name,
        "budget_s": float(pool.env.budget_s),
        "wall_s": float(out.wall_s),
        "device": device_name(),
        "mean_queries": float(out.n_queries.mean()),
        "mean_spent_s": float(out.spent_s.mean()),
        "pool_size": int(pool.rows.shape[0]),
        "best_valid_index": int(pool.rows[best_pool]),
        "optimum": {
            ds: {
                "valid_mean": float(np.max(np.asarray(table.datasets[ds].valid_mean)[pool.rows])),
                "test_mean": (
                    None
                    if table.datasets[ds].test_mean is None
                    else float(np.max(np.asarray(table.datasets[ds].test_mean)[pool.rows]))
                ),
            }
            for ds in report_ds
        },
        "max_steps": int(out.max_steps),
        "steps_run": int(rec.idx.shape[1]),
    }
    if ds_main == "cifar10" and table.datasets["cifar10"].valid_model_test_mean is not None:
        vtm, vts = _stats(acc("cifar10", "valid_model_test_mean"))
        summary["valid_model_test_mean"], summary["valid_model_test_std"] = vtm, vts
    if len(report_ds) > 1:
        summary["per_dataset"] = {}
        for ds, v in per_ds.items():
            m1, s1 = _stats(v["valid"])
            m2, s2 = _stats(v["test"])
            summary["per_dataset"][ds] = {"valid_mean": m1, "valid_std": s1, "test_mean": m2, "test_std": s2}
    if extra:
        summary.update(extra)
    return {
        "summary": summary,
        "definitions": {
            "accuracies": "percent; the benchmark's seed-averaged 200-epoch valid_mean / test_mean of the "
            "architecture with the best search signal within the budget",
            "std": "population std (ddof=0) over seeds",
            "test_source": "where test_mean came from; null: the table has no test accuracies (test_note "
            "says how to add them)",
            "valid_model_test_mean": "cifar10 only: ori-test accuracy of the cifar10-valid model (trained "
            "on 25k images), not the paper's cifar10 test column (test_mean: the model trained on 50k)",
            "frac_found_best": "fraction of seeds whose reported architecture is the pool's "
            "best-valid_mean one",
            "frac_found_best_signal": "fraction of seeds whose reported architecture is the pool's best "
            "by the search signal (what a perfect search within the protocol finds)",
            "median_queries_to_best": "median over those seeds of the 1-based query at which it became "
            "the incumbent",
            "trajectory": "per accepted query: simulated seconds spent, incumbent benchmark index, best "
            "signal so far",
        },
        "runs": runs,
    }


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def _running_max(x: np.ndarray) -> np.ndarray:
    return np.maximum.accumulate(x) if x.size else x


def search(
    *,
    dataset: str,
    method: str,
    preset: str,
    seeds: int,
    protocol: str = "arch2vec",
    embeddings: str | os.PathLike | None = None,
    budget_s: float | None = None,
    data_dir: str | os.PathLike | None = None,
    source: str = "auto",
    test_data: str | os.PathLike | None = None,
    seed_start: int = 1,
    signal_seed: int = 0,
    cost: str | None = None,
    chunk_steps: int = 16,
    progress: bool = True,
    trajectories: bool = True,
    table=None,
    devices: int | None = None,
    mesh: str | None = None,
) -> dict[str, Any]:
    """Loads the data, runs ``seeds`` seeds of ``method`` and returns the JSON report.

    Args:
      dataset: ``cifar10 | cifar100 | imagenet16``.
      method: one of :data:`~a2v_jax.search.METHODS`.
      preset: ``paper | default``.
      seeds: number of seeds; seed ids ``seed_start .. seed_start + seeds - 1``.
      protocol: ``arch2vec | nb201``.
      embeddings: path of ``embeddings.npz`` (required by ``rl`` and ``bo``; if given, it defines
        the pool for every method).
      budget_s: overrides the protocol's budget.
      data_dir: NAS-Bench-201 data (else ``$A2V_NB201_DIR``, else the tables installed with a2v_jax).
      source: table source for ``load_nb201``.
      test_data: where test accuracies come from (``load_nb201``'s ``test_data``).
      seed_start: first seed id (the original ran 1..500).
      signal_seed: seed of the protocol's frozen random-run draw.
      cost: a query cost (``data.protocols.COSTS``) in place of the protocol's own.
      chunk_steps: steps per compiled chunk.
      progress: show a tqdm bar.
      trajectories: include per-seed trajectories.
      table: an already loaded table (skips ``load_nb201``).
      devices: devices to shard the seeds over (None: every device JAX sees, 1: no sharding).
      mesh: ``"POPxDATA"`` mesh shape (:func:`a2v_jax.sharding.make_mesh`); the search shards
        seeds over all of its devices.

    Returns:
      The report (see :func:`summarize`).
    """
    if method not in METHODS:
        raise ValueError(f"unknown search method {method!r}; expected one of {METHODS}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    traits = method_traits(method, preset)
    if traits.features and embeddings is None:
        raise ValueError(f"method {method!r} searches the latent space: pass --embeddings PATH")
    proto = get_protocol(protocol, dataset, cost=cost)
    device_mesh = make_mesh(devices, mesh)
    if table is None:
        table = load_nb201(data_dir, source=source, test_data=test_data)
    emb = load_embeddings(embeddings) if embeddings is not None else None
    pool = build_pool(
        table,
        proto,
        embeddings=emb,
        budget_s=budget_s,
        signal_seed=signal_seed,
        with_neighbours=traits.neighbours,
    )
    seed_ids = np.arange(seed_start, seed_start + seeds, dtype=np.int64)
    desc = f"{method}/{preset} {dataset}" if progress else False
    out = run_method(method, preset, pool, seed_ids, chunk_steps=chunk_steps, progress=desc, mesh=device_mesh)
    extra = {
        "signal": proto.signal,
        "cost": proto.cost,
        "signal_seed": signal_seed,
        "seed_ids": [int(seed_ids[0]), int(seed_ids[-1])],
        "table_source": table.source,
        "table_path": table.path,
        "embeddings": None if emb is None else {"path": emb.path, **_jsonable(emb.meta)},
        "sharding": describe(device_mesh),
    }
    return summarize(
        table, proto, pool, out, method=method, preset=preset, trajectories=trajectories, extra=extra
    )


def _jsonable(d: dict) -> dict:
    return {k: (v if isinstance(v, str | int | float | bool) or v is None else str(v)) for k, v in d.items()}


def write_report(report: dict, path: str | os.PathLike) -> Path:
    """Writes the report as JSON (parent directories created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    tmp.replace(path)
    return path


def format_summary(summary: dict) -> str:
    """One human line: ``rl/paper cifar10: valid 91.32 +- 0.42, test ...``."""

    def pm(m, s):
        return "n/a" if m is None else f"{m:.2f} +- {s:.2f}"

    test = pm(summary["test_mean"], summary["test_std"])
    if summary.get("test_source") is None and summary["test_mean"] is None:
        test = "n/a (no test accuracies configured: --test-data PATH, see the summary's test_note)"

    mq = summary["median_queries_to_best"]
    return (
        f"{summary['method']}/{summary['preset']} {summary['dataset']} ({summary['protocol']}, "
        f"{summary['seeds']} seeds, {summary['budget_s']:.0f} s budget): "
        f"valid {pm(summary['valid_mean'], summary['valid_std'])}, "
        f"test {test}, found best {summary['frac_found_best']:.3f}"
        f"{'' if mq is None else f' (median {mq:.0f} queries)'}, {summary['mean_queries']:.1f} queries/seed, "
        f"wall {summary['wall_s']:.1f} s on {summary['device']}"
    )
