"""Reconstruction and KL losses of arch2vec, for the ``paper`` and ``default`` presets.

``paper`` (``VAEReconstructed_Loss`` of the original, reference §3)::

    L_ops = BCE_mean(sigmoid(op_logits), X)                 # over B*N*C entries
    L_adj = Σ_{i<j} BCE(sigmoid(z_i·z_j), A_ij) / (B*N*N)    # lower triangle counts as 0 in the mean
    KL    = -0.5/(B*N) * mean_{b,n} Σ_d (1 + 2ℓ - μ² - exp(ℓ)²)

with PyTorch's clamp of log at -100. ``default`` is the ELBO of whole graphs: softmax
cross-entropy summed over real nodes, adjacency BCE summed over real upper-triangle pairs and
``β`` x the KL summed over real nodes, each averaged over graphs.
B counts real graphs only, so a padded last batch behaves like the original's smaller one.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from a2v_jax.pretrain.config import Preset
from a2v_jax.pretrain.graphs import GraphBatch
from a2v_jax.pretrain.model import VAEOutput


def _clamped_bce(logits: chex.Array, target: chex.Array) -> chex.Array:
    """Elementwise PyTorch ``BCELoss(sigmoid(logits), target)`` with log clamped at -100."""
    log_p = jnp.maximum(jax.nn.log_sigmoid(logits), -100.0)
    log_1mp = jnp.maximum(jax.nn.log_sigmoid(-logits), -100.0)
    return -(target * log_p + (1.0 - target) * log_1mp)


def strict_upper(n: int) -> chex.Array:
    """``(N, N)`` bool mask of the strict upper triangle."""
    return jnp.triu(jnp.ones((n, n), dtype=bool), 1)


def kl_per_node(mu: chex.Array, log_sigma: chex.Array) -> chex.Array:
    """``KL(N(μ, σ²) || N(0, I))`` summed over the latent axis: ``(..., D) -> (...)``."""
    return 0.5 * jnp.sum(jnp.square(mu) + jnp.exp(2.0 * log_sigma) - 1.0 - 2.0 * log_sigma, axis=-1)


def vae_loss(
    out: VAEOutput, batch: GraphBatch, preset: Preset, with_kl: bool = True
) -> tuple[chex.Array, dict[str, chex.Array]]:
    """The training loss of one batch.

    Args:
      out: the model's forward pass.
      batch: the target graphs.
      preset: selects the op loss and the reduction.
      with_kl: False for the plain autoencoders (``ModelConfig.variational`` off): the loss is the
        reconstruction alone and the reported ``kl`` is 0.

    Returns:
      ``(loss, {"loss_ops", "loss_adj", "kl"})``, all scalars; ``kl`` is the mean per-node KL.
    """
    b, n, c = batch.ops.shape
    g = batch.graph_mask.astype(jnp.float32)  # (B,)
    num_graphs = jnp.maximum(g.sum(), 1.0)
    upper = strict_upper(n)
    adj_bce = _clamped_bce(out.adj_logits, batch.adj) * upper  # (B, N, N)
    kl = kl_per_node(out.mu, out.log_sigma)  # (B, N)
    if preset.mask_padding:
        node = batch.node_mask.astype(jnp.float32) * g[:, None]  # (B, N)
        num_nodes = jnp.maximum(node.sum(), 1.0)
    else:
        node = jnp.broadcast_to(g[:, None], (b, n))
        num_nodes = num_graphs * n

    if preset.op_loss == "bce":
        per_node = _clamped_bce(out.op_logits, batch.ops).sum(-1) / c  # (B, N)
    else:
        per_node = -jnp.sum(batch.ops * jax.nn.log_softmax(out.op_logits), axis=-1)
    mean_kl = jnp.sum(kl * node) / num_nodes
    if preset.reduction == "paper":
        loss_ops = jnp.sum(per_node * node) / num_nodes
        loss_adj = jnp.sum(adj_bce * g[:, None, None]) / (num_graphs * n * n)
        kl_term = mean_kl / (num_graphs * n)
    else:
        # The ELBO of a whole graph: sums over its real nodes and node pairs, averaged over graphs.
        pair = node[:, :, None] * node[:, None, :] * upper
        loss_ops = jnp.sum(per_node * node) / num_graphs
        loss_adj = jnp.sum(adj_bce * pair) / num_graphs
        kl_term = preset.beta * jnp.sum(kl * node) / num_graphs
    if not with_kl:  # a plain autoencoder: no KL term at all (its log σ is a dummy)
        kl_term = mean_kl = jnp.zeros(())
    loss = loss_ops + loss_adj + kl_term
    return loss, {"loss_ops": loss_ops, "loss_adj": loss_adj, "kl": mean_kl}
