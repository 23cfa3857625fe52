"""The sidebar every page shares: which device trains, what is running now, presentation mode."""

import streamlit as st

from aigc_core.runs import RunStore
from ui.cache import device_description
from ui import share


def active_run_counts() -> tuple[int, int]:
    """(running, queued) runs in the run store, with dead workers already reported as failed."""
    states = [run.status().get("state") for run in RunStore().list()]
    return states.count("running"), states.count("queued")


def render_sidebar() -> None:
    with st.sidebar:
        st.caption(f"Device: **{device_description()}**")
        running, queued = active_run_counts()
        if running or queued:
            queued_text = f", {queued} queued" if queued else ""
            st.caption(f"Training now: **{running} running**{queued_text}")
        else:
            st.caption("Training now: no active run")
        share.restore_presentation()
        st.toggle("Presentation mode", key=share.PRESENTATION_KEY,
                  help="Enlarges text, controls and figures for a projector and narrows this sidebar; "
                       "`?present=1` in a link opens it this way.")
    share.apply_presentation()
