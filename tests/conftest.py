"""Shared test setup: the project on sys.path, quiet TensorFlow, and runs kept in a temp folder.

Every test gets its own `AIGC_RUNS_DIR`, so no test can write into the project's `runs/`.
Tiny configs (256 images, batch 32, a few steps) keep the whole suite fast and offline.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow
# The suite runs in two pytest processes (pytest-xdist, see pyproject.toml) on a 2-core machine, and
# the app servers and workers the tests start run beside them: one compute thread each keeps them
# from oversubscribing the cores, where spin-waiting thread pools once stalled a 5-second test for 90 s.
# The tiny models of the tests gain nothing from a second thread.
for variable in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "AIGC_WORKER_THREADS"):
    os.environ.setdefault(variable, "1")

# The smallest settings that still train through the real data pipeline.
TINY_TRAINING = {"train_limit": 256, "batch_size": 32, "num_snapshot_samples": 16}


@pytest.fixture(autouse=True)
def runs_dir(tmp_path_factory, monkeypatch) -> Path:
    """A fresh, empty runs folder for each test, exported as `$AIGC_RUNS_DIR`."""
    root = tmp_path_factory.mktemp("runs")
    monkeypatch.setenv("AIGC_RUNS_DIR", str(root))
    # Snapshot scoring costs ~0.3 s per tiny run; tests/test_quality.py switches it back on.
    monkeypatch.setenv("AIGC_QUALITY_SAMPLES", "0")
    # A developer's exported logical-CPU split would make every in-process CLI call refuse to start.
    monkeypatch.delenv("AIGC_LOGICAL_CPUS", raising=False)
    yield root
    kill_leftover_workers(root)


def kill_leftover_workers(root: Path) -> list[int]:
    """SIGKILL every worker process still training a run under `root`; returns their pids.

    A test that fails half-way (a timeout on a loaded machine) leaves its run's worker training on,
    e.g. towards 100,000 steps: it would eat a core for the rest of the suite. A process is killed
    only if its command line names that run's folder, so a reused pid is never hit.
    """
    killed = []
    for status_path in root.glob("*/status.json"):
        try:
            pid = int(json.loads(status_path.read_text()).get("pid") or 0)
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace") if pid > 0 else ""
        except (OSError, ValueError, AttributeError):
            continue
        if str(status_path.parent) in command:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
    return killed


@pytest.fixture
def store(runs_dir):
    from aigc_core.runs.store import RunStore

    return RunStore()


def tiny_config(**changes):
    """A `TrainingConfig` for a seconds-long run; keyword arguments override any field."""
    from aigc_core.config import TrainingConfig

    return TrainingConfig(**{"model": "gan", "preset": "fast", "steps": 5, **TINY_TRAINING, **changes})


def wait_for(predicate, timeout_s: float, interval_s: float = 0.2, message="condition"):
    """Poll `predicate()` until it returns something truthy; fail the test after `timeout_s`.

    `message` may be a callable, evaluated only on timeout (e.g. to show a worker's log then).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {message() if callable(message) else message}")
        time.sleep(interval_s)


def leftover_temporary_files(directory: Path) -> list[Path]:
    """Files an interrupted atomic write would leave: hidden `.name.XXXX.tmp` and `.partial-*`."""
    return [
        path
        for path in Path(directory).rglob("*")
        if path.name.endswith(".tmp") or path.name.startswith(".partial-")
    ]


def end_workers(store, timeout_s: float = 60.0) -> None:
    """Ask every active run to stop, wait for its worker to exit, and SIGTERM it if it will not."""
    import os
    import signal

    from aigc_core.runs.store import ACTIVE_STATES, process_alive

    for run in store.list():
        if run.status().get("state") in ACTIVE_STATES:
            run.request_stop()
    deadline = time.monotonic() + timeout_s
    for run in store.list():
        status = run.raw_status()
        pid, start_time = status.get("pid"), status.get("pid_start_time")
        while pid and process_alive(pid, start_time) and time.monotonic() < deadline:
            time.sleep(0.5)
        if pid and process_alive(pid, start_time):
            os.kill(pid, signal.SIGTERM)


@pytest.fixture
def isolated_app(tmp_path, monkeypatch, runs_dir):
    """For AppTests: an empty weights folder, fresh Streamlit caches, and no worker left after the test.

    Returns the weights folder, where a test may export weights the app should find.
    """
    import streamlit as st

    from aigc_core.runs.store import RunStore

    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(weights_dir))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield weights_dir
    st.cache_resource.clear()
    end_workers(RunStore(runs_dir), 60.0)


@pytest.fixture(scope="session")
def shipped_weights_server(tmp_path_factory):
    """One app server over the shipped weights and an empty runs folder, for every browser file
    that only reads (digit, share): each server start costs ~20 s of TensorFlow import and warm-up."""
    from browser_support import serve_app

    yield from serve_app(tmp_path_factory.mktemp("shipped-app-runs"), "streamlit-shipped.log")


@pytest.fixture(scope="session")
def shared_chromium(shipped_weights_server):
    """One headless Chromium for the files that use `shipped_weights_server`, warmed up on it once."""
    from browser_support import VIEWPORT, chromium_browser, open_page

    with chromium_browser() as chromium:
        warm_up = chromium.new_page(viewport=VIEWPORT)
        open_page(warm_up, shipped_weights_server, "")  # the server's first run goes through app.py
        warm_up.close()
        yield chromium


@pytest.fixture
def visitor_window(shared_chromium):
    """Opens a new visitor's tab at a given window size: a fresh context, so its own cookie and a new
    Streamlit session; every context is closed after the test. Call it with a viewport dict."""
    from browser_support import new_tab

    contexts = []

    def open_tab(viewport: dict):
        context = shared_chromium.new_context(viewport=viewport)
        context.set_default_timeout(120_000)  # a first render on a busy CI machine can take a minute
        contexts.append(context)
        return new_tab(context)

    yield open_tab
    for context in contexts:
        context.close()


class FakeClock:
    """Time that passes only when slept: a recorded minute replays in microseconds, measured exactly."""

    def __init__(self):
        self.now = 0.0

    def sleep(self, seconds):
        self.now += seconds

    def __call__(self):
        return self.now
