"""DARTS genotypes: the 8 ``(op, input)`` pairs of a cell, DARTS's string form, and the space's checks.

A DARTS cell has two inputs (``c_{k-2}``, ``c_{k-1}``, nodes 0 and 1) and 4 intermediate nodes
(2..5). Block ``b`` (node ``b + 2``) sums two ops, each applied to a distinct earlier node
``0..b+1``; the cell outputs the concatenation of nodes 2..5. A genotype lists the 8
``(op, input)`` pairs block by block, in DARTS's form::

    Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5],
             reduce=[...], reduce_concat=[2, 3, 4, 5])

arch2vec samples only a normal cell and uses it as the reduction cell too (reference §2.3), so an
architecture of this space is a :class:`Genotype` with ``reduce == normal``.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from a2v_jax.spaces.base import InvalidArchitectureError
from a2v_jax.spaces.darts_macs import DEFAULT_CONCAT, PRIMITIVES

#: The 8 DARTS ops in DARTS's ``PRIMITIVES`` order; a cell array's op code is an index here.
CELL_OPS: tuple[str, ...] = PRIMITIVES
NUM_BLOCKS = 4
NUM_SLOTS = 2 * NUM_BLOCKS

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
