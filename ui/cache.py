"""Cached loaders. Models are keyed by a source key string (never by an object) and are
read-only once cached: pages sample from them but never train or mutate them."""

from __future__ import annotations

import streamlit as st

from aigc_core.runs import RunStore
from aigc_core.sources import list_sources, load_source


@st.cache_resource(show_spinner=False)
def device_description() -> str:
    """"CPU" or the GPU's name; asked once per server (importing TensorFlow takes seconds)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU: {details.get('device_name', gpus[0].name)}"


@st.cache_resource(show_spinner="Loading model…", max_entries=16)
def _load_model(key: str, version: float):
    return load_source(key)


def load_model(key: str):
    """The model behind a source key, loaded once per checkpoint version.

    Raises:
        ValueError: for an unknown key or weights that do not fit their config.
    """
    for source in list_sources(RunStore()):
        if source.key == key:
            return _load_model(key, source.version())
    raise ValueError(f"no model source {key!r}")
