"""Unit tests of aigc_core.experiments.latent: interpolation paths, the manifold grid, projections, encoding."""

import numpy as np
import pytest

from aigc_core.experiments import latent


@pytest.fixture
def pair():
    rng = np.random.default_rng(7)
    return rng.standard_normal(64), rng.standard_normal(64) * 1.5


@pytest.mark.parametrize("method", latent.INTERPOLATION_METHODS)
def test_paths_start_and_end_at_the_inputs(pair, method):
    start, end = pair
    path = latent.interpolate(start, end, 10, method)
    assert path.shape == (10, 64)
    assert path.dtype == np.float32
    np.testing.assert_allclose(path[0], start, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(path[-1], end, rtol=1e-6, atol=1e-6)


def test_linear_midpoint_is_the_mean(pair):
    start, end = pair
    path = latent.linear_interpolation(start, end, 3)
    np.testing.assert_allclose(path[1], (start + end) / 2, rtol=1e-6, atol=1e-6)


def test_spherical_norms_stay_between_the_endpoints_and_linear_ones_do_not(pair):
    start, end = pair
    low, high = sorted([np.linalg.norm(start), np.linalg.norm(end)])
    spherical = np.linalg.norm(latent.spherical_interpolation(start, end, 9), axis=1)
    assert np.all(spherical >= low - 1e-4) and np.all(spherical <= high + 1e-4)
    # The reason slerp exists: the straight line between two Gaussian vectors sags towards 0.
    linear = np.linalg.norm(latent.linear_interpolation(start, end, 9), axis=1)
    assert linear[4] < 0.85 * spherical[4]


def test_spherical_keeps_unit_vectors_on_the_sphere_at_constant_angle_steps():
    start, end = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    path = latent.spherical_interpolation(start, end, 5)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-6)
    angles = np.arctan2(path[:, 1], path[:, 0])
    np.testing.assert_allclose(np.diff(angles), np.pi / 8, atol=1e-6)


@pytest.mark.parametrize("end", [np.array([2.0, 0.0, 0.0]), np.array([-1.0, 0.0, 0.0]), np.zeros(3)])
def test_spherical_falls_back_to_the_line_without_a_unique_great_circle(end):
    start = np.array([1.0, 0.0, 0.0])
    path = latent.spherical_interpolation(start, end, 5)
    assert np.all(np.isfinite(path))
    np.testing.assert_allclose(path, latent.linear_interpolation(start, end, 5), atol=1e-6)


def test_bad_arguments_raise_value_errors(pair):
    start, end = pair
    with pytest.raises(ValueError, match="num_frames"):
        latent.interpolate(start, end, 1)
    with pytest.raises(ValueError, match="method"):
        latent.interpolate(start, end, 5, "cubic")
    with pytest.raises(ValueError, match="same shape"):
        latent.interpolate(start, end[:3], 5)
    with pytest.raises(ValueError, match="num_per_side"):
        latent.manifold_grid(1)


def test_manifold_grid_shape_symmetry_and_orientation():
    grid = latent.manifold_grid(15)
    assert grid.shape == (225, 2)
    cells = grid.reshape(15, 15, 2)
    # Symmetric about the origin: the standard normal's quantiles are.
    np.testing.assert_allclose(np.sort(cells[0, :, 0]), -np.sort(cells[0, :, 0])[::-1], atol=1e-6)
    np.testing.assert_allclose(cells[7, 7], [0.0, 0.0], atol=1e-6)
    # Columns increase z1 left to right; rows decrease z2 top to bottom (plot orientation).
    assert np.all(np.diff(cells[0, :, 0]) > 0) and np.all(cells[:, 0, 0] == cells[0, 0, 0])
    assert np.all(np.diff(cells[:, 0, 1]) < 0)
    # Regular in probability: the default margin puts the corners at the 5% quantile.
    np.testing.assert_allclose(cells[0, 0], [-1.6448536, 1.6448536], atol=1e-5)
    np.testing.assert_allclose(latent.manifold_extent(), 1.6448536, atol=1e-6)
    # Denser near the centre than in the tails.
    steps = np.diff(cells[0, :, 0])
    assert steps[7] < steps[0]


def test_project_to_plane_keeps_two_dimensions_and_pcas_more():
    rng = np.random.default_rng(0)
    two = rng.standard_normal((100, 2))
    projected, axes = latent.project_to_plane(two)
    np.testing.assert_allclose(projected, two, atol=1e-6)
    assert axes == "z1, z2"
    # 5-D points that vary along two directions only: PCA keeps all their variance.
    basis = np.linalg.qr(rng.standard_normal((5, 2)))[0].T
    five = rng.standard_normal((200, 2)) * [3.0, 1.0] @ basis + 4.0
    projected, axes = latent.project_to_plane(five)
    assert projected.shape == (200, 2)
    assert "100%" in axes
    np.testing.assert_allclose(projected.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(projected.var(axis=0), five.var(axis=0).sum() * np.array([0.9, 0.1]), rtol=0.3)


def test_first_index_of_each_label():
    assert latent.first_index_of_each_label([7, 2, 1, 0, 4, 1, 2, 0]) == [3, 2, 1, 4, 0]


@pytest.fixture(scope="module")
def tiny_vae():
    from aigc_core.models.registry import build_model

    return build_model("vae", {"latent_dim": 2, "architecture": "fast"})


@pytest.fixture(scope="module")
def tiny_gan():
    from aigc_core.models.registry import build_model

    return build_model("gan", {"latent_dim": 8, "architecture": "fast"})


def test_seed_interpolation_starts_at_the_first_seed_sample(tiny_gan):
    path, images = latent.seed_interpolation(tiny_gan, 3, 4, num_frames=6, method="spherical")
    assert path.shape == (6, 8) and images.shape == (6, 28, 28)
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_allclose(images[0], tiny_gan.sample(1, seed=3)[0], atol=1e-5)
    np.testing.assert_allclose(images[-1], tiny_gan.sample(1, seed=4)[0], atol=1e-5)


def test_manifold_images_and_encoding_of_the_test_set(tiny_vae, tiny_gan):
    images = latent.manifold_images(tiny_vae, 4)
    assert images.shape == (16, 28, 28)
    points, labels, axes = latent.encode_test_set(tiny_vae, limit=50)
    assert points.shape == (50, 2) and labels.shape == (50,) and axes == "z1, z2"
    assert np.all(np.isfinite(points))
    with pytest.raises(ValueError, match="2-D latent"):
        latent.manifold_images(tiny_gan, 4)
    with pytest.raises(ValueError, match="VAE"):
        latent.encode_images(tiny_gan, np.zeros((2, 28, 28), np.uint8))


@pytest.fixture(scope="module")
def tiny_conditional_models():
    from aigc_core.models.registry import build_model

    return {"gan": build_model("gan", {"latent_dim": 8, "architecture": "fast"}, "ConditionalDCGAN"),
            "vae": build_model("vae", {"latent_dim": 2, "architecture": "fast"}, "ConditionalVAE")}


def test_conditional_seed_interpolation_holds_the_chosen_digit_and_moves_z(tiny_conditional_models, monkeypatch):
    model = tiny_conditional_models["gan"]
    seen = []
    generate = model.generate
    monkeypatch.setattr(model, "generate", lambda latent, labels=None: seen.append((latent, labels)) or generate(latent, labels))
    path, images = latent.seed_interpolation(model, 3, 4, num_frames=6, method="spherical", digit=7)
    (latents, labels), = seen
    assert labels.tolist() == [7] * 6  # every frame asks for the same digit
    np.testing.assert_allclose(latents, path)
    assert len({tuple(row) for row in np.round(path, 5)}) == 6  # z moves at every frame
    monkeypatch.undo()
    np.testing.assert_allclose(images[0], model.sample(1, seed=3, labels=[7])[0], atol=1e-5)
    np.testing.assert_allclose(images[-1], model.sample(1, seed=4, labels=[7])[0], atol=1e-5)


def test_seed_interpolation_needs_a_digit_exactly_for_conditional_models(tiny_conditional_models, tiny_gan):
    with pytest.raises(ValueError, match="digit to hold fixed"):
        latent.seed_interpolation(tiny_conditional_models["gan"], 0, 1, num_frames=3)
    with pytest.raises(ValueError, match="digit to hold fixed"):
        latent.seed_interpolation(tiny_conditional_models["gan"], 0, 1, num_frames=3, digit=10)
    with pytest.raises(ValueError, match="not conditional"):
        latent.seed_interpolation(tiny_gan, 0, 1, num_frames=3, digit=7)


@pytest.mark.parametrize("family", ["gan", "vae"])
def test_label_interpolation_blends_two_digits_with_z_held_still(tiny_conditional_models, family, monkeypatch):
    model = tiny_conditional_models[family]
    seen = []
    decode = model.decode_label_codes
    monkeypatch.setattr(model, "decode_label_codes", lambda latent, codes: seen.append(latent) or decode(latent, codes))
    codes, images = latent.label_interpolation(model, seed=5, digit_a=3, digit_b=8, num_frames=5)
    monkeypatch.undo()
    assert codes.shape == (5, 10) and images.shape == (5, 28, 28)
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_allclose(codes.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(codes[:, 3], [1.0, 0.75, 0.5, 0.25, 0.0], atol=1e-6)
    np.testing.assert_allclose(codes[:, 8], [0.0, 0.25, 0.5, 0.75, 1.0], atol=1e-6)
    (latents,) = seen
    np.testing.assert_allclose(latents, np.repeat(model.latent_batch(1, 5), 5, axis=0))  # z never moves
    np.testing.assert_allclose(images[0], model.sample(1, seed=5, labels=[3])[0], atol=1e-5)
    np.testing.assert_allclose(images[-1], model.sample(1, seed=5, labels=[8])[0], atol=1e-5)


def test_label_interpolation_refuses_an_unconditional_model(tiny_gan):
    with pytest.raises(ValueError, match="conditional"):
        latent.label_interpolation(tiny_gan, seed=0, digit_a=1, digit_b=2)
