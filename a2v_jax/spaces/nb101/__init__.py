"""NAS-Bench-101: cells of up to 7 vertices and 9 edges, the benchmark's hash, and the whole space.

Written from the published algorithms of the benchmark (Ying et al., 2019; ``nasbench``'s
``ModelSpec`` pruning, ``NASBench.is_valid`` and ``graph_util.hash_module``), without TensorFlow or
the ``nasbench`` package. The modules follow the way from a cell to the space:

- :mod:`~a2v_jax.spaces.nb101.cells`: :class:`Cell`, pruning and validity;
- :mod:`~a2v_jax.spaces.nb101.hash`: :func:`hash_module`, :func:`module_hash` and :func:`canonical_cell`;
- :mod:`~a2v_jax.spaces.nb101.layout`: arch2vec's ``7 x 7`` / ``7 x 5`` layout and the validity checks of
  decoded graphs;
- :mod:`~a2v_jax.spaces.nb101.enumeration`: all 423,624 cells (:func:`enumerate_cells`);
- :mod:`~a2v_jax.spaces.nb101.space`: :class:`NB101Space`.

Nothing here reads or writes files: the cached enumeration is :func:`a2v_jax.data.nb101.enumerate_nb101`
(``python -m a2v_jax.data enumerate nb101``). Derivation and measurements: ``docs/data-and-spaces.md``.
"""

from __future__ import annotations

from a2v_jax.spaces.nb101.cells import (
    BENCHMARK_OPS,
    CONV1X1,
    CONV3X3,
    INPUT,
    INPUT_IDX,
    MAX_EDGES,
    MAXPOOL3X3,
    NUM_CELLS,
    NUM_NODES,
    NUM_OPS,
    OP_NAMES,
    OUTPUT,
    OUTPUT_IDX,
    Cell,
    check_valid,
    is_valid,
    prune,
    validity_problem,
)
from a2v_jax.spaces.nb101.enumeration import NB101Cells, enumerate_cells, enumerate_space
from a2v_jax.spaces.nb101.hash import (
    canonical_cell,
    decoded_hashes,
    edge_bits,
    hash_module,
    hash_neighbours,
    labeling,
    matrix_from_bits,
    module_hash,
)
from a2v_jax.spaces.nb101.layout import (
    decode_graph,
    encode_cell,
    op_idx_from_onehot,
    valid_loose,
    valid_strict,
)
from a2v_jax.spaces.nb101.space import NB101Space

__all__ = [
    "BENCHMARK_OPS",
    "CONV1X1",
    "CONV3X3",
    "INPUT",
    "INPUT_IDX",
    "MAXPOOL3X3",
    "MAX_EDGES",
    "NUM_CELLS",
    "NUM_NODES",
    "NUM_OPS",
    "OP_NAMES",
    "OUTPUT",
    "OUTPUT_IDX",
    "Cell",
    "NB101Cells",
    "NB101Space",
    "canonical_cell",
    "check_valid",
    "decode_graph",
    "decoded_hashes",
    "edge_bits",
    "encode_cell",
    "enumerate_cells",
    "enumerate_space",
    "hash_module",
    "hash_neighbours",
    "is_valid",
    "labeling",
    "matrix_from_bits",
    "module_hash",
    "op_idx_from_onehot",
    "prune",
    "valid_loose",
    "valid_strict",
    "validity_problem",
]
