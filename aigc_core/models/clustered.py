"""A GAN that learns like a conditional one without labels: it conditions on k-means clusters.

Told which digit to draw, the small conditional GAN passes IS 9 within two CPU minutes, while the
unconditional one is still at IS 6.5 (bench/README.md, "Time to quality"): the label splits one
hard game into ten easier ones, and D's classifier tells G which shape to aim for. Clusters of
the training images' pixels split the game the same way and need no label (the self-conditioned
GAN of Liu et al., 2020). At 120 s this model reached FID 18 against the unconditional GAN's 41
("Digits in one minute", seventh round).

It is an unconditional model to everything outside it (`num_classes` is 0; `sample` and the
latent pages give it latent vectors only): the first latent coordinate picks the cluster, through
the standard normal's distribution function cut at the clusters' cumulative shares, so latent
vectors drawn from N(0, I) draw each cluster as often as the training images fall in it.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from aigc_core.models.conditional import ConditionalDCGAN, one_hot


@keras.saving.register_keras_serializable(package="aigc_core")
class ClusteredDCGAN(ConditionalDCGAN):
    """The conditional DCGAN's networks and losses, its codes k-means clusters instead of digits.

    Args:
        num_clusters: K, the clusters the training images are split into before training
            (`aigc_core.clusters.kmeans_labels`); 10 by default, one per MNIST digit.
        Other arguments as `ConditionalDCGAN`; its `class_loss` metric is the cluster loss here.

    The clusters' shares live in a non-trainable weight, so checkpoints and exported weights
    carry them and a loaded model samples the clusters as training found them.
    """

    num_classes = 0  # no digit to choose: pages treat it as unconditional
    labels_preparation = "clustering"  # k-means takes seconds before the first step

    def __init__(self, latent_dim: int = 64, num_clusters: int = 10, **kwargs):
        if not isinstance(num_clusters, (int, np.integer)) or not 2 <= num_clusters <= 100:
            raise ValueError(f"Expected num_clusters to be an integer in [2, 100]. Received: num_clusters={num_clusters!r}")
        object.__setattr__(self, "num_codes", int(num_clusters))  # read by the parent's __init__ (untracked int)
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.num_clusters = int(num_clusters)
        self.cluster_shares = self.add_weight(
            shape=(self.num_clusters,), initializer=keras.initializers.Constant(1.0 / self.num_clusters),
            trainable=False, name="cluster_shares", dtype="float32",
        )

    # -- the clusters a run trains on ---------------------------------------------------------
    def training_labels(self, images, labels=None, seed: int = 0) -> np.ndarray:
        """The cluster id of every training image (what `fit()` pairs with it), and their shares kept.

        The dataset's own labels are ignored: this model never sees them. The same images and
        seed give the same clusters, so a resumed run trains on the ones it started with.
        """
        from aigc_core.clusters import cluster_frequencies, kmeans_labels

        clusters = kmeans_labels(images, self.num_clusters, seed=seed)
        self.cluster_shares.assign(cluster_frequencies(clusters, self.num_clusters).astype(np.float32))
        return clusters

    def clusters_of(self, latent):
        """The cluster each latent vector draws: its first coordinate's normal quantile cut at the cumulative shares."""
        latent = ops.convert_to_tensor(latent, "float32")
        quantile = 0.5 * (1.0 + ops.erf(latent[:, 0] / math.sqrt(2.0)))
        boundaries = ops.cumsum(ops.cast(self.cluster_shares, "float32"))[:-1]
        return ops.sum(ops.cast(quantile[:, None] > boundaries[None, :], "int32"), axis=1)

    # -- sampling: latent vectors only -------------------------------------------------------
    def call(self, inputs, training=False):
        return self.generator([ops.convert_to_tensor(inputs), one_hot(self.clusters_of(inputs), self.num_codes)],
                              training=training)

    def decode_latent(self, latent, labels=None):
        if labels is not None:
            raise ValueError(f"{type(self).__name__} picks its own clusters: it takes no labels")
        return self.decode_label_codes(latent, one_hot(self.clusters_of(latent), self.num_codes))

    def get_config(self):
        return {**super().get_config(), "num_clusters": self.num_clusters}
