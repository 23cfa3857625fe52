"""The Runs page's parts: the table of every run, and one run's curves, timeline, files and delete."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from aigc_core.experiments.animation import timeline_gif
from aigc_core import studio
from aigc_core.studio import ACTIVE_STATES, EVALUATION_TYPICAL_SECONDS as TYPICAL_SECONDS, Run, evaluation_progress, \
    start_evaluation
from ui.charts import COLOURS, image_grid_png, loss_figure
from ui.diagnosis_view import annotate_figure, render_finding_cards, run_findings
from ui.sources_view import one_line, render_evaluation, state_text
from ui.diagnosis_view import preset_title as broken_preset_title
from ui.families import family_title
from ui.i18n import N_, _
from ui.run_names_view import render_name_form, run_name, run_title
from ui.train_view import break_it_note, dataset_note, format_duration, preset_title
from ui.visitor import failure_text, may_control_run, not_owner_note, requester

LOSS_ORDER = tuple(COLOURS)
MESSAGE_KEY = "runs_message"  # survives the rerun after a delete, so its outcome stays on screen
# The table's column names (the data frame is built with these keys, shown translated).
# The name comes first; the timestamp id, which links and the CLI use, last.
COLUMNS = (N_("name"), N_("state"), N_("model"), N_("preset"), N_("steps"), N_("duration"), N_("final losses"),
           N_("started"), N_("note"), N_("run"))
NOTE_PREVIEW_CHARS = 60
# Room for a name and a note; the id, for links and the CLI, may be cut (it shows in full on hover).
COLUMN_WIDTHS = {N_("name"): "medium", N_("note"): "medium", N_("run"): "small"}


# Short words for a table cell (the charts' legends say the long form): never a metric's code name.
SHORT_LOSS_NAMES = {
    "d_loss": N_("discriminator"), "g_loss": N_("generator"), "d_real": N_("D(x)"), "d_fake": N_("D(G(z))"),
    "loss": N_("total"), "reconstruction_loss": N_("reconstruction"), "kl_loss": N_("KL"),
    "wasserstein": N_("Wasserstein"), "gradient_penalty": N_("penalty"),
    "loss_low_noise": N_("low noise"), "loss_mid_noise": N_("middle noise"), "loss_high_noise": N_("high noise"),
    # The conditional GANs' auxiliary classifier, on the fakes: which digit (or cluster) they show.
    "class_loss": N_("classifier"),
}


def _losses_text(losses: dict) -> str:
    """The last logged values, in the order the loss figures list them, under plain short names."""
    known = [name for name in LOSS_ORDER if name in losses]
    names = known + sorted(name for name in losses if name not in LOSS_ORDER)
    return " · ".join(f"{_(SHORT_LOSS_NAMES[name]) if name in SHORT_LOSS_NAMES else name} {losses[name]:.3f}"
                      for name in names if isinstance(losses[name], (int, float)))


def runs_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: name, state, model, preset, steps, duration, final losses, start, note, id."""
    rows = []
    name_column, state_column, model_column, preset_column, steps_column, duration_column, losses_column, \
        started_column, note_column, run_column = (_(name) for name in COLUMNS)
    for run in runs:
        summary = run.summary()
        total = summary["total_steps"]
        created = summary["created_at"]
        named = studio.read_run_name(run)
        rows.append({
            name_column: named.text(_),
            state_column: state_text(summary["state"]),
            model_column: family_title(summary["model"]),
            preset_column: _("{preset} · break it: {name}").format(preset=preset_title(summary["preset"]),
                                                                  name=broken_preset_title(summary["break_it"]))
            if summary.get("break_it") else preset_title(summary["preset"]),
            steps_column: f"{summary['step']} / {total}" if total else str(summary["step"]),
            duration_column: format_duration(summary["elapsed_s"]),
            losses_column: _losses_text(summary["final_losses"]),
            started_column: time.strftime("%m-%d %H:%M", time.localtime(created)) if created else "",
            note_column: _note_preview(named.note),
            run_column: summary["run_id"],
        })
    return pd.DataFrame(rows, columns=[_(name) for name in COLUMNS])


def table_column_config() -> dict:
    """The table's column widths, keyed by the translated column names `runs_table` uses."""
    return {_(name): st.column_config.Column(width=width) for name, width in COLUMN_WIDTHS.items()}


def _note_preview(note: str) -> str:
    """A note's first line, cut to fit a table cell."""
    first = note.split("\n", 1)[0]
    return first if len(first) <= NOTE_PREVIEW_CHARS and "\n" not in note else first[:NOTE_PREVIEW_CHARS - 1].rstrip() + "…"


def metrics_csv(run: Run) -> bytes:
    """The run's metric rows as CSV (one column per logged value)."""
    return pd.DataFrame(run.metrics()).to_csv(index=False).encode()


def _delete(run_id: str) -> None:
    """Button callback: runs before the script, so the selection and checkbox can still be reset."""
    try:
        studio.delete(run_id, requester())  # refused for another browser's run
    except (ValueError, OSError) as error:  # an active run, a read-only runs folder
        st.session_state[MESSAGE_KEY] = ("error", _("Could not delete the run: {reason}").format(
            reason=failure_text(error)))
        return
    st.session_state[MESSAGE_KEY] = ("success", _("Deleted run {run_id}.").format(run_id=run_id))
    st.session_state.runs_confirm_delete = False
    st.session_state.pop("runs_select", None)


def report_deleted_selection(run_ids) -> None:
    """Say so when the run this session was looking at has been deleted since (by its owner
    in another tab, by the operator, or pruned): its downloads are gone with it."""
    selected = st.session_state.get("runs_select")
    if selected and selected not in run_ids:
        st.session_state.pop("runs_select")
        st.session_state[MESSAGE_KEY] = ("error", _("Run {run_id} was deleted meanwhile: its files can no "
                                                    "longer be downloaded.").format(run_id=selected))


@st.fragment(run_every="10s")
def _watch_for_deletion(run: Run) -> None:
    """A full rerun once the open run's folder is gone, so that the page says so (a stat per 10 s)."""
    if not studio.run_exists(run):
        st.rerun()


def _deferred(run: Run, make_file):
    """A download's file, made on click; a run deleted meanwhile is named as such in the server log."""
    def make():
        if not studio.run_exists(run):
            raise FileNotFoundError(f"run {run.run_id} was deleted meanwhile")
        return make_file()
    return make


def show_message() -> None:
    """The outcome of the last delete, once."""
    message = st.session_state.pop(MESSAGE_KEY, None)
    if message:
        kind, text = message
        (st.error if kind == "error" else st.success)(text)


@st.cache_data(max_entries=8, show_spinner=False)  # the spinner's words are chosen per session, where it is called
def _timeline_gif(run_id: str, steps: tuple[int, ...]) -> bytes:
    """Keyed by the snapshot steps too, so a run that saved a new snapshot gets a new GIF."""
    return timeline_gif(studio.get_run(run_id))


def _render_timeline(run: Run) -> None:
    snapshots = run.snapshots()
    if not snapshots:
        st.caption(_("No snapshots yet."))
        return
    steps = [step for step, _path in snapshots]
    if len(steps) > 1:
        # Keyed per run: another run has other steps, and a stale value would not be among them.
        chosen = st.select_slider(_("Timeline: samples at step"), options=steps, value=steps[-1],
                                  key=f"runs_timeline_{run.run_id}")
    else:
        chosen = steps[0]
    path = dict(snapshots)[chosen]
    try:
        images = run.load_snapshot(path)
    except ValueError as error:  # a damaged snapshot file: name it, keep the rest of the page
        st.warning(_("The samples at step {step:,} cannot be shown: {reason}").format(step=chosen, reason=one_line(error)))
    else:
        st.image(image_grid_png(images, scale=2), width="stretch",
                 caption=_("The same noise batch at step {step:,}").format(step=chosen))
    # Built only on request: a GIF of every snapshot is about a megabyte.
    if st.toggle(_("Animate the timeline (GIF)"), key="runs_timeline_gif"):
        try:
            with st.spinner(_("Drawing the GIF…")):
                gif = _timeline_gif(run.run_id, tuple(step for step, _path in snapshots))
        except ValueError as error:  # a damaged snapshot among the frames
            st.warning(_("No GIF: {reason}").format(reason=one_line(error)))
            return
        st.image(gif, width="stretch", caption=_("Every snapshot in order; the last one stays longer"))
        st.download_button(_("Timeline GIF"), data=gif, file_name=f"{run.run_id}-timeline.gif", mime="image/gif",
                           key="runs_download_gif", on_click="ignore")


def _render_downloads(run: Run) -> None:
    # Callables defer reading the files until a button is pressed, so reruns stay cheap.
    weights_column, metrics_column, grid_column = st.columns(3)
    with weights_column:
        # Only the run's own files: a link planted in the runs folder is never followed.
        st.download_button(_("Weights (.weights.h5)"), data=_deferred(run, lambda: studio.read_run_file(run, "model.weights.h5") or b""),
                           file_name=f"{run.run_id}.weights.h5", mime="application/octet-stream",
                           key="runs_download_weights", on_click="ignore", disabled=not studio.has_file(run, "model.weights.h5"))
    with metrics_column:
        st.download_button(_("Metrics (.csv)"), data=_deferred(run, lambda: metrics_csv(run)), file_name=f"{run.run_id}-metrics.csv",
                           mime="text/csv", key="runs_download_metrics", on_click="ignore",
                           disabled=not studio.has_file(run, "metrics.jsonl"))
    with grid_column:
        latest = run.latest_snapshot()
        st.download_button(_("Latest samples (.png)"),
                           data=_deferred(run, lambda: image_grid_png(run.latest_snapshot()[1], scale=4)),
                           file_name=f"{run.run_id}-step{latest[0] if latest else 0}.png", mime="image/png",
                           key="runs_download_grid", on_click="ignore", disabled=latest is None)


def _render_sample_quality(run: Run, family: str) -> None:
    """FID / Inception Score beside the reference rows, with a button that measures (or re-measures)
    a finished run the way `python -m aigc_core evaluate --run DIR` does."""
    st.markdown("**" + _("Sample quality") + "**")
    render_evaluation(studio.run_source(run))
    if run.status().get("state") in ACTIVE_STATES or not studio.has_file(run, "model.weights.h5") or not may_control_run(run):
        return  # nothing finished to measure yet, or another browser's run
    progress = evaluation_progress(run)
    if progress and progress["state"] == "running":
        _watch_evaluation(run)
        return
    if progress and progress["state"] == "failed":
        st.error(_("The last evaluation failed: {reason}").format(reason=progress["reason"]))
    measured = studio.has_file(run, "metrics.json")
    low, high = TYPICAL_SECONDS
    if st.button(_("Evaluate again") if measured else _("Evaluate"), key="runs_evaluate", icon=":material/query_stats:",
                 help=_("Measures FID and Inception Score on 10,000 samples with the project's classifier, as "
                        "`python -m aigc_core evaluate` does: {low}–{high} s on this server, in the background.").format(
                     low=low, high=high)):
        try:
            start_evaluation(run)
        except (ValueError, OSError) as error:
            st.error(_("Could not evaluate the run: {reason}").format(reason=failure_text(error)))
            return
        st.rerun()


@st.fragment(run_every="2s")
def _watch_evaluation(run: Run) -> None:
    """While the evaluator runs: a moving bar and the seconds so far; a full rerun once it has ended."""
    progress = evaluation_progress(run)
    if not progress or progress["state"] != "running":
        st.rerun()
    low, high = TYPICAL_SECONDS
    elapsed = progress["elapsed_s"]
    st.progress(min(elapsed / high, 0.95), text=_("Evaluating on 10,000 samples: {elapsed:.0f} s so far (usually "
                                                  "{low}–{high} s).").format(elapsed=elapsed, low=low, high=high))


def twin_note(run: Run) -> str | None:
    """A warning before deleting a member of a twin race: its race on the Twin race page goes with it."""
    twin = studio.read_twin(run)
    if twin is None:
        return None
    others = [member for member in twin.runs if member.run_id != run.run_id]
    if len(others) > 1:
        names = _("{first} and {last}").format(first=", ".join(run_name(other) for other in others[:-1]),
                                               last=run_name(others[-1]))
        return _("This run is one of a three-way race (with runs {others}): deleting it also removes their race "
                 "from the Twin race page. The other runs stay.").format(others=names)
    other = others[0]
    return _("This run is half of a twin pair (with run {other}): deleting it also removes their race from the "
             "Twin race page. Run {other} itself stays.").format(other=run_name(other))


def render_run_details(run: Run) -> None:
    """Curves and timeline side by side, then downloads and delete."""
    status, config = run.status(), run.config()
    family = config.get("model", "gan")
    st.subheader(run_title(run))
    st.caption(f"{family_title(family)} · {break_it_note(config)}{dataset_note(config)} · {state_text(status.get('state'))} · "
               + _("step {step:,}").format(step=status.get("step", 0)) + f" · {format_duration(status.get('elapsed_s'))}"
               + f" · `{run.run_id}`")
    note = studio.read_run_name(run).note
    if note:
        st.text(note)
    if may_control_run(run):
        render_name_form(run, MESSAGE_KEY)
    if status.get("error"):
        st.error(status["error"])
    damage = run.file_damage(rows=True) if status.get("state") not in ACTIVE_STATES else None
    if damage and damage != status.get("error"):
        st.warning(_("This run is damaged: {damage}. What can still be read is shown below.").format(damage=damage))
    st.page_link("pages/train.py", label=_("Open in the Train page"), icon=":material/model_training:", query_params={"run": run.run_id})
    family, rows, findings = run_findings(run)
    curves_column, timeline_column = st.columns([4, 3], gap="medium")
    with curves_column:
        if rows:
            st.plotly_chart(annotate_figure(loss_figure(rows, family), findings), config={"displayModeBar": False})
        else:
            st.caption(_("No metrics logged yet."))
    with timeline_column:
        _render_timeline(run)
    render_finding_cards(findings)
    _render_sample_quality(run, family)
    _render_downloads(run)
    _watch_for_deletion(run)
    st.divider()
    if not may_control_run(run):
        not_owner_note("delete")
        return
    note = twin_note(run)
    if note:
        st.warning(note, icon=":material/call_split:")
    confirm = st.checkbox(_("Yes, delete this run and its files"), key="runs_confirm_delete")
    st.button(_("Delete run"), key="runs_delete", icon=":material/delete:", disabled=not confirm, on_click=_delete, args=(run.run_id,))
