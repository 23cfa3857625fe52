"""The sidebar every page shares: which device trains, what is running now, presentation mode."""

import streamlit as st

from aigc_core import studio
from aigc_core.studio import Run
from ui.cache import device_description
from ui import share
from ui.families import variant_title
from ui.i18n import _, render_language_switch
from ui.lesson_view import render_lesson_start
from ui.run_names_view import run_title


# The sidebar names this many active runs (running ones first); the Runs page lists them all.
LISTED_RUNS = 3


def active_runs() -> list[tuple[Run, str]]:
    """(run, state) of every running or queued run, running first, with dead workers already reported as failed."""
    found = [(run, run.status().get("state")) for run in studio.list_runs()]
    return sorted(((run, state) for run, state in found if state in ("running", "queued")),
                  key=lambda pair: pair[1] != "running")


def render_active_run_links(active: list[tuple[Run, str]]) -> None:
    """The active runs by name, each a link to its live view on the Train page."""
    for run, state in active[:LISTED_RUNS]:
        st.page_link("pages/train.py", label=run_title(run), query_params={"run": run.run_id},
                     icon=":material/play_circle:" if state == "running" else ":material/schedule:")


def render_executor() -> None:
    """One line: where new runs train (this machine or a Ray cluster) and its workers, CPUs and GPUs."""
    try:
        name, capacity = studio.executor_summary()
    except ValueError as error:  # a misspelt $AIGC_EXECUTOR, or Ray chosen but not installed
        st.caption(_("Runs train on: unavailable ({reason})").format(reason=error))
        return
    where = _("this machine") if name == "local" else _("a Ray cluster")
    if capacity is None:
        st.caption(_("Runs train on: **{where}** (not reachable now)").format(where=where))
        return
    st.caption(_("Runs train on: **{where}** (workers: {workers}, CPUs: {cpus}, GPUs: {gpus})").format(
        where=where, workers=capacity.workers, cpus=f"{capacity.cpus:g}", gpus=f"{capacity.gpus:g}"))


def bfloat16_note() -> str:
    """The sidebar's line on a CPU that computes bfloat16: which models train in it by default."""
    models = _(", ").join(variant_title(family, preset) for family, preset in studio.bfloat16_default_variants())
    return _("This CPU computes bfloat16, so these models train in it by default, faster: {models}.").format(models=models)


def render_sidebar() -> None:
    with st.sidebar:
        render_language_switch()
        render_lesson_start()
        st.caption(_("Device: **{device}**").format(device=device_description()))
        if studio.cpu_computes_bfloat16():
            st.caption(bfloat16_note())
        render_executor()
        active = active_runs()
        states = [state for _run, state in active]
        running, queued = states.count("running"), states.count("queued")
        if running or queued:
            if queued:
                st.caption(_("Training now: **{running} running**, {queued} queued").format(running=running, queued=queued))
            else:
                st.caption(_("Training now: **{running} running**").format(running=running))
            render_active_run_links(active)
        else:
            st.caption(_("Training now: no active run"))
        share.restore_presentation()
        st.toggle(_("Presentation mode"), key=share.PRESENTATION_KEY,
                  help=_("Enlarges text, controls and figures for a projector and narrows this sidebar; "
                         "a link with ?present=1 opens the app this way."))
    share.apply_presentation()
