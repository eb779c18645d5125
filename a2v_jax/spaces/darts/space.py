"""arch2vec's DARTS search space: normal cells (reduce = normal) as 11-node graphs, over a sampled pool."""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator
from typing import Any

import numpy as np

from a2v_jax.spaces.base import InvalidArchitectureError
from a2v_jax.spaces.darts.cells import (
    NUM_NODES,
    OP_NAMES,
    cell_from_genotype,
    cell_hashes,
    decode_graphs,
    encode_cells,
    genotype_from_cell,
    graph_problem,
    valid_loose,
    valid_strict,
)
from a2v_jax.spaces.darts.genotypes import Genotype, as_genotype, validate_space_genotype
from a2v_jax.spaces.darts.pool import (
    MAX_MACS,
    PAPER_POOL_SIZE,
    DARTSPool,
    cells_macs,
    generate_pool,
    genotype_macs,
    sample_cells,
)
from a2v_jax.spaces.nb101.hash import HashModuleKeys


class DARTSSpace(HashModuleKeys):
    """arch2vec's DARTS space: normal cells (reduce = normal) as 11-node graphs, over a sampled pool.

    An architecture is a :class:`Genotype` (its string form and DARTS's namedtuple are accepted).
    The space is not enumerable (about 4.8e10 cells); :meth:`enumerate`, :meth:`size` and
    :meth:`encode_all` refer to the pool of ``pool_size`` cells drawn with ``seed``
    (:func:`~a2v_jax.spaces.darts.generate_pool`, on first use), which is what arch2vec pre-trains
    and searches on. No file is read or written here: the cached pool is
    :func:`a2v_jax.data.darts_pool.load_pool`, which :func:`a2v_jax.data.pretraining_graphs` uses.

    Args:
      pool_size: cells in the pool (the paper: 600,000).
      seed: the pool's sampler seed.
      cache_dir: where the data layer caches the pool (``$A2V_CACHE_DIR`` when None).
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
    def has_pool(self) -> bool:
        """Whether the pool was already sampled."""
        return self._pool is not None

    @property
    def pool(self) -> DARTSPool:
        """The space's pool, sampled on first use."""
        if self._pool is None:
            self._pool = generate_pool(self.pool_size, self.seed, max_macs=self.max_macs, progress=True)
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

    def extra_uniqueness_keys(self, adjacency: np.ndarray, op_idx: np.ndarray) -> dict[str, list[Hashable]]:
        """None beyond :meth:`~a2v_jax.spaces.SearchSpace.decoded_graph_keys`."""
        return {}
