"""Where the NAS-Bench-101 file is, and :func:`load_nb101`: the table, converted once and cached.

The files (https://storage.googleapis.com/nasbench/): ``nasbench_only108.tfrecord`` (~499 MB, the
108-epoch results, what arch2vec uses) and ``nasbench_full.tfrecord`` (~1.95 GB, 4/12/36/108 epochs).
The converted table is cached under ``$A2V_CACHE_DIR`` (default ``~/.cache/a2v_jax``), keyed by the
epoch budget and the file's name and fingerprint (:func:`a2v_jax.data.paths.file_fingerprint`).
Measurements: ``docs/data-and-spaces.md``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from a2v_jax.data import cache, paths
from a2v_jax.data._errors import DataNotConfiguredError
from a2v_jax.data.nb101.convert import _convert
from a2v_jax.data.nb101.table import (
    _ARRAYS,
    _FORMAT_VERSION,
    _RUN_FIELDS,
    EPOCHS,
    MAX_NODES,
    NUM_REPEATS,
    NB101Table,
    _make_table,
)

#: Directory holding the official ``.tfrecord`` files (or the path of one of them).
ENV_NB101_DIR = "A2V_NB101_DIR"
ONLY108_FILE = "nasbench_only108.tfrecord"
FULL_FILE = "nasbench_full.tfrecord"
FILES: tuple[str, ...] = (ONLY108_FILE, FULL_FILE)
#: SHA256 of the official files, as published in the nasbench README.
PUBLISHED_SHA256 = {
    ONLY108_FILE: "4c39c3936e36a85269881d659e44e61a245babcb72cb374eacacf75d0e5f4fd1",
    FULL_FILE: "3d64db8180fb1b0207212f9032205064312b6907a3bbc81eabea10db2f5c7e9c",
}
_URL = "https://storage.googleapis.com/nasbench/"


# --------------------------------------------------------------------------- files and cache


def _how_to(file: str) -> str:
    return (
        f"put {file} there (download {_URL}{file}; ~499 MB for {ONLY108_FILE}, ~1.95 GB for {FULL_FILE}), "
        "or point data_dir / --data-dir / "
        f"${ENV_NB101_DIR} at the file itself"
    )


def not_configured_message(file: str = ONLY108_FILE) -> str:
    """How to tell a2v_jax where the NAS-Bench-101 file is."""
    return (
        "no NAS-Bench-101 data configured: pass data_dir=DIR (CLI: --data-dir DIR) or set "
        f"{ENV_NB101_DIR}=DIR, and {_how_to(file)}"
    )


def resolve_nb101_file(data_dir: str | os.PathLike | None = None, file: str = ONLY108_FILE) -> Path:
    """The ``.tfrecord`` to read: ``data_dir`` (else ``$A2V_NB101_DIR``) if it is a file, else ``DIR/file``.

    Args:
      data_dir: a directory holding ``file``, or the file itself.
      file: the file name inside the directory.

    Returns:
      The path of an existing file.

    Raises:
      DataNotConfiguredError: nothing configured, or the file or directory is missing; the message
        says where to download the file and how to point a2v_jax at it.
    """
    if data_dir is None:
        env = os.environ.get(ENV_NB101_DIR)
        if not env:
            raise DataNotConfiguredError(not_configured_message(file))
        data_dir, origin = env, f"${ENV_NB101_DIR}"
    else:
        origin = "data_dir"
    d = Path(data_dir).expanduser()
    if d.is_file():
        return d
    if not d.exists():
        raise DataNotConfiguredError(
            f"{d}: no such file or directory (the NAS-Bench-101 location given by {origin}); create it and "
            + _how_to(file)
        )
    if not (d / file).is_file():
        present = sorted(p.name for p in d.glob("*.tfrecord"))
        raise DataNotConfiguredError(
            f"{d / file}: file not found (the directory holds {present or 'no .tfrecord files'}); "
            + _how_to(file)
        )
    return d / file


def _cache_file(path: Path, epochs: int, cache_dir) -> Path:
    key = paths.files_key(f"nb101/v{_FORMAT_VERSION}/epochs{epochs}", [path])
    return paths.cache_dir(cache_dir) / f"nb101-{path.stem}-{epochs}ep-{key[:24]}.npz"


def _write_cache(table: NB101Table, path: Path) -> bool:
    arrays = {name: getattr(table, name) for name in _ARRAYS}
    arrays["hash"] = arrays["hash"].astype("S32")  # a quarter of the <U32 bytes
    meta = {
        "format": _FORMAT_VERSION,
        "epochs": table.epochs,
        "epochs_in_file": list(table.epochs_in_file),
        "checksum": table.checksum,
    }
    return paths.write_npz_atomic(
        path, meta, arrays, what="NB101", otherwise="the next load converts the file again", stacklevel=4
    )


def _expected_shape(name: str, p: int) -> tuple[int, ...]:
    if name == "adjacency":
        return (p, MAX_NODES, MAX_NODES)
    if name == "ops":
        return (p, MAX_NODES)
    return (p, NUM_REPEATS) if name in _RUN_FIELDS else (p,)


def _read_cache(path: Path, source: Path, epochs: int) -> NB101Table:
    corrupt = cache.corrupt_table_cache(path, "nb101")
    meta, arrays = cache.read_npz(
        path, corrupt, key={"format": _FORMAT_VERSION, "epochs": epochs}, arrays=_ARRAYS
    )
    try:
        arrays["hash"] = arrays["hash"].astype("<U32")
    except ValueError as e:
        raise corrupt(f"cannot read it ({type(e).__name__}: {e})") from e
    p = arrays["hash"].shape[0]
    for name, a in arrays.items():
        if a.shape != _expected_shape(name, p):
            raise corrupt(f"array {name!r} has shape {a.shape}, expected {_expected_shape(name, p)}")
    checksum = paths.array_checksum(arrays)
    if checksum != meta.get("checksum"):
        raise corrupt(cache.checksum_error(checksum, meta.get("checksum")))
    return _make_table(
        source, epochs, meta.get("epochs_in_file", [epochs]), arrays, from_cache=True, cache_file=str(path)
    )


# --------------------------------------------------------------------------- entry point


def load_nb101(
    data_dir: str | os.PathLike | None = None,
    *,
    file: str = ONLY108_FILE,
    epochs: int = 108,
    cache_dir: str | os.PathLike | None = None,
    rebuild_cache: bool = False,
    use_cache: bool = True,
    verify_crc: bool = True,
    progress: bool = False,
) -> NB101Table:
    """Loads the NAS-Bench-101 table from an official ``.tfrecord``, converting it once into a cache.

    Converting ``nasbench_only108.tfrecord`` (1,270,872 records) takes about 15 s (module docstring);
    later loads read the ``.npz`` cache in about 0.3 s.

    Args:
      data_dir: a directory holding ``file`` or the file itself (else ``$A2V_NB101_DIR``).
      file: :data:`ONLY108_FILE` or :data:`FULL_FILE` (any name works, the format decides).
      epochs: the epoch budget to tabulate (108; the full file also has 4, 12 and 36).
      cache_dir: where the ``.npz`` cache lives (else ``$A2V_CACHE_DIR``, else ``~/.cache/a2v_jax``).
      rebuild_cache: convert the file even if a cache exists, and overwrite the cache.
      use_cache: False neither reads nor writes a cache.
      verify_crc: check every record's CRC-32Cs while converting.
      progress: show a progress bar (stderr) while converting.

    Returns:
      The table; ``table.from_cache`` tells whether it came from the cache.

    Raises:
      DataNotConfiguredError: nothing configured or the file is missing (the message says how to fix it).
      DataError: a corrupt or malformed file or cache, naming the file, record and byte offset.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs <= 0:
        raise ValueError(f"epochs must be a positive int (one of {EPOCHS}), got {epochs!r}")
    path = resolve_nb101_file(data_dir, file)
    return cache.load_or_build(
        _cache_file(path, int(epochs), cache_dir) if use_cache else None,
        rebuild=rebuild_cache,
        read=lambda file: _read_cache(file, path, int(epochs)),
        build=lambda: _convert(path, int(epochs), verify_crc, progress),
        write=_write_cache,
        written=lambda table, file: dataclasses.replace(table, cache_file=str(file)),
    )
