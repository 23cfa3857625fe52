"""The sidebar every page shares: which device trains, what is running now, presentation mode."""

import streamlit as st

from aigc_core.executors import executor_summary
from aigc_core.runs import RunStore
from ui.cache import device_description
from ui import share
from ui.i18n import _, render_language_switch
from ui.lesson_view import render_lesson_start


def active_run_counts() -> tuple[int, int]:
    """(running, queued) runs in the run store, with dead workers already reported as failed."""
    states = [run.status().get("state") for run in RunStore().list()]
    return states.count("running"), states.count("queued")


def render_executor() -> None:
    """One line: where new runs train (this machine or a Ray cluster) and its workers, CPUs and GPUs."""
    try:
        name, capacity = executor_summary()
    except ValueError as error:  # a misspelt $AIGC_EXECUTOR, or Ray chosen but not installed
        st.caption(_("Runs train on: unavailable ({reason})").format(reason=error))
        return
    where = _("this machine") if name == "local" else _("a Ray cluster")
    if capacity is None:
        st.caption(_("Runs train on: **{where}** (not reachable now)").format(where=where))
        return
    st.caption(_("Runs train on: **{where}**, {workers} workers, {cpus} CPUs, {gpus} GPUs").format(
        where=where, workers=capacity.workers, cpus=f"{capacity.cpus:g}", gpus=f"{capacity.gpus:g}"))


def render_sidebar() -> None:
    with st.sidebar:
        render_language_switch()
        render_lesson_start()
        st.caption(_("Device: **{device}**").format(device=device_description()))
        render_executor()
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
