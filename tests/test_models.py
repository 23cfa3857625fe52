"""Models: seeded sampling, one training step, config and weights round trips, VAE specifics.

Every registry variant is built; the paper GAN (2.3 M parameters) is only built and sampled,
the small ones also take one real training step on 32 MNIST images.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from aigc_core.data import load_images, scale_pixels
from aigc_core.models import DCGAN, VAE
from aigc_core.models.registry import FAMILIES, VARIANTS, build_model, get_variant, presets_for

TRAINABLE = ["gan-fast", "vae-fast", "vae-map", "vae-large"]
DOCUMENTED_METRICS = {
    "gan": {"d_loss", "g_loss", "d_real", "d_fake"},
    "vae": {"loss", "reconstruction_loss", "kl_loss"},
}


@pytest.fixture(scope="module")
def models():
    """One fresh model per variant, shared by this module's tests (building costs seconds)."""
    import keras

    keras.utils.set_random_seed(0)
    return {name: variant.build() for name, variant in VARIANTS.items()}


@pytest.fixture(scope="module")
def digits():
    """32 real MNIST digits, uint8 (32, 28, 28)."""
    return load_images("mnist", "train", limit=32).images


def one_step(model, digits) -> dict:
    """One real `train_step` through `fit()` on a batch of 32; returns the logged values."""
    history = model.fit(scale_pixels(digits, model.pixel_range), batch_size=32, epochs=1, verbose=0)
    return {name: values[-1] for name, values in history.history.items()}


def test_registry_lists_the_documented_variants():
    # Later variants (conditional, WGAN-GP) have their own test files; the original four stay first.
    assert {"gan-fast", "gan-paper", "vae-fast", "vae-large", "gan-conditional", "vae-conditional"} <= set(VARIANTS)
    assert FAMILIES == ("gan", "vae", "diffusion")
    # The Train page offers each family's first preset first: the GAN that reaches digits soonest.
    assert presets_for("gan")[:3] == ("clusters", "fast", "paper") and presets_for("vae")[:3] == ("clusters", "fast", "map")
    # The Train page's first VAE has the 16-D latent that learns digits soonest; the 2-D one stays for the map.
    assert get_variant("vae", "clusters").model_config["latent_dim"] == 16
    assert get_variant("vae", "fast").model_config["latent_dim"] == 16
    assert get_variant("vae", "map").model_config["latent_dim"] == 2
    assert get_variant("vae", "large").model_config["latent_dim"] == 16
    with pytest.raises(ValueError, match="preset"):
        get_variant("vae", "paper")
    with pytest.raises(ValueError, match="model"):
        get_variant("flow", "fast")
    with pytest.raises(ValueError, match="family"):
        build_model("flow", {})


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_sample_is_seeded_and_in_unit_range(models, name):
    model = models[name]
    first = model.sample(6, seed=11)
    assert first.shape == (6, 28, 28) and first.dtype == np.float32
    assert first.min() >= 0.0 and first.max() <= 1.0
    np.testing.assert_array_equal(model.sample(6, seed=11), first)
    other = model.sample(6, seed=12)
    assert not np.allclose(other, first)
    # the images within one batch differ too (distinct latent vectors)
    assert not np.allclose(first[0], first[1])


def test_latent_batch_is_a_numpy_function_of_the_seed(models):
    model = models["vae-large"]
    latent = model.latent_batch(5, seed=3)
    assert latent.shape == (5, 16) and latent.dtype == np.float32
    np.testing.assert_array_equal(latent, np.random.default_rng(3).standard_normal((5, 16)).astype(np.float32))
    np.testing.assert_array_equal(model.generate(latent), model.sample(5, seed=3))
    with pytest.raises(ValueError, match="num_samples"):
        model.latent_batch(0, seed=0)
    with pytest.raises(ValueError, match="shape"):
        model.generate(np.zeros((2, 3), np.float32))


def test_parameter_counts_name_each_network(models):
    assert set(models["gan-fast"].parameter_counts()) == {"generator", "discriminator"}
    assert set(models["vae-fast"].parameter_counts()) == {"encoder", "decoder"}
    paper = models["gan-paper"].parameter_counts()
    # The TensorFlow DCGAN tutorial's networks, layer for layer (BatchNorm statistics included).
    assert paper == {"generator": 2_330_944, "discriminator": 212_865}
    # The registry's description promises "~0.3 M parameters" for the small GAN.
    fast = sum(models["gan-fast"].parameter_counts().values())
    assert 250_000 < fast < 350_000 and "0.3 M" in VARIANTS["gan-fast"].description
    assert fast < sum(paper.values()) / 5


@pytest.mark.parametrize("name", TRAINABLE)
def test_one_training_step_gives_finite_losses_under_the_documented_keys(models, digits, name):
    model = models[name]
    logs = one_step(model, digits)
    assert set(logs) == DOCUMENTED_METRICS[model.family]
    assert set(model.metric_names) == DOCUMENTED_METRICS[model.family]
    assert all(math.isfinite(value) for value in logs.values()), logs
    if model.family == "gan":
        assert 0.0 < logs["d_real"] < 1.0 and 0.0 < logs["d_fake"] < 1.0
    else:
        assert logs["loss"] == pytest.approx(logs["reconstruction_loss"] + model.beta * logs["kl_loss"], rel=1e-4)


@pytest.mark.parametrize("name", ["gan-fast", "vae-fast"])
def test_train_on_batch_works_too(models, digits, name):
    # Keras hands train_step an (x, y, sample_weight) tuple here, not the bare batch fit() gives.
    model = models[name]
    logs = model.train_on_batch(scale_pixels(digits, model.pixel_range), return_dict=True)
    assert set(logs) == DOCUMENTED_METRICS[model.family]
    assert all(math.isfinite(float(value)) for value in logs.values())


def test_training_changes_the_weights(digits):
    import keras

    keras.utils.set_random_seed(1)
    model = get_variant("vae", "fast").build()
    before = [np.array(weight) for weight in model.decoder.weights]
    one_step(model, digits)
    after = [np.array(weight) for weight in model.decoder.weights]
    assert any(not np.array_equal(old, new) for old, new in zip(before, after))


def test_gan_with_two_discriminator_steps_per_generator_step(digits):
    model = DCGAN(architecture="fast", latent_dim=8, d_steps_per_g_step=2)
    model.compile()
    before = int(model.d_optimizer.iterations.numpy()), int(model.g_optimizer.iterations.numpy())
    logs = one_step(model, digits)
    assert set(logs) == DOCUMENTED_METRICS["gan"] and all(math.isfinite(v) for v in logs.values())
    after = int(model.d_optimizer.iterations.numpy()), int(model.g_optimizer.iterations.numpy())
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)


def test_hinge_losses_leave_confident_verdicts_alone_and_train(digits):
    from aigc_core.models.dcgan import hinge_discriminator_loss, hinge_generator_loss

    confident = hinge_discriminator_loss(np.array([[2.0], [1.5]]), np.array([[-3.0], [-1.0]]))
    assert float(confident) == 0.0  # every logit past its margin: nothing left to learn
    unsure = hinge_discriminator_loss(np.array([[0.0]]), np.array([[0.5]]))
    assert float(unsure) == pytest.approx(1.0 + 1.5)
    assert float(hinge_generator_loss(np.array([[1.0], [3.0]]))) == pytest.approx(-2.0)

    hinge = DCGAN(architecture="fast", latent_dim=8, adversarial_loss="hinge")
    hinge.compile()
    logs = one_step(hinge, digits)
    assert set(logs) == DOCUMENTED_METRICS["gan"] and all(math.isfinite(v) for v in logs.values())
    # An untrained D's logits are near 0, where the hinge loss is near 2 and cross-entropy near 2 log 2.
    assert 1.5 < logs["d_loss"] < 2.5
    assert build_model("gan", hinge.get_config()).adversarial_loss == "hinge"
    with pytest.raises(ValueError, match="adversarial_loss"):
        DCGAN(architecture="fast", adversarial_loss="wasserstein")


def test_spectral_norm_bounds_the_discriminator_and_trains(digits):
    plain = DCGAN(architecture="fast", latent_dim=8)
    normalised = DCGAN(architecture="fast", latent_dim=8, spectral_norm=True)
    normalised.compile()
    wrapped = [layer for layer in normalised.discriminator.layers if type(layer).__name__ == "SpectralNormalization"]
    assert len(wrapped) == 3 and not any(type(layer).__name__ == "SpectralNormalization"
                                         for layer in plain.discriminator.layers)
    logs = one_step(normalised, digits)
    assert set(logs) == DOCUMENTED_METRICS["gan"] and all(math.isfinite(v) for v in logs.values())
    # After the step's power iteration, each normalised kernel's largest singular value is about 1.
    kernel = np.array(wrapped[-1].layer.kernel)  # the last Dense, (3136, 1): its norm is its spectral norm
    assert float(np.linalg.norm(kernel)) == pytest.approx(1.0, rel=0.05)
    assert build_model("gan", normalised.get_config()).spectral_norm is True


def test_nearest_upsampling_generator_has_no_transposed_convolution_and_trains(digits):
    model = DCGAN(architecture="fast", latent_dim=8, upsampling="nearest")
    model.compile()
    kinds = [type(layer).__name__ for layer in model.generator.layers]
    assert "Conv2DTranspose" not in kinds and kinds.count("UpSampling2D") == 2
    assert model.generator.output_shape == (None, 28, 28, 1)
    logs = one_step(model, digits)
    assert set(logs) == DOCUMENTED_METRICS["gan"] and all(math.isfinite(v) for v in logs.values())
    assert build_model("gan", model.get_config()).upsampling == "nearest"
    with pytest.raises(ValueError, match="seed's network"):
        DCGAN(architecture="paper", upsampling="nearest")
    with pytest.raises(ValueError, match="upsampling"):
        DCGAN(architecture="fast", upsampling="bilinear-ish")


def test_width_scales_the_fast_networks_channels_and_survives_its_config(digits):
    wide = DCGAN(architecture="fast", latent_dim=8, width=2)
    wide.compile()
    channels = lambda network: [layer.output.shape[-1] for layer in network.layers if "Conv" in type(layer).__name__]
    assert channels(wide.generator) == [64, 1] and channels(wide.discriminator) == [64, 128]
    assert wide.generator.layers[0].units == 7 * 7 * 128
    assert channels(DCGAN(architecture="fast", latent_dim=8).discriminator) == [32, 64]
    logs = one_step(wide, digits)
    assert set(logs) == DOCUMENTED_METRICS["gan"] and all(math.isfinite(v) for v in logs.values())
    assert build_model("gan", wide.get_config()).count_params() == wide.count_params()
    with pytest.raises(ValueError, match="seed's exactly"):
        DCGAN(architecture="paper", width=2)
    with pytest.raises(ValueError, match="width > 0"):
        DCGAN(architecture="fast", width=0)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_get_config_rebuilds_an_identical_architecture(models, name):
    model = models[name]
    config = model.get_config()
    preset = VARIANTS[name].model_config
    assert {key: config[key] for key in preset} == preset  # constructor args and config keys agree
    rebuilt = build_model(model.family, config, type(model).__name__)
    assert type(rebuilt) is type(model)
    assert rebuilt.get_config() == config
    assert rebuilt.parameter_counts() == model.parameter_counts()
    for network_name, network in model.networks().items():
        twin = rebuilt.networks()[network_name]
        assert [type(layer).__name__ for layer in twin.layers] == [type(layer).__name__ for layer in network.layers]
        assert [tuple(w.shape) for w in twin.weights] == [tuple(w.shape) for w in network.weights]


@pytest.mark.parametrize("name", TRAINABLE)
def test_weights_round_trip_gives_identical_samples(models, name, tmp_path):
    model = models[name]
    path = tmp_path / f"{name}.weights.h5"
    model.save_weights(path)
    rebuilt = build_model(model.family, model.get_config())
    assert not np.allclose(rebuilt.sample(8, seed=5), model.sample(8, seed=5))  # fresh init differs
    rebuilt.load_weights(path)
    np.testing.assert_array_equal(rebuilt.sample(8, seed=5), model.sample(8, seed=5))


def test_vae_encode_and_reconstruct_shapes(models, digits):
    for name, latent_dim in (("vae-fast", 16), ("vae-map", 2), ("vae-large", 16)):
        model = models[name]
        images01 = digits[:8] / 255.0
        mean, log_variance = model.encode(images01)
        assert mean.shape == log_variance.shape == (8, latent_dim)
        assert np.isfinite(mean).all() and np.isfinite(log_variance).all()
        reconstructed = model.reconstruct(images01)
        assert reconstructed.shape == (8, 28, 28) and reconstructed.dtype == np.float32
        assert reconstructed.min() >= 0.0 and reconstructed.max() <= 1.0
        np.testing.assert_array_equal(model.reconstruct(images01), reconstructed)  # the mean, no sampling
        # (N, 28, 28, 1) inputs are accepted as well
        assert model.encode(images01[..., None])[0].shape == (8, latent_dim)


@pytest.mark.parametrize("reconstruction", ["bernoulli", "gaussian"])
def test_both_reconstruction_losses_train(digits, reconstruction):
    model = VAE(latent_dim=2, architecture="fast", reconstruction=reconstruction)
    model.compile()
    logs = one_step(model, digits)
    assert set(logs) == DOCUMENTED_METRICS["vae"] and all(math.isfinite(v) for v in logs.values())
    if reconstruction == "bernoulli":
        # summed binary cross-entropy over 784 pixels, near log(2) each for an untrained decoder
        assert 300 < logs["reconstruction_loss"] < 800
    else:
        # half the summed squared error of values in [0, 1]: at most 392
        assert 0 < logs["reconstruction_loss"] < 392
    assert model.get_config()["reconstruction"] == reconstruction


def test_unknown_reconstruction_or_architecture_is_refused():
    with pytest.raises(ValueError, match="reconstruction"):
        VAE(reconstruction="l1")
    with pytest.raises(ValueError, match="architecture"):
        VAE(architecture="paper")
    with pytest.raises(ValueError, match="architecture"):
        DCGAN(architecture="large")
