"""Training DARTS's CIFAR network: the 50-epoch proxy (arch2vec's search evaluator), the 600-epoch final run.

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

Epochs: a fresh permutation per epoch (``SubsetRandomSampler`` / ``shuffle=True``), the last batch
padded to 96 with a mask, so it trains exactly like PyTorch's smaller last batch (masked loss, BN
statistics over its real images only). One epoch is one ``lax.scan`` over batches, one jitted call;
augmentation runs inside the step on device. Keys: ``key -> (init, train)``, epoch ``e`` uses
``fold_in(train, e)``, so a resumed run is bit-equal to an uninterrupted one.

Cost (no GPU was available when this was written, so no measured GPU time is given): the full
network of arch2vec-BO's cell has 3.62 M parameters and 0.58 G multiply-adds per 32x32 image
(arch2vec-RL's: 3.30 M, 0.52 G; :mod:`a2v_jax.spaces.darts_macs`), so an epoch of 50,000 images is
about 3 x 0.58e9 x 5e4 = 8.7e13 multiply-adds (forward + backward). The final run is 600 such
epochs, a proxy query 50 epochs of 45,000 images (1/13 of it), arch2vec's search 100 queries: GPU
work. On a CPU only tiny configurations are practical. Measured on a shared 2-core CPU (jax 0.10.2,
float32): 4 channels / 3 cells / batch 6 (the tests' config) compiles its epoch in 20 s of CPU time
and then takes 0.09 s per step; 8 channels / 5 cells / batch 8: 28 s, 0.53 s per step; the full
36-channel, 20-cell network at batch 96 compiles in 95 s of CPU time and did not finish two steps in
6 minutes. **Record the measured seconds per epoch of both presets on a GPU here when one is
available.**

Run::

    python -m a2v_jax.darts.train --genotype arch2vec_bo --preset final \\
        --data-dir ~/data/cifar-10-batches-py --workdir runs/darts_bo_final --seed 1

Outputs in ``--workdir``: ``config.json`` (the run's identity; a different run refuses the folder),
``checkpoints/`` (orbax, every epoch; rerunning the command resumes), ``metrics.jsonl`` (one line
per epoch) and ``summary.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from flax.training import train_state

from a2v_jax.darts.cifar import CIFAR10, augment_batch, load_cifar10, normalize, split_train_valid
from a2v_jax.darts.network import DROP_PATH_RNG, NetworkCIFAR, init_network, param_counts, resolve_genotype
from a2v_jax.pretrain.checkpoint import Checkpointer, check_workdir
from a2v_jax.spaces.darts import Genotype


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


class DartsState(train_state.TrainState):
    """Flax ``TrainState`` plus BN statistics; the network, config and epoch length are static."""

    batch_stats: Any = None
    model: NetworkCIFAR = struct.field(pytree_node=False, default=None)
    cfg: DartsTrainConfig = struct.field(pytree_node=False, default=None)
    steps_per_epoch: int = struct.field(pytree_node=False, default=1)


def lr_at_epoch(cfg: DartsTrainConfig, epoch: chex.Numeric) -> chex.Numeric:
    """``lr_min + (lr - lr_min) * (1 + cos(pi * epoch / epochs)) / 2``, PyTorch's ``CosineAnnealingLR``."""
    cos = jnp.cos(jnp.pi * jnp.asarray(epoch, jnp.float32) / cfg.epochs)
    return cfg.lr_min + (cfg.lr - cfg.lr_min) * 0.5 * (1.0 + cos)


def drop_prob_at_epoch(cfg: DartsTrainConfig, epoch: chex.Numeric) -> chex.Numeric:
    """The drop-path probability of epoch ``epoch`` (0-based): ``drop_path * epoch / epochs``."""
    return cfg.drop_path * jnp.asarray(epoch, jnp.float32) / cfg.epochs


def make_optimizer(cfg: DartsTrainConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    """Clip by global norm, add ``weight_decay * param``, SGD with momentum at the per-epoch cosine LR.

    Memoised on ``(cfg, steps_per_epoch)``, so equal configs share one object and a second run
    reuses the compiled epoch (the optimiser is a static part of the state).
    """
    return _make_optimizer(cfg, int(steps_per_epoch))


@functools.lru_cache(maxsize=32)
def _make_optimizer(cfg: DartsTrainConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    schedule = lambda count: lr_at_epoch(cfg, count // steps_per_epoch)  # noqa: E731
    return optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip),
        optax.add_decayed_weights(cfg.weight_decay),
        optax.sgd(schedule, momentum=cfg.momentum, nesterov=cfg.nesterov),
    )


def build_network(genotype: Genotype, cfg: DartsTrainConfig) -> NetworkCIFAR:
    """``NetworkCIFAR(genotype, cfg.init_channels, cfg.layers, 10, cfg.auxiliary)``, memoised."""
    return _build_network(genotype, cfg)


@functools.lru_cache(maxsize=32)
def _build_network(genotype: Genotype, cfg: DartsTrainConfig) -> NetworkCIFAR:
    return NetworkCIFAR(genotype, cfg.init_channels, cfg.layers, 10, cfg.auxiliary)


def create_state(
    key: chex.PRNGKey, genotype: Any, cfg: DartsTrainConfig, steps_per_epoch: int, image_size: int = 32
) -> DartsState:
    """A fresh :class:`DartsState` (PyTorch's default initialisation drawn from ``key``).

    Args:
      key: PRNG key of the weights.
      genotype: a :class:`Genotype`, its string form or a name in ``GENOTYPES``.
      cfg: the training config.
      steps_per_epoch: batches per epoch (the LR and drop-path change once per epoch).
      image_size: input height = width.
    """
    model = build_network(resolve_genotype(genotype), cfg)
    variables = init_network(model, key, image_size)
    return DartsState(
        step=jnp.zeros((), jnp.int32),  # an array, as a restored checkpoint's: one compiled epoch
        apply_fn=model.apply,
        params=variables["params"],
        opt_state=make_optimizer(cfg, steps_per_epoch).init(variables["params"]),
        tx=make_optimizer(cfg, steps_per_epoch),
        batch_stats=variables["batch_stats"],
        model=model,
        cfg=cfg,
        steps_per_epoch=steps_per_epoch,
    )


def train_step(state: DartsState, batch: dict[str, chex.Array], key: chex.PRNGKey) -> tuple[DartsState, dict]:
    """One SGD step on an augmented batch.

    Loss per example: ``CE(logits, y) + auxiliary_weight * CE(logits_aux, y)``, averaged over the
    real examples (``batch["mask"]``).

    Args:
      state: the training state.
      batch: ``image (B, 32, 32, 3) uint8``, ``label (B,) int32``, ``mask (B,) bool``.
      key: PRNG key of the augmentation and the drop-path masks.

    Returns:
      ``(new_state, metrics)``; metrics are sums over the real examples: ``loss``, ``correct``, ``count``.
    """
    cfg = state.cfg
    labels, mask = batch["label"], batch["mask"]
    chex.assert_rank(batch["image"], 4)
    chex.assert_shape([labels, mask], (batch["image"].shape[0],))
    k_aug, k_drop = jax.random.split(key)
    x = augment_batch(k_aug, batch["image"], cfg.cutout)  # (B, H, W, 3)
    epoch = state.step // state.steps_per_epoch
    drop_prob = drop_prob_at_epoch(cfg, epoch) if cfg.drop_path > 0 else None
    w = mask.astype(jnp.float32)  # (B,)

    def loss_fn(params):
        (logits, logits_aux), updates = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats},
            x,
            train=True,
            drop_prob=drop_prob,
            mask=mask,
            rngs={DROP_PATH_RNG: k_drop},
            mutable=["batch_stats"],
        )
        per_example = optax.softmax_cross_entropy_with_integer_labels(logits, labels)  # (B,)
        if logits_aux is not None:
            aux = optax.softmax_cross_entropy_with_integer_labels(logits_aux, labels)
            per_example = per_example + cfg.auxiliary_weight * aux
        loss = jnp.sum(w * per_example) / jnp.maximum(jnp.sum(w), 1.0)
        return loss, (per_example, logits, updates["batch_stats"])

    grads, (per_example, logits, batch_stats) = jax.grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=batch_stats)
    metrics = {
        "loss": jnp.sum(w * per_example),
        "correct": jnp.sum(w * (jnp.argmax(logits, -1) == labels)),
        "count": jnp.sum(w),
    }
    return state, metrics


def eval_step(state: DartsState, batch: dict[str, chex.Array]) -> dict[str, chex.Array]:
    """Loss and accuracy sums of a batch in eval mode (running BN statistics, no drop-path, no head).

    Args:
      state: the training state.
      batch: ``image (B, H, W, 3) uint8``, ``label (B,)``, ``mask (B,) bool``.

    Returns:
      Sums over the real examples: ``loss`` (cross-entropy), ``correct``, ``count``.
    """
    w = batch["mask"].astype(jnp.float32)
    logits, _ = state.apply_fn(
        {"params": state.params, "batch_stats": state.batch_stats}, normalize(batch["image"]), train=False
    )
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])
    return {
        "loss": jnp.sum(w * ce),
        "correct": jnp.sum(w * (jnp.argmax(logits, -1) == batch["label"])),
        "count": jnp.sum(w),
    }


def _batches(order: chex.Array, batch_size: int) -> tuple[chex.Array, chex.Array]:
    """``order (n,)`` cut into ``(ceil(n / B), B)`` index rows, the last padded, and the real-example mask."""
    n = order.shape[0]
    num = -(-n // batch_size)
    pad = num * batch_size - n
    idx = jnp.concatenate([order, jnp.zeros((pad,), order.dtype)]).reshape(num, batch_size)
    mask = (jnp.arange(num * batch_size) < n).reshape(num, batch_size)
    return idx, mask


def train_epoch(
    state: DartsState, images: chex.Array, labels: chex.Array, key: chex.PRNGKey
) -> tuple[DartsState, dict[str, chex.Array]]:
    """One epoch: a fresh permutation, ``ceil(n / B)`` steps as one ``lax.scan``.

    Args:
      state: the training state.
      images: ``(n, 32, 32, 3)`` uint8 training images (on device).
      labels: ``(n,)`` int32.
      key: PRNG key of the epoch (order, augmentation, drop-path).

    Returns:
      ``(state, sums)``: ``loss``, ``correct``, ``count`` summed over the epoch.
    """
    k_order, k_steps = jax.random.split(key)
    idx, mask = _batches(jax.random.permutation(k_order, images.shape[0]), state.cfg.batch_size)
    keys = jax.random.split(k_steps, idx.shape[0])

    def body(st, xs):
        i, m, k = xs
        return train_step(st, {"image": images[i], "label": labels[i], "mask": m}, k)

    state, metrics = jax.lax.scan(body, state, (idx, mask, keys))
    return state, jax.tree.map(jnp.sum, metrics)


def evaluate(state: DartsState, images: chex.Array, labels: chex.Array) -> dict[str, chex.Array]:
    """:func:`eval_step` summed over ``images (n, H, W, 3)`` in batches of ``cfg.eval_batch_size``."""
    idx, mask = _batches(jnp.arange(images.shape[0]), state.cfg.eval_batch_size)

    def body(total, xs):
        i, m = xs
        out = eval_step(state, {"image": images[i], "label": labels[i], "mask": m})
        return jax.tree.map(jnp.add, total, out), None

    zero = {"loss": jnp.zeros(()), "correct": jnp.zeros(()), "count": jnp.zeros(())}
    total, _ = jax.lax.scan(body, zero, (idx, mask))
    return total


_train_epoch = jax.jit(train_epoch, donate_argnums=(0,))
_evaluate = jax.jit(evaluate)


def _rates(sums: dict[str, Any], prefix: str) -> dict[str, float]:
    sums = jax.device_get(sums)
    n = max(float(sums["count"]), 1.0)
    return {f"{prefix}_loss": float(sums["loss"]) / n, f"{prefix}_acc": float(sums["correct"]) / n}


def _truncate_metrics(path: Path, epochs_done: int) -> list[dict]:
    """Keeps the lines of epochs up to the restored checkpoint (a run killed after logging); returns them."""
    if not path.exists():
        return []
    lines = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    kept = [ln for ln in lines if ln["epoch"] <= epochs_done]
    path.write_text("".join(json.dumps(ln) + "\n" for ln in kept))
    return kept


def _progress(enabled: bool, start: int, total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=start, desc=desc, unit="epoch", disable=not enabled, file=sys.stderr)


def _key_data(key: chex.PRNGKey) -> list[int]:
    return np.asarray(jax.random.key_data(key)).ravel().tolist()


def train_network(
    genotype: Any,
    data: CIFAR10,
    cfg: DartsTrainConfig,
    key: chex.PRNGKey,
    *,
    workdir: str | Path | None = None,
    progress: bool = False,
    until_epoch: int | None = None,
) -> dict[str, Any]:
    """Trains ``genotype``'s network on CIFAR-10 with ``cfg`` and returns the summary.

    Args:
      genotype: a :class:`Genotype`, its string form or a name in ``GENOTYPES``.
      data: the CIFAR-10 arrays (:func:`~a2v_jax.darts.cifar.load_cifar10`).
      cfg: the training config (:data:`PRESETS`).
      key: PRNG key of the run.
      workdir: folder for ``config.json``, checkpoints and ``metrics.jsonl`` (resumes from its
        latest checkpoint); None: nothing written.
      progress: show a tqdm bar over epochs.
      until_epoch: stop after this many completed epochs (a run split over several jobs: rerun
        with the same ``workdir`` to go on); None: ``cfg.epochs``.

    Returns:
      A dict: ``reward`` (mean validation accuracy over the last ``reward_epochs`` epochs with a
      validation set, else the last test accuracy), ``valid_acc``, ``test_acc`` (last evaluated),
      ``params`` (DARTS's count, no auxiliary head), ``epochs_done``, ``complete``, ``history``
      (per-epoch lines as in ``metrics.jsonl``: ``lr``, ``drop_prob``, ``train_loss`` /
      ``train_acc`` over the epoch's augmented batches, ``valid_*`` / ``test_*`` after it, and
      ``epoch_s``, the wall seconds of the epoch and its evaluation, compilation included in a
      process's first epoch), ``wall_s``, ``device``, and ``state`` (the final :class:`DartsState`).
    """
    from a2v_jax.runtime import device_name

    t_start = time.perf_counter()
    genotype = resolve_genotype(genotype)
    if cfg.has_validation:
        (train_x, train_y), (valid_x, valid_y) = split_train_valid(data, cfg.train_portion)
    else:
        train_x, train_y, valid_x, valid_y = data.train_images, data.train_labels, None, None
    n_train = train_x.shape[0]
    steps_per_epoch = -(-n_train // cfg.batch_size)
    k_init, k_train = jax.random.split(key)
    state = create_state(k_init, genotype, cfg, steps_per_epoch, image_size=train_x.shape[1])
    # Everything committed to one device, as restored checkpoints are: a resumed run reuses the
    # compiled epoch (jit's cache tells committed from uncommitted arrays).
    device = jax.devices()[0]
    train_x, train_y, test_x, test_y = jax.device_put(
        (train_x, train_y, data.test_images, data.test_labels), device
    )
    if valid_x is not None:
        valid_x, valid_y = jax.device_put((valid_x, valid_y), device)

    history: list[dict] = []
    start = 0
    ckpt = None
    metrics_path = None
    if workdir is not None:
        workdir = Path(workdir)
        identity = {
            "genotype": str(genotype),
            "config": dataclasses.asdict(cfg),
            "key": _key_data(key),
            "num_train": int(n_train),
            "num_valid": 0 if valid_x is None else int(valid_x.shape[0]),
            "num_test": int(test_x.shape[0]),
        }
        check_workdir(workdir, identity)
        ckpt = Checkpointer(workdir / "checkpoints")
        latest = ckpt.latest_epoch()
        if latest is not None:
            tree = ckpt.restore(latest, _saved(state))
            state = state.replace(**tree)
            start = min(latest, cfg.epochs)
        metrics_path = workdir / "metrics.jsonl"
        history = _truncate_metrics(metrics_path, start)
    state = jax.device_put(state, device)

    stop = cfg.epochs if until_epoch is None else min(max(until_epoch, start), cfg.epochs)
    bar = _progress(progress, start, cfg.epochs, f"darts {cfg.epochs} epochs")
    for epoch in range(start, stop):
        t0 = time.perf_counter()
        epoch_key = jax.device_put(jax.random.fold_in(k_train, epoch), device)
        state, sums = _train_epoch(state, train_x, train_y, epoch_key)
        line: dict[str, Any] = {
            "epoch": epoch + 1,
            "lr": float(lr_at_epoch(cfg, epoch)),
            "drop_prob": float(drop_prob_at_epoch(cfg, epoch)),
            **_rates(sums, "train"),
        }
        if valid_x is not None:
            line.update(_rates(_evaluate(state, valid_x, valid_y), "valid"))
        if valid_x is None or epoch >= cfg.epochs - cfg.test_epochs:
            line.update(_rates(_evaluate(state, test_x, test_y), "test"))
        line["epoch_s"] = time.perf_counter() - t0
        history.append(line)
        if workdir is not None:
            with metrics_path.open("a") as f:
                f.write(json.dumps(line) + "\n")
            ckpt.save(epoch + 1, _saved(state))
        bar.update(1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in line.items() if k.endswith("_acc")})
    bar.close()
    if ckpt is not None:
        ckpt.close()

    summary = _summary(history, cfg)
    summary.update(
        {
            "genotype": str(genotype),
            "params": param_counts(state.model, train_x.shape[1])["network"],
            "epochs": cfg.epochs,
            "epochs_done": stop,
            "complete": stop == cfg.epochs,
            "num_train": int(n_train),
            "resumed_from_epoch": start if start else None,
            "wall_s": time.perf_counter() - t_start,
            "device": device_name(),
        }
    )
    if workdir is not None:
        (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    summary["history"] = history
    summary["state"] = state
    return summary


def _saved(state: DartsState) -> dict[str, Any]:
    return {
        "params": state.params,
        "batch_stats": state.batch_stats,
        "opt_state": state.opt_state,
        "step": state.step,
    }


def _summary(history: list[dict], cfg: DartsTrainConfig) -> dict[str, Any]:
    """Reward and last accuracies from the per-epoch lines."""
    last = lambda field: next((ln[field] for ln in reversed(history) if field in ln), None)  # noqa: E731
    if cfg.has_validation:
        tail = [ln["valid_acc"] for ln in history[-cfg.reward_epochs :]]
        reward = float(np.mean(tail)) if tail else None
    else:
        reward = last("test_acc")
    return {"reward": reward, "valid_acc": last("valid_acc"), "test_acc": last("test_acc")}


@functools.lru_cache(maxsize=2)
def _cached_cifar10(folder: str) -> CIFAR10:
    data = load_cifar10(folder)
    for a in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        a.setflags(write=False)
    return data


def evaluate_genotype(
    genotype: Any,
    data_dir: str | Path | None = None,
    cfg: DartsTrainConfig = PRESETS["proxy"],
    key: chex.PRNGKey | None = None,
) -> tuple[float, float]:
    """The search evaluator: trains ``genotype`` with ``cfg`` and returns ``(reward, cost_s)``.

    Args:
      genotype: a :class:`Genotype`, its string form or a name in ``GENOTYPES``.
      data_dir: the CIFAR-10 batches folder (default ``$A2V_CIFAR10_DIR``); loaded once per process.
      cfg: the training config; default the 50-epoch ``proxy``.
      key: PRNG key of the run (default ``jax.random.key(0)``).

    Returns:
      ``(valid_acc, cost_s)``: the reward (``proxy``: mean validation accuracy over the last 5
      epochs, a fraction) and the wall seconds spent (compilation, training and evaluation).
    """
    from a2v_jax.darts.cifar import resolve_cifar10_dir

    t0 = time.perf_counter()
    data = _cached_cifar10(str(resolve_cifar10_dir(data_dir)))
    summary = train_network(genotype, data, cfg, jax.random.key(0) if key is None else key)
    return float(summary["reward"]), time.perf_counter() - t0


def make_evaluator(
    data_dir: str | Path | None = None, cfg: DartsTrainConfig = PRESETS["proxy"], seed: int = 0
) -> Callable[[Any], tuple[float, float]]:
    """``evaluator(genotype) -> (reward, cost_s)`` for the search; key ``fold_in(key(seed), crc32(cell))``."""
    base = jax.random.key(seed)

    def evaluator(genotype: Any) -> tuple[float, float]:
        g = resolve_genotype(genotype)
        key = jax.random.fold_in(base, zlib.crc32(str(g).encode()) & 0x7FFFFFFF)
        return evaluate_genotype(g, data_dir, cfg, key)

    return evaluator


def subset(data: CIFAR10, num_train: int | None = None, num_test: int | None = None) -> CIFAR10:
    """The first ``num_train`` training and ``num_test`` test images (smoke runs); None keeps all."""
    return dataclasses.replace(
        data,
        train_images=data.train_images[:num_train],
        train_labels=data.train_labels[:num_train],
        test_images=data.test_images[:num_test],
        test_labels=data.test_labels[:num_test],
    )


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m a2v_jax.darts.train",
        description="Train DARTS's CIFAR-10 network of a genotype (arch2vec's proxy or final settings).",
    )
    p.add_argument("--genotype", required=True, help="arch2vec_bo, arch2vec_rl or a Genotype(...) string")
    p.add_argument("--preset", default="final", choices=sorted(PRESETS))
    p.add_argument("--data-dir", help="cifar-10-batches-py folder (default $A2V_CIFAR10_DIR)")
    p.add_argument("--workdir", required=True, help="checkpoints, metrics.jsonl, summary.json; resumes")
    p.add_argument("--seed", type=int, default=1, help="PRNG seed (arch2vec's final run: 1)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--eval-batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--init-channels", type=int)
    p.add_argument("--layers", type=int)
    p.add_argument("--drop-path", type=float)
    p.add_argument("--cutout", type=int)
    p.add_argument("--train-portion", type=float)
    p.add_argument("--no-auxiliary", action="store_true")
    p.add_argument("--limit-train", type=int, help="use only the first N training images (smoke runs)")
    p.add_argument("--limit-test", type=int, help="use only the first N test images (smoke runs)")
    p.add_argument("--until-epoch", type=int, help="stop after this epoch; rerun to go on")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parses arguments, trains, prints the summary as JSON."""
    args = _parser().parse_args(argv)
    cfg = get_preset(
        args.preset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        eval_batch_size=args.eval_batch_size,
        lr=args.lr,
        init_channels=args.init_channels,
        layers=args.layers,
        drop_path=args.drop_path,
        cutout=args.cutout,
        train_portion=args.train_portion,
        auxiliary=False if args.no_auxiliary else None,
    )
    try:
        genotype = resolve_genotype(args.genotype)
        data = subset(load_cifar10(args.data_dir), args.limit_train, args.limit_test)
    except ValueError as e:  # DataError, bad genotype: say what, no traceback, exit 2 as every command
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from e
    summary = train_network(
        genotype,
        data,
        cfg,
        jax.random.key(args.seed),
        workdir=args.workdir,
        progress=not args.no_progress,
        until_epoch=args.until_epoch,
    )
    printable = {k: v for k, v in summary.items() if k not in ("history", "state")}
    print(json.dumps(printable, indent=2))
    return printable


if __name__ == "__main__":
    main()
