"""scripts/continue_shipped.py: a run that trains on from shipped weights (how gan-paper's grew)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from aigc_core.runs.store import RunStore
from aigc_core.runs.training import load_run_model, start_run, train_run
from aigc_core.weights import WeightsError, export_weights
from conftest import PROJECT_ROOT, tiny_config


def load_script():
    spec = importlib.util.spec_from_file_location("continue_shipped", PROJECT_ROOT / "scripts" / "continue_shipped.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def shipped(tmp_path, runs_dir):
    """A weights folder holding a tiny gan-fast trained for 4 steps, as scripts/train_shipped.py exports it."""
    run = start_run(tiny_config(steps=4, log_every=2), RunStore(runs_dir))
    assert train_run(run)["state"] == "finished"
    model = load_run_model(run)
    weights_dir = tmp_path / "weights"
    path = export_weights(model, "gan-fast", weights_dir, description="for the test", seed=3, steps=4,
                          training_seconds=12.5)
    (weights_dir / "gan-fast.history.jsonl").write_bytes(run.metrics_path.read_bytes())
    return weights_dir, model, path


def test_the_shipped_weights_become_the_checkpoint_and_resume_trains_on_from_their_step(shipped, runs_dir):
    weights_dir, shipped_model, _ = shipped
    store = RunStore(runs_dir)
    run = load_script().continuation_run("gan-fast", 6, store=store, weights_dir=weights_dir)
    assert run.status()["state"] == "stopped"
    assert run.checkpoint()["step"] == 4 and run.checkpoint()["elapsed_s"] == 12.5
    assert run.config()["seed"] == 3 and run.config()["steps"] == 6 and run.config()["preset"] == "fast"
    assert [row["step"] for row in run.metrics()] == [2, 4]  # the shipped loss history comes along
    np.testing.assert_allclose(load_run_model(run).sample(8, seed=0), shipped_model.sample(8, seed=0), atol=1e-6)

    status = train_run(run)  # what `python -m aigc_core resume --run RUN` runs
    assert status["state"] == "finished" and status["step"] == 6 and run.checkpoint()["step"] == 6
    assert not np.allclose(load_run_model(run).sample(8, seed=0), shipped_model.sample(8, seed=0), atol=1e-4)


def test_no_continuation_without_steps_past_the_shipped_ones_or_for_unknown_weights(shipped, runs_dir):
    weights_dir, _, _ = shipped
    script = load_script()
    with pytest.raises(ValueError, match="shipped after 4 steps"):
        script.continuation_run("gan-fast", 4, store=RunStore(runs_dir), weights_dir=weights_dir)
    with pytest.raises(WeightsError, match="no shipped weights named 'gan-paper'"):
        script.continuation_run("gan-paper", 100, store=RunStore(runs_dir), weights_dir=weights_dir)
    assert len(RunStore(runs_dir).list()) == 1  # the fixture's own run: a refusal creates none


def test_a_continuation_can_change_the_presets_hyperparameters_and_refuses_unknown_ones(shipped, runs_dir):
    weights_dir, _, _ = shipped
    script = load_script()
    settings = dict(script.parse_setting(text) for text in ("learning_rate_decay_steps=2", "g_learning_rate=1e-4"))
    assert settings == {"learning_rate_decay_steps": 2, "g_learning_rate": 1e-4}
    run = script.continuation_run("gan-fast", 6, overrides=settings, store=RunStore(runs_dir), weights_dir=weights_dir)
    assert run.config()["overrides"] == settings
    model = load_run_model(run)
    assert model.learning_rate_decay_steps == 2 and model.g_learning_rate == 1e-4
    assert train_run(run)["state"] == "finished"  # the decayed step size trains on to the end
    with pytest.raises(ValueError, match="KEY=NUMBER"):
        script.parse_setting("learning_rate_decay_steps")
    with pytest.raises(ValueError, match="not a hyperparameter"):
        script.continuation_run("gan-fast", 6, overrides={"dropout": 0.5}, store=RunStore(runs_dir), weights_dir=weights_dir)
