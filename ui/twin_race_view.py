"""The Twin race page: a GAN and a VAE (and, in a three-way race, a diffusion model) on one clock,
on one screen.

Every model's samples at the chosen moment side by side, each one's losses and every quality
curve on the same clock, one slider over the race and the verdict, sized so that the whole
race fits a 1400x900 screen (and 1920x1080 in presentation mode) without scrolling; on a phone
the columns stack. The chosen
twin, the clock and the slider's moment live in the URL (`?twin=...&axis=...&at=...`), parsed
as strictly as `ui.share` parses every other link. The demo pack's recorded race replays here,
through the same view, while its light replay processes write the runs.
"""

from __future__ import annotations

import re

import streamlit as st

from typing import TYPE_CHECKING

from aigc_core import studio
from aigc_core.experiments.animation import twin_gif
from aigc_core.studio import ACTIVE_STATES, REPLAY_SPEEDS, TWIN_AXES as AXES, Run, find_twin, find_twins, \
    race_verdict, read_twin, snapshot_at, timed_snapshots, twin_moments

if TYPE_CHECKING:
    from aigc_core.studio import Twin
from ui import share
from ui.charts import image_grid_png
from ui.families import family_title
from ui.i18n import N_, _
from ui.train_link import SPEED_TITLES, recording_texts
from ui.train_view import STATE_COLOURS, state_title
from ui.twin_charts import race_loss_figure, race_quality_figure
from ui.twin_view import TWIN_PARAM, twin_label
from ui.visitor import failure_text, requester

AXIS_PARAM, MOMENT_PARAM = "axis", "at"
AXIS_LABELS = {"seconds": N_("training time"), "images": N_("images seen")}
# A moment in a link: plain ASCII digits with at most one decimal (what the page itself writes).
MOMENT_TEXT = re.compile(r"[0-9]{1,12}(\.[0-9])?")
# Sample grids are drawn at a fixed width so that every grid, the curves and the slider fit one screen;
# a three-way race has one more column, so its grids are narrower.
GRID_WIDTH_PX, PRESENTATION_GRID_WIDTH_PX = 250, 300
THREE_WAY_GRID_WIDTH_PX, THREE_WAY_PRESENTATION_GRID_WIDTH_PX = 200, 270
# The page's own spacing: less padding above the title, so the race starts high enough to fit.
PAGE_CSS = """
<style>
[data-testid="stMain"] .block-container { padding-top: 2.5rem; padding-bottom: 1rem; }
.st-key-twin_time [data-testid="stSliderTickBar"] { display: none; }
</style>
"""


# -- the clock -----------------------------------------------------------------------------------
def rounded_moment(moment: float, axis: str) -> float:
    """Seconds to a tenth (what the slider and the link show), images as whole numbers."""
    return round(float(moment), 1) if axis == "seconds" else float(int(moment))


def format_moment(moment: float, axis: str) -> str:
    """A moment of the race for people: `12.3 s`, `2 min 05 s` or `12,800 images`."""
    if axis == "images":
        return _("{count:,} images").format(count=int(moment))
    if moment < 60:
        return _("{seconds:.1f} s").format(seconds=moment)
    minutes, seconds = divmod(int(round(moment)), 60)
    return _("{minutes} min {seconds:02d} s").format(minutes=minutes, seconds=seconds)


def race_moments(twin: Twin, axis: str) -> list[float]:
    """The slider's stops: both runs' snapshot moments, one stop per label a person can tell apart.

    Two snapshots a few hundredths of a second apart would read the same on the slider; the
    later one is kept, so that stop shows both sides' newest grids.
    """
    by_label = {}
    for moment in twin_moments(twin, axis):
        rounded = rounded_moment(moment, axis)
        by_label[format_moment(rounded, axis)] = rounded
    return sorted(set(by_label.values()))


def parse_moment(text: str | None, moments: list[float]) -> float | None:
    """A link's `at=` as one of `moments`: a plain number inside the race, snapped to the stop at
    or before it (a link made while a replay was still running). None for anything else."""
    if not isinstance(text, str) or not MOMENT_TEXT.fullmatch(text) or not moments:
        return None
    value = float(text)
    if not moments[0] <= value <= moments[-1]:
        return None
    return max(moment for moment in moments if moment <= value)


def moment_text(moment: float, axis: str) -> str:
    """The moment as the link writes it: `12.3` seconds or `12800` images."""
    return f"{moment:.1f}" if axis == "seconds" else str(int(moment))


# -- restoring the view from the link --------------------------------------------------------------
def _restore_twin(twins: list[Twin]) -> None:
    state = st.session_state
    ids = [twin.twin_id for twin in twins]
    if state.get("twin_choice") in ids:
        return
    linked = find_twin(share.url_value(TWIN_PARAM))
    usable = linked is not None and linked.twin_id in ids
    if not usable and share.url_value(TWIN_PARAM) is not None:
        share.notice_bad_value(TWIN_PARAM, N_("one on offer here"))
    state["twin_choice"] = linked.twin_id if usable else ids[0]


def _restore_moment(moments: list[float], axis: str, live: bool) -> None:
    """Point the slider at a stop: the session's, else the link's, else the newest.

    While the race is live, a slider left at the newest stop follows the new snapshots.
    """
    state = st.session_state
    current = state.get("twin_time")
    if current in moments and not (live and current == state.get("twin_time_newest")):
        state["twin_time_newest"] = moments[-1]
        return
    if current is None and share.url_value(MOMENT_PARAM) is not None and not state.get("twin_time_linked"):
        state["twin_time_linked"] = True  # a link's moment is read once per session
        linked = parse_moment(share.url_value(MOMENT_PARAM), moments)
        if linked is None:
            share.notice_bad_value(MOMENT_PARAM, N_("a moment of this race"))
        else:
            state["twin_time"], state["twin_time_newest"] = linked, moments[-1]
            return
    state["twin_time"] = state["twin_time_newest"] = moments[-1]


# -- the page ------------------------------------------------------------------------------------
def render_twin_page() -> None:
    """The whole page under its title: replay controls, the picker and the race (live while active)."""
    st.markdown(PAGE_CSS, unsafe_allow_html=True)
    twins = find_twins()
    if not twins:
        st.info(_("No twin race yet. **Twin run: GAN vs VAE** on the Train page trains both on one seed and budget "
                  "(tick **With diffusion** for a three-way race); or replay the recorded race below, no training "
                  "needed."), icon=":material/sprint:")
        if _render_replay_controls():
            st.rerun()
        if share.url_value(TWIN_PARAM) is not None:
            share.notice_bad_value(TWIN_PARAM, N_("one on offer here"))
        return
    _restore_twin(twins)
    by_id = {twin.twin_id: twin for twin in twins}
    share.restore_choice("twin_axis", AXIS_PARAM, list(AXES), "seconds")
    pick_column, axis_column, replay_column = st.columns([4, 3, 3], vertical_alignment="bottom")
    twin = by_id[pick_column.selectbox(_("Race"), list(by_id), key="twin_choice",
                                       format_func=lambda twin_id: twin_label(by_id[twin_id]))]
    axis = axis_column.radio(_("Clock"), AXES, key="twin_axis", horizontal=True,
                             format_func=lambda name: _(AXIS_LABELS[name]))
    with replay_column:
        if _render_replay_controls():
            st.rerun()
    share.publish_all({TWIN_PARAM: twin.twin_id, AXIS_PARAM: axis})
    live = any(run.status().get("state") in ACTIVE_STATES for run in twin.runs)

    @st.fragment(run_every="1s" if live else None)
    def race():
        still_live = any(run.status().get("state") in ACTIVE_STATES for run in twin.runs)
        if live and not still_live:
            st.rerun()  # the race is over: redraw once without the timer
        render_race(twin, axis, still_live)

    race()


def _render_replay_controls() -> bool:
    """The demo pack's recorded race in a popover: speed and a Replay button. True once started."""
    names = studio.list_twin_recordings()
    if not names:
        return False
    with st.popover(_("Replay a recorded race"), icon=":material/replay:", width="stretch"):
        texts = recording_texts(tuple(names), twins=True)
        name = names[0]
        if len(names) > 1:
            name = st.selectbox(_("Recording"), names, key="twin_replay_choice",
                                format_func=lambda key: _(texts.get(key, (key, ""))[0]))
        st.caption(_(texts.get(name, ("", ""))[1]))
        speed = st.select_slider(_("Speed"), list(REPLAY_SPEEDS), value=4.0, key="twin_replay_speed",
                                 format_func=SPEED_TITLES.get)
        if st.button(_("Replay"), key="twin_replay", icon=":material/replay:", type="primary"):
            try:
                gan_run, _vae_run = studio.start_twin_replay(name, speed, requester())
            except (ValueError, OSError) as error:
                st.error(_("Could not replay: {reason}").format(reason=failure_text(error)))
                return False
            twin = read_twin(gan_run)
            if twin is not None:
                st.session_state["twin_choice"] = twin.twin_id
                st.session_state.pop("twin_time", None)  # start at the newest moment of the new race
                share.publish(TWIN_PARAM, twin.twin_id)
                share.publish(MOMENT_PARAM, None)
            return True
    return False



def render_race(twin: Twin, axis: str, live: bool) -> None:
    """The slider, every member at its moment with its losses, every quality curve and the verdict."""
    moments = race_moments(twin, axis)
    if not moments:
        st.caption(_("Neither twin has saved samples yet: the race starts with their first snapshots."))
        return
    _restore_moment(moments, axis, live)
    if len(moments) > 1:
        moment = st.select_slider(_("Moment of the race"), moments, key="twin_time",
                                  format_func=lambda value: format_moment(value, axis))
    else:
        moment = moments[0]
    share.publish(MOMENT_PARAM, moment_text(moment, axis))
    three_way = len(twin.members) > 2
    grid_width = ((THREE_WAY_PRESENTATION_GRID_WIDTH_PX if three_way else PRESENTATION_GRID_WIDTH_PX)
                  if share.presentation_mode() else (THREE_WAY_GRID_WIDTH_PX if three_way else GRID_WIDTH_PX))
    columns = st.columns([1] * len(twin.members) + [1.15], gap="small" if three_way else "medium")
    for column, (family, run) in zip(columns, twin.members):
        with column, st.container(key=f"twin_side_{family}"):
            _render_side(run, family, axis, moment, grid_width)
    with columns[-1]:
        st.plotly_chart(race_quality_figure(twin, axis, moment), key="twin_quality",
                        config={"displayModeBar": False})
        with st.container(key="twin_verdict"):
            _render_verdict(twin, axis, moment)
        if all(run.snapshots() for run in twin.runs):
            match = "time" if axis == "seconds" else "step"  # members share a batch size: steps count images
            versions = tuple(tuple(step for step, _unused in run.snapshots()) for run in twin.runs)
            run_ids = tuple(run.run_id for run in twin.runs)
            st.download_button(_("Twin GIF"),
                               data=lambda: _twin_gif(run_ids, match, versions),
                               file_name=f"{twin.twin_id}.gif", mime="image/gif", key="twin_gif",
                               on_click="ignore", icon=":material/gif_box:")


def _render_side(run: Run, family: str, axis: str, moment: float, grid_width: int) -> None:
    """One model: its name and state, its grid at the moment, its losses on the race's clock."""
    status = run.status()
    state = status.get("state", "unknown")
    colour = STATE_COLOURS.get(state, "gray")
    snapshots = run.snapshots()
    if not snapshots:
        st.markdown(f"**{family_title(family)}** · :{colour}-badge[{state_title(state)}]")
        st.caption(_("{model}: no samples yet.").format(model=family_title(family)))
        return
    timed = [(rounded_moment(when, axis), step, path) for when, step, path in timed_snapshots(run, axis)]
    _when, step, path = snapshot_at(timed, moment)
    header = _("**{model}** · step {step:,}").format(model=family_title(family), step=step)
    # The run's state belongs to now: shown while it trains, or once the slider reaches its last snapshot.
    if state in ACTIVE_STATES or step == timed[-1][1]:
        header += f" · :{colour}-badge[{state_title(state)}]"
    st.markdown(header)
    try:
        st.image(image_grid_png(run.load_snapshot(path), scale=4), width=grid_width, output_format="PNG")
    except ValueError as error:  # a damaged snapshot file: named, the other side still shows
        st.warning(_("{model}: the samples at step {step:,} cannot be shown: {reason}").format(
            model=family_title(family), step=step, reason=error))
    figure = race_loss_figure(run, family, axis, moment)
    if figure is not None:
        st.plotly_chart(figure, key=f"twin_loss_{family}", config={"displayModeBar": False})


def _render_verdict(twin: Twin, axis: str, moment: float) -> None:
    verdict = race_verdict(twin, moment, axis)
    if len(twin.members) > 2:
        _render_ranking(verdict)
        return
    gan_fid, vae_fid = verdict.fid["gan"], verdict.fid["vae"]
    if gan_fid is None and vae_fid is None:
        st.caption(_("No quality measured yet: the verdict comes with the first scored snapshots."))
    elif gan_fid is None or vae_fid is None:
        family = "GAN" if gan_fid is not None else "VAE"
        st.caption(_("Only the {model} has a quality score so far (FID {fid:,.0f}).").format(
            model=family, fid=gan_fid if gan_fid is not None else vae_fid))
    elif verdict.leader is None:
        st.info(_("Neck and neck: FID {gan:,.0f} for the GAN, {vae:,.0f} for the VAE.").format(
            gan=gan_fid, vae=vae_fid), icon=":material/balance:")
    else:
        leader, other = ("GAN", "VAE") if verdict.leader == "gan" else ("VAE", "GAN")
        leader_fid, other_fid = (gan_fid, vae_fid) if verdict.leader == "gan" else (vae_fid, gan_fid)
        st.success(_("The {leader} leads: FID {leader_fid:,.0f} against {other_fid:,.0f} for the {other} "
                     "(lower is better).").format(leader=leader, other=other, leader_fid=leader_fid,
                                                  other_fid=other_fid), icon=":material/emoji_events:")


def joined_titles(families) -> str:
    """Family titles as a sentence lists them: "GAN", "GAN and VAE", "GAN, VAE and Diffusion"."""
    titles = [family_title(family) for family in families]
    if len(titles) < 2:
        return "".join(titles)
    return _("{first} and {last}").format(first=", ".join(titles[:-1]), last=titles[-1])


def _render_ranking(verdict) -> None:
    """A three-way race's verdict: every measured member in order, best first, and who leads."""
    scores = " · ".join(_("{model} {fid:,.0f}").format(model=family_title(family), fid=verdict.fid[family])
                        for family in verdict.ranking)
    if not verdict.ranking:
        st.caption(_("No quality measured yet: the verdict comes with the first scored snapshots."))
    elif len(verdict.ranking) < len(verdict.fid):
        st.caption(_("FID so far: {scores}. The verdict waits until every model is measured.").format(scores=scores))
    elif verdict.leader is None:
        st.info(_("Neck and neck between the {models}: FID {scores} (lower is better).").format(
            models=joined_titles(verdict.level), scores=scores), icon=":material/balance:")
    else:
        st.success(_("The {leader} leads: FID {scores} (lower is better).").format(
            leader=family_title(verdict.leader), scores=scores), icon=":material/emoji_events:")


@st.cache_data(max_entries=4, show_spinner=False)
def _twin_gif(run_ids: tuple, match: str, versions: tuple) -> bytes:
    """Keyed by every member's snapshot steps too, so new snapshots make a new GIF."""
    return twin_gif(*(studio.get_run(run_id) for run_id in run_ids), match=match)
