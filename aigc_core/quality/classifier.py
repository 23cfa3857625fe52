"""The classifiers behind the metrics, one per dataset: their network, training and loading.

FID and the Inception Score are only as meaningful as the network that looks at the
samples, and only comparable under the same one. Generic Inception-v3 features see
28x28 digits as blurry ImageNet photos, so this project ships its own small classifier
per dataset and measures everything through it: a digit classifier for MNIST (>= 99%
test accuracy) and a clothing classifier for Fashion-MNIST (about 92%; the classes
shirt, T-shirt and pullover are hard even for people). A model is always measured
through the classifier of the dataset it was trained on.

The MNIST weights live in `weights/classifier/`, the Fashion-MNIST ones in
`weights/classifier-fashion_mnist/` (not `weights/` itself, where every `*.weights.h5`
is a generative model), each beside a JSON file holding the architecture and the
provenance. Like the generative models, only weights are loaded, into a network built here.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from aigc_core.data import DATASET_NAMES, DATASET_TITLES
from aigc_core.files import PROJECT_ROOT, read_json, write_json_atomic

CLASSIFIER_DIR = PROJECT_ROOT / "weights" / "classifier"
CLASSIFIER_WEIGHTS_PATH = CLASSIFIER_DIR / "mnist.weights.h5"
CLASSIFIER_CONFIG_PATH = CLASSIFIER_DIR / "mnist.json"
FASHION_MNIST_CLASSIFIER_WEIGHTS_PATH = PROJECT_ROOT / "weights" / "classifier-fashion_mnist" / "fashion_mnist.weights.h5"
FEATURES_LAYER = "features"
TRAIN_COMMAND = "python scripts/train_classifier.py"

# The defaults are the shipped network's; tests pass tiny values.
DEFAULT_ARCHITECTURE = {"conv_filters": [32, 64], "feature_units": 128, "dropout": 0.5}


class ClassifierError(ValueError):
    """The classifier is missing, or its files do not fit the network built here."""


def _check_dataset(dataset: str) -> str:
    if dataset not in DATASET_NAMES:
        raise ValueError(f"Expected dataset to be one of {DATASET_NAMES}. Received: dataset={dataset!r}")
    return dataset


def classifier_weights_path(dataset: str = "mnist") -> Path:
    """The weights file of a dataset's classifier (the module globals, read at call time so tests can move them)."""
    paths = {"mnist": CLASSIFIER_WEIGHTS_PATH, "fashion_mnist": FASHION_MNIST_CLASSIFIER_WEIGHTS_PATH}
    return Path(paths[_check_dataset(dataset)])


def classifier_config_path(weights_path: Path) -> Path:
    """The JSON beside a classifier's weights: `<name>.json` for `<name>.weights.h5`."""
    weights_path = Path(weights_path)
    return weights_path.with_name(weights_path.name.removesuffix(".weights.h5") + ".json")


def train_command(dataset: str = "mnist") -> str:
    """The command that trains (and writes) a dataset's classifier."""
    return TRAIN_COMMAND if _check_dataset(dataset) == "mnist" else f"{TRAIN_COMMAND} --dataset {dataset}"


def missing_classifier_message(dataset: str = "mnist", weights_path: Path | None = None) -> str:
    """One line for a dataset without a classifier file: its samples are not evaluated, and how to fix that."""
    weights_path = weights_path if weights_path is not None else classifier_weights_path(dataset)
    return (f"no {DATASET_TITLES[_check_dataset(dataset)]} classifier at {weights_path}, so {dataset} samples are "
            f"not evaluated; train it with `{train_command(dataset)}` (minutes on a CPU)")


def check_architecture(architecture: dict) -> dict:
    """Return a clean copy of an architecture dict, or raise ValueError saying what is wrong."""
    if not isinstance(architecture, dict):
        raise ClassifierError(f"Expected the classifier architecture to be a dict. Received: {architecture!r}")
    unknown = sorted(set(architecture) - set(DEFAULT_ARCHITECTURE))
    if unknown:
        raise ClassifierError(f"Unknown classifier architecture keys {unknown}; expected {sorted(DEFAULT_ARCHITECTURE)}")
    merged = {**DEFAULT_ARCHITECTURE, **architecture}
    filters = merged["conv_filters"]
    if (
        not isinstance(filters, (list, tuple))
        or not 1 <= len(filters) <= 3
        or not all(isinstance(f, int) and 1 <= f <= 512 for f in filters)
    ):
        raise ClassifierError(f"Expected conv_filters to be 1-3 integers in [1, 512]. Received: {filters!r}")
    units = merged["feature_units"]
    if not isinstance(units, int) or not 2 <= units <= 4096:
        raise ClassifierError(f"Expected feature_units to be an integer in [2, 4096]. Received: {units!r}")
    dropout = merged["dropout"]
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ClassifierError(f"Expected dropout to be in [0, 1). Received: {dropout!r}")
    return {"conv_filters": [int(f) for f in filters], "feature_units": int(units), "dropout": float(dropout)}


def build_classifier(architecture: dict | None = None):
    """A small convnet: image (28, 28, 1) in [0, 1] -> 10 logits.

    Each convolution is followed by 2x2 max pooling; the penultimate Dense layer is named
    `features` and is what FID compares. Dropout sits on both sides of it so the
    features stay spread out rather than a few saturated units.
    """
    import keras
    from keras import layers

    architecture = check_architecture(architecture or {})
    stack = [keras.Input((28, 28, 1))]
    for filters in architecture["conv_filters"]:
        stack += [layers.Conv2D(filters, 3, padding="same", activation="relu"), layers.MaxPooling2D(2)]
    stack += [
        layers.Flatten(),
        layers.Dropout(architecture["dropout"] / 2),
        layers.Dense(architecture["feature_units"], activation="relu", name=FEATURES_LAYER),
        layers.Dropout(architecture["dropout"]),
        layers.Dense(10, name="logits"),
    ]
    return keras.Sequential(stack, name="mnist_classifier")


def feature_and_logit_model(classifier):
    """A two-output model (features, logits) sharing the classifier's layers: one forward pass for both."""
    import keras

    return keras.Model(classifier.inputs[0], [classifier.get_layer(FEATURES_LAYER).output, classifier.outputs[0]])


def shift_augment(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Translate each image by a random whole number of pixels in [-max_shift, max_shift].

    Digits in MNIST are centred by their centre of mass; small shifts make the classifier
    robust to generators that centre a little differently, which matters for honest metrics.
    """
    if max_shift == 0:
        return images
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    offsets = rng.integers(0, 2 * max_shift + 1, size=(len(images), 2))
    shifted = np.empty_like(images)
    for dy in range(2 * max_shift + 1):
        for dx in range(2 * max_shift + 1):
            chosen = np.flatnonzero((offsets[:, 0] == dy) & (offsets[:, 1] == dx))
            shifted[chosen] = padded[chosen, dy : dy + 28, dx : dx + 28]
    return shifted


def train_classifier(
    architecture: dict | None = None,
    dataset: str = "mnist",
    epochs: int = 6,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    max_shift: int = 2,
    seed: int = 0,
    train_limit: int | None = None,
    log=print,
):
    """Train a classifier on a dataset's training split and measure it on its test split.

    Adam with a cosine-decayed step size; each epoch sees freshly shifted copies of the
    training images.

    Args:
        dataset: one of `aigc_core.data.DATASET_NAMES`; the same network serves every dataset.

    Returns:
        (classifier, info) where info holds test_accuracy, epochs, training_seconds and the
        hyperparameters, ready to be written beside the weights.
    """
    import keras

    from aigc_core.data import load_images

    keras.utils.set_random_seed(seed)
    architecture = check_architecture(architecture or {})
    train = load_images(_check_dataset(dataset), "train", limit=train_limit)
    test = load_images(dataset, "test")
    train_images = train.images.astype(np.float32)[..., None] / 255.0
    test_images = test.images.astype(np.float32)[..., None] / 255.0

    classifier = build_classifier(architecture)
    steps_per_epoch = int(np.ceil(len(train_images) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps_per_epoch)
    classifier.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(seed)
    started = time.monotonic()
    for epoch in range(1, epochs + 1):
        augmented = shift_augment(train_images, max_shift, rng)
        history = classifier.fit(augmented, train.labels, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
        _, accuracy = classifier.evaluate(test_images, test.labels, batch_size=1000, verbose=0)
        log(
            f"epoch {epoch}/{epochs}: train loss {history.history['loss'][-1]:.4f}, "
            f"test accuracy {accuracy:.4f}, {time.monotonic() - started:.0f} s"
        )
    training_seconds = time.monotonic() - started
    info = {
        "architecture": architecture,
        "dataset": dataset,
        "test_accuracy": float(accuracy),
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "max_shift": max_shift,
        "seed": seed,
        "train_limit": train_limit,
        "training_seconds": round(training_seconds, 1),
    }
    return classifier, info


def save_classifier(classifier, info: dict, weights_path: Path = CLASSIFIER_WEIGHTS_PATH,
                    config_path: Path = CLASSIFIER_CONFIG_PATH) -> Path:
    """Write the weights (via a temporary name, then rename) and the JSON config beside them."""
    import os

    from aigc_core import __version__

    weights_path, config_path = Path(weights_path), Path(config_path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    # A compiled model would also save its optimizer state (3x the size, useless for measuring).
    plain = build_classifier(info["architecture"])
    plain.set_weights(classifier.get_weights())
    temporary = weights_path.with_name(f".partial-{weights_path.name}")
    plain.save_weights(temporary)
    os.replace(temporary, weights_path)
    write_json_atomic(config_path, {**info, "version": __version__})
    return weights_path


def load_classifier(weights_path: Path | None = None, config_path: Path | None = None, dataset: str = "mnist"):
    """Build the network described by the JSON beside the weights and load the weights into it.

    Args:
        weights_path: a `*.weights.h5` written by `save_classifier`; by default the dataset's.
        config_path: its JSON; by default `<name>.json` beside the weights.
        dataset: whose classifier this is, for the default path and the messages.

    Raises:
        ClassifierError: when a file is missing (the message says how to train one) or
            the weights do not fit the architecture.
    """
    weights_path = Path(weights_path) if weights_path is not None else classifier_weights_path(dataset)
    config_path = Path(config_path) if config_path is not None else classifier_config_path(weights_path)
    if not weights_path.is_file():
        raise ClassifierError(missing_classifier_message(dataset, weights_path))
    description = read_json(config_path)
    if not isinstance(description, dict) or "architecture" not in description:
        raise ClassifierError(
            f"{config_path} is missing or has no 'architecture'; retrain with `{train_command(dataset)}`"
        )
    trained_on = description.get("dataset")
    if trained_on in DATASET_NAMES and trained_on != dataset:  # older files hold a free-text description here
        raise ClassifierError(
            f"Expected a classifier trained on {dataset}. Received: {config_path.name} says it was trained on "
            f"{trained_on}"
        )
    classifier = build_classifier(description["architecture"])
    try:
        classifier.load_weights(weights_path)
    except Exception as error:  # h5py and Keras raise many types for a mismatched file
        first_line = (str(error).splitlines() or [type(error).__name__])[0]
        raise ClassifierError(
            f"{weights_path.name} does not fit the classifier described by {config_path.name}: {first_line}"
        ) from None
    return classifier
