"""VAE training options: a KL warm-up, and a Gaussian decoder with a learned variance (sigma-VAE).

Both are opt-in: a model built without them has the same variables, config and loss as before,
so shipped weight files keep loading. Tiny models (2-D latent) on 32 MNIST digits; one case
trains both options under KERAS_BACKEND=jax in a child process.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aigc_core.config import TrainingConfig, validate
from aigc_core.data import load_images, scale_pixels
from aigc_core.models import VAE, ConditionalVAE
from aigc_core.models.registry import build_model
from aigc_core.models.vae import LOG_SCALE_RANGE, reconstruction_loss

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = PROJECT_ROOT / "weights"
WARMUP_STEPS = 4


@pytest.fixture(scope="module")
def digits():
    """32 real MNIST digits in [0, 1], (32, 28, 28, 1), with their labels."""
    data = load_images("mnist", "train", limit=32)
    return scale_pixels(data.images, "sigmoid"), data.labels


def tiny_vae(**options) -> VAE:
    import keras

    keras.utils.set_random_seed(0)
    model = VAE(latent_dim=2, architecture="fast", **options)
    model.compile()
    return model


def network_variable_count(model) -> int:
    return len(model.encoder.trainable_variables) + len(model.decoder.trainable_variables)


# -- defaults: today's model ------------------------------------------------------------------
def test_default_model_has_no_extra_weight_and_its_config_round_trips(digits):
    model = tiny_vae()
    assert model.kl_warmup_steps == 0 and model.reconstruction == "bernoulli"
    assert not hasattr(model, "decoder_log_scale")
    assert len(model.trainable_variables) == len(model.weights) == network_variable_count(model)
    config = model.get_config()
    assert config["kl_warmup_steps"] == 0
    assert build_model("vae", config, "VAE").get_config() == config
    logs = model.train_on_batch(digits[0], return_dict=True)
    assert logs["loss"] == pytest.approx(logs["reconstruction_loss"] + model.beta * logs["kl_loss"], rel=1e-6)


def test_shipped_vae_weights_still_load():
    from aigc_core.weights import load_model_from_files

    config_path = WEIGHTS_DIR / "vae-fast.json"
    if not config_path.exists():
        pytest.skip("no shipped vae-fast weights in this checkout")
    assert "kl_warmup_steps" not in json.loads(config_path.read_text())["config"]  # written before the option
    model = load_model_from_files(config_path, WEIGHTS_DIR / "vae-fast.weights.h5")
    assert model.kl_warmup_steps == 0 and len(model.trainable_variables) == network_variable_count(model)
    assert model.sample(4, seed=0).std() > 0.1  # trained digits, not flat grey


# -- KL warm-up ---------------------------------------------------------------------------------
def test_kl_weight_ramps_from_zero_to_beta_over_the_warmup_steps():
    import keras

    model = tiny_vae(beta=2.0, kl_warmup_steps=WARMUP_STEPS)
    weights = []
    for iterations in (0, 1, 2, WARMUP_STEPS, WARMUP_STEPS + 10):
        model.optimizer.iterations.assign(iterations)
        weights.append(float(model.kl_weight(training=True)))
    assert weights == pytest.approx([0.0, 0.5, 1.0, 2.0, 2.0])
    assert model.kl_weight(training=False) == 2.0  # evaluation: the negative ELBO
    # Through the loss itself, with a KL large enough to tell the weights apart.
    model.optimizer.iterations.assign(1)
    images = np.full((2, 28, 28, 1), 0.5, np.float32)
    logits = np.zeros((2, 28, 28, 1), np.float32)
    mean, log_variance = np.full((2, 2), 3.0, np.float32), np.zeros((2, 2), np.float32)
    reconstruction, kl, loss = model.negative_elbo(images, logits, mean, log_variance, training=True)
    assert float(kl) == pytest.approx(9.0)  # two dimensions of m^2 / 2
    assert float(loss) == pytest.approx(float(reconstruction) + 0.5 * 9.0)
    _, _, full = model.negative_elbo(images, logits, mean, log_variance, training=False)
    assert float(full) == pytest.approx(float(reconstruction) + 2.0 * 9.0)
    assert keras.ops.convert_to_numpy(model.optimizer.iterations) == 1  # reading it moved nothing


def test_training_steps_use_the_warmup_weight_then_the_full_beta(digits):
    model = tiny_vae(beta=10.0, kl_warmup_steps=WARMUP_STEPS)
    first = model.train_on_batch(digits[0], return_dict=True)  # after 0 updates: the KL weighs 0
    assert first["kl_loss"] > 0.0 and first["loss"] == first["reconstruction_loss"]
    # Evaluation mid-warm-up (the ramp is at 10 / 4) still weighs the KL by beta: the negative ELBO.
    reconstruction, kl, loss = model.losses_for(digits[0][:8], training=False)
    assert float(loss) == pytest.approx(float(reconstruction) + 10.0 * float(kl), abs=1e-3)
    for _ in range(WARMUP_STEPS - 1):
        model.train_on_batch(digits[0])
    assert int(model.optimizer.iterations.numpy()) == WARMUP_STEPS
    logs = model.train_on_batch(digits[0], return_dict=True)  # after N updates: the full beta
    assert logs["loss"] == pytest.approx(logs["reconstruction_loss"] + 10.0 * logs["kl_loss"], abs=1e-3)


def test_kl_warmup_is_in_the_config_and_a_negative_count_is_refused():
    model = tiny_vae(kl_warmup_steps=WARMUP_STEPS)
    assert model.get_config()["kl_warmup_steps"] == WARMUP_STEPS
    assert build_model("vae", model.get_config(), "VAE").kl_warmup_steps == WARMUP_STEPS
    with pytest.raises(ValueError, match="kl_warmup_steps"):
        VAE(kl_warmup_steps=-1)


# -- Gaussian decoder with a learned variance -----------------------------------------------------
def test_gaussian_learned_loss_is_the_gaussian_nll_with_a_clamped_scale():
    images = np.zeros((1, 28, 28, 1), np.float32)
    logits = np.zeros((1, 28, 28, 1), np.float32)  # mean 0.5 everywhere: squared error 0.25 per pixel
    for log_scale, clamped in ((0.0, 0.0), (-1.0, -1.0), (-50.0, LOG_SCALE_RANGE[0]), (50.0, LOG_SCALE_RANGE[1])):
        expected = 784 * (0.5 * 0.25 / math.exp(2 * clamped) + clamped + 0.5 * math.log(2 * math.pi))
        value = float(reconstruction_loss(images, logits, "gaussian_learned", np.float32(log_scale)))
        assert value == pytest.approx(expected, rel=1e-5), log_scale


def test_gaussian_learned_owns_one_trained_log_scale(digits):
    model = tiny_vae(reconstruction="gaussian_learned")
    assert model.decoder_log_scale.shape == () and float(model.decoder_log_scale.numpy()) == 0.0
    trainable = [id(variable) for variable in model.trainable_variables]
    assert id(model.decoder_log_scale) in trainable and len(trainable) == network_variable_count(model) + 1
    for _ in range(3):
        logs = model.train_on_batch(digits[0], return_dict=True)
    assert all(math.isfinite(float(value)) for value in logs.values())
    # sigma = 1 is far wider than the decoder's errors: the NLL pulls log sigma down.
    assert float(model.decoder_log_scale.numpy()) < 0.0
    samples = model.sample(4, seed=0)
    assert samples.min() >= 0.0 and samples.max() <= 1.0  # the decoder's mean, as for the other losses


def test_gaussian_learned_weights_and_config_round_trip(digits, tmp_path):
    model = tiny_vae(reconstruction="gaussian_learned", kl_warmup_steps=2)
    for _ in range(3):
        model.train_on_batch(digits[0])
    path = tmp_path / "vae.weights.h5"
    model.save_weights(path)
    rebuilt = build_model("vae", model.get_config(), "VAE")
    assert rebuilt.get_config() == model.get_config()
    assert float(rebuilt.decoder_log_scale.numpy()) == 0.0
    rebuilt.load_weights(path)
    assert float(rebuilt.decoder_log_scale.numpy()) == float(model.decoder_log_scale.numpy()) != 0.0
    assert int(rebuilt.optimizer.iterations.numpy()) == 3  # the warm-up resumes where it stopped
    latent = model.latent_batch(8, seed=5)
    np.testing.assert_array_equal(rebuilt.generate(latent), model.generate(latent))


def test_conditional_vae_takes_both_options(digits):
    import keras

    keras.utils.set_random_seed(0)
    model = ConditionalVAE(latent_dim=2, reconstruction="gaussian_learned", kl_warmup_steps=WARMUP_STEPS)
    model.compile()
    images, labels = digits
    first = model.train_on_batch(images, labels, return_dict=True)
    assert first["loss"] == first["reconstruction_loss"] and math.isfinite(first["kl_loss"])
    assert float(model.decoder_log_scale.numpy()) != 0.0
    assert build_model("vae", model.get_config(), "ConditionalVAE").get_config() == model.get_config()


def test_unknown_reconstruction_is_still_refused():
    with pytest.raises(ValueError, match="reconstruction"):
        VAE(reconstruction="gaussian_fixed")
    with pytest.raises(ValueError, match="reconstruction"):
        validate(TrainingConfig(model="vae", preset="fast", overrides={"reconstruction": "laplace"}))


def test_training_config_accepts_the_learned_gaussian():
    checked = validate(TrainingConfig(model="vae", preset="fast", overrides={"reconstruction": "gaussian_learned"}))
    assert checked.model_config()["reconstruction"] == "gaussian_learned"


# -- JAX ----------------------------------------------------------------------------------------
JAX_CHILD = """
import json, sys
import keras
from aigc_core.data import load_images, scale_pixels
from aigc_core.models import VAE

keras.utils.set_random_seed(0)
model = VAE(latent_dim=2, beta=10.0, reconstruction="gaussian_learned", kl_warmup_steps=2)
model.compile()
images = scale_pixels(load_images("mnist", "train", limit=32).images, "sigmoid")
history = model.fit(images, batch_size=32, epochs=3, steps_per_epoch=1, verbose=0)
print(json.dumps({
    "backend": keras.backend.backend(),
    "logs": {name: [float(value) for value in values] for name, values in history.history.items()},
    "iterations": int(model.optimizer.iterations.numpy()),
    "log_scale": float(model.decoder_log_scale.numpy()),
}))
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_both_options_train_under_jax():
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(PROJECT_ROOT)}
    completed = subprocess.run([sys.executable, "-c", JAX_CHILD], env=environment, capture_output=True, text=True,
                               timeout=300, cwd=PROJECT_ROOT)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["backend"] == "jax" and result["iterations"] == 3
    logs = result["logs"]
    assert all(math.isfinite(value) for values in logs.values() for value in values)
    # One step per epoch, taken after 0, 1 and 2 updates: KL weights 0, beta / 2 and beta.
    for weight, loss, reconstruction, kl in zip((0.0, 5.0, 10.0), logs["loss"], logs["reconstruction_loss"], logs["kl_loss"]):
        assert loss == pytest.approx(reconstruction + weight * kl, abs=1e-3)
    assert logs["loss"][0] == logs["reconstruction_loss"][0]
    assert result["log_scale"] < 0.0  # the learned scale is in the trained state the JAX step hands back
