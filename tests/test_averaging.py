"""The generator's moving average: the right arithmetic over the iterates, and it reaches train_run."""

import keras
import numpy as np
import pytest

from aigc_core.averaging import make_generator_average
from aigc_core.data import load_images, scale_pixels
from aigc_core.registry import VARIANTS
from aigc_core.training import start_run, train_run
from conftest import tiny_config


class WeightLog(keras.callbacks.Callback):
    """The generator's weights after every step, to recompute the average by hand."""

    def __init__(self):
        super().__init__()
        self.steps: list[list[np.ndarray]] = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([np.array(weight, dtype=np.float64) for weight in self.model.generator.get_weights()])


def tiny_gan():
    keras.utils.set_random_seed(0)
    return VARIANTS["gan-fast"].build(latent_dim=8)


def test_the_average_is_the_exponential_average_of_every_few_iterates():
    images = scale_pixels(load_images("mnist", "train", limit=64).images, "tanh")
    model = tiny_gan()
    log, average = WeightLog(), make_generator_average(decay=0.9, every=2)
    model.fit(images, batch_size=16, epochs=3, verbose=0, callbacks=[log, average])  # 12 steps

    keep = 0.9 ** 2
    expected = log.steps[1]  # first taken after 2 steps, then every 2
    for weights in log.steps[3::2]:
        expected = [keep * old + (1 - keep) * new for old, new in zip(expected, weights)]
    assert average.updates == 6
    for mine, theirs in zip(average.averaged, expected):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-9)
    # The weights moved, so the average differs from the last iterate it would otherwise be.
    assert any(not np.allclose(mine, last) for mine, last in zip(average.averaged, log.steps[-1]))

    other = tiny_gan()
    other.sample(1, seed=0)  # builds the networks
    average.apply_to(other)
    for applied, mine in zip(other.generator.get_weights(), average.averaged):
        np.testing.assert_allclose(applied, mine.astype(np.float32))


@pytest.mark.parametrize("decay, every", [(1.0, 5), (0.0, 5), (-0.5, 5), (float("nan"), 5), (0.99, 0)])
def test_bad_settings_are_refused_in_one_line(decay, every):
    with pytest.raises(ValueError, match="decay|every") as error:
        make_generator_average(decay, every)
    assert "\n" not in str(error.value)


def test_nothing_to_apply_before_the_first_update():
    with pytest.raises(ValueError, match="no generator average yet"):
        make_generator_average(0.99, every=5).apply_to(tiny_gan())


def test_train_run_passes_extra_callbacks_to_fit(store):
    run = start_run(tiny_config(steps=4), store)
    average = make_generator_average(decay=0.5, every=1)
    status = train_run(run, callbacks=[average])
    assert status["state"] == "finished" and average.updates == 4
