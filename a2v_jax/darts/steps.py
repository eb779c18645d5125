"""The pure steps of DARTS training: the state, one SGD step, one eval step, an epoch, an evaluation.

An epoch is one ``lax.scan`` over batches (one jitted call, :func:`train_epoch`); augmentation and
drop-path run inside the step on device. Each epoch draws a fresh permutation (PyTorch's
``SubsetRandomSampler`` / ``shuffle=True``) and pads the last batch to the batch size with a mask, so
it trains exactly like PyTorch's smaller last batch (masked loss, BN statistics over its real images
only). The learning rate and the drop-path probability change once per epoch
(:mod:`a2v_jax.darts.config`).
"""

from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax
from flax import struct
from flax.training import train_state

from a2v_jax.darts.cifar import augment_batch, normalize
from a2v_jax.darts.config import DartsTrainConfig, drop_prob_at_epoch
from a2v_jax.darts.network import DROP_PATH_RNG, NetworkCIFAR


class DartsState(train_state.TrainState):
    """Flax ``TrainState`` plus BN statistics; the network, config and epoch length are static."""

    batch_stats: Any = None
    model: NetworkCIFAR = struct.field(pytree_node=False, default=None)
    cfg: DartsTrainConfig = struct.field(pytree_node=False, default=None)
    steps_per_epoch: int = struct.field(pytree_node=False, default=1)


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
