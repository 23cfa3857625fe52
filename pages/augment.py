"""Data augmentation: does a conditional model's output help a classifier that has few real digits?"""

import streamlit as st

from ui.augment_view import RESULT_KEY, check, render_result, run_with_progress, settings_form
from ui.sources_view import one_line
from ui.i18n import _
from ui.router import ensure_router

ensure_router()  # a deep link on a fresh server must still go through app.py

st.title(_("Data augmentation"))
st.caption(_("A small classifier learns from a few real digits per class; then from the same digits plus K images "
             "per class drawn by the conditional GAN and by the CVAE. Does the generated data help? The numbers say."))

with st.expander(_("Settings"), expanded=RESULT_KEY not in st.session_state, icon=":material/tune:"):
    settings, choices = settings_form()
    problem = check(settings, choices)
    if problem:
        st.error(problem)
    run = st.button(_("Run the experiment"), key="augment_run", type="primary", icon=":material/play_arrow:",
                    disabled=problem is not None)

if run:
    try:
        st.session_state[RESULT_KEY] = run_with_progress(settings, choices)
    except ValueError as error:
        st.error(_("Could not run: {reason}").format(reason=one_line(error)))

if RESULT_KEY in st.session_state:
    render_result(st.session_state[RESULT_KEY])
else:
    st.info(_("Choose the settings above and press **Run the experiment** (the defaults take a minute or two)."))
