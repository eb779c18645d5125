"""The ``paper`` preset's schedule (epoch 1 in train mode, then eval-mode steps) and the original's split."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from a2v_jax.pretrain.config import ModelConfig, TrainConfig, get_preset
from a2v_jax.pretrain.graphs import GraphBatch, make_graph_batch
from a2v_jax.pretrain.input_pipeline import num_train_graphs
from a2v_jax.pretrain.programs import Programs
from a2v_jax.pretrain.steps import PriorStats, create_state, encode_eval, scheduled_epoch, train_step
from a2v_jax.spaces.nb201 import all_codes, encode_codes

TINY = ModelConfig(hidden=16, latent=4)
TRAIN = TrainConfig(batch_size=16, prior_samples=16)


def _data(n: int = 48) -> GraphBatch:
    codes = all_codes()[np.random.default_rng(0).choice(15625, n, replace=False)]
    return jax.tree.map(jnp.asarray, make_graph_batch(*encode_codes(codes)))


def _leaves_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def _population_epochs(preset: str, epochs: int):
    """Runs the pretraining epoch program for a population of 2; returns it and per-epoch host copies."""
    programs = Programs(get_preset(preset), TINY, TRAIN, 8, 7, population=2)
    states, keys = programs.init(np.array([3, 4], np.uint32))
    data = _data()
    stats, params = [jax.device_get(states.batch_stats)], [jax.device_get(states.params)]
    for epoch in range(epochs):
        states, _, _ = programs.epoch(states, data, keys, np.uint32(epoch))  # donates the old states
        stats.append(jax.device_get(states.batch_stats))
        params.append(jax.device_get(states.params))
    return programs, stats, params


def test_paper_schedule__batchnorm_statistics_frozen_after_epoch_one_in_one_compiled_program():
    assert get_preset("paper").train_mode_epochs == 1
    programs, stats, params = _population_epochs("paper", 3)
    assert not _leaves_equal(stats[1], stats[0])  # epoch 1: train mode updates the running statistics
    assert _leaves_equal(stats[2], stats[1]) and _leaves_equal(stats[3], stats[1])  # epochs 2-3: frozen
    for epoch in range(3):
        assert not _leaves_equal(params[epoch + 1], params[epoch]), epoch  # still trained
    assert programs.epoch._cache_size() == 1  # both modes in one program, no recompile per epoch


def test_default_schedule__batchnorm_statistics_change_every_epoch():
    assert get_preset("default").train_mode_epochs is None
    _, stats, _ = _population_epochs("default", 3)
    for epoch in range(3):
        assert not _leaves_equal(stats[epoch + 1], stats[epoch]), epoch


def test_paper_schedule__no_sampling_noise_after_epoch_one():
    state = create_state(jax.random.key(0), 8, 7, get_preset("paper"), TINY, TRAIN)
    data = _data(16)
    order = jnp.arange(16, dtype=jnp.int32)[None]  # (1, 16): one step on the same batch
    run = jax.jit(scheduled_epoch)  # the epoch number is traced: one compile for both modes

    def loss(key, epoch):
        new, losses, _ = run(state, data, order, jax.random.key(key), jnp.uint32(epoch))
        return float(losses["loss"]), new

    # Epoch 2 (index 1): eval mode, z = μ and no dropout: the key changes nothing.
    (a, state_a), (b, state_b) = loss(1, 1), loss(2, 1)
    assert a == b and _leaves_equal(state_a.params, state_b.params)
    assert _leaves_equal(state_a.batch_stats, state.batch_stats)
    # Epoch 1 (index 0): train mode samples z and drops out: different keys, different losses.
    assert loss(1, 0)[0] != loss(2, 0)[0]
    assert run._cache_size() == 1


@pytest.mark.parametrize("train", [True, False])
def test_train_step__prior_collects_the_mu_of_the_steps_mode(train):
    state = create_state(jax.random.key(0), 8, 7, get_preset("paper"), TINY, TRAIN)
    batch = _data(16)
    _, metrics = jax.jit(train_step, static_argnums=3)(state, batch, jax.random.key(1), train)
    eval_prior = PriorStats.of_batch(encode_eval(state, batch), batch.graph_mask)
    # Eval mode encodes with the running statistics (the original after model.eval()); train mode
    # with the batch's, which differ from the freshly initialised running ones.
    assert np.allclose(metrics["prior"].total, eval_prior.total, atol=1e-5) == (not train)


@pytest.mark.parametrize(
    ("num_graphs", "num_train"),
    [(15_625, 14_062), (423_624, 381_261), (600_000, 540_000), (200, 180), (96, 86)],
)
def test_num_train_graphs__the_originals_int_of_ninety_percent(num_graphs, num_train):
    assert num_train_graphs(num_graphs) == num_train == int(0.9 * num_graphs)
    assert num_train_graphs(num_graphs, TrainConfig().val_fraction) == num_train
