"""The ``packaged`` and ``shared-csv`` sources: the compact NAS-Bench-201 CSV tables.

``nb201_200ep.csv.gz`` (+ ``nb201_12ep.csv.gz`` for 12-epoch validation accuracies, + the test table
for test accuracies, both optional); format: the data directory's README.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from a2v_jax.data._csv import CsvTable, row_label
from a2v_jax.data._errors import DataError
from a2v_jax.data.nb201.sources import ResolvedSource
from a2v_jax.data.nb201.table import (
    _CSV_C10V_TEST_COLUMN,
    _CSV_PREFIX,
    _CSV_TEST_COLUMN,
    _CSV_VALID_TIME_COLUMN,
    EP12_FILE,
    MAIN_FILE,
    MAX_RUNS,
    PACKAGED_SHA256,
    TEST_FILE,
    NB201Table,
)
from a2v_jax.data.nb201.validation import _first, _make_table, _Origin, _results
from a2v_jax.spaces.nb201 import NUM_CELLS, NUM_EDGES


def _check_index_rows(table: CsvTable) -> None:
    if table.n_rows != NUM_CELLS:
        raise DataError(
            f"{table.path}: {table.n_rows:,} data rows, expected {NUM_CELLS:,} (one per NAS-Bench-201 cell)"
        )
    index = table.ints("index")
    r = _first(index != np.arange(table.n_rows))
    if r is not None:
        raise DataError(
            f"{table.path}: {row_label(r)}, column 'index': {index[r]}, expected {r} "
            f"(rows must be in benchmark index order 0..{NUM_CELLS - 1})"
        )


def _check_packaged_files(directory: Path) -> None:
    """The installed tables in ``directory`` are the ones the package was built with (else named)."""
    for name, expected in PACKAGED_SHA256.items():
        path = directory / name
        try:
            with open(path, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
        except OSError as e:
            raise DataError(
                f"{path}: the NAS-Bench-201 table installed with a2v_jax cannot be read ({e}); "
                "reinstall the package (pip install --force-reinstall a2v_jax)"
            ) from e
        if digest != expected:
            raise DataError(
                f"{path}: sha256 {digest[:16]}... differs from the packaged table's {expected[:16]}...: "
                "the installed file is damaged or replaced; reinstall the package"
            )


def _load_shared_csv(res: ResolvedSource) -> NB201Table:
    d = res.path
    if res.source == "packaged":
        _check_packaged_files(d)
    op_cols = [f"op{k}" for k in range(NUM_EDGES)]
    required = ["index", "arch_str", *op_cols, _CSV_VALID_TIME_COLUMN]
    for p in _CSV_PREFIX.values():
        required += [f"{p}_valid_acc", *(f"{p}_valid_acc_r{k + 1}" for k in range(MAX_RUNS))]
        required += [f"{p}_n_runs", f"{p}_train_time_s", f"{p}_latency_s"]
    main = CsvTable(d / MAIN_FILE, required)
    _check_index_rows(main)
    arch = main.strings("arch_str")
    codes = np.stack([main.ints(c) for c in op_cols], axis=1)

    extra: dict[str, CsvTable | None] = {}
    for fname, cols in (
        (EP12_FILE, [f"{p}_valid_acc_12ep" for p in _CSV_PREFIX.values()]),
        (TEST_FILE, list(_CSV_TEST_COLUMN.values())),
    ):
        if not (d / fname).is_file() or (fname == TEST_FILE and res.source == "packaged"):
            extra[fname] = None
            continue
        table = CsvTable(d / fname, ["index", "arch_str", *cols])
        _check_index_rows(table)
        r = next(
            (i for i, (a, b) in enumerate(zip(table.strings("arch_str"), arch, strict=True)) if a != b), None
        )
        if r is not None:
            raise DataError(
                f"{table.path}: {row_label(r)}, column 'arch_str': {table.strings('arch_str')[r]!r} "
                "differs from "
                f"{main.path} ({arch[r]!r}); all files must list the same cells in the same order"
            )
        extra[fname] = table

    datasets = {}
    fields: dict[tuple[str, str], str] = {}
    ep12, test = extra[EP12_FILE], extra[TEST_FILE]
    for ds, p in _CSV_PREFIX.items():
        cols = {
            "n_runs": f"{p}_n_runs",
            "valid_mean": f"{p}_valid_acc",
            "train_time_s": f"{p}_train_time_s",
            "latency_s": f"{p}_latency_s",
            **{f"valid_runs{k}": f"{p}_valid_acc_r{k + 1}" for k in range(MAX_RUNS)},
        }
        fields.update({(ds, name): f"{main.path} column {col!r}" for name, col in cols.items()})
        fields[(ds, "valid_time_s")] = f"{main.path} column {_CSV_VALID_TIME_COLUMN!r}"
        fields[(ds, "valid_12ep")] = f"{d / EP12_FILE} column '{p}_valid_acc_12ep'"
        fields[(ds, "test_mean")] = f"{d / TEST_FILE} column {_CSV_TEST_COLUMN[ds]!r}"
        fields[(ds, "valid_model_test_mean")] = f"{main.path} column {_CSV_C10V_TEST_COLUMN!r}"
        n_runs = main.floats(cols["n_runs"])
        r = _first(~np.isin(n_runs, np.arange(1, MAX_RUNS + 1)))
        if r is not None:
            raise DataError(
                f"{fields[(ds, 'n_runs')]}: {row_label(r)}: {main.strings(cols['n_runs'])[r]!r} runs, "
                f"expected 1 to {MAX_RUNS}"
            )
        datasets[ds] = _results(
            valid_runs=np.stack([main.floats(cols[f"valid_runs{k}"]) for k in range(MAX_RUNS)], axis=1),
            n_runs=n_runs,
            valid_mean=main.floats(cols["valid_mean"]),
            test_mean=test.floats(_CSV_TEST_COLUMN[ds]) if test else None,
            train_time_s=main.floats(cols["train_time_s"]),
            valid_12ep=ep12.floats(f"{p}_valid_acc_12ep") if ep12 else None,
            valid_time_s=main.floats(_CSV_VALID_TIME_COLUMN) if ds == "cifar10" else None,
            latency_s=main.floats(cols["latency_s"]),
            valid_model_test_mean=(
                main.floats(_CSV_C10V_TEST_COLUMN)
                if ds == "cifar10" and _CSV_C10V_TEST_COLUMN in main.header
                else None
            ),
        )
    origin = _Origin(
        arch=f"{main.path} column 'arch_str'",
        codes=f"{main.path} columns op0..op5",
        row=row_label,
        fields=fields,
    )
    table = _make_table(res.source, d, arch, codes, datasets, origin)
    return dataclasses.replace(table, test_source=str(test.path) if test else None)
