"""``python -m a2v_jax.pretrain``: pre-train arch2vec on a search space.

Bare ``python -m a2v_jax.pretrain`` pre-trains NAS-Bench-201 with the paper's settings (10
epochs, seed 3, batch 32) into ``runs/nb201``. Examples::

    python -m a2v_jax.pretrain --space nb201 --epochs 10 --seed 3 --preset paper --workdir runs/nb201
    python -m a2v_jax.pretrain --space nb101                  # 423,624 cells, 8 epochs, seed 1
    python -m a2v_jax.pretrain --space darts --subset 50000   # the first 50,000 cells of the pool
    python -m a2v_jax.pretrain --space nb101 --model gae      # a baseline of the paper's table

NB201 needs no data file either: the cells are taken in the benchmark's index order, generated as
its authors did. NB101 needs no data file (the space is enumerated once and cached); with ``--data-dir`` or
``$A2V_NB101_DIR`` naming ``nasbench_only108.tfrecord`` it follows the benchmark's key order.
DARTS trains on the space's cached pool of 600,000 sampled cells (``--subset N``: its first N).

Every device JAX sees is used (``--devices 1`` for one): population members on the mesh's
``pop`` axis, each batch split over its ``data`` axis (``--mesh POPxDATA``, default automatic).
Multi-host: ``--coordinator HOST:PORT --num-processes N --process-id I`` on every host; only
process 0 writes the workdir's files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from a2v_jax.pretrain.config import PretrainConfig
from a2v_jax.pretrain.loop import run_pretraining
from a2v_jax.runtime import enable_compilation_cache
from a2v_jax.sharding import add_device_flags, initialize_from_flags


def parse_args(argv: list[str] | None = None) -> PretrainConfig:
    """Command-line flags -> :class:`PretrainConfig`."""
    return _parse(argv)[0]


def _parse(argv: list[str] | None) -> tuple[PretrainConfig, argparse.Namespace]:
    """The config and the raw flags (the multi-host ones are not part of the config)."""
    p = argparse.ArgumentParser(prog="python -m a2v_jax.pretrain", description=__doc__.splitlines()[0])
    p.add_argument("--space", default="nb201", choices=["nb201", "nb101", "darts"], help="search space")
    p.add_argument(
        "--model",
        default="arch2vec",
        choices=["arch2vec", "arch2vec_no_kl", "gae", "vgae"],
        help="arch2vec, or a baseline of the paper's pretraining table",
    )
    p.add_argument(
        "--preset",
        default="paper",
        choices=["paper", "default"],
        help="paper = the original; default = fixed",
    )
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the paper's: 10, nb101 8)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the paper's: 3, nb101 1)")
    p.add_argument("--population", type=int, default=1, help="models trained at once (seeds seed..seed+K-1)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--prior-samples", type=int, default=10_000, help="graphs decoded from the prior for validity"
    )
    p.add_argument("--workdir", default=None, help="output directory (default: runs/<space>)")
    p.add_argument(
        "--data-dir",
        default=None,
        help="nb101: the .tfrecord whose key order to follow (default $A2V_NB101_DIR); nb201 needs no "
        "table (its index order is generated), and one given here is checked against that order",
    )
    p.add_argument(
        "--subset", type=int, default=None, help="only the first N architectures (darts: a pool of N)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device_flags(p)
    a = p.parse_args(argv)
    flags = {f.name: getattr(a, f.name) for f in dataclasses.fields(PretrainConfig) if hasattr(a, f.name)}
    flags.update(workdir=a.workdir or f"runs/{a.space}", progress=not a.no_progress)
    return PretrainConfig(**flags), a


def main(argv: list[str] | None = None) -> int:
    """Runs pretraining; prints the summary as JSON on stdout; clear messages on bad input."""
    cfg, args = _parse(argv)
    try:
        initialize_from_flags(args)  # before anything touches a device
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    enable_compilation_cache()
    try:
        summary = run_pretraining(cfg)
    except (ValueError, RuntimeError, FileNotFoundError, NotImplementedError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from a2v_jax.sharding import is_primary

    if is_primary():
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
