"""NAS-Bench-101 cells: the benchmark's ops, ``ModelSpec`` pruning and ``NASBench.is_valid``.

A cell is an upper-triangular DAG over ``V <= 7`` vertices (``A[i, j] = 1`` means ``i -> j``), vertex
0 ``input``, vertex ``V - 1`` ``output`` and the others one of ``conv3x3-bn-relu``,
``conv1x1-bn-relu``, ``maxpool3x3``. The benchmark first *prunes* a cell (drops every vertex that is
not on an input -> output path) and then requires at most 7 vertices and 9 edges.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
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
