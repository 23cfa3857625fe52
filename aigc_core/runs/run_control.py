"""Pause, step and slow motion of a live run, through one small file in its directory.

    runs/<run_id>/control.json   {"mode": "run" | "pause" | "step", "steps": N, "request": id,
                                  "speed": "normal" | "slow" | "very_slow"}

A teacher narrating a run needs it to hold still, to advance a few steps at a time and to go
slowly where the pictures change fastest (the first hundred steps of a GAN). Stopping would
drop the worker and its compiled model; pausing keeps both in memory. The page writes the file
(atomically, like every run file); the training loop reads it between two steps. Like STOP,
the UI never reaches into the training process.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from aigc_core.runs.store import Run, read_json, write_json_atomic

CONTROL_FILENAME = "control.json"
MODES = ("run", "pause", "step")
# Steps per second at most, per speed; None trains as fast as the machine can.
SPEEDS = {"normal": None, "slow": 5.0, "very_slow": 1.0}
SPEED_TITLES = {"normal": "Full speed", "slow": "Slow motion (5 steps a second)",
                "very_slow": "Very slow (1 step a second)"}
DEFAULT_SPEED = "normal"
# What one click on Step trains, unless the page's number input says otherwise.
DEFAULT_STEP_COUNT = 10
MAX_STEP_COUNT = 10_000
# Slowed down, a run also saves a snapshot every few steps early on, where the change is
# fastest: (up to this step, every this many steps). Past the last entry the regular
# `sample_every` schedule alone holds.
SLOW_MOTION_SNAPSHOTS = ((50, 5), (200, 10), (500, 25))
# How often a paused run looks at its control file and STOP again.
PAUSE_POLL_S = 0.1


def control_path(run: Run) -> Path:
    return run.path / CONTROL_FILENAME


def read_control(run: Run) -> dict:
    """The run's control settings with defaults filled in; a missing or unreadable file means "run"."""
    data = read_json(control_path(run), default={})
    if not isinstance(data, dict):
        data = {}
    mode = data.get("mode") if data.get("mode") in MODES else "run"
    speed = data.get("speed") if data.get("speed") in SPEEDS else DEFAULT_SPEED
    steps = data.get("steps")
    steps = steps if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0 else None
    return {"mode": mode, "speed": speed, "steps": steps, "request": data.get("request")}


def _write_control(run: Run, **changes) -> dict:
    control = {**read_control(run), **changes}
    write_json_atomic(control_path(run), control)
    return control


def request_pause(run: Run) -> dict:
    """Hold the run after its current step; its worker and model wait in memory."""
    return _write_control(run, mode="pause", steps=None, request=None)


def request_resume(run: Run) -> dict:
    """Let a paused (or stepping) run train on to its budget."""
    return _write_control(run, mode="run", steps=None, request=None)


def request_steps(run: Run, steps: int) -> dict:
    """Train exactly `steps` more steps from the step the worker is at when it reads this, then pause.

    Each request carries a fresh id, so two clicks of Step with the same count are two requests.

    Raises:
        ValueError: `steps` is not a whole number from 1 to `MAX_STEP_COUNT`.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEP_COUNT:
        raise ValueError(f"steps must be a whole number from 1 to {MAX_STEP_COUNT}; received {steps!r}")
    return _write_control(run, mode="step", steps=steps, request=secrets.token_hex(4))


def set_speed(run: Run, speed: str) -> dict:
    """Full speed, slow motion or very slow; applies from the next step.

    Raises:
        ValueError: `speed` is not one of `SPEEDS`.
    """
    if speed not in SPEEDS:
        raise ValueError(f"speed must be one of {list(SPEEDS)}; received {speed!r}")
    return _write_control(run, speed=speed)


def reset_control(run: Run) -> None:
    """A worker starting (or resuming from a checkpoint) trains: an old pause or step is dropped, the speed kept."""
    if control_path(run).exists():
        _write_control(run, mode="run", steps=None, request=None)


def slow_motion_snapshot_due(step: int) -> bool:
    """Whether a slowed-down run saves an extra snapshot at `step` (see `SLOW_MOTION_SNAPSHOTS`)."""
    for last_step, every in SLOW_MOTION_SNAPSHOTS:
        if step <= last_step:
            return step % every == 0
    return False


class RunControl:
    """The training loop's side of control.json: what the file asks for, read only when it changed.

    `refresh` costs one stat per step; the JSON is parsed only when the file was replaced (an
    atomic write gives it a new inode), so a run at full speed pays nothing measurable.
    """

    def __init__(self, run: Run, sleep=time.sleep, clock=time.monotonic):
        self.path = control_path(run)
        self.sleep = sleep
        self.clock = clock
        self.signature = None
        self.mode = "run"
        self.speed = DEFAULT_SPEED
        self.step_until = None
        self.applied_request = None

    def refresh(self, step: int) -> None:
        """Re-read the file if it changed; a new Step request counts from `step`."""
        try:
            info = self.path.stat()
            signature = (info.st_ino, info.st_mtime_ns, info.st_size)
        except OSError:
            signature = None
        if signature == self.signature:
            return
        self.signature = signature
        control = read_control(Run(self.path.parent))
        self.mode, self.speed = control["mode"], control["speed"]
        if self.mode == "step" and control["steps"] and control["request"] != self.applied_request:
            self.applied_request = control["request"]
            self.step_until = step + control["steps"]
        elif self.mode != "step":
            self.step_until = None

    def extra_snapshot_due(self, step: int) -> bool:
        return self.speed != "normal" and slow_motion_snapshot_due(step)

    def pause_wanted(self, step: int) -> bool:
        return self.mode == "pause" or (self.mode == "step" and self.step_until is not None and step >= self.step_until)

    def pace(self, step_seconds: float) -> float:
        """Sleep so that a slowed-down step lasts at least 1 / steps-per-second; return the seconds slept."""
        steps_per_second = SPEEDS[self.speed]
        if steps_per_second is None:
            return 0.0
        wait = 1.0 / steps_per_second - step_seconds
        if wait <= 0:
            return 0.0
        started = self.clock()
        self.sleep(wait)
        return self.clock() - started

    def wait_while_paused(self, step: int, should_end) -> float:
        """Block while the file asks for a pause at `step`; return the seconds waited.

        `should_end()` (a stop request or a signal) ends the wait at once, so Stop works on a
        paused run.
        """
        started = self.clock()
        while self.pause_wanted(step) and not should_end():
            self.sleep(PAUSE_POLL_S)
            self.refresh(step)
        return self.clock() - started
