"""AppTests of the Compare and Latent space pages, against two tiny runs trained here.

Shipped weights in the real weights/ folder may or may not exist (they are trained
separately); the tests hide them, so the pages see exactly the runs made here.
"""

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from aigc_core.config import TrainingConfig
from aigc_core.runs.store import RunStore
from aigc_core.runs.training import start_run, train_run

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    """A run store with one finished GAN run and one finished 2-D VAE run (10 steps each)."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIGC_RUNS_DIR", str(root))
        store = RunStore()
        run_ids = {}
        for family, latent_dim in (("gan", 16), ("vae", 2)):
            config = TrainingConfig(model=family, preset="fast", overrides={"latent_dim": latent_dim}, steps=10,
                                    train_limit=256, batch_size=32, sample_every=5, log_every=2, seed=0)
            run = start_run(config, store)
            status = train_run(run)
            assert status["state"] == "finished", status
            run_ids[family] = run.run_id
        yield root, run_ids


def hide_shipped_weights(monkeypatch):
    monkeypatch.setattr("aigc_core.sources.shipped_weights", lambda directory=None: [])


@pytest.fixture
def runs(runs_dir, monkeypatch):
    root, run_ids = runs_dir
    monkeypatch.setenv("AIGC_RUNS_DIR", str(root))
    hide_shipped_weights(monkeypatch)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield root, run_ids
    st.cache_resource.clear()
    st.cache_data.clear()


def open_page(name: str, **widgets) -> AppTest:
    """Run the app on one page, with keyed widgets set before the first run."""
    app = AppTest.from_file(APP, default_timeout=120)
    for key, value in widgets.items():
        app.session_state[key] = value
    app.switch_page(f"pages/{name}.py").run()
    assert not app.exception, app.exception
    return app


def images_with_caption(app: AppTest, text: str) -> list:
    return [image for image in app.get("image") if text in (image.proto.imgs[0].caption if image.proto.imgs else "")]


def image_urls(app: AppTest, text: str) -> list[str]:
    return [image.proto.imgs[0].url for image in images_with_caption(app, text)]


def trace_length(values) -> int:
    """Points in a trace column: a list, or plotly's base64 typed array {"dtype", "bdata"}."""
    if isinstance(values, dict):
        return len(base64.b64decode(values["bdata"])) // np.dtype(values["dtype"]).itemsize
    return len(values)


def plotly_spec(app: AppTest, key_part: str) -> dict:
    charts = [chart for chart in app.get("plotly_chart") if key_part in chart.proto.id]
    assert charts, f"no plotly chart with {key_part!r} in its id"
    return json.loads(charts[0].proto.spec)


# -- Compare ------------------------------------------------------------------------------
def test_compare_shows_two_sample_grids_with_facts(runs):
    _, run_ids = runs
    app = open_page("compare", compare_left=f"run:{run_ids['gan']}", compare_right=f"run:{run_ids['vae']}")
    assert app.selectbox(key="compare_left").value == f"run:{run_ids['gan']}"
    assert app.selectbox(key="compare_right").value == f"run:{run_ids['vae']}"
    grids = image_urls(app, "64 samples, seed 0")
    assert len(grids) == 2 and grids[0] != grids[1]
    assert len(images_with_caption(app, "spherical interpolation from seed 0 to seed 1")) == 2
    steps = [metric.value for metric in app.metric if metric.label == "steps"]
    assert steps == ["10", "10"]
    assert sum("not evaluated yet" in caption.value for caption in app.caption) == 2
    assert not app.error
    # Both runs logged losses: one loss chart per side.
    assert plotly_spec(app, "compare_loss_left")["data"] and plotly_spec(app, "compare_loss_right")["data"]


def test_compare_shows_evaluation_numbers_when_a_metrics_file_exists(runs):
    root, run_ids = runs
    metrics_path = root / run_ids["gan"] / "metrics.json"
    metrics_path.write_text(json.dumps({"fid": 12.345, "inception_score": 8.1, "num_samples": 1000}))
    try:
        app = open_page("compare", compare_left=f"run:{run_ids['gan']}", compare_right=f"run:{run_ids['vae']}")
        tables = app.table
        assert len(tables) == 1
        frame = tables[0].value
        assert "12.3" in frame.to_string() and "8.10" in frame.to_string()
        assert sum("not evaluated yet" in caption.value for caption in app.caption) == 1
    finally:
        metrics_path.unlink()


def test_compare_seed_changes_the_samples_and_returns_to_them(runs):
    _, run_ids = runs
    app = open_page("compare", compare_left=f"run:{run_ids['gan']}", compare_right=f"run:{run_ids['vae']}")
    first = image_urls(app, "64 samples, seed 0")
    app.number_input(key="compare_seed").set_value(7).run()
    assert not app.exception
    changed = image_urls(app, "64 samples, seed 7")
    assert len(changed) == 2 and set(changed).isdisjoint(first)
    app.number_input(key="compare_seed").set_value(0).run()
    assert image_urls(app, "64 samples, seed 0") == first  # same seed, same images


def test_compare_timeline_slider_walks_through_the_snapshots(runs):
    _, run_ids = runs
    app = open_page("compare", compare_timeline_run=run_ids["gan"])
    slider = app.select_slider(key="compare_timeline_step")
    assert slider.options == ["step 0", "step 5", "step 10"]
    assert slider.value == 10  # the latest snapshot first
    assert image_urls(app, "at step 10")
    last = image_urls(app, "at step 10")
    slider.set_value(0).run()
    assert not app.exception
    assert image_urls(app, "at step 0") and image_urls(app, "at step 0") != last
    # Another run keeps a valid step.
    app.selectbox(key="compare_timeline_run").set_value(run_ids["vae"]).run()
    assert not app.exception
    assert app.select_slider(key="compare_timeline_step").value in (0, 5, 10)
    assert image_urls(app, "VAE (fast) #1 at step")  # the caption names the run by its name


# -- Latent space -------------------------------------------------------------------------
def test_latent_vae_shows_manifold_scatter_and_reconstructions(runs):
    _, run_ids = runs
    app = open_page("latent", latent_source=f"run:{run_ids['vae']}")
    assert not app.error
    assert len(images_with_caption(app, "15 × 15 grid of the latent plane")) == 1
    spec = plotly_spec(app, "latent_scatter")
    assert [trace["name"] for trace in spec["data"]] == [str(digit) for digit in range(10)]
    assert sum(trace_length(trace["x"]) for trace in spec["data"]) == 2000
    # One test digit of each class by default: originals above reconstructions.
    originals = images_with_caption(app, "originals: digits")
    assert originals[0].proto.imgs[0].caption.endswith("0 1 2 3 4 5 6 7 8 9")
    assert len(images_with_caption(app, "reconstructions")) == 1

    app.text_input(key="latent_digits").set_value("0, 1, 2").run()
    assert images_with_caption(app, "originals: digits")[0].proto.imgs[0].caption.endswith("7 2 1")
    app.text_input(key="latent_digits").set_value("1, two").run()
    assert not app.exception
    assert len(app.error) == 1 and "two" in app.error[0].value
    assert not images_with_caption(app, "reconstructions")


def test_latent_gan_interpolates_between_two_seeds(runs):
    _, run_ids = runs
    app = open_page("latent", latent_source=f"run:{run_ids['gan']}")
    assert app.radio(key="latent_method").value == "spherical"
    spherical = image_urls(app, "10 frames, spherical interpolation from seed 0 to seed 1")
    assert len(spherical) == 1
    norms = plotly_spec(app, "latent_norms")
    assert [trace["name"] for trace in norms["data"]] == ["linear", "spherical"]
    assert all(trace_length(trace["y"]) == 10 for trace in norms["data"])

    app.radio(key="latent_method").set_value("linear").run()
    linear = image_urls(app, "10 frames, linear interpolation from seed 0 to seed 1")
    assert len(linear) == 1 and linear != spherical
    app.number_input(key="latent_seed_b").set_value(5).run()
    assert image_urls(app, "linear interpolation from seed 0 to seed 5")
    assert not app.exception and not app.error


def test_a_broken_source_gives_an_error_line_not_an_exception(runs):
    root, run_ids = runs
    broken = root / "broken-vae"
    shutil.copytree(root / run_ids["vae"], broken)
    (broken / "model.weights.h5").write_bytes(b"not an h5 file")
    try:
        app = open_page("latent", latent_source="run:broken-vae")
        assert len(app.error) == 1 and "run:broken-vae" in app.error[0].value
        assert "Traceback" not in app.error[0].value

        app = open_page("compare", compare_left="run:broken-vae", compare_right=f"run:{run_ids['gan']}")
        assert len(app.error) == 1 and "run:broken-vae" in app.error[0].value
        assert len(image_urls(app, "64 samples, seed 0")) == 1  # the other side still draws
    finally:
        shutil.rmtree(broken)


def test_an_unknown_source_in_the_session_falls_back_to_a_listed_one(runs):
    _, run_ids = runs
    app = open_page("latent", latent_source="weights:does-not-exist")
    assert app.selectbox(key="latent_source").value in {f"run:{run_id}" for run_id in run_ids.values()}
    assert not app.error


def test_without_models_both_pages_point_to_train(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_RUNS_DIR", str(tmp_path))
    hide_shipped_weights(monkeypatch)
    st.cache_resource.clear()
    st.cache_data.clear()
    for page in ("compare", "latent"):
        app = open_page(page)
        assert not app.error
        assert any("Train" in info.value for info in app.info), page
    assert not app.get("image")
