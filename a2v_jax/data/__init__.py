"""What a benchmark says about each architecture: NAS-Bench-201 and -101 tables, and search protocols.

Also every file and cache the search spaces need (:mod:`a2v_jax.spaces` reads no file): the DARTS pool,
the NAS-Bench-101 enumeration, and :func:`pretraining_graphs`, the graphs a space pre-trains on.

``python -m a2v_jax.data check nb201`` (or ``check nb101``) loads and validates the configured table and
prints a summary.
"""

from __future__ import annotations

from a2v_jax.data._errors import ArchNotFoundError, DataError, DataNotConfiguredError, exit_2_on_data_error
from a2v_jax.data.nb101 import NB101Table, load_nb101
from a2v_jax.data.nb201 import DATASETS, SOURCES, NB201DatasetResults, NB201Table, load_nb201
from a2v_jax.data.protocols import (
    NB101Protocol,
    SearchProtocol,
    get_nb101_protocol,
    get_protocol,
    nb101_protocol_arrays,
    protocol_arrays,
    protocol_signal_runs,
    report,
)
from a2v_jax.data.space_graphs import SpaceGraphs, pretraining_graphs

__all__ = [
    "DATASETS",
    "SOURCES",
    "ArchNotFoundError",
    "DataError",
    "exit_2_on_data_error",
    "DataNotConfiguredError",
    "NB101Protocol",
    "NB101Table",
    "NB201DatasetResults",
    "NB201Table",
    "SearchProtocol",
    "SpaceGraphs",
    "get_nb101_protocol",
    "get_protocol",
    "load_nb101",
    "load_nb201",
    "nb101_protocol_arrays",
    "pretraining_graphs",
    "protocol_arrays",
    "protocol_signal_runs",
    "report",
]
