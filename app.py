"""AIGC Studio: the router. Lists every page once and draws the shared sidebar."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's C++ chatter out of the server log

import streamlit as st

from aigc_core import studio
from ui.i18n import _, restore_language
from ui.lesson_view import render_lesson_panel, restore_lesson
from ui.router import routed
from ui.runtime_fixes import keep_keras_state_between_reruns
from ui.sidebar import render_sidebar
from ui.visitor import accept_admin_token

st.set_page_config(page_title="AIGC Studio", page_icon="🎨", layout="wide")
keep_keras_state_between_reruns()
restore_language()  # page titles below are drawn in the session's language
restore_lesson()

PAGES = [
    st.Page("pages/home.py", title=_("Home"), icon=":material/home:", default=True, url_path="home"),
    st.Page("pages/train.py", title=_("Train"), icon=":material/model_training:", url_path="train"),
    st.Page("pages/compare.py", title=_("Compare"), icon=":material/compare:", url_path="compare"),
    st.Page("pages/twin.py", title=_("Twin race"), icon=":material/sprint:", url_path="twin"),
    st.Page("pages/denoise.py", title=_("Denoising"), icon=":material/blur_on:", url_path="denoise"),
    st.Page("pages/latent.py", title=_("Latent space"), icon=":material/scatter_plot:", url_path="latent"),
    st.Page("pages/conditional.py", title=_("Conditional"), icon=":material/grid_on:", url_path="conditional"),
    st.Page("pages/digit.py", title=_("Your own digit"), icon=":material/draw:", url_path="digit"),
    st.Page("pages/augment.py", title=_("Data augmentation"), icon=":material/add_chart:", url_path="augment"),
    st.Page("pages/runs.py", title=_("Runs"), icon=":material/folder_open:", url_path="runs"),
]


@st.cache_resource(show_spinner=False)
def reconcile_runs_once(runs_root: str) -> int:
    """Once per server process (and runs folder): settle runs a previous server left behind.

    Running runs whose worker is gone are recorded as failed; queued ones get a new worker.
    """
    return studio.settle_after_restart()


try:
    reconcile_runs_once(str(studio.runs_folder()))
except OSError:
    pass  # a read-only runs folder: every reader still reports dead workers; Train says why it cannot start

accept_admin_token()  # `?admin=<token>` on any page: operator rights for this session
page = st.navigation(PAGES)
render_sidebar()
render_lesson_panel()
with routed():
    page.run()
