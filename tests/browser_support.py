"""Helpers for the real-browser tests: a Streamlit server on a free port, its cleanup, Chromium,
and the page steps every browser test file uses (open a page, wait for the app, pick a widget).

Kept apart from the tests so that the flows read as user steps. Nothing here imports Streamlit
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
from contextlib import contextmanager
from pathlib import Path

import pytest

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
PAGE_LOAD_TIMEOUT_MS = 60_000
SETTLE_S = 0.7


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

    def __init__(self, runs_dir: Path, log_path: Path, extra_env: dict[str, str] | None = None, script: str = "app.py"):
        self.script = str(script)  # another Streamlit script (an absolute path) serves as a baseline in bench/
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
            sys.executable, "-m", "streamlit", "run", self.script,
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
    from aigc_core.runs.store import ACTIVE_STATES, RunStore

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


# --- fixtures' building blocks: each test file serves the app once, in its own runs folder ------

def serve_app(runs_dir: Path, log_name: str, records_dir: Path | None = None):
    """A module fixture's body (`yield from serve_app(...)`): a healthy app server, stopped afterwards.

    Skips the module where Chromium or Playwright is missing. After the module, the runs are
    stopped, then the server and any worker left; `records_dir` keeps the runs' small text files.
    """
    if not CHROMIUM_PATH.exists():
        pytest.skip(f"{CHROMIUM_PATH} not found: install Debian's chromium (CI does) to run the browser tests")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    runs_dir = Path(runs_dir).resolve()
    app = StreamlitServer(runs_dir, log_path=ARTIFACTS_DIR / log_name).start()
    try:
        app.wait_until_healthy()
        yield app
    finally:
        late = app.stop()
        if records_dir is not None:
            keep_run_records(runs_dir, records_dir)
        if late:
            print(f"\nkilled {len(late)} worker(s) that did not stop on request: {late}")


@contextmanager
def chromium_browser():
    """Headless Chromium through Playwright, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


def new_context(browser, timeout_ms: int = PAGE_LOAD_TIMEOUT_MS):
    """A fresh browser context (no cookies: a new visitor) with the test viewport and waits of `timeout_ms`."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(timeout_ms)
    return context


def new_tab(context):
    """A page that collects the JavaScript errors it meets in `page.browser_errors`."""
    page = context.new_page()
    page.browser_errors = []
    page.on("pageerror", lambda error: page.browser_errors.append(str(error)))
    return page


# --- page steps --------------------------------------------------------------------------------

def wait_for_app(page, timeout_ms: int = PAGE_LOAD_TIMEOUT_MS) -> None:
    """Wait until the app is connected and its script has finished running, then let it settle.

    A page with a live fragment reruns every second, so "not running" is checked twice around
    a short pause rather than waited on forever.
    """
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout_ms)
    for _ in range(2):
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms)
        time.sleep(SETTLE_S)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms)


def open_page(page, server, path: str) -> None:
    page.goto(f"{server.url}/{path}", wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stApp']", timeout=PAGE_LOAD_TIMEOUT_MS)
    wait_for_app(page)


def assert_no_exception(page, where: str) -> None:
    """No uncaught exception box, no traceback text and no "Page not found" dialog."""
    dialogs = page.locator("[data-testid='stDialog']")
    assert "Page not found" not in " ".join(dialogs.all_inner_texts()), f"{where}: Streamlit says 'Page not found'"
    exceptions = page.locator("[data-testid='stException']")
    assert exceptions.count() == 0, f"{where}: exception shown in the browser: {exceptions.first.inner_text()[:500]}"
    text = page.locator("[data-testid='stMain']").inner_text()
    assert "Traceback (most recent call last)" not in text, f"{where}: a traceback is shown"


def screenshot(page, name: str) -> None:
    """A full-length screenshot: Streamlit scrolls inside its own container, not the document,
    so the viewport is stretched to the content's height for the shot, then restored."""
    height = page.evaluate(
        """() => Math.max(...['[data-testid="stMain"]', '[data-testid="stAppViewContainer"]',
                              '[data-testid="stMainBlockContainer"]']
                  .map(selector => document.querySelector(selector))
                  .filter(Boolean).map(element => element.scrollHeight), document.body.scrollHeight)"""
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(max(VIEWPORT["height"], int(height) + 40), 8000)})
    time.sleep(0.5)
    try:
        page.screenshot(path=str(SCREENSHOTS_DIR / f"{name}.png"), full_page=True)
    finally:
        page.set_viewport_size(VIEWPORT)


def keyed(key: str) -> str:
    """The CSS selector of a keyed widget's container."""
    return f".st-key-{key}"


def set_number(page, key: str, value) -> None:
    """Type into a number input and commit it (Enter), then wait for the rerun."""
    field = page.locator(f"{keyed(key)} input")
    field.fill(str(value))
    field.press("Enter")
    wait_for_app(page)
    assert field.input_value() == str(value), f"{key} shows {field.input_value()!r}, expected {value!r}"


def choose_radio(page, key: str, label: str) -> None:
    page.locator(keyed(key)).get_by_text(label, exact=True).click()
    wait_for_app(page)


def image_bytes(page, server, image) -> bytes:
    """The file behind an `<img>` locator, as the browser got it (a media URL or a data URI)."""
    source = image.get_attribute("src")
    if source.startswith("data:"):
        import base64

        return base64.b64decode(source.split(",", 1)[1])
    return page.request.get(source if source.startswith("http") else f"{server.url}{source}").body()
