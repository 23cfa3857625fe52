"""Helpers for the real-browser test: a Streamlit server on a free port, its cleanup, Chromium.

Kept apart from the test so that the flows read as user steps. Nothing here imports Streamlit
or TensorFlow: the server runs in its own process, exactly as `streamlit run` would run it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:  # `aigc_core` is needed to stop runs the way the app does
    sys.path.insert(0, str(PROJECT_ROOT))
ARTIFACTS_DIR = PROJECT_ROOT / "test-artifacts"
SCREENSHOTS_DIR = ARTIFACTS_DIR / "screenshots"
CHROMIUM_PATH = Path("/usr/bin/chromium")
# Debian's chromium, headless; the extra switches keep it from reaching the network on its own.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]
VIEWPORT = {"width": 1400, "height": 1000}
HEALTH_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel picks it; a tiny race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StreamlitServer:
    """`streamlit run app.py` in its own process group, with runs kept in `runs_dir`.

    Training workers are started by the app with `start_new_session=True`, so they are not in
    the server's process group: `stop()` finds them through the run directories instead.
    """

    def __init__(self, runs_dir: Path, log_path: Path, extra_env: dict[str, str] | None = None):
        self.runs_dir = Path(runs_dir)
        self.log_path = Path(log_path)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.environment = {
            **os.environ,
            "AIGC_RUNS_DIR": str(self.runs_dir),
            "AIGC_MAX_CONCURRENT": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> "StreamlitServer":
        command = [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true",
            "--server.port", str(self.port),
            "--server.address", "127.0.0.1",
            "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=self.environment, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        return self

    def wait_until_healthy(self, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        """Poll `/_stcore/health` until it answers `ok`.

        Raises:
            RuntimeError: if the server exits first or is not healthy within `timeout_s`.
        """
        deadline = time.monotonic() + timeout_s
        last_problem = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.process.returncode}; "
                                   f"log: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    body = response.read().decode().strip()
                if body == "ok":
                    return
                last_problem = f"health answered {body!r}"
            except OSError as error:
                last_problem = str(error)
            time.sleep(0.3)
        raise RuntimeError(f"streamlit not healthy after {timeout_s:.0f} s ({last_problem}); log: {self.log_tail()}")

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return "(no log)"

    def stop(self) -> list[int]:
        """Stop the runs, then the server, then any worker still alive; returns the pids killed late."""
        request_stop_of_active_runs(self.runs_dir)
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        return kill_workers(self.runs_dir)


def keep_run_records(runs_dir: Path, destination: Path) -> None:
    """Copy each run's small text files (config, status, worker log) for a person to read later;
    the temp runs folder itself is gone once pytest cleans up."""
    shutil.rmtree(destination, ignore_errors=True)
    for run_dir in sorted(Path(runs_dir).glob("*/")):
        for name in ("config.json", "status.json", "checkpoint.json", "model_config.json", "worker.log"):
            source = run_dir / name
            if source.is_file():
                (destination / run_dir.name).mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination / run_dir.name / name)


def _signal_group(pid: int, signal_number: int) -> None:
    try:
        os.killpg(pid, signal_number)  # the server leads its own group (start_new_session)
    except ProcessLookupError:
        pass


def request_stop_of_active_runs(runs_dir: Path) -> None:
    """Ask every queued or running run to stop, the way the Stop button does (a STOP file)."""
    from aigc_core.runs import ACTIVE_STATES, RunStore

    if not Path(runs_dir).is_dir():
        return
    for run in RunStore(runs_dir).list():
        if run.raw_status().get("state") in ACTIVE_STATES:
            run.request_stop()


def worker_pids(runs_dir: Path) -> set[int]:
    """Live processes that belong to runs in `runs_dir`.

    Two sources, because a worker that has not yet written its pid is only visible through its
    command line (`python -m aigc_core worker --run <runs_dir>/<id>`).
    """
    runs_dir = Path(runs_dir).resolve()
    pids: set[int] = set()
    for status_path in runs_dir.glob("*/status.json"):
        try:
            pid = json.loads(status_path.read_text()).get("pid")
        except (OSError, ValueError):
            continue
        if pid and _command_line(int(pid)).find(str(runs_dir)) >= 0:
            pids.add(int(pid))
    for process_dir in Path("/proc").glob("[0-9]*"):
        command_line = _command_line(int(process_dir.name))
        if "aigc_core" in command_line and "worker" in command_line and str(runs_dir) in command_line:
            pids.add(int(process_dir.name))
    pids.discard(os.getpid())
    return pids


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_workers(runs_dir: Path, grace_s: float = 15.0) -> list[int]:
    """Wait up to `grace_s` for stopped workers to exit, then SIGKILL what is left; returns those pids."""
    deadline = time.monotonic() + grace_s
    while worker_pids(runs_dir) and time.monotonic() < deadline:
        time.sleep(0.3)
    leftovers = sorted(worker_pids(runs_dir))
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return leftovers


def launch_chromium(playwright):
    """Debian's Chromium through Playwright (Playwright's own browser download is not installed)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS)
