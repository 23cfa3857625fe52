"""Quality over time: every training snapshot scored with the classifier of the run's dataset.

A GAN's losses say little about how good its images are; FID and the Inception Score of
its samples do. While a run trains, each snapshot step draws one fixed latent batch
(1,000 samples, the same batch every time so the points are comparable), measures
it like `aigc_core.quality.evaluation` does and appends one row to `quality.jsonl`:

    step, elapsed_s, fid, inception_score, min_class_share, max_class_share,
    confident_share, num_samples, seconds_spent

1,000 samples, as the issue asks (bench/quality_overhead.py, gan-fast, a snapshot every 100
steps, quiet 2-core machine, 2026-11-28): 6.9% of the training time (wall time +2.3%); 500 cost
3.8%. An earlier session measured 1,000 at 11-12% while the machine was loaded by other work, so
`$AIGC_QUALITY_SAMPLES=500` is the setting for a busy demo server. FID from 1,000 samples is
biased upwards against the 10,000-sample numbers of `python -m aigc_core evaluate`: compare
points of one curve, not a curve with that table. Scoring time is not counted as training
time (see `training.make_recorder`).

A GAN run that keeps its generator's moving average (`TrainingConfig.ema_decay`, on by
default) is scored on the average, as its snapshots are: `training.make_recorder` swaps it into
the generator around every `SnapshotScorer.score` call.

`$AIGC_QUALITY_SAMPLES` (read when a run starts) sets the sample count; 0 switches scoring
off. A run on Fashion-MNIST is scored by the Fashion-MNIST classifier against that test set
(`aigc_core.quality.classifier.classifier_weights_path`). Without the classifier file of the run's
dataset nothing is scored and the worker log says so once.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aigc_core.quality import classifier as classifier_module
from aigc_core.quality import evaluation
from aigc_core.data import DatasetError
from aigc_core.files import write_bytes_atomic

if TYPE_CHECKING:  # the scorer writes through the Run it is given; the run store is not imported
    from aigc_core.runs.store import Run

QUALITY_SAMPLES_VARIABLE = "AIGC_QUALITY_SAMPLES"
DEFAULT_QUALITY_SAMPLES = 1000
QUALITY_KEYS = ("step", "elapsed_s", "fid", "inception_score", "min_class_share", "max_class_share",
                "confident_share", "num_samples", "seconds_spent")
# Bump when the way the cached test-set statistics are computed changes.
STATISTICS_FORMAT = 1

_reference_statistics: dict[tuple[str, int, str, str], tuple[np.ndarray, np.ndarray]] = {}


def log_line(message: str) -> None:
    """One line for the worker log (stderr, so a terminal progress bar on stdout is not broken)."""
    print(f"quality: {message}", file=sys.stderr, flush=True)


def quality_samples_from_environment(log=log_line) -> int:
    """Samples per scored snapshot: `$AIGC_QUALITY_SAMPLES`, 0 to switch scoring off.

    A value that is not 0 or an integer in [2, evaluation.MAX_NUM_SAMPLES] (FID needs a
    covariance) is reported in the log and the default is used: a typo must not fail a run.
    """
    text = os.environ.get(QUALITY_SAMPLES_VARIABLE, "").strip()
    if not text:
        return DEFAULT_QUALITY_SAMPLES
    try:
        value = int(text)
        return 0 if value == 0 else evaluation.check_num_samples(value)
    except ValueError:
        log(f"ignoring {QUALITY_SAMPLES_VARIABLE}={text!r} (expected 0 or an integer in "
            f"[2, {evaluation.MAX_NUM_SAMPLES}]); scoring {DEFAULT_QUALITY_SAMPLES} samples")
        return DEFAULT_QUALITY_SAMPLES


def scoring_unavailable_reason(dataset: str = "mnist") -> str | None:
    """Why this machine's runs on `dataset` get no quality curve, or None when they do (for the UI)."""
    if os.environ.get(QUALITY_SAMPLES_VARIABLE, "").strip() == "0":
        return f"quality scoring is switched off ({QUALITY_SAMPLES_VARIABLE}=0)"
    if not classifier_module.classifier_weights_path(dataset).is_file():
        return classifier_module.missing_classifier_message(dataset)
    return None


# -- the test set, seen by the classifier ---------------------------------------------------
def statistics_path(classifier_path: Path) -> Path:
    return Path(classifier_path).with_name(
        Path(classifier_path).name.removesuffix(".weights.h5") + ".test_statistics.npz")


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def reference_statistics(classifier, classifier_path: Path, dataset: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the classifier's features on the dataset's 10,000 test images.

    Computing them costs seconds (every test image through the classifier), so they are
    kept per process and in a small file beside the classifier, tied to its sha256 and to
    the test images' digest (Fashion-MNIST's may come from two sources with different
    splits): a new worker reads them in milliseconds. A folder that cannot be written only
    loses the file. MNIST's file, written before the digest was recorded, is trusted
    without it: the bundled data is checksummed.
    """
    classifier_path = Path(classifier_path)
    digest = evaluation.digest_of_test_split(dataset)
    key = (str(classifier_path.resolve()), classifier_path.stat().st_mtime_ns, dataset, digest)
    if key in _reference_statistics:
        return _reference_statistics[key]
    checksum = _sha256(classifier_path)
    cache_path = statistics_path(classifier_path)
    statistics = None
    try:
        with np.load(cache_path, allow_pickle=False) as cached:
            cached_digest = str(cached["test_images_sha256"]) if "test_images_sha256" in cached.files else None
            if (str(cached["classifier_sha256"]) == checksum and int(cached["format"]) == STATISTICS_FORMAT
                    and (cached_digest == digest or (cached_digest is None and dataset == "mnist"))):
                statistics = (cached["mean"], cached["covariance"])
    except (OSError, KeyError, ValueError):
        pass  # missing or unreadable: compute it
    if statistics is None:
        statistics = evaluation.statistics_of_test_split(classifier, dataset=dataset)
        buffer = io.BytesIO()
        np.savez(buffer, mean=statistics[0], covariance=statistics[1], classifier_sha256=checksum,
                 test_images_sha256=digest, format=STATISTICS_FORMAT)
        try:
            write_bytes_atomic(cache_path, buffer.getvalue())
        except OSError:
            pass
    _reference_statistics.clear()
    _reference_statistics[key] = statistics
    return statistics


# -- scoring snapshots ------------------------------------------------------------------------
class SnapshotScorer:
    """Scores a model's samples from one fixed latent batch and appends the row to quality.jsonl."""

    def __init__(self, run: Run, classifier, reference: tuple[np.ndarray, np.ndarray], latent: np.ndarray,
                 log=log_line, labels: np.ndarray | None = None):
        """`labels`: a conditional model's label for each latent vector, fixed like the batch
        (`make_snapshot_scorer` draws them as `evaluate` does); None for an unconditional model."""
        self.run = run
        self.classifier = classifier
        self.reference_mean, reference_covariance = reference
        # FID's tr sqrt(R C) needs sqrt(R) of the reference covariance R: it never changes, so
        # its eigendecomposition is done once here instead of at every snapshot.
        self.reference_root = evaluation.sqrtm_psd(reference_covariance)
        self.reference_trace = float(np.trace(reference_covariance))
        self.latent = latent
        self.labels = labels
        self.log = log

    def fid(self, mean: np.ndarray, covariance: np.ndarray) -> float:
        """`evaluation.frechet_distance` against the test set, with sqrt(R) precomputed."""
        difference = mean - self.reference_mean
        product = self.reference_root @ covariance @ self.reference_root
        eigenvalues = np.linalg.eigvalsh((product + product.T) / 2.0)
        value = (difference @ difference + self.reference_trace + np.trace(covariance)
                 - 2.0 * np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
        return max(float(value), 0.0)

    def score(self, model, step: int, elapsed_s: float) -> float:
        """Measure the model now and record the row; returns the seconds it took.

        Scoring is an extra: a failure (NaN images from a diverging model) is one log line
        and no row, never a failed run.
        """
        started = time.monotonic()
        try:
            images = model.generate(self.latent, self.labels)
            features, probabilities = evaluation.classifier_features_and_probabilities(images, self.classifier)
            mean, covariance = evaluation.gaussian_statistics(features)
            coverage = evaluation.class_coverage(probabilities)
            row = {
                "step": int(step),
                "elapsed_s": round(float(elapsed_s), 3),
                "fid": self.fid(mean, covariance),
                "inception_score": evaluation.inception_score(probabilities),
                "min_class_share": coverage["min_class_share"],
                "max_class_share": coverage["max_class_share"],
                "confident_share": coverage["confident_share"],
                "num_samples": int(len(images)),
            }
        except Exception as error:  # noqa: BLE001 - see the docstring
            self.log(f"step {step} not scored: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
            return time.monotonic() - started
        spent = time.monotonic() - started
        row["seconds_spent"] = round(spent, 3)
        self.run.append_quality([row])
        return spent


def make_snapshot_scorer(model, run: Run, seed: int, log=log_line) -> SnapshotScorer | None:
    """The scorer for a run starting now, or None when scoring is off or impossible (logged once).

    The run's config.json names its dataset; that dataset's classifier and test set score it.
    """
    num_samples = quality_samples_from_environment(log)
    if num_samples == 0:
        return None
    dataset = run.config().get("dataset", "mnist")
    try:
        classifier_path = classifier_module.classifier_weights_path(dataset)
        classifier = evaluation.default_classifier(classifier_path, dataset=dataset)
        reference = reference_statistics(classifier, classifier_path, dataset)
    except (ValueError, OSError, DatasetError) as error:  # ClassifierError is a ValueError
        log(f"snapshots are not scored: {str(error).splitlines()[0]}")
        return None
    labels = evaluation.class_prior_labels(num_samples, dataset) if getattr(model, "num_classes", 0) else None
    return SnapshotScorer(run, classifier, reference, model.latent_batch(num_samples, seed), log, labels)

