"""Training runs end to end: the files a run leaves, stop and resume, failures, the run store
and the worker process (launch, queue, SIGKILL, resume).

Runs are tiny (256 images, batch 32, at most a few dozen steps) and live in the per-test
`$AIGC_RUNS_DIR` that conftest.py sets.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from aigc_core.runs import worker
from aigc_core.models import VAE
from aigc_core.runs.store import FINAL_STATES, RunStore, validate_run_id, write_bytes_atomic, write_json_atomic
from aigc_core.runs.training import load_run_model, start_run, train_run
from conftest import leftover_temporary_files, tiny_config, wait_for

RUN_FILES = (
    "config.json", "status.json", "metrics.jsonl", "model.weights.h5", "model_config.json",
    "optimizer.npz", "checkpoint.json",
)
GAN_KEYS = {"d_loss", "g_loss", "d_real", "d_fake"}
VAE_KEYS = {"loss", "reconstruction_loss", "kl_loss"}


def metric_steps(run) -> list[int]:
    return [row["step"] for row in run.metrics()]


def assert_steps_are_a_clean_series(steps: list[int], log_every: int, last: int) -> None:
    """Strictly increasing, no duplicates, no gaps: exactly log_every, 2 * log_every, ..., last."""
    assert steps == list(range(log_every, last + 1, log_every)), steps


# -- a complete run -----------------------------------------------------------------------


def test_train_run_writes_every_run_file(store):
    config = tiny_config(steps=20, log_every=5, sample_every=10, checkpoint_every=10)
    run = start_run(config, store)
    assert run.status()["state"] == "queued"
    seen = []

    status = train_run(run, progress=lambda step, total, losses: seen.append((step, total, set(losses))))

    assert status["state"] == "finished", status
    assert status["step"] == 20 and status["total_steps"] == 20 and status["error"] is None
    assert status["pid"] == os.getpid()
    assert [step for step, _, _ in seen] == list(range(1, 21))
    assert all(total == 20 and losses == GAN_KEYS for _, total, losses in seen)
    for name in RUN_FILES:
        assert (run.path / name).is_file(), name
    assert not run.stop_path.exists()
    assert leftover_temporary_files(run.path) == []

    saved_config = json.loads((run.path / "config.json").read_text())
    assert saved_config == config.to_dict() and saved_config["seed"] == 0

    rows = run.metrics()
    assert_steps_are_a_clean_series([row["step"] for row in rows], log_every=5, last=20)
    for row in rows:
        assert set(row) == {"step", "epoch", "elapsed_s"} | GAN_KEYS
        assert all(math.isfinite(value) for value in row.values())
        assert row["epoch"] == pytest.approx(row["step"] * 32 / 256)
    assert [row["elapsed_s"] for row in rows] == sorted(row["elapsed_s"] for row in rows)

    snapshots = run.snapshots()
    assert [step for step, _ in snapshots] == [0, 10, 20]  # the timeline starts from the untrained model
    for step, path in snapshots:
        assert path.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        images = run.load_snapshot(path)
        assert images.shape == (16, 28, 28) and images.dtype == np.float32
        assert images.min() >= 0.0 and images.max() <= 1.0
    assert run.latest_snapshot()[0] == 20
    assert not np.allclose(run.load_snapshot(snapshots[0][1]), run.load_snapshot(snapshots[-1][1]))

    assert run.checkpoint() == {"step": 20, "epoch": 2.5, "elapsed_s": pytest.approx(status["elapsed_s"], abs=1.0)}
    description = json.loads(run.model_config_path.read_text())
    assert description["family"] == "gan" and description["config"]["latent_dim"] == 64
    with np.load(run.path / "optimizer.npz") as arrays:
        assert any(name.startswith("g_optimizer/") for name in arrays.files)
        assert any(name.startswith("d_optimizer/") for name in arrays.files)

    # The last snapshot is the checkpointed model applied to the fixed latent batch of the seed.
    model = load_run_model(run)
    latent = model.latent_batch(config.num_snapshot_samples, config.seed)
    np.testing.assert_allclose(model.generate(latent), run.load_snapshot(snapshots[-1][1]), atol=1e-5)

    summary = run.summary()
    assert summary["state"] == "finished" and summary["model"] == "gan" and summary["step"] == 20
    assert set(summary["final_losses"]) == GAN_KEYS
    assert [listed.run_id for listed in store.list()] == [run.run_id]


def test_same_seed_gives_the_same_first_snapshot(store):
    # Same seed: same initial weights and the same fixed latent batch, so frame 0 repeats exactly.
    first = []
    for name in ("a", "b"):
        run = store.create(tiny_config(model="vae", steps=1, seed=7).to_dict(), run_id=name)
        assert train_run(run)["state"] == "finished"
        first.append(run.load_snapshot(run.snapshots()[0][1]))
    np.testing.assert_array_equal(first[0], first[1])


# -- stop and resume ----------------------------------------------------------------------


def test_stop_request_ends_the_run_stopped_with_a_checkpoint_and_resume_continues(store):
    config = tiny_config(model="vae", steps=500, log_every=5, sample_every=10, checkpoint_every=1000)
    run = start_run(config, store)

    def stop_after_twelve(step, total, losses):
        if step == 12:
            run.request_stop()

    status = train_run(run, progress=stop_after_twelve)
    assert status["state"] == "stopped" and status["step"] == 12, status
    assert run.checkpoint()["step"] == 12
    assert run.weights_path.is_file() and not run.stop_path.exists()
    assert [step for step, _ in run.snapshots()] == [0, 10, 12]
    assert metric_steps(run) == [5, 10]

    # A worker that died after the checkpoint may have logged a row and a snapshot past it.
    run.append_metrics([{"step": 15, "epoch": 1.875, "elapsed_s": 99.0, "loss": 1.0}])
    write_bytes_atomic(run.samples_dir / "step_0000015.npy", b"stale")

    status = train_run(run, extra_steps=13)
    assert status["state"] == "finished" and status["step"] == 25, status
    rows = run.metrics()
    assert_steps_are_a_clean_series([row["step"] for row in rows], log_every=5, last=25)
    assert rows[2]["elapsed_s"] != 99.0  # the stale row was replaced, not kept
    assert all(set(row) == {"step", "epoch", "elapsed_s"} | VAE_KEYS for row in rows)
    assert [step for step, _ in run.snapshots()] == [0, 10, 12, 20, 25]
    assert run.checkpoint()["step"] == 25
    assert leftover_temporary_files(run.path) == []


def test_nan_losses_fail_the_run_with_a_plain_message(store, monkeypatch):
    import keras

    def diverging_step(self, images):
        nan = keras.ops.convert_to_tensor(float("nan"))
        return {name: nan for name in self.metric_names}

    monkeypatch.setattr(VAE, "train_step", diverging_step)
    run = start_run(tiny_config(model="vae", steps=10, log_every=5), store)
    status = train_run(run)

    assert status["state"] == "failed"
    error = status["error"]
    assert "diverged at step 1" in error and "nan" in error and "learning rate" in error
    assert "\n" not in error and "Traceback" not in error
    assert run.status()["state"] == "failed"

    # Resuming a run that failed before its first checkpoint starts over, repeating no logged step.
    monkeypatch.undo()
    run.append_metrics([{"step": 5, "epoch": 0.625, "elapsed_s": 1.0, "loss": 2.0}])
    status = train_run(run, extra_steps=10)
    assert status["state"] == "finished", status
    assert_steps_are_a_clean_series(metric_steps(run), log_every=5, last=10)


def test_an_exception_inside_training_fails_the_run_with_one_line(store, monkeypatch):
    from aigc_core import data

    def broken(*args, **kwargs):
        raise data.DatasetError("The bundled MNIST file is corrupt: restore it")

    monkeypatch.setattr(data, "load_images", broken)
    run = start_run(tiny_config(), store)
    status = train_run(run)
    assert status["state"] == "failed"
    assert status["error"] == "DatasetError: The bundled MNIST file is corrupt: restore it"


# -- status of dead workers ----------------------------------------------------------------


def finished_process_id() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_running_run_whose_process_is_gone_is_reported_failed(store):
    run = store.create(tiny_config().to_dict())
    pid = finished_process_id()
    run.update_status(state="running", pid=pid, step=40)

    status = run.status()
    assert status["state"] == "failed"
    assert "worker died" in status["error"] and str(pid) in status["error"]
    assert run.raw_status()["state"] == "failed"  # recorded, so every reader agrees
    assert run.summary()["state"] == "failed"


def test_a_queued_run_whose_worker_never_started_is_reported_failed(store):
    run = store.create(tiny_config().to_dict())
    assert run.status()["state"] == "queued"
    run.update_status(created_at=time.time() - 3600)
    status = run.status()
    assert status["state"] == "failed" and "never started" in status["error"]


def test_a_live_process_keeps_its_run_running(store):
    run = store.create(tiny_config().to_dict())
    run.update_status(state="running", pid=os.getpid())
    assert run.status()["state"] == "running"
    # ... but not when the pid was reused by another process (different start time).
    run.update_status(pid_start_time="1")
    assert run.status()["state"] == "failed"


# -- the run store ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["../x", "/etc", "a/b", "", "..", ".", ".hidden", "a" * 101, "x\n", None, 5])
def test_run_store_refuses_ids_that_could_escape_the_folder(store, bad_id):
    with pytest.raises(ValueError, match="run id"):
        store.get(bad_id)
    with pytest.raises(ValueError):
        validate_run_id(bad_id)


def test_run_store_create_get_list_delete(store, runs_dir):
    assert store.root == runs_dir.resolve()
    with pytest.raises(ValueError, match="run id"):
        store.create(tiny_config().to_dict(), run_id="../escape")
    assert not (runs_dir.parent / "escape").exists()
    with pytest.raises(ValueError, match="no run named"):
        store.get("missing")

    older = store.create(tiny_config().to_dict(), run_id="older")
    older.update_status(created_at=time.time() - 10)
    newer = store.create(tiny_config(model="vae").to_dict())
    assert validate_run_id(newer.run_id) == newer.run_id and "vae" in newer.run_id
    assert store.get("older").path == older.path
    assert [run.run_id for run in store.list()] == [newer.run_id, "older"]
    assert RunStore(runs_dir).get("older").path == older.path
    with pytest.raises(ValueError, match="not a run directory"):
        store.open_path(runs_dir)

    older.update_status(state="running", pid=os.getpid())
    with pytest.raises(ValueError, match="stop it"):
        store.delete("older")
    older.update_status(state="stopped")
    store.delete("older")
    assert not older.path.exists() and [run.run_id for run in store.list()] == [newer.run_id]


def test_atomic_writes_leave_no_temporary_files(tmp_path):
    target = tmp_path / "status.json"
    write_json_atomic(target, {"state": "running"})
    write_json_atomic(target, {"state": "finished"})
    assert json.loads(target.read_text()) == {"state": "finished"}
    with pytest.raises(TypeError):
        write_bytes_atomic(target, "not bytes")  # fails mid-write
    assert json.loads(target.read_text()) == {"state": "finished"}  # the old content survives
    assert sorted(path.name for path in tmp_path.iterdir()) == ["status.json"]


def test_metrics_reader_skips_a_partial_last_line(store):
    run = store.create(tiny_config().to_dict())
    run.append_metrics([{"step": 10, "loss": 1.0}])
    with open(run.metrics_path, "a") as stream:
        stream.write('{"step": 20, "lo')  # a line being written right now
    assert run.metrics() == [{"step": 10, "loss": 1.0}]


# -- the worker process --------------------------------------------------------------------


@pytest.fixture
def launched():
    """Runs started through the worker; any worker still alive at the end is stopped."""
    runs = []
    yield runs
    for run in runs:
        status = run.raw_status()
        pid = status.get("pid")
        if status.get("state") in ("queued", "running") and pid:
            run.request_stop()
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def worker_log(run) -> str:
    path = run.path / "worker.log"
    return path.read_text()[-3000:] if path.exists() else "(no worker.log)"


def test_launch_trains_in_separate_processes_one_at_a_time(store, launched):
    config = tiny_config(steps=20, log_every=5, sample_every=10, checkpoint_every=10)
    started = time.monotonic()
    first = worker.launch(config)
    second = worker.launch(tiny_config(model="vae", steps=20, log_every=5, sample_every=10, checkpoint_every=10))
    launched.extend([first, second])
    assert time.monotonic() - started < 10.0  # returns at once; the worker imports TensorFlow itself
    assert first.status()["state"] in ("queued", "running") and first.metrics() == []
    assert second.status()["state"] == "queued" and second.status()["step"] == 0
    assert worker.queue_position(second, store) == 1 or first.status()["state"] == "running"

    most_running_at_once = 0

    def both_done():
        nonlocal most_running_at_once
        states = [first.status()["state"], second.status()["state"]]
        most_running_at_once = max(most_running_at_once, states.count("running"))
        return all(state in FINAL_STATES for state in states)

    wait_for(both_done, timeout_s=150, interval_s=0.1,
             message=lambda: f"both workers; logs: {worker_log(first)} {worker_log(second)}")
    for run in (first, second):
        status = run.status()
        assert status["state"] == "finished", (status, worker_log(run))
        assert status["pid"] not in (None, os.getpid())
        assert_steps_are_a_clean_series(metric_steps(run), log_every=5, last=20)
        assert run.checkpoint()["step"] == 20
    assert most_running_at_once == 1  # AIGC_MAX_CONCURRENT defaults to one training at a time
    # first in, first out: the first run's last checkpoint predates the second run's first one
    assert (first.path / "checkpoint.json").stat().st_mtime < (second.path / "samples" / "step_0000010.npy").stat().st_mtime


def test_a_killed_worker_is_reported_failed_and_resumes_from_its_checkpoint(store, launched):
    config = tiny_config(model="vae", steps=5000, log_every=5, sample_every=50, checkpoint_every=10)
    run = worker.launch(config)
    launched.append(run)

    checkpoint = wait_for(
        lambda: (run.checkpoint() or {}).get("step", 0) >= 10 and run.checkpoint(),
        timeout_s=150, message=lambda: f"a checkpoint; worker log: {worker_log(run)}",
    )
    status = run.status()
    assert status["state"] == "running", (status, worker_log(run))
    pid = status["pid"]
    os.kill(pid, signal.SIGKILL)

    failed = wait_for(lambda: run.status()["state"] == "failed" and run.status(), timeout_s=5,
                      message="the dead worker to be noticed")
    assert "worker died" in failed["error"] and str(pid) in failed["error"]

    model = load_run_model(run)
    assert model.sample(4, seed=0).shape == (4, 28, 28)
    checkpoint_step = run.checkpoint()["step"]
    assert checkpoint_step >= checkpoint["step"] and checkpoint_step % 10 == 0

    worker.resume(run, extra_steps=20)
    assert run.status()["state"] == "queued"
    with pytest.raises(ValueError, match="already"):
        worker.resume(run, extra_steps=20)
    wait_for(lambda: run.status()["state"] in FINAL_STATES, timeout_s=150,
             message=lambda: f"the resumed worker; its log: {worker_log(run)}")
    status = run.status()
    assert status["state"] == "finished", (status, worker_log(run))
    assert status["step"] == checkpoint_step + 20 and status["pid"] != pid
    assert_steps_are_a_clean_series(metric_steps(run), log_every=5, last=checkpoint_step + 20)
    assert run.checkpoint()["step"] == checkpoint_step + 20
