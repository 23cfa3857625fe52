"""Metrics: FID and its matrix square root, Inception Score, coverage, evaluate_model and the CLI.

No classifier is trained here: a tiny untrained one (built by the same code as the shipped
one) measures tiny models on a few hundred test images.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from aigc_core.quality import classifier as classifier_module
from aigc_core.quality import evaluation
from aigc_core.quality.classifier import ClassifierError, build_classifier, load_classifier, save_classifier
from aigc_core.cli import main
from aigc_core.quality.evaluation import (
    class_coverage,
    class_prior_labels,
    compute_reference_rows,
    evaluate_model,
    fid_from_features,
    format_table,
    frechet_distance,
    inception_score,
    sqrtm_psd,
    trace_sqrt_product,
)

TINY_ARCHITECTURE = {"conv_filters": [4], "feature_units": 8, "dropout": 0.0}


@pytest.fixture(scope="module")
def tiny_classifier():
    import keras

    keras.utils.set_random_seed(1)
    return build_classifier(TINY_ARCHITECTURE)


@pytest.fixture
def saved_tiny_classifier(tmp_path, tiny_classifier, monkeypatch):
    """The tiny classifier written where the shipped one would be, with the reference cache in tmp."""
    weights_path = tmp_path / "classifier" / "mnist.weights.h5"
    save_classifier(tiny_classifier, {"architecture": TINY_ARCHITECTURE, "test_accuracy": 0.1},
                    weights_path, weights_path.with_name("mnist.json"))
    monkeypatch.setattr(classifier_module, "CLASSIFIER_WEIGHTS_PATH", weights_path)
    monkeypatch.setattr(evaluation, "REFERENCE_PATH", tmp_path / "reference_metrics.json")
    return weights_path


def tiny_model(family: str):
    from aigc_core.models.registry import build_model

    if family == "gan":
        return build_model("gan", {"architecture": "fast", "latent_dim": 8})
    return build_model("vae", {"architecture": "fast", "latent_dim": 2})


# -- the math -----------------------------------------------------------------------------
def test_fid_is_zero_for_identical_features_and_grows_with_a_mean_shift():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((2000, 6)) @ rng.standard_normal((6, 6))
    assert fid_from_features(features, features) == pytest.approx(0.0, abs=1e-6)
    shifts = [fid_from_features(features, features + shift) for shift in (0.5, 1.0, 2.0)]
    # A pure mean shift of s in each of 6 dimensions adds exactly 6 s^2.
    assert shifts == pytest.approx([6 * 0.25, 6 * 1.0, 6 * 4.0], rel=1e-6)
    other = rng.standard_normal((2000, 6)) * 3.0
    assert fid_from_features(features, other) > 1.0


def test_matrix_square_root_matches_known_cases():
    assert sqrtm_psd(np.diag([4.0, 9.0])) == pytest.approx(np.diag([2.0, 3.0]))
    # tr sqrt(diag(1, 4) diag(9, 1)) = tr diag(3, 2) = 5
    assert trace_sqrt_product(np.diag([1.0, 4.0]), np.diag([9.0, 1.0])) == pytest.approx(5.0)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 5, 5))
    covariance_a, covariance_b = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    root = sqrtm_psd(covariance_a)
    assert root @ root == pytest.approx(covariance_a, abs=1e-9)
    # A B is not symmetric, but its eigenvalues are real and non-negative: tr sqrt = sum sqrt(eig).
    expected = np.sqrt(np.linalg.eigvals(covariance_a @ covariance_b).real).sum()
    assert trace_sqrt_product(covariance_a, covariance_b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(np.zeros(5), covariance_a, np.zeros(5), covariance_a) == pytest.approx(0.0, abs=1e-8)


def test_inception_score_runs_from_one_to_the_number_of_classes():
    identical = np.tile(np.full(10, 0.1), (50, 1))
    assert inception_score(identical) == pytest.approx(1.0)
    one_class = np.tile(np.eye(10)[3], (50, 1))
    assert inception_score(one_class) == pytest.approx(1.0)
    ten_confident_classes = np.repeat(np.eye(10), 20, axis=0)
    assert inception_score(ten_confident_classes) == pytest.approx(10.0, rel=1e-6)
    five_classes = np.repeat(np.eye(10)[:5], 20, axis=0)
    assert inception_score(five_classes) == pytest.approx(5.0, rel=1e-6)


def test_class_coverage_is_a_histogram_of_predicted_digits():
    probabilities = np.full((8, 10), 0.01)
    probabilities[np.arange(8), [0, 0, 0, 1, 1, 2, 3, 3]] = 0.91
    probabilities[7] = 0.1  # one unsure sample, predicted as 0
    coverage = class_coverage(probabilities)
    assert sum(coverage["coverage"]) == pytest.approx(1.0)
    assert coverage["coverage"][:4] == pytest.approx([4 / 8, 2 / 8, 1 / 8, 1 / 8])
    assert coverage["min_class_share"] == 0.0
    assert coverage["max_class_share"] == pytest.approx(0.5)
    assert coverage["confident_share"] == pytest.approx(7 / 8)


def test_format_table_has_a_line_per_row_and_dashes_for_missing_values():
    table = format_table({"vae": {"fid": 12.345, "inception_score": 8.0, "negative_elbo_nats": 101.2, "num_samples": 10},
                          "gan": {"fid": 3.0, "num_samples": 10}})
    lines = table.splitlines()
    assert len(lines) == 4 and "12.35" in lines[2] and "101.2" in lines[2]
    assert lines[3].startswith("gan") and " - " in lines[3]


# -- the classifier files -----------------------------------------------------------------
def test_classifier_round_trip_and_refusals(tmp_path, tiny_classifier):
    weights_path = tmp_path / "mnist.weights.h5"
    save_classifier(tiny_classifier, {"architecture": TINY_ARCHITECTURE}, weights_path, tmp_path / "mnist.json")
    loaded = load_classifier(weights_path)
    images = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    assert np.asarray(loaded(images)) == pytest.approx(np.asarray(tiny_classifier(images)), abs=1e-6)

    with pytest.raises(ClassifierError, match="train_classifier.py"):
        load_classifier(tmp_path / "missing.weights.h5")
    (tmp_path / "mnist.json").write_text(json.dumps({"architecture": {**TINY_ARCHITECTURE, "feature_units": 9}}))
    with pytest.raises(ClassifierError, match="does not fit"):
        load_classifier(weights_path)
    (tmp_path / "mnist.json").write_text(json.dumps({"architecture": {"conv_filters": "many"}}))
    with pytest.raises(ValueError, match="conv_filters"):
        load_classifier(weights_path)


# -- end to end ---------------------------------------------------------------------------
def test_evaluate_model_end_to_end_with_an_injected_classifier(tiny_classifier):
    gan = tiny_model("gan")
    gan_metrics = evaluate_model(gan, num_samples=40, seed=0, classifier=tiny_classifier, reference_limit=300)
    for key in ("fid", "inception_score", "min_class_share", "max_class_share", "confident_share"):
        assert np.isfinite(gan_metrics[key]), key
    assert len(gan_metrics["coverage"]) == 10 and sum(gan_metrics["coverage"]) == pytest.approx(1.0)
    assert gan_metrics["num_samples"] == 40 and gan_metrics["fid"] > 0
    assert 1.0 <= gan_metrics["inception_score"] <= 10.0
    assert "negative_elbo_nats" not in gan_metrics

    again = evaluate_model(gan, num_samples=40, seed=0, classifier=tiny_classifier, reference_limit=300)
    assert again["fid"] == pytest.approx(gan_metrics["fid"]) and again["coverage"] == gan_metrics["coverage"]

    vae_metrics = evaluate_model(tiny_model("vae"), num_samples=40, classifier=tiny_classifier,
                                 reference_limit=300, elbo_limit=200)
    # An untrained Bernoulli decoder outputs ~0.5 everywhere: about 784 ln 2 = 543 nats per image.
    assert 300 < vae_metrics["negative_elbo_nats"] < 900
    assert vae_metrics["negative_elbo_nats"] == pytest.approx(
        vae_metrics["test_reconstruction"] + vae_metrics["test_kl_nats"])

    with pytest.raises(ValueError, match="num_samples"):
        evaluate_model(tiny_model("gan"), num_samples=1, classifier=tiny_classifier)


@pytest.mark.parametrize("num_samples", [2, 37, 10_000])
def test_class_prior_labels_follow_the_training_frequencies(num_samples):
    from aigc_core.data import load_images

    training_labels = load_images("mnist", "train").labels
    expected = np.bincount(training_labels, minlength=10) / len(training_labels) * num_samples
    labels = class_prior_labels(num_samples)
    counts = np.bincount(labels, minlength=10)
    assert labels.dtype == np.int32 and len(labels) == num_samples
    assert np.all(np.abs(counts - expected) < 1)  # rounded, each count off by less than one image
    assert np.all(np.diff(labels) >= 0) and np.array_equal(class_prior_labels(num_samples), labels)
    if num_samples == 10_000:  # MNIST is not balanced: more ones than fives
        assert counts[1] > 1100 and counts[5] < 950


def test_a_conditional_model_is_scored_on_labels_in_the_training_frequencies(tiny_classifier, monkeypatch):
    from aigc_core.models.registry import build_model

    model = build_model("gan", {"architecture": "fast", "latent_dim": 8}, "ConditionalDCGAN")
    asked = []
    original_sample = model.sample
    monkeypatch.setattr(model, "sample", lambda n, seed=0, labels=None: asked.append(labels) or original_sample(n, seed, labels))
    metrics = evaluate_model(model, num_samples=50, classifier=tiny_classifier, reference_limit=300)
    assert len(asked) == 1 and np.array_equal(asked[0], class_prior_labels(50))
    assert len(metrics["digit_agreement"]) == 10 and 0.0 <= metrics["mean_digit_agreement"] <= 1.0


def test_reference_floor_uses_training_images_against_the_test_set(tiny_classifier, monkeypatch):
    from aigc_core import data

    requested = []
    original = data.load_images

    def recording_load_images(name="mnist", split="train", limit=None):
        requested.append(split)
        return original(name, split, limit)

    monkeypatch.setattr(data, "load_images", recording_load_images)
    evaluation._test_statistics.clear()
    rows = compute_reference_rows(num_samples=60, classifier=tiny_classifier, reference_limit=300)
    assert requested[0] == "train" and "test" in requested[1:]
    assert set(rows) == {evaluation.REAL_FLOOR, evaluation.UNTRAINED_CEILING}
    # Even random features tell real digits from an untrained generator's grey noise.
    assert rows[evaluation.REAL_FLOOR]["fid"] < rows[evaluation.UNTRAINED_CEILING]["fid"]


def test_reference_rows_are_cached_per_classifier_checksum(saved_tiny_classifier, monkeypatch, tiny_classifier):
    monkeypatch.setattr(evaluation, "DEFAULT_NUM_SAMPLES", 30)
    computed = []
    original = evaluation.compute_reference_rows

    def counting(*args, **kwargs):
        computed.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluation, "compute_reference_rows", counting)
    first = evaluation.reference_rows(30, reference_limit=200)
    cache = json.loads(evaluation.REFERENCE_PATH.read_text())
    assert cache["num_samples"] == 30 and cache["rows"] == first
    assert evaluation.reference_rows(30, reference_limit=200) == first and len(computed) == 1

    evaluation.reference_rows(20, reference_limit=200)  # another N is computed, not written
    assert len(computed) == 2 and json.loads(evaluation.REFERENCE_PATH.read_text())["num_samples"] == 30

    import keras

    keras.utils.set_random_seed(7)
    save_classifier(build_classifier(TINY_ARCHITECTURE), {"architecture": TINY_ARCHITECTURE}, saved_tiny_classifier,
                    saved_tiny_classifier.with_name("mnist.json"))
    evaluation.reference_rows(30, reference_limit=200)
    assert len(computed) == 3
    assert json.loads(evaluation.REFERENCE_PATH.read_text())["classifier_sha256"] != cache["classifier_sha256"]


# -- the command line ---------------------------------------------------------------------
@pytest.mark.parametrize("arguments", [["--num", "0"], ["--num", "100001"], ["--seed", "-1"]])
def test_cli_evaluate_refuses_bad_arguments_in_one_line(arguments, capsys):
    assert main(["evaluate", "--weights", "gan-fast", *arguments]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and len(error.strip().splitlines()) == 1


def test_cli_evaluate_without_a_classifier_says_how_to_train_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(classifier_module, "CLASSIFIER_WEIGHTS_PATH", tmp_path / "none" / "mnist.weights.h5")
    assert main(["evaluate", "--weights", "gan-fast", "--num", "10"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "scripts/train_classifier.py" in error


def test_cli_evaluate_of_weights_prints_and_writes_only_the_json_asked_for(tmp_path, saved_tiny_classifier, capsys):
    from aigc_core.weights import export_weights

    weights_path = export_weights(tiny_model("vae"), "tiny-vae", tmp_path / "weights", description="test")
    files_before = sorted(path.name for path in (tmp_path / "weights").iterdir())
    assert main(["evaluate", "--weights", str(weights_path), "--num", "30"]) == 0
    output = capsys.readouterr().out
    assert "tiny-vae" in output and evaluation.REAL_FLOOR in output and evaluation.UNTRAINED_CEILING in output
    assert sorted(path.name for path in (tmp_path / "weights").iterdir()) == files_before  # nothing beside

    assert main(["evaluate", "--weights", str(weights_path), "--num", "30", "--json", str(tmp_path / "out.json")]) == 0
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["num_samples"] == 30 and written["family"] == "vae" and "negative_elbo_nats" in written
    assert set(written["reference"]) == {evaluation.REAL_FLOOR, evaluation.UNTRAINED_CEILING}
    assert written["reference"][evaluation.REAL_FLOOR]["num_samples"] == 30
    from aigc_core.data import sha256_of

    assert written["weights_sha256"] == sha256_of(weights_path)


def test_shipped_classifier_is_accurate_when_present():
    if not classifier_module.CLASSIFIER_WEIGHTS_PATH.is_file():
        pytest.skip("no shipped classifier; train it with python scripts/train_classifier.py")
    from aigc_core.data import load_images

    test = load_images("mnist", "test", limit=1000)
    _, probabilities = evaluation.classifier_features_and_probabilities(
        test.images / 255.0, load_classifier(classifier_module.CLASSIFIER_WEIGHTS_PATH))
    assert (probabilities.argmax(axis=1) == test.labels).mean() >= 0.98
    description = json.loads(classifier_module.CLASSIFIER_CONFIG_PATH.read_text())
    assert description["test_accuracy"] >= 0.99


def test_cli_evaluate_writes_metrics_into_a_run(tmp_path, saved_tiny_classifier, monkeypatch, capsys):
    from aigc_core.config import TrainingConfig
    from aigc_core.runs.store import RunStore
    from aigc_core.runs.training import start_run, train_run

    monkeypatch.setenv("AIGC_RUNS_DIR", str(tmp_path / "runs"))
    config = TrainingConfig(model="gan", preset="fast", steps=2, batch_size=32, train_limit=256,
                            sample_every=100, checkpoint_every=100)
    run = start_run(config, RunStore())
    assert train_run(run)["state"] == "finished"
    assert main(["evaluate", "--run", str(run.path), "--num", "20", "--seed", "3"]) == 0
    assert run.run_id in capsys.readouterr().out
    written = json.loads((run.path / "metrics.json").read_text())
    assert written["family"] == "gan" and written["seed"] == 3 and written["num_samples"] == 20
