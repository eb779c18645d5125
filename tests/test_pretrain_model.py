"""The GIN VAE: shapes, jraph vs dense oracle, gradients, the paper loss against the original's formulas."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from a2v_jax.pretrain.config import ModelConfig, get_preset
from a2v_jax.pretrain.graphs import edge_slots, make_graph_batch, symmetrise, to_graphs_tuple
from a2v_jax.pretrain.losses import vae_loss
from a2v_jax.pretrain.model import GraphVAE, gin_aggregate
from a2v_jax.spaces.nb201 import all_codes, encode_codes

TINY = ModelConfig(hidden=16, latent=4)


def gin_aggregate_dense(adj_sym, h, eps):
    """The oracle: GIN's aggregation on dense ``(B, N, N)`` ``Â`` and ``(B, N, F)`` features."""
    return (1.0 + eps) * h + jnp.einsum("bij,bjf->bif", adj_sym, h)


def _nb201_batch(n: int = 6, seed: int = 0):
    codes = all_codes()[np.random.default_rng(seed).choice(15625, n, replace=False)]
    return make_graph_batch(*encode_codes(codes))


def _random_dags(p: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.triu(rng.integers(0, 2, size=(p, n, n)), 1).astype(np.float32)


def test_symmetrise__matches_original_preprocessing():
    adj = _random_dags(3, 7, 0)
    expected = adj + np.transpose(np.triu(adj, 1), (0, 2, 1))
    np.testing.assert_array_equal(symmetrise(adj), expected)
    assert np.array_equal(symmetrise(adj), np.transpose(symmetrise(adj), (0, 2, 1)))


def test_gin_aggregate__jraph_equals_dense_oracle():
    adj = _random_dags(5, 7, 1)
    ops = np.eye(5, dtype=np.float32)[np.random.default_rng(2).integers(0, 5, (5, 7))]
    batch = make_graph_batch(adj, ops)
    graph = to_graphs_tuple(batch)
    h = jax.random.normal(jax.random.key(0), (5 * 7, 3))
    eps = jnp.float32(0.37)
    sparse = gin_aggregate(graph, h, eps).reshape(5, 7, 3)
    dense = gin_aggregate_dense(jnp.asarray(symmetrise(adj)), h.reshape(5, 7, 3), eps)
    np.testing.assert_allclose(sparse, dense, rtol=1e-6, atol=1e-6)


def test_edge_slots__counts_every_edge_of_symmetrised_adjacency():
    adj = _random_dags(4, 6, 3)
    senders, receivers, mask = edge_slots(adj)
    for g in range(4):
        rebuilt = np.zeros((6, 6))
        rebuilt[receivers[g][mask[g]], senders[g][mask[g]]] += 1
        np.testing.assert_array_equal(rebuilt, symmetrise(adj)[g])


@pytest.mark.parametrize("train", [False, True])
def test_vae__output_shapes(train):
    batch = jax.tree.map(jnp.asarray, _nb201_batch(6))
    model = GraphVAE(TINY, 7)
    variables = model.init(jax.random.key(0), batch, batch.node_mask, False)
    out, _ = model.apply(
        variables,
        batch,
        batch.node_mask,
        train,
        rngs={"latent": jax.random.key(1), "dropout": jax.random.key(2)},
        mutable=["batch_stats"],
    )
    assert out.op_logits.shape == (6, 8, 7)
    assert out.adj_logits.shape == (6, 8, 8)
    assert out.mu.shape == out.log_sigma.shape == (6, 8, 4)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in out)


def test_vae__parameter_shapes_follow_the_original():
    batch = jax.tree.map(jnp.asarray, _nb201_batch(2))
    params = GraphVAE(ModelConfig(), 7).init(jax.random.key(0), batch, batch.node_mask, False)["params"]
    enc = params["encoder"]
    assert enc["gin_0"]["lin1"]["kernel"].shape == (7, 128)
    assert enc["gin_3"]["lin2"]["kernel"].shape == (128, 128)
    assert enc["fc_mu"]["kernel"].shape == enc["fc_log_sigma"]["kernel"].shape == (128, 16)
    assert params["decoder"]["fc_ops"]["kernel"].shape == (16, 7)
    assert [enc[f"gin_{i}"]["eps"].shape for i in range(4)] == [()] * 4


def _np_bce(p, t):
    with np.errstate(divide="ignore"):
        return _np_bce_raw(p, t)


def _np_bce_raw(p, t):
    return -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))


def test_paper_loss__equals_the_original_formulas():
    batch = _nb201_batch(5)
    rng = np.random.default_rng(0)
    from a2v_jax.pretrain.model import VAEOutput

    out = VAEOutput(
        *(rng.normal(size=s).astype(np.float32) for s in [(5, 8, 7), (5, 8, 8), (5, 8, 4), (5, 8, 4)])
    )
    loss, aux = vae_loss(out, jax.tree.map(jnp.asarray, batch), get_preset("paper"))
    sig = 1 / (1 + np.exp(-np.float64(out.op_logits)))
    l_ops = _np_bce(sig, batch.ops).mean()
    pred = np.triu(1 / (1 + np.exp(-np.float64(out.adj_logits))), 1)
    l_adj = _np_bce(np.clip(pred, 0, 1), np.triu(batch.adj, 1))
    l_adj = np.where(np.triu(np.ones((8, 8)), 1) > 0, l_adj, 0).mean()  # lower/diag: BCE(0, 0) = 0
    mu, ls = np.float64(out.mu), np.float64(out.log_sigma)
    kld = -0.5 / (5 * 8) * np.mean(np.sum(1 + 2 * ls - mu**2 - np.exp(ls) ** 2, -1))
    np.testing.assert_allclose(float(aux["loss_ops"]), l_ops, rtol=1e-5)
    np.testing.assert_allclose(float(aux["loss_adj"]), l_adj, rtol=1e-5)
    np.testing.assert_allclose(float(loss), l_ops + l_adj + kld, rtol=1e-5)


def test_paper_loss__padding_graphs_act_like_a_smaller_batch():
    from a2v_jax.pretrain.model import VAEOutput

    batch = jax.tree.map(jnp.asarray, _nb201_batch(4))
    rng = np.random.default_rng(1)
    out = VAEOutput(
        *(rng.normal(size=s).astype(np.float32) for s in [(4, 8, 7), (4, 8, 8), (4, 8, 4), (4, 8, 4)])
    )
    preset = get_preset("paper")
    small = jax.tree.map(lambda x: x[:3], batch)
    loss_small, _ = vae_loss(jax.tree.map(lambda x: x[:3], out), small, preset)
    padded = batch.replace(graph_mask=jnp.array([True, True, True, False]))
    loss_padded, _ = vae_loss(out, padded, preset)
    np.testing.assert_allclose(float(loss_padded), float(loss_small), rtol=1e-6)
