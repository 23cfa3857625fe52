"""Twin runs in the UI: the Train page's launch button and live view (the race: ui/twin_race_view.py).

A twin is a GAN and a VAE, or with "With diffusion" ticked a three-way race that adds
diffusion-fast. It is named in the URL by its twin id (`?twin=...`; the members' run ids,
comma-separated, work too), so a reload, a new tab or a shared link shows the same race.
Everything is read from the run folders; nothing here touches a training process.
"""

from __future__ import annotations

import time

import streamlit as st

from typing import TYPE_CHECKING

from aigc_core import studio
from aigc_core.config import TrainingConfig
from aigc_core.studio import ACTIVE_STATES, TWIN_RACES, Run, describe_os_error, find_twin, launch_twin, read_twin

if TYPE_CHECKING:
    from aigc_core.studio import Twin
from ui import share
from ui.charts import image_grid_png, png_data_uri
from ui.families import family_title
from ui.i18n import _, error_text
from ui.run_names_view import run_title
from ui.train_view import STATE_COLOURS, failure_reason, format_duration, progress_fraction, state_title
from ui.visitor import failure_text, may_control_run, not_owner_note, requester

TWIN_PARAM = "twin"
THREE_WAY_KEY = "train_twin_diffusion"


def matchup(families) -> str:
    """A race's members as one line: "GAN vs VAE", "GAN vs VAE vs Diffusion"."""
    return _(" vs ").join(family_title(family) for family in families)


def twin_label(twin: Twin) -> str:
    """A race as the picker and the caption name it: when, seed and budget, in the session's language
    (a three-way race also says so: two-member races are the ones every older link names)."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(twin.created_at)) if twin.created_at else "?"
    budget = (_("{count:,} steps").format(count=int(twin.budget_value)) if twin.budget_kind == "steps"
              else _("{minutes:g} minutes").format(minutes=twin.budget_value) if twin.budget_kind == "minutes"
              else f"{twin.budget_value:g} {twin.budget_kind}")
    label = _("{when} · seed {seed} · {budget}").format(when=when, seed=twin.seed, budget=budget)
    return f"{matchup(twin.families)} · {label}" if len(twin.families) > 2 else label


# -- Train page ------------------------------------------------------------------------------
def render_twin_button(config: TrainingConfig, disabled: bool) -> str | None:
    """The "Twin run" button (a GAN and a VAE, plus diffusion-fast with "With diffusion" ticked) on the
    form's seed and budget. Returns the twin id it launched (also put in the URL), or None."""
    three_way = bool(st.session_state.get(THREE_WAY_KEY))  # the tick box below: its value of the last rerun
    families = TWIN_RACES[1] if three_way else TWIN_RACES[0]
    label = (_("Three-way race: GAN vs VAE vs diffusion") if three_way else _("Twin run: GAN vs VAE"))
    clicked = st.button(label, key="train_twin", icon=":material/compare_arrows:", disabled=disabled,
                        help=_("Trains gan-fast and vae-fast (and diffusion-fast, with diffusion ticked) with this "
                               "seed, budget and dataset, on the same batches (one after the other on a CPU); the "
                               "Twin race page then races them on one clock."))
    st.checkbox(_("With diffusion"), key=THREE_WAY_KEY,
                help=_("Adds a third contestant, a small diffusion model, on the same seed and budget."))
    if not clicked:
        return None
    kind = "steps" if config.steps is not None else "minutes"
    value = config.steps if kind == "steps" else config.minutes
    try:
        runs = launch_twin(config.seed, kind, value, dataset=config.dataset, requester=requester(), families=families)
    except ValueError as error:
        st.error(_("Could not start the twin: {reason}").format(reason=error_text(error)))
        return None
    except OSError as error:
        st.error(_("Could not start the twin: {reason}").format(reason=describe_os_error(error)))
        return None
    twin = read_twin(runs[0])
    twin_id = twin.twin_id if twin else ",".join(run.run_id for run in runs)
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
    """Every run of the twin the URL names, live while any is active; a line for an unknown twin."""
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
        if len(twin.members) > 2:
            st.subheader(_("Three-way race: {matchup}").format(matchup=matchup(twin.families)))
            st.caption(_("{twin} · the same seed, budget and batches for all").format(twin=twin_label(twin)))
        else:
            st.subheader(_("Twin run: GAN vs VAE"))
            st.caption(_("{twin} · the same seed, budget and batches for both").format(twin=twin_label(twin)))
        for column, run in zip(st.columns(len(twin.runs), gap="large"), twin.runs):
            with column:
                _render_twin_member(run)
        if any(state in ACTIVE_STATES for state in states):
            if not all(may_control_run(run) for run in twin.runs):
                not_owner_note("stop")
            elif st.button(_("Stop both") if len(twin.runs) == 2 else _("Stop all"), key="train_twin_stop", icon=":material/stop_circle:"):
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
