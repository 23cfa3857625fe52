"""beta-VAE: the KL term per latent dimension, recorded at each snapshot and shown on the Train
and Latent pages, so that posterior collapse (dimensions with KL near 0) is visible."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from aigc_core.config import OVERRIDE_RULES

from aigc_core.config import TrainingConfig
from aigc_core.models import VAE
from aigc_core.models.vae import COLLAPSED_DIMENSION_NATS, collapsed_dimensions, kl_per_dimension
from aigc_core.runs.training import KL_IMAGES, kl_history, kl_test_images, load_run_model, start_run, train_run
from conftest import TINY_TRAINING


def test_kl_per_dimension_is_the_closed_form_gaussian_kl():
    # KL(N(m, s^2) || N(0, 1)) = (m^2 + s^2 - 1 - ln s^2) / 2, averaged over the batch, per dimension
    mean = np.array([[1.0, 0.0, 0.0], [3.0, 0.0, 0.0]], np.float32)
    log_variance = np.array([[0.0, math.log(2.0), 0.0], [0.0, math.log(2.0), 0.0]], np.float32)
    kl = np.asarray(kl_per_dimension(mean, log_variance))
    assert kl.shape == (3,)
    np.testing.assert_allclose(kl, [(1.0 + 9.0) / 2 / 2, (2.0 - 1.0 - math.log(2.0)) / 2, 0.0], atol=1e-6)
    assert collapsed_dimensions(kl) == [2]  # the prior itself carries nothing
    assert collapsed_dimensions([0.2, 0.01, COLLAPSED_DIMENSION_NATS]) == [1]


def test_kl_on_images_has_one_value_per_dimension_and_sums_to_the_training_kl():
    import keras

    keras.utils.set_random_seed(0)
    model = VAE(latent_dim=3, architecture="fast")
    model.compile()
    images = kl_test_images()[:64]
    assert kl_test_images().shape == (KL_IMAGES, 28, 28) and 0.0 <= images.min() and images.max() <= 1.0
    kl = model.kl_per_dimension_on(images)
    assert kl.shape == (3,) and np.all(kl >= 0.0)
    _, total, _ = model.losses_for(images[..., None], training=False)
    assert kl.sum() == pytest.approx(float(total), rel=1e-4)


def beta_run(store, beta: float):
    # float32 on every CPU: the run's last KL row is compared with the reloaded (float32) model to 1e-4
    # nats, closer than bfloat16 arithmetic (the fast VAE's default on CPUs that have it) can agree.
    config = TrainingConfig(model="vae", preset="fast", overrides={"beta": beta, "latent_dim": 4}, steps=40,
                            log_every=5, sample_every=20, seed=0, precision="float32", **TINY_TRAINING)
    run = start_run(config, store)
    assert train_run(run)["state"] == "finished"
    return run


def test_runs_record_kl_per_dimension_and_a_large_beta_collapses_every_dimension(store, monkeypatch, tmp_path):
    free, heavy = beta_run(store, 0.0), beta_run(store, 50.0)
    for run in (free, heavy):
        rows = kl_history(run)
        assert [row["step"] for row in rows] == [step for step, _ in run.snapshots()] == [0, 20, 40]
        assert all(len(row["kl"]) == 4 and all(value >= 0 for value in row["kl"]) for row in rows)
    # beta = 0: nothing holds the code back, it spreads over the dimensions
    assert sum(kl_history(free)[-1]["kl"]) > 1.0
    assert len(collapsed_dimensions(kl_history(free)[-1]["kl"])) < 4
    # beta = 50: the KL costs more than any reconstruction gain, every dimension collapses
    assert collapsed_dimensions(kl_history(heavy)[-1]["kl"]) == [0, 1, 2, 3]
    # the last row is the checkpointed model measured on the fixed test batch
    model = load_run_model(heavy)
    np.testing.assert_allclose(model.kl_per_dimension_on(kl_test_images()), kl_history(heavy)[-1]["kl"], atol=1e-4)

    # the Train page's live view of the run draws the bars, grey where collapsed
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path))
    app = open_app("pages/train.py", run=heavy.run_id)
    bars = [trace for chart in app.get("plotly_chart") for trace in json.loads(chart.proto.spec)["data"]
            if trace.get("type") == "bar"]
    assert len(bars) == 1 and len(bars[0]["y"]) == 4
    assert bars[0]["y"] == pytest.approx(kl_history(heavy)[-1]["kl"])
    assert set(bars[0]["marker"]["color"]) == {"#999999"}
    assert any("collapsed dimension" in caption.value for caption in app.caption)


def test_gan_runs_write_no_kl_file(store):
    run = start_run(TrainingConfig(model="gan", preset="fast", steps=2, **TINY_TRAINING), store)
    assert train_run(run)["state"] == "finished"
    assert kl_history(run) == [] and not (run.path / "kl.jsonl").exists()


# -- pages -----------------------------------------------------------------------------------
def open_app(page: str, **query):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from aigc_core.runs.store import PROJECT_ROOT

    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    for name, value in query.items():
        app.query_params[name] = value
    app.run()
    app.switch_page(page).run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def test_train_page_beta_is_a_slider_from_0_to_10_with_an_explanation(monkeypatch, tmp_path):
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path))
    app = open_app("pages/train.py")
    app.radio(key="train_model").set_value("vae").run()
    slider = app.slider(key="train_beta")
    assert (slider.min, slider.max, slider.value) == (0.0, 10.0, 1.0)
    assert "KL" in slider.help and "collapse" in slider.help
    slider.set_value(4.0).run()
    assert not app.error and app.slider(key="train_beta").value == 4.0
    # a "break it" preset beyond 10 widens the slider instead of failing
    app.selectbox(key="train_broken").set_value("VAE: beta = 20").run()
    # (to the whole allowed range in one jump: a maximum that followed the value made every move a new widget)
    assert not app.exception and app.slider(key="train_beta").value == 20.0
    assert app.slider(key="train_beta").max == OVERRIDE_RULES["vae"]["beta"][2]


def test_latent_page_shows_kl_bars_for_a_chosen_vae(monkeypatch, tmp_path):
    from aigc_core.models.registry import get_variant
    from aigc_core.weights import export_weights

    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path))
    model = get_variant("vae", "large").build()
    model.sample(1, seed=0)
    export_weights(model, "tiny-vae-large", tmp_path, description="untrained, for the test")
    app = open_app("pages/latent.py")
    charts = {chart.proto.id: json.loads(chart.proto.spec) for chart in app.get("plotly_chart")}
    bars = [trace for spec in charts.values() for trace in spec["data"] if trace.get("type") == "bar"]
    assert len(bars) == 1 and len(bars[0]["y"]) == 16
    expected = model.kl_per_dimension_on(kl_test_images())
    assert bars[0]["y"] == pytest.approx(expected.tolist(), rel=1e-4, abs=1e-6)
    assert any("KL per latent dimension" in header.value for header in app.subheader)


def test_resume_forgets_kl_rows_logged_after_the_checkpoint(store):
    config = TrainingConfig(model="vae", preset="fast", steps=500, log_every=5, sample_every=5,
                            checkpoint_every=1000, **TINY_TRAINING)
    run = start_run(config, store)

    def stop_at_seven(step, total, losses):
        if step == 7:
            run.request_stop()

    assert train_run(run, progress=stop_at_seven)["state"] == "stopped"
    assert [row["step"] for row in kl_history(run)] == [0, 5, 7]
    # a worker killed after its checkpoint may have logged rows the checkpoint does not cover
    with open(run.path / "kl.jsonl", "a") as stream:
        stream.write(json.dumps({"step": 9, "kl": [9.0, 9.0]}) + "\n")
    assert train_run(run, extra_steps=3)["state"] == "finished"
    assert [row["step"] for row in kl_history(run)] == [0, 5, 7, 10]
