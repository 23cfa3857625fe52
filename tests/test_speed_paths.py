"""The faster paths of issue 16 keep the results: a compiled `generate`, a DCGAN step that calls D twice.

Tiny `fast` models only; each test runs in about a second.
"""

from __future__ import annotations

import numpy as np
import pytest

from aigc_core.models.registry import get_variant


@pytest.fixture(scope="module")
def keras_seeded():
    import keras

    keras.utils.set_random_seed(0)
    return keras


def record_eagerness(model) -> list[bool]:
    """Make `model.decode_latent` note, on every Python-level call, whether it runs eagerly."""
    import tensorflow as tf

    original = model.decode_latent
    seen: list[bool] = []

    def noting(*arguments):
        seen.append(tf.executing_eagerly())
        return original(*arguments)

    object.__setattr__(model, "decode_latent", noting)
    return seen


def test_repeated_sampling_runs_the_decoder_as_a_graph(keras_seeded):
    model = get_variant("gan", "fast").build()
    seen = record_eagerness(model)
    for _ in range(3):
        model.sample(8, seed=1)
    # The first call stays eager (no tracing for a one-off grid); the second traces a graph
    # (Python sees a non-eager call once) and the third runs that graph without Python.
    assert seen == [True, False]


@pytest.mark.parametrize("model_name, preset", [("gan", "fast"), ("gan", "conditional"), ("vae", "fast")])
def test_compiled_generate_equals_the_eager_decoder(keras_seeded, model_name, preset):
    model = get_variant(model_name, preset).build()
    latent = model.latent_batch(37, seed=4)
    labels = np.arange(37, dtype=np.int32) % 10 if model.num_classes else None

    def eager() -> np.ndarray:
        from aigc_core.data import to_unit_range

        decoded = model.decode_latent(latent) if labels is None else model.decode_latent(latent, labels)
        return to_unit_range(np.asarray(decoded, dtype=np.float32)[..., 0], model.pixel_range)

    for _ in range(2):  # the second call is the compiled one
        # chunks of 16, 16 and 5 rows: the graph must serve every chunk size
        compiled = model.generate(latent, labels, batch_size=16)
    np.testing.assert_allclose(compiled, eager(), atol=1e-5)

    # Weights changed after compiling (a moving average swapped in) are what the graph draws with.
    network = model.generator if model.family == "gan" else model.decoder
    network.set_weights([weight * 0.5 for weight in network.get_weights()])
    np.testing.assert_allclose(model.generate(latent, labels, batch_size=16), eager(), atol=1e-5)


def test_dcgan_step_calls_the_discriminator_on_real_and_fake_separately(keras_seeded):
    model = get_variant("gan", "fast").build(instance_noise=0.1)
    batch_sizes = []
    original_call = model.discriminator.call

    def noting(inputs, *arguments, **keyword_arguments):
        batch_sizes.append(int(inputs.shape[0]))
        return original_call(inputs, *arguments, **keyword_arguments)

    object.__setattr__(model.discriminator, "call", noting)
    real = np.zeros((6, 28, 28, 1), dtype=np.float32)
    real_logits, fake_logits = model.adversarial_logits(real, model.latent_batch(6, seed=0))
    # One call on both halves concatenated would also send the generator's gradient back
    # through D for the real half (bench/README.md, "Training throughput").
    assert batch_sizes == [6, 6]
    assert tuple(real_logits.shape) == tuple(fake_logits.shape) == (6, 1)
