"""Metrics shared by the CLI and the UI: FID, the classifier Inception Score, class coverage.

Every number is measured through the project's own classifier of the model's dataset
(`aigc_core.quality.classifier`: one for MNIST, one for Fashion-MNIST), so numbers are comparable
with each other and with the two reference rows computed the same way on that dataset,
never with FIDs published for Inception-v3, nor across datasets:

    real data floor               10,000 real TRAINING images against the TEST set
    untrained generator ceiling   a freshly initialised gan-fast generator

A model is honest about its quality when its row sits between those two. Samples are
always compared with the test split; nothing is measured on the data it is compared with.
Every function takes `dataset` ("mnist" by default); `dataset_of_weights` reads it from the
files of a run or of shipped weights.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from aigc_core.quality import classifier as classifier_module
from aigc_core.data import DATASET_NAMES, DATASET_TITLES
from aigc_core.files import PROJECT_ROOT, read_json, write_json_atomic

REFERENCE_PATH = PROJECT_ROOT / "weights" / "reference_metrics.json"  # MNIST's; other datasets' sit beside their classifier
REFERENCE_FILENAME = "reference_metrics.json"
REFERENCE_SEED = 0
DEFAULT_NUM_SAMPLES = 10_000
MAX_NUM_SAMPLES = 100_000
CONFIDENCE_THRESHOLD = 0.9
REAL_FLOOR = "real data floor"
UNTRAINED_CEILING = "untrained generator ceiling"
# Bump when the way a reference row is computed changes, so cached rows are recomputed.
REFERENCE_FORMAT = 1

_loaded_classifiers: dict[tuple[str, int, str], object] = {}
_test_statistics: dict[tuple[int, int | None, str, str], tuple] = {}
_test_digests: dict[tuple[str, int | None, str], tuple[int, str]] = {}


# -- which dataset, which classifier ------------------------------------------------------
def dataset_of_weights(weights_path: Path) -> str:
    """The dataset a model was trained on, from the files beside its weights.

    A run's `model.weights.h5` sits beside the run's config.json (its TrainingConfig); shipped
    `<name>.weights.h5` beside `<name>.json`, whose optional "dataset" key says it. Files
    written before Fashion-MNIST existed say nothing: they are MNIST models.

    Raises:
        ValueError: when the files name a dataset this version does not know.
    """
    weights_path = Path(weights_path)
    if weights_path.name == "model.weights.h5":
        description = read_json(weights_path.with_name("config.json"))
    else:
        description = read_json(weights_path.with_name(weights_path.name.removesuffix(".weights.h5") + ".json"))
    dataset = (description or {}).get("dataset", "mnist") if isinstance(description, dict) else "mnist"
    if dataset not in DATASET_NAMES:
        raise ValueError(f"Expected the dataset beside {weights_path.name} to be one of {DATASET_NAMES}. "
                         f"Received: dataset={dataset!r}")
    return dataset


def default_classifier(weights_path: Path | None = None, dataset: str = "mnist"):
    """The shipped classifier of a dataset, loaded once per process (reloaded if the file changes).

    Raises:
        ClassifierError: when it is missing; the one-line message says the dataset's samples
            are not evaluated and how to train its classifier.
    """
    weights_path = Path(weights_path or classifier_module.classifier_weights_path(dataset))
    if not weights_path.is_file():
        return classifier_module.load_classifier(weights_path, dataset=dataset)  # raises the "how to train" error
    key = (str(weights_path.resolve()), weights_path.stat().st_mtime_ns, dataset)
    if key not in _loaded_classifiers:
        if len(_loaded_classifiers) >= 2:  # one per dataset is the common case; never let it grow
            _loaded_classifiers.clear()
        _loaded_classifiers[key] = classifier_module.load_classifier(weights_path, dataset=dataset)
    return _loaded_classifiers[key]


def _check_images(images) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise ValueError(f"Expected images of shape (N, 28, 28) with N >= 1. Received: shape={images.shape}")
    if not np.isfinite(images).all() or images.min() < 0.0 or images.max() > 1.0:
        raise ValueError(
            f"Expected finite pixel values in [0, 1]. Received: min={np.nanmin(images)}, max={np.nanmax(images)}"
        )
    return images


def classifier_features_and_probabilities(images, classifier=None, batch_size: int = 500):
    """Penultimate-layer features and softmax class probabilities p(y|x), in batches.

    Args:
        images: (N, 28, 28) float in [0, 1] (a trailing channel axis is accepted).
        classifier: a network from `aigc_core.quality.classifier.build_classifier`; the shipped one by default.

    Returns:
        (features (N, F) float64, probabilities (N, 10) float64).
    """
    import keras

    images = _check_images(images)
    classifier = classifier if classifier is not None else default_classifier()
    network = classifier_module.feature_and_logit_model(classifier)
    features, logits = [], []
    for start in range(0, len(images), batch_size):
        batch_features, batch_logits = network(images[start : start + batch_size, :, :, None], training=False)
        features.append(keras.ops.convert_to_numpy(batch_features))
        logits.append(keras.ops.convert_to_numpy(batch_logits))
    logits = np.concatenate(logits).astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)  # a stable softmax
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return np.concatenate(features).astype(np.float64), probabilities


# -- the metrics --------------------------------------------------------------------------
def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a Gaussian fitted to features (N, F), N >= 2."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"Expected features of shape (N, F) with N >= 2. Received: shape={features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix through its eigendecomposition.

    Rounding makes tiny eigenvalues of a covariance slightly negative; they are clipped to 0.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def trace_sqrt_product(covariance_a: np.ndarray, covariance_b: np.ndarray) -> float:
    """tr sqrt(A B) for covariances A and B, with NumPy only.

    A B is not symmetric, but it is similar to sqrt(A) B sqrt(A), which is symmetric PSD
    and has the same eigenvalues, so `eigh` applies and no scipy `sqrtm` is needed.
    """
    root_a = sqrtm_psd(covariance_a)
    product = root_a @ np.asarray(covariance_b, dtype=np.float64) @ root_a
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2.0)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mean_a, covariance_a, mean_b, covariance_b) -> float:
    """Frechet distance between two Gaussians: |mu_a - mu_b|^2 + tr(A + B - 2 sqrt(A B))."""
    difference = np.asarray(mean_a, dtype=np.float64) - np.asarray(mean_b, dtype=np.float64)
    value = (
        difference @ difference
        + np.trace(covariance_a)
        + np.trace(covariance_b)
        - 2.0 * trace_sqrt_product(covariance_a, covariance_b)
    )
    return max(float(value), 0.0)  # rounding can leave -1e-12 for identical statistics


def fid_from_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussian fits of two feature sets."""
    return frechet_distance(*gaussian_statistics(features_a), *gaussian_statistics(features_b))


def inception_score(probabilities: np.ndarray) -> float:
    """exp(mean_x KL(p(y|x) || p(y))): 1 when every sample looks alike, 10 at most.

    High only when each sample is classified confidently AND the classes are used evenly.
    Computed over all samples at once (no splits).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise ValueError(f"Expected probabilities of shape (N, classes). Received: shape={probabilities.shape}")
    eps = 1e-12
    marginal = probabilities.mean(axis=0, keepdims=True)
    kl = (probabilities * (np.log(probabilities + eps) - np.log(marginal + eps))).sum(axis=1)
    return float(np.exp(kl.mean()))


def class_coverage(probabilities: np.ndarray, confidence: float = CONFIDENCE_THRESHOLD) -> dict:
    """How the samples spread over the digits, to see mode collapse at a glance.

    Returns:
        coverage (fraction of samples predicted as each digit, sums to 1), min_class_share,
        max_class_share, and confident_share (fraction classified with p >= `confidence`).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predicted = probabilities.argmax(axis=1)
    shares = np.bincount(predicted, minlength=probabilities.shape[1]) / len(predicted)
    return {
        "coverage": [float(share) for share in shares],
        "min_class_share": float(shares.min()),
        "max_class_share": float(shares.max()),
        "confident_share": float((probabilities.max(axis=1) >= confidence).mean()),
    }


# -- against the test set -----------------------------------------------------------------
def digest_of_test_split(dataset: str = "mnist", limit: int | None = None) -> str:
    """sha256 of a dataset's test images and labels, to tie cached statistics to the data they came from.

    Fashion-MNIST may come from the fetched file (its own split) or from keras.datasets (the
    official one): the same classifier gives different reference numbers on each.
    """
    import hashlib

    from aigc_core.data import data_file_path, load_images

    source = data_file_path(dataset)
    key = (dataset, limit, str(source))
    stamp = source.stat().st_mtime_ns if source.is_file() else 0
    cached = _test_digests.get(key)
    if cached is None or cached[0] != stamp:
        test = load_images(dataset, "test", limit=limit)
        digest = hashlib.sha256(np.ascontiguousarray(test.images).tobytes())
        digest.update(np.ascontiguousarray(test.labels).tobytes())
        if len(_test_digests) >= 8:
            _test_digests.clear()
        cached = _test_digests[key] = (stamp, digest.hexdigest())
    return cached[1]


def statistics_of_test_split(classifier=None, limit: int | None = None, dataset: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the classifier's features on a dataset's TEST split (cached per classifier)."""
    from aigc_core.data import load_images

    classifier = classifier if classifier is not None else default_classifier(dataset=dataset)
    key = (id(classifier), limit, dataset, digest_of_test_split(dataset, limit))
    cached = _test_statistics.get(key)
    if cached is None or cached[0] is not classifier:
        test = load_images(dataset, "test", limit=limit)
        features, _ = classifier_features_and_probabilities(test.images.astype(np.float32) / 255.0, classifier)
        if len(_test_statistics) >= 4:
            _test_statistics.clear()
        # The classifier is kept in the entry so its id cannot be reused by another object.
        cached = _test_statistics[key] = (classifier, *gaussian_statistics(features))
    return cached[1], cached[2]


def metrics_for_images(images, classifier=None, reference_limit: int | None = None, dataset: str = "mnist") -> dict:
    """FID against the dataset's test set, Inception Score and class coverage of images in [0, 1]."""
    classifier = classifier if classifier is not None else default_classifier(dataset=dataset)
    features, probabilities = classifier_features_and_probabilities(images, classifier)
    mean, covariance = gaussian_statistics(features)
    return {
        "fid": frechet_distance(mean, covariance, *statistics_of_test_split(classifier, reference_limit, dataset)),
        "inception_score": inception_score(probabilities),
        **class_coverage(probabilities),
        "num_samples": int(len(features)),
    }


def vae_test_losses(model, limit: int | None = None, batch_size: int = 500, dataset: str = "mnist") -> dict:
    """Mean reconstruction and KL per TEST image of the dataset; their sum is the negative ELBO in nats
    for the Bernoulli reconstruction (for the Gaussian one it is a squared error, not nats).

    The encoder's sampling noise is random, so the value moves in its last decimals.
    """
    import keras

    from aigc_core.data import load_images

    test = load_images(dataset, "test", limit=limit)
    images = test.images.astype(np.float32)[..., None] / 255.0
    conditional = bool(getattr(model, "num_classes", 0))  # a CVAE scores each image given its label
    reconstruction_total = kl_total = 0.0
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        labels = {"labels": test.labels[start : start + batch_size]} if conditional else {}
        reconstruction, kl, _ = model.losses_for(batch, training=False, **labels)
        # Both come back as batch means; weighting by batch size gives the mean per image.
        reconstruction_total += float(keras.ops.convert_to_numpy(reconstruction)) * len(batch)
        kl_total += float(keras.ops.convert_to_numpy(kl)) * len(batch)
    losses = {"test_reconstruction": reconstruction_total / len(images), "test_kl_nats": kl_total / len(images)}
    if getattr(model, "reconstruction", "bernoulli") == "bernoulli":
        losses["negative_elbo_nats"] = losses["test_reconstruction"] + losses["test_kl_nats"]
    return losses


def check_num_samples(num_samples) -> int:
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or not (
        2 <= num_samples <= MAX_NUM_SAMPLES
    ):
        raise ValueError(
            f"Expected num_samples to be an integer in [2, {MAX_NUM_SAMPLES}] (FID needs a covariance). "
            f"Received: num_samples={num_samples!r}"
        )
    return int(num_samples)


def evaluate_model(
    model,
    num_samples: int = DEFAULT_NUM_SAMPLES,
    seed: int = 0,
    classifier=None,
    reference_limit: int | None = None,
    elbo_limit: int | None = None,
    dataset: str = "mnist",
) -> dict:
    """Sample a generative model and measure it; a VAE also gets its negative ELBO on the test set.

    Args:
        model: a `GenerativeModel` (anything with `family` and `sample(num_samples, seed)`).
        num_samples: samples drawn; FID is biased upwards for small N, so compare rows with equal N.
        seed: sampling seed (same seed, same samples).
        classifier: the network measuring the samples; the dataset's shipped classifier by default.
        reference_limit, elbo_limit: use only the first N test images (tests keep them small).
        dataset: the data the model was trained on (see `dataset_of_weights`): its classifier
            measures the samples and its test split is what they are compared with.

    Returns:
        fid, inception_score, coverage (10 fractions), min_class_share, max_class_share,
        confident_share, num_samples, seconds, and for a VAE test_reconstruction, test_kl_nats and
        (Bernoulli reconstruction) negative_elbo_nats; for a conditional model (whose labels are
        drawn by `class_prior_labels`) digit_agreement, min_digit_agreement and
        mean_digit_agreement; and dataset.

    Raises:
        ClassifierError: when the dataset has no classifier (the one-line message says the
            samples are not evaluated and how to train one).
    """
    num_samples = check_num_samples(num_samples)
    started = time.monotonic()
    classifier = classifier if classifier is not None else default_classifier(dataset=dataset)
    images, labels = sample_as_scored(model, num_samples, seed, dataset)
    metrics = metrics_for_images(images, classifier, reference_limit, dataset)
    if labels is not None:
        metrics.update(label_agreement(images, labels, classifier, model.num_classes))
    if model.family == "vae":
        metrics.update(vae_test_losses(model, limit=elbo_limit, dataset=dataset))
    metrics["dataset"] = dataset
    metrics["seed"] = int(seed)
    metrics["seconds"] = round(time.monotonic() - started, 1)
    return metrics


# -- conditional models: which labels to draw, does the label pick the digit? --------------
_class_frequencies: dict[str, np.ndarray] = {}


def class_prior_labels(num_samples: int, dataset: str = "mnist") -> np.ndarray:
    """`num_samples` labels in the training split's class frequencies, sorted: what a conditional model is scored on.

    A conditional model's picture of the data is p(y) p(x|y): the label first, in the
    frequencies it was trained on, then an image of it. The test set that FID compares with
    has MNIST's own frequencies (11.35% ones, 8.92% fives), so drawing every digit equally
    scores a class-balanced MNIST instead and costs FID that no generator can win back: 10,000
    real training images score 0.53 drawn at random and 0.65 drawn 1,000 per digit
    (bench/README.md, "The best GAN's FID"). The frequencies come from the training labels,
    never the test labels the samples are compared with. Counts are rounded by largest
    remainder, so they sum to `num_samples` and the same N always gives the same labels.
    """
    num_samples = check_num_samples(num_samples)
    if dataset not in _class_frequencies:
        from aigc_core.data import load_images

        labels = load_images(dataset, "train").labels
        _class_frequencies[dataset] = np.bincount(labels) / len(labels)
    expected = _class_frequencies[dataset] * num_samples
    counts = np.floor(expected).astype(np.int64)
    largest_remainders = np.argsort(-(expected - counts), kind="stable")
    counts[largest_remainders[: num_samples - counts.sum()]] += 1
    return np.repeat(np.arange(len(counts)), counts).astype(np.int32)


DEFAULT_SAMPLES_PER_DIGIT = 100


def sample_as_scored(model, num_samples: int, seed: int = 0, dataset: str = "mnist") -> tuple[np.ndarray, np.ndarray | None]:
    """The samples a model is scored on, and the labels a conditional model drew them for (None otherwise).

    One place for the rule, so `evaluate` and the benches score the same distribution.
    """
    labels = class_prior_labels(num_samples, dataset) if getattr(model, "num_classes", 0) else None
    return model.sample(num_samples, seed=seed, labels=labels), labels


def label_agreement(images, labels, classifier=None, num_classes: int = 10, dataset: str = "mnist") -> dict:
    """How often the classifier agrees with the label each image was asked to show.

    Args:
        images: (N, 28, 28) in [0, 1], the i-th drawn for `labels[i]`.
        labels: N ints in [0, num_classes).
        classifier: the dataset's shipped classifier by default.

    Returns:
        digit_agreement (a share per class, None for a class with no image), min_digit_agreement
        (the worst class: a model that cannot draw one digit is caught) and mean_digit_agreement
        (over all images).
    """
    labels = np.asarray(labels)
    images = _check_images(images)
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"Expected one int label per image, shape ({len(images)},). Received: labels of shape "
                         f"{labels.shape} and dtype {labels.dtype}")
    classifier = classifier if classifier is not None else default_classifier(dataset=dataset)
    _, probabilities = classifier_features_and_probabilities(images, classifier)
    agrees = probabilities.argmax(axis=1) == labels
    per_digit = [float(agrees[labels == digit].mean()) if np.any(labels == digit) else None
                 for digit in range(num_classes)]
    return {
        "digit_agreement": per_digit,
        "min_digit_agreement": min(share for share in per_digit if share is not None),
        "mean_digit_agreement": float(agrees.mean()),
    }


def conditional_agreement(model, samples_per_digit: int = DEFAULT_SAMPLES_PER_DIGIT, seed: int = 0,
                          classifier=None, dataset: str = "mnist") -> dict:
    """Ask a conditional model for `samples_per_digit` images of each digit and measure `label_agreement`.

    One seeded call draws all of them (labels 0...0, 1...1, ...), so the same seed gives the
    same numbers; the result also carries `samples_per_digit` and `seed`.

    Raises:
        ValueError: for an unconditional model or a count below 1.
    """
    num_classes = int(getattr(model, "num_classes", 0))
    if not num_classes:
        raise ValueError(f"Per-digit agreement needs a conditional model. Received: {type(model).__name__}, "
                         "which takes no labels")
    if isinstance(samples_per_digit, bool) or not isinstance(samples_per_digit, (int, np.integer)) or not (
        1 <= samples_per_digit <= MAX_NUM_SAMPLES // num_classes
    ):
        raise ValueError(f"Expected samples_per_digit to be an integer in [1, {MAX_NUM_SAMPLES // num_classes}]. "
                         f"Received: samples_per_digit={samples_per_digit!r}")
    labels = np.repeat(np.arange(num_classes), int(samples_per_digit))
    images = model.sample(len(labels), seed=seed, labels=labels)
    return {**label_agreement(images, labels, classifier, num_classes, dataset),
            "samples_per_digit": int(samples_per_digit), "seed": int(seed)}


# -- the reference rows -------------------------------------------------------------------
def compute_reference_rows(num_samples: int = DEFAULT_NUM_SAMPLES, seed: int = REFERENCE_SEED,
                           classifier=None, reference_limit: int | None = None, dataset: str = "mnist") -> dict:
    """The two rows every model of a dataset is read against, measured exactly like a model.

    real data floor: `num_samples` TRAINING images drawn without replacement (with, beyond
    60,000), which no model can beat by more than noise. untrained generator ceiling: a
    gan-fast generator initialised with `seed` and never trained.
    """
    import keras

    from aigc_core.data import load_images
    from aigc_core.models.registry import VARIANTS, build_model

    num_samples = check_num_samples(num_samples)
    classifier = classifier if classifier is not None else default_classifier(dataset=dataset)
    train = load_images(dataset, "train").images
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(train), size=num_samples, replace=num_samples > len(train))
    rows = {REAL_FLOOR: metrics_for_images(train[chosen].astype(np.float32) / 255.0, classifier, reference_limit,
                                           dataset)}

    keras.utils.set_random_seed(seed)  # the initial weights come from Keras's global seed
    variant = VARIANTS["gan-fast"]
    untrained = build_model(variant.family, dict(variant.model_config))
    rows[UNTRAINED_CEILING] = metrics_for_images(untrained.sample(num_samples, seed=seed), classifier, reference_limit,
                                                 dataset)
    return rows


def reference_path(dataset: str = "mnist") -> Path:
    """Where a dataset's reference rows are cached: `weights/reference_metrics.json` for MNIST,
    beside its classifier for the others (so each dataset's numbers travel with their classifier)."""
    if dataset == "mnist":
        return Path(REFERENCE_PATH)  # the module global, read at call time so tests can move it
    return classifier_module.classifier_weights_path(dataset).with_name(REFERENCE_FILENAME)


def reference_rows(num_samples: int = DEFAULT_NUM_SAMPLES, classifier_path: Path | None = None,
                   cache_path: Path | None = None, reference_limit: int | None = None,
                   dataset: str = "mnist") -> dict:
    """A dataset's reference rows for `num_samples`, from its cache file when that was made by this
    classifier on these test images.

    The cache (`reference_path(dataset)`) is recomputed when missing, when the classifier's
    sha256 or the test images' digest differs, or when its format changed. MNIST's cache,
    written before the digest was recorded, is trusted without it: the bundled file is
    checksummed. Only the default sample count is written to it; other counts are computed
    in memory, so a quick `--num 500` does not replace the shipped numbers.

    Raises:
        ClassifierError: when the dataset has no classifier (one line: not evaluated, how to train one).
    """
    from aigc_core.data import load_images, sha256_of

    num_samples = check_num_samples(num_samples)
    classifier_path = Path(classifier_path or classifier_module.classifier_weights_path(dataset))
    cache_path = Path(cache_path or reference_path(dataset))
    classifier = default_classifier(classifier_path, dataset=dataset)
    checksum = sha256_of(classifier_path)
    digest = digest_of_test_split(dataset, reference_limit)
    cached = read_json(cache_path)
    if (
        isinstance(cached, dict)
        and cached.get("classifier_sha256") == checksum
        and cached.get("format") == REFERENCE_FORMAT
        and cached.get("num_samples") == num_samples
        and cached.get("reference_limit") == reference_limit
        and cached.get("dataset", "mnist") == dataset
        and cached.get("test_images_sha256", digest if dataset == "mnist" else None) == digest
        and isinstance(cached.get("rows"), dict)
    ):
        return cached["rows"]
    started = time.monotonic()
    rows = compute_reference_rows(num_samples, REFERENCE_SEED, classifier, reference_limit, dataset)
    if num_samples == DEFAULT_NUM_SAMPLES:
        description = read_json(classifier_module.classifier_config_path(classifier_path))
        test_size = len(load_images(dataset, "test", limit=reference_limit).labels)
        title = DATASET_TITLES[dataset]
        write_json_atomic(
            cache_path,
            {
                "format": REFERENCE_FORMAT,
                "dataset": dataset,
                "classifier_sha256": checksum,
                "classifier_test_accuracy": (description or {}).get("test_accuracy"),
                "test_images_sha256": digest,
                "num_samples": num_samples,
                "seed": REFERENCE_SEED,
                "reference_limit": reference_limit,
                "compared_with": f"{title} test split ({test_size:,} images)" if reference_limit is None
                else f"first {test_size} {title} test images",
                "seconds": round(time.monotonic() - started, 1),
                "rows": rows,
            },
        )
    return rows


# -- presentation -------------------------------------------------------------------------
def format_table(rows: dict[str, dict]) -> str:
    """A plain-text table, one line per named row of metrics, for the command line."""
    columns = (
        ("FID", "fid", "{:.2f}"),
        ("IS", "inception_score", "{:.2f}"),
        ("min class", "min_class_share", "{:.1%}"),
        ("max class", "max_class_share", "{:.1%}"),
        ("p>=0.9", "confident_share", "{:.1%}"),
        ("-ELBO nats", "negative_elbo_nats", "{:.1f}"),
        ("min digit", "min_digit_agreement", "{:.1%}"),
        ("N", "num_samples", "{:d}"),
    )
    name_width = max([len("model")] + [len(name) for name in rows])
    header = f"{'model':<{name_width}}  " + "  ".join(f"{title:>10}" for title, _, _ in columns)
    lines = [header, "-" * len(header)]
    for name, metrics in rows.items():
        cells = []
        for _, key, pattern in columns:
            value = metrics.get(key)
            cells.append(f"{pattern.format(value) if value is not None else '-':>10}")
        lines.append(f"{name:<{name_width}}  " + "  ".join(cells))
    return "\n".join(lines)
