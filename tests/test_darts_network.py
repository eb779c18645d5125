"""DARTS's CIFAR network, the CIFAR-10 reader, DARTS's augmentation and the training loop.

Full-size networks are only traced (``jax.eval_shape``) to count parameters; everything that runs
uses 4 channels, 3 cells (reductions at cells 1 and 2, the auxiliary head after cell 2) and a fake
CIFAR-10 of 16 + 8 images written as python pickles. All training tests share one config and one
genotype, so the epoch is compiled once.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import shutil
import zlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from a2v_jax.darts import cifar
from a2v_jax.darts import train as T
from a2v_jax.darts.network import (
    ARCH2VEC_BO,
    ARCH2VEC_RL,
    DROP_PATH_RNG,
    NetworkCIFAR,
    count_params,
    drop_path,
    init_network,
    param_counts,
    resolve_genotype,
)
from a2v_jax.data._errors import DataError, DataNotConfiguredError
from a2v_jax.pretrain.checkpoint import WorkdirMismatchError
from a2v_jax.spaces.darts import Genotype, parse_genotype
from a2v_jax.spaces.darts_macs import CIFAR, network_params

pytestmark = pytest.mark.slow  # subprocesses / notebooks / the DARTS network: pytest -m 'not slow' skips

# Every op once: identity and factorized-reduce skips, pools, zero, both conv kinds and sizes.
ALL_OPS = Genotype.from_normal(
    [
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
        ("avg_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("none", 2),
        ("dil_conv_3x3", 1),
        ("skip_connect", 2),
        ("sep_conv_5x5", 3),
    ]
)
DARTS_V2 = parse_genotype(
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
    "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
    "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)
TINY_NET = NetworkCIFAR(ALL_OPS, init_channels=4, layers=3)
# The one training config of these tests: 8 train / 8 valid images, batches of 6 (the second padded).
CFG = T.get_preset(
    "proxy", epochs=4, batch_size=6, eval_batch_size=8, init_channels=4, layers=3, train_portion=0.5
)
TRAIN_SIZES = (4, 3, 3, 3, 3)
NUM_TEST = 8


# --------------------------------------------------------------------------- fake CIFAR-10


def _write_batch(path: Path, images_nhwc: np.ndarray, labels: np.ndarray, protocol: int = 2) -> None:
    rows = images_nhwc.transpose(0, 3, 1, 2).reshape(len(images_nhwc), 3072)  # CIFAR rows: R, G, B planes
    batch = {b"batch_label": b"fake", b"labels": [int(y) for y in labels], b"data": rows, b"filenames": []}
    with path.open("wb") as f:
        pickle.dump(batch, f, protocol=protocol)


@pytest.fixture(scope="module")
def fake_cifar(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(folder, train_x, train_y, test_x, test_y)``: a fake ``cifar-10-batches-py`` in a parent folder."""
    rng = np.random.default_rng(0)
    n = sum(TRAIN_SIZES)
    train_x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    train_y = np.arange(n) % 10
    # Learnable labels: brightness of the red channel decides the class.
    train_x[..., 0] = (train_y * 25)[:, None, None].astype(np.uint8)
    test_x = rng.integers(0, 256, (NUM_TEST, 32, 32, 3), dtype=np.uint8)
    test_y = np.arange(NUM_TEST) % 10
    folder = tmp_path_factory.mktemp("cifar") / cifar.BATCHES_DIR
    folder.mkdir()
    start = 0
    for i, size in enumerate(TRAIN_SIZES, 1):
        sl = slice(start, start + size)
        _write_batch(folder / f"data_batch_{i}", train_x[sl], train_y[sl], protocol=2 + i % 4)
        start += size
    _write_batch(folder / "test_batch", test_x, test_y)
    return folder, train_x, train_y, test_x, test_y


@pytest.fixture(scope="module")
def fake_data(fake_cifar) -> cifar.CIFAR10:
    return cifar.load_cifar10(fake_cifar[0])


@pytest.fixture(scope="module")
def first_run(fake_data):
    """One training run of the shared config (its compiled epoch is reused by the other runs)."""
    return T.train_network(ALL_OPS, fake_data, CFG, jax.random.key(7))


# --------------------------------------------------------------------------- network


@pytest.mark.parametrize(
    ("genotype", "published_m", "exact"),
    [(ARCH2VEC_BO, 3.6, 3_616_966), (ARCH2VEC_RL, 3.3, 3_298_150)],
    ids=["arch2vec_bo", "arch2vec_rl"],
)
def test_network__param_counts_match_darts_macs_and_published(genotype, published_m, exact):
    counts = param_counts(NetworkCIFAR(genotype, init_channels=36, layers=20))
    assert counts["network"] == network_params(genotype, CIFAR) == exact
    assert counts["total"] == network_params(genotype, CIFAR, auxiliary=True)
    assert counts["auxiliary"] > 0
    assert round(counts["network"] / 1e6, 1) == published_m  # reference §9.5: 3.6M (BO), 3.3M (RL)


def test_network__separate_reduce_cell_param_count():
    # DARTS V2 has its own reduction cell; DARTS reports 3.3M (3,349,342 by darts_macs).
    assert param_counts(NetworkCIFAR(DARTS_V2))["network"] == network_params(DARTS_V2, CIFAR) == 3_349_342


@jax.jit
def _forward_train(variables, x, key, drop_prob, mask):
    return TINY_NET.apply(
        variables,
        x,
        train=True,
        drop_prob=drop_prob,
        mask=mask,
        rngs={DROP_PATH_RNG: key},
        mutable=["batch_stats"],
    )


@jax.jit
def _forward_eval(variables, x, key):
    return TINY_NET.apply(variables, x, train=False, drop_prob=0.5, rngs={DROP_PATH_RNG: key})


@pytest.fixture(scope="module")
def tiny_variables():
    return init_network(TINY_NET, jax.random.key(0))


@pytest.fixture(scope="module")
def tiny_batch():
    return jax.random.normal(jax.random.key(1), (4, 32, 32, 3))


def test_network__forward_shapes_and_auxiliary_only_in_training(tiny_variables, tiny_batch):
    all_real = jnp.ones(4, bool)
    (logits, aux), updates = _forward_train(tiny_variables, tiny_batch, jax.random.key(2), 0.3, all_real)
    assert logits.shape == aux.shape == (4, 10)
    assert np.isfinite(logits).all() and np.isfinite(aux).all()
    assert jax.tree.structure(updates["batch_stats"]) == jax.tree.structure(tiny_variables["batch_stats"])
    eval_logits, eval_aux = _forward_eval(tiny_variables, tiny_batch, jax.random.key(2))
    assert eval_logits.shape == (4, 10) and eval_aux is None
    # Cells output 4 blocks x C channels, C doubled at each reduction (4, 8, 16): the head sees 64.
    params = tiny_variables["params"]
    assert params["classifier"]["kernel"].shape == (64, 10)
    assert params["cell0"]["preprocess0"]["Conv_0"]["kernel"].shape == (1, 1, 12, 4)  # stem: 3C
    assert params["cell2"]["preprocess0"]["Conv_0"]["kernel"].shape == (1, 1, 16, 8)  # after a reduction
    assert count_params(params) == param_counts(TINY_NET)["total"]


def test_network__auxiliary_head_needs_an_8x8_map():
    x16 = jax.ShapeDtypeStruct((1, 16, 16, 3), jnp.float32)
    with pytest.raises(ValueError, match="8x8"):
        jax.eval_shape(lambda x: TINY_NET.init(jax.random.key(0), x, train=True), x16)
    small = NetworkCIFAR(ALL_OPS, init_channels=4, layers=3, auxiliary=False)
    out = jax.eval_shape(
        lambda x: small.init_with_output(jax.random.key(0), x, train=True)[0],
        jax.ShapeDtypeStruct((2, 8, 8, 3), jnp.float32),
    )
    assert out[0].shape == (2, 10) and out[1] is None


def test_network__eval_ignores_drop_path_training_is_key_deterministic(tiny_variables, tiny_batch):
    k1, k2 = jax.random.key(10), jax.random.key(11)
    all_real = jnp.ones(4, bool)
    assert np.array_equal(
        _forward_eval(tiny_variables, tiny_batch, k1)[0], _forward_eval(tiny_variables, tiny_batch, k2)[0]
    )
    a = _forward_train(tiny_variables, tiny_batch, k1, 0.5, all_real)[0][0]
    assert np.array_equal(a, _forward_train(tiny_variables, tiny_batch, k1, 0.5, all_real)[0][0])
    assert not np.allclose(a, _forward_train(tiny_variables, tiny_batch, k2, 0.5, all_real)[0][0])


def test_network__mask_keeps_padding_out_of_batch_statistics(tiny_variables, tiny_batch):
    padded = tiny_batch.at[2:].set(100.0)  # garbage in the padding rows
    key = jax.random.key(3)  # drop_prob 0: every path kept
    (logits_a, _), stats_a = _forward_train(
        tiny_variables, padded, key, 0.0, jnp.array([True, True, False, False])
    )
    doubled = tiny_batch[:2].repeat(2, axis=0)  # rows 0, 0, 1, 1: the same statistics as rows 0, 1
    (logits_b, _), stats_b = _forward_train(tiny_variables, doubled, key, 0.0, jnp.ones(4, bool))
    np.testing.assert_allclose(logits_a[:2], logits_b[::2], rtol=1e-4, atol=1e-5)
    for a, b in zip(jax.tree.leaves(stats_a), jax.tree.leaves(stats_b), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_drop_path__scaled_per_example_bernoulli():
    x = jnp.ones((4000, 2, 2, 3))
    y = np.asarray(drop_path(x, 0.2, jax.random.key(0)))
    per_example = y.reshape(4000, -1)
    assert (per_example == per_example[:, :1]).all()  # one draw per example
    assert set(np.unique(y).tolist()) == {0.0, 1.25}
    assert abs((per_example[:, 0] > 0).mean() - 0.8) < 0.03
    assert np.array_equal(y, drop_path(x, 0.2, jax.random.key(0)))


def test_resolve_genotype__names_strings_and_errors():
    assert resolve_genotype("arch2vec_bo") is ARCH2VEC_BO
    assert resolve_genotype(str(ARCH2VEC_RL)) == ARCH2VEC_RL
    assert ARCH2VEC_BO.reduce == ARCH2VEC_BO.normal
    with pytest.raises(ValueError):
        resolve_genotype("arch2vec_xx")


# --------------------------------------------------------------------------- CIFAR-10 reader


def test_load_cifar10__reads_fake_pickles_in_order(fake_cifar, fake_data, monkeypatch):
    folder, train_x, train_y, test_x, test_y = fake_cifar
    assert fake_data.train_images.shape == (16, 32, 32, 3) and fake_data.train_images.dtype == np.uint8
    assert np.array_equal(fake_data.train_images, train_x) and np.array_equal(fake_data.train_labels, train_y)
    assert np.array_equal(fake_data.test_images, test_x) and np.array_equal(fake_data.test_labels, test_y)
    assert fake_data.train_labels.dtype == np.int32
    # The parent folder and the environment variable find the same batches.
    assert np.array_equal(cifar.load_cifar10(folder.parent).train_images, train_x)
    monkeypatch.setenv(cifar.ENV_CIFAR10_DIR, str(folder))
    assert cifar.resolve_cifar10_dir() == folder


def test_load_cifar10__errors_name_the_file_and_field(fake_cifar, tmp_path, monkeypatch):
    folder = tmp_path / "c10"
    shutil.copytree(fake_cifar[0], folder)
    monkeypatch.delenv(cifar.ENV_CIFAR10_DIR, raising=False)
    with pytest.raises(DataNotConfiguredError, match=cifar.ENV_CIFAR10_DIR):
        cifar.load_cifar10()
    with pytest.raises(DataError, match="does not exist"):
        cifar.load_cifar10(tmp_path / "nowhere")

    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3 is missing"):
        cifar.load_cifar10(folder)
    (folder / "data_batch_3").write_bytes(b"\x80\x02}q\x00(X")  # truncated pickle
    with pytest.raises(DataError, match="data_batch_3 is not a readable"):
        cifar.load_cifar10(folder)

    bad = folder / "bad"
    cases = [
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]}, "label 10 at row 1"),
        ({b"data": np.zeros((2, 3071), np.uint8), b"labels": [1, 2]}, "'data' must be a"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [1, 2]}, "'data' must be a"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}, "'labels' for 2 rows"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [1, 2]}, "CIFAR-100"),
        ([1, 2], "expected a pickled dict"),
    ]
    for obj, message in cases:
        bad.write_bytes(pickle.dumps(obj))
        with pytest.raises(DataError, match=message) as err:
            cifar.read_batch(bad)
        assert str(bad) in str(err.value)
    bad.write_bytes(pickle.dumps({b"data": shutil.copytree}))  # a global other than numpy's
    with pytest.raises(DataError, match="refusing to load"):
        cifar.read_batch(bad)


def test_split_train_valid__first_portion_trains(fake_data):
    (tx, ty), (vx, vy) = cifar.split_train_valid(fake_data, 0.75)
    assert tx.shape[0] == 12 and vx.shape[0] == 4
    assert np.array_equal(vy, fake_data.train_labels[12:]) and np.array_equal(tx, fake_data.train_images[:12])
    with pytest.raises(ValueError, match="train_portion"):
        cifar.split_train_valid(fake_data, 1.0)


# --------------------------------------------------------------------------- augmentation


def test_augment_batch__shapes_and_key_determinism(fake_data):
    augment = jax.jit(cifar.augment_batch, static_argnums=2)
    images = jnp.asarray(fake_data.train_images[:5])
    out = augment(jax.random.key(0), images, 16)
    assert out.shape == (5, 32, 32, 3) and out.dtype == jnp.float32
    assert np.array_equal(out, augment(jax.random.key(0), images, 16))
    assert not np.array_equal(out, augment(jax.random.key(1), images, 16))
    no_cutout = augment(jax.random.key(0), images, 0)  # the same crops and flips, no hole
    hole = np.abs(np.asarray(out - no_cutout)).max(-1) > 1e-4  # (5, 32, 32); separate compiles differ by ulps
    assert (np.asarray(out)[hole] == 0).all()
    assert (hole.sum((1, 2)) > 0).all() and (hole.sum((1, 2)) <= 256).all()


def test_random_crop_and_flip__are_windows_of_the_padded_image(fake_data):
    image = fake_data.train_images[0]
    padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
    windows = {padded[y : y + 32, x : x + 32].tobytes() for y in range(9) for x in range(9)}
    offsets = set()
    crop_and_flip = jax.jit(lambda k, x: (cifar.random_crop(k, x), cifar.random_flip(k, x)))
    for i in range(30):
        crop, flipped = map(np.asarray, crop_and_flip(jax.random.key(i), jnp.asarray(image)))
        assert crop.tobytes() in windows
        offsets.add(crop.tobytes())
        assert np.array_equal(flipped, image) or np.array_equal(flipped, image[:, ::-1])
    assert len(offsets) > 10


def test_cutout__zeroes_one_clipped_square():
    ones = jnp.ones((32, 32, 3))
    sizes = set()
    cut = jax.jit(cifar.cutout, static_argnums=2)
    for i in range(40):
        hole = np.asarray(cut(jax.random.key(i), ones, 16))[..., 0] == 0  # (32, 32)
        rows, cols = np.flatnonzero(hole.any(1)), np.flatnonzero(hole.any(0))
        assert hole.sum() == len(rows) * len(cols)  # a rectangle
        assert 8 <= len(rows) <= 16 and 8 <= len(cols) <= 16
        sizes.add(int(hole.sum()))
    assert 256 in sizes and min(sizes) < 256


def test_normalize__darts_mean_and_std():
    mean_pixel = jnp.asarray(np.array(cifar.CIFAR_MEAN) * 255.0)[None, None, :]
    np.testing.assert_allclose(cifar.normalize(mean_pixel), 0.0, atol=1e-6)
    white = cifar.normalize(jnp.full((1, 1, 3), 255, jnp.uint8))
    np.testing.assert_allclose(
        white[0, 0], (1 - np.array(cifar.CIFAR_MEAN)) / np.array(cifar.CIFAR_STD), 1e-5
    )


# --------------------------------------------------------------------------- optimisation


def test_schedules__cosine_per_epoch_and_linear_drop_path():
    cfg = T.PRESETS["final"]
    assert cfg.epochs == 600 and cfg.batch_size == 96 and cfg.drop_path == 0.2 and cfg.auxiliary_weight == 0.4
    proxy = T.PRESETS["proxy"]
    assert (
        proxy.epochs == 50 and proxy.train_portion == 0.9 and proxy.reward_epochs == 5 and proxy.cutout == 16
    )
    assert float(T.lr_at_epoch(cfg, 0)) == pytest.approx(0.025)
    assert float(T.lr_at_epoch(cfg, 300)) == pytest.approx(0.0125)
    assert float(T.lr_at_epoch(cfg, 600)) == pytest.approx(0.0, abs=1e-9)
    assert float(T.drop_prob_at_epoch(cfg, 0)) == 0.0
    assert float(T.drop_prob_at_epoch(cfg, 150)) == pytest.approx(0.05)


def test_optimizer__clip_then_decay_then_momentum_sgd_at_the_epoch_rate():
    cfg = T.get_preset("final", epochs=2)
    tx = T.make_optimizer(cfg, steps_per_epoch=2)
    params = {"w": jnp.array([1.0, -2.0])}
    grads = {"w": jnp.array([30.0, 40.0])}  # norm 50 -> clipped to 5: [3, 4]
    state = tx.init(params)
    buf = np.zeros(2)
    p = np.array([1.0, -2.0])
    for step, lr in enumerate([0.025, 0.025, 0.0125, 0.0125]):  # cosine over 2 epochs, per epoch
        updates, state = tx.update(grads, state, {"w": jnp.asarray(p, jnp.float32)})
        d = np.array([3.0, 4.0]) + 3e-4 * p  # PyTorch SGD: weight decay after clipping
        buf = d if step == 0 else 0.9 * buf + d
        np.testing.assert_allclose(updates["w"], -lr * buf, rtol=1e-5)
        p = p + np.asarray(updates["w"])
    assert T.make_optimizer(cfg, 2) is tx  # memoised: equal configs share the compiled epoch


# --------------------------------------------------------------------------- training


def test_train_network__loss_decreases_and_reward_is_mean_of_last_valid(first_run):
    hist = first_run["history"]
    assert [ln["epoch"] for ln in hist] == [1, 2, 3, 4]
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert all(np.isfinite(ln["train_loss"]) and 0 <= ln["valid_acc"] <= 1 for ln in hist)
    assert first_run["reward"] == pytest.approx(np.mean([ln["valid_acc"] for ln in hist]))  # last 5 of 4
    assert first_run["test_acc"] == hist[-1]["test_acc"] and first_run["complete"]
    assert first_run["params"] == param_counts(NetworkCIFAR(ALL_OPS, 4, 3))["network"]
    assert [ln["drop_prob"] for ln in hist] == pytest.approx([0.0, 0.05, 0.1, 0.15])
    assert [ln["lr"] for ln in hist] == pytest.approx(
        [0.025 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(4)]
    )
    assert int(first_run["state"].step) == 8  # 8 images in batches of 6 (the second padded): 2 steps


def _without_time(history):
    return [{k: v for k, v in ln.items() if k != "epoch_s"} for ln in history]


def test_train_network__resume_equals_uninterrupted_run(first_run, fake_data, tmp_path):
    workdir = tmp_path / "run"
    cache_size = T._train_epoch._cache_size()
    part = T.train_network(ALL_OPS, fake_data, CFG, jax.random.key(7), workdir=workdir, until_epoch=2)
    assert part["epochs_done"] == 2 and not part["complete"]
    assert sorted(p.name for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()) == ["1", "2"]
    rest = T.train_network(ALL_OPS, fake_data, CFG, jax.random.key(7), workdir=workdir)
    assert rest["resumed_from_epoch"] == 2 and rest["complete"]
    assert T._train_epoch._cache_size() == cache_size  # fresh or restored state: one compiled epoch
    # Same key, interrupted after 2 of 4 epochs (4 steps) and resumed: bit-equal to one uninterrupted run.
    for a, b in zip(jax.tree.leaves(first_run["state"]), jax.tree.leaves(rest["state"]), strict=True):
        assert np.array_equal(a, b)
    assert _without_time(rest["history"]) == _without_time(first_run["history"])
    assert rest["reward"] == first_run["reward"]
    lines = [json.loads(ln) for ln in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert _without_time(lines) == _without_time(first_run["history"])
    assert json.loads((workdir / "summary.json").read_text())["reward"] == first_run["reward"]

    with pytest.raises(WorkdirMismatchError, match="another configuration"):
        T.train_network(
            ALL_OPS, fake_data, dataclasses.replace(CFG, lr=0.05), jax.random.key(7), workdir=workdir
        )


def test_evaluate_genotype__reward_and_cost(first_run, fake_cifar, monkeypatch):
    monkeypatch.setenv(cifar.ENV_CIFAR10_DIR, str(fake_cifar[0]))
    reward, cost = T.evaluate_genotype(ALL_OPS, None, CFG, jax.random.key(7))
    assert reward == first_run["reward"] and 0 <= reward <= 1
    assert cost > 0


def test_make_evaluator__one_key_per_cell(monkeypatch):
    calls = []
    monkeypatch.setattr(T, "evaluate_genotype", lambda g, d, c, k: calls.append((g, d, c, k)) or (0.5, 1.0))
    evaluator = T.make_evaluator("somewhere", CFG, seed=3)
    assert evaluator(str(ALL_OPS)) == (0.5, 1.0)
    evaluator(ALL_OPS)
    evaluator("arch2vec_bo")
    (g1, d, c, k1), (g2, _, _, k2), (g3, _, _, k3) = calls
    assert g1 == g2 == ALL_OPS and g3 == ARCH2VEC_BO and d == "somewhere" and c is CFG
    expected = jax.random.fold_in(jax.random.key(3), zlib.crc32(str(ALL_OPS).encode()) & 0x7FFFFFFF)
    assert np.array_equal(jax.random.key_data(k1), jax.random.key_data(expected))
    assert np.array_equal(jax.random.key_data(k1), jax.random.key_data(k2))
    assert not np.array_equal(jax.random.key_data(k1), jax.random.key_data(k3))


def test_cli__end_to_end_and_resume(first_run, fake_cifar, tmp_path, capsys):
    flags = {
        "--genotype": str(ALL_OPS),
        "--preset": "proxy",
        "--data-dir": str(fake_cifar[0]),
        "--workdir": str(tmp_path / "cli"),
        "--seed": "7",
        "--epochs": "4",
        "--batch-size": "6",
        "--eval-batch-size": "8",
        "--init-channels": "4",
        "--layers": "3",
        "--train-portion": "0.5",
    }
    argv = [*(x for kv in flags.items() for x in kv), "--no-progress"]
    summary = T.main(argv)
    printed = json.loads(capsys.readouterr().out)
    assert printed == summary and summary["reward"] == first_run["reward"]  # same config, same seed
    again = T.main(argv)  # finished: restores the last checkpoint and trains nothing
    assert again["resumed_from_epoch"] == 4 and again["reward"] == summary["reward"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        T.main([*argv, "--data-dir", str(tmp_path)])
    assert e.value.code == 2 and "data_batch_1 is missing" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        T.main([*argv, "--genotype", "nonsense"])
    assert e.value.code == 2 and "neither a genotype name" in capsys.readouterr().err


def test_train_config__rejects_bad_values():
    with pytest.raises(ValueError, match="train_portion"):
        T.get_preset("proxy", train_portion=0.0)
    with pytest.raises(ValueError, match="unknown DARTS training preset"):
        T.get_preset("paper")
