"""An exponential moving average (EMA) of a GAN generator's weights, kept while it trains.

A GAN's generator does not settle: with a constant learning rate its weights circle around a
good point, and a sample grid (or FID) taken at one step catches them wherever they are. The
average of the recent iterates sits nearer the middle of that circle and draws better images
than any single one of them (Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN
Training"; the shipped gan-conditional's FID on 1,000 samples wandered between 3.0 and 3.6 over
its last ten minutes without it).

The average is what a run shows and keeps: `training.train_run` swaps it into the generator for
every snapshot, quality score and checkpoint (so `sample`, `evaluate` and exported weights draw
from it), and stores the raw weights beside it so that a resumed run continues the same descent.

A plain average with decay 0.999 remembers ~1,000 steps; early in a run that drags the samples
back toward the random initial weights for minutes. The decay therefore warms up,
min(decay, (1 + t) / (10 + t)) at step t (the schedule of TensorFlow's
`ExponentialMovingAverage(num_updates=t)`): the average follows the raw weights closely at
first and settles to `decay` after ~10,000 steps.
"""

from __future__ import annotations

import contextlib

import numpy as np

DEFAULT_DECAY = 0.999  # about the last 1,000 steps: ~1 minute of gan-fast on two CPU cores
DEFAULT_EVERY = 5
# Keys of the average's state in a run's optimizer.npz (see `GeneratorAverage.state_arrays`).
RAW_PREFIX = "generator_raw/"
AVERAGE_PREFIX = "generator_average/"
UPDATED_AT_KEY = "generator_average_step"


def warmed_up_decay(decay: float, step: int) -> float:
    """The decay used for the update after `step` steps: min(decay, (1 + step) / (10 + step))."""
    return min(decay, (1.0 + step) / (10.0 + step))


def kept_share(decay: float, first_step: int, end_step: int) -> float:
    """The old average's weight after the steps first_step .. end_step - 1, each with its warmed-up decay."""
    share = 1.0
    for step in range(first_step, end_step):
        share *= warmed_up_decay(decay, step)
    return share


def check_decay(decay) -> float:
    """`decay` if it lies in (0, 1); else a one-line ValueError."""
    if not isinstance(decay, (int, float)) or not 0.0 < decay < 1.0:
        raise ValueError(f"decay must be between 0 and 1 (exclusive); received {decay!r}")
    return float(decay)


def averaged_network(model):
    """The network whose weights are averaged: a GAN's generator, a diffusion model's denoiser; None otherwise.

    Sampling draws from that network alone, so its average is what snapshots and samples use.
    (The checkpoint keys keep the name "generator" for both.)
    """
    network = getattr(model, "denoiser", None)
    return network if network is not None else getattr(model, "generator", None)


def make_generator_average(decay: float = DEFAULT_DECAY, every: int = DEFAULT_EVERY, start_step: int = 0):
    """A Keras callback that averages the weights of `averaged_network(model)` every `every` steps.

    Args:
        decay: the settled per-step weight of the old average, in (0, 1); see the module docstring
            for its warm-up.
        every: steps between updates. Reading the weights costs a copy from the device, so the
            average is updated every few steps with the product of the decays of those steps;
            it then averages one iterate in `every`, which the slow drift of the weights makes
            as good as all of them.
        start_step: the run's step when this `fit()` begins (a resumed run's checkpoint step),
            so the warm-up and the update steps continue where they were.

    Raises:
        ValueError: for a decay outside (0, 1) or a non-positive `every`.
    """
    import keras

    decay = check_decay(decay)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a whole number of steps >= 1; received {every!r}")

    class GeneratorAverage(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.decay, self.every = decay, every
            self.averaged: list[np.ndarray] | None = None
            self.step = start_step
            self.updated_at = start_step  # the step of the raw weights last folded into the average
            self.updates = 0

        def on_train_begin(self, logs=None):
            if self.averaged is None:
                self.start_from(self.model)

        def start_from(self, model) -> None:
            """Begin the average at `model.generator`'s current weights (a fresh run's first value)."""
            self.averaged = [np.array(weight, dtype=np.float64) for weight in averaged_network(model).get_weights()]
            self.updated_at = self.step

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % self.every:
                return
            if self.averaged is None:
                self.start_from(self.model)
                return
            keep = kept_share(self.decay, self.updated_at, self.step)
            for average, weight in zip(self.averaged, averaged_network(self.model).get_weights()):
                average *= keep
                average += (1.0 - keep) * weight
            self.updated_at = self.step
            self.updates += 1

        @contextlib.contextmanager
        def swapped_in(self, model):
            """Within the block `model.generator` holds the average; its raw weights come back after."""
            if self.averaged is None:
                yield
                return
            raw = averaged_network(model).get_weights()
            averaged_network(model).set_weights([average.astype(np.float32) for average in self.averaged])
            try:
                yield
            finally:
                averaged_network(model).set_weights(raw)

        def apply_to(self, model) -> None:
            """Put the averaged weights into `model.generator` (the same architecture), for good.

            Raises:
                ValueError: before the average has begun, when there is nothing to apply.
            """
            if self.averaged is None:
                raise ValueError("no generator average yet: it begins when training starts")
            averaged_network(model).set_weights([average.astype(np.float32) for average in self.averaged])

        def state_arrays(self, model) -> dict[str, np.ndarray]:
            """What a checkpoint needs to resume exactly: the raw generator, the average, its step."""
            arrays = {f"{RAW_PREFIX}{index}": np.asarray(weight) for index, weight in enumerate(averaged_network(model).get_weights())}
            if self.averaged is not None:
                arrays.update({f"{AVERAGE_PREFIX}{index}": average for index, average in enumerate(self.averaged)})
                arrays[UPDATED_AT_KEY] = np.asarray(self.updated_at, dtype=np.int64)
            return arrays

        def restore(self, arrays, model) -> None:
            """Take the average from a checkpoint's arrays; without one, begin at the generator's weights.

            Called after the checkpoint's weights (which hold the average) are loaded and the
            raw weights are back in the generator (see `restore_raw_generator`).
            """
            count = len(averaged_network(model).get_weights())
            keys = [f"{AVERAGE_PREFIX}{index}" for index in range(count)]
            if arrays is not None and all(key in arrays for key in keys) and UPDATED_AT_KEY in arrays:
                self.averaged = [np.array(arrays[key], dtype=np.float64) for key in keys]
                self.updated_at = int(arrays[UPDATED_AT_KEY])
            else:
                self.start_from(model)

    return GeneratorAverage()


def restore_raw_generator(arrays, model) -> bool:
    """Put a checkpoint's raw generator weights back into `model.generator`; False if it has none.

    A checkpoint of an averaged run holds the average in its weights file (what every reader
    should draw from) and the raw weights in these arrays (what training continues from).
    """
    generator = averaged_network(model)
    if generator is None or arrays is None:
        return False
    current = generator.get_weights()
    keys = [f"{RAW_PREFIX}{index}" for index in range(len(current))]
    if not all(key in arrays and tuple(arrays[key].shape) == tuple(weight.shape) for key, weight in zip(keys, current)):
        return False
    generator.set_weights([arrays[key] for key in keys])
    return True
