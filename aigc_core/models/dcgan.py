"""DCGAN: a generator and a discriminator trained against each other in `train_step`."""

from __future__ import annotations

import keras
from keras import layers, ops

from aigc_core.models.base import AdversarialModel
from aigc_core.models.jax_steps import CarriesAllOptimizers, input_gradients, losses_and_gradients

ARCHITECTURES = ("paper", "fast")
LOSSES = ("bce", "hinge")
# How the fast generator doubles its resolution: a strided transposed convolution (the DCGAN
# way), or nearest-neighbour upsampling followed by a plain convolution, which cannot leave the
# checkerboard pattern a transposed convolution starts with (Odena et al., 2016).
UPSAMPLINGS = ("transpose", "nearest")


def _upsampling_block(filters: int, upsampling: str, **options) -> list:
    """Layers that double the resolution into `filters` channels, the way `upsampling` names."""
    if upsampling == "nearest":
        return [layers.UpSampling2D(2, interpolation="nearest"), layers.Conv2D(filters, 3, padding="same", **options)]
    return [layers.Conv2DTranspose(filters, 4, strides=2, padding="same", **options)]


def scaled(channels: int, width: float) -> int:
    """`channels` times `width`, at least one: the fast networks' layer sizes at another width."""
    return max(1, round(channels * width))


def check_width(architecture: str, width: float) -> None:
    """Refuse a width the networks cannot take: not positive, or any but 1 for the seed's network."""
    if not width > 0:
        raise ValueError(f"Expected width > 0. Received: width={width}")
    if architecture == "paper" and width != 1:
        raise ValueError("The paper networks are the seed's exactly: width must be 1")


def build_generator(latent_dim: int, architecture: str, upsampling: str = "transpose", width: float = 1.0) -> keras.Sequential:
    """The generator network: latent vector -> 28x28x1 image in [-1, 1].

    `paper` is the seed article's (and the TensorFlow DCGAN tutorial's) network, layer
    for layer (it has no `upsampling` choice). `fast` keeps its shape but with a quarter of the
    channels and 4x4 kernels; its cost is ~1/40 of `paper`'s, so it learns digits in minutes on
    a CPU. `upsampling="nearest"` swaps its transposed convolutions for upsampling + 3x3 conv.
    `width` multiplies the fast network's channels (1: 64 and 32); the paper network has none.
    """
    check_width(architecture, width)
    if upsampling not in UPSAMPLINGS:
        raise ValueError(f"Expected upsampling to be one of {UPSAMPLINGS}. Received: upsampling={upsampling!r}")
    if architecture == "paper" and upsampling != "transpose":
        raise ValueError("The paper generator is the seed's network exactly: upsampling must be 'transpose'")
    if architecture == "paper":
        return keras.Sequential(
            [
                keras.Input((latent_dim,)),
                layers.Dense(7 * 7 * 256, use_bias=False),
                layers.BatchNormalization(),
                layers.LeakyReLU(),
                layers.Reshape((7, 7, 256)),
                layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
                layers.BatchNormalization(),
                layers.LeakyReLU(),
                layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
                layers.BatchNormalization(),
                layers.LeakyReLU(),
                layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
            ],
            name="generator",
        )
    if architecture == "fast":
        return keras.Sequential(
            [
                keras.Input((latent_dim,)),
                layers.Dense(7 * 7 * scaled(64, width), use_bias=False),
                layers.BatchNormalization(),
                layers.LeakyReLU(0.2),
                layers.Reshape((7, 7, scaled(64, width))),
                *_upsampling_block(scaled(32, width), upsampling, use_bias=False),
                layers.BatchNormalization(),
                layers.LeakyReLU(0.2),
                *_upsampling_block(1, upsampling, activation="tanh"),
            ],
            name="generator",
        )
    raise ValueError(f"Expected architecture to be one of {ARCHITECTURES}. Received: architecture={architecture!r}")


def build_discriminator(architecture: str, spectral_norm: bool = False, width: float = 1.0) -> keras.Sequential:
    """The discriminator: 28x28x1 image -> one logit (real > 0 > fake).

    With `spectral_norm`, every weight layer is wrapped in `SpectralNormalization`, which divides
    its kernel by its largest singular value: D cannot change its verdict faster than its input
    changes, so it cannot overpower G in a few steps (Miyato et al., 2018). `width` multiplies
    the fast network's channels (1: 32 and 64), as in the generator.
    """
    check_width(architecture, width)
    weighted = layers.SpectralNormalization if spectral_norm else (lambda layer: layer)
    if architecture == "paper":
        return keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                weighted(layers.Conv2D(64, 5, strides=2, padding="same")),
                layers.LeakyReLU(),
                layers.Dropout(0.3),
                weighted(layers.Conv2D(128, 5, strides=2, padding="same")),
                layers.LeakyReLU(),
                layers.Dropout(0.3),
                layers.Flatten(),
                weighted(layers.Dense(1)),
            ],
            name="discriminator",
        )
    if architecture == "fast":
        return keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                weighted(layers.Conv2D(scaled(32, width), 4, strides=2, padding="same")),
                layers.LeakyReLU(0.2),
                weighted(layers.Conv2D(scaled(64, width), 4, strides=2, padding="same")),
                layers.LeakyReLU(0.2),
                layers.Flatten(),
                layers.Dropout(0.3),
                weighted(layers.Dense(1)),
            ],
            name="discriminator",
        )
    raise ValueError(f"Expected architecture to be one of {ARCHITECTURES}. Received: architecture={architecture!r}")


def discriminator_loss(real_logits, fake_logits, real_label: float = 1.0):
    """Binary cross-entropy: real images labelled `real_label`, generated ones 0 (from logits).

    A `real_label` below 1 is one-sided label smoothing: D is never asked to be certain an
    image is real, so it cannot saturate and keeps giving G a gradient. Fakes stay at 0;
    smoothing them too would reward D for calling a fake partly real.
    """
    real_logits, fake_logits = ops.cast(real_logits, "float32"), ops.cast(fake_logits, "float32")  # bfloat16 under mixed precision
    real_targets = ops.ones_like(real_logits) if real_label == 1.0 else ops.full_like(real_logits, real_label)
    real_loss = ops.mean(ops.binary_crossentropy(real_targets, real_logits, from_logits=True))
    fake_loss = ops.mean(ops.binary_crossentropy(ops.zeros_like(fake_logits), fake_logits, from_logits=True))
    return real_loss + fake_loss


def r1_penalty(discriminator, real_images):
    """Mean over the batch of the squared norm of D's gradient w.r.t. each real image (Mescheder et al., 2018).

    Penalising it keeps D flat around the real data, so D cannot push G with steep gradients
    that overshoot, the oscillation a GAN's equilibrium otherwise has. D runs with dropout
    off here: the penalty is on D's function, not on one draw of its noise (and under JAX
    the inner gradient cannot draw random numbers). Nested in the step's own differentiation,
    its gradient reaches D's weights (a second derivative), under TensorFlow and JAX alike.
    """
    real_images = ops.cast(ops.convert_to_tensor(real_images), "float32")
    gradients = input_gradients(lambda images: discriminator(images, training=False), real_images)
    flat = ops.reshape(gradients, (ops.shape(gradients)[0], -1))
    return ops.mean(ops.sum(ops.square(flat), axis=1))


def generator_loss(fake_logits):
    """Non-saturating loss -log D(G(z)): strong gradients even when D wins early."""
    fake_logits = ops.cast(fake_logits, "float32")
    return ops.mean(ops.binary_crossentropy(ops.ones_like(fake_logits), fake_logits, from_logits=True))


def hinge_discriminator_loss(real_logits, fake_logits):
    """Hinge loss: D is pushed until real logits pass +1 and fake ones fall below -1, then left alone.

    Once an image is classified with that margin it adds no gradient, so D spends its steps on
    the images it still gets wrong (the loss of SAGAN and BigGAN; bench/README.md has its effect).
    """
    real_logits, fake_logits = ops.cast(real_logits, "float32"), ops.cast(fake_logits, "float32")
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


def hinge_generator_loss(fake_logits):
    """The generator's side of the hinge game: raise D's logits for its images, -E[D(G(z))]."""
    return -ops.mean(ops.cast(fake_logits, "float32"))


@keras.saving.register_keras_serializable(package="aigc_core")
class DCGAN(CarriesAllOptimizers, AdversarialModel):
    """A deep convolutional GAN whose whole algorithm is `train_step`; `fit()` is the loop.

    Args:
        latent_dim: size of the noise vector z.
        architecture: "paper" (the seed network) or "fast" (a small one for CPUs).
        g_learning_rate, d_learning_rate, g_beta_1, d_beta_1, beta_2: Adam settings of generator and
            discriminator (see `AdversarialModel`); 0.5 for beta_1 is the DCGAN paper's choice.
        d_steps_per_g_step: discriminator updates per generator update.
        real_label: D's target for real images; 1 is the plain loss, 0.9 one-sided label
            smoothing (a D that is never asked for certainty cannot saturate).
        instance_noise: standard deviation of Gaussian noise added to every image D sees,
            real and fake, so their distributions overlap and D's verdict stays smooth; 0 is off.
        instance_noise_steps: generator steps over which that noise falls linearly to 0
            (early help, no blur at the end); 0 keeps it constant.
        adversarial_loss: "bce" (the seed's binary cross-entropy, non-saturating for G) or "hinge" (SAGAN's;
            `real_label` does not apply to it).
        spectral_norm: wrap D's weight layers in spectral normalisation (off: the seed's D).
        upsampling: "transpose" (strided transposed convolutions) or "nearest" (upsampling + a
            3x3 convolution) in the `fast` generator; the `paper` one is always the seed's.
        width: multiplies the `fast` networks' channels (1 is the preset; the `paper` ones are
            always the seed's). Wider layers cost more per step on a CPU and may learn more per step.
        r1_weight: gamma of the R1 penalty on real images, added to D's loss as gamma / 2 times
            `r1_penalty` (the reported `d_loss` includes it); 0 is off and costs nothing.
        learning_rate_warmup_steps, learning_rate_decay_steps: see `AdversarialModel`.
    """

    family = "gan"
    pixel_range = "tanh"
    metric_names = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(
        self,
        latent_dim: int = 100,
        architecture: str = "paper",
        g_learning_rate: float = 1e-4,
        d_learning_rate: float = 1e-4,
        g_beta_1: float = 0.9,
        d_beta_1: float = 0.9,
        beta_2: float = 0.999,
        d_steps_per_g_step: int = 1,
        real_label: float = 1.0,
        instance_noise: float = 0.0,
        instance_noise_steps: int = 0,
        adversarial_loss: str = "bce",
        spectral_norm: bool = False,
        upsampling: str = "transpose",
        r1_weight: float = 0.0,
        width: float = 1.0,
        **kwargs,
    ):
        super().__init__(
            latent_dim=latent_dim, architecture=architecture, g_learning_rate=g_learning_rate,
            d_learning_rate=d_learning_rate, g_beta_1=g_beta_1, d_beta_1=d_beta_1, beta_2=beta_2,
            d_steps_per_g_step=d_steps_per_g_step, **kwargs,
        )
        self.real_label = float(real_label)
        self.instance_noise = float(instance_noise)
        self.instance_noise_steps = int(instance_noise_steps)
        if adversarial_loss not in LOSSES:
            raise ValueError(f"Expected adversarial_loss to be one of {LOSSES}. Received: adversarial_loss={adversarial_loss!r}")
        self.adversarial_loss = adversarial_loss  # not `loss`: keras.Model.compile owns that attribute
        self.spectral_norm = bool(spectral_norm)
        self.upsampling = upsampling
        self.r1_weight = float(r1_weight)
        if self.r1_weight < 0:
            raise ValueError(f"Expected r1_weight >= 0. Received: r1_weight={self.r1_weight}")
        self.width = float(width)
        self.generator = build_generator(self.latent_dim, architecture, upsampling, self.width)
        self.discriminator = build_discriminator(architecture, self.spectral_norm, self.width)
        self.finish_building()

    def discriminator_loss(self, real_logits, fake_logits):
        """D's loss under the chosen `adversarial_loss`."""
        if self.adversarial_loss == "hinge":
            return hinge_discriminator_loss(real_logits, fake_logits)
        return discriminator_loss(real_logits, fake_logits, self.real_label)

    def discriminator_objective(self, real_images, real_logits, fake_logits):
        """What D's optimizer minimises: its adversarial loss, plus the R1 penalty when it is on."""
        loss = self.discriminator_loss(real_logits, fake_logits)
        if self.r1_weight > 0:
            loss = loss + 0.5 * self.r1_weight * r1_penalty(self.discriminator, real_images)
        return loss

    def generator_loss(self, fake_logits):
        """G's loss under the chosen `adversarial_loss`."""
        return hinge_generator_loss(fake_logits) if self.adversarial_loss == "hinge" else generator_loss(fake_logits)

    def instance_noise_std(self):
        """The noise level at the current generator step: linear decay to 0, or constant."""
        if self.instance_noise_steps <= 0:
            return ops.convert_to_tensor(self.instance_noise, dtype="float32")
        progress = ops.cast(self.g_optimizer.iterations, "float32") / float(self.instance_noise_steps)
        return self.instance_noise * ops.maximum(0.0, 1.0 - progress)

    def discriminator_inputs(self, real_images, fake_images):
        """Real and fake images in one batch for D, with instance noise when it is on.

        Without noise no random number is drawn, so runs with the option off repeat the
        exact random sequence (and results) of runs made before the option existed.
        """
        images = ops.concatenate([real_images, fake_images], axis=0)
        if self.instance_noise <= 0.0:
            return images
        noise = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        return images + self.instance_noise_std() * noise

    def adversarial_logits(self, real_images, latent):
        """D's logits for a real batch and for G's images of `latent`: the forward pass of every step.

        The generator runs once, the discriminator once on the real and once on the fake
        half, as the TensorFlow DCGAN tutorial does. One call on both halves concatenated
        costs more: the generator's gradient then flows back through the discriminator's
        convolutions for the real half too (zeros, but computed), 7-14% of a `paper` step
        (bench/README.md, "Training throughput"). Shared by the TensorFlow and JAX steps, so
        only the way gradients are taken differs between backends.
        """
        batch_size = ops.shape(real_images)[0]
        fake_images = self.generator(latent, training=True)
        images = self.discriminator_inputs(real_images, fake_images)  # one noise draw for both halves
        real_logits = self.discriminator(images[:batch_size], training=True)
        fake_logits = self.discriminator(images[batch_size:], training=True)
        return real_logits, fake_logits

    def tensorflow_train_step(self, real_images):
        """Extra discriminator-only steps, then one fused step that updates both networks.

        The fused step takes both gradients from a single forward pass, as the TensorFlow
        DCGAN tutorial does.

        `train_step` under TensorFlow: gradients from `tf.GradientTape`s.
        """
        # The gradient step is the one TensorFlow-specific place; the losses are keras.ops.
        import tensorflow as tf

        if isinstance(real_images, tuple):  # train_on_batch and fit(x, y) pass (x, y, sample_weight)
            real_images = real_images[0]
        batch_size = ops.shape(real_images)[0]
        for _ in range(self.d_steps_per_g_step - 1):
            latent = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
            with tf.GradientTape() as tape:
                real_logits, fake_logits = self.adversarial_logits(real_images, latent)
                d_loss = self.discriminator_objective(real_images, real_logits, fake_logits)
            gradients = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply(gradients, self.discriminator.trainable_variables)

        latent = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            real_logits, fake_logits = self.adversarial_logits(real_images, latent)
            d_loss = self.discriminator_objective(real_images, real_logits, fake_logits)
            g_loss = self.generator_loss(fake_logits)
        self.apply_both_gradients(g_tape, g_loss, d_tape, d_loss)
        return self.update_trackers({
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_real": ops.mean(ops.sigmoid(real_logits)),
            "d_fake": ops.mean(ops.sigmoid(fake_logits)),
        })

    def jax_train_step(self, data):
        """`train_step` under JAX, run inside `stateless_step`: the same updates, gradients from `jax.vjp`."""
        real_images = keras.utils.unpack_x_y_sample_weight(data)[0]
        batch_size = ops.shape(real_images)[0]
        generator_variables = self.generator.trainable_variables
        discriminator_variables = self.discriminator.trainable_variables
        for _ in range(self.d_steps_per_g_step - 1):
            latent = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

            def discriminator_only(latent=latent):
                real_logits, fake_logits = self.adversarial_logits(real_images, latent)
                return (self.discriminator_objective(real_images, real_logits, fake_logits),), None

            _, _, (gradients,) = losses_and_gradients(self, discriminator_only, [discriminator_variables])
            self.d_optimizer.apply(gradients, discriminator_variables)

        latent = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

        def both_players():
            real_logits, fake_logits = self.adversarial_logits(real_images, latent)
            losses = (self.discriminator_objective(real_images, real_logits, fake_logits), self.generator_loss(fake_logits))
            return losses, (real_logits, fake_logits)

        (d_loss, g_loss), (real_logits, fake_logits), (d_gradients, g_gradients) = losses_and_gradients(
            self, both_players, [discriminator_variables, generator_variables]
        )
        # Both gradients come from the weights before this step, as in the TensorFlow step.
        self.g_optimizer.apply(g_gradients, generator_variables)
        self.d_optimizer.apply(d_gradients, discriminator_variables)
        return self.update_trackers({
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_real": ops.mean(ops.sigmoid(real_logits)),
            "d_fake": ops.mean(ops.sigmoid(fake_logits)),
        })

    def get_config(self):
        return {
            **super().get_config(),
            "real_label": self.real_label,
            "instance_noise": self.instance_noise,
            "instance_noise_steps": self.instance_noise_steps,
            "adversarial_loss": self.adversarial_loss,
            "spectral_norm": self.spectral_norm,
            "upsampling": self.upsampling,
            "r1_weight": self.r1_weight,
            "width": self.width,
        }
