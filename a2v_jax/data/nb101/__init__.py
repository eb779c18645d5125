"""NAS-Bench-101 from the official ``.tfrecord`` files, read without TensorFlow, cached as one ``.npz``.

:func:`load_nb101` returns the :class:`NB101Table` (one row per unique cell, in
``NASBench.hash_iterator()`` order, arch2vec's key order); :func:`enumerate_nb101` the whole space
enumerated without the file (cached). The modules follow the way from the file to the table:

- :mod:`~a2v_jax.data.nb101.records`: TFRecord framing and CRC-32C;
- :mod:`~a2v_jax.data.nb101.proto`: the ``ModelMetrics`` protobuf;
- :mod:`~a2v_jax.data.nb101.convert`: records -> validated arrays;
- :mod:`~a2v_jax.data.nb101.table`: :class:`NB101Table` and the benchmark's constants;
- :mod:`~a2v_jax.data.nb101.files`: where the file is, the cache and :func:`load_nb101`;
- :mod:`~a2v_jax.data.nb101.enumeration`: the cached enumeration of the space.

Formats, measurements and the design of the CRC checks: ``docs/data-and-spaces.md``.
"""

from __future__ import annotations

from a2v_jax.data.nb101.enumeration import CACHE_FILE, cache_path, enumerate_nb101, load_cells, save_cells
from a2v_jax.data.nb101.files import (
    ENV_NB101_DIR,
    FILES,
    FULL_FILE,
    ONLY108_FILE,
    PUBLISHED_SHA256,
    load_nb101,
    not_configured_message,
    resolve_nb101_file,
)
from a2v_jax.data.nb101.proto import decode_model_metrics
from a2v_jax.data.nb101.records import crc32c, masked_crc32c, read_tfrecord
from a2v_jax.data.nb101.table import (
    BEST_TEST,
    BEST_VALID,
    EPOCHS,
    MAX_EDGES,
    MAX_NODES,
    NUM_CELLS,
    NUM_REPEATS,
    OPS,
    NB101Table,
)

__all__ = [
    "BEST_TEST",
    "BEST_VALID",
    "CACHE_FILE",
    "ENV_NB101_DIR",
    "EPOCHS",
    "FILES",
    "FULL_FILE",
    "MAX_EDGES",
    "MAX_NODES",
    "NUM_CELLS",
    "NUM_REPEATS",
    "ONLY108_FILE",
    "OPS",
    "PUBLISHED_SHA256",
    "NB101Table",
    "cache_path",
    "crc32c",
    "decode_model_metrics",
    "enumerate_nb101",
    "load_cells",
    "load_nb101",
    "masked_crc32c",
    "not_configured_message",
    "read_tfrecord",
    "resolve_nb101_file",
    "save_cells",
]
