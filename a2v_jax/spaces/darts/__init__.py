"""DARTS normal cells as arch2vec's 11-node graphs, the original's sampler and its 600M-MAC pool.

- :mod:`~a2v_jax.spaces.darts.genotypes`: :class:`Genotype`, DARTS's string form and the space's checks;
- :mod:`~a2v_jax.spaces.darts.cells`: ``(P, 8, 2)`` cell arrays, arch2vec's graphs and their validity,
  the graph hash;
- :mod:`~a2v_jax.spaces.darts.pool`: the sampler, multiply-adds and the pool of unique cells;
- :mod:`~a2v_jax.spaces.darts.space`: :class:`DARTSSpace`.

Nothing here reads or writes files; the cached pool is :func:`a2v_jax.data.darts_pool.load_pool`.
"""

from __future__ import annotations

from a2v_jax.spaces.darts.cells import (
    INPUT_PATTERNS,
    NUM_INPUTS,
    NUM_NODES,
    OP_NAMES,
    OP_OFFSET,
    OUTPUT_NODE,
    OUTPUT_PATTERN,
    SLOT_BLOCK,
    SLOT_NUM_INPUTS,
    cell_codes,
    cell_from_genotype,
    cell_hashes,
    cell_problems,
    cells_from_codes,
    cells_valid,
    decode_graphs,
    encode_cells,
    genotype_from_cell,
    graph_hashes,
    graph_problem,
    op_indices,
    valid_loose,
    valid_strict,
)
from a2v_jax.spaces.darts.genotypes import (
    CELL_OPS,
    NUM_BLOCKS,
    NUM_SLOTS,
    Cell,
    Genotype,
    as_genotype,
    check_cell,
    check_genotype,
    format_genotype,
    parse_genotype,
    validate_space_genotype,
)
from a2v_jax.spaces.darts.pool import (
    MAX_MACS,
    PAPER_POOL_SIZE,
    SAMPLE_BATCH,
    DARTSPool,
    cells_macs,
    generate_pool,
    genotype_macs,
    sample_cells,
)
from a2v_jax.spaces.darts.space import DARTSSpace

__all__ = [
    "CELL_OPS",
    "INPUT_PATTERNS",
    "MAX_MACS",
    "NUM_BLOCKS",
    "NUM_INPUTS",
    "NUM_NODES",
    "NUM_SLOTS",
    "OP_NAMES",
    "OP_OFFSET",
    "OUTPUT_NODE",
    "OUTPUT_PATTERN",
    "PAPER_POOL_SIZE",
    "SAMPLE_BATCH",
    "SLOT_BLOCK",
    "SLOT_NUM_INPUTS",
    "Cell",
    "DARTSPool",
    "DARTSSpace",
    "Genotype",
    "as_genotype",
    "cell_codes",
    "cell_from_genotype",
    "cell_hashes",
    "cell_problems",
    "cells_from_codes",
    "cells_macs",
    "cells_valid",
    "check_cell",
    "check_genotype",
    "decode_graphs",
    "encode_cells",
    "format_genotype",
    "generate_pool",
    "genotype_from_cell",
    "genotype_macs",
    "graph_hashes",
    "graph_problem",
    "op_indices",
    "parse_genotype",
    "sample_cells",
    "valid_loose",
    "valid_strict",
    "validate_space_genotype",
]
