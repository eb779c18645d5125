"""The pretraining pipeline behind ``python -m a2v_jax.pretrain``.

Loads the space's graphs, splits them as the original (first 90 % of the benchmark's key order
for training), trains a population of models (one per seed) with one jitted, vmapped epoch
program, evaluates reconstruction and prior validity every epoch, checkpoints after every epoch
(a restarted command resumes and ends bit-equal to an uninterrupted run) and writes
``metrics.jsonl``, ``summary.json`` and ``embeddings.npz`` into the workdir.

Spaces: ``nb201``, ``nb101`` and ``darts`` (datasets, ``arch_str`` ids and prior metrics per space:
:mod:`a2v_jax.pretrain_data`). Models: arch2vec and the baselines of the paper's pretraining table
(``--model``, :data:`a2v_jax.config.MODEL_VARIANTS`).

On several devices (:mod:`a2v_jax.sharding`) the members are sharded over the mesh's ``pop`` axis
and each batch over its ``data`` axis; the programs are the same pure functions, jitted with
shardings. Checkpoints always hold exactly ``population`` members, so a run may resume on
another device count; in a multi-host run only process 0 writes the workdir's files.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from a2v_jax.checkpoint import Checkpointer, check_workdir
from a2v_jax.config import (
    SPACE_DEFAULTS,
    ModelConfig,
    TrainConfig,
    get_model_config,
    get_preset,
    model_identity,
    to_dict,
)
from a2v_jax.embed import Embeddings, save_embeddings
from a2v_jax.pretrain_data import SpaceDataset as SpaceDataset  # re-exported
from a2v_jax.pretrain_data import load_space_dataset, num_train_graphs, prior_validity
from a2v_jax.runtime import device_name
from a2v_jax.sharding import (
    DATA,
    POP,
    barrier,
    describe,
    is_primary,
    make_mesh,
    mesh_size,
    pad_leading,
    padded_size,
    parse_mesh,
    pop_sharding,
    pretraining_mesh_shape,
    put,
    replicated,
    select_devices,
    to_host,
)
from a2v_jax.spaces import get_space
from a2v_jax.train import (
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

REPORTED = ("acc_ops", "mean_corr_adj", "mean_fal_pos_adj", "acc_adj", "recon_exact")


@dataclass(frozen=True)
class PretrainConfig:
    """Everything a pretraining run depends on. ``None`` epochs / seed take the space's defaults."""

    space: str = "nb201"
    preset: str = "paper"
    model: str = "arch2vec"  # a2v_jax.config.MODEL_VARIANTS: arch2vec, arch2vec_no_kl, gae, vgae
    epochs: int | None = None
    seed: int | None = None
    population: int = 1  # models trained at once under vmap, seeds seed, seed+1, ...
    batch_size: int = 32
    prior_samples: int = 10_000
    workdir: str = "runs/nb201"
    data_dir: str | None = None
    subset: int | None = None  # use only the first `subset` architectures (smoke tests, CI)
    progress: bool = True
    devices: int | None = None  # devices to use; None: all JAX sees (not part of the run's identity)
    mesh: str | None = None  # "POPxDATA"; None: pretraining_mesh_shape

    def resolved(self) -> PretrainConfig:
        """The config with the space's defaults filled in and values checked."""
        defaults = SPACE_DEFAULTS.get(self.space, {"epochs": 10, "seed": 0})
        cfg = dataclasses.replace(
            self,
            epochs=defaults["epochs"] if self.epochs is None else self.epochs,
            seed=defaults["seed"] if self.seed is None else self.seed,
        )
        get_preset(cfg.preset)
        get_model_config(cfg.model)
        if cfg.subset is not None and cfg.subset < 20:
            raise ValueError(f"--subset must be at least 20 architectures, got {cfg.subset}")
        for name in ("epochs", "population", "batch_size", "prior_samples"):
            if getattr(cfg, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
        if cfg.mesh is not None:
            _, data = parse_mesh(cfg.mesh)
            if cfg.batch_size % data:
                raise ValueError(
                    f"--mesh {cfg.mesh}: data axis {data} does not divide --batch-size {cfg.batch_size}"
                )
        return cfg

    def device_mesh(self) -> Mesh | None:
        """The (pop, data) mesh of this run, or None on one device."""
        if self.mesh is not None:
            mesh = make_mesh(self.devices, self.mesh)
        else:
            n = len(select_devices(self.devices))
            mesh = make_mesh(n, pretraining_mesh_shape(n, self.population, self.batch_size))
        return mesh if mesh.size > 1 else None


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("a2v_jax", "jax", "jaxlib", "flax", "optax", "jraph", "chex", "numpy", "orbax-checkpoint"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


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


class _Programs:
    """The jitted programs of a run, each compiled once: no retrace between epochs.

    Per-epoch keys, orders and the train/eval mode of the preset's ``train_mode_epochs``
    (:func:`~a2v_jax.train.scheduled_epoch`) are derived inside the programs from the traced
    epoch number, so no small eager op (each a separate XLA compile on first use) runs in the
    loop and the epoch program compiles once.

    With a ``mesh`` every program is jitted with the members' leading axis sharded over ``pop``
    and the datasets replicated; when ``data`` has more than one device, each epoch's batch
    order is constrained to split every batch over it, so each device gathers and trains on its
    slice and XLA all-reduces gradients and BatchNorm sums (the global batch's statistics).
    """

    def __init__(
        self,
        preset,
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


def _member(tree: Any, m: int) -> Any:
    return jax.tree.map(lambda x: x[m], tree)


def _to_float(d: dict) -> dict[str, float]:
    return {k: float(v) for k, v in d.items()}


def run_pretraining(cfg: PretrainConfig) -> dict[str, Any]:
    """Runs (or resumes) pretraining and returns the summary written to ``summary.json``."""
    t_start = time.perf_counter()
    cfg = cfg.resolved()
    space = get_space(cfg.space)
    preset = get_preset(cfg.preset)
    model_cfg = get_model_config(cfg.model)
    train_cfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, prior_samples=cfg.prior_samples)
    data = load_space_dataset(space, cfg.data_dir, cfg.subset, cfg.progress and is_primary())

    workdir = Path(cfg.workdir)
    identity = {
        "space": cfg.space,
        "preset": to_dict(preset),
        "model": model_identity(model_cfg),
        "train": {k: v for k, v in to_dict(train_cfg).items() if k != "epochs"},
        "seed": cfg.seed,
        "population": cfg.population,
        "order": data.order,
        "subset": cfg.subset,
    }
    mesh = cfg.device_mesh()  # before the workdir is touched: a mesh that cannot be built fails first
    primary = is_primary()
    if primary:  # process 0 writes config.json; the others check it once it is there
        check_workdir(workdir, identity)
    barrier("a2v_jax.pretrain.workdir")
    if not primary:
        check_workdir(workdir, identity)

    p = data.graphs.num_graphs
    num_train = num_train_graphs(p, train_cfg.val_fraction)
    # Split on the host; one device transfer per leaf (no eager device ops to compile).
    place = (lambda x: jnp.asarray(x)) if mesh is None else (lambda x: put(x, replicated(mesh)))
    graphs = jax.tree.map(place, data.graphs)
    train_set = jax.tree.map(lambda x: place(x[:num_train]), data.graphs)
    val_set = jax.tree.map(lambda x: place(x[num_train:]), data.graphs)

    # A population that does not divide the mesh's pop axis is padded with copies of the last
    # member; checkpoints, metrics and embeddings hold the real members only.
    seeds = [cfg.seed + m for m in range(cfg.population)]
    size = padded_size(cfg.population, mesh_size(mesh, POP))
    num_nodes, num_ops = data.graphs.ops.shape[1:]
    programs = _Programs(preset, model_cfg, train_cfg, num_nodes, num_ops, size, mesh)
    padded_seeds = np.array(seeds + seeds[-1:] * (size - cfg.population), dtype=np.uint32)
    states, keys = programs.init(padded_seeds)  # keys: (K, 3) shuffle/train/prior
    to_saved, from_saved = _saved_members(cfg.population, size, mesh)

    ckpt = Checkpointer(workdir / "checkpoints")
    tree = {
        "params": states.params,
        "batch_stats": states.batch_stats,
        "opt_state": states.opt_state,
        "step": states.step,
        "prior": programs.empty_prior(np.zeros(size)),
    }
    start = 0
    latest = ckpt.latest_epoch()
    if latest is not None:
        tree = from_saved(ckpt.restore(latest, to_saved(tree)))
        states = states.replace(
            params=tree["params"],
            batch_stats=tree["batch_stats"],
            opt_state=tree["opt_state"],
            step=tree["step"],
        )
        start = min(latest, cfg.epochs)
    prior = tree["prior"]

    metrics_path = workdir / "metrics.jsonl"
    if primary:
        _truncate_metrics(metrics_path, start)
    bar = _progress(cfg.progress and primary, start, cfg.epochs, cfg.space, cfg.preset)
    line: dict[str, Any] = {}
    for epoch in range(start, cfg.epochs):
        t_epoch = time.perf_counter()
        states, losses, prior = programs.epoch(states, train_set, keys, np.uint32(epoch))
        jax.block_until_ready(losses)
        t_eval = time.perf_counter()
        line = _epoch_line(
            epoch + 1, states, losses, prior, val_set, space, programs, keys, epoch, cfg.population
        )
        line.update(epoch_s=t_eval - t_epoch, eval_s=time.perf_counter() - t_eval)  # training / metrics
        if primary:
            with metrics_path.open("a") as f:
                f.write(json.dumps(line) + "\n")
        ckpt.save(  # every process: each saves its shards
            epoch + 1,
            to_saved(
                {
                    "params": states.params,
                    "batch_stats": states.batch_stats,
                    "opt_state": states.opt_state,
                    "step": states.step,
                    "prior": prior,
                }
            ),
        )
        bar.update(1)
        bar.set_postfix(
            loss=f"{line['loss']:.4f}", acc_ops=f"{line['acc_ops']:.4f}", valid=f"{line['validity']:.3f}"
        )
    bar.close()
    if not line:  # resumed after the last epoch: recompute the final metrics from the checkpoint
        line = _epoch_line(
            cfg.epochs, states, None, prior, val_set, space, programs, keys, cfg.epochs - 1, cfg.population
        )
    ckpt.close()

    features = to_host(programs.embed(states, graphs))[: cfg.population]  # (K, P, D)
    checkpoint_ref = f"{(workdir / 'checkpoints' / str(cfg.epochs)).absolute()}"
    extra = (
        {"features_population": features, "population_seeds": np.array(seeds)} if cfg.population > 1 else None
    )
    if primary:
        save_embeddings(
            workdir / "embeddings.npz",
            Embeddings(
                features[0],
                data.arch_str,
                data.index,
                checkpoint_ref,
                cfg.space,
                cfg.preset,
                cfg.seed,
                data.order,
            ),
            extra,
        )
    summary = {k: v for k, v in line.items() if k not in ("epoch", "population")}
    summary.update(
        {
            "space": cfg.space,
            "preset": cfg.preset,
            "model": cfg.model,
            "epochs": cfg.epochs,
            "seed": cfg.seed,
            "population_seeds": seeds,
            "order": data.order,
            "num_train": num_train,
            "num_val": p - num_train,
            "prior_samples": train_cfg.prior_samples,
            "resumed_from_epoch": start if latest is not None else None,
            "wall_s": time.perf_counter() - t_start,
            "device": device_name(),
            "sharding": describe(mesh),
            "versions": _versions(),
            "embeddings": str((workdir / "embeddings.npz").absolute()),
        }
    )
    if "population" in line:
        summary["population"] = line["population"]
    if primary:
        (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _saved_members(population: int, size: int, mesh: Mesh | None) -> tuple[Callable, Callable]:
    """``(to_saved, from_saved)``: the checkpointed tree holds the first ``population`` members.

    Identity functions unless the population was padded to ``size`` for the mesh; then
    ``to_saved`` drops the padding (replicated, so any device count can restore it) and
    ``from_saved`` pads a restored tree again with copies of the last member.
    """
    if size == population:
        return (lambda t: t), (lambda t: t)
    to_saved = jax.jit(lambda t: jax.tree.map(lambda x: x[:population], t), out_shardings=replicated(mesh))
    from_saved = jax.jit(lambda t: pad_leading(t, size), out_shardings=pop_sharding(mesh))
    return to_saved, from_saved


def _epoch_line(
    epoch, states, losses, prior, val_set, space, programs, keys, epoch_idx, population
) -> dict[str, Any]:
    """Metrics of the first ``population`` members after an epoch: losses, held-out recon, prior validity."""
    recon = to_host(programs.evaluate(states, val_set))
    losses = None if losses is None else to_host(losses)
    op_idx, adj = to_host(programs.sample(states, prior, keys, np.uint32(epoch_idx)))
    members = []
    for m in range(population):
        row = {} if losses is None else _to_float(_member(losses, m))
        row.update(_to_float(_member(recon, m)))
        row.update(prior_validity(space, op_idx[m], adj[m]))
        members.append(row)
    line = {"epoch": epoch, **members[0]}
    if len(members) > 1:
        line["population"] = members
    return line


def _truncate_metrics(path: Path, epochs_done: int) -> None:
    """Drops lines of epochs after the restored checkpoint (a run killed after logging)."""
    if not path.exists():
        return
    keep = [
        ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["epoch"] <= epochs_done
    ]
    path.write_text("".join(ln + "\n" for ln in keep))


def _progress(enabled: bool, start: int, total: int, space: str, preset: str):
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=start,
        desc=f"pretrain {space} ({preset})",
        unit="epoch",
        disable=not enabled,
        file=sys.stderr,
    )
