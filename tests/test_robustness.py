"""A shared demo under stress: sampling limits, pruning, disk checks, per-session caps, and
faults (read-only folder, full disk, stop during a checkpoint, server restart) that must each
end in a clear state with no half-written file and a checkpoint that still loads.

Runs are tiny (256 images, batch 32, a few dozen steps) and live in the per-test
`$AIGC_RUNS_DIR` that conftest.py sets.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigc_core import files
from aigc_core.runs import housekeeping, store as runs, training, worker
from aigc_core.runs.executors import local as local_executor
from aigc_core.cli import main
from aigc_core.limits import MAX_SEED, validate_sample_output, validate_sampling
from aigc_core.runs.store import RunStore, own_process_identity
from aigc_core.runs.training import load_checkpoint, load_run_model, start_run, train_run
from conftest import PROJECT_ROOT, leftover_temporary_files, tiny_config, wait_for

NO_SPACE = "No space left on device"


@pytest.fixture(autouse=True)
def no_disk_floor(monkeypatch):
    """The tests' disk checks must not depend on how full this machine's disk is."""
    monkeypatch.setenv("AIGC_MIN_FREE_MB", "0")


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def make_run(store: RunStore, state: str, created_at: float, **status):
    run = store.create(tiny_config().to_dict())
    run.update_status(state=state, created_at=created_at, **status)
    return run


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


# -- sampling limits: one check for the CLI and the pages ---------------------------------


def test_validate_sampling_accepts_whole_numbers_and_normalizes_them():
    assert validate_sampling(64, 0) == (64, 0)
    assert validate_sampling(np.int64(8), 7.0) == (8, 7)
    assert validate_sampling(2, MAX_SEED, min_samples=2) == (2, MAX_SEED)


@pytest.mark.parametrize(
    "num_samples, seed, named",
    [
        (0, 0, ["num_samples", "0"]),
        (100_001, 0, ["num_samples", "100001"]),
        (8, -1, ["seed", "-1"]),
        (8, MAX_SEED + 1, ["seed", str(MAX_SEED + 1)]),
        (float("nan"), 0, ["num_samples", "nan"]),
        (8, float("-inf"), ["seed", "-inf"]),
        (2.5, 0, ["num_samples", "2.5"]),
        (True, 0, ["num_samples", "True"]),
        ("8", 0, ["num_samples", "'8'"]),
        (10**400, 0, ["num_samples", "digits"]),
    ],
)
def test_validate_sampling_refuses_in_one_line_naming_field_and_value(num_samples, seed, named):
    with pytest.raises(ValueError) as caught:
        validate_sampling(num_samples, seed)
    message = one_line(str(caught.value))
    assert len(message) < 300
    for text in named:
        assert text in message


@settings(max_examples=150, deadline=None, database=None)
@given(num_samples=st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.none(), st.booleans()),
       seed=st.one_of(st.integers(), st.floats(), st.none()))
def test_validate_sampling_property(num_samples, seed):
    """Anything either comes back as in-range ints or is refused with a one-line ValueError."""
    try:
        checked = validate_sampling(num_samples, seed)
    except ValueError as error:
        assert "\n" not in str(error) and len(str(error)) < 300
    else:
        assert all(type(value) is int for value in checked)
        assert 1 <= checked[0] <= 100_000 and 0 <= checked[1] <= MAX_SEED


def test_validate_sample_output(tmp_path):
    assert validate_sample_output(tmp_path / "grid.png") == tmp_path / "grid.png"
    for bad, named in [
        (tmp_path / "grid.jpg", ".jpg"), (tmp_path / "missing" / "x.npy", "does not exist"),
        ("x\x00.npy", "NUL"),
    ]:
        with pytest.raises(ValueError, match=named):
            validate_sample_output(bad)
    (tmp_path / "folder.npy").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        validate_sample_output(tmp_path / "folder.npy")


def test_cli_sample_and_evaluate_use_the_shared_check(capsys):
    assert main(["sample", "--weights", "gan-fast", "--num", "8", "--seed", str(MAX_SEED + 1), "--out", "x.npy"]) == 2
    assert "--seed" in one_line(capsys.readouterr().err)
    assert main(["evaluate", "--weights", "gan-fast", "--num", "1"]) == 2
    assert "--num must be a whole number between 2 and 100000" in one_line(capsys.readouterr().err)


# -- pruning -----------------------------------------------------------------------------


def test_prune_keeps_the_newest_finished_runs_and_every_active_one(store, tmp_path):
    now = time.time()
    oldest_active = make_run(store, "running", now - 1000, **own_process_identity())
    finished = [make_run(store, state, now - 900 + index, step=5)
                for index, state in enumerate(["finished", "failed", "stopped", "finished", "finished"])]
    # Things that are not ours: a folder beside the runs root, and a link inside it leading there.
    outside = tmp_path / "weights-outside"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    (outside / "status.json").write_text(json.dumps({"state": "finished", "created_at": 0}))
    (store.root / "linked-run").symlink_to(outside, target_is_directory=True)

    pruned = housekeeping.prune_runs(store, keep=2, max_mb=10_000)

    assert pruned == [run.run_id for run in finished[:3]]  # oldest first
    assert sorted(run.run_id for run in store.list()) == sorted(
        [oldest_active.run_id, finished[3].run_id, finished[4].run_id])  # the link is not listed, nor pruned
    assert oldest_active.path.is_dir() and outside.is_dir() and (outside / "config.json").exists()
    assert (store.root / "linked-run").is_symlink()
    assert housekeeping.prune_runs(store, keep=2, max_mb=10_000) == []


def test_prune_by_size_removes_oldest_finished_until_under_the_cap(store, monkeypatch):
    now = time.time()
    big = [make_run(store, "finished", now - 100 + index) for index in range(3)]
    for run in big:
        (run.path / "model.weights.h5").write_bytes(b"\0" * 600_000)
    active = make_run(store, "queued", now - 200, **own_process_identity())
    (active.path / "model.weights.h5").write_bytes(b"\0" * 600_000)
    monkeypatch.setenv("AIGC_KEEP_RUNS", "50")
    monkeypatch.setenv("AIGC_MAX_RUNS_MB", "1.5")  # ~2.4 MB in the folder now

    pruned = housekeeping.prune_runs(store)

    assert pruned == [big[0].run_id, big[1].run_id]
    assert active.path.is_dir() and big[2].path.is_dir()
    assert housekeeping.directory_size(store.root) <= 1.5 * housekeeping.MEGABYTE


def test_prune_never_touches_shipped_weights(store, tmp_path, monkeypatch):
    from aigc_core.weights import WEIGHTS_DIR

    before = sorted(path.name for path in WEIGHTS_DIR.glob("*")) if WEIGHTS_DIR.is_dir() else []
    make_run(store, "finished", 1.0)
    assert len(housekeeping.prune_runs(store, keep=0, max_mb=0)) == 1
    after = sorted(path.name for path in WEIGHTS_DIR.glob("*")) if WEIGHTS_DIR.is_dir() else []
    assert set(before) <= set(after)  # the background trainer may add files, never lose them


# -- the disk check before a run starts ----------------------------------------------------


def test_disk_check_refuses_launch_and_cli_train_in_one_line(store, monkeypatch, capsys):
    spawned = []
    monkeypatch.setattr(worker, "spawn_worker", lambda run, *a, **k: spawned.append(run))
    monkeypatch.setenv("AIGC_MIN_FREE_MB", str(10**12))

    with pytest.raises(ValueError) as caught:
        worker.launch(tiny_config(), store)
    message = one_line(str(caught.value))
    assert "not enough disk space" in message and "AIGC_MIN_FREE_MB" in message

    assert main(["train", "--steps", "3", "--train-limit", "256", "--batch-size", "32"]) == 2
    assert "not enough disk space" in one_line(capsys.readouterr().err)
    assert spawned == [] and list(store.root.iterdir()) == []

    monkeypatch.setenv("AIGC_MIN_FREE_MB", "0")
    assert housekeeping.check_disk_space(store.root) > 0


def test_launch_prunes_old_runs_before_creating_a_new_one(store, monkeypatch):
    monkeypatch.setattr(worker, "spawn_worker", lambda run, *a, **k: None)
    monkeypatch.setenv("AIGC_KEEP_RUNS", "1")
    old = [make_run(store, "finished", time.time() - 100 + index) for index in range(3)]
    run = worker.launch(tiny_config(), store)
    assert sorted(r.run_id for r in store.list()) == sorted([old[2].run_id, run.run_id])


# -- faults ------------------------------------------------------------------------------


def test_runs_folder_not_writable_refuses_to_start_in_one_line(store, monkeypatch, capsys):
    store.root.chmod(0o500)
    try:
        if os.access(store.root, os.W_OK):  # root ignores permissions: simulate the refusal instead
            def refuse(path, data):
                raise OSError(errno.ENOSPC, NO_SPACE)

            monkeypatch.setattr(runs, "write_bytes_atomic", refuse)
            monkeypatch.setattr(files, "write_bytes_atomic", refuse)  # behind write_json_atomic
            expected = (OSError, "cannot create a run")
        else:
            expected = (ValueError, "not writable")
        spawned = []
        monkeypatch.setattr(worker, "spawn_worker", lambda run, *a, **k: spawned.append(run))

        with pytest.raises(expected[0]) as caught:
            worker.launch(tiny_config(), store)
        assert expected[1] in one_line(str(caught.value))
        code = main(["train", "--steps", "3", "--train-limit", "256", "--batch-size", "32"])
        assert code in (1, 2) and expected[1] in one_line(capsys.readouterr().err)
        assert spawned == []
        assert list(store.root.iterdir()) == []  # no half-made run, no temporary file
    finally:
        store.root.chmod(0o700)


def fail_writes(monkeypatch, should_fail):
    """Make the atomic writer raise ENOSPC for the paths (and calls) `should_fail(path, count)` picks.

    Both references are patched: runs/store.py's (status, checkpoint.json) and runs/training.py's own
    (optimizer state, snapshots).
    """
    real = runs.write_bytes_atomic
    calls = {"count": 0}

    def writer(path, data):
        calls["count"] += 1
        if should_fail(path, calls["count"]):
            raise OSError(errno.ENOSPC, NO_SPACE, str(path))
        return real(path, data)

    monkeypatch.setattr(runs, "write_bytes_atomic", writer)
    monkeypatch.setattr(files, "write_bytes_atomic", writer)  # behind write_json_atomic
    monkeypatch.setattr(training, "write_bytes_atomic", writer)
    return calls


def assert_checkpoint_loads(run, step: int):
    assert run.checkpoint()["step"] == step
    model = load_run_model(run)
    assert model.sample(4, seed=0).shape == (4, 28, 28)
    rebuilt = load_run_model(run)
    assert load_checkpoint(rebuilt, run)["step"] == step  # optimizer state matches its shapes too


def test_disk_full_during_a_checkpoint_fails_the_run_and_keeps_the_previous_checkpoint(store, monkeypatch):
    run = start_run(tiny_config(steps=15, log_every=5, sample_every=5, checkpoint_every=5), store)
    checkpoints = {"seen": 0}

    def second_checkpoint(path, count):
        if path.name == "checkpoint.json":
            checkpoints["weights_at_step_5"] = run.weights_path.read_bytes()
        if path.name == ".partial-optimizer.npz":
            checkpoints["seen"] += 1
            return checkpoints["seen"] == 2  # step 10's weights are written, its optimizer state is not
        return False

    fail_writes(monkeypatch, second_checkpoint)
    status = train_run(run)

    assert status["state"] == "failed" and run.status()["state"] == "failed"
    assert "disk full" in status["error"] and "resume" in status["error"]
    assert run.weights_path.read_bytes() == checkpoints["weights_at_step_5"]  # not step 10's half checkpoint
    assert_checkpoint_loads(run, 5)
    assert leftover_temporary_files(run.path) == []

    monkeypatch.undo()
    monkeypatch.setenv("AIGC_RUNS_DIR", str(store.root))
    resumed = train_run(run)  # space is back: continue from step 5 to the end
    assert resumed["state"] == "finished" and resumed["step"] == 15
    assert [row["step"] for row in run.metrics()] == [5, 10, 15]


def test_disk_full_for_every_write_still_returns_failed_without_raising(store, monkeypatch):
    run = start_run(tiny_config(steps=15, log_every=5, sample_every=100, checkpoint_every=5), store)
    disk = {"full": False}

    def after_first_checkpoint(path, count):
        if disk["full"]:
            return True
        disk["full"] = path.name == "checkpoint.json"  # that write succeeds; every later one fails
        return False

    fail_writes(monkeypatch, after_first_checkpoint)
    status = train_run(run)  # even the status cannot be written: no exception escapes

    assert status["state"] == "failed" and "disk full" in status["error"]
    assert_checkpoint_loads(run, 5)
    assert leftover_temporary_files(run.path) == []


def test_stop_pressed_while_a_checkpoint_is_written_ends_stopped(store, monkeypatch):
    run = start_run(tiny_config(steps=40, log_every=5, sample_every=100, checkpoint_every=10), store)
    real = training.write_bytes_atomic

    def stop_mid_checkpoint(path, data):
        if path.name == ".partial-optimizer.npz" and not run.stop_requested():
            run.request_stop()  # between the weights and the optimizer state of step 5 (the first logged step)
        return real(path, data)

    monkeypatch.setattr(training, "write_bytes_atomic", stop_mid_checkpoint)
    status = train_run(run)

    assert status["state"] == "stopped" and status["step"] == 5 and status["error"] is None
    assert_checkpoint_loads(run, 5)
    assert not run.stop_path.exists() and leftover_temporary_files(run.path) == []
    assert [row["step"] for row in run.metrics()] == [5]


def test_reconcile_after_a_server_restart(store):
    now = time.time()
    gone = dead_pid()
    running_dead = make_run(store, "running", now - 50, pid=gone, pid_start_time="1")
    running_alive = make_run(store, "running", now - 40, **own_process_identity())
    queued_dead_first = make_run(store, "queued", now - 30, pid=gone, pid_start_time="1")
    queued_alive = make_run(store, "queued", now - 20, **own_process_identity())
    queued_never_started = make_run(store, "queued", now - 10 - runs.STARTUP_GRACE_S, pid=None)
    queued_just_spawned = make_run(store, "queued", now - 1, pid=None)
    finished = make_run(store, "finished", now - 60)

    requeued = housekeeping.reconcile(store)

    assert [run.run_id for run in requeued] == [queued_never_started.run_id, queued_dead_first.run_id]
    assert running_dead.raw_status()["state"] == "failed" and "worker died" in running_dead.raw_status()["error"]
    for run, state in ((running_alive, "running"), (queued_alive, "queued"), (queued_just_spawned, "queued"),
                       (finished, "finished")):
        assert run.status()["state"] == state
    for run in requeued:
        status = run.status()  # not reported dead while its new worker starts
        assert status["state"] == "queued" and status["pid"] is None and status["error"] is None
    # Order kept: the older orphan first, both behind the queued run whose worker still waits.
    assert (queued_alive.raw_status()["created_at"] < requeued[0].raw_status()["created_at"]
            < requeued[1].raw_status()["created_at"])
    assert housekeeping.reconcile(store) == []


def test_reconciled_run_is_trained_by_a_new_worker(store):
    run = start_run(tiny_config(steps=3, log_every=1), store)
    run.update_status(state="queued", pid=dead_pid(), pid_start_time="1")  # its worker died with the server
    (requeued,) = housekeeping.reconcile(store)
    worker.spawn_worker(requeued)
    wait_for(lambda: run.status()["state"] not in ("queued", "running"), timeout_s=120,
             message=lambda: (run.path / "worker.log").read_text()[-2000:])
    assert run.status()["state"] == "finished", (run.path / "worker.log").read_text()[-2000:]
    assert [row["step"] for row in run.metrics()] == [1, 2, 3]


def test_app_reconciles_once_per_server_process(store, monkeypatch):
    import streamlit
    from streamlit.testing.v1 import AppTest

    spawned = []
    monkeypatch.setattr(worker, "spawn_worker", lambda run, *a, **k: spawned.append(run.run_id))
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(store.root.parent / "no-weights"))
    orphan = make_run(store, "queued", time.time() - 100, pid=dead_pid(), pid_start_time="1")
    streamlit.cache_resource.clear()
    try:
        app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
        app.run()
        assert not app.exception
        orphan.update_status(pid=dead_pid(), pid_start_time="1")  # would be requeued again if reconcile reran
        app.run()
        AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120).run()  # a second visitor, same server process
    finally:
        streamlit.cache_resource.clear()
    assert spawned == [orphan.run_id]


# -- worker threads ----------------------------------------------------------------------


def test_app_workers_keep_every_core_unless_configured(store, monkeypatch):
    captured = []

    class FakePopen:
        def __init__(self, command, env, **kwargs):
            captured.append(env)

        def wait(self):
            return 0

    monkeypatch.setattr(local_executor.subprocess, "Popen", FakePopen)
    run = start_run(tiny_config(), store)
    monkeypatch.delenv("AIGC_WORKER_THREADS", raising=False)
    worker.spawn_worker(run)
    monkeypatch.setenv("AIGC_WORKER_THREADS", "7")
    worker.spawn_worker(run)
    assert [env.get("AIGC_WORKER_THREADS") for env in captured] == [None, "7"]
