"""Runs: every training run in one table; open one for its curves, timeline, files, or to delete it."""

import streamlit as st

from aigc_core.runs import RunStore
from ui.runs_view import render_run_details, runs_table, show_message
from ui.router import ensure_router
from ui import share

ensure_router()  # a deep link on a fresh server must still go through app.py

st.title("Runs")
show_message()
runs = RunStore().list()
if not runs:
    st.info("No runs yet: start one on the **Train** page.")
    st.stop()

st.dataframe(runs_table(runs), hide_index=True)
runs_by_id = {run.run_id: run for run in runs}
share.restore_choice("runs_select", "run", list(runs_by_id), runs[0].run_id, run_id=True)
selected = st.selectbox("Open run", list(runs_by_id), key="runs_select",
                        format_func=lambda run_id: f"{run_id}  ({runs_by_id[run_id].status().get('state')})")
share.publish("run", selected)
render_run_details(runs_by_id[selected])
