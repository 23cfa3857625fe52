"""The time a run has left, estimated from the steps it has actually measured.

The old estimate divided the whole session by the steps done, so the first step's compile and
tracing (seconds, against milliseconds for a later step) was multiplied by every remaining step:
9:45 for a 17 s run. Here the first steps are left out, nothing is promised until a few steps
were timed, and a window of recent steps follows a change of speed (slow motion) quickly.
"""

from __future__ import annotations

from collections import deque

# The first steps of a session build and compile the train step: not a sample of its pace.
WARMUP_STEPS = 2
# Steps timed before any estimate is shown ("estimating..." until then).
MIN_MEASURED_STEPS = 5
# Recent steps the pace is averaged over.
WINDOW_STEPS = 50


class StepTimer:
    """Per-step seconds of one training session, and the ETA they imply.

    Each step reports its wall seconds (what the audience waits, slow motion included; pauses
    excluded) and its training seconds (what a time budget counts).
    """

    def __init__(self, warmup_steps: int = WARMUP_STEPS, min_measured_steps: int = MIN_MEASURED_STEPS,
                 window_steps: int = WINDOW_STEPS):
        self.warmup_left = warmup_steps
        self.min_measured_steps = min_measured_steps
        self.recent = deque(maxlen=window_steps)

    def record(self, wall_s: float, training_s: float | None = None) -> None:
        """One step's seconds; the first `warmup_steps` are dropped."""
        if self.warmup_left > 0:
            self.warmup_left -= 1
            return
        self.recent.append((max(0.0, wall_s), max(0.0, wall_s if training_s is None else training_s)))

    def measured(self) -> bool:
        return len(self.recent) >= self.min_measured_steps

    def seconds_per_step(self) -> float | None:
        """Mean wall seconds of the recent steps; None until enough steps were measured."""
        if not self.measured():
            return None
        return sum(wall for wall, _ in self.recent) / len(self.recent)

    def eta(self, remaining_steps: int | None = None, remaining_training_s: float | None = None) -> float | None:
        """Wall seconds left for a step budget, or for a time budget's remaining training seconds.

        A step budget has no estimate (None) until enough steps were measured. A time budget
        ends after its training seconds, which slow motion stretches by the measured ratio of
        wall to training time (1 until measured).
        """
        if remaining_steps is not None:
            pace = self.seconds_per_step()
            return None if pace is None else max(0, remaining_steps) * pace
        if remaining_training_s is not None:
            wall = sum(wall for wall, _ in self.recent)
            training = sum(training for _, training in self.recent)
            stretch = wall / training if self.measured() and training > 0 else 1.0
            return max(0.0, remaining_training_s) * stretch
        return None
