"""The Train page filled from a lesson step's link, and a recorded run replayed from the page."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from aigc_core.config import TrainingConfig
from aigc_core.quality.diagnosis import BROKEN_PRESETS
from aigc_core.models.registry import presets_for
from aigc_core.runs.store import PROJECT_ROOT, RunStore
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
    assert open_train({"model": "autoregressive", "broken": "made up"}).session_state["train_model"] == "gan"


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


# -- every field of the form in the link (issue 14, defect 9) ---------------------------------------
def query_value(app: AppTest, name: str):
    value = app.query_params.get(name)
    return value[-1] if isinstance(value, list) else value


def test_a_link_with_every_field_fills_the_whole_form():
    app = open_train({"model": "vae", "preset": "large", "dataset": "fashion_mnist", "batch_size": "48",
                      "minutes": "3.5", "seed": "9", "precision": "mixed_bfloat16", "learning_rate": "0.0005",
                      "beta": "2.5", "latent_dim": "12"})
    state = app.session_state
    assert (state["train_model"], state["train_preset"], state["train_dataset"]) == ("vae", "large", "fashion_mnist")
    assert (state["train_batch_size"], state["train_seed"], state["train_precision"]) == (48, 9, "mixed_bfloat16")
    assert state["train_budget_kind"] == "minutes" and app.number_input(key="train_minutes").value == 3.5
    assert app.number_input(key="train_lr").value == pytest.approx(0.0005)
    assert app.slider(key="train_beta").value == pytest.approx(2.5)
    assert app.number_input(key="train_latent_dim").value == 12
    assert not [item.value for item in app.info if "link" in item.value]


def test_each_changed_field_enters_the_link_and_a_default_one_leaves_it():
    app = open_train({})
    assert all(query_value(app, name) is None for name in ("model", "seed", "steps", "g_learning_rate"))
    app.number_input(key="train_seed").set_value(7).run()
    app.number_input(key="train_g_lr").set_value(0.0003).run()
    app.number_input(key="train_batch_size").set_value(40).run()
    app.number_input(key="train_steps").set_value(250).run()
    app.selectbox(key="train_precision").set_value("mixed_bfloat16").run()
    assert {name: query_value(app, name) for name in ("seed", "g_learning_rate", "batch_size", "steps", "precision")} \
        == {"seed": "7", "g_learning_rate": "0.0003", "batch_size": "40", "steps": "250", "precision": "mixed_bfloat16"}
    assert app.session_state["train_g_lr"] == pytest.approx(0.0003)  # publishing did not reset the form
    app.radio(key="train_budget_kind").set_value("minutes").run()
    assert query_value(app, "minutes") == "2.0" and query_value(app, "steps") is None
    default_seed = TrainingConfig().seed
    app.number_input(key="train_seed").set_value(default_seed).run()
    assert query_value(app, "seed") is None  # back at its default: a short link
    app.radio(key="train_model").set_value("vae").run()
    assert query_value(app, "model") == "vae" and query_value(app, "g_learning_rate") is None


def test_a_break_it_link_keeps_its_name_and_the_fields_changed_after_it():
    name = "VAE: beta = 20"
    app = open_train({"broken": name, "seed": "5"})
    assert app.session_state["train_broken"] == name and app.session_state["train_seed"] == 5
    app.number_input(key="train_batch_size").set_value(24).run()
    assert query_value(app, "broken") == name and query_value(app, "batch_size") == "24"
    assert query_value(app, "beta") is None and query_value(app, "model") is None  # the preset's own values


def test_bad_link_values_are_named_and_their_defaults_shown():
    """Strict parsing: text, out-of-range numbers, "nan", non-ASCII digits, unknown choices, a VAE's field on
    a GAN's form; one notice each naming the control (never the value), the good fields still applied."""
    from ui.train_view import form_defaults

    bad = {"steps": "0", "g_learning_rate": "nan", "d_learning_rate": "5", "batch_size": "٣",
           "precision": "float64", "preset": "huge", "beta": "2.25"}
    app = open_train({**bad, "seed": "3"})
    notices = sorted(item.value.split(" is not ")[0] for item in app.info if "link" in item.value)
    assert notices == sorted(f"This link's {control}" for control in (
        "Steps (generator updates)", "Generator learning rate", "Discriminator learning rate", "Batch size",
        "Precision", "Preset", "β (weight of the KL term)")), notices
    defaults = form_defaults("gan", presets_for("gan")[0])  # an unknown preset falls back to the first
    state = app.session_state
    assert state["train_preset"] == presets_for("gan")[0] and state["train_seed"] == 3
    for key in ("train_steps", "train_g_lr", "train_d_lr", "train_batch_size", "train_precision"):
        assert state[key] == defaults[key], key
    assert all(query_value(app, param) is None for param in bad)  # the bad values left the link
    assert query_value(app, "seed") == "3"
