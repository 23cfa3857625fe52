"""Keep TensorFlow's start-up lines off the command line's stderr, so an error there is one line.

TensorFlow 2.21 writes "Could not find cuda drivers on your machine" and "oneDNN custom
operations are on" (each twice, once per shared library) through absl before absl's logging
is set up: `TF_CPP_MIN_LOG_LEVEL=3` does not reach them, and no environment variable does.
They are written to file descriptor 2 while `tensorflow` is imported, so that import runs with
descriptor 2 pointed at a temporary file; afterwards every line that is not one of these
known notices is written back, so a real warning or error from the import is still seen.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile

# Start-up notices, not problems: this machine has no CUDA driver, or oneDNN is on (TensorFlow's default).
NOTICES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
)


@contextlib.contextmanager
def _notices_filtered():
    """Capture what is written to descriptor 2 meanwhile; write back every line but the notices."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not any(notice in line for notice in NOTICES))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


class _QuietLoader:
    """The real loader of `tensorflow`, executing the package with its start-up notices filtered."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # The module keeps the real loader: nothing after the import sees this wrapper.
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        with _notices_filtered():
            self.loader.exec_module(module)


class _TensorFlowFinder:
    """A meta path finder that wraps only the first import of `tensorflow`, then removes itself."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def silence_tensorflow_import() -> None:
    """Before anything imports TensorFlow: its C++ log level to errors only, its start-up notices dropped."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or any(isinstance(finder, _TensorFlowFinder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _TensorFlowFinder())
