"""The ``nasbench.ModelMetrics`` protobuf of a NAS-Bench-101 record, decoded without protobuf.

``ModelMetrics {repeated EvaluationData evaluation_data = 1; optional int32 trainable_parameters = 2;
optional double total_time = 3}``, ``EvaluationData {optional double current_epoch = 1, training_time
= 2, train_accuracy = 3, validation_accuracy = 4, test_accuracy = 5; optional string checkpoint_path
= 6}``. ``evaluation_data`` holds the evaluations at the start, half-way and end of training.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from a2v_jax.data._errors import DataError

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
