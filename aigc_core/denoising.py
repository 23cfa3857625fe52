"""Making denoising visible: a diffusion model's path from noise to digits, and what fewer steps cost.

Two views a class can look at:

- the denoising timeline: one grid of samples after every sampling step, from pure noise (the
  first frame) to the digits `sample` returns (the last), as frames for a slider or an
  animated GIF;
- steps versus quality: the same seed sampled with 1, 2, 4, ... steps, each with the time it
  took and its FID and Inception Score, so the trade-off of few-step samplers is measured
  rather than claimed.
"""

from __future__ import annotations

import time

import numpy as np

from aigc_core import animation, evaluation
from aigc_core.images import make_grid
from aigc_core.messages import MessageError, N_

DEFAULT_STEP_COUNTS = (1, 2, 4, 8, 16, 32)
DEFAULT_EVAL_SAMPLES = 500  # FID from 500 samples reads high, but rows with equal counts compare
GRID_SAMPLES = 64  # the images timed and shown per step count
DEFAULT_FRAME_LABEL = N_("step {step} of {steps}")  # a UI passes `_(DEFAULT_FRAME_LABEL)`


class NotDiffusionError(MessageError):
    """A denoising view asked of a model that does not denoise (a GAN or a VAE)."""


def check_diffusion(model) -> None:
    """Raise `NotDiffusionError` unless `model` is a diffusion model."""
    if getattr(model, "family", None) != "diffusion":
        raise NotDiffusionError(N_("only a diffusion model has denoising steps; this is a {family} model"),
                                family=str(getattr(model, "family", "?")).upper())


def denoising_timeline(model, seed: int, num_samples: int = 16, steps: int | None = None, labels=None) -> np.ndarray:
    """Frames (steps + 1, N, 28, 28) float32 in [0, 1]: the noise of `seed`, then the images after each step.

    Args:
        model: a diffusion model.
        seed: the starting noise's seed (`latent_batch`), as for `sample`.
        num_samples: images per frame.
        steps: sampling steps; None uses the model's `sampling_steps`.
        labels: conditional models only: the digit of each image; None cycles 0-9.
    """
    check_diffusion(model)
    return model.denoising_path(model.latent_batch(num_samples, seed), labels, steps)


def timeline_gif(frames: np.ndarray, scale: int = 3, frame_ms: int = 150, label: str = DEFAULT_FRAME_LABEL) -> bytes:
    """The frames of `denoising_timeline` as a looping GIF, each a grid with its step written above.

    Args:
        frames: (steps + 1, N, 28, 28) in [0, 1]; frame 0 is the noise.
        scale: pixel enlargement (1-8).
        frame_ms: how long each frame shows; the last (the digits) stays longer.
        label: the caption's format, with {step} and {steps}: a UI passes it translated.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 4 or frames.shape[0] < 2 or frames.shape[2:] != (28, 28):
        raise ValueError(f"Expected frames of shape (steps + 1, N, 28, 28) with steps >= 1. Received: shape={frames.shape}")
    animation._check(scale, frame_ms)
    steps = len(frames) - 1
    images = [animation._labelled(make_grid(frame), label.format(step=index, steps=steps), scale)
              for index, frame in enumerate(frames)]
    return animation._encode(images, frame_ms)


def check_step_counts(step_counts) -> tuple[int, ...]:
    """The step counts as a tuple of distinct ints in [1, 1000], in the order given."""
    from aigc_core.models.diffusion import check_steps

    counts = tuple(check_steps(count, "step_counts") for count in step_counts)
    if not counts or len(set(counts)) != len(counts):
        raise ValueError(f"Expected distinct step counts, at least one. Received: step_counts={tuple(step_counts)!r}")
    return counts


def steps_versus_quality(model, seed: int, step_counts=DEFAULT_STEP_COUNTS, num_eval_samples: int = DEFAULT_EVAL_SAMPLES,
                         progress=None, dataset: str = "mnist", classifier=None,
                         reference_limit: int | None = None) -> list[dict]:
    """Sample the same seed with each step count; time it and measure FID and Inception Score.

    FID compares the samples with the dataset's TEST split (the classifier was trained on the
    training split, the model too), so neither the features nor the reference saw these data.

    Args:
        model: a diffusion model.
        seed: the seed of every row's starting noise: rows differ only in their step count.
        step_counts: distinct counts in [1, 1000], e.g. (1, 2, 4, 8, 16, 32).
        num_eval_samples: samples per row for FID and IS (2 to the evaluator's maximum);
            FID is biased upwards for few samples, so compare rows of one call.
        progress: optional `callable(done, total, row)` after each row.
        dataset: the data the model was trained on: its classifier and test split measure it.
        classifier: the measuring network; the dataset's shipped classifier by default.
        reference_limit: compare with only the first N test images (tests keep it small).

    Returns:
        One dict per count, in the order given: steps, seconds_for_64 (wall-clock time to sample
        64 images on this machine), fid, inception_score, images (64, 28, 28) in [0, 1].
    """
    check_diffusion(model)
    counts = check_step_counts(step_counts)
    num_eval_samples = evaluation.check_num_samples(num_eval_samples)
    classifier = classifier if classifier is not None else evaluation.default_classifier(dataset=dataset)
    labels = evaluation.class_prior_labels(num_eval_samples, dataset) if model.num_classes else None
    rows = []
    for index, steps in enumerate(counts):
        started = time.perf_counter()
        images = model.sample(GRID_SAMPLES, seed=seed, steps=steps)
        seconds = time.perf_counter() - started
        scored = model.sample(num_eval_samples, seed=seed, labels=labels, steps=steps)
        metrics = evaluation.metrics_for_images(scored, classifier, reference_limit, dataset)
        row = {"steps": steps, "seconds_for_64": round(seconds, 3), "fid": metrics["fid"],
               "inception_score": metrics["inception_score"], "images": images}
        rows.append(row)
        if progress is not None:
            progress(index + 1, len(counts), row)
    return rows
