"""The Train page's "break it on purpose" menu fills the form with a known-bad setup."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from aigc_core.quality.diagnosis import BROKEN_PRESETS
from aigc_core.runs.store import PROJECT_ROOT, RunStore
from ui.train_view import broken_preset_in_form

APP = str(PROJECT_ROOT / "app.py")


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()


def open_train() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.switch_page("pages/train.py")
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def test_choosing_a_broken_preset_fills_its_hyperparameters_and_shows_what_to_watch():
    app = open_train()
    name = "GAN: discriminator 10x faster"
    broken = BROKEN_PRESETS[name]
    app.selectbox(key="train_broken").set_value(name).run()
    assert not app.exception, [item.value for item in app.exception]
    assert app.radio(key="train_model").value == broken.family
    assert app.number_input(key="train_d_lr").value == pytest.approx(broken.overrides["d_learning_rate"])
    assert app.number_input(key="train_d_steps").value == broken.overrides["d_steps_per_g_step"]
    assert any("Watch for" in item.value for item in app.info)
    assert not app.error, [item.value for item in app.error]


def test_a_vae_breakage_switches_the_model_and_changing_the_model_clears_it():
    app = open_train()
    app.selectbox(key="train_broken").set_value("VAE: beta = 20").run()
    assert app.radio(key="train_model").value == "vae"
    assert app.slider(key="train_beta").value == pytest.approx(20.0)  # beta is a slider (tests/test_beta_vae.py)
    app.radio(key="train_model").set_value("gan").run()
    assert app.selectbox(key="train_broken").value != "VAE: beta = 20"
    assert not any("Watch for" in item.value for item in app.info)


def test_a_break_it_run_carries_the_presets_name_its_hidden_momentum_and_budget(store, monkeypatch):
    """Start "learning rate x10": the run gets Adam momentum 0.9 (not in the form), 500 steps, and its plain name
    in the Train caption, the Runs table and the Runs caption."""
    from aigc_core.runs import worker

    launched = []

    def fake_launch(config, store=None, requester=None):
        launched.append(config)
        return RunStore().create(config.to_dict())  # queued: no worker process in a test

    monkeypatch.setattr(worker, "launch", fake_launch)
    app = open_train()
    name = "GAN: learning rate x10, Adam momentum 0.9"
    app.selectbox(key="train_broken").set_value(name).run()
    assert app.number_input(key="train_steps").value == BROKEN_PRESETS[name].steps
    app.button(key="train_start").click().run()
    assert not app.exception, [item.value for item in app.exception]
    config, = launched
    assert config.break_it == name and config.steps == BROKEN_PRESETS[name].steps
    assert config.overrides["g_beta_1"] == config.overrides["d_beta_1"] == 0.9
    assert any(name in item.value for item in app.caption), [item.value for item in app.caption]

    app.switch_page("pages/runs.py").run()
    assert not app.exception, [item.value for item in app.exception]
    assert any(name in str(preset) for preset in app.dataframe[0].value["preset"])
    assert any(name in item.value for item in app.caption)


def test_a_changed_setting_drops_the_presets_name():
    # The VAE setups break the 2-D network they were measured on (vae-map).
    assert broken_preset_in_form("VAE: beta = 20", "vae", "map", {"beta": 20.0, "learning_rate": 1e-3}) == "VAE: beta = 20"
    assert broken_preset_in_form("VAE: beta = 20", "vae", "map", {"beta": 4.0, "learning_rate": 1e-3}) is None
    assert broken_preset_in_form("VAE: beta = 20", "vae", "large", {"beta": 20.0}) is None
    assert broken_preset_in_form("VAE: beta = 20", "vae", "fast", {"beta": 20.0}) is None
    assert broken_preset_in_form("(healthy: the preset as it is)", "vae", "map", {"beta": 20.0}) is None
