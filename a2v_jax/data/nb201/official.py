"""The ``nas-bench-201`` source: an official ``.pth`` read with ``nas_201_api`` (or ``nats_bench``).

Reading all 15,625 cells through the API takes minutes; the cache makes it a one-time cost.
"""

from __future__ import annotations

import dataclasses
import importlib
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from a2v_jax.data._errors import DataError
from a2v_jax.data.nb201.sources import ResolvedSource
from a2v_jax.data.nb201.table import (
    _FIELDS,
    DATASETS,
    MAX_RUNS,
    NB201_TEST_NAME,
    NB201_VALID_NAME,
    NB201Table,
)
from a2v_jax.data.nb201.validation import _make_table, _Origin, _results
from a2v_jax.spaces.nb201 import NUM_CELLS


def _open_official_api(path: Path):
    """The user's NAS-Bench-201 (``nas_201_api``) or NATS-Bench (``nats_bench``) API over ``path``."""
    if path.name.startswith("NATS-tss"):
        try:
            nats_bench = importlib.import_module("nats_bench")
        except ImportError as e:
            raise DataError(
                f"{path}: reading a NATS-Bench file needs the nats_bench package (pip install nats_bench) "
                f"and torch ({e})"
            ) from e
        try:
            return nats_bench.create(str(path), "tss", fast_mode=path.is_dir(), verbose=False)
        except Exception as e:  # third-party loader: asserts, pickle and torch errors
            raise DataError(f"{path}: nats_bench could not open it: {type(e).__name__}: {e}") from e
    try:
        nas_201_api = importlib.import_module("nas_201_api")
    except ImportError as e:
        raise DataError(
            f"{path}: source 'nas-bench-201' needs the nas-bench-201 package (pip install nas-bench-201, "
            f"module nas_201_api) and torch ({e})"
        ) from e
    try:
        return nas_201_api.NASBench201API(str(path), verbose=False)
    except Exception as e:  # third-party loader: asserts, pickle and torch errors
        raise DataError(f"{path}: nas_201_api could not open it: {type(e).__name__}: {e}") from e


def _load_official(res: ResolvedSource) -> NB201Table:
    path = res.path
    api = _open_official_api(path)
    try:
        p = len(api)
    except TypeError as e:
        raise DataError(f"{path}: the API object has no len() ({e})") from e
    if p != NUM_CELLS:
        raise DataError(f"{path}: the API lists {p:,} architectures, expected {NUM_CELLS:,}")
    arch = []
    for i in range(p):
        try:
            arch.append(api.arch(i))
        except Exception as e:  # third-party API
            raise DataError(f"{path}: api.arch({i}) failed: {type(e).__name__}: {e}") from e
        if not isinstance(arch[-1], str):
            raise DataError(
                f"{path}: api.arch({i}) returned {type(arch[-1]).__name__}, expected the arch_str"
            )

    def call(desc: str, i: int, fn: Callable):
        try:
            return fn()
        except Exception as e:  # third-party API: asserts, KeyError, ValueError
            raise DataError(
                f"{path}: arch index {i} ({arch[i]}): {desc} failed: {type(e).__name__}: {e}"
            ) from e

    def number(desc: str, i: int, fetch: Callable, key: str) -> float:
        info = call(desc, i, fetch)
        v = info.get(key) if isinstance(info, dict) else None
        if v is None:
            raise DataError(f"{path}: arch index {i} ({arch[i]}): {desc} has no {key!r}")
        return float(v)

    def value(i: int, dataset: str, hp: str, is_random, key: str) -> float:
        desc = f"get_more_info({i}, {dataset!r}, hp={hp!r}, is_random={is_random!r})"
        return number(desc, i, lambda: api.get_more_info(i, dataset, hp=hp, is_random=is_random), key)

    def cost(i: int, dataset: str, key: str) -> float:
        desc = f"get_cost_info({i}, {dataset!r}, hp='200')"
        return number(desc, i, lambda: api.get_cost_info(i, dataset, hp="200"), key)

    # The v1.0 file has 12-epoch results for cifar10-valid only: probe each dataset on the first cell.
    has_12ep = {}
    for ds in DATASETS:
        try:
            value(0, NB201_VALID_NAME[ds], "12", False, "valid-accuracy")
            has_12ep[ds] = True
        except DataError:
            has_12ep[ds] = False

    cols = {ds: {name: np.full(p, np.nan) for name in _FIELDS if name != "valid_runs"} for ds in DATASETS}
    runs = {ds: np.full((p, MAX_RUNS), np.nan) for ds in DATASETS}
    for i in range(p):
        meta = call(
            f"query_meta_info_by_index({i}, hp='200')",
            i,
            lambda i=i: api.query_meta_info_by_index(i, hp="200"),
        )
        for ds in DATASETS:
            vname = NB201_VALID_NAME[ds]
            seeds = sorted(
                call(f"get_dataset_seeds({vname!r})", i, lambda m=meta, v=vname: m.get_dataset_seeds(v))
            )
            if not 1 <= len(seeds) <= MAX_RUNS:
                raise DataError(
                    f"{path}: arch index {i} ({arch[i]}): {len(seeds)} runs on {vname} (seeds {seeds}), "
                    f"expected 1 to {MAX_RUNS}"
                )
            for k, s in enumerate(seeds):
                runs[ds][i, k] = value(i, vname, "200", s, "valid-accuracy")
            c = cols[ds]
            c["n_runs"][i] = len(seeds)
            c["train_time_s"][i] = value(i, vname, "200", False, "train-all-time")
            c["test_mean"][i] = value(i, NB201_TEST_NAME[ds], "200", False, "test-accuracy")
            c["latency_s"][i] = cost(i, vname, "latency")
            if ds == "cifar10":
                c["valid_time_s"][i] = value(i, vname, "200", False, "valid-per-time")
                c["valid_model_test_mean"][i] = value(i, vname, "200", False, "test-accuracy")
            if has_12ep[ds]:
                c["valid_12ep"][i] = value(i, vname, "12", False, "valid-accuracy")

    datasets = {}
    fields: dict[tuple[str, str], str] = {}
    for ds in DATASETS:
        c, vname = cols[ds], NB201_VALID_NAME[ds]
        have = np.arange(MAX_RUNS)[None, :] < c["n_runs"][:, None]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NaN runs are reported by _validate
            mean = np.nanmean(np.where(have, runs[ds], np.nan), axis=1)
        datasets[ds] = _results(
            valid_runs=runs[ds],
            n_runs=c["n_runs"],
            valid_mean=mean,
            test_mean=c["test_mean"],
            train_time_s=c["train_time_s"],
            valid_12ep=c["valid_12ep"] if has_12ep[ds] else None,
            valid_time_s=c["valid_time_s"] if ds == "cifar10" else None,
            latency_s=c["latency_s"],
            valid_model_test_mean=c["valid_model_test_mean"] if ds == "cifar10" else None,
        )
        info = f"{path} get_more_info(i, {vname!r}, hp='200'"
        fields.update(
            {(ds, f"valid_runs{k}"): f"{info}, is_random=seed{k + 1})['valid-accuracy']" for k in range(3)}
        )
        fields[(ds, "n_runs")] = f"{path} get_dataset_seeds({vname!r})"
        fields[(ds, "valid_mean")] = f"{info}, is_random=seed)['valid-accuracy'] (mean)"
        fields[(ds, "train_time_s")] = f"{info}, is_random=False)['train-all-time']"
        fields[(ds, "valid_time_s")] = f"{info}, is_random=False)['valid-per-time']"
        fields[(ds, "valid_model_test_mean")] = f"{info}, is_random=False)['test-accuracy']"
        fields[(ds, "latency_s")] = f"{path} get_cost_info(i, {vname!r}, hp='200')['latency']"
        fields[(ds, "test_mean")] = (
            f"{path} get_more_info(i, {NB201_TEST_NAME[ds]!r}, hp='200')['test-accuracy']"
        )
        fields[(ds, "valid_12ep")] = f"{path} get_more_info(i, {vname!r}, hp='12')['valid-accuracy']"
    origin = _Origin(
        arch=f"{path} api.arch(i)",
        codes=f"{path} api.arch(i)",
        row=lambda i: f"arch index {i}",
        fields=fields,
    )
    return dataclasses.replace(
        _make_table("nas-bench-201", path, arch, None, datasets, origin), test_source=str(path)
    )
