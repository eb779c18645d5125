"""NAS-Bench-101 from the official ``.tfrecord`` files, read without TensorFlow, cached as one ``.npz``.

The files (https://storage.googleapis.com/nasbench/): ``nasbench_only108.tfrecord`` (~499 MB, the
108-epoch results, what arch2vec uses) and ``nasbench_full.tfrecord`` (~1.95 GB, 4/12/36/108 epochs).
Both are TFRecord files with one record per training run (3 repeats per cell and epoch budget):

- TFRecord framing: ``uint64 length`` (little endian), ``uint32`` masked CRC-32C of those 8 bytes, the
  data, ``uint32`` masked CRC-32C of the data; mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 mod 2^32.
- data: UTF-8 JSON ``[module_hash, epochs, raw_adjacency, raw_operations, raw_metrics]`` (the layout
  ``nasbench/api.py`` unpacks): the cell's MD5 hex hash, the epoch budget (int), the pruned n x n
  adjacency as a string of n^2 ``0``/``1`` digits in row-major order, the n op labels joined by
  ``,``, and the base64 of a serialized ``nasbench.ModelMetrics`` protobuf (``model_metrics.proto``):
  ``ModelMetrics {repeated EvaluationData evaluation_data = 1; optional int32 trainable_parameters = 2;
  optional double total_time = 3}``, ``EvaluationData {optional double current_epoch = 1, training_time
  = 2, train_accuracy = 3, validation_accuracy = 4, test_accuracy = 5; optional string checkpoint_path
  = 6}``. ``evaluation_data`` holds the evaluations at the start, half-way and end of training.

The table follows the nasbench API and arch2vec's ``gen_json.py``: one row per unique cell, in order of
first appearance in the file (``NASBench.hash_iterator()`` order, so row ``i`` is arch2vec's key
``str(i)``); per repeat (file order) the final and half-way validation / test accuracy and training
time at the chosen epoch budget; the means over the 3 repeats. Adjacency and ops are zero-padded to
7 nodes with the output node left at index ``n - 1``, as arch2vec pads them.

Every record's CRCs are checked (vectorised over records with numpy: ~140-190 MiB/s, against ~15
MiB/s for a pure-Python loop), and every field is validated; any problem raises :class:`DataError`
naming the file, record index and byte offset. The converted table is cached under
``$A2V_CACHE_DIR`` (default ``~/.cache/a2v_jax``), keyed by the epoch budget and the file's name and
fingerprint (:func:`a2v_jax.data.paths.file_fingerprint`: all bytes up to 256 MiB, else size, mtime
and the first and last 16 MiB: 0.02 s for the 500 MB file, against 0.3 s for a full SHA-256, which
would double the cached load; ``check nb101 --sha256`` compares the full hash with the published one).

Measured on a synthetic file of the real one's size (423,624 cells, 1,270,872 records, 497 MiB, 2 shared
CPU cores): conversion 13-16 s with CRC checks (12 s without), peak RSS 1.3 GB including the mapped file;
loading the 107 MiB cache 0.3 s.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import mmap
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from a2v_jax.data import paths
from a2v_jax.data._errors import ArchNotFoundError, DataError, DataNotConfiguredError

__all__ = [
    "BEST_TEST",
    "BEST_VALID",
    "ENV_NB101_DIR",
    "FILES",
    "NB101Table",
    "OPS",
    "crc32c",
    "decode_model_metrics",
    "load_nb101",
    "masked_crc32c",
    "read_tfrecord",
    "resolve_nb101_file",
]

#: Directory holding the official ``.tfrecord`` files (or the path of one of them).
ENV_NB101_DIR = "A2V_NB101_DIR"
ONLY108_FILE = "nasbench_only108.tfrecord"
FULL_FILE = "nasbench_full.tfrecord"
FILES: tuple[str, ...] = (ONLY108_FILE, FULL_FILE)
#: SHA256 of the official files, as published in the nasbench README.
PUBLISHED_SHA256 = {
    ONLY108_FILE: "4c39c3936e36a85269881d659e44e61a245babcb72cb374eacacf75d0e5f4fd1",
    FULL_FILE: "3d64db8180fb1b0207212f9032205064312b6907a3bbc81eabea10db2f5c7e9c",
}
_URL = "https://storage.googleapis.com/nasbench/"
#: Op labels in arch2vec's one-hot order; table op code ``k`` is ``OPS[k]``, ``-1`` is padding.
OPS: tuple[str, ...] = ("input", "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "output")
MAX_NODES = 7
MAX_EDGES = 9
NUM_REPEATS = 3
#: Epoch budgets in ``nasbench_full.tfrecord``; ``nasbench_only108.tfrecord`` has 108 only.
EPOCHS: tuple[int, ...] = (4, 12, 36, 108)
#: Unique cells in NAS-Bench-101.
NUM_CELLS = 423_624
#: Best mean (over 3 repeats) 108-epoch validation / test accuracy, arch2vec's regret anchors.
BEST_VALID = 0.9505542318026224
BEST_TEST = 0.943175752957662
#: Bumped whenever the cached layout or the meaning of a field changes.
_FORMAT_VERSION = 1

_RUN_FIELDS = (
    "valid_runs",
    "test_runs",
    "train_time_runs",
    "halfway_valid_runs",
    "halfway_test_runs",
    "halfway_train_time_runs",
)
#: Run field -> (evaluation, EvaluationData field) it is read from; evaluation_data[2] is the final one.
_RUN_SOURCE = {
    "valid_runs": ("final", "validation_accuracy"),
    "test_runs": ("final", "test_accuracy"),
    "train_time_runs": ("final", "training_time"),
    "halfway_valid_runs": ("half-way", "validation_accuracy"),
    "halfway_test_runs": ("half-way", "test_accuracy"),
    "halfway_train_time_runs": ("half-way", "training_time"),
}
_MEAN_FIELDS = ("valid_mean", "test_mean", "train_time_mean")
_ARRAYS = ("hash", "adjacency", "ops", "n_nodes", "params", *_RUN_FIELDS, *_MEAN_FIELDS)
_HASH_RE = re.compile(r"[0-9a-f]{32}")


# --------------------------------------------------------------------------- CRC-32C


def _crc_table() -> np.ndarray:
    """Byte table of the reflected CRC-32C (Castagnoli) polynomial 0x82f63b78."""
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table[i] = c
    return table


_CRC_TABLE = _crc_table()  # (256,) uint32
_CRC_LIST = _CRC_TABLE.tolist()
_MASK_DELTA = 0xA282EAD8


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data``, continuing from ``crc`` (pure Python, ~15 MiB/s).

    Args:
      data: the bytes.
      crc: the CRC of the bytes before ``data`` (0 to start).

    Returns:
      The CRC as an int in [0, 2^32).
    """
    crc ^= 0xFFFFFFFF
    table = _CRC_LIST
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _mask(crc):
    """TFRecord's CRC mask: rotate right by 15 bits, add 0xa282ead8 (mod 2^32); ints or uint32 arrays."""
    if isinstance(crc, np.ndarray):
        return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_DELTA)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C that TFRecord stores after a record's length and after its data."""
    return _mask(crc32c(data))


def _crc32c_batch(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """CRC-32C of many byte ranges of ``buf`` at once: one numpy step per byte position, all ranges.

    Ranges are sorted by length, longest first, so that the ranges still running at byte ``j`` are a
    prefix and each step touches only them.

    Args:
      buf: ``(B,)`` uint8.
      starts: ``(R,)`` int64 offsets into ``buf``.
      lengths: ``(R,)`` int64 lengths.

    Returns:
      ``(R,)`` uint32 CRCs.
    """
    n = starts.shape[0]
    order = np.argsort(-lengths, kind="stable")
    s, ln = starts[order], lengths[order]
    max_len = int(ln[0]) if n else 0
    active = n - np.searchsorted(ln[::-1], np.arange(max_len), side="right")  # (max_len,)
    crc = np.full(n, 0xFFFFFFFF, dtype=np.uint32)  # (R,)
    for j in range(max_len):
        k = active[j]
        c = crc[:k]
        crc[:k] = _CRC_TABLE[(c ^ buf[s[:k] + j]) & np.uint32(0xFF)] ^ (c >> np.uint32(8))
    out = np.empty(n, dtype=np.uint32)
    out[order] = crc ^ np.uint32(0xFFFFFFFF)
    return out


# --------------------------------------------------------------------------- TFRecord framing


def read_tfrecord(
    path: str | os.PathLike, *, verify_crc: bool = True, batch: int = 65_536
) -> Iterator[tuple[int, int, bytes]]:
    """The records of a TFRecord file, CRCs checked in batches before they are yielded.

    Args:
      path: the ``.tfrecord`` file.
      verify_crc: check both masked CRC-32Cs of every record (vectorised: about 100 MiB/s).
      batch: records per CRC batch.

    Yields:
      ``(index, offset, data)``: the record's 0-based index, the byte offset of its header, its data.

    Raises:
      DataError: unreadable file, truncated record or CRC mismatch, naming the file, record and offset.
    """
    path = Path(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed in the finally below, also if the caller stops early)
    except OSError as e:
        raise DataError(f"{path}: cannot open it: {e}") from e
    mm = None
    try:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return
        try:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: cannot map it into memory: {e}") from e
        yield from _records(path, mm, size, verify_crc, batch)
    finally:
        if mm is not None:
            mm.close()
        f.close()


def _records(path: Path, mm: mmap.mmap, size: int, verify_crc: bool, batch: int):
    unpack_len = struct.Struct("<Q").unpack_from
    index, pos = 0, 0
    while pos < size:
        offsets: list[int] = []
        lengths: list[int] = []
        while pos < size and len(offsets) < batch:
            at = index + len(offsets)
            length = unpack_len(mm, pos)[0] if size - pos >= 12 else None
            if length is None or length > size - pos - 16:
                # A corrupt length earlier in the batch, or in this header, reads as truncation: name it.
                if verify_crc:
                    _check_batch(path, mm, size, index, offsets, lengths)
                    if length is not None:
                        _check_header(path, mm, at, pos)
                if length is None:
                    why = f"{size - pos} bytes left, a record header needs 12"
                else:
                    left = max(size - pos - 16, 0)
                    why = f"its header says {length:,} data bytes + 4 CRC bytes, only {left:,} bytes left"
                raise DataError(f"{path}: truncated record {at} at byte offset {pos}: {why}")
            offsets.append(pos)
            lengths.append(length)
            pos += length + 16
        if verify_crc:
            _check_batch(path, mm, size, index, offsets, lengths)
        for o, n in zip(offsets, lengths, strict=True):
            yield index, o, mm[o + 12 : o + 12 + n]
            index += 1


def _check_header(path: Path, mm: mmap.mmap, index: int, offset: int) -> None:
    (stored,) = struct.unpack_from("<I", mm, offset + 8)
    computed = masked_crc32c(mm[offset : offset + 8])
    if stored != computed:
        raise DataError(
            f"{path}: record {index} at byte offset {offset}: corrupt length header (masked CRC-32C "
            f"stored 0x{stored:08x}, computed 0x{computed:08x})"
        )


def _u32_at(buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``(R,)`` uint32: the little-endian uint32 at each of ``pos`` in ``buf``."""
    return buf[pos[:, None] + np.arange(4)].copy().view("<u4")[:, 0]


def _check_batch(path: Path, mm: mmap.mmap, size: int, index: int, offsets: list, lengths: list) -> None:
    """Checks the header and data CRCs of a batch of records; names the first corrupt one."""
    if not offsets:
        return
    off = np.array(offsets, dtype=np.int64)  # (R,)
    ln = np.array(lengths, dtype=np.int64)  # (R,)
    buf = np.frombuffer(mm, dtype=np.uint8, count=size)
    try:
        bad_header = _mask(_crc32c_batch(buf, off, np.full_like(off, 8))) != _u32_at(buf, off + 8)
        computed = _mask(_crc32c_batch(buf, off + 12, ln))
        stored = _u32_at(buf, off + 12 + ln)
    finally:
        del buf  # release the export so that the mmap can close
    bad = np.flatnonzero(bad_header | (computed != stored))
    if bad.size:
        r = int(bad[0])
        if bad_header[r]:
            _check_header(path, mm, index + r, offsets[r])
        raise DataError(
            f"{path}: record {index + r} at byte offset {offsets[r]}: corrupt data ({lengths[r]:,} bytes "
            f"from offset {offsets[r] + 12}; masked CRC-32C stored 0x{int(stored[r]):08x}, computed "
            f"0x{int(computed[r]):08x})"
        )


# --------------------------------------------------------------------------- protobuf


class _ProtoError(ValueError):
    """A malformed ``ModelMetrics`` message (the caller adds file, record and offset)."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise _ProtoError("message ends inside a varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise _ProtoError("varint longer than 10 bytes")


_DOUBLE = struct.Struct("<d").unpack_from
_WIRE_NAMES = {0: "varint", 1: "fixed64", 2: "length-delimited", 5: "fixed32"}


def _fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """``(number, wire type, value)`` per field: int for a varint, else the field's bytes."""
    pos, end = 0, len(buf)
    while pos < end:
        key = buf[pos]
        if key < 0x80:  # one-byte key: every field of model_metrics.proto
            pos += 1
        else:
            key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _ProtoError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise _ProtoError(f"field {number}: unsupported wire type {wire}")
        if pos > end:
            raise _ProtoError(f"field {number} ({_WIRE_NAMES[wire]}) runs past the end of the message")
        yield number, wire, value


#: EvaluationData field number -> name; fields 1-5 are doubles (wire type 1), 6 a string (wire type 2).
_EVAL_FIELDS = {
    1: "current_epoch",
    2: "training_time",
    3: "train_accuracy",
    4: "validation_accuracy",
    5: "test_accuracy",
    6: "checkpoint_path",
}


def _wrong_wire(message: str, number: int, name: str, wire: int, expected: int) -> _ProtoError:
    return _ProtoError(
        f"{message}.{name} (field {number}) has wire type {wire} ({_WIRE_NAMES.get(wire, '?')}), "
        f"expected {expected} ({_WIRE_NAMES[expected]})"
    )


#: How the protobuf library serializes an EvaluationData holding doubles 1-5 and no checkpoint_path:
#: key byte 0x09, 0x11, 0x19, 0x21, 0x29 (field k, wire type 1), each followed by 8 bytes.
_CANONICAL_TAGS = bytes((k << 3) | 1 for k in range(1, 6))
_CANONICAL_EVAL = struct.Struct("<xdxdxdxdxd").unpack_from


def _decode_evaluation(buf: bytes, k: int) -> list:
    """One ``EvaluationData`` as a 6-list in field order (None where absent; last occurrence wins)."""
    if len(buf) == 45 and buf[0:45:9] == _CANONICAL_TAGS:  # fast path, same result as the loop below
        return [*_CANONICAL_EVAL(buf), None]
    out: list = [None] * 6
    for number, wire, value in _fields(buf):
        name = _EVAL_FIELDS.get(number)
        if name is None:
            continue  # unknown field: skipped, as protobuf does
        where = f"evaluation_data[{k}]"
        if number == 6:
            if wire != 2:
                raise _wrong_wire(where, number, name, wire, 2)
            try:
                out[5] = value.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _ProtoError(f"{where}.checkpoint_path is not UTF-8 ({e})") from None
        else:
            if wire != 1:
                raise _wrong_wire(where, number, name, wire, 1)
            out[number - 1] = _DOUBLE(value)[0]
    return out


def _decode_metrics(buf: bytes) -> tuple[int | None, float | None, list[list]]:
    """``(trainable_parameters, total_time, evaluation_data)`` of a serialized ``ModelMetrics``."""
    params = total_time = None
    evals: list[list] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            if wire != 2:
                raise _wrong_wire("ModelMetrics", 1, "evaluation_data", wire, 2)
            evals.append(_decode_evaluation(value, len(evals)))
        elif number == 2:
            if wire != 0:
                raise _wrong_wire("ModelMetrics", 2, "trainable_parameters", wire, 0)
            params = value - (1 << 64) if value >= 1 << 63 else value  # int32: negatives are 10-byte varints
            if not -(2**31) <= params < 2**31:
                raise _ProtoError(f"ModelMetrics.trainable_parameters = {params} does not fit an int32")
        elif number == 3:
            if wire != 1:
                raise _wrong_wire("ModelMetrics", 3, "total_time", wire, 1)
            total_time = _DOUBLE(value)[0]
    return params, total_time, evals


def decode_model_metrics(data: bytes) -> dict:
    """Decodes a serialized ``nasbench.ModelMetrics`` protobuf (``model_metrics.proto``).

    Args:
      data: the message bytes (the base64-decoded last element of a record).

    Returns:
      ``{"trainable_parameters": int | None, "total_time": float | None, "evaluation_data": [{field:
      value}]}``, each evaluation with the fields of ``EvaluationData`` (None where absent).

    Raises:
      DataError: a malformed message (truncated field, wrong wire type).
    """
    try:
        params, total_time, evals = _decode_metrics(bytes(data))
    except _ProtoError as e:
        raise DataError(f"malformed ModelMetrics message: {e}") from None
    return {
        "trainable_parameters": params,
        "total_time": total_time,
        "evaluation_data": [dict(zip(_EVAL_FIELDS.values(), ev, strict=True)) for ev in evals],
    }


# --------------------------------------------------------------------------- table


@dataclass(frozen=True, eq=False)
class NB101Table:
    """NAS-Bench-101 at one epoch budget; row ``i`` is the ``i``-th cell of ``NASBench.hash_iterator()``."""

    path: str  # the .tfrecord file it was read from
    epochs: int  # the epoch budget of the results
    epochs_in_file: tuple[int, ...]  # every budget the file holds
    checksum: str  # sha256 hex over the arrays
    hash: np.ndarray  # (P,) <U32: the cell's MD5 module hash
    adjacency: np.ndarray  # (P, 7, 7) int8: pruned DAG, zero-padded; output node at n_nodes - 1
    ops: np.ndarray  # (P, 7) int8: op codes (index into OPS), -1 on padded nodes
    n_nodes: np.ndarray  # (P,) int8: nodes of the pruned cell (2..7)
    params: np.ndarray  # (P,) int64: trainable parameters
    valid_runs: np.ndarray  # (P, 3) float64: final validation accuracy (fraction) per repeat, file order
    test_runs: np.ndarray  # (P, 3) float64: final test accuracy per repeat
    train_time_runs: np.ndarray  # (P, 3) float64: seconds of training to the final evaluation
    halfway_valid_runs: np.ndarray  # (P, 3) float64: validation accuracy at epochs / 2
    halfway_test_runs: np.ndarray  # (P, 3) float64: test accuracy at epochs / 2
    halfway_train_time_runs: np.ndarray  # (P, 3) float64: seconds of training to epochs / 2
    valid_mean: np.ndarray  # (P,) float64: mean of valid_runs (arch2vec's validation_accuracy)
    test_mean: np.ndarray  # (P,) float64: mean of test_runs (arch2vec's test_accuracy)
    train_time_mean: np.ndarray  # (P,) float64: mean of train_time_runs (arch2vec's training_time)
    from_cache: bool = field(default=False, compare=False)
    cache_file: str | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return int(self.hash.shape[0])

    @cached_property
    def _index(self) -> dict[str, int]:
        return {h: i for i, h in enumerate(self.hash.tolist())}

    def index_of(self, module_hash: str) -> int:
        """Row of the cell with MD5 ``module_hash``.

        Raises:
          ArchNotFoundError: (a :class:`DataError` and a ``KeyError``) naming the hash.
        """
        idx = self._index.get(module_hash) if isinstance(module_hash, str) else None
        if idx is None:
            raise ArchNotFoundError(f"module hash {module_hash!r} is not in the NB101 table ({self.path})")
        return idx

    def ops_onehot(self) -> np.ndarray:
        """arch2vec's op features: ``(P, 7, 5)`` int8 one-hot over :data:`OPS`, all-zero on padded nodes."""
        return (self.ops[:, :, None] == np.arange(len(OPS), dtype=np.int8)).astype(np.int8)


def _make_table(
    path: Path, epochs: int, epochs_in_file, arrays: dict[str, np.ndarray], **extra
) -> NB101Table:
    for a in arrays.values():
        a.setflags(write=False)
    return NB101Table(
        path=str(path),
        epochs=int(epochs),
        epochs_in_file=tuple(int(e) for e in epochs_in_file),
        checksum=paths.array_checksum(arrays),
        **arrays,
        **extra,
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


# --------------------------------------------------------------------------- files and cache


def _how_to(file: str) -> str:
    return (
        f"put {file} there (download {_URL}{file}; ~499 MB for {ONLY108_FILE}, ~1.95 GB for {FULL_FILE}), "
        "or point data_dir / --data-dir / "
        f"${ENV_NB101_DIR} at the file itself"
    )


def not_configured_message(file: str = ONLY108_FILE) -> str:
    """How to tell a2v_jax where the NAS-Bench-101 file is."""
    return (
        "no NAS-Bench-101 data configured: pass data_dir=DIR (CLI: --data-dir DIR) or set "
        f"{ENV_NB101_DIR}=DIR, and {_how_to(file)}"
    )


def resolve_nb101_file(data_dir: str | os.PathLike | None = None, file: str = ONLY108_FILE) -> Path:
    """The ``.tfrecord`` to read: ``data_dir`` (else ``$A2V_NB101_DIR``) if it is a file, else ``DIR/file``.

    Args:
      data_dir: a directory holding ``file``, or the file itself.
      file: the file name inside the directory.

    Returns:
      The path of an existing file.

    Raises:
      DataNotConfiguredError: nothing configured, or the file or directory is missing; the message
        says where to download the file and how to point a2v_jax at it.
    """
    if data_dir is None:
        env = os.environ.get(ENV_NB101_DIR)
        if not env:
            raise DataNotConfiguredError(not_configured_message(file))
        data_dir, origin = env, f"${ENV_NB101_DIR}"
    else:
        origin = "data_dir"
    d = Path(data_dir).expanduser()
    if d.is_file():
        return d
    if not d.exists():
        raise DataNotConfiguredError(
            f"{d}: no such file or directory (the NAS-Bench-101 location given by {origin}); create it and "
            + _how_to(file)
        )
    if not (d / file).is_file():
        present = sorted(p.name for p in d.glob("*.tfrecord"))
        raise DataNotConfiguredError(
            f"{d / file}: file not found (the directory holds {present or 'no .tfrecord files'}); "
            + _how_to(file)
        )
    return d / file


def _cache_file(path: Path, epochs: int, cache_dir) -> Path:
    key = paths.files_key(f"nb101/v{_FORMAT_VERSION}/epochs{epochs}", [path])
    return paths.cache_dir(cache_dir) / f"nb101-{path.stem}-{epochs}ep-{key[:24]}.npz"


def _write_cache(table: NB101Table, path: Path) -> bool:
    arrays = {name: getattr(table, name) for name in _ARRAYS}
    arrays["hash"] = arrays["hash"].astype("S32")  # a quarter of the <U32 bytes
    meta = {
        "format": _FORMAT_VERSION,
        "epochs": table.epochs,
        "epochs_in_file": list(table.epochs_in_file),
        "checksum": table.checksum,
    }
    return paths.write_npz_atomic(
        path, meta, arrays, what="NB101", otherwise="the next load converts the file again", stacklevel=3
    )


def _expected_shape(name: str, p: int) -> tuple[int, ...]:
    if name == "adjacency":
        return (p, MAX_NODES, MAX_NODES)
    if name == "ops":
        return (p, MAX_NODES)
    return (p, NUM_REPEATS) if name in _RUN_FIELDS else (p,)


def _read_cache(cache: Path, source: Path, epochs: int) -> NB101Table:
    def corrupt(why: str) -> DataError:
        return DataError(
            f"corrupted cache file {cache}: {why}. Delete it (rm '{cache}'), or rebuild it with "
            "rebuild_cache=True (CLI: python -m a2v_jax.data check nb101 --rebuild-cache, with the same data "
            "settings)"
        )

    try:
        with open(cache, "rb") as f, np.load(f, allow_pickle=False) as z:
            if "__meta__" not in z.files:
                raise corrupt("no '__meta__' array")
            meta = json.loads(str(z["__meta__"]))
            if meta.get("format") != _FORMAT_VERSION or meta.get("epochs") != epochs:
                raise corrupt(
                    f"format/epochs {meta.get('format')}/{meta.get('epochs')}, "
                    f"expected {_FORMAT_VERSION}/{epochs}"
                )
            missing = [n for n in _ARRAYS if n not in z.files]
            if missing:
                raise corrupt(f"missing array(s) {missing}")
            arrays = {n: z[n] for n in _ARRAYS}
        arrays["hash"] = arrays["hash"].astype("<U32")
    except DataError:
        raise
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
    ) as e:
        raise corrupt(f"cannot read it ({type(e).__name__}: {e})") from e
    p = arrays["hash"].shape[0]
    for name, a in arrays.items():
        if a.shape != _expected_shape(name, p):
            raise corrupt(f"array {name!r} has shape {a.shape}, expected {_expected_shape(name, p)}")
    checksum = paths.array_checksum(arrays)
    if checksum != meta.get("checksum"):
        raise corrupt(
            f"the arrays' sha256 {checksum[:16]}... does not match the recorded "
            f"{str(meta.get('checksum'))[:16]}..."
        )
    return _make_table(
        source, epochs, meta.get("epochs_in_file", [epochs]), arrays, from_cache=True, cache_file=str(cache)
    )


# --------------------------------------------------------------------------- entry point


def load_nb101(
    data_dir: str | os.PathLike | None = None,
    *,
    file: str = ONLY108_FILE,
    epochs: int = 108,
    cache_dir: str | os.PathLike | None = None,
    rebuild_cache: bool = False,
    use_cache: bool = True,
    verify_crc: bool = True,
    progress: bool = False,
) -> NB101Table:
    """Loads the NAS-Bench-101 table from an official ``.tfrecord``, converting it once into a cache.

    Converting ``nasbench_only108.tfrecord`` (1,270,872 records) takes about 15 s (module docstring);
    later loads read the ``.npz`` cache in about 0.3 s.

    Args:
      data_dir: a directory holding ``file`` or the file itself (else ``$A2V_NB101_DIR``).
      file: :data:`ONLY108_FILE` or :data:`FULL_FILE` (any name works, the format decides).
      epochs: the epoch budget to tabulate (108; the full file also has 4, 12 and 36).
      cache_dir: where the ``.npz`` cache lives (else ``$A2V_CACHE_DIR``, else ``~/.cache/a2v_jax``).
      rebuild_cache: convert the file even if a cache exists, and overwrite the cache.
      use_cache: False neither reads nor writes a cache.
      verify_crc: check every record's CRC-32Cs while converting.
      progress: show a progress bar (stderr) while converting.

    Returns:
      The table; ``table.from_cache`` tells whether it came from the cache.

    Raises:
      DataNotConfiguredError: nothing configured or the file is missing (the message says how to fix it).
      DataError: a corrupt or malformed file or cache, naming the file, record and byte offset.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs <= 0:
        raise ValueError(f"epochs must be a positive int (one of {EPOCHS}), got {epochs!r}")
    path = resolve_nb101_file(data_dir, file)
    cache = _cache_file(path, int(epochs), cache_dir) if use_cache else None
    if cache is not None and not rebuild_cache and cache.is_file():
        return _read_cache(cache, path, int(epochs))
    table = _convert(path, int(epochs), verify_crc, progress)
    if cache is not None and _write_cache(table, cache):
        table = dataclasses.replace(table, cache_file=str(cache))
    return table
