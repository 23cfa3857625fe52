"""The Train page's "break it on purpose" menu fills the form with a known-bad setup."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from aigc_core.diagnosis import BROKEN_PRESETS
from aigc_core.runs import PROJECT_ROOT

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
