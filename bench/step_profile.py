"""Where a gan-paper training step's milliseconds go: its pieces timed as compiled graphs, in turns.

    python bench/step_profile.py [--rounds 7]

Each piece is one `tf.function` on a batch of 256 (the preset's): the generator forward, its
forward and backward, the discriminator forward and forward-backward on 512 images (real and
fake), the two Adam updates alone, and the whole step two ways, the library's (D called on the
real and fake halves separately) and the earlier fused one (D called once on both halves
concatenated). Pieces overlap (a step holds all of them), so they do not add up. Not part of
the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    arguments = parser.parse_args()

    import tensorflow as tf

    from aigc_core.models.registry import VARIANTS
    from throughput import fused_dcgan_class

    variant = VARIANTS["gan-paper"]
    model = variant.build()
    fused = fused_dcgan_class()(**variant.model_config)
    fused.compile()
    generator, discriminator = model.generator, model.discriminator
    batch_size = variant.batch_size
    real = tf.random.uniform((batch_size, 28, 28, 1), -1.0, 1.0)
    latent = tf.random.normal((batch_size, model.latent_dim))
    both_halves = tf.concat([real, real], axis=0)

    @tf.function
    def generator_forward():
        return generator(latent, training=True)

    @tf.function
    def generator_forward_backward():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(generator(latent, training=True))
        return tape.gradient(loss, generator.trainable_variables)

    @tf.function
    def discriminator_forward():
        return discriminator(both_halves, training=True)

    @tf.function
    def discriminator_forward_backward():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(discriminator(both_halves, training=True))
        return tape.gradient(loss, discriminator.trainable_variables)

    @tf.function
    def adam_updates():
        model.g_optimizer.apply([tf.zeros_like(v) for v in generator.trainable_variables], generator.trainable_variables)
        model.d_optimizer.apply([tf.zeros_like(v) for v in discriminator.trainable_variables],
                                discriminator.trainable_variables)
        return tf.constant(0.0)

    pieces = {
        "G forward (256)": generator_forward,
        "G forward+backward (256)": generator_forward_backward,
        "D forward (512)": discriminator_forward,
        "D forward+backward (512)": discriminator_forward_backward,
        "both Adam updates": adam_updates,
        "step, D called twice (library)": tf.function(lambda: model.train_step(real)),
        "step, D called once (fused)": tf.function(lambda: fused.train_step(real)),
    }
    for piece in pieces.values():
        for _ in range(2):  # trace and warm up
            piece()
    milliseconds = {name: [] for name in pieces}
    for round_index in range(arguments.rounds):
        order = list(pieces) if round_index % 2 == 0 else list(pieces)[::-1]
        for name in order:
            started = time.perf_counter()
            result = pieces[name]()
            tf.nest.map_structure(lambda tensor: tensor.numpy(), result)  # wait for the values
            milliseconds[name].append((time.perf_counter() - started) * 1000.0)
    print(f"{'piece':<34}{'median ms':>11}{'best ms':>10}")
    for name, values in milliseconds.items():
        print(f"{name:<34}{statistics.median(values):>11.1f}{min(values):>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
