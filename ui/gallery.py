"""What the Compare and Latent pages show: cached samples and paths, model facts, figures.

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

from aigc_core import latent
from aigc_core.data import CLASS_NAMES, DATASET_TITLES
from aigc_core.diagnosis import diagnose
from aigc_core.evaluation import REAL_FLOOR, UNTRAINED_CEILING, dataset_of_weights
from aigc_core.run_names import read_run_name
from aigc_core.runs import Run, RunStore, read_json
from aigc_core.sources import Source, resolve_source
from ui.cache import load_model, weights_directory
from ui.charts import FONT_SIZE, GRID_COLOUR, image_grid_png, kl_figure, loss_figure
from ui.diagnosis_view import annotate_figure, render_finding_cards
from ui.i18n import N_, _
from ui.share import figure_scale

NUM_SAMPLES = 64
GRID_COLUMNS = 8
NUM_FRAMES = 10
MANIFOLD_SIDE = 15
SCATTER_LIMIT = 2000
MAX_DIGITS = 20
TEST_SET_SIZE = 10_000
# Tableau 10: ten hues that stay apart on a white and on a near-black background.
DIGIT_COLOURS = ("#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
                 "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC")
# Rows of the sample-quality table: (key in metrics.json, label, format). Add a row to show a new number.
EVALUATION_ROWS = (
    ("fid", N_("FID (lower is better)"), "{:.1f}"),
    ("inception_score", N_("Inception Score (10 at most)"), "{:.2f}"),
    ("coverage", N_("coverage (higher is better)"), "{:.2f}"),
    ("confident_share", N_("confident samples (p ≥ 0.9)"), "{:.0%}"),
    ("min_class_share", N_("rarest digit's share (10% = even)"), "{:.1%}"),
    ("negative_elbo_nats", N_("−ELBO on the test set (nats)"), "{:.1f}"),
)
# Column names of the reference rows stored with the numbers (metrics.json keeps the library's
# keys). Real data is the best a model can reach on every row (lowest FID, highest Inception
# Score), an untrained generator the worst: "floor" and "ceiling" held only for FID.
REFERENCE_COLUMNS = {REAL_FLOOR: N_("real data (best possible)"),
                     UNTRAINED_CEILING: N_("untrained generator (worst case)")}
FAMILY_NAMES = {"gan": "GAN", "vae": "VAE"}
# A run's state as `aigc_core.runs` writes it, marked here to be shown in the session's language.
RUN_STATES = {"queued": N_("queued"), "running": N_("running"), "paused": N_("paused"), "finished": N_("finished"),
              "stopped": N_("stopped"), "failed": N_("failed"), "interrupted": N_("interrupted")}
RUN_LABEL = re.compile(r"run (?P<run_id>\S+) \((?P<state>\w+)\)(?P<rest>.*)")
INTERPOLATION_NAMES = {"linear": N_("linear"), "spherical": N_("spherical")}
# The sub-networks `parameter_counts()` names (a WGAN-GP's adversary is its critic).
NETWORK_NAMES = {"generator": N_("generator"), "discriminator": N_("discriminator"), "critic": N_("critic"),
                 "encoder": N_("encoder"), "decoder": N_("decoder")}
# The digit a conditional model draws along a seed-to-seed walk where no one picks it (Compare).
HELD_DIGIT = 7


# -- sources --------------------------------------------------------------------------------
def one_line(error: Exception) -> str:
    """The first line of an error's message: what the page shows instead of a traceback."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def state_text(state) -> str:
    """A run's state in the session's language (an unknown one as written)."""
    return _(RUN_STATES[state]) if state in RUN_STATES else str(state)


def source_text(source: Source) -> str:
    """A source as every model picker shows it ("GAN · shipped: NAME"), in the session's language.

    A run's label is `aigc_core.sources`' "run ID (state)"; its state is translated, anything the
    library appends after it is kept as written.
    """
    name = FAMILY_NAMES.get(source.family, source.family)
    kind, identifier = source.key.split(":", 1)
    if kind == "weights":
        return _("{model} · shipped: {name}").format(model=name, name=identifier)
    if source.run_name is not None:  # named by aigc_core.run_names; what follows "name (state)" is kept
        rest = source.label[len(f"{source.run_name.text()} ({source.run_state})"):]
        return _("{model} · {name} ({state})").format(
            model=name, name=source.run_name.text(_), state=state_text(source.run_state)) + rest
    match = RUN_LABEL.fullmatch(source.label)
    if match is None:
        return f"{name} · {source.label}"
    return _("{model} · run {run_id} ({state})").format(
        model=name, run_id=match["run_id"], state=state_text(match["state"])) + match["rest"]


source_label = source_text  # the name the Your own digit page calls it by


def default_index(sources: list[Source], family: str, exclude: int | None = None) -> int:
    """Index of the first source of `family` (shipped weights come first), else a different one."""
    for index, source in enumerate(sources):
        if source.family == family and index != exclude:
            return index
    return 1 if exclude == 0 and len(sources) > 1 else 0


def find_source(key: str) -> Source | None:
    """The source behind a key, or None for an unknown one (looked up alone, not by listing all)."""
    try:
        return resolve_source(key, RunStore(), weights_directory())
    except ValueError:
        return None


def source_dataset(key: str) -> str:
    """The dataset the model behind a key was trained on (its run's config.json or its weights' JSON).

    Raises:
        ValueError: when those files name a dataset this version does not know.
    """
    source = find_source(key)
    return dataset_of_weights(source.weights_path) if source else "mnist"


def dataset_title(dataset: str) -> str:
    return DATASET_TITLES.get(dataset, str(dataset))


def dataset_mismatch(left: Source, right: Source) -> str | None:
    """One line when two models were trained on different datasets, else None.

    Each dataset is scored by its own classifier against its own test images, so FIDs of a
    digit model and a clothes model measure different things and cannot be ranked.
    """
    try:
        datasets = dataset_of_weights(left.weights_path), dataset_of_weights(right.weights_path)
    except ValueError:
        return None  # an unknown dataset: the card's own loading reports what is wrong
    if datasets[0] == datasets[1]:
        return None
    return _("These models were trained on different datasets ({left} on the left, {right} on the right): "
             "their FIDs and Inception Scores are not comparable.").format(
        left=dataset_title(datasets[0]), right=dataset_title(datasets[1]))


def source_version(key: str) -> float:
    """The checkpoint's mtime: part of every cache key below, so a new checkpoint recomputes."""
    source = find_source(key)
    return source.version() if source else 0.0


def source_run(source: Source):
    """The run behind a source: its own run, or the run shipped weights name as `source_run`."""
    store = RunStore()
    if source.key.startswith("run:"):
        run_id = source.key.split(":", 1)[1]
    else:
        run_id = (read_json(source.config_path) or {}).get("source_run")
    if not run_id:
        return None
    try:
        return store.get(run_id)
    except ValueError:
        return None


def training_facts(source: Source) -> dict:
    """Steps, training seconds and loss rows of a source (rows None: no history available).

    A run reports its own status and metrics. Shipped weights carry `steps` and
    `training_seconds` in their JSON; their loss history exists only if the run that made
    them (`source_run`) is in the local run store.
    """
    run = source_run(source)
    if source.key.startswith("run:"):
        status = run.status() if run else {}
        return {"steps": status.get("step"), "seconds": status.get("elapsed_s"),
                "rows": run.metrics() if run else None}
    metadata = read_json(source.config_path) or {}
    history = source.weights_path.with_name(f"{source.key.split(':', 1)[1]}.history.jsonl")
    rows = Run.read_metrics_file(history) if history.exists() else (run.metrics() if run else None)
    return {"steps": metadata.get("steps"), "seconds": metadata.get("training_seconds"), "rows": rows}


def evaluation_path(source: Source):
    """`metrics.json` in a run's folder, or `weights/<name>.metrics.json` beside shipped weights."""
    if source.key.startswith("run:"):
        return source.weights_path.parent / "metrics.json"
    return source.weights_path.with_name(f"{source.key.split(':', 1)[1]}.metrics.json")


def evaluation_table(metrics: dict):
    """Sample-quality numbers as a table: one row per known metric, one column for the model
    and one per reference row stored with it (real data, an untrained generator), because
    these numbers only mean something next to each other. None when nothing is known."""
    import pandas as pd

    reference = metrics.get("reference") if isinstance(metrics.get("reference"), dict) else {}
    columns = {_("this model"): metrics, **{_(REFERENCE_COLUMNS[name]) if name in REFERENCE_COLUMNS else name: row
                                           for name, row in reference.items() if isinstance(row, dict)}}
    rows = {}
    for key, label, pattern in EVALUATION_ROWS:
        value = metrics.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rows[_(label)] = [pattern.format(column[key]) if isinstance(column.get(key), (int, float)) else "–"
                           for column in columns.values()]
    if not rows:
        return None
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(columns))


def render_evaluation(source: Source) -> None:
    """The sample-quality table of a source, or the line saying it was not evaluated yet."""
    metrics = read_json(evaluation_path(source))
    table = evaluation_table(metrics) if isinstance(metrics, dict) else None
    if table is None:
        st.caption(_("Sample quality (FID, Inception Score): not evaluated yet."))
        return
    st.table(table)
    if isinstance(metrics.get("num_samples"), int):
        dataset = dataset_title(metrics.get("dataset", "mnist"))
        st.caption(_("Measured on {count:,} samples with the project's {dataset} classifier: "
                     "comparable with these columns, not with published FIDs.").format(
            count=metrics["num_samples"], dataset=dataset))


# -- formatting -------------------------------------------------------------------------------
def format_count(count: int | None) -> str:
    if count is None:
        return "–"
    if count >= 1_000_000:
        return f"{count / 1e6:.2f} M"
    if count >= 1_000:
        return f"{count / 1e3:.1f} k"
    return str(count)


def format_duration_short(seconds: float | None) -> str:
    """A duration short enough for an `st.metric` tile (longer strings are cut with an ellipsis)."""
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 600:
        return _("{minutes:.1f} min").format(minutes=seconds / 60)
    if seconds < 3600:  # whole minutes: "20.0 分钟" no longer fits a third of a column
        return _("{minutes:.0f} min").format(minutes=seconds / 60)
    return _("{hours:.1f} h").format(hours=seconds / 3600)


# -- cached arrays (keyed by source key + checkpoint version) ----------------------------------
@st.cache_data(max_entries=64, show_spinner=False)
def _samples(key: str, version: float, seed: int, num_samples: int) -> np.ndarray:
    return load_model(key).sample(num_samples, seed=seed)


def sample_images(key: str, seed: int, num_samples: int = NUM_SAMPLES) -> np.ndarray:
    """`num_samples` images of a source for a seed, (N, 28, 28) in [0, 1]."""
    return _samples(key, source_version(key), int(seed), num_samples)


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
    from aigc_core.data import load_images

    test = load_images(dataset, "test")
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
    from aigc_core.data import load_images

    return tuple(latent.first_index_of_each_label(load_images(dataset, "test", limit=500).labels))


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


# -- figures ----------------------------------------------------------------------------------
def _style(figure: go.Figure, height: int) -> go.Figure:
    """The projector look shared with ui.charts: big type, transparent, faint grid."""
    figure.update_layout(
        height=int(height * figure_scale()),
        font={"size": FONT_SIZE},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    figure.update_xaxes(gridcolor=GRID_COLOUR, zeroline=False)
    figure.update_yaxes(gridcolor=GRID_COLOUR, zeroline=False)
    return projector_fonts(figure)


def projector_fonts(figure: go.Figure) -> go.Figure:
    """Give every text element of a figure an explicit large size.

    Streamlit's chart theme (`theme="streamlit"`, which adapts the colours to light and dark)
    replaces the layout's global font size with its own small one; sizes set on the axes,
    legend, title and annotations themselves survive it.
    """
    figure.update_xaxes(tickfont={"size": FONT_SIZE}, title_font={"size": FONT_SIZE + 2})
    figure.update_yaxes(tickfont={"size": FONT_SIZE}, title_font={"size": FONT_SIZE + 2})
    figure.update_layout(legend_font={"size": FONT_SIZE}, legend_title_font={"size": FONT_SIZE},
                         hoverlabel_font={"size": FONT_SIZE}, title_font={"size": FONT_SIZE + 4})
    figure.update_annotations(font_size=FONT_SIZE)
    return figure


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
    return _style(figure, 600)


def method_text(method: str) -> str:
    """An interpolation method's name in the session's language."""
    return _(INTERPOLATION_NAMES[method]) if method in INTERPOLATION_NAMES else method


def network_text(name: str) -> str:
    """A sub-network's name (generator, encoder...) in the session's language."""
    return _(NETWORK_NAMES[name]) if name in NETWORK_NAMES else name


def axes_text(axes: str) -> str:
    """`aigc_core.latent`'s description of a scatter's axes, in the session's language."""
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
    return _style(figure, 340)


# -- page sections ----------------------------------------------------------------------------
def run_label(run) -> str:
    """A run as a picker lists it: its name and state; a renamed run also says what it trained."""
    config, status, named = run.config(), run.status(), read_run_name(run)
    broken = _(" · break it: {preset}").format(preset=config["break_it"]) if config.get("break_it") else ""
    kind = f" · {config.get('model', '?')}-{config.get('preset', '?')}{broken}" if named.custom else ""
    return f"{named.text(_)}{kind} · {state_text(status.get('state', '?'))}"


def keep_choice(key: str, options: list, default=None) -> None:
    """Point a keyed choice widget at a valid option before it is drawn.

    When the options change under a widget (another run picked, a snapshot added), a
    remembered value may no longer exist; it falls back to `default` (the last option).
    """
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[-1] if default is None else default


def render_model_card(source: Source, seed: int, side: str) -> None:
    """One side of the Compare page: samples, an interpolation, size, cost, quality, losses."""
    name = source.key.split(":", 1)[1]
    kind = _("run") if source.key.startswith("run:") else _("shipped")
    try:
        dataset = dataset_of_weights(source.weights_path)
    except ValueError:
        dataset = "?"
    on_dataset = "" if dataset == "mnist" else f" · {dataset_title(dataset)}"
    st.markdown(f"#### {FAMILY_NAMES.get(source.family, source.family)} · {kind} `{name}`{on_dataset}")
    try:
        model = load_model(source.key)
        images = sample_images(source.key, seed)
        digit = HELD_DIGIT if model.num_classes else None
        frames = interpolation(source.key, seed, seed + 1, "spherical", digit=digit)[1]
    except ValueError as error:
        st.error(_("Could not load {key}: {reason}").format(key=source.key, reason=one_line(error)))
        return
    st.image(image_grid_png(images, columns=GRID_COLUMNS, scale=4), width="stretch", output_format="PNG",
             caption=_("{count} samples, seed {seed}").format(count=len(images), seed=seed))
    st.image(image_grid_png(frames, columns=len(frames), scale=3), width="stretch", output_format="PNG",
             caption=_("spherical interpolation from seed {seed} to seed {next_seed}").format(
                 seed=seed, next_seed=seed + 1) + held_digit_note(digit))
    counts, facts = model.parameter_counts(), training_facts(source)
    size_column, time_column, steps_column = st.columns(3)
    size_column.metric(_("parameters"), format_count(sum(counts.values())),
                help=" · ".join(f"{network_text(name)}: {count:,}" for name, count in counts.items()))
    time_column.metric(_("training time"), format_duration_short(facts["seconds"]))
    steps_column.metric(_("steps"), "–" if facts["steps"] is None else f"{facts['steps']:,}")
    st.caption(" · ".join(f"{network_text(name)} {format_count(count)}" for name, count in counts.items())
               + " · " + _("latent dimensions {count}").format(count=model.latent_dim))
    render_evaluation(source)
    if facts["rows"]:
        st.markdown("**" + _("Loss history") + "**")
        findings = diagnose(source.family, facts["rows"]) if source.family in FAMILY_NAMES else []
        st.plotly_chart(annotate_figure(projector_fonts(loss_figure(facts["rows"], source.family)), findings),
                        key=f"compare_loss_{side}")
        render_finding_cards(findings, quiet_message=None)
    else:
        st.caption(_("Loss history: no history shipped with these weights."))


def render_latent_map(key: str, model) -> None:
    """A VAE's latent space: the decoded 2-D plane beside the encoded test set, or (more than
    two dimensions) the test set projected onto its two main directions, and why."""
    from aigc_core.data import DatasetError

    if model.latent_dim == 2:
        manifold_column, scatter_column = st.columns(2, gap="large")
        extent = latent.manifold_extent()
        manifold_column.image(
            image_grid_png(manifold(key), columns=MANIFOLD_SIDE, scale=2), width="stretch", output_format="PNG",
            caption=_("The decoder over a {side} × {side} grid of the latent plane (z1 left to right, z2 bottom "
                      "to top, ±{extent:.2f}: the 5%–95% normal quantiles)").format(side=MANIFOLD_SIDE, extent=extent))
    else:
        st.info(_("This VAE has a {dimensions}-D latent space: a manifold picture needs a 2-D one "
                  "(train vae-fast, or set the latent dimension to 2), so the scatter shows the two "
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
    from aigc_core.data import DatasetError

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
    from aigc_core.training import kl_test_images

    return load_model(key).kl_per_dimension_on(kl_test_images(dataset))


def render_kl_bars(key: str, model) -> None:
    """A VAE's KL term per latent dimension on a fixed test batch: collapsed dimensions show as grey bars."""
    from aigc_core.data import DatasetError
    from aigc_core.training import KL_IMAGES

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
        count=KL_IMAGES, dataset=dataset_title(dataset), total=float(values.sum())))


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
