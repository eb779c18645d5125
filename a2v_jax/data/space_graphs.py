"""What a space pre-trains on: :func:`pretraining_graphs`, its graphs in the order that defines the split.

=========  ==================================  =========================  ======================
space      graphs (order)                      ``arch_str``               ``index``
=========  ==================================  =========================  ======================
``nb201``  15,625 cells in the benchmark's     NB201 arch string          benchmark index
           index order (generated, no table)
``nb101``  423,624 cells, 7 nodes zero-padded  the cell's module hash     table row (arch2vec's
           (output at ``n - 1``, node mask);   (32 hex, the benchmark's   key) or -1
           ``nasbench.hash_iterator()`` order  ``module_hash``)
           with a table (arch2vec's key
           order), else our enumeration's
           (sorted by hash)
``darts``  the sampled pool (600,000 cells,    16-digit cell id           -1 (no benchmark)
           11 nodes) in acceptance order, the  (:func:`a2v_jax.spaces.
           original's key order                darts.cell_codes`)
=========  ==================================  =========================  ======================

``subset=N`` keeps the first N of that order. For DARTS the first N cells of the pool are the pool of
N cells drawn with the same seed (the sampler's prefix property), so a small subset is sampled in
seconds instead of loading or drawing all 600,000. Each space's reader is registered in
:data:`READERS` under the space's name.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from a2v_jax.data._errors import DataError
from a2v_jax.data.darts_pool import load_pool, pool_cache_file
from a2v_jax.data.nb101 import ENV_NB101_DIR, enumerate_nb101, load_nb101
from a2v_jax.data.nb201 import load_nb201
from a2v_jax.spaces import SearchSpace
from a2v_jax.spaces.darts import cell_codes, encode_cells
from a2v_jax.spaces.nb201 import arch_str_from_codes, benchmark_codes, encode_codes


class SpaceGraphs(NamedTuple):
    """A space's graphs in split order: numpy arrays, one row per architecture."""

    adjacency: np.ndarray  # (P, N, N) uint8
    ops: np.ndarray  # (P, N, C) float32 one-hot
    arch_str: np.ndarray  # (P,) str
    index: np.ndarray  # (P,) int64 benchmark index, or -1
    order: str  # "benchmark" or "enumeration"


def pretraining_graphs(
    space: SearchSpace, data_dir: str | None = None, subset: int | None = None, progress: bool = True
) -> SpaceGraphs:
    """Every architecture of ``space`` (or the first ``subset``) as graphs, in its split order.

    NB201 always uses the benchmark's index order, generated as its authors did
    (:func:`~a2v_jax.spaces.nb201.benchmark_codes`); a ``data_dir`` given for NB201 is checked to list
    the cells in that order. NB101 uses the benchmark's ``hash_iterator()`` order when ``data_dir`` or
    ``$A2V_NB101_DIR`` names the official ``.tfrecord``, with the benchmark's stored graphs (arch2vec's
    ``data.json``); otherwise the space's cells (given, else the cached enumeration), sorted by hash. A
    configured table that fails to load raises its :class:`~a2v_jax.data.DataError`; nothing falls
    back silently. DARTS is the space's pool (cached).

    Args:
      space: the search space (``nb201``, ``nb101`` or ``darts``).
      data_dir: the space's benchmark table location (NB201 / NB101), else the environment's.
      subset: keep only the first ``subset`` architectures of the order.
      progress: progress bars while enumerating or sampling (first use only; then cached).

    Raises:
      NotImplementedError: no reader for the space.
    """
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be at least 1, got {subset}")
    try:
        read = READERS[space.name]
    except KeyError:
        raise NotImplementedError(f"pretraining data for space {space.name!r} is not available") from None
    graphs = read(space, data_dir, subset, progress)
    keep = slice(None) if subset is None else slice(0, subset)
    return SpaceGraphs(*(a[keep] for a in graphs[:4]), graphs.order)


def _nb201(space: SearchSpace, data_dir: str | None, subset: int | None, progress: bool) -> SpaceGraphs:
    codes = benchmark_codes()  # the benchmark's own index order, no table needed
    arch = np.array([arch_str_from_codes(c) for c in codes])
    if data_dir is not None:  # a table given explicitly must list the cells in that order
        table = load_nb201(data_dir)
        r = np.flatnonzero(np.asarray(table.arch_str).astype(str) != arch)
        if r.size:
            raise DataError(
                f"{table.path}: row {r[0]} is {table.arch_str[r[0]]!r}, but NAS-Bench-201 index {r[0]} is "
                f"{arch[r[0]]!r}: the table is not in the benchmark's index order"
            )
    adj, ops = encode_codes(codes)
    return SpaceGraphs(adj, ops, arch, np.arange(len(arch), dtype=np.int64), "benchmark")


def _nb101(space: SearchSpace, data_dir: str | None, subset: int | None, progress: bool) -> SpaceGraphs:
    keep = slice(None) if subset is None else slice(0, subset)
    if data_dir is not None or os.environ.get(ENV_NB101_DIR):
        table = load_nb101(data_dir, progress=progress)
        adj = np.asarray(table.adjacency[keep])
        ops = table.ops_onehot()[keep].astype(np.float32)
        arch = np.asarray(table.hash[keep]).astype(str)
        index = np.arange(len(table), dtype=np.int64)[keep]
        return SpaceGraphs(adj, ops, arch, index, "benchmark")
    cells = space.cells if space.has_cells else enumerate_nb101(space.cache_dir, space.progress)
    if subset is not None:
        cells = dataclasses.replace(
            cells,
            hashes=cells.hashes[keep],
            num_vertices=cells.num_vertices[keep],
            edge_bits=cells.edge_bits[keep],
            ops=cells.ops[keep],
        )
    adj, ops = cells.encode()
    arch = np.array([bytes(h).hex() for h in cells.hashes])
    return SpaceGraphs(adj, ops, arch, np.full(len(cells), -1, dtype=np.int64), "enumeration")


def _darts(space: SearchSpace, data_dir: str | None, subset: int | None, progress: bool) -> SpaceGraphs:
    n = space.pool_size if subset is None else min(subset, space.pool_size)
    cached = pool_cache_file(space.pool_size, space.seed, space.max_macs, space.cache_dir).is_file()
    if space.has_pool:
        cells = space.pool.cells[:n]
    elif n == space.pool_size or cached:  # the whole pool, or a prefix of the cached one
        pool = load_pool(space.pool_size, space.seed, max_macs=space.max_macs, cache_dir=space.cache_dir)
        cells = pool.cells[:n]
    else:  # a prefix of the pool is the pool of that size: sample it, do not cache it
        cells = load_pool(n, space.seed, max_macs=space.max_macs, use_cache=False, progress=progress).cells
    adj, ops = encode_cells(cells)
    return SpaceGraphs(adj, ops, cell_codes(cells), np.full(len(cells), -1, dtype=np.int64), "enumeration")


#: Space name -> reader ``(space, data_dir, subset, progress) -> SpaceGraphs`` (before the subset cut).
READERS: dict[str, Callable[[SearchSpace, str | None, int | None, bool], SpaceGraphs]] = {
    "nb201": _nb201,
    "nb101": _nb101,
    "darts": _darts,
}
