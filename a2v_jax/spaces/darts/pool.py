"""The original DARTS sampler and its pool of unique cells under a multiply-add limit.

The original draws cells (each block: 2 distinct inputs uniformly from ``range(b + 2)``, 2 ops
uniformly from the 8), keeps those whose ImageNet network has < 600M multiply-adds
(:mod:`a2v_jax.spaces.darts_macs`), deduplicates by NAS-Bench-101's isomorphism-invariant graph hash,
and stops at 600,000 cells. :func:`generate_pool` does the same from a seed; the cached pool is
:func:`a2v_jax.data.darts_pool.load_pool`.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from a2v_jax.spaces.darts.cells import cell_hashes, genotype_from_cell
from a2v_jax.spaces.darts.genotypes import CELL_OPS, NUM_BLOCKS, NUM_SLOTS, Genotype, as_genotype
from a2v_jax.spaces.darts_macs import IMAGENET, NetworkSpec, cells_cost, network_macs, slot_table

#: arch2vec keeps cells whose ImageNet network has fewer multiply-adds than this (reference §2.3).
MAX_MACS = 600_000_000
#: Size of arch2vec's DARTS pool.
PAPER_POOL_SIZE = 600_000


@functools.cache
def _mac_table(net: NetworkSpec):
    return slot_table(net, "macs")


def cells_macs(cells: np.ndarray, net: NetworkSpec = IMAGENET) -> np.ndarray:
    """Multiply-adds of ``net`` built from each cell array (normal = reduction cell), thop rules.

    Args:
      cells: ``(P, 8, 2)`` cell arrays.
      net: the network (default arch2vec's ImageNet filter network).

    Returns:
      ``(P,)`` int64, equal to :func:`~a2v_jax.spaces.darts_macs.network_macs` per cell.
    """
    return cells_cost(cells, _mac_table(net))


def genotype_macs(arch: Any, net: NetworkSpec = IMAGENET) -> int:
    """Multiply-adds of ``net`` built from a genotype (any reduce cell), thop rules."""
    return network_macs(as_genotype(arch), net)


# --------------------------------------------------------------------------- sampler and pool


def sample_cells(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` cells from the original sampler's distribution (no MAC filter, no dedup).

    Each block picks an ordered pair of distinct inputs uniformly from ``range(b + 2)`` and two ops
    uniformly (independently) from the 8 DARTS ops, ``none`` included.

    Returns:
      ``(n, 8, 2)`` int8 cell arrays.
    """
    ops = rng.integers(0, len(CELL_OPS), size=(n, NUM_SLOTS))
    src = np.empty((n, NUM_SLOTS), dtype=np.int64)
    for block in range(NUM_BLOCKS):
        first = rng.integers(0, block + 2, size=n)
        second = rng.integers(0, block + 1, size=n)
        src[:, 2 * block] = first
        src[:, 2 * block + 1] = second + (second >= first)  # uniform over the other block + 1 nodes
    return np.stack([ops, src], axis=-1).astype(np.int8)


#: Candidates drawn per round; fixed so that a pool of n cells is a prefix of any larger pool of
#: the same seed.
SAMPLE_BATCH = 8192


@dataclass(frozen=True, eq=False)
class DARTSPool:
    """Unique cells drawn by the original sampler, in acceptance order.

    Attributes:
      cells: ``(P, 8, 2)`` int8 cell arrays.
      macs: ``(P,)`` int64 ImageNet multiply-adds of each cell (all ``< max_macs``).
      hashes: ``(P,)`` ``|S32`` hex graph fingerprints (all distinct).
      seed: the ``numpy`` Generator seed it was drawn with.
      max_macs: the multiply-add limit.
      drawn: candidates drawn to get ``P`` cells.
    """

    cells: np.ndarray  # (P, 8, 2) int8
    macs: np.ndarray  # (P,) int64
    hashes: np.ndarray  # (P,) |S32
    seed: int
    max_macs: int
    drawn: int
    from_cache: bool = False
    cache_file: str | None = None

    def __len__(self) -> int:
        return self.cells.shape[0]

    def genotype(self, i: int) -> Genotype:
        """The genotype of cell ``i``."""
        return genotype_from_cell(self.cells[i])


_HASH_CHUNK = 512


def _hash_chunks(executor, cells: np.ndarray, workers: int) -> list[str]:
    if executor is None or len(cells) < 2 * workers:
        return cell_hashes(cells)
    chunks = np.array_split(cells, workers)
    return [h for part in executor.map(cell_hashes, chunks) for h in part]


def generate_pool(
    n: int, seed: int, *, max_macs: int = MAX_MACS, progress: bool = False, workers: int = 1
) -> DARTSPool:
    """Draws cells until ``n`` unique ones under ``max_macs`` are kept (the original's loop).

    Candidates come in rounds of :data:`SAMPLE_BATCH` from ``np.random.default_rng(seed)``; each
    candidate under the limit is kept unless its graph fingerprint was seen, in draw order. The
    fingerprints (pure Python MD5, the slow part) can be computed by ``workers`` processes; the
    result does not depend on ``workers``.

    Args:
      n: number of cells (the paper: 600,000).
      seed: Generator seed; the same seed gives the same cells, and a pool is a prefix of any larger
        pool of that seed.
      max_macs: keep cells whose ImageNet network has fewer multiply-adds.
      progress: show a tqdm bar.
      workers: processes hashing candidates (1: in this process).

    Returns:
      The :class:`DARTSPool`.
    """
    if n < 0:
        raise ValueError(f"pool size must be >= 0, got {n}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    cells: list[np.ndarray] = []
    hashes: list[str] = []
    drawn = 0
    with contextlib.ExitStack() as stack:
        executor = None
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold JAX threads
            executor = stack.enter_context(ProcessPoolExecutor(workers, mp_context=ctx))
        bar = None
        if progress:
            from tqdm import tqdm

            bar = stack.enter_context(tqdm(total=n, unit="cell", desc="sampling DARTS cells"))
        while len(hashes) < n:
            batch = sample_cells(rng, SAMPLE_BATCH)
            accepted = np.flatnonzero(cells_macs(batch) < max_macs)
            kept_before = len(hashes)
            drawn += SAMPLE_BATCH
            # Hash in chunks so that a small pool does not hash a whole round.
            for start in range(0, len(accepted), _HASH_CHUNK * workers):
                part = accepted[start : start + _HASH_CHUNK * workers]
                for i, h in zip(part, _hash_chunks(executor, batch[part], workers), strict=True):
                    if h not in seen:
                        seen.add(h)
                        hashes.append(h)
                        cells.append(batch[i])
                        if len(hashes) == n:
                            drawn += int(i) + 1 - SAMPLE_BATCH
                            break
                if len(hashes) == n:
                    break
            if bar is not None:
                bar.update(len(hashes) - kept_before)
    cell_arr = np.stack(cells).astype(np.int8) if cells else np.zeros((0, NUM_SLOTS, 2), np.int8)
    return DARTSPool(
        cells=cell_arr,
        macs=cells_macs(cell_arr),
        hashes=np.array(hashes, dtype="S32").reshape(-1),
        seed=int(seed),
        max_macs=int(max_macs),
        drawn=drawn,
    )
