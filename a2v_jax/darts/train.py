"""Training a genotype's DARTS network on CIFAR-10: the run, the search evaluator, the command.

:func:`train_network` trains with a config of :mod:`a2v_jax.darts.config` (the 50-epoch ``proxy``,
arch2vec's search evaluator, or the 600-epoch ``final`` run), one jitted epoch of
:mod:`a2v_jax.darts.steps` at a time, with checkpoints and per-epoch metrics. Keys: ``key -> (init,
train)``, epoch ``e`` uses ``fold_in(train, e)``, so a resumed run is bit-equal to an uninterrupted
one. :func:`make_evaluator` is the search's query: ``evaluator(genotype) -> (reward, cost_s)``.

Run::

    python -m a2v_jax.darts.train --genotype arch2vec_bo --preset final \\
        --data-dir ~/data/cifar-10-batches-py --workdir runs/darts_bo_final --seed 1

Outputs in ``--workdir``: ``config.json`` (the run's identity; a different run refuses the folder),
``checkpoints/`` (orbax, every epoch; rerunning the command resumes), ``metrics.jsonl`` (one line
per epoch) and ``summary.json``. What a run costs, and what was measured: ``docs/darts-training.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from a2v_jax.darts.cifar import CIFAR10, load_cifar10, split_train_valid
from a2v_jax.darts.config import PRESETS, DartsTrainConfig, drop_prob_at_epoch, get_preset, lr_at_epoch
from a2v_jax.darts.network import NetworkCIFAR, init_network, param_counts, resolve_genotype
from a2v_jax.darts.steps import DartsState, evaluate, train_epoch
from a2v_jax.pretrain.checkpoint import Checkpointer, check_workdir
from a2v_jax.spaces.darts import Genotype


def make_optimizer(cfg: DartsTrainConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    """Clip by global norm, add ``weight_decay * param``, SGD with momentum at the per-epoch cosine LR.

    Memoised on ``(cfg, steps_per_epoch)``, so equal configs share one object and a second run
    reuses the compiled epoch (the optimiser is a static part of the state).
    """
    return _make_optimizer(cfg, int(steps_per_epoch))


@functools.lru_cache(maxsize=32)
def _make_optimizer(cfg: DartsTrainConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    schedule = lambda count: lr_at_epoch(cfg, count // steps_per_epoch)  # noqa: E731
    return optax.chain(
        optax.clip_by_global_norm(cfg.grad_clip),
        optax.add_decayed_weights(cfg.weight_decay),
        optax.sgd(schedule, momentum=cfg.momentum, nesterov=cfg.nesterov),
    )


def build_network(genotype: Genotype, cfg: DartsTrainConfig) -> NetworkCIFAR:
    """``NetworkCIFAR(genotype, cfg.init_channels, cfg.layers, 10, cfg.auxiliary)``, memoised."""
    return _build_network(genotype, cfg)


@functools.lru_cache(maxsize=32)
def _build_network(genotype: Genotype, cfg: DartsTrainConfig) -> NetworkCIFAR:
    return NetworkCIFAR(genotype, cfg.init_channels, cfg.layers, 10, cfg.auxiliary)


def create_state(
    key: chex.PRNGKey, genotype: Any, cfg: DartsTrainConfig, steps_per_epoch: int, image_size: int = 32
) -> DartsState:
    """A fresh :class:`DartsState` (PyTorch's default initialisation drawn from ``key``).

    Args:
      key: PRNG key of the weights.
      genotype: a :class:`Genotype`, its string form or a name in ``GENOTYPES``.
      cfg: the training config.
      steps_per_epoch: batches per epoch (the LR and drop-path change once per epoch).
      image_size: input height = width.
    """
    model = build_network(resolve_genotype(genotype), cfg)
    variables = init_network(model, key, image_size)
    return DartsState(
        step=jnp.zeros((), jnp.int32),  # an array, as a restored checkpoint's: one compiled epoch
        apply_fn=model.apply,
        params=variables["params"],
        opt_state=make_optimizer(cfg, steps_per_epoch).init(variables["params"]),
        tx=make_optimizer(cfg, steps_per_epoch),
        batch_stats=variables["batch_stats"],
        model=model,
        cfg=cfg,
        steps_per_epoch=steps_per_epoch,
    )


_train_epoch = jax.jit(train_epoch, donate_argnums=(0,))
_evaluate = jax.jit(evaluate)


def _rates(sums: dict[str, Any], prefix: str) -> dict[str, float]:
    sums = jax.device_get(sums)
    n = max(float(sums["count"]), 1.0)
    return {f"{prefix}_loss": float(sums["loss"]) / n, f"{prefix}_acc": float(sums["correct"]) / n}


def _truncate_metrics(path: Path, epochs_done: int) -> list[dict]:
    """Keeps the lines of epochs up to the restored checkpoint (a run killed after logging); returns them."""
    if not path.exists():
        return []
    lines = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    kept = [ln for ln in lines if ln["epoch"] <= epochs_done]
    path.write_text("".join(json.dumps(ln) + "\n" for ln in kept))
    return kept


def _progress(enabled: bool, start: int, total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=start, desc=desc, unit="epoch", disable=not enabled, file=sys.stderr)


def _key_data(key: chex.PRNGKey) -> list[int]:
    return np.asarray(jax.random.key_data(key)).ravel().tolist()


def train_network(
    genotype: Any,
    data: CIFAR10,
    cfg: DartsTrainConfig,
    key: chex.PRNGKey,
    *,
    workdir: str | Path | None = None,
    progress: bool = False,
    until_epoch: int | None = None,
) -> dict[str, Any]:
    """Trains ``genotype``'s network on CIFAR-10 with ``cfg`` and returns the summary.

    Args:
      genotype: a :class:`Genotype`, its string form or a name in ``GENOTYPES``.
      data: the CIFAR-10 arrays (:func:`~a2v_jax.darts.cifar.load_cifar10`).
      cfg: the training config (:data:`PRESETS`).
      key: PRNG key of the run.
      workdir: folder for ``config.json``, checkpoints and ``metrics.jsonl`` (resumes from its
        latest checkpoint); None: nothing written.
      progress: show a tqdm bar over epochs.
      until_epoch: stop after this many completed epochs (a run split over several jobs: rerun
        with the same ``workdir`` to go on); None: ``cfg.epochs``.

    Returns:
      A dict: ``reward`` (mean validation accuracy over the last ``reward_epochs`` epochs with a
      validation set, else the last test accuracy), ``valid_acc``, ``test_acc`` (last evaluated),
      ``params`` (DARTS's count, no auxiliary head), ``epochs_done``, ``complete``, ``history``
      (per-epoch lines as in ``metrics.jsonl``: ``lr``, ``drop_prob``, ``train_loss`` /
      ``train_acc`` over the epoch's augmented batches, ``valid_*`` / ``test_*`` after it, and
      ``epoch_s``, the wall seconds of the epoch and its evaluation, compilation included in a
      process's first epoch), ``wall_s``, ``device``, and ``state`` (the final :class:`DartsState`).
    """
    from a2v_jax.runtime import device_name

    t_start = time.perf_counter()
    genotype = resolve_genotype(genotype)
    if cfg.has_validation:
        (train_x, train_y), (valid_x, valid_y) = split_train_valid(data, cfg.train_portion)
    else:
        train_x, train_y, valid_x, valid_y = data.train_images, data.train_labels, None, None
    n_train = train_x.shape[0]
    steps_per_epoch = -(-n_train // cfg.batch_size)
    k_init, k_train = jax.random.split(key)
    state = create_state(k_init, genotype, cfg, steps_per_epoch, image_size=train_x.shape[1])
    # Everything committed to one device, as restored checkpoints are: a resumed run reuses the
    # compiled epoch (jit's cache tells committed from uncommitted arrays).
    device = jax.devices()[0]
    train_x, train_y, test_x, test_y = jax.device_put(
        (train_x, train_y, data.test_images, data.test_labels), device
    )
    if valid_x is not None:
        valid_x, valid_y = jax.device_put((valid_x, valid_y), device)

    history: list[dict] = []
    start = 0
    ckpt = None
    metrics_path = None
    if workdir is not None:
        workdir = Path(workdir)
        identity = {
            "genotype": str(genotype),
            "config": dataclasses.asdict(cfg),
            "key": _key_data(key),
            "num_train": int(n_train),
            "num_valid": 0 if valid_x is None else int(valid_x.shape[0]),
            "num_test": int(test_x.shape[0]),
        }
        check_workdir(workdir, identity)
        ckpt = Checkpointer(workdir / "checkpoints")
        latest = ckpt.latest_epoch()
        if latest is not None:
            tree = ckpt.restore(latest, _saved(state))
            state = state.replace(**tree)
            start = min(latest, cfg.epochs)
        metrics_path = workdir / "metrics.jsonl"
        history = _truncate_metrics(metrics_path, start)
    state = jax.device_put(state, device)

    stop = cfg.epochs if until_epoch is None else min(max(until_epoch, start), cfg.epochs)
    bar = _progress(progress, start, cfg.epochs, f"darts {cfg.epochs} epochs")
    for epoch in range(start, stop):
        t0 = time.perf_counter()
        epoch_key = jax.device_put(jax.random.fold_in(k_train, epoch), device)
        state, sums = _train_epoch(state, train_x, train_y, epoch_key)
        line: dict[str, Any] = {
            "epoch": epoch + 1,
            "lr": float(lr_at_epoch(cfg, epoch)),
            "drop_prob": float(drop_prob_at_epoch(cfg, epoch)),
            **_rates(sums, "train"),
        }
        if valid_x is not None:
            line.update(_rates(_evaluate(state, valid_x, valid_y), "valid"))
        if valid_x is None or epoch >= cfg.epochs - cfg.test_epochs:
            line.update(_rates(_evaluate(state, test_x, test_y), "test"))
        line["epoch_s"] = time.perf_counter() - t0
        history.append(line)
        if workdir is not None:
            with metrics_path.open("a") as f:
                f.write(json.dumps(line) + "\n")
            ckpt.save(epoch + 1, _saved(state))
        bar.update(1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in line.items() if k.endswith("_acc")})
    bar.close()
    if ckpt is not None:
        ckpt.close()

    summary = _summary(history, cfg)
    summary.update(
        {
            "genotype": str(genotype),
            "params": param_counts(state.model, train_x.shape[1])["network"],
            "epochs": cfg.epochs,
            "epochs_done": stop,
            "complete": stop == cfg.epochs,
            "num_train": int(n_train),
            "resumed_from_epoch": start if start else None,
            "wall_s": time.perf_counter() - t_start,
            "device": device_name(),
        }
    )
    if workdir is not None:
        (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    summary["history"] = history
    summary["state"] = state
    return summary


def _saved(state: DartsState) -> dict[str, Any]:
    return {
        "params": state.params,
        "batch_stats": state.batch_stats,
        "opt_state": state.opt_state,
        "step": state.step,
    }


def _summary(history: list[dict], cfg: DartsTrainConfig) -> dict[str, Any]:
    """Reward and last accuracies from the per-epoch lines."""
    last = lambda field: next((ln[field] for ln in reversed(history) if field in ln), None)  # noqa: E731
    if cfg.has_validation:
        tail = [ln["valid_acc"] for ln in history[-cfg.reward_epochs :]]
        reward = float(np.mean(tail)) if tail else None
    else:
        reward = last("test_acc")
    return {"reward": reward, "valid_acc": last("valid_acc"), "test_acc": last("test_acc")}


@functools.lru_cache(maxsize=2)
def _cached_cifar10(folder: str) -> CIFAR10:
    data = load_cifar10(folder)
    for a in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        a.setflags(write=False)
    return data


def evaluate_genotype(
    genotype: Any,
    data_dir: str | Path | None = None,
    cfg: DartsTrainConfig = PRESETS["proxy"],
    key: chex.PRNGKey | None = None,
) -> tuple[float, float]:
    """The search evaluator: trains ``genotype`` with ``cfg`` and returns ``(reward, cost_s)``.

    Args:
      genotype: a :class:`Genotype`, its string form or a name in ``GENOTYPES``.
      data_dir: the CIFAR-10 batches folder (default ``$A2V_CIFAR10_DIR``); loaded once per process.
      cfg: the training config; default the 50-epoch ``proxy``.
      key: PRNG key of the run (default ``jax.random.key(0)``).

    Returns:
      ``(valid_acc, cost_s)``: the reward (``proxy``: mean validation accuracy over the last 5
      epochs, a fraction) and the wall seconds spent (compilation, training and evaluation).
    """
    from a2v_jax.darts.cifar import resolve_cifar10_dir

    t0 = time.perf_counter()
    data = _cached_cifar10(str(resolve_cifar10_dir(data_dir)))
    summary = train_network(genotype, data, cfg, jax.random.key(0) if key is None else key)
    return float(summary["reward"]), time.perf_counter() - t0


def make_evaluator(
    data_dir: str | Path | None = None, cfg: DartsTrainConfig = PRESETS["proxy"], seed: int = 0
) -> Callable[[Any], tuple[float, float]]:
    """``evaluator(genotype) -> (reward, cost_s)`` for the search; key ``fold_in(key(seed), crc32(cell))``."""
    base = jax.random.key(seed)

    def evaluator(genotype: Any) -> tuple[float, float]:
        g = resolve_genotype(genotype)
        key = jax.random.fold_in(base, zlib.crc32(str(g).encode()) & 0x7FFFFFFF)
        return evaluate_genotype(g, data_dir, cfg, key)

    return evaluator


def subset(data: CIFAR10, num_train: int | None = None, num_test: int | None = None) -> CIFAR10:
    """The first ``num_train`` training and ``num_test`` test images (smoke runs); None keeps all."""
    return dataclasses.replace(
        data,
        train_images=data.train_images[:num_train],
        train_labels=data.train_labels[:num_train],
        test_images=data.test_images[:num_test],
        test_labels=data.test_labels[:num_test],
    )


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m a2v_jax.darts.train",
        description="Train DARTS's CIFAR-10 network of a genotype (arch2vec's proxy or final settings).",
    )
    p.add_argument("--genotype", required=True, help="arch2vec_bo, arch2vec_rl or a Genotype(...) string")
    p.add_argument("--preset", default="final", choices=sorted(PRESETS))
    p.add_argument("--data-dir", help="cifar-10-batches-py folder (default $A2V_CIFAR10_DIR)")
    p.add_argument("--workdir", required=True, help="checkpoints, metrics.jsonl, summary.json; resumes")
    p.add_argument("--seed", type=int, default=1, help="PRNG seed (arch2vec's final run: 1)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--eval-batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--init-channels", type=int)
    p.add_argument("--layers", type=int)
    p.add_argument("--drop-path", type=float)
    p.add_argument("--cutout", type=int)
    p.add_argument("--train-portion", type=float)
    p.add_argument("--no-auxiliary", action="store_true")
    p.add_argument("--limit-train", type=int, help="use only the first N training images (smoke runs)")
    p.add_argument("--limit-test", type=int, help="use only the first N test images (smoke runs)")
    p.add_argument("--until-epoch", type=int, help="stop after this epoch; rerun to go on")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parses arguments, trains, prints the summary as JSON."""
    args = _parser().parse_args(argv)
    cfg = get_preset(
        args.preset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        eval_batch_size=args.eval_batch_size,
        lr=args.lr,
        init_channels=args.init_channels,
        layers=args.layers,
        drop_path=args.drop_path,
        cutout=args.cutout,
        train_portion=args.train_portion,
        auxiliary=False if args.no_auxiliary else None,
    )
    try:
        genotype = resolve_genotype(args.genotype)
        data = subset(load_cifar10(args.data_dir), args.limit_train, args.limit_test)
    except ValueError as e:  # DataError, bad genotype: say what, no traceback, exit 2 as every command
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from e
    summary = train_network(
        genotype,
        data,
        cfg,
        jax.random.key(args.seed),
        workdir=args.workdir,
        progress=not args.no_progress,
        until_epoch=args.until_epoch,
    )
    printable = {k: v for k, v in summary.items() if k not in ("history", "state")}
    print(json.dumps(printable, indent=2))
    return printable


if __name__ == "__main__":
    main()
