"""Datasets: the bundled MNIST first, `keras.datasets` only as a fallback.

The project ships its own copy of MNIST so that training works offline (at a
talk, behind a firewall). Pixel scaling lives here too, so that models never
guess which range their inputs are in.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
MNIST_PATH = ASSETS_DIR / "mnist.npz"
MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"

DATASET_NAMES = ("mnist", "fashion_mnist")
PIXEL_RANGES = ("tanh", "sigmoid")
SPLITS = ("train", "test")

# A checksum over 11 MB costs ~30 ms; remember files already verified in this process.
_verified_files: set[tuple[str, float]] = set()


class DatasetError(RuntimeError):
    """A dataset could not be loaded; the message says what to do about it."""


@dataclass(frozen=True)
class ImageSet:
    """Images as uint8 (N, 28, 28) with their integer labels (N,)."""

    images: np.ndarray
    labels: np.ndarray


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks so memory stays flat."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_bundled_mnist(path: Path = MNIST_PATH) -> dict[str, np.ndarray]:
    stat = path.stat()
    key = (str(path), stat.st_mtime)
    if key not in _verified_files:
        actual = sha256_of(path)
        if actual != MNIST_SHA256:
            raise DatasetError(
                f"The bundled MNIST file {path} is corrupt: expected sha256 {MNIST_SHA256}, "
                f"received {actual}. Restore it with `git checkout -- {path.name}` or delete it "
                "to download MNIST through keras.datasets."
            )
        _verified_files.add(key)
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in ("x_train", "y_train", "x_test", "y_test")}


def _load_from_keras(name: str) -> dict[str, np.ndarray]:
    import keras

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as error:  # keras raises several types for a failed download
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DatasetError(
            f"Could not download {name} through keras.datasets ({reason}). Connect to the "
            "internet once so Keras can cache it in ~/.keras/datasets, or use the bundled 'mnist'."
        ) from None
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def load_images(name: str = "mnist", split: str = "train", limit: int | None = None) -> ImageSet:
    """Load a 28x28 grayscale dataset split.

    Args:
        name: one of `DATASET_NAMES`. MNIST comes from the bundled, checksummed file;
            if that file is missing, and for Fashion-MNIST, from `keras.datasets`.
        split: "train" or "test".
        limit: keep only the first `limit` examples (tests train on small slices).

    Returns:
        An `ImageSet` with uint8 images (N, 28, 28) and int labels (N,).

    Raises:
        ValueError: for an unknown name, split or limit.
        DatasetError: when the bundled file is corrupt or a download fails.
    """
    if name not in DATASET_NAMES:
        raise ValueError(f"Expected dataset to be one of {DATASET_NAMES}. Received: dataset={name!r}")
    if split not in SPLITS:
        raise ValueError(f"Expected split to be one of {SPLITS}. Received: split={split!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"Expected limit to be a positive integer or None. Received: limit={limit!r}")
    if name == "mnist" and MNIST_PATH.exists() and not os.environ.get("AIGC_IGNORE_BUNDLED_MNIST"):
        arrays = _load_bundled_mnist(MNIST_PATH)  # the module global, read at call time
    else:
        arrays = _load_from_keras(name)
    images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return ImageSet(images=images, labels=labels.astype(np.int64))


def scale_pixels(images: np.ndarray, pixel_range: str) -> np.ndarray:
    """Scale uint8 images to float32 (N, 28, 28, 1) in the range a model expects.

    Args:
        images: uint8 array (N, 28, 28).
        pixel_range: "tanh" for [-1, 1] (GAN generators end in tanh) or "sigmoid" for
            [0, 1] (the VAE's Bernoulli likelihood needs probabilities).
    """
    if pixel_range not in PIXEL_RANGES:
        raise ValueError(
            f"Expected pixel_range to be one of {PIXEL_RANGES}. Received: pixel_range={pixel_range!r}"
        )
    scaled = images.astype(np.float32)[..., None] / 255.0
    if pixel_range == "tanh":
        scaled = scaled * 2.0 - 1.0
    return scaled


def to_unit_range(images: np.ndarray, pixel_range: str) -> np.ndarray:
    """Map model outputs back to [0, 1] float32, clipped, whatever the model's range."""
    images = np.asarray(images, dtype=np.float32)
    if pixel_range == "tanh":
        images = (images + 1.0) / 2.0
    return np.clip(images, 0.0, 1.0)


def make_training_dataset(images: np.ndarray, batch_size: int, seed: int, labels: np.ndarray | None = None):
    """A shuffled, repeating `tf.data` pipeline of fixed-size batches.

    The whole scaled array sits in memory as one tensor (MNIST is 188 MB as float32),
    so each batch is a gather, not a Python copy; prefetch overlaps it with training.
    Batches all have `batch_size` rows so the compiled train step is traced once.

    Args:
        images: scaled images (N, 28, 28, 1).
        batch_size: rows per batch, at most N.
        seed: the shuffle's seed.
        labels: int labels (N,) for a conditional model, which then gets `(images, labels)`
            batches shuffled together; None (unconditional models) keeps image-only batches.
    """
    import tensorflow as tf

    if batch_size > len(images):
        raise ValueError(
            f"Expected batch_size <= number of training images ({len(images)}). "
            f"Received: batch_size={batch_size}"
        )
    if labels is None:
        dataset = tf.data.Dataset.from_tensor_slices(images)
    else:
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(
                f"Expected one label per image, shape ({len(images)},). Received: labels of shape {labels.shape}"
            )
        dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    dataset = dataset.shuffle(min(len(images), 60_000), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.repeat().batch(batch_size, drop_remainder=True)
    return dataset.prefetch(tf.data.AUTOTUNE)
