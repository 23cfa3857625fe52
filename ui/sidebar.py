"""The sidebar every page shares: which device trains, what is running now, presentation mode."""

import streamlit as st

from aigc_core import studio
from ui.cache import device_description
from ui import share
from ui.i18n import _, render_language_switch
from ui.lesson_view import render_lesson_start


def active_run_counts() -> tuple[int, int]:
    """(running, queued) runs in the run store, with dead workers already reported as failed."""
    states = [run.status().get("state") for run in studio.list_runs()]
    return states.count("running"), states.count("queued")


def render_sidebar() -> None:
    with st.sidebar:
        render_language_switch()
        render_lesson_start()
        st.caption(_("Device: **{device}**").format(device=device_description()))
        running, queued = active_run_counts()
        if running or queued:
            if queued:
                st.caption(_("Training now: **{running} running**, {queued} queued").format(running=running, queued=queued))
            else:
                st.caption(_("Training now: **{running} running**").format(running=running))
        else:
            st.caption(_("Training now: no active run"))
        share.restore_presentation()
        st.toggle(_("Presentation mode"), key=share.PRESENTATION_KEY,
                  help=_("Enlarges text, controls and figures for a projector and narrows this sidebar; "
                         "a link with ?present=1 opens the app this way."))
    share.apply_presentation()
