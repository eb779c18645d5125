"""The embeddings file: written atomically, read back checked, every bad file named for what it is."""

from __future__ import annotations

import json

import numpy as np
import pytest

from a2v_jax.embed import Embeddings, EmbeddingsError, load_embeddings, save_embeddings, space_of_ids

NB201_IDS = [
    "|none~0|+|none~0|none~1|+|none~0|none~1|conv_3x3~2|",
    "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|",
]


def _emb(arch_str, space="nb201") -> Embeddings:
    feats = np.arange(len(arch_str) * 4, dtype=np.float32).reshape(len(arch_str), 4)
    return Embeddings(
        feats, np.asarray(arch_str), np.arange(len(arch_str)), "ckpt", space, "paper", 3, "benchmark"
    )


def test_save_then_load__round_trip_and_no_temporary_file_left(tmp_path):
    save_embeddings(tmp_path / "e.npz", _emb(NB201_IDS), {"features_population": np.zeros((2, 2, 4))})
    emb = load_embeddings(tmp_path / "e.npz")
    assert list(emb.arch_str) == NB201_IDS and emb.space == "nb201" and emb.seed == 3
    np.testing.assert_array_equal(emb.features, _emb(NB201_IDS).features)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.npz"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "an empty file"),
        (b"\x93NUMPY random bytes", "not an .npz \\(zip\\) archive"),
        (json.dumps({"features": [1]}).encode(), "not an .npz \\(zip\\) archive"),
    ],
)
def test_load__a_file_that_is_no_npz_is_named_and_never_suggests_unsafe_loading(tmp_path, content, message):
    (tmp_path / "e.npz").write_bytes(content)
    with pytest.raises(EmbeddingsError, match=message) as err:
        load_embeddings(tmp_path / "e.npz")
    assert "pickle" not in str(err.value)


def test_load__a_truncated_npz_is_a_damaged_file(tmp_path):
    save_embeddings(tmp_path / "e.npz", _emb(NB201_IDS))
    data = (tmp_path / "e.npz").read_bytes()
    (tmp_path / "e.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(EmbeddingsError, match="a damaged .npz \\(truncated or corrupt"):
        load_embeddings(tmp_path / "e.npz")


def test_load__object_arrays_are_refused_without_unpickling(tmp_path):
    np.savez(
        tmp_path / "e.npz", features=np.zeros((2, 4), np.float32), arch_str=np.array([{"a": 1}, 2], object)
    )
    with pytest.raises(EmbeddingsError, match="holds Python objects") as err:
        load_embeddings(tmp_path / "e.npz")
    assert "allow_pickle" not in str(err.value)


def test_load__ids_that_do_not_fit_the_recorded_space_are_refused(tmp_path):
    save_embeddings(tmp_path / "e.npz", _emb(NB201_IDS, space="nb101"))
    with pytest.raises(EmbeddingsError, match="records space 'nb101'.*its ids look like nb201 ids"):
        load_embeddings(tmp_path / "e.npz")
    save_embeddings(tmp_path / "d.npz", _emb(["0123456789012345", "x"], space="darts"))
    with pytest.raises(EmbeddingsError, match="arch_str\\[1\\] is 'x'"):
        load_embeddings(tmp_path / "d.npz")
    save_embeddings(tmp_path / "u.npz", _emb(NB201_IDS, space="nb999"))
    with pytest.raises(EmbeddingsError, match="unknown space 'nb999'"):
        load_embeddings(tmp_path / "u.npz")


def test_space_of_ids__recognises_each_space():
    assert space_of_ids(np.array(NB201_IDS)) == "nb201"
    assert space_of_ids(np.array(["0123456789abcdef0123456789abcdef"])) == "nb101"
    assert space_of_ids(np.array(["0123456789012345"])) == "darts"
    assert space_of_ids(np.array(["a"])) is None


def test_load_embeddings__clear_errors(tmp_path):
    with pytest.raises(EmbeddingsError, match="not found"):
        load_embeddings(tmp_path / "missing.npz")
    np.savez(tmp_path / "nokey.npz", features=np.zeros((2, 16), np.float32))
    with pytest.raises(EmbeddingsError, match=r"missing key\(s\) \['arch_str'\]"):
        load_embeddings(tmp_path / "nokey.npz")
    np.savez(
        tmp_path / "shape.npz", features=np.zeros((2, 16), np.float32), arch_str=np.array(["a", "b", "c"])
    )
    with pytest.raises(EmbeddingsError, match="'arch_str' must be"):
        load_embeddings(tmp_path / "shape.npz")
    f = np.zeros((2, 16), np.float32)
    f[1, 3] = np.nan
    np.savez(tmp_path / "nan.npz", features=f, arch_str=np.array(["a", "b"]))
    with pytest.raises(EmbeddingsError, match="row 1 \\(b\\) is not finite"):
        load_embeddings(tmp_path / "nan.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(EmbeddingsError, match="not an .npz \\(zip\\) archive"):
        load_embeddings(tmp_path / "junk.npz")


def test_load_embeddings__one_loader_for_pretraining_and_search(tmp_path):
    from a2v_jax import embed
    from a2v_jax.search import runner

    assert runner.load_embeddings is embed.load_embeddings  # what every search driver reads through
    assert issubclass(embed.EmbeddingsNotFoundError, FileNotFoundError)
    np.savez(tmp_path / "min.npz", features=np.ones((2, 3), np.float64), arch_str=np.array(["a", "b"]))
    emb = embed.load_embeddings(tmp_path / "min.npz")  # hand-made: metadata reported as unknown
    assert emb.features.dtype == np.float32 and list(emb.index) == [-1, -1]
    assert emb.meta == {"checkpoint": "", "space": "", "preset": "", "seed": -1, "order": ""}
    assert emb.path == str(tmp_path / "min.npz")
