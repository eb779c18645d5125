"""What every search report shares: seed keys, queries-to-best, statistics and the strict JSON writer.

The drivers (:mod:`a2v_jax.search.nb201`, :mod:`a2v_jax.search.nb101`, :mod:`a2v_jax.search.darts`)
build their own reports from these pieces; :func:`write_json` writes any of them atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def seed_ids(seed_start: int, seeds: int) -> np.ndarray:
    """``(S,)`` int64 seed ids ``seed_start .. seed_start + seeds - 1``."""
    return np.arange(seed_start, seed_start + seeds, dtype=np.int64)


def seed_keys(seeds: np.ndarray) -> jax.Array:
    """``(S,)`` run keys, ``jax.random.key(seed)`` for each seed id."""
    return jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))


def queries_to_best(
    accepted: np.ndarray, incumbents: np.ndarray, best_idx: np.ndarray, target: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which seeds found the ``target`` pool index, and after how many queries.

    Args:
      accepted: ``(S, T)`` bool, the step made a query.
      incumbents: ``(S, T)`` pool index of the incumbent after each step.
      best_idx: ``(S,)`` the final incumbent of each seed.
      target: the pool index a perfect search finds.

    Returns:
      ``(found (S,) bool, queries (F,) int)``: ``queries`` holds, for each of the ``F`` seeds that
      found it, the 1-based query at which ``target`` became the incumbent.
    """
    s = best_idx.shape[0]
    found = best_idx == target
    n_acc = np.cumsum(accepted, axis=1)  # (S, T)
    hit = accepted & (incumbents == target)
    first = np.where(hit.any(axis=1), n_acc[np.arange(s), np.argmax(hit, axis=1)], -1)
    return found, first[found & (first > 0)]


def median_or_none(x: np.ndarray) -> float | None:
    """The median, None for an empty array."""
    return float(np.median(x)) if x.size else None


def stats(x: np.ndarray) -> tuple[float | None, float | None]:
    """Mean and population std (``ddof=0``) of the finite entries; ``(None, None)`` if none."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None, None
    return float(np.mean(x)), float(np.std(x))


def num(x: float) -> float | None:
    """``x`` as a float, None where it is not finite (strict JSON has no NaN)."""
    return None if not np.isfinite(x) else float(x)


def running_max(x: np.ndarray) -> np.ndarray:
    """The running maximum of a 1-d array (empty stays empty)."""
    return np.maximum.accumulate(x) if x.size else x


def plus_minus(mean: float | None, std: float | None, scale: float = 1.0, digits: int = 2) -> str:
    """``"mean +- std"`` (both times ``scale``) with ``digits`` decimals, ``n/a`` for a None mean."""
    return "n/a" if mean is None else f"{mean * scale:.{digits}f} +- {std * scale:.{digits}f}"


def jsonable(d: dict) -> dict:
    """The dict with every value that is not a JSON scalar written as its ``str``."""
    return {k: (v if isinstance(v, str | int | float | bool) or v is None else str(v)) for k, v in d.items()}


def write_json(obj: Any, path: str | os.PathLike, *, indent: int = 1, allow_nan: bool = False) -> Path:
    """Writes ``obj`` as JSON atomically (a ``.tmp`` file renamed over ``path``); returns the path.

    Parent directories are created. ``allow_nan=False`` (the default) is strict JSON: a NaN or an
    infinity raises ValueError instead of writing a file other parsers reject.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=indent, allow_nan=allow_nan) + "\n")
    tmp.replace(path)
    return path
