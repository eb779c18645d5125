"""The benchmark's graph hash (``graph_util.hash_module``) and the representative it stores per hash.

:func:`module_hash` is ``hash_module`` on the pruned cell with the benchmark's labelling (``input -1``,
``output -2``, middle ops by their index in ``('conv3x3-bn-relu', 'conv1x1-bn-relu', 'maxpool3x3')``):
each vertex starts from the MD5 of ``str((out_degree, in_degree, label))``; then ``V`` times every
vertex becomes the MD5 of its sorted in-neighbour hashes, ``'|'``, its sorted out-neighbour hashes,
``'|'``, its own hash; the cell's hash is the MD5 of ``str(sorted(vertex_hashes))``. It equals the
benchmark's ``module_hash``. The same function is the DARTS space's isomorphism-invariant fingerprint.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from a2v_jax.spaces.base import InvalidArchitectureError
from a2v_jax.spaces.nb101.cells import BENCHMARK_OPS, INPUT, OUTPUT, Cell, check_valid


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


def hash_neighbours(
    preds: Sequence[Sequence[int]], succs: Sequence[Sequence[int]], labels: Sequence[int]
) -> str:
    """:func:`hash_module` of a graph given as in- and out-neighbour lists (no matrix to scan)."""
    return _hash_digest(preds, succs, [len(s) for s in succs], [len(p) for p in preds], labels).hex()


def decoded_hashes(adjacency: np.ndarray, op_idx: np.ndarray) -> list[str]:
    """:func:`hash_module` of each decoded graph's ``triu(A, 1)``, labelled by its op column.

    The original's uniqueness key of decoded graphs (nothing pruned); isomorphism-invariant, so
    isomorphic decodings share a key. The original labels vertices with one-hot rows; integer
    columns give the same partition.

    Args:
      adjacency: ``(B, N, N)`` 0/1.
      op_idx: ``(B, N)`` op columns.
    """
    adj = np.triu(np.asarray(adjacency), 1)
    return [hash_module(a, lab.tolist()) for a, lab in zip(adj, np.asarray(op_idx), strict=True)]


class HashModuleKeys:
    """Mixin of a space whose decoded graphs are keyed as the original keys them: :func:`decoded_hashes`."""

    def decoded_graph_keys(self, adjacency: np.ndarray, op_idx: np.ndarray) -> list[str]:
        """:func:`hash_module` of each decoded ``triu(A, 1)`` (isomorphic decodings share a key)."""
        return decoded_hashes(adjacency, op_idx)


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
