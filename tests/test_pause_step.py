"""Pause, step, slow motion and the ETA of a live run (issue 14), and what the Train page shows of them.

Library tests train a tiny GAN with `train_run` in a thread of the test process while the test
writes control.json like the page would; the page tests fake a running run owned by the test
process (its pid is alive), so they need no worker.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from aigc_core.runs.eta import MIN_MEASURED_STEPS, WARMUP_STEPS, StepTimer
from aigc_core.runs.run_control import (
    DEFAULT_STEP_COUNT, SLOW_MOTION_SNAPSHOTS, RunControl, read_control, request_pause, request_resume, request_steps,
    reset_control, set_speed, slow_motion_snapshot_due,
)
from aigc_core.runs.store import PROJECT_ROOT
from aigc_core.runs.training import start_run, train_run
from conftest import tiny_config, wait_for

APP = str(PROJECT_ROOT / "app.py")


def train_in_thread(run, **keywords) -> tuple[threading.Thread, dict]:
    """Start `train_run(run)` in a thread; the dict receives its final status under "status"."""
    result = {}
    thread = threading.Thread(target=lambda: result.update(status=train_run(run, **keywords)), daemon=True)
    thread.start()
    return thread, result


def paused_at(run, step: int):
    """True once the worker says it is paused at exactly `step`."""
    status = run.raw_status()
    return status.get("paused") is True and status.get("step") == step


def metric_steps(run) -> list[int]:
    return [row["step"] for row in run.metrics()]


# -- the training loop ----------------------------------------------------------------------


def test_pause_holds_the_step_step_trains_exactly_n_and_resume_finishes(store):
    run = start_run(tiny_config(steps=20, log_every=1, sample_every=1000, checkpoint_every=1000), store)

    def pause_at_five(step, total, losses):
        if step == 5:
            request_pause(run)

    thread, result = train_in_thread(run, progress=pause_at_five)
    wait_for(lambda: paused_at(run, 5), 180, message="the run to pause at step 5")
    paused_status = run.raw_status()
    assert paused_status["state"] == "running"  # still holds its slot, its worker and its model
    time.sleep(0.8)
    assert paused_at(run, 5) and metric_steps(run) == [1, 2, 3, 4, 5]
    # Too few steps timed for an honest estimate yet (two are warm-up): the page says "estimating".
    assert WARMUP_STEPS + MIN_MEASURED_STEPS > 5 and paused_status["eta_s"] is None

    request_steps(run, 3)
    wait_for(lambda: paused_at(run, 8), 60, message="three steps and a new pause at step 8")
    stepped_status = run.raw_status()
    time.sleep(0.5)
    assert paused_at(run, 8) and metric_steps(run) == list(range(1, 9))
    # The 0.8 s (or more) of pause is not training time: elapsed grew by three tiny steps only.
    wall_growth = stepped_status["updated_at"] - paused_status["updated_at"]
    assert wall_growth - (stepped_status["elapsed_s"] - paused_status["elapsed_s"]) > 0.7

    request_resume(run)
    thread.join(120)
    assert not thread.is_alive()
    status = result["status"]
    assert status["state"] == "finished" and status["step"] == 20 and status["paused"] is False, status
    assert metric_steps(run) == list(range(1, 21))
    # Measured after the warm-up: the 12 steps left cost far less than 12 average steps of a session
    # that began by compiling (what the old estimate multiplied).
    session_pace = stepped_status["elapsed_s"] / 8
    assert stepped_status["eta_s"] is not None and 0 < stepped_status["eta_s"] < 12 * session_pace / 2


def test_slow_motion_paces_steps_adds_early_snapshots_and_stop_ends_a_paused_run(store):
    run = start_run(tiny_config(steps=500, log_every=1000, sample_every=1000, checkpoint_every=1000), store)
    set_speed(run, "slow")
    request_pause(run)  # left over from an earlier session: a starting worker drops it, keeps the speed
    step_times = {}

    def pause_at_eleven(step, total, losses):
        step_times[step] = time.monotonic()
        if step == 11:
            request_pause(run)

    thread, result = train_in_thread(run, progress=pause_at_eleven)
    wait_for(lambda: paused_at(run, 11), 180, message="the slowed run to pause at step 11")
    assert read_control(run)["speed"] == "slow"
    # At most 5 steps a second (a tiny step alone takes milliseconds): one step may be shorter when
    # the step before it ran long (a snapshot), so the pace is checked over eight steps.
    seconds_per_step = (step_times[11] - step_times[3]) / 8
    assert seconds_per_step > 0.18, step_times

    run.request_stop()
    thread.join(60)
    assert not thread.is_alive()
    assert result["status"]["state"] == "stopped" and result["status"]["step"] == 11
    assert run.checkpoint()["step"] == 11
    # Frames every 5 steps early on, besides the first and the last (sample_every is 1000).
    assert [step for step, _ in run.snapshots()] == [0, 5, 10, 11]


# -- the control file and the estimator ---------------------------------------------------------


def test_control_requests_round_trip_and_refuse_bad_values(store):
    run = store.create(tiny_config().to_dict())
    assert read_control(run) == {"mode": "run", "speed": "normal", "steps": None, "request": None}
    set_speed(run, "very_slow")
    request_pause(run)
    assert read_control(run)["mode"] == "pause" and read_control(run)["speed"] == "very_slow"
    first, second = request_steps(run, 4), request_steps(run, 4)
    assert first["steps"] == 4 and first["request"] != second["request"]  # two clicks, two requests
    reset_control(run)
    assert read_control(run) == {"mode": "run", "speed": "very_slow", "steps": None, "request": None}
    for bad in (0, -1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="steps must be"):
            request_steps(run, bad)
    with pytest.raises(ValueError, match="speed must be one of"):
        set_speed(run, "warp")


def test_run_control_counts_a_step_request_from_the_step_it_is_read_at(store):
    run = store.create(tiny_config().to_dict())
    control = RunControl(run, sleep=lambda seconds: None)
    control.refresh(3)
    assert not control.pause_wanted(3)
    request_steps(run, 2)
    control.refresh(7)
    assert [control.pause_wanted(step) for step in (7, 8, 9)] == [False, False, True]
    control.refresh(9)  # the same request read again trains no more steps
    assert control.pause_wanted(9)
    request_resume(run)
    control.refresh(9)
    assert not control.pause_wanted(9)


def test_slow_motion_snapshot_schedule_is_dense_early_and_off_at_full_speed(store):
    early = [step for step in range(1, 61) if slow_motion_snapshot_due(step)]
    assert early == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60]
    assert not any(slow_motion_snapshot_due(step) for step in range(SLOW_MOTION_SNAPSHOTS[-1][0] + 1, 3000))
    run = store.create(tiny_config().to_dict())
    control = RunControl(run)
    control.refresh(1)
    assert not control.extra_snapshot_due(5)
    set_speed(run, "slow")
    control.refresh(1)
    assert control.extra_snapshot_due(5) and not control.extra_snapshot_due(6)


def test_eta_estimates_only_from_measured_steps_after_the_warm_up():
    timer = StepTimer()
    assert timer.eta(remaining_steps=500) is None
    timer.record(9.0)  # tracing and compiling the train step
    timer.record(0.5)
    for _ in range(MIN_MEASURED_STEPS - 1):
        timer.record(0.03)
        assert timer.eta(remaining_steps=500) is None  # "estimating..."
    timer.record(0.03)
    assert timer.eta(remaining_steps=500) == pytest.approx(15.0)  # not 9:45 from the compiled first step
    assert timer.eta(remaining_steps=0) == 0


def test_eta_of_a_time_budget_is_stretched_by_slow_motion():
    timer = StepTimer(warmup_steps=0, min_measured_steps=2)
    assert timer.eta(remaining_training_s=30.0) == pytest.approx(30.0)  # not slowed: the budget left
    timer.record(0.2, 0.05)
    timer.record(0.2, 0.05)
    assert timer.eta(remaining_training_s=30.0) == pytest.approx(120.0)
    assert timer.eta(remaining_training_s=-1.0) == 0.0
    assert timer.eta() is None


# -- the Train page -------------------------------------------------------------------------------


@pytest.fixture
def fresh_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()


def open_run(run_id: str) -> AppTest:
    """The Train page of one run, as a new browser tab (or a reload) opens it from the URL.

    The session is the operator's: these runs were made by the test, not by a browser, and only
    their owner or the operator sees the controls (tests/test_visitor_caps.py checks who may).
    """
    from ui.visitor import OPERATOR_KEY

    app = AppTest.from_file(APP, default_timeout=120)
    app.session_state[OPERATOR_KEY] = True
    app.query_params["run"] = run_id
    app.run()
    app.switch_page("pages/train.py").run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def running_run(store, **status):
    """A run that reads as training: its worker is this test process."""
    run = store.create(tiny_config(steps=500).to_dict())
    run.update_status(state="running", pid=os.getpid(), pid_start_time=None, step=40, total_steps=500,
                      elapsed_s=3.0, **status)
    return run


def all_text(app: AppTest) -> str:
    parts = [str(element.value) for kind in ("caption", "info", "markdown", "warning", "error") for element in
             app.get(kind)]
    parts += [bar.proto.text for bar in app.get("progress")]
    return "\n".join(parts)


def test_pause_step_resume_and_speed_buttons_write_the_control_file(store, fresh_caches):
    run = running_run(store, eta_s=None)
    app = open_run(run.run_id)
    assert "ETA estimating" in all_text(app)
    assert app.number_input(key="train_step_count").value == DEFAULT_STEP_COUNT

    app.button(key="train_pause").click().run()
    assert read_control(run)["mode"] == "pause"
    assert "Pausing after the current step" in all_text(app)

    app.number_input(key="train_step_count").set_value(3)
    app.button(key="train_step").click().run()
    control = read_control(run)
    assert control["mode"] == "step" and control["steps"] == 3

    app.button(key="train_continue").click().run()
    assert read_control(run)["mode"] == "run"
    assert "train_pause" in [button.key for button in app.button]

    app.selectbox(key="train_speed").set_value("slow").run()
    assert read_control(run)["speed"] == "slow"
    assert not app.exception, [item.value for item in app.exception]


def test_a_reload_shows_the_paused_run_and_its_speed(store, fresh_caches):
    run = running_run(store, eta_s=12.0)
    set_speed(run, "very_slow")
    request_pause(run)
    run.update_status(paused=True)

    app = open_run(run.run_id)  # a fresh session: only the URL and the run's files
    text = all_text(app)
    assert "Paused at step 40" in text and "ETA" not in text
    assert ":orange-badge[paused]" in text and "badge[running]" not in text
    keys = [button.key for button in app.button]
    assert "train_continue" in keys and "train_pause" not in keys and "train_step" in keys
    assert app.selectbox(key="train_speed").value == "very_slow"


def test_a_run_that_diverged_before_its_first_log_line_says_so_instead_of_waiting():
    from ui.train_view import no_loss_curves_caption

    config = tiny_config(steps=500).to_dict()
    waiting = no_loss_curves_caption({"state": "running", "step": 3}, config)
    assert waiting == "Loss curves appear after the first 10 steps."
    failed = no_loss_curves_caption({"state": "failed", "step": 3, "error": "training diverged at step 3: d_loss "
                                     "became nan; try a lower learning rate"}, config)
    assert "Loss curves appear" not in failed and "failed" in failed and "step 3" in failed
    stopped = no_loss_curves_caption({"state": "stopped", "step": 4}, config)
    assert "was stopped at step 4" in stopped and "every 10 steps" in stopped
