"""The DARTS training config, its two presets and the per-epoch schedules it defines.

Both presets follow arch2vec's DARTS scripts (reference §7.4): ``NetworkCIFAR(36, 10, 20)`` with the
auxiliary head (loss weight 0.4), cutout 16, drop-path ramped linearly from 0 (``0.2 * epoch /
epochs``, fixed within an epoch), SGD momentum 0.9 (not Nesterov), weight decay 3e-4 on every
parameter, gradient clipping at global norm 5, batch 96, learning rate 0.025 cosine-annealed to 0
over the epochs (PyTorch's ``CosineAnnealingLR`` stepped once per epoch: constant within an epoch).

- ``proxy`` (``Train.main`` of ``darts/cnn/train_search.py``): 50 epochs on the first 90 % of the
  CIFAR-10 training set, validation on the last 10 %; the reward is the **mean validation accuracy
  over the last 5 epochs** (a fraction); the test accuracy of those epochs is logged too.
- ``final`` (``darts/cnn/train.py``): 600 epochs on all 50,000 training images, the test set
  evaluated after every epoch; the reward is the last epoch's test accuracy.

``get_preset("proxy", epochs=10)`` is a preset with fields replaced.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import chex
import jax.numpy as jnp


@dataclass(frozen=True)
class DartsTrainConfig:
    """How a genotype's CIFAR network is trained (see the module docstring for the presets).

    Attributes:
      epochs: training epochs (the LR cosine and the drop-path ramp span them).
      train_portion: fraction of the 50,000 training images trained on, in index order; the rest
        is the validation set. 1.0: train on all and validate on the test set.
      batch_size: training batch.
      eval_batch_size: evaluation batch (BN uses running averages, so it changes no number).
      lr: initial learning rate; cosine-annealed per epoch to ``lr_min``.
      lr_min: final learning rate.
      momentum: SGD momentum.
      nesterov: Nesterov momentum (DARTS: no).
      weight_decay: L2 added to the clipped gradient of every parameter (PyTorch SGD's ``weight_decay``).
      grad_clip: global gradient-norm clip.
      init_channels: ``C`` of the network.
      layers: number of cells.
      auxiliary: train with the auxiliary head.
      auxiliary_weight: weight of the auxiliary loss.
      drop_path: final drop-path probability (epoch ``e`` uses ``drop_path * e / epochs``); 0: off.
      cutout: side of the cutout square; 0: off.
      reward_epochs: the reward averages the validation accuracy over this many last epochs.
      test_epochs: evaluate the test set in this many last epochs (with a validation set).
    """

    epochs: int
    train_portion: float
    batch_size: int = 96
    eval_batch_size: int = 500
    lr: float = 0.025
    lr_min: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    init_channels: int = 36
    layers: int = 20
    auxiliary: bool = True
    auxiliary_weight: float = 0.4
    drop_path: float = 0.2
    cutout: int = 16
    reward_epochs: int = 5
    test_epochs: int = 5

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError(f"epochs, batch sizes must be positive: {self}")
        if not 0.0 < self.train_portion <= 1.0:
            raise ValueError(f"train_portion must be in (0, 1], got {self.train_portion}")
        if not 0.0 <= self.drop_path < 1.0:
            raise ValueError(f"drop_path must be in [0, 1), got {self.drop_path}")

    @property
    def has_validation(self) -> bool:
        """Whether part of the training set is held out for validation."""
        return self.train_portion < 1.0


#: Named presets: ``proxy`` (arch2vec's 50-epoch search evaluation) and ``final`` (600 epochs).
PRESETS: dict[str, DartsTrainConfig] = {
    "proxy": DartsTrainConfig(epochs=50, train_portion=0.9),
    "final": DartsTrainConfig(epochs=600, train_portion=1.0),
}


def get_preset(name: str, **overrides: Any) -> DartsTrainConfig:
    """The preset ``name`` with fields replaced by ``overrides`` (None values ignored)."""
    if name not in PRESETS:
        raise ValueError(f"unknown DARTS training preset {name!r}; expected one of {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})


def lr_at_epoch(cfg: DartsTrainConfig, epoch: chex.Numeric) -> chex.Numeric:
    """``lr_min + (lr - lr_min) * (1 + cos(pi * epoch / epochs)) / 2``, PyTorch's ``CosineAnnealingLR``."""
    cos = jnp.cos(jnp.pi * jnp.asarray(epoch, jnp.float32) / cfg.epochs)
    return cfg.lr_min + (cfg.lr - cfg.lr_min) * 0.5 * (1.0 + cos)


def drop_prob_at_epoch(cfg: DartsTrainConfig, epoch: chex.Numeric) -> chex.Numeric:
    """The drop-path probability of epoch ``epoch`` (0-based): ``drop_path * epoch / epochs``."""
    return cfg.drop_path * jnp.asarray(epoch, jnp.float32) / cfg.epochs
