"""The interface every generative model offers to the CLI, the run store and the UI."""

from __future__ import annotations

import numpy as np
import keras

from aigc_core.data import to_unit_range


class GenerativeModel(keras.Model):
    """A `keras.Model` that can be trained with `fit()` and sampled with a seed.

    Subclasses set `family`, `pixel_range` and `metric_names`, build their networks in
    `__init__` and implement `decode_latent`. Everything else the UI needs (seeded
    sampling, [0, 1] outputs, parameter counts, optimizer state for resuming) lives here
    so that pages never learn which model they hold.
    """

    family: str = ""
    pixel_range: str = "tanh"
    metric_names: tuple[str, ...] = ()

    def __init__(self, latent_dim: int, architecture: str, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.architecture = architecture

    # -- sampling -------------------------------------------------------------------------
    def latent_batch(self, num_samples: int, seed: int) -> np.ndarray:
        """Standard-normal latent vectors from a NumPy generator: same seed, same batch.

        NumPy rather than the backend RNG so that a seed means the same latents under
        TensorFlow, JAX or PyTorch, on CPU or GPU.
        """
        if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
            raise ValueError(f"Expected num_samples to be a positive integer. Received: num_samples={num_samples!r}")
        rng = np.random.default_rng(int(seed))
        return rng.standard_normal((int(num_samples), self.latent_dim)).astype(np.float32)

    def decode_latent(self, latent):
        """Map latent vectors to images in the model's own pixel range (a tensor)."""
        raise NotImplementedError

    def generate(self, latent: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Images (N, 28, 28) float32 in [0, 1] for given latent vectors."""
        latent = np.asarray(latent, dtype=np.float32)
        if latent.ndim != 2 or latent.shape[1] != self.latent_dim:
            raise ValueError(
                f"Expected latent vectors of shape (N, {self.latent_dim}). Received: shape={latent.shape}"
            )
        chunks = []
        for start in range(0, len(latent), batch_size):
            images = self.decode_latent(latent[start : start + batch_size])
            chunks.append(keras.ops.convert_to_numpy(images))
        images = np.concatenate(chunks, axis=0)[..., 0]
        return to_unit_range(images, self.pixel_range)

    def sample(self, num_samples: int, seed: int = 0) -> np.ndarray:
        """`num_samples` images (N, 28, 28) float32 in [0, 1]; the same seed gives the same images."""
        return self.generate(self.latent_batch(num_samples, seed))

    # -- bookkeeping ----------------------------------------------------------------------
    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameter count per sub-network, for the Compare page."""
        return {name: int(network.count_params()) for name, network in self.networks().items()}

    def networks(self) -> dict[str, keras.Model]:
        raise NotImplementedError

    def named_optimizers(self) -> dict[str, keras.optimizers.Optimizer]:
        """Optimizers by name, so their state can be checkpointed and restored on resume."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"latent_dim": self.latent_dim, "architecture": self.architecture}
