"""arch2vec's layout of NB101 cells (reference §2.1) and the vectorised validity checks of decoded graphs.

The pruned ``V x V`` matrix is zero-padded to ``7 x 7`` with the output left at index ``V - 1`` (not
moved to 6), and a ``7 x 5`` one-hot over ``[input, conv1x1-bn-relu, conv3x3-bn-relu, maxpool3x3,
output]`` whose padded rows are all zero. In vectorised code a padded node has op index ``-1``
(:func:`op_idx_from_onehot`).
"""

from __future__ import annotations

import numpy as np

from a2v_jax.spaces.base import InvalidArchitectureError
from a2v_jax.spaces.nb101.cells import (
    _MIDDLE_IDX,
    INPUT_IDX,
    MAX_EDGES,
    NUM_NODES,
    NUM_OPS,
    OP_NAMES,
    OUTPUT_IDX,
    Cell,
    check_valid,
)


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
