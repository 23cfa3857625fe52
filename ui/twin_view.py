"""Twin runs in the UI: the Train page's launch button and live pair view (the race: ui/twin_race_view.py).

The pair is named in the URL by its twin id (`?twin=...`; "gan id,vae id" works too), so a
reload, a new tab or a shared link shows the same race. Everything is read from the two run
folders; nothing here touches a training process.
"""

from __future__ import annotations

import time

import streamlit as st

from typing import TYPE_CHECKING

from aigc_core import studio
from aigc_core.config import TrainingConfig
from aigc_core.studio import ACTIVE_STATES, Run, describe_os_error, find_twin, launch_twin, read_twin

if TYPE_CHECKING:
    from aigc_core.studio import Twin
from ui import share
from ui.charts import image_grid_png, png_data_uri
from ui.i18n import _, error_text
from ui.run_names_view import run_title
from ui.train_view import STATE_COLOURS, failure_reason, format_duration, progress_fraction, state_title
from ui.visitor import failure_text, may_control_run, not_owner_note, requester

TWIN_PARAM = "twin"


def twin_label(twin: Twin) -> str:
    """A twin pair as the picker and the caption name it: when, seed and budget, in the session's language."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(twin.created_at)) if twin.created_at else "?"
    budget = (_("{count:,} steps").format(count=int(twin.budget_value)) if twin.budget_kind == "steps"
              else _("{minutes:g} minutes").format(minutes=twin.budget_value) if twin.budget_kind == "minutes"
              else f"{twin.budget_value:g} {twin.budget_kind}")
    return _("{when} · seed {seed} · {budget}").format(when=when, seed=twin.seed, budget=budget)


# -- Train page ------------------------------------------------------------------------------
def render_twin_button(config: TrainingConfig, disabled: bool) -> str | None:
    """The "Twin run" button: a GAN and a VAE on the form's seed and budget. Returns the twin id
    it launched (also put in the URL), or None."""
    if not st.button(_("Twin run: GAN vs VAE"), key="train_twin", icon=":material/compare_arrows:", disabled=disabled,
                     help=_("Trains gan-fast and vae-fast with this seed, budget and dataset, on the same batches "
                            "(one after the other on a CPU); the Twin race page then races them on one clock.")):
        return None
    kind = "steps" if config.steps is not None else "minutes"
    value = config.steps if kind == "steps" else config.minutes
    try:
        gan_run, vae_run = launch_twin(config.seed, kind, value, dataset=config.dataset, requester=requester())
    except ValueError as error:
        st.error(_("Could not start the twin: {reason}").format(reason=error_text(error)))
        return None
    except OSError as error:
        st.error(_("Could not start the twin: {reason}").format(reason=describe_os_error(error)))
        return None
    twin = read_twin(gan_run)
    twin_id = twin.twin_id if twin else f"{gan_run.run_id},{vae_run.run_id}"
    share.publish("run", None)
    share.publish(TWIN_PARAM, twin_id)
    return twin_id


def _render_twin_member(run: Run) -> None:
    status, config = run.status(), run.config()
    state = status.get("state", "unknown")
    st.markdown(f"#### {run_title(run)} · `{run.run_id}`")
    st.badge(state_title(state), color=STATE_COLOURS.get(state, "gray"))
    step, total = status.get("step", 0), status.get("total_steps")
    text = (_("step {step:,} / {total:,}").format(step=step, total=total) if total
            else _("step {step:,}").format(step=step))
    text += "  ·  " + _("training time {duration}").format(duration=format_duration(status.get("elapsed_s")))
    st.progress(progress_fraction(status, config), text=text)
    if state == "failed":
        reason = failure_reason(status.get("error"), config.get("model", "gan"))
        st.error(_("The run failed: {reason}").format(reason=reason))
    latest = run.latest_snapshot()
    if latest is None:
        st.caption(_("Waiting for a training slot: the twins train one after the other.") if state == "queued"
                   else _("Samples appear once the model is built."))
    else:
        step, images = latest
        st.image(png_data_uri(image_grid_png(images, scale=2)), width="stretch",
                 caption=_("The fixed noise batch at step {step:,}").format(step=step))


def render_twin_progress(value: str) -> None:
    """Both runs of the twin the URL names, live while either is active; a line for an unknown twin."""
    twin = find_twin(value)
    if twin is None:
        st.info(_("The twin run in this link no longer exists (or never did): start a new one above."))
        return
    active = any(run.status().get("state") in ACTIVE_STATES for run in twin.runs)

    @st.fragment(run_every="1s" if active else None)
    def live_view():
        states = [run.status().get("state") for run in twin.runs]
        if active and not any(state in ACTIVE_STATES for state in states):
            st.rerun()
        st.subheader(_("Twin run: GAN vs VAE"))
        st.caption(_("{twin} · the same seed, budget and batches for both").format(twin=twin_label(twin)))
        for column, run in zip(st.columns(2, gap="large"), twin.runs):
            with column:
                _render_twin_member(run)
        if any(state in ACTIVE_STATES for state in states):
            if not all(may_control_run(run) for run in twin.runs):
                not_owner_note("stop")
            elif st.button(_("Stop both"), key="train_twin_stop", icon=":material/stop_circle:"):
                try:
                    for run in twin.runs:
                        studio.stop(run, requester())
                except (ValueError, OSError) as error:
                    st.error(_("Could not stop the runs: {reason}").format(reason=failure_text(error)))
                else:
                    st.caption(_("Stop requested: each run checkpoints and ends after its current step."))
        st.page_link("pages/twin.py", label=_("Race them on the Twin race page"), icon=":material/sprint:",
                     query_params={TWIN_PARAM: twin.twin_id})

    live_view()


# -- Twin race page: see ui/twin_race_view.py ---------------------------------------------------
