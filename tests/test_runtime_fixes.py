"""Streamlit must not clear the Keras session after each script run (see ui/runtime_fixes.py)."""

from __future__ import annotations

import keras
import streamlit
from streamlit.testing.v1 import AppTest

from aigc_core.runs.store import PROJECT_ROOT


def test_reruns_of_the_app_leave_the_keras_session_alone(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *args, **kwargs: calls.append(args))
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    streamlit.cache_resource.clear()
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    app.run()
    app.run()
    assert not app.exception
    assert calls == [], "Streamlit cleared the Keras session after a rerun"


def test_without_the_fix_streamlit_would_clear_it(monkeypatch):
    """The hook the fix replaces does clear Keras, so the test above can fail."""
    from ui import runtime_fixes

    assert runtime_fixes.keep_keras_state_between_reruns()
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *args, **kwargs: calls.append(args))
    runtime_fixes.streamlit_cleanup()
    assert len(calls) == 1
