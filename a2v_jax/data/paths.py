"""Where benchmark data and caches live, and the fingerprint of the files a table was read from.

Configuration, highest priority first: an explicit ``data_dir`` argument (``--data-dir``), the
environment variable :data:`ENV_NB201_DIR` (the compact CSV tables) or :data:`ENV_NB201_API_FILE`
(an official NAS-Bench-201 ``.pth`` / NATS-Bench file), else the tables installed with the package.
Test accuracies: ``test_data`` (``--test-data``), else :data:`ENV_NB201_TEST_DATA`.
Caches go to ``cache_dir``, else :data:`ENV_CACHE_DIR`, else ``~/.cache/a2v_jax``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from a2v_jax.data._errors import DataError

#: Directory holding ``nb201_200ep.csv.gz`` and friends (format in that directory's README).
ENV_NB201_DIR = "A2V_NB201_DIR"
#: Path of an official NAS-Bench-201 ``.pth`` or NATS-Bench ``NATS-tss-*`` file/directory.
ENV_NB201_API_FILE = "A2V_NB201_API_FILE"
#: Where NB201 test accuracies come from when the table has none (CSV, NATS archive or ``.pth``).
ENV_NB201_TEST_DATA = "A2V_NB201_TEST_DATA"
#: Cache directory for the ``.npz`` tables.
ENV_CACHE_DIR = "A2V_CACHE_DIR"
DEFAULT_CACHE_DIR = Path("~/.cache/a2v_jax")

#: Files larger than this are fingerprinted by size, mtime and their first and last blocks
#: instead of all their bytes (the official ``.pth`` files are several GB).
FULL_HASH_MAX_BYTES = 256 * 2**20
_PARTIAL_BLOCK = 16 * 2**20


def cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``cache_dir``, else ``$A2V_CACHE_DIR``, else ``~/.cache/a2v_jax``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env).expanduser() if env else DEFAULT_CACHE_DIR.expanduser()


def configured_nb201_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """``data_dir`` if given, else ``$A2V_NB201_DIR`` if set, else None."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_NB201_DIR)
    return Path(env).expanduser() if env else None


def configured_api_file(data_dir: str | os.PathLike | None = None) -> Path | None:
    """``data_dir`` if given, else ``$A2V_NB201_API_FILE``, else ``$A2V_NB201_DIR``, else None."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    for env in (ENV_NB201_API_FILE, ENV_NB201_DIR):
        value = os.environ.get(env)
        if value:
            return Path(value).expanduser()
    return None


def configured_test_data(test_data: str | os.PathLike | None = None) -> Path | None:
    """``test_data`` if given, else ``$A2V_NB201_TEST_DATA`` if set, else None."""
    if test_data is not None:
        return Path(test_data).expanduser()
    env = os.environ.get(ENV_NB201_TEST_DATA)
    return Path(env).expanduser() if env else None


def add_test_data_flag(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """Adds ``--test-data`` (where NAS-Bench-201 test accuracies come from); ``scope`` prefixes its help."""
    parser.add_argument(
        "--test-data",
        default=None,
        help=f"{scope}test accuracies: a CSV table, the NATS-tss-v1_0-3ffb9-simple archive or an official "
        f".pth (default: ${ENV_NB201_TEST_DATA}; without one, test accuracies are reported absent)",
    )


def add_nb201_flags(parser: argparse.ArgumentParser) -> None:
    """Adds ``--data-dir`` and ``--test-data`` (NAS-Bench-201) to a command's parser."""
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"NAS-Bench-201 data (default: ${ENV_NB201_DIR}, else the tables installed with a2v_jax)",
    )
    add_test_data_flag(parser)


def not_configured_message() -> str:
    """How to tell a2v_jax where the NAS-Bench-201 data is (for a source that needs a location)."""
    return (
        "no NAS-Bench-201 data location configured: pass data_dir=... (CLI: --data-dir DIR) or set "
        f"{ENV_NB201_DIR}=DIR, where DIR holds nb201_200ep.csv.gz (the compact tables); or set "
        f"{ENV_NB201_API_FILE}=PATH to an official NAS-Bench-201 .pth / NATS-Bench archive; or use source "
        "'auto' (the default) or 'packaged' for the tables installed with a2v_jax"
    )


def file_fingerprint(path: Path) -> str:
    """sha256 hex of a file's bytes (a directory: of its files' relative paths, sizes and mtimes).

    Files over :data:`FULL_HASH_MAX_BYTES` are fingerprinted by size, mtime and their first and last
    16 MiB, so that a multi-GB benchmark file does not cost seconds on every load.
    """
    h = hashlib.sha256()
    if path.is_dir():
        for sub in sorted(p for p in path.rglob("*") if p.is_file()):
            st = sub.stat()
            h.update(f"{sub.relative_to(path).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()
    try:
        st = path.stat()
        with open(path, "rb") as f:
            if st.st_size <= FULL_HASH_MAX_BYTES:
                return hashlib.file_digest(f, "sha256").hexdigest()
            h.update(f"partial\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            h.update(f.read(_PARTIAL_BLOCK))
            f.seek(st.st_size - _PARTIAL_BLOCK)
            h.update(f.read(_PARTIAL_BLOCK))
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}") from e
    return h.hexdigest()


def files_key(tag: str, files: Iterable[Path]) -> str:
    """sha256 hex over ``tag`` and the names and fingerprints of ``files`` (order-independent)."""
    h = hashlib.sha256(tag.encode())
    for path in sorted(files, key=lambda p: p.name):
        h.update(f"\0{path.name}\0{file_fingerprint(path)}".encode())
    return h.hexdigest()


def array_checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 hex over the arrays' names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Writes a file through a temporary file beside it and a rename: ``write(f)`` fills it.

    Parent directories are created. On any failure the temporary file is removed and ``path`` is
    left as it was.
    """
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def save_npz_atomic(path: Path, arrays: Mapping[str, np.ndarray], *, compress: bool = False) -> None:
    """Writes ``arrays`` to the ``.npz`` file ``path`` atomically (:func:`write_atomic`).

    Raises:
      OSError: the file could not be written (the temporary file is removed).
    """
    save = np.savez_compressed if compress else np.savez
    write_atomic(path, lambda f: save(f, **arrays))


def write_npz_atomic(
    path: Path,
    meta: dict,
    arrays: Mapping[str, np.ndarray],
    *,
    what: str,
    otherwise: str,
    compress: bool = False,
    stacklevel: int = 2,
) -> bool:
    """Writes ``meta`` (as JSON in ``__meta__``) and ``arrays`` to ``path`` (:func:`save_npz_atomic`).

    A cache that cannot be written is not an error: it warns ("could not write the {what} cache
    {path} ({reason}); {otherwise}") and returns False; ``stacklevel`` is as seen from the caller.

    Returns:
      True when the file was written.
    """
    try:
        save_npz_atomic(path, {"__meta__": np.array(json.dumps(meta)), **arrays}, compress=compress)
    except OSError as e:
        warnings.warn(
            f"could not write the {what} cache {path} ({e}); {otherwise}", stacklevel=stacklevel + 1
        )
        return False
    return True
