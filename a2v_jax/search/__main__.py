"""``python -m a2v_jax.search``: run a search method on NAS-Bench-201 or -101 and write the JSON report.

Examples::

    python -m a2v_jax.search --space nb201 --dataset cifar10 --method bo --seeds 500 --preset paper \\
        --embeddings runs/nb201/embeddings.npz --out results/nb201-c10-bo.json
    python -m a2v_jax.search --space nb101 --method rl --seeds 500 --preset paper \\
        --embeddings runs/nb101/embeddings.npz --data-dir ~/data/nasbench --out results/nb101-rl.json

On NB101 (:mod:`a2v_jax.search.nb101`) ``--dataset`` is not used, ``--protocol`` is ``arch2vec``
(1.5e6 simulated seconds, regret curves) or ``q150`` (150 queries), and ``--data-dir`` (default
``$A2V_NB101_DIR``) names ``nasbench_only108.tfrecord`` or its directory.

Seeds are sharded over every device JAX sees (``--devices 1`` for one); in a multi-host run
(``--coordinator``, ``--num-processes``, ``--process-id``) only process 0 writes the report.
"""

from __future__ import annotations

import argparse
import sys

from a2v_jax.data import DATASETS, SOURCES
from a2v_jax.data.paths import add_test_data_flag
from a2v_jax.data.protocols import COSTS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    from a2v_jax.search import METHODS, PRESETS
    from a2v_jax.sharding import add_device_flags

    p = argparse.ArgumentParser(prog="python -m a2v_jax.search", description=__doc__.split("\n")[0])
    p.add_argument("--space", default="nb201", choices=("nb201", "nb101"), help="search space")
    p.add_argument("--dataset", default=None, choices=DATASETS, help="NB201 dataset (required there)")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--seeds", type=int, default=500, help="number of seeds (ids seed-start..)")
    p.add_argument("--seed-start", type=int, default=1, help="first seed id (the original ran 1..500)")
    p.add_argument("--preset", default="default", choices=PRESETS)
    p.add_argument(
        "--protocol",
        default="arch2vec",
        choices=("arch2vec", "nb201", "q150"),
        help="nb201: arch2vec | nb201; nb101: arch2vec | q150",
    )
    p.add_argument("--embeddings", default=None, help="embeddings.npz from pretraining (rl, bo: required)")
    p.add_argument("--budget-s", type=float, default=None, help="override the protocol's simulated budget")
    p.add_argument(
        "--data-dir",
        default=None,
        help="benchmark data: NB201 location (default $A2V_NB201_DIR, else the tables installed with "
        "a2v_jax), NB101 directory of nasbench_only108.tfrecord or the file (default $A2V_NB101_DIR)",
    )
    p.add_argument("--source", default="auto", choices=("auto", *SOURCES), help="NB201 table source")
    add_test_data_flag(p, scope="NB201 ")
    p.add_argument("--signal-seed", type=int, default=0, help="seed of the frozen random-run signal draw")
    p.add_argument(
        "--cost",
        default=None,
        choices=COSTS,
        help="nb201: simulated cost of a query in place of the protocol's (train_200ep: NAS-Bench-201's "
        "size-scaled time, for tables without the cifar10-valid validation time)",
    )
    p.add_argument("--chunk-steps", type=int, default=16, help="scan steps per compiled chunk")
    p.add_argument("--no-trajectories", action="store_true", help="omit per-seed trajectories")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="output JSON path")
    add_device_flags(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Parses arguments, runs :func:`a2v_jax.search.runner.search`, writes the report."""
    args = parse_args(argv)
    from a2v_jax import sharding
    from a2v_jax.runtime import enable_compilation_cache
    from a2v_jax.search import runner

    try:
        sharding.initialize_from_flags(args)  # before anything touches a device
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    enable_compilation_cache()  # a repeated command skips recompiling (A2V_JAX_CACHE_DIR=off disables)

    try:
        report = run_search(args, runner)
    except ValueError as e:  # DataError, EmbeddingsError and bad arguments: say what, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not sharding.is_primary():  # every process holds the gathered report; one writes it
        return 0
    path = runner.write_report(report, args.out)
    if args.space == "nb101":
        from a2v_jax.search.nb101 import format_nb101_summary

        print(format_nb101_summary(report["summary"]))
    else:
        print(runner.format_summary(report["summary"]))
    print(f"wrote {path}")
    return 0


def run_search(args: argparse.Namespace, runner) -> dict:
    """Calls :func:`a2v_jax.search.runner.search` (or ``nb101.search_nb101``) with the parsed arguments."""
    if args.space == "nb101":
        return run_search_nb101(args)
    if args.dataset is None:
        raise ValueError("--space nb201 needs --dataset (one of " + ", ".join(DATASETS) + ")")
    if args.protocol not in ("arch2vec", "nb201"):
        raise ValueError(f"--protocol {args.protocol} is an NB101 protocol; nb201 has arch2vec | nb201")
    return runner.search(
        dataset=args.dataset,
        method=args.method,
        preset=args.preset,
        seeds=args.seeds,
        protocol=args.protocol,
        embeddings=args.embeddings,
        budget_s=args.budget_s,
        data_dir=args.data_dir,
        source=args.source,
        test_data=args.test_data,
        seed_start=args.seed_start,
        signal_seed=args.signal_seed,
        cost=args.cost,
        chunk_steps=args.chunk_steps,
        progress=not args.no_progress,
        trajectories=not args.no_trajectories,
        devices=args.devices,
        mesh=args.mesh,
    )


def run_search_nb101(args: argparse.Namespace) -> dict:
    """Calls :func:`a2v_jax.search.nb101.search_nb101` with the parsed arguments."""
    from a2v_jax.search import nb101

    if args.protocol not in ("arch2vec", "q150"):
        raise ValueError(f"--protocol {args.protocol} is an NB201 protocol; nb101 has arch2vec | q150")
    if args.cost is not None:
        raise ValueError("--cost applies to nb201 only (nb101 charges the benchmark's training time)")
    if args.test_data is not None or args.source != "auto":
        raise ValueError("--test-data and --source apply to nb201 only (nb101 reads its .tfrecord)")
    if args.dataset not in (None, "cifar10"):
        raise ValueError(f"NB101 is a CIFAR-10 benchmark; --dataset {args.dataset} does not apply")
    return nb101.search_nb101(
        method=args.method,
        preset=args.preset,
        seeds=args.seeds,
        protocol=args.protocol,
        embeddings=args.embeddings,
        budget_s=args.budget_s,
        data_dir=args.data_dir,
        seed_start=args.seed_start,
        chunk_steps=args.chunk_steps,
        progress=not args.no_progress,
        trajectories=not args.no_trajectories,
        devices=args.devices,
        mesh=args.mesh,
    )


if __name__ == "__main__":
    sys.exit(main())
