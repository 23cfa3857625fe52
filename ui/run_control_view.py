"""Pause, Step, Resume and the speed of a training run, on the Train page's live view.

Each control writes the run's control.json (`aigc_core.runs.run_control`) in its click callback, so
the view drawn right after the click already shows the new request; what is shown comes from
the run's files, so a reload or another tab shows the same paused run.
"""

from __future__ import annotations

import streamlit as st

from aigc_core.studio import (
    DEFAULT_STEP_COUNT, MAX_STEP_COUNT, SPEED_TITLES, SPEEDS, Run, control as read_control, pause as request_pause,
    set_speed, step as request_steps, unpause as request_resume,
)
from ui.i18n import N_, _
from ui.visitor import may_control_run


# aigc_core.runs.run_control's speed titles, marked for translation (shown through `_()`).
SPEED_TEXTS = (N_("Full speed"), N_("Slow motion (5 steps a second)"), N_("Very slow (1 step a second)"))


def is_paused(status: dict) -> bool:
    """The worker says it is holding between two steps (a running run only)."""
    return status.get("state") == "running" and status.get("paused") is True


def _owner_only(action, run: Run, *arguments) -> None:
    """Run a control callback only for the run's owner (or the operator): a stale page of another
    browser, or a crafted request, must not pause someone else's run."""
    if may_control_run(run):
        action(run, *arguments)


def _pause(run: Run) -> None:
    _owner_only(request_pause, run)


def _resume(run: Run) -> None:
    _owner_only(request_resume, run)


def _step(run: Run) -> None:
    _owner_only(request_steps, run, int(st.session_state.get("train_step_count", DEFAULT_STEP_COUNT)))


def _speed(run: Run) -> None:
    _owner_only(set_speed, run, st.session_state.train_speed)


def control_message(status: dict, control: dict) -> str | None:
    """One line on what the run is doing about a pause or a step request; None when it just trains."""
    step = status.get("step", 0)
    if is_paused(status) and control["mode"] != "run":
        return _("Paused at step {step:,}: the model waits in memory. **Resume** trains on; **Step** trains a few "
                 "steps and pauses again.").format(step=step)
    if control["mode"] == "pause":
        return _("Pausing after the current step…")
    if control["mode"] == "step" and control["steps"]:
        return _("Training {count:,} steps, then pausing…").format(count=control["steps"])
    return None


def render_run_controls(run: Run, status: dict, first_control=None, notices=st) -> None:
    """The Pause or Resume button, Step with its step count, and the speed, for a running run, in one row.

    Args:
        first_control: draws a control of the caller's (the Stop button) in the row's first column.
        notices: where the one line on a pause or step request goes (under the row, at full width).
    """
    control = read_control(run)
    message = control_message(status, control)
    if message:
        icon = ":material/pause_circle: " if is_paused(status) else ""
        notices.caption(icon + message)
    holding = control["mode"] != "run"
    widths = ([2] if first_control else []) + [2, 2, 2, 3]
    columns = st.columns(widths, vertical_alignment="bottom")
    if first_control:
        with columns[0]:
            first_control()
    pause_column, count_column, step_column, speed_column = columns[-4:]
    if holding:
        pause_column.button(_("Resume"), key="train_continue", icon=":material/play_arrow:", on_click=_resume,
                            args=(run,), help=_("Train on to the end of the budget."))
    else:
        pause_column.button(_("Pause"), key="train_pause", icon=":material/pause:", on_click=_pause, args=(run,),
                            help=_("Hold the run after the current step; the model stays in memory."))
    count_column.number_input(_("Steps per click"), min_value=1, max_value=MAX_STEP_COUNT, value=DEFAULT_STEP_COUNT,
                              step=1, key="train_step_count")
    step_column.button(_("Step"), key="train_step", icon=":material/skip_next:", on_click=_step, args=(run,),
                       help=_("Train exactly this many steps, then pause."))
    # The widget mirrors the file, so a reload or another tab shows the run's own speed.
    st.session_state.train_speed = control["speed"]
    speed_column.selectbox(_("Speed"), list(SPEEDS), key="train_speed",
                           format_func=lambda speed: _(SPEED_TITLES[speed]),
                           on_change=_speed, args=(run,),
                           help=_("Slow motion paces the steps and saves a picture every few steps early on, "
                                  "where the change is fastest; time budgets count training time only."))
