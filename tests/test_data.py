"""Datasets: the bundled MNIST, its checksum, the offline fallback, pixel scaling and batching."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from aigc_core import data
from aigc_core.data import DatasetError, load_images, make_training_dataset, scale_pixels, to_unit_range


@pytest.fixture
def fresh_checksum_cache(monkeypatch):
    """Forget which files were verified, so the next load hashes the file again."""
    monkeypatch.setattr(data, "_verified_files", set())


def test_bundled_mnist_has_the_known_shapes_dtypes_and_labels():
    train = load_images("mnist", "train")
    test = load_images("mnist", "test")
    assert train.images.shape == (60_000, 28, 28) and train.images.dtype == np.uint8
    assert test.images.shape == (10_000, 28, 28) and test.images.dtype == np.uint8
    assert train.labels.shape == (60_000,) and train.labels.dtype == np.int64
    assert test.labels.shape == (10_000,) and test.labels.dtype == np.int64
    assert set(np.unique(train.labels)) == set(range(10))
    assert set(np.unique(test.labels)) == set(range(10))
    # Real digits: dark background, some full-white strokes, every class well represented.
    assert train.images.min() == 0 and train.images.max() == 255
    assert 0.1 < train.images.mean() / 255.0 < 0.2
    assert np.bincount(train.labels).min() > 5_000


def test_limit_keeps_the_first_examples():
    full = load_images("mnist", "train")
    limited = load_images("mnist", "train", limit=100)
    assert limited.images.shape == (100, 28, 28) and limited.labels.shape == (100,)
    np.testing.assert_array_equal(limited.images, full.images[:100])
    np.testing.assert_array_equal(limited.labels, full.labels[:100])


@pytest.mark.parametrize(
    "arguments, field",
    [
        ({"name": "cifar10"}, "dataset"),
        ({"split": "validation"}, "split"),
        ({"limit": 0}, "limit"),
        ({"limit": -5}, "limit"),
        ({"limit": 2.5}, "limit"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(arguments, field):
    with pytest.raises(ValueError, match=field):
        load_images(**arguments)


def test_corrupt_bundled_file_raises_dataset_error(tmp_path, monkeypatch, fresh_checksum_cache):
    corrupt = tmp_path / "mnist.npz"
    shutil.copyfile(data.MNIST_PATH, corrupt)
    with open(corrupt, "r+b") as stream:  # flip one byte in the middle of the archive
        stream.seek(5_000_000)
        byte = stream.read(1)
        stream.seek(5_000_000)
        stream.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(data, "MNIST_PATH", corrupt)

    with pytest.raises(DatasetError) as raised:
        load_images("mnist", "train", limit=10)
    message = str(raised.value)
    assert "\n" not in message
    assert "corrupt" in message and str(corrupt) in message
    assert data.MNIST_SHA256 in message  # what was expected
    assert data.sha256_of(corrupt) in message  # and what came


def test_intact_copy_passes_the_checksum(tmp_path, monkeypatch, fresh_checksum_cache):
    copy = tmp_path / "mnist.npz"
    shutil.copyfile(data.MNIST_PATH, copy)
    monkeypatch.setattr(data, "MNIST_PATH", copy)
    assert load_images("mnist", "test", limit=3).images.shape == (3, 28, 28)
    assert any(path == str(copy) for path, _ in data._verified_files)


def test_missing_bundled_file_and_failed_download_give_one_line_error(tmp_path, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz: "
            "None -- [Errno -3] Temporary failure in name resolution\nsecond line of detail"
        )

    monkeypatch.setattr(data, "MNIST_PATH", tmp_path / "absent.npz")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)

    with pytest.raises(DatasetError) as raised:
        load_images("mnist", "train")
    message = str(raised.value)
    assert "\n" not in message
    assert "Could not download mnist" in message
    assert "Temporary failure in name resolution" in message
    assert "second line" not in message


def test_missing_bundled_file_falls_back_to_keras(tmp_path, monkeypatch):
    import keras

    fake_train = (np.full((4, 28, 28), 7, np.uint8), np.arange(4, dtype=np.uint8))
    fake_test = (np.zeros((2, 28, 28), np.uint8), np.array([1, 2], np.uint8))
    monkeypatch.setattr(data, "MNIST_PATH", tmp_path / "absent.npz")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: (fake_train, fake_test))

    loaded = load_images("mnist", "train")
    assert loaded.images.shape == (4, 28, 28) and int(loaded.images[0, 0, 0]) == 7
    assert loaded.labels.dtype == np.int64 and loaded.labels.tolist() == [0, 1, 2, 3]


def test_scale_pixels_reaches_exactly_the_model_ranges():
    images = np.array([[[0, 128], [255, 64]]], dtype=np.uint8)
    tanh = scale_pixels(images, "tanh")
    sigmoid = scale_pixels(images, "sigmoid")
    assert tanh.shape == sigmoid.shape == (1, 2, 2, 1)
    assert tanh.dtype == sigmoid.dtype == np.float32
    assert tanh.min() == -1.0 and tanh.max() == 1.0
    assert sigmoid.min() == 0.0 and sigmoid.max() == 1.0
    np.testing.assert_allclose(sigmoid[0, :, :, 0], images[0] / 255.0, rtol=1e-6)
    # to_unit_range undoes either scaling.
    np.testing.assert_allclose(to_unit_range(tanh[..., 0], "tanh"), images / 255.0, atol=1e-6)
    np.testing.assert_allclose(to_unit_range(sigmoid[..., 0], "sigmoid"), images / 255.0, atol=1e-6)
    with pytest.raises(ValueError, match="pixel_range"):
        scale_pixels(images, "relu")


def test_to_unit_range_clips_out_of_range_outputs():
    clipped = to_unit_range(np.array([-3.0, -1.0, 0.0, 1.0, 5.0]), "tanh")
    assert clipped.dtype == np.float32
    assert clipped.tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]


def test_make_training_dataset_batches_and_refuses_a_batch_larger_than_the_data():
    images = scale_pixels(load_images("mnist", "train", limit=40).images, "sigmoid")
    with pytest.raises(ValueError, match="batch_size"):
        make_training_dataset(images, batch_size=41, seed=0)

    batches = iter(make_training_dataset(images, batch_size=16, seed=0))
    # 40 images make two full batches per pass; the pipeline repeats, so a third still comes.
    shapes = [tuple(next(batches).shape) for _ in range(3)]
    assert shapes == [(16, 28, 28, 1)] * 3


def test_training_dataset_runs_without_the_autotune_thread_that_delayed_exit():
    """tf.data's autotune optimiser thread sometimes held a finished training process ~20 s at
    exit (the iterator's destructor waited on it); the pipeline must keep it switched off."""
    images = scale_pixels(load_images("mnist", "train", limit=40).images, "sigmoid")
    dataset = make_training_dataset(images, batch_size=16, seed=0)
    assert dataset.options().autotune.enabled is False
    assert tuple(next(iter(dataset)).shape) == (16, 28, 28, 1)
