"""Reads NATS-Bench's topology archive ``NATS-tss-v1_0-3ffb9-simple`` with ``bz2`` and a restricted unpickler.

No torch, no ``nats_bench``: :class:`_PlainUnpickler` admits plain containers and numbers only
(``OrderedDict``, sets, numpy scalars and dtypes) and refuses any other global with a :class:`DataError`.

Layout, as written by ``exps/NATS-Bench/tss-collect.py`` in D-X-Y/AutoDL-Projects and read by
``nats_bench/api_topology.py`` + ``nats_bench/api_utils.py`` in D-X-Y/NATS-Bench (``pickle_load``,
``reload``, ``ArchResults``, ``ResultsCount``):

- ``meta.pickle.pbz2``: ``{'meta_archs': [arch_str, ...] (index order), 'total_archs': 15625,
  'arch2infos': None, 'evaluated_indexes': set()}``.
- ``{index:06d}.pickle.pbz2`` (the API falls back to ``{index:d}.pickle.pbz2``): an ``OrderedDict``
  ``{'12': ArchResults state, '200': ArchResults state}``; hp = number of training epochs.
- ArchResults state: ``arch_index``, ``arch_str``, ``dataset_seed`` (``{dataset: sorted [seed, ...]}``),
  ``all_results`` (``{(dataset, seed): ResultsCount state}``), ``clear_net_done``; datasets are
  ``cifar10-valid``, ``cifar10``, ``cifar100``, ``ImageNet16-120``.
- ResultsCount state: ``epochs``, ``eval_acc1es`` / ``eval_losses`` / ``eval_times`` keyed
  ``'{set}@{epoch}'`` (sets ``x-valid``, ``x-test``, ``ori-test``), ``train_acc1es`` / ``train_losses`` /
  ``train_times`` keyed by epoch, ``latency`` (list of seconds or None), ``params``, ``flop``, ``seed``,
  ``name``, ``arch_config``, ``net_state_dict`` (None in the simple archive).

Fields are computed as the API does with ``iepoch=None`` (epoch ``epochs - 1``) and ``is_random=False``
(mean over the seeds in ``dataset_seed``), hp ``'200'`` unless noted:

- ``valid_runs`` / ``n_runs`` / ``valid_mean``: ``x-valid`` accuracy per seed (ascending) on the validation
  dataset (``cifar10-valid``, ``cifar100``, ``ImageNet16-120``), NaN beyond ``n_runs``; their mean.
- ``train_time_s``: ``get_more_info(...)['train-all-time']``, the seed mean of ``sum(train_times)``.
- ``test_mean``: ``cifar10`` on ``ori-test`` for cifar10, else the dataset itself on ``x-test``.
- ``valid_12ep``: hp ``'12'`` ``x-valid`` accuracy, seed mean.
- ``valid_time_s`` (cifar10 only): ``'valid-per-time'``, seed mean of summed x-valid eval times / epochs.
- ``valid_model_test_mean`` (cifar10 only): the ``cifar10-valid`` model's ``ori-test`` accuracy, seed mean.
- ``latency_s``: ``get_cost_info(...)['latency']``: per seed the mean of ``latency``, seeds without a
  positive one skipped, then the mean over seeds.

A value missing in some cells (no key, ``None`` times, no positive latency, no hp ``'12'`` results) is NaN
in those rows, for the caller to validate; a field missing in every cell is ``None``. Missing files, a
missing validation or test dataset or seed result at hp ``'200'``, wrong types and an ``arch_str`` that
differs from the meta list raise :class:`DataError` naming the file.
"""

from __future__ import annotations

import bz2
import collections
import functools
import io
import math
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from a2v_jax.data._errors import DataError
from a2v_jax.data.nb201.table import MAX_RUNS, NB201_TEST_NAME, NB201_TEST_SPLIT, NB201_VALID_NAME

__all__ = ["ARCHIVE_NAME", "FIELDS", "NatsTssRecords", "read_nats_tss_archive"]

#: The directory name of the official archive (unpacked from ``NATS-tss-v1_0-3ffb9-simple.tar``).
ARCHIVE_NAME = "NATS-tss-v1_0-3ffb9-simple"
META_FILE = "meta.pickle.pbz2"
#: The keys of each ``NatsTssRecords.datasets[name]``.
FIELDS: tuple[str, ...] = (
    "valid_runs",
    "n_runs",
    "valid_mean",
    "train_time_s",
    "test_mean",
    "valid_12ep",
    "valid_time_s",
    "latency_s",
    "valid_model_test_mean",
)
_OBTAIN = (
    f"expected NATS-Bench's {ARCHIVE_NAME} directory (meta.pickle.pbz2 plus one 000000.pickle.pbz2 per "
    "architecture), obtained by following the download instructions of NATS-Bench's authors in the "
    "NATS-Bench repository README (github.com/D-X-Y/NATS-Bench) and unpacking the archive"
)


def _numpy_scalar() -> Any:
    """numpy's scalar reconstructor (``numpy._core`` in numpy 2, ``numpy.core`` before)."""
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar
    return scalar


_SCALAR = _numpy_scalar()
#: The only globals a file may name: what plain containers and numbers need.
_ADMITTED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,  # pickle protocols < 4 name these (``__builtin__`` from protocol 2)
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
}


@dataclass(frozen=True, eq=False)
class NatsTssRecords:
    """What the NATS-Bench topology archive says about every cell, in benchmark index order."""

    path: str  # the archive directory
    arch_str: np.ndarray  # (P,) str: index order (meta_archs)
    # {"cifar10" | "cifar100" | "imagenet16": {field: array or None}}; fields are FIELDS:
    # valid_runs (P, 3) float64, n_runs (P,) int8, the others (P,) float64 (see the module docstring)
    datasets: dict[str, dict[str, np.ndarray | None]]


class _PlainUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in ``_ADMITTED`` and refuses every other one."""

    def __init__(self, file: io.BytesIO, source: Path):
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        """The admitted global ``module.name``; a :class:`DataError` for anything else."""
        found = _ADMITTED.get((module, name))
        if found is None:
            raise DataError(
                f"{self._source}: the archive holds a non-plain object ({module}.{name}); it will not be "
                "loaded. This reader only accepts plain containers and numbers, as in NATS-Bench's "
                f"{ARCHIVE_NAME} archive; {_OBTAIN}"
            )
        return found


def _decode(path: Path, compressed: bytes) -> Any:
    """The object pickled in the bz2 bytes ``compressed`` of ``path``, through :class:`_PlainUnpickler`."""
    try:
        raw = bz2.decompress(compressed)
    except (OSError, EOFError, ValueError) as e:
        raise DataError(
            f"{path}: not a complete bz2 stream, the file is truncated or corrupt ({e}); {_OBTAIN}"
        ) from e
    try:
        return _PlainUnpickler(io.BytesIO(raw), path).load()
    except DataError:
        raise
    except Exception as e:  # the unpickler raises many types on malformed input
        raise DataError(f"{path}: not a valid pickle ({type(e).__name__}: {e}); {_OBTAIN}") from e


def _read(path: Path) -> bytes:
    """The bytes of ``path``; a :class:`DataError` if it cannot be read (``FileNotFoundError`` passes)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({type(e).__name__}: {e}); {_OBTAIN}") from e


def _dict(value: Any, where: str) -> dict:
    """``value`` if it is a dict, else a :class:`DataError`."""
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected a dict, found {type(value).__name__}")
    return value


def _number(value: Any, where: str) -> float:
    """``value`` as a float if it is a real number (not bool), else a :class:`DataError`."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise DataError(f"{where}: expected a number, found {type(value).__name__} {value!r:.60}")
    return float(value)


def _mean(values: Sequence[float]) -> float:
    """``sum / len`` in the API's order (so values match it bit for bit); NaN if any value is NaN."""
    return sum(values) / len(values) if values else math.nan


@functools.lru_cache(maxsize=64)
def _eval_keys(setname: str, epochs: int) -> tuple[str, ...]:
    """The ``eval_times`` keys of ``setname`` over ``epochs`` epochs: ``'{setname}@{i}'``."""
    return tuple(f"{setname}@{i}" for i in range(epochs))


class _Run:
    """Accessors over one ResultsCount state (one seed of one dataset at one hp)."""

    def __init__(self, state: Any, where: str):
        self.state = _dict(state, where)
        self.where = where
        epochs = self.state.get("epochs")
        if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 1:
            raise DataError(f"{where}: 'epochs' is {epochs!r}, expected a positive int")
        self.epochs = int(epochs)

    def _field(self, name: str) -> Any:
        if name not in self.state:
            raise DataError(f"{self.where}: no {name!r} in the result")
        return self.state[name]

    def _total(self, times: dict | list | tuple, keys: Sequence[Any], what: str) -> float:
        """``sum(times[k] for k in keys)`` in the API's order; NaN if a key is absent."""
        try:
            values = [times[k] for k in keys]
        except (KeyError, IndexError):
            return math.nan
        try:
            return float(sum(values))
        except TypeError as e:  # a non-number among the values
            raise DataError(f"{self.where}: {what} holds a non-number ({e})") from e

    def accuracy(self, setname: str) -> float:
        """``eval_acc1es['{setname}@{epochs - 1}']``; NaN if absent."""
        accs = _dict(self._field("eval_acc1es"), f"{self.where} 'eval_acc1es'")
        key = f"{setname}@{self.epochs - 1}"
        return _number(accs[key], f"{self.where} eval_acc1es[{key!r}]") if key in accs else math.nan

    def train_total(self) -> float:
        """The API's ``get_train()['all_time']``: ``train_times`` summed over all epochs; NaN if absent."""
        times = self._field("train_times")
        if times is None:
            return math.nan
        times = _dict(times, f"{self.where} 'train_times'")
        return self._total(times, range(self.epochs), "'train_times'")

    def eval_total(self, setname: str) -> float:
        """The API's ``get_eval(setname)['all_time']``: eval times summed over all epochs; NaN if absent."""
        times = self._field("eval_times")
        if times is None or (isinstance(times, dict) and not times):
            return math.nan
        times = _dict(times, f"{self.where} 'eval_times'")
        return self._total(times, _eval_keys(setname, self.epochs), "'eval_times'")

    def latency(self) -> float:
        """The API's ``ResultsCount.get_latency()``: the mean of ``latency``; NaN if None or empty."""
        values = self._field("latency")
        if values is None:
            return math.nan
        if not isinstance(values, list | tuple):
            raise DataError(f"{self.where}: 'latency' is {type(values).__name__}, expected a list or None")
        if not values:
            return math.nan
        return self._total(values, range(len(values)), "'latency'") / len(values)


def _runs(results: dict, dataset: str, where: str, *, required: bool) -> list[_Run] | None:
    """The runs of ``dataset`` in ascending seed order; None if it has none and is not ``required``."""
    seeds = _dict(results["dataset_seed"], f"{where} 'dataset_seed'").get(dataset)
    if seeds is None:
        if required:
            raise DataError(f"{where}: no results for dataset {dataset!r} (no dataset_seed entry)")
        return None
    if not isinstance(seeds, list | tuple) or not all(isinstance(s, int | np.integer) for s in seeds):
        raise DataError(f"{where}: dataset_seed[{dataset!r}] is {seeds!r:.80}, expected a list of ints")
    if not seeds:
        raise DataError(f"{where}: dataset_seed[{dataset!r}] is empty")
    all_results = _dict(results["all_results"], f"{where} 'all_results'")
    runs = []
    for seed in sorted(int(s) for s in seeds):
        if (dataset, seed) not in all_results:
            raise DataError(f"{where}: dataset {dataset!r} lists seed {seed} but all_results has no entry")
        runs.append(_Run(all_results[(dataset, seed)], f"{where} {dataset} seed {seed}"))
    return runs


def _arch_results(data: dict, hp: str, path: Path, index: int, arch_str: str) -> dict | None:
    """The ArchResults state at ``hp`` after checking its index and arch_str; None if ``hp`` is absent."""
    if hp not in data:
        return None
    where = f"{path}: hp {hp!r}"
    results = _dict(data[hp], where)
    for key in ("arch_index", "arch_str", "dataset_seed", "all_results"):
        if key not in results:
            raise DataError(f"{where}: no {key!r} in the architecture record")
    if results["arch_str"] != arch_str:
        raise DataError(
            f"{where}: arch_str {results['arch_str']!r} differs from meta_archs[{index}] {arch_str!r} "
            f"of {META_FILE}"
        )
    if results["arch_index"] != index:
        raise DataError(f"{where}: arch_index is {results['arch_index']!r}, expected {index}")
    return results


def _cell(data: Any, path: Path, index: int, arch_str: str) -> dict[str, dict[str, Any]]:
    """Our fields for one architecture file: ``{dataset: {field: value}}`` (valid_runs is a list)."""
    data = _dict(data, str(path))
    r200 = _arch_results(data, "200", path, index, arch_str)
    if r200 is None:
        raise DataError(f"{path}: no '200' (200-epoch) results; hp keys {sorted(map(str, data))}")
    r12 = _arch_results(data, "12", path, index, arch_str)
    out, where = {}, f"{path}: hp '200'"
    for ds, vname in NB201_VALID_NAME.items():
        runs = _runs(r200, vname, where, required=True)
        if len(runs) > MAX_RUNS:
            raise DataError(f"{where}: {len(runs)} runs on {vname}, expected at most {MAX_RUNS}")
        test_ds, test_set = NB201_TEST_NAME[ds], NB201_TEST_SPLIT[ds]
        test_runs = runs if test_ds == vname else _runs(r200, test_ds, where, required=True)
        runs12 = None if r12 is None else _runs(r12, vname, f"{path}: hp '12'", required=False)
        valid = [r.accuracy("x-valid") for r in runs]
        latencies = [x for x in (r.latency() for r in runs) if x > 0]  # NaN > 0 is False
        values = {
            "valid_runs": valid,
            "valid_mean": _mean(valid),
            "train_time_s": _mean([r.train_total() for r in runs]),
            "test_mean": _mean([r.accuracy(test_set) for r in test_runs]),
            "valid_12ep": math.nan if runs12 is None else _mean([r.accuracy("x-valid") for r in runs12]),
            "latency_s": _mean(latencies),
        }
        if ds == "cifar10":
            # 'valid-per-time': the summed x-valid time over the epochs / (mean(epochs - 1) + 1)
            total = _mean([r.epochs - 1 for r in runs]) + 1
            values["valid_time_s"] = _mean([r.eval_total("x-valid") for r in runs]) / total
            # the cifar10-valid model (trained on 25k) on ori-test: not the paper's cifar10 test column
            values["valid_model_test_mean"] = _mean([r.accuracy("ori-test") for r in runs])
        out[ds] = values
    return out


def _meta_archs(directory: Path) -> list[str]:
    """``meta_archs`` of the meta file: the arch_str of every index."""
    path = directory / META_FILE
    if not path.is_file():
        raise DataError(f"{path}: missing, the meta file of the archive (arch strings); {_OBTAIN}")
    meta = _dict(_decode(path, _read(path)), str(path))
    archs = meta.get("meta_archs")
    if not isinstance(archs, list | tuple) or not all(isinstance(a, str) for a in archs):
        raise DataError(f"{path}: 'meta_archs' is {type(archs).__name__}, expected a list of arch strings")
    if not archs:
        raise DataError(f"{path}: 'meta_archs' is empty")
    if len(set(archs)) != len(archs):
        raise DataError(f"{path}: 'meta_archs' lists an arch_str twice")
    total = meta.get("total_archs", len(archs))
    if total != len(archs):
        raise DataError(f"{path}: 'total_archs' is {total!r} but 'meta_archs' has {len(archs)} entries")
    return list(archs)


def _arch_file(directory: Path, index: int) -> tuple[Path, bytes]:
    """Path and bytes of ``{index:06d}.pickle.pbz2``, else of the API's fallback ``{index:d}.pickle.pbz2``."""
    path = directory / f"{index:06d}.pickle.pbz2"
    try:
        return path, _read(path)
    except FileNotFoundError:
        pass
    fallback = directory / f"{index:d}.pickle.pbz2"
    try:
        return fallback, _read(fallback)
    except FileNotFoundError:
        raise DataError(
            f"{path}: missing, the file of architecture index {index} ({path.name}); {_OBTAIN}"
        ) from None


def _assemble(cells: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, np.ndarray | None]]:
    """Per-dataset arrays from the per-cell values; a field that is NaN in every cell becomes None."""
    p = len(cells)
    datasets = {}
    for ds in NB201_VALID_NAME:
        runs = np.full((p, MAX_RUNS), np.nan)
        n_runs = np.zeros(p, np.int8)
        scalars = {f: np.full(p, np.nan) for f in FIELDS if f not in ("valid_runs", "n_runs")}
        for i, cell in enumerate(cells):
            values = cell[ds]
            n_runs[i] = len(values["valid_runs"])
            runs[i, : n_runs[i]] = values["valid_runs"]
            for f, column in scalars.items():
                column[i] = values.get(f, math.nan)
        fields: dict[str, np.ndarray | None] = {"valid_runs": runs, "n_runs": n_runs, **scalars}
        for f, value in fields.items():
            if f != "n_runs" and np.isnan(value).all():
                fields[f] = None
        datasets[ds] = {f: fields[f] for f in FIELDS}
    return datasets


def read_nats_tss_archive(path: str | os.PathLike, *, progress: bool = False) -> NatsTssRecords:
    """Reads NATS-Bench's ``NATS-tss-v1_0-3ffb9-simple`` directory without torch or ``nats_bench``.

    Args:
      path: the archive directory (``meta.pickle.pbz2`` + ``{index:06d}.pickle.pbz2`` per architecture).
      progress: show a tqdm bar over the architecture files.

    Returns:
      The arch strings in index order and, per dataset, the fields listed in the module docstring.

    Raises:
      DataError: naming the file, if the directory or a file is missing, truncated or corrupt, holds a
        non-plain object or wrong types, or disagrees with the meta file.
    """
    directory = Path(path)
    if not directory.is_dir():
        what = "is a file, not a directory" if directory.exists() else "does not exist"
        raise DataError(f"{directory}: {what}; {_OBTAIN}")
    archs = _meta_archs(directory)
    cells = []
    for index in tqdm(range(len(archs)), desc=f"reading {directory.name}", unit="file", disable=not progress):
        file, compressed = _arch_file(directory, index)
        cells.append(_cell(_decode(file, compressed), file, index, archs[index]))
    return NatsTssRecords(path=str(directory), arch_str=np.array(archs, dtype=str), datasets=_assemble(cells))
