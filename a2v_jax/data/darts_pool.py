"""The DARTS pool (:func:`a2v_jax.spaces.darts.generate_pool`), cached as one ``.npz``.

:func:`load_pool` draws the pool of ``n`` unique cells of a seed once and caches it under
``$A2V_CACHE_DIR`` (default ``~/.cache/a2v_jax``); the file records the sampler's key and a sha256 of
its arrays, and a corrupt file raises :class:`~a2v_jax.data.DataError` naming it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from a2v_jax.data import cache, paths
from a2v_jax.data._errors import DataError
from a2v_jax.spaces.darts import (
    MAX_MACS,
    NUM_SLOTS,
    PAPER_POOL_SIZE,
    DARTSPool,
    cells_macs,
    cells_valid,
    generate_pool,
)

#: Bumped whenever the sampler, the hash or the cached layout changes.
_POOL_FORMAT = 1


def pool_cache_file(
    n: int, seed: int, max_macs: int = MAX_MACS, cache_dir: str | os.PathLike | None = None
) -> Path:
    """Where :func:`load_pool` caches the pool of ``n`` cells drawn with ``seed``."""
    return paths.cache_dir(cache_dir) / f"darts-pool-v{_POOL_FORMAT}-n{n}-seed{seed}-macs{max_macs}.npz"


def _pool_checksum(cells: np.ndarray, macs: np.ndarray, hashes: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in (cells, macs, hashes):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _write_pool(pool: DARTSPool, path: Path) -> bool:
    meta = {
        "format": _POOL_FORMAT,
        "n": len(pool),
        "seed": pool.seed,
        "max_macs": pool.max_macs,
        "drawn": pool.drawn,
        "checksum": _pool_checksum(pool.cells, pool.macs, pool.hashes),
    }
    arrays = {"cells": pool.cells, "macs": pool.macs, "hashes": pool.hashes}
    return paths.write_npz_atomic(
        path,
        meta,
        arrays,
        what="DARTS pool",
        otherwise="it will be sampled again",
        compress=True,
        stacklevel=4,
    )


def _read_pool(path: Path, n: int, seed: int, max_macs: int) -> DARTSPool:
    def corrupt(why: str) -> DataError:
        return DataError(
            f"corrupted DARTS pool cache {path}: {why}. Delete it (rm '{path}') or pass rebuild_cache=True"
        )

    key = {"format": _POOL_FORMAT, "n": n, "seed": seed, "max_macs": max_macs}
    meta, arrays = cache.read_npz(path, corrupt, key=key, arrays=("cells", "macs", "hashes"))
    cells, macs, hashes = arrays["cells"], arrays["macs"], arrays["hashes"]
    if (
        cells.shape != (n, NUM_SLOTS, 2)
        or macs.shape != (n,)
        or hashes.shape != (n,)
        or hashes.dtype != "S32"
    ):
        raise corrupt(
            f"array shapes {cells.shape} / {macs.shape} / {hashes.shape} {hashes.dtype}, expected n={n}"
        )
    if _pool_checksum(cells, macs, hashes) != meta.get("checksum"):
        raise corrupt("the arrays' sha256 does not match the recorded checksum")
    if (
        not cells_valid(cells).all()
        or not np.array_equal(cells_macs(cells), macs)
        or (macs >= max_macs).any()
    ):
        raise corrupt("cells are not valid DARTS cells under the multiply-add limit")
    for a in (cells, macs, hashes):
        a.setflags(write=False)
    return DARTSPool(
        cells, macs, hashes, seed, max_macs, int(meta["drawn"]), from_cache=True, cache_file=str(path)
    )


def load_pool(
    n: int = PAPER_POOL_SIZE,
    seed: int = 0,
    *,
    max_macs: int = MAX_MACS,
    cache_dir: str | os.PathLike | None = None,
    rebuild_cache: bool = False,
    use_cache: bool = True,
    progress: bool = True,
    workers: int = 1,
) -> DARTSPool:
    """The pool of ``n`` unique cells of ``seed`` (:func:`~a2v_jax.spaces.darts.generate_pool`), cached.

    Args:
      n: pool size (the paper: 600,000).
      seed: sampler seed.
      max_macs: multiply-add limit of the ImageNet network.
      cache_dir: where the cache lives (else ``$A2V_CACHE_DIR``, else ``~/.cache/a2v_jax``).
      rebuild_cache: sample again even if a cache exists, and overwrite it.
      use_cache: False neither reads nor writes a cache.
      progress: tqdm bar while sampling.
      workers: hashing processes while sampling.

    Returns:
      The pool; ``pool.from_cache`` tells whether it came from the cache.

    Raises:
      DataError: a cache file that exists but is corrupt, naming it and how to remove it.
    """
    return cache.load_or_build(
        pool_cache_file(n, seed, max_macs, cache_dir) if use_cache else None,
        rebuild=rebuild_cache,
        read=lambda path: _read_pool(path, n, seed, max_macs),
        build=lambda: generate_pool(n, seed, max_macs=max_macs, progress=progress, workers=workers),
        write=_write_pool,
        written=lambda pool, path: DARTSPool(
            pool.cells, pool.macs, pool.hashes, pool.seed, pool.max_macs, pool.drawn, cache_file=str(path)
        ),
    )
