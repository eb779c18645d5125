"""The whole NAS-Bench-101 space: all 423,624 cells, enumerated in compact arrays sorted by hash.

Like the benchmark's ``generate_graphs.py``, :func:`enumerate_cells` walks every upper-triangular matrix
of 2..7 vertices with at most 9 edges and no dangling vertex, and every labelling of their middle
vertices; instead of hashing them all it groups the matrices into isomorphism classes, keeps one
labelling per orbit of each class's automorphism group, and hashes only the 423,624 cells. The kept
cell of each class is the one the benchmark stores (its ``module_adjacency`` / ``module_operations``).
Every hash is checked to be distinct; rows are sorted by hash. How it was derived and measured:
``docs/data-and-spaces.md``. The cached enumeration is :func:`a2v_jax.data.nb101.enumerate_nb101`.
"""

from __future__ import annotations

import dataclasses
import itertools
import os

import numpy as np

from a2v_jax.spaces.nb101.cells import (
    _MIDDLE_IDX,
    BENCHMARK_OPS,
    INPUT_IDX,
    MAX_EDGES,
    NUM_CELLS,
    NUM_NODES,
    NUM_OPS,
    OP_NAMES,
    OUTPUT_IDX,
    Cell,
)
from a2v_jax.spaces.nb101.hash import _edge_list, _hash_digest, _vertex_lists, matrix_from_bits

_HASH_CHUNK = 4096


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
    """All unique NB101 cells with at most ``max_vertices`` vertices (no cache).

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


def enumerate_space(*, progress: bool = True, workers: int | None = None) -> NB101Cells:
    """The whole space (:func:`enumerate_cells` of 7 vertices), checked to hold all 423,624 cells.

    Raises:
      RuntimeError: another number of cells.
    """
    cells = enumerate_cells(NUM_NODES, progress=progress, workers=workers)
    if len(cells) != NUM_CELLS:
        raise RuntimeError(f"enumerated {len(cells)} NB101 cells, expected {NUM_CELLS}")
    return cells
