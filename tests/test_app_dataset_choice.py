"""AppTests of the dataset choice: the Train page's picker, a refused Start, and the dataset shown
on Runs, Compare and Latent; also the Train page's precision choice.

Nothing downloads and nothing trains: `$AIGC_DATA_DIR` points at a small fake Fashion-MNIST file
(or at an empty folder), `$KERAS_HOME` at an empty folder so a machine's keras.datasets cache
cannot stand in for the missing file, workers are recorded instead of started, and the models
on Compare and Latent are untrained tiny exports in a temp weights folder.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from aigc_core import data
from aigc_core.runs.store import RunStore
from aigc_core.runs.training import start_run
from conftest import tiny_config
from test_twin_and_share import isolate_app, open_page

NOT_HERE = "is not on this server"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, runs_dir):
    """Empty weights, data and keras folders, fresh caches, workers recorded instead of started."""
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path / "datasets"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    yield from isolate_app(tmp_path, monkeypatch, runs_dir)


@pytest.fixture
def fashion_file():
    """A Fashion-MNIST-shaped data file where `$AIGC_DATA_DIR` says; test labels cycle 0-9."""
    rng = np.random.default_rng(0)
    path = data.data_file_path("fashion_mnist")
    path.parent.mkdir(parents=True)
    np.savez(path, x_train=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 64).astype(np.uint8),
             x_test=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), y_test=np.arange(40, dtype=np.uint8) % 10)
    return path


def texts(elements) -> list[str]:
    return [str(element.value) for element in elements]


def export_tiny(directory, family: str, name: str, **metadata) -> str:
    from aigc_core.models.registry import build_model
    from aigc_core.weights import export_weights

    model = build_model(family, {"architecture": "fast", "latent_dim": 2})
    model.sample(1, seed=0)  # builds the networks so their weights can be saved
    export_weights(model, name, directory, description="untrained, for the test", **metadata)
    return f"weights:{name}"


# -- the Train page ---------------------------------------------------------------------------
def test_the_dataset_picker_offers_both_datasets_and_starts_on_mnist():
    app = open_page("pages/train.py")
    picker = app.selectbox(key="train_dataset")
    assert picker.label == "Dataset" and picker.value == "mnist"
    assert picker.options == ["MNIST digits", "Fashion-MNIST clothes"]
    assert not app.error and not any(NOT_HERE in text for text in texts(app.caption))


def test_fashion_with_its_data_file_starts_a_fashion_run(isolated, fashion_file):
    app = open_page("pages/train.py")
    app.selectbox(key="train_dataset").set_value("fashion_mnist").run()
    assert not any(NOT_HERE in text for text in texts(app.caption))
    app.number_input(key="train_batch_size").set_value(32)
    app.number_input(key="train_steps").set_value(5)
    app.button(key="train_start").click().run()
    assert not app.exception and not app.error, texts(app.error)

    assert len(isolated["spawned"]) == 1
    run = RunStore().get(isolated["spawned"][0])
    assert run.config()["dataset"] == "fashion_mnist"
    assert any("on Fashion-MNIST" in text for text in texts(app.caption))  # the live view's caption


def test_a_twin_run_trains_both_models_on_the_chosen_dataset(isolated, fashion_file):
    app = open_page("pages/train.py")
    app.selectbox(key="train_dataset").set_value("fashion_mnist").run()
    app.number_input(key="train_steps").set_value(5)
    app.button(key="train_twin").click().run()
    assert not app.exception and not app.error, texts(app.error)

    runs = [RunStore().get(run_id) for run_id in isolated["spawned"]]
    assert sorted(run.config()["model"] for run in runs) == ["gan", "vae"]
    assert [run.config()["dataset"] for run in runs] == ["fashion_mnist", "fashion_mnist"]


def test_the_precision_choice_reaches_the_run_and_its_caption(isolated):
    app = open_page("pages/train.py")
    picker = app.selectbox(key="train_precision")
    assert picker.value == "float32" and picker.options == ["float32", "mixed bfloat16"]
    picker.set_value("mixed_bfloat16").run()
    app.number_input(key="train_steps").set_value(5)
    app.button(key="train_start").click().run()
    assert not app.exception and not app.error, texts(app.error)

    run = RunStore().get(isolated["spawned"][0])
    assert run.config()["precision"] == "mixed_bfloat16"
    assert any(" · mixed bfloat16 · batch" in text for text in texts(app.caption)), texts(app.caption)


@pytest.mark.parametrize("cpu_has_bfloat16", [True, False])
def test_picking_the_vae_starts_precision_at_its_default_for_this_cpu(isolated, monkeypatch, cpu_has_bfloat16):
    from aigc_core import devices

    monkeypatch.setattr(devices, "cpu_computes_bfloat16", lambda: cpu_has_bfloat16)
    app = open_page("pages/train.py")
    assert app.selectbox(key="train_precision").value == "float32"  # the first GAN (clusters) gained nothing from bfloat16
    app.radio(key="train_model").set_value("vae").run()
    assert not app.exception, app.exception
    expected = "mixed_bfloat16" if cpu_has_bfloat16 else "float32"
    assert app.selectbox(key="train_precision").value == expected
    app.number_input(key="train_steps").set_value(5)
    app.button(key="train_start").click().run()
    assert RunStore().get(isolated["spawned"][0]).config()["precision"] == expected


def test_without_the_data_file_start_is_refused_in_one_line(isolated):
    app = open_page("pages/train.py", train_dataset="fashion_mnist")
    errors = texts(app.error)
    assert len(errors) == 1 and NOT_HERE in errors[0], errors
    assert "python scripts/fetch_fashion_mnist.py" in errors[0] and "\n" not in errors[0]
    assert any(NOT_HERE in text and "fetch_fashion_mnist.py" in text for text in texts(app.caption))
    assert app.button(key="train_start").disabled  # AppTest, like a browser, cannot press it now
    assert app.button(key="train_twin").disabled
    assert isolated["spawned"] == [] and RunStore().list() == []

    app.selectbox(key="train_dataset").set_value("mnist").run()  # MNIST is bundled: Start is back
    assert not app.error and not app.button(key="train_start").disabled


# -- Runs, Compare, Latent ----------------------------------------------------------------------
def test_a_run_caption_on_runs_names_a_dataset_other_than_mnist(store):
    mnist_run = start_run(tiny_config(), store)
    fashion_run = start_run(tiny_config(dataset="fashion_mnist"), store)

    app = open_page("pages/runs.py", runs_select=fashion_run.run_id)
    assert any(text.startswith("GAN · preset fast · on Fashion-MNIST · queued") for text in texts(app.caption)), \
        texts(app.caption)
    app.selectbox(key="runs_select").set_value(mnist_run.run_id).run()
    assert any(text.startswith("GAN · preset fast · queued") for text in texts(app.caption))
    assert not any("MNIST" in text for text in texts(app.caption))  # the default is left unsaid


def test_compare_warns_once_when_the_two_sides_were_trained_on_different_datasets(isolated):
    mnist_key = export_tiny(isolated["weights"], "gan", "tiny-gan")
    fashion_key = export_tiny(isolated["weights"], "vae", "tiny-fashion-vae", dataset="fashion_mnist")
    export_tiny(isolated["weights"], "vae", "tiny-vae")

    app = open_page("pages/compare.py", compare_left=mnist_key, compare_right=fashion_key)
    warnings = [text for text in texts(app.warning) if "different datasets" in text]
    assert len(warnings) == 1 and "not comparable" in warnings[0]
    assert "MNIST on the left, Fashion-MNIST on the right" in warnings[0]

    app.selectbox(key="compare_right").set_value("weights:tiny-vae").run()
    assert not any("different datasets" in text for text in texts(app.warning))


def test_latent_shows_a_fashion_vae_its_own_test_images(isolated, fashion_file):
    key = export_tiny(isolated["weights"], "vae", "tiny-fashion-vae", dataset="fashion_mnist")

    app = open_page("pages/latent.py", latent_source=key, latent_digits="0, 1, 2, 3")
    assert not app.error, texts(app.error)
    captions = texts(app.caption)
    assert any(text.startswith("40 Fashion-MNIST test images at their posterior means") for text in captions), captions
    captions = [image.proto.imgs[0].caption for image in app.get("image") if image.proto.imgs]
    assert "originals: T-shirt/top, Trouser, Pullover, Dress" in captions, captions  # the fake's test labels
    figures = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    legends = [[trace.get("name") for trace in figure["data"]] for figure in figures]
    assert list(data.CLASS_NAMES["fashion_mnist"]) in legends  # the scatter's legend names kinds of clothing
