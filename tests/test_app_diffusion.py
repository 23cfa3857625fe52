"""AppTests of the diffusion family in the app: trained from Train, listed by Runs, denoised on its own page.

Runs go to the per-test `$AIGC_RUNS_DIR` (conftest) and shipped weights to an empty folder, so the
project's own runs/ and weights/ never leak in. The runs are tiny: a few steps of the fast U-Net,
drawn in two denoising steps.
"""

from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from conftest import tiny_config
from aigc_core.runs.store import PROJECT_ROOT, RunStore

APP = str(PROJECT_ROOT / "app.py")
TIMEOUT_S = 120


# Every test: an empty weights folder, fresh caches, no worker left running (conftest).
pytestmark = pytest.mark.usefixtures("isolated_app")


def open_page(page: str, query: dict | None = None) -> AppTest:
    from ui import visitor

    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.session_state[visitor.OPERATOR_KEY] = True
    if query:
        app.query_params.update(query)
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def poll(app: AppTest, condition, timeout_s: float, message: str) -> AppTest:
    """Rerun the page (AppTest never fires `run_every`) until `condition(app)` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        app.run()
        assert not app.exception, [item.value for item in app.exception]
        if condition(app):
            return app
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {message}")
        time.sleep(1.0)


def chart_trace_names(app: AppTest) -> list[str]:
    return [trace.get("name") for chart in app.get("plotly_chart")
            for trace in json.loads(chart.proto.spec).get("data", [])]


@pytest.fixture(scope="module")
def trained_diffusion_folder(tmp_path_factory):
    """A finished tiny diffusion run (checkpoint, logged losses, snapshots), trained once in this process."""
    import os

    from aigc_core.runs.training import train_run

    root = tmp_path_factory.mktemp("diffusion-runs")
    saved = {name: os.environ.get(name) for name in ("AIGC_RUNS_DIR", "AIGC_QUALITY_SAMPLES")}
    os.environ.update(AIGC_RUNS_DIR=str(root), AIGC_QUALITY_SAMPLES="0")
    try:
        # No weight average: after a few steps the averaged denoiser is still its zero start, which draws nothing.
        run = RunStore().create(tiny_config(model="diffusion", steps=4, log_every=2, sample_every=2, ema_decay=0.0,
                                            overrides={"sampling_steps": 2}).to_dict())
        train_run(run)
        assert run.status()["state"] == "finished"
        run.update_status(pid=None, pid_start_time=None)  # trained by this test process: no worker to end
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    return run.path


@pytest.fixture
def diffusion_run(trained_diffusion_folder, store):
    """A copy of the trained run in this test's own runs folder."""
    import shutil

    shutil.copytree(trained_diffusion_folder, store.root / trained_diffusion_folder.name)
    return store.get(trained_diffusion_folder.name)


def test_train_offers_diffusion_with_its_own_plain_fields():
    app = open_page("pages/train.py")
    app.radio(key="train_model").set_value("diffusion").run()
    assert not app.exception
    assert app.radio(key="train_model").format_func("diffusion") == "Diffusion"
    assert app.number_input(key="train_sampling_steps").label == "Denoising steps when drawing"
    assert app.radio(key="train_objective").value == "flow"
    assert app.radio(key="train_objective").format_func("ddpm") == "the added noise (DDPM)"
    assert "train_d_lr" not in [widget.key for widget in app.number_input]  # no GAN fields
    app.radio(key="train_objective").set_value("ddpm").run()
    assert not app.exception and not app.button(key="train_start").disabled
    app.radio(key="train_model").set_value("gan").run()  # back to a GAN: its own fields, none of these
    assert "train_sampling_steps" not in [widget.key for widget in app.number_input]


def test_the_live_view_of_a_diffusion_run_shows_its_noise_bands_and_no_gan_tips(diffusion_run):
    app = open_page("pages/train.py", {"run": diffusion_run.run_id})
    names = chart_trace_names(app)
    assert {"loss at low noise", "loss at middle noise", "loss at high noise"} <= set(names), names
    assert app.get("image")  # the snapshot grid of the fixed noise batch
    assert any("Diffusion" in caption.value for caption in app.caption)
    assert not app.warning and not app.error  # no GAN or VAE diagnosis card for a denoiser


def test_a_link_carries_the_diffusion_fields_both_ways():
    app = open_page("pages/train.py", {"model": "diffusion", "objective": "ddpm", "sampling_steps": "8"})
    assert (app.session_state["train_model"], app.radio(key="train_objective").value) == ("diffusion", "ddpm")
    assert app.number_input(key="train_sampling_steps").value == 8
    assert not [item.value for item in app.info if "link" in item.value]
    app.number_input(key="train_sampling_steps").set_value(4).run()
    assert app.query_params.get("sampling_steps") in ("4", ["4"])
    assert app.query_params.get("objective") in ("ddpm", ["ddpm"])
    bad = open_page("pages/train.py", {"model": "diffusion", "objective": "gan"})
    assert bad.radio(key="train_objective").value == "flow"
    assert any("What the network learns to predict" in item.value for item in bad.info)


def test_the_denoising_page_walks_from_pure_noise_to_the_digits(diffusion_run):
    app = open_page("pages/denoise.py")
    assert app.selectbox(key="denoise_source").value == f"run:{diffusion_run.run_id}"
    assert app.selectbox(key="denoise_source").format_func(f"run:{diffusion_run.run_id}").startswith("Diffusion ·")
    assert app.number_input(key="denoise_steps").value == 2  # the run's own denoising steps
    slider = app.slider(key="denoise_frame")
    assert (slider.min, slider.max, slider.value) == (0, 2, 2)
    assert any("the finished digits" in caption.value for caption in app.caption)
    finished_grid = app.get("image")[0].proto.imgs[0].url  # AppTest names a media file by its bytes' hash
    slider.set_value(0).run()
    assert not app.exception
    assert any("pure noise" in caption.value for caption in app.caption)
    assert app.get("image")[0].proto.imgs[0].url != finished_grid
    assert app.get("download_button")  # the GIF
    app.number_input(key="denoise_steps").set_value(3).run()
    assert app.slider(key="denoise_frame").max == 3 and app.slider(key="denoise_frame").value == 3
    assert app.query_params.get("steps") in ("3", ["3"])


def test_steps_versus_quality_measures_each_step_count_on_request(diffusion_run, monkeypatch):
    from ui import denoise_view

    monkeypatch.setattr(denoise_view, "EVAL_SAMPLES", 20)  # FID from 20 samples: enough to see a number
    app = open_page("pages/denoise.py")
    assert any("Not measured yet" in caption.value for caption in app.caption)
    assert any("Estimated time on this machine" in caption.value for caption in app.caption)
    app.select_slider(key="denoise_largest").set_value(2).run()
    app.button(key="denoise_measure").click().run()
    assert not app.exception and not app.error, [item.value for item in app.error]
    shown = "\n".join(item.value for item in app.markdown)
    assert "Steps: **1**" in shown and "Steps: **2**" in shown and "FID" in shown
    assert "Steps: **4**" not in shown


def test_the_denoising_page_without_a_diffusion_model_says_how_to_get_one():
    app = open_page("pages/denoise.py")
    assert any("No diffusion model yet" in item.value for item in app.info)
    assert "denoise_measure" not in [button.key for button in app.button]


@pytest.fixture
def tiny_vae_weights(isolated_app):
    from aigc_core.models.registry import get_variant
    from aigc_core.weights import export_weights

    model = get_variant("vae", "fast").build()
    model.sample(1, seed=0)  # builds the networks so their weights can be saved
    export_weights(model, "tiny-vae", isolated_app, description="untrained, for the test")
    return "weights:tiny-vae"


def test_compare_stands_a_diffusion_run_beside_a_vae(diffusion_run, tiny_vae_weights):
    run_key = f"run:{diffusion_run.run_id}"
    app = open_page("pages/compare.py", {"left": run_key, "right": tiny_vae_weights})
    assert (app.selectbox(key="compare_left").value, app.selectbox(key="compare_right").value) \
        == (run_key, tiny_vae_weights)
    headings = [item.value for item in app.markdown if item.value.startswith("####")]
    assert any(heading.startswith("#### Diffusion · run") for heading in headings), headings
    assert any(heading.startswith("#### VAE · shipped") for heading in headings), headings
    assert not app.error, [item.value for item in app.error]
    assert "loss at high noise" in chart_trace_names(app)  # the card's and the timeline's loss history


def test_runs_lists_a_diffusion_run_with_plain_loss_names(diffusion_run):
    app = open_page("pages/runs.py")
    assert "Diffusion" in set(app.dataframe[0].value.astype(str).values.ravel())  # its family, not "DIFFUSION"
    assert "loss at middle noise" in chart_trace_names(app)
    assert not app.error and not app.warning


def test_latent_space_leaves_diffusion_out_and_says_why(diffusion_run, tiny_vae_weights):
    app = open_page("pages/latent.py")
    assert app.selectbox(key="latent_source").options == ["VAE · shipped: tiny-vae"]
    assert any("Diffusion models are not listed here" in caption.value for caption in app.caption)


def test_the_conditional_page_adds_a_diffusion_column_once_a_conditional_diffusion_model_exists(store, monkeypatch):
    import functools

    from aigc_core.runs.training import train_run
    from ui import conditional_view

    # The classifier's agreement from 4 samples per digit: the table is shown, the test stays short.
    monkeypatch.setattr(conditional_view, "agreement", functools.partial(conditional_view.agreement,
                                                                         samples_per_digit=4))
    empty = open_page("pages/conditional.py")
    assert not any("Conditional Diffusion" in item.value for item in empty.markdown)  # two columns, as before
    run = store.create(tiny_config(model="diffusion", preset="conditional", steps=2, ema_decay=0.0,
                                   overrides={"sampling_steps": 2}).to_dict())
    train_run(run)
    run.update_status(pid=None, pid_start_time=None)  # trained by this test process: no worker to end
    app = open_page("pages/conditional.py")
    assert any(item.value == "#### Conditional Diffusion" for item in app.markdown)
    assert app.selectbox(key="conditional_diffusion").value == f"run:{run.run_id}"
    assert any("Conditional Diffusion: 8 times the digit 7" in image.caption
               for element in app.get("image") for image in element.proto.imgs)
    assert not app.error, [item.value for item in app.error]
    assert any("of 4 samples per digit" in item.value for item in app.caption)  # the agreement under the grid
