"""The latent table: arch2vec features for every architecture, saved as ``embeddings.npz``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EMBEDDING_KEYS = ("features", "arch_str", "index", "checkpoint", "space", "preset", "seed", "order")


@dataclass(frozen=True)
class Embeddings:
    """A loaded ``embeddings.npz``."""

    features: np.ndarray  # (P, D) float32 node-averaged eval-mode μ
    arch_str: np.ndarray  # (P,) str architecture identifiers
    index: np.ndarray  # (P,) int64 benchmark index, -1 where no table was loaded
    checkpoint: str  # checkpoint the features came from
    space: str
    preset: str
    seed: int
    order: str  # "benchmark" (table index order) or "enumeration" (the space's own order)


def save_embeddings(path: str | os.PathLike, emb: Embeddings, extra: dict | None = None) -> None:
    """Writes ``emb`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        features=np.asarray(emb.features, np.float32),
        arch_str=np.asarray(emb.arch_str).astype(str),
        index=np.asarray(emb.index, np.int64),
        checkpoint=np.array(emb.checkpoint),
        space=np.array(emb.space),
        preset=np.array(emb.preset),
        seed=np.array(emb.seed),
        order=np.array(emb.order),
        **(extra or {}),
    )
    os.replace(tmp, path)


def load_embeddings(path: str | os.PathLike) -> Embeddings:
    """Reads and checks an ``embeddings.npz``.

    Raises:
      FileNotFoundError: the file does not exist.
      ValueError: a key is missing, shapes disagree, or features are not finite (names the file).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"embeddings file {path} does not exist; run `python -m a2v_jax.pretrain` first"
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in EMBEDDING_KEYS if k not in f.files]
            if missing:
                raise ValueError(f"embeddings file {path} lacks {missing}")
            data = {k: f[k] for k in EMBEDDING_KEYS}
    except (OSError, EOFError) as e:
        raise ValueError(f"embeddings file {path} is unreadable or corrupt: {e}") from e
    feats = data["features"]
    if (
        feats.ndim != 2
        or data["arch_str"].shape != (feats.shape[0],)
        or data["index"].shape != (feats.shape[0],)
    ):
        raise ValueError(
            f"embeddings file {path}: features {feats.shape}, arch_str {data['arch_str'].shape} and "
            f"index {data['index'].shape} disagree"
        )
    if not np.all(np.isfinite(feats)):
        bad = int(np.flatnonzero(~np.isfinite(feats).all(1))[0])
        raise ValueError(
            f"embeddings file {path}: row {bad} ({data['arch_str'][bad]}) has NaN or inf features"
        )
    return Embeddings(
        features=feats.astype(np.float32),
        arch_str=data["arch_str"],
        index=data["index"],
        checkpoint=str(data["checkpoint"]),
        space=str(data["space"]),
        preset=str(data["preset"]),
        seed=int(data["seed"]),
        order=str(data["order"]),
    )
