"""NAS-Bench-201: 5 ops on the 6 edges of a 4-node cell, as arch2vec's 8-node graph.

arch2vec turns every edge into a node (reference §2.2), in ``arch_str`` order::

    0: input, 1: e(0->1), 2: e(0->2), 3: e(1->2), 4: e(0->3), 5: e(1->3), 6: e(2->3), 7: output

The adjacency is the same for every cell; only the ops differ. Op codes follow the benchmark
(``none 0, skip_connect 1, nor_conv_1x1 2, nor_conv_3x3 3, avg_pool_3x3 4``); the one-hot columns
follow arch2vec (``input 0, nor_conv_1x1 1, nor_conv_3x3 2, avg_pool_3x3 3, skip_connect 4,
none 5, output 6``).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Hashable, Iterator, Sequence

import numpy as np

from a2v_jax.spaces.base import InvalidArchitectureError, graph_rows_hash, md5_hex

#: Benchmark op names in benchmark op-code order (the ``op0..op5`` columns of the tables).
CELL_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: arch2vec's one-hot vocabulary for NB201 (8 x 7 layout).
OP_NAMES: tuple[str, ...] = (
    "input",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "none",
    "output",
)
NUM_NODES = 8
NUM_EDGES = 6
NUM_CELLS = len(CELL_OPS) ** NUM_EDGES  # 15,625
#: (target node, source node) of each edge, in arch_str order.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

_CODE_TO_ONEHOT = np.array([OP_NAMES.index(op) for op in CELL_OPS], dtype=np.int32)  # (5,)
_ONEHOT_TO_CODE = {int(c): i for i, c in enumerate(_CODE_TO_ONEHOT)}
INPUT_IDX = OP_NAMES.index("input")
OUTPUT_IDX = OP_NAMES.index("output")


def _fixed_adjacency() -> np.ndarray:
    adj = np.zeros((NUM_NODES, NUM_NODES), dtype=np.uint8)
    for src, dsts in {0: (1, 2, 4), 1: (3, 5), 2: (6,), 3: (6,), 4: (7,), 5: (7,), 6: (7,)}.items():
        adj[src, list(dsts)] = 1
    return adj


#: The one adjacency every NB201 cell shares (row = source).
ADJACENCY: np.ndarray = _fixed_adjacency()
ADJACENCY.setflags(write=False)


def parse_arch_str(arch_str: str) -> tuple[int, ...]:
    """Parses ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` into 6 benchmark op codes.

    Raises:
      InvalidArchitectureError: naming the malformed token, unknown op or wrong input index.
    """
    if not isinstance(arch_str, str):
        raise InvalidArchitectureError(f"NB201 arch_str must be a str, got {type(arch_str).__name__}")
    nodes = arch_str.split("+")
    if len(nodes) != 3:
        raise InvalidArchitectureError(
            f"NB201 arch_str {arch_str!r} has {len(nodes)} node groups separated by '+', expected 3"
        )
    codes: list[int] = []
    for target, group in enumerate(nodes, start=1):
        if not (group.startswith("|") and group.endswith("|") and len(group) > 2):
            raise InvalidArchitectureError(
                f"NB201 arch_str {arch_str!r}: node group {group!r} must look like '|op~k|...|'"
            )
        tokens = group[1:-1].split("|")
        if len(tokens) != target:
            raise InvalidArchitectureError(
                f"NB201 arch_str {arch_str!r}: node {target} has {len(tokens)} inputs, expected {target}"
            )
        for source, token in enumerate(tokens):
            op, sep, idx = token.partition("~")
            if not sep:
                raise InvalidArchitectureError(f"NB201 arch_str {arch_str!r}: token {token!r} lacks '~'")
            if op not in CELL_OPS:
                raise InvalidArchitectureError(
                    f"NB201 arch_str {arch_str!r}: unknown op {op!r} in token {token!r}; "
                    f"expected one of {CELL_OPS}"
                )
            if idx != str(source):
                raise InvalidArchitectureError(
                    f"NB201 arch_str {arch_str!r}: token {token!r} should read from node {source}"
                )
            codes.append(CELL_OPS.index(op))
    return tuple(codes)


def arch_str_from_codes(codes: Sequence[int]) -> str:
    """Inverse of :func:`parse_arch_str`; validates the 6 op codes."""
    codes = _check_codes(codes)
    ops = [CELL_OPS[c] for c in codes]
    return f"|{ops[0]}~0|+|{ops[1]}~0|{ops[2]}~1|+|{ops[3]}~0|{ops[4]}~1|{ops[5]}~2|"


def _check_codes(codes: Sequence[int]) -> tuple[int, ...]:
    arr = np.asarray(codes)
    if arr.shape != (NUM_EDGES,):
        raise InvalidArchitectureError(f"NB201 op codes must have shape (6,), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidArchitectureError(f"NB201 op codes must be integers, got dtype {arr.dtype}")
    bad = np.flatnonzero((arr < 0) | (arr >= len(CELL_OPS)))
    if bad.size:
        raise InvalidArchitectureError(
            f"NB201 op code {int(arr[bad[0]])} at edge {int(bad[0])} is outside 0..{len(CELL_OPS) - 1}"
        )
    return tuple(int(c) for c in arr)


def encode_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised encoding of op codes.

    Args:
      codes: ``(P, 6)`` integer benchmark op codes.

    Returns:
      adjacency ``(P, 8, 8)`` uint8 and ops one-hot ``(P, 8, 7)`` float32.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != NUM_EDGES:
        raise InvalidArchitectureError(f"NB201 op codes must have shape (P, 6), got {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= len(CELL_OPS)):
        raise InvalidArchitectureError("NB201 op codes must lie in 0..4")
    p = codes.shape[0]
    op_idx = np.empty((p, NUM_NODES), dtype=np.int32)
    op_idx[:, 0] = INPUT_IDX
    op_idx[:, 1:7] = _CODE_TO_ONEHOT[codes]
    op_idx[:, 7] = OUTPUT_IDX
    ops = np.eye(len(OP_NAMES), dtype=np.float32)[op_idx]
    adj = np.broadcast_to(ADJACENCY, (p, NUM_NODES, NUM_NODES)).copy()
    return adj, ops


def all_codes() -> np.ndarray:
    """All 15,625 cells as ``(15625, 6)`` int8 op codes, in lexicographic (enumeration) order."""
    return np.array(list(itertools.product(range(len(CELL_OPS)), repeat=NUM_EDGES)), dtype=np.int8)


def benchmark_codes() -> np.ndarray:
    """All cells as ``(15625, 6)`` int8 op codes in NAS-Bench-201's index order (row ``i`` = ``api.arch(i)``).

    The benchmark's authors generated the cells in :func:`all_codes` order (their ``CellStructure.gen_all``
    walks the edges in ``arch_str`` order with the first edge outermost) and then ran Python's
    ``random.seed(88)`` and ``random.shuffle`` on the list; this replays that, with a private
    :class:`random.Random` so that no global state is touched. The tests check it against the index
    order of every table.
    """
    cells = [tuple(c) for c in all_codes().tolist()]
    random.Random(88).shuffle(cells)
    return np.array(cells, dtype=np.int8)


def codes_from_op_idx(op_idx: np.ndarray) -> np.ndarray:
    """``(B, 8)`` arch2vec op indices -> ``(B, 6)`` benchmark codes (-1 where a node is not a cell op)."""
    lut = np.full(len(OP_NAMES), -1, dtype=np.int8)
    for onehot, code in _ONEHOT_TO_CODE.items():
        lut[onehot] = code
    return lut[np.asarray(op_idx)[:, 1:7]]


class NB201Space:
    """NAS-Bench-201 cells; an architecture is its ``arch_str``."""

    name = "nb201"
    num_nodes = NUM_NODES
    op_names = OP_NAMES

    def validate(self, arch: str) -> None:
        parse_arch_str(arch)

    def encode(self, arch: str) -> tuple[np.ndarray, np.ndarray]:
        adj, ops = encode_codes(np.array([parse_arch_str(arch)]))
        return adj[0], ops[0]

    def decode(self, adjacency: np.ndarray, ops: np.ndarray) -> str:
        adjacency = np.asarray(adjacency)
        ops = np.asarray(ops)
        if adjacency.shape != (NUM_NODES, NUM_NODES):
            raise InvalidArchitectureError(f"NB201 adjacency must be (8, 8), got {adjacency.shape}")
        if ops.shape != (NUM_NODES, len(OP_NAMES)):
            raise InvalidArchitectureError(f"NB201 ops must be (8, 7), got {ops.shape}")
        if not np.all((ops == 0) | (ops == 1)) or not np.all(ops.sum(-1) == 1):
            raise InvalidArchitectureError("NB201 ops must be one-hot rows")
        op_idx = ops.argmax(-1)[None]
        if not self.valid_strict(adjacency[None], op_idx)[0]:
            raise InvalidArchitectureError(
                "graph is not an NB201 cell: the adjacency must be the fixed 8-node DAG, node 0 'input', "
                f"node 7 'output' and nodes 1-6 cell ops; got ops {[OP_NAMES[i] for i in op_idx[0]]}"
            )
        return arch_str_from_codes(codes_from_op_idx(op_idx)[0])

    def canonical_hash(self, arch: str) -> str:
        # NAS-Bench-201 keeps isomorphic cells as distinct entries, so the op codes identify a cell.
        return md5_hex(bytes(parse_arch_str(arch)))

    def size(self) -> int:
        return NUM_CELLS

    def enumerate(self) -> Iterator[str]:
        for codes in all_codes():
            yield arch_str_from_codes(codes)

    def sample(self, rng: np.random.Generator, n: int) -> list[str]:
        codes = rng.integers(0, len(CELL_OPS), size=(n, NUM_EDGES))
        return [arch_str_from_codes(c) for c in codes]

    def encode_all(self) -> tuple[np.ndarray, np.ndarray]:
        return encode_codes(all_codes())

    def valid_strict(self, adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
        """Fixed adjacency (upper triangle), input first, output last, cell ops on nodes 1-6."""
        adjacency = np.asarray(adjacency)
        op_idx = np.asarray(op_idx)
        adj_ok = np.all(np.triu(adjacency, 1) == ADJACENCY, axis=(1, 2))
        cell_ok = np.all(np.isin(op_idx[:, 1:7], _CODE_TO_ONEHOT), axis=1)
        return adj_ok & cell_ok & (op_idx[:, 0] == INPUT_IDX) & (op_idx[:, 7] == OUTPUT_IDX)

    def valid_loose(self, adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
        """The original ``is_valid_nasbench201``: adjacency ignored and node 1 unchecked (§5 step 4)."""
        op_idx = np.asarray(op_idx)
        cell_ok = np.all(np.isin(op_idx[:, 2:7], _CODE_TO_ONEHOT), axis=1)
        return cell_ok & (op_idx[:, 0] == INPUT_IDX) & (op_idx[:, -1] == OUTPUT_IDX)

    def decoded_graph_keys(self, adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
        """Exact ``(A, ops)`` keys (:func:`~a2v_jax.spaces.base.graph_rows_hash`).

        The adjacency is fixed; the original hashed with ``hash_module``, so isomorphic decodings
        there count as distinct here.
        """
        return graph_rows_hash(adjacency, op_idx)

    def extra_uniqueness_keys(self, adjacency: np.ndarray, op_idx: np.ndarray) -> dict[str, list[Hashable]]:
        """None beyond :meth:`~a2v_jax.spaces.SearchSpace.decoded_graph_keys`."""
        return {}
