"""The model sources and runs as the pages list them: labels, defaults, datasets, measured quality.

Shared by every page that lets a visitor pick a model (Compare, Latent space, Conditional, Your
own digit) or a run (Runs, Compare's timeline): one wording of a source, one fallback when a
remembered choice is gone, one table of FID and Inception Score beside its reference rows.
"""

from __future__ import annotations

import re

import streamlit as st

from aigc_core import studio
from aigc_core.studio import DATASET_TITLES, REAL_FLOOR, UNTRAINED_CEILING, Source
from ui.cache import weights_directory
from ui.families import family_title
from ui.i18n import N_, _, error_text

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
FAMILY_NAMES = {"gan": "GAN", "vae": "VAE", "diffusion": "Diffusion"}  # the families the pages know
# A run's state as `aigc_core.runs.store` writes it, marked here to be shown in the session's language.
RUN_STATES = {"queued": N_("queued"), "running": N_("running"), "paused": N_("paused"), "finished": N_("finished"),
              "stopped": N_("stopped"), "failed": N_("failed"), "interrupted": N_("interrupted")}
RUN_LABEL = re.compile(r"run (?P<run_id>\S+) \((?P<state>\w+)\)(?P<rest>.*)")


def one_line(error: Exception) -> str:
    """The first line of an error's message, in the session's language: what the page shows instead of a traceback."""
    return error_text(error)


def state_text(state) -> str:
    """A run's state in the session's language (an unknown one as written)."""
    return _(RUN_STATES[state]) if state in RUN_STATES else str(state)


def source_text(source: Source) -> str:
    """A source as every model picker shows it ("GAN · shipped: NAME"), in the session's language.

    A run's label is `aigc_core.sources`' "run ID (state)"; its state is translated, anything the
    library appends after it is kept as written.
    """
    name = family_title(source.family)
    kind, identifier = source.key.split(":", 1)
    if kind == "weights":
        return _("{model} · shipped: {name}").format(model=name, name=identifier)
    if source.run_name is not None:  # named by aigc_core.runs.run_names; what follows "name (state)" is kept
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
        return studio.resolve_source(key, weights_directory())
    except ValueError:
        return None


def source_dataset(key: str) -> str:
    """The dataset the model behind a key was trained on (its run's config.json or its weights' JSON).

    Raises:
        ValueError: when those files name a dataset this version does not know.
    """
    source = find_source(key)
    return studio.source_dataset(source) if source else "mnist"


def dataset_title(dataset: str) -> str:
    return DATASET_TITLES.get(dataset, str(dataset))


def dataset_mismatch(left: Source, right: Source) -> str | None:
    """One line when two models were trained on different datasets, else None.

    Each dataset is scored by its own classifier against its own test images, so FIDs of a
    digit model and a clothes model measure different things and cannot be ranked.
    """
    try:
        datasets = studio.source_dataset(left), studio.source_dataset(right)
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
    metrics = studio.source_evaluation(source)
    table = evaluation_table(metrics) if metrics is not None else None
    if table is None:
        st.caption(_("Sample quality (FID, Inception Score): not evaluated yet."))
        return
    st.table(table)
    if isinstance(metrics.get("num_samples"), int):
        dataset = dataset_title(metrics.get("dataset", "mnist"))
        st.caption(_("Measured on {count:,} samples with the project's {dataset} classifier: "
                     "comparable with these columns, not with published FIDs.").format(
            count=metrics["num_samples"], dataset=dataset))


def run_label(run) -> str:
    """A run as a picker lists it: its name and state; a renamed run also says what it trained."""
    config, status, named = run.config(), run.status(), studio.read_run_name(run)
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
