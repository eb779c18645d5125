"""``python -m a2v_jax.search``: run a search on NAS-Bench-201, -101 or DARTS and write its report.

Examples::

    python -m a2v_jax.search --space nb201 --dataset cifar10 --method bo --seeds 500 --preset paper \\
        --embeddings runs/nb201/embeddings.npz --out results/nb201-c10-bo.json
    python -m a2v_jax.search --space nb101 --method rl --seeds 500 --preset paper \\
        --embeddings runs/nb101/embeddings.npz --data-dir ~/data/nasbench --out results/nb101-rl.json
    python -m a2v_jax.search --space darts --method bo --pool-size 2000 --epochs 1 \\
        --evaluator toy --queries 100 --out runs/darts-toy

On NB101 (:mod:`a2v_jax.search.nb101`) ``--dataset`` is not used, ``--protocol`` is ``arch2vec``
(1.5e6 simulated seconds, regret curves) or ``q150`` (150 queries), and ``--data-dir`` (default
``$A2V_NB101_DIR``) names ``nasbench_only108.tfrecord`` or its directory. On DARTS
(:mod:`a2v_jax.search.darts`) the command pre-trains on the pool, embeds it and runs one seed
(``--seed``) with a host evaluator; ``--out`` is a directory.

Seeds are sharded over every device JAX sees (``--devices 1`` for one); in a multi-host run
(``--coordinator``, ``--num-processes``, ``--process-id``) only process 0 writes the report.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from a2v_jax.data import DATASETS, SOURCES
from a2v_jax.data.paths import add_test_data_flag
from a2v_jax.data.protocols import COSTS
from a2v_jax.search.config import DartsOptions, SearchConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    from a2v_jax.search import METHODS, PRESETS, SPACES
    from a2v_jax.search.darts import EVALUATORS
    from a2v_jax.sharding import add_device_flags

    p = argparse.ArgumentParser(prog="python -m a2v_jax.search", description=__doc__.split("\n")[0])
    p.add_argument("--space", default="nb201", choices=SPACES, help="search space")
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
    p.add_argument("--out", required=True, help="output JSON path (darts: output directory)")
    add_device_flags(p)
    d = p.add_argument_group("darts", "--space darts: the pool, its pretraining and the evaluator")
    d.add_argument("--pool-size", type=int, default=2000, help="DARTS pool cells (paper: 600000)")
    d.add_argument("--epochs", type=int, default=1, help="pretraining epochs (paper: 10)")
    d.add_argument("--pretrain-preset", default="paper", choices=PRESETS)
    d.add_argument("--prior-samples", type=int, default=1000, help="graphs decoded for the validity metric")
    d.add_argument("--queries", type=int, default=100, help="queries (paper: 100)")
    d.add_argument("--seed", type=int, default=3, help="pretraining and search seed (paper: 3)")
    d.add_argument("--evaluator", default="toy", choices=EVALUATORS)
    d.add_argument("--table", default=None, help="--evaluator table: .json {cell_id: reward} or .npz")
    d.add_argument("--cifar10-dir", default=None, help="--evaluator darts-proxy: CIFAR-10 python batches")
    d.add_argument("--proxy-epochs", type=int, default=None, help="darts-proxy epochs (default 50)")
    d.add_argument("--proxy-channels", type=int, default=None, help="darts-proxy init channels (default 36)")
    d.add_argument("--proxy-layers", type=int, default=None, help="darts-proxy cells (default 20)")
    d.add_argument("--proxy-batch-size", type=int, default=None, help="darts-proxy batch (default 96)")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SearchConfig:
    """The :class:`~a2v_jax.search.config.SearchConfig` the parsed flags describe."""
    darts = None
    if args.space == "darts":
        darts = DartsOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(DartsOptions)})
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(SearchConfig) if hasattr(args, f.name)}
    flags.update(trajectories=not args.no_trajectories, progress=not args.no_progress, darts=darts)
    return SearchConfig(**flags)


def main(argv: list[str] | None = None) -> int:
    """Parses arguments, runs the space's driver (:func:`a2v_jax.search.runner.run`), writes the report."""
    args = parse_args(argv)
    from a2v_jax import sharding
    from a2v_jax.runtime import enable_compilation_cache
    from a2v_jax.search.runner import get_driver

    try:
        sharding.initialize_from_flags(args)  # before anything touches a device
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    enable_compilation_cache()  # a repeated command skips recompiling (A2V_JAX_CACHE_DIR=off disables)

    config = config_from_args(args)
    driver = get_driver(config.space)
    try:
        report = driver.run(config)
    except driver.errors as e:  # DataError, EmbeddingsError and bad arguments: say what, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not sharding.is_primary():  # every process holds the gathered report; one writes it
        return 0
    path = driver.write(report, config.out)
    print(driver.format_summary(report))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
