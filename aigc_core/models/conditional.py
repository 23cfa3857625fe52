"""Conditional GAN and conditional VAE: the digit label is an input, so the user picks the digit.

Both use the `fast`-sized networks of their unconditional twins (`dcgan.py`, `vae.py`) and
the same losses; what changes is where the label goes in:

- the generator and the decoder read z concatenated with the one-hot label, so the label
  chooses the digit and z only its style;
- the discriminator projects the label onto its image features (a projection discriminator)
  and also names the digit (an auxiliary classifier), so it rejects a well-drawn 3 that was
  asked to be a 7 and tells G which digit it should have drawn;
- the encoder reads the label beside the image features, so z need not encode the class.

`train_step` receives `(images, labels)` batches; `fit()` is still the loop.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from aigc_core.models.base import AdversarialModel
from aigc_core.models.dcgan import discriminator_loss, generator_loss
from aigc_core.models.jax_steps import CarriesAllOptimizers, losses_and_gradients
from aigc_core.models.vae import VariationalModel

ARCHITECTURES = ("fast",)
NUM_CLASSES = 10
# (first conv, second conv, dense) widths, as the `fast` VAE.
_VAE_WIDTHS = {"fast": (16, 32, 128)}
# The generator's batch-norm moving statistics follow a network that changes every step;
# Keras's 0.99 averages over ~100 stale steps, and sampling (which uses them) lags behind.
BATCH_NORM_MOMENTUM = 0.9


def _check_architecture(architecture: str) -> None:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"Expected architecture to be one of {ARCHITECTURES}. Received: architecture={architecture!r}")


def one_hot(labels, num_classes: int = NUM_CLASSES):
    """Int labels (N,) -> float32 one-hot (N, num_classes), in keras.ops."""
    return ops.one_hot(ops.cast(labels, "int32"), num_classes, dtype="float32")


def unpack_images_and_labels(data):
    """(images, labels) from what `fit()` or `train_on_batch()` hands `train_step`.

    Raises:
        ValueError: when the batch carries no labels (an image-only dataset).
    """
    images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
    if labels is None:
        raise ValueError("A conditional model trains on (images, labels) batches. Received: images only")
    return images, labels


# -- conditional GAN ----------------------------------------------------------------------------
def build_conditional_generator(latent_dim: int, num_classes: int = NUM_CLASSES) -> keras.Model:
    """[z, one-hot label] -> 28x28x1 image in [-1, 1]; the `fast` DCGAN generator, told the label twice.

    The label enters with z (so the dense layer's whole 7x7 map depends on it) and again as ten
    constant 7x7 planes after that layer's batch norm: batch statistics mix the classes of a
    batch, and this second copy reaches the convolutions unnormalized, as in conditional-BN
    generators, at the cost of 10 input channels.
    """
    latent = keras.Input((latent_dim,), name="latent")
    label = keras.Input((num_classes,), name="label")
    hidden = layers.Concatenate()([latent, label])
    hidden = layers.Dense(7 * 7 * 64, use_bias=False)(hidden)
    hidden = layers.LeakyReLU(0.2)(layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM)(hidden))
    hidden = layers.Reshape((7, 7, 64))(hidden)
    label_planes = layers.UpSampling2D(size=7)(layers.Reshape((1, 1, num_classes))(label))
    hidden = layers.Concatenate(axis=-1)([hidden, label_planes])
    hidden = layers.Conv2DTranspose(32, 4, strides=2, padding="same", use_bias=False)(hidden)
    hidden = layers.LeakyReLU(0.2)(layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM)(hidden))
    images = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh")(hidden)
    return keras.Model([latent, label], images, name="generator")


def build_conditional_discriminator(num_classes: int = NUM_CLASSES) -> keras.Model:
    """[image, one-hot label] -> (adversarial logit, class logits); the `fast` DCGAN discriminator's body.

    Two label-aware heads share the features phi(x) of the two convolutions:

    - a projection discriminator (Miyato & Koyama 2018): logit = psi(phi(x)) + <embed(y), phi(x)>.
      The label's embedding is a bias-free dense layer on the one-hot code, so a real 3
      asked to be a 7 scores low through one inner product, which D learns far faster than
      from ten label planes stacked on the pixels (56% agreement after 3 CPU minutes);
    - an auxiliary classifier (AC-GAN, Odena et al. 2017): ten class logits, trained on real
      digits, whose cross-entropy on the fakes tells G directly which digit to draw.
    """
    images = keras.Input((28, 28, 1), name="image")
    label = keras.Input((num_classes,), name="label")
    hidden = layers.LeakyReLU(0.2)(layers.Conv2D(32, 4, strides=2, padding="same")(images))
    hidden = layers.LeakyReLU(0.2)(layers.Conv2D(64, 4, strides=2, padding="same")(hidden))
    features = layers.Dropout(0.3)(layers.Flatten()(hidden))
    label_embedding = layers.Dense(7 * 7 * 64, use_bias=False, name="label_embedding")(label)
    projection = layers.Dot(axes=1)([features, label_embedding])
    logit = layers.Add(name="adversarial")([layers.Dense(1)(features), projection])
    class_logits = layers.Dense(num_classes, name="class_logits")(features)
    return keras.Model([images, label], [logit, class_logits], name="discriminator")


def classification_loss(label_codes, class_logits):
    """Mean cross-entropy of class logits against one-hot labels: the AC-GAN term."""
    class_logits = ops.cast(class_logits, "float32")  # bfloat16 under mixed precision
    return ops.mean(ops.categorical_crossentropy(label_codes, class_logits, from_logits=True))


@keras.saving.register_keras_serializable(package="aigc_core")
class ConditionalDCGAN(CarriesAllOptimizers, AdversarialModel):
    """A DCGAN whose generator and discriminator both read the digit label (projection D + AC-GAN).

    Args:
        latent_dim: size of the noise vector z (the style; the label picks the digit).
        architecture: "fast" only (a small network that trains in minutes on a CPU).
        g_learning_rate, d_learning_rate, g_beta_1, d_beta_1, beta_2: Adam settings, as DCGAN.
        d_steps_per_g_step: discriminator updates per generator update.
        class_loss_weight: weight of the auxiliary classifier's cross-entropy in both players'
            losses (0 leaves the projection alone to carry the label).

    Metrics: `d_loss` and `g_loss` are the adversarial parts only, so they read (and are
    diagnosed) as a plain DCGAN's; `class_loss` is D's classifier's cross-entropy on the
    fakes against the labels they were asked for: near 0 once G draws the digit asked for.
    """

    family = "gan"
    pixel_range = "tanh"
    metric_names = ("d_loss", "g_loss", "d_real", "d_fake", "class_loss")
    num_classes = NUM_CLASSES
    # How many codes G and D read: the digits here; `ClusteredDCGAN` sets its cluster count.
    num_codes = 0

    def __init__(
        self,
        latent_dim: int = 64,
        architecture: str = "fast",
        g_learning_rate: float = 2e-4,
        d_learning_rate: float = 2e-4,
        g_beta_1: float = 0.5,
        d_beta_1: float = 0.5,
        beta_2: float = 0.999,
        d_steps_per_g_step: int = 1,
        class_loss_weight: float = 1.0,
        **kwargs,
    ):
        _check_architecture(architecture)
        super().__init__(
            latent_dim=latent_dim, architecture=architecture, g_learning_rate=g_learning_rate,
            d_learning_rate=d_learning_rate, g_beta_1=g_beta_1, d_beta_1=d_beta_1, beta_2=beta_2,
            d_steps_per_g_step=d_steps_per_g_step, **kwargs,
        )
        self.class_loss_weight = float(class_loss_weight)
        self.num_codes = self.num_codes or self.num_classes  # a subclass may read other codes than digits
        self.generator = build_conditional_generator(self.latent_dim, self.num_codes)
        self.discriminator = build_conditional_discriminator(self.num_codes)
        self.finish_building()

    def call(self, inputs, training=False):
        latent, labels = inputs
        return self.generator([ops.convert_to_tensor(latent), one_hot(labels, self.num_codes)], training=training)

    def decode_latent(self, latent, labels=None):
        if labels is None:
            labels = self.default_labels(len(latent))
        return self.decode_label_codes(latent, one_hot(labels, self.num_codes))

    def decode_label_codes(self, latent, label_codes):
        """Images for latent vectors and label codes (N, num_classes): one-hot, or a blend of two for a label interpolation."""
        return self.generator([ops.convert_to_tensor(latent), ops.convert_to_tensor(label_codes, "float32")],
                              training=False)

    def _discriminate(self, real_images, fake_images, label_codes):
        """(adversarial, class) logits of real then fake images, in one pass; fakes are judged against the labels they were asked for."""
        images = ops.concatenate([real_images, fake_images], axis=0)
        codes = ops.concatenate([label_codes, label_codes], axis=0)
        return self.discriminator([images, codes], training=True)

    def _step_losses(self, real_images, label_codes, batch_size):
        """One forward pass of G and D: the adversarial losses, the class losses and the real/fake logits.

        D's classifier learns from real digits only: trained on early fakes too (as in the
        AC-GAN paper) it would learn to name blobs, and G could satisfy it without drawing digits.
        """
        latent = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        fake_images = self.generator([latent, label_codes], training=True)
        logits, class_logits = self._discriminate(real_images, fake_images, label_codes)
        real_logits, fake_logits = logits[:batch_size], logits[batch_size:]
        real_class_loss = classification_loss(label_codes, class_logits[:batch_size])
        fake_class_loss = classification_loss(label_codes, class_logits[batch_size:])
        return {
            "d_loss": discriminator_loss(real_logits, fake_logits),
            "g_loss": generator_loss(fake_logits),
            "real_class_loss": real_class_loss,
            "class_loss": fake_class_loss,
            "real_logits": real_logits,
            "fake_logits": fake_logits,
        }

    def _players_totals(self, losses):
        """(D's total, G's total): each player's adversarial loss plus its weighted class loss."""
        weight = self.class_loss_weight
        return losses["d_loss"] + weight * losses["real_class_loss"], losses["g_loss"] + weight * losses["class_loss"]

    def _step_logs(self, losses):
        """The trackers' values for a step, from the fused step's losses."""
        return self.update_trackers({
            **{name: losses[name] for name in ("d_loss", "g_loss", "class_loss")},
            "d_real": ops.mean(ops.sigmoid(losses["real_logits"])),
            "d_fake": ops.mean(ops.sigmoid(losses["fake_logits"])),
        })

    def tensorflow_train_step(self, data):
        """As `DCGAN.tensorflow_train_step`, with the batch's real labels given to G for its fakes and to D for both halves.

        Fakes take the real batch's labels, so each batch asks for the digits in the data's
        own proportions and D compares like with like. D minimises its adversarial loss plus
        the weighted class loss on real digits; G its adversarial loss plus the weighted class
        loss on its fakes.

        `train_step` under TensorFlow: gradients from `tf.GradientTape`s.
        """
        import tensorflow as tf

        real_images, labels = unpack_images_and_labels(data)
        label_codes = one_hot(labels, self.num_codes)
        batch_size = ops.shape(real_images)[0]
        for _ in range(self.d_steps_per_g_step - 1):
            with tf.GradientTape() as tape:
                d_total, _ = self._players_totals(self._step_losses(real_images, label_codes, batch_size))
            gradients = tape.gradient(d_total, self.discriminator.trainable_variables)
            self.d_optimizer.apply(gradients, self.discriminator.trainable_variables)

        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            losses = self._step_losses(real_images, label_codes, batch_size)
            d_total, g_total = self._players_totals(losses)
        self.apply_both_gradients(g_tape, g_total, d_tape, d_total)
        return self._step_logs(losses)

    def jax_train_step(self, data):
        """`train_step` under JAX, run inside `stateless_step`: the same updates, gradients from `jax.vjp`."""
        real_images, labels = unpack_images_and_labels(data)
        label_codes = one_hot(labels, self.num_codes)
        batch_size = ops.shape(real_images)[0]
        generator_variables = self.generator.trainable_variables
        discriminator_variables = self.discriminator.trainable_variables

        def discriminator_only():
            d_total, _ = self._players_totals(self._step_losses(real_images, label_codes, batch_size))
            return (d_total,), None

        for _ in range(self.d_steps_per_g_step - 1):
            _, _, (gradients,) = losses_and_gradients(self, discriminator_only, [discriminator_variables])
            self.d_optimizer.apply(gradients, discriminator_variables)

        def both_players():
            losses = self._step_losses(real_images, label_codes, batch_size)
            return self._players_totals(losses), losses

        _, losses, (d_gradients, g_gradients) = losses_and_gradients(
            self, both_players, [discriminator_variables, generator_variables]
        )
        # Both gradients come from the weights before this step, as in the TensorFlow step.
        self.g_optimizer.apply(g_gradients, generator_variables)
        self.d_optimizer.apply(d_gradients, discriminator_variables)
        return self._step_logs(losses)

    def get_config(self):
        return {**super().get_config(), "class_loss_weight": self.class_loss_weight}


# -- conditional VAE ----------------------------------------------------------------------------
def build_conditional_encoder(latent_dim: int, num_classes: int = NUM_CLASSES) -> keras.Model:
    """[image in [0, 1], one-hot label] -> (mean, log_variance) of q(z | x, y).

    The label joins after the convolutions: the encoder needs it only to leave the class
    out of z, and a dense input is ten numbers where image channels would be 7,840.
    """
    conv1, conv2, dense = _VAE_WIDTHS["fast"]
    images = keras.Input((28, 28, 1), name="image")
    label = keras.Input((num_classes,), name="label")
    hidden = layers.Conv2D(conv1, 3, strides=2, padding="same", activation="relu")(images)
    hidden = layers.Conv2D(conv2, 3, strides=2, padding="same", activation="relu")(hidden)
    hidden = layers.Concatenate()([layers.Flatten()(hidden), label])
    hidden = layers.Dense(dense, activation="relu")(hidden)
    mean = layers.Dense(latent_dim, name="z_mean")(hidden)
    log_variance = layers.Dense(latent_dim, name="z_log_var")(hidden)
    return keras.Model([images, label], [mean, log_variance], name="encoder")


def build_conditional_decoder(latent_dim: int, num_classes: int = NUM_CLASSES) -> keras.Model:
    """[z, one-hot label] -> per-pixel logits (28x28x1); the `fast` VAE decoder with a wider input."""
    conv1, conv2, dense = _VAE_WIDTHS["fast"]
    latent = keras.Input((latent_dim,), name="latent")
    label = keras.Input((num_classes,), name="label")
    hidden = layers.Concatenate()([latent, label])
    hidden = layers.Dense(dense, activation="relu")(hidden)
    hidden = layers.Dense(7 * 7 * conv2, activation="relu")(hidden)
    hidden = layers.Reshape((7, 7, conv2))(hidden)
    hidden = layers.Conv2DTranspose(conv2, 3, strides=2, padding="same", activation="relu")(hidden)
    hidden = layers.Conv2DTranspose(conv1, 3, strides=2, padding="same", activation="relu")(hidden)
    logits = layers.Conv2D(1, 3, padding="same")(hidden)
    return keras.Model([latent, label], logits, name="decoder")


@keras.saving.register_keras_serializable(package="aigc_core")
class ConditionalVAE(VariationalModel):
    """A VAE whose encoder and decoder both read the digit label (a CVAE): the ELBO of p(x | y).

    Args:
        latent_dim: size of z; with the class given, z only has to hold the style.
        architecture: "fast" only.
        beta: weight of the KL term.
        reconstruction: "bernoulli", "gaussian" or "gaussian_learned", as the VAE's.
        learning_rate: Adam step size.
        kl_warmup_steps: optimizer steps over which the KL's weight rises from 0 to beta, as the VAE's.
    """

    num_classes = NUM_CLASSES
    num_codes = NUM_CLASSES  # the one-hot code's length: digits here, k-means clusters in ClusteredVAE

    # The constructor and its defaults are the VAE's (`VariationalModel.__init__`).
    def build_networks(self):
        _check_architecture(self.architecture)
        return (build_conditional_encoder(self.latent_dim, self.num_codes),
                build_conditional_decoder(self.latent_dim, self.num_codes))

    def call(self, inputs, training=False):
        images, labels = inputs
        images, codes = ops.convert_to_tensor(images), one_hot(labels, self.num_codes)
        mean, _ = self.encoder([images, codes], training=training)
        return ops.sigmoid(self.decoder([mean, codes], training=training))

    def decode_latent(self, latent, labels=None):
        if labels is None:
            labels = self.default_labels(len(latent))
        return self.decode_label_codes(latent, one_hot(labels, self.num_codes))

    def decode_label_codes(self, latent, label_codes):
        """Images for latent vectors and label codes (N, num_classes): one-hot, or a blend of two for a label interpolation."""
        return ops.sigmoid(self.decoder([ops.convert_to_tensor(latent), ops.convert_to_tensor(label_codes, "float32")],
                                        training=False))

    def losses_for(self, images, training: bool, labels=None):
        """All loss terms for a labelled batch (negative ELBO of p(x | y)); shared by training and evaluation.

        Raises:
            ValueError: without labels: a CVAE's likelihood is of an image given its label.
        """
        if labels is None:
            raise ValueError("A conditional VAE scores an image given its label. Received: labels=None")
        images, codes = ops.convert_to_tensor(images), one_hot(labels, self.num_codes)  # a functional call wants all tensors
        mean, log_variance = self.encoder([images, codes], training=training)
        logits = self.decoder([self.reparameterize(mean, log_variance), codes], training=training)
        return self.negative_elbo(images, logits, mean, log_variance, training=training)

    def tensorflow_train_step(self, data):
        """One Adam step on the negative ELBO of labelled images.

        `train_step` under TensorFlow: the gradient from a `tf.GradientTape`.
        """
        import tensorflow as tf

        images, labels = unpack_images_and_labels(data)
        with tf.GradientTape() as tape:
            reconstruction, kl, loss = self.losses_for(images, training=True, labels=labels)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self.update_trackers({"loss": loss, "reconstruction_loss": reconstruction, "kl_loss": kl})

    def jax_train_step(self, data):
        """`train_step` under JAX, run inside `stateless_step`: the same update, the gradient from `jax.vjp`."""
        images, labels = unpack_images_and_labels(data)

        def forward():
            reconstruction, kl, loss = self.losses_for(images, training=True, labels=labels)
            return (loss,), (reconstruction, kl)

        (loss,), (reconstruction, kl), (gradients,) = losses_and_gradients(self, forward, [self.trainable_variables])
        self.optimizer.apply(gradients, self.trainable_variables)
        return self.update_trackers({"loss": loss, "reconstruction_loss": reconstruction, "kl_loss": kl})

    def encode(self, images, labels=None):
        """Posterior mean and log-variance (NumPy) of images (N, 28, 28) in [0, 1] given their labels.

        Raises:
            ValueError: without labels, or with labels that do not fit the images.
        """
        import numpy as np

        images = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28, 1)
        if labels is None:
            raise ValueError("A conditional VAE encodes an image together with its label. Received: labels=None")
        labels = self.check_labels(labels, len(images))
        codes = np.eye(self.num_codes, dtype=np.float32)[labels]
        mean, log_variance = self.encoder.predict([images, codes], batch_size=512, verbose=0)
        return mean, log_variance

    def reconstruct(self, images, labels=None):
        """Decode the posterior mean of each image with its own label: (N, 28, 28) in [0, 1]."""
        mean, _ = self.encode(images, labels)
        return self.generate(mean, labels)
