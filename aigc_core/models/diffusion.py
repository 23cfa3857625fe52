"""A small diffusion model: a U-Net that learns to undo noise, sampled in a chosen number of steps.

Where a GAN maps a latent vector to an image in one pass, a diffusion model starts from pure
noise the size of the image and removes it a little at each of `steps` passes of one network,
the denoiser. Its "latent" is therefore that starting noise: 784 numbers, flattened, so the
seeded `latent_batch`, the snapshot grids of one fixed noise batch and `generate` work as for
the other families.

Two objectives train the same denoiser (the `objective` config field):

- "flow" (flow matching / rectified flow, Liu et al. 2022; Lipman et al. 2022): the noisy
  image is the straight line x_t = (1 - t) x + t noise, t in [0, 1] drawn logit-normal, and the
  network predicts its velocity noise - x. Sampling walks the line back from t = 1 with Euler steps.
- "ddpm" (Ho et al. 2020, with the cosine schedule of Nichol & Dhariwal 2021): x_t =
  sqrt(a(t)) x + sqrt(1 - a(t)) noise and the network predicts the noise; sampling uses the
  deterministic DDIM update (Song et al. 2020), which allows few steps.

Both sample deterministically from the starting noise, so the same seed gives the same images.
The loss is also logged per third of t ("low", "mid", "high" noise), because a diffusion loss
mixes easy high-noise predictions with hard low-noise ones and its total hides which improves.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from aigc_core.data import to_unit_range
from aigc_core.models.base import GenerativeModel
from aigc_core.models.conditional import NUM_CLASSES, unpack_images_and_labels
from aigc_core.models.jax_steps import losses_and_gradients

ARCHITECTURES = ("fast", "large")
OBJECTIVES = ("flow", "ddpm")
IMAGE_SIZE = 28
LATENT_DIM = IMAGE_SIZE * IMAGE_SIZE
MAX_SAMPLING_STEPS = 1000
# Channels at 28x28, 14x14 and 7x7, one residual block at each on the way down and up. `fast` trains in
# minutes on a CPU; `large` is for shipped weights. A second block per resolution made `large` cost twice
# as much to sample: 1,000 samples at 8 steps took 134 s on the busy 2-core machine, so the
# 10,000-sample `evaluate` would take over 20 minutes (bench/README.md, "Diffusion sampling cost").
_WIDTHS = {"fast": (16, 32, 64), "large": (32, 64, 128)}
# Below this a(t) the DDPM image term is lost in float32 rounding; the cosine schedule reaches 0 at t = 1.
MIN_SIGNAL = 1e-4
# The cosine schedule's offset s, which keeps a(t) from falling too fast near t = 0.
COSINE_OFFSET = 0.008
# Time is fed to the sinusoidal embedding as t * TIME_SCALE, so its frequencies resolve small steps.
TIME_SCALE = 1000.0


def check_steps(steps, name: str = "steps") -> int:
    """`steps` as an int in [1, MAX_SAMPLING_STEPS]; else a ValueError saying what was expected."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_SAMPLING_STEPS:
        raise ValueError(
            f"Expected {name} to be an integer in [1, {MAX_SAMPLING_STEPS}]. Received: {name}={steps!r}"
        )
    return int(steps)


def signal_level(t):
    """The cosine schedule's a(t): the share of the image's variance left at time t (1 at t=0, ~0 at t=1)."""
    angle = (t + COSINE_OFFSET) / (1.0 + COSINE_OFFSET) * (math.pi / 2.0)
    start = math.cos(COSINE_OFFSET / (1.0 + COSINE_OFFSET) * math.pi / 2.0) ** 2
    return ops.clip(ops.square(ops.cos(angle)) / start, MIN_SIGNAL, 1.0)


class SinusoidalTimeEmbedding(layers.Layer):
    """Time t (N,) or (N, 1) -> (N, dim) sines and cosines at geometric frequencies (Transformer style).

    No weights: the dense layers after it learn what to make of the phases.
    """

    def __init__(self, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)

    def call(self, t):
        t = ops.reshape(ops.cast(t, "float32"), (-1, 1)) * TIME_SCALE
        half = self.dim // 2
        frequencies = ops.exp(-math.log(10000.0) * ops.arange(half, dtype="float32") / half)
        angles = t * ops.expand_dims(frequencies, 0)
        return ops.cast(ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


class ResidualBlock(layers.Layer):
    """swish -> conv, the time embedding added, swish -> conv, plus the input: DDPM's block without its norms.

    Called on [features, embedding]; the embedding enters as a per-channel shift so that every
    block knows how much noise it is looking at. GroupNormalization doubled the step time on a
    CPU (0.39 s against 0.21 s for batch 64 of `fast`); instead, as in Fixup (Zhang et al.
    2019), the branch's last convolution starts at zero, so each block starts as the identity
    and the untrained network is stable without normalization.
    """

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.first_conv = layers.Conv2D(self.channels, 3, padding="same")
        self.embedding_projection = layers.Dense(self.channels)
        self.second_conv = layers.Conv2D(self.channels, 3, padding="same", kernel_initializer="zeros")
        self.shortcut = None

    def build(self, input_shapes):
        features_shape, embedding_shape = input_shapes
        if features_shape[-1] != self.channels:
            self.shortcut = layers.Conv2D(self.channels, 1)
            self.shortcut.build(features_shape)
        self.first_conv.build(features_shape)
        self.embedding_projection.build(embedding_shape)
        self.second_conv.build((*features_shape[:-1], self.channels))

    def call(self, inputs):
        features, embedding = inputs
        hidden = self.first_conv(ops.silu(features))
        shift = self.embedding_projection(ops.silu(embedding))
        hidden = hidden + ops.expand_dims(ops.expand_dims(shift, 1), 1)
        hidden = self.second_conv(ops.silu(hidden))
        skipped = self.shortcut(features) if self.shortcut is not None else features
        return skipped + hidden

    def compute_output_shape(self, input_shapes):
        return (*input_shapes[0][:-1], self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


def build_denoiser(architecture: str, num_classes: int = 0) -> keras.Model:
    """[noisy image (28, 28, 1), t (1,)(, int label (1,))] -> (28, 28, 1): a U-Net 28 -> 14 -> 7 -> 14 -> 28.

    The output is the velocity ("flow") or the noise ("ddpm"); the network does not know which.
    Its last convolution starts at zero, so an untrained model predicts nothing rather than noise.
    """
    if architecture not in _WIDTHS:
        raise ValueError(f"Expected architecture to be one of {ARCHITECTURES}. Received: architecture={architecture!r}")
    widths = _WIDTHS[architecture]
    embedding_dim = 4 * widths[0]
    noisy = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="noisy_image")
    time = keras.Input((1,), name="time")
    inputs = [noisy, time]
    embedding = SinusoidalTimeEmbedding(widths[0], name="time_embedding")(time)
    embedding = layers.Dense(embedding_dim, activation="silu")(embedding)
    embedding = layers.Dense(embedding_dim)(embedding)
    if num_classes:
        label = keras.Input((1,), dtype="int32", name="label")
        inputs.append(label)
        label_embedding = layers.Flatten()(layers.Embedding(num_classes, embedding_dim, name="label_embedding")(label))
        embedding = layers.Add()([embedding, label_embedding])

    hidden = layers.Conv2D(widths[0], 3, padding="same")(noisy)
    skips = []
    for level, channels in enumerate(widths):
        hidden = ResidualBlock(channels)([hidden, embedding])
        if level < len(widths) - 1:
            skips.append(hidden)
            hidden = layers.Conv2D(channels, 3, strides=2, padding="same")(hidden)  # 28 -> 14 -> 7
    hidden = ResidualBlock(widths[-1])([hidden, embedding])
    for level in reversed(range(len(widths) - 1)):
        hidden = layers.UpSampling2D(2)(hidden)
        hidden = layers.Conv2D(widths[level], 3, padding="same")(hidden)
        hidden = layers.Concatenate()([hidden, skips[level]])
        hidden = ResidualBlock(widths[level])([hidden, embedding])
    hidden = ops.silu(hidden)
    output = layers.Conv2D(1, 3, padding="same", kernel_initializer="zeros", dtype="float32")(hidden)
    return keras.Model(inputs, output, name="denoiser")


@keras.saving.register_keras_serializable(package="aigc_core")
class DiffusionModel(GenerativeModel):
    """A U-Net denoiser trained by flow matching or DDPM noise prediction, sampled in `sampling_steps` steps.

    The attribute names `denoiser` and `optimizer` are the paths of their variables in a
    `.weights.h5` file: renaming one orphans every saved file of the class.

    Args:
        latent_dim: must be 784 (one number per pixel): the starting noise is the latent.
        architecture: "fast" or "large" (twice the channels).
        objective: "flow" (predict the velocity, Euler sampler) or "ddpm" (predict the noise,
            DDIM sampler).
        sampling_steps: denoiser passes per sample when none are asked for.
        learning_rate: Adam step size.
    """

    family = "diffusion"
    pixel_range = "tanh"
    metric_names = ("loss", "loss_low_noise", "loss_mid_noise", "loss_high_noise")

    def __init__(
        self,
        latent_dim: int = LATENT_DIM,
        architecture: str = "fast",
        objective: str = "flow",
        sampling_steps: int = 8,
        learning_rate: float = 1e-3,
        **kwargs,
    ):
        if latent_dim != LATENT_DIM:
            raise ValueError(
                f"Expected latent_dim to be {LATENT_DIM}: a diffusion model's latent is one noise value per pixel. "
                f"Received: latent_dim={latent_dim!r}"
            )
        if objective not in OBJECTIVES:
            raise ValueError(f"Expected objective to be one of {OBJECTIVES}. Received: objective={objective!r}")
        super().__init__(latent_dim=latent_dim, architecture=architecture, **kwargs)
        self.objective = objective
        self.sampling_steps = check_steps(sampling_steps, "sampling_steps")
        self.learning_rate = float(learning_rate)
        self.denoiser = build_denoiser(architecture, self.num_classes)
        self.finish_building()

    def compile(self, **kwargs):
        """Create the Adam optimizer from the config."""
        super().compile(optimizer=keras.optimizers.Adam(self.learning_rate), **kwargs)
        self.optimizer.build(self.trainable_variables)

    def networks(self):
        return {"denoiser": self.denoiser}

    def named_optimizers(self):
        return {"optimizer": self.optimizer}

    def get_config(self):
        return {
            **super().get_config(),
            "objective": self.objective,
            "sampling_steps": self.sampling_steps,
            "learning_rate": self.learning_rate,
        }

    # -- training ---------------------------------------------------------------------------
    def denoiser_inputs(self, noisy, t, labels):
        """The denoiser's input list: labels only for a conditional model."""
        t = ops.reshape(t, (-1, 1))
        if self.num_classes:
            return [noisy, t, ops.reshape(ops.cast(labels, "int32"), (-1, 1))]
        return [noisy, t]

    def noisy_and_target(self, images, noise, t):
        """(x_t, what the denoiser should output) for clean images at times t (N,)."""
        t_image = ops.reshape(t, (-1, 1, 1, 1))
        if self.objective == "flow":
            return (1.0 - t_image) * images + t_image * noise, noise - images
        signal = signal_level(t_image)
        return ops.sqrt(signal) * images + ops.sqrt(1.0 - signal) * noise, noise

    def losses_for(self, images, labels=None, training: bool = False):
        """(mean loss, per-image loss, t) for a batch at random times: shared by both backends' steps.

        Every image gets its own time t: uniform in [0, 1] for "ddpm", logit-normal for "flow".
        """
        images = ops.cast(images, "float32")
        count = ops.shape(images)[0]
        if self.objective == "flow":
            # Logit-normal times (Esser et al. 2024, Stable Diffusion 3) train the middle of the path, where
            # the velocity is hardest to guess, more often than its ends: after 500 CPU steps FID-MNIST
            # 92.5 against 113.6 with uniform times (bench/README.md).
            t = ops.sigmoid(keras.random.normal((count,), dtype="float32", seed=self.seed_generator))
        else:
            t = keras.random.uniform((count,), dtype="float32", seed=self.seed_generator)
        noise = keras.random.normal(ops.shape(images), dtype="float32", seed=self.seed_generator)
        noisy, target = self.noisy_and_target(images, noise, t)
        prediction = ops.cast(self.denoiser(self.denoiser_inputs(noisy, t, labels), training=training), "float32")
        per_image = ops.mean(ops.square(prediction - target), axis=(1, 2, 3))
        return ops.mean(per_image), per_image, t

    def record(self, loss, per_image, t) -> dict:
        """Update the trackers: the loss, and each noise band's loss over the images whose t fell in it."""
        self.trackers["loss"].update_state(loss)
        bands = (("loss_low_noise", 0.0, 1.0 / 3.0), ("loss_mid_noise", 1.0 / 3.0, 2.0 / 3.0),
                 ("loss_high_noise", 2.0 / 3.0, 1.01))
        for name, low, high in bands:
            inside = ops.cast(ops.logical_and(t >= low, t < high), "float32")
            self.trackers[name].update_state(per_image, sample_weight=inside)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def split_batch(self, data):
        """(images, labels) from what `fit()` hands `train_step`; labels None when unconditional."""
        if self.num_classes:
            return unpack_images_and_labels(data)
        return keras.utils.unpack_x_y_sample_weight(data)[0], None

    def tensorflow_train_step(self, data):
        """One Adam step on the denoising loss; `train_step` under TensorFlow."""
        import tensorflow as tf

        images, labels = self.split_batch(data)
        with tf.GradientTape() as tape:
            loss, per_image, t = self.losses_for(images, labels, training=True)
        gradients = tape.gradient(loss, self.denoiser.trainable_variables)
        self.optimizer.apply(gradients, self.denoiser.trainable_variables)
        return self.record(loss, per_image, t)

    def jax_train_step(self, data):
        """`train_step` under JAX, inside `stateless_step`: the same update, the gradient from `jax.vjp`."""
        images, labels = self.split_batch(data)

        def forward():
            loss, per_image, t = self.losses_for(images, labels, training=True)
            return (loss,), (per_image, t)

        (loss,), (per_image, t), (gradients,) = losses_and_gradients(self, forward, [self.denoiser.trainable_variables])
        self.optimizer.apply(gradients, self.denoiser.trainable_variables)
        return self.record(loss, per_image, t)

    def call(self, inputs, training=False):
        return self.denoiser(inputs, training=training)

    # -- sampling ---------------------------------------------------------------------------
    def decode_latent(self, latent, labels=None):
        """Starting noise -> images in [-1, 1] with the default step count (what `GenerativeModel.generate` calls)."""
        return self.integrate(np.asarray(latent, dtype=np.float32), labels, self.sampling_steps)[-1]

    def integrate(self, latent: np.ndarray, labels, steps: int, keep_path: bool = False) -> list[np.ndarray]:
        """Walk from noise (t = 1) to an image (t = 0) in `steps` equal steps of t.

        Returns the images (N, 28, 28, 1) in the model's range after every step, the noise first
        (keep_path), or only the last. The denoiser runs through `predict_on_batch`, which Keras
        compiles (a `tf.function`, a `jax.jit`) and reuses for every step, instead of running its
        hundred-odd layers one by one in Python at each step.
        """
        current = latent.reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
        path = [current] if keep_path else []
        times = np.linspace(1.0, 0.0, steps + 1, dtype=np.float32)
        for t, t_next in zip(times[:-1], times[1:]):
            column = np.full((len(current), 1), t, dtype=np.float32)
            inputs = [current, column] + ([np.asarray(labels, np.int32).reshape(-1, 1)] if self.num_classes else [])
            prediction = np.asarray(self.denoiser.predict_on_batch(inputs), dtype=np.float32)
            if self.objective == "flow":
                current = current + (t_next - t) * prediction  # Euler: dt < 0 walks back toward the data
            else:
                signal = float(keras.ops.convert_to_numpy(signal_level(t)))
                signal_next = 1.0 if t_next == 0.0 else float(keras.ops.convert_to_numpy(signal_level(t_next)))
                # DDIM (eta = 0): estimate the clean image, then re-noise it to the next level with the same noise.
                clean = np.clip((current - math.sqrt(1.0 - signal) * prediction) / math.sqrt(signal), -1.0, 1.0)
                current = math.sqrt(signal_next) * clean + math.sqrt(1.0 - signal_next) * prediction
            current = current.astype(np.float32)
            if keep_path:
                path.append(current)
        return path if keep_path else [current]

    def check_latent(self, latent) -> np.ndarray:
        latent = np.asarray(latent, dtype=np.float32)
        if latent.ndim != 2 or latent.shape[1] != self.latent_dim:
            raise ValueError(f"Expected latent vectors of shape (N, {self.latent_dim}). Received: shape={latent.shape}")
        return latent

    def generate(self, latent: np.ndarray, labels=None, steps: int | None = None, batch_size: int = 512) -> np.ndarray:
        """Images (N, 28, 28) float32 in [0, 1] denoised from starting noise (N, 784) in `steps` steps.

        Args:
            latent: the starting noise, one row per image.
            labels: conditional models only: N ints in [0, num_classes); None cycles 0-9.
            steps: denoiser passes; None uses `sampling_steps`. More steps, finer samples, more time.
            batch_size: images denoised together.
        """
        steps = self.sampling_steps if steps is None else check_steps(steps)
        latent = self.check_latent(latent)
        labels = self.check_labels(labels, len(latent))
        chunks = []
        for start in range(0, len(latent), batch_size):
            chunk_labels = None if labels is None else labels[start : start + batch_size]
            chunks.append(self.integrate(latent[start : start + batch_size], chunk_labels, steps)[-1])
        return to_unit_range(np.concatenate(chunks, axis=0)[..., 0], self.pixel_range)

    def sample(self, num_samples: int, seed: int = 0, labels=None, steps: int | None = None) -> np.ndarray:
        """`num_samples` images (N, 28, 28) in [0, 1]; the same seed, labels and steps give the same images."""
        return self.generate(self.latent_batch(num_samples, seed), labels, steps)

    def denoising_path(self, latent: np.ndarray, labels=None, steps: int | None = None) -> np.ndarray:
        """Every intermediate image: (steps + 1, N, 28, 28) float32 in [0, 1], the noise first.

        The last frame equals `generate(latent, labels, steps)`.
        """
        steps = self.sampling_steps if steps is None else check_steps(steps)
        latent = self.check_latent(latent)
        labels = self.check_labels(labels, len(latent))
        path = self.integrate(latent, labels, steps, keep_path=True)
        return np.stack([to_unit_range(frame[..., 0], self.pixel_range) for frame in path])


@keras.saving.register_keras_serializable(package="aigc_core")
class ConditionalDiffusionModel(DiffusionModel):
    """The diffusion model told the digit: a label embedding is added to the time embedding of every block.

    Trains on (images, labels) batches; `sample(..., labels=np.full(n, 7))` draws sevens.
    """

    num_classes = NUM_CLASSES
