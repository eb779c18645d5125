"""The whole NAS-Bench-101 space (:func:`a2v_jax.spaces.nb101.enumerate_cells`), cached as one ``.npz``.

``python -m a2v_jax.data enumerate nb101 [--out PATH] [--cache-dir DIR] [--max-vertices 2..7]
[--workers N] [--no-progress]`` enumerates and writes the file; :func:`enumerate_nb101` loads it (or
enumerates once and caches it), about 0.1 s from the cache against under a minute cold on 2 cores.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from a2v_jax.data import cache, paths
from a2v_jax.spaces.nb101 import NUM_CELLS, NUM_NODES, NB101Cells, enumerate_cells, enumerate_space

#: Cache file of :func:`enumerate_nb101` inside the cache directory.
CACHE_FILE = "nb101_cells_v1.npz"
_FORMAT_VERSION = 1


def save_cells(cells: NB101Cells, path: str | os.PathLike) -> Path:
    """Writes ``cells`` to a compressed ``.npz`` (atomically: a temporary file, then a rename)."""
    path = Path(path)
    arrays = {
        "format_version": np.int64(_FORMAT_VERSION),
        "hashes": cells.hashes,
        "num_vertices": cells.num_vertices,
        "edge_bits": cells.edge_bits,
        "ops": cells.ops,
    }
    paths.save_npz_atomic(path, arrays, compress=True)
    return path


def load_cells(path: str | os.PathLike) -> NB101Cells:
    """Reads a file written by :func:`save_cells`; raises ValueError naming the file and the problem."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f"cannot read NB101 cell cache {path}: {e} (delete it to enumerate again)") from e
    expected = {
        "hashes": (np.uint8, 2),
        "num_vertices": (np.uint8, 1),
        "edge_bits": (np.uint32, 1),
        "ops": (np.int8, 2),
    }
    if int(data.get("format_version", -1)) != _FORMAT_VERSION:
        raise ValueError(
            f"NB101 cell cache {path} has format {data.get('format_version')}, expected {_FORMAT_VERSION}"
        )
    for key, (dtype, ndim) in expected.items():
        arr = data.get(key)
        if arr is None or arr.dtype != dtype or arr.ndim != ndim:
            raise ValueError(
                f"NB101 cell cache {path}: field {key!r} missing or not {np.dtype(dtype)} {ndim}-d"
            )
    p = data["num_vertices"].shape[0]
    if (
        data["hashes"].shape != (p, 16)
        or data["edge_bits"].shape != (p,)
        or data["ops"].shape != (p, NUM_NODES)
    ):
        raise ValueError(f"NB101 cell cache {path}: fields have inconsistent shapes")
    return NB101Cells(data["hashes"], data["num_vertices"], data["edge_bits"], data["ops"])


def cache_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Cache file of :func:`enumerate_nb101`: under ``cache_dir``, else ``$A2V_CACHE_DIR``, else ~/.cache."""
    return paths.cache_dir(cache_dir) / CACHE_FILE


def enumerate_nb101(
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    *,
    workers: int | None = None,
    refresh: bool = False,
) -> NB101Cells:
    """All 423,624 NAS-Bench-101 cells, enumerated once and cached as ``.npz``.

    Args:
      cache_dir: cache directory; None uses ``$A2V_CACHE_DIR``, else ``~/.cache/a2v_jax``.
      progress: show a tqdm bar while enumerating.
      workers: hashing processes (see :func:`~a2v_jax.spaces.nb101.enumerate_cells`).
      refresh: enumerate again even if the cache exists.

    Returns:
      The cells sorted by hash.
    """

    def read(path: Path) -> NB101Cells:
        cells = load_cells(path)
        if len(cells) != NUM_CELLS:
            raise ValueError(
                f"NB101 cell cache {path} has {len(cells)} cells, expected {NUM_CELLS}; delete it"
            )
        return cells

    def write(cells: NB101Cells, path: Path) -> bool:
        save_cells(cells, path)
        return True

    return cache.load_or_build(
        cache_path(cache_dir),
        rebuild=refresh,
        read=read,
        build=lambda: enumerate_space(progress=progress, workers=workers),
        write=write,
    )


def write_enumeration(
    out: Path, max_vertices: int = NUM_NODES, *, workers: int | None = None, progress: bool = True
) -> list[str]:
    """Enumerates the cells of up to ``max_vertices`` vertices into ``out``; returns a report (lines)."""
    t0 = time.perf_counter()
    cells = enumerate_cells(max_vertices, progress=progress, workers=workers)
    t1 = time.perf_counter()
    save_cells(cells, out)
    t2 = time.perf_counter()
    load_cells(out)
    t3 = time.perf_counter()
    return [
        f"{len(cells)} cells {cells.counts_by_vertices()}",
        f"enumerate {t1 - t0:.1f} s, save {t2 - t1:.1f} s, load {t3 - t2:.3f} s",
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)",
    ]
