"""Two things Streamlit does after every script run that a Keras app serving many tabs cannot afford.

1. `_clean_problem_modules` calls `keras.backend.clear_session()` after each run, fragment
   reruns included (streamlit/runtime/scriptrunner/script_runner.py). That resets Keras's
   process-wide state while other sessions' threads may be building or loading a model, clears
   TensorFlow's kernel cache and runs a full `gc.collect()`. Our models live in
   `st.cache_resource` for the server's lifetime, so there is nothing for it to free; measured
   with py-spy under the 10-session load test it took 16% of the server's time.
2. `runner.postScriptGC` (a full `gc.collect(2)` after each run) took another 23% there; it is
   switched off in `.streamlit/config.toml`, where a deployment can turn it back on.

`keep_keras_state_between_reruns()` replaces only the Keras part of (1): matplotlib figures,
which Streamlit also closes there, are still closed.
"""

from __future__ import annotations

import sys

# Streamlit's own cleanup, kept so that a test can show what the patch prevents.
streamlit_cleanup = None


def _close_matplotlib_figures_only() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception:  # noqa: BLE001 - as Streamlit's own cleanup: never break a run over it
            pass


def keep_keras_state_between_reruns() -> bool:
    """Stop Streamlit from clearing the Keras session after each run; True when it was patched."""
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:
        return False
    if not hasattr(script_runner, "_clean_problem_modules"):
        return False  # a Streamlit version without this hook: nothing to do
    global streamlit_cleanup
    if script_runner._clean_problem_modules is not _close_matplotlib_figures_only:
        streamlit_cleanup = script_runner._clean_problem_modules
        script_runner._clean_problem_modules = _close_matplotlib_figures_only
    return True
