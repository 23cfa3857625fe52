"""GAN training options tried for speed of learning (issue 16): the R1 penalty and learning-rate schedules.

Both are off by default, and off they must leave a model exactly as it was; on, the penalty
must be the squared input gradient it claims to be, and the schedule must give the step sizes
its docstring promises at the steps where they are easy to compute by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from aigc_core.data import load_images, scale_pixels
from aigc_core.models import DCGAN
from aigc_core.models.base import learning_rate_schedule
from aigc_core.models.dcgan import r1_penalty

SMALL_GAN = {"architecture": "fast", "latent_dim": 8}


@pytest.fixture(scope="module")
def digits():
    """32 real MNIST digits scaled to [-1, 1], as a GAN sees them."""
    return scale_pixels(load_images("mnist", "train", limit=32).images, "tanh")


def built(**config):
    import keras

    keras.utils.set_random_seed(0)
    model = DCGAN(**{**SMALL_GAN, **config})
    model.compile()
    return model


def test_r1_penalty_of_a_linear_discriminator_is_its_squared_weight_norm():
    import keras

    weights = np.random.default_rng(0).normal(size=(28 * 28, 1)).astype("float32")
    linear = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(1, use_bias=False)])
    linear.layers[-1].set_weights([weights])
    images = np.random.default_rng(1).uniform(-1, 1, size=(4, 28, 28, 1)).astype("float32")
    # D(x) = w . x has the same gradient w at every image: the penalty is ||w||^2.
    assert float(r1_penalty(linear, images)) == pytest.approx(float(np.sum(weights**2)), rel=1e-4)


def test_r1_adds_half_gamma_times_the_penalty_to_the_first_d_loss(digits):
    plain, penalised = built(), built(r1_weight=10.0)
    penalty = float(r1_penalty(penalised.discriminator, digits))
    assert penalty > 0
    plain_loss = plain.train_on_batch(digits, return_dict=True)["d_loss"]
    penalised_loss = penalised.train_on_batch(digits, return_dict=True)["d_loss"]
    # Same seed, same weights and noise before the first update: only the penalty differs.
    assert penalised_loss - plain_loss == pytest.approx(5.0 * penalty, rel=0.05)


def test_r1_changes_the_discriminator_update_and_round_trips(digits):
    plain, penalised = built(), built(r1_weight=10.0)
    for model in (plain, penalised):
        model.train_on_batch(digits)
    moved = [np.abs(a - b).max() for a, b in zip(plain.discriminator.get_weights(), penalised.discriminator.get_weights())]
    assert max(moved) > 1e-6
    config = penalised.get_config()
    assert config["r1_weight"] == 10.0
    assert DCGAN.from_config(config).r1_weight == 10.0
    with pytest.raises(ValueError, match="r1_weight"):
        DCGAN(**SMALL_GAN, r1_weight=-1.0)


def test_options_off_leave_the_config_of_a_plain_model():
    config = built().get_config()
    assert (config["r1_weight"], config["learning_rate_warmup_steps"], config["learning_rate_decay_steps"]) == (0.0, 0, 0)
    assert learning_rate_schedule(2e-4, 0, 0) == 2e-4


@pytest.mark.parametrize(
    "warmup, decay, step, expected_fraction",
    [
        (10, 0, 0, 0.0), (10, 0, 5, 0.5), (10, 0, 10, 1.0), (10, 0, 1000, 1.0),
        (10, 20, 20, 0.5), (10, 20, 30, 0.0), (10, 20, 500, 0.0),
        (0, 20, 0, 1.0), (0, 20, 10, 0.5), (0, 20, 40, 0.0),
    ],
)
def test_schedule_warms_up_linearly_and_decays_along_a_cosine(warmup, decay, step, expected_fraction):
    schedule = learning_rate_schedule(4e-4, warmup, decay)
    assert float(schedule(step)) == pytest.approx(4e-4 * expected_fraction, abs=1e-9)


def test_warmup_holds_the_first_update_at_zero_then_grows(digits):
    model = built(learning_rate_warmup_steps=4, learning_rate_decay_steps=100)
    before = [weights.copy() for weights in model.generator.get_weights()]
    model.train_on_batch(digits)
    after_one = model.generator.get_weights()
    # Adam's step size is 0 at iteration 0: the trainable kernels stay put (batch-norm statistics move).
    kernel_indexes = [index for index, variable in enumerate(model.generator.weights) if variable.trainable]
    assert all(np.array_equal(before[index], after_one[index]) for index in kernel_indexes)
    model.train_on_batch(digits)
    assert any(not np.array_equal(before[index], model.generator.get_weights()[index]) for index in kernel_indexes)
    assert float(model.g_optimizer.learning_rate) == pytest.approx(model.g_learning_rate * 2 / 4, rel=1e-5)
    restored = DCGAN.from_config(model.get_config())
    assert (restored.learning_rate_warmup_steps, restored.learning_rate_decay_steps) == (4, 100)
    with pytest.raises(ValueError, match="learning_rate_warmup_steps"):
        DCGAN(**SMALL_GAN, learning_rate_warmup_steps=-1)


def test_a_penalised_scheduled_gan_trains_to_finite_losses(digits):
    model = built(r1_weight=1.0, learning_rate_warmup_steps=2, learning_rate_decay_steps=4)
    history = model.fit(digits, batch_size=16, epochs=3, verbose=0).history
    assert all(math.isfinite(value) for values in history.values() for value in values)
    # The decay has ended: the step size is 0 again.
    assert float(model.g_optimizer.learning_rate) == pytest.approx(0.0, abs=1e-12)
