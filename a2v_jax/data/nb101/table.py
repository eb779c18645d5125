"""The NAS-Bench-101 table: one row per unique cell, in ``NASBench.hash_iterator()`` order.

As the nasbench API and arch2vec's ``gen_json.py``: row ``i`` is arch2vec's key ``str(i)``; per repeat
(file order) the final and half-way validation / test accuracy and training time at the chosen epoch
budget; the means over the 3 repeats. Adjacency and ops are zero-padded to 7 nodes with the output node
left at index ``n - 1``, as arch2vec pads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from a2v_jax.data import paths
from a2v_jax.data._errors import ArchNotFoundError

#: Op labels in arch2vec's one-hot order; table op code ``k`` is ``OPS[k]``, ``-1`` is padding.
OPS: tuple[str, ...] = ("input", "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "output")
MAX_NODES = 7
MAX_EDGES = 9
NUM_REPEATS = 3
#: Epoch budgets in ``nasbench_full.tfrecord``; ``nasbench_only108.tfrecord`` has 108 only.
EPOCHS: tuple[int, ...] = (4, 12, 36, 108)
#: Unique cells in NAS-Bench-101.
NUM_CELLS = 423_624
#: Best mean (over 3 repeats) 108-epoch validation / test accuracy, arch2vec's regret anchors.
BEST_VALID = 0.9505542318026224
BEST_TEST = 0.943175752957662
#: Bumped whenever the cached layout or the meaning of a field changes.
_FORMAT_VERSION = 1

_RUN_FIELDS = (
    "valid_runs",
    "test_runs",
    "train_time_runs",
    "halfway_valid_runs",
    "halfway_test_runs",
    "halfway_train_time_runs",
)
#: Run field -> (evaluation, EvaluationData field) it is read from; evaluation_data[2] is the final one.
_RUN_SOURCE = {
    "valid_runs": ("final", "validation_accuracy"),
    "test_runs": ("final", "test_accuracy"),
    "train_time_runs": ("final", "training_time"),
    "halfway_valid_runs": ("half-way", "validation_accuracy"),
    "halfway_test_runs": ("half-way", "test_accuracy"),
    "halfway_train_time_runs": ("half-way", "training_time"),
}
_MEAN_FIELDS = ("valid_mean", "test_mean", "train_time_mean")
_ARRAYS = ("hash", "adjacency", "ops", "n_nodes", "params", *_RUN_FIELDS, *_MEAN_FIELDS)
_HASH_RE = re.compile(r"[0-9a-f]{32}")


# --------------------------------------------------------------------------- table


@dataclass(frozen=True, eq=False)
class NB101Table:
    """NAS-Bench-101 at one epoch budget; row ``i`` is the ``i``-th cell of ``NASBench.hash_iterator()``."""

    path: str  # the .tfrecord file it was read from
    epochs: int  # the epoch budget of the results
    epochs_in_file: tuple[int, ...]  # every budget the file holds
    checksum: str  # sha256 hex over the arrays
    hash: np.ndarray  # (P,) <U32: the cell's MD5 module hash
    adjacency: np.ndarray  # (P, 7, 7) int8: pruned DAG, zero-padded; output node at n_nodes - 1
    ops: np.ndarray  # (P, 7) int8: op codes (index into OPS), -1 on padded nodes
    n_nodes: np.ndarray  # (P,) int8: nodes of the pruned cell (2..7)
    params: np.ndarray  # (P,) int64: trainable parameters
    valid_runs: np.ndarray  # (P, 3) float64: final validation accuracy (fraction) per repeat, file order
    test_runs: np.ndarray  # (P, 3) float64: final test accuracy per repeat
    train_time_runs: np.ndarray  # (P, 3) float64: seconds of training to the final evaluation
    halfway_valid_runs: np.ndarray  # (P, 3) float64: validation accuracy at epochs / 2
    halfway_test_runs: np.ndarray  # (P, 3) float64: test accuracy at epochs / 2
    halfway_train_time_runs: np.ndarray  # (P, 3) float64: seconds of training to epochs / 2
    valid_mean: np.ndarray  # (P,) float64: mean of valid_runs (arch2vec's validation_accuracy)
    test_mean: np.ndarray  # (P,) float64: mean of test_runs (arch2vec's test_accuracy)
    train_time_mean: np.ndarray  # (P,) float64: mean of train_time_runs (arch2vec's training_time)
    from_cache: bool = field(default=False, compare=False)
    cache_file: str | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return int(self.hash.shape[0])

    @cached_property
    def _index(self) -> dict[str, int]:
        return {h: i for i, h in enumerate(self.hash.tolist())}

    def index_of(self, module_hash: str) -> int:
        """Row of the cell with MD5 ``module_hash``.

        Raises:
          ArchNotFoundError: (a :class:`DataError` and a ``KeyError``) naming the hash.
        """
        idx = self._index.get(module_hash) if isinstance(module_hash, str) else None
        if idx is None:
            raise ArchNotFoundError(f"module hash {module_hash!r} is not in the NB101 table ({self.path})")
        return idx

    def ops_onehot(self) -> np.ndarray:
        """arch2vec's op features: ``(P, 7, 5)`` int8 one-hot over :data:`OPS`, all-zero on padded nodes."""
        return (self.ops[:, :, None] == np.arange(len(OPS), dtype=np.int8)).astype(np.int8)


def _make_table(
    path: Path, epochs: int, epochs_in_file, arrays: dict[str, np.ndarray], **extra
) -> NB101Table:
    for a in arrays.values():
        a.setflags(write=False)
    return NB101Table(
        path=str(path),
        epochs=int(epochs),
        epochs_in_file=tuple(int(e) for e in epochs_in_file),
        checksum=paths.array_checksum(arrays),
        **arrays,
        **extra,
    )
