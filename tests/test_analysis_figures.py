"""The paper's figures, one call each, on the synthetic table with made-up embeddings."""

from __future__ import annotations

import io
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from a2v_jax.analysis import figures

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def fake_embeddings(synthetic_table):
    rows = np.random.default_rng(0).permutation(len(synthetic_table))[:2000]
    feats = np.random.default_rng(1).normal(size=(rows.size, 16)).astype(np.float32)
    return SimpleNamespace(features=feats, arch_str=np.asarray(synthetic_table.arch_str)[rows]), rows


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30)
    return buf.getvalue()


def test_latent_data__aligns_rows_with_the_table(fake_embeddings, synthetic_table):
    emb, rows = fake_embeddings
    data = figures.latent_data(emb, synthetic_table)
    np.testing.assert_array_equal(data.rows, rows)
    np.testing.assert_array_equal(data.codes, np.asarray(synthetic_table.codes)[rows])
    np.testing.assert_allclose(data.test, synthetic_table.datasets["cifar10"].test_mean[rows] / 100)
    assert data.encodings["one-hot"].shape == (2000, 30) and data.encodings["arch2vec"].shape == (2000, 16)


def test_figures__each_is_one_call(fake_embeddings, synthetic_table):
    emb, _ = fake_embeddings
    f2 = figures.figure_2(
        emb, synthetic_table, surrogate="mlp", train_sizes=(5, 20), seeds=[0, 1], test_size=100
    )
    assert len(f2.subfigs) == 2 and len(f2.subfigs[0].axes) == 4 and len(f2.subfigs[1].axes) >= 2
    f3 = figures.figure_3(emb, synthetic_table, num_steps=50)
    f4 = figures.figure_4(emb, synthetic_table)
    f5 = figures.figure_5(emb, synthetic_table, start=3, num_steps=3)
    for f in (f2, f3, f4, f5):
        assert isinstance(f, Figure) and _png(f)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="surrogate"):
        figures.figure_2(emb, synthetic_table, surrogate="gp")
