"""The interface every generative model offers to the CLI, the run store and the UI."""

from __future__ import annotations

import numpy as np
import keras

from aigc_core.data import to_unit_range
from aigc_core.models.jax_steps import is_jax_backend, stateless_step


# Added to the seed's key for replica r: far apart, so no two replicas' streams overlap.
REPLICA_SEED_STRIDE = 1_000_003


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `SeedGenerator` whose draws differ between data-parallel replicas and are unchanged on one device.

    Under `tf.distribute` every replica holds a mirrored copy of the generator's state, so with
    a plain `SeedGenerator` all replicas would draw the same latent vectors and noise: with two
    replicas a GAN's global batch would hold each fake image twice. Replica r adds
    `r * REPLICA_SEED_STRIDE` to the key of its seed (the state itself, and so its sequence,
    stay shared), so replica 0, like a single device or any other backend, draws exactly what
    a plain `SeedGenerator` draws.
    """

    def next(self, ordered=True):
        seed = super().next(ordered=ordered)
        if keras.backend.backend() != "tensorflow":
            return seed
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return seed
        replica = tf.cast(context.replica_id_in_sync_group, seed.dtype)
        return seed + tf.stack([replica * REPLICA_SEED_STRIDE, tf.zeros_like(replica)])


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
    # What a run's status says while `training_labels` works, for a model whose labels take
    # seconds to make (the clustered GAN's k-means): a key the pages put in plain words, so the
    # viewer sees why step 0 waits. None: the labels come at once.
    labels_preparation: str | None = None

    def train_step(self, *args):
        """One training step on the backend Keras runs: `tensorflow_train_step(data)` or `jax_train_step(data)`.

        Keras passes `(data)` under TensorFlow and `(state, data)` under JAX, whose trainer wants
        a pure function: `jax_steps.stateless_step` wraps the JAX step into one. Each model
        writes both steps with the same updates; only the way gradients are taken differs.
        """
        if is_jax_backend():
            state, data = args
            return stateless_step(self, state, data, self.jax_train_step)
        return self.tensorflow_train_step(*args)

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

        Cycling through the classes keeps a grid of 64 samples evenly spread over the digits,
        so pages written for unconditional models still work. Evaluation draws its own labels,
        in the training frequencies (`aigc_core.quality.evaluation.class_prior_labels`).
        """
        if not self.num_classes:
            raise ValueError(f"{type(self).__name__} is not conditional: it has no labels to draw")
        return (np.arange(int(num_samples)) % self.num_classes).astype(np.int32)

    def training_labels(self, images, labels=None, seed: int = 0) -> np.ndarray | None:
        """The labels `fit()` pairs with the training `images`: the dataset's `labels` for a
        conditional model, None for an unconditional one. A model that makes its own (the
        clustered GAN's k-means clusters) overrides this; `seed` makes those repeatable."""
        return labels if self.num_classes else None

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
        decode = self.decoder_function()
        chunks = []
        for start in range(0, len(latent), batch_size):
            if labels is None:
                images = decode(latent[start : start + batch_size])
            else:
                images = decode(latent[start : start + batch_size], labels[start : start + batch_size])
            chunks.append(keras.ops.convert_to_numpy(keras.ops.cast(images, "float32")))  # bfloat16 under mixed precision
        images = np.concatenate(chunks, axis=0)[..., 0]
        return to_unit_range(images, self.pixel_range)

    def decoder_function(self):
        """`decode_latent`, compiled into a TensorFlow graph from this model's second `generate` on.

        Eager Keras runs each layer from Python; the graph runs the same ops without that
        overhead (gan-paper's `sample(64)` ~1.3x faster, gan-fast's ~3x: bench/README.md,
        "Sampling latency"), with identical results. A model sampled once (most tests, a
        one-off grid) stays eager, so it does not pay the ~0.3 s of tracing. Weights swapped
        in later (a generator's moving average) are read by the graph, as variables. Other
        backends keep the eager call.
        """
        if keras.backend.backend() != "tensorflow":
            return self.decode_latent
        state = self.__dict__.get("_decoder_function")
        if state is None:  # first call: eager; remember that it happened
            object.__setattr__(self, "_decoder_function", False)  # past Keras's attribute tracking
            return self.decode_latent
        if state is False:
            import tensorflow as tf

            state = tf.function(self.decode_latent, reduce_retracing=True)  # chunk sizes vary: one general trace
            object.__setattr__(self, "_decoder_function", state)
        return state

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
    def finish_building(self) -> None:
        """Make the training seed generator and one `Mean` tracker per metric name; mark the model built.

        The last step of a subclass's `__init__`, after its networks. Neither holds weights that
        a `.weights.h5` file records, but the seed generator's state is what makes a seeded run
        repeat its random draws.
        """
        self.seed_generator = ReplicaSeedGenerator(0)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names}
        self.built = True

    @property
    def metrics(self):
        """The trackers, listed so that `fit()` resets them at each epoch."""
        return list(self.trackers.values())

    def update_trackers(self, values: dict) -> dict:
        """Add one step's values (metric name -> scalar) to their trackers; `train_step`'s result.

        Returns every tracker's running mean, in `metric_names` order, under stable keys.
        """
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def average_gradients_across_replicas(self, num_replicas: int) -> None:
        """Make every optimizer of this model average, not sum, the gradients of `num_replicas` replicas.

        Call it once, after `compile()`, inside the `tf.distribute` strategy's scope. Each
        replica's `train_step` takes the mean loss over its share of the global batch, and under
        `tf.distribute` a Keras optimizer's `apply` all-reduces the replicas' gradients with a
        SUM (keras/src/backend/tensorflow/optimizer.py, `_all_reduce_sum_gradients`): the update
        would follow `num_replicas` times the global batch's mean gradient. Keras's built-in
        `train_step` compensates by scaling its compiled loss by 1/num_replicas
        (`scale_loss_for_distribution`); a custom one has to do it itself.

        `apply` divides the gradients by the optimizer's `loss_scale_factor` before that
        all-reduce, and our `train_step`s never call `optimizer.scale_loss` (which would multiply
        the loss by it), so setting it to `num_replicas` gives every optimizer call, in every
        model family and every extra discriminator or critic step, the global batch's mean
        gradient, as on one device. Adam's weight updates would hide a wrong scale (they are
        nearly g / sqrt(g^2)); its moments would not, nor would any other optimizer.
        """
        if num_replicas < 1:
            raise ValueError(f"Expected num_replicas to be a positive integer. Received: num_replicas={num_replicas!r}")
        for optimizer in self.named_optimizers().values():
            optimizer.loss_scale_factor = float(num_replicas) if num_replicas > 1 else None

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


def learning_rate_schedule(learning_rate: float, warmup_steps: int, decay_steps: int):
    """An Adam step size: the constant `learning_rate`, or Keras's cosine decay with a linear warm-up.

    The warm-up keeps Adam's first updates (its moment estimates still unsettled) small; the
    decay to 0 lets a run of known length end on settled weights instead of still jumping
    at full step size (bench/README.md, "Digits in one minute", has their measured effect).
    """
    if warmup_steps == 0 and decay_steps == 0:
        return learning_rate
    if warmup_steps == 0:
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    # With no decay, alpha=1 holds the rate at its peak after the warm-up.
    return keras.optimizers.schedules.CosineDecay(
        0.0, max(decay_steps, 1), alpha=0.0 if decay_steps else 1.0,
        warmup_target=learning_rate, warmup_steps=warmup_steps,
    )


class AdversarialModel(GenerativeModel):
    """A generator played against a discriminator or critic, each with its own Adam optimizer.

    What DCGAN, WGAN-GP and the conditional GAN share: the two players' Adam settings, the
    optimizer pair made in `compile`, and the names their networks and optimizers go by.
    Subclasses build `self.generator` and the network named by `adversary_name` in `__init__`,
    then call `finish_building()`.

    Those attribute names (`generator`, `discriminator` or `critic`, `g_optimizer`,
    `d_optimizer`) are the paths of their variables in a `.weights.h5` file: renaming one
    orphans every saved file of the class.

    Args:
        g_learning_rate, d_learning_rate: Adam step sizes, separate because a
            discriminator that learns much faster than its generator starves it of gradient.
        g_beta_1, d_beta_1, beta_2: Adam betas.
        d_steps_per_g_step: discriminator (critic) updates per generator update.
        learning_rate_warmup_steps: updates over which each player's step size rises linearly
            from 0 to its learning rate (0: the full rate from the first update).
        learning_rate_decay_steps: updates after the warm-up over which it then falls along a
            cosine to 0 and stays there (0: no decay). Counted in each optimizer's own updates.
    """

    adversary_name = "discriminator"

    def __init__(
        self,
        latent_dim: int,
        architecture: str,
        g_learning_rate: float,
        d_learning_rate: float,
        g_beta_1: float,
        d_beta_1: float,
        beta_2: float,
        d_steps_per_g_step: int,
        learning_rate_warmup_steps: int = 0,
        learning_rate_decay_steps: int = 0,
        **kwargs,
    ):
        super().__init__(latent_dim=latent_dim, architecture=architecture, **kwargs)
        self.g_learning_rate = float(g_learning_rate)
        self.d_learning_rate = float(d_learning_rate)
        self.g_beta_1 = float(g_beta_1)
        self.d_beta_1 = float(d_beta_1)
        self.beta_2 = float(beta_2)
        self.d_steps_per_g_step = int(d_steps_per_g_step)
        self.learning_rate_warmup_steps = int(learning_rate_warmup_steps)
        self.learning_rate_decay_steps = int(learning_rate_decay_steps)
        if self.learning_rate_warmup_steps < 0 or self.learning_rate_decay_steps < 0:
            raise ValueError(
                "Expected learning_rate_warmup_steps and learning_rate_decay_steps >= 0. Received: "
                f"{self.learning_rate_warmup_steps} and {self.learning_rate_decay_steps}"
            )

    def adversary(self) -> keras.Model:
        """The network the generator plays against (`self.discriminator` or `self.critic`)."""
        return getattr(self, self.adversary_name)

    def compile(self, **kwargs):
        """Create both Adam optimizers from the config; no loss argument is needed."""
        super().compile(**kwargs)
        self.g_optimizer = keras.optimizers.Adam(self.scheduled(self.g_learning_rate), beta_1=self.g_beta_1, beta_2=self.beta_2)
        self.d_optimizer = keras.optimizers.Adam(self.scheduled(self.d_learning_rate), beta_1=self.d_beta_1, beta_2=self.beta_2)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.adversary().trainable_variables)

    def scheduled(self, learning_rate: float):
        """`learning_rate` itself, or a warm-up and cosine-decay schedule peaking at it, as configured."""
        return learning_rate_schedule(learning_rate, self.learning_rate_warmup_steps, self.learning_rate_decay_steps)

    def call(self, latent, training=False):
        return self.generator(latent, training=training)

    def decode_latent(self, latent):
        return self.generator(latent, training=False)

    def networks(self):
        return {"generator": self.generator, self.adversary_name: self.adversary()}

    def named_optimizers(self):
        return {"g_optimizer": self.g_optimizer, "d_optimizer": self.d_optimizer}

    def apply_both_gradients(self, g_tape, g_loss, d_tape, d_loss) -> None:
        """One update of both players, each from its own tape over the same forward pass."""
        g_gradients = g_tape.gradient(g_loss, self.generator.trainable_variables)
        d_gradients = d_tape.gradient(d_loss, self.adversary().trainable_variables)
        self.g_optimizer.apply(g_gradients, self.generator.trainable_variables)
        self.d_optimizer.apply(d_gradients, self.adversary().trainable_variables)

    def get_config(self):
        return {
            **super().get_config(),
            "g_learning_rate": self.g_learning_rate,
            "d_learning_rate": self.d_learning_rate,
            "g_beta_1": self.g_beta_1,
            "d_beta_1": self.d_beta_1,
            "beta_2": self.beta_2,
            "d_steps_per_g_step": self.d_steps_per_g_step,
            "learning_rate_warmup_steps": self.learning_rate_warmup_steps,
            "learning_rate_decay_steps": self.learning_rate_decay_steps,
        }


def _shown(labels) -> str:
    """A short repr of labels for an error message (a long array is cut)."""
    text = repr(labels)
    return text if len(text) <= 80 else text[:77] + "..."
