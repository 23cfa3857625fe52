"""The generator's moving average: its warm-up arithmetic, and that a run shows, keeps and resumes it."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigc_core.runs import training
from aigc_core.runs.averaging import (AVERAGE_PREFIX, RAW_PREFIX, UPDATED_AT_KEY, kept_share, make_generator_average,
                                 warmed_up_decay)
from aigc_core.data import load_images, scale_pixels
from aigc_core.models.registry import VARIANTS
from aigc_core.runs.training import load_run_model, start_run, train_run
from conftest import tiny_config


class WeightLog(keras.callbacks.Callback):
    """The generator's weights before training and after every step, to recompute the average by hand."""

    def __init__(self):
        super().__init__()
        self.steps: list[list[np.ndarray]] = []

    def on_train_begin(self, logs=None):
        self.steps.append(self.weights())

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(self.weights())

    def weights(self):
        return [np.array(weight, dtype=np.float64) for weight in self.model.generator.get_weights()]


def tiny_gan():
    keras.utils.set_random_seed(0)
    return VARIANTS["gan-fast"].build(latent_dim=8)


def test_warm_up_follows_the_raw_weights_first_and_settles_at_the_decay():
    assert warmed_up_decay(0.999, 0) == pytest.approx(0.1)  # step 0: 90% of the first iterate
    assert warmed_up_decay(0.999, 10) == pytest.approx(11 / 20)
    assert warmed_up_decay(0.999, 100_000) == 0.999
    assert kept_share(0.9, 0, 3) == pytest.approx((1 / 10) * (2 / 11) * (3 / 12))
    assert kept_share(0.9, 5, 5) == 1.0


@settings(derandomize=True, max_examples=25, deadline=None)
@given(decay=st.floats(0.5, 0.9999), first=st.integers(0, 20_000), lengths=st.tuples(st.integers(0, 40), st.integers(0, 40)))
def test_the_warmed_up_decay_never_exceeds_the_decay_and_shares_compose(decay, first, lengths):
    middle, last = first + lengths[0], first + lengths[0] + lengths[1]
    assert warmed_up_decay(decay, first) <= decay
    assert warmed_up_decay(decay, first) <= warmed_up_decay(decay, last)  # it only grows
    assert kept_share(decay, first, last) == pytest.approx(kept_share(decay, first, middle) * kept_share(decay, middle, last))


def test_the_average_is_the_warmed_up_exponential_average_of_the_iterates():
    every = 3
    images = scale_pixels(load_images("mnist", "train", limit=64).images, "tanh")
    model = tiny_gan()
    log, average = WeightLog(), make_generator_average(decay=0.9, every=every)
    model.fit(images, batch_size=16, epochs=3, verbose=0, callbacks=[log, average])  # 12 steps

    expected, updated_at = log.steps[0], 0  # it begins at the initial weights
    for step in range(every, 13, every):
        keep = np.prod([min(0.9, (1 + t) / (10 + t)) for t in range(updated_at, step)])
        expected = [keep * old + (1 - keep) * new for old, new in zip(expected, log.steps[step])]
        updated_at = step
    assert average.updates == 12 // every and average.updated_at == 12
    for mine, theirs in zip(average.averaged, expected):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-9)
    # The warm-up let it move far from the initial weights, and it still differs from the last iterate.
    assert any(not np.allclose(mine, first, atol=1e-4) for mine, first in zip(average.averaged, log.steps[0]))
    assert any(not np.allclose(mine, last) for mine, last in zip(average.averaged, log.steps[-1]))


@pytest.mark.parametrize("decay, every", [(1.0, 5), (0.0, 5), (-0.5, 5), (float("nan"), 5), (0.99, 0)])
def test_bad_settings_are_refused_in_one_line(decay, every):
    with pytest.raises(ValueError, match="decay|every") as error:
        make_generator_average(decay, every)
    assert "\n" not in str(error.value)


def test_nothing_to_apply_before_training_starts():
    with pytest.raises(ValueError, match="no generator average yet"):
        make_generator_average(0.99, every=5).apply_to(tiny_gan())


def test_train_run_passes_extra_callbacks_to_fit(store):
    run = start_run(tiny_config(steps=4), store)
    average = make_generator_average(decay=0.5, every=1)
    status = train_run(run, callbacks=[average])
    assert status["state"] == "finished" and average.updates == 4


class WeightsAtScoring:
    """A stand-in snapshot scorer that records the generator's weights each time it is asked to score."""

    def __init__(self):
        self.seen: dict[int, list[np.ndarray]] = {}

    def score(self, model, step, elapsed_s):
        self.seen[step] = model.generator.get_weights()
        return 0.0


def averaged_run(store, monkeypatch, **changes):
    """A finished tiny GAN run with a fast-moving average (decay 0.9) and the scorer's record."""
    scorer = WeightsAtScoring()
    monkeypatch.setattr(training, "make_snapshot_scorer", lambda model, run, seed: scorer)
    config = tiny_config(steps=10, sample_every=5, checkpoint_every=5, ema_decay=0.9, **changes)
    run = start_run(config, store)
    assert train_run(run)["state"] == "finished"
    return run, scorer


def saved_state(run):
    with np.load(run.path / "optimizer.npz", allow_pickle=False) as arrays:
        return {key: arrays[key] for key in arrays.files}


def test_snapshots_quality_scores_checkpoints_and_sample_come_from_the_average(store, monkeypatch, tmp_path):
    from aigc_core.cli import main

    run, scorer = averaged_run(store, monkeypatch)
    state = saved_state(run)
    count = len(scorer.seen[10])
    average = [state[f"{AVERAGE_PREFIX}{index}"].astype(np.float32) for index in range(count)]
    raw = [state[f"{RAW_PREFIX}{index}"] for index in range(count)]
    assert int(state[UPDATED_AT_KEY]) == 10
    assert any(not np.allclose(mine, theirs) for mine, theirs in zip(average, raw))  # the two really differ

    for shown, mine in zip(scorer.seen[10], average):  # the live quality curve scored the average
        np.testing.assert_allclose(shown, mine, rtol=1e-6)
    model = load_run_model(run)  # the checkpoint's weights file holds the average
    for loaded, mine in zip(model.generator.get_weights(), average):
        np.testing.assert_allclose(loaded, mine, rtol=1e-6)

    latent = model.latent_batch(run.config()["num_snapshot_samples"], run.config()["seed"])
    snapshot = np.load(run.samples_dir / "step_0000010.npy")
    out = tmp_path / "samples.npy"
    assert main(["sample", "--run", str(run.path), "--num", "8", "--seed", "3", "--out", str(out)]) == 0
    np.testing.assert_allclose(snapshot, model.generate(latent), atol=1e-6)
    np.testing.assert_allclose(np.load(out), model.sample(8, seed=3), atol=1e-6)
    model.generator.set_weights(raw)  # ten tiny steps move the pixels a little, but measurably
    assert np.abs(snapshot - model.generate(latent)).max() > 1e-5
    assert np.abs(np.load(out) - model.sample(8, seed=3)).max() > 1e-5


def test_resume_continues_the_stored_average_from_the_raw_weights(store, monkeypatch):
    run, _ = averaged_run(store, monkeypatch)
    before = saved_state(run)
    count = len([key for key in before if key.startswith(RAW_PREFIX)])

    resumed_from = {}

    class RawAtStart(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            resumed_from["raw"] = self.model.generator.get_weights()

    assert train_run(run, extra_steps=5, callbacks=[RawAtStart()])["state"] == "finished"
    for weight, key in zip(resumed_from["raw"], (f"{RAW_PREFIX}{index}" for index in range(count))):
        np.testing.assert_array_equal(weight, before[key])  # training went on from the raw weights

    after = saved_state(run)
    assert int(after[UPDATED_AT_KEY]) == 15
    keep = kept_share(0.9, 10, 15)  # one update at step 15 (every 5), from the stored average
    for index in range(count):
        expected = keep * before[f"{AVERAGE_PREFIX}{index}"] + (1 - keep) * after[f"{RAW_PREFIX}{index}"]
        np.testing.assert_allclose(after[f"{AVERAGE_PREFIX}{index}"], expected, rtol=1e-6, atol=1e-9)


def test_without_an_average_checkpoints_hold_only_the_raw_weights(store):
    run = start_run(tiny_config(steps=5, ema_decay=0.0), store)
    assert train_run(run)["state"] == "finished"
    assert not any(key.startswith((RAW_PREFIX, AVERAGE_PREFIX)) for key in saved_state(run))


def test_a_vae_keeps_no_average():
    vae = VARIANTS["vae-fast"].build()
    assert training.make_average(tiny_config(model="vae", preset="fast", ema_decay=0.999), vae, 0) is None
    assert training.make_average(tiny_config(ema_decay=0.999), tiny_gan(), 0) is not None


@pytest.mark.parametrize("decay", [1.0, -0.1, "0.9", float("inf")])
def test_a_decay_out_of_range_is_refused_in_one_line_naming_it(decay):
    from aigc_core.config import validate

    with pytest.raises(ValueError, match="ema_decay") as error:
        validate(tiny_config(ema_decay=decay))
    assert "\n" not in str(error.value)
