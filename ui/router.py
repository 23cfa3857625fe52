"""Make every page run inside app.py's router, even on a server's very first request.

Streamlit 1.67 starts in its legacy "pages/ folder" mode when a `pages/` directory exists
(`PagesManager.uses_pages_directory`, read by the script runner's `_mpa_v1`) and leaves
it only once `st.navigation` runs. If a server's first visitor opens a deep link such as
`/train?run=...`, the page script runs alone: no router, no sidebar, no wide layout. Each
page calls `ensure_router()` first; outside the router it switches the flag off (what
`st.navigation` itself does) and reruns, and the rerun goes through app.py to the same
page, because a page's identity is its url_path in both modes.
"""

from __future__ import annotations

import threading

import streamlit as st

_state = threading.local()


ROUTED_KEY = "router_has_run"


class routed:
    """Context manager app.py wraps around `page.run()`: pages inside it are routed."""

    def __enter__(self):
        _state.inside_router = True
        st.session_state[ROUTED_KEY] = True
        return self

    def __exit__(self, *exc_info):
        _state.inside_router = False
        return False


def ensure_router() -> None:
    """Rerun through app.py if this page script was started without it.

    Only a session's first run is rerun: it carries no widget event that a rerun would
    swallow. A later run outside the router (AppTest resets the legacy flag before each of
    its runs) renders the page as it is; the flag is switched off for the next run anyway.
    """
    if getattr(_state, "inside_router", False):
        return
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    if not st.session_state.get(ROUTED_KEY):
        st.session_state[ROUTED_KEY] = True  # never loop, whatever happens on the rerun
        st.rerun()
