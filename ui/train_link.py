"""The Train page's arrivals from a link, and its demo pack of recorded runs.

A lesson step (or a shared link) opens Train with `?model=gan|vae`, `?preset=...` or
`?broken=<break-it preset>`: the form is filled once per link, before it is drawn, and is the
user's again afterwards. The demo pack (`aigc_core.replay`) replays a recorded run through the
same live view, for a slow laptop or a class with no time to train.
"""

from __future__ import annotations

import streamlit as st

from aigc_core import studio
from aigc_core.diagnosis import BROKEN_PRESETS
from aigc_core.studio import FAMILIES, Run, presets_for
from ui.i18n import _
from ui.visitor import failure_text, requester

LINK_PARAMS = ("model", "preset", "broken")
APPLIED_KEY = "train_link_applied"
SPEED_TITLES = {0.25: "¼×", 0.5: "½×", 1.0: "1×", 2.0: "2×", 4.0: "4×"}


def apply_link_settings(apply_broken_preset) -> None:
    """Fill the form from `?model=`, `?preset=` and `?broken=`, once per distinct link.

    Args:
        apply_broken_preset: the form's own way of applying a break-it preset (it reads
            `train_broken` from Session State), so the link and the select box do the same thing.
    """
    link = tuple(st.query_params.get(name) for name in LINK_PARAMS)
    if not any(link) or st.session_state.get(APPLIED_KEY) == link:
        return
    st.session_state[APPLIED_KEY] = link
    model, preset, broken = link
    state = st.session_state
    if broken in BROKEN_PRESETS:
        state.train_broken = broken
        apply_broken_preset()
        return
    if model in FAMILIES:
        state.train_model = model
        state.pop("train_preset", None)  # the form's defaults follow the model
        if preset in presets_for(model):
            state.train_preset = preset


@st.cache_data(show_spinner=False)
def recording_texts(names: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """name -> (title, note) of the demo pack's recordings, read once per server, not on every rerun
    of the Train page (the pack's snapshots are 4 MB). A damaged recording is left out."""
    texts = {}
    for name in names:
        try:
            recording = studio.load_recording(name)
        except ValueError:
            continue
        texts[name] = (recording.title, recording.note)
    return texts


def render_replay_section() -> str | None:
    """Recorded runs of the demo pack; returns the id of a replay just started, else None."""
    recordings = recording_texts(tuple(studio.list_recordings()))
    if not recordings:
        return None
    with st.expander(_("Replay a recorded run (no training needed)"), icon=":material/replay:"):
        st.caption(_("Real runs recorded on this project's presets, replayed through the same live view at the "
                     "speed you choose: for a slow laptop, or a class with no time to train."))
        choice_column, speed_column, button_column = st.columns([4, 2, 2], vertical_alignment="bottom")
        name = choice_column.selectbox(_("Recording"), list(recordings), key="train_replay_choice",
                                       format_func=lambda key: _(recordings[key][0]))
        speed = speed_column.select_slider(_("Speed"), list(studio.REPLAY_SPEEDS), value=1.0, key="train_replay_speed",
                                           format_func=SPEED_TITLES.get)
        st.caption(_(recordings[name][1]))
        if button_column.button(_("Replay"), key="train_replay", icon=":material/replay:", width="stretch"):
            try:
                return studio.start_replay(name, speed, requester()).run_id
            except (ValueError, OSError) as error:
                st.error(_("Could not replay: {reason}").format(reason=failure_text(error)))
    return None


def replay_caption(run: Run) -> None:
    """Say that a run is a replay, so nobody mistakes it for training happening now."""
    details = run.raw_status().get("replay")
    if isinstance(details, dict) and details.get("title"):
        speed = SPEED_TITLES.get(details.get("speed"), "")
        st.caption(_("Replay of a recorded run: {title}, at {speed} speed. Nothing is being trained.").format(
            title=_(str(details["title"])), speed=speed))
