"""k-means pseudo-labels (aigc_core.clusters): they find real groups, repeat with a seed, refuse bad K."""

from __future__ import annotations

import numpy as np
import pytest

from aigc_core.clusters import cluster_frequencies, kmeans_labels


def three_groups(per_group: int = 40, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """uint8 28x28 images in three groups (a bright band in a different place each), shuffled, and their group ids."""
    random = np.random.default_rng(seed)
    groups = np.repeat(np.arange(3), per_group)
    images = random.integers(0, 40, size=(len(groups), 28, 28)).astype(np.uint8)
    for group in range(3):
        images[groups == group, group * 9:group * 9 + 9, :] = 220
    order = random.permutation(len(groups))
    return images[order], groups[order]


def test_kmeans_finds_the_groups_up_to_their_names():
    images, groups = three_groups()
    labels = kmeans_labels(images, 3, seed=0)
    assert labels.dtype == np.int32 and labels.shape == groups.shape
    # One cluster per group: each group's images share one id, and the three ids differ.
    ids = [set(labels[groups == group]) for group in range(3)]
    assert all(len(found) == 1 for found in ids) and len(set.union(*ids)) == 3


def test_kmeans_repeats_with_its_seed_and_reads_any_image_layout():
    images, _ = three_groups(per_group=30, seed=2)
    labels = kmeans_labels(images, 5, seed=3)
    assert np.array_equal(labels, kmeans_labels(images, 5, seed=3))
    assert np.array_equal(labels, kmeans_labels(images[..., None].astype(np.float32) / 255.0, 5, seed=3))
    assert set(labels) <= set(range(5))


def test_cluster_frequencies_are_shares_that_sum_to_one():
    shares = cluster_frequencies(np.array([0, 0, 1, 3]), 4)
    assert shares.tolist() == [0.5, 0.25, 0.0, 0.25]


@pytest.mark.parametrize("num_clusters", [0, 11])
def test_kmeans_refuses_a_cluster_count_the_images_cannot_fill(num_clusters):
    images, _ = three_groups(per_group=3)
    with pytest.raises(ValueError, match="num_clusters"):
        kmeans_labels(images[:10], num_clusters)
