"""CIFAR-10 from the standard python-pickle batches, DARTS's normalisation and augmentation in JAX.

Data: the ``cifar-10-batches-py`` folder of the official CIFAR-10 python release
(``data_batch_1`` .. ``data_batch_5``, ``test_batch``), given as ``data_dir`` (or its parent), else
``$A2V_CIFAR10_DIR``. Nothing is downloaded. Each batch is a pickled dict with ``b"data"``
(``(n, 3072)`` uint8, rows in R, G, B planes of 32x32) and ``b"labels"`` (``n`` ints in 0..9); the
unpickler accepts numpy arrays and builtins only, so a file cannot run code.

Augmentation (DARTS's ``_data_transforms_cifar10`` with cutout, in this order): random 32x32 crop
of the image zero-padded by 4 pixels, horizontal flip with probability 1/2, scaling to [0, 1],
normalisation by the CIFAR-10 mean / std, then cutout: a 16x16 square (clipped at the border)
centred on a uniform pixel is set to 0. Each is a pure function of a key for one image;
:func:`augment_batch` vmaps them over a batch with one key per image.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np

from a2v_jax.data._errors import DataError, DataNotConfiguredError

#: Environment variable naming the CIFAR-10 folder.
ENV_CIFAR10_DIR = "A2V_CIFAR10_DIR"
#: The folder name of the official python release.
BATCHES_DIR = "cifar-10-batches-py"
TRAIN_FILES: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
NUM_CLASSES = 10
#: DARTS's ``CIFAR_MEAN`` / ``CIFAR_STD`` (per RGB channel, on [0, 1] pixels).
CIFAR_MEAN = (0.49139968, 0.48215827, 0.44653124)
CIFAR_STD = (0.24703233, 0.24348505, 0.26158768)
#: Padding of the random crop and side of the cutout square (DARTS's defaults).
CROP_PADDING = 4
CUTOUT_LENGTH = 16


@dataclass(frozen=True)
class CIFAR10:
    """The CIFAR-10 train and test sets in NHWC uint8, in file order."""

    train_images: np.ndarray  # (50000, 32, 32, 3) uint8
    train_labels: np.ndarray  # (50000,) int32
    test_images: np.ndarray  # (10000, 32, 32, 3) uint8
    test_labels: np.ndarray  # (10000,) int32
    source: str  # the folder read


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, dicts, lists, strings and numbers; refuses any other global."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("builtins", "bytearray"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)


def resolve_cifar10_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The batch files' folder: ``data_dir`` or ``$A2V_CIFAR10_DIR``, or its ``cifar-10-batches-py``.

    Raises:
      DataNotConfiguredError: neither is given.
      DataError: the folder does not exist.
    """
    raw = data_dir if data_dir is not None else os.environ.get(ENV_CIFAR10_DIR)
    if not raw:
        raise DataNotConfiguredError(
            f"no CIFAR-10 location: pass --data-dir (data_dir=) or set {ENV_CIFAR10_DIR} to the "
            f"'{BATCHES_DIR}' folder of the python release (data_batch_1..5, test_batch)"
        )
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise DataError(f"CIFAR-10 folder {path} does not exist")
    if not (path / TEST_FILE).exists() and (path / BATCHES_DIR).is_dir():
        path = path / BATCHES_DIR
    return path


def read_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 pickle batch as ``(images (n, 32, 32, 3) uint8, labels (n,) int32)``.

    Raises:
      DataError: the file is missing, not a CIFAR-10 batch, or has bad ``data`` / ``labels``,
        naming the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"CIFAR-10 batch {path} is missing; the folder must hold {', '.join(TRAIN_FILES)} and "
            f"{TEST_FILE} from the python release (cifar-10-python.tar.gz)"
        )
    try:
        with path.open("rb") as f:
            raw = _ArrayUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as e:
        raise DataError(f"{path} is not a readable CIFAR-10 pickle batch (corrupt or truncated?): {e}") from e
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a pickled dict with 'data' and 'labels', got {type(raw).__name__}")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}
    for field in ("data", "labels"):
        if field not in batch:
            hint = " (a CIFAR-100 file?)" if field == "labels" and "fine_labels" in batch else ""
            raise DataError(f"{path}: no '{field}' field{hint}; fields: {sorted(map(str, batch))}")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        what = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: 'data' must be a (n, 3072) uint8 array, got {what}")
    try:
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: 'labels' are not integers: {e}") from e
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path}: {labels.shape} 'labels' for {data.shape[0]} rows of 'data'")
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if bad.size:
        raise DataError(f"{path}: label {labels[bad[0]]} at row {bad[0]} is outside 0..{NUM_CLASSES - 1}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (n, 32, 32, 3)
    return np.ascontiguousarray(images), labels.astype(np.int32)


def load_cifar10(data_dir: str | os.PathLike | None = None) -> CIFAR10:
    """CIFAR-10 from the python-pickle batches in ``data_dir`` (default ``$A2V_CIFAR10_DIR``).

    Args:
      data_dir: the ``cifar-10-batches-py`` folder or its parent.

    Returns:
      The train (``data_batch_1..5`` in order) and test (``test_batch``) sets.

    Raises:
      DataNotConfiguredError: no folder given or configured.
      DataError: a file is missing or malformed (named in the message).
    """
    folder = resolve_cifar10_dir(data_dir)
    train = [read_batch(folder / name) for name in TRAIN_FILES]
    test_images, test_labels = read_batch(folder / TEST_FILE)
    return CIFAR10(
        train_images=np.concatenate([x for x, _ in train]),
        train_labels=np.concatenate([y for _, y in train]),
        test_images=test_images,
        test_labels=test_labels,
        source=str(folder),
    )


def split_train_valid(
    data: CIFAR10, train_portion: float
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The first ``floor(train_portion * n)`` training images for training, the rest for validation.

    arch2vec's proxy evaluation uses ``train_portion = 0.9`` in index order (reference §7.4).

    Returns:
      ``((train_images, train_labels), (valid_images, valid_labels))``.
    """
    if not 0.0 < train_portion < 1.0:
        raise ValueError(f"train_portion must be in (0, 1) to hold out a validation set, got {train_portion}")
    n = data.train_images.shape[0]
    split = int(np.floor(train_portion * n))
    if split == 0 or split == n:
        raise ValueError(f"train_portion {train_portion} of {n} images leaves an empty split")
    return (
        (data.train_images[:split], data.train_labels[:split]),
        (data.train_images[split:], data.train_labels[split:]),
    )


def normalize(images: chex.Array) -> chex.Array:
    """uint8 (or [0, 255] float) images ``(..., H, W, 3)`` to DARTS's normalised float32."""
    x = jnp.asarray(images, jnp.float32) / 255.0
    return (x - jnp.asarray(CIFAR_MEAN, jnp.float32)) / jnp.asarray(CIFAR_STD, jnp.float32)


def random_crop(key: chex.PRNGKey, image: chex.Array, padding: int = CROP_PADDING) -> chex.Array:
    """A random ``H x W`` crop of ``image (H, W, C)`` zero-padded by ``padding`` on every side."""
    h, w = image.shape[:2]
    padded = jnp.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    ky, kx = jax.random.split(key)
    y = jax.random.randint(ky, (), 0, 2 * padding + 1)
    x = jax.random.randint(kx, (), 0, 2 * padding + 1)
    return jax.lax.dynamic_slice(padded, (y, x, 0), (h, w, image.shape[2]))


def random_flip(key: chex.PRNGKey, image: chex.Array) -> chex.Array:
    """``image (H, W, C)`` mirrored left-right with probability 1/2."""
    return jnp.where(jax.random.bernoulli(key), image[:, ::-1, :], image)


def cutout(key: chex.PRNGKey, image: chex.Array, length: int = CUTOUT_LENGTH) -> chex.Array:
    """``image (H, W, C)`` with rows ``[y - l/2, y + l/2)`` x cols ``[x - l/2, x + l/2)`` zeroed.

    The centre ``(y, x)`` is a uniform pixel; the square is clipped at the border.
    """
    h, w = image.shape[:2]
    ky, kx = jax.random.split(key)
    y = jax.random.randint(ky, (), 0, h)
    x = jax.random.randint(kx, (), 0, w)
    rows = jnp.arange(h)[:, None]  # (H, 1)
    cols = jnp.arange(w)[None, :]  # (1, W)
    half = length // 2
    hole = (rows >= y - half) & (rows < y + half) & (cols >= x - half) & (cols < x + half)  # (H, W)
    return jnp.where(hole[:, :, None], jnp.zeros((), image.dtype), image)


def augment(key: chex.PRNGKey, image: chex.Array, cutout_length: int = CUTOUT_LENGTH) -> chex.Array:
    """DARTS's training transform of one uint8 image ``(H, W, 3)``: crop, flip, normalise, cutout.

    Args:
      key: PRNG key of this image's transform.
      image: ``(H, W, 3)`` uint8.
      cutout_length: side of the cutout square; 0: no cutout.

    Returns:
      ``(H, W, 3)`` float32, normalised.
    """
    k_crop, k_flip, k_cut = jax.random.split(key, 3)
    x = normalize(random_flip(k_flip, random_crop(k_crop, image)))
    return cutout(k_cut, x, cutout_length) if cutout_length > 0 else x


def augment_batch(key: chex.PRNGKey, images: chex.Array, cutout_length: int = CUTOUT_LENGTH) -> chex.Array:
    """:func:`augment` of each image of ``images (B, H, W, 3)`` with its own key; ``(B, H, W, 3)`` float32."""
    keys = jax.random.split(key, images.shape[0])
    return jax.vmap(augment, in_axes=(0, 0, None))(keys, images, cutout_length)
