"""``python -m a2v_jax.pretrain``: pre-train arch2vec on a search space.

Bare ``python -m a2v_jax.pretrain`` pre-trains NAS-Bench-201 with the paper's settings (10
epochs, seed 3, batch 32) into ``runs/nb201``. Example::

    python -m a2v_jax.pretrain --space nb201 --epochs 10 --seed 3 --preset paper --workdir runs/nb201

Every device JAX sees is used (``--devices 1`` for one): population members on the mesh's
``pop`` axis, each batch split over its ``data`` axis (``--mesh POPxDATA``, default automatic).
Multi-host: ``--coordinator HOST:PORT --num-processes N --process-id I`` on every host; only
process 0 writes the workdir's files.
"""

from __future__ import annotations

import argparse
import json
import sys

from a2v_jax.pretraining import PretrainConfig, run_pretraining
from a2v_jax.runtime import enable_compilation_cache
from a2v_jax.sharding import add_device_flags, initialize_from_flags


def parse_args(argv: list[str] | None = None) -> PretrainConfig:
    """Command-line flags -> :class:`PretrainConfig`."""
    return _parse(argv)[0]


def _parse(argv: list[str] | None) -> tuple[PretrainConfig, argparse.Namespace]:
    """The config and the raw flags (the multi-host ones are not part of the config)."""
    p = argparse.ArgumentParser(prog="python -m a2v_jax.pretrain", description=__doc__.splitlines()[0])
    p.add_argument("--space", default="nb201", choices=["nb201"], help="search space")
    p.add_argument(
        "--preset",
        default="paper",
        choices=["paper", "default"],
        help="paper = the original; default = fixed",
    )
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the paper's, 10 for nb201)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the paper's, 3 for nb201)")
    p.add_argument("--population", type=int, default=1, help="models trained at once (seeds seed..seed+K-1)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--prior-samples", type=int, default=10_000, help="graphs decoded from the prior for validity"
    )
    p.add_argument("--workdir", default=None, help="output directory (default: runs/<space>)")
    p.add_argument(
        "--data-dir", default=None, help="NB201 table directory (default: $A2V_NB201_DIR) for the index order"
    )
    p.add_argument("--subset", type=int, default=None, help="only the first N architectures (smoke tests)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_device_flags(p)
    a = p.parse_args(argv)
    return PretrainConfig(
        space=a.space,
        preset=a.preset,
        epochs=a.epochs,
        seed=a.seed,
        population=a.population,
        batch_size=a.batch_size,
        prior_samples=a.prior_samples,
        workdir=a.workdir or f"runs/{a.space}",
        data_dir=a.data_dir,
        subset=a.subset,
        progress=not a.no_progress,
        devices=a.devices,
        mesh=a.mesh,
    ), a


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
