"""Build a fresh model, fit it with callbacks, and record everything into a run directory.

The training loop is Keras's `fit()`; what makes it a *run* is `RunRecorder`, a callback
that logs metrics, saves snapshot grids from one fixed latent batch, checkpoints, and
ends the run cleanly on a stop request, a signal, a time budget or a NaN.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

from aigc_core.config import TrainingConfig, validate
from aigc_core.runs.eta import StepTimer
from aigc_core.images import make_grid, png_bytes
from aigc_core.quality.live import make_snapshot_scorer
from aigc_core.runs.run_control import RunControl, reset_control
from aigc_core.runs.store import Run, RunStore, append_json_lines, own_process_identity, write_bytes_atomic, write_json_atomic

# A loss this large means the run has diverged; continuing only wastes the audience's time.
EXPLODED_LOSS = 1e6
STATUS_INTERVAL_S = 0.5


def quiet_tensorflow() -> None:
    """Hide TensorFlow's C++ chatter (CUDA probing, oneDNN notes, grappler remapper noise).

    Must run before TensorFlow is imported; real failures still surface as Python exceptions.
    """
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed.*")


def shown_weights(model, average=None):
    """A block in which a GAN's generator holds its moving average (`aigc_core.runs.averaging`), if kept.

    Everything a run shows or keeps (snapshots, quality rows, the checkpoint's weights) is drawn
    inside it; training itself continues from the raw weights.
    """
    return average.swapped_in(model) if average is not None else contextlib.nullcontext()


def save_checkpoint(model, run: Run, step: int, epoch: float, elapsed_s: float, average=None) -> None:
    """Weights, optimizer state and checkpoint.json, each replaced atomically.

    checkpoint.json is written last: it names a step only once its weights are complete. With a
    generator `average`, the weights file holds the average (what sample and evaluate read) and
    optimizer.npz also the raw generator weights and the average's state, so resume is exact.
    """
    # Weights and optimizer state are both written completely before either replaces the old
    # checkpoint, so a full disk midway leaves the previous checkpoint whole.
    temporary_weights = run.path / ".partial-model.weights.h5"  # Keras wants the .weights.h5 suffix
    temporary_optimizer = run.path / ".partial-optimizer.npz"
    try:
        with shown_weights(model, average):
            model.save_weights(temporary_weights)
        arrays = {}
        for name, optimizer in model.named_optimizers().items():
            for index, variable in enumerate(optimizer.variables):
                arrays[f"{name}/{index}"] = np.asarray(variable)
        if average is not None:
            arrays.update(average.state_arrays(model))
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        write_bytes_atomic(temporary_optimizer, buffer.getvalue())
    except BaseException:
        temporary_weights.unlink(missing_ok=True)
        temporary_optimizer.unlink(missing_ok=True)
        raise
    os.replace(temporary_weights, run.weights_path)
    os.replace(temporary_optimizer, run.path / "optimizer.npz")
    write_json_atomic(run.model_config_path, {"family": model.family, "model_class": type(model).__name__, "config": model.get_config(), "version": _version()})
    write_json_atomic(run.path / "checkpoint.json", {"step": step, "epoch": epoch, "elapsed_s": elapsed_s})


def load_checkpoint(model, run: Run, average=None) -> dict:
    """Restore weights, optimizer state and a generator `average`; returns checkpoint.json's contents.

    The raw generator weights, when the checkpoint kept them apart from the average in its
    weights file, go back into the generator; a checkpoint without an average starts one.
    """
    from aigc_core.runs.averaging import restore_raw_generator

    model.load_weights(run.weights_path)
    optimizer_path = run.path / "optimizer.npz"
    arrays = None
    with contextlib.ExitStack() as stack:
        if optimizer_path.exists():
            arrays = stack.enter_context(np.load(optimizer_path, allow_pickle=False))
            for name, optimizer in model.named_optimizers().items():
                for index, variable in enumerate(optimizer.variables):
                    key = f"{name}/{index}"
                    if key in arrays and tuple(arrays[key].shape) == tuple(variable.shape):
                        variable.assign(arrays[key])
            restore_raw_generator(arrays, model)
        if average is not None:
            average.restore(arrays, model)
    return run.checkpoint()


def _version() -> str:
    from aigc_core import __version__

    return __version__


def save_snapshot(model, run: Run, latent: np.ndarray, step: int, average=None) -> None:
    """Grid PNG plus the raw float32 array of the fixed latent batch at this step (from the average, if kept)."""
    with shown_weights(model, average):
        images = model.generate(latent)
    buffer = io.BytesIO()
    np.save(buffer, images.astype(np.float32))
    write_bytes_atomic(run.samples_dir / f"step_{step:07d}.npy", buffer.getvalue())
    write_bytes_atomic(run.samples_dir / f"step_{step:07d}.png", png_bytes(make_grid(images), scale=2))


KL_FILENAME = "kl.jsonl"
# Test images a VAE's per-dimension KL is averaged over at each snapshot: enough for a stable
# mean (one encoder pass, a few milliseconds), fixed so that the bars of two steps compare.
KL_IMAGES = 256


def kl_history(run: Run) -> list[dict]:
    """A VAE run's per-dimension KL at each snapshot, oldest first: {"step", "kl": [nats per dimension]}."""
    return Run.read_metrics_file(run.path / KL_FILENAME)


class KLRecorder:
    """At every snapshot, appends the per-dimension KL of a fixed test batch to kl.jsonl, then
    runs the quality scorer, if any.

    It has the scorer's shape (`score(model, step, elapsed_s)` returns the seconds spent), so
    the run's recorder counts both as time outside training without knowing about either.
    """

    def __init__(self, run: Run, images: np.ndarray, scorer=None):
        self.run = run
        self.images = images
        self.scorer = scorer

    def score(self, model, step: int, elapsed_s: float) -> float:
        started = time.monotonic()
        kl = model.kl_per_dimension_on(self.images)
        append_json_lines(self.run.path / KL_FILENAME, [{"step": int(step), "kl": [round(float(value), 6) for value in kl]}])
        spent = time.monotonic() - started
        return spent + (self.scorer.score(model, step, elapsed_s) if self.scorer is not None else 0.0)


def kl_test_images(dataset: str = "mnist") -> np.ndarray:
    """The fixed batch the per-dimension KL is measured on: the first `KL_IMAGES` test images in [0, 1]."""
    from aigc_core.data import load_images

    return load_images(dataset, "test", KL_IMAGES).images.astype(np.float32) / 255.0


def with_kl_recording(scorer, model, run: Run, dataset: str):
    """`scorer` wrapped in a `KLRecorder` when the model reports per-dimension KL (a VAE); else `scorer`."""
    if not hasattr(model, "kl_per_dimension_on"):
        return scorer
    return KLRecorder(run, kl_test_images(dataset), scorer)


def make_recorder(model, run: Run, config: TrainingConfig, *, start_step: int, target_step: int | None,
                  deadline_s: float | None, previous_elapsed_s: float, train_size: int, latent: np.ndarray,
                  progress=None, scorer=None, average=None):
    """The run's Keras callback; built in a function so importing this module does not import Keras.

    `scorer` (an `aigc_core.quality.live.SnapshotScorer`, optional) scores every snapshot; `average`
    (an `aigc_core.runs.averaging` callback, optional) is what snapshots, scores and checkpoints show.
    """
    import keras

    batch_size = config.resolved_batch_size()

    class _Recorder(keras.callbacks.Callback):
        """Logs, snapshots, checkpoints and stops; `outcome` says how the run ended."""

        def __init__(self):
            super().__init__()
            self.step = start_step
            self.started = time.monotonic()
            self.last_status = 0.0
            self.outcome = "finished"
            self.error = None
            self.signal_received = None
            self.control = RunControl(run)
            self.step_timer = StepTimer()
            self.step_began = self.started
            self.step_excluded = 0.0
            # A new run checkpoints at its first logged step too: a worker killed before
            # `checkpoint_every` steps then loses seconds of training, not minutes.
            self.early_checkpoint_due = start_step == 0

        def elapsed(self) -> float:
            return previous_elapsed_s + time.monotonic() - self.started

        def exclude(self, seconds: float) -> None:
            """Seconds that are not training time (scoring, slow motion, a pause): the clock moves on by them."""
            self.started += seconds
            self.step_excluded += seconds

        def epoch(self) -> float:
            return round(self.step * batch_size / train_size, 4)

        def eta(self) -> float | None:
            """From measured step times (None while estimating), so a first compiled step does not count."""
            if target_step is not None:
                return self.step_timer.eta(remaining_steps=target_step - self.step)
            if deadline_s is not None:
                return self.step_timer.eta(remaining_training_s=deadline_s - (time.monotonic() - self.started))
            return None

        def score_snapshot(self):
            """Score the snapshot just saved; its seconds are not training time.

            The clock is moved forward by the scoring time, so elapsed_s, time budgets and the
            ETA count training only, and a GAN and a VAE given the same minutes train as long.
            """
            if scorer is not None:
                with shown_weights(self.model, average):
                    self.exclude(scorer.score(self.model, self.step, self.elapsed()))

        def write_status(self, force: bool = False, **fields):
            now = time.monotonic()
            if not force and now - self.last_status < STATUS_INTERVAL_S:
                return
            self.last_status = now
            fields = {"eta_s": self.eta(), **fields}
            run.update_status(step=self.step, total_steps=target_step, elapsed_s=round(self.elapsed(), 2),
                              epoch=self.epoch(), **fields)

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            values = {name: float(value) for name, value in (logs or {}).items()}
            bad = [name for name, value in values.items() if not math.isfinite(value) or abs(value) > EXPLODED_LOSS]
            if bad:
                self.outcome = "failed"
                self.error = (f"training diverged at step {self.step}: {', '.join(bad)} became "
                              f"{', '.join(f'{values[b]:.3g}' for b in bad)}; try a lower learning rate")
                self.model.stop_training = True
                return
            if self.step % config.log_every == 0:
                run.append_metrics([{"step": self.step, "epoch": self.epoch(), "elapsed_s": round(self.elapsed(), 3), **values}])
                for tracker in self.model.metrics:  # each row is the mean over its own interval
                    tracker.reset_state()
            if self.step % config.sample_every == 0:
                save_snapshot(self.model, run, latent, self.step, average)
                self.score_snapshot()
            elif self.control.extra_snapshot_due(self.step):
                save_snapshot(self.model, run, latent, self.step, average)  # slow motion: frames where the change is fastest
            if self.step % config.checkpoint_every == 0 or (self.early_checkpoint_due and self.step % config.log_every == 0):
                save_checkpoint(self.model, run, self.step, self.epoch(), self.elapsed(), average)
                self.early_checkpoint_due = False
            if progress is not None:
                progress(self.step, target_step, values)
            budget_spent = (target_step is not None and self.step >= target_step) or (
                deadline_s is not None and time.monotonic() - self.started >= deadline_s)
            if not self.end_if_asked() and budget_spent:
                self.model.stop_training = True
            if not self.model.stop_training:
                self.hold_between_steps()
            self.write_status()

        def end_if_asked(self) -> bool:
            """A signal (interrupted) or a stop request (stopped) ends the run after this step; True if so."""
            if self.signal_received:
                self.outcome = "interrupted"
            elif run.stop_requested():
                self.outcome = "stopped"
            else:
                return False
            self.model.stop_training = True
            return True

        def hold_between_steps(self):
            """Slow motion and pause (control.json); their seconds count neither as training nor in the ETA."""
            training_s = time.monotonic() - self.step_began - self.step_excluded
            self.control.refresh(self.step)
            paced = self.control.pace(training_s)
            self.step_timer.record(training_s + paced, training_s)
            self.exclude(paced)
            if self.control.pause_wanted(self.step):
                self.write_status(force=True, paused=True)
                self.exclude(self.control.wait_while_paused(
                    self.step, should_end=lambda: self.signal_received or run.stop_requested()))
                self.end_if_asked()
                self.write_status(force=True, paused=False)
            self.step_began, self.step_excluded = time.monotonic(), 0.0

    return _Recorder()


def _install_signal_handlers(recorder):
    """SIGTERM/SIGINT end the run like a stop request (checkpoint), but as `interrupted`.

    A signal comes from outside the app (a server or machine shutting down, Ctrl-C on the
    CLI), not from the user's Stop button, so the run says so and can be resumed.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {}

    def handler(signum, frame):
        recorder.signal_received = signum
        recorder.model.stop_training = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, handler)

    def restore():
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore


def build_model(config: TrainingConfig, strategy=None):
    """The run's fresh, compiled model; with a `tf.distribute` strategy, built and compiled in its scope.

    Built in the scope, every weight, optimizer slot and tracker is a mirrored variable with
    one copy per replica, and `fit()` runs `train_step` on every replica with its share of
    each batch; the optimizers then average the replicas' gradients, as one device would.
    """
    from aigc_core.devices import dtype_policy, strategy_scope
    from aigc_core.models.registry import get_variant

    # A config `validate()` never saw names no precision; runs saved before the field existed trained in float32.
    with strategy_scope(strategy), dtype_policy(config.precision or "float32"):
        model = get_variant(config.model, config.preset).build(**config.overrides)
        if strategy is not None:
            model.average_gradients_across_replicas(strategy.num_replicas_in_sync)
    return model


def make_average(config: TrainingConfig, model, start_step: int):
    """The moving average of the generator (or denoiser) for this run (`config.ema_decay`), or None: off, or a VAE."""
    from aigc_core.runs.averaging import averaged_network, make_generator_average

    if not config.ema_decay or averaged_network(model) is None:
        return None

    return make_generator_average(config.ema_decay, start_step=start_step)


def train_run(run: Run, *, extra_steps: int | None = None, extra_minutes: float | None = None, progress=None,
              callbacks=()) -> dict:
    """Train (or resume) the run in this process until its budget ends; return the final status.

    Args:
        run: a run directory with config.json.
        extra_steps, extra_minutes: when resuming, a new budget counted from the checkpoint;
            without them a resumed run continues to its original budget.
        progress: optional `callable(step, total_steps, losses)` for a CLI progress bar.
        callbacks: more Keras callbacks for `fit()`, after the run's own recorder (e.g.
            `scripts/train_shipped.py`'s generator average).

    Errors inside training end the run as `failed` with a one-line reason; they are not re-raised.
    """
    quiet_tensorflow()
    import keras

    from aigc_core.data import load_images, make_training_dataset, scale_pixels
    from aigc_core.devices import make_strategy, strategy_scope

    recorder = None
    try:
        run.update_status(state="running", error=None, paused=False, **own_process_identity())
        run.stop_path.unlink(missing_ok=True)
        reset_control(run)
        config = TrainingConfig.from_dict(run.config(strict=True))  # damaged: failed, saying why
        training_set = load_images(config.dataset, "train", config.train_limit)
        images = training_set.images
        validate(config, train_size=len(images))
        batch_size = config.resolved_batch_size()
        steps_per_epoch = len(images) // batch_size
        checkpoint = run.checkpoint() if run.weights_path.exists() else None
        start_step = checkpoint["step"] if checkpoint else 0
        previous_elapsed = checkpoint["elapsed_s"] if checkpoint else 0.0
        keras.utils.set_random_seed(config.seed + start_step)
        strategy = make_strategy(config.devices)
        model = build_model(config, strategy)
        average = make_average(config, model, start_step)
        if checkpoint:
            with strategy_scope(strategy):
                load_checkpoint(model, run, average)
        # Forget what an earlier attempt logged after the checkpoint (all of it when it died
        # before its first checkpoint), so a resumed run repeats no step.
        if run.metrics_path.exists():
            run.truncate_metrics(start_step)
        if run.quality_path.exists():
            run.truncate_quality(start_step)
        kl_rows = kl_history(run)
        if any(row.get("step", 0) > start_step for row in kl_rows):
            kept = [row for row in kl_rows if row.get("step", 0) <= start_step]
            write_bytes_atomic(run.path / KL_FILENAME, "".join(json.dumps(row) + "\n" for row in kept).encode())
        for step, path in run.snapshots():
            if step > start_step:
                path.unlink(missing_ok=True)
                path.with_suffix(".png").unlink(missing_ok=True)

        target_step, deadline = None, None
        if extra_steps is not None:
            target_step = start_step + extra_steps
        elif extra_minutes is not None:
            deadline = extra_minutes * 60.0
        elif config.steps is not None:
            target_step = config.steps
        elif config.epochs is not None:
            target_step = config.epochs * steps_per_epoch
        else:
            deadline = max(0.0, config.minutes * 60.0 - previous_elapsed)
        if target_step is not None and target_step <= start_step:
            return run.update_status(state="finished", step=start_step, total_steps=target_step, eta_s=0)

        latent = model.latent_batch(config.num_snapshot_samples, config.seed)
        scorer = with_kl_recording(make_snapshot_scorer(model, run, config.seed), model, run, config.dataset)
        if average is not None and average.averaged is None:
            average.start_from(model)
        if start_step == 0:
            save_snapshot(model, run, latent, 0)  # the timeline starts from pure noise
            if scorer is not None:
                scorer.score(model, 0, 0.0)  # and the quality curve from the untrained model
        # Only conditional models read labels; the clustered GAN and VAE make their own (k-means,
        # from the run's seed, so a resumed run gets the same clusters).
        if model.labels_preparation:  # the seconds before step 1 say what they are spent on
            run.update_status(preparing=model.labels_preparation)
        labels = model.training_labels(images, training_set.labels, config.seed)
        if model.labels_preparation:
            run.update_status(preparing=None)
        with strategy_scope(strategy):  # fit() splits each global batch over the replicas
            dataset = make_training_dataset(scale_pixels(images, model.pixel_range), batch_size,
                                            config.seed + start_step, labels=labels)
        recorder = make_recorder(model, run, config, start_step=start_step, target_step=target_step,
                                 deadline_s=deadline, previous_elapsed_s=previous_elapsed,
                                 train_size=len(images), latent=latent, progress=progress, scorer=scorer,
                                 average=average)
        restore_signals = _install_signal_handlers(recorder)
        try:
            remaining = (target_step - start_step) if target_step is not None else 10**9
            model.fit(dataset, epochs=1, steps_per_epoch=remaining, verbose=0, callbacks=[*([average] if average else []), recorder, *callbacks])
        finally:
            restore_signals()
        if recorder.outcome == "failed":
            recorder.write_status(force=True, state="failed", error=recorder.error)
            return run.raw_status()
        if recorder.step % config.sample_every != 0:
            save_snapshot(model, run, latent, recorder.step, average)
            recorder.score_snapshot()
        saving_started = time.monotonic()
        save_checkpoint(model, run, recorder.step, recorder.epoch(), recorder.elapsed(), average)
        recorder.exclude(time.monotonic() - saving_started)  # writing it is not training: the status agrees with it
        state = recorder.outcome if recorder.outcome in ("stopped", "interrupted") else "finished"
        error = None
        if state == "interrupted":
            signal_name = signal.Signals(recorder.signal_received).name
            error = (f"interrupted by {signal_name} at step {recorder.step} (the server or machine was shutting "
                     "down); its checkpoint is saved and resume continues from it")
        recorder.write_status(force=True, state=state, error=error, eta_s=0.0 if state == "finished" else None)
        return run.raw_status()
    except Exception as error:  # the run must end in a clear state, whatever broke
        reason = failure_reason(error)
        try:
            return run.update_status(state="failed", error=reason, eta_s=None)
        except OSError:
            # Not even the status can be written (a full disk): report it to the caller; once
            # this process exits, readers see its worker gone and record the run as failed.
            return {**run.raw_status(), "state": "failed", "error": reason}
    finally:
        run.stop_path.unlink(missing_ok=True)


def failure_reason(error: Exception) -> str:
    """One line for the status file; a full disk says so and how to continue."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        where = f" while writing {Path(error.filename).name}" if error.filename else ""
        return (f"disk full: no space left on device{where}; free some space (delete old runs) "
                "and resume from the last checkpoint")
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{type(error).__name__}: {message}"


def start_run(config: TrainingConfig, store: RunStore | None = None, owner: str | None = None) -> Run:
    """Validate a config and create its run directory (state `queued`, owned by `owner`); does not train."""
    validate(config)
    return (store or RunStore()).create(config.to_dict(), owner=owner)


def load_run_model(run: Run):
    """The model of a run, rebuilt from model_config.json and loaded with its latest weights."""
    from aigc_core.weights import load_model_from_files

    return load_model_from_files(run.model_config_path, run.weights_path)
