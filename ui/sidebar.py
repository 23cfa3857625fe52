"""The sidebar every page shares: which device trains, and what is running now."""

import streamlit as st

from ui.cache import device_description


def render_sidebar() -> None:
    with st.sidebar:
        st.caption(f"Device: **{device_description()}**")
