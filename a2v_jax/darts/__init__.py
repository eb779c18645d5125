"""DARTS's CIFAR network and its training in Flax/optax: arch2vec's search evaluator and final evaluation.

- :mod:`a2v_jax.darts.network`: ``NetworkCIFAR`` (stem, cells, reductions, auxiliary head,
  drop-path) and the two published arch2vec cells.
- :mod:`a2v_jax.darts.cifar`: CIFAR-10 from the python-pickle batches; DARTS's augmentation in JAX.
- :mod:`a2v_jax.darts.train`: ``train_step`` / ``train_epoch``, the ``proxy`` (50 epochs) and
  ``final`` (600 epochs) presets, ``train_network`` with checkpoints, ``evaluate_genotype`` (the
  search evaluator); ``python -m a2v_jax.darts.train`` trains one genotype.
"""

from __future__ import annotations

from typing import Any

from a2v_jax.darts.cifar import CIFAR10, augment, augment_batch, load_cifar10, normalize, split_train_valid
from a2v_jax.darts.network import (
    ARCH2VEC_BO,
    ARCH2VEC_RL,
    GENOTYPES,
    NetworkCIFAR,
    init_network,
    param_counts,
    resolve_genotype,
)

# The training module is imported on first use, so that ``python -m a2v_jax.darts.train`` does not
# find it already imported by the package.
_TRAIN_NAMES = (
    "PRESETS",
    "DartsState",
    "DartsTrainConfig",
    "create_state",
    "eval_step",
    "evaluate_genotype",
    "get_preset",
    "make_evaluator",
    "train_epoch",
    "train_network",
    "train_step",
)


def __getattr__(name: str) -> Any:
    if name in _TRAIN_NAMES:
        from a2v_jax.darts import train

        return getattr(train, name)
    raise AttributeError(f"module 'a2v_jax.darts' has no attribute {name!r}")


__all__ = [
    "ARCH2VEC_BO",
    "ARCH2VEC_RL",
    "CIFAR10",
    "GENOTYPES",
    "NetworkCIFAR",
    "augment",
    "augment_batch",
    "init_network",
    "load_cifar10",
    "normalize",
    "param_counts",
    "resolve_genotype",
    "split_train_valid",
    *_TRAIN_NAMES,
]
