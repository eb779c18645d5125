"""What a benchmark says about each architecture: NAS-Bench-201 tables and the search protocols on them.

``python -m a2v_jax.data check nb201`` loads and validates the configured table and prints a summary.
"""

from __future__ import annotations

from a2v_jax.data._errors import ArchNotFoundError, DataError, DataNotConfiguredError
from a2v_jax.data.nb201 import DATASETS, SOURCES, NB201DatasetResults, NB201Table, load_nb201
from a2v_jax.data.protocols import (
    SearchProtocol,
    get_protocol,
    protocol_arrays,
    protocol_signal_runs,
    report,
)

__all__ = [
    "DATASETS",
    "SOURCES",
    "ArchNotFoundError",
    "DataError",
    "DataNotConfiguredError",
    "NB201DatasetResults",
    "NB201Table",
    "SearchProtocol",
    "get_protocol",
    "load_nb201",
    "protocol_arrays",
    "protocol_signal_runs",
    "report",
]
