"""Train: pick a model and its hyperparameters, start a worker, watch the run live.

The run id lives in the URL (`?run=...`), so a reload or a new tab shows the same run; a twin
run (a GAN and a VAE on one budget) lives there as `?twin=<twin id>`.
"""

import streamlit as st

from aigc_core import studio
from ui.i18n import _
from ui.visitor import os_error_text, requester
from ui.train_link import apply_link_settings, publish_form_link, render_replay_section, replay_caption
from ui.train_view import render_run, settings_form, setting_problem_text, start_problem
from ui.twin_view import render_twin_button, render_twin_progress
from ui.router import ensure_router

ensure_router()  # a deep link on a fresh server must still go through app.py

st.title(_("Train a model"))
run_id = st.query_params.get("run")
twin_value = st.query_params.get("twin")
apply_link_settings()  # a lesson step or a shared link fills the form once

# Folded away while a run is shown, so its curves and samples fit on a projector screen, and open
# again whenever the page comes back to no run (a lesson step, a link): the browser would keep it shut.
shown = run_id or twin_value or ""
if st.session_state.get("train_settings_for") != shown:
    st.session_state["train_settings_for"] = shown
    st.session_state["train_settings"] = not shown
with st.expander(_("Settings for a new run"), key="train_settings", on_change="rerun", icon=":material/tune:"):
    config = settings_form()
    publish_form_link()  # every changed field in the link, so a copied link reopens this form
    problem = start_problem(config)  # a bad setting, or a dataset this server does not have
    if problem:
        st.error(problem)
    start_column, twin_column = st.columns(2)
    if start_column.button(_("Start training"), key="train_start", type="primary", icon=":material/play_arrow:",
                           disabled=problem is not None):
        try:
            run_id = studio.launch(config, requester()).run_id  # the run belongs to this browser
        except ValueError as error:
            st.error(_("Could not start: {reason}").format(reason=setting_problem_text(error, config.model)))
        except OSError as error:  # a full disk or a read-only runs folder
            st.error(_("Could not start: {reason}").format(reason=os_error_text(error)))
        else:
            twin_value = None
            st.query_params.pop("twin", None)
            st.query_params["run"] = run_id
            st.rerun()  # redraw with the settings folded and the live run at the top
    with twin_column:
        launched = render_twin_button(config, disabled=problem is not None)
    if launched:
        run_id, twin_value = None, launched

replayed = render_replay_section()
if replayed:
    st.query_params.pop("twin", None)
    st.query_params["run"] = replayed
    st.rerun()  # redraw with the settings folded and the replay's live view at the top

if twin_value:
    render_twin_progress(twin_value)
elif run_id:
    try:
        replay_caption(studio.get_run(run_id))
    except ValueError:
        pass  # an unknown or malformed id: render_run says so
    render_run(run_id)
else:
    st.info(_("Choose a model and a budget above, then press **Start training**. "
              "Training runs in its own process: you can leave this page and come back."))
