"""What the Conditional page shows: a 10 x N grid per conditional model and the classifier's verdict.

Models come only from `ui.cache.load_model(key)` and are only sampled here. Arrays and
agreement numbers are cached with `st.cache_data`, keyed by the source key and its
checkpoint version, so moving one slider does not resample the other side.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from aigc_core import augment
from aigc_core.evaluation import DEFAULT_SAMPLES_PER_DIGIT, conditional_agreement
from aigc_core.runs import RunStore
from aigc_core.sources import Source
from ui.cache import load_model, weights_directory
from ui.charts import image_grid_png
from ui.gallery import FAMILY_NAMES, one_line, source_label, source_version

DEFAULT_PER_DIGIT = 8
MAX_PER_DIGIT = 16
NUM_DIGITS = 10


def conditional_sources(family: str) -> list[Source]:
    """The conditional sources of one family in the app's runs and weights folders (shipped weights first)."""
    return augment.conditional_sources(family, RunStore(), weights_directory())


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


@st.cache_data(max_entries=32, show_spinner="Asking the classifier which digits these are…")
def _agreement(key: str, version: float, seed: int, samples_per_digit: int) -> dict:
    return conditional_agreement(load_model(key), samples_per_digit, seed)


def agreement(key: str, seed: int, samples_per_digit: int = DEFAULT_SAMPLES_PER_DIGIT) -> dict:
    """`aigc_core.evaluation.conditional_agreement` of a source, cached."""
    return _agreement(key, source_version(key), int(seed), int(samples_per_digit))


def agreement_table(result: dict) -> str:
    """A two-row Markdown table: the digits, and the share of each the classifier agrees with."""
    shares = result["digit_agreement"]
    header = "| digit | " + " | ".join(str(digit) for digit in range(len(shares))) + " |"
    rule = "|---|" + "---|" * len(shares)
    row = "| agrees | " + " | ".join("–" if share is None else f"{share:.0%}" for share in shares) + " |"
    return "\n".join((header, rule, row))


def render_agreement(key: str, seed: int) -> None:
    """The classifier's agreement per digit under a grid, or why it cannot be measured."""
    try:
        result = agreement(key, seed)
    except ValueError as error:  # ClassifierError (no shipped classifier) is a ValueError
        st.caption(f"Per-digit agreement unavailable: {one_line(error)}")
        return
    st.markdown(agreement_table(result))
    st.caption(f"The project's classifier agrees with the digit asked for on {result['mean_digit_agreement']:.0%} "
               f"of {result['samples_per_digit']} samples per digit (seed {result['seed']}); worst digit "
               f"{result['min_digit_agreement']:.0%}.")


def render_model_column(family: str, seed: int, per_digit: int) -> None:
    """One side of the page: pick a conditional model of `family`, show its 10 x N grid and agreement."""
    name = FAMILY_NAMES.get(family, family)
    st.markdown(f"#### Conditional {name}")
    sources = conditional_sources(family)
    if not sources:
        st.info(f"No conditional {name} yet: on the **Train** page choose {name} with the preset "
                "**conditional**.")
        return
    by_key = {source.key: source for source in sources}
    key = st.selectbox(f"Conditional {name}", list(by_key), key=f"conditional_{family}",
                       format_func=lambda source_key: source_label(by_key[source_key]))
    try:
        images = digit_grid(key, seed, per_digit)
    except ValueError as error:
        st.error(f"Could not load {key}: {one_line(error)}")
        return
    st.image(image_grid_png(images, columns=per_digit, scale=3), width="stretch", output_format="PNG",
             caption=f"one row per digit, 0 (top) to 9 (bottom): {per_digit} samples each, seed {seed}")
    render_agreement(key, seed)
