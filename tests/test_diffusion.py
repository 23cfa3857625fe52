"""The diffusion family: shapes and range, finite per-band losses, determinism, the denoising path,
round trips, a tiny run through the CLI (snapshots, checkpoint, the average of the denoiser,
resume, sample, evaluate), conditional labels and the denoising views. The JAX backend is
tested with the other families in tests/test_jax_backend.py (diffusion-conditional).

One `fast` model (0.24 M parameters) takes two Adam steps on 64 digits and is shared by the
module: an untrained denoiser's last convolution is zero, so it would not move the noise at all
and steps or labels could not change its samples.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from aigc_core.config import TrainingConfig, validate
from aigc_core.data import load_images, scale_pixels, to_unit_range
from aigc_core.models.diffusion import ConditionalDiffusionModel, DiffusionModel
from aigc_core.registry import FAMILIES, VARIANTS, build_model, presets_for

PROJECT_ROOT = Path(__file__).resolve().parent.parent
METRICS = {"loss", "loss_low_noise", "loss_mid_noise", "loss_high_noise"}


@pytest.fixture(scope="module")
def digits():
    return load_images("mnist", "train", limit=64)


def trained(variant: str, digits, **overrides):
    """A fresh variant after two Adam steps on 64 digits (labels fed to a conditional one); and its logs."""
    import keras

    keras.utils.set_random_seed(0)
    model = VARIANTS[variant].build(**overrides)
    model.compile(run_eagerly=True)  # two steps: tracing the step would cost 4x their time (the CLI run traces it)
    inputs = (scale_pixels(digits.images, model.pixel_range),) + ((digits.labels,) if model.num_classes else ())
    history = model.fit(*inputs, batch_size=32, epochs=1, verbose=0)
    return model, {name: values[-1] for name, values in history.history.items()}


@pytest.fixture(scope="module")
def flow_model(digits):
    return trained("diffusion-fast", digits)


def test_registry_has_the_three_diffusion_variants():
    assert "diffusion" in FAMILIES and presets_for("diffusion") == ("fast", "large", "conditional")
    assert VARIANTS["diffusion-conditional"].model_class is ConditionalDiffusionModel
    for preset in presets_for("diffusion"):
        validate(TrainingConfig(model="diffusion", preset=preset))
    assert type(build_model("diffusion", {"architecture": "fast"})) is DiffusionModel  # files naming no class


def test_config_accepts_the_diffusion_fields_and_refuses_bad_values():
    checked = validate(TrainingConfig(model="diffusion", overrides={"objective": "ddpm", "sampling_steps": 4.0}))
    assert checked.overrides == {"objective": "ddpm", "sampling_steps": 4}
    for overrides, named in (({"objective": "score"}, "objective"), ({"sampling_steps": 0}, "sampling_steps"),
                             ({"latent_dim": 16}, "latent_dim"), ({"beta": 2.0}, "beta")):
        with pytest.raises(ValueError, match=named):
            validate(TrainingConfig(model="diffusion", overrides=overrides))
    with pytest.raises(ValueError, match="objective"):
        validate(TrainingConfig(model="vae", overrides={"objective": "flow"}))
    with pytest.raises(ValueError, match="latent_dim"):
        DiffusionModel(latent_dim=64)


def test_both_objectives_give_finite_losses_under_the_four_names(flow_model, digits):
    for model, logs in (flow_model, trained("diffusion-fast", digits, objective="ddpm")):
        assert set(logs) == METRICS == set(model.metric_names)
        assert all(math.isfinite(value) for value in logs.values()), (model.objective, logs)
        images = model.sample(3, seed=1, steps=2)
        assert images.shape == (3, 28, 28) and images.dtype == np.float32
        assert images.min() >= 0.0 and images.max() <= 1.0
        assert not np.allclose(images, model.sample(3, seed=1, steps=1))


def test_sampling_is_seeded_and_the_step_count_matters(flow_model):
    model, _ = flow_model
    first = model.sample(4, seed=7, steps=3)
    np.testing.assert_array_equal(model.sample(4, seed=7, steps=3), first)
    assert not np.allclose(model.sample(4, seed=8, steps=3), first)
    assert not np.allclose(model.sample(4, seed=7, steps=1), first)
    np.testing.assert_array_equal(model.sample(4, seed=7), model.sample(4, seed=7, steps=model.sampling_steps))
    with pytest.raises(ValueError, match="steps"):
        model.sample(4, seed=7, steps=0)
    with pytest.raises(ValueError, match="labels"):
        model.sample(4, seed=7, labels=np.zeros(4, dtype=int))


def test_denoising_path_starts_at_the_noise_and_ends_at_generate(flow_model):
    model, _ = flow_model
    latent = model.latent_batch(3, seed=2)
    path = model.denoising_path(latent, steps=4)
    assert path.shape == (5, 3, 28, 28) and path.dtype == np.float32
    assert path.min() >= 0.0 and path.max() <= 1.0
    np.testing.assert_array_equal(path[0], to_unit_range(latent.reshape(3, 28, 28), "tanh"))
    np.testing.assert_array_equal(path[-1], model.generate(latent, steps=4))


def test_weights_round_trip_gives_identical_samples(flow_model, tmp_path):
    model, _ = flow_model
    path = tmp_path / "diffusion.weights.h5"
    model.save_weights(path)
    rebuilt = build_model(model.family, model.get_config(), type(model).__name__)
    assert rebuilt.get_config() == model.get_config()
    assert not np.allclose(rebuilt.sample(4, seed=5, steps=2), model.sample(4, seed=5, steps=2))
    rebuilt.load_weights(path)
    np.testing.assert_array_equal(rebuilt.sample(4, seed=5, steps=2), model.sample(4, seed=5, steps=2))


def test_conditional_model_draws_the_labels_asked_for(digits):
    model, logs = trained("diffusion-conditional", digits)
    assert all(math.isfinite(value) for value in logs.values())
    sevens = model.sample(4, seed=3, labels=np.full(4, 7), steps=2)
    ones = model.sample(4, seed=3, labels=np.full(4, 1), steps=2)
    assert sevens.shape == (4, 28, 28) and not np.allclose(sevens, ones)
    np.testing.assert_array_equal(model.sample(4, seed=3, steps=2), model.sample(4, seed=3, labels=np.arange(4), steps=2))
    with pytest.raises(ValueError, match="labels"):
        model.sample(4, seed=3, labels=np.full(4, 10))
    path = model.denoising_path(model.latent_batch(2, 0), labels=np.array([4, 9]), steps=2)
    np.testing.assert_array_equal(path[-1], model.sample(2, seed=0, labels=np.array([4, 9]), steps=2))


# -- a tiny run through the CLI --------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """`python -m aigc_core train --model diffusion` for 6 steps (in this process); the run's folder.

    Module-scoped fixtures start before conftest's per-test environment, so the runs folder and
    the switched-off snapshot scoring are set here, for this call only.
    """
    from aigc_core import cli

    root = tmp_path_factory.mktemp("diffusion_runs")
    environment = {"AIGC_RUNS_DIR": str(root), "AIGC_QUALITY_SAMPLES": "0"}
    previous = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        code = cli.main(["train", "--model", "diffusion", "--preset", "fast", "--steps", "6", "--train-limit", "256",
                         "--batch-size", "32", "--log-every", "2", "--sample-every", "3", "--checkpoint-every", "3",
                         "--sampling-steps", "2", "--run-dir", str(root / "tiny")])
    finally:
        for name, value in previous.items():
            os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)
    assert code == 0
    return root / "tiny", environment


def test_cli_run_logs_the_four_metrics_snapshots_and_a_checkpoint(cli_run):
    path, _ = cli_run
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [2, 4, 6]
    assert all(METRICS <= set(row) and all(math.isfinite(row[name]) for name in METRICS) for row in rows)
    assert sorted(p.name for p in (path / "samples").glob("*.npy")) == [f"step_{s:07d}.npy" for s in (0, 3, 6)]
    assert json.loads((path / "checkpoint.json").read_text())["step"] == 6
    described = json.loads((path / "model_config.json").read_text())
    assert described["family"] == "diffusion" and described["config"]["sampling_steps"] == 2
    with np.load(path / "optimizer.npz") as arrays:  # the denoiser's average, and its raw weights to resume from
        assert "generator_average_step" in arrays and any(key.startswith("generator_raw/") for key in arrays)


def test_cli_resume_sample_and_evaluate_a_diffusion_run(cli_run, tmp_path):
    from aigc_core import cli
    from aigc_core.runs import Run
    from aigc_core.training import load_run_model

    path, _ = cli_run
    assert cli.main(["resume", "--run", str(path), "--steps", "2"]) == 0
    assert json.loads((path / "checkpoint.json").read_text())["step"] == 8
    out = tmp_path / "samples.npy"
    assert cli.main(["sample", "--run", str(path), "--num", "4", "--sampling-steps", "3", "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), load_run_model(Run(path)).sample(4, seed=0, steps=3))
    report = tmp_path / "report.json"
    assert cli.main(["evaluate", "--run", str(path), "--num", "20", "--sampling-steps", "1", "--json", str(report)]) == 0
    measured = json.loads(report.read_text())
    assert measured["family"] == "diffusion" and measured["sampling_steps"] == 1 and math.isfinite(measured["fid"])


def test_cli_refuses_diffusion_flags_elsewhere(capsys):
    from aigc_core import cli

    assert cli.main(["train", "--model", "gan", "--objective", "ddpm", "--steps", "1"]) == 2
    assert "--objective applies to diffusion models only" in capsys.readouterr().err
    assert cli.main(["train", "--model", "diffusion", "--beta", "2", "--steps", "1"]) == 2
    assert "--beta does not apply to --model diffusion" in capsys.readouterr().err
    assert cli.main(["sample", "--weights", "gan-fast", "--sampling-steps", "4", "--out", "/tmp/unused.npy"]) == 2
    assert "--sampling-steps applies to diffusion models only" in capsys.readouterr().err


# -- the denoising views (aigc_core.denoising, through studio) -----------------------------------


def test_denoising_views_through_studio(cli_run):
    path, environment = cli_run
    from PIL import Image

    from aigc_core import studio
    from aigc_core.runs import RunStore

    store = RunStore(Path(environment["AIGC_RUNS_DIR"]))
    key = f"run:{path.name}"
    frames = studio.denoising_timeline(key, seed=4, steps=3, num_samples=5, store=store)
    assert frames.shape == (4, 5, 28, 28)
    model = studio.load_source(key, store=store)
    np.testing.assert_array_equal(frames[-1], model.sample(5, seed=4, steps=3))
    gif = Image.open(io.BytesIO(studio.denoising_gif(key, seed=4, steps=3, num_samples=5, store=store)))
    assert gif.format == "GIF" and gif.n_frames == 4
    seen = []
    rows = studio.steps_versus_quality(key, seed=1, step_counts=(1, 3), num_eval_samples=16, reference_limit=200,
                                       store=store,
                                       progress=lambda done, total, row: seen.append((done, total, row["steps"])))
    assert seen == [(1, 2, 1), (2, 2, 3)]
    assert [row["steps"] for row in rows] == [1, 3]
    for row in rows:
        assert row["images"].shape == (64, 28, 28) and row["seconds_for_64"] > 0
        assert math.isfinite(row["fid"]) and row["inception_score"] >= 1.0
    np.testing.assert_array_equal(rows[1]["images"], model.sample(64, seed=1, steps=3))


def test_denoising_views_refuse_other_models_and_bad_counts():
    from aigc_core import denoising

    vae = VARIANTS["vae-fast"].build()
    with pytest.raises(denoising.NotDiffusionError, match="VAE"):
        denoising.denoising_timeline(vae, seed=0)
    with pytest.raises(ValueError, match="distinct"):
        denoising.check_step_counts((2, 2))
    with pytest.raises(ValueError, match="frames"):
        denoising.timeline_gif(np.zeros((1, 2, 28, 28)))
