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

    A conditional model sets `num_classes` (10 for digits) and takes `labels` in
    `decode_latent(latent, labels)`; unconditional ones keep `num_classes = 0` and refuse labels.
    """

    family: str = ""
    pixel_range: str = "tanh"
    metric_names: tuple[str, ...] = ()
    num_classes: int = 0

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

    def default_labels(self, num_samples: int) -> np.ndarray:
        """Labels 0, 1, ..., 9, 0, 1, ... : what a conditional model draws when none are asked for.

        Cycling through the classes keeps a grid of 64 samples and an evaluation sample
        evenly spread over the digits, so pages written for unconditional models still work.
        """
        if not self.num_classes:
            raise ValueError(f"{type(self).__name__} is not conditional: it has no labels to draw")
        return (np.arange(int(num_samples)) % self.num_classes).astype(np.int32)

    def check_labels(self, labels, num_samples: int) -> np.ndarray | None:
        """The labels to decode `num_samples` latent vectors with: int32 (N,), or None if unconditional.

        Raises:
            ValueError: labels for an unconditional model, or labels that are not N integers
                in [0, num_classes).
        """
        if not self.num_classes:
            if labels is not None:
                raise ValueError(
                    f"{type(self).__name__} is not conditional: it takes no labels. Received: labels={_shown(labels)}"
                )
            return None
        if labels is None:
            return self.default_labels(num_samples)
        array = np.asarray(labels)
        if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"Expected labels to be integers in [0, {self.num_classes - 1}]. Received: labels={_shown(labels)}")
        if array.shape != (int(num_samples),):
            raise ValueError(
                f"Expected one label per sample, shape ({int(num_samples)},). Received: labels of shape {array.shape}"
            )
        if array.size and (array.min() < 0 or array.max() >= self.num_classes):
            raise ValueError(f"Expected labels in [0, {self.num_classes - 1}]. Received: labels={_shown(labels)}")
        return array.astype(np.int32)

    def decode_latent(self, latent, labels=None):
        """Map latent vectors (and, for a conditional model, int labels) to images in the model's own pixel range (a tensor)."""
        raise NotImplementedError

    def generate(self, latent: np.ndarray, labels=None, batch_size: int = 512) -> np.ndarray:
        """Images (N, 28, 28) float32 in [0, 1] for given latent vectors (and labels, if conditional).

        Args:
            latent: (N, latent_dim) vectors.
            labels: conditional models only: N ints in [0, num_classes); None cycles 0-9.
            batch_size: latent vectors decoded per call.
        """
        latent = np.asarray(latent, dtype=np.float32)
        if latent.ndim != 2 or latent.shape[1] != self.latent_dim:
            raise ValueError(
                f"Expected latent vectors of shape (N, {self.latent_dim}). Received: shape={latent.shape}"
            )
        labels = self.check_labels(labels, len(latent))
        chunks = []
        for start in range(0, len(latent), batch_size):
            if labels is None:
                images = self.decode_latent(latent[start : start + batch_size])
            else:
                images = self.decode_latent(latent[start : start + batch_size], labels[start : start + batch_size])
            chunks.append(keras.ops.convert_to_numpy(images))
        images = np.concatenate(chunks, axis=0)[..., 0]
        return to_unit_range(images, self.pixel_range)

    def sample(self, num_samples: int, seed: int = 0, labels=None) -> np.ndarray:
        """`num_samples` images (N, 28, 28) float32 in [0, 1]; the same seed (and labels) gives the same images.

        Args:
            num_samples: how many images.
            seed: the latent batch's seed.
            labels: conditional models only: the digit of each image, N ints (e.g.
                `np.full(n, 7)`); None cycles 0-9. An unconditional model refuses labels.
        """
        latent = self.latent_batch(num_samples, seed)
        return self.generate(latent, labels)

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


def _shown(labels) -> str:
    """A short repr of labels for an error message (a long array is cut)."""
    text = repr(labels)
    return text if len(text) <= 80 else text[:77] + "..."
