"""Shareable views: each page's main state mirrored in the URL, and the presentation mode.

A page restores its keyed widgets from `st.query_params` before drawing them (only when the
session has no valid value yet, i.e. on a fresh tab or a pasted link), then publishes the
values back, so a copied link reopens the same view. Values from a URL are untrusted: a run id
goes through `check_run_id`, every value must be one of the options on offer, a number must be
plain ASCII digits in range, and anything else (a deleted run, a typo, an old link) falls back to
the default with a one-line notice that names the control, never the value itself.

Widgets restored here are drawn without `index=`/`value=`: their value lives in Session State,
as the Train form's do, so Streamlit never sees two competing defaults.
"""

from __future__ import annotations

import re

import streamlit as st

from aigc_core.studio import check_run_id
from ui.i18n import DEFAULT_LANGUAGE, LANGUAGE_PARAM, N_, _, current_language

PRESENTATION_KEY = "presentation_mode"
PRESENT_PARAM = "present"
TRUE_VALUES = ("1", "true", "yes", "on")
FALSE_VALUES = ("0", "false", "no", "off")
# ASCII digits only, at most 18 of them: `str.isdigit()` accepts "²", `int()` accepts "٣" and
# " 5", and a 5,000-digit number makes `int()` itself raise.
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")
# What a notice calls each URL parameter: the label of the control it sets.
PARAM_LABELS = {
    "seed": N_("seed"), "seed_a": N_("seed A"), "seed_b": N_("seed B"), "left": N_("left model"),
    "right": N_("right model"), "timeline": N_("timeline run"), "step": N_("timeline step"), "source": N_("model"),
    "method": N_("interpolation"), "run": N_("run"), "axis": N_("race clock"), "twin": N_("twin pair"), "at": N_("race moment"),
    "vae": "VAE", "gan": "GAN", "digit": N_("digit"), "digit_b": N_("second digit"), "walk": N_("what moves"),
    "per_digit": N_("samples per digit"), "digits": N_("row of test-set indices"), PRESENT_PARAM: N_("presentation mode"),
}
# Plot heights and chart fonts grow by this factor in presentation mode (page text is scaled by the CSS below).
PRESENTATION_FIGURE_SCALE = 1.35
PRESENTATION_CSS = """
<style>
/* Presentation mode: everything a class reads is at least 20 px (1.25 rem) at any screen size,
   the sidebar is narrow, the toolbar is gone. Settings panels stay (folded while a run is shown),
   so every page keeps its main action. KaTeX sizes its sub- and superscripts in em: left alone. */
[data-testid="stToolbar"], [data-testid="stDecoration"] { display: none; }
[data-testid="stMain"] .block-container { padding-top: 1.5rem; max-width: 100%; }
[data-testid="stMain"] :is(p, li, span, label, input, textarea, button, td, th, div, summary, code):not(.katex, .katex *),
[data-testid="stSidebar"] :is(p, li, span, label, a, div, input, button):not(.katex, .katex *) { font-size: max(1em, 1.25rem) !important; }
[data-testid="stMain"] :is(p, li):not(.katex, .katex *) { font-size: max(1em, 1.35rem) !important; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] { color: inherit; opacity: 0.85; }
[data-testid="stMain"] h1 { font-size: 3.2rem; }
[data-testid="stMain"] h2 { font-size: 2.4rem; }
[data-testid="stMain"] h3 { font-size: 2rem; }
[data-testid="stMain"] h4 { font-size: 1.7rem; }
[data-testid="stMain"] .katex { font-size: 2rem !important; }
[data-testid="stMain"] button[kind="primary"] { min-height: 3.5rem; padding: 0.5rem 2rem; }
[data-testid="stMain"] [data-baseweb="select"] > div, [data-testid="stMain"] [data-baseweb="input"] { min-height: 3rem; }
section[data-testid="stSidebar"] { width: 17rem !important; min-width: 17rem !important; max-width: 17rem !important; }
</style>
"""


# -- reading the URL -------------------------------------------------------------------------
def url_value(param: str) -> str | None:
    """The URL's value for `param` (the last one if repeated), or None."""
    value = st.query_params.get(param)
    return value if isinstance(value, str) and value else None


def url_run_id(param: str) -> str | None:
    """A run id from the URL if it is well formed, else None (never an exception)."""
    value = url_value(param)
    try:
        return check_run_id(value) if value is not None else None
    except ValueError:
        return None


def parse_int(value: str | None, low: int, high: int) -> int | None:
    """A whole number in [low, high] from URL text (ASCII digits, an optional minus), or None."""
    if not isinstance(value, str) or not WHOLE_NUMBER.fullmatch(value):
        return None
    number = int(value)
    return number if low <= number <= high else None


def notice_bad_value(param: str, expected: str) -> None:
    """One line under the control's place: the link's value was not usable, the default is shown.

    The value itself is not echoed: it is untrusted text and would be rendered as Markdown.
    """
    label = _(PARAM_LABELS[param]) if param in PARAM_LABELS else param
    # `expected` may come untranslated from another module (twin_view): a translated one maps to itself.
    st.info(_("This link's {control} is not {expected}, so the default is shown.").format(control=label,
                                                                                        expected=_(expected)),
            icon=":material/link_off:")


# -- restoring widgets before they are drawn ----------------------------------------------------
def restore_choice(key: str, param: str, options: list, default, run_id: bool = False) -> None:
    """Point a choice widget (selectbox, radio, select_slider) at a valid option.

    Order: the session's own value if it is still an option, else the URL's if it is one,
    else `default`. With `run_id=True` the URL value must also be a well-formed run id.
    """
    state = st.session_state
    if state.get(key) in options:
        return
    value = url_run_id(param) if run_id else url_value(param)
    usable = value is not None and value in options
    if not usable and url_value(param) is not None:
        notice_bad_value(param, _("one on offer here"))
    state[key] = value if usable else default


def restore_int(key: str, param: str, default: int, low: int, high: int) -> None:
    """Give a number widget the URL's whole number (in [low, high]) unless the session has one."""
    state = st.session_state
    current = state.get(key)
    if isinstance(current, (int, float)) and not isinstance(current, bool) and low <= current <= high:
        return
    value = parse_int(url_value(param), low, high)
    if value is None and url_value(param) is not None:
        notice_bad_value(param, _("a whole number from {low:,} to {high:,}").format(low=low, high=high))
    state[key] = default if value is None else value


# -- writing the URL -----------------------------------------------------------------------------
def publish(param: str, value) -> None:
    """Mirror a value in the URL (None removes the parameter); no write when it is already there."""
    if value is None:
        if param in st.query_params:
            del st.query_params[param]
        return
    text = str(value)
    if st.query_params.get(param) != text:
        st.query_params[param] = text


def publish_all(values: dict) -> None:
    for param, value in values.items():
        publish(param, value)


# -- presentation mode --------------------------------------------------------------------------
def _in_script_run() -> bool:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return get_script_run_ctx() is not None


def presentation_mode() -> bool:
    """True while the sidebar's presentation toggle is on (False outside a Streamlit script run)."""
    if not _in_script_run():
        return False
    return bool(st.session_state.get(PRESENTATION_KEY, False))


def figure_scale() -> float:
    """How much taller figures are drawn: `PRESENTATION_FIGURE_SCALE` in presentation mode, else 1."""
    return PRESENTATION_FIGURE_SCALE if presentation_mode() else 1.0


def restore_presentation() -> None:
    """Before the toggle is drawn: `?present=1` turns presentation mode on for a fresh session."""
    if PRESENTATION_KEY not in st.session_state:
        value = (url_value(PRESENT_PARAM) or "").lower()
        if value and value not in TRUE_VALUES + FALSE_VALUES:
            notice_bad_value(PRESENT_PARAM, _("on (1) or off (0)"))
        st.session_state[PRESENTATION_KEY] = value in TRUE_VALUES


def apply_presentation() -> None:
    """After the toggle: keep `?present=1` in the URL while it is on, and restyle the page."""
    on = presentation_mode()
    publish(PRESENT_PARAM, "1" if on else None)
    if on:
        st.markdown(PRESENTATION_CSS, unsafe_allow_html=True)


def view_params() -> dict[str, str]:
    """The link parameters of how the app looks now (its language, presentation mode), for a page switch.

    `st.switch_page` gives the new page only the parameters it is handed, and the session lost
    its language and presentation mode on such a switch (a Chinese lesson turned English, a
    projected one small, at its first change of page; Home's "Train a GAN now" the same); the new
    page restores both from the link, as it does for a shared one. The sidebar's own page links
    keep them without this.
    """
    params = {}
    language = current_language()
    if language != DEFAULT_LANGUAGE or st.query_params.get(LANGUAGE_PARAM) is not None:
        params[LANGUAGE_PARAM] = language
    if presentation_mode():
        params[PRESENT_PARAM] = "1"
    return params


def switch_page(page: str, query_params: dict[str, str] | None = None) -> None:
    """`st.switch_page` that keeps the session's language and presentation mode (see `view_params`)."""
    st.switch_page(page, query_params={**(query_params or {}), **view_params()})
