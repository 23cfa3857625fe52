"""The Train page filled from a lesson step's link, and a recorded run replayed from the page."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from aigc_core.diagnosis import BROKEN_PRESETS
from aigc_core.runs import PROJECT_ROOT, RunStore
from conftest import end_workers, wait_for

APP = str(PROJECT_ROOT / "app.py")


def open_train(query: dict) -> AppTest:
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params = dict(query)
    app.run()
    app.switch_page("pages/train.py").run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def test_a_break_it_link_fills_the_form_with_that_preset():
    name = "GAN: discriminator 10x faster"
    app = open_train({"broken": name})
    assert app.session_state["train_broken"] == name
    assert app.session_state["train_model"] == BROKEN_PRESETS[name].family
    assert app.number_input(key="train_d_lr").value == pytest.approx(BROKEN_PRESETS[name].overrides["d_learning_rate"])


def test_a_model_link_chooses_the_model_and_an_unknown_one_changes_nothing():
    assert open_train({"model": "vae"}).session_state["train_model"] == "vae"
    assert open_train({"model": "diffusion", "broken": "made up"}).session_state["train_model"] == "gan"


def test_a_recorded_run_replays_from_the_page_and_says_it_is_a_replay(runs_dir):
    app = open_train({})
    app.selectbox(key="train_replay_choice").set_value("gan-healthy")
    app.select_slider(key="train_replay_speed").set_value(4.0)
    app.button(key="train_replay").click()
    app.switch_page("pages/train.py").run()  # AppTest's later runs skip app.py unless the page is switched to
    try:
        assert not app.exception, [item.value for item in app.exception]
        run_id = app.query_params["run"]
        run_id = run_id[0] if isinstance(run_id, list) else run_id
        run = RunStore().get(run_id)
        assert run.raw_status()["replay"]["name"] == "gan-healthy"
        wait_for(lambda: run.metrics(), 30, message="the replay's first row")
        assert any("Replay of a recorded run" in caption.value for caption in app.caption)
    finally:
        end_workers(RunStore(runs_dir), timeout_s=10)
