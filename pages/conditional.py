"""Conditional models: pick the digit. "Draw me a 7" from both models side by side, then a 10 x N
grid per model, one row per digit."""

import streamlit as st

from aigc_core.studio import MAX_SEED
from ui.conditional_view import (DEFAULT_PER_DIGIT, MAX_PER_DIGIT, conditional_sources, digit_picker, render_model_column,
                                 render_one_digit)
from ui import share
from ui.i18n import _
from ui.router import ensure_router

ensure_router()  # a deep link on a fresh server must still go through app.py

ONE_DIGIT_COUNT = 8

st.title(_("Conditional models"))
st.caption(_("Conditional models (a GAN, a VAE and, once one exists, a diffusion model) are told which digit to draw. Each row asks for one digit; "
             "under each grid, how often the project's classifier sees the digit that was asked for."))

# A shared link (?seed=...&per_digit=...&digit=...) opens the same view; bad values fall back with a notice.
share.restore_int("conditional_seed", "seed", 0, 0, MAX_SEED)
share.restore_int("conditional_per_digit", "per_digit", DEFAULT_PER_DIGIT, 2, MAX_PER_DIGIT)
seed_column, count_column = st.columns([1, 2])
seed = int(seed_column.number_input(_("Seed"), min_value=0, max_value=MAX_SEED, step=1, key="conditional_seed"))
per_digit = int(count_column.slider(_("Samples per digit"), min_value=2, max_value=MAX_PER_DIGIT,
                                    key="conditional_per_digit"))
share.publish_all({"seed": seed, "per_digit": per_digit})

# A conditional diffusion model gets a third column once one exists; GAN and VAE always have theirs.
families = ("gan", "vae") + (("diffusion",) if conditional_sources("diffusion") else ())
st.subheader(_("Draw me a…"))
digit = digit_picker()
for column, family in zip(st.columns(len(families), gap="large"), families):
    with column:
        render_one_digit(family, digit, seed, ONE_DIGIT_COUNT)

st.subheader(_("Every digit"))
for column, family in zip(st.columns(len(families), gap="large"), families):
    with column:
        render_model_column(family, seed, per_digit, narrow=len(families) > 2)
