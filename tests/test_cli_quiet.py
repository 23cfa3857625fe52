"""A command-line error is one line on stderr, even when the command imported TensorFlow first.

TensorFlow 2.21 printed "Could not find cuda drivers" and "oneDNN custom operations" lines (twice)
before the error line, whatever `TF_CPP_MIN_LOG_LEVEL` said.
"""

from __future__ import annotations

import os
import subprocess
import sys

from aigc_core.runs.store import PROJECT_ROOT
from aigc_core.tensorflow_noise import _notices_filtered


def test_an_error_after_tensorflow_is_imported_is_exactly_one_line(tmp_path):
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TF_")}
    finished = subprocess.run(
        [sys.executable, "-m", "aigc_core", "sample", "--weights", "no-such-weights", "--out", str(tmp_path / "x.png")],
        cwd=PROJECT_ROOT, env={**environment, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True,
        timeout=300)
    assert finished.returncode == 2
    assert finished.stderr.startswith("error: no shipped weights named 'no-such-weights'")
    assert len(finished.stderr.splitlines()) == 1, finished.stderr


def test_only_the_known_start_up_notices_are_dropped(capfd):
    with _notices_filtered():
        os.write(2, b"I0000 00:00:1.0 1 port.cc:153] oneDNN custom operations are on. You may see ...\n"
                    b"I0000 00:00:1.0 1 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU ...\n"
                    b"E0000 something real went wrong\n")
        print("a Python warning", file=sys.stderr)
    error = capfd.readouterr().err  # under capfd, sys.stderr is not descriptor 2: the order may differ
    assert sorted(error.splitlines()) == ["E0000 something real went wrong", "a Python warning"]
