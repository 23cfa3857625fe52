"""Runs page (issue 14, defect 10): Evaluate runs the project's evaluator in the background, deleting
half of a twin pair says what goes with it, and reference columns are named for what they are.

No test evaluates for real (10,000 samples take 17-51 s here): the evaluator's process is replaced
by a short stand-in that the page cannot tell apart from it (a pid, a log, a metrics.json or none).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from aigc_core.runs import evaluate_process
from aigc_core.runs.evaluate_process import EVALUATION_FILE, EVALUATION_LOG, evaluation_progress, start_evaluation
from aigc_core.quality.evaluation import REAL_FLOOR, UNTRAINED_CEILING
from aigc_core.runs.store import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")
TIMEOUT_S = 120


@pytest.fixture(autouse=True)
def fresh_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path))  # no shipped weights: the Runs page alone
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def finished_run(store, **status):
    run = store.create({"model": "gan", "preset": "fast"})
    run.update_status(state="finished", step=20, **status)
    run.weights_path.write_bytes(b"not read by these tests")
    return run


def ended_process() -> int:
    """The pid of a process that has already exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def open_runs(operator: bool = True) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.session_state["visitor_is_operator"] = operator
    app.switch_page("pages/runs.py").run()
    assert not app.exception, [item.value for item in app.exception]
    return app


# -- the library --------------------------------------------------------------------------------
def test_evaluation_progress_tells_running_finished_and_failed_apart(store):
    run = finished_run(store)
    assert evaluation_progress(run) is None
    (run.path / EVALUATION_FILE).write_text(json.dumps({"pid": os.getpid(), "started_at": 0}))
    assert evaluation_progress(run)["state"] == "running"
    (run.path / EVALUATION_FILE).write_text(json.dumps({"pid": ended_process(), "started_at": 0}))
    (run.path / EVALUATION_LOG).write_text("evaluating ...\nerror: the classifier is missing\n")
    assert evaluation_progress(run) == {"state": "failed", "reason": "error: the classifier is missing"}
    (run.path / "metrics.json").write_text("{}")
    assert evaluation_progress(run) == {"state": "finished"}


def test_start_evaluation_runs_the_cli_s_evaluate_on_the_run_and_refuses_a_second(store, monkeypatch):
    run = finished_run(store)
    # A stand-in interpreter that prints its arguments: the command line is the CLI's own.
    monkeypatch.setattr(evaluate_process.sys, "executable", "/bin/echo")
    start_evaluation(run).wait()
    assert (run.path / EVALUATION_LOG).read_text().split() == ["-m", "aigc_core", "evaluate", "--run", str(run.path)]
    assert evaluation_progress(run)["state"] == "failed"  # it wrote no metrics.json
    (run.path / EVALUATION_FILE).write_text(json.dumps({"pid": os.getpid(), "started_at": 0}))
    with pytest.raises(ValueError, match="no evaluation of run"):
        start_evaluation(run)


# -- the page -----------------------------------------------------------------------------------
def test_runs_offers_evaluate_and_shows_the_evaluation_in_progress(store, monkeypatch):
    run = finished_run(store)
    started = []
    monkeypatch.setattr("ui.runs_view.start_evaluation", lambda chosen: started.append(chosen.run_id))
    app = open_runs()
    assert not any("terminal" in item.value for item in app.caption)
    app.button(key="runs_evaluate").click().run()
    assert started == [run.run_id]
    (run.path / EVALUATION_FILE).write_text(json.dumps({"pid": os.getpid(), "started_at": 0}))
    evaluating = open_runs()
    assert not [button for button in evaluating.button if button.key == "runs_evaluate"]
    assert any("Evaluating on 10,000 samples" in bar.proto.text for bar in evaluating.get("progress"))
    (run.path / EVALUATION_FILE).write_text(json.dumps({"pid": ended_process(), "started_at": 0}))
    (run.path / EVALUATION_LOG).write_text("error: the classifier is missing\n")
    failed = open_runs()
    assert any("the classifier is missing" in item.value for item in failed.error)
    assert failed.button(key="runs_evaluate").label == "Evaluate"


def test_runs_hides_evaluate_from_a_visitor_who_does_not_own_the_run(store):
    finished_run(store)
    assert not [button for button in open_runs(operator=False).button if button.key == "runs_evaluate"]


def test_deleting_half_of_a_twin_says_the_race_goes_with_it(store, monkeypatch):
    from aigc_core.experiments.twin import launch_twin

    monkeypatch.setattr("aigc_core.runs.worker.spawn_worker", lambda run, *args: None)
    gan, vae = launch_twin(0, "steps", 10, store, train_limit=256, num_snapshot_samples=16)
    for run in (gan, vae):
        run.update_status(state="finished")
    single = finished_run(store)
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.session_state["visitor_is_operator"] = True
    app.query_params["run"] = gan.run_id
    app.switch_page("pages/runs.py").run()
    assert not app.exception, [item.value for item in app.exception]
    assert any("half of a twin pair (with run Twin race VAE #1)" in item.value for item in app.warning)
    app.selectbox(key="runs_select").set_value(single.run_id).run()
    assert not any("twin" in item.value for item in app.warning)


def test_deleting_a_member_of_a_three_way_race_names_both_others(store, monkeypatch):
    from aigc_core.experiments.twin import launch_twin

    monkeypatch.setattr("aigc_core.runs.worker.spawn_worker", lambda run, *args: None)
    runs = launch_twin(0, "steps", 10, store, families=("gan", "vae", "diffusion"), train_limit=256,
                       num_snapshot_samples=16)
    for run in runs:
        run.update_status(state="finished")
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.session_state["visitor_is_operator"] = True
    app.query_params["run"] = runs[2].run_id
    app.switch_page("pages/runs.py").run()
    assert not app.exception, [item.value for item in app.exception]
    assert any("one of a three-way race (with runs Twin race GAN #1 and Twin race VAE #1)" in item.value
               for item in app.warning), [item.value for item in app.warning]


# -- the sample-quality table -------------------------------------------------------------------
def test_reference_columns_are_named_for_what_they_are():
    """Real data is the best a model can reach on every row (an Inception Score "floor" was wrong)."""
    from ui.sources_view import evaluation_table

    numbers = {"fid": 30.0, "inception_score": 7.0}
    table = evaluation_table({**numbers, "reference": {REAL_FLOOR: {"fid": 0.5, "inception_score": 9.7},
                                                       UNTRAINED_CEILING: {"fid": 300.0, "inception_score": 1.0}}})
    assert list(table.columns) == ["this model", "real data (best possible)", "untrained generator (worst case)"]
    assert table.loc["Inception Score (10 at most)"].tolist() == ["7.00", "9.70", "1.00"]
