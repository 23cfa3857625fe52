"""What the Compare page shows of one model: its samples, an interpolation, size, cost and quality.

Models come only from `ui.cache.load_model(key)` and are only sampled here, never trained;
samples are cached by source key and checkpoint version, so a new checkpoint is picked up by itself.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from aigc_core import studio
from aigc_core.quality.diagnosis import diagnose
from aigc_core.studio import Source, training_facts
from ui.cache import load_model
from ui.charts import image_grid_png, loss_figure, projector_fonts
from ui.diagnosis_view import annotate_figure, render_finding_cards
from ui.families import family_title
from ui.i18n import _
from ui.latent_view import HELD_DIGIT, held_digit_note, interpolation, network_text
from ui.sources_view import FAMILY_NAMES, dataset_title, one_line, render_evaluation, source_version

NUM_SAMPLES = 64
GRID_COLUMNS = 8


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


@st.cache_data(max_entries=64, show_spinner=False)
def _samples(key: str, version: float, seed: int, num_samples: int) -> np.ndarray:
    return load_model(key).sample(num_samples, seed=seed)


def sample_images(key: str, seed: int, num_samples: int = NUM_SAMPLES) -> np.ndarray:
    """`num_samples` images of a source for a seed, (N, 28, 28) in [0, 1]."""
    return _samples(key, source_version(key), int(seed), num_samples)


def render_model_card(source: Source, seed: int, side: str) -> None:
    """One side of the Compare page: samples, an interpolation, size, cost, quality, losses."""
    name = source.key.split(":", 1)[1]
    kind = _("run") if source.key.startswith("run:") else _("shipped")
    try:
        dataset = studio.source_dataset(source)
    except ValueError:
        dataset = "?"
    on_dataset = "" if dataset == "mnist" else f" · {dataset_title(dataset)}"
    st.markdown(f"#### {family_title(source.family)} · {kind} `{name}`{on_dataset}")
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
