"""Walking through a latent space: interpolation paths, the 2-D manifold grid, encoded points.

Everything here is NumPy on latent vectors plus calls to a model's `generate` / `encode`,
so the Compare and Latent pages (and the CLI, or a notebook) draw the same pictures.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from aigc_core.data import to_unit_range

INTERPOLATION_METHODS = ("linear", "spherical")
# Below this angle (radians) two directions are treated as equal: the great circle is a point.
_PARALLEL_ANGLE = 1e-4


def _check_pair(start, end) -> tuple[np.ndarray, np.ndarray]:
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    if start.ndim != 1 or start.shape != end.shape:
        raise ValueError(
            f"Expected two latent vectors of the same shape (D,). Received: shapes {start.shape} and {end.shape}"
        )
    return start, end


def _fractions(num_frames: int) -> np.ndarray:
    if not isinstance(num_frames, (int, np.integer)) or num_frames < 2:
        raise ValueError(f"Expected num_frames to be an integer >= 2. Received: num_frames={num_frames!r}")
    return np.linspace(0.0, 1.0, int(num_frames))


def linear_interpolation(start, end, num_frames: int) -> np.ndarray:
    """`num_frames` points on the straight line from `start` to `end`, both included: (F, D) float32."""
    start, end = _check_pair(start, end)
    fractions = _fractions(num_frames)[:, None]
    return ((1.0 - fractions) * start + fractions * end).astype(np.float32)


def spherical_interpolation(start, end, num_frames: int) -> np.ndarray:
    """`num_frames` points from `start` to `end` along a great circle (slerp): (F, D) float32.

    The direction turns along the great circle between the two directions while the length
    moves linearly from |start| to |end|, so every frame keeps a norm between the two
    endpoints'. A straight line would cut through the middle of the sphere instead: for two
    independent Gaussian vectors its midpoint is about 1/sqrt(2) as long as either, a length
    the model almost never saw during training. Directions that are (almost) equal or
    opposite have no unique great circle; then the straight line is returned.
    """
    start, end = _check_pair(start, end)
    fractions = _fractions(num_frames)[:, None]
    start_norm, end_norm = np.linalg.norm(start), np.linalg.norm(end)
    if start_norm == 0.0 or end_norm == 0.0:
        return linear_interpolation(start, end, num_frames)
    start_direction, end_direction = start / start_norm, end / end_norm
    angle = np.arccos(np.clip(np.dot(start_direction, end_direction), -1.0, 1.0))
    if angle < _PARALLEL_ANGLE or np.pi - angle < _PARALLEL_ANGLE:
        return linear_interpolation(start, end, num_frames)
    directions = (
        np.sin((1.0 - fractions) * angle) * start_direction + np.sin(fractions * angle) * end_direction
    ) / np.sin(angle)
    norms = (1.0 - fractions) * start_norm + fractions * end_norm
    path = directions * norms
    path[0], path[-1] = start, end  # exact endpoints, free of rounding
    return path.astype(np.float32)


def interpolate(start, end, num_frames: int, method: str = "spherical") -> np.ndarray:
    """Latent path from `start` to `end` by `method` ("linear" or "spherical")."""
    if method == "linear":
        return linear_interpolation(start, end, num_frames)
    if method == "spherical":
        return spherical_interpolation(start, end, num_frames)
    raise ValueError(f"Expected method to be one of {INTERPOLATION_METHODS}. Received: method={method!r}")


def held_digit_labels(model, digit, num_frames: int) -> np.ndarray | None:
    """`num_frames` copies of `digit` for a conditional model; None for an unconditional one.

    Raises:
        ValueError: a conditional model without a digit in [0, num_classes), or a digit for a
            model that takes none.
    """
    num_classes = getattr(model, "num_classes", 0)
    if not num_classes:
        if digit is not None:
            raise ValueError(f"{type(model).__name__} is not conditional: it takes no digit. Received: digit={digit!r}")
        return None
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit < num_classes:
        raise ValueError(f"Expected the digit to hold fixed, an integer in [0, {num_classes - 1}]. Received: digit={digit!r}")
    return np.full(int(num_frames), int(digit), dtype=np.int32)


def seed_interpolation(model, seed_a: int, seed_b: int, num_frames: int = 10, method: str = "spherical",
                       digit: int | None = None):
    """The images along a latent path between the latent vectors of two seeds.

    A conditional model draws every frame as `digit` (required for one): only z moves, so the
    frames show the style of one digit changing. Left to its default labels it would cycle
    0, 1, ..., 9 along the path and show the label changing instead (`label_interpolation`
    does that on purpose, with z held still).

    Returns:
        (latent path (F, D), images (F, 28, 28) in [0, 1]); frame 0 is `model.sample(1, seed_a)`
        (with `labels=[digit]` for a conditional model).
    """
    labels = held_digit_labels(model, digit, num_frames)
    start = model.latent_batch(1, seed_a)[0]
    end = model.latent_batch(1, seed_b)[0]
    path = interpolate(start, end, num_frames, method)
    return path, model.generate(path, labels)


def label_interpolation(model, seed: int, digit_a: int, digit_b: int, num_frames: int = 10):
    """A conditional model's images as its label blends from `digit_a` to `digit_b`, z held still.

    The latent vector is the seed's, the same in every frame; the label input, a one-hot code
    in training, moves in a straight line from one digit's code to the other's. The frames
    show what the model does between two digits it was taught, in the same handwriting.

    Returns:
        (label codes (F, num_classes) float32, images (F, 28, 28) in [0, 1]).
    Raises:
        ValueError: an unconditional model, or digits outside [0, num_classes).
    """
    import keras

    num_classes = getattr(model, "num_classes", 0)
    if not num_classes:
        raise ValueError(f"A label interpolation needs a conditional model. Received: {type(model).__name__}")
    for digit in (digit_a, digit_b):
        held_digit_labels(model, digit, 1)  # raises for a digit the model does not know
    fractions = _fractions(num_frames)[:, None]
    identity = np.eye(num_classes, dtype=np.float32)
    codes = ((1.0 - fractions) * identity[int(digit_a)] + fractions * identity[int(digit_b)]).astype(np.float32)
    latent = np.repeat(model.latent_batch(1, seed), len(codes), axis=0)
    images = model.decode_label_codes(latent, codes)
    images = keras.ops.convert_to_numpy(keras.ops.cast(images, "float32"))[..., 0]
    return codes, to_unit_range(images, model.pixel_range)


MANIFOLD_MARGIN = 0.05


def manifold_extent(margin: float = MANIFOLD_MARGIN) -> float:
    """Half the side of the square `manifold_grid` covers: the normal quantile of 1 - margin."""
    return NormalDist().inv_cdf(1.0 - margin)


def manifold_grid(num_per_side: int = 15, margin: float = MANIFOLD_MARGIN) -> np.ndarray:
    """A regular grid over the 2-D standard-normal latent plane, ready to decode: (n*n, 2).

    The grid is regular in probability, not in distance: each axis takes the normal
    quantiles of evenly spaced probabilities in [margin, 1 - margin], so cells near the
    origin (where most codes lie) are sampled densely and the thin tails are not wasted.
    Rows run from high z2 (top) to low z2 (bottom), columns from low z1 (left) to high z1,
    so the tiled images read like a plot with the usual axes.
    """
    if not isinstance(num_per_side, (int, np.integer)) or num_per_side < 2:
        raise ValueError(f"Expected num_per_side to be an integer >= 2. Received: num_per_side={num_per_side!r}")
    if not 0.0 < margin < 0.5:
        raise ValueError(f"Expected margin in (0, 0.5). Received: margin={margin!r}")
    normal = NormalDist()
    axis = np.array([normal.inv_cdf(p) for p in np.linspace(margin, 1.0 - margin, int(num_per_side))])
    z1, z2 = np.meshgrid(axis, axis[::-1])
    return np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)


def manifold_images(model, num_per_side: int = 15) -> np.ndarray:
    """Decoded images of `manifold_grid` for a model with a 2-D latent space: (n*n, 28, 28)."""
    if model.latent_dim != 2:
        raise ValueError(
            f"A manifold plot needs a 2-D latent space. Received: a model with latent_dim={model.latent_dim}"
        )
    return model.generate(manifold_grid(num_per_side))


def project_to_plane(points) -> tuple[np.ndarray, str]:
    """Points (N, D) as (N, 2) for a scatter plot, with the axis description.

    Two dimensions are returned as they are; more are projected onto their two principal
    components (PCA via the SVD of the centred points), which keep the most variance.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 1:
        raise ValueError(f"Expected points of shape (N, D). Received: shape={points.shape}")
    if points.shape[1] == 1:
        return np.concatenate([points, np.zeros_like(points)], axis=1).astype(np.float32), "z1 (1-D latent)"
    if points.shape[1] == 2:
        return points.astype(np.float32), "z1, z2"
    centred = points - points.mean(axis=0)
    _, singular_values, components = np.linalg.svd(centred, full_matrices=False)
    variance = singular_values**2
    kept = variance[:2].sum() / variance.sum() if variance.sum() > 0 else 0.0
    projected = centred @ components[:2].T
    return projected.astype(np.float32), f"first two principal components ({kept:.0%} of the variance)"


def encode_images(model, images_uint8, labels=None) -> np.ndarray:
    """Posterior means (N, latent_dim) of uint8 images (N, 28, 28) under a VAE (a CVAE also needs their labels)."""
    if getattr(model, "family", None) != "vae":
        family = getattr(model, "family", None)
        raise ValueError(f"Only a VAE can encode images. Received: a model of family {family!r}")
    images = np.asarray(images_uint8, dtype=np.float32) / 255.0
    if getattr(model, "num_classes", 0):
        mean, _ = model.encode(images, labels)
    else:
        mean, _ = model.encode(images)
    return np.asarray(mean, dtype=np.float32)


def encode_test_set(model, limit: int = 2000, dataset: str = "mnist"):
    """Encode the first `limit` test images for a latent scatter plot.

    Returns:
        (points (N, 2), labels (N,), axis description); see `project_to_plane`.
    Raises:
        DatasetError: when the dataset cannot be loaded.
    """
    from aigc_core.data import load_images

    test = load_images(dataset, "test", limit=limit)
    points, axes = project_to_plane(encode_images(model, test.images, test.labels))
    return points, test.labels, axes


def first_index_of_each_label(labels) -> list[int]:
    """The index of the first example of every label, in label order (one of each digit)."""
    labels = np.asarray(labels)
    return [int(np.flatnonzero(labels == label)[0]) for label in np.unique(labels)]
