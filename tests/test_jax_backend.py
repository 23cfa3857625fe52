"""Training under KERAS_BACKEND=jax, the backend of GPU hosts without TensorFlow (issue 5).

Keras fixes its backend at import and this test process runs TensorFlow, so the JAX half runs
once in a child process (this file run as a script) in which TensorFlow cannot be imported,
as on such a host, and which writes what it measured to JSON:
a few `fit()` steps of a DCGAN (with extra discriminator steps, instance
noise, label smoothing, the R1 penalty and a learning-rate warm-up, so every branch of its JAX step runs), of vae-fast, of the three
conditional variants (fed labels; the diffusion one stands for its family) and of WGAN-GP, on 256 images; samples from shipped and
JAX-trained weights; and WGAN-GP's gradient penalty with its gradient w.r.t. the critic's
weights on fixed inputs. The tests here check those numbers, and load the JAX-trained weights
under TensorFlow to compare samples (and the penalty's second derivatives) across backends.

The GANs are the fast architecture: XLA on a CPU compiles the paper generator's transposed
convolutions for ~17 s, which `bench/gpu.sh` (paper DCGAN, JAX) pays instead of the suite.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A small latent and every option the JAX step has a branch for.
GAN_OVERRIDES = {
    "latent_dim": 8,
    "d_steps_per_g_step": 2,
    "instance_noise": 0.1,
    "instance_noise_steps": 4,
    "real_label": 0.9,
    # R1's input gradient nests `jax.grad` in the step's `jax.vjp`; the warm-up is an optimizer schedule.
    "r1_weight": 1.0,
    "learning_rate_warmup_steps": 1,
}
# Two discriminator steps per generator step, so the conditional GAN's discriminator-only step
# runs. WGAN-GP's critic loop runs even at one step per generator step, and each critic step,
# a second derivative, is the costliest part of the child's compiling.
CONDITIONAL_GAN_OVERRIDES = {"latent_dim": 8, "d_steps_per_g_step": 2}
WGAN_OVERRIDES = {"latent_dim": 8, "d_steps_per_g_step": 1}
EPOCHS, STEPS_PER_EPOCH = 2, 1
STEPS = EPOCHS * STEPS_PER_EPOCH
VAE_EPOCHS, VAE_STEPS_PER_EPOCH = 2, 2
# Two denoising steps per sample: enough to run the sampler's loop. Three training steps: the
# denoiser's zero-initialised last convolutions (aigc_core.models.diffusion) pass gradient to the
# layers before them from the third step on.
DIFFUSION_OVERRIDES = {"sampling_steps": 2}
DIFFUSION_STEPS = 3
# Not the 0-9 cycle a conditional model draws without labels, so the labels given must be the ones used.
SAMPLE_LABELS = [(3 * index) % 10 for index in range(16)]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="jax is not installed: pip install 'jax[cpu]'"
)


class HideTensorFlow(importlib.abc.MetaPathFinder):
    """An import hook that makes `import tensorflow` fail, as on a GPU host that has only JAX and PyTorch."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by tests/test_jax_backend.py)", name=name)
        return None


def _weight_fingerprints(model) -> list[float]:
    return [float(np.abs(np.asarray(variable.numpy(), dtype=np.float64)).sum()) for variable in model.variables]


def _logs(history) -> dict:
    return {name: [float(value) for value in values] for name, values in history.history.items()}


def _fit(model, fit_inputs, batch_size: int, epochs: int, steps_per_epoch: int) -> dict:
    """`model.fit(*fit_inputs)` for a few steps; what it logged and which variables it left unchanged."""
    before = _weight_fingerprints(model)
    history = model.fit(*fit_inputs, batch_size=batch_size, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0)
    after = _weight_fingerprints(model)
    changed = {variable.path for variable, old, new in zip(model.variables, before, after) if old != new}
    return {
        "logs": _logs(history),
        "iterations": {name: int(optimizer.iterations.numpy()) for name, optimizer in model.named_optimizers().items()},
        "unchanged_trainable": [variable.path for variable in model.trainable_variables if variable.path not in changed],
        "unchanged_moving_statistics": [
            variable.path
            for variable in model.non_trainable_variables
            if "moving" in variable.path and variable.path not in changed
        ],
    }


def penalty_inputs(images) -> dict:
    """Fixed real, fake and mixing arrays for the gradient penalty: 8 real digits and uniform noise."""
    from aigc_core.data import scale_pixels

    rng = np.random.default_rng(0)
    return {
        "real": scale_pixels(images[:8], "tanh"),
        "fake": rng.uniform(-1.0, 1.0, (8, 28, 28, 1)).astype(np.float32),
        "mixing": rng.uniform(0.0, 1.0, (8, 1, 1, 1)).astype(np.float32),
    }


def jax_penalty_and_gradients(model, inputs) -> tuple[float, list[np.ndarray]]:
    """WGAN-GP's penalty and its gradient w.r.t. the critic's weights, by the JAX step's own path.

    `gradient_penalty` nests `jax.grad` (the input gradient) in `losses_and_gradients`'s
    `jax.vjp` (the weight gradient), inside `stateless_step`, as in `WGANGP.jax_train_step`.
    """
    from aigc_core.models.jax_steps import losses_and_gradients, state_variables, stateless_step
    from aigc_core.models.wgan import gradient_penalty

    critic_variables = model.critic.trainable_variables

    def step(_):
        def forward():
            return (gradient_penalty(model.critic, inputs["real"], inputs["fake"], inputs["mixing"]),), None

        (penalty,), _, (gradients,) = losses_and_gradients(model, forward, [critic_variables])
        return penalty, gradients

    import jax

    # Compiled, as the trainer compiles its step: op by op, the second derivative takes longer.
    compiled = jax.jit(lambda state: stateless_step(model, state, None, step)[0])
    penalty, gradients = compiled(tuple([variable.value for variable in variables] for variables in state_variables(model)))
    return float(penalty), [np.asarray(gradient) for gradient in gradients]


def run_child(out_dir: Path) -> None:
    """The JAX half: train, sample and save into `out_dir`, results in `out_dir/results.json`."""
    sys.meta_path.insert(0, HideTensorFlow())
    import keras

    from aigc_core.data import load_images, scale_pixels
    from aigc_core.models.registry import VARIANTS

    results = {"backend": keras.backend.backend()}
    data = load_images("mnist", "train", limit=256)
    images = data.images

    keras.utils.set_random_seed(0)
    gan = VARIANTS["gan-fast"].build(**GAN_OVERRIDES)
    results["gan"] = _fit(gan, (scale_pixels(images, "tanh"),), 16, EPOCHS, STEPS_PER_EPOCH)
    samples = gan.sample(16, seed=3)
    np.save(out_dir / "gan_samples.npy", samples)
    gan.save_weights(out_dir / "gan.weights.h5")
    results["gan"]["same_seed_same_samples"] = bool(np.array_equal(samples, gan.sample(16, seed=3)))

    keras.utils.set_random_seed(0)
    vae = VARIANTS["vae-fast"].build()
    results["vae"] = _fit(vae, (scale_pixels(images, "sigmoid"),), 32, VAE_EPOCHS, VAE_STEPS_PER_EPOCH)
    samples = vae.sample(16, seed=3)
    results["vae"]["sample_range"] = [float(samples.min()), float(samples.max())]

    for name, overrides, batch_size in (
        ("gan-conditional", CONDITIONAL_GAN_OVERRIDES, 16),
        ("vae-conditional", {}, 32),
    ):
        keras.utils.set_random_seed(0)
        model = VARIANTS[name].build(**overrides)
        fit_inputs = (scale_pixels(images, model.pixel_range), data.labels)
        results[name] = _fit(model, fit_inputs, batch_size, EPOCHS, STEPS_PER_EPOCH)
        samples = model.sample(16, seed=3, labels=np.array(SAMPLE_LABELS))
        results[name]["sample_range"] = [float(samples.min()), float(samples.max())]
        np.save(out_dir / f"{name}_samples.npy", samples)
        model.save_weights(out_dir / f"{name}.weights.h5")

    # The clustered GAN and VAE make their own labels (k-means) and sample without any.
    for name, overrides, batch_size in (("gan-clusters", CONDITIONAL_GAN_OVERRIDES, 16), ("vae-clusters", {}, 32)):
        keras.utils.set_random_seed(0)
        clustered = VARIANTS[name].build(**overrides)
        clusters = clustered.training_labels(images, data.labels, seed=0)
        results[name] = _fit(clustered, (scale_pixels(images, clustered.pixel_range), clusters), batch_size, EPOCHS,
                             STEPS_PER_EPOCH)
        samples = clustered.sample(16, seed=3)
        results[name]["sample_range"] = [float(samples.min()), float(samples.max())]
        results[name]["cluster_shares"] = [float(share) for share in np.array(clustered.cluster_shares)]
        results[name]["cluster_counts"] = np.bincount(clusters, minlength=clustered.num_clusters).tolist()
    # The VAE places an unseen image in its nearest cluster: the ELBO of test-like images needs no label.
    reconstruction, kl, _ = clustered.losses_for(scale_pixels(images[:32], "sigmoid"), training=False)
    results["vae-clusters"]["unlabelled_elbo"] = [float(reconstruction), float(kl)]
    results["vae-clusters"]["nearest_agree"] = float(np.mean(np.asarray(clustered.nearest_clusters(
        scale_pixels(images, "sigmoid"))) == clusters))

    keras.utils.set_random_seed(0)
    diffusion = VARIANTS["diffusion-conditional"].build(**DIFFUSION_OVERRIDES)
    fit_inputs = (scale_pixels(images, diffusion.pixel_range), data.labels)
    results["diffusion-conditional"] = _fit(diffusion, fit_inputs, 32, DIFFUSION_STEPS, 1)
    samples = diffusion.sample(16, seed=3, labels=np.array(SAMPLE_LABELS))
    results["diffusion-conditional"]["sample_range"] = [float(samples.min()), float(samples.max())]
    np.save(out_dir / "diffusion-conditional_samples.npy", samples)
    diffusion.save_weights(out_dir / "diffusion-conditional.weights.h5")

    keras.utils.set_random_seed(0)
    wgan = VARIANTS["gan-wgan-gp"].build(**WGAN_OVERRIDES)
    results["wgan"] = _fit(wgan, (scale_pixels(images, "tanh"),), 16, EPOCHS, STEPS_PER_EPOCH)
    samples = wgan.sample(16, seed=3)
    results["wgan"]["sample_range"] = [float(samples.min()), float(samples.max())]
    results["wgan"]["critic_output_bias"] = wgan.critic.layers[-1].bias.path
    wgan.save_weights(out_dir / "wgan.weights.h5")
    penalty, gradients = jax_penalty_and_gradients(wgan, penalty_inputs(images))
    results["wgan"]["penalty"] = penalty
    np.savez(out_dir / "wgan_penalty_gradients.npz", *gradients)

    shipped = VARIANTS["gan-fast"].build()
    shipped.load_weights(PROJECT_ROOT / "weights" / "gan-fast.weights.h5")
    np.save(out_dir / "shipped_gan_fast_samples.npy", shipped.sample(16, seed=3))

    results["tensorflow_imported"] = "tensorflow" in sys.modules
    (out_dir / "results.json").write_text(json.dumps(results))


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory):
    """Run the child once for this module; returns (results, its output folder)."""
    out_dir = tmp_path_factory.mktemp("jax")
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(PROJECT_ROOT)}
    completed = subprocess.run(
        [sys.executable, __file__, str(out_dir)], env=environment, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads((out_dir / "results.json").read_text()), out_dir


def test_child_runs_on_jax_without_tensorflow(jax_run):
    results, _ = jax_run
    assert results["backend"] == "jax"
    assert results["tensorflow_imported"] is False


def test_dcgan_trains_under_jax(jax_run):
    gan = jax_run[0]["gan"]
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        values = gan["logs"][name]
        assert len(values) == EPOCHS and all(math.isfinite(value) for value in values), (name, values)
        assert values[0] != values[1], (name, values)
    steps = EPOCHS * STEPS_PER_EPOCH
    # Both optimizers' states come back from the compiled step: d steps twice per g step.
    assert gan["iterations"] == {"g_optimizer": steps, "d_optimizer": 2 * steps}
    assert gan["unchanged_trainable"] == []
    assert gan["unchanged_moving_statistics"] == []
    assert gan["same_seed_same_samples"]


def test_vae_trains_under_jax(jax_run):
    vae = jax_run[0]["vae"]
    for name in ("loss", "reconstruction_loss", "kl_loss"):
        assert all(math.isfinite(value) for value in vae["logs"][name]), name
    first, second = vae["logs"]["loss"]
    assert second < first
    assert vae["iterations"] == {"optimizer": VAE_EPOCHS * VAE_STEPS_PER_EPOCH}
    assert vae["unchanged_trainable"] == []
    low, high = vae["sample_range"]
    assert 0.0 <= low < high <= 1.0


def _assert_trained(result: dict, metric_names, iterations: dict) -> None:
    """Every metric finite and moving, each optimizer stepped `iterations[name]` times, samples in [0, 1]."""
    for name in metric_names:
        values = result["logs"][name]
        assert len(values) == EPOCHS and all(math.isfinite(value) for value in values), (name, values)
        assert values[0] != values[1], (name, values)
    assert result["iterations"] == iterations
    assert result["unchanged_moving_statistics"] == []
    low, high = result["sample_range"]
    assert 0.0 <= low < high <= 1.0


def test_conditional_gan_trains_under_jax(jax_run):
    from aigc_core.models import ConditionalDCGAN

    result = jax_run[0]["gan-conditional"]
    _assert_trained(result, ConditionalDCGAN.metric_names, {"g_optimizer": STEPS, "d_optimizer": 2 * STEPS})
    assert result["unchanged_trainable"] == []


def test_clustered_gan_trains_and_samples_under_jax(jax_run):
    from aigc_core.models import ClusteredDCGAN

    result = jax_run[0]["gan-clusters"]
    _assert_trained(result, ClusteredDCGAN.metric_names, {"g_optimizer": STEPS, "d_optimizer": 2 * STEPS})
    assert result["unchanged_trainable"] == []
    counts = np.array(result["cluster_counts"])
    assert np.allclose(result["cluster_shares"], counts / counts.sum(), atol=1e-6)
    low, high = result["sample_range"]
    assert 0.0 <= low < high <= 1.0


def test_clustered_vae_trains_samples_and_scores_unlabelled_images_under_jax(jax_run):
    from aigc_core.models import ClusteredVAE

    result = jax_run[0]["vae-clusters"]
    _assert_trained(result, ClusteredVAE.metric_names, {"optimizer": STEPS})
    assert result["unchanged_trainable"] == []
    counts = np.array(result["cluster_counts"])
    assert np.allclose(result["cluster_shares"], counts / counts.sum(), atol=1e-6)
    assert all(np.isfinite(result["unlabelled_elbo"])) and result["unlabelled_elbo"][0] > 0
    assert result["nearest_agree"] >= 0.95  # the training images' nearest mean images are their k-means clusters


def test_conditional_vae_trains_under_jax(jax_run):
    from aigc_core.models import ConditionalVAE

    result = jax_run[0]["vae-conditional"]
    _assert_trained(result, ConditionalVAE.metric_names, {"optimizer": STEPS})
    assert result["unchanged_trainable"] == []


def test_conditional_diffusion_trains_under_jax(jax_run):
    from aigc_core.models import ConditionalDiffusionModel

    result = jax_run[0]["diffusion-conditional"]
    for name in ConditionalDiffusionModel.metric_names:
        values = result["logs"][name]
        assert len(values) == DIFFUSION_STEPS and all(math.isfinite(value) for value in values), (name, values)
    assert result["iterations"] == {"optimizer": DIFFUSION_STEPS}
    assert result["unchanged_trainable"] == []
    low, high = result["sample_range"]
    assert 0.0 <= low < high <= 1.0


def test_wgan_gp_trains_under_jax(jax_run):
    from aigc_core.models import WGANGP

    result = jax_run[0]["wgan"]
    _assert_trained(result, WGANGP.metric_names, {"g_optimizer": STEPS, "d_optimizer": STEPS})
    # The critic's output bias cancels in E[D(real)] - E[D(fake)] and leaves its input gradient
    # alone: its gradient is exactly 0, under TensorFlow too. Every other weight must move.
    assert result["unchanged_trainable"] == [result["critic_output_bias"]]


def test_wgan_gp_penalty_gradients_agree_across_backends(jax_run):
    """The penalty's weight gradient is a second derivative: JAX's nested grad must match TensorFlow's nested tapes."""
    import tensorflow as tf

    from aigc_core.data import load_images
    from aigc_core.models.wgan import gradient_penalty
    from aigc_core.models.registry import VARIANTS

    results, out_dir = jax_run
    model = VARIANTS["gan-wgan-gp"].build(**WGAN_OVERRIDES)
    model.load_weights(out_dir / "wgan.weights.h5")
    inputs = penalty_inputs(load_images("mnist", "train", limit=256).images)
    with tf.GradientTape() as tape:
        penalty = gradient_penalty(model.critic, inputs["real"], inputs["fake"], inputs["mixing"])
    gradients = tape.gradient(penalty, model.critic.trainable_variables)
    assert math.isclose(float(penalty), results["wgan"]["penalty"], rel_tol=1e-4)
    saved = np.load(out_dir / "wgan_penalty_gradients.npz")
    jax_gradients = [saved[f"arr_{index}"] for index in range(len(saved.files))]
    assert len(jax_gradients) == len(gradients)
    for variable, expected, received in zip(model.critic.trainable_variables, gradients, jax_gradients):
        # TensorFlow returns None for the output bias, which the penalty does not depend on.
        expected = np.zeros(variable.shape, np.float32) if expected is None else np.asarray(expected)
        scale = float(np.abs(expected).max())
        np.testing.assert_allclose(received, expected, rtol=1e-3, atol=1e-3 * scale + 1e-8, err_msg=variable.path)
    assert sum(float(np.abs(gradient).sum()) for gradient in jax_gradients) > 0.0


@pytest.mark.parametrize(
    "name, overrides, iterations",
    [
        ("gan-conditional", CONDITIONAL_GAN_OVERRIDES, {"g_optimizer": STEPS, "d_optimizer": 2 * STEPS}),
        ("vae-conditional", {}, {"optimizer": STEPS}),
        ("diffusion-conditional", DIFFUSION_OVERRIDES, {"optimizer": DIFFUSION_STEPS}),
    ],
)
def test_conditional_weights_trained_under_jax_give_the_same_samples_under_tensorflow(
    jax_run, name, overrides, iterations
):
    from aigc_core.models.registry import VARIANTS

    _, out_dir = jax_run
    model = VARIANTS[name].build(**overrides)
    model.load_weights(out_dir / f"{name}.weights.h5")
    np.testing.assert_allclose(
        np.load(out_dir / f"{name}_samples.npy"), model.sample(16, seed=3, labels=np.array(SAMPLE_LABELS)), atol=2e-4
    )
    assert {key: int(optimizer.iterations.numpy()) for key, optimizer in model.named_optimizers().items()} == iterations


def test_weights_and_samples_agree_across_backends(jax_run):
    from aigc_core.models.registry import VARIANTS

    _, out_dir = jax_run
    shipped = VARIANTS["gan-fast"].build()
    shipped.load_weights(PROJECT_ROOT / "weights" / "gan-fast.weights.h5")
    np.testing.assert_allclose(np.load(out_dir / "shipped_gan_fast_samples.npy"), shipped.sample(16, seed=3), atol=2e-4)

    trained_under_jax = VARIANTS["gan-fast"].build(**GAN_OVERRIDES)
    trained_under_jax.load_weights(out_dir / "gan.weights.h5")
    np.testing.assert_allclose(np.load(out_dir / "gan_samples.npy"), trained_under_jax.sample(16, seed=3), atol=2e-4)
    steps = EPOCHS * STEPS_PER_EPOCH
    assert int(trained_under_jax.g_optimizer.iterations.numpy()) == steps
    assert int(trained_under_jax.d_optimizer.iterations.numpy()) == 2 * steps


if __name__ == "__main__":
    run_child(Path(sys.argv[1]))
