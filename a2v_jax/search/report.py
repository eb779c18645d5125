"""What every search report shares: seed keys, queries-to-best, statistics and the strict JSON writer.

The drivers (:mod:`a2v_jax.search.nb201`, :mod:`a2v_jax.search.nb101`, :mod:`a2v_jax.search.darts`)
build their own reports from these pieces; :func:`write_json` writes any of them atomically.
"""

from __future__ import annotations

import collections
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from a2v_jax.data.paths import write_atomic


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


def finite_or_null(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, +-inf) replaced by None, at any depth (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_or_null(v) for v in obj]
    return obj


def check_output(path: str | os.PathLike, *, directory: bool = False) -> Path:
    """Checks, before any work, that the report can be written at ``path``; returns it as a Path.

    The parent directories are created (a run writes there anyway) and a probe file is written and
    removed, so a read-only or special file system fails now, not after the search.

    Args:
      path: the output file (``directory=False``) or directory.
      directory: ``path`` names a directory (the DARTS search writes several files into it).

    Raises:
      ValueError: naming the path and why it cannot be written.
    """
    path = Path(path)
    what = "--out"
    if not directory and path.is_dir():
        raise ValueError(f"{what} {path} is a directory; name the report's file, e.g. {path / 'report.json'}")
    if directory and path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path} is a file; name a directory")
    folder = path if directory else path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".a2v-write-check-"):
            pass
    except (FileExistsError, NotADirectoryError):
        raise ValueError(f"{what} {path}: a parent of it is a file, not a directory") from None
    except OSError as e:
        raise ValueError(f"{what} {path}: cannot write into {folder} ({e.strerror or e})") from None
    return path


def write_json(obj: Any, path: str | os.PathLike, *, indent: int = 1) -> Path:
    """Writes ``obj`` as strict JSON atomically (a temporary file renamed over ``path``); returns the path.

    Parent directories are created. Non-finite floats are written as ``null`` (strict JSON has no NaN
    or infinity; reports document which fields may be null). On any failure the temporary file is
    removed and nothing is left at ``path``'s place.
    """
    path = Path(path)
    text = json.dumps(finite_or_null(obj), indent=indent, allow_nan=False) + "\n"
    write_atomic(path, lambda f: f.write(text.encode()))
    return path


def most_found(
    arch_str: list[str | None], valid: list[float | None], test: list[float | None]
) -> dict | None:
    """The architecture most seeds ended on: its ``arch_str``, share of seeds and accuracies (or None)."""
    counts = collections.Counter(a for a in arch_str if a is not None)
    if not counts:
        return None
    arch, n = counts.most_common(1)[0]
    i = arch_str.index(arch)
    return {
        "arch_str": arch,
        "seeds": n,
        "share": n / len(arch_str),
        "valid_mean": valid[i],
        "test_mean": test[i],
    }


def most_found_line(top: dict | None, seeds: int) -> str:
    """The printed line for :func:`most_found`'s result (empty when no seed found a cell)."""
    if not top:
        return ""
    t = "n/a" if top["test_mean"] is None else f"{top['test_mean']:.2f}"
    return (
        f"\n  most found: {top['arch_str']} in {top['seeds']} of {seeds} seeds "
        f"({100 * top['share']:.0f} %), valid {top['valid_mean']:.2f}, test {t}"
    )
