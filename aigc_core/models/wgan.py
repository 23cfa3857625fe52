"""WGAN-GP: a critic that scores images instead of classifying them, kept 1-Lipschitz by a gradient penalty.

The critic's score difference E[D(real)] - E[D(fake)] estimates the Wasserstein distance between
the real and generated distributions: unlike a sigmoid discriminator's loss it keeps falling as
the samples improve, and it does not saturate, so the generator always gets a useful gradient
(Gulrajani et al. 2017, "Improved Training of Wasserstein GANs").
"""

from __future__ import annotations

import keras
from keras import layers, ops

from aigc_core.models.base import AdversarialModel
from aigc_core.models.dcgan import ARCHITECTURES, build_generator
from aigc_core.models.jax_steps import (
    CarriesAllOptimizers,
    input_gradients,
    losses_and_gradients,
)

# (first conv width, second conv width, kernel): the DCGAN discriminators' own, so the two compare fairly.
_CRITIC_WIDTHS = {"paper": (64, 128, 5), "fast": (32, 64, 4)}


def build_critic(architecture: str) -> keras.Sequential:
    """The critic: 28x28x1 image -> one unbounded score (higher = more real).

    No sigmoid (the score is not a probability), no batch norm and no dropout: the gradient
    penalty constrains the critic's gradient per image, and batch norm would mix the images of a
    batch, dropout would make that gradient random. Layer norm keeps activations in range
    without coupling the images.
    """
    if architecture not in _CRITIC_WIDTHS:
        raise ValueError(f"Expected architecture to be one of {ARCHITECTURES}. Received: architecture={architecture!r}")
    first, second, kernel = _CRITIC_WIDTHS[architecture]
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(first, kernel, strides=2, padding="same"),
            layers.LeakyReLU(0.2),
            layers.Conv2D(second, kernel, strides=2, padding="same"),
            layers.LayerNormalization(axis=[1, 2, 3]),
            layers.LeakyReLU(0.2),
            layers.Flatten(),
            layers.Dense(1),
        ],
        name="critic",
    )


def critic_loss(real_scores, fake_scores):
    """The critic maximizes E[D(real)] - E[D(fake)], so it minimizes the negative."""
    return ops.mean(ops.cast(fake_scores, "float32")) - ops.mean(ops.cast(real_scores, "float32"))


def generator_loss(fake_scores):
    """The generator raises the critic's score of its images."""
    return -ops.mean(ops.cast(fake_scores, "float32"))


def penalty_from_gradients(gradients):
    """Mean of (||gradient|| - 1)^2 over the batch, the norm taken per image.

    A 1-Lipschitz critic with an optimal score has gradient norm exactly 1 almost everywhere
    between the two distributions; penalizing the distance to 1 (rather than clipping weights)
    keeps the critic expressive.
    """
    flat = ops.reshape(gradients, (ops.shape(gradients)[0], -1))
    norms = ops.sqrt(ops.sum(ops.square(flat), axis=1) + 1e-12)  # the epsilon keeps sqrt's gradient finite at 0
    return ops.mean(ops.square(norms - 1.0))


def interpolate(real_images, fake_images, mixing):
    """Points on the straight lines between real and fake images, `mixing` (N, 1, 1, 1) in [0, 1].

    In float32: under mixed precision G's images are bfloat16 while the real ones are float32,
    and TensorFlow does not promote one to the other.
    """
    real_images, fake_images = ops.cast(real_images, "float32"), ops.cast(fake_images, "float32")
    return real_images + mixing * (fake_images - real_images)


def gradient_penalty(critic, real_images, fake_images, mixing):
    """The penalty of `critic` on interpolates of real and fake images.

    The critic's gradient w.r.t. its input comes from a `tf.GradientTape` under TensorFlow and
    from `jax.grad` under JAX; inside a training step either nests in the step's own
    differentiation, which then reaches the critic's weights through the penalty.
    """
    points = ops.convert_to_tensor(interpolate(real_images, fake_images, mixing))
    return penalty_from_gradients(input_gradients(lambda inputs: critic(inputs, training=True), points))


@keras.saving.register_keras_serializable(package="aigc_core")
class WGANGP(CarriesAllOptimizers, AdversarialModel):
    """Wasserstein GAN with gradient penalty; `train_step` holds the whole algorithm.

    Args:
        latent_dim: size of the noise vector z.
        architecture: "paper" or "fast", as for the DCGAN (the same generator).
        g_learning_rate, d_learning_rate: Adam step sizes of generator and critic.
        g_beta_1, d_beta_1, beta_2: Adam betas; (0.5, 0.9) rather than Adam's (0.9, 0.999),
            because the critic's target moves with every generator step and long momentum
            chases where it was.
        d_steps_per_g_step: critic updates per generator update; 5, so that the critic is near
            its optimum and its score difference is a meaningful distance estimate.
        gp_weight: weight of the gradient penalty (10 in the paper).
    """

    family = "gan"
    pixel_range = "tanh"
    metric_names = ("d_loss", "g_loss", "wasserstein", "gradient_penalty")
    adversary_name = "critic"

    def __init__(
        self,
        latent_dim: int = 64,
        architecture: str = "fast",
        g_learning_rate: float = 1e-4,
        d_learning_rate: float = 1e-4,
        g_beta_1: float = 0.5,
        d_beta_1: float = 0.5,
        beta_2: float = 0.9,
        d_steps_per_g_step: int = 5,
        gp_weight: float = 10.0,
        **kwargs,
    ):
        if int(d_steps_per_g_step) < 1:
            raise ValueError(f"Expected d_steps_per_g_step to be at least 1. Received: d_steps_per_g_step={d_steps_per_g_step!r}")
        super().__init__(
            latent_dim=latent_dim, architecture=architecture, g_learning_rate=g_learning_rate,
            d_learning_rate=d_learning_rate, g_beta_1=g_beta_1, d_beta_1=d_beta_1, beta_2=beta_2,
            d_steps_per_g_step=d_steps_per_g_step, **kwargs,
        )
        self.gp_weight = float(gp_weight)
        self.generator = build_generator(self.latent_dim, architecture)
        self.critic = build_critic(architecture)
        self.finish_building()

    def critic_noise(self, batch_size):
        """One critic update's randomness: latent vectors for G and the mixing weights of the penalty's interpolates."""
        latent = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        mixing = keras.random.uniform((batch_size, 1, 1, 1), seed=self.seed_generator)
        return latent, mixing

    def critic_losses(self, real_images, latent, mixing):
        """(loss, Wasserstein estimate, penalty) of the critic on a real batch and G's images of `latent`.

        The forward pass of every critic update, shared by the TensorFlow and JAX steps, so only
        the way gradients are taken differs between backends.
        """
        batch_size = ops.shape(real_images)[0]
        fake_images = self.generator(latent, training=True)
        scores = self.critic(ops.concatenate([real_images, fake_images], axis=0), training=True)
        wasserstein = -critic_loss(scores[:batch_size], scores[batch_size:])
        penalty = gradient_penalty(self.critic, real_images, fake_images, mixing)
        return -wasserstein + self.gp_weight * penalty, wasserstein, penalty

    def critic_step(self, real_images):
        """One critic update on fresh noise under TensorFlow; returns (loss, Wasserstein estimate, penalty)."""
        import tensorflow as tf

        latent, mixing = self.critic_noise(ops.shape(real_images)[0])
        with tf.GradientTape() as tape:
            loss, wasserstein, penalty = self.critic_losses(real_images, latent, mixing)
        gradients = tape.gradient(loss, self.critic.trainable_variables)
        self.d_optimizer.apply(gradients, self.critic.trainable_variables)
        return loss, wasserstein, penalty

    def tensorflow_train_step(self, real_images):
        """`d_steps_per_g_step` critic updates on one real batch, then one generator update.

        The logged critic numbers are those of the last critic update: the estimate of the
        distance the generator is about to reduce.

        `train_step` under TensorFlow: gradients from `tf.GradientTape`s.
        """
        import tensorflow as tf

        if isinstance(real_images, tuple):  # train_on_batch and fit(x, y) pass (x, y, sample_weight)
            real_images = real_images[0]
        for _ in range(self.d_steps_per_g_step):
            d_loss, wasserstein, penalty = self.critic_step(real_images)

        latent = keras.random.normal((ops.shape(real_images)[0], self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = generator_loss(self.critic(self.generator(latent, training=True), training=True))
        gradients = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply(gradients, self.generator.trainable_variables)

        return self.update_trackers(
            {"d_loss": d_loss, "g_loss": g_loss, "wasserstein": wasserstein, "gradient_penalty": penalty}
        )

    def jax_train_step(self, data):
        """`train_step` under JAX, run inside `stateless_step`: the same updates, gradients from `jax.vjp`.

        The penalty's input gradient is a `jax.grad` nested in that `jax.vjp` (`input_gradients`).
        """
        real_images = keras.utils.unpack_x_y_sample_weight(data)[0]
        batch_size = ops.shape(real_images)[0]
        critic_variables = self.critic.trainable_variables
        generator_variables = self.generator.trainable_variables
        for _ in range(self.d_steps_per_g_step):
            latent, mixing = self.critic_noise(batch_size)

            def critic_only(latent=latent, mixing=mixing):
                loss, wasserstein, penalty = self.critic_losses(real_images, latent, mixing)
                return (loss,), (wasserstein, penalty)

            (d_loss,), (wasserstein, penalty), (gradients,) = losses_and_gradients(
                self, critic_only, [critic_variables]
            )
            self.d_optimizer.apply(gradients, critic_variables)

        latent = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

        def generator_only():
            return (generator_loss(self.critic(self.generator(latent, training=True), training=True)),), None

        (g_loss,), _, (gradients,) = losses_and_gradients(self, generator_only, [generator_variables])
        self.g_optimizer.apply(gradients, generator_variables)
        return self.update_trackers(
            {"d_loss": d_loss, "g_loss": g_loss, "wasserstein": wasserstein, "gradient_penalty": penalty}
        )

    def get_config(self):
        return {**super().get_config(), "gp_weight": self.gp_weight}
