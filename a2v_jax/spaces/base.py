"""The search-space protocol every space implements, and the errors it raises.

A space knows what an architecture is, how arch2vec lays it out as a graph ``(A, X)``
(``A`` an ``(N, N)`` upper-triangular DAG with ``A[i, j] = 1`` meaning ``i -> j``; ``X`` an
``(N, C)`` one-hot op matrix), how to go back, and which graphs are valid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


class InvalidArchitectureError(ValueError):
    """An architecture (string, op codes or graph) is malformed or outside the space."""


@runtime_checkable
class SearchSpace(Protocol):
    """What a search space provides to pretraining, embedding and search.

    A space is a pure encoding: it reads and writes no file. Its pretraining graphs (a benchmark's
    table order, a cached enumeration or pool) come from :func:`a2v_jax.data.pretraining_graphs`.

    Attributes:
      name: short identifier used on the command line (``nb201``).
      num_nodes: N, the fixed node count of arch2vec's graph layout.
      op_names: the arch2vec op vocabulary, in one-hot column order (length C).
    """

    name: str
    num_nodes: int
    op_names: tuple[str, ...]

    def encode(self, arch: Any) -> tuple[np.ndarray, np.ndarray]:
        """Returns ``(adjacency (N, N) uint8, ops one-hot (N, C) float32)`` for one architecture."""
        ...

    def decode(self, adjacency: np.ndarray, ops: np.ndarray) -> Any:
        """Inverse of :meth:`encode`; raises :class:`InvalidArchitectureError` on invalid graphs."""
        ...

    def validate(self, arch: Any) -> None:
        """Raises :class:`InvalidArchitectureError` naming the problem; returns None if valid."""
        ...

    def canonical_hash(self, arch: Any) -> str:
        """A string equal for two architectures iff the space treats them as the same cell."""
        ...

    def size(self) -> int | None:
        """Number of cells when the space is enumerable, else None."""
        ...

    def enumerate(self) -> Iterator[Any]:
        """Every architecture of the space, in the space's own enumeration order."""
        ...

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        """``n`` architectures drawn uniformly (with replacement) using ``rng``."""
        ...

    def encode_all(self) -> tuple[np.ndarray, np.ndarray]:
        """Encodings of :meth:`enumerate`, stacked: ``(P, N, N)`` uint8 and ``(P, N, C)`` float32."""
        ...

    def valid_strict(self, adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
        """Vectorised strict validity: ``(B, N, N)`` 0/1 and ``(B, N)`` op indices -> ``(B,)`` bool."""
        ...

    def valid_loose(self, adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
        """The original arch2vec validity check for this space (vectorised), ``(B,)`` bool."""
        ...

    def decoded_graph_keys(self, adjacency: np.ndarray, op_idx: np.ndarray) -> Sequence[Hashable]:
        """One key per decoded graph, equal iff the prior's uniqueness counts the two graphs as one.

        Args:
          adjacency: ``(B, N, N)`` 0/1 decoded adjacency.
          op_idx: ``(B, N)`` decoded op columns.
        """
        ...

    def extra_uniqueness_keys(
        self, adjacency: np.ndarray, op_idx: np.ndarray
    ) -> dict[str, Sequence[Hashable]]:
        """Further uniqueness metrics of loosely valid decoded graphs: metric name -> one key per graph."""
        ...


def graph_rows_hash(adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
    """Exact-graph keys for a batch: one bytes object per graph, equal iff (A, ops) are equal.

    Args:
      adjacency: ``(B, N, N)`` 0/1 array.
      op_idx: ``(B, N)`` integer op indices.

    Returns:
      ``(B,)`` object array of bytes keys (usable with ``np.unique``/``set``).
    """
    adjacency = np.asarray(adjacency)
    op_idx = np.asarray(op_idx)
    b = adjacency.shape[0]
    packed = np.packbits(adjacency.reshape(b, -1).astype(np.uint8), axis=1)
    rows = np.concatenate([packed, op_idx.astype(np.uint8).reshape(b, -1)], axis=1)
    return np.array([r.tobytes() for r in rows], dtype=object)


def md5_hex(data: bytes) -> str:
    """Hex MD5 of ``data`` (a short, stable identifier, not a security measure)."""
    return hashlib.md5(data).hexdigest()
