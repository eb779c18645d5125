"""Analytic multiply-adds and parameter counts of the DARTS evaluation networks (plain Python/numpy).

The networks are DARTS's ``NetworkCIFAR`` / ``NetworkImageNet`` built from a genotype's normal and
reduction cells; arch2vec filters its sampled cells by the ImageNet network's multiply-adds
(``< 600M``, measured with ``thop`` 0.0.31 on a 1x3x224x224 input, reference §2.3). This module counts
the same quantities layer by layer without building a network.

Network layout (DARTS ``model.py``; ``C`` init channels, ``L`` cells, reductions at ``L//3`` and
``2L//3`` double the channels and halve the resolution; every cell concatenates its 4 intermediate
nodes, so it outputs ``4C``):

- ImageNet: ``stem0`` = conv3x3/2 (3->C/2), BN, ReLU, conv3x3/2 (C/2->C), BN; ``stem1`` = ReLU,
  conv3x3/2 (C->C), BN. The first cell sees ``s0`` at 56x56 and ``s1`` at 28x28 (so its
  ``preprocess0`` is a factorized reduce). Head: ``AvgPool2d(7)``, ``Linear(4C_last, 1000)``.
- CIFAR: ``stem`` = conv3x3 (3->3C), BN; both first inputs are the stem. Head:
  ``AdaptiveAvgPool2d(1)``, ``Linear(4C_last, 10)``.
- Each cell: ``preprocess0`` = FactorizedReduce(C_pp, C) after a reduction cell, else
  ReLU-conv1x1-BN(C_pp, C); ``preprocess1`` = ReLU-conv1x1-BN(C_p, C). In a reduction cell the ops
  reading ``c_{k-2}`` / ``c_{k-1}`` have stride 2.
- Ops on ``C`` channels: ``none`` (zero), ``max_pool_3x3``, ``avg_pool_3x3`` (no params),
  ``skip_connect`` (identity; FactorizedReduce at stride 2), ``sep_conv_kxk`` (twice ReLU,
  depthwise kxk, pointwise 1x1, BN), ``dil_conv_kxk`` (ReLU, depthwise kxk dilation 2, 1x1, BN).
  Convolutions have no bias; BatchNorms are affine.

Counting rules (thop 0.0.31, the version arch2vec pins; ``profile`` runs the model in eval mode):

- ``Conv2d``: ``out_elements * (in_channels / groups) * kh * kw`` (no bias here).
- ``BatchNorm2d``: ``2 * elements`` (eval mode). ``AvgPool2d``: ``out_elements``.
  ``AdaptiveAvgPool2d``: ``(prod(in/out kernel) + 1) * out_elements``. ``Linear``:
  ``in_features * out_elements``.
- ``ReLU``, ``MaxPool2d``: 0. Modules without a rule (DARTS's ``Zero``, ``Identity``) and
  functional ops (``cat``, ``+``, ``drop_path``): 0.
- The auxiliary head only runs in training mode, so it adds no multiply-adds at eval.

Parameters count every weight (DARTS's ``count_parameters_in_MB`` divides by 1e6 and skips names
containing ``auxiliary``, i.e. ``auxiliary=False`` here). The ImageNet auxiliary head has no BN after
its 2x2 conv (DARTS omits it); the CIFAR one has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: The 8 DARTS candidate operations, in DARTS's ``PRIMITIVES`` order (op code = index).
PRIMITIVES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
#: The intermediate nodes every DARTS cell concatenates into its output.
DEFAULT_CONCAT: tuple[int, ...] = (2, 3, 4, 5)


@dataclass(frozen=True)
class NetworkSpec:
    """The macro-architecture a cell is stacked into.

    Attributes:
      kind: ``"imagenet"`` (two strided stems) or ``"cifar"`` (one stem of ``3C`` channels).
      init_channels: C of the first cells.
      layers: number of cells; reductions at ``layers // 3`` and ``2 * layers // 3``.
      num_classes: classifier outputs.
      image_size: input height = width.
    """

    kind: str
    init_channels: int
    layers: int
    num_classes: int
    image_size: int

    def __post_init__(self):
        if self.kind not in ("imagenet", "cifar"):
            raise ValueError(f"NetworkSpec.kind must be 'imagenet' or 'cifar', got {self.kind!r}")


#: ``NetworkImageNet(48, 1000, 14)`` on 224x224, as arch2vec's MAC filter and ImageNet transfer use.
IMAGENET = NetworkSpec("imagenet", init_channels=48, layers=14, num_classes=1000, image_size=224)
#: ``NetworkCIFAR(36, 10, 20)`` on 32x32, the final CIFAR-10 evaluation network.
CIFAR = NetworkSpec("cifar", init_channels=36, layers=20, num_classes=10, image_size=32)


@dataclass(frozen=True)
class Cost:
    """Multiply-adds (thop rules) and parameters of a module."""

    macs: int = 0
    params: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.macs + other.macs, self.params + other.params)


def _conv(c_in: int, c_out: int, k: int, out_hw: int, groups: int = 1) -> Cost:
    return Cost(c_out * out_hw * out_hw * (c_in // groups) * k * k, c_out * (c_in // groups) * k * k)


def _bn(c: int, hw: int) -> Cost:
    return Cost(2 * c * hw * hw, 2 * c)


def _halve(hw: int, what: str) -> int:
    if hw % 2:
        raise ValueError(f"{what}: a stride-2 layer on an odd resolution {hw} is not in the DARTS networks")
    return hw // 2


def relu_conv_bn(c_in: int, c_out: int, hw: int) -> Cost:
    """ReLU, 1x1 conv (``c_in -> c_out``), BN at resolution ``hw``."""
    return _conv(c_in, c_out, 1, hw) + _bn(c_out, hw)


def factorized_reduce(c_in: int, c_out: int, out_hw: int) -> Cost:
    """ReLU, two 1x1 stride-2 convs (``c_in -> c_out/2`` each, one shifted by a pixel), concat, BN."""
    if c_out % 2:
        raise ValueError(f"FactorizedReduce needs an even output channel count, got {c_out}")
    half = _conv(c_in, c_out // 2, 1, out_hw)
    return half + half + _bn(c_out, out_hw)


def op_cost(op: str, c: int, out_hw: int, stride: int) -> Cost:
    """Cost of one DARTS candidate op on ``c`` channels producing ``out_hw x out_hw``.

    Args:
      op: a name in :data:`PRIMITIVES`.
      c: channels in and out.
      out_hw: output resolution (the input is ``stride * out_hw``).
      stride: 1, or 2 for ops reading a cell input inside a reduction cell.

    Returns:
      The op's :class:`Cost`.
    """
    if op in ("none", "max_pool_3x3"):
        return Cost()
    if op == "avg_pool_3x3":
        return Cost(c * out_hw * out_hw, 0)
    if op == "skip_connect":
        return Cost() if stride == 1 else factorized_reduce(c, c, out_hw)
    if op.startswith(("sep_conv_", "dil_conv_")):
        k = int(op[-1])
        half = _conv(c, c, k, out_hw, groups=c) + _conv(c, c, 1, out_hw) + _bn(c, out_hw)
        return half + half if op.startswith("sep_conv_") else half
    raise ValueError(f"unknown DARTS op {op!r}; expected one of {PRIMITIVES}")


def _cell_ops(genotype: Any, field: str) -> tuple[list[tuple[str, int]], tuple[int, ...]]:
    cell = [(str(op), int(src)) for op, src in getattr(genotype, field)]
    concat = tuple(int(i) for i in getattr(genotype, f"{field}_concat"))
    if concat != DEFAULT_CONCAT:
        raise ValueError(
            f"{field}_concat {list(concat)}: only cells concatenating nodes {list(DEFAULT_CONCAT)} "
            "(every DARTS-space cell) are counted"
        )
    if len(cell) != 2 * len(DEFAULT_CONCAT):
        raise ValueError(f"{field} cell has {len(cell)} (op, input) pairs, expected 8")
    for slot, (op, src) in enumerate(cell):
        if op not in PRIMITIVES:
            raise ValueError(f"{field}[{slot}]: unknown op {op!r}; expected one of {PRIMITIVES}")
        if not 0 <= src < slot // 2 + 2:
            raise ValueError(f"{field}[{slot}]: input {src} is not an earlier node (0..{slot // 2 + 1})")
    return cell, concat


@dataclass(frozen=True)
class CellSlot:
    """Where one cell sits in the network: its channels and resolutions."""

    index: int
    reduction: bool
    reduction_prev: bool
    c_pp: int  # channels of s0 (input c_{k-2})
    c_p: int  # channels of s1 (input c_{k-1})
    c: int  # channels of every op in the cell
    hw_in: int  # resolution of s1 (after preprocessing, of both inputs)
    hw_out: int  # resolution of the cell's output


def cell_layout(net: NetworkSpec) -> list[CellSlot]:
    """The channels and resolutions of every cell of ``net`` (independent of the genotype)."""
    c = net.init_channels
    if net.kind == "imagenet":
        hw = _halve(_halve(net.image_size, "stem0 conv 1"), "stem0 conv 2")
        c_pp, c_p, hw_s1 = c, c, _halve(hw, "stem1")
        reduction_prev = True
    else:
        c_pp = c_p = 3 * c
        hw_s1 = net.image_size
        reduction_prev = False
    slots = []
    for i in range(net.layers):
        reduction = i in (net.layers // 3, 2 * net.layers // 3)
        if reduction:
            c *= 2
        hw_out = _halve(hw_s1, f"reduction cell {i}") if reduction else hw_s1
        slots.append(CellSlot(i, reduction, reduction_prev, c_pp, c_p, c, hw_s1, hw_out))
        c_pp, c_p, hw_s1, reduction_prev = c_p, len(DEFAULT_CONCAT) * c, hw_out, reduction
    return slots


def _stem_and_head(net: NetworkSpec, layout: list[CellSlot]) -> Cost:
    c, size = net.init_channels, net.image_size
    if net.kind == "imagenet":
        h1 = size // 2
        h2 = h1 // 2
        h3 = h2 // 2
        stem = _conv(3, c // 2, 3, h1) + _bn(c // 2, h1) + _conv(c // 2, c, 3, h2) + _bn(c, h2)
        stem = stem + _conv(c, c, 3, h3) + _bn(c, h3)
    else:
        stem = _conv(3, 3 * c, 3, size) + _bn(3 * c, size)
    last = layout[-1]
    c_last, hw_last = len(DEFAULT_CONCAT) * last.c, last.hw_out
    if net.kind == "imagenet":
        if hw_last != 7:
            raise ValueError(f"NetworkImageNet's AvgPool2d(7) expects a 7x7 map, got {hw_last}x{hw_last}")
        pool = Cost(c_last, 0)  # AvgPool2d(7) -> 1x1: one op per output element
    else:
        pool = Cost((hw_last * hw_last + 1) * c_last, 0)  # AdaptiveAvgPool2d(1)
    fc = Cost(c_last * net.num_classes, c_last * net.num_classes + net.num_classes)
    return stem + pool + fc


def _preprocess(slot: CellSlot) -> Cost:
    if slot.reduction_prev:
        pre0 = factorized_reduce(slot.c_pp, slot.c, slot.hw_in)
    else:
        pre0 = relu_conv_bn(slot.c_pp, slot.c, slot.hw_in)
    return pre0 + relu_conv_bn(slot.c_p, slot.c, slot.hw_in)


def auxiliary_head_params(net: NetworkSpec) -> int:
    """Parameters of the auxiliary head (attached after cell ``2 * layers // 3``)."""
    c_aux = len(DEFAULT_CONCAT) * cell_layout(net)[2 * net.layers // 3].c
    conv1 = 128 * c_aux + 2 * 128  # 1x1 conv + BN(128)
    conv2 = 768 * 128 * 2 * 2 + (2 * 768 if net.kind == "cifar" else 0)  # 2x2 conv (+ BN(768) on CIFAR)
    return conv1 + conv2 + 768 * net.num_classes + net.num_classes


def network_cost(genotype: Any, net: NetworkSpec = IMAGENET) -> Cost:
    """Multiply-adds (thop rules, eval mode, batch 1) and parameters (no auxiliary head) of a network.

    Args:
      genotype: anything with ``normal``, ``normal_concat``, ``reduce``, ``reduce_concat`` in DARTS's
        form (our :class:`~a2v_jax.spaces.darts.Genotype` or DARTS's own namedtuple).
      net: :data:`IMAGENET` (default) or :data:`CIFAR`, or another :class:`NetworkSpec`.

    Returns:
      The network's :class:`Cost`.
    """
    normal, _ = _cell_ops(genotype, "normal")
    reduce, _ = _cell_ops(genotype, "reduce")
    layout = cell_layout(net)
    total = _stem_and_head(net, layout)
    for slot in layout:
        total = total + _preprocess(slot)
        for op, src in reduce if slot.reduction else normal:
            stride = 2 if slot.reduction and src < 2 else 1
            total = total + op_cost(op, slot.c, slot.hw_out, stride)
    return total


def network_macs(genotype: Any, net: NetworkSpec = IMAGENET) -> int:
    """Multiply-adds of ``net`` built from ``genotype``, counted as thop 0.0.31 counts them."""
    return network_cost(genotype, net).macs


def network_params(genotype: Any, net: NetworkSpec = CIFAR, auxiliary: bool = False) -> int:
    """Parameters of ``net`` built from ``genotype``; ``auxiliary`` adds the auxiliary head's.

    DARTS reports ``param size`` in MB as this count (``auxiliary=False``) divided by 1e6.
    """
    return network_cost(genotype, net).params + (auxiliary_head_params(net) if auxiliary else 0)


@dataclass(frozen=True)
class SlotTable:
    """Per-slot costs of a network whose reduction cell equals its normal cell (arch2vec's space).

    ``cost = base + sum_j table[op_j, reads_intermediate_j]`` over the 8 (op, input) slots of the
    cell: an op's cost depends only on the op and on whether it reads a cell input (stride 2 in
    reduction cells) or an intermediate node, summed over all cells of the network.

    Attributes:
      base: stems, preprocessing and head, common to every cell.
      table: ``(8, 2)`` int64: ``[op code, 0 = reads c_{k-2}/c_{k-1}, 1 = reads an intermediate node]``.
    """

    base: int
    table: np.ndarray  # (8, 2) int64


def slot_table(net: NetworkSpec = IMAGENET, what: str = "macs") -> SlotTable:
    """The :class:`SlotTable` of ``net`` for ``what`` = ``"macs"`` or ``"params"`` (no auxiliary head)."""
    if what not in ("macs", "params"):
        raise ValueError(f"what must be 'macs' or 'params', got {what!r}")
    layout = cell_layout(net)
    base = _stem_and_head(net, layout)
    for slot in layout:
        base = base + _preprocess(slot)
    table = np.zeros((len(PRIMITIVES), 2), dtype=np.int64)
    for o, op in enumerate(PRIMITIVES):
        for reads_intermediate in (0, 1):
            for slot in layout:
                stride = 2 if slot.reduction and not reads_intermediate else 1
                table[o, reads_intermediate] += getattr(op_cost(op, slot.c, slot.hw_out, stride), what)
    table.setflags(write=False)
    return SlotTable(int(getattr(base, what)), table)


def cells_cost(cells: np.ndarray, table: SlotTable) -> np.ndarray:
    """Vectorised cost of cells used as both normal and reduction cell.

    Args:
      cells: ``(P, 8, 2)`` integer ``(op code, input node)`` per slot (see ``darts.py``).
      table: from :func:`slot_table`.

    Returns:
      ``(P,)`` int64 costs, equal to :func:`network_cost` of each cell.
    """
    cells = np.asarray(cells)
    if cells.ndim != 3 or cells.shape[1:] != (8, 2):
        raise ValueError(f"cells must have shape (P, 8, 2), got {cells.shape}")
    per_slot = table.table[cells[..., 0], (cells[..., 1] >= 2).astype(np.intp)]  # (P, 8)
    return table.base + per_slot.sum(axis=1)


def count_in_mb(count: int) -> float:
    """DARTS's ``param size`` unit: the count divided by 1e6."""
    return count / 1e6
