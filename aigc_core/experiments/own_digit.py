"""A user's own digit: an image made MNIST-like, encoded by a VAE, and found in a GAN's latent space.

Three jobs, shared by the "Your own digit" page, the tests and a notebook:

- `prepare_upload` / `prepare_drawing` turn a PNG or JPEG (or the canvas's PNG data URL) into a
  28x28 input the way MNIST was made: grayscale, light ink on a dark background, cropped to the
  ink, scaled to fit 20x20 keeping the aspect ratio, and placed by its centre of mass.
- `vae_*` encode such an image to its posterior mean and decode it back.
- `invert_generator` looks for the GAN latent whose image is closest to it (a GAN has no encoder).

Every bad input (not an image, too big, empty) raises a one-line `ValueError`.
"""

from __future__ import annotations

import base64
import binascii
import io
import contextlib
import math
import numbers
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from aigc_core.experiments import latent as latent_paths
from aigc_core.limits import MAX_SEED, whole_number
from aigc_core.messages import MessageError, N_

IMAGE_SIDE = 28
# MNIST's digits were scaled to fit a 20x20 box and then centred by their centre of mass in 28x28;
# the test set's mean centre of mass is (14.0, 14.0) in pixel-index coordinates.
BOX_SIDE = 20
CENTRE = 14.0
ALLOWED_FORMATS = ("PNG", "JPEG")
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # the same cap as `server.maxUploadSize` in .streamlit/config.toml
MAX_IMAGE_SIDE = 4096
# Pixels decoded in full: a PNG cannot be decoded at a lower scale, and a 4096x4096 16-bit RGBA
# PNG of 130 KB once cost the server 290-400 MB. A JPEG is decoded at 1/2, 1/4 or 1/8 scale
# (`draft`), so a 12-megapixel phone photo stays within this too.
MAX_DECODED_PIXELS = 2048 * 2048
# Images are shrunk to this many pixels a side right after decoding: a digit ends up 20x20.
WORK_SIDE = 1024
# Uploads decoded at once by one server; the next one waits up to `DECODE_WAIT_S`, then is refused.
MAX_CONCURRENT_DECODES = 2
DECODE_WAIT_S = 20.0
MIN_IMAGE_SIDE = 8
PREVIEW_SIDE = 280
# Ink fainter than this (after the background is subtracted) is paper texture or JPEG noise.
NOISE_FLOOR = 0.15
# Less contrast than this between background and the brightest ink: nothing was drawn.
MIN_CONTRAST = 0.15

MAX_INVERSION_STEPS = 2000
MAX_RESTARTS = 16
DEFAULT_STEPS = 200
DEFAULT_RESTARTS = 4
DEFAULT_LEARNING_RATE = 0.05
# |z|^2 / D is about 1 for a typical latent; this weight keeps the search near the prior
# (where the generator was trained) without outweighing a pixel error of a few percent.
DEFAULT_PRIOR_WEIGHT = 2e-3


@dataclass(frozen=True)
class PreparedDigit:
    """An image made MNIST-like, with what the page shows beside it.

    Attributes:
        image: (28, 28) float32 in [0, 1], light ink on black, as the models were trained.
        preview: the user's image as received (grayscale, at most 280 px a side), float32 in [0, 1].
        inverted: True when the image was dark ink on a light background and was inverted.
    """

    image: np.ndarray
    preview: np.ndarray
    inverted: bool


# -- reading images ---------------------------------------------------------------------------
_decoding = threading.BoundedSemaphore(MAX_CONCURRENT_DECODES)


@contextlib.contextmanager
def _decoding_slot():
    """One of `MAX_CONCURRENT_DECODES` places to decode an image in: six uploads at once once
    took a server from 0.9 to 2.7 GB. Raises a one-line ValueError when none frees up in time."""
    if not _decoding.acquire(timeout=DECODE_WAIT_S):
        raise MessageError(N_("image: the server is busy preparing other images; try again in a moment"))
    try:
        yield
    finally:
        _decoding.release()


def read_image_bytes(data: bytes) -> np.ndarray:
    """A PNG or JPEG file's pixels as a grayscale (H, W) float32 array in [0, 1], at most
    `WORK_SIDE` pixels a side.

    The size is checked from the header before the pixels are decoded, so a huge image is
    refused without allocating it; a JPEG is decoded at the smallest scale that is still at
    least `WORK_SIDE` a side, and every image is shrunk before any float copy is made.
    Transparent pixels are laid on white: a digit drawn in black on a transparent background
    then reads as dark-on-light and is inverted later.

    Raises:
        ValueError: not a PNG/JPEG, a damaged file, an image too big or too small, or a
            server busy with `MAX_CONCURRENT_DECODES` other images for `DECODE_WAIT_S`.
    """
    from PIL import Image, ImageOps

    if not isinstance(data, (bytes, bytearray)) or not data:
        raise MessageError(N_("image: the file is empty; upload a PNG or JPEG of a digit"))
    if len(data) > MAX_IMAGE_BYTES:
        raise MessageError(N_("image: the file is {size:.1f} MiB; at most {limit} MiB"), size=len(data) / 2**20,
                           limit=MAX_IMAGE_BYTES // 2**20)
    unreadable = N_("image: could not read it as a PNG or JPEG")
    try:
        picture = Image.open(io.BytesIO(data))  # reads the header only
    except Exception as error:  # PIL raises many types (UnidentifiedImageError, OSError, SyntaxError...)
        raise MessageError(unreadable, detail=type(error).__name__) from None
    if picture.format not in ALLOWED_FORMATS:
        raise MessageError(N_("image: expected a PNG or JPEG; received a {format} file"), format=picture.format or "?")
    width, height = picture.size
    if max(width, height) > MAX_IMAGE_SIDE:
        raise MessageError(N_("image: {width}x{height} pixels is too big; at most {limit} pixels a side"), width=width,
                           height=height, limit=MAX_IMAGE_SIDE)
    if min(width, height) < MIN_IMAGE_SIDE:
        raise MessageError(N_("image: {width}x{height} pixels is too small; at least {limit} a side"), width=width,
                           height=height, limit=MIN_IMAGE_SIDE)
    if picture.format == "JPEG":
        longest = max(width, height)  # decode at 1/2, 1/4 or 1/8 scale, the long side still >= WORK_SIDE
        picture.draft(picture.mode, (max(1, width * WORK_SIDE // longest), max(1, height * WORK_SIDE // longest)))
    decoded_width, decoded_height = picture.size
    if decoded_width * decoded_height > MAX_DECODED_PIXELS:
        side = math.isqrt(MAX_DECODED_PIXELS)
        raise MessageError(N_("image: {width}x{height} pixels is too big for a {format}; at most {limit:,} pixels "
                              "({side}x{side}): shrink it or save it as a JPEG"), width=width, height=height,
                           format=picture.format, limit=MAX_DECODED_PIXELS, side=side)
    with _decoding_slot():
        try:
            picture.load()
            picture = ImageOps.exif_transpose(picture)  # phone photos store their rotation in EXIF
        except Exception as error:  # a damaged body behind a valid header
            raise MessageError(unreadable, detail=type(error).__name__) from None
        picture.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)  # in place; only ever shrinks
        if "A" in picture.getbands() or "transparency" in picture.info:
            rgba = picture.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            picture = Image.alpha_composite(background, rgba)
        return np.asarray(picture.convert("L"), dtype=np.float32) / 255.0


def read_data_url(url: str) -> np.ndarray:
    """The canvas's `data:image/png;base64,...` URL as a grayscale (H, W) array in [0, 1].

    Raises:
        ValueError: when the text is not a base64 PNG or JPEG data URL.
    """
    prefix = "data:image/"
    if not isinstance(url, str) or not url.startswith(prefix) or ";base64," not in url[:40]:
        raise MessageError(N_("drawing: expected a data:image/png;base64 URL from the canvas"))
    payload = url.split(",", 1)[1]
    if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise MessageError(N_("drawing: the image is larger than {limit} MiB"), limit=MAX_IMAGE_BYTES // 2**20)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise MessageError(N_("drawing: the canvas sent damaged image data")) from None
    return read_image_bytes(data)


# -- making it MNIST-like ---------------------------------------------------------------------
def _border(image: np.ndarray) -> np.ndarray:
    return np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])


def _preview(image: np.ndarray) -> np.ndarray:
    """The image shrunk to at most `PREVIEW_SIDE` a side: enough to show, cheap to keep in a session."""
    from PIL import Image

    height, width = image.shape
    scale = PREVIEW_SIDE / max(height, width)
    if scale >= 1.0:
        return image.astype(np.float32)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX),
                      dtype=np.float32)


def to_mnist(grayscale) -> PreparedDigit:
    """Make a grayscale image (H, W) in [0, 1] look like an MNIST digit, as MNIST itself was made.

    Steps: invert if the background (the median of the border pixels) is light; subtract the
    background and stretch the ink to [0, 1]; drop ink below `NOISE_FLOOR`; crop to the ink's
    bounding box; scale it to fit 20x20 keeping its aspect ratio (anti-aliased, so strokes get
    MNIST's grey edges); place it in 28x28 so that its centre of mass lands on (14, 14).

    Raises:
        ValueError: when the image has no ink (an empty drawing, a blank page).
    """
    from PIL import Image

    image = np.asarray(grayscale, dtype=np.float32)
    if image.ndim != 2 or min(image.shape) < 2:
        raise ValueError(f"image: expected a 2-D grayscale array; received shape {image.shape}")
    if not np.all(np.isfinite(image)):
        raise MessageError(N_("image: contains NaN or infinite pixels"))
    image = np.clip(image, 0.0, 1.0)
    preview = _preview(image)
    inverted = bool(np.median(_border(image)) > 0.5)
    ink = 1.0 - image if inverted else image
    background = float(np.median(_border(ink)))
    contrast = float(ink.max()) - background
    if contrast < MIN_CONTRAST:
        raise MessageError(N_("image: no digit found (the image is empty or has almost no contrast); draw or upload one"))
    ink = np.clip((ink - background) / contrast, 0.0, 1.0)
    ink[ink < NOISE_FLOOR] = 0.0
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]

    height, width = ink.shape
    scale = BOX_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(ink, mode="F").resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    small = np.clip(small, 0.0, 1.0)
    small[small < 1e-3] = 0.0  # Lanczos ringing leaves faint negative-then-clipped halos
    if small.sum() <= 0.0:
        raise MessageError(N_("image: no digit found after scaling it to 20x20 pixels; draw a larger digit"))

    # Integer shift to the centre of mass, as MNIST did; clamped so no ink falls off the field
    # (a digit whose mass sits at one end, like a 7, would otherwise lose its tail).
    small_height, small_width = small.shape
    row_index, column_index = np.mgrid[0:small_height, 0:small_width]
    mass = small.sum()
    centre_row, centre_column = (small * row_index).sum() / mass, (small * column_index).sum() / mass
    top = int(np.clip(round(CENTRE - centre_row), 0, IMAGE_SIDE - small_height))
    left = int(np.clip(round(CENTRE - centre_column), 0, IMAGE_SIDE - small_width))
    digit = np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.float32)
    digit[top : top + small_height, left : left + small_width] = small
    return PreparedDigit(image=digit, preview=preview, inverted=inverted)


def prepare_upload(data: bytes) -> PreparedDigit:
    """An uploaded PNG/JPEG file's bytes, made MNIST-like (see `to_mnist`)."""
    return to_mnist(read_image_bytes(data))


def prepare_drawing(data_url: str) -> PreparedDigit:
    """The canvas's PNG data URL, made MNIST-like (see `to_mnist`)."""
    return to_mnist(read_data_url(data_url))


def centre_of_mass(image) -> tuple[float, float]:
    """(row, column) of an image's centre of mass, in pixel-index coordinates."""
    image = np.asarray(image, dtype=np.float64)
    mass = image.sum()
    if mass <= 0:
        raise MessageError(N_("image: no ink, so no centre of mass"))
    rows, columns = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    return float((image * rows).sum() / mass), float((image * columns).sum() / mass)


# -- the VAE ----------------------------------------------------------------------------------
def _require_family(model, family: str, job: str) -> None:
    found = getattr(model, "family", None)
    if found != family:
        raise ValueError(f"{job} needs a {family.upper()}; received a model of family {found!r}")
    if getattr(model, "num_classes", 0):
        raise ValueError(f"{job} needs an unconditional {family.upper()}; {type(model).__name__} also needs "
                         "the digit's label")


def _digit_batch(image) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.shape != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"image: expected shape (28, 28); received {image.shape}")
    return image[None]


def vae_encode(model, image) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and log-variance (each (D,)) of one (28, 28) image under a VAE."""
    _require_family(model, "vae", "encoding")
    mean, log_variance = model.encode(_digit_batch(image))
    return np.asarray(mean[0], np.float32), np.asarray(log_variance[0], np.float32)


def vae_reconstruct(model, image) -> np.ndarray:
    """The VAE's reconstruction of one image: its posterior mean, decoded. (28, 28) in [0, 1]."""
    _require_family(model, "vae", "reconstruction")
    return model.reconstruct(_digit_batch(image))[0]


def vae_interpolation(model, image_a, image_b, num_frames: int = 10) -> np.ndarray:
    """Frames (F, 28, 28) decoded along the straight line between two images' posterior means.

    Straight, not spherical: posterior means of a small VAE sit well inside the unit ball, not
    on the shell where a sampled Gaussian latent lies, so there is no length to preserve.
    """
    start, _ = vae_encode(model, image_a)
    end, _ = vae_encode(model, image_b)
    return model.generate(latent_paths.interpolate(start, end, num_frames, "linear"))


# -- the GAN: inversion by optimization --------------------------------------------------------
@dataclass(frozen=True)
class Inversion:
    """The result of `invert_generator`.

    Attributes:
        latent: (D,) the best latent found.
        image: (28, 28) in [0, 1], what the generator draws from it.
        distance: root-mean-square pixel error (in [0, 1] units) between that image and the target.
        start_distance: the same error for the best seeded start, before any step: the baseline.
        restart_distances: the final error of every restart, best or not.
        steps: optimization steps taken per restart.
    """

    latent: np.ndarray
    image: np.ndarray
    distance: float
    start_distance: float
    restart_distances: tuple[float, ...]
    steps: int


def _number_in_range(name: str, value, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)) \
            or not 0.0 <= float(value) <= high:
        raise ValueError(f"{name} must be a number between 0 and {high:g}; received {value!r}")
    return float(value)


def invert_generator(
    model,
    image,
    *,
    steps: int = DEFAULT_STEPS,
    restarts: int = DEFAULT_RESTARTS,
    seed: int = 0,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    progress: Callable[[int, int], None] | None = None,
) -> Inversion:
    """Find the latent whose generated image is closest to `image` (GAN inversion).

    A GAN has no encoder, so the latent is searched for: `restarts` latents drawn with `seed`
    (the generator's own `latent_batch`) are moved by Adam, all at once as one batch, to lower
    the mean squared pixel error plus `prior_weight` * |z|^2 / D. The prior term keeps the
    search where the generator was trained (a far-out z can match pixels with an image that is
    no longer a digit). Several starts, because the loss has many poor local minima.

    Args:
        model: a GAN (`family == "gan"`); read only, its weights are not changed.
        image: the target, (28, 28) in [0, 1].
        steps: Adam steps (1 to 2000); restarts: parallel starts (1 to 16).
        progress: called as `progress(step, steps)` after every step (e.g. a progress bar).

    Raises:
        ValueError: for a model that is not a GAN or a parameter out of range.
    """
    import keras
    import tensorflow as tf  # the gradient step is the one TensorFlow-specific place
    from keras import ops

    _require_family(model, "gan", "inversion")
    steps = whole_number("steps", steps, 1, MAX_INVERSION_STEPS)
    restarts = whole_number("restarts", restarts, 1, MAX_RESTARTS)
    seed = whole_number("seed", seed, 0, MAX_SEED)
    learning_rate = _number_in_range("learning_rate", learning_rate, 10.0)
    prior_weight = _number_in_range("prior_weight", prior_weight, 10.0)
    target = ops.convert_to_tensor(_digit_batch(image)[..., None])

    def errors(latent):
        """(pixel mean squared error per restart, objective per restart)."""
        generated = model.decode_latent(latent)
        if model.pixel_range == "tanh":
            generated = (generated + 1.0) / 2.0
        pixel = ops.mean(ops.square(generated - target), axis=(1, 2, 3))
        return pixel, pixel + prior_weight * ops.mean(ops.square(latent), axis=1)

    latent = keras.Variable(model.latent_batch(restarts, seed), name="inversion_latent")
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build([latent])

    @tf.function
    def step_once():
        with tf.GradientTape() as tape:
            _, objective = errors(latent)
            total = ops.sum(objective)  # restarts are independent: the sum's gradient is each one's
        optimizer.apply(tape.gradient(total, [latent]), [latent])

    start_pixel, _ = errors(latent)
    start_distance = float(np.sqrt(np.min(ops.convert_to_numpy(start_pixel))))
    for step in range(steps):
        step_once()
        if progress is not None:
            progress(step + 1, steps)
    final_pixel, _ = errors(latent)
    distances = np.sqrt(ops.convert_to_numpy(final_pixel).astype(np.float64))
    best = int(np.argmin(distances))
    best_latent = ops.convert_to_numpy(latent)[best].astype(np.float32)
    return Inversion(
        latent=best_latent,
        image=model.generate(best_latent[None])[0],
        distance=float(distances[best]),
        start_distance=start_distance,
        restart_distances=tuple(float(value) for value in distances),
        steps=steps,
    )


def gan_interpolation(model, latent_a, latent_b, num_frames: int = 10) -> np.ndarray:
    """Frames (F, 28, 28) along the great circle between two (inverted) latents: spherical,
    because a GAN's latents are Gaussian vectors that live near the shell of radius sqrt(D)."""
    _require_family(model, "gan", "a latent walk")
    return model.generate(latent_paths.interpolate(latent_a, latent_b, num_frames, "spherical"))


def pixel_distance(image_a, image_b) -> float:
    """Root-mean-square pixel difference of two images in [0, 1] (the number the page reports)."""
    a, b = np.asarray(image_a, np.float64), np.asarray(image_b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape; received {a.shape} and {b.shape}")
    return float(np.sqrt(np.mean(np.square(a - b))))


def read_digits(images, classifier=None) -> list[tuple[int, float]]:
    """(digit, probability) the project's classifier reads in each 28x28 image in [0, 1].

    The Own digit page uses it to say in words whether a VAE's reconstruction is still the
    digit that was drawn, or became another one (a distance alone cannot say that).

    Raises:
        ClassifierError: when the shipped classifier is missing (a ValueError).
    """
    from aigc_core.quality.evaluation import classifier_features_and_probabilities, default_classifier

    classifier = classifier if classifier is not None else default_classifier()
    _features, probabilities = classifier_features_and_probabilities(np.asarray(images, np.float32), classifier)
    return [(int(row.argmax()), float(row.max())) for row in probabilities]
