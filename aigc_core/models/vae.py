"""Convolutional variational autoencoder with the reparameterization trick."""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from aigc_core.models.base import GenerativeModel
from aigc_core.models.jax_steps import losses_and_gradients

ARCHITECTURES = ("fast", "large")
RECONSTRUCTION_LOSSES = ("bernoulli", "gaussian", "gaussian_learned")
# Bounds on the learned log sigma of the "gaussian_learned" decoder. Its NLL is lowest at sigma^2 =
# the per-pixel mean squared error, which a decoder memorizing a small training set drives to 0,
# taking log sigma (and the loss) to -inf. sigma in [e^-6, e^2] ~ [0.0025, 7.4] spans every useful
# value; past a bound the clamp passes no gradient, so the weight stops there.
LOG_SCALE_RANGE = (-6.0, 2.0)
# (first conv, second conv, dense) widths. `fast` costs ~1/4 of `large` per image: the 28x28
# transposed convolution dominates, and it scales with the product of its two widths.
_WIDTHS = {"fast": (16, 32, 128), "large": (32, 64, 256)}
# A latent dimension whose KL (averaged over images) is below this many nats carries almost
# nothing about the image: its posterior is the prior for every digit ("collapsed"). In the
# shipped weights, used dimensions carry 0.8-3.4 nats each; vae-large leaves 4 of its 16 below 0.05.
COLLAPSED_DIMENSION_NATS = 0.05


def build_encoder(latent_dim: int, architecture: str) -> keras.Model:
    """Image in [0, 1] -> (mean, log_variance) of the approximate posterior q(z|x)."""
    if architecture not in _WIDTHS:
        raise ValueError(f"Expected architecture to be one of {ARCHITECTURES}. Received: architecture={architecture!r}")
    conv1, conv2, dense = _WIDTHS[architecture]
    images = keras.Input((28, 28, 1))
    hidden = layers.Conv2D(conv1, 3, strides=2, padding="same", activation="relu")(images)
    hidden = layers.Conv2D(conv2, 3, strides=2, padding="same", activation="relu")(hidden)
    hidden = layers.Dense(dense, activation="relu")(layers.Flatten()(hidden))
    mean = layers.Dense(latent_dim, name="z_mean")(hidden)
    log_variance = layers.Dense(latent_dim, name="z_log_var")(hidden)
    return keras.Model(images, [mean, log_variance], name="encoder")


def build_decoder(latent_dim: int, architecture: str) -> keras.Model:
    """Latent vector -> per-pixel logits (28x28x1); a sigmoid gives the image."""
    if architecture not in _WIDTHS:
        raise ValueError(f"Expected architecture to be one of {ARCHITECTURES}. Received: architecture={architecture!r}")
    conv1, conv2, dense = _WIDTHS[architecture]
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(dense, activation="relu"),
            layers.Dense(7 * 7 * conv2, activation="relu"),
            layers.Reshape((7, 7, conv2)),
            layers.Conv2DTranspose(conv2, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2DTranspose(conv1, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(1, 3, padding="same"),
        ],
        name="decoder",
    )


def kl_per_dimension(mean, log_variance):
    """KL(q(z|x) || N(0, I)) per latent dimension, averaged over the batch.

    Shown per dimension so that posterior collapse (dimensions with KL near 0) is visible.
    """
    return ops.mean(-0.5 * (1.0 + log_variance - ops.square(mean) - ops.exp(log_variance)), axis=0)


def collapsed_dimensions(kl_values, threshold: float = COLLAPSED_DIMENSION_NATS) -> list[int]:
    """Indexes of the latent dimensions whose KL is below `threshold` nats: the ones the model ignores."""
    return [index for index, value in enumerate(kl_values) if float(value) < threshold]


def reconstruction_loss(images, logits, kind: str, log_scale=None):
    """Negative log-likelihood per image, summed over pixels, averaged over the batch.

    "bernoulli" treats each pixel as a coin with p = sigmoid(logit): the loss is in nats
    and, with beta = 1, loss = negative ELBO. "gaussian" is half the squared error of the
    sigmoid output (unit variance, constants dropped): softer, blurrier samples.
    "gaussian_learned" is a Gaussian of mean sigmoid(logit) and one learned standard deviation
    sigma = exp(log_scale) shared by every pixel (the sigma-VAE of Rybkin et al. 2021), its full
    NLL in nats: 0.5 * ((x - mu) / sigma)^2 + log sigma + 0.5 * log(2 pi) per pixel. A fixed
    unit variance weighs the reconstruction far too little against the KL (blur); learning
    sigma lets the data set that balance, and the constant keeps the loss a true NLL, positive
    at the start (sigma = 1). Its value is a density, so it is not comparable to bernoulli's.

    Args:
        images: targets in [0, 1].
        logits: the decoder's outputs, before the sigmoid.
        kind: one of `RECONSTRUCTION_LOSSES`.
        log_scale: "gaussian_learned" only: the log sigma, clamped to `LOG_SCALE_RANGE` here.
    """
    if kind == "bernoulli":
        per_pixel = ops.binary_crossentropy(images, logits, from_logits=True)
    elif kind == "gaussian":
        per_pixel = 0.5 * ops.square(images - ops.sigmoid(logits))
    else:
        log_scale = ops.clip(ops.cast(log_scale, "float32"), *LOG_SCALE_RANGE)
        per_pixel = (0.5 * ops.square((images - ops.sigmoid(logits)) * ops.exp(-log_scale))
                     + log_scale + 0.5 * math.log(2.0 * math.pi))
    return ops.mean(ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=1))


class VariationalModel(GenerativeModel):
    """An encoder and a decoder trained on the ELBO with one Adam optimizer: what VAE and CVAE share.

    Subclasses implement `build_networks`, and a `losses_for` that feeds the encoder's
    posterior through `reparameterize` and the decoder's logits into `negative_elbo`. The
    attribute names `encoder`, `decoder` and `optimizer` are the paths of their variables in a
    `.weights.h5` file: renaming one orphans every saved file of the class. A model with
    reconstruction="gaussian_learned" also owns one weight of its own, `decoder_log_scale`;
    the others have none, so their files are unchanged.

    Args: see `VAE`; the defaults here are both classes'.
    """

    family = "vae"
    pixel_range = "sigmoid"
    metric_names = ("loss", "reconstruction_loss", "kl_loss")

    def __init__(
        self,
        latent_dim: int = 2,
        architecture: str = "fast",
        beta: float = 1.0,
        reconstruction: str = "bernoulli",
        learning_rate: float = 1e-3,
        kl_warmup_steps: int = 0,
        **kwargs,
    ):
        super().__init__(latent_dim=latent_dim, architecture=architecture, **kwargs)
        if reconstruction not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"Expected reconstruction to be one of {RECONSTRUCTION_LOSSES}. Received: reconstruction={reconstruction!r}"
            )
        if int(kl_warmup_steps) < 0:
            raise ValueError(f"Expected kl_warmup_steps >= 0. Received: kl_warmup_steps={kl_warmup_steps!r}")
        self.beta = float(beta)
        self.reconstruction = reconstruction
        self.learning_rate = float(learning_rate)
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.encoder, self.decoder = self.build_networks()
        if reconstruction == "gaussian_learned":
            # A weight of the model itself, so `trainable_variables` (both backends' steps) and
            # `.weights.h5` files hold it; log sigma = 0 is the "gaussian" loss's unit variance.
            self.decoder_log_scale = self.add_weight(shape=(), initializer="zeros", name="decoder_log_scale")
        self.finish_building()

    def build_networks(self) -> tuple[keras.Model, keras.Model]:
        """(encoder, decoder) for `self.latent_dim` and `self.architecture`, the encoder built first."""
        raise NotImplementedError

    def compile(self, **kwargs):
        """Create the Adam optimizer from the config."""
        super().compile(optimizer=keras.optimizers.Adam(self.learning_rate), **kwargs)
        self.optimizer.build(self.trainable_variables)

    def networks(self):
        return {"encoder": self.encoder, "decoder": self.decoder}

    def named_optimizers(self):
        return {"optimizer": self.optimizer}

    def reparameterize(self, mean, log_variance):
        """A sample of the posterior, mean + sigma * noise: gradients reach mean and variance through it."""
        noise = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)  # bfloat16 under mixed precision
        return mean + ops.exp(0.5 * log_variance) * noise

    def kl_weight(self, training: bool = False):
        """The KL term's weight in the loss: `beta`, or during a KL warm-up a linear ramp to it.

        With `kl_warmup_steps` = N > 0, a training step taken after i optimizer updates weighs
        the KL by beta * min(1, i / N): 0 for the first step, beta from step N + 1 on. Early on
        the decoder thus learns to use the latent before the KL pulls every posterior to the
        prior (Bowman et al. 2016). The count is read from `optimizer.iterations` with keras.ops
        so that it advances inside the compiled TensorFlow step and the JAX stateless step.
        Evaluation (training=False) always uses beta: its loss is the negative ELBO.
        """
        if not training or self.kl_warmup_steps == 0:
            return self.beta
        progress = ops.cast(self.optimizer.iterations, "float32") / float(self.kl_warmup_steps)
        return self.beta * ops.minimum(1.0, progress)

    def negative_elbo(self, images, logits, mean, log_variance, training: bool = False):
        """(reconstruction, kl, reconstruction + weight * kl) for a batch: the loss and its two terms.

        The weight is `kl_weight(training)`: beta, except during a training step's KL warm-up.
        """
        # Under mixed precision the networks compute in bfloat16; the ELBO's sums need float32.
        logits, mean, log_variance = (ops.cast(tensor, "float32") for tensor in (logits, mean, log_variance))
        images = ops.cast(images, "float32")
        log_scale = self.decoder_log_scale if self.reconstruction == "gaussian_learned" else None
        reconstruction = reconstruction_loss(images, logits, self.reconstruction, log_scale)
        kl = ops.sum(kl_per_dimension(mean, log_variance))
        return reconstruction, kl, reconstruction + self.kl_weight(training) * kl

    def get_config(self):
        return {
            **super().get_config(),
            "beta": self.beta,
            "reconstruction": self.reconstruction,
            "learning_rate": self.learning_rate,
            "kl_warmup_steps": self.kl_warmup_steps,
        }


@keras.saving.register_keras_serializable(package="aigc_core")
class VAE(VariationalModel):
    """Encoder, decoder and the ELBO in `train_step`.

    Args:
        latent_dim: size of z; 2 gives a latent space that can be plotted, 16 sharper samples.
        architecture: "fast" or "large" (wider layers).
        beta: weight of the KL term (1 is the plain VAE; > 1 is a beta-VAE).
        reconstruction: "bernoulli" (cross-entropy), "gaussian" (squared error) or
            "gaussian_learned" (a Gaussian whose one standard deviation is learned with the
            networks, so the data, not a fixed unit variance, balances reconstruction against
            the KL; see `reconstruction_loss`). Samples are the decoder's mean for all three.
        learning_rate: Adam step size.
        kl_warmup_steps: optimizer steps over which the KL's weight in the training loss rises
            linearly from 0 to beta (0: beta from the first step). The logged `kl_loss` and
            `reconstruction_loss` are unweighted; `loss` is what the step minimises.
    """

    def build_networks(self):
        return build_encoder(self.latent_dim, self.architecture), build_decoder(self.latent_dim, self.architecture)

    def call(self, images, training=False):
        mean, _ = self.encoder(images, training=training)
        return ops.sigmoid(self.decoder(mean, training=training))

    def decode_latent(self, latent):
        return ops.sigmoid(self.decoder(latent, training=False))

    def losses_for(self, images, training: bool):
        """All loss terms for a batch; shared by training and evaluation (negative ELBO)."""
        mean, log_variance = self.encoder(images, training=training)
        logits = self.decoder(self.reparameterize(mean, log_variance), training=training)
        return self.negative_elbo(images, logits, mean, log_variance, training=training)

    def tensorflow_train_step(self, images):
        """One Adam step on the negative ELBO.

        `train_step` under TensorFlow: the gradient from a `tf.GradientTape`.
        """
        import tensorflow as tf

        if isinstance(images, tuple):  # train_on_batch and fit(x, y) pass (x, y, sample_weight)
            images = images[0]
        with tf.GradientTape() as tape:
            reconstruction, kl, loss = self.losses_for(images, training=True)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self.update_trackers({"loss": loss, "reconstruction_loss": reconstruction, "kl_loss": kl})

    def jax_train_step(self, data):
        """`train_step` under JAX, run inside `stateless_step`: the same update, the gradient from `jax.vjp`."""
        images = keras.utils.unpack_x_y_sample_weight(data)[0]

        def forward():
            reconstruction, kl, loss = self.losses_for(images, training=True)
            return (loss,), (reconstruction, kl)

        (loss,), (reconstruction, kl), (gradients,) = losses_and_gradients(self, forward, [self.trainable_variables])
        self.optimizer.apply(gradients, self.trainable_variables)
        return self.update_trackers({"loss": loss, "reconstruction_loss": reconstruction, "kl_loss": kl})

    def encode(self, images):
        """Posterior mean and log-variance (NumPy) for images (N, 28, 28) in [0, 1]."""
        import numpy as np

        images = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28, 1)
        mean, log_variance = self.encoder.predict(images, batch_size=512, verbose=0)
        return mean, log_variance

    def kl_per_dimension_on(self, images):
        """KL(q(z|x) || N(0, I)) per latent dimension (NumPy, nats), averaged over `images` in [0, 1].

        Their sum is the `kl_loss` of training on these images; a dimension near 0 is collapsed.
        """
        mean, log_variance = self.encode(images)
        return keras.ops.convert_to_numpy(kl_per_dimension(mean, log_variance)).astype("float64")

    def reconstruct(self, images):
        """Decode the posterior mean of each image: (N, 28, 28) in [0, 1]."""
        mean, _ = self.encode(images)
        return self.generate(mean)
