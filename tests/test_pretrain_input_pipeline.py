"""Pretraining on NB101 and DARTS, the NB101 padding rules, and the pretraining-table baselines."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from a2v_jax.embed import load_embeddings
from a2v_jax.pretrain.config import MODEL_VARIANTS, get_preset
from a2v_jax.pretrain.graphs import symmetrise
from a2v_jax.pretrain.input_pipeline import load_space_dataset, prior_validity
from a2v_jax.pretrain.model import GraphVAE, gcn_propagate
from a2v_jax.pretrain.steps import bn_mask, create_state, embed, train_step
from a2v_jax.spaces import darts, nb101

TINY_MODEL = {"hidden": 16, "latent": 4}
step = jax.jit(train_step)
embed_jit = jax.jit(embed)
SUMMARY_KEYS = (
    "acc_ops",
    "acc_adj",
    "recon_exact",
    "validity",
    "validity_strict",
    "uniqueness",
    "uniqueness_strict",
    "space",
    "preset",
    "model",
    "epochs",
    "order",
    "num_train",
    "num_val",
)


@pytest.fixture(scope="module")
def small_nb101():
    """The NB101 cells of at most 5 vertices (2,532, enumerated in 0.1 s) as a stand-in space."""
    return nb101.NB101Space(cells=nb101.enumerate_cells(5, progress=False, workers=1))


@pytest.fixture(scope="module")
def padded_batch(small_nb101):
    """16 cells of 3-5 vertices (so every graph has padded nodes) as a device batch."""
    data = load_space_dataset(small_nb101)
    pick = np.flatnonzero(data.graphs.node_mask.sum(1) < 7)[:16]
    return jax.tree.map(lambda x: jnp.asarray(x[pick]), data.graphs)


def _tiny_state(preset: str, variant: str = "arch2vec", **overrides):
    cfg = dataclasses.replace(MODEL_VARIANTS[variant], **TINY_MODEL, **overrides)
    return create_state(jax.random.key(0), 7, 5, get_preset(preset), cfg)


def _with_padded_features(batch):
    """The batch with every padded node given a non-zero op row (node mask unchanged, no edges)."""
    pad = ~batch.node_mask  # (B, N)
    return batch.replace(ops=jnp.where(pad[..., None], jnp.eye(5)[3], batch.ops))


# --------------------------------------------------------------------------- datasets


def test_nb101_dataset__enumeration_order_ids_and_padding(small_nb101):
    data = load_space_dataset(small_nb101, subset=300)
    cells = small_nb101.cells
    assert data.order == "enumeration" and data.graphs.ops.shape == (300, 7, 5)
    assert list(data.arch_str[:5]) == [cells.hash_hex(i) for i in range(5)]
    assert (data.index == -1).all()
    n = data.graphs.node_mask.sum(1)
    np.testing.assert_array_equal(n, cells.num_vertices[:300])
    # padded rows carry no op and no edge; the output sits at n - 1
    assert not data.graphs.ops[~data.graphs.node_mask].any()
    assert data.graphs.ops[np.arange(300), n - 1, nb101.OUTPUT_IDX].all()
    rows = np.arange(7)[None, :, None] >= n[:, None, None]
    assert not (data.graphs.adj * (rows | np.swapaxes(rows, 1, 2))).any()


def test_nb101_dataset__benchmark_key_order_with_a_table(tmp_path, monkeypatch, small_nb101):
    from test_data_nb101 import CELLS, interleaved, write

    monkeypatch.setenv("A2V_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "nb101").mkdir()
    write(tmp_path / "nb101" / "nasbench_only108.tfrecord", interleaved())
    data = load_space_dataset(small_nb101, data_dir=str(tmp_path / "nb101"))
    assert data.order == "benchmark"
    assert list(data.arch_str) == [c[0] for c in CELLS]  # first appearance in the file
    np.testing.assert_array_equal(data.index, np.arange(len(CELLS)))
    np.testing.assert_array_equal(data.graphs.node_mask.sum(1), [len(c[2]) for c in CELLS])


def test_nb101_dataset__configured_missing_table_raises(tmp_path, small_nb101):
    from a2v_jax.data import DataError, DataNotConfiguredError

    with pytest.raises((DataError, DataNotConfiguredError), match="no such file"):
        load_space_dataset(small_nb101, data_dir=str(tmp_path / "absent"))


def test_darts_dataset__subset_is_the_pool_prefix(tmp_path, monkeypatch):
    monkeypatch.setenv("A2V_CACHE_DIR", str(tmp_path / "cache"))
    data = load_space_dataset(darts.DARTSSpace(), subset=40, progress=False)
    pool = darts.generate_pool(60, 0)
    np.testing.assert_array_equal(darts.cells_from_codes(data.arch_str), pool.cells[:40])
    adj, ops = darts.encode_cells(pool.cells[:40])
    np.testing.assert_array_equal(data.graphs.adj, adj)
    assert data.graphs.node_mask.all() and data.order == "enumeration"
    assert not list((tmp_path / "cache").glob("darts-pool*"))  # a subset is not cached


# --------------------------------------------------------------------------- padding


@pytest.mark.parametrize("variant", ["arch2vec", "gae"])
def test_embedding__default_preset_padding_invariant(padded_batch, variant):
    state = _tiny_state("default", variant)
    state, _ = step(state, padded_batch, jax.random.key(1))  # non-trivial BN statistics
    a = embed_jit(state, padded_batch)
    b = embed_jit(state, _with_padded_features(padded_batch))
    np.testing.assert_array_equal(a, b)

    # training-mode latents of real nodes too (BatchNorm statistics over real nodes only)
    @jax.jit
    def fwd(batch):
        return state.apply_fn(
            {"params": state.params, "batch_stats": state.batch_stats},
            batch,
            bn_mask(batch, state.preset),
            True,
            rngs={"latent": jax.random.key(2), "dropout": jax.random.key(3)},
            mutable=["batch_stats"],
        )[0].mu

    real = padded_batch.node_mask[..., None]
    np.testing.assert_allclose(
        jnp.where(real, fwd(padded_batch), 0), jnp.where(real, fwd(_with_padded_features(padded_batch)), 0)
    )


def test_embedding__paper_preset_averages_padded_nodes(padded_batch):
    state = _tiny_state("paper")
    mu = state.model.apply(
        {"params": state.params, "batch_stats": state.batch_stats},
        padded_batch,
        bn_mask(padded_batch, state.preset),
        method=GraphVAE.encode,
    )[0]
    np.testing.assert_allclose(embed(state, padded_batch), mu.mean(1), rtol=1e-6)
    assert not np.allclose(embed(state, padded_batch), embed(state, _with_padded_features(padded_batch)))


@pytest.mark.parametrize("preset", ["paper", "default"])
def test_batchnorm__paper_counts_padded_nodes_default_does_not(padded_batch, preset):
    state = _tiny_state(preset)
    new, _ = step(state, padded_batch, jax.random.key(1))
    # First BatchNorm: its running mean moves by 0.1 x the batch mean of Lin1(X + ÂX) (ε = 0 at init).
    lin1 = state.params["encoder"]["gin_0"]["lin1"]
    b, n, c = padded_batch.ops.shape
    x = padded_batch.ops
    agg = x + jnp.einsum("bij,bjc->bic", jnp.asarray(symmetrise(np.asarray(padded_batch.adj))), x)
    rows = (agg @ lin1["kernel"] + lin1["bias"]).reshape(b * n, -1)
    real = padded_batch.node_mask.reshape(b * n)
    expected = rows.mean(0) if preset == "paper" else rows[real].mean(0)
    got = new.batch_stats["encoder"]["gin_0"]["bn_mlp"]["mean"] / 0.1
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(rows.mean(0), rows[real].mean(0), atol=1e-3)  # the batch has padding


# --------------------------------------------------------------------------- baselines


@pytest.mark.parametrize("variant", sorted(MODEL_VARIANTS))
def test_variants__loss_terms_and_sampling(padded_batch, variant):
    cfg = MODEL_VARIANTS[variant]
    state = _tiny_state("paper", variant, dropout=0.0)
    encoder = state.params["encoder"]
    heads = {"fc_log_sigma", "gcn_log_sigma"} & set(encoder)
    assert bool(heads) == cfg.variational
    assert any(k.startswith(cfg.encoder) for k in encoder)
    assert (state.batch_stats != {}) == (cfg.encoder == "gin")  # the GCN has no BatchNorm

    def forward(key):
        return state.apply_fn(
            {"params": state.params, "batch_stats": state.batch_stats},
            padded_batch,
            bn_mask(padded_batch, state.preset),
            True,
            rngs={"latent": key, "dropout": key},
            mutable=["batch_stats"],
        )[0]

    a, b = forward(jax.random.key(1)), forward(jax.random.key(2))
    assert np.array_equal(a.op_logits, b.op_logits) != cfg.variational  # z = μ + ε σ only if variational
    _, m = step(state, padded_batch, jax.random.key(1))
    recon = float(m["loss_ops"] + m["loss_adj"])
    if cfg.variational:
        # the paper reduction: KL per node / (B * N) on top of the reconstruction
        np.testing.assert_allclose(float(m["loss"]) - recon, float(m["kl"]) / (16 * 7), rtol=1e-3)
        assert float(m["kl"]) > 0
    else:
        assert float(m["loss"]) == pytest.approx(recon, abs=1e-7) and float(m["kl"]) == 0.0


def gcn_propagate_dense(adj_sym, h):
    """The oracle: GCN propagation on dense ``(B, N, N)`` ``Â`` and ``(B, N, F)`` features."""
    a = adj_sym + jnp.eye(adj_sym.shape[-1])
    inv_sqrt = jax.lax.rsqrt(a.sum(-1))  # (B, N)
    return jnp.einsum("bij,bjf->bif", a * inv_sqrt[:, :, None] * inv_sqrt[:, None, :], h)


def test_gcn_propagate__jraph_equals_dense(padded_batch):
    from a2v_jax.pretrain.graphs import to_graphs_tuple

    graph = to_graphs_tuple(padded_batch)
    h = jax.random.normal(jax.random.key(0), (graph.nodes.shape[0], 3))
    b, n, _ = padded_batch.ops.shape
    dense = gcn_propagate_dense(jnp.asarray(symmetrise(np.asarray(padded_batch.adj))), h.reshape(b, n, 3))
    np.testing.assert_allclose(gcn_propagate(graph, h).reshape(b, n, 3), dense, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- prior metrics


def _decoded(matrix: list[list[int]], ops: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return np.array(matrix, dtype=np.int8), np.array(ops, dtype=np.int32)


def test_prior_validity__nb101_uniqueness_by_hash(small_nb101):
    i, c1, c3, mp, o = range(5)  # arch2vec's NB101 op columns
    z = [0] * 7
    # input -> 1 -> output and input -> 2 -> output; 3..5 dangling (pruned away)
    g1 = [[0, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], z, z, z, z]
    graphs = [
        _decoded(g1, [i, c3, mp, c1, c1, c1, o]),
        _decoded(g1, [i, mp, c3, c1, c1, c1, o]),  # isomorphic to the first (1 and 2 swapped)
        _decoded(g1, [i, c3, mp, mp, c1, c1, o]),  # a dangling vertex differs: same pruned cell
        _decoded(g1, [i, c3, c3, c1, c1, c1, o]),  # another cell
        _decoded(g1, [i, c3, mp, c1, c1, c1, c1]),  # invalid: the last vertex is not the output
    ]
    adj = np.stack([g[0] for g in graphs])
    op_idx = np.stack([g[1] for g in graphs])
    out = prior_validity(small_nb101, op_idx, adj)
    assert out["validity"] == pytest.approx(4 / 5)
    assert out["uniqueness"] == pytest.approx(3 / 4)  # the original: unpruned graph, isomorphism-invariant
    assert out["uniqueness_module"] == pytest.approx(2 / 4)  # the benchmark's module hash after pruning


def test_prior_validity__darts_counts_isomorphic_cells_once():
    pool = darts.generate_pool(3, 0)
    swapped = pool.cells[:1, [1, 0, 2, 3, 4, 5, 6, 7]]  # block 0's two ops swapped: the same cell
    cells = np.concatenate([pool.cells, swapped])
    adj, _ = darts.encode_cells(cells)
    out = prior_validity(darts.DARTSSpace(pool_size=3), darts.op_indices(cells), adj)
    assert out["validity"] == 1.0 and out["uniqueness"] == pytest.approx(3 / 4)


# --------------------------------------------------------------------------- end to end


def test_pretrain_nb101__end_to_end_on_a_tiny_subset(tmp_path, monkeypatch, small_nb101):
    from a2v_jax.pretrain import PretrainConfig, loop

    monkeypatch.delenv("A2V_NB101_DIR", raising=False)
    monkeypatch.setattr(loop, "get_space", lambda name: small_nb101)
    cfg = PretrainConfig(
        space="nb101",
        model="vgae",
        epochs=2,  # the paper preset's second epoch trains in eval mode
        subset=200,
        prior_samples=64,
        batch_size=16,
        workdir=str(tmp_path / "run"),
        progress=False,
    )
    summary = loop.run_pretraining(cfg)
    for key in SUMMARY_KEYS + ("uniqueness_module",):
        assert key in summary, key
    assert (summary["space"], summary["model"], summary["seed"]) == ("nb101", "vgae", 1)
    assert (summary["num_train"], summary["num_val"]) == (180, 20)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["model"] == "vgae"
    emb = load_embeddings(tmp_path / "run" / "embeddings.npz")
    assert emb.features.shape == (200, 16) and emb.space == "nb101" and emb.order == "enumeration"
    assert list(emb.arch_str[:3]) == [small_nb101.cells.hash_hex(i) for i in range(3)]


@pytest.mark.slow
def test_cli__darts_end_to_end_on_a_tiny_pool(tmp_path):
    workdir = tmp_path / "run"
    env = {**os.environ, "A2V_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "a2v_jax.pretrain", "--space", "darts", "--epochs", "2", "--subset", "60"]
    cmd += ["--prior-samples", "50", "--batch-size", "16", "--workdir", str(workdir), "--no-progress"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    summary = json.loads((workdir / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        assert key in summary, key
    assert (summary["space"], summary["epochs"], summary["seed"], summary["model"]) == (
        "darts",
        2,
        3,
        "arch2vec",
    )
    emb = load_embeddings(workdir / "embeddings.npz")
    assert emb.features.shape == (60, 16) and emb.space == "darts"
    np.testing.assert_array_equal(darts.cells_from_codes(emb.arch_str), darts.generate_pool(60, 0).cells)
