"""A run's name in the UI: the title every page heads a run with, and the Runs page's form to rename it.

Names and notes are typed by visitors: wherever Streamlit reads markdown (a subheader, a
caption) they are escaped first, so that a name shows as typed and cannot make a link, an
image or a coloured block.
"""

from __future__ import annotations

import re

import streamlit as st

from aigc_core.studio import NAME_MAX_CHARS, NOTE_MAX_CHARS, NotOwner, Run, get_run, read_run_name, rename_run
from ui.i18n import _
from ui.visitor import failure_text, requester

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+|~$:!-])")


def plain(text: str) -> str:
    """`text` escaped for Streamlit markdown: shown as typed."""
    return _MARKDOWN.sub(r"\\\1", text)


def run_name(run: Run) -> str:
    """The run's name in the session's language (a name its owner gave is shown as typed); plain text."""
    return read_run_name(run).text(_)


def run_title(run: Run) -> str:
    """A run's heading on every page (Train, Runs, the twin view), escaped for markdown."""
    return plain(run_name(run))


def _save(run_id: str, name_key: str, note_key: str, message_key: str) -> None:
    """Form callback: runs before the page, so the title and table already show the new name; the
    outcome goes to `message_key` in Session State for the page to show."""
    try:
        run = get_run(run_id)  # the id, not a folder path: the page holds no file paths
        rename_run(run, requester(), st.session_state.get(name_key, ""), st.session_state.get(note_key, ""))
    except NotOwner:
        st.session_state[message_key] = ("error", _("Only the browser that started this run can rename it."))
        return
    except (ValueError, OSError) as error:
        st.session_state[message_key] = ("error", _("Could not rename the run: {reason}").format(
            reason=failure_text(error)))
        return
    st.session_state[message_key] = ("success", _("Saved the name and note."))


def render_name_form(run: Run, message_key: str) -> None:
    """Name and note of a run: a small form for its owner (or the operator); the outcome of a
    save is left in Session State under `message_key`."""
    named = read_run_name(run)
    name_key, note_key = f"runs_name_{run.run_id}", f"runs_note_{run.run_id}"
    with st.expander(_("Name and note"), icon=":material/edit:"):
        with st.form(key=f"runs_name_form_{run.run_id}", border=False):
            st.text_input(_("Name"), value=named.custom or "", max_chars=NAME_MAX_CHARS, key=name_key,
                          placeholder=named.generated(_),
                          help=_("Leave it empty to use the generated name."))
            st.text_area(_("Note"), value=named.note, max_chars=NOTE_MAX_CHARS, key=note_key, height=90,
                         placeholder=_("What you tried, what you saw…"))
            st.form_submit_button(_("Save"), key=f"runs_name_save_{run.run_id}", icon=":material/save:", on_click=_save,
                                  args=(run.run_id, name_key, note_key, message_key))
