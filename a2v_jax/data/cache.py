"""The one ``.npz`` cache mechanism: load-or-build, and a reader that checks the recorded key.

A cache file holds a JSON ``__meta__`` array (the key it was built for, a checksum) and named arrays,
written atomically by :func:`a2v_jax.data.paths.write_npz_atomic`. :func:`load_or_build` reads it when
it is there, else builds the value and writes it; :func:`read_npz` opens it, checks the ``__meta__``
key and the arrays it must hold, and turns every read error into the caller's ``corrupt`` error. The
NAS-Bench-101 and -201 tables and the DARTS pool are cached this way; the NAS-Bench-101 enumeration
shares :func:`load_or_build` and the atomic writer (its file has its own layout).
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from a2v_jax.data._errors import DataError

T = TypeVar("T")

#: What reading a damaged ``.npz`` may raise.
READ_ERRORS = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
)


def load_or_build(
    path: Path | None,
    *,
    rebuild: bool,
    read: Callable[[Path], T],
    build: Callable[[], T],
    write: Callable[[T, Path], bool],
    written: Callable[[T, Path], T] | None = None,
) -> T:
    """The cached value at ``path`` if the file exists (and ``rebuild`` is False), else built and cached.

    Args:
      path: the cache file; None neither reads nor writes one.
      rebuild: build even if the file exists, and overwrite it.
      read: reads the file (raising when it is corrupt).
      build: computes the value.
      write: writes the value; returns False when it could not (a warning, not an error).
      written: the value as returned once it was written (e.g. naming its cache file).
    """
    if path is not None and not rebuild and path.is_file():
        return read(path)
    value = build()
    if path is not None and write(value, path) and written is not None:
        value = written(value, path)
    return value


def read_npz(
    path: Path,
    corrupt: Callable[[str], DataError],
    *,
    key: Mapping[str, Any],
    arrays: Iterable[str] | Callable[[dict], Iterable[str]],
    required: Iterable[str] = (),
) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a cache file written with a ``__meta__`` key.

    Args:
      path: the file.
      corrupt: builds the error to raise from the reason (it names the file and how to remove it).
      key: the ``__meta__`` entries the file must record, e.g. ``{"format": 3, "source": "packaged"}``.
      arrays: the arrays to read, or a function of ``meta`` giving them.
      required: arrays that must be present besides those read.

    Raises:
      DataError: from ``corrupt``: no ``__meta__``, another key, a missing array, or unreadable data.
    """
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            if "__meta__" not in z.files:
                raise corrupt("no '__meta__' array")
            meta = json.loads(str(z["__meta__"]))
            got = [meta.get(k) for k in key]
            if got != list(key.values()):
                raise corrupt(
                    f"{'/'.join(key)} {'/'.join(map(str, got))}, expected {'/'.join(map(str, key.values()))}"
                )
            names = list(arrays(meta) if callable(arrays) else arrays)
            missing = [n for n in (*required, *names) if n not in z.files]
            if missing:
                raise corrupt(f"missing array(s) {missing}")
            return meta, {n: z[n] for n in names}
    except DataError:
        raise
    except READ_ERRORS as e:
        raise corrupt(f"cannot read it ({type(e).__name__}: {e})") from e


def checksum_error(computed: str, recorded: Any) -> str:
    """The reason for a checksum mismatch, naming the first 16 digits of both."""
    return f"the arrays' sha256 {computed[:16]}... does not match the recorded {str(recorded)[:16]}..."


def corrupt_table_cache(path: Path, benchmark: str) -> Callable[[str], DataError]:
    """The ``corrupt`` of a benchmark table's cache: names the file and how to delete or rebuild it."""

    def corrupt(why: str) -> DataError:
        return DataError(
            f"corrupted cache file {path}: {why}. Delete it (rm '{path}'), or rebuild it with "
            f"rebuild_cache=True (CLI: python -m a2v_jax.data check {benchmark} --rebuild-cache, "
            "with the same data settings)"
        )

    return corrupt
