"""What the Latent space page shows: walks between seeds, the latent map, reconstructions, KL bars.

Models come only from `ui.cache.load_model(key)` and are only read here (sampled, encoded,
decoded), never trained. Arrays are cached with `st.cache_data` keyed by the source key and
its checkpoint version, so a rerun caused by another widget redraws without recomputing and
a new checkpoint is picked up by itself.
"""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from aigc_core.experiments import latent
from aigc_core import studio
from aigc_core.studio import CLASS_NAMES, DatasetError
from ui.cache import load_model
from ui.charts import image_grid_png, kl_figure, style_figure
from ui.i18n import N_, _
from ui.sources_view import dataset_title, one_line, source_dataset, source_version

NUM_FRAMES = 10
MANIFOLD_SIDE = 15
SCATTER_LIMIT = 2000
MAX_DIGITS = 20
TEST_SET_SIZE = 10_000
# Tableau 10: ten hues that stay apart on a white and on a near-black background.
DIGIT_COLOURS = ("#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
                 "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC")
INTERPOLATION_NAMES = {"linear": N_("linear"), "spherical": N_("spherical")}
# The sub-networks `parameter_counts()` names (a WGAN-GP's adversary is its critic).
NETWORK_NAMES = {"generator": N_("generator"), "discriminator": N_("discriminator"), "critic": N_("critic"),
                 "encoder": N_("encoder"), "decoder": N_("decoder"), "denoiser": N_("denoising network")}
# The digit a conditional model draws along a seed-to-seed walk where no one picks it (Compare).
HELD_DIGIT = 7


@st.cache_data(max_entries=64, show_spinner=False)
def _interpolation(key: str, version: float, seed_a: int, seed_b: int, num_frames: int, method: str,
                   digit: int | None):
    return latent.seed_interpolation(load_model(key), seed_a, seed_b, num_frames, method, digit=digit)


def interpolation(key: str, seed_a: int, seed_b: int, method: str = "spherical", num_frames: int = NUM_FRAMES,
                  digit: int | None = None):
    """(latent path (F, D), images (F, 28, 28)) between the latent vectors of two seeds; a
    conditional model draws every frame as `digit`."""
    return _interpolation(key, source_version(key), int(seed_a), int(seed_b), num_frames, method,
                          None if digit is None else int(digit))


@st.cache_data(max_entries=32, show_spinner=False)
def _label_interpolation(key: str, version: float, seed: int, digit_a: int, digit_b: int, num_frames: int):
    return latent.label_interpolation(load_model(key), seed, digit_a, digit_b, num_frames)


def label_interpolation(key: str, seed: int, digit_a: int, digit_b: int, num_frames: int = NUM_FRAMES):
    """(label codes (F, 10), images (F, 28, 28)): a conditional model's label blended from one digit to another."""
    return _label_interpolation(key, source_version(key), int(seed), int(digit_a), int(digit_b), num_frames)


def held_digit_note(digit: int | None) -> str:
    """A caption's ", digit 7 held fixed" for a conditional model's walk; "" for an unconditional one."""
    return "" if digit is None else _(", digit {digit} held fixed").format(digit=digit)


@st.cache_data(max_entries=16, show_spinner=False)  # the spinner's words are chosen per session, below
def _manifold(key: str, version: float, num_per_side: int) -> np.ndarray:
    return latent.manifold_images(load_model(key), num_per_side)


def manifold(key: str, num_per_side: int = MANIFOLD_SIDE) -> np.ndarray:
    """Decoded `manifold_grid` images of a 2-D VAE, (n*n, 28, 28)."""
    with st.spinner(_("Decoding the latent plane…")):
        return _manifold(key, source_version(key), num_per_side)


@st.cache_data(max_entries=16, show_spinner=False)  # the spinner's words are chosen per session, below
def _encoded_test_set(key: str, version: float, limit: int, dataset: str):
    return latent.encode_test_set(load_model(key), limit=limit, dataset=dataset)


def encoded_test_set(key: str, limit: int = SCATTER_LIMIT):
    """(points (N, 2), labels (N,), axes description) of the first `limit` test images of the
    dataset the model was trained on.

    Raises:
        DatasetError: when that dataset cannot be loaded.
        ValueError: when the model's files name an unknown dataset.
    """
    dataset = source_dataset(key)
    with st.spinner(_("Encoding the test set…")):
        return _encoded_test_set(key, source_version(key), limit, dataset)


@st.cache_data(max_entries=4, show_spinner=False)
def load_test_digits(indices: tuple[int, ...], dataset: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """A dataset's test images (as [0, 1] floats) and labels at `indices`."""
    test = studio.load_test_images(dataset)
    chosen = np.asarray(indices, dtype=np.int64)
    if chosen.size and chosen.max() >= len(test.images):  # a fetched data file may hold fewer than 10,000
        raise ValueError(f"Expected test-set indices below {len(test.images)}. Received: {int(chosen.max())}")
    return test.images[chosen].astype(np.float32) / 255.0, test.labels[chosen]


@st.cache_data(max_entries=32, show_spinner=False)
def _reconstructions(key: str, version: float, indices: tuple[int, ...], dataset: str) -> np.ndarray:
    model, (images, labels) = load_model(key), load_test_digits(indices, dataset)
    # A conditional VAE encodes and decodes each digit with its own label.
    return model.reconstruct(images, labels) if model.num_classes else model.reconstruct(images)


def reconstructions(key: str, indices: tuple[int, ...]) -> np.ndarray:
    return _reconstructions(key, source_version(key), tuple(indices), source_dataset(key))


@st.cache_data(show_spinner=False)
def _first_index_of_each_class(dataset: str) -> tuple[int, ...]:
    return tuple(latent.first_index_of_each_label(studio.load_test_images(dataset, limit=500).labels))


def default_digit_indices(key: str | None = None) -> tuple[int, ...]:
    """The first test image of each class 0-9 in the dataset of the model behind `key` (MNIST
    without one): a reconstruction row that shows every class.

    Raises:
        DatasetError: when that dataset cannot be loaded.
        ValueError: when the model's files name an unknown dataset.
    """
    return _first_index_of_each_class(source_dataset(key) if key else "mnist")


def latent_paths(key: str, seed_a: int, seed_b: int, num_frames: int = NUM_FRAMES) -> dict[str, np.ndarray]:
    """Both interpolation paths between two seeds' latent vectors (no images: cheap)."""
    model = load_model(key)
    start, end = model.latent_batch(1, int(seed_a))[0], model.latent_batch(1, int(seed_b))[0]
    return {method: latent.interpolate(start, end, num_frames, method) for method in latent.INTERPOLATION_METHODS}


def parse_indices(text: str, count: int, max_items: int = MAX_DIGITS) -> tuple[int, ...]:
    """Test-set indices from text like "3, 2, 1 18": whole numbers in [0, count).

    Raises:
        ValueError: with one line naming the first bad entry.
    """
    parts = [part for part in str(text).replace(",", " ").split() if part]
    if not parts:
        raise ValueError(_("type one or more test-set indices between 0 and {last}, e.g. 3, 2, 1").format(
            last=count - 1))
    if len(parts) > max_items:
        raise ValueError(_("at most {limit} digits at once; received {count}").format(limit=max_items,
                                                                                      count=len(parts)))
    indices = []
    for part in parts:
        if not part.isdigit() or int(part) >= count:
            raise ValueError(_("indices must be whole numbers between 0 and {last}; received {entry}").format(
                last=count - 1, entry=repr(part[:20])))
        indices.append(int(part))
    return tuple(indices)


def latent_scatter_figure(points: np.ndarray, labels: np.ndarray, axes: str,
                          manifold_extent: float | None = None, dataset: str = "mnist") -> go.Figure:
    """Encoded test images as points, one colour (and one legend entry) per class of `dataset`.

    `manifold_extent` draws the square the manifold picture decodes, so the two can be read
    together: a class's colour region here is where that class appears in the picture.
    """
    names = CLASS_NAMES.get(dataset, CLASS_NAMES["mnist"])
    kind = _("digit") if dataset == "mnist" else _("class")
    figure = go.Figure()
    if manifold_extent:
        figure.add_shape(type="rect", x0=-manifold_extent, x1=manifold_extent, y0=-manifold_extent,
                         y1=manifold_extent, line={"color": "gray", "width": 2, "dash": "dash"}, layer="below")
    for digit in range(10):
        chosen = labels == digit
        figure.add_trace(go.Scatter(
            x=points[chosen, 0], y=points[chosen, 1], mode="markers", name=names[digit],
            marker={"size": 7, "color": DIGIT_COLOURS[digit], "opacity": 0.8},
            hovertemplate=f"{kind} {names[digit]}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
        ))
    two_d = axes == "z1, z2"
    figure.update_xaxes(title_text="z1" if two_d else _("component 1"))
    figure.update_yaxes(title_text="z2" if two_d else _("component 2"), scaleanchor="x", scaleratio=1)
    figure.update_layout(legend={"title": {"text": kind}, "itemsizing": "constant"})
    return style_figure(figure, 600)


def method_text(method: str) -> str:
    """An interpolation method's name in the session's language."""
    return _(INTERPOLATION_NAMES[method]) if method in INTERPOLATION_NAMES else method


def network_text(name: str) -> str:
    """A sub-network's name (generator, encoder...) in the session's language."""
    return _(NETWORK_NAMES[name]) if name in NETWORK_NAMES else name


def axes_text(axes: str) -> str:
    """`aigc_core.experiments.latent`'s description of a scatter's axes, in the session's language."""
    if axes == "z1 (1-D latent)":
        return _("z1 (1-D latent)")
    match = re.fullmatch(r"first two principal components \((?P<share>\d+%) of the variance\)", axes)
    if match:
        return _("first two principal components ({share} of the variance)").format(share=match["share"])
    return axes


def norm_figure(paths: dict[str, np.ndarray]) -> go.Figure:
    """Length of each latent vector along interpolation paths, against the typical length.

    A standard-normal vector in D dimensions has length close to sqrt(D); frames far below
    it come from a region the generator hardly saw in training.
    """
    colours = {"linear": "#E69F00", "spherical": "#0072B2"}
    figure = go.Figure()
    dimension = None
    for method, path in paths.items():
        dimension = path.shape[1]
        figure.add_trace(go.Scatter(
            x=list(range(len(path))), y=np.linalg.norm(path, axis=1), name=method_text(method), mode="lines+markers",
            line={"width": 3, "color": colours.get(method)}, marker={"size": 9},
        ))
    if dimension:
        figure.add_hline(y=float(np.sqrt(dimension)), line={"dash": "dot", "color": "gray", "width": 2},
                         annotation_text=_("typical length √{dimension}").format(dimension=dimension),
                         annotation_position="bottom right")
    figure.update_xaxes(title_text=_("frame"), dtick=1)
    figure.update_yaxes(title_text="|z|", rangemode="tozero")
    figure.update_layout(legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
    return style_figure(figure, 340)


def render_latent_map(key: str, model) -> None:
    """A VAE's latent space: the decoded 2-D plane beside the encoded test set, or (more than
    two dimensions) the test set projected onto its two main directions, and why."""
    if model.latent_dim == 2:
        manifold_column, scatter_column = st.columns(2, gap="large")
        extent = latent.manifold_extent()
        manifold_column.image(
            image_grid_png(manifold(key), columns=MANIFOLD_SIDE, scale=2), width="stretch", output_format="PNG",
            caption=_("The decoder over a {side} × {side} grid of the latent plane (z1 left to right, z2 bottom "
                      "to top, ±{extent:.2f}: the 5%–95% normal quantiles)").format(side=MANIFOLD_SIDE, extent=extent))
    else:
        st.info(_("This VAE has a {dimensions}-D latent space: a manifold picture needs a 2-D one "
                  "(pick vae-map, or train a VAE with the latent dimension set to 2), so the scatter shows the two "
                  "directions along which the codes vary most.").format(dimensions=model.latent_dim))
        scatter_column, extent = st.container(), None
    try:
        dataset = source_dataset(key)
        points, labels, axes = encoded_test_set(key)
    except (ValueError, DatasetError) as error:
        scatter_column.error(_("Could not load the test set: {reason}").format(reason=one_line(error)))
        return
    scatter_column.plotly_chart(latent_scatter_figure(points, labels, axes, extent, dataset), key="latent_scatter")
    caption = _("{count:,} {dataset} test images at their posterior means; axes: {axes}.").format(
        count=len(points), dataset=dataset_title(dataset), axes=axes_text(axes))
    if extent:
        caption += " " + _("The dashed square is the area the manifold picture decodes.")
    scatter_column.caption(caption)


def render_reconstructions(key: str, indices_text: str) -> None:
    """Chosen test digits above their reconstructions (encode to the posterior mean, decode)."""
    try:
        indices = parse_indices(indices_text, TEST_SET_SIZE)
        dataset = source_dataset(key)
        originals, labels = load_test_digits(indices, dataset)
        rebuilt = reconstructions(key, indices)
    except (ValueError, DatasetError) as error:
        st.error(one_line(error))
        return
    names = CLASS_NAMES.get(dataset, CLASS_NAMES["mnist"])
    st.image(image_grid_png(originals, columns=len(indices), scale=4), width="stretch", output_format="PNG",
             caption=(_("originals: digits {digits}") if dataset == "mnist" else _("originals: {classes}")).format(
                 digits=" ".join(names[label] for label in labels), classes=", ".join(names[label] for label in labels)))
    st.image(image_grid_png(rebuilt, columns=len(indices), scale=4), width="stretch", output_format="PNG",
             caption=_("reconstructions: each image encoded to its posterior mean, then decoded"))


@st.cache_data(max_entries=16, show_spinner=False)  # the spinner's words are chosen per session, below
def _kl_per_dimension(key: str, version: float, dataset: str) -> np.ndarray:
    return load_model(key).kl_per_dimension_on(studio.kl_test_images(dataset))


def render_kl_bars(key: str, model) -> None:
    """A VAE's KL term per latent dimension on a fixed test batch: collapsed dimensions show as grey bars."""
    if not hasattr(model, "kl_per_dimension_on"):
        return
    st.subheader(_("KL per latent dimension"))
    try:
        dataset = source_dataset(key)
        with st.spinner(_("Measuring the KL of each latent dimension…")):
            values = _kl_per_dimension(key, source_version(key), dataset)
    except (ValueError, DatasetError) as error:
        st.error(_("Could not load the test set: {reason}").format(reason=one_line(error)))
        return
    st.plotly_chart(kl_figure(values), key="latent_kl")
    st.caption(_("KL(q(z|x) ‖ N(0, I)) of each dimension, averaged over the first {count} {dataset} test images "
                 "(total {total:.2f} nats). A grey bar near 0 is a collapsed dimension: the encoder gives it the same "
                 "value for every image, so it carries nothing; a larger β pushes more bars there.").format(
        count=studio.kl_image_count(), dataset=dataset_title(dataset), total=float(values.sum())))


def render_interpolation(key: str, seed_a: int, seed_b: int, method: str, digit: int | None = None) -> None:
    """Frames between two seeds' latent vectors (a conditional model holds `digit`), and how long
    the vectors along both paths are."""
    frames = interpolation(key, seed_a, seed_b, method, digit=digit)[1]
    st.image(image_grid_png(frames, columns=len(frames), scale=4), width="stretch", output_format="PNG",
             caption=_("{count} frames, {method} interpolation from seed {seed_a} to seed {seed_b}").format(
                 count=len(frames), method=method_text(method), seed_a=seed_a, seed_b=seed_b)
             + held_digit_note(digit))
    st.caption(_("Why spherical: a Gaussian latent vector in many dimensions almost always has a length close to "
                 "√(latent dimensions), and a great-circle path keeps every frame at that length, while a straight "
                 "line dips towards the centre, into short vectors the generator never saw in training."))
    st.plotly_chart(norm_figure(latent_paths(key, seed_a, seed_b)), key="latent_norms")


def render_label_interpolation(key: str, seed: int, digit_a: int, digit_b: int) -> None:
    """Frames of a conditional model's label blending from one digit to another, z held still."""
    frames = label_interpolation(key, seed, digit_a, digit_b)[1]
    st.image(image_grid_png(frames, columns=len(frames), scale=4), width="stretch", output_format="PNG",
             caption=_("{count} frames, label interpolation from digit {digit_a} to digit {digit_b}, "
                       "z of seed {seed} held still").format(count=len(frames), digit_a=digit_a, digit_b=digit_b,
                                                             seed=seed))
    st.caption(_("The model was only ever shown whole labels (one digit at a time); the middle frames ask it for a "
                 "blend of two, in the same handwriting, which shows how it moves between the digits it learned."))
