"""Sampling limits and the server's operating caps, in one light module (no Keras import).

`config.validate()` checks training parameters; this module checks the sampling ones (how
many images, which seed, where they go), so the CLI and the pages refuse the same values
with the same one-line message. The caps a shared server runs under (`AIGC_*` variables)
are read here at call time, so a test or an operator can change them without a restart.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

from aigc_core.messages import MessageError, N_

# One seed range everywhere: the pages' number inputs, TrainingConfig.seed and the CLI.
MAX_SEED = 2**31 - 1
MAX_NUM_SAMPLES = 100_000
SAMPLE_SUFFIXES = (".npy", ".png")
# Classes a conditional model can be asked for: the ten digits (Fashion-MNIST also has ten).
NUM_DIGIT_CLASSES = 10


def whole_number(name: str, value, low: int, high: int) -> int:
    """`value` as an int in [low, high], or a one-line ValueError naming `name`.

    The project's one wording of "a whole number between": validation, augment and the
    own-digit search all refuse with it. Floats like 3.0 (number widgets) become ints.
    """
    refused = N_("{setting} must be a whole number between {low} and {high}; received {value}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # NumPy integers from widgets count
        raise MessageError(refused, setting=name, low=low, high=high, value=repr(value))
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif math.isfinite(float(value)) and float(value).is_integer():
        number = int(value)
    else:
        raise MessageError(refused, setting=name, low=low, high=high, value=repr(value))
    if not low <= number <= high:
        shown = str(number) if len(str(number)) <= 30 else f"{str(number)[:12]}... ({len(str(number))} digits)"
        raise MessageError(refused, setting=name, low=low, high=high, value=shown)
    return number


def validate_sampling(num_samples, seed, *, min_samples: int = 1, max_samples: int = MAX_NUM_SAMPLES,
                      names: tuple[str, str] = ("num_samples", "seed")) -> tuple[int, int]:
    """Check a request for samples; return `(num_samples, seed)` as ints.

    Args:
        num_samples: how many images; `min_samples` is 2 for evaluation (FID needs a covariance).
        seed: a non-negative integer at most `MAX_SEED`.
        names: how the caller calls these fields in its messages (the CLI says `--num`, `--seed`).

    Raises:
        ValueError: one line naming the field, the value received and what is allowed.
    """
    return (whole_number(names[0], num_samples, min_samples, max_samples),
            whole_number(names[1], seed, 0, MAX_SEED))


def validate_label(label, num_classes: int = NUM_DIGIT_CLASSES, name: str = "label") -> int:
    """A digit to ask a conditional model for: a whole number in [0, num_classes).

    Raises:
        ValueError: one line naming the field, the value received and what is allowed.
    """
    return whole_number(name, label, 0, num_classes - 1)


def labels_for(model_num_classes: int, num_samples: int, label=None, name: str = "label"):
    """The labels to sample a model with: `label` repeated N times, or None when no label is asked.

    Args:
        model_num_classes: the model's `num_classes` (0 for an unconditional model).
        num_samples: N.
        label: the digit asked for, or None (a conditional model then cycles 0-9).

    Raises:
        ValueError: a label for an unconditional model, or one outside [0, num_classes).
    """
    if label is None:
        return None
    if not model_num_classes:
        raise ValueError(f"{name} applies to conditional models only (preset 'conditional'); "
                         f"this model is unconditional; received {name} {label!r}")
    import numpy as np

    return np.full(int(num_samples), validate_label(label, model_num_classes, name), dtype=np.int32)


def validate_extra_budget(extra_steps=None, extra_minutes=None, names: tuple[str, str] = ("steps", "minutes")):
    """Check the budget of a resumed run against the same caps as a new one; return it normalized.

    At most one of the two may be given; steps in [1, MAX_STEPS], minutes in (0, MAX_MINUTES].
    """
    from aigc_core.config import MAX_MINUTES, MAX_STEPS  # lazily: config imports the registry (Keras)

    if extra_steps is not None and extra_minutes is not None:
        raise ValueError(f"give {names[0]} or {names[1]}, not both")
    if extra_steps is not None:
        extra_steps = whole_number(names[0], extra_steps, 1, MAX_STEPS)
    if extra_minutes is not None:
        allowed = f"a number greater than 0 and at most {MAX_MINUTES:g}"
        if isinstance(extra_minutes, bool) or not isinstance(extra_minutes, numbers.Real):
            raise ValueError(f"{names[1]} must be {allowed}; received {extra_minutes!r}")
        try:
            minutes = float(extra_minutes)
        except OverflowError:
            raise ValueError(f"{names[1]} must be {allowed}; received an integer too large to represent") from None
        if not (math.isfinite(minutes) and 0 < minutes <= MAX_MINUTES):
            raise ValueError(f"{names[1]} must be {allowed}; received {extra_minutes!r}")
        extra_minutes = minutes
    return extra_steps, extra_minutes


def validate_sample_output(path, name: str = "--out") -> Path:
    """A file to write samples to: ends in .npy or .png, in a folder that exists, not a folder itself."""
    text = str(path)
    if "\x00" in text:
        raise ValueError(f"{name} must be a file path; received a name containing a NUL byte")
    out = Path(text)
    if out.suffix not in SAMPLE_SUFFIXES:
        raise ValueError(f"{name} must end in {' or '.join(SAMPLE_SUFFIXES)}; received {text[:200]!r}")
    if not out.parent.is_dir():
        raise ValueError(f"{name} folder {str(out.parent)[:200]} does not exist")
    if out.is_dir():
        raise ValueError(f"{name} {text[:200]} is a folder; give a file name")
    return out


def env_number(name: str, default: float, minimum: float = 0) -> float:
    """A numeric `$name`, or `default` when unset or unreadable (a typo must not stop the server)."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= minimum else default


def keep_runs() -> int:
    """`$AIGC_KEEP_RUNS`: finished runs kept before the oldest are pruned (default 50)."""
    return int(env_number("AIGC_KEEP_RUNS", 50, minimum=0))


def max_runs_mb() -> float:
    """`$AIGC_MAX_RUNS_MB`: total size of the runs folder before old finished runs are pruned (default 2000)."""
    return env_number("AIGC_MAX_RUNS_MB", 2000, minimum=0)


def min_free_mb() -> float:
    """`$AIGC_MIN_FREE_MB`: free disk space a new run needs (default 500)."""
    return env_number("AIGC_MIN_FREE_MB", 500, minimum=0)


def max_queued_per_session() -> int:
    """`$AIGC_MAX_QUEUED_PER_SESSION`: queued or running runs one browser may have (default 2).

    Counted per browser (its cookie), across reloads and tabs, from the runs' `owner` field.
    """
    return max(1, int(env_number("AIGC_MAX_QUEUED_PER_SESSION", 2, minimum=1)))


def max_concurrent_runs() -> int:
    """`$AIGC_MAX_CONCURRENT` trainings at once (default 1: two runs on 2 cores both crawl)."""
    try:
        return max(1, int(os.environ.get("AIGC_MAX_CONCURRENT", "1")))
    except ValueError:
        return 1


def max_queued() -> int:
    """`$AIGC_MAX_QUEUED`: queued or running runs the whole server accepts from visitors (default 8)."""
    return max(1, int(env_number("AIGC_MAX_QUEUED", 8, minimum=1)))
