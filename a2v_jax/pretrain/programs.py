"""The compiled programs of a pretraining run: init, epoch, prior sampling, evaluation, embedding.

:class:`Programs` jits each of them once for a population of ``K`` members (``jax.vmap`` over the
members, :func:`map_members`), optionally with shardings over a ``(pop, data)`` device mesh.
:func:`a2v_jax.pretrain.loop.run_pretraining` drives them; benchmarks and tests may call them
directly::

    programs = Programs(get_preset("paper"), ModelConfig(), TrainConfig(), num_nodes=8, num_ops=7,
                        population=4)
    states, keys = programs.init(np.arange(4, dtype=np.uint32))
    states, losses, prior = programs.epoch(states, train_set, keys, np.uint32(0))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from a2v_jax.pretrain.config import ModelConfig, Preset, TrainConfig
from a2v_jax.pretrain.steps import (
    PriorStats,
    create_state,
    decode_latents,
    embed,
    epoch_order,
    evaluate,
    posterior_stats,
    prior_latents,
    scheduled_epoch,
)
from a2v_jax.sharding import DATA, POP, mesh_size, pop_sharding, replicated


def map_members(fn: Callable, in_axes: Any, population: int, spmd_axis_name: str | None = None) -> Callable:
    """``jax.vmap(fn, in_axes)`` over a population axis; for one member, a plain call instead.

    A vmapped batch gather/segment-sum is about 3x slower than the unbatched one on CPU, so a
    population of one drops the axis on the way in and restores it on the way out.
    ``spmd_axis_name`` names the mesh axis the members are sharded over, so sharding
    constraints inside ``fn`` keep them there.
    """
    if population > 1:
        return jax.vmap(fn, in_axes=in_axes, spmd_axis_name=spmd_axis_name)

    def single(*args):
        axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        args = [
            a if ax is None else jax.tree.map(lambda x: x[0], a) for a, ax in zip(args, axes, strict=True)
        ]
        return jax.tree.map(lambda x: jnp.asarray(x)[None], fn(*args))

    return single


class Programs:
    """The jitted programs of a run, each compiled once: no retrace between epochs.

    Per-epoch keys, orders and the train/eval mode of the preset's ``train_mode_epochs``
    (:func:`~a2v_jax.pretrain.steps.scheduled_epoch`) are derived inside the programs from the traced
    epoch number, so no small eager op (each a separate XLA compile on first use) runs in the
    loop and the epoch program compiles once.

    With a ``mesh`` every program is jitted with the members' leading axis sharded over ``pop``
    and the datasets replicated; when ``data`` has more than one device, each epoch's batch
    order is constrained to split every batch over it, so each device gathers and trains on its
    slice and XLA all-reduces gradients and BatchNorm sums (the global batch's statistics).
    """

    def __init__(
        self,
        preset: Preset,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        num_nodes: int,
        num_ops: int,
        population: int = 2,
        mesh: Mesh | None = None,
    ):
        self.preset = preset
        num_prior = train_cfg.prior_samples
        spmd = POP if mesh is not None else None
        batch_split = NamedSharding(mesh, P(None, DATA)) if mesh_size(mesh, DATA) > 1 else None
        if batch_split is not None and train_cfg.batch_size % mesh_size(mesh, DATA):
            split = mesh_size(mesh, DATA)
            raise ValueError(
                f"the mesh's data axis ({split}) does not divide the batch size {train_cfg.batch_size}"
            )

        def members(fn, in_axes=0):
            return map_members(fn, in_axes, population, spmd)

        def init(seeds):
            def one(seed):
                keys = jax.random.split(jax.random.key(seed), 4)
                state = create_state(keys[0], num_nodes, num_ops, preset, model_cfg, train_cfg)
                return state, keys[1:]

            return members(one)(seeds)

        def epoch(states, train_set, keys, epoch):
            def one(state, k):
                shuffle_key = jax.random.fold_in(k[0], epoch if preset.reshuffle else 0)
                order = epoch_order(shuffle_key, train_set.num_graphs, train_cfg.batch_size)
                if batch_split is not None:
                    order = jax.lax.with_sharding_constraint(order, batch_split)  # (num_batches, B)
                state, losses, prior = scheduled_epoch(
                    state, train_set, order, jax.random.fold_in(k[1], epoch), epoch
                )
                if preset.eval_prior:
                    prior = posterior_stats(state, train_set)
                return state, losses, prior

            return members(one)(states, keys)

        def sample(states, prior, keys, epoch):
            def one(state, p, k):
                z = prior_latents(p, jax.random.fold_in(k[2], epoch), num_prior, preset.joint_prior)
                return decode_latents(state, z)

            return members(one)(states, prior, keys)

        def empty_prior(dummy):
            return jax.vmap(
                lambda _: PriorStats(
                    total=jnp.zeros((num_nodes, model_cfg.latent)),
                    total_sq=jnp.zeros((num_nodes, model_cfg.latent)),
                    outer=jnp.zeros((num_nodes * model_cfg.latent,) * 2),
                    count=jnp.zeros(()),
                )
            )(dummy)

        evaluate_all = members(evaluate, (0, None))
        embed_all = members(embed, (0, None))
        if mesh is None:
            self.init = jax.jit(init)
            self.epoch = jax.jit(epoch, donate_argnums=0)
            self.sample = jax.jit(sample)
            self.evaluate = jax.jit(evaluate_all)
            self.embed = jax.jit(embed_all)
            self.empty_prior = jax.jit(empty_prior)
        else:
            pop, rep = pop_sharding(mesh), replicated(mesh)
            self.init = jax.jit(init, in_shardings=rep, out_shardings=pop)
            self.epoch = jax.jit(
                epoch, donate_argnums=0, in_shardings=(pop, rep, pop, rep), out_shardings=pop
            )
            self.sample = jax.jit(sample, in_shardings=(pop, pop, pop, rep), out_shardings=pop)
            self.evaluate = jax.jit(evaluate_all, in_shardings=(pop, rep), out_shardings=pop)
            self.embed = jax.jit(embed_all, in_shardings=(pop, rep), out_shardings=pop)
            self.empty_prior = jax.jit(empty_prior, in_shardings=rep, out_shardings=pop)
