"""Pure training functions: determinism, jit, vmap populations, padding invariance, metrics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from a2v_jax.pretrain.config import ModelConfig, TrainConfig, get_preset
from a2v_jax.pretrain.graphs import GraphBatch, make_graph_batch
from a2v_jax.pretrain.losses import vae_loss
from a2v_jax.pretrain.model import Encoder, GraphVAE, VAEOutput
from a2v_jax.pretrain.steps import (
    bn_mask,
    create_state,
    embed,
    eval_step,
    finalize_eval,
    train_epoch,
    train_step,
)
from a2v_jax.spaces.nb201 import all_codes, encode_codes

TINY = ModelConfig(hidden=16, latent=4)


def _data(n: int = 40, seed: int = 0) -> GraphBatch:
    codes = all_codes()[np.random.default_rng(seed).choice(15625, n, replace=False)]
    return jax.tree.map(jnp.asarray, make_graph_batch(*encode_codes(codes)))


def _state(preset="paper", seed=0):
    return create_state(jax.random.key(seed), 8, 7, get_preset(preset), TINY, TrainConfig())


def _sgd(state):
    """The same state with plain SGD, so float noise is not amplified as by Adam's sign-like first steps."""
    return state.replace(tx=optax.sgd(0.05), opt_state=optax.sgd(0.05).init(state.params))


def _leaves_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


@pytest.mark.parametrize("preset", ["paper", "default"])
def test_train_step__finite_loss_and_gradients(preset):
    state = _state(preset)
    batch = jax.tree.map(lambda x: x[:8], _data())
    new, metrics = jax.jit(train_step)(state, batch, jax.random.key(1))
    assert np.isfinite(float(metrics["loss"]))
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(new.params))
    assert not _leaves_equal(new.params, state.params)
    assert int(new.step) == 1


def test_train_step__jit_matches_eager():
    # SGD instead of Adam: Adam's first step is ~lr*sign(g), which amplifies float noise on tiny
    # gradients; with SGD the parameter change is the gradient itself.
    state = _sgd(_state())
    batch = jax.tree.map(lambda x: x[:8], _data())
    a, ma = jax.jit(train_step)(state, batch, jax.random.key(1))
    b, mb = train_step(state, batch, jax.random.key(1))
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ma["loss"], mb["loss"], rtol=1e-5)


def test_train_epoch__same_key_gives_bit_equal_parameters():
    data = _data()
    order = jnp.arange(40, dtype=jnp.int32).reshape(5, 8)
    run = jax.jit(train_epoch)
    a, _, _ = run(_state(seed=3), data, order, jax.random.key(7))
    b, _, _ = run(_state(seed=3), data, order, jax.random.key(7))
    c, _, _ = run(_state(seed=3), data, order, jax.random.key(8))
    assert _leaves_equal(a.params, b.params)
    assert not _leaves_equal(a.params, c.params)


def test_train_epoch__vmapped_population_equals_loop():
    data = _data()
    order = jnp.arange(40, dtype=jnp.int32).reshape(5, 8)
    keys = jnp.stack([jax.random.key(1), jax.random.key(2)])
    states = jax.vmap(lambda k: _sgd(create_state(k, 8, 7, get_preset("paper"), TINY)))(keys)
    pop, pop_losses, _ = jax.jit(jax.vmap(train_epoch, in_axes=(0, None, None, 0)))(states, data, order, keys)
    for m in range(2):
        single = _sgd(create_state(keys[m], 8, 7, get_preset("paper"), TINY))
        one, losses, _ = jax.jit(train_epoch)(single, data, order, keys[m])
        for x, y in zip(jax.tree.leaves(one.params), jax.tree.leaves(pop.params), strict=True):
            np.testing.assert_allclose(x, y[m], rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(losses["loss"], pop_losses["loss"][m], rtol=1e-5)


def test_train_epoch__no_retrace_on_second_epoch():
    data = _data()
    traces = []

    def counted(state, data, order, key):
        traces.append(1)
        return train_epoch(state, data, order, key)

    run = jax.jit(counted)
    state = _state()
    for epoch in range(2):
        order = jax.random.permutation(jax.random.key(epoch), 40).astype(jnp.int32).reshape(5, 8)
        state, _, _ = run(state, data, order, jax.random.key(epoch))
    assert len(traces) == 1


def _pad_nodes(batch: GraphBatch, extra: int) -> GraphBatch:
    """Adds ``extra`` padded nodes (no op, no edge) to every graph, as NB101's zero padding does."""
    b, n, c = batch.ops.shape
    ops = jnp.concatenate([batch.ops, jnp.zeros((b, extra, c))], 1)
    adj = jnp.pad(batch.adj, ((0, 0), (0, extra), (0, extra)))
    mask = jnp.concatenate([batch.node_mask, jnp.zeros((b, extra), bool)], 1)
    return batch.replace(ops=ops, adj=adj, node_mask=mask)


def _pad(batch: GraphBatch, extra_nodes: int, extra_graphs: int) -> GraphBatch:
    padded = _pad_nodes(batch, extra_nodes)
    padded = jax.tree.map(lambda x: jnp.concatenate([x, x[:extra_graphs]], 0), padded)
    return padded.replace(graph_mask=padded.graph_mask.at[batch.num_graphs :].set(False))


def test_default_preset__encoder_and_batchnorm_invariant_to_padding():
    batch = jax.tree.map(lambda x: x[:8], _data())
    padded = _pad(batch, 3, 2)
    state = _state("default")  # parameters do not depend on the node count
    model = state.model

    def encode(b):
        return Encoder(model.cfg).apply(
            {"params": state.params["encoder"], "batch_stats": state.batch_stats["encoder"]},
            b,
            bn_mask(b, state.preset),
            True,
            mutable=["batch_stats"],
        )

    (mu_a, ls_a), stats_a = encode(batch)
    (mu_b, ls_b), stats_b = encode(padded)
    np.testing.assert_allclose(mu_a, mu_b[:8, :8], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ls_a, ls_b[:8, :8], rtol=1e-5, atol=1e-5)
    for x, y in zip(jax.tree.leaves(stats_a), jax.tree.leaves(stats_b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    # Eval mode: counts and the node-mean embedding ignore padding too.
    sa, sb = eval_step(state, batch), eval_step(state, padded)
    for key in ("ops_correct", "nodes", "adj_correct", "pairs", "graphs_exact", "graphs"):
        assert float(sa[key]) == float(sb[key]), key
    np.testing.assert_allclose(
        embed(state, batch, chunk=8), embed(state, padded, chunk=10)[:8], rtol=1e-5, atol=1e-5
    )


def test_default_preset__loss_invariant_to_padding():
    batch = jax.tree.map(lambda x: x[:6], _data())
    padded = _pad(batch, 2, 3)
    rng = np.random.default_rng(0)
    shapes = [(9, 10, 7), (9, 10, 10), (9, 10, 4), (9, 10, 4)]
    big = VAEOutput(*(jnp.asarray(rng.normal(size=s), jnp.float32) for s in shapes))
    small = VAEOutput(
        big.op_logits[:6, :8], big.adj_logits[:6, :8, :8], big.mu[:6, :8], big.log_sigma[:6, :8]
    )
    la, aux_a = vae_loss(small, batch, get_preset("default"))
    lb, aux_b = vae_loss(big, padded, get_preset("default"))
    np.testing.assert_allclose(la, lb, rtol=1e-6)
    for k in aux_a:
        np.testing.assert_allclose(aux_a[k], aux_b[k], rtol=1e-6)
    # The paper preset counts padded nodes, as the original does: the loss changes.
    lp_a, _ = vae_loss(small, batch, get_preset("paper"))
    lp_b, _ = vae_loss(big, padded, get_preset("paper"))
    assert abs(float(lp_a) - float(lp_b)) > 1e-4


def test_eval_step__counts_follow_the_original_metrics():
    data = jax.tree.map(lambda x: x[:6], _data())
    state = _state()
    sums = eval_step(state, data)
    out = state.apply_fn(
        {"params": state.params, "batch_stats": state.batch_stats}, data, data.node_mask, False
    )
    assert isinstance(out, VAEOutput)
    prob = np.asarray(jax.nn.sigmoid(out.adj_logits))
    adj = np.asarray(data.adj)
    upper = np.triu(np.ones((8, 8), bool), 1)
    edges = (adj > 0) & upper
    non_edges = (adj == 0) & upper
    m = finalize_eval(sums)
    np.testing.assert_allclose(m["mean_corr_adj"], prob[edges].sum() / edges.sum(), rtol=1e-5)
    np.testing.assert_allclose(m["mean_fal_pos_adj"], prob[non_edges].sum() / non_edges.sum(), rtol=1e-5)
    np.testing.assert_allclose(m["acc_adj"], ((prob > 0.5) == (adj > 0))[:, upper].mean(), rtol=1e-6)
    acc_ops = (np.argmax(out.op_logits, -1) == np.argmax(data.ops, -1)).mean()
    np.testing.assert_allclose(m["acc_ops"], acc_ops, rtol=1e-6)


def test_posterior_stats__equal_a_direct_computation():
    from a2v_jax.pretrain.steps import posterior_stats

    data = _data(30)
    state = _state("default")
    stats = posterior_stats(state, data, chunk=8)
    mu, _ = state.model.apply(
        {"params": state.params, "batch_stats": state.batch_stats},
        data,
        data.node_mask,
        method=GraphVAE.encode,
    )
    mu = np.asarray(mu, np.float64)
    mean, cov = stats.mean_cov()
    np.testing.assert_allclose(mean, mu.reshape(30, -1).mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cov, np.cov(mu.reshape(30, -1).T), rtol=1e-3, atol=1e-4)
    m, sd = stats.mean_std()
    np.testing.assert_allclose(sd, mu.std(0, ddof=1), rtol=1e-3, atol=1e-4)
    assert float(stats.count) == 30
