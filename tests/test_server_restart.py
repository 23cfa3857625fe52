"""A server restart and a machine shutdown while runs train: the runs end in a clear state.

Workers run in their own session (`start_new_session=True`), so killing the process that
launched them (the Streamlit server) leaves them training; a SIGTERM to the worker itself (a
shutdown, Ctrl-C) checkpoints and records `interrupted`, from which resume continues.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from aigc_core.runs import worker
from aigc_core.runs.store import FINAL_STATES, PROJECT_ROOT, RunStore
from aigc_core.runs.training import load_run_model
from conftest import end_workers, tiny_config, wait_for
from test_training_runs import assert_steps_are_a_clean_series, metric_steps, worker_log


@pytest.fixture
def launched(store):
    runs = []
    yield runs
    end_workers(store)


def test_sigterm_to_a_worker_ends_its_run_interrupted_and_resume_continues(store, launched):
    run = worker.launch(tiny_config(model="vae", steps=5000, log_every=5, sample_every=50, checkpoint_every=10))
    launched.append(run)
    wait_for(lambda: run.status()["state"] == "running" and run.status().get("step", 0) >= 12, timeout_s=150,
             message=lambda: f"the run to train; worker log: {worker_log(run)}")
    pid = run.status()["pid"]

    os.kill(pid, signal.SIGTERM)

    status = wait_for(lambda: run.status()["state"] in FINAL_STATES and run.status(), timeout_s=30,
                      message=lambda: f"the worker to end; log: {worker_log(run)}")
    assert status["state"] == "interrupted", (status, worker_log(run))
    assert "SIGTERM" in status["error"] and "resume" in status["error"]
    checkpoint_step = run.checkpoint()["step"]
    assert checkpoint_step == status["step"]  # it checkpointed where it stopped, not at the last multiple
    assert load_run_model(run).sample(2, seed=0).shape == (2, 28, 28)

    worker.resume(run, extra_steps=10)
    wait_for(lambda: run.status()["state"] in FINAL_STATES, timeout_s=150,
             message=lambda: f"the resumed worker; log: {worker_log(run)}")
    status = run.status()
    assert status["state"] == "finished" and status["step"] == checkpoint_step + 10, (status, worker_log(run))
    assert_steps_are_a_clean_series(metric_steps(run), log_every=5, last=(checkpoint_step + 10) // 5 * 5)


def test_killing_the_server_that_launched_a_run_does_not_stop_the_run(store, launched):
    """Stand-in for the app server: a process that launches a run, then dies by SIGKILL."""
    config = tiny_config(steps=30, log_every=5, sample_every=10, checkpoint_every=10)
    script = textwrap.dedent(
        f"""
        import sys, time
        from aigc_core.runs import worker
        from aigc_core.config import TrainingConfig
        run = worker.launch(TrainingConfig.from_dict({config.to_dict()!r}))
        print(run.run_id, flush=True)
        time.sleep(600)
        """
    )
    server = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, text=True)
    try:
        run_id = server.stdout.readline().strip()
        assert run_id, "the stand-in server launched no run"
        run = RunStore().get(run_id)
        wait_for(lambda: run.status()["state"] == "running", timeout_s=150,
                 message=lambda: f"the run to start; log: {worker_log(run)}")
    finally:
        server.kill()
        server.wait()
        server.stdout.close()

    wait_for(lambda: run.status()["state"] in FINAL_STATES, timeout_s=150,
             message=lambda: f"the orphaned run to finish; log: {worker_log(run)}")
    status = run.status()
    assert status["state"] == "finished" and status["step"] == 30, (status, worker_log(run))
    assert_steps_are_a_clean_series(metric_steps(run), log_every=5, last=30)
