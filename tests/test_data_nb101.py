"""NAS-Bench-101 ``.tfrecord`` reader: CRC-32C, TFRecord framing, ModelMetrics decoding, the table, the cache.

The files here are written in the official format by the writer below (its own bitwise CRC-32C, protobuf
bytes built by hand from ``model_metrics.proto``), so no TensorFlow and no real data are needed.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from a2v_jax.data import ArchNotFoundError, DataError, DataNotConfiguredError, NB101Table, load_nb101
from a2v_jax.data.__main__ import main
from a2v_jax.data.nb101 import (
    ENV_NB101_DIR,
    OPS,
    crc32c,
    decode_model_metrics,
    masked_crc32c,
    read_tfrecord,
)
from a2v_jax.data.nb101.records import _crc32c_batch

# --------------------------------------------------------------------------- writer (official format)


def _crc32c_bitwise(data: bytes) -> int:
    """CRC-32C one bit at a time (independent of the table-driven code under test)."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    c = _crc32c_bitwise(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", _masked(header)) + data + struct.pack("<I", _masked(data))


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _double(number: int, x: float) -> bytes:
    return _key(number, 1) + struct.pack("<d", x)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def evaluation(epoch, time_s, train, valid, test, checkpoint: str | None = None) -> bytes:
    """An ``EvaluationData`` message: doubles 1-5, string 6."""
    out = b"".join(_double(k, x) for k, x in enumerate((epoch, time_s, train, valid, test), start=1))
    return out + (_bytes_field(6, checkpoint.encode()) if checkpoint is not None else b"")


def model_metrics(params: int, evals: list[bytes], total_time: float = 1234.5) -> bytes:
    """A ``ModelMetrics`` message: repeated EvaluationData 1, int32 trainable_parameters 2, double 3."""
    return b"".join(_bytes_field(1, e) for e in evals) + _key(2, 0) + _varint(params) + _double(3, total_time)


def record(module_hash: str, epochs: int, matrix, ops, metrics: bytes) -> bytes:
    """A record's data: JSON [hash, epochs, adjacency digits, ops joined by ',', base64 metrics]."""
    digits = "".join(str(int(x)) for row in matrix for x in row)
    return json.dumps(
        [module_hash, epochs, digits, ",".join(ops), base64.b64encode(metrics).decode("ascii")]
    ).encode()


IN, C1, C3, MP, OUT = OPS
#: (hash, matrix, ops, params): 7, 5, 2 and 4 nodes.
CELLS = [
    (
        "a" * 32,
        [
            [0, 1, 1, 0, 0, 1, 1],
            [0, 0, 0, 0, 0, 1, 0],
            [0, 0, 0, 1, 0, 0, 0],
            [0, 0, 0, 0, 1, 0, 0],
            [0, 0, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 0],
        ],
        [IN, C1, C3, MP, C3, C3, OUT],
        5_356_682,
    ),
    (
        "0123456789abcdef0123456789abcdef",
        [[0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]],
        [IN, C3, MP, C1, OUT],
        2_694_282,
    ),
    ("f" * 32, [[0, 1], [0, 0]], [IN, OUT], 227_274),
    ("0" * 31 + "1", [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], [IN, C1, MP, OUT], 1_000_000),
]


def run_values(cell: int, rep: int, epochs: int = 108) -> dict:
    """Made-up but distinct numbers for one run."""
    base = 0.80 + 0.03 * cell + 0.004 * rep + epochs / 1e4
    return {
        "valid": base,
        "test": base - 0.01,
        "time": 1000.0 + 100 * cell + 7 * rep + epochs,
        "h_valid": base - 0.2,
        "h_test": base - 0.21,
        "h_time": 500.0 + 50 * cell + 3 * rep + epochs,
    }


def run_record(cell: int, rep: int, epochs: int = 108, **overrides) -> bytes:
    h, matrix, ops, params = CELLS[cell]
    v = run_values(cell, rep, epochs)
    evals = [
        evaluation(0.0, 0.0, 0.1, 0.1, 0.1),
        evaluation(epochs / 2, v["h_time"], 0.9, v["h_valid"], v["h_test"]),
        evaluation(float(epochs), v["time"], 1.0, v["valid"], v["test"], checkpoint="/tmp/model.ckpt-1"),
    ]
    metrics = overrides.pop("metrics", None) or model_metrics(params, evals)
    return record(h, overrides.pop("epochs_field", epochs), matrix, ops, metrics)


def interleaved(epochs_list=(108,)) -> list[bytes]:
    """Every cell x repeat x budget, repeats interleaved across cells (rows in first-appearance order)."""
    return [run_record(c, r, e) for e in epochs_list for r in range(3) for c in range(len(CELLS))]


def write(path: Path, records: list[bytes]) -> list[int]:
    """Writes framed records; returns each record's byte offset."""
    offsets, pos, chunks = [], 0, []
    for data in records:
        offsets.append(pos)
        chunk = frame(data)
        chunks.append(chunk)
        pos += len(chunk)
    path.write_bytes(b"".join(chunks))
    return offsets


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No NB101 location configured; caches go to a per-test directory."""
    monkeypatch.delenv(ENV_NB101_DIR, raising=False)
    monkeypatch.setenv("A2V_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def only108(env) -> Path:
    d = env / "nb101"
    d.mkdir()
    write(d / "nasbench_only108.tfrecord", interleaved())
    return d


# --------------------------------------------------------------------------- CRC-32C


def test_crc32c__known_vectors():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(b"6789", crc32c(b"12345")) == 0xE3069283


def test_masked_crc32c__matches_tfrecord_mask():
    for data in (b"", b"123456789", bytes(range(256))):
        assert masked_crc32c(data) == _masked(data)


def test_crc32c_batch__equals_scalar_for_ragged_ranges():
    rng = np.random.default_rng(0)
    buf = rng.integers(0, 256, 4000, dtype=np.uint8)
    starts = rng.integers(0, 3000, 50).astype(np.int64)
    lengths = rng.integers(0, 900, 50).astype(np.int64)
    lengths[:3] = (0, 1, 8)
    got = _crc32c_batch(buf, starts, lengths)
    expected = [_crc32c_bitwise(buf[s : s + n].tobytes()) for s, n in zip(starts, lengths, strict=True)]
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.uint32))


# --------------------------------------------------------------------------- framing


def test_read_tfrecord__round_trip_across_batches(tmp_path):
    records = [b"", b"x", b"hello world" * 30, bytes(range(256))]
    offsets = write(tmp_path / "r.tfrecord", records)
    got = list(read_tfrecord(tmp_path / "r.tfrecord", batch=3))
    assert got == [(i, o, d) for i, (o, d) in enumerate(zip(offsets, records, strict=True))]


def test_read_tfrecord__empty_file_has_no_records(tmp_path):
    (tmp_path / "e.tfrecord").write_bytes(b"")
    assert list(read_tfrecord(tmp_path / "e.tfrecord")) == []


def _corrupt(path: Path, pos: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[pos] ^= 0x01
    path.write_bytes(bytes(raw))


def test_read_tfrecord__corrupt_data_names_record_and_offset(tmp_path):
    path = tmp_path / "r.tfrecord"
    offsets = write(path, [b"a" * 40, b"b" * 50, b"c" * 60])
    _corrupt(path, offsets[2] + 12 + 5)
    with pytest.raises(DataError, match=rf"r\.tfrecord: record 2 at byte offset {offsets[2]}: corrupt data"):
        list(read_tfrecord(path, batch=2))
    assert len(list(read_tfrecord(path, verify_crc=False))) == 3  # the option skips the check


def test_read_tfrecord__corrupt_stored_crc_names_offset(tmp_path):
    path = tmp_path / "r.tfrecord"
    offsets = write(path, [b"a" * 40, b"b" * 50])
    _corrupt(path, offsets[1] + 12 + 50 + 1)  # the data CRC itself
    with pytest.raises(DataError, match=rf"record 1 at byte offset {offsets[1]}: corrupt data"):
        list(read_tfrecord(path))


def test_read_tfrecord__corrupt_length_header_names_offset(tmp_path):
    path = tmp_path / "r.tfrecord"
    offsets = write(path, [b"a" * 40, b"b" * 50, b"c" * 10])
    _corrupt(path, offsets[1])  # length 50 -> 51: still inside the file
    with pytest.raises(DataError, match=rf"record 1 at byte offset {offsets[1]}: corrupt length header"):
        list(read_tfrecord(path))
    _corrupt(path, offsets[1])
    _corrupt(path, offsets[1] + 6)  # a huge length: would read as truncation
    with pytest.raises(DataError, match=rf"record 1 at byte offset {offsets[1]}: corrupt length header"):
        list(read_tfrecord(path))


@pytest.mark.parametrize("cut", [3, 14, 40])
def test_read_tfrecord__truncated_file_names_offset(tmp_path, cut):
    path = tmp_path / "r.tfrecord"
    offsets = write(path, [b"a" * 40, b"b" * 50])
    path.write_bytes(path.read_bytes()[: offsets[1] + cut])
    with pytest.raises(DataError, match=rf"truncated record 1 at byte offset {offsets[1]}"):
        list(read_tfrecord(path))


# --------------------------------------------------------------------------- protobuf


def test_decode_model_metrics__fields():
    evals = [evaluation(0.0, 0.0, 0.1, 0.2, 0.3), evaluation(108.0, 1e3, 1.0, 0.94, 0.93, checkpoint="ck")]
    unknown = _key(15, 0) + _varint(7) + _bytes_field(16, b"skip me")  # skipped, as protobuf does
    got = decode_model_metrics(model_metrics(5_356_682, evals, total_time=2.5) + unknown)
    assert got["trainable_parameters"] == 5_356_682 and got["total_time"] == 2.5
    assert got["evaluation_data"][0] == {
        "current_epoch": 0.0,
        "training_time": 0.0,
        "train_accuracy": 0.1,
        "validation_accuracy": 0.2,
        "test_accuracy": 0.3,
        "checkpoint_path": None,
    }
    assert got["evaluation_data"][1]["validation_accuracy"] == 0.94
    assert got["evaluation_data"][1]["checkpoint_path"] == "ck"
    assert decode_model_metrics(_key(2, 0) + _varint(-5))["trainable_parameters"] == -5


def test_decode_model_metrics__canonical_layout_equals_general_decoder():
    values = (108.0, 1523.25, 1.0, 0.9505, 0.9431)
    canonical = evaluation(*values)  # the 45-byte layout the protobuf library writes (fast path)
    reordered = b"".join(_double(k, values[k - 1]) for k in (5, 4, 3, 2, 1))  # general path
    padded = canonical + _key(15, 0) + _varint(1)  # an unknown field: general path
    decoded = [
        decode_model_metrics(_bytes_field(1, e))["evaluation_data"][0] for e in (canonical, reordered, padded)
    ]
    assert len(canonical) == 45 and decoded[0] == decoded[1] == decoded[2]
    assert tuple(decoded[0].values())[:5] == values


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (_key(2, 1) + struct.pack("<d", 3.0), r"trainable_parameters \(field 2\) has wire type 1"),
        (_bytes_field(1, _key(4, 0) + _varint(1)), r"evaluation_data\[0\]\.validation_accuracy"),
        (_key(3, 1) + b"\x00\x00", "runs past the end"),
        (_key(1, 2) + b"\x80", "ends inside a varint"),
        (_key(1, 3), "unsupported wire type 3"),
    ],
)
def test_decode_model_metrics__malformed_raises(data, why):
    with pytest.raises(DataError, match=why):
        decode_model_metrics(data)


def test_decode_model_metrics__agrees_with_protobuf_library():
    """Messages serialized by the protobuf library from the schema of ``model_metrics.proto``."""
    descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
    from google.protobuf import descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(
        name="a2v_test_model_metrics.proto", package="a2v_test", syntax="proto2"
    )
    F = descriptor_pb2.FieldDescriptorProto
    ev = fdp.message_type.add(name="EvaluationData")
    for number, name in enumerate(
        ("current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy"), start=1
    ):
        ev.field.add(name=name, number=number, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    ev.field.add(name="checkpoint_path", number=6, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    mm = fdp.message_type.add(name="ModelMetrics")
    mm.field.add(
        name="evaluation_data",
        number=1,
        type=F.TYPE_MESSAGE,
        type_name=".a2v_test.EvaluationData",
        label=F.LABEL_REPEATED,
    )
    mm.field.add(name="trainable_parameters", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    mm.field.add(name="total_time", number=3, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("a2v_test.ModelMetrics"))
    msg = cls(trainable_parameters=2_694_282, total_time=99.5)
    msg.evaluation_data.add(current_epoch=0.0, training_time=0.0, validation_accuracy=0.1)
    msg.evaluation_data.add(current_epoch=108.0, training_time=1.5e3, test_accuracy=0.93, checkpoint_path="p")
    got = decode_model_metrics(msg.SerializeToString())
    assert got["trainable_parameters"] == 2_694_282 and got["total_time"] == 99.5
    assert [e["current_epoch"] for e in got["evaluation_data"]] == [0.0, 108.0]
    assert got["evaluation_data"][0]["validation_accuracy"] == 0.1
    assert got["evaluation_data"][0]["test_accuracy"] is None
    assert got["evaluation_data"][1]["test_accuracy"] == 0.93
    assert got["evaluation_data"][1]["checkpoint_path"] == "p"
    assert (
        model_metrics(7, [evaluation(1.0, 2.0, 0.3, 0.4, 0.5)])
        == cls(
            trainable_parameters=7,
            total_time=1234.5,
            evaluation_data=[
                dict(
                    current_epoch=1.0,
                    training_time=2.0,
                    train_accuracy=0.3,
                    validation_accuracy=0.4,
                    test_accuracy=0.5,
                )
            ],
        ).SerializeToString()
    )  # the test writer emits the library's bytes


# --------------------------------------------------------------------------- table


def test_load_nb101__decoded_values(only108):
    t = load_nb101(only108)
    assert (
        isinstance(t, NB101Table) and len(t) == len(CELLS) and t.epochs == 108 and t.epochs_in_file == (108,)
    )
    assert t.hash.tolist() == [c[0] for c in CELLS]  # first-appearance (hash_iterator) order
    assert t.n_nodes.tolist() == [7, 5, 2, 4]
    assert t.params.tolist() == [c[3] for c in CELLS]
    for i, (_, matrix, ops, _) in enumerate(CELLS):
        n = len(ops)
        np.testing.assert_array_equal(t.adjacency[i, :n, :n], matrix)
        assert not t.adjacency[i, n:].any() and not t.adjacency[i, :, n:].any()  # output stays at n - 1
        assert [OPS[k] for k in t.ops[i, :n]] == ops and (t.ops[i, n:] == -1).all()
        for r in range(3):
            v = run_values(i, r)
            assert t.valid_runs[i, r] == v["valid"] and t.test_runs[i, r] == v["test"]
            assert t.train_time_runs[i, r] == v["time"]
            assert t.halfway_valid_runs[i, r] == v["h_valid"] and t.halfway_test_runs[i, r] == v["h_test"]
            assert t.halfway_train_time_runs[i, r] == v["h_time"]
    assert t.adjacency.shape == (4, 7, 7) and t.adjacency.dtype == np.int8 and t.ops.dtype == np.int8
    assert not t.valid_runs.flags.writeable


def test_load_nb101__means_over_repeats(only108):
    t = load_nb101(only108, use_cache=False)
    for i in range(len(CELLS)):
        runs = [run_values(i, r) for r in range(3)]
        assert t.valid_mean[i] == pytest.approx(np.mean([v["valid"] for v in runs]), abs=1e-15)
        assert t.test_mean[i] == pytest.approx(np.mean([v["test"] for v in runs]), abs=1e-15)
        assert t.train_time_mean[i] == pytest.approx(np.mean([v["time"] for v in runs]), abs=1e-9)
    assert int(np.argmax(t.valid_mean)) == len(CELLS) - 1


def test_load_nb101__cache_round_trip(only108, env):
    first = load_nb101(only108)
    assert not first.from_cache and first.cache_file and Path(first.cache_file).parent == env / "cache"
    second = load_nb101(only108)
    assert second.from_cache and second.cache_file == first.cache_file and second.checksum == first.checksum
    for name in (
        "hash",
        "adjacency",
        "ops",
        "n_nodes",
        "params",
        "valid_runs",
        "test_mean",
        "train_time_mean",
    ):
        a, b = getattr(first, name), getattr(second, name)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert second.hash.dtype == np.dtype("<U32") and second.epochs_in_file == (108,)
    assert load_nb101(only108, rebuild_cache=True).from_cache is False


def test_load_nb101__cache_keyed_by_file_bytes(only108):
    first = load_nb101(only108)
    path = only108 / "nasbench_only108.tfrecord"
    records = interleaved()
    records[0] = run_record(0, 0, metrics=model_metrics(1, []))  # a different (here: invalid) file
    write(path, records)
    with pytest.raises(DataError, match="evaluation_data"):
        load_nb101(only108)  # not served from the stale cache
    assert Path(first.cache_file).is_file()


def test_load_nb101__corrupt_cache_names_the_file(only108):
    cache = Path(load_nb101(only108).cache_file)
    cache.write_bytes(b"not an npz")
    with pytest.raises(DataError, match="corrupted cache file .*rebuild_cache=True"):
        load_nb101(only108)
    assert load_nb101(only108, rebuild_cache=True).from_cache is False


def test_load_nb101__full_file_epochs(env):
    path = env / "nasbench_full.tfrecord"
    records = interleaved((4, 12, 36, 108))
    records.insert(0, records.pop(3 * len(CELLS) + 3))  # the file opens with an epoch-12 record of cell 3
    write(path, records)
    t108 = load_nb101(path, file="nasbench_full.tfrecord")
    order = [3, 0, 1, 2]  # first appearance over all budgets, as NASBench.hash_iterator()
    assert t108.epochs_in_file == (4, 12, 36, 108) and t108.hash.tolist() == [CELLS[c][0] for c in order]
    assert t108.valid_runs[2, 2] == run_values(1, 2, 108)["valid"]
    assert t108.n_nodes.tolist() == [4, 7, 5, 2]
    t12 = load_nb101(path, epochs=12)  # data_dir may be the file itself
    assert t12.epochs == 12 and t12.train_time_runs[0, 0] == run_values(3, 0, 12)["time"]
    assert t12.cache_file != t108.cache_file
    with pytest.raises(DataError, match=r"no results at 200 epochs; the file has epochs \[4, 12, 36, 108\]"):
        load_nb101(path, epochs=200)


def test_load_nb101__only108_rejects_other_epochs(only108):
    with pytest.raises(DataError, match=r"no results at 12 epochs; the file has epochs \[108\]"):
        load_nb101(only108, epochs=12)


def test_ops_onehot__padding_is_zero(only108):
    onehot = load_nb101(only108).ops_onehot()
    assert onehot.shape == (4, 7, 5)
    np.testing.assert_array_equal(onehot.sum(-1), np.arange(7)[None, :] < np.array([7, 5, 2, 4])[:, None])
    assert onehot[2, 1, OPS.index("output")] == 1  # output of the 2-node cell at index n - 1


def test_index_of__finds_and_rejects_hashes(only108):
    t = load_nb101(only108)
    assert t.index_of("f" * 32) == 2
    with pytest.raises(ArchNotFoundError, match="not in the NB101 table"):
        t.index_of("e" * 32)


# --------------------------------------------------------------------------- bad data


def _write_with(path: Path, index: int, data: bytes) -> int:
    records = interleaved()
    records[index] = data
    return write(path, records)[index]


def test_load_nb101__bad_json_names_record_and_offset(env):
    path = env / "nasbench_only108.tfrecord"
    offset = _write_with(path, 5, b'["' + b"a" * 32 + b'", 108,')
    with pytest.raises(DataError, match=rf"record 5 \(byte offset {offset}\): data is not UTF-8 JSON"):
        load_nb101(env)


def test_load_nb101__corrupt_crc_names_offset(env):
    path = env / "nasbench_only108.tfrecord"
    offsets = write(path, interleaved())
    _corrupt(path, offsets[6] + 40)
    with pytest.raises(DataError, match=rf"record 6 at byte offset {offsets[6]}: corrupt data"):
        load_nb101(env)


def test_load_nb101__truncated_file_raises(env):
    path = env / "nasbench_only108.tfrecord"
    offsets = write(path, interleaved())
    path.write_bytes(path.read_bytes()[: offsets[-1] + 100])
    with pytest.raises(DataError, match=rf"truncated record {len(offsets) - 1} at byte offset {offsets[-1]}"):
        load_nb101(env)


_H, _M, _O, _P = CELLS[2]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'{"a": 1}', r"expected a JSON list \[module_hash, epochs"),
        (json.dumps([_H, "108", "0100", "input,output", ""]).encode(), "epochs is str '108', expected a int"),
        (record("XYZ", 108, _M, _O, b""), "module_hash 'XYZ' is not 32 lowercase hex digits"),
        (record(_H, 108, [[0, 1], [1, 0]], _O, b""), "module f{32} has adjacency '0110'"),
        (run_record(0, 1, metrics=b"\x0a"), "malformed ModelMetrics message: .*ends inside a varint"),
        (
            run_record(0, 1, metrics=model_metrics(9, [])),
            "module a{32} has 9 trainable parameters, but record 0",
        ),
        (json.dumps([_H, 108, "0100", "input,output", "@@"]).encode(), "raw_metrics is not base64"),
    ],
)
def test_load_nb101__malformed_record_names_it(env, data, why):
    path = env / "nasbench_only108.tfrecord"
    offset = _write_with(path, 6, data)
    with pytest.raises(DataError, match=rf"record 6 \(byte offset {offset}\): {why}"):
        load_nb101(env)


def _cell_file(env: Path, matrix, ops, *, evals=None, n_repeats: int = 3, params: int = 10) -> Path:
    h = "b" * 32
    evals = evals or [evaluation(0.0, 0.0, 0.1, 0.1, 0.1), evaluation(54.0, 5.0, 0.5, 0.5, 0.5)] + [
        evaluation(108.0, 10.0, 0.9, 0.9, 0.9)
    ]
    write(
        env / "nasbench_only108.tfrecord",
        [record(h, 108, matrix, ops, model_metrics(params, evals))] * n_repeats,
    )
    return env


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        (
            {"n_repeats": 2},
            r"module b{32} \(first record 0, byte offset 0\) has 2 records at 108 epochs, expected 3",
        ),
        ({"matrix": [[0, 1], [1, 0]]}, "'0110' is not strictly upper triangular"),
        ({"matrix": [[0, 2], [0, 0]]}, "'0200' must be digits 0/1"),
        ({"matrix": [[0, 1, 0], [0, 0, 1]]}, "has 6 digits, expected n\\*n"),
        ({"ops": [IN, "conv5x5", C3, OUT]}, r"has unknown op\(s\) \['conv5x5'\]"),
        ({"ops": [IN, C3, C3]}, "must start with 'input' and end with 'output'"),
        ({"ops": [IN, C3, OUT]}, "has 3 ops, but the adjacency has 4 nodes"),
        ({"evals": [evaluation(0.0, 0.0, 0.1, 0.1, 0.1)] * 2}, "has 2 evaluation_data, expected 3"),
        (
            {"evals": [evaluation(0.0, 0.0, 0.1, 0.1, 0.1)] * 2 + [evaluation(108.0, 10.0, 0.9, 1.5, 0.9)]},
            r"record 0 \(byte offset 0\): final validation_accuracy = 1.5 is not an accuracy in \[0, 1\]",
        ),
        (
            {"evals": [evaluation(0.0, 0.0, 0.1, 0.1, 0.1)] * 2 + [evaluation(108.0, -1.0, 0.9, 0.9, 0.9)]},
            "final training_time = -1.0 is not a positive number of seconds",
        ),
        (
            {"evals": [b"", b"", _double(4, 0.9) + _double(5, 0.9)]},
            r"evaluation_data\[2\] \(final\) has no training_time",
        ),
    ],
)
def test_load_nb101__invalid_cell_names_it(env, kwargs, why):
    kwargs.setdefault("matrix", [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    kwargs.setdefault("ops", [IN, C3, MP, OUT])
    with pytest.raises(DataError, match=why):
        load_nb101(_cell_file(env, **kwargs))


def test_load_nb101__missing_data_raises_not_configured(env, monkeypatch):
    with pytest.raises(DataNotConfiguredError, match=f"{ENV_NB101_DIR}=DIR.*storage.googleapis.com/nasbench"):
        load_nb101()
    with pytest.raises(
        DataNotConfiguredError, match="no such file or directory .*data_dir.*put nasbench_only108"
    ):
        load_nb101(env / "absent")
    monkeypatch.setenv(ENV_NB101_DIR, str(env / "absent"))
    with pytest.raises(DataNotConfiguredError, match=f"no such file or directory .*\\${ENV_NB101_DIR}"):
        load_nb101()
    (env / "other.tfrecord").write_bytes(b"")
    with pytest.raises(
        DataNotConfiguredError, match=r"nasbench_full.tfrecord: file not found .*\['other.tfrecord'\]"
    ):
        load_nb101(env, file="nasbench_full.tfrecord")


def test_load_nb101__env_var_locates_the_file(only108, monkeypatch):
    monkeypatch.setenv(ENV_NB101_DIR, str(only108))
    assert len(load_nb101()) == len(CELLS)


# --------------------------------------------------------------------------- command


def test_check_nb101__prints_summary(only108, capsys):
    assert main(["check", "nb101", "--data-dir", str(only108)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cells"] == len(CELLS) and out["epochs"] == 108 and out["all_cells"] is False
    assert (
        out["best_valid_mean"]["index"] == len(CELLS) - 1 and out["best_valid_mean"]["hash"] == CELLS[-1][0]
    )
    assert out["best_valid_mean"]["published"] == 0.9505542318026224
    assert out["best_test_mean"]["published"] == 0.943175752957662
    assert out["best_valid_mean"]["matches_published"] is False and out["from_cache"] is False
    assert main(["check", "nb101", "--data-dir", str(only108), "--sha256"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["from_cache"] is True and out["sha256_matches_published"] is False and len(out["sha256"]) == 64


def test_check_nb101__absent_file_is_a_clear_error(env, capsys):
    assert main(["check", "nb101"]) == 2  # every missing or bad data error exits 2
    err = capsys.readouterr().err
    assert err.startswith("error: no NAS-Bench-101 data configured") and ENV_NB101_DIR in err
    assert main(["check", "nb101", "--data-dir", str(env / "absent")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
