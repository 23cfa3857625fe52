"""Cached loaders. Models are keyed by a source key string (never by an object) and are
read-only once cached: pages sample from them but never train or mutate them."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from aigc_core import studio


def weights_directory() -> Path:
    """`$AIGC_WEIGHTS_DIR`, or the package's `weights/` folder.

    Read at call time (aigc_core binds WEIGHTS_DIR as a default argument when imported), so a
    test or a deployment can point the app at another folder.
    """
    return Path(os.environ.get("AIGC_WEIGHTS_DIR") or studio.default_weights_dir())


def model_sources():
    """Every model source (shipped weights, then runs with a checkpoint), read afresh."""
    return studio.list_sources(weights_directory())


def shipped_models() -> list[dict]:
    """The shipped weights entries (name, family, description, paths) of `weights_directory()`."""
    return studio.shipped_models(weights_directory())


@st.cache_resource(show_spinner=False)
def device_description() -> str:
    """"CPU" or the GPU's name; asked once per server (importing TensorFlow takes seconds).

    Also switches GPU memory growth on: the sidebar asks this before any page loads a model.
    """
    import tensorflow as tf

    studio.enable_gpu_memory_growth()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU: {details.get('device_name', gpus[0].name)}"


@st.cache_resource(show_spinner="Loading model…", max_entries=16)
def _load_model(key: str, version: float, weights_dir: str):
    return studio.load_source(key, Path(weights_dir))


def load_model(key: str):
    """The model behind a source key, loaded once per checkpoint version.

    Raises:
        ValueError: for an unknown key or weights that do not fit their config.
    """
    source = studio.resolve_source(key, weights_directory())
    return _load_model(key, source.version(), str(weights_directory()))
