"""Greedy latent walks (Fig. 5) and decoding cells with a pre-trained model."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from a2v_jax.analysis.encodings import one_hot_codes
from a2v_jax.analysis.walks import (
    greedy_walk,
    latent_walks,
    load_pretrained_state,
    reconstruct_codes,
)
from a2v_jax.spaces.nb201 import all_codes, arch_str_from_codes


def _numpy_walk(f, start, steps):
    cur, seen, out = start, {start}, [start]
    for _ in range(steps):
        d = np.linalg.norm(f - f[cur], axis=1)
        d[list(seen)] = np.inf
        cur = int(np.argmin(d))
        seen.add(cur)
        out.append(cur)
    return out


def test_greedy_walk__matches_a_numpy_loop_and_never_repeats():
    f = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    idx, dist = jax.jit(greedy_walk, static_argnums=2)(f, 17, 25)
    idx, dist = np.asarray(idx), np.asarray(dist)
    assert idx.tolist() == _numpy_walk(f, 17, 25)
    assert len(set(idx.tolist())) == 26
    np.testing.assert_allclose(dist, np.linalg.norm(f[idx[1:]] - f[idx[:-1]], axis=1), rtol=1e-5)
    with pytest.raises(ValueError, match="num_steps"):
        greedy_walk(f, 0, 200)


def test_latent_walks__decode_to_the_pool_cells():
    codes = all_codes()[::25].astype(np.int64)  # (625, 6)
    arch = np.array([arch_str_from_codes(c) for c in codes])
    values = np.random.default_rng(1).uniform(size=len(codes))
    w = latent_walks(one_hot_codes(codes), codes, arch, values, [0, 300], num_steps=6, label="one-hot")
    assert w.index.shape == (2, 7) and w.codes.shape == (2, 7, 6)
    np.testing.assert_array_equal(w.arch_str, arch[w.index])
    np.testing.assert_array_equal(w.values, values[w.index])
    assert np.all(w.ged_from_start[:, 0] == 0) and np.all(w.step_ged >= 1)
    # one-hot L2 = sqrt(2 * edits): a greedy step takes the fewest edits available
    np.testing.assert_allclose(w.step_l2, np.sqrt(2.0 * w.step_ged), rtol=1e-6)
    rows = w.rows(1)
    assert rows[0]["ged_step"] is None and rows[1]["arch_str"] == arch[w.index[1, 1]]
    with pytest.raises(ValueError, match="outside the pool"):
        latent_walks(one_hot_codes(codes), codes, arch, values, [625])


def test_load_pretrained_state__restores_the_model_that_made_the_embeddings(tmp_path, monkeypatch):
    from a2v_jax.embed import load_embeddings
    from a2v_jax.pretrain import PretrainConfig, run_pretraining
    from a2v_jax.pretrain.graphs import make_graph_batch
    from a2v_jax.pretrain.steps import embed
    from a2v_jax.spaces.nb201 import encode_codes, parse_arch_str

    monkeypatch.delenv("A2V_NB201_DIR", raising=False)
    workdir = tmp_path / "run"
    cfg = PretrainConfig(
        epochs=1, subset=48, prior_samples=16, batch_size=16, progress=False, workdir=str(workdir)
    )
    run_pretraining(cfg)
    emb = load_embeddings(workdir / "embeddings.npz")
    state = load_pretrained_state(workdir)
    codes = np.array([parse_arch_str(a) for a in emb.arch_str])
    adj, ops = encode_codes(codes)
    feats = np.asarray(embed(state, jax.tree.map(np.asarray, make_graph_batch(adj, ops))))
    np.testing.assert_allclose(feats, emb.features, rtol=1e-5, atol=1e-6)
    rec = reconstruct_codes(state, codes[:10])
    assert rec.shape == (10, 6) and rec.min() >= -1 and rec.max() <= 4
    with pytest.raises(ValueError, match="member 1"):
        load_pretrained_state(workdir, member=1)
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_pretrained_state(tmp_path)
