"""Reading the gzip'd CSV tables with errors that name the file, line, column and token."""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from a2v_jax.data._errors import DataError


def row_label(row: int) -> str:
    """``row r (line L)``: the 0-based data row and the 1-based file line (the header is line 1)."""
    return f"row {row} (line {row + 2})"


class CsvTable:
    """The columns of one ``.csv.gz`` file, kept as strings until a column is asked for."""

    def __init__(self, path: Path, required: Sequence[str]):
        self.path = path
        try:
            with gzip.open(path, "rt", newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                rows = list(reader)
        except FileNotFoundError as e:
            raise DataError(f"{path}: file not found") from e
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as e:
            raise DataError(f"{path}: cannot read it as gzip'd UTF-8 CSV: {e}") from e
        if not header:
            raise DataError(f"{path}: empty file, expected a header row")
        dupes = sorted({c for c in header if header.count(c) > 1})
        if dupes:
            raise DataError(f"{path}: duplicate column(s) {dupes} in the header")
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(f"{path}: missing required column(s) {missing}; the header has {header}")
        for r, row in enumerate(rows):
            if len(row) != len(header):
                raise DataError(f"{path}: {row_label(r)} has {len(row)} fields, the header has {len(header)}")
        self.header = header
        self.n_rows = len(rows)
        self._columns = (
            dict(zip(header, zip(*rows, strict=True), strict=True)) if rows else {c: () for c in header}
        )

    def strings(self, column: str) -> tuple[str, ...]:
        """The raw strings of ``column``."""
        return self._columns[column]

    def floats(self, column: str) -> np.ndarray:
        """``column`` as float64 ``(R,)``; empty cells become NaN; a non-number names its row and token."""
        raw = self._columns[column]
        try:
            return np.array([s if s.strip() else "nan" for s in raw], dtype=np.float64)
        except ValueError:
            for r, s in enumerate(raw):
                try:
                    float(s if s.strip() else "nan")
                except ValueError:
                    raise DataError(
                        f"{self.path}: {row_label(r)}, column {column!r}: {s!r} is not a number"
                    ) from None
            raise

    def ints(self, column: str) -> np.ndarray:
        """``column`` as int64 ``(R,)``; an empty cell or a non-integer names its row and token."""
        raw = self._columns[column]
        try:
            return np.array(raw, dtype=np.str_).astype(np.int64)
        except ValueError:
            pass
        out = np.empty(len(raw), dtype=np.int64)
        for r, s in enumerate(raw):
            try:
                out[r] = int(s)
            except ValueError:
                raise DataError(
                    f"{self.path}: {row_label(r)}, column {column!r}: {s!r} is not an integer"
                ) from None
        return out
