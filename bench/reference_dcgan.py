"""A faithful copy of the TensorFlow DCGAN tutorial's model and training loop: the baseline.

Source: https://www.tensorflow.org/tutorials/generative/dcgan (the seed article's network).
Kept as the tutorial wrote it -- two GradientTapes in a tf.function, Adam(1e-4), batch 256,
a Python loop over a shuffled tf.data pipeline whose last batch is smaller -- so that the
benchmarks compare the project against what a reader of the tutorial would run.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers

BUFFER_SIZE = 60000
BATCH_SIZE = 256
NOISE_DIM = 100


def make_generator_model():
    model = tf.keras.Sequential()
    model.add(layers.Dense(7 * 7 * 256, use_bias=False, input_shape=(100,)))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())
    model.add(layers.Reshape((7, 7, 256)))
    model.add(layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())
    model.add(layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())
    model.add(layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False, activation="tanh"))
    return model


def make_discriminator_model():
    model = tf.keras.Sequential()
    model.add(layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same", input_shape=[28, 28, 1]))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))
    model.add(layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))
    model.add(layers.Flatten())
    model.add(layers.Dense(1))
    return model


class ReferenceDCGAN:
    """The tutorial's globals (models, optimizers, loss, train_step) gathered in one object."""

    def __init__(self):
        self.generator = make_generator_model()
        self.discriminator = make_discriminator_model()
        self.cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)
        self.generator_optimizer = tf.keras.optimizers.Adam(1e-4)
        self.discriminator_optimizer = tf.keras.optimizers.Adam(1e-4)
        self.train_step = tf.function(self._train_step)

    def discriminator_loss(self, real_output, fake_output):
        real_loss = self.cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = self.cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def generator_loss(self, fake_output):
        return self.cross_entropy(tf.ones_like(fake_output), fake_output)

    def _train_step(self, images):
        noise = tf.random.normal([BATCH_SIZE, NOISE_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = self.generator(noise, training=True)
            real_output = self.discriminator(images, training=True)
            fake_output = self.discriminator(generated_images, training=True)
            gen_loss = self.generator_loss(fake_output)
            disc_loss = self.discriminator_loss(real_output, fake_output)
        gradients_of_generator = gen_tape.gradient(gen_loss, self.generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, self.discriminator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gradients_of_generator, self.generator.trainable_variables))
        self.discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, self.discriminator.trainable_variables))

    def sample(self, num_samples: int, seed: int = 0) -> np.ndarray:
        """Images (N, 28, 28) in [0, 1], for scoring with the project's evaluator."""
        noise = np.random.default_rng(seed).standard_normal((num_samples, NOISE_DIM)).astype(np.float32)
        images = self.generator.predict(noise, batch_size=512, verbose=0)[..., 0]
        return np.clip((images + 1.0) / 2.0, 0.0, 1.0)


def tutorial_dataset(train_images_uint8: np.ndarray):
    """The tutorial's input pipeline: scale to [-1, 1], shuffle, batch (last batch smaller)."""
    train_images = train_images_uint8.reshape(-1, 28, 28, 1).astype("float32")
    train_images = (train_images - 127.5) / 127.5
    return tf.data.Dataset.from_tensor_slices(train_images).shuffle(BUFFER_SIZE).batch(BATCH_SIZE)


def train(reference: ReferenceDCGAN, dataset, *, seconds: float | None = None, steps: int | None = None) -> dict:
    """The tutorial's `train()` loop, ended by a step or wall-clock budget instead of epochs."""
    started = time.perf_counter()
    done = 0
    while True:
        for image_batch in dataset:
            reference.train_step(image_batch)
            done += 1
            if (steps is not None and done >= steps) or (seconds is not None and time.perf_counter() - started >= seconds):
                return {"steps": done, "seconds": time.perf_counter() - started}
