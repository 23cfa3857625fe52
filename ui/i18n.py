"""The app's two languages: English (the source text) and Simplified Chinese.

Visible strings are written in English inside `_()` (or `N_()` where the text is defined
before a language is known, e.g. a module-level table) and translated at render time from a
gettext catalogue, `ui/locales/<lang>/LC_MESSAGES/messages.po`. The catalogue is read with
Babel, the Python ecosystem's gettext toolkit, straight from the `.po` file, so there is no
compiled `.mo` to go stale and no build step between editing a translation and seeing it.
`scripts/update_translations.sh` extracts new strings with `pybabel extract`; a test fails when
a marked string has no Chinese translation.

The language is chosen, in this order: the session's own choice (the sidebar switch), the
link's `?lang=zh|en`, the browser's language (`st.context.locale`), English.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import streamlit as st

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_KEY = "language"
LANGUAGE_PARAM = "lang"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """msgid -> translation for one language (fuzzy and empty entries left out: they fall back to English).

    Read once per server process; a missing catalogue means no translation, never an error.
    """
    from babel.messages.pofile import read_po

    path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == DEFAULT_LANGUAGE or not path.is_file():
        return {}
    with open(path, "rb") as stream:
        messages = read_po(stream, locale=language)
    return {message.id: message.string for message in messages
            if message.id and isinstance(message.id, str) and message.string and not message.fuzzy}


def _in_script_run() -> bool:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return get_script_run_ctx() is not None


def current_language() -> str:
    """The session's language code ("en" outside a Streamlit script run, e.g. in the CLI)."""
    if not _in_script_run():
        return DEFAULT_LANGUAGE
    language = st.session_state.get(LANGUAGE_KEY)
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def _(message: str) -> str:
    """`message` in the session's language (the English text when no translation exists)."""
    language = current_language()
    if language == DEFAULT_LANGUAGE:
        return message
    return catalogue(language).get(message, message)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet (translate with `_()` when shown)."""
    return message


def error_text(error, labels: dict[str, str] | None = None) -> str:
    """An error's (or a library `Message`'s) first line for a page, in the session's language.

    A library `MessageError` or `Message` carries its English template and values: the template is
    translated and filled, and an error's technical detail left out. Its `setting` (a code name such as `per_class`)
    becomes the control's label in quotes when `labels` (code name -> translated label) has it.
    Any other error keeps its own first line.
    """
    template, values = getattr(error, "template", None), getattr(error, "values", None)
    if isinstance(template, str) and isinstance(values, dict):
        if labels and values.get("setting") in labels:
            values = {**values, "setting": "“" + labels[values["setting"]] + "”"}
        try:
            return _(template).format(**values)
        except (KeyError, IndexError, ValueError):  # a translation that lost a placeholder: the English line
            return template.format(**values)
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def browser_language() -> str | None:
    """"zh" or "en" from the browser's `navigator.language`, or None when it is neither or unknown."""
    try:
        locale = st.context.locale
    except Exception:  # older runtimes and AppTest may not carry a locale
        return None
    if not isinstance(locale, str):
        return None
    code = locale.split("-")[0].split("_")[0].lower()
    return code if code in LANGUAGES else None


def restore_language() -> None:
    """Before anything is drawn: settle the session's language (switch, then link, then browser)."""
    state = st.session_state
    if state.get(LANGUAGE_KEY) in LANGUAGES:
        return
    linked = st.query_params.get(LANGUAGE_PARAM)
    if isinstance(linked, str) and linked.lower() in LANGUAGES:
        state[LANGUAGE_KEY] = linked.lower()
        return
    state[LANGUAGE_KEY] = browser_language() or DEFAULT_LANGUAGE


def render_language_switch() -> None:
    """The sidebar's language switch; the choice is kept in the link as `?lang=`.

    Its label is in both languages so a visitor who cannot read the current one still finds it.
    """
    st.selectbox("Language / 语言", options=list(LANGUAGES), format_func=LANGUAGES.get, key=LANGUAGE_KEY,
                 on_change=redraw_choices)
    language = current_language()
    style = uploader_style()
    if style:
        st.html(style)  # a style sheet alone goes to Streamlit's event container: no gap in the sidebar
    if language == DEFAULT_LANGUAGE and st.query_params.get(LANGUAGE_PARAM) is None:
        return  # an English link stays short unless it said lang= itself
    if st.query_params.get(LANGUAGE_PARAM) != language:
        st.query_params[LANGUAGE_PARAM] = language


def redraw_choices() -> None:
    """After the language changed: give every keyed widget its own value again, so the browser redraws it.

    A select box sends back the label it shows, and Streamlit finds the same choice from the old
    language's label without telling the browser, which kept showing that label until the
    choice changed or the page was reloaded. A value written into Session State is sent to the
    browser with the widget, in the new words. Booleans (buttons, checkboxes) and uploaded files
    are left alone: they have no words, and a button's value cannot be written.
    """
    state = st.session_state
    for key in list(state.keys()):
        value = state[key]
        if key != LANGUAGE_KEY and isinstance(value, (str, int, float, list, tuple)) and not isinstance(value, bool):
            state[key] = value


def uploader_style() -> str | None:
    """A style sheet that words Streamlit's file uploader in the session's language (None in English).

    Streamlit 1.67 draws the uploader's own button ("Upload") and its limit line ("5MB per file •
    PNG, JPG") in English whatever the page's language, and takes no text for them. Hiding those
    words and drawing the session's in their place (CSS `::after` content) is the known
    workaround. The file types are left out: each uploader's label names them.
    """
    if current_language() == DEFAULT_LANGUAGE:
        return None
    button = json.dumps(_("Upload"), ensure_ascii=False)
    limit = json.dumps(_("at most {size} MB per file").format(size=st.get_option("server.maxUploadSize")),
                       ensure_ascii=False)
    dropzone = '[data-testid="stFileUploaderDropzone"]'
    return f"""<style>
{dropzone} button [data-testid="stMarkdownContainer"] p {{ font-size: 0; }}
{dropzone} button [data-testid="stMarkdownContainer"] p::after {{ content: {button}; font-size: 14px; }}
[data-testid="stFileUploaderDropzoneInstructions"] span {{ font-size: 0; }}
[data-testid="stFileUploaderDropzoneInstructions"] span::after {{ content: {limit}; font-size: 14px; }}
</style>"""
