"""The NAS-Bench-101 search space: an architecture is a :class:`~a2v_jax.spaces.nb101.Cell`."""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator
from typing import Any

import numpy as np

from a2v_jax.spaces.base import InvalidArchitectureError
from a2v_jax.spaces.nb101.cells import NUM_CELLS, NUM_NODES, OP_NAMES, Cell, check_valid
from a2v_jax.spaces.nb101.enumeration import NB101Cells, enumerate_space
from a2v_jax.spaces.nb101.hash import HashModuleKeys, module_hash
from a2v_jax.spaces.nb101.layout import decode_graph, encode_cell, valid_loose, valid_strict


class NB101Space(HashModuleKeys):
    """NAS-Bench-101 cells; an architecture is a :class:`Cell` (validity and hash after pruning).

    The cells behind :meth:`enumerate`, :meth:`sample` and :meth:`encode_all` are ``cells`` if given,
    else the whole space, enumerated on first use (no file is read or written here; the cached
    enumeration is :func:`a2v_jax.data.nb101.enumerate_nb101`, which
    :func:`a2v_jax.data.pretraining_graphs` uses).

    Args:
      cache_dir: where the data layer caches the whole space (``$A2V_CACHE_DIR`` when None).
      progress: a progress bar while enumerating.
      cells: the space's cells, e.g. a small enumeration for tests.
    """

    name = "nb101"
    num_nodes = NUM_NODES
    op_names = OP_NAMES

    def __init__(
        self,
        cache_dir: str | os.PathLike | None = None,
        *,
        progress: bool = True,
        cells: NB101Cells | None = None,
    ):
        self.cache_dir = cache_dir
        self.progress = progress
        self._cells = cells

    @property
    def has_cells(self) -> bool:
        """Whether the cells were given or already enumerated."""
        return self._cells is not None

    @property
    def cells(self) -> NB101Cells:
        """The space's cells (see the class docstring)."""
        if self._cells is None:
            self._cells = enumerate_space(progress=self.progress)
        return self._cells

    def validate(self, arch: Cell) -> None:
        check_valid(_as_cell(arch))

    def encode(self, arch: Cell) -> tuple[np.ndarray, np.ndarray]:
        adj, ops, _ = encode_cell(_as_cell(arch))
        return adj, ops

    def decode(self, adjacency: np.ndarray, ops: np.ndarray) -> Cell:
        return decode_graph(adjacency, ops)

    def canonical_hash(self, arch: Cell) -> str:
        return module_hash(_as_cell(arch))

    def size(self) -> int:
        return NUM_CELLS if self._cells is None else len(self._cells)

    def enumerate(self) -> Iterator[Cell]:
        cells = self.cells
        for i in range(len(cells)):
            yield cells.cell(i)

    def sample(self, rng: np.random.Generator, n: int) -> list[Cell]:
        cells = self.cells
        return [cells.cell(int(i)) for i in rng.integers(0, len(cells), size=n)]

    def encode_all(self) -> tuple[np.ndarray, np.ndarray]:
        return self.cells.encode()

    def valid_strict(self, adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
        """Exactly an encoded valid cell (``-1`` op index = padded node); see :func:`valid_strict`."""
        return valid_strict(adjacency, op_idx)

    def valid_loose(self, adjacency: np.ndarray, op_idx: np.ndarray) -> np.ndarray:
        """The original ``is_valid(ModelSpec(...))`` after pruning; see :func:`valid_loose`."""
        return valid_loose(adjacency, op_idx)

    def extra_uniqueness_keys(self, adjacency: np.ndarray, op_idx: np.ndarray) -> dict[str, list[Hashable]]:
        """``uniqueness_module``: the benchmark's ``module_hash`` after pruning, the space's canonical hash.

        Pruning drops vertices off every input -> output path first, so two decodings that differ only
        in such vertices (or are isomorphic) share the key. The graphs must be valid (loosely).
        """
        adj = np.triu(np.asarray(adjacency), 1)
        keys = [
            module_hash(Cell(a, tuple(OP_NAMES[i] for i in lab)))
            for a, lab in zip(adj, np.asarray(op_idx).tolist(), strict=True)
        ]
        return {"uniqueness_module": keys}


def _as_cell(arch: Any) -> Cell:
    if not isinstance(arch, Cell):
        raise InvalidArchitectureError(f"an NB101 architecture is a Cell, got {type(arch).__name__}")
    return arch
