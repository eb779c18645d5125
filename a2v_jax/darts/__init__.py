"""DARTS's CIFAR network and its training in Flax/optax: arch2vec's search evaluator and final evaluation.

- :mod:`a2v_jax.darts.network`: ``NetworkCIFAR`` (stem, cells, reductions, auxiliary head,
  drop-path) and the two published arch2vec cells.
- :mod:`a2v_jax.darts.cifar`: CIFAR-10 from the python-pickle batches; DARTS's augmentation in JAX.
- :mod:`a2v_jax.darts.config`: ``DartsTrainConfig``, the ``proxy`` (50 epochs) and ``final`` (600
  epochs) presets, the per-epoch learning rate and drop-path probability.
- :mod:`a2v_jax.darts.steps`: the training state, ``train_step`` / ``eval_step`` and the epoch as
  one ``lax.scan``.
- :mod:`a2v_jax.darts.train`: ``train_network`` with checkpoints, ``evaluate_genotype`` (the search
  evaluator); ``python -m a2v_jax.darts.train`` trains one genotype.
"""

from __future__ import annotations

from typing import Any

from a2v_jax.darts.cifar import CIFAR10, augment, augment_batch, load_cifar10, normalize, split_train_valid
from a2v_jax.darts.config import PRESETS, DartsTrainConfig, get_preset
from a2v_jax.darts.network import (
    ARCH2VEC_BO,
    ARCH2VEC_RL,
    GENOTYPES,
    NetworkCIFAR,
    init_network,
    param_counts,
    resolve_genotype,
)
from a2v_jax.darts.steps import DartsState, eval_step, train_epoch, train_step

# The training module is imported on first use, so that ``python -m a2v_jax.darts.train`` does not
# find it already imported by the package.
_TRAIN_NAMES = ("create_state", "evaluate_genotype", "make_evaluator", "train_network")


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
    "PRESETS",
    "DartsState",
    "DartsTrainConfig",
    "NetworkCIFAR",
    "augment",
    "augment_batch",
    "eval_step",
    "get_preset",
    "init_network",
    "load_cifar10",
    "normalize",
    "param_counts",
    "resolve_genotype",
    "split_train_valid",
    "train_epoch",
    "train_step",
    *_TRAIN_NAMES,
]
