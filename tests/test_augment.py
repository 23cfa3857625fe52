"""The data augmentation experiment: selection, classifier, arms, verdict, CLI and page.

Settings are tiny (one size, a few seeds, 1,000 test images, ~100 classifier steps) so that the
file runs in well under two minutes on 2 cores; the checks that can fail are real ones: more
real data must raise accuracy at 10 per class, pure noise must not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from aigc_core.experiments.augment import (
    FEW_REAL_POOL_END, HELD_OUT_POOL_START, MORE_REAL_ARM, REAL_ARM, ArmResult, AugmentSettings, ClassifierTrainer,
    ExperimentResult, GeneratorArm, compare_arms, conditional_sources, draw_generated, held_out_real_source, judge,
    load_experiment_data, load_generator_arm, run_experiment, select_few_real, validate_settings, verdict_lines,
)
from aigc_core.cli import main
from conftest import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")


@pytest.fixture(scope="module")
def data():
    return load_experiment_data(test_limit=1000)


def noise_source(digit: int, count: int, seed: int) -> np.ndarray:
    """Uniform noise labelled as the digit asked for: carries no information about digits."""
    return np.random.default_rng(seed).random((count, 28, 28), dtype=np.float32)


# -- selection -------------------------------------------------------------------------------------
def test_selection_is_seeded_balanced_nested_and_from_the_few_real_pool(data):
    labels = data.train_labels
    chosen = select_few_real(labels, 10, seed=3)
    assert np.array_equal(chosen, select_few_real(labels, 10, seed=3))
    assert not np.array_equal(chosen, select_few_real(labels, 10, seed=4))
    assert np.array_equal(np.bincount(labels[chosen], minlength=10), np.full(10, 10))
    assert len(set(chosen.tolist())) == 100 and chosen.max() < FEW_REAL_POOL_END
    larger = select_few_real(labels, 50, seed=3)
    assert np.array_equal(np.bincount(labels[larger], minlength=10), np.full(10, 50))
    assert set(chosen.tolist()) <= set(larger.tolist())  # the sizes grow the same examples


def test_more_real_source_draws_the_asked_digit_from_the_held_out_pool_only():
    # Each fake image carries its own index in two pixels, so drawn images can be traced back.
    count = 60_000
    indices = np.arange(count)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1] = indices // 256, indices % 256
    labels = indices % 10
    source = held_out_real_source(images, labels)
    drawn = source(7, 40, 5)
    assert drawn.shape == (40, 28, 28) and drawn.dtype == np.float32
    traced = np.rint(drawn[:, 0, 0] * 255).astype(int) * 256 + np.rint(drawn[:, 0, 1] * 255).astype(int)
    assert np.all(traced >= HELD_OUT_POOL_START) and np.all(labels[traced] == 7)
    assert len(set(traced.tolist())) == 40
    assert np.array_equal(drawn, source(7, 40, 5))
    few = select_few_real(labels, 100, seed=5)
    assert not set(few.tolist()) & set(traced.tolist())


def test_a_source_with_wrong_shapes_or_range_is_refused():
    bad_shape = GeneratorArm("bad", "+ bad", lambda digit, count, seed: np.zeros((count, 14, 14), np.float32))
    with pytest.raises(ValueError, match="shape"):
        draw_generated(bad_shape, 3, seed=0)
    bad_range = GeneratorArm("bad", "+ bad", lambda digit, count, seed: np.full((count, 28, 28), 2.0, np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        draw_generated(bad_range, 3, seed=0)


# -- classifier and arms ---------------------------------------------------------------------------
def test_classifier_learns_above_chance_and_repeats_itself(data):
    chosen = select_few_real(data.train_labels, 10, seed=0)
    images, labels = data.train_images[chosen].astype(np.float32) / 255.0, data.train_labels[chosen]
    trainer = ClassifierTrainer(train_steps=100, batch_size=64)
    trainer.train(images, labels, seed=0)
    first = trainer.accuracy(data.test_images, data.test_labels)
    trainer.train(images, labels, seed=0)  # the same model object, reset: no state carries over
    assert trainer.accuracy(data.test_images, data.test_labels) == first
    assert first > 0.5, first  # chance is 0.1


def test_more_real_data_helps_at_10_per_class_and_noise_does_not(data):
    settings = AugmentSettings(per_class=(10,), generated_per_class=50, seeds=3, test_limit=1000, train_steps=120)
    progress = []
    result = run_experiment(settings, [GeneratorArm("noise", "+ noise", noise_source)], data=data,
                            progress=lambda done, total, message: progress.append((done, total)))
    assert progress[-1] == (9, 9) and [done for done, _ in progress] == list(range(10))
    rows = {row.arm: row for row in result.rows}
    assert rows[REAL_ARM].train_size == 100 and rows["noise"].train_size == 600
    comparisons = {item.arm: item for item in result.comparisons()}
    assert comparisons[MORE_REAL_ARM].outcome == "helped", result.to_dict()
    assert comparisons[MORE_REAL_ARM].mean_points > 3.0
    assert comparisons["noise"].outcome != "helped", result.to_dict()
    assert rows["noise"].mean <= rows[REAL_ARM].mean + 0.01
    assert any(line.startswith("more real data (reference): helped by") for line in result.verdict())


# -- verdict ---------------------------------------------------------------------------------------
def _rows(per_class: int, real: list[float], arm: list[float]) -> list[ArmResult]:
    seeds = list(range(len(real)))
    return [ArmResult(per_class, REAL_ARM, "real only", 10 * per_class, seeds, real),
            ArmResult(per_class, "gan", "+ conditional GAN (weights:x)", 10 * per_class + 1000, seeds, arm)]


def test_judge_compares_the_mean_difference_with_its_spread():
    assert judge([0.05, 0.06, 0.07]) == "helped"
    assert judge([-0.05, -0.06, -0.07]) == "hurt"
    assert judge([0.05, -0.04, 0.02]) == "no significant difference"
    assert judge([0.02, 0.02]) == "helped"  # no spread at all: every seed agrees
    assert judge([0.004, 0.005, 0.006]) == "negligible"  # consistent, but under one point
    assert judge([0.0, 0.0, 0.0]) == "no significant difference"
    assert judge([0.2]) == "one seed"


def test_verdict_wording_follows_the_numbers():
    rows = (_rows(10, [0.70, 0.71, 0.72], [0.78, 0.80, 0.79])
            + _rows(50, [0.85, 0.86, 0.87], [0.82, 0.83, 0.84])
            + _rows(100, [0.90, 0.91, 0.92], [0.93, 0.90, 0.915])
            + _rows(200, [0.950, 0.960, 0.955], [0.953, 0.964, 0.960]))
    lines = verdict_lines(compare_arms(rows))
    assert lines == [
        "conditional GAN (weights:x): helped by 8.0 points at 10 per class; hurt by 3.0 points at 50 per class; "
        "no significant difference at 100 per class (+0.5 points, within the seed-to-seed spread); "
        "no meaningful difference at 200 per class (+0.4 points, under 1)."
    ]
    one_seed = verdict_lines(compare_arms(_rows(10, [0.70], [0.60])))
    assert one_seed == ["conditional GAN (weights:x): -10.0 points at 10 per class (one seed: no spread to judge it by)."]
    result = ExperimentResult(AugmentSettings(per_class=(10, 50, 100, 200)), "test", rows)
    assert result.to_dict()["verdict"] == lines


def test_settings_are_validated_in_one_place_with_one_line_errors():
    assert validate_settings(AugmentSettings(per_class=[100, 10])).per_class == (10, 100)
    bad = [
        (dict(per_class=()), "per_class"),
        (dict(per_class=(10, 10)), "differ"),
        (dict(per_class=(0,)), "per_class"),
        (dict(generated_per_class=501), "generated_per_class"),
        (dict(seeds=11), "seeds"),
        (dict(test_limit=50), "test_limit"),
        (dict(train_steps=2.5), "train_steps"),
        (dict(seeds=10, train_steps=2000, per_class=(5, 10, 20, 50, 100, 200)), "classifier steps"),
    ]
    for changes, field in bad:
        with pytest.raises(ValueError, match=field) as caught:
            validate_settings(AugmentSettings(**changes), num_generator_arms=2)
        assert "\n" not in str(caught.value)


# -- generator arms from saved models --------------------------------------------------------------
@pytest.fixture
def weights_dir(tmp_path):
    """An untrained CVAE and an unconditional VAE saved as shipped weights: enough to test the plumbing."""
    from aigc_core.models.registry import VARIANTS
    from aigc_core.weights import export_weights

    export_weights(VARIANTS["vae-conditional"].build(), "cvae-test", tmp_path, description="untrained")
    export_weights(VARIANTS["vae-fast"].build(), "vae-plain", tmp_path, description="untrained")
    return tmp_path


def test_conditional_models_are_found_loaded_and_sampled_per_digit(weights_dir, store):
    assert [source.key for source in conditional_sources("vae", store, weights_dir)] == ["weights:cvae-test"]
    assert conditional_sources("gan", store, weights_dir) == []
    arm = load_generator_arm("vae", "weights:cvae-test", store, weights_dir)
    images, labels = draw_generated(arm, 3, seed=1)
    assert images.shape == (30, 28, 28) and 0.0 <= images.min() and images.max() <= 1.0
    assert np.array_equal(labels, np.repeat(np.arange(10), 3))
    assert np.array_equal(images, draw_generated(arm, 3, seed=1)[0])
    with pytest.raises(ValueError, match="not a CVAE"):
        load_generator_arm("vae", "weights:vae-plain", store, weights_dir)
    with pytest.raises(ValueError, match="not a conditional GAN"):
        load_generator_arm("gan", "weights:cvae-test", store, weights_dir)


def test_a_conditional_diffusion_model_is_the_third_arm(tmp_path, store):
    from aigc_core.models.registry import VARIANTS
    from aigc_core.weights import export_weights

    export_weights(VARIANTS["diffusion-conditional"].build(), "diffusion-test", tmp_path, description="untrained")
    export_weights(VARIANTS["diffusion-fast"].build(), "diffusion-plain", tmp_path, description="untrained")
    assert [source.key for source in conditional_sources("diffusion", store, tmp_path)] == ["weights:diffusion-test"]
    arm = load_generator_arm("diffusion", "weights:diffusion-test", store, tmp_path)
    assert arm.label == "+ conditional diffusion model (weights:diffusion-test)"
    images, labels = draw_generated(arm, 2, seed=3)
    assert images.shape == (20, 28, 28) and 0.0 <= images.min() and images.max() <= 1.0
    assert np.array_equal(labels, np.repeat(np.arange(10), 2))
    with pytest.raises(ValueError, match="not a conditional diffusion model"):
        load_generator_arm("diffusion", "weights:diffusion-plain", store, tmp_path)


# -- command line ----------------------------------------------------------------------------------
def test_cli_prints_the_table_and_the_verdict(tmp_path):
    out = tmp_path / "augment.json"
    result = subprocess.run(
        [sys.executable, "-m", "aigc_core", "augment", "--per-class", "10", "--seeds", "2", "--generated", "20",
         "--test-limit", "300", "--train-steps", "40", "--gan", "none", "--vae", "none", "--diffusion", "none", "--json", str(out)],
        cwd=PROJECT_ROOT, env={**os.environ}, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "first 300 images of the MNIST test split" in result.stdout
    assert "real only" in result.stdout and "+ more real data (reference)" in result.stdout
    assert "verdict:" in result.stdout and "at 10 per class" in result.stdout
    assert "switched off (--gan none)" in result.stdout and "switched off (--diffusion none)" in result.stdout
    saved = json.loads(out.read_text())
    assert [row["arm"] for row in saved["rows"]] == [REAL_ARM, MORE_REAL_ARM]
    assert all(len(row["accuracies"]) == 2 for row in saved["rows"])
    assert "4/4" in result.stderr


@pytest.mark.parametrize("arguments, expected", [
    (["--per-class", "10,abc"], "per-class sizes must be whole numbers"),
    (["--per-class", "0"], "per_class must be a whole number between 1 and 1000"),
    (["--seeds", "0"], "seeds must be a whole number between 1 and 10"),
    (["--generated", "100000"], "generated_per_class must be"),
    (["--test-limit", "5"], "test_limit must be"),
    (["--gan", "bogus"], "--gan must be weights:NAME, run:ID, auto or none"),
    (["--json", "result.txt"], "--json must name a .json file"),
    (["--seeds", "10", "--train-steps", "2000", "--per-class", "5,10,20,50,100,200"], "classifier steps"),
])
def test_cli_refuses_bad_values_in_one_line(arguments, expected, capsys):
    assert main(["augment", *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert expected in error and len(error.splitlines()) == 1, error


# -- page ------------------------------------------------------------------------------------------
@pytest.fixture
def page(weights_dir, monkeypatch):
    import streamlit as st

    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(weights_dir))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def open_augment_page(**widgets):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(APP, default_timeout=120)
    for key, value in widgets.items():
        app.session_state[key] = value
    app.switch_page("pages/augment.py").run()
    assert not app.exception, app.exception
    return app


def test_page_runs_a_tiny_experiment_and_shows_table_chart_and_verdict(page):
    app = open_augment_page(augment_per_class=[10], augment_seeds=1, augment_generated=10,
                            augment_test_limit=1000, augment_train_steps=20)
    assert app.session_state["augment_vae"] == "weights:cvae-test"  # the CVAE found is picked by default
    assert any("No conditional GAN is available" in caption.value for caption in app.caption)
    app.button(key="augment_run").click().run()
    assert not app.exception, app.exception
    assert not app.error, [error.value for error in app.error]
    table = app.dataframe[0].value
    assert list(table["arm"]) == ["real only", "+ more real data (reference)", "+ CVAE (weights:cvae-test)"]
    assert table["mean accuracy (%)"].between(0, 100).all()
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert len(figure["data"]) == 3 and all(trace["type"] == "bar" for trace in figure["data"])
    verdict = " ".join(item.value for item in app.markdown)
    assert "CVAE (weights:cvae-test): " in verdict and "one seed" in verdict
    assert any("No conditional GAN is available" in info.value for info in app.info)


def test_page_refuses_settings_too_long_for_the_server_in_one_line(page):
    app = open_augment_page(augment_seeds=10, augment_train_steps=2000)
    assert len(app.error) == 1 and "classifier steps" in app.error[0].value
    assert "\n" not in app.error[0].value
    assert app.button(key="augment_run").disabled


def test_the_verdict_column_is_whole_on_a_1280_px_screen():
    """The verdict comes right after the arm, wide enough for its longest words in either language
    (it used to be the ninth column, cut off behind the table's scroll bar at 1280 px)."""
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st

        from ui.augment_view import render_result

        render_result(st.session_state.result)

    from tests.test_i18n import _augment_result

    app = AppTest.from_function(script, default_timeout=60)
    app.session_state["result"] = _augment_result()
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    table = app.dataframe[0]
    columns = list(table.value.columns)
    widths = json.loads(table.proto.columns)
    assert columns.index("verdict") <= 3, columns
    longest = max(len(text) for text in table.value["verdict"])
    assert isinstance(widths["verdict"]["width"], int) and widths["verdict"]["width"] >= 7 * longest, widths
