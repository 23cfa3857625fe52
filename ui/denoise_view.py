"""The Denoising page's parts: a diffusion model's walk from pure noise to digits, and what fewer steps cost.

Frames and GIFs come from the door (`studio.denoising_timeline`, `studio.denoising_gif`) and are
cached as plain data by source key, checkpoint version, seed and step count, so moving the
slider only picks a frame. The steps-versus-quality measurement takes minutes on a CPU: it runs
only when asked, with a progress bar, and its result is kept in the session.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import streamlit as st

from aigc_core import studio
from ui.cache import load_model, weights_directory
from ui.charts import image_grid_png
from ui.i18n import _
from ui.sources_view import one_line, source_version

TIMELINE_SAMPLES = 16
TIMELINE_COLUMNS = 4
MAX_UI_STEPS = 100  # a slider over more frames than this is no longer a thing a class can follow
# Step counts measured side by side: powers of two up to the largest one chosen.
STEP_COUNT_CHOICES = (1, 2, 4, 8, 16, 32, 64)
DEFAULT_LARGEST_COUNT = 16
# Samples per row for FID and IS: few enough for minutes on a CPU, equal in every row so the rows compare.
EVAL_SAMPLES = 500
QUALITY_KEY = "denoise_quality"
# The GIF's frame caption: numbers only, because the library's bitmap font has no Chinese glyphs.
FRAME_LABEL = "{step} / {steps}"


def step_counts_up_to(largest: int) -> tuple[int, ...]:
    """1, 2, 4, ... up to `largest` (one of STEP_COUNT_CHOICES)."""
    return tuple(count for count in STEP_COUNT_CHOICES if count <= largest)


@st.cache_data(max_entries=16, show_spinner=False)
def _timeline(key: str, version: float, seed: int, steps: int, weights_dir: str) -> np.ndarray:
    return studio.denoising_timeline(key, seed, steps, TIMELINE_SAMPLES, weights_dir=Path(weights_dir))


def timeline_frames(key: str, seed: int, steps: int) -> np.ndarray:
    """Frames (steps + 1, N, 28, 28) in [0, 1] of a diffusion source's walk, pure noise first.

    Raises:
        ValueError: an unknown source, a model that does not denoise, or a bad step count.
    """
    return _timeline(key, source_version(key), int(seed), int(steps), str(weights_directory()))


@st.cache_data(max_entries=8, show_spinner=False)
def _gif(key: str, version: float, seed: int, steps: int, label: str, weights_dir: str) -> bytes:
    return studio.denoising_gif(key, seed, steps, TIMELINE_SAMPLES, label=label, weights_dir=Path(weights_dir))


def timeline_gif(key: str, seed: int, steps: int) -> bytes:
    """The same walk as an animated GIF, its frames captioned in the session's language."""
    return _gif(key, source_version(key), int(seed), int(steps), FRAME_LABEL, str(weights_directory()))


def frame_caption(step: int, steps: int) -> str:
    """What a frame of the walk shows, in plain words."""
    if step == 0:
        return _("Step 0 of {steps}: pure noise, where every drawing starts").format(steps=steps)
    if step == steps:
        return _("Step {step} of {steps}: the finished digits").format(step=step, steps=steps)
    return _("Step {step} of {steps}: noise partly removed").format(step=step, steps=steps)


def render_timeline(key: str, seed: int, steps: int) -> bool:
    """The slider over the walk, the grid at the chosen step, and the GIF with its download.

    Returns whether the walk could be drawn (else one error line stands in its place).
    """
    try:
        frames = timeline_frames(key, seed, steps)
        gif = timeline_gif(key, seed, steps)
    except ValueError as error:
        st.error(_("Could not draw the denoising steps: {reason}").format(reason=one_line(error)))
        return False
    slider_column, gif_column = st.columns(2, gap="large")
    with slider_column:
        walk = (key, int(seed), int(steps))
        if st.session_state.get("denoise_walk") != walk or "denoise_frame" not in st.session_state:
            st.session_state["denoise_walk"] = walk  # a new walk opens on its finished digits
            st.session_state["denoise_frame"] = steps
        step = st.slider(_("Denoising step"), min_value=0, max_value=steps, key="denoise_frame",
                         help=_("Drag from 0 (pure noise) to the last step (the digits) to watch the noise go."))
        with st.container(key="denoise_grid"):
            st.image(image_grid_png(frames[step], columns=TIMELINE_COLUMNS, scale=4), width="stretch",
                     output_format="PNG")
            st.caption(frame_caption(step, steps))
    with gif_column:
        st.image(gif, width="stretch", caption=_("The same {count} samples as an animation").format(
            count=TIMELINE_SAMPLES))
        st.download_button(_("Download the GIF"), gif, file_name=f"denoising-seed{seed}-{steps}steps.gif",
                           mime="image/gif", key="denoise_download", icon=":material/download:")
    return True


@st.cache_data(max_entries=16, show_spinner=False)
def _seconds_per_image_step(key: str, version: float, weights_dir: str) -> float:
    model = load_model(key)
    model.sample(TIMELINE_SAMPLES, seed=0, steps=1)  # the first call builds the sampling function
    started = time.perf_counter()
    model.sample(TIMELINE_SAMPLES, seed=0, steps=2)
    return (time.perf_counter() - started) / (TIMELINE_SAMPLES * 2)


def estimated_seconds(key: str, counts: tuple[int, ...]) -> float:
    """A rough time for the measurement, from one short sampling of the same model on this machine.

    Each row samples 64 images for the timing and EVAL_SAMPLES for FID with its step count.
    """
    per_image_step = _seconds_per_image_step(key, source_version(key), str(weights_directory()))
    return per_image_step * sum(counts) * (64 + EVAL_SAMPLES)


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return _("{seconds:.0f} seconds").format(seconds=max(seconds, 1))
    return _("{minutes:.0f} minutes").format(minutes=seconds / 60)


def measure(key: str, seed: int, counts: tuple[int, ...]) -> list[dict] | None:
    """Run the measurement with a progress bar; None (and one error line) when it fails."""
    bar = st.progress(0.0, text=_("Sampling with {steps} steps…").format(steps=counts[0]))

    def progress(done: int, total: int, row: dict) -> None:
        following = _("Sampling with {steps} steps…").format(steps=counts[done]) if done < total else _("Done.")
        bar.progress(done / total, text=following)

    try:
        rows = studio.steps_versus_quality(key, seed, counts, EVAL_SAMPLES, progress=progress,
                                           weights_dir=weights_directory())
    except (ValueError, OSError) as error:
        bar.empty()
        st.error(_("Could not measure: {reason}").format(reason=one_line(error)))
        return None
    bar.empty()
    return rows


def render_steps_versus_quality(key: str, seed: int, model_loads: bool = True) -> None:
    """Steps versus quality: the button, the estimate, and the grids with their time and FID."""
    st.subheader(_("Fewer steps: faster, but how much worse?"))
    st.markdown(_("The same seed is drawn with 1, 2, 4, … denoising steps. Each row is timed (64 images on this "
                  "machine) and scored with FID and Inception Score on {count} samples against the test digits, so "
                  "you see what a few-step sampler costs in quality.").format(count=EVAL_SAMPLES))
    choice_column, button_column = st.columns([3, 2], vertical_alignment="bottom")
    largest = choice_column.select_slider(_("Largest step count"), options=STEP_COUNT_CHOICES,
                                          value=DEFAULT_LARGEST_COUNT, key="denoise_largest")
    counts = step_counts_up_to(largest)
    if model_loads:
        choice_column.caption(_("Estimated time on this machine: about {time} (measured from a short sampling; "
                                "scoring adds a little).").format(time=format_seconds(estimated_seconds(key, counts))))
    request = (key, source_version(key), int(seed), counts)
    if button_column.button(_("Measure steps versus quality"), key="denoise_measure", icon=":material/speed:",
                            type="primary", width="stretch"):
        rows = measure(key, seed, counts)
        if rows is not None:
            st.session_state[QUALITY_KEY] = {"request": request, "rows": rows}
    kept = st.session_state.get(QUALITY_KEY)
    if not kept or kept["request"] != request:
        st.caption(_("Not measured yet for this model, seed and step counts."))
        return
    render_quality_rows(kept["rows"])


def render_quality_rows(rows: list[dict]) -> None:
    """The grids side by side (four to a row), each with its step count, time and FID."""
    for start in range(0, len(rows), 4):
        for column, row in zip(st.columns(4), rows[start:start + 4]):
            with column:
                st.image(image_grid_png(row["images"][:16], columns=4, scale=2), width="stretch", output_format="PNG")
                st.markdown(_("Steps: **{steps}** · {seconds:.2f} s for 64 images  \nFID {fid:.1f} · IS {score:.2f}").format(
                    steps=row["steps"], seconds=row["seconds_for_64"], fid=row["fid"], score=row["inception_score"]))
    st.caption(_("FID from {count} samples reads higher than from 10,000: compare the rows with each other, not "
                 "with the numbers on Compare.").format(count=EVAL_SAMPLES))
