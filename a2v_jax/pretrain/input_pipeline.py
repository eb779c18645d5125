"""What pretraining trains on and how it scores the prior, for every space.

:func:`load_space_dataset` encodes a space's architectures in the order that defines the
original's split (first 90 % train, reference §4); :func:`prior_validity` scores graphs decoded
from the prior (reference §5).

The graphs and their order per space come from :func:`a2v_jax.data.pretraining_graphs`; loading
times per space: ``docs/data-and-spaces.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from a2v_jax.data import pretraining_graphs
from a2v_jax.pretrain.graphs import GraphBatch, make_graph_batch
from a2v_jax.spaces import SearchSpace


@dataclass(frozen=True)
class SpaceDataset:
    """All graphs of a space in the order that defines the train/validation split."""

    graphs: GraphBatch  # numpy leaves, (P, ...)
    arch_str: np.ndarray  # (P,) str
    index: np.ndarray  # (P,) int64 benchmark index, or -1
    order: str  # "benchmark" or "enumeration"


def num_train_graphs(num_graphs: int, val_fraction: float = 0.1) -> int:
    """The original's training-set size, ``int((1 - val_fraction) * N)``: the first graphs train.

    Computed in exact arithmetic (``val_fraction`` read as the decimal it prints as), so 15,625 NB201
    cells give 14,062 / 1,563 and 423,624 NB101 cells 381,261 / 42,363, as the original's
    ``int(0.9 * N)``.
    """
    return math.floor(num_graphs * (1 - Fraction(repr(val_fraction))))


def load_space_dataset(
    space: SearchSpace, data_dir: str | None = None, subset: int | None = None, progress: bool = True
) -> SpaceDataset:
    """Encodes every architecture of ``space`` (or the first ``subset``) in its split order.

    Which graphs and which order, per space: :func:`a2v_jax.data.pretraining_graphs`. A configured
    table that fails to load raises its :class:`~a2v_jax.data.DataError`; nothing falls back silently.

    Args:
      space, data_dir, subset, progress: as :func:`a2v_jax.data.pretraining_graphs`.

    Returns:
      The :class:`SpaceDataset`; ``order`` is ``"benchmark"`` or ``"enumeration"``.
    """
    adj, ops, arch, index, order = pretraining_graphs(space, data_dir, subset, progress)
    return SpaceDataset(make_graph_batch(adj, ops), arch, index, order)


# --------------------------------------------------------------------------- prior metrics


def _unique_fraction(keys: list, count: int) -> float:
    return len(set(keys)) / count if count else 0.0


def prior_validity(space: SearchSpace, op_idx: np.ndarray, adj: np.ndarray) -> dict[str, float]:
    """Validity (original loose check and strict check) and uniqueness of decoded graphs.

    Uniqueness is the number of distinct valid graphs over the number of valid graphs.

    The keys are the space's :meth:`~a2v_jax.spaces.SearchSpace.decoded_graph_keys` (NB101 and DARTS:
    as the original, ``hash_module`` of the decoded graph, so isomorphic decodings count once; NB201:
    exact ``(A, ops)`` keys), plus its :meth:`~a2v_jax.spaces.SearchSpace.extra_uniqueness_keys`
    (NB101: ``uniqueness_module``, distinct benchmark module hashes after pruning).

    Args:
      space: the search space (its ``valid_loose`` / ``valid_strict``).
      op_idx: ``(B, N)`` decoded op columns.
      adj: ``(B, N, N)`` decoded adjacency (``p̂ > 0.5`` on the strict upper triangle).

    Returns:
      ``validity``, ``validity_strict``, ``uniqueness``, ``uniqueness_strict`` (and for NB101
      ``uniqueness_module``), all fractions.
    """
    op_idx, adj = np.asarray(op_idx), np.asarray(adj)
    loose = space.valid_loose(adj, op_idx)
    strict = space.valid_strict(adj, op_idx)
    out = {"validity": float(loose.mean()), "validity_strict": float(strict.mean())}
    either = loose | strict
    keys = np.empty(len(adj), dtype=object)
    if either.any():
        keys[either] = space.decoded_graph_keys(adj[either], op_idx[either])
    out["uniqueness"] = _unique_fraction(keys[loose].tolist(), int(loose.sum()))
    out["uniqueness_strict"] = _unique_fraction(keys[strict].tolist(), int(strict.sum()))
    for name, extra in space.extra_uniqueness_keys(adj[loose], op_idx[loose]).items():
        out[name] = _unique_fraction(list(extra), int(loose.sum()))
    return out
