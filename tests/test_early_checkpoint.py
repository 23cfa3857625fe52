"""A run killed before its first checkpoint: it checkpoints early, and says what was lost if not.

Before, a new run's first checkpoint came after `checkpoint_every` (200) steps; a worker that died
sooner left "resume continues from the last checkpoint" and no Resume button at all.
"""

from __future__ import annotations

import subprocess
import sys

from streamlit.testing.v1 import AppTest

from aigc_core.runs.store import PROJECT_ROOT
from aigc_core.runs.training import train_run
from conftest import tiny_config


def finished_process_id() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_new_run_checkpoints_at_its_first_logged_step(store):
    run = store.create(tiny_config(steps=6, log_every=2, sample_every=100, checkpoint_every=200).to_dict())
    seen = {}

    def progress(step, total_steps, losses):
        seen[step] = (run.checkpoint() or {}).get("step") if run.weights_path.exists() else None

    assert train_run(run, progress=progress)["state"] == "finished"
    assert seen[1] is None and seen[2] == 2  # the first logged step
    assert seen[4] == 2  # then back to every `checkpoint_every` steps
    assert run.checkpoint()["step"] == 6


def test_a_worker_dead_before_any_checkpoint_says_what_was_lost_and_offers_a_fresh_start(store, monkeypatch):
    spawned = []
    monkeypatch.setattr("aigc_core.runs.worker.spawn_worker", lambda run, *args: spawned.append(run.run_id))
    run = store.create(tiny_config().to_dict())
    pid = finished_process_id()
    run.update_status(state="running", pid=pid, step=7)
    error = run.status()["error"]
    assert error.startswith(f"worker died (process {pid} is gone) before its first checkpoint")
    assert "7 steps are lost" in error and "starts again from step 0" in error

    from ui.visitor import OPERATOR_KEY

    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    app.session_state[OPERATOR_KEY] = True  # a run made by the test has no browser owner
    app.query_params["run"] = run.run_id
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert "7 steps are lost" in app.error[0].value
    assert app.button(key="train_resume").proto.label == "Start again from step 0 (no checkpoint)"
    app.button(key="train_resume").click().run()
    assert spawned == [run.run_id] and run.raw_status()["state"] == "queued"
