"""Datasets: the bundled MNIST first, `keras.datasets` only as a fallback.

The project ships its own copy of MNIST so that training works offline (at a
talk, behind a firewall). Fashion-MNIST (same 28x28 grayscale shape, ten kinds of
clothing) is not shipped: it is read from a data file that
`scripts/fetch_fashion_mnist.py` writes outside the git tree, else downloaded by
`keras.datasets`. Pixel scaling lives here too, so that models never guess which
range their inputs are in.
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
# How messages and captions name each dataset.
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
DATA_DIR_VARIABLE = "AIGC_DATA_DIR"
DEFAULT_DATA_DIR = Path.home() / ".aigc" / "datasets"
FETCH_COMMANDS = {"fashion_mnist": "python scripts/fetch_fashion_mnist.py"}
# What labels 0-9 mean, for captions and conditional models' label pickers.
CLASS_NAMES = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"),
}
ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")
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


def data_file_path(name: str) -> Path:
    """Where a fetched dataset lives: `$AIGC_DATA_DIR/<name>.npz`, by default under ~/.aigc/datasets.

    Outside the git tree on purpose: 30 MB of clothing images are not the project's to ship,
    and the environment variable lets tests and shared servers point elsewhere.
    """
    directory = os.environ.get(DATA_DIR_VARIABLE, "").strip()
    return (Path(directory).expanduser() if directory else DEFAULT_DATA_DIR) / f"{name}.npz"


def check_arrays(arrays: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """Refuse arrays that are not keras-layout uint8 images (N, 28, 28) with labels 0-9.

    A data file is written by a script, not checksummed like the bundled MNIST (its bytes
    vary with the zip timestamps); checking its layout catches a truncated or foreign file.
    """
    for split in SPLITS:
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
            raise DatasetError(
                f"Expected x_{split} in {source} to be uint8 images of shape (N, 28, 28), N >= 1. "
                f"Received: dtype={images.dtype}, shape={images.shape}"
            )
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer) or (
            len(labels) and (labels.min() < 0 or labels.max() > 9)
        ):
            raise DatasetError(
                f"Expected y_{split} in {source} to hold one integer label in [0, 9] per image, shape "
                f"({len(images)},). Received: dtype={labels.dtype}, shape={labels.shape}"
            )
    return arrays


def _load_data_file(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in ARRAY_NAMES if name not in archive.files]
            if missing:
                raise DatasetError(f"Expected arrays {list(ARRAY_NAMES)} in {path}. Received: {archive.files}")
            arrays = {name: archive[name] for name in ARRAY_NAMES}
    except (OSError, ValueError) as error:  # not a zip, truncated, pickled objects
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        raise DatasetError(f"Could not read the data file {path} ({first_line}); delete it and fetch it again") from None
    return check_arrays(arrays, str(path))


def _load_from_keras(name: str) -> dict[str, np.ndarray]:
    import keras

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as error:  # keras raises several types for a failed download
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if name in FETCH_COMMANDS:
            raise DatasetError(
                f"Could not load {name}: no data file at {data_file_path(name)} and keras.datasets could not "
                f"download it ({reason}). Run `{FETCH_COMMANDS[name]}` (it needs npm, or --tarball PATH) "
                "or connect to the internet once so Keras can cache it in ~/.keras/datasets."
            ) from None
        raise DatasetError(
            f"Could not download {name} through keras.datasets ({reason}). Connect to the "
            "internet once so Keras can cache it in ~/.keras/datasets, or use the bundled 'mnist'."
        ) from None
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _keras_cache_has(name: str) -> bool:
    """Whether keras.datasets has the dataset's files cached (then it loads them offline)."""
    home = Path(os.environ.get("KERAS_HOME", "") or Path.home() / ".keras").expanduser()
    if name == "mnist":
        return (home / "datasets" / "mnist.npz").is_file()
    folder = home / "datasets" / name.replace("_", "-")
    return all((folder / f"{part}-{kind}-idx{rank}-ubyte.gz").is_file()
               for part in ("train", "t10k") for kind, rank in (("images", 3), ("labels", 1)))


def dataset_source(name: str) -> str:
    """Where `load_images(name)` will read from, in words, without loading anything (for the UI).

    Says when loading would need the internet, and then how to avoid it, so a page can warn
    before a run fails in its worker.
    """
    if name not in DATASET_NAMES:
        raise ValueError(f"Expected dataset to be one of {DATASET_NAMES}. Received: dataset={name!r}")
    if name == "mnist" and MNIST_PATH.exists() and not os.environ.get("AIGC_IGNORE_BUNDLED_MNIST"):
        return "the bundled MNIST file"
    if name in FETCH_COMMANDS and data_file_path(name).is_file():
        return f"the data file {data_file_path(name)}"
    if _keras_cache_has(name):
        return "the keras.datasets cache"
    fix = f"run `{FETCH_COMMANDS[name]}` first" if name in FETCH_COMMANDS else "restore the bundled file"
    return f"a keras.datasets download when a run starts (it needs the internet; offline, {fix})"


def _load_arrays(name: str) -> dict[str, np.ndarray]:
    """The four keras-layout arrays of a dataset, from the first source that has them.

    MNIST: the bundled file, then keras.datasets. Fashion-MNIST: the fetched data file,
    then keras.datasets (which works offline once it has cached the download).
    """
    if name == "mnist" and MNIST_PATH.exists() and not os.environ.get("AIGC_IGNORE_BUNDLED_MNIST"):
        return _load_bundled_mnist(MNIST_PATH)  # the module global, read at call time
    if name in FETCH_COMMANDS and data_file_path(name).is_file():
        return _load_data_file(data_file_path(name))
    return _load_from_keras(name)


def load_images(name: str = "mnist", split: str = "train", limit: int | None = None) -> ImageSet:
    """Load a 28x28 grayscale dataset split.

    Args:
        name: one of `DATASET_NAMES`. MNIST comes from the bundled, checksummed file,
            Fashion-MNIST from `data_file_path("fashion_mnist")`; either falls back to
            `keras.datasets` when its file is missing.
        split: "train" or "test".
        limit: keep only the first `limit` examples (tests train on small slices).

    Returns:
        An `ImageSet` with uint8 images (N, 28, 28) and int labels (N,).

    Raises:
        ValueError: for an unknown name, split or limit.
        DatasetError: when a data file is corrupt or a download fails; the one-line
            message names the fix (for Fashion-MNIST, the fetch script).
    """
    if name not in DATASET_NAMES:
        raise ValueError(f"Expected dataset to be one of {DATASET_NAMES}. Received: dataset={name!r}")
    if split not in SPLITS:
        raise ValueError(f"Expected split to be one of {SPLITS}. Received: split={split!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"Expected limit to be a positive integer or None. Received: limit={limit!r}")
    arrays = _load_arrays(name)
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


# Batches prepared ahead of the training step (a fixed number: see make_training_dataset).
PREFETCHED_BATCHES = 2


def make_training_dataset(images: np.ndarray, batch_size: int, seed: int, labels: np.ndarray | None = None):
    """A shuffled, repeating `tf.data` pipeline of fixed-size batches.

    The whole scaled array sits in memory as one tensor (MNIST is 188 MB as float32),
    so each batch is a gather, not a Python copy; prefetching overlaps it with training.
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
    # No autotuning: its optimiser thread sometimes kept a finished process alive ~20 s at exit,
    # the iterator's destructor waiting on it (seen with gdb on TF 2.21). One gather per batch
    # needs no tuning; two prefetched batches hide it behind the step.
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(PREFETCHED_BATCHES).with_options(options)
