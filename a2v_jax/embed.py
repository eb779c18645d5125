"""The latent table: arch2vec features for every architecture, saved as ``embeddings.npz``."""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from a2v_jax.data.paths import save_npz_atomic

#: Keys every readable ``embeddings.npz`` must hold; the others are metadata (a hand-made file
#: with only these two is accepted by search, with its metadata reported as unknown).
REQUIRED_KEYS = ("features", "arch_str")


class EmbeddingsError(ValueError):
    """An embeddings file is unreadable, malformed, or does not match the benchmark table."""


class EmbeddingsNotFoundError(EmbeddingsError, FileNotFoundError):
    """The embeddings file does not exist."""


#: What an ``arch_str`` of each space looks like: NB201 cell strings, NB101 module hashes (32 hex
#: digits), DARTS cell ids (16 digits). A file whose ids do not fit its recorded space is refused.
ID_FORMATS = {
    "nb201": ("NAS-Bench-201 cell strings like |op~0|+|op~0|op~1|+|...|", re.compile(r"^\|.+\|$")),
    "nb101": ("NAS-Bench-101 module hashes (32 hex digits)", re.compile(r"^[0-9a-f]{32}$")),
    "darts": ("DARTS cell ids (16 digits)", re.compile(r"^[0-9]{16}$")),
}


def space_of_ids(arch_str: np.ndarray) -> str | None:
    """The space whose id format the first ``arch_str`` fits, or None."""
    first = str(arch_str[0]) if len(arch_str) else ""
    return next((name for name, (_, pattern) in ID_FORMATS.items() if pattern.match(first)), None)


@dataclass(frozen=True)
class Embeddings:
    """A loaded ``embeddings.npz``."""

    features: np.ndarray  # (P, D) float32 node-averaged eval-mode μ
    arch_str: np.ndarray  # (P,) str architecture identifiers
    index: np.ndarray  # (P,) int64 benchmark index, -1 where no table was loaded (or unknown)
    checkpoint: str  # checkpoint the features came from ("" if the file does not say)
    space: str  # "" if the file does not say
    preset: str  # "" if the file does not say
    seed: int  # -1 if the file does not say
    order: str  # "benchmark" (table index order), "enumeration" (the space's own order) or ""
    path: str = ""  # where it was read from ("" for one built in memory)

    @property
    def meta(self) -> dict:
        """The metadata as JSON-able values (for reports)."""
        return {
            "checkpoint": self.checkpoint,
            "space": self.space,
            "preset": self.preset,
            "seed": self.seed,
            "order": self.order,
        }


def save_embeddings(path: str | os.PathLike, emb: Embeddings, extra: dict | None = None) -> None:
    """Writes ``emb`` atomically (temporary file, then rename)."""
    arrays = {
        "features": np.asarray(emb.features, np.float32),
        "arch_str": np.asarray(emb.arch_str).astype(str),
        "index": np.asarray(emb.index, np.int64),
        "checkpoint": np.array(emb.checkpoint),
        "space": np.array(emb.space),
        "preset": np.array(emb.preset),
        "seed": np.array(emb.seed),
        "order": np.array(emb.order),
    }
    save_npz_atomic(Path(path), {**arrays, **(extra or {})})


def _scalar(data: dict, key: str, kind: type, default):
    if key not in data:
        return default
    v = data[key]
    if v.ndim != 0:
        raise EmbeddingsError(f"'{key}' must be a scalar, got shape {v.shape}")
    v = v.item()
    return kind(v.decode() if isinstance(v, bytes) else v)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, or an :class:`EmbeddingsError` that says what the file is instead."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise EmbeddingsError(f"{path}: cannot be read: {e.strerror or e}") from None
    if head != b"PK\x03\x04":
        kind = "an empty file" if not head else "not an .npz (zip) archive"
        raise EmbeddingsError(f"{path}: {kind}; an embeddings file is the .npz that pretraining writes")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise EmbeddingsError(f"{path}: a damaged .npz (truncated or corrupt: {e}); pretrain again") from None
    except ValueError:
        raise EmbeddingsError(
            f"{path}: the .npz holds Python objects, not plain arrays; it is not an embeddings file"
        ) from None


def load_embeddings(path: str | os.PathLike) -> Embeddings:
    """Reads and checks an ``embeddings.npz``.

    ``features (P, D)`` float and ``arch_str (P,)`` strings are required; ``index (P,)`` and the
    scalar metadata that :func:`save_embeddings` writes are read when present.

    Raises:
      EmbeddingsNotFoundError: the file does not exist (also a ``FileNotFoundError``).
      EmbeddingsError: unreadable file, a required key missing, shapes or dtypes wrong, or a
        non-finite feature row, or ids that do not fit the recorded space; the message names the file
        and the first offending key or row.
    """
    path = Path(path)
    if not path.exists():
        raise EmbeddingsNotFoundError(
            f"{path}: embeddings file not found; run `python -m a2v_jax.pretrain` first"
        )
    data = _read_npz(path)
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise EmbeddingsError(f"{path}: missing key(s) {missing}; it has {sorted(data)}")
    feats, arch = data["features"], data["arch_str"]
    if feats.ndim != 2 or feats.shape[0] == 0 or not np.issubdtype(feats.dtype, np.floating):
        raise EmbeddingsError(
            f"{path}: 'features' must be a non-empty (P, D) float array, got {feats.dtype} {feats.shape}"
        )
    p = feats.shape[0]
    if arch.shape != (p,) or arch.dtype.kind not in "US":
        raise EmbeddingsError(
            f"{path}: 'arch_str' must be ({p},) strings to match 'features', got {arch.dtype} {arch.shape}"
        )
    index = data.get("index", np.full((p,), -1, np.int64))
    if index.shape != (p,) or index.dtype.kind not in "iu":
        raise EmbeddingsError(f"{path}: 'index' must be ({p},) integers, got {index.dtype} {index.shape}")
    bad = np.flatnonzero(~np.isfinite(feats).all(axis=1))
    if bad.size:
        raise EmbeddingsError(f"{path}: features row {int(bad[0])} ({arch[bad[0]]}) is not finite")
    try:
        meta = {
            "checkpoint": _scalar(data, "checkpoint", str, ""),
            "space": _scalar(data, "space", str, ""),
            "preset": _scalar(data, "preset", str, ""),
            "seed": _scalar(data, "seed", int, -1),
            "order": _scalar(data, "order", str, ""),
        }
    except (EmbeddingsError, ValueError, TypeError) as e:
        raise EmbeddingsError(f"{path}: bad metadata: {e}") from e
    if meta["space"]:
        if meta["space"] not in ID_FORMATS:
            raise EmbeddingsError(
                f"{path}: unknown space {meta['space']!r}; expected one of {sorted(ID_FORMATS)}"
            )
        what, pattern = ID_FORMATS[meta["space"]]
        wrong = next((i for i, a in enumerate(arch) if not pattern.match(str(a))), None)
        if wrong is not None:
            fits = space_of_ids(arch[wrong : wrong + 1])
            holds = f"; its ids look like {fits} ids" if fits else ""
            raise EmbeddingsError(
                f"{path}: records space {meta['space']!r}, whose ids are {what}, but arch_str[{wrong}] is "
                f"{str(arch[wrong])!r}{holds}. The file is mislabelled or damaged."
            )
    return Embeddings(
        features=feats.astype(np.float32),
        arch_str=arch.astype(str),
        index=index.astype(np.int64),
        path=str(path),
        **meta,
    )
