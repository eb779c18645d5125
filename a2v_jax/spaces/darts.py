"""DARTS normal cells as arch2vec's 11-node graph, the original's sampler and its 600M-MAC pool.

A DARTS cell has two inputs (``c_{k-2}``, ``c_{k-1}``, nodes 0 and 1) and 4 intermediate nodes
(2..5). Block ``b`` (node ``b + 2``) sums two ops, each applied to a distinct earlier node
``0..b+1``; the cell outputs the concatenation of nodes 2..5. A genotype lists the 8
``(op, input)`` pairs block by block, in DARTS's form::

    Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5],
             reduce=[...], reduce_concat=[2, 3, 4, 5])

arch2vec samples only a normal cell and uses it as the reduction cell too (reference §2.3), so an
architecture of this space is a :class:`Genotype` with ``reduce == normal``.

arch2vec's graph (11 nodes, reference §2.3): ``0: c_{k-2}, 1: c_{k-1}``, op-nodes ``2b + 2`` and
``2b + 3`` for the two ops of block ``b``, ``10: output``. An op-node reading cell input 0 or 1 gets
one edge from that node; one reading intermediate node ``k`` (2..5) gets edges from **both**
op-nodes of block ``k - 2``; all 8 op-nodes feed the output. One-hot columns:
``c_k-2 0, c_k-1 1, none 2, max_pool_3x3 3, avg_pool_3x3 4, skip_connect 5, sep_conv_3x3 6,
sep_conv_5x5 7, dil_conv_3x3 8, dil_conv_5x5 9, output 10``.

Vectorised code works on *cell arrays*: ``(P, 8, 2)`` integers, ``[..., slot, 0]`` the op code
(index in :data:`CELL_OPS`) and ``[..., slot, 1]`` the input node of slot ``slot`` (block
``slot // 2``), in genotype order.

Pool: the original draws cells (each block: 2 distinct inputs uniformly from ``range(b + 2)``, 2
ops uniformly from the 8), keeps those whose ImageNet network has < 600M multiply-adds
(:mod:`a2v_jax.spaces.darts_macs`), deduplicates by NAS-Bench-101's isomorphism-invariant graph
hash, and stops at 600,000 cells. :func:`load_pool` does the same from a seed and caches the result
as one ``.npz`` under ``$A2V_CACHE_DIR``.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from a2v_jax.spaces.base import InvalidArchitectureError
from a2v_jax.spaces.darts_macs import (
    DEFAULT_CONCAT,
    IMAGENET,
    PRIMITIVES,
    NetworkSpec,
    cells_cost,
    network_macs,
    slot_table,
)

#: The 8 DARTS ops in DARTS's ``PRIMITIVES`` order; a cell array's op code is an index here.
CELL_OPS: tuple[str, ...] = PRIMITIVES
#: arch2vec's one-hot vocabulary for DARTS (11 x 11 layout).
OP_NAMES: tuple[str, ...] = ("c_k-2", "c_k-1", *CELL_OPS, "output")
NUM_NODES = 11
NUM_BLOCKS = 4
NUM_SLOTS = 2 * NUM_BLOCKS
OUTPUT_NODE = NUM_NODES - 1
#: Offset from an op code to its one-hot column.
OP_OFFSET = 2
#: arch2vec keeps cells whose ImageNet network has fewer multiply-adds than this (reference §2.3).
MAX_MACS = 600_000_000
#: Size of arch2vec's DARTS pool.
PAPER_POOL_SIZE = 600_000

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

Cell = tuple[tuple[str, int], ...]


# --------------------------------------------------------------------------- genotypes


@dataclass(frozen=True)
class Genotype:
    """A DARTS genotype: 8 ``(op, input)`` pairs per cell, block by block, and the concatenated nodes.

    Lists are stored as tuples; construction checks that both cells are DARTS-space cells
    (:func:`check_genotype`), not that ``reduce == normal``. ``str(genotype)`` is DARTS's
    ``Genotype(normal=[...], normal_concat=[...], reduce=[...], reduce_concat=[...])`` form, which
    :func:`parse_genotype` reads back.
    """

    normal: Cell
    normal_concat: tuple[int, ...]
    reduce: Cell
    reduce_concat: tuple[int, ...]

    def __post_init__(self):
        for name in ("normal", "reduce"):
            object.__setattr__(self, name, _as_cell(getattr(self, name), name))
            object.__setattr__(
                self, f"{name}_concat", _as_ints(getattr(self, f"{name}_concat"), f"{name}_concat")
            )
        check_genotype(self)

    @classmethod
    def from_normal(cls, normal: Sequence[tuple[str, int]]) -> Genotype:
        """arch2vec's genotype of a normal cell: ``reduce = normal``, both concatenating nodes 2..5."""
        return cls(normal, DEFAULT_CONCAT, normal, DEFAULT_CONCAT)

    def __str__(self) -> str:
        return format_genotype(self)


def _is_int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def _as_ints(values: Any, name: str) -> tuple[int, ...]:
    try:
        items = tuple(values)
    except TypeError:
        raise InvalidArchitectureError(f"{name} must be a sequence of node indices, got {values!r}") from None
    if not all(_is_int(i) for i in items):
        raise InvalidArchitectureError(f"{name} must hold integer node indices, got {list(items)!r}")
    return tuple(int(i) for i in items)


def _as_cell(pairs: Any, name: str) -> Cell:
    try:
        items = tuple(pairs)
    except TypeError:
        raise InvalidArchitectureError(
            f"{name} must be a sequence of (op, input) pairs, got {pairs!r}"
        ) from None
    cell = []
    for slot, pair in enumerate(items):
        ok = isinstance(pair, tuple | list) and len(pair) == 2
        if not ok or not isinstance(pair[0], str) or not _is_int(pair[1]):
            raise InvalidArchitectureError(
                f"{name}[{slot}] must be a pair (op name, integer input), got {pair!r}"
            )
        cell.append((pair[0], int(pair[1])))
    return tuple(cell)


def format_genotype(genotype: Genotype) -> str:
    """The DARTS string ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], ...)``."""
    return (
        f"Genotype(normal={list(genotype.normal)!r}, normal_concat={list(genotype.normal_concat)!r}, "
        f"reduce={list(genotype.reduce)!r}, reduce_concat={list(genotype.reduce_concat)!r})"
    )


_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")
_FORM = "Genotype(normal=[('op', input), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[...])"


def parse_genotype(text: str) -> Genotype:
    """Parses DARTS's genotype string (as printed by DARTS or pasted from ``genotypes.py``).

    Accepts keyword or positional fields, lists or tuples, ``range(2, 6)`` for a concat, and a
    qualified name (``genotypes.Genotype(...)``). Nothing is evaluated. The result is checked to be
    a DARTS-space genotype (:func:`check_genotype`), but not that ``reduce == normal``.

    Raises:
      InvalidArchitectureError: naming the field, entry and token that is wrong.
    """
    if not isinstance(text, str):
        raise InvalidArchitectureError(f"a genotype string must be a str, got {type(text).__name__}")
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise InvalidArchitectureError(
            f"genotype string is not well formed ({e.msg} at column {e.offset}): {text!r}; expected {_FORM}"
        ) from None
    if not isinstance(node, ast.Call) or _call_name(node.func) != "Genotype":
        raise InvalidArchitectureError(f"genotype string must be a call Genotype(...), got {text!r}")
    if len(node.args) > len(_FIELDS):
        raise InvalidArchitectureError(
            f"Genotype(...) takes at most 4 fields {_FIELDS}, got {len(node.args)}"
        )
    values: dict[str, ast.expr] = dict(zip(_FIELDS, node.args, strict=False))
    for kw in node.keywords:
        if kw.arg not in _FIELDS:
            raise InvalidArchitectureError(
                f"Genotype(...) has an unknown field {kw.arg!r}; fields: {_FIELDS}"
            )
        if kw.arg in values:
            raise InvalidArchitectureError(f"Genotype(...) gives field {kw.arg!r} twice")
        values[kw.arg] = kw.value
    missing = [f for f in _FIELDS if f not in values]
    if missing:
        raise InvalidArchitectureError(f"Genotype(...) lacks field(s) {missing}; expected {_FORM}")
    return Genotype(
        normal=_parse_cell(values["normal"], "normal"),
        normal_concat=_parse_concat(values["normal_concat"], "normal_concat"),
        reduce=_parse_cell(values["reduce"], "reduce"),
        reduce_concat=_parse_concat(values["reduce_concat"], "reduce_concat"),
    )


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _int_constant(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


def _parse_cell(node: ast.expr, name: str) -> Cell:
    if not isinstance(node, ast.List | ast.Tuple):
        raise InvalidArchitectureError(
            f"{name} must be a list of ('op', input) pairs, got {ast.unparse(node)!r}"
        )
    pairs = []
    for i, elt in enumerate(node.elts):
        ok = isinstance(elt, ast.Tuple | ast.List) and len(elt.elts) == 2
        op = elt.elts[0] if ok else None
        src = _int_constant(elt.elts[1]) if ok else None
        if not ok or not (isinstance(op, ast.Constant) and isinstance(op.value, str)) or src is None:
            raise InvalidArchitectureError(
                f"{name}[{i}] must be a pair ('op', input) with a quoted op name and an integer input, "
                f"got {ast.unparse(elt)!r}"
            )
        pairs.append((op.value, src))
    return tuple(pairs)


def _parse_concat(node: ast.expr, name: str) -> tuple[int, ...]:
    if isinstance(node, ast.Call) and _call_name(node.func) == "range" and not node.keywords:
        bounds = [_int_constant(a) for a in node.args]
        if 1 <= len(bounds) <= 2 and None not in bounds:
            return tuple(range(*bounds))  # type: ignore[arg-type]
    elif isinstance(node, ast.List | ast.Tuple):
        items = [_int_constant(e) for e in node.elts]
        if None not in items:
            return tuple(items)  # type: ignore[arg-type]
    raise InvalidArchitectureError(
        f"{name} must be a list of node indices like [2, 3, 4, 5] or range(2, 6), got {ast.unparse(node)!r}"
    )


def check_cell(cell: Sequence[tuple[str, int]], name: str = "normal") -> None:
    """Raises :class:`InvalidArchitectureError` unless ``cell`` is a DARTS-space cell.

    A cell has 8 ``(op, input)`` pairs; op in :data:`CELL_OPS`; the pairs ``2b, 2b+1`` of block ``b``
    read two **distinct** nodes in ``0..b+1``.
    """
    if len(cell) != NUM_SLOTS:
        raise InvalidArchitectureError(
            f"{name} cell has {len(cell)} (op, input) pairs, expected {NUM_SLOTS} (2 per block, 4 blocks)"
        )
    for slot, (op, src) in enumerate(cell):
        if op not in CELL_OPS:
            raise InvalidArchitectureError(f"{name}[{slot}]: unknown op {op!r}; expected one of {CELL_OPS}")
        block = slot // 2
        if not 0 <= src < block + 2:
            raise InvalidArchitectureError(
                f"{name}[{slot}] ({op!r}, {src}): block {block} may only read nodes 0..{block + 1}"
            )
    for block in range(NUM_BLOCKS):
        a, b = cell[2 * block][1], cell[2 * block + 1][1]
        if a == b:
            raise InvalidArchitectureError(
                f"{name}[{2 * block}] and {name}[{2 * block + 1}]: block {block} reads node {a} twice; "
                "the two ops of a block read distinct nodes"
            )


def check_genotype(genotype: Genotype) -> None:
    """Checks both cells (:func:`check_cell`) and that both concatenate nodes 2..5."""
    for name in ("normal", "reduce"):
        check_cell(getattr(genotype, name), name)
        concat = tuple(getattr(genotype, f"{name}_concat"))
        if concat != DEFAULT_CONCAT:
            raise InvalidArchitectureError(
                f"{name}_concat is {list(concat)}; a DARTS-space cell concatenates nodes "
                f"{list(DEFAULT_CONCAT)}"
            )


def as_genotype(arch: Any) -> Genotype:
    """A :class:`Genotype` from itself, its string form or DARTS's own ``Genotype`` namedtuple."""
    if isinstance(arch, Genotype):
        return arch
    if isinstance(arch, str):
        return parse_genotype(arch)
    if all(hasattr(arch, f) for f in _FIELDS):
        return Genotype(*(getattr(arch, f) for f in _FIELDS))
    raise InvalidArchitectureError(
        f"a DARTS architecture is a Genotype, its string form or a namedtuple with fields {_FIELDS}; "
        f"got {type(arch).__name__}"
    )


def validate_space_genotype(genotype: Genotype) -> None:
    """:func:`check_genotype` plus arch2vec's ``reduce == normal`` (reference §2.3)."""
    check_genotype(genotype)
    if genotype.reduce != genotype.normal:
        raise InvalidArchitectureError(
            "arch2vec's DARTS space uses the normal cell as the reduction cell (reduce = normal); this "
            f"genotype's reduce cell {list(genotype.reduce)} differs from its normal cell. "
            "Genotype.from_normal(genotype.normal) gives the space's version of its normal cell"
        )


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
    ok = cells_valid(cells)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InvalidArchitectureError(
            f"cell array {i} is not a DARTS cell: {cell_problems(cells[i : i + 1])[0]}"
        )
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


def encode_cells(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """arch2vec's 11-node graphs of cell arrays (reference §2.3).

    Args:
      cells: ``(P, 8, 2)`` integer cell arrays.

    Returns:
      adjacency ``(P, 11, 11)`` uint8 (``A[i, j] = 1``: edge i -> j) and ops one-hot
      ``(P, 11, 11)`` float32.
    """
    ok = cells_valid(cells)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InvalidArchitectureError(
            f"cell array {i} is not a DARTS cell: {cell_problems(cells[i : i + 1])[0]}"
        )
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


def _hash_module(adjacency: np.ndarray, labels: Sequence[int]) -> str:
    """NAS-Bench-101's isomorphism-invariant graph fingerprint (``graph_util.hash_module``).

    Each node starts from the MD5 of ``str((out_degree, in_degree, label))``; then, ``N`` times,
    every node's hash becomes the MD5 of its in-neighbours' hashes sorted and joined, ``'|'``, its
    out-neighbours' likewise, ``'|'``, its own hash. The fingerprint is the MD5 of ``str`` of the
    sorted final hashes (a Python list of str). Written here from that description; it reproduces
    published NAS-Bench-101 hashes and equals :func:`a2v_jax.spaces.nb101.hash_module` (both
    tested), which is to replace this private copy (see :data:`graph_fingerprint`).
    """
    a = np.asarray(adjacency) != 0
    n = a.shape[0]
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for a graph of {n} nodes")
    ins = [np.flatnonzero(a[:, v]).tolist() for v in range(n)]
    outs = [np.flatnonzero(a[v]).tolist() for v in range(n)]
    md5 = hashlib.md5
    hashes = [
        md5(f"({len(outs[v])}, {len(ins[v])}, {int(labels[v])})".encode()).hexdigest() for v in range(n)
    ]
    for _ in range(n):
        hashes = [
            md5(
                (
                    "".join(sorted([hashes[w] for w in ins[v]]))
                    + "|"
                    + "".join(sorted([hashes[w] for w in outs[v]]))
                    + "|"
                    + hashes[v]
                ).encode()
            ).hexdigest()
            for v in range(n)
        ]
    return md5(("[" + ", ".join(f"'{h}'" for h in sorted(hashes)) + "]").encode()).hexdigest()


#: The graph fingerprint used for dedup and canonical hashes. To swap in the shared
#: :func:`a2v_jax.spaces.nb101.hash_module` (same values, tested), assign it here; :func:`cell_hashes`
#: then hashes the encoded graphs instead of taking its faster cell-array path.
graph_fingerprint = _hash_module


def graph_hashes(adjacency: np.ndarray, op_idx: np.ndarray) -> list[str]:
    """:data:`graph_fingerprint` of each graph, labelled by its one-hot column (as the original)."""
    adjacency, op_idx = _check_graph_batch(adjacency, op_idx)
    return [graph_fingerprint(a, lab.tolist()) for a, lab in zip(adjacency, op_idx, strict=True)]


_INPUT_NODES: tuple[tuple[int, ...], ...] = tuple(tuple(np.flatnonzero(p).tolist()) for p in INPUT_PATTERNS)
_OP_NODES: tuple[int, ...] = tuple(range(OP_OFFSET, OUTPUT_NODE))


def _cell_fingerprint(ops: Sequence[int], src: Sequence[int]) -> str:
    """:func:`_hash_module` of a cell's graph, built from its op codes and inputs (about 2x faster)."""
    ins = [(), (), *(_INPUT_NODES[s] for s in src), _OP_NODES]
    outs: list[list[int]] = [[] for _ in range(NUM_NODES)]
    for v in _OP_NODES:
        for u in ins[v]:
            outs[u].append(v)
        outs[v].append(OUTPUT_NODE)
    labels = [0, 1, *(o + OP_OFFSET for o in ops), OUTPUT_NODE]
    md5 = hashlib.md5
    hashes = [
        md5(f"({len(outs[v])}, {len(ins[v])}, {labels[v]})".encode()).hexdigest() for v in range(NUM_NODES)
    ]
    plan = list(zip(range(NUM_NODES), ins, outs, strict=True))
    for _ in range(NUM_NODES):
        h = hashes
        hashes = [
            md5(
                (
                    "".join(sorted([h[w] for w in i])) + "|" + "".join(sorted([h[w] for w in o])) + "|" + h[v]
                ).encode()
            ).hexdigest()
            for v, i, o in plan
        ]
    hashes.sort()
    return md5(("['" + "', '".join(hashes) + "']").encode()).hexdigest()


def cell_hashes(cells: np.ndarray) -> list[str]:
    """:data:`graph_fingerprint` of each cell array's graph (= :func:`graph_hashes` of its encoding)."""
    ok = cells_valid(cells)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InvalidArchitectureError(
            f"cell array {i} is not a DARTS cell: {cell_problems(cells[i : i + 1])[0]}"
        )
    if graph_fingerprint is not _hash_module:  # a swapped-in implementation: use it on the graphs
        adj, _ = encode_cells(cells)
        return graph_hashes(adj, op_indices(cells))
    cells = np.asarray(cells)
    return [
        _cell_fingerprint(o, s) for o, s in zip(cells[..., 0].tolist(), cells[..., 1].tolist(), strict=True)
    ]


# --------------------------------------------------------------------------- multiply-adds


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


# --------------------------------------------------------------------------- pool cache

#: Bumped whenever the sampler, the hash or the cached layout changes.
_POOL_FORMAT = 1


def pool_cache_file(
    n: int, seed: int, max_macs: int = MAX_MACS, cache_dir: str | os.PathLike | None = None
) -> Path:
    """Where :func:`load_pool` caches the pool of ``n`` cells drawn with ``seed``."""
    from a2v_jax.data import paths

    return paths.cache_dir(cache_dir) / f"darts-pool-v{_POOL_FORMAT}-n{n}-seed{seed}-macs{max_macs}.npz"


def _pool_checksum(cells: np.ndarray, macs: np.ndarray, hashes: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in (cells, macs, hashes):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _pool_meta(pool: DARTSPool) -> dict:
    return {
        "format": _POOL_FORMAT,
        "n": len(pool),
        "seed": pool.seed,
        "max_macs": pool.max_macs,
        "drawn": pool.drawn,
        "checksum": _pool_checksum(pool.cells, pool.macs, pool.hashes),
    }


def _write_pool(pool: DARTSPool, path: Path) -> bool:
    from a2v_jax.data import paths

    arrays = {"cells": pool.cells, "macs": pool.macs, "hashes": pool.hashes}
    return paths.write_npz_atomic(
        path,
        _pool_meta(pool),
        arrays,
        what="DARTS pool",
        otherwise="it will be sampled again",
        compress=True,
        stacklevel=3,
    )


def _read_pool(path: Path, n: int, seed: int, max_macs: int) -> DARTSPool:
    from a2v_jax.data import DataError

    def corrupt(why: str) -> DataError:
        return DataError(
            f"corrupted DARTS pool cache {path}: {why}. Delete it (rm '{path}') or pass rebuild_cache=True"
        )

    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            missing = [k for k in ("__meta__", "cells", "macs", "hashes") if k not in z.files]
            if missing:
                raise corrupt(f"missing array(s) {missing}")
            meta = json.loads(str(z["__meta__"]))
            cells, macs, hashes = z["cells"], z["macs"], z["hashes"]
    except DataError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise corrupt(f"cannot read it ({type(e).__name__}: {e})") from e
    want = {"format": _POOL_FORMAT, "n": n, "seed": seed, "max_macs": max_macs}
    got = {k: meta.get(k) for k in want}
    if got != want:
        raise corrupt(f"it records {got}, expected {want}")
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
    """The pool of ``n`` unique cells of ``seed`` (:func:`generate_pool`), cached as one ``.npz``.

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
    path = pool_cache_file(n, seed, max_macs, cache_dir) if use_cache else None
    if path is not None and not rebuild_cache and path.is_file():
        return _read_pool(path, n, seed, max_macs)
    pool = generate_pool(n, seed, max_macs=max_macs, progress=progress, workers=workers)
    if path is not None and _write_pool(pool, path):
        pool = DARTSPool(
            pool.cells, pool.macs, pool.hashes, pool.seed, pool.max_macs, pool.drawn, cache_file=str(path)
        )
    return pool


# --------------------------------------------------------------------------- the space


class DARTSSpace:
    """arch2vec's DARTS space: normal cells (reduce = normal) as 11-node graphs, over a sampled pool.

    An architecture is a :class:`Genotype` (its string form and DARTS's namedtuple are accepted).
    The space is not enumerable (about 4.8e10 cells); :meth:`enumerate`, :meth:`size` and
    :meth:`encode_all` refer to the pool of ``pool_size`` cells drawn with ``seed``
    (:func:`load_pool`, cached), which is what arch2vec pre-trains and searches on.

    Args:
      pool_size: cells in the pool (the paper: 600,000).
      seed: the pool's sampler seed.
      cache_dir: pool cache directory (see :func:`load_pool`).
      max_macs: multiply-add limit of the pool and of :meth:`sample`.
    """

    name = "darts"
    num_nodes = NUM_NODES
    op_names = OP_NAMES

    def __init__(
        self,
        pool_size: int = PAPER_POOL_SIZE,
        seed: int = 0,
        cache_dir: str | os.PathLike | None = None,
        max_macs: int = MAX_MACS,
    ):
        self.pool_size = pool_size
        self.seed = seed
        self.cache_dir = cache_dir
        self.max_macs = max_macs
        self._pool: DARTSPool | None = None

    @property
    def pool(self) -> DARTSPool:
        """The space's pool, sampled (or read from the cache) on first use."""
        if self._pool is None:
            self._pool = load_pool(
                self.pool_size, self.seed, max_macs=self.max_macs, cache_dir=self.cache_dir
            )
        return self._pool

    def validate(self, arch: Any) -> None:
        validate_space_genotype(as_genotype(arch))

    def encode(self, arch: Any) -> tuple[np.ndarray, np.ndarray]:
        adj, ops = encode_cells(cell_from_genotype(as_genotype(arch))[None])
        return adj[0], ops[0]

    def decode(self, adjacency: np.ndarray, ops: np.ndarray) -> Genotype:
        adjacency, ops = np.asarray(adjacency), np.asarray(ops)
        if adjacency.shape != (NUM_NODES, NUM_NODES):
            raise InvalidArchitectureError(f"DARTS adjacency must be (11, 11), got {adjacency.shape}")
        if ops.shape != (NUM_NODES, len(OP_NAMES)):
            raise InvalidArchitectureError(f"DARTS ops must be (11, 11), got {ops.shape}")
        if not np.all((ops == 0) | (ops == 1)) or not np.all(ops.sum(-1) == 1):
            raise InvalidArchitectureError("DARTS ops must be one-hot rows")
        op_idx = ops.argmax(-1)
        cells, valid = decode_graphs(adjacency[None], op_idx[None])
        if not valid[0]:
            raise InvalidArchitectureError(f"graph is not a DARTS cell: {graph_problem(adjacency, op_idx)}")
        return genotype_from_cell(cells[0])

    def canonical_hash(self, arch: Any) -> str:
        # The original deduplicates by this isomorphism-invariant fingerprint: swapping the two ops
        # of a block, or independent blocks, gives the same cell.
        return cell_hashes(cell_from_genotype(as_genotype(arch))[None])[0]

    def macs(self, arch: Any) -> int:
        """Multiply-adds of the ImageNet network built from ``arch`` (thop rules)."""
        return genotype_macs(arch)

    def size(self) -> int:
        return self.pool_size

    def enumerate(self) -> Iterator[Genotype]:
        for cell in self.pool.cells:
            yield genotype_from_cell(cell)

    def sample(self, rng: np.random.Generator, n: int) -> list[Genotype]:
        """``n`` cells from the original sampler under the multiply-add limit, with replacement."""
        out: list[np.ndarray] = []
        while sum(len(c) for c in out) < n:
            batch = sample_cells(rng, max(n, 16))
            out.append(batch[cells_macs(batch) < self.max_macs])
        cells = np.concatenate(out)[:n]
        return [genotype_from_cell(c) for c in cells]

    def encode_all(self) -> tuple[np.ndarray, np.ndarray]:
        return encode_cells(self.pool.cells)

    def valid_strict(self, adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
        return valid_strict(adjacency, op_idx)

    def valid_loose(self, adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
        return valid_loose(adjacency, op_idx)
