"""Runs: every training run in one table; open one for its curves, timeline, files, or to delete it."""

import streamlit as st

from aigc_core import studio
from ui.runs_view import render_run_details, report_deleted_selection, runs_table, show_message, table_column_config
from ui.router import ensure_router
from ui.run_names_view import run_name
from ui import share
from ui.i18n import N_, _

ensure_router()  # a deep link on a fresh server must still go through app.py

# A run's state as the list names it (the status file's own words are compared by code, not shown).
STATE_LABELS = {"queued": N_("queued"), "running": N_("running"), "finished": N_("finished"),
                "stopped": N_("stopped"), "failed": N_("failed"), "interrupted": N_("interrupted"),
                "damaged": N_("damaged")}


def state_label(state) -> str:
    return _(STATE_LABELS[state]) if state in STATE_LABELS else str(state)


st.title(_("Runs"))
runs = studio.list_runs()
report_deleted_selection({run.run_id for run in runs})
show_message()
if not runs:
    st.info(_("No runs yet: start one on the **Train** page."))
    st.stop()

st.dataframe(runs_table(runs), hide_index=True, column_config=table_column_config())
runs_by_id = {run.run_id: run for run in runs}
share.restore_choice("runs_select", "run", list(runs_by_id), runs[0].run_id, run_id=True)
# The labels as read now: a run deleted before the next rerun keeps the label its option was drawn with.
# The summary's state, as the table's: a run whose metrics lines are damaged is "damaged" here too.
labels = {run_id: f"{run_name(run)}  ({state_label(run.summary()['state'])})" for run_id, run in runs_by_id.items()}
selected = st.selectbox(_("Open run"), list(runs_by_id), key="runs_select", format_func=labels.get)
share.publish("run", selected)
render_run_details(runs_by_id[selected])
