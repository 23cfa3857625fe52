"""The MNIST classifier behind the metrics: its network, its training and its loading.

FID and the Inception Score are only as meaningful as the network that looks at the
samples, and only comparable under the same one. Generic Inception-v3 features see
28x28 digits as blurry ImageNet photos, so this project ships its own small digit
classifier (>= 99% test accuracy) and measures everything through it.

The weights live in `weights/classifier/` (not `weights/` itself, where every
`*.weights.h5` is a generative model) beside a JSON file holding the architecture and
the provenance. Like the generative models, only weights are loaded, into a network
built here.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from aigc_core.runs import PROJECT_ROOT, read_json, write_json_atomic

CLASSIFIER_DIR = PROJECT_ROOT / "weights" / "classifier"
CLASSIFIER_WEIGHTS_PATH = CLASSIFIER_DIR / "mnist.weights.h5"
CLASSIFIER_CONFIG_PATH = CLASSIFIER_DIR / "mnist.json"
FEATURES_LAYER = "features"
TRAIN_COMMAND = "python scripts/train_classifier.py"

# The defaults are the shipped network's; tests pass tiny values.
DEFAULT_ARCHITECTURE = {"conv_filters": [32, 64], "feature_units": 128, "dropout": 0.5}


class ClassifierError(ValueError):
    """The classifier is missing, or its files do not fit the network built here."""


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
    epochs: int = 6,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    max_shift: int = 2,
    seed: int = 0,
    train_limit: int | None = None,
    log=print,
):
    """Train the classifier on the MNIST training split and measure it on the test split.

    Adam with a cosine-decayed step size; each epoch sees freshly shifted copies of the
    training images.

    Returns:
        (classifier, info) where info holds test_accuracy, epochs, training_seconds and the
        hyperparameters, ready to be written beside the weights.
    """
    import keras

    from aigc_core.data import load_images

    keras.utils.set_random_seed(seed)
    architecture = check_architecture(architecture or {})
    train = load_images("mnist", "train", limit=train_limit)
    test = load_images("mnist", "test")
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


def load_classifier(weights_path: Path = CLASSIFIER_WEIGHTS_PATH, config_path: Path | None = None):
    """Build the network described by the JSON beside the weights and load the weights into it.

    Args:
        weights_path: a `*.weights.h5` written by `save_classifier`.
        config_path: its JSON; by default `<name>.json` beside the weights.

    Raises:
        ClassifierError: when a file is missing (the message says how to train one) or
            the weights do not fit the architecture.
    """
    weights_path = Path(weights_path)
    if config_path is None:
        config_path = weights_path.with_name(weights_path.name.removesuffix(".weights.h5") + ".json")
    config_path = Path(config_path)
    if not weights_path.is_file():
        raise ClassifierError(
            f"no MNIST classifier at {weights_path}; train it with `{TRAIN_COMMAND}` (a few minutes on a CPU)"
        )
    description = read_json(config_path)
    if not isinstance(description, dict) or "architecture" not in description:
        raise ClassifierError(
            f"{config_path} is missing or has no 'architecture'; retrain with `{TRAIN_COMMAND}`"
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
