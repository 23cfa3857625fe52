"""The clustered GAN and VAE (gan-clusters, vae-clusters): conditional models on k-means clusters, unconditional outside.

Covers what makes it differ from the conditional GAN: it clusters the training images itself
(never reading their labels), keeps the clusters' shares in its weights, picks each sample's
cluster from the first latent coordinate in those shares, takes no labels, and survives a run,
its resume and an export with the same clusters and samples.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from aigc_core.clusters import cluster_frequencies, kmeans_labels
from aigc_core.data import load_images, make_training_dataset, scale_pixels
from aigc_core.experiments.augment import is_conditional_class
from aigc_core.models import ClusteredDCGAN
from aigc_core.models.registry import VARIANTS, build_model
from aigc_core.runs.training import load_run_model, start_run, train_run
from conftest import tiny_config


@pytest.fixture(scope="module")
def digits():
    return load_images("mnist", "train", 256)


def small(**changes) -> ClusteredDCGAN:
    model = ClusteredDCGAN(latent_dim=8, **changes)
    model.compile()
    return model


def test_it_clusters_the_images_itself_and_keeps_their_shares(digits):
    model = small(num_clusters=4)
    assert np.allclose(np.array(model.cluster_shares), 0.25)  # untrained: every cluster alike
    shuffled_labels = np.random.default_rng(0).permutation(digits.labels)
    clusters = model.training_labels(digits.images, shuffled_labels, seed=3)
    # The dataset's labels play no part: the clusters are k-means's of the pixels, whatever labels come.
    assert np.array_equal(clusters, kmeans_labels(digits.images, 4, seed=3))
    assert np.array_equal(clusters, model.training_labels(digits.images, None, seed=3))
    assert np.allclose(np.array(model.cluster_shares), cluster_frequencies(clusters, 4))


def test_the_first_latent_coordinate_picks_clusters_in_their_shares():
    model = small(num_clusters=3)
    model.cluster_shares.assign(np.array([0.2, 0.5, 0.3], dtype=np.float32))
    latent = model.latent_batch(20_000, seed=1)
    drawn = np.array(model.clusters_of(latent))
    assert np.allclose(np.bincount(drawn, minlength=3) / len(drawn), [0.2, 0.5, 0.3], atol=0.015)
    # Only the first coordinate decides: below the normal's 20% quantile is cluster 0, above its 70% cluster 2.
    edges = np.zeros((3, 8), dtype=np.float32)
    edges[:, 0] = [-0.85, 0.0, 0.53]
    assert np.array(model.clusters_of(edges)).tolist() == [0, 1, 2]


def test_it_is_unconditional_to_the_pages_and_refuses_labels():
    model = small()
    assert model.num_classes == 0 and not is_conditional_class("ClusteredDCGAN")
    images = model.sample(6, seed=2)
    assert images.shape == (6, 28, 28) and np.array_equal(images, model.sample(6, seed=2))
    with pytest.raises(ValueError, match="takes no labels"):
        model.sample(6, labels=np.zeros(6, dtype=int))
    for bad in (1, 101, 2.5):
        with pytest.raises(ValueError, match="num_clusters"):
            ClusteredDCGAN(num_clusters=bad)


def test_it_trains_on_cluster_batches_and_its_config_rebuilds_it(digits):
    model = small(num_clusters=5)
    clusters = model.training_labels(digits.images, None, seed=0)
    dataset = make_training_dataset(scale_pixels(digits.images, model.pixel_range), 32, seed=0, labels=clusters)
    history = model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0).history
    assert {"d_loss", "g_loss", "class_loss"} <= set(history)
    assert all(math.isfinite(values[-1]) for values in history.values())
    rebuilt = build_model("gan", model.get_config(), "ClusteredDCGAN")
    assert rebuilt.num_clusters == 5 and rebuilt.count_params() == model.count_params()


@pytest.mark.parametrize("family", ["gan", "vae"])
def test_a_run_keeps_its_clusters_through_resume_and_export(store, tmp_path, family):
    from aigc_core.weights import config_path_for, export_weights, load_model_from_files

    num_clusters = VARIANTS[f"{family}-clusters"].model_config["num_clusters"]
    run = start_run(tiny_config(model=family, preset="clusters", steps=4, checkpoint_every=2), store)
    assert train_run(run)["state"] == "finished"
    trained = load_run_model(run)
    shares = np.array(trained.cluster_shares)
    assert not np.allclose(shares, 1.0 / num_clusters) and math.isclose(float(shares.sum()), 1.0, rel_tol=1e-5)
    # What the run trained on: k-means of its 256 images with the run's seed.
    expected = kmeans_labels(load_images("mnist", "train", 256).images, num_clusters, seed=run.config()["seed"])
    assert np.allclose(shares, cluster_frequencies(expected, num_clusters))
    assert train_run(run, extra_steps=2)["step"] == 6  # a resume clusters again and trains on
    resumed = load_run_model(run)
    assert np.allclose(np.array(resumed.cluster_shares), shares)
    weights_path = export_weights(resumed, f"tiny-{family}-clusters", tmp_path, description="for the test")
    shipped = load_model_from_files(config_path_for(weights_path), weights_path)
    assert type(shipped) is type(trained) and np.allclose(np.array(shipped.cluster_shares), shares)
    assert np.allclose(shipped.sample(4, seed=1), resumed.sample(4, seed=1), atol=1e-5)
    if family == "vae":  # the mean images travel too: a loaded VAE places new images in the same clusters
        assert np.allclose(np.array(shipped.cluster_centres), np.array(trained.cluster_centres))
        assert np.array(trained.cluster_centres).any()


def test_the_registry_variant_is_the_conditional_gans_recipe_on_clusters():
    clusters, conditional = VARIANTS["gan-clusters"], VARIANTS["gan-conditional"]
    assert clusters.model_class is ClusteredDCGAN
    assert {k: v for k, v in clusters.model_config.items() if k != "num_clusters"} == conditional.model_config
    assert clusters.batch_size == conditional.batch_size


def test_the_run_says_it_is_clustering_before_its_first_step_then_stops_saying_so(store, monkeypatch):
    from ui.train_view import _progress_text

    seen = []
    cluster_images = ClusteredDCGAN.training_labels

    def watched(model, images, labels=None, seed=0):
        seen.append(run.raw_status())  # what a viewer reads while k-means works
        return cluster_images(model, images, labels, seed)

    monkeypatch.setattr(ClusteredDCGAN, "training_labels", watched)
    run = start_run(tiny_config(preset="clusters", steps=2), store)
    assert train_run(run)["state"] == "finished"
    assert [status.get("preparing") for status in seen] == ["clustering"]
    assert "look-alike groups" in _progress_text(seen[0], run.config())
    assert run.raw_status().get("preparing") is None  # cleared once training starts
    assert "look-alike" not in _progress_text({**run.raw_status(), "state": "running"}, run.config())
    for odd in (["clustering"], {"a": 1}, "something new"):  # a damaged or newer status file: a plain word, no error
        assert "preparing…" in _progress_text({**seen[0], "preparing": odd}, run.config())


def test_the_clustered_vae_places_any_image_in_its_nearest_cluster_and_needs_no_label(digits):
    from aigc_core.models import ClusteredVAE
    from aigc_core.quality.evaluation import vae_test_losses

    model = VARIANTS["vae-clusters"].build(num_clusters=6)
    assert type(model) is ClusteredVAE and model.num_classes == 0 and model.latent_dim == 16
    clusters = model.training_labels(digits.images, digits.labels, seed=0)
    assert np.array_equal(clusters, kmeans_labels(digits.images, 6, seed=0))
    images = scale_pixels(digits.images, "sigmoid")
    # A training image's nearest mean image is, nearly always, its k-means cluster (k-means's last assignment).
    assert np.mean(np.array(model.nearest_clusters(images)) == clusters) >= 0.95
    dataset = make_training_dataset(images, 32, seed=0, labels=clusters)
    history = model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0).history
    assert all(math.isfinite(values[-1]) for values in history.values())
    mean, log_variance = model.encode(digits.images[:5] / 255.0)
    assert mean.shape == log_variance.shape == (5, 16)
    assert model.reconstruct(digits.images[:5] / 255.0).shape == (5, 28, 28)
    assert model.kl_per_dimension_on(digits.images[:5] / 255.0).shape == (16,)
    losses = vae_test_losses(model, limit=64)  # the evaluator scores it as an unconditional VAE
    assert losses["test_reconstruction"] > 0 and math.isfinite(losses["negative_elbo_nats"])
    with pytest.raises(ValueError, match="takes no labels"):
        model.encode(digits.images[:2] / 255.0, labels=np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="labels"):
        model.sample(2, labels=np.zeros(2, dtype=int))


@pytest.mark.parametrize("family", ["gan", "vae"])
def test_fewer_images_than_clusters_fill_what_they_can_and_never_draw_an_empty_cluster(digits, family):
    model = VARIANTS[f"{family}-clusters"].build(num_clusters=8)
    clusters = model.training_labels(digits.images[:5], None, seed=0)
    shares = np.array(model.cluster_shares)
    assert set(clusters.tolist()) <= set(range(5)) and np.count_nonzero(shares) == len(set(clusters.tolist()))
    drawn = np.array(model.clusters_of(model.latent_batch(2_000, seed=0)))
    assert set(drawn.tolist()) == set(np.flatnonzero(shares).tolist())
    if family == "vae":  # a blank image's nearest cluster is a filled one, not an empty cluster's zero mean
        assert shares[np.array(model.nearest_clusters(np.zeros((1, 28, 28, 1), np.float32)))[0]] > 0
