"""A GAN and a VAE that learn like conditional ones without labels: they condition on k-means clusters.

Told which digit to draw, the small conditional GAN passes IS 9 within two CPU minutes, while the
unconditional one is still at IS 6.5 (bench/README.md, "Time to quality"): the label splits one
hard game into ten easier ones, and D's classifier tells G which shape to aim for. Clusters of
the training images' pixels split the game the same way and need no label (the self-conditioned
GAN of Liu et al., 2020). At 120 s the GAN reached FID 18 against the unconditional GAN's 41
("Digits in one minute", seventh round); a 16-D conditional VAE on clusters gains the same way.

Both are unconditional models to everything outside them (`num_classes` is 0; `sample` and the
latent pages give them latent vectors only): the first latent coordinate picks the cluster,
through the standard normal's distribution function cut at the clusters' cumulative shares, so
latent vectors drawn from N(0, I) draw each cluster as often as the training images fall in it.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from aigc_core.models.conditional import ConditionalDCGAN, ConditionalVAE, one_hot
from aigc_core.models.vae import VAE

IMAGE_PIXELS = 28 * 28


def checked_num_clusters(num_clusters) -> int:
    """K as an int, or a ValueError naming the setting."""
    if isinstance(num_clusters, bool) or not isinstance(num_clusters, (int, np.integer)) or not 2 <= num_clusters <= 100:
        raise ValueError(f"Expected num_clusters to be an integer in [2, 100]. Received: num_clusters={num_clusters!r}")
    return int(num_clusters)


class ClusterCodes:
    """What the clustered models share: their k-means clusters, kept in weights, and how a latent picks one.

    A mixin before a conditional model class: that class's networks read a one-hot code of
    `num_codes` (set to K before its constructor runs); this one makes the codes.
    """

    num_classes = 0  # no digit to choose: pages treat it as unconditional
    labels_preparation = "clustering"  # k-means takes seconds before the first step

    def add_cluster_weights(self, num_clusters: int) -> None:
        """The clusters' shares as a non-trainable weight, so checkpoints and exported weights carry them."""
        self.num_clusters = num_clusters
        self.cluster_shares = self.add_weight(
            shape=(num_clusters,), initializer=keras.initializers.Constant(1.0 / num_clusters),
            trainable=False, name="cluster_shares", dtype="float32",
        )

    # -- the clusters a run trains on ---------------------------------------------------------
    def training_labels(self, images, labels=None, seed: int = 0) -> np.ndarray:
        """The cluster id of every training image (what `fit()` pairs with it), and their shares kept.

        The dataset's own labels are ignored: this model never sees them. The same images and
        seed give the same clusters, so a resumed run trains on the ones it started with.
        """
        from aigc_core.clusters import cluster_frequencies, kmeans_labels

        # A run on fewer images than clusters (a small "train on" slice) fills as many as it can;
        # the others keep a share of 0, so no latent vector ever picks them.
        clusters = kmeans_labels(images, min(self.num_clusters, len(images)), seed=seed)
        self.cluster_shares.assign(cluster_frequencies(clusters, self.num_clusters).astype(np.float32))
        self.remember_clusters(images, clusters)
        return clusters

    def remember_clusters(self, images, clusters: np.ndarray) -> None:
        """What else a model keeps of its clusters (the VAE: their mean images); nothing here."""

    def clusters_of(self, latent):
        """The cluster each latent vector draws: its first coordinate's normal quantile cut at the cumulative shares."""
        latent = ops.convert_to_tensor(latent, "float32")
        quantile = 0.5 * (1.0 + ops.erf(latent[:, 0] / math.sqrt(2.0)))
        boundaries = ops.cumsum(ops.cast(self.cluster_shares, "float32"))[:-1]
        return ops.sum(ops.cast(quantile[:, None] > boundaries[None, :], "int32"), axis=1)

    # -- sampling: latent vectors only -------------------------------------------------------
    def decode_latent(self, latent, labels=None):
        if labels is not None:
            raise ValueError(f"{type(self).__name__} picks its own clusters: it takes no labels")
        return self.decode_label_codes(latent, one_hot(self.clusters_of(latent), self.num_codes))

    def get_config(self):
        return {**super().get_config(), "num_clusters": self.num_clusters}


@keras.saving.register_keras_serializable(package="aigc_core")
class ClusteredDCGAN(ClusterCodes, ConditionalDCGAN):
    """The conditional DCGAN's networks and losses, its codes k-means clusters instead of digits.

    Args:
        num_clusters: K, the clusters the training images are split into before training
            (`aigc_core.clusters.kmeans_labels`).
        Other arguments as `ConditionalDCGAN`; its `class_loss` metric is the cluster loss here.
    """

    def __init__(self, latent_dim: int = 64, num_clusters: int = 10, **kwargs):
        num_clusters = checked_num_clusters(num_clusters)
        object.__setattr__(self, "num_codes", num_clusters)  # read by the parent's __init__ (untracked int)
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.add_cluster_weights(num_clusters)

    def call(self, inputs, training=False):
        return self.generator([ops.convert_to_tensor(inputs), one_hot(self.clusters_of(inputs), self.num_codes)],
                              training=training)


@keras.saving.register_keras_serializable(package="aigc_core")
class ClusteredVAE(ClusterCodes, ConditionalVAE):
    """The conditional VAE's networks and ELBO, its codes k-means clusters instead of digits.

    Its encoder reads an image's cluster beside the image: a training image's is the one k-means
    gave it; any other image's (a test image, a drawn digit) is the cluster whose mean image is
    nearest, which is what k-means's last step gave the training images too. So it keeps the
    clusters' mean images (a non-trainable weight) and encodes, reconstructs and scores any
    image without a label, as an unconditional VAE does.

    Args:
        num_clusters: K, as the clustered GAN's.
        Other arguments as `ConditionalVAE` (latent 16 by default: the clusters leave it the style).
    """

    def __init__(self, latent_dim: int = 16, num_clusters: int = 10, **kwargs):
        num_clusters = checked_num_clusters(num_clusters)
        object.__setattr__(self, "num_codes", num_clusters)  # read by build_networks (untracked int)
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.add_cluster_weights(num_clusters)
        self.cluster_centres = self.add_weight(
            shape=(num_clusters, IMAGE_PIXELS), initializer="zeros", trainable=False, name="cluster_centres",
            dtype="float32",
        )

    def remember_clusters(self, images, clusters: np.ndarray) -> None:
        from aigc_core.clusters import cluster_centres

        self.cluster_centres.assign(cluster_centres(images, clusters, self.num_clusters))

    def nearest_clusters(self, images):
        """The cluster of each image (N, 28, 28[, 1]) in [0, 1]: the one whose mean image is nearest."""
        rows = ops.reshape(ops.cast(ops.convert_to_tensor(images), "float32"), (-1, IMAGE_PIXELS))
        centres = ops.convert_to_tensor(self.cluster_centres)
        distances = ops.sum(centres * centres, axis=1)[None, :] - 2.0 * ops.matmul(rows, ops.transpose(centres))
        unfilled = ops.where(ops.convert_to_tensor(self.cluster_shares) > 0, 0.0, 1e9)  # never an empty cluster
        return ops.argmin(distances + unfilled[None, :], axis=1)  # |x|^2 is the same for every cluster

    def call(self, images, training=False):
        images = ops.convert_to_tensor(images)
        return super().call((images, self.nearest_clusters(images)), training=training)

    def losses_for(self, images, training: bool, labels=None):
        """The negative ELBO's terms; `labels` are the training clusters, else each image's nearest."""
        if labels is None:
            labels = self.nearest_clusters(images)
        return super().losses_for(images, training, labels=labels)

    def _encode_with_codes(self, images, labels=None):
        """(mean, log-variance, one-hot codes) of images (N, 28, 28) in [0, 1], each with its nearest cluster."""
        if labels is not None:
            raise ValueError(f"{type(self).__name__} finds each image's cluster itself: it takes no labels")
        images = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28, 1)
        codes = np.eye(self.num_codes, dtype=np.float32)[np.asarray(self.nearest_clusters(images))]
        mean, log_variance = self.encoder.predict([images, codes], batch_size=512, verbose=0)
        return mean, log_variance, codes

    def encode(self, images, labels=None):
        """Posterior mean and log-variance (NumPy) of images (N, 28, 28) in [0, 1], each with its nearest cluster."""
        mean, log_variance, _ = self._encode_with_codes(images, labels)
        return mean, log_variance

    kl_per_dimension_on = VAE.kl_per_dimension_on  # the VAE's, through this class's `encode`

    def reconstruct(self, images, labels=None):
        """Decode each image's posterior mean with the image's own (nearest) cluster: (N, 28, 28) in [0, 1]."""
        mean, _, codes = self._encode_with_codes(images, labels)
        decoded = self.decode_label_codes(mean, codes)
        return keras.ops.convert_to_numpy(keras.ops.cast(decoded, "float32"))[..., 0]
