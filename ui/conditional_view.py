"""What the Conditional page shows: a 10 x N grid per conditional model and the classifier's verdict.

Models come only from `ui.cache.load_model(key)` and are only sampled here. Arrays and
agreement numbers are cached with `st.cache_data`, keyed by the source key and its
checkpoint version, so moving one slider does not resample the other side.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from aigc_core.experiments import augment
from aigc_core.studio import DEFAULT_SAMPLES_PER_DIGIT, Source, conditional_agreement
from ui.cache import load_model, weights_directory
from ui.charts import image_grid_png
from ui import share
from ui.sources_view import one_line, source_text, source_version
from ui.families import family_title
from ui.i18n import _

DEFAULT_PER_DIGIT = 8
MAX_PER_DIGIT = 16
NUM_DIGITS = 10


def conditional_sources(family: str) -> list[Source]:
    """The conditional sources of one family in the app's runs and weights folders (shipped weights first)."""
    return augment.conditional_sources(family, None, weights_directory())  # None: the app's run store


def digit_labels(per_digit: int) -> np.ndarray:
    """0 repeated `per_digit` times, then 1, ..., then 9: one grid row per digit."""
    return np.repeat(np.arange(NUM_DIGITS), int(per_digit))


@st.cache_data(max_entries=32, show_spinner=False)
def _digit_grid(key: str, version: float, seed: int, per_digit: int) -> np.ndarray:
    labels = digit_labels(per_digit)
    return load_model(key).sample(len(labels), seed=seed, labels=labels)


def digit_grid(key: str, seed: int, per_digit: int) -> np.ndarray:
    """(10 * per_digit, 28, 28) images in [0, 1], row by row: digit 0 first."""
    return _digit_grid(key, source_version(key), int(seed), int(per_digit))


@st.cache_data(max_entries=32, show_spinner=False)  # the spinner's words are chosen per session, in `agreement`
def _agreement(key: str, version: float, seed: int, samples_per_digit: int) -> dict:
    return conditional_agreement(load_model(key), samples_per_digit, seed)


def agreement(key: str, seed: int, samples_per_digit: int = DEFAULT_SAMPLES_PER_DIGIT) -> dict:
    """`aigc_core.quality.evaluation.conditional_agreement` of a source, cached."""
    with st.spinner(_("Asking the classifier which digits these are…")):  # shown only past half a second
        return _agreement(key, source_version(key), int(seed), int(samples_per_digit))


# Digits per row of the agreement table: eleven columns overflow a half-page column below about
# 1,500 px, six fit one even on a phone.
DIGITS_PER_TABLE_ROW = 5


def agreement_table(result: dict, vertical: bool = False) -> str:
    """A Markdown table of the share of each digit the classifier agrees with, five digits a row.

    Rows alternate: the digits, then their shares, so the table stays six columns wide. With three
    models side by side a column is too narrow even for six (about 230 px at 1280 px), so
    `vertical` gives one row per digit, two columns wide.
    """
    shares = result["digit_agreement"]
    lines = []
    digit_header, agrees_header = _("digit"), _("agrees")
    if vertical:
        lines = [f"| {digit_header} | {agrees_header} |", "|---|---|"]
        lines += [f"| {digit} | " + ("–" if share is None else f"{share:.0%}") + " |" for digit, share in enumerate(shares)]
        return "\n".join(lines)
    for first in range(0, len(shares), DIGITS_PER_TABLE_ROW):
        digits = range(first, min(first + DIGITS_PER_TABLE_ROW, len(shares)))
        padding = " |" * (DIGITS_PER_TABLE_ROW - len(digits))
        lines.append(f"| {digit_header} | " + " | ".join(str(digit) for digit in digits) + " |" + padding)
        if first == 0:
            lines.append("|---|" + "---|" * DIGITS_PER_TABLE_ROW)
        lines.append(f"| {agrees_header} | " + " | ".join("–" if shares[digit] is None else f"{shares[digit]:.0%}"
                                                for digit in digits) + " |" + padding)
    return "\n".join(lines)


def render_agreement(key: str, seed: int, vertical: bool = False) -> None:
    """The classifier's agreement per digit under a grid, or why it cannot be measured."""
    try:
        result = agreement(key, seed)
    except ValueError as error:  # ClassifierError (no shipped classifier) is a ValueError
        st.caption(_("Per-digit agreement unavailable: {reason}").format(reason=one_line(error)))
        return
    st.markdown(agreement_table(result, vertical))
    st.caption(_("The project's classifier agrees with the digit asked for on {mean:.0%} of {count} samples per digit "
                 "(seed {seed}); worst digit {worst:.0%}.").format(
        mean=result["mean_digit_agreement"], count=result["samples_per_digit"], seed=result["seed"],
        worst=result["min_digit_agreement"]))


def render_model_column(family: str, seed: int, per_digit: int, narrow: bool = False) -> None:
    """One side of the page: pick a conditional model of `family`, show its 10 x N grid and agreement."""
    name = family_title(family)
    st.markdown("#### " + _("Conditional {model}").format(model=name))
    sources = conditional_sources(family)
    if not sources:
        st.info(_("No conditional {model} yet: on the **Train** page choose {model} with the preset "
                  "**conditional**.").format(model=name))
        return
    by_key = {source.key: source for source in sources}
    share.restore_choice(f"conditional_{family}", family, list(by_key), sources[0].key)
    key = st.selectbox(_("Conditional {model}").format(model=name), list(by_key), key=f"conditional_{family}",
                       format_func=lambda source_key: source_text(by_key[source_key]))
    share.publish(family, key)
    try:
        images = digit_grid(key, seed, per_digit)
    except ValueError as error:
        st.error(_("Could not load {key}: {reason}").format(key=key, reason=one_line(error)))
        return
    st.image(image_grid_png(images, columns=per_digit, scale=3), width="stretch", output_format="PNG",
             caption=_("one row per digit, 0 (top) to 9 (bottom): {count} samples each, seed {seed}").format(
                 count=per_digit, seed=seed))
    render_agreement(key, seed, vertical=narrow)


@st.cache_data(max_entries=32, show_spinner=False)
def _one_digit(key: str, version: float, seed: int, digit: int, count: int) -> np.ndarray:
    return load_model(key).sample(count, seed=seed, labels=np.full(count, digit))


def one_digit_samples(key: str, seed: int, digit: int, count: int) -> np.ndarray:
    """`count` images of one digit (count, 28, 28) in [0, 1] from a conditional source."""
    return _one_digit(key, source_version(key), int(seed), int(digit), int(count))


def render_one_digit(family: str, digit: int, seed: int, count: int) -> None:
    """One model's answer to "draw me a <digit>": `count` samples in one row, or why there are none."""
    name = family_title(family)
    keys = [source.key for source in conditional_sources(family)]
    if not keys:
        st.caption(_("No conditional {model} yet.").format(model=name))
        return
    # The model picked in this family's grid below (drawn later in the script): the link's, else the first.
    share.restore_choice(f"conditional_{family}", family, keys, keys[0])
    key = st.session_state[f"conditional_{family}"]
    try:
        images = one_digit_samples(key, seed, digit, count)
    except ValueError as error:
        st.error(_("Could not load {key}: {reason}").format(key=key, reason=one_line(error)))
        return
    st.image(image_grid_png(images, columns=count, scale=4), width="stretch", output_format="PNG",
             caption=_("Conditional {model}: {count} times the digit {digit}, seed {seed}").format(
                 model=name, count=count, digit=digit, seed=seed))


# The digit picker is the page's main control: big enough to hit on a phone and to read from the
# back of a room. On a phone the agreement tables' cells are padded less, so six columns fit.
PAGE_CSS = """
<style>
.st-key-conditional_digit button { min-width: 3.2rem; min-height: 3.2rem; }
[data-testid="stMain"] .st-key-conditional_digit button p { font-size: 1.8rem !important; font-weight: 600; }
@media (max-width: 640px) {  /* ten buttons in one row of a phone */
  .st-key-conditional_digit button { min-width: 2rem; min-height: 2.8rem; padding: 0 0.4rem; }
  [data-testid="stMain"] .st-key-conditional_digit button p { font-size: 1.4rem !important; }
  [data-testid="stMain"] table :is(td, th) { padding: 0.3rem 0.3rem; }
}
</style>
"""
DEFAULT_DIGIT = 7


def digit_picker() -> int:
    """Ten large buttons, 0 to 9, one always chosen (7 at first, or the link's `?digit=`); returns the
    digit and keeps it in the link."""
    st.markdown(PAGE_CSS, unsafe_allow_html=True)
    share.restore_int("conditional_digit", "digit", DEFAULT_DIGIT, 0, NUM_DIGITS - 1)
    digit = st.segmented_control(_("Digit to draw"), list(range(NUM_DIGITS)), required=True,
                                 key="conditional_digit", label_visibility="collapsed")
    digit = DEFAULT_DIGIT if digit is None else int(digit)
    share.publish("digit", digit)
    return digit

