"""Test accuracies from elsewhere: a CSV table, the NATS archive or an official ``.pth``."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from a2v_jax.data import paths
from a2v_jax.data._csv import CsvTable, row_label
from a2v_jax.data._errors import DataError
from a2v_jax.data.nb201.cache import _load_source
from a2v_jax.data.nb201.shared_csv import _check_index_rows
from a2v_jax.data.nb201.sources import _is_nats_archive, resolve_source
from a2v_jax.data.nb201.table import _CSV_TEST_COLUMN, DATASETS, TEST_FILE, NB201Table
from a2v_jax.data.nb201.validation import _first, _table_arrays

#: What a test-accuracy source may be, for messages.
TEST_DATA_FORMS = (
    f"a CSV table like {TEST_FILE} (columns index, arch_str, {', '.join(_CSV_TEST_COLUMN.values())}; "
    "or a directory holding it), the NATS-Bench archive directory NATS-tss-v1_0-3ffb9-simple, or an official "
    "NAS-Bench-201-v1_[01]-*.pth"
)


def _read_test_csv(path: Path) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    table = CsvTable(path, ["index", "arch_str", *_CSV_TEST_COLUMN.values()])
    _check_index_rows(table)
    tests = {}
    for ds, col in _CSV_TEST_COLUMN.items():
        values = table.floats(col)
        r = _first(~(np.isfinite(values) & (values >= 0) & (values <= 100)))
        if r is not None:
            raise DataError(
                f"{path}: {row_label(r)}, column {col!r}: {values[r]} is not an accuracy in [0, 100]"
            )
        tests[ds] = values
    return table.strings("arch_str"), tests


def _read_test_data(path: Path, **cache) -> tuple[tuple[str, ...], dict[str, np.ndarray], str]:
    """``(arch_str, {dataset: test_mean}, where)`` from one of :data:`TEST_DATA_FORMS`."""
    if not path.exists():
        raise DataError(f"{path}: no such file or directory (the configured test-accuracy source)")
    if path.is_dir() and (path / TEST_FILE).is_file():
        path = path / TEST_FILE
    if path.is_file() and path.name.endswith(".csv.gz"):
        arch, tests = _read_test_csv(path)
        return arch, tests, str(path)
    if _is_nats_archive(path) or path.suffix == ".pth":
        source = "nats-archive" if _is_nats_archive(path) else "nas-bench-201"
        table = _load_source(resolve_source(path, source), **cache)  # its own tests, never an overlay
        missing = [ds for ds in DATASETS if table.datasets[ds].test_mean is None]
        if missing:
            raise DataError(f"{path}: holds no test accuracies for {missing} (read as source {source!r})")
        return tuple(table.arch_str), {ds: table.datasets[ds].test_mean for ds in DATASETS}, str(path)
    raise DataError(f"{path}: not a test-accuracy source; expected {TEST_DATA_FORMS}")


def with_test_accuracies(table: NB201Table, test_data: str | os.PathLike, **cache) -> NB201Table:
    """``table`` with every dataset's ``test_mean`` taken from ``test_data``.

    Args:
      table: the benchmark table.
      test_data: one of :data:`TEST_DATA_FORMS`; official files are converted once and cached.
      **cache: ``cache_dir``, ``rebuild_cache``, ``use_cache`` as in :func:`load_nb201`.

    Returns:
      The table with ``test_mean`` filled for every dataset and ``test_source`` naming ``test_data``.

    Raises:
      DataError: ``test_data`` is missing, malformed, or lists the cells in another order (first row named).
    """
    arch, tests, where = _read_test_data(Path(test_data).expanduser(), **cache)
    r = _first(np.asarray(arch) != np.asarray(table.arch_str))  # both have every cell (validated)
    if r is not None:
        raise DataError(
            f"{where}: row {r} is {arch[r]!r}, but the table ({table.path}) lists {table.arch_str[r]!r} "
            "there; test accuracies must be in the benchmark's index order"
        )
    datasets = {}
    for ds, res in table.datasets.items():
        test = np.array(tests[ds], dtype=np.float64)
        test.setflags(write=False)
        datasets[ds] = dataclasses.replace(res, test_mean=test)
    checksum = paths.array_checksum(_table_arrays(table.arch_str, table.codes, datasets))
    return dataclasses.replace(table, datasets=datasets, checksum=checksum, test_source=where)
