"""The pretraining loop behind ``python -m a2v_jax.pretrain``: set up, train the epochs, write the outputs.

:func:`run_pretraining` loads the space's graphs (:mod:`~a2v_jax.pretrain.input_pipeline`), splits
them as the original (the first ``int(0.9 N)`` of the space's order train), trains a population of
models (one per seed) with the compiled :class:`~a2v_jax.pretrain.programs.Programs`, evaluates
reconstruction and prior validity after every epoch, checkpoints after every epoch (a restarted
command resumes and ends bit-equal to an uninterrupted run) and writes ``metrics.jsonl``,
``summary.json`` and ``embeddings.npz`` into the workdir.

On several devices (:mod:`a2v_jax.sharding`) the members are sharded over the mesh's ``pop`` axis
and each batch over its ``data`` axis. Checkpoints always hold exactly ``population`` members, so
a run may resume on another device count; in a multi-host run only process 0 writes the
workdir's files.
"""

from __future__ import annotations

import dataclasses
import functools
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
from jax.sharding import Mesh

from a2v_jax.embed import Embeddings, save_embeddings
from a2v_jax.pretrain.checkpoint import Checkpointer, check_epochs_done, check_workdir, workdir_lock
from a2v_jax.pretrain.config import (
    PretrainConfig,
    TrainConfig,
    get_model_config,
    get_preset,
    model_identity,
    to_dict,
)
from a2v_jax.pretrain.graphs import GraphBatch
from a2v_jax.pretrain.input_pipeline import SpaceDataset, load_space_dataset, num_train_graphs, prior_validity
from a2v_jax.pretrain.programs import Programs
from a2v_jax.runtime import device_name
from a2v_jax.sharding import (
    POP,
    barrier,
    describe,
    is_primary,
    mesh_size,
    pad_leading,
    padded_size,
    pop_sharding,
    put,
    replicated,
    to_host,
)
from a2v_jax.spaces import SearchSpace, get_space


@dataclass
class _Run:
    """What a run is set up with before its first epoch (:func:`_setup`), and what follows from it."""

    cfg: PretrainConfig
    space: SearchSpace
    train_cfg: TrainConfig
    data: SpaceDataset
    mesh: Mesh | None
    primary: bool  # this process writes the workdir's files
    programs: Programs

    @property
    def workdir(self) -> Path:
        return Path(self.cfg.workdir)

    @property
    def seeds(self) -> list[int]:
        return [self.cfg.seed + m for m in range(self.cfg.population)]

    @property
    def size(self) -> int:
        """The population padded to the mesh's pop axis (copies of the last member)."""
        return padded_size(self.cfg.population, mesh_size(self.mesh, POP))

    @property
    def num_train(self) -> int:
        return num_train_graphs(self.data.graphs.num_graphs, self.train_cfg.val_fraction)

    def _place(self, x: np.ndarray) -> jax.Array:
        """One device transfer per leaf, split on the host (no eager device ops to compile)."""
        return jnp.asarray(x) if self.mesh is None else put(x, replicated(self.mesh))

    @functools.cached_property
    def graphs(self) -> GraphBatch:
        """Every graph of the space's order, for the embeddings."""
        return jax.tree.map(self._place, self.data.graphs)

    @functools.cached_property
    def train_set(self) -> GraphBatch:
        return jax.tree.map(lambda x: self._place(x[: self.num_train]), self.data.graphs)

    @functools.cached_property
    def val_set(self) -> GraphBatch:
        return jax.tree.map(lambda x: self._place(x[self.num_train :]), self.data.graphs)

    @functools.cached_property
    def saved(self) -> tuple[Callable, Callable]:
        """``(to_saved, from_saved)`` of :func:`_saved_members`."""
        return _saved_members(self.cfg.population, self.size, self.mesh)


def run_pretraining(cfg: PretrainConfig) -> dict[str, Any]:
    """Runs (or resumes) pretraining and returns the summary written to ``summary.json``."""
    t_start = time.perf_counter()
    cfg = cfg.resolved()
    with workdir_lock(Path(cfg.workdir), enabled=is_primary()):  # a second writer is refused at once
        check_epochs_done(Path(cfg.workdir), cfg.epochs)
        run = _setup(cfg)
        ckpt = Checkpointer(run.workdir / "checkpoints")
        states, keys, prior, start, resumed = _init_or_restore(run, ckpt)
        states, line = _train_epochs(run, ckpt, states, keys, prior, start)
        ckpt.close()
        return _write_outputs(run, states, line, start if resumed else None, t_start)


def _setup(cfg: PretrainConfig) -> _Run:
    """Loads the data, checks the workdir against the run's identity, splits and places the graphs."""
    space = get_space(cfg.space)
    preset = get_preset(cfg.preset)
    model_cfg = get_model_config(cfg.model)
    data = load_space_dataset(space, cfg.data_dir, cfg.subset, cfg.progress and is_primary())
    num_train = num_train_graphs(data.graphs.num_graphs, TrainConfig().val_fraction)
    if cfg.batch_size > num_train:  # one padded batch per epoch either way; a smaller one is faster
        print(
            f"warning: --batch-size {cfg.batch_size} is larger than the {num_train} training graphs; "
            f"using {num_train}",
            file=sys.stderr,
        )
        cfg = dataclasses.replace(cfg, batch_size=num_train)
    train_cfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, prior_samples=cfg.prior_samples)

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

    size = padded_size(cfg.population, mesh_size(mesh, POP))
    num_nodes, num_ops = data.graphs.ops.shape[1:]
    programs = Programs(preset, model_cfg, train_cfg, num_nodes, num_ops, size, mesh)
    return _Run(cfg, space, train_cfg, data, mesh, primary, programs)


def _init_or_restore(run: _Run, ckpt: Checkpointer) -> tuple[Any, Any, Any, int, bool]:
    """The members' initial states and keys, restored from the latest checkpoint if there is one.

    Returns ``(states, keys, prior, start, resumed)``: ``keys`` ``(K, 3)`` (shuffle, train, prior),
    the prior statistics of the last finished epoch, and the number of epochs already done.
    """
    seeds = run.seeds + run.seeds[-1:] * (run.size - len(run.seeds))
    states, keys = run.programs.init(np.array(seeds, dtype=np.uint32))
    tree = {
        "params": states.params,
        "batch_stats": states.batch_stats,
        "opt_state": states.opt_state,
        "step": states.step,
        "prior": run.programs.empty_prior(np.zeros(run.size)),
    }
    latest = ckpt.latest_epoch()
    if latest is None:
        return states, keys, tree["prior"], 0, False
    to_saved, from_saved = run.saved
    tree = from_saved(ckpt.restore(latest, to_saved(tree)))
    states = states.replace(
        params=tree["params"],
        batch_stats=tree["batch_stats"],
        opt_state=tree["opt_state"],
        step=tree["step"],
    )
    return states, keys, tree["prior"], min(latest, run.cfg.epochs), True


def _train_epochs(
    run: _Run, ckpt: Checkpointer, states: Any, keys: Any, prior: Any, start: int
) -> tuple[Any, dict[str, Any]]:
    """Epochs ``start..epochs-1``: train, log a metrics line, checkpoint. Returns the states and last line."""
    cfg, programs = run.cfg, run.programs
    metrics_path = run.workdir / "metrics.jsonl"
    if run.primary:
        _truncate_metrics(metrics_path, start)
    bar = _progress(cfg.progress and run.primary, start, cfg.epochs, cfg.space, cfg.preset)
    line: dict[str, Any] = {}
    for epoch in range(start, cfg.epochs):
        t_epoch = time.perf_counter()
        states, losses, prior = programs.epoch(states, run.train_set, keys, np.uint32(epoch))
        jax.block_until_ready(losses)
        t_eval = time.perf_counter()
        line = _epoch_line(run, epoch + 1, states, losses, prior, keys)
        line.update(epoch_s=t_eval - t_epoch, eval_s=time.perf_counter() - t_eval)  # training / metrics
        if run.primary:
            with metrics_path.open("a") as f:
                f.write(json.dumps(line) + "\n")
        saved = {
            "params": states.params,
            "batch_stats": states.batch_stats,
            "opt_state": states.opt_state,
            "step": states.step,
            "prior": prior,
        }
        ckpt.save(epoch + 1, run.saved[0](saved))  # every process: each saves its shards
        bar.update(1)
        bar.set_postfix(
            loss=f"{line['loss']:.4f}", acc_ops=f"{line['acc_ops']:.4f}", valid=f"{line['validity']:.3f}"
        )
    bar.close()
    if not line:  # resumed after the last epoch: recompute the final metrics from the checkpoint
        line = _epoch_line(run, cfg.epochs, states, None, prior, keys)
    return states, line


def _write_outputs(
    run: _Run, states: Any, line: dict[str, Any], resumed_from: int | None, t_start: float
) -> dict[str, Any]:
    """Writes ``embeddings.npz`` and ``summary.json`` (process 0) and returns the summary."""
    cfg, data, workdir = run.cfg, run.data, run.workdir
    features = to_host(run.programs.embed(states, run.graphs))[: cfg.population]  # (K, P, D)
    checkpoint_ref = f"{(workdir / 'checkpoints' / str(cfg.epochs)).absolute()}"
    extra = (
        {"features_population": features, "population_seeds": np.array(run.seeds)}
        if cfg.population > 1
        else None
    )
    if run.primary:
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
            "population_seeds": run.seeds,
            "order": data.order,
            "num_train": run.num_train,
            "num_val": data.graphs.num_graphs - run.num_train,
            "prior_samples": run.train_cfg.prior_samples,
            "resumed_from_epoch": resumed_from,
            "wall_s": time.perf_counter() - t_start,
            "device": device_name(),
            "sharding": describe(run.mesh),
            "versions": _versions(),
            "embeddings": str((workdir / "embeddings.npz").absolute()),
        }
    )
    if "population" in line:
        summary["population"] = line["population"]
    if run.primary:
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


def _epoch_line(run: _Run, epoch: int, states: Any, losses: Any, prior: Any, keys: Any) -> dict[str, Any]:
    """Metrics of the real members after epoch ``epoch`` (1-based): losses, held-out recon, prior validity."""
    recon = to_host(run.programs.evaluate(states, run.val_set))
    losses = None if losses is None else to_host(losses)
    op_idx, adj = to_host(run.programs.sample(states, prior, keys, np.uint32(epoch - 1)))
    members = []
    for m in range(len(run.seeds)):
        row = {} if losses is None else _to_float(_member(losses, m))
        row.update(_to_float(_member(recon, m)))
        row.update(prior_validity(run.space, op_idx[m], adj[m]))
        members.append(row)
    line = {"epoch": epoch, **members[0]}
    if len(members) > 1:
        line["population"] = members
    return line


def _member(tree: Any, m: int) -> Any:
    return jax.tree.map(lambda x: x[m], tree)


def _to_float(d: dict) -> dict[str, float]:
    return {k: float(v) for k, v in d.items()}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("a2v_jax", "jax", "jaxlib", "flax", "optax", "jraph", "chex", "numpy", "orbax-checkpoint"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


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
