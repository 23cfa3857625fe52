"""Twin runs in the UI: the Train page's launch button and live pair view, and Compare's race.

The pair is named in the URL by its twin id (`?twin=...`; "gan id,vae id" works too), so a
reload, a new tab or a shared link shows the same race. Everything is read from the two run
folders; nothing here touches a training process.
"""

from __future__ import annotations

import time

import streamlit as st

from aigc_core.animation import twin_gif
from aigc_core.config import TrainingConfig
from aigc_core.housekeeping import describe_os_error
from aigc_core.ownership import stop_run
from aigc_core.runs import ACTIVE_STATES, Run, RunStore
from aigc_core.twin import AXES, Twin, find_twin, find_twins, launch_twin, read_twin, snapshot_at, \
    timed_snapshots, twin_moments
from ui import share
from ui.charts import image_grid_png, png_data_uri
from ui.gallery import keep_choice
from ui.i18n import N_, _
from ui.run_names_view import run_title
from ui.train_view import STATE_COLOURS, failure_reason, format_duration, progress_fraction, state_title
from ui.visitor import failure_text, may_control_run, not_owner_note, requester

TWIN_PARAM = "twin"
AXIS_LABELS = {"seconds": N_("training time (s)"), "images": N_("images seen")}

# The race slider's title per clock.
AXIS_TITLES = {"seconds": N_("Training time (s)"), "images": N_("Images seen")}


def twin_label(twin: Twin) -> str:
    """A twin pair as the picker and the caption name it: when, seed and budget, in the session's language."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(twin.created_at)) if twin.created_at else "?"
    budget = (_("{count:,} steps").format(count=int(twin.budget_value)) if twin.budget_kind == "steps"
              else _("{minutes:g} minutes").format(minutes=twin.budget_value) if twin.budget_kind == "minutes"
              else f"{twin.budget_value:g} {twin.budget_kind}")
    return _("{when} · seed {seed} · {budget}").format(when=when, seed=twin.seed, budget=budget)


def format_moment(moment: float, axis: str) -> str:
    return (_("{seconds:,.0f} s").format(seconds=moment) if axis == "seconds"
            else _("{count:,} images").format(count=int(moment)))


# -- Train page ------------------------------------------------------------------------------
def render_twin_button(config: TrainingConfig, disabled: bool) -> str | None:
    """The "Twin run" button: a GAN and a VAE on the form's seed and budget. Returns the twin id
    it launched (also put in the URL), or None."""
    if not st.button(_("Twin run: GAN vs VAE"), key="train_twin", icon=":material/compare_arrows:", disabled=disabled,
                     help=_("Trains gan-fast and vae-fast with this seed, budget and dataset, on the same batches "
                            "(one after the other on a CPU); Compare then races them on one clock.")):
        return None
    kind = "steps" if config.steps is not None else "minutes"
    value = config.steps if kind == "steps" else config.minutes
    try:
        store = RunStore()
        gan_run, vae_run = launch_twin(config.seed, kind, value, store, dataset=config.dataset,
                                       requester=requester(store))
    except ValueError as error:
        st.error(_("Could not start the twin: {reason}").format(reason=error))
        return None
    except OSError as error:
        st.error(_("Could not start the twin: {reason}").format(reason=describe_os_error(error)))
        return None
    twin = read_twin(gan_run)
    twin_id = twin.twin_id if twin else f"{gan_run.run_id},{vae_run.run_id}"
    share.publish("run", None)
    share.publish(TWIN_PARAM, twin_id)
    return twin_id


def _render_twin_member(run: Run, store: RunStore) -> None:
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
    store = RunStore()
    twin = find_twin(value, store)
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
                _render_twin_member(run, store)
        if any(state in ACTIVE_STATES for state in states):
            if not all(may_control_run(run) for run in twin.runs):
                not_owner_note("stop")
            elif st.button(_("Stop both"), key="train_twin_stop", icon=":material/stop_circle:"):
                try:
                    for run in twin.runs:
                        stop_run(run, requester(store))
                except (ValueError, OSError) as error:
                    st.error(_("Could not stop the runs: {reason}").format(reason=failure_text(error)))
                else:
                    st.caption(_("Stop requested: each run checkpoints and ends after its current step."))
        st.page_link("pages/compare.py", label=_("Race them on Compare"), icon=":material/compare:",
                     query_params={TWIN_PARAM: twin.twin_id})

    live_view()


# -- Compare page -------------------------------------------------------------------------------
@st.cache_data(max_entries=4, show_spinner=False)
def _twin_gif(gan_path: str, vae_path: str, match: str, versions: tuple) -> bytes:
    """Keyed by both runs' snapshot steps too, so new snapshots make a new GIF."""
    return twin_gif(Run(gan_path), Run(vae_path), match=match)


def _twin_by_url(twins: list[Twin]) -> str | None:
    """The twin id a URL names (by id or by "gan id,vae id"), if it is one of `twins`."""
    twin = find_twin(share.url_value(TWIN_PARAM))
    return twin.twin_id if twin and any(other.twin_id == twin.twin_id for other in twins) else None


def render_twin_race(twins: list[Twin]) -> None:
    """Pick a twin, one slider over the race's clock, each model's samples at that moment, a GIF."""
    by_id = {twin.twin_id: twin for twin in twins}
    state = st.session_state
    if state.get("compare_twin") not in by_id:
        linked = _twin_by_url(twins)
        if linked is None and share.url_value(TWIN_PARAM) is not None:
            share.notice_bad_value(TWIN_PARAM, "one on offer here")
        state["compare_twin"] = linked or twins[0].twin_id
    twin = by_id[st.selectbox(_("Twin pair"), list(by_id), key="compare_twin",
                              format_func=lambda twin_id: twin_label(by_id[twin_id]))]
    share.restore_choice("compare_twin_axis", "axis", list(AXES), "seconds")
    axis = st.radio(_("Clock"), AXES, key="compare_twin_axis", horizontal=True,
                    format_func=lambda name: _(AXIS_LABELS[name]))
    share.publish_all({TWIN_PARAM: twin.twin_id, "axis": axis})
    moments = twin_moments(twin, axis)
    if not moments:
        st.caption(_("Neither twin has saved samples yet: the race starts with their first snapshots."))
        return
    if len(moments) > 1:
        keep_choice("compare_twin_time", moments)
        moment = st.select_slider(_(AXIS_TITLES[axis]), moments, key="compare_twin_time",
                                  format_func=lambda value: format_moment(value, axis))
    else:
        moment = moments[0]
    for column, run in zip(st.columns(2, gap="large"), twin.runs):
        family = str(run.config().get("model", "?")).upper()
        if not run.snapshots():
            column.caption(_("{model}: no samples yet.").format(model=family))
            continue
        when, step, path = snapshot_at(timed_snapshots(run, axis), moment)
        try:
            column.image(image_grid_png(run.load_snapshot(path), scale=4), width="stretch", output_format="PNG",
                         caption=_("{model} at {moment}: its step {step:,} (taken at {taken})").format(
                             model=family, moment=format_moment(moment, axis), step=step,
                             taken=format_moment(when, axis)))
        except ValueError as error:  # a damaged snapshot file: named, the other side still shows
            column.warning(_("{model}: the samples at step {step:,} cannot be shown: {reason}").format(
                model=family, step=step, reason=error))
    st.caption(_("Each side shows the latest snapshot it had taken by then, so neither is shown ahead of itself. "
                 "A GAN step and a VAE step cost different time: the seconds clock is the honest race."))
    if all(run.snapshots() for run in twin.runs):
        match = "time" if axis == "seconds" else "step"  # twins share a batch size: steps count images
        versions = tuple(tuple(step for step, _ in run.snapshots()) for run in twin.runs)
        st.download_button(_("Twin GIF"),
                           data=lambda: _twin_gif(str(twin.gan.path), str(twin.vae.path), match, versions),
                           file_name=f"{twin.twin_id}.gif", mime="image/gif", key="compare_twin_gif",
                           on_click="ignore", icon=":material/gif_box:")


def twins_in_store() -> list[Twin]:
    return find_twins(RunStore())
