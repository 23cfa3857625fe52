"""Who is visiting: a browser identity that survives reloads and new tabs, and operator rights.

Session State dies with a reload, so it cannot hold what a browser may do. The identity comes
from the `_streamlit_xsrf` cookie the server sets once per browser (its token part: the
cookie's mask changes from page load to page load, its token does not); without that cookie
(XSRF protection off, or AppTest) it falls back to a random id for this session. Only a
salted hash of it ever leaves this module (`aigc_core.runs.ownership`).

An operator opens any page once with `?admin=<$AIGC_ADMIN_TOKEN>`: that session may then
stop, resume and delete every run. The token is taken out of the URL at once, so that no
shared link carries it.
"""

from __future__ import annotations

import binascii
import errno
import hmac
import os
import secrets

import streamlit as st

from aigc_core import studio
from aigc_core.studio import Requester, Run
from ui.i18n import N_, _, error_text

XSRF_COOKIE = "_streamlit_xsrf"
FALLBACK_KEY = "visitor_fallback_identity"
OPERATOR_KEY = "visitor_is_operator"
ADMIN_PARAM = "admin"
# The note shown in place of each control only the run's owner may use (one sentence per action,
# so that a translation can word the verb).
OWNER_ONLY_NOTES = {"stop": N_("Only the browser that started this run can stop it."),
                    "resume": N_("Only the browser that started this run can resume it."),
                    "delete": N_("Only the browser that started this run can delete it.")}


def browser_cookie() -> str | None:
    """The browser's XSRF cookie as the WebSocket handshake carried it (None in AppTest)."""
    try:
        value = st.context.cookies.get(XSRF_COOKIE)
    except Exception:  # no client context (bare mode)
        return None
    return value if isinstance(value, str) and value else None  # AppTest's client is a mock object


def cookie_token(cookie: str) -> str:
    """The stable token inside a version-2 XSRF cookie `2|mask|masked token|time`, in hex.

    The server re-masks the same token with a fresh random mask on every page load; the
    token itself lives as long as the cookie. Any other shape is used as it is.
    """
    parts = cookie.strip("\"'").split("|")
    if len(parts) == 4 and parts[0] == "2":
        try:
            mask, masked = binascii.a2b_hex(parts[1]), binascii.a2b_hex(parts[2])
        except (binascii.Error, ValueError):
            return cookie
        if mask:
            return bytes(byte ^ mask[index % len(mask)] for index, byte in enumerate(masked)).hex()
    return cookie


def identity_from_cookie(cookie: str) -> str:
    return "cookie:" + cookie_token(cookie)


def visitor_identity() -> str:
    """The browser's identity: its cookie token, else a random id kept for this session only."""
    cookie = browser_cookie()
    if cookie:
        return identity_from_cookie(cookie)
    return "session:" + st.session_state.setdefault(FALLBACK_KEY, secrets.token_hex(16))


def accept_admin_token() -> None:
    """Grant this session operator rights for a valid `?admin=` token, and drop it from the URL."""
    offered = st.query_params.get(ADMIN_PARAM)
    if offered is None:
        return
    st.query_params.pop(ADMIN_PARAM, None)
    expected = os.environ.get("AIGC_ADMIN_TOKEN", "")
    if expected and hmac.compare_digest(offered.encode(), expected.encode()):
        st.session_state[OPERATOR_KEY] = True
        st.toast(_("Operator mode: this tab may stop, resume and delete every run."))
    else:
        st.toast(_("That operator link is not valid on this server."))


def is_operator() -> bool:
    return bool(st.session_state.get(OPERATOR_KEY))


def requester() -> Requester:
    """This visitor, as the library's caps and ownership checks know them."""
    return studio.visitor(visitor_identity(), operator=is_operator())


def may_control_run(run: Run) -> bool:
    """True when this visitor may stop, pause, resume or delete `run` (its owner, or the operator)."""
    return studio.may_control(run, requester())


def not_owner_note(action: str) -> None:
    """The one line a visitor sees instead of a control that belongs to the run's owner."""
    st.caption(_(OWNER_ONLY_NOTES[action]) if action in OWNER_ONLY_NOTES
               else _("Only the browser that started this run can control it."))


def failure_text(error: Exception) -> str:
    """A refused stop, resume or delete in one line, in the session's language: a read-only folder is named as such."""
    return os_error_text(error) if isinstance(error, OSError) else error_text(error)


def os_error_text(error: OSError) -> str:
    """A failed write to the runs folder in one line: a read-only folder or a full disk in the session's
    language, any other file-system error as `aigc_core.runs.ownership.write_failure` words it."""
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return _("the runs folder is read-only")
    if error.errno == errno.ENOSPC:
        return _("the server's disk is full")
    return studio.write_failure(error)
