"""Training under KERAS_BACKEND=jax, the backend of GPU hosts without TensorFlow (issue 5).

Keras fixes its backend at import and this test process runs TensorFlow, so the JAX half runs
once in a child process (this file run as a script) in which TensorFlow cannot be imported,
as on such a host, and which writes what it measured to JSON:
a few `fit()` steps of a DCGAN (with extra discriminator steps, instance
noise and label smoothing, so every branch of its JAX step runs) and of vae-fast on 256 images,
and samples from shipped and JAX-trained weights. The tests here check those numbers, and load
the JAX-trained weights under TensorFlow to compare samples across backends.

The DCGAN is the fast architecture: XLA on a CPU compiles the paper generator's transposed
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
}
EPOCHS, STEPS_PER_EPOCH = 2, 1
VAE_EPOCHS, VAE_STEPS_PER_EPOCH = 2, 2

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


def run_child(out_dir: Path) -> None:
    """The JAX half: train, sample and save into `out_dir`, results in `out_dir/results.json`."""
    sys.meta_path.insert(0, HideTensorFlow())
    import keras

    from aigc_core.data import load_images, scale_pixels
    from aigc_core.registry import VARIANTS

    results = {"backend": keras.backend.backend()}
    images = load_images("mnist", "train", limit=256).images

    keras.utils.set_random_seed(0)
    gan = VARIANTS["gan-fast"].build(**GAN_OVERRIDES)
    before = _weight_fingerprints(gan)
    history = gan.fit(scale_pixels(images, "tanh"), batch_size=16, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, verbose=0)
    after = _weight_fingerprints(gan)
    changed = {variable.path for variable, old, new in zip(gan.variables, before, after) if old != new}
    samples = gan.sample(16, seed=3)
    np.save(out_dir / "gan_samples.npy", samples)
    gan.save_weights(out_dir / "gan.weights.h5")
    results["gan"] = {
        "logs": _logs(history),
        "iterations": {name: int(optimizer.iterations.numpy()) for name, optimizer in gan.named_optimizers().items()},
        "unchanged_trainable": [variable.path for variable in gan.trainable_variables if variable.path not in changed],
        "unchanged_moving_statistics": [
            variable.path for variable in gan.non_trainable_variables if "moving" in variable.path and variable.path not in changed
        ],
        "same_seed_same_samples": bool(np.array_equal(samples, gan.sample(16, seed=3))),
    }

    keras.utils.set_random_seed(0)
    vae = VARIANTS["vae-fast"].build()
    before = _weight_fingerprints(vae)
    history = vae.fit(scale_pixels(images, "sigmoid"), batch_size=32, epochs=VAE_EPOCHS, steps_per_epoch=VAE_STEPS_PER_EPOCH, verbose=0)
    after = _weight_fingerprints(vae)
    changed = {variable.path for variable, old, new in zip(vae.variables, before, after) if old != new}
    samples = vae.sample(16, seed=3)
    results["vae"] = {
        "logs": _logs(history),
        "iterations": {name: int(optimizer.iterations.numpy()) for name, optimizer in vae.named_optimizers().items()},
        "unchanged_trainable": [variable.path for variable in vae.trainable_variables if variable.path not in changed],
        "sample_range": [float(samples.min()), float(samples.max())],
    }

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


def test_weights_and_samples_agree_across_backends(jax_run):
    from aigc_core.registry import VARIANTS

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
