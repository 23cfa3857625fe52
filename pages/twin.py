"""Twin race: a GAN and a VAE trained on one seed and budget, raced on one clock, on one screen."""

import streamlit as st

from ui.i18n import _
from ui.router import ensure_router
from ui.twin_race_view import render_twin_page

ensure_router()  # a deep link on a fresh server must still go through app.py

st.title(_("Twin race"))
render_twin_page()
