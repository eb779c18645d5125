"""What pretraining trains on and how it scores the prior, for every space.

:func:`load_space_dataset` encodes a space's architectures in the order that defines the
original's split (first 90 % train, reference §4); :func:`prior_validity` scores graphs decoded
from the prior (reference §5).

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

``subset=N`` keeps the first N of that order. For DARTS the first N cells of the pool are the
pool of N cells drawn with the same seed (the sampler's prefix property), so a small subset is
sampled in seconds instead of loading or drawing all 600,000.

Load times and memory per space: ``docs/pretraining.md``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from a2v_jax.pretrain.graphs import GraphBatch, make_graph_batch
from a2v_jax.spaces import SearchSpace, graph_rows_hash


@dataclass(frozen=True)
class SpaceDataset:
    """All graphs of a space in the order that defines the train/validation split."""

    graphs: GraphBatch  # numpy leaves, (P, ...)
    arch_str: np.ndarray  # (P,) str
    index: np.ndarray  # (P,) int64 benchmark index, or -1
    order: str  # "benchmark" or "enumeration"


def num_train_graphs(num_graphs: int, val_fraction: float = 0.1) -> int:
    """The original's training-set size, ``int((1 - val_fraction) * N)``: the first graphs train.

    Computed in exact arithmetic (``val_fraction`` read as the decimal it prints as), so 15,625 NB201
    cells give 14,062 / 1,563 and 423,624 NB101 cells 381,261 / 42,363, as the original's
    ``int(0.9 * N)``.
    """
    return math.floor(num_graphs * (1 - Fraction(repr(val_fraction))))


def load_space_dataset(
    space: SearchSpace, data_dir: str | None = None, subset: int | None = None, progress: bool = True
) -> SpaceDataset:
    """Encodes every architecture of ``space`` (or the first ``subset``) in its split order.

    NB201 always uses the benchmark's index order, generated as its authors did
    (:func:`~a2v_jax.spaces.nb201.benchmark_codes`); a ``data_dir`` given for NB201 is checked to list
    the cells in that order. NB101 uses the benchmark's
    ``hash_iterator()`` order when ``data_dir`` or ``$A2V_NB101_DIR`` names the official
    ``.tfrecord``, with the benchmark's stored graphs (arch2vec's ``data.json``); otherwise our
    own enumeration of the space, sorted by hash. A configured table that fails to load raises
    its :class:`~a2v_jax.data.DataError`; nothing falls back silently. DARTS is the space's pool.

    Args:
      space: the search space (``nb201``, ``nb101`` or ``darts``).
      data_dir: the space's benchmark table location (NB201 / NB101), else the environment's.
      subset: keep only the first ``subset`` architectures of the order.
      progress: progress bars while enumerating or sampling (first use only; then cached).

    Returns:
      The :class:`SpaceDataset`; ``order`` is ``"benchmark"`` or ``"enumeration"``.
    """
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be at least 1, got {subset}")
    if space.name == "nb201":
        adj, ops, arch, index, order = _nb201(data_dir)
    elif space.name == "nb101":
        adj, ops, arch, index, order = _nb101(space, data_dir, subset, progress)
    elif space.name == "darts":
        adj, ops, arch, index, order = _darts(space, subset, progress)
    else:
        raise NotImplementedError(f"pretraining data for space {space.name!r} is not available")
    keep = slice(None) if subset is None else slice(0, subset)
    return SpaceDataset(make_graph_batch(adj[keep], ops[keep]), arch[keep], index[keep], order)


def _nb201(data_dir):
    from a2v_jax.spaces.nb201 import arch_str_from_codes, benchmark_codes, encode_codes

    codes = benchmark_codes()  # the benchmark's own index order, no table needed
    arch = np.array([arch_str_from_codes(c) for c in codes])
    if data_dir is not None:  # a table given explicitly must list the cells in that order
        from a2v_jax.data import DataError, load_nb201

        table = load_nb201(data_dir)
        r = np.flatnonzero(np.asarray(table.arch_str).astype(str) != arch)
        if r.size:
            raise DataError(
                f"{table.path}: row {r[0]} is {table.arch_str[r[0]]!r}, but NAS-Bench-201 index {r[0]} is "
                f"{arch[r[0]]!r}: the table is not in the benchmark's index order"
            )
    adj, ops = encode_codes(codes)
    return adj, ops, arch, np.arange(len(arch), dtype=np.int64), "benchmark"


def _nb101(space, data_dir, subset, progress):
    from a2v_jax.data.nb101 import ENV_NB101_DIR, load_nb101

    if data_dir is not None or os.environ.get(ENV_NB101_DIR):
        table = load_nb101(data_dir, progress=progress)
        keep = slice(None) if subset is None else slice(0, subset)
        adj = np.asarray(table.adjacency[keep])
        ops = table.ops_onehot()[keep].astype(np.float32)
        arch = np.asarray(table.hash[keep]).astype(str)
        index = np.arange(len(table), dtype=np.int64)[keep]
        return adj, ops, arch, index, "benchmark"
    cells = space.cells
    if subset is not None:
        cells = dataclasses.replace(
            cells,
            hashes=cells.hashes[:subset],
            num_vertices=cells.num_vertices[:subset],
            edge_bits=cells.edge_bits[:subset],
            ops=cells.ops[:subset],
        )
    adj, ops = cells.encode()
    arch = np.array([bytes(h).hex() for h in cells.hashes])
    return adj, ops, arch, np.full(len(cells), -1, dtype=np.int64), "enumeration"


def _darts(space, subset, progress):
    from a2v_jax.spaces.darts import cell_codes, encode_cells, load_pool, pool_cache_file

    n = space.pool_size if subset is None else min(subset, space.pool_size)
    cached = pool_cache_file(space.pool_size, space.seed, space.max_macs, space.cache_dir).is_file()
    if n == space.pool_size or cached:
        cells = space.pool.cells[:n]  # the whole pool, or a prefix of the cached one
    else:  # a prefix of the pool is the pool of that size: sample it, do not cache it
        pool = load_pool(n, space.seed, max_macs=space.max_macs, use_cache=False, progress=progress)
        cells = pool.cells
    adj, ops = encode_cells(cells)
    return adj, ops, cell_codes(cells), np.full(len(cells), -1, dtype=np.int64), "enumeration"


# --------------------------------------------------------------------------- prior metrics


def _unique_fraction(keys: list, count: int) -> float:
    return len(set(keys)) / count if count else 0.0


def decoded_graph_hashes(space_name: str, adj: np.ndarray, op_idx: np.ndarray) -> list[str]:
    """The original's uniqueness key of decoded graphs: ``graph_util.hash_module(A, labels)``.

    The hash of the graph as decoded (``triu(A, 1)``, nothing pruned), labelled by its op column;
    isomorphism-invariant, so isomorphic decodings share a key. The original labels vertices with
    one-hot rows, integer columns give the same partition.

    Args:
      space_name: ``nb101`` or ``darts``.
      adj: ``(B, N, N)`` 0/1.
      op_idx: ``(B, N)`` op columns.
    """
    adj = np.triu(np.asarray(adj), 1)
    if space_name == "nb101":
        from a2v_jax.spaces.nb101 import hash_module
    elif space_name == "darts":
        from a2v_jax.spaces.darts import graph_fingerprint as hash_module
    else:
        raise ValueError(f"no graph hash for space {space_name!r}")
    return [hash_module(a, lab.tolist()) for a, lab in zip(adj, np.asarray(op_idx), strict=True)]


def nb101_module_hashes(adj: np.ndarray, op_idx: np.ndarray) -> list[str]:
    """The benchmark's ``module_hash`` of decoded NB101 graphs that are valid after pruning.

    Pruning drops vertices off every input -> output path first, so two decodings that differ only
    in such vertices (or are isomorphic) share the key: the space's canonical hash.
    """
    from a2v_jax.spaces.nb101 import OP_NAMES, Cell, module_hash

    adj = np.triu(np.asarray(adj), 1)
    return [
        module_hash(Cell(a, tuple(OP_NAMES[i] for i in lab)))
        for a, lab in zip(adj, np.asarray(op_idx).tolist(), strict=True)
    ]


def prior_validity(space: SearchSpace, op_idx: np.ndarray, adj: np.ndarray) -> dict[str, float]:
    """Validity (original loose check and strict check) and uniqueness of decoded graphs.

    Uniqueness is the number of distinct valid graphs over the number of valid graphs.

    - NB101 and DARTS: as the original, distinct ``hash_module`` of the decoded graph
      (:func:`decoded_graph_hashes`; isomorphic decodings count once). NB101 adds
      ``uniqueness_module``: distinct benchmark module hashes after pruning
      (:func:`nb101_module_hashes`), the space's canonical hash.
    - NB201: exact ``(A, ops)`` keys (the adjacency is fixed; the original hashed with
      ``hash_module``, so isomorphic decodings there count as distinct here).

    Args:
      space: the search space (its ``valid_loose`` / ``valid_strict``).
      op_idx: ``(B, N)`` decoded op columns.
      adj: ``(B, N, N)`` decoded adjacency (``p̂ > 0.5`` on the strict upper triangle).

    Returns:
      ``validity``, ``validity_strict``, ``uniqueness``, ``uniqueness_strict`` (and for NB101
      ``uniqueness_module``), all fractions.
    """
    op_idx, adj = np.asarray(op_idx), np.asarray(adj)
    loose = space.valid_loose(adj, op_idx)
    strict = space.valid_strict(adj, op_idx)
    out = {"validity": float(loose.mean()), "validity_strict": float(strict.mean())}
    if space.name in ("nb101", "darts"):
        either = loose | strict
        keys = np.empty(len(adj), dtype=object)
        keys[either] = decoded_graph_hashes(space.name, adj[either], op_idx[either])
        out["uniqueness"] = _unique_fraction(keys[loose].tolist(), int(loose.sum()))
        out["uniqueness_strict"] = _unique_fraction(keys[strict].tolist(), int(strict.sum()))
        if space.name == "nb101":
            module = nb101_module_hashes(adj[loose], op_idx[loose])
            out["uniqueness_module"] = _unique_fraction(module, int(loose.sum()))
    else:
        keys = graph_rows_hash(adj, op_idx)
        out["uniqueness"] = _unique_fraction(keys[loose].tolist(), int(loose.sum()))
        out["uniqueness_strict"] = _unique_fraction(keys[strict].tolist(), int(strict.sum()))
    return out
