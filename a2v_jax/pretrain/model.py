"""The arch2vec variational graph autoencoder (reference §3) in Flax Linen on jraph graphs.

Encoder: 4 GIN layers on the symmetrised adjacency ``Â``::

    agg     = (1 + ε_l) h + Σ_j Â_ij h_j          # jraph segment_sum over edges
    m       = Lin2(ReLU(BN_a(Lin1(agg))))
    h^{l+1} = ReLU(BN_b(m))

then per-node heads ``μ = fc1(h)`` and ``ℓ = fc2(h)`` (``ℓ`` is log σ). Decoder: dropout on
``z``, op logits ``Linear(z)`` and adjacency logits ``z zᵀ``. The model returns logits; losses
apply the sigmoid / softmax (``a2v_jax.pretrain.losses``).

The baselines of the paper's pretraining table (``ModelConfig.encoder`` / ``variational``,
:data:`a2v_jax.pretrain.config.MODEL_VARIANTS`) swap the encoder for Kipf & Welling's GCN
(:class:`GCNEncoder`) and/or drop the sampling and the ``log σ`` head; the decoder is shared.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from a2v_jax.pretrain.config import ModelConfig
from a2v_jax.pretrain.graphs import GraphBatch, to_graphs_tuple


def torch_kernel_init(key, shape, dtype=jnp.float32):
    """PyTorch ``nn.Linear`` weight init: U(±1/sqrt(fan_in))."""
    bound = 1.0 / jnp.sqrt(shape[0])
    return jax.random.uniform(key, shape, dtype, -bound, bound)


def _torch_dense(features: int, fan_in: int, name: str | None = None) -> nn.Dense:
    bound = 1.0 / float(fan_in) ** 0.5

    def bias_init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return nn.Dense(features, kernel_init=torch_kernel_init, bias_init=bias_init, name=name)


class MaskedBatchNorm(nn.Module):
    """BatchNorm1d over rows ``(R, F)`` with PyTorch semantics and a row mask.

    Training normalises with the biased batch variance of the masked rows and updates running
    statistics with the unbiased one (as ``torch.nn.BatchNorm1d``); eval uses running statistics.
    """

    momentum: float = 0.1
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: chex.Array, mask: chex.Array, train: bool) -> chex.Array:
        features = x.shape[-1]
        ra_mean = self.variable("batch_stats", "mean", jnp.zeros, (features,), jnp.float32)
        ra_var = self.variable("batch_stats", "var", jnp.ones, (features,), jnp.float32)
        scale = self.param("scale", nn.initializers.ones, (features,))
        bias = self.param("bias", nn.initializers.zeros, (features,))
        if train:
            w = mask.astype(x.dtype)[:, None]  # (R, 1)
            n = jnp.maximum(w.sum(), 1.0)
            mean = (x * w).sum(0) / n
            var = (jnp.square(x - mean) * w).sum(0) / n
            if not self.is_initializing():
                unbiased = var * n / jnp.maximum(n - 1.0, 1.0)
                ra_mean.value = (1 - self.momentum) * ra_mean.value + self.momentum * mean
                ra_var.value = (1 - self.momentum) * ra_var.value + self.momentum * unbiased
        else:
            mean, var = ra_mean.value, ra_var.value
        return (x - mean) * jax.lax.rsqrt(var + self.epsilon) * scale + bias


def gin_aggregate(graph: jraph.GraphsTuple, h: chex.Array, eps: chex.Array) -> chex.Array:
    """GIN sum aggregation through jraph: ``(1 + ε) h_i + Σ_{edges j->i} h_j``; ``h`` is ``(B*N, F)``."""
    messages = h[graph.senders] * graph.edges[:, None]  # (B*E, F); padded slots carry 0
    summed = jraph.segment_sum(messages, graph.receivers, num_segments=h.shape[0])
    return (1.0 + eps) * h + summed


class GINLayer(nn.Module):
    """One GIN layer: sum aggregation, 2-layer MLP with inner BatchNorm, outer BatchNorm + ReLU."""

    hidden: int
    momentum: float
    epsilon: float

    @nn.compact
    def __call__(self, graph: jraph.GraphsTuple, h: chex.Array, row_mask: chex.Array, train: bool):
        eps = self.param("eps", nn.initializers.zeros, ())
        agg = gin_aggregate(graph, h, eps)
        m = _torch_dense(self.hidden, h.shape[-1], "lin1")(agg)
        m = nn.relu(MaskedBatchNorm(self.momentum, self.epsilon, name="bn_mlp")(m, row_mask, train))
        m = _torch_dense(self.hidden, self.hidden, "lin2")(m)
        return nn.relu(MaskedBatchNorm(self.momentum, self.epsilon, name="bn_out")(m, row_mask, train))


class Encoder(nn.Module):
    """GIN encoder: ``(B, N, C)`` graphs -> per-node ``μ`` and ``log σ``, each ``(B, N, D)``.

    Without ``cfg.variational`` there is no ``fc_log_sigma`` head and ``log σ`` is returned as
    zeros (unused: no sampling, no KL term).
    """

    cfg: ModelConfig

    @nn.compact
    def __call__(self, batch: GraphBatch, bn_mask: chex.Array, train: bool):
        b, n, _ = batch.ops.shape
        graph = to_graphs_tuple(batch)
        row_mask = bn_mask.reshape(b * n)
        h = graph.nodes
        for layer in range(self.cfg.num_layers):
            h = GINLayer(self.cfg.hidden, self.cfg.bn_momentum, self.cfg.bn_eps, name=f"gin_{layer}")(
                graph, h, row_mask, train
            )
        mu = _torch_dense(self.cfg.latent, self.cfg.hidden, "fc_mu")(h)
        if self.cfg.variational:
            log_sigma = _torch_dense(self.cfg.latent, self.cfg.hidden, "fc_log_sigma")(h)
        else:
            log_sigma = jnp.zeros_like(mu)
        return mu.reshape(b, n, -1), log_sigma.reshape(b, n, -1)


def gcn_propagate(graph: jraph.GraphsTuple, h: chex.Array) -> chex.Array:
    """Kipf & Welling's propagation ``D^-1/2 (Â + I) D^-1/2 h`` through jraph; ``h`` is ``(B*N, F)``.

    ``d_i = 1 + Σ_j Â_ij`` counts the self-loop, so an isolated (e.g. padded) node maps to itself
    and never reaches another node.
    """
    num = h.shape[0]
    deg = 1.0 + jraph.segment_sum(graph.edges, graph.receivers, num_segments=num)  # (B*N,)
    inv_sqrt = jax.lax.rsqrt(deg)
    weight = graph.edges * inv_sqrt[graph.senders] * inv_sqrt[graph.receivers]  # (B*E,)
    summed = jraph.segment_sum(h[graph.senders] * weight[:, None], graph.receivers, num_segments=num)
    return summed + h / deg[:, None]


class GCNEncoder(nn.Module):
    """Kipf & Welling's GCN encoder of the GAE / VGAE baselines (reference §9.3).

    ``h^{l+1} = ReLU(P h^l W_l)`` for ``num_layers - 1`` layers of width ``hidden``, then linear
    GCN heads ``μ = P h W_μ`` and (variational) ``log σ = P h W_σ``, with
    ``P = D^-1/2 (Â + I) D^-1/2`` (:func:`gcn_propagate`): ``num_layers`` propagations, the
    receptive field of arch2vec's GIN. Glorot-uniform weights without bias, as Kipf & Welling;
    no BatchNorm, so ``bn_mask`` is unused and padded nodes (no edges) never touch real ones.
    """

    cfg: ModelConfig

    @nn.compact
    def __call__(self, batch: GraphBatch, bn_mask: chex.Array, train: bool):
        del bn_mask, train
        b, n, _ = batch.ops.shape
        graph = to_graphs_tuple(batch)
        dense = lambda f, name: nn.Dense(  # noqa: E731
            f, use_bias=False, kernel_init=nn.initializers.glorot_uniform(), name=name
        )
        h = graph.nodes
        for layer in range(self.cfg.num_layers - 1):
            h = nn.relu(gcn_propagate(graph, dense(self.cfg.hidden, f"gcn_{layer}")(h)))
        mu = gcn_propagate(graph, dense(self.cfg.latent, "gcn_mu")(h))
        if self.cfg.variational:
            log_sigma = gcn_propagate(graph, dense(self.cfg.latent, "gcn_log_sigma")(h))
        else:
            log_sigma = jnp.zeros_like(mu)
        return mu.reshape(b, n, -1), log_sigma.reshape(b, n, -1)


class Decoder(nn.Module):
    """Dropout, op logits ``Linear(D -> C)`` and inner-product adjacency logits ``z zᵀ``."""

    num_ops: int
    dropout: float

    @nn.compact
    def __call__(self, z: chex.Array, train: bool):
        z = nn.Dropout(self.dropout, deterministic=not train)(z)
        op_logits = _torch_dense(self.num_ops, z.shape[-1], "fc_ops")(z)  # (B, N, C)
        adj_logits = jnp.einsum("bnd,bmd->bnm", z, z)  # (B, N, N)
        return op_logits, adj_logits


class VAEOutput(NamedTuple):
    """What one forward pass returns."""

    op_logits: chex.Array  # (B, N, C)
    adj_logits: chex.Array  # (B, N, N)
    mu: chex.Array  # (B, N, D)
    log_sigma: chex.Array  # (B, N, D)


class GraphVAE(nn.Module):
    """arch2vec's GIN VAE. Call with ``rngs={'latent': k1, 'dropout': k2}`` when ``train``.

    ``cfg.encoder`` picks the GIN or the GCN encoder; without ``cfg.variational`` it is a plain
    autoencoder (``z = μ`` also in training).
    """

    cfg: ModelConfig
    num_ops: int

    def setup(self):
        if self.cfg.encoder == "gin":
            self.encoder = Encoder(self.cfg)
        elif self.cfg.encoder == "gcn":
            self.encoder = GCNEncoder(self.cfg)
        else:
            raise ValueError(f"unknown encoder {self.cfg.encoder!r}; expected 'gin' or 'gcn'")
        self.decoder = Decoder(self.num_ops, self.cfg.dropout)

    def __call__(self, batch: GraphBatch, bn_mask: chex.Array, train: bool) -> VAEOutput:
        chex.assert_rank([batch.ops, batch.adj], 3)
        mu, log_sigma = self.encoder(batch, bn_mask, train)
        if train and self.cfg.variational:
            noise = jax.random.normal(self.make_rng("latent"), mu.shape, mu.dtype)
            z = mu + noise * jnp.exp(log_sigma)
        else:
            z = mu
        op_logits, adj_logits = self.decoder(z, train)
        return VAEOutput(op_logits, adj_logits, mu, log_sigma)

    def encode(self, batch: GraphBatch, bn_mask: chex.Array):
        """Eval-mode encoder: per-node ``(μ, log σ)``."""
        return self.encoder(batch, bn_mask, False)

    def decode(self, z: chex.Array):
        """Eval-mode decoder: ``(op_logits, adj_logits)`` for latents ``(B, N, D)``."""
        return self.decoder(z, False)
