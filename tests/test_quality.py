"""Quality over time: each snapshot of a run scored (FID, IS, class coverage) into quality.jsonl.

A tiny untrained classifier (built by the same code as the shipped one) is saved in a temp
folder and put where the shipped one would be, so nothing is written into the project and the
10,000 test images pass through it in a moment.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from aigc_core.quality import classifier as classifier_module
from aigc_core.quality import evaluation, live as quality
from aigc_core.quality.classifier import build_classifier, save_classifier
from aigc_core.quality.live import QUALITY_KEYS, QUALITY_SAMPLES_VARIABLE, SnapshotScorer
from aigc_core.runs.training import start_run, train_run
from tests.conftest import PROJECT_ROOT, tiny_config

TINY_ARCHITECTURE = {"conv_filters": [4], "feature_units": 8, "dropout": 0.0}
SAMPLES = 200


@pytest.fixture
def tiny_classifier_path(tmp_path, monkeypatch):
    """A tiny classifier where the shipped one would be; scoring draws 200 samples per snapshot."""
    import keras

    keras.utils.set_random_seed(1)
    weights_path = tmp_path / "classifier" / "mnist.weights.h5"
    save_classifier(build_classifier(TINY_ARCHITECTURE), {"architecture": TINY_ARCHITECTURE},
                    weights_path, weights_path.with_name("mnist.json"))
    monkeypatch.setattr(classifier_module, "CLASSIFIER_WEIGHTS_PATH", weights_path)
    monkeypatch.setenv(QUALITY_SAMPLES_VARIABLE, str(SAMPLES))
    return weights_path


def assert_valid_rows(rows, steps):
    assert [row["step"] for row in rows] == steps
    for row in rows:
        assert set(row) == set(QUALITY_KEYS)
        assert all(isinstance(row[key], (int, float)) and math.isfinite(row[key]) for key in QUALITY_KEYS), row
        assert row["fid"] >= 0.0 and 1.0 <= row["inception_score"] <= 10.0 + 1e-9
        # Ten shares summing to 1: the rarest digit has at most 10%, the commonest at least 10%.
        assert 0.0 <= row["min_class_share"] <= 0.1 + 1e-9 and 0.1 - 1e-9 <= row["max_class_share"] <= 1.0
        assert 0.0 <= row["confident_share"] <= 1.0
        assert row["num_samples"] == SAMPLES and row["seconds_spent"] > 0.0
    assert [row["elapsed_s"] for row in rows] == sorted(row["elapsed_s"] for row in rows)


def test_every_snapshot_of_a_tiny_run_is_scored(store, tiny_classifier_path, monkeypatch):
    run = start_run(tiny_config(steps=20, sample_every=10), store)
    status = train_run(run)

    assert status["state"] == "finished", status
    rows = run.quality()
    assert_valid_rows(rows, [0, 10, 20])  # the untrained model, then each snapshot
    assert [row["step"] for row in rows] == [step for step, _ in run.snapshots()]
    assert rows[0]["elapsed_s"] == 0.0 and rows[-1]["elapsed_s"] <= status["elapsed_s"] + 1e-6
    # The same latent batch every time: a model that changed gets a different score.
    assert rows[0]["fid"] != rows[-1]["fid"]
    # The test-set statistics were cached beside the classifier, tied to its checksum.
    with np.load(quality.statistics_path(tiny_classifier_path)) as cached:
        assert cached["mean"].shape == (8,) and cached["covariance"].shape == (8, 8)

    # A row per scored snapshot; a partial last line (being written) is skipped by the reader.
    with open(run.quality_path, "a") as stream:
        stream.write('{"step": 30, "fi')
    assert [row["step"] for row in run.quality()] == [0, 10, 20]


def test_a_vae_run_is_scored_too(store, tiny_classifier_path):
    run = start_run(tiny_config(model="vae", steps=10, sample_every=10), store)
    assert train_run(run)["state"] == "finished"
    assert_valid_rows(run.quality(), [0, 10])


def test_a_conditional_run_is_scored_on_labels_drawn_as_evaluate_draws_them(store, tiny_classifier_path, monkeypatch):
    from aigc_core.models.registry import build_model

    model = build_model("gan", {"architecture": "fast", "latent_dim": 8}, "ConditionalDCGAN")
    run = start_run(tiny_config(steps=10), store)
    scorer = quality.make_snapshot_scorer(model, run, seed=0)
    asked = []
    original_generate = model.generate
    monkeypatch.setattr(model, "generate", lambda latent, labels=None: asked.append(labels) or original_generate(latent, labels))
    scorer.score(model, step=0, elapsed_s=0.0)
    assert len(asked) == 1 and np.array_equal(asked[0], evaluation.class_prior_labels(SAMPLES))
    assert [row["step"] for row in run.quality()] == [0]


def test_zero_samples_switches_scoring_off_and_scoring_never_changes_training(store, tiny_classifier_path,
                                                                              monkeypatch):
    scored = start_run(tiny_config(steps=10, sample_every=10), store)
    assert train_run(scored)["state"] == "finished"

    monkeypatch.setenv(QUALITY_SAMPLES_VARIABLE, "0")
    plain = start_run(tiny_config(steps=10, sample_every=10), store)
    assert train_run(plain)["state"] == "finished"

    assert not plain.quality_path.exists() and plain.quality() == []
    assert "switched off" in quality.scoring_unavailable_reason()
    # Scoring draws no random numbers from training: the same seed trains the same model.
    np.testing.assert_allclose(scored.latest_snapshot()[1], plain.latest_snapshot()[1], atol=1e-6)


def test_a_missing_classifier_skips_scoring_with_one_log_line(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(classifier_module, "CLASSIFIER_WEIGHTS_PATH", tmp_path / "nowhere" / "mnist.weights.h5")
    monkeypatch.delenv(QUALITY_SAMPLES_VARIABLE, raising=False)
    run = start_run(tiny_config(steps=10, sample_every=10), store)

    assert train_run(run)["state"] == "finished"
    assert not run.quality_path.exists()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("quality:")]
    assert len(lines) == 1 and "no MNIST classifier" in lines[0]
    assert "no MNIST classifier" in quality.scoring_unavailable_reason()


def test_resume_drops_quality_rows_past_the_checkpoint(store, tiny_classifier_path):
    run = start_run(tiny_config(steps=10, sample_every=5, checkpoint_every=10), store)
    assert train_run(run)["state"] == "finished"
    assert [row["step"] for row in run.quality()] == [0, 5, 10]
    # An attempt that died after the checkpoint at step 10 had scored steps 15 and 20.
    run.append_quality([{**run.quality()[-1], "step": 15}, {**run.quality()[-1], "step": 20}])

    status = train_run(run, extra_steps=10)

    assert status["state"] == "finished" and status["step"] == 20
    assert_valid_rows(run.quality(), [0, 5, 10, 15, 20])  # one row per step: none repeated, none stale


@pytest.mark.parametrize("text, expected", [("", 1000), ("0", 0), ("300", 300), ("1", 1000), ("many", 1000)])
def test_the_sample_count_comes_from_the_environment(monkeypatch, text, expected):
    monkeypatch.setenv(QUALITY_SAMPLES_VARIABLE, text)
    logged = []
    assert quality.quality_samples_from_environment(log=logged.append) == expected
    assert len(logged) == (1 if text in ("1", "many") else 0)  # a bad value is reported, not fatal


def test_the_precomputed_root_gives_the_same_fid_as_evaluation():
    rng = np.random.default_rng(0)
    reference = evaluation.gaussian_statistics(rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6)))
    samples = evaluation.gaussian_statistics(rng.standard_normal((300, 6)) * 2.0 + 1.0)
    scorer = SnapshotScorer(run=None, classifier=None, reference=reference, latent=None)
    expected = evaluation.frechet_distance(*reference, *samples)
    assert expected > 1.0 and scorer.fid(*samples) == pytest.approx(expected, rel=1e-9)
    assert scorer.fid(*reference) == pytest.approx(0.0, abs=1e-6)


def test_a_failed_scoring_is_logged_and_writes_no_row(store):
    class BrokenModel:
        def generate(self, latent):
            images = np.full((len(latent), 28, 28), 0.5, dtype=np.float32)
            images[0, 0, 0] = np.nan  # a diverging generator
            return images

    run = store.create(tiny_config().to_dict())
    logged = []
    reference = (np.zeros(8), np.eye(8))
    scorer = SnapshotScorer(run, classifier=None, reference=reference, latent=np.zeros((4, 8)), log=logged.append)
    assert scorer.score(BrokenModel(), step=10, elapsed_s=1.0) >= 0.0
    assert run.quality() == [] and len(logged) == 1 and "step 10 not scored" in logged[0]


def test_quality_figure_has_fid_and_inception_score_traces():
    from ui.charts import quality_figure

    rows = [{"step": step, "fid": 300.0 - step, "inception_score": 1.0 + step / 100, "min_class_share": 0.05,
             "max_class_share": 0.2} for step in (0, 100, 200)]
    figure = quality_figure(rows)
    assert [trace.name for trace in figure.data] == ["FID (lower is better)", "Inception Score (higher is better)"]
    assert list(figure.data[0].x) == [0, 100, 200] and list(figure.data[0].y) == [300.0, 200.0, 100.0]
    assert list(figure.data[1].y) == [1.0, 2.0, 3.0]
    json.loads(figure.to_json())  # serialisable, as st.plotly_chart needs
    assert [len(trace.x) for trace in quality_figure([]).data] == [0, 0]


def test_train_page_shows_the_quality_curve_once_a_snapshot_is_scored(store, tiny_classifier_path):
    from streamlit.testing.v1 import AppTest

    run = store.create(tiny_config().to_dict())
    run.update_status(state="finished", step=0, pid=None)

    def open_train_page():
        app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
        app.query_params["run"] = run.run_id
        app.run()
        app.switch_page("pages/train.py").run()
        assert not app.exception
        return app

    def chart_traces(app):
        return [[trace.get("name") for trace in json.loads(chart.proto.spec)["data"]] for chart in app.get("plotly_chart")]

    app = open_train_page()
    assert any("appears after the first snapshot is scored" in caption.value for caption in app.caption)
    assert not any("FID (lower is better)" in names for names in chart_traces(app))

    run.append_quality([{"step": step, "elapsed_s": step / 10, "fid": 250.0 - step, "inception_score": 1.5,
                         "min_class_share": 0.02, "max_class_share": 0.3, "confident_share": 0.4,
                         "num_samples": SAMPLES, "seconds_spent": 0.2} for step in (0, 100)])
    app = open_train_page()
    assert ["FID (lower is better)", "Inception Score (higher is better)"] in chart_traces(app)
    assert any(f"Each point scores {SAMPLES} samples" in caption.value for caption in app.caption)
