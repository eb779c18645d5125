"""Tests of the NATS-Bench topology archive reader (a2v_jax.data.nats_archive) on tiny fake archives."""

from __future__ import annotations

import bz2
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from nats_archive_writer import arch_file, fake_values, write_bz2_pickle, write_nats_archive

from a2v_jax.data._errors import DataError
from a2v_jax.data.nats_archive import ARCHIVE_NAME, FIELDS, read_nats_tss_archive
from a2v_jax.spaces.nb201 import arch_str_from_codes

P = 5
ARCHS = [arch_str_from_codes(codes) for codes in [(0,) * 6, (1,) * 6, (2,) * 6, (3,) * 6, (4,) * 6]]
SCALAR_FIELDS = ("train_time_s", "test_mean", "valid_12ep", "valid_time_s", "latency_s")


def _values(with_12ep: bool = True) -> dict:
    """Fake values with a fixed mix of 3 and 2 runs per cell."""
    values = fake_values(P, seed=1, with_12ep=with_12ep)
    for v in values.values():
        v["n_runs"] = np.array([3, 2, 3, 2, 3], np.int8)
        v["valid_runs"][:, :2] = np.nan_to_num(v["valid_runs"][:, :2], nan=50.0)
        v["valid_runs"][v["n_runs"] == 3, 2] = 60.0
        v["valid_runs"][v["n_runs"] == 2, 2] = np.nan
    return values


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A 5-cell archive with 12-epoch results, written with the official seeds."""
    return write_nats_archive(tmp_path / ARCHIVE_NAME, ARCHS, _values())


def _edit(path: Path, change) -> None:
    """Rewrites an archive file after ``change(data)`` (this test wrote it, so plain pickle is safe)."""
    data = pickle.loads(bz2.decompress(path.read_bytes()))
    change(data)
    write_bz2_pickle(path, data)


def _read_error(directory: Path) -> str:
    with pytest.raises(DataError) as e:
        read_nats_tss_archive(directory)
    return str(e.value)


# --------------------------------------------------------------------------- round trip


def test_read_nats_tss_archive__round_trip(tmp_path: Path):
    values = _values(with_12ep=False)
    # seeds listed out of order in dataset_seed: columns must still follow ascending seeds
    directory = write_nats_archive(
        tmp_path / ARCHIVE_NAME, ARCHS, values, seeds=(999, 777, 888), with_12ep=False
    )
    rec = read_nats_tss_archive(directory)
    assert rec.path == str(directory)
    assert rec.arch_str.tolist() == ARCHS
    assert set(rec.datasets) == {"cifar10", "cifar100", "imagenet16"}
    for ds, want in values.items():
        got = rec.datasets[ds]
        assert tuple(got) == FIELDS
        assert got["n_runs"].dtype == np.int8
        np.testing.assert_array_equal(got["n_runs"], want["n_runs"])
        assert got["valid_runs"].shape == (P, 3) and got["valid_runs"].dtype == np.float64
        np.testing.assert_array_equal(got["valid_runs"], want["valid_runs"])  # NaN exactly beyond n_runs
        np.testing.assert_allclose(got["valid_mean"], np.nanmean(want["valid_runs"], axis=1), rtol=1e-14)
        for f in ("train_time_s", "test_mean", "latency_s"):
            assert got[f].dtype == np.float64
            np.testing.assert_allclose(got[f], want[f], rtol=1e-12, err_msg=f"{ds} {f}")
        assert got["valid_12ep"] is None
    np.testing.assert_allclose(
        rec.datasets["cifar10"]["valid_time_s"], values["cifar10"]["valid_time_s"], rtol=1e-12
    )
    assert rec.datasets["cifar100"]["valid_time_s"] is None
    assert rec.datasets["imagenet16"]["valid_time_s"] is None


def test_read_nats_tss_archive__12ep_and_missing_cells(tmp_path: Path):
    values = _values(with_12ep=True)
    values["cifar100"]["latency_s"][1] = np.nan  # one cell without a latency: NaN in that row
    values["imagenet16"]["test_mean"][:] = np.nan  # missing in every cell: None
    rec = read_nats_tss_archive(write_nats_archive(tmp_path / ARCHIVE_NAME, ARCHS, values))
    for ds, want in values.items():
        np.testing.assert_allclose(rec.datasets[ds]["valid_12ep"], want["valid_12ep"], rtol=1e-12)
    lat = rec.datasets["cifar100"]["latency_s"]
    assert np.isnan(lat[1]) and np.isfinite(np.delete(lat, 1)).all()
    assert rec.datasets["imagenet16"]["test_mean"] is None


def test_read_nats_tss_archive__api_arithmetic(archive: Path):
    """Seed means, summed times and latency as NATS-Bench's API computes them, on uneven per-seed values."""

    def change(data):
        runs = [data["200"]["all_results"][("cifar10-valid", s)] for s in (777, 888, 999)]
        for k, run in enumerate(runs):
            run["train_times"] = dict.fromkeys(range(200), float(k + 1))  # totals 200, 400, 600
            run["eval_times"] = {f"x-valid@{e}": 0.5 * (k + 1) for e in range(200)}  # totals 100, 200, 300
            run["eval_acc1es"]["x-valid@199"] = np.float64(80.0 + k)  # numpy scalars are admitted
        runs[0]["latency"], runs[1]["latency"], runs[2]["latency"] = None, [0.0], [0.01, 0.03]

    _edit(arch_file(archive, 0), change)
    c10 = read_nats_tss_archive(archive).datasets["cifar10"]
    np.testing.assert_array_equal(c10["valid_runs"][0], [80.0, 81.0, 82.0])
    assert c10["valid_mean"][0] == 81.0
    assert c10["train_time_s"][0] == pytest.approx(400.0)
    assert c10["valid_time_s"][0] == pytest.approx(200.0 / 200)
    assert c10["latency_s"][0] == pytest.approx(0.02)  # None and non-positive latencies skipped


def test_read_nats_tss_archive__fallback_name_and_progress(archive: Path, capsys):
    arch_file(archive, 1).rename(archive / "1.pickle.pbz2")  # the API also accepts {index:d}
    rec = read_nats_tss_archive(archive, progress=True)
    assert rec.arch_str.tolist() == ARCHS
    assert ARCHIVE_NAME in capsys.readouterr().err


def test_read_nats_tss_archive__admits_numpy_scalars_of_numpy_1(archive: Path):
    # numpy 1 names its scalar reconstructor numpy.core.multiarray.scalar, numpy 2 numpy._core...
    meta = pickle.dumps({"meta_archs": ARCHS, "total_archs": np.int64(P)}, protocol=3)
    meta = meta.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    (archive / "meta.pickle.pbz2").write_bytes(bz2.compress(meta))
    assert read_nats_tss_archive(archive).arch_str.tolist() == ARCHS


# --------------------------------------------------------------------------- refused objects


class _Planted:
    """A class the reader must not resolve."""

    def __init__(self):
        self.payload = [1, 2, 3]


def _touch_marker(path: str) -> None:
    Path(path).write_text("ran")


class _Boom:
    """Unpickling it with plain pickle would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return _touch_marker, (self.marker,)


@pytest.mark.parametrize(
    ("make", "refused"),
    [
        (lambda marker: _Boom(marker), f"{__name__}._touch_marker"),
        (lambda marker: _Planted(), f"{__name__}._Planted"),
        (lambda marker: os.system, f"{os.system.__module__}.system"),
    ],
    ids=["reduce", "instance", "os.system"],
)
def test_read_nats_tss_archive__refuses_non_plain_object(tmp_path: Path, make, refused: str):
    marker = tmp_path / "marker"
    directory = write_nats_archive(tmp_path / ARCHIVE_NAME, ARCHS, _values(), planted={3: make(marker)})
    message = _read_error(directory)
    assert refused in message
    assert "000003.pickle.pbz2" in message
    assert "non-plain object" in message and "will not be loaded" in message
    assert not marker.exists()  # the object's code never ran


def test_read_nats_tss_archive__refuses_non_plain_meta(archive: Path, tmp_path: Path):
    marker = tmp_path / "marker"
    write_bz2_pickle(archive / "meta.pickle.pbz2", {"meta_archs": ARCHS, "extra": _Boom(marker)})
    message = _read_error(archive)
    assert "meta.pickle.pbz2" in message and f"{__name__}._touch_marker" in message
    assert not marker.exists()


# --------------------------------------------------------------------------- broken archives


def test_read_nats_tss_archive__truncated_file(archive: Path):
    path = arch_file(archive, 2)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    message = _read_error(archive)
    assert str(path) in message and "truncated or corrupt" in message


def test_read_nats_tss_archive__corrupt_pickle(archive: Path):
    path = arch_file(archive, 2)
    path.write_bytes(bz2.compress(b"\x80\x04not a pickle"))
    message = _read_error(archive)
    assert str(path) in message and "not a valid pickle" in message


def test_read_nats_tss_archive__missing_arch_file(archive: Path):
    arch_file(archive, 3).unlink()
    message = _read_error(archive)
    assert "000003.pickle.pbz2" in message and "index 3" in message
    assert ARCHIVE_NAME in message and "D-X-Y/NATS-Bench" in message


def test_read_nats_tss_archive__missing_meta(archive: Path):
    (archive / "meta.pickle.pbz2").unlink()
    message = _read_error(archive)
    assert str(archive / "meta.pickle.pbz2") in message
    assert ARCHIVE_NAME in message and "D-X-Y/NATS-Bench" in message


def test_read_nats_tss_archive__missing_directory(tmp_path: Path):
    message = _read_error(tmp_path / ARCHIVE_NAME)
    assert "does not exist" in message and ARCHIVE_NAME in message
    (tmp_path / "file.tar").write_bytes(b"")
    assert "not a directory" in _read_error(tmp_path / "file.tar")


def test_read_nats_tss_archive__arch_str_mismatch(archive: Path):
    archs = list(ARCHS)
    archs[2], archs[4] = archs[4], archs[2]
    write_bz2_pickle(archive / "meta.pickle.pbz2", {"meta_archs": archs, "total_archs": P})
    message = _read_error(archive)
    assert str(arch_file(archive, 2)) in message
    assert ARCHS[2] in message and ARCHS[4] in message


def test_read_nats_tss_archive__missing_dataset_or_seed(archive: Path):
    _edit(arch_file(archive, 1), lambda data: data["200"]["all_results"].pop(("cifar100", 777)))
    message = _read_error(archive)
    assert str(arch_file(archive, 1)) in message and "cifar100" in message and "seed 777" in message
    _edit(arch_file(archive, 0), lambda data: data["200"]["dataset_seed"].pop("ImageNet16-120"))
    message = _read_error(archive)  # cell 0 is read first
    assert str(arch_file(archive, 0)) in message and "ImageNet16-120" in message


def test_read_nats_tss_archive__wrong_types(archive: Path):
    def change(data):
        data["200"]["all_results"][("cifar10-valid", 777)]["eval_acc1es"]["x-valid@199"] = "93.1"

    _edit(arch_file(archive, 0), change)
    message = _read_error(archive)
    assert str(arch_file(archive, 0)) in message and "expected a number" in message
    write_bz2_pickle(arch_file(archive, 0), [1, 2, 3])
    assert "expected a dict" in _read_error(archive)
