"""AIGC Studio: the router. Lists every page once and draws the shared sidebar."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's C++ chatter out of the server log

import streamlit as st

from ui.router import routed
from ui.sidebar import render_sidebar

st.set_page_config(page_title="AIGC Studio", page_icon="🎨", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True, url_path="home"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page("pages/latent.py", title="Latent space", icon=":material/scatter_plot:", url_path="latent"),
    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:", url_path="runs"),
]

page = st.navigation(PAGES)
render_sidebar()
with routed():
    page.run()
