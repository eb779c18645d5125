"""NAS-Bench-101: cells of up to 7 vertices and 9 edges, the benchmark's hash, and the whole space.

Written from the published algorithms of the benchmark (Ying et al., 2019; ``nasbench``'s
``ModelSpec`` pruning, ``NASBench.is_valid`` and ``graph_util.hash_module``), without TensorFlow or
the ``nasbench`` package.

A cell is an upper-triangular DAG over ``V <= 7`` vertices (``A[i, j] = 1`` means ``i -> j``), vertex
0 ``input``, vertex ``V - 1`` ``output`` and the others one of ``conv3x3-bn-relu``,
``conv1x1-bn-relu``, ``maxpool3x3``. The benchmark first *prunes* a cell (drops every vertex that is
not on an input -> output path) and then requires at most 7 vertices and 9 edges.

**Hash.** :func:`module_hash` is ``graph_util.hash_module`` on the pruned cell with the benchmark's
labelling (``input -1``, ``output -2``, middle ops by their index in
``('conv3x3-bn-relu', 'conv1x1-bn-relu', 'maxpool3x3')``): each vertex starts from the MD5 of
``str((out_degree, in_degree, label))``; then ``V`` times every vertex becomes the MD5 of its sorted
in-neighbour hashes, ``'|'``, its sorted out-neighbour hashes, ``'|'``, its own hash; the cell's hash
is the MD5 of ``str(sorted(vertex_hashes))``. It equals the benchmark's ``module_hash``.

**arch2vec's layout** (reference §2.1): the pruned ``V x V`` matrix zero-padded to ``7 x 7`` with the
output left at index ``V - 1`` (not moved to 6), and a ``7 x 5`` one-hot over
``[input, conv1x1-bn-relu, conv3x3-bn-relu, maxpool3x3, output]`` whose padded rows are all zero. In
vectorised code a padded node has op index ``-1`` (:func:`op_idx_from_onehot`).

**The whole space.** :func:`enumerate_nb101` lists all 423,624 cells. Like the benchmark's
``generate_graphs.py`` it walks every upper-triangular matrix of 2..7 vertices with at most 9 edges
and no dangling vertex (6,472 matrices), and every labelling of their middle vertices (1,293,208
labelled matrices). Instead of hashing them all, it groups the matrices into isomorphism classes
(numpy: the minimum adjacency code over the vertex permutations), keeps one labelling per orbit of
each class's automorphism group, and hashes only those 423,624 cells (two processes). The kept
cell of each class is the one the benchmark stores (its ``module_adjacency`` /
``module_operations``): the first matrix in the generator's bit order, then the first labelling.
Every hash is checked to be distinct, so the isomorphism classes and the benchmark's hash buckets
are the same partition. Rows are sorted by hash, the order in which the benchmark's generator
writes its graphs (``sort_keys=True``); that ``NASBench.hash_iterator()`` (arch2vec's key order)
follows it is not verified here.

Measured on the shared 2-core CPU box (load average about 5 from other jobs), with
``python -m a2v_jax.spaces.nb101 enumerate --cache-dir DIR``: cold enumeration 51 s wall, 30 s CPU
(grouping into classes 0.4 s, the rest MD5 hashing in 2 processes); cache file 8.3 MB; loading it
0.05-0.14 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from a2v_jax.spaces.base import InvalidArchitectureError

INPUT = "input"
OUTPUT = "output"
CONV1X1 = "conv1x1-bn-relu"
CONV3X3 = "conv3x3-bn-relu"
MAXPOOL3X3 = "maxpool3x3"
#: arch2vec's one-hot vocabulary for NB101, in column order (reference §2.1).
OP_NAMES: tuple[str, ...] = (INPUT, CONV1X1, CONV3X3, MAXPOOL3X3, OUTPUT)
#: The benchmark's ``available_ops``: a middle op's hash label is its index here.
BENCHMARK_OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)
NUM_NODES = 7  # the benchmark's module_vertices and arch2vec's padded node count
MAX_EDGES = 9
NUM_OPS = len(OP_NAMES)
#: Unique cells (by hash) of NAS-Bench-101, as published with the benchmark.
NUM_CELLS = 423_624
INPUT_IDX = OP_NAMES.index(INPUT)
OUTPUT_IDX = OP_NAMES.index(OUTPUT)
_MIDDLE_IDX = tuple(OP_NAMES.index(op) for op in BENCHMARK_OPS)  # (3,) arch2vec index of label k
_LABEL_OF_IDX = {idx: label for label, idx in enumerate(_MIDDLE_IDX)}
#: Cache file of :func:`enumerate_nb101` inside the cache directory.
CACHE_FILE = "nb101_cells_v1.npz"
_FORMAT_VERSION = 1
_HASH_CHUNK = 4096


# --------------------------------------------------------------------------- cells


@dataclasses.dataclass(frozen=True)
class Cell:
    """One NB101 cell as given (a ``ModelSpec``'s ``original_matrix`` / ``original_ops``).

    The constructor accepts any 0/1 square array-like and a sequence of op names, checks their
    structure and stores them as tuples, so cells are hashable and compare by value. Validity in the
    benchmark's sense (after pruning) is a separate question: :func:`is_valid`.

    Attributes:
      matrix: ``V x V`` adjacency as nested tuples of 0/1 ints, strictly upper triangular.
      ops: ``V`` op names from :data:`OP_NAMES`.
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        matrix, ops = _check_structure(self.matrix, self.ops)
        object.__setattr__(self, "matrix", tuple(tuple(int(x) for x in row) for row in matrix))
        object.__setattr__(self, "ops", ops)

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))

    @property
    def adjacency(self) -> np.ndarray:
        """The matrix as a fresh ``(V, V)`` uint8 array."""
        return np.array(self.matrix, dtype=np.uint8).reshape(self.num_vertices, self.num_vertices)


def _check_structure(matrix: Any, ops: Any) -> tuple[np.ndarray, tuple[str, ...]]:
    """Checks shapes, entries, triangularity and op names; returns ``(matrix (V, V) int64, ops)``."""
    if isinstance(ops, np.ndarray):
        ops = ops.tolist()
    if isinstance(ops, str) or not isinstance(ops, Sequence):
        raise InvalidArchitectureError(f"NB101 ops must be a sequence of op names, got {type(ops).__name__}")
    ops = tuple(ops)
    for v, op in enumerate(ops):
        if not isinstance(op, str) or op not in OP_NAMES:
            raise InvalidArchitectureError(f"NB101 op {op!r} at vertex {v} is not one of {OP_NAMES}")
    try:
        arr = np.asarray(matrix)
    except ValueError as e:  # ragged nested lists
        raise InvalidArchitectureError(f"NB101 adjacency is not a rectangular array: {e}") from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise InvalidArchitectureError(f"NB101 adjacency must be a square matrix, got shape {arr.shape}")
    if arr.shape[0] != len(ops):
        raise InvalidArchitectureError(
            f"NB101 adjacency is {arr.shape[0]} x {arr.shape[1]} but there are {len(ops)} ops (must match)"
        )
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    elif not np.issubdtype(arr.dtype, np.number):
        raise InvalidArchitectureError(f"NB101 adjacency entries must be 0 or 1, got dtype {arr.dtype}")
    elif not np.all(arr == np.round(arr)):
        raise InvalidArchitectureError("NB101 adjacency entries must be 0 or 1, got non-integers")
    arr = arr.astype(np.int64)
    bad = np.argwhere((arr != 0) & (arr != 1))
    if bad.size:
        i, j = (int(x) for x in bad[0])
        raise InvalidArchitectureError(f"NB101 adjacency entry [{i}, {j}] is {arr[i, j]}, expected 0 or 1")
    back = np.argwhere(np.tril(arr) != 0)
    if back.size:
        i, j = (int(x) for x in back[0])
        what = f"a self-loop at vertex {i}" if i == j else f"the edge {i} -> {j} points backwards"
        raise InvalidArchitectureError(
            f"NB101 adjacency must be strictly upper triangular (a DAG in topological order): {what}"
        )
    return arr, ops


def prune(cell: Cell) -> Cell | None:
    """The benchmark's ``ModelSpec`` pruning: drops vertices not on an input -> output path.

    A vertex is kept iff it is reachable from vertex 0 and reaches vertex ``V - 1``; the kept
    vertices keep their order.

    Args:
      cell: the cell as given.

    Returns:
      The pruned cell, or None when input and output are disconnected (the spec is invalid).
    """
    adj = np.array(cell.matrix, dtype=bool).reshape(cell.num_vertices, cell.num_vertices)
    n = cell.num_vertices
    if n < 2:
        return None
    from_input = np.zeros(n, dtype=bool)
    from_input[0] = True
    for v in range(1, n):  # topological order: predecessors are already settled
        from_input[v] = bool(np.any(adj[:v, v] & from_input[:v]))
    to_output = np.zeros(n, dtype=bool)
    to_output[n - 1] = True
    for v in range(n - 2, -1, -1):
        to_output[v] = bool(np.any(adj[v, v + 1 :] & to_output[v + 1 :]))
    keep = from_input & to_output
    if keep.sum() < 2:  # then 0 does not reach V - 1
        return None
    idx = np.flatnonzero(keep)
    return Cell(adj[np.ix_(idx, idx)].astype(np.uint8), tuple(cell.ops[i] for i in idx))


def validity_problem(cell: Cell) -> str | None:
    """Why ``NASBench.is_valid(ModelSpec(matrix, ops))`` would be False, or None if it is True."""
    pruned = prune(cell)
    if pruned is None:
        return "input and output are not connected"
    if pruned.num_vertices > NUM_NODES:
        return f"{pruned.num_vertices} vertices after pruning, at most {NUM_NODES} allowed"
    if pruned.num_edges > MAX_EDGES:
        return f"{pruned.num_edges} edges after pruning, at most {MAX_EDGES} allowed"
    if pruned.ops[0] != INPUT:
        return f"the first vertex must be {INPUT!r}, got {pruned.ops[0]!r}"
    if pruned.ops[-1] != OUTPUT:
        return f"the last vertex must be {OUTPUT!r}, got {pruned.ops[-1]!r}"
    for v, op in enumerate(pruned.ops[1:-1], start=1):
        if op not in BENCHMARK_OPS:
            return f"vertex {v} of the pruned cell has op {op!r}; middle ops must be one of {BENCHMARK_OPS}"
    return None


def is_valid(cell: Cell) -> bool:
    """The benchmark's ``is_valid``: after pruning, connected, <= 7 vertices, <= 9 edges, ops in place."""
    return validity_problem(cell) is None


def check_valid(cell: Cell) -> Cell:
    """Returns the pruned cell; raises :class:`InvalidArchitectureError` naming why it is invalid."""
    problem = validity_problem(cell)
    if problem is not None:
        raise InvalidArchitectureError(f"invalid NB101 cell ({problem}): ops {list(cell.ops)}")
    pruned = prune(cell)
    assert pruned is not None
    return pruned


# --------------------------------------------------------------------------- hash


def _vertex_lists(adj: np.ndarray) -> tuple[list[list[int]], list[list[int]], list[int], list[int]]:
    n = adj.shape[0]
    preds = [np.flatnonzero(adj[:, v]).tolist() for v in range(n)]
    succs = [np.flatnonzero(adj[v, :]).tolist() for v in range(n)]
    return preds, succs, [len(s) for s in succs], [len(p) for p in preds]


def _hash_digest(
    preds: list[list[int]],
    succs: list[list[int]],
    out_deg: list[int],
    in_deg: list[int],
    labels: Sequence[int],
) -> bytes:
    """``graph_util.hash_module`` on precomputed neighbour lists; the 16-byte MD5 digest."""
    md5 = hashlib.md5
    n = len(preds)
    # str() of a tuple of Python ints, e.g. "(2, 0, -1)": the exact bytes the benchmark hashed.
    h = [md5(str((out_deg[v], in_deg[v], int(labels[v]))).encode()).hexdigest() for v in range(n)]
    for _ in range(n):
        h = [
            md5(
                (
                    "".join(sorted([h[w] for w in preds[v]]))
                    + "|"
                    + "".join(sorted([h[w] for w in succs[v]]))
                    + "|"
                    + h[v]
                ).encode()
            ).hexdigest()
            for v in range(n)
        ]
    return md5(str(sorted(h)).encode()).digest()


def hash_module(matrix: Any, labeling: Sequence[int]) -> str:
    """The benchmark's iterated-MD5 graph hash of an adjacency matrix and integer vertex labels.

    Args:
      matrix: ``(V, V)`` 0/1 adjacency (row = source).
      labeling: ``V`` integer labels (the benchmark uses -1 input, -2 output, 0..2 middle ops).

    Returns:
      The 32-character hex MD5 fingerprint; equal for isomorphic labelled graphs.
    """
    adj = np.asarray(matrix)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1] or adj.shape[0] != len(labeling):
        raise InvalidArchitectureError(
            f"hash_module needs a square matrix and one label per vertex, got {adj.shape} and {len(labeling)}"
        )
    return _hash_digest(*_vertex_lists(adj != 0), [int(x) for x in labeling]).hex()


def labeling(cell: Cell) -> list[int]:
    """The benchmark's integer labels of a cell: -1 input, -2 output, middle ops by BENCHMARK_OPS index."""
    return [-1] + [BENCHMARK_OPS.index(op) for op in cell.ops[1:-1]] + [-2]


def module_hash(cell: Cell) -> str:
    """The benchmark's ``module_hash`` of a cell (pruned first, as ``ModelSpec.hash_spec``).

    Raises:
      InvalidArchitectureError: if the cell is not valid after pruning.
    """
    pruned = check_valid(cell)
    return hash_module(pruned.adjacency, labeling(pruned))


# --------------------------------------------------------------------------- canonical cell


def _edge_list(n: int) -> list[tuple[int, int]]:
    """Upper-triangular positions in the benchmark's bit order: bit ``y (y - 1) / 2 + x`` is ``x -> y``."""
    return [(x, y) for y in range(n) for x in range(y)]


def edge_bits(matrix: Any) -> int:
    """The benchmark generator's bit string of an upper-triangular matrix (``gen_is_edge_fn``)."""
    adj = np.asarray(matrix)
    return sum(1 << k for k, (x, y) in enumerate(_edge_list(adj.shape[0])) if adj[x, y])


def matrix_from_bits(bits: int, n: int) -> np.ndarray:
    """Inverse of :func:`edge_bits`: the ``(n, n)`` uint8 matrix of a bit string."""
    adj = np.zeros((n, n), dtype=np.uint8)
    for k, (x, y) in enumerate(_edge_list(n)):
        adj[x, y] = (bits >> k) & 1
    return adj


def canonical_cell(cell: Cell) -> Cell:
    """The representative the benchmark stores for this cell's hash (its ``module_adjacency`` / ops).

    The benchmark's generator keeps the first labelled matrix of each hash in its walk order: vertex
    count, then bit string (:func:`edge_bits`), then labelling in ``itertools.product`` order. That is
    the smallest ``(bits, labels)`` over the upper-triangular relabellings of the pruned cell.

    Raises:
      InvalidArchitectureError: if the cell is not valid after pruning.
    """
    pruned = check_valid(cell)
    adj = pruned.adjacency
    labels = labeling(pruned)
    n = pruned.num_vertices
    best: tuple[int, tuple[int, ...]] | None = None
    for middle in itertools.permutations(range(1, n - 1)):
        order = (0, *middle, n - 1)  # new vertex i is old vertex order[i]
        permuted = adj[np.ix_(order, order)]
        if np.any(np.tril(permuted)):
            continue
        key = (edge_bits(permuted), tuple(labels[v] for v in order[1:-1]))
        if best is None or key < best:
            best = key
    assert best is not None  # the identity order is upper triangular
    bits, middle_labels = best
    ops = (INPUT, *(BENCHMARK_OPS[k] for k in middle_labels), OUTPUT)
    return Cell(matrix_from_bits(bits, n), ops)


# --------------------------------------------------------------------------- arch2vec layout


def encode_cell(cell: Cell) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """arch2vec's layout of the pruned cell (reference §2.1).

    Args:
      cell: a valid cell (pruned first; not canonicalised, see :func:`canonical_cell`).

    Returns:
      adjacency ``(7, 7)`` uint8 (output at ``V - 1``, padded rows/columns zero), ops one-hot
      ``(7, 5)`` float32 (padded rows zero) and the node mask ``(7,)`` bool.

    Raises:
      InvalidArchitectureError: if the cell is not valid after pruning.
    """
    pruned = check_valid(cell)
    n = pruned.num_vertices
    adj = np.zeros((NUM_NODES, NUM_NODES), dtype=np.uint8)
    adj[:n, :n] = pruned.adjacency
    ops = np.zeros((NUM_NODES, NUM_OPS), dtype=np.float32)
    ops[np.arange(n), [OP_NAMES.index(op) for op in pruned.ops]] = 1.0
    return adj, ops, np.arange(NUM_NODES) < n


def op_idx_from_onehot(ops: np.ndarray) -> np.ndarray:
    """``(..., N, C)`` one-hot ops -> ``(..., N)`` int32 op indices, ``-1`` on all-zero (padded) rows."""
    ops = np.asarray(ops)
    return np.where(ops.any(-1), ops.argmax(-1), -1).astype(np.int32)


def decode_graph(adjacency: np.ndarray, ops: np.ndarray) -> Cell:
    """Inverse of :func:`encode_cell`: an arch2vec-layout graph -> the pruned, valid cell.

    Nodes are the rows of ``ops`` that are not all zero; they must be a prefix ``0..V-1`` and the
    padded rows and columns of the adjacency must be zero. The graph must be strictly upper
    triangular (a decoder's ``triu(., 1)``) and valid after pruning.

    Args:
      adjacency: ``(7, 7)`` 0/1 array.
      ops: ``(7, 5)`` array of one-hot or all-zero rows.

    Returns:
      The pruned cell.

    Raises:
      InvalidArchitectureError: naming the malformed field or why the cell is invalid.
    """
    adjacency = np.asarray(adjacency)
    ops = np.asarray(ops)
    if adjacency.shape != (NUM_NODES, NUM_NODES):
        raise InvalidArchitectureError(f"NB101 adjacency must be (7, 7), got {adjacency.shape}")
    if ops.shape != (NUM_NODES, NUM_OPS):
        raise InvalidArchitectureError(f"NB101 ops must be (7, 5), got {ops.shape}")
    if not np.all((ops == 0) | (ops == 1)) or np.any(ops.sum(-1) > 1):
        raise InvalidArchitectureError("NB101 ops rows must be one-hot (a node) or all zero (padding)")
    if not np.all((adjacency == 0) | (adjacency == 1)):
        raise InvalidArchitectureError("NB101 adjacency entries must be 0 or 1")
    mask = ops.any(-1)
    n = int(mask.sum())
    if not np.all(mask[:n]):
        raise InvalidArchitectureError(
            f"NB101 nodes must be a prefix: node mask {mask.astype(int).tolist()} has padding before a node"
        )
    if np.any(adjacency[n:]) or np.any(adjacency[:, n:]):
        raise InvalidArchitectureError(
            f"NB101 adjacency has edges at padded nodes {list(range(n, NUM_NODES))}"
        )
    cell = Cell(adjacency[:n, :n], tuple(OP_NAMES[i] for i in ops[:n].argmax(-1)))
    return check_valid(cell)


def _reach(adj: np.ndarray, start: np.ndarray, forward: bool) -> np.ndarray:
    """Vertices reachable from ``start`` (``(B, N)`` bool) along (or against) the edges of ``(B, N, N)``."""
    seen = start.copy()
    step = adj if forward else np.swapaxes(adj, 1, 2)
    for _ in range(adj.shape[1]):
        seen = seen | np.einsum("bi,bij->bj", seen, step).astype(bool)
    return seen


def _check_batch(adjacency: np.ndarray, op_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    adjacency = np.asarray(adjacency)
    op_idx = np.asarray(op_idx)
    if adjacency.ndim != 3 or adjacency.shape[1:] != (NUM_NODES, NUM_NODES):
        raise InvalidArchitectureError(f"NB101 adjacency batch must be (B, 7, 7), got {adjacency.shape}")
    if op_idx.shape != adjacency.shape[:2]:
        raise InvalidArchitectureError(f"NB101 op indices must be (B, 7), got {op_idx.shape}")
    return (np.triu(adjacency, 1) != 0).astype(np.int32), op_idx


def valid_loose(adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
    """The original arch2vec check (reference §5): ``is_valid(ModelSpec(triu(A, 1), ops))``, vectorised.

    All 7 positions are vertices and vertex 6 is the output; the spec is pruned, then must have
    input and output connected, <= 9 edges, op 0 ``input``, op 6 ``output`` and kept middle ops in
    the 3-op set (a padded ``-1`` or ``input``/``output`` op on a kept middle vertex fails).

    Args:
      adjacency: ``(B, 7, 7)`` 0/1 (the lower triangle is ignored, as the decoder's ``triu``).
      op_idx: ``(B, 7)`` arch2vec op indices.

    Returns:
      ``(B,)`` bool.
    """
    adj, op_idx = _check_batch(adjacency, op_idx)
    b, n = op_idx.shape
    start = np.zeros((b, n), dtype=bool)
    start[:, 0] = True
    end = np.zeros((b, n), dtype=bool)
    end[:, n - 1] = True
    keep = _reach(adj, start, True) & _reach(adj, end, False)  # (B, N)
    connected = keep[:, n - 1] & keep[:, 0]
    edges = np.einsum("bi,bij,bj->b", keep.astype(np.int32), adj, keep.astype(np.int32))
    middle_ok = np.isin(op_idx[:, 1:-1], _MIDDLE_IDX) | ~keep[:, 1:-1]
    return (
        connected
        & (edges <= MAX_EDGES)
        & (op_idx[:, 0] == INPUT_IDX)
        & (op_idx[:, -1] == OUTPUT_IDX)
        & middle_ok.all(1)
    )


def valid_strict(adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
    """Whether each graph is exactly arch2vec's layout of a valid cell: nothing to prune, nothing misplaced.

    Nodes are the positions with ``op_idx >= 0`` and must be a prefix ``0..V-1`` (``V >= 2``);
    padded positions carry no edges; every node lies on an input -> output path; <= 9 edges;
    node 0 ``input``, node ``V - 1`` ``output``, the others in the 3-op set.

    Args:
      adjacency: ``(B, 7, 7)`` 0/1 (the lower triangle is ignored).
      op_idx: ``(B, 7)`` arch2vec op indices, ``-1`` for padded nodes.

    Returns:
      ``(B,)`` bool.
    """
    adj, op_idx = _check_batch(adjacency, op_idx)
    b, n = op_idx.shape
    mask = op_idx >= 0  # (B, N)
    size = mask.sum(1)  # (B,)
    pos = np.arange(n)
    prefix = np.all(mask == (pos[None] < size[:, None]), axis=1) & (size >= 2)
    no_pad_edges = ~np.any(adj & ~(mask[:, :, None] & mask[:, None, :]), axis=(1, 2))
    last = np.clip(size - 1, 0, n - 1)
    start = np.zeros((b, n), dtype=bool)
    start[:, 0] = True
    end = pos[None] == last[:, None]
    full = np.all((_reach(adj, start, True) & _reach(adj, end, False)) == mask, axis=1)
    ops_at_last = np.take_along_axis(op_idx, last[:, None], axis=1)[:, 0]
    middle = mask & (pos[None] > 0) & (pos[None] < last[:, None])
    middle_ok = np.all(np.isin(op_idx, _MIDDLE_IDX) | ~middle, axis=1)
    return (
        prefix
        & no_pad_edges
        & full
        & (adj.sum((1, 2)) <= MAX_EDGES)
        & (op_idx[:, 0] == INPUT_IDX)
        & (ops_at_last == OUTPUT_IDX)
        & middle_ok
    )


# --------------------------------------------------------------------------- the whole space


@dataclasses.dataclass(frozen=True)
class NB101Cells:
    """Every cell of an enumeration, in compact arrays sorted by hash.

    Row ``i`` is the benchmark's stored representative of its hash (see :func:`canonical_cell`).

    Attributes:
      hashes: ``(P, 16)`` uint8 MD5 digests (``bytes(hashes[i]).hex()`` is the ``module_hash``), sorted.
      num_vertices: ``(P,)`` uint8 vertex count ``V`` in 2..7.
      edge_bits: ``(P,)`` uint32 adjacency in the benchmark generator's bit order (:func:`edge_bits`).
      ops: ``(P, 7)`` int8 arch2vec op indices, ``-1`` on padded nodes (output at ``V - 1``).
    """

    hashes: np.ndarray  # (P, 16) uint8
    num_vertices: np.ndarray  # (P,) uint8
    edge_bits: np.ndarray  # (P,) uint32
    ops: np.ndarray  # (P, 7) int8

    def __len__(self) -> int:
        return int(self.num_vertices.shape[0])

    def hash_hex(self, i: int) -> str:
        """The ``module_hash`` of row ``i``."""
        return bytes(self.hashes[i]).hex()

    def index_of(self, module_hash: str) -> int:
        """Row of a ``module_hash`` (binary search); raises KeyError if the hash is not in the space."""
        try:
            key = bytes.fromhex(module_hash)
        except (TypeError, ValueError):
            raise KeyError(f"not an MD5 hex digest: {module_hash!r}") from None
        if len(key) != 16:
            raise KeyError(f"not an MD5 hex digest: {module_hash!r}")
        hi, lo = _split_digests(self.hashes)
        q_hi, q_lo = _split_digests(np.frombuffer(key, dtype=np.uint8)[None])
        left, right = np.searchsorted(hi, q_hi[0], "left"), np.searchsorted(hi, q_hi[0], "right")
        j = left + int(np.searchsorted(lo[left:right], q_lo[0]))
        if j < right and lo[j] == q_lo[0]:
            return int(j)
        raise KeyError(f"hash {module_hash} is not a NAS-Bench-101 cell of this enumeration")

    def cell(self, i: int) -> Cell:
        """Row ``i`` as a :class:`Cell`."""
        n = int(self.num_vertices[i])
        ops = tuple(OP_NAMES[k] for k in self.ops[i, :n])
        return Cell(matrix_from_bits(int(self.edge_bits[i]), n), ops)

    def adjacency(self) -> np.ndarray:
        """arch2vec's padded adjacency of every row, ``(P, 7, 7)`` uint8."""
        adj = np.zeros((len(self), NUM_NODES, NUM_NODES), dtype=np.uint8)
        bits = self.edge_bits.astype(np.uint32)
        for k, (x, y) in enumerate(_edge_list(NUM_NODES)):
            adj[:, x, y] = (bits >> np.uint32(k)) & np.uint32(1)
        return adj

    def ops_onehot(self) -> np.ndarray:
        """arch2vec's one-hot ops of every row, ``(P, 7, 5)`` float32 (padded rows zero)."""
        return (self.ops[..., None] == np.arange(NUM_OPS)).astype(np.float32)

    def encode(self) -> tuple[np.ndarray, np.ndarray]:
        """``(adjacency (P, 7, 7) uint8, ops (P, 7, 5) float32)``, arch2vec's layout of every row."""
        return self.adjacency(), self.ops_onehot()

    def counts_by_vertices(self) -> dict[int, int]:
        """Number of cells per vertex count."""
        values, counts = np.unique(self.num_vertices, return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts, strict=True)}


def _split_digests(digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(P, 16)`` uint8 -> two ``(P,)`` uint64 big-endian halves (so integer order = byte order)."""
    d = np.asarray(digests, dtype=np.uint8)
    hi = np.ascontiguousarray(d[:, :8]).view(">u8")[:, 0]
    lo = np.ascontiguousarray(d[:, 8:]).view(">u8")[:, 0]
    return hi.astype(np.uint64), lo.astype(np.uint64)


def _full_dags(n: int, max_edges: int) -> np.ndarray:
    """Bit strings (ascending) of ``n``-vertex upper-triangular matrices with no dangling vertex.

    As the benchmark's ``is_full_dag``: every vertex but the last has an out-edge and every vertex
    but the first an in-edge, i.e. every vertex lies on an input -> output path.
    """
    edges = _edge_list(n)
    bits = np.arange(1 << len(edges), dtype=np.uint32)  # (2^m,)
    count = np.zeros(bits.shape, dtype=np.uint8)
    for k in range(len(edges)):
        count += ((bits >> np.uint32(k)) & np.uint32(1)).astype(np.uint8)
    keep = count <= max_edges
    for v in range(n):
        out_mask = sum(1 << k for k, (x, _) in enumerate(edges) if x == v)
        in_mask = sum(1 << k for k, (_, y) in enumerate(edges) if y == v)
        if v < n - 1:
            keep &= (bits & np.uint32(out_mask)) != 0
        if v > 0:
            keep &= (bits & np.uint32(in_mask)) != 0
    return bits[keep]


def _unique_labelled(n: int, max_edges: int) -> tuple[np.ndarray, np.ndarray]:
    """One representative per isomorphism class of labelled ``n``-vertex cells.

    Returns:
      bits ``(K,)`` uint32 and middle labels ``(K, n - 2)`` int8 (benchmark label order), each the
      first of its class in the benchmark generator's walk order.
    """
    bits = _full_dags(n, max_edges)  # (G,) ascending
    edges = _edge_list(n)
    perms = [(0, *p, n - 1) for p in itertools.permutations(range(1, n - 1))]  # identity first
    # A relabelled matrix B[i, j] = A[p[i], p[j]] holds edge x -> y at (p^-1[x], p^-1[y]); code it over
    # all n * n positions, so codes of isomorphic matrices coincide at their minimum over p. The codes
    # are sums of distinct powers of two below 2^49, exact in float64, so a matmul computes them all.
    inv = np.argsort(np.array(perms), axis=1)  # (P, n)
    weight = np.array([[2.0 ** (q[x] * n + q[y]) for q in inv] for (x, y) in edges])  # (m, P)
    codes = np.empty((bits.shape[0], len(perms)), dtype=np.uint64)  # (G, P)
    for s in range(0, bits.shape[0], 16_384):
        chunk = bits[s : s + 16_384]
        onehot = ((chunk[:, None] >> np.arange(len(edges), dtype=np.uint32)) & 1).astype(np.float64)
        codes[s : s + 16_384] = (onehot @ weight).astype(np.uint64)
    _, first = np.unique(codes.min(1), return_index=True)  # first = smallest bits of each class
    rep_bits = bits[first]  # (R,)
    aut = codes[first] == codes[first][:, :1]  # (R, P) which relabellings fix the matrix
    # Middle labellings in itertools.product order; relabelling p sends labels l to l[p[i]].
    product = list(itertools.product(range(len(BENCHMARK_OPS)), repeat=n - 2))
    labels = np.array(product, dtype=np.int64).reshape(len(product), n - 2)  # (L, n - 2)
    place = len(BENCHMARK_OPS) ** np.arange(n - 3, -1, -1)  # (n - 2,) product-order index weights
    moved = np.stack([labels[:, np.array(p[1:-1], dtype=np.int64) - 1] @ place for p in perms])  # (P, L)
    patterns, which = np.unique(aut, axis=0, return_inverse=True)
    out_bits, out_labels = [], []
    for k, pattern in enumerate(patterns):
        first_of_orbit = moved[pattern].min(0) == np.arange(labels.shape[0])  # (L,)
        reps = rep_bits[np.asarray(which).reshape(-1) == k]
        out_bits.append(np.repeat(reps, int(first_of_orbit.sum())))
        out_labels.append(np.tile(labels[first_of_orbit], (reps.shape[0], 1)))
    return np.concatenate(out_bits).astype(np.uint32), np.concatenate(out_labels).astype(np.int8)


def _hash_chunk(n: int, bits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Digests ``(K, 16)`` uint8 of ``n``-vertex cells given as bit strings and middle labels."""
    out = np.empty((bits.shape[0], 16), dtype=np.uint8)
    lists: dict[int, tuple] = {}
    for i in range(bits.shape[0]):
        b = int(bits[i])
        if b not in lists:
            lists[b] = _vertex_lists(matrix_from_bits(b, n).astype(bool))
        full = [-1, *labels[i].tolist(), -2]
        out[i] = np.frombuffer(_hash_digest(*lists[b], full), dtype=np.uint8)
    return out


def enumerate_cells(
    max_vertices: int = NUM_NODES, *, progress: bool = True, workers: int | None = None
) -> NB101Cells:
    """All unique NB101 cells with at most ``max_vertices`` vertices (no cache; see :func:`enumerate_nb101`).

    Args:
      max_vertices: 2..7; 7 gives the whole space (423,624 cells).
      progress: show a tqdm bar over the hashing.
      workers: hashing processes; None = min(2, cpu count); 1 hashes in this process.

    Returns:
      The cells, sorted by hash.

    Raises:
      RuntimeError: if two non-isomorphic cells share a hash (the benchmark verified they do not).
    """
    if not 2 <= max_vertices <= NUM_NODES:
        raise ValueError(f"max_vertices must be in 2..{NUM_NODES}, got {max_vertices}")
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    groups = [(n, *_unique_labelled(n, MAX_EDGES)) for n in range(2, max_vertices + 1)]
    tasks = [
        (n, b[s : s + _HASH_CHUNK], lab[s : s + _HASH_CHUNK])
        for n, b, lab in groups
        for s in range(0, b.shape[0], _HASH_CHUNK)
    ]
    total = sum(b.shape[0] for _, b, _ in groups)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="hashing NB101 cells", unit="cell")
    digests: list[np.ndarray] = []
    if workers == 1:
        for task in tasks:
            digests.append(_hash_chunk(*task))
            if bar is not None:
                bar.update(task[1].shape[0])
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: the caller may have started JAX's threads.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_hash_chunk, *task) for task in tasks]
            for task, future in zip(tasks, futures, strict=True):
                digests.append(future.result())
                if bar is not None:
                    bar.update(task[1].shape[0])
    if bar is not None:
        bar.close()
    hashes = np.concatenate(digests) if digests else np.zeros((0, 16), dtype=np.uint8)
    num_vertices = np.concatenate([np.full(b.shape[0], n, dtype=np.uint8) for n, b, _ in groups])
    all_bits = np.concatenate([b for _, b, _ in groups]).astype(np.uint32)
    ops = np.full((total, NUM_NODES), -1, dtype=np.int8)
    row = 0
    for n, b, lab in groups:
        k = b.shape[0]
        ops[row : row + k, 0] = INPUT_IDX
        ops[row : row + k, 1 : n - 1] = np.asarray(_MIDDLE_IDX, dtype=np.int8)[lab.astype(np.int64)]
        ops[row : row + k, n - 1] = OUTPUT_IDX
        row += k
    hi, lo = _split_digests(hashes)
    order = np.lexsort((lo, hi))
    hi, lo = hi[order], lo[order]
    dup = np.flatnonzero((hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1]))
    if dup.size:
        raise RuntimeError(
            f"{dup.size} hash collisions of non-isomorphic cells, e.g. {bytes(hashes[order[dup[0]]]).hex()}"
        )
    return NB101Cells(hashes[order], num_vertices[order], all_bits[order], ops[order])


def save_cells(cells: NB101Cells, path: str | os.PathLike) -> Path:
    """Writes ``cells`` to a compressed ``.npz`` (atomically: a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            format_version=np.int64(_FORMAT_VERSION),
            hashes=cells.hashes,
            num_vertices=cells.num_vertices,
            edge_bits=cells.edge_bits,
            ops=cells.ops,
        )
    os.replace(tmp, path)
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
    from a2v_jax.data.paths import cache_dir as resolve_cache_dir

    return resolve_cache_dir(cache_dir) / CACHE_FILE


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
      workers: hashing processes (see :func:`enumerate_cells`).
      refresh: enumerate again even if the cache exists.

    Returns:
      The cells sorted by hash (about 0.1 s from the cache, under a minute cold on 2 cores).
    """
    path = cache_path(cache_dir)
    if path.is_file() and not refresh:
        cells = load_cells(path)
        if len(cells) != NUM_CELLS:
            raise ValueError(
                f"NB101 cell cache {path} has {len(cells)} cells, expected {NUM_CELLS}; delete it"
            )
        return cells
    cells = enumerate_cells(NUM_NODES, progress=progress, workers=workers)
    if len(cells) != NUM_CELLS:
        raise RuntimeError(f"enumerated {len(cells)} NB101 cells, expected {NUM_CELLS}")
    save_cells(cells, path)
    return cells


# --------------------------------------------------------------------------- the space


class NB101Space:
    """NAS-Bench-101 cells; an architecture is a :class:`Cell` (validity and hash after pruning).

    The enumeration behind :meth:`enumerate`, :meth:`sample` and :meth:`encode_all` is loaded (or
    computed and cached) on first use.
    """

    name = "nb101"
    num_nodes = NUM_NODES
    op_names = OP_NAMES

    def __init__(
        self,
        cache_dir: str | os.PathLike | None = None,
        *,
        progress: bool = True,
        cells: NB101Cells | None = None,
    ):
        """``cache_dir`` and ``progress`` go to :func:`enumerate_nb101`; ``cells`` replaces it."""
        self._cache_dir = cache_dir
        self._progress = progress
        self._cells = cells

    @property
    def cells(self) -> NB101Cells:
        """The whole space (see :func:`enumerate_nb101`)."""
        if self._cells is None:
            self._cells = enumerate_nb101(self._cache_dir, self._progress)
        return self._cells

    def validate(self, arch: Cell) -> None:
        check_valid(_as_cell(arch))

    def encode(self, arch: Cell) -> tuple[np.ndarray, np.ndarray]:
        adj, ops, _ = encode_cell(_as_cell(arch))
        return adj, ops

    def decode(self, adjacency: np.ndarray, ops: np.ndarray) -> Cell:
        return decode_graph(adjacency, ops)

    def canonical_hash(self, arch: Cell) -> str:
        return module_hash(_as_cell(arch))

    def size(self) -> int:
        return NUM_CELLS if self._cells is None else len(self._cells)

    def enumerate(self) -> Iterator[Cell]:
        cells = self.cells
        for i in range(len(cells)):
            yield cells.cell(i)

    def sample(self, rng: np.random.Generator, n: int) -> list[Cell]:
        cells = self.cells
        return [cells.cell(int(i)) for i in rng.integers(0, len(cells), size=n)]

    def encode_all(self) -> tuple[np.ndarray, np.ndarray]:
        return self.cells.encode()

    def valid_strict(self, adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
        """Exactly an encoded valid cell (``-1`` op index = padded node); see :func:`valid_strict`."""
        return valid_strict(adjacency, op_idx)

    def valid_loose(self, adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
        """The original ``is_valid(ModelSpec(...))`` after pruning; see :func:`valid_loose`."""
        return valid_loose(adjacency, op_idx)


def _as_cell(arch: Any) -> Cell:
    if not isinstance(arch, Cell):
        raise InvalidArchitectureError(f"an NB101 architecture is a Cell, got {type(arch).__name__}")
    return arch


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m a2v_jax.spaces.nb101 enumerate [--out PATH] [--cache-dir DIR] ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m a2v_jax.spaces.nb101", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("enumerate", help="enumerate all NB101 cells and write them as .npz")
    p.add_argument("--out", type=Path, help="output file (default: the cache file under --cache-dir)")
    p.add_argument(
        "--cache-dir", type=Path, help="cache directory (default: $A2V_CACHE_DIR or ~/.cache/a2v_jax)"
    )
    p.add_argument("--max-vertices", type=int, default=NUM_NODES, help="2..7 (default 7, the whole space)")
    p.add_argument("--workers", type=int, default=None, help="hashing processes (default min(2, cpus))")
    p.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    out = args.out or cache_path(args.cache_dir)
    if args.max_vertices != NUM_NODES and args.out is None:
        parser.error("--max-vertices below 7 needs --out (the cache holds the whole space)")
    t0 = time.perf_counter()
    cells = enumerate_cells(args.max_vertices, progress=not args.no_progress, workers=args.workers)
    t1 = time.perf_counter()
    save_cells(cells, out)
    t2 = time.perf_counter()
    load_cells(out)
    t3 = time.perf_counter()
    print(f"{len(cells)} cells {cells.counts_by_vertices()}")
    print(f"enumerate {t1 - t0:.1f} s, save {t2 - t1:.1f} s, load {t3 - t2:.3f} s")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
