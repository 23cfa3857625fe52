"""The Train page's arrivals from a link, and its demo pack of recorded runs.

A lesson step (or a shared link) opens Train with `?model=gan|vae`, `?preset=...` or
`?broken=<break-it preset>`, and a shared link also with every other field changed from its
default (`?steps=`, `?g_learning_rate=`, ...): the form is filled once per link, before it is
drawn, and is the user's again afterwards; each change is written back into the link. The demo pack (`aigc_core.runs.replay`) replays a recorded run through the
same live view, for a slow laptop or a class with no time to train.
"""

from __future__ import annotations

import math
import re

import streamlit as st

from aigc_core import studio
from aigc_core.config import MAX_BATCH_SIZE, MAX_MINUTES, MAX_STEPS, TrainingConfig, override_rules
from aigc_core.quality.diagnosis import BROKEN_PRESETS
from aigc_core.studio import DATASET_NAMES, FAMILIES, MAX_SEED, PRECISIONS, Run, presets_for
from ui.i18n import N_, _
from ui.share import parse_int, publish_all, url_value
from ui.train_view import (
    HYPERPARAMETER_KEYS, MIN_MINUTES, broken_preset_values, form_defaults, format_number, setting_label,
    shown_hyperparameters,
)
from ui.visitor import failure_text, requester

APPLIED_KEY = "train_link_applied"
SPEED_TITLES = {0.25: "¼×", 0.5: "½×", 1.0: "1×", 2.0: "2×", 4.0: "4×"}
# The form's fields a link carries, as URL parameter -> widget key (besides model, preset, broken
# and the hyperparameters, which are named as `TrainingConfig.overrides` names them).
FIELD_KEYS = {"dataset": "train_dataset", "batch_size": "train_batch_size", "steps": "train_steps",
              "minutes": "train_minutes", "seed": "train_seed", "precision": "train_precision"}
HYPERPARAMETER_PARAMS = tuple(dict.fromkeys(name for keys in HYPERPARAMETER_KEYS.values() for name in keys.values()))
LINK_PARAMS = ("model", "preset", "broken", *FIELD_KEYS, *HYPERPARAMETER_PARAMS)
# A plain decimal number as `repr(float)` writes it ("0.0002", "1e-05"): `float()` alone would
# also take "nan", "inf", "1_0" and " 2".
DECIMAL = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,12})?([eE][-+]?[0-9]{1,3})?")
DEFAULT_MODEL = TrainingConfig.__dataclass_fields__["model"].default
CHOICE_LABELS = {"model": N_("Model"), "preset": N_("Preset"), "broken": N_("Break it on purpose")}


def link_key() -> tuple:
    """The form's part of the URL, as a hashable value: which link has been applied already."""
    return tuple((param, value) for param in LINK_PARAMS if (value := url_value(param)) is not None)


def parse_decimal(value: str, low: float, high: float) -> float | None:
    """A number in [low, high] from URL text written as plain decimal digits, or None."""
    if not DECIMAL.fullmatch(value):
        return None
    number = float(value)
    return number if math.isfinite(number) and low <= number <= high else None


def field_label(param: str, family: str) -> str:
    """What the form calls the control a URL parameter sets (the notice names it, never the value)."""
    return _(CHOICE_LABELS[param]) if param in CHOICE_LABELS else setting_label(param, family)


def field_rule(param: str, family: str, preset: str) -> tuple | None:
    """(kind, low, high) a URL value of `param` must fit for this variant; None when it has no such field."""
    if param in ("dataset", "precision"):
        return ("choice", DATASET_NAMES if param == "dataset" else PRECISIONS, None)
    if param == "minutes":
        return ("float", MIN_MINUTES, MAX_MINUTES)
    if param == "seed":
        return ("int", 0, MAX_SEED)
    if param in ("steps", "batch_size"):
        return ("int", 1, MAX_STEPS if param == "steps" else MAX_BATCH_SIZE)
    rules = override_rules(family, preset)
    if param not in rules or param not in HYPERPARAMETER_KEYS[family].values():
        return None
    kind, low, high = rules[param]
    if kind == "choice":  # a diffusion model's objective: one of the names on offer
        return ("choice", low, None)
    return ("int" if kind == "int" else "float", low, high)


def parse_field(value: str, rule: tuple):
    """The widget value for URL text under `rule`, or None when the text does not fit it."""
    kind, low, high = rule
    if kind == "choice":
        return value if value in low else None
    if kind == "int":
        return parse_int(value, low, high)
    return parse_decimal(value, float(low), float(high))


def expected_text(rule: tuple | None) -> str:
    if rule is None:
        return _("a setting of this model")
    kind, low, high = rule
    if kind == "choice":
        return _("one on offer here")
    if kind == "int":
        return _("a whole number from {low:,} to {high:,}").format(low=low, high=high)
    return _("a number from {low} to {high}").format(low=format_number(low), high=format_number(high))


def notice_bad_field(param: str, family: str, rule: tuple | None) -> None:
    """One line naming the control whose link value was not usable (the value itself is not echoed)."""
    st.info(_("This link's {control} is not {expected}, so the default is shown.").format(
        control=field_label(param, family), expected=expected_text(rule)), icon=":material/link_off:")


def link_values(values: dict) -> dict:
    """Widget key -> value for a link's form parameters, each bad one named in a notice and left at its default.

    The link describes a whole form: fields it does not name get their defaults, so the
    reopened form is the one that was shared, whatever this session had before.
    """
    state, broken = {}, values.get("broken")
    if broken is not None and broken not in BROKEN_PRESETS:
        notice_bad_field("broken", "gan", ("choice", (), None))
        broken = None
    if broken:
        state.update(broken_preset_values(broken))
        family, preset = state["train_model"], state["train_preset"]
        state.update({key: value for key, value in form_defaults(family, preset).items() if key not in state})
        state["train_broken"] = broken
    else:
        family = values.get("model", DEFAULT_MODEL)
        if family not in FAMILIES:
            notice_bad_field("model", "gan", ("choice", (), None))
            family = DEFAULT_MODEL
        preset = values.get("preset", presets_for(family)[0])
        if preset not in presets_for(family):
            notice_bad_field("preset", family, ("choice", (), None))
            preset = presets_for(family)[0]
        state.update(train_model=family, train_preset=preset, **form_defaults(family, preset))
    keys = {**FIELD_KEYS, **{name: key for key, name in shown_hyperparameters(family, preset).items()}}
    for param in (*FIELD_KEYS, *HYPERPARAMETER_PARAMS):
        if param not in values:
            continue
        rule = field_rule(param, family, preset) if param in keys else None
        value = parse_field(values[param], rule) if rule else None
        if value is None:
            notice_bad_field(param, family, rule)
            continue
        state[keys[param]] = value
        if param in ("steps", "minutes"):
            state["train_budget_kind"] = param
    return state


def apply_link_settings(apply_broken_preset=None) -> None:
    """Fill the whole form from the link's parameters, once per distinct link, before it is drawn.

    A lesson step links `?model=`, `?preset=` or `?broken=<break-it preset>`; a shared link
    carries every field changed from its default (`publish_form_link`). Afterwards the form is
    the user's again. `apply_broken_preset` is accepted for older callers and no longer needed:
    the break-it preset's values come from `train_view.broken_preset_values`.
    """
    link = link_key()
    if not link or st.session_state.get(APPLIED_KEY) == link:
        return
    st.session_state[APPLIED_KEY] = link
    st.session_state.update(link_values(dict(link)))


def _differs(value, default) -> bool:
    if isinstance(value, float) or isinstance(default, float):
        return not math.isclose(float(value), float(default), rel_tol=1e-9, abs_tol=1e-12)
    return value != default


def link_text(value) -> str:
    """A field's value as its URL parameter writes it: a float in full ("0.0002", "1e-05"), so it reads back equal."""
    return repr(float(value)) if isinstance(value, float) else str(value)


def form_link(state) -> dict[str, str | None]:
    """URL parameter -> text for every form field that differs from what a link without it gives (None: drop it)."""
    family, preset = state.get("train_model"), state.get("train_preset")
    broken = state.get("train_broken")
    if family not in FAMILIES or preset not in presets_for(family):
        return {}
    if broken in BROKEN_PRESETS and (BROKEN_PRESETS[broken].family, BROKEN_PRESETS[broken].preset) == (family, preset):
        baseline = {**form_defaults(family, preset), **broken_preset_values(broken), "train_broken": broken}
        link = {"broken": broken, "model": None, "preset": None}
    else:
        baseline = {"train_model": DEFAULT_MODEL, "train_preset": presets_for(family)[0],
                    **form_defaults(family, preset)}
        link = {"broken": None, "model": family if family != DEFAULT_MODEL else None,
                "preset": preset if preset != presets_for(family)[0] else None}
    keys = {**FIELD_KEYS, **{name: key for key, name in shown_hyperparameters(family, preset).items()}}
    minutes = state.get("train_budget_kind") == "minutes"
    for param in (*FIELD_KEYS, *HYPERPARAMETER_PARAMS):
        key = keys.get(param)
        value = state.get(key) if key else None
        if value is None or (param == "steps" and minutes) or (param == "minutes" and not minutes):
            link[param] = None
        elif param == "minutes" or _differs(value, baseline.get(key)):  # a time budget is never the default
            link[param] = link_text(value)
        else:
            link[param] = None
    return link


def publish_form_link() -> None:
    """After the form is drawn: keep its changed fields in the URL, so a copied link reopens the same form.

    The link written here counts as applied already: reading it back would reset the form.
    """
    publish_all(form_link(st.session_state))
    st.session_state[APPLIED_KEY] = link_key()


@st.cache_data(show_spinner=False)
def recording_texts(names: tuple[str, ...], twins: bool = False) -> dict[str, tuple[str, str]]:
    """name -> (title, note) of the demo pack's recordings (its twin races with `twins`), read once
    per server, not on every rerun of a page (the pack's snapshots are 4 MB). A damaged recording is
    left out."""
    load = studio.load_twin_recording if twins else studio.load_recording
    texts = {}
    for name in names:
        try:
            recording = load(name)
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
