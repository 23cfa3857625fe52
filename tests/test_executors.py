"""Choosing the executor, and the local one's bookkeeping; no Ray and no training here (fast).

The Ray executor against a real cluster is tests/test_ray_executor.py.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import tiny_config
from aigc_core.runs import executors, worker
from aigc_core.runs.executors.local import LocalExecutor
from aigc_core.runs.store import PROJECT_ROOT, RunStore
from ui import visitor


@pytest.fixture(autouse=True)
def fresh_executors(monkeypatch):
    monkeypatch.setattr(executors, "_executors", {})


def test_the_executor_is_local_unless_told_and_a_wrong_name_is_refused_in_one_line(monkeypatch):
    monkeypatch.delenv("AIGC_EXECUTOR", raising=False)
    assert executors.select_executor().name == "local"
    monkeypatch.setenv("AIGC_EXECUTOR", "slurm")
    with pytest.raises(ValueError, match=r"^AIGC_EXECUTOR must be one of \['local', 'ray'\]; received 'slurm'$"):
        executors.select_executor()


def test_a_run_is_stopped_through_the_executor_recorded_in_its_status(monkeypatch, runs_dir):
    stopped = []
    monkeypatch.setattr(LocalExecutor, "stop", lambda self, run: stopped.append(run.run_id))
    monkeypatch.setattr("aigc_core.runs.executors.local.start_worker_process", lambda run, *args: None)
    monkeypatch.setenv("AIGC_EXECUTOR", "local")
    run = worker.launch(tiny_config(), RunStore(runs_dir))
    monkeypatch.setenv("AIGC_EXECUTOR", "no-such-engine")  # the setting changed since: the run keeps its own
    worker.stop(run)
    assert stopped == [run.run_id]


def test_local_launch_records_the_executor_and_reconcile_fails_a_run_whose_worker_died(monkeypatch, runs_dir):
    monkeypatch.setattr("aigc_core.runs.executors.local.start_worker_process", lambda run, *args: None)
    store = RunStore(runs_dir)
    run = worker.launch(tiny_config(), store)
    status = run.raw_status()
    assert status["executor"] == "local" and status["where"]
    assert run.summary()["executor"] == "local"
    run.update_status(state="running", pid=2**22 + 1, pid_start_time="0")  # a pid no process has
    assert [lost.run_id for lost in LocalExecutor().reconcile(store)] == [run.run_id]
    assert run.raw_status()["state"] == "failed"


def test_a_ray_run_is_not_judged_by_a_pid_on_another_host(runs_dir):
    run = RunStore(runs_dir).create(tiny_config().to_dict())
    run.update_status(state="running", executor="ray", pid=2**22 + 1, pid_start_time="0")
    assert run.status()["state"] == "running"


def test_the_sidebar_names_where_runs_train_and_its_capacity(monkeypatch):
    monkeypatch.setenv("AIGC_EXECUTOR", "local")
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    app.session_state[visitor.OPERATOR_KEY] = True
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    captions = [str(caption.value) for caption in app.sidebar.caption]
    assert any(text.startswith("Runs train on: **this machine** (workers: 1, CPUs: ") and text.endswith(")")
               for text in captions), captions
