"""Pure pretraining functions: ``train_step``, ``eval_step``, a whole epoch as one ``lax.scan``.

Everything here is a pure function of explicit state and keys. The preset and model config
travel as static fields of :class:`A2VState`, so ``train_step(state, batch, key)`` needs nothing
else and ``jax.vmap`` over a stacked state trains a population of models at once.

Example::

    state = create_state(jax.random.key(3), num_nodes=8, num_ops=7, preset=get_preset("paper"))
    state, metrics = jax.jit(train_step)(state, batch, jax.random.key(0))
"""

from __future__ import annotations

import functools
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from flax.training import train_state

from a2v_jax.pretrain.config import ModelConfig, Preset, TrainConfig
from a2v_jax.pretrain.graphs import GraphBatch, take
from a2v_jax.pretrain.losses import strict_upper, vae_loss
from a2v_jax.pretrain.model import GraphVAE


class A2VState(train_state.TrainState):
    """Flax ``TrainState`` plus BatchNorm statistics and the static preset."""

    batch_stats: Any = None
    preset: Preset = struct.field(pytree_node=False, default=None)
    model: GraphVAE = struct.field(pytree_node=False, default=None)


@struct.dataclass
class PriorStats:
    """Running sums of ``μ`` over an epoch, for the prior used in validity checks."""

    total: chex.Array  # (N, D) Σ μ over training graphs
    total_sq: chex.Array  # (N, D) Σ μ²
    outer: chex.Array  # (N*D, N*D) Σ vec(μ) vec(μ)ᵀ, for the joint (full-covariance) prior
    count: chex.Array  # () number of training graphs

    @classmethod
    def of_batch(cls, mu: chex.Array, graph_mask: chex.Array) -> PriorStats:
        """Sums over the real graphs of one batch of latents ``(B, N, D)``."""
        g = graph_mask.astype(mu.dtype)[:, None, None]
        flat = (mu * g).reshape(mu.shape[0], -1)  # (B, N*D), padding graphs zeroed
        return cls(
            total=jnp.sum(mu * g, 0),
            total_sq=jnp.sum(jnp.square(mu) * g, 0),
            outer=flat.T @ flat,
            count=jnp.sum(graph_mask.astype(jnp.float32)),
        )

    def mean_std(self) -> tuple[chex.Array, chex.Array]:
        """Per-(node, dim) mean and unbiased std, as ``torch.std`` computes them (``(N, D)`` each)."""
        n = jnp.maximum(self.count, 2.0)
        mean = self.total / n
        var = (self.total_sq - n * jnp.square(mean)) / (n - 1.0)
        return mean, jnp.sqrt(jnp.maximum(var, 0.0))

    def mean_cov(self) -> tuple[chex.Array, chex.Array]:
        """Joint mean ``(N*D,)`` and unbiased covariance ``(N*D, N*D)`` of the flattened latents."""
        n = jnp.maximum(self.count, 2.0)
        mean = self.total.reshape(-1) / n
        cov = (self.outer - n * jnp.outer(mean, mean)) / (n - 1.0)
        return mean, 0.5 * (cov + cov.T)


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """``clip_by_global_norm(5)`` then Adam(1e-3), as the original."""
    return optax.chain(optax.clip_by_global_norm(cfg.grad_clip), optax.adam(cfg.lr))


def create_state(
    key: chex.PRNGKey,
    num_nodes: int,
    num_ops: int,
    preset: Preset,
    model_cfg: ModelConfig = ModelConfig(),
    train_cfg: TrainConfig = TrainConfig(),
) -> A2VState:
    """Initialises parameters (PyTorch-style init), BatchNorm statistics and the optimiser."""
    model = GraphVAE(model_cfg, num_ops)
    dummy = GraphBatch(
        ops=jnp.zeros((2, num_nodes, num_ops)),
        adj=jnp.zeros((2, num_nodes, num_nodes)),
        node_mask=jnp.ones((2, num_nodes), bool),
        graph_mask=jnp.ones((2,), bool),
        senders=jnp.zeros((2, 1), jnp.int32),
        receivers=jnp.zeros((2, 1), jnp.int32),
        edge_mask=jnp.zeros((2, 1), bool),
    )
    variables = model.init({"params": key}, dummy, dummy.node_mask, False)
    return A2VState.create(
        apply_fn=model.apply,
        params=variables["params"],
        batch_stats=variables.get("batch_stats", {}),  # the GCN baselines have no BatchNorm
        tx=make_optimizer(train_cfg),
        preset=preset,
        model=model,
    )


def bn_mask(batch: GraphBatch, preset: Preset) -> chex.Array:
    """Rows that enter BatchNorm statistics: real graphs, and real nodes if the preset masks."""
    mask = jnp.broadcast_to(batch.graph_mask[:, None], batch.node_mask.shape)
    return mask & batch.node_mask if preset.mask_padding else mask


def train_step(
    state: A2VState, batch: GraphBatch, key: chex.PRNGKey, train: bool = True
) -> tuple[A2VState, dict]:
    """One optimisation step on one padded batch.

    Args:
      state: the model state; its ``preset`` selects the loss.
      batch: ``B`` graphs, padding graphs marked in ``graph_mask``.
      key: randomness for the reparameterisation and the decoder dropout.
      train: static. True: train mode (batch statistics, which update the running ones;
        ``z = μ + ε·σ``; decoder dropout). False: the step the original takes after
        ``model.eval()``: BatchNorm normalises with its running statistics and leaves them
        unchanged, ``z = μ``, no dropout; gradients and the optimiser update are the same.

    Returns:
      ``(new_state, metrics)`` with ``loss``, ``loss_ops``, ``loss_adj``, ``kl``, ``graphs`` (real
      graphs in the batch) and ``prior``, the :class:`PriorStats` of the ``μ`` this step computed
      (in the mode it ran in).
    """
    latent_key, dropout_key = jax.random.split(key)
    mask = bn_mask(batch, state.preset)
    variables = lambda params: {"params": params, "batch_stats": state.batch_stats}  # noqa: E731

    def loss_fn(params):
        if train:
            out, updates = state.apply_fn(
                variables(params),
                batch,
                mask,
                True,
                rngs={"latent": latent_key, "dropout": dropout_key},
                mutable=["batch_stats"],
            )
            new_stats = updates.get("batch_stats", {})
        else:
            out, new_stats = state.apply_fn(variables(params), batch, mask, False), state.batch_stats
        loss, aux = vae_loss(out, batch, state.preset, with_kl=state.model.cfg.variational)
        return loss, (aux, out.mu, new_stats)

    (loss, (aux, mu, new_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads).replace(batch_stats=new_stats)
    metrics = {"loss": loss, **aux, "prior": PriorStats.of_batch(mu, batch.graph_mask)}
    metrics["graphs"] = metrics["prior"].count
    return state, metrics


def epoch_order(key: chex.PRNGKey, num_train: int, batch_size: int) -> chex.Array:
    """A shuffled order of ``num_train`` graphs as ``(num_batches, batch_size)``, ``-1`` padded."""
    num_batches = -(-num_train // batch_size)
    perm = jax.random.permutation(key, num_train).astype(jnp.int32)
    pad = num_batches * batch_size - num_train
    return jnp.concatenate([perm, jnp.full((pad,), -1, jnp.int32)]).reshape(num_batches, batch_size)


def train_epoch(
    state: A2VState, data: GraphBatch, order: chex.Array, key: chex.PRNGKey, train: bool = True
) -> tuple[A2VState, dict, PriorStats]:
    """A whole epoch as one ``lax.scan`` over the batches of ``order`` (``(num_batches, B)``).

    Step ``t`` uses ``fold_in(key, t)``; ``train`` (static) is :func:`train_step`'s mode. Returns
    the new state, the epoch's mean losses and the statistics of the ``μ`` of all training graphs
    as the steps computed them.
    """

    def body(state, xs):
        t, idx = xs
        state, m = train_step(state, take(data, idx), jax.random.fold_in(key, t), train)
        return state, m

    steps = jnp.arange(order.shape[0], dtype=jnp.uint32)
    state, ms = jax.lax.scan(body, state, (steps, order))
    w = ms["graphs"]
    losses = {k: jnp.sum(ms[k] * w) / jnp.sum(w) for k in ("loss", "loss_ops", "loss_adj", "kl")}
    prior = jax.tree.map(lambda x: x.sum(0), ms["prior"])
    return state, losses, prior


def scheduled_epoch(
    state: A2VState, data: GraphBatch, order: chex.Array, key: chex.PRNGKey, epoch: chex.Array
) -> tuple[A2VState, dict, PriorStats]:
    """:func:`train_epoch` in the mode the preset's ``train_mode_epochs`` gives epoch ``epoch``.

    ``epoch`` is 0-based and may be traced: epochs ``< train_mode_epochs`` run in train mode,
    later ones in eval mode (``train=False``). Both modes compile into one program and
    ``lax.cond`` runs one of them (the predicate is shared by a vmapped population, so it stays
    a branch); with ``train_mode_epochs=None`` only the train-mode epoch is compiled.
    """
    limit = state.preset.train_mode_epochs
    if limit is None:
        return train_epoch(state, data, order, key)
    return jax.lax.cond(
        jnp.asarray(epoch) < limit,
        functools.partial(train_epoch, train=True),
        functools.partial(train_epoch, train=False),
        state,
        data,
        order,
        key,
    )


def _chunked(data: GraphBatch, chunk: int):
    """Splits a dataset into ``(num_chunks, chunk)`` index blocks, ``-1`` padded."""
    p = data.num_graphs
    num = -(-p // chunk)
    idx = np.full(num * chunk, -1, dtype=np.int32)
    idx[:p] = np.arange(p)
    return jnp.asarray(idx.reshape(num, chunk))


def eval_step(state: A2VState, batch: GraphBatch) -> dict[str, chex.Array]:
    """Eval-mode (``z = μ``) reconstruction counts of one batch (sums, for exact aggregation).

    Counts follow the original's ``get_accuracy`` (reference §5) over the strict upper triangle;
    with ``mask_padding`` only real nodes and real node pairs count. Aggregate with
    :func:`finalize_eval`.
    """
    out = state.apply_fn(
        {"params": state.params, "batch_stats": state.batch_stats}, batch, bn_mask(batch, state.preset), False
    )
    b, n, _ = batch.ops.shape
    g = batch.graph_mask
    node = batch.node_mask & g[:, None] if state.preset.mask_padding else jnp.broadcast_to(g[:, None], (b, n))
    pair = node[:, :, None] & node[:, None, :] & strict_upper(n)
    ops_ok = jnp.argmax(out.op_logits, -1) == jnp.argmax(batch.ops, -1)  # (B, N)
    prob = jax.nn.sigmoid(out.adj_logits)
    edge = batch.adj > 0.5
    adj_ok = (prob > 0.5) == edge
    f32 = jnp.float32
    graph_ok = jnp.all(ops_ok | ~node, -1) & jnp.all(adj_ok | ~pair, (-1, -2)) & g
    return {
        "ops_correct": jnp.sum(ops_ok & node, dtype=f32),
        "nodes": jnp.sum(node, dtype=f32),
        "prob_on_edges": jnp.sum(jnp.where(pair & edge, prob, 0.0)),
        "edges": jnp.sum(pair & edge, dtype=f32),
        "prob_on_non_edges": jnp.sum(jnp.where(pair & ~edge, prob, 0.0)),
        "non_edges": jnp.sum(pair & ~edge, dtype=f32),
        "adj_correct": jnp.sum(adj_ok & pair, dtype=f32),
        "pairs": jnp.sum(pair, dtype=f32),
        "graphs_exact": jnp.sum(graph_ok, dtype=f32),
        "graphs": jnp.sum(g, dtype=f32),
    }


def finalize_eval(sums: dict[str, chex.Array]) -> dict[str, chex.Array]:
    """Turns summed :func:`eval_step` counts into the reported fractions."""
    safe = lambda x: jnp.maximum(x, 1.0)  # noqa: E731
    return {
        "acc_ops": sums["ops_correct"] / safe(sums["nodes"]),
        "mean_corr_adj": sums["prob_on_edges"] / safe(sums["edges"]),
        "mean_fal_pos_adj": sums["prob_on_non_edges"] / safe(sums["non_edges"]),
        "acc_adj": sums["adj_correct"] / safe(sums["pairs"]),
        "recon_exact": sums["graphs_exact"] / safe(sums["graphs"]),
    }


def evaluate(state: A2VState, data: GraphBatch, chunk: int = 500) -> dict[str, chex.Array]:
    """Reconstruction metrics over a whole dataset, scanned in fixed-size chunks."""

    def body(acc, idx):
        sums = eval_step(state, take(data, idx))
        return jax.tree.map(jnp.add, acc, sums), None

    zero = jax.tree.map(
        jnp.zeros_like, jax.eval_shape(eval_step, state, take(data, jnp.zeros(chunk, jnp.int32)))
    )
    sums, _ = jax.lax.scan(body, zero, _chunked(data, chunk))
    return finalize_eval(sums)


def encode_eval(state: A2VState, batch: GraphBatch) -> chex.Array:
    """Eval-mode per-node ``μ`` ``(B, N, D)`` (BatchNorm running statistics, no sampling)."""
    mu, _ = state.apply_fn(
        {"params": state.params, "batch_stats": state.batch_stats},
        batch,
        bn_mask(batch, state.preset),
        method=GraphVAE.encode,
    )
    return mu


def embed(state: A2VState, data: GraphBatch, chunk: int = 1000) -> chex.Array:
    """arch2vec features: the eval-mode ``μ`` averaged over nodes, ``(P, D)``.

    The ``paper`` preset averages over all N nodes (padded ones included, as the original);
    ``mask_padding`` presets average over real nodes only.
    """

    def body(_, idx):
        batch = take(data, idx)
        mu = encode_eval(state, batch)
        if state.preset.mask_padding:
            w = batch.node_mask.astype(mu.dtype)[..., None]
            feat = jnp.sum(mu * w, 1) / jnp.maximum(w.sum(1), 1.0)
        else:
            feat = mu.mean(1)
        return None, feat

    _, feats = jax.lax.scan(body, None, _chunked(data, chunk))
    return feats.reshape(-1, feats.shape[-1])[: data.num_graphs]


def posterior_stats(state: A2VState, data: GraphBatch, chunk: int = 1000) -> PriorStats:
    """:class:`PriorStats` of the eval-mode ``μ`` of ``data`` under the current parameters.

    The original accumulates the ``μ`` of the epoch's training steps, while parameters (and, in
    train mode, batch statistics) change; presets with ``eval_prior`` fit the prior to what the
    final model encodes.
    """

    def body(acc, idx):
        batch = take(data, idx)
        return jax.tree.map(
            jnp.add, acc, PriorStats.of_batch(encode_eval(state, batch), batch.graph_mask)
        ), None

    zero = jax.tree.map(
        jnp.zeros_like, jax.eval_shape(lambda: PriorStats.of_batch(encode_eval(state, data), data.graph_mask))
    )
    stats, _ = jax.lax.scan(body, zero, _chunked(data, chunk))
    return stats


def prior_latents(prior: PriorStats, key: chex.PRNGKey, num: int, joint: bool) -> chex.Array:
    """Draws ``num`` latents ``(num, N, D)`` from a Gaussian fitted to ``μ`` statistics.

    ``joint=False`` is the original (reference §5): independent per-(node, dim) Gaussians,
    ``z = ε·z_std + z_mean``. ``joint=True`` fits one full-covariance Gaussian over all ``N*D``
    coordinates, so the correlations between nodes that the inner-product decoder relies on are
    kept (Cholesky factor with a small jitter).
    """
    n, d = prior.total.shape
    if not joint:
        mean, std = prior.mean_std()
        return jax.random.normal(key, (num, n, d)) * std + mean
    mean, cov = prior.mean_cov()
    jitter = 1e-5 * (jnp.trace(cov) / cov.shape[0] + 1e-12)
    chol = jnp.linalg.cholesky(cov + jitter * jnp.eye(cov.shape[0]))
    eps = jax.random.normal(key, (num, n * d))
    return (mean + eps @ chol.T).reshape(num, n, d)


def decode_latents(state: A2VState, z: chex.Array) -> tuple[chex.Array, chex.Array]:
    """Eval-mode decoding of latents ``(B, N, D)``.

    Returns:
      op indices ``(B, N)`` (argmax) and the adjacency ``(B, N, N)`` int8, ``(p̂ > 0.5)`` on the
      strict upper triangle.
    """
    n = z.shape[1]
    op_logits, adj_logits = state.apply_fn(
        {"params": state.params, "batch_stats": state.batch_stats}, z, method=GraphVAE.decode
    )
    adj = ((adj_logits > 0.0) & strict_upper(n)).astype(jnp.int8)
    return jnp.argmax(op_logits, -1).astype(jnp.int32), adj
