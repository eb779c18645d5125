"""Validation of every NAS-Bench-201 table, and its assembly into an :class:`NB201Table`.

A table must have 15,625 rows in index order, unique parseable ``arch_str`` that match the op codes,
accuracies in [0, 100], no NaN where a value is required, and per-run NaN exactly beyond ``n_runs``;
any problem raises :class:`~a2v_jax.data.DataError` naming the file, row, column or token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from a2v_jax.data import paths
from a2v_jax.data._errors import DataError
from a2v_jax.data.nb201.table import _FIELDS, DATASETS, MAX_RUNS, NB201DatasetResults, NB201Table
from a2v_jax.spaces.base import InvalidArchitectureError
from a2v_jax.spaces.nb201 import NUM_CELLS, NUM_EDGES, all_codes, arch_str_from_codes, parse_arch_str


@dataclass(frozen=True)
class _Origin:
    """How to name, in an error, where each value came from."""

    arch: str  # the arch_str column / field
    codes: str  # the op-code columns / field
    row: Callable[[int], str]  # row number -> "row 5 (line 7)" etc.
    fields: Mapping[tuple[str, str], str]  # (dataset, field or f"valid_runs{k}") -> file + column


@functools.cache
def _codes_by_arch_str() -> dict[str, tuple[int, ...]]:
    """Every NAS-Bench-201 cell string -> its op codes (built once per process)."""
    return {arch_str_from_codes(c): tuple(int(x) for x in c) for c in all_codes()}


def _first(mask: np.ndarray) -> int | None:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if bad.size else None


def _validate(
    arch_strs: Sequence[str], codes: np.ndarray | None, datasets: Mapping, origin: _Origin
) -> np.ndarray:
    """Checks a table's rows (``codes`` None: take them from ``arch_strs``); returns ``(P, 6)`` int8 codes."""
    p = len(arch_strs)
    if p != NUM_CELLS:
        raise DataError(f"{origin.arch}: {p:,} rows, expected {NUM_CELLS:,} (every NAS-Bench-201 cell once)")
    known = _codes_by_arch_str()
    parsed = np.empty((p, NUM_EDGES), dtype=np.int64)
    for r, s in enumerate(arch_strs):
        codes_r = known.get(s) if isinstance(s, str) else None
        if codes_r is None:  # parse only to name what is wrong: every valid cell string is known
            try:
                codes_r = parse_arch_str(s)
            except InvalidArchitectureError as e:
                raise DataError(f"{origin.arch}: {origin.row(r)}: {e}") from None
        parsed[r] = codes_r
    if codes is None:  # the source has only arch_str
        codes = parsed
    codes = np.asarray(codes, dtype=np.int64)
    if codes.shape != (p, NUM_EDGES):
        raise DataError(f"{origin.codes}: op codes have shape {codes.shape}, expected {(p, NUM_EDGES)}")
    r = _first(np.any(codes != parsed, axis=1))
    if r is not None:
        raise DataError(
            f"{origin.codes}: {origin.row(r)}: op codes {codes[r].tolist()} disagree with arch_str "
            f"{arch_strs[r]!r}, whose op codes are {parsed[r].tolist()}"
        )
    seen: dict[str, int] = {}
    for r, s in enumerate(arch_strs):
        if s in seen:
            raise DataError(
                f"{origin.arch}: {origin.row(r)} repeats the arch_str {s!r} of {origin.row(seen[s])}"
            )
        seen[s] = r
    for ds in DATASETS:
        _validate_results(ds, datasets[ds], origin)
    return parsed.astype(np.int8)


def _validate_results(ds: str, res: NB201DatasetResults, origin: _Origin) -> None:
    def where(name: str) -> str:
        return origin.fields[(ds, name)]

    def accuracy(values: np.ndarray, name: str) -> None:
        r = _first(~(np.isfinite(values) & (values >= 0) & (values <= 100)))
        if r is not None:
            raise DataError(f"{where(name)}: {origin.row(r)}: {values[r]} is not an accuracy in [0, 100] (%)")

    def seconds(values: np.ndarray, name: str) -> None:
        r = _first(~(np.isfinite(values) & (values > 0)))
        if r is not None:
            raise DataError(
                f"{where(name)}: {origin.row(r)}: {values[r]} is not a positive number of seconds"
            )

    n = res.n_runs.astype(np.int64)
    r = _first((n < 1) | (n > MAX_RUNS))
    if r is not None:
        raise DataError(f"{where('n_runs')}: {origin.row(r)}: {n[r]} runs, expected 1 to {MAX_RUNS}")
    runs = res.valid_runs
    have = np.arange(MAX_RUNS)[None, :] < n[:, None]  # (P, 3)
    for k in range(MAX_RUNS):
        col = runs[:, k]
        r = _first(have[:, k] & ~(np.isfinite(col) & (col >= 0) & (col <= 100)))
        if r is not None:
            raise DataError(
                f"{where(f'valid_runs{k}')}: {origin.row(r)}: {col[r]} is not an accuracy in [0, 100] (%) "
                f"(the row has {n[r]} runs, so run {k + 1} is required)"
            )
        r = _first(~have[:, k] & ~np.isnan(col))
        if r is not None:
            raise DataError(
                f"{where(f'valid_runs{k}')}: {origin.row(r)}: holds {col[r]} but the row has {n[r]} runs "
                f"(runs beyond n_runs must be empty)"
            )
    accuracy(res.valid_mean, "valid_mean")
    seed_mean = np.nanmean(np.where(have, runs, np.nan), axis=1)
    r = _first(np.abs(res.valid_mean - seed_mean) > 1e-4)
    if r is not None:
        raise DataError(
            f"{where('valid_mean')}: {origin.row(r)}: {res.valid_mean[r]} is not the mean of its "
            f"{n[r]} runs ({seed_mean[r]})"
        )
    seconds(res.train_time_s, "train_time_s")
    if res.test_mean is not None:
        accuracy(res.test_mean, "test_mean")
    if res.valid_12ep is not None:
        accuracy(res.valid_12ep, "valid_12ep")
    if res.valid_time_s is not None:
        seconds(res.valid_time_s, "valid_time_s")
    if res.latency_s is not None:
        seconds(res.latency_s, "latency_s")
    if res.valid_model_test_mean is not None:
        accuracy(res.valid_model_test_mean, "valid_model_test_mean")


def _results(**arrays: np.ndarray | None) -> NB201DatasetResults:
    """Builds read-only results with the documented dtypes."""
    out = {}
    for name in _FIELDS:
        a = arrays.get(name)
        if a is not None:
            a = np.array(a, dtype=np.int8 if name == "n_runs" else np.float64)
            a.setflags(write=False)
        out[name] = a
    return NB201DatasetResults(**out)


def _table_arrays(arch_str: np.ndarray, codes: np.ndarray, datasets: Mapping) -> dict[str, np.ndarray]:
    arrays = {"arch_str": arch_str, "codes": codes}
    for ds in DATASETS:
        for name in _FIELDS:
            value = getattr(datasets[ds], name)
            if value is not None:
                arrays[f"{ds}__{name}"] = value
    return arrays


def _make_table(source: str, path: Path, arch_strs: Sequence[str], codes, datasets, origin) -> NB201Table:
    codes = _validate(arch_strs, codes, datasets, origin)
    arch = np.array(list(arch_strs), dtype=np.str_)
    for a in (arch, codes):
        a.setflags(write=False)
    checksum = paths.array_checksum(_table_arrays(arch, codes, datasets))
    return NB201Table(source, str(path), checksum, arch, codes, dict(datasets))
