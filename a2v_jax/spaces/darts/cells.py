"""DARTS cells as arrays and as arch2vec's 11-node graphs: encoding, decoding, validity and the hash.

arch2vec's graph (11 nodes, reference §2.3): ``0: c_{k-2}, 1: c_{k-1}``, op-nodes ``2b + 2`` and
``2b + 3`` for the two ops of block ``b``, ``10: output``. An op-node reading cell input 0 or 1 gets
one edge from that node; one reading intermediate node ``k`` (2..5) gets edges from **both**
op-nodes of block ``k - 2``; all 8 op-nodes feed the output. One-hot columns:
``c_k-2 0, c_k-1 1, none 2, max_pool_3x3 3, avg_pool_3x3 4, skip_connect 5, sep_conv_3x3 6,
sep_conv_5x5 7, dil_conv_3x3 8, dil_conv_5x5 9, output 10``.

Vectorised code works on *cell arrays*: ``(P, 8, 2)`` integers, ``[..., slot, 0]`` the op code
(index in :data:`CELL_OPS`) and ``[..., slot, 1]`` the input node of slot ``slot`` (block
``slot // 2``), in genotype order. Cells are deduplicated by NAS-Bench-101's isomorphism-invariant
graph hash (:func:`a2v_jax.spaces.nb101.hash_module`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from a2v_jax.spaces.base import InvalidArchitectureError
from a2v_jax.spaces.darts.genotypes import (
    CELL_OPS,
    NUM_BLOCKS,
    NUM_SLOTS,
    Genotype,
    validate_space_genotype,
)
from a2v_jax.spaces.nb101.hash import hash_module, hash_neighbours

#: arch2vec's one-hot vocabulary for DARTS (11 x 11 layout).
OP_NAMES: tuple[str, ...] = ("c_k-2", "c_k-1", *CELL_OPS, "output")
NUM_NODES = 11
OUTPUT_NODE = NUM_NODES - 1
#: Offset from an op code to its one-hot column.
OP_OFFSET = 2

#: The block each slot belongs to, and the number of nodes it may read (``b + 2``).
SLOT_BLOCK = np.repeat(np.arange(NUM_BLOCKS), 2)  # (8,)
SLOT_NUM_INPUTS = SLOT_BLOCK + 2  # (8,)
NUM_INPUTS = NUM_BLOCKS + 1  # an op reads node 0..4 (node 5 is the last block, read by nobody)


def _input_patterns() -> np.ndarray:
    pat = np.zeros((NUM_INPUTS, NUM_NODES), dtype=np.uint8)
    pat[0, 0] = pat[1, 1] = 1
    for k in range(2, NUM_INPUTS):
        pat[k, [2 * (k - 2) + 2, 2 * (k - 2) + 3]] = 1
    return pat


#: ``INPUT_PATTERNS[s]`` is the adjacency column (in-edges) of an op-node reading node ``s``.
INPUT_PATTERNS: np.ndarray = _input_patterns()  # (5, 11)
INPUT_PATTERNS.setflags(write=False)
#: The output node's in-edges: every op-node.
OUTPUT_PATTERN: np.ndarray = np.zeros(NUM_NODES, dtype=np.uint8)
OUTPUT_PATTERN[2:OUTPUT_NODE] = 1
OUTPUT_PATTERN.setflags(write=False)


# --------------------------------------------------------------------------- cell arrays


def cell_from_genotype(genotype: Genotype) -> np.ndarray:
    """The ``(8, 2)`` int8 cell array of a space genotype (validated, ``reduce == normal``)."""
    validate_space_genotype(genotype)
    return np.array([(CELL_OPS.index(op), src) for op, src in genotype.normal], dtype=np.int8)


def genotype_from_cell(cell: np.ndarray) -> Genotype:
    """Inverse of :func:`cell_from_genotype`; validates the ``(8, 2)`` cell array."""
    cell = np.asarray(cell)
    bad = cell_problems(cell[None]) if cell.shape == (NUM_SLOTS, 2) else None
    if cell.shape != (NUM_SLOTS, 2) or bad[0]:
        why = bad[0] if bad is not None else f"shape {cell.shape}, expected (8, 2)"
        raise InvalidArchitectureError(f"not a DARTS cell array: {why}")
    return Genotype.from_normal([(CELL_OPS[int(o)], int(s)) for o, s in cell])


# --------------------------------------------------------------------------- cell arrays


def cell_codes(cells: np.ndarray) -> np.ndarray:
    """Compact ids of cell arrays: 16 digits, op code then input node for each of the 8 slots.

    ``sep_conv_3x3`` (code 4) reading node 0 is ``"40"``; a whole cell reads e.g.
    ``"4041..."`` in genotype order. :func:`cells_from_codes` inverts it. 64 bytes per cell as a
    numpy string, against about 1 kB for the genotype string (what ``embeddings.npz`` stores).

    Args:
      cells: ``(P, 8, 2)`` integer cell arrays.

    Returns:
      ``(P,)`` ``<U16`` strings.
    """
    cells = np.asarray(cells)
    if cells.ndim != 3 or cells.shape[1:] != (NUM_SLOTS, 2):
        raise InvalidArchitectureError(f"cell arrays must be (P, 8, 2), got {cells.shape}")
    _check_cells(cells)
    digits = (cells.reshape(cells.shape[0], -1).astype(np.uint8) + ord("0")).astype(np.uint8)
    return np.ascontiguousarray(digits).view("S16").reshape(-1).astype("U16")


def cells_from_codes(codes: Any) -> np.ndarray:
    """Inverse of :func:`cell_codes`: ``(P,)`` 16-digit ids -> ``(P, 8, 2)`` int8 cell arrays.

    Raises:
      InvalidArchitectureError: naming the first id that is not 16 digits or not a DARTS cell.
    """
    codes = np.asarray(codes).astype(str).reshape(-1)
    for i, code in enumerate(codes.tolist()):
        if len(code) != 2 * NUM_SLOTS or not code.isdigit() or not code.isascii():
            raise InvalidArchitectureError(f"DARTS cell id {i} {code!r} is not {2 * NUM_SLOTS} digits")
    raw = np.frombuffer("".join(codes.tolist()).encode("ascii"), dtype=np.uint8)
    cells = (raw.astype(np.int16) - ord("0")).astype(np.int8).reshape(-1, NUM_SLOTS, 2)
    ok = cells_valid(cells) if len(cells) else np.ones(0, bool)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InvalidArchitectureError(
            f"DARTS cell id {i} {codes[i]!r} is not a DARTS cell: {cell_problems(cells[i : i + 1])[0]}"
        )
    return cells


def cells_valid(cells: np.ndarray) -> np.ndarray:
    """Vectorised :func:`check_cell` on ``(P, 8, 2)`` cell arrays -> ``(P,)`` bool."""
    cells = np.asarray(cells)
    if cells.ndim != 3 or cells.shape[1:] != (NUM_SLOTS, 2) or not np.issubdtype(cells.dtype, np.integer):
        raise InvalidArchitectureError(
            f"cell arrays must be integer (P, 8, 2), got {cells.dtype} {cells.shape}"
        )
    ops, src = cells[..., 0], cells[..., 1]
    ok = np.all((ops >= 0) & (ops < len(CELL_OPS)), axis=1)
    ok &= np.all((src >= 0) & (src < SLOT_NUM_INPUTS), axis=1)
    return ok & np.all(src[:, 0::2] != src[:, 1::2], axis=1)


def cell_problems(cells: np.ndarray) -> list[str]:
    """Per cell array, ``""`` if valid, else the first problem in words."""
    out = []
    for ok, cell in zip(cells_valid(cells), np.asarray(cells), strict=True):
        if ok:
            out.append("")
            continue
        for slot, (op, src) in enumerate(cell):
            if not 0 <= op < len(CELL_OPS):
                out.append(f"slot {slot}: op code {int(op)} outside 0..{len(CELL_OPS) - 1}")
                break
            if not 0 <= src < SLOT_NUM_INPUTS[slot]:
                out.append(f"slot {slot}: input {int(src)} outside 0..{SLOT_NUM_INPUTS[slot] - 1}")
                break
        else:
            block = int(np.flatnonzero(cell[0::2, 1] == cell[1::2, 1])[0])
            out.append(f"block {block} reads node {int(cell[2 * block, 1])} twice")
    return out


def _check_cells(cells: np.ndarray) -> None:
    """Raises :class:`InvalidArchitectureError` naming the first cell array that is not a DARTS cell."""
    ok = cells_valid(cells)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InvalidArchitectureError(
            f"cell array {i} is not a DARTS cell: {cell_problems(cells[i : i + 1])[0]}"
        )


def encode_cells(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """arch2vec's 11-node graphs of cell arrays (reference §2.3).

    Args:
      cells: ``(P, 8, 2)`` integer cell arrays.

    Returns:
      adjacency ``(P, 11, 11)`` uint8 (``A[i, j] = 1``: edge i -> j) and ops one-hot
      ``(P, 11, 11)`` float32.
    """
    _check_cells(cells)
    cells = np.asarray(cells)
    p = cells.shape[0]
    adj = np.zeros((p, NUM_NODES, NUM_NODES), dtype=np.uint8)
    adj[:, :, OP_OFFSET:OUTPUT_NODE] = INPUT_PATTERNS[cells[..., 1]].transpose(0, 2, 1)  # (P, 11, 8)
    adj[:, :, OUTPUT_NODE] = OUTPUT_PATTERN
    return adj, np.eye(len(OP_NAMES), dtype=np.float32)[op_indices(cells)]


def op_indices(cells: np.ndarray) -> np.ndarray:
    """``(P, 11)`` one-hot column per node (``argmax`` of the ops matrix) of cell arrays."""
    cells = np.asarray(cells)
    out = np.empty((cells.shape[0], NUM_NODES), dtype=np.int32)
    out[:, 0], out[:, 1], out[:, OUTPUT_NODE] = 0, 1, OUTPUT_NODE
    out[:, OP_OFFSET:OUTPUT_NODE] = cells[..., 0] + OP_OFFSET
    return out


def decode_graphs(adjacency: np.ndarray, op_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell arrays of arch2vec graphs, and which graphs are (strictly) valid.

    Only the strict upper triangle of ``adjacency`` is read (decoders reconstruct ``triu(A, 1)``).

    Args:
      adjacency: ``(B, 11, 11)`` 0/1.
      op_idx: ``(B, 11)`` one-hot column per node.

    Returns:
      cells ``(B, 8, 2)`` int8 (meaningful where valid) and valid ``(B,)`` bool (see
      :func:`valid_strict`).
    """
    adjacency, op_idx = _check_graph_batch(adjacency, op_idx)
    a = np.triu(adjacency, 1).astype(np.uint8)
    cols = a[:, :, OP_OFFSET:OUTPUT_NODE]  # (B, 11, 8) in-edges of the op-nodes
    match = np.all(cols[:, None, :, :] == INPUT_PATTERNS[None, :, :, None], axis=2)  # (B, 5, 8)
    match &= (np.arange(NUM_INPUTS)[:, None] < SLOT_NUM_INPUTS[None, :])[None]
    src = match.argmax(axis=1)  # (B, 8)
    ops = op_idx[:, OP_OFFSET:OUTPUT_NODE] - OP_OFFSET  # (B, 8)
    valid = np.all(match.any(axis=1), axis=1)
    valid &= np.all((ops >= 0) & (ops < len(CELL_OPS)), axis=1)
    valid &= (op_idx[:, 0] == 0) & (op_idx[:, 1] == 1) & (op_idx[:, OUTPUT_NODE] == OUTPUT_NODE)
    valid &= np.all(a[:, :, OUTPUT_NODE] == OUTPUT_PATTERN, axis=1) & ~a[:, :, 1].any(axis=1)
    valid &= np.all(src[:, 0::2] != src[:, 1::2], axis=1)
    cells = np.stack([np.clip(ops, 0, len(CELL_OPS) - 1), src], axis=-1).astype(np.int8)
    return cells, valid


def valid_strict(adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
    """Strict validity: the graph is exactly the encoding of a DARTS-space cell.

    Node 0/1/10 labelled ``c_k-2``/``c_k-1``/``output``, nodes 2..9 DARTS ops; every op-node's
    in-edges are exactly one earlier allowed input's pattern (one cell input, or both op-nodes of an
    earlier block); the two op-nodes of a block read distinct inputs; the output reads exactly the 8
    op-nodes; no other edge. Strict upper triangle only.

    Returns:
      ``(B,)`` bool.
    """
    return decode_graphs(adjacency, op_idx)[1]


def valid_loose(adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
    """The original ``is_valid_darts`` (reference §5), vectorised, on the adjacency as given.

    Labels: node 0 ``c_k-2``, node 1 ``c_k-1``, node 10 ``output``, nodes 2..9 DARTS ops. Block
    ``b``'s op-nodes (``2b+2``, ``2b+3``) each have an in-edge from a node before the block
    (rows ``< 2b+2``) and, for ``b < 3``, none from rows ``>= 2b+4``. Edges inside a block, from
    rows 0/1 to the output and the output's in-edges are not checked. The original applies it to
    ``triu(A, 1)``.

    Returns:
      ``(B,)`` bool.
    """
    adjacency, op_idx = _check_graph_batch(adjacency, op_idx)
    ok = (op_idx[:, 0] == 0) & (op_idx[:, 1] == 1) & (op_idx[:, -1] == OUTPUT_NODE)
    ok &= np.all(
        (op_idx[:, OP_OFFSET:OUTPUT_NODE] >= OP_OFFSET) & (op_idx[:, OP_OFFSET:OUTPUT_NODE] < 10), axis=1
    )
    a = np.asarray(adjacency) != 0
    for block in range(NUM_BLOCKS):
        first = 2 * block + 2
        for v in (first, first + 1):
            ok &= a[:, :first, v].any(axis=1)
            if block < NUM_BLOCKS - 1:
                ok &= ~a[:, first + 2 :, v].any(axis=1)
    return ok


def _check_graph_batch(adjacency: np.ndarray, op_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    adjacency, op_idx = np.asarray(adjacency), np.asarray(op_idx)
    if adjacency.ndim != 3 or adjacency.shape[1:] != (NUM_NODES, NUM_NODES):
        raise InvalidArchitectureError(f"DARTS adjacency must be (B, 11, 11), got {adjacency.shape}")
    if op_idx.shape != adjacency.shape[:2]:
        raise InvalidArchitectureError(
            f"DARTS op indices must be (B, 11) = {adjacency.shape[:2]}, got {op_idx.shape}"
        )
    return adjacency, op_idx


def graph_problem(adjacency: np.ndarray, op_idx: np.ndarray) -> str:
    """Why one ``(11, 11)`` graph with ``(11,)`` op indices is not strictly valid (``""`` if it is)."""
    a = np.triu(np.asarray(adjacency), 1) != 0
    op_idx = np.asarray(op_idx)
    names = [OP_NAMES[i] if 0 <= i < len(OP_NAMES) else str(i) for i in op_idx.tolist()]
    for node, want in ((0, "c_k-2"), (1, "c_k-1"), (OUTPUT_NODE, "output")):
        if names[node] != want:
            return f"node {node} must be {want!r}, got {names[node]!r}"
    for v in range(OP_OFFSET, OUTPUT_NODE):
        if names[v] not in CELL_OPS:
            return f"node {v} must be a DARTS op, got {names[v]!r}"
    if a[0, 1]:
        return "edge 0 -> 1: the two cell inputs are not connected"
    srcs = []
    for v in range(OP_OFFSET, OUTPUT_NODE):
        block = (v - OP_OFFSET) // 2
        ins = np.flatnonzero(a[:, v]).tolist()
        hits = [s for s in range(block + 2) if ins == np.flatnonzero(INPUT_PATTERNS[s]).tolist()]
        if not hits:
            allowed = ", ".join(str(np.flatnonzero(INPUT_PATTERNS[s]).tolist()) for s in range(block + 2))
            return f"op-node {v} (block {block}) has in-edges from {ins}; expected exactly one of {allowed}"
        srcs.append(hits[0])
    for block in range(NUM_BLOCKS):
        if srcs[2 * block] == srcs[2 * block + 1]:
            return (
                f"op-nodes {2 * block + 2} and {2 * block + 3} (block {block}) read the same node "
                f"{srcs[2 * block]}"
            )
    ins = np.flatnonzero(a[:, OUTPUT_NODE]).tolist()
    if ins != list(range(OP_OFFSET, OUTPUT_NODE)):
        return f"output node has in-edges from {ins}; expected exactly the op-nodes 2..9"
    return ""


# --------------------------------------------------------------------------- graph hash


def graph_hashes(adjacency: np.ndarray, op_idx: np.ndarray) -> list[str]:
    """:func:`~a2v_jax.spaces.nb101.hash_module` of each graph, labelled by its one-hot column."""
    adjacency, op_idx = _check_graph_batch(adjacency, op_idx)
    return [hash_module(a, lab.tolist()) for a, lab in zip(adjacency, op_idx, strict=True)]


_INPUT_NODES: tuple[tuple[int, ...], ...] = tuple(tuple(np.flatnonzero(p).tolist()) for p in INPUT_PATTERNS)
_OP_NODES: tuple[int, ...] = tuple(range(OP_OFFSET, OUTPUT_NODE))


def _cell_fingerprint(ops: Sequence[int], src: Sequence[int]) -> str:
    """The hash of a cell's graph, its neighbour lists built from the op codes and inputs (no matrix)."""
    ins = [(), (), *(_INPUT_NODES[s] for s in src), _OP_NODES]
    outs: list[list[int]] = [[] for _ in range(NUM_NODES)]
    for v in _OP_NODES:
        for u in ins[v]:
            outs[u].append(v)
        outs[v].append(OUTPUT_NODE)
    return hash_neighbours(ins, outs, [0, 1, *(o + OP_OFFSET for o in ops), OUTPUT_NODE])


def cell_hashes(cells: np.ndarray) -> list[str]:
    """The graph hash of each cell array (= :func:`graph_hashes` of its encoding)."""
    _check_cells(cells)
    cells = np.asarray(cells)
    return [
        _cell_fingerprint(o, s) for o, s in zip(cells[..., 0].tolist(), cells[..., 1].tolist(), strict=True)
    ]
