"""Conversion of an official NAS-Bench-101 ``.tfrecord`` into the table, validating every field.

A record's data is UTF-8 JSON ``[module_hash, epochs, raw_adjacency, raw_operations, raw_metrics]``
(the layout ``nasbench/api.py`` unpacks): the cell's MD5 hex hash, the epoch budget (int), the pruned
n x n adjacency as a string of n^2 ``0``/``1`` digits in row-major order, the n op labels joined by
``,``, and the base64 of a serialized ``ModelMetrics`` protobuf (:mod:`~a2v_jax.data.nb101.proto`).
Any problem raises :class:`~a2v_jax.data.DataError` naming the file, record index and byte offset.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

import numpy as np

from a2v_jax.data._errors import DataError
from a2v_jax.data.nb101.proto import _EVAL_FIELDS, _decode_metrics, _ProtoError
from a2v_jax.data.nb101.records import read_tfrecord
from a2v_jax.data.nb101.table import (
    _HASH_RE,
    _MEAN_FIELDS,
    _RUN_FIELDS,
    _RUN_SOURCE,
    MAX_EDGES,
    MAX_NODES,
    NUM_REPEATS,
    OPS,
    NB101Table,
    _make_table,
)

# --------------------------------------------------------------------------- conversion


class _Converter:
    """Accumulates the records of one file at one epoch budget, then validates them into arrays."""

    def __init__(self, path: Path, epochs: int):
        self.path, self.epochs = path, epochs
        self.rows: dict[str, int] = {}
        self.first: list[tuple[int, int]] = []  # per row: (record index, offset) of its first record
        self.adjacency: list[str] = []  # per row
        self.ops: list[str] = []  # per row
        self.params: list[int | None] = []  # per row, from its first record at self.epochs
        self.params_from: list[tuple[int, int] | None] = []
        self.run_row: list[int] = []  # per selected record
        self.run_at: list[tuple[int, int]] = []  # per selected record: (index, offset)
        self.values: list[float] = []  # per selected record: 6 values, _RUN_FIELDS order
        self.epochs_seen: set[int] = set()

    def where(self, index: int, offset: int) -> str:
        return f"{self.path}: record {index} (byte offset {offset})"

    def add(self, index: int, offset: int, data: bytes) -> None:
        try:
            rec = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"{self.where(index, offset)}: data is not UTF-8 JSON: {e}") from None
        if not (isinstance(rec, list) and len(rec) == 5):
            raise DataError(
                f"{self.where(index, offset)}: expected a JSON list [module_hash, epochs, raw_adjacency, "
                f"raw_operations, raw_metrics], got {_preview(rec)}"
            )
        module_hash, epochs, adjacency, ops, metrics = rec
        for name, value, kind in (
            ("module_hash", module_hash, str),
            ("epochs", epochs, int),
            ("raw_adjacency", adjacency, str),
            ("raw_operations", ops, str),
            ("raw_metrics", metrics, str),
        ):
            if not isinstance(value, kind) or isinstance(value, bool):
                raise DataError(
                    f"{self.where(index, offset)}: {name} is {_preview(value)}, expected a {kind.__name__}"
                )
        row = self.rows.get(module_hash)
        if row is None:
            if not _HASH_RE.fullmatch(module_hash):
                raise DataError(
                    f"{self.where(index, offset)}: module_hash {module_hash!r} is not 32 lowercase hex digits"
                )
            row = self.rows[module_hash] = len(self.first)
            self.first.append((index, offset))
            self.adjacency.append(adjacency)
            self.ops.append(ops)
            self.params.append(None)
            self.params_from.append(None)
        elif adjacency != self.adjacency[row] or ops != self.ops[row]:
            i, o = self.first[row]
            raise DataError(
                f"{self.where(index, offset)}: module {module_hash} has adjacency {adjacency!r} and ops "
                f"{ops!r}, but its first record {i} (byte offset {o}) has {self.adjacency[row]!r} and "
                f"{self.ops[row]!r}"
            )
        self.epochs_seen.add(epochs)
        if epochs != self.epochs:
            return  # other budgets only fix the row order (hash_iterator() is over all records)
        try:
            raw = base64.b64decode(metrics, validate=True)
        except (binascii.Error, ValueError) as e:
            raise DataError(f"{self.where(index, offset)}: raw_metrics is not base64: {e}") from None
        try:
            params, _, evals = _decode_metrics(raw)
        except _ProtoError as e:
            raise DataError(f"{self.where(index, offset)}: malformed ModelMetrics message: {e}") from None
        if params is None:
            raise DataError(f"{self.where(index, offset)}: ModelMetrics has no trainable_parameters")
        if self.params[row] is None:
            self.params[row], self.params_from[row] = params, (index, offset)
        elif params != self.params[row]:
            i, o = self.params_from[row]
            raise DataError(
                f"{self.where(index, offset)}: module {module_hash} has {params} trainable parameters, "
                f"but record {i} (byte offset {o}) says {self.params[row]}"
            )
        if len(evals) != 3:
            raise DataError(
                f"{self.where(index, offset)}: ModelMetrics has {len(evals)} evaluation_data, expected 3 "
                "(start, half-way and end of training)"
            )
        for k, stage in ((2, "final"), (1, "half-way")):
            ev = evals[k]
            for j in (1, 3, 4):  # training_time, validation_accuracy, test_accuracy
                if ev[j] is None:
                    raise DataError(
                        f"{self.where(index, offset)}: evaluation_data[{k}] ({stage}) has no "
                        f"{_EVAL_FIELDS[j + 1]}"
                    )
        final, half = evals[2], evals[1]
        self.values += (final[3], final[4], final[1], half[3], half[4], half[1])
        self.run_row.append(row)
        self.run_at.append((index, offset))

    def finish(self) -> tuple[dict[str, np.ndarray], tuple[int, ...]]:
        """Validates the accumulated records; returns the table arrays and the budgets in the file."""
        path, epochs = self.path, self.epochs
        if not self.first:
            raise DataError(f"{path}: no records")
        if epochs not in self.epochs_seen:
            raise DataError(
                f"{path}: no results at {epochs} epochs; the file has epochs {sorted(self.epochs_seen)}"
            )
        p = len(self.first)
        hashes = list(self.rows)

        def row_label(r: int) -> str:
            i, o = self.first[r]
            return f"module {hashes[r]} (first record {i}, byte offset {o})"

        run_row = np.array(self.run_row, dtype=np.int64)  # (R,)
        counts = np.bincount(run_row, minlength=p)  # (P,)
        bad = np.flatnonzero(counts != NUM_REPEATS)
        if bad.size:
            r = int(bad[0])
            raise DataError(
                f"{path}: {row_label(r)} has {counts[r]} records at {epochs} epochs, expected {NUM_REPEATS} "
                f"(one per repeat){f'; {bad.size - 1:,} more modules are affected' if bad.size > 1 else ''}"
            )
        values = np.array(self.values, dtype=np.float64).reshape(-1, len(_RUN_FIELDS))  # (R, 6)
        for j, name in enumerate(_RUN_FIELDS):
            col = values[:, j]
            stage, proto_field = _RUN_SOURCE[name]
            is_time = proto_field == "training_time"
            ok = np.isfinite(col) & ((col > 0) if is_time else ((col >= 0) & (col <= 1)))
            bad = np.flatnonzero(~ok)
            if bad.size:
                i, o = self.run_at[int(bad[0])]
                what = "a positive number of seconds" if is_time else "an accuracy in [0, 1]"
                raise DataError(f"{self.where(i, o)}: {stage} {proto_field} = {col[bad[0]]} is not {what}")
        order = np.argsort(run_row, kind="stable")  # repeats of a row in file order
        runs = values[order].reshape(p, NUM_REPEATS, len(_RUN_FIELDS))  # (P, 3, 6)

        adjacency, n_nodes = self._adjacency(row_label)
        ops = self._ops(n_nodes, row_label)
        arrays = {
            "hash": np.array(hashes, dtype="<U32"),
            "adjacency": adjacency,
            "ops": ops,
            "n_nodes": n_nodes,
            "params": np.array(self.params, dtype=np.int64),
        }
        for j, name in enumerate(_RUN_FIELDS):
            arrays[name] = np.ascontiguousarray(runs[:, :, j])
        for name in _MEAN_FIELDS:
            arrays[name] = arrays[name.replace("_mean", "_runs")].mean(axis=1)
        return arrays, tuple(sorted(self.epochs_seen))

    def _adjacency(self, row_label) -> tuple[np.ndarray, np.ndarray]:
        """``(P, 7, 7)`` int8 padded adjacency and ``(P,)`` int8 node counts from the digit strings."""
        p = len(self.adjacency)
        lengths = np.fromiter(map(len, self.adjacency), dtype=np.int64, count=p)
        n = np.rint(np.sqrt(lengths)).astype(np.int64)
        bad = np.flatnonzero((n * n != lengths) | (n < 2) | (n > MAX_NODES))
        if bad.size:
            r = int(bad[0])
            raise DataError(
                f"{self.path}: {row_label(r)}: raw_adjacency has {lengths[r]} digits, expected n*n for n "
                f"nodes, 2 <= n <= {MAX_NODES}"
            )
        out = np.zeros((p, MAX_NODES, MAX_NODES), dtype=np.int8)
        for k in np.unique(n).tolist():
            rows = np.flatnonzero(n == k)
            digits = np.frombuffer("".join(self.adjacency[r] for r in rows).encode(), dtype=np.uint8)
            if digits.size != rows.size * k * k:  # a non-ASCII character encodes to several bytes
                bad_row = next(r for r in rows.tolist() if not self.adjacency[r].isascii())
                raise DataError(
                    f"{self.path}: {row_label(bad_row)}: raw_adjacency {self.adjacency[bad_row]!r} must be "
                    "digits 0/1"
                )
            m = (digits.astype(np.int16) - ord("0")).reshape(-1, k, k)  # (G, k, k)
            not_binary = ~np.all((m == 0) | (m == 1), axis=(1, 2))
            not_upper = np.any(np.tril(m) != 0, axis=(1, 2))
            too_many = m.sum(axis=(1, 2)) > MAX_EDGES
            for mask, why in (
                (not_binary, "must be digits 0/1"),
                (not_upper, "is not strictly upper triangular (a DAG in topological order)"),
                (too_many, f"has more than {MAX_EDGES} edges"),
            ):
                g = np.flatnonzero(mask)
                if g.size:
                    r = int(rows[g[0]])
                    raise DataError(f"{self.path}: {row_label(r)}: raw_adjacency {self.adjacency[r]!r} {why}")
            out[rows, :k, :k] = m
        return out, n.astype(np.int8)

    def _ops(self, n_nodes: np.ndarray, row_label) -> np.ndarray:
        """``(P, 7)`` int8 op codes (-1 padding); each distinct op string is parsed once."""
        code = {op: k for k, op in enumerate(OPS)}
        middle = set(OPS[1:-1])
        parsed: dict[str, list[int] | str] = {}  # op string -> codes, or why it is invalid
        out = np.full((len(self.ops), MAX_NODES), -1, dtype=np.int8)
        for r, s in enumerate(self.ops):
            codes = parsed.get(s)
            if codes is None:
                labels = s.split(",")
                unknown = [op for op in labels[1:-1] if op not in middle]
                if len(labels) < 2 or labels[0] != "input" or labels[-1] != "output":
                    codes = "must start with 'input' and end with 'output'"
                elif unknown:
                    codes = f"has unknown op(s) {unknown}; the inner ops must be in {sorted(middle)}"
                else:
                    codes = [code[op] for op in labels]
                parsed[s] = codes
            if isinstance(codes, str):
                raise DataError(f"{self.path}: {row_label(r)}: raw_operations {s!r} {codes}")
            if len(codes) != n_nodes[r]:
                raise DataError(
                    f"{self.path}: {row_label(r)}: raw_operations {s!r} has {len(codes)} ops, but the "
                    f"adjacency has {n_nodes[r]} nodes"
                )
            out[r, : len(codes)] = codes
        return out


def _preview(value, limit: int = 80) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:limit]}{'...' if len(text) > limit else ''}"


def _convert(path: Path, epochs: int, verify_crc: bool, progress: bool) -> NB101Table:
    conv = _Converter(path, epochs)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=f"reading {path.name}")
    try:
        last = 0
        for index, offset, data in read_tfrecord(path, verify_crc=verify_crc):
            conv.add(index, offset, data)
            if bar is not None and index % 65_536 == 0:
                bar.update(offset - last)
                last = offset
        if bar is not None:
            bar.update(bar.total - last)
    finally:
        if bar is not None:
            bar.close()
    arrays, epochs_in_file = conv.finish()
    return _make_table(path, epochs, epochs_in_file, arrays)
