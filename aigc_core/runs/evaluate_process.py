"""Evaluate a run in a background process, exactly as `python -m aigc_core evaluate --run DIR` does.

The Runs page offers this as a button. With the evaluator's default 10,000 samples (and cached
reference rows) one model took 17 s (gan-fast), 33 s (vae-fast, which also measures −ELBO) and
51 s (gan-conditional, which also asks the classifier about every digit) of wall time on this
project's shared 2-core CPU (measured 2026-12-05): too long to hold a page, so, like training, it
runs in its own process (TensorFlow's memory and threads stay out of the web server) and the page
watches for it. The run's metrics.json is written by the one code path the CLI uses, so the page
and a terminal never disagree. `evaluation.json` in the run's folder records the process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from aigc_core.runs.store import PROJECT_ROOT, Run, read_json, write_json_atomic

EVALUATION_FILE = "evaluation.json"
EVALUATION_LOG = "evaluate.log"
# What the page promises: the measured range above.
TYPICAL_SECONDS = (20, 60)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _last_line(path) -> str | None:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return None
    return lines[-1] if lines else None


def evaluation_progress(run: Run) -> dict | None:
    """Where the run's last evaluation from the page stands, or None when none was started.

    Returns:
        {"state": "running", "elapsed_s": seconds}, {"state": "finished"} or
        {"state": "failed", "reason": the evaluator's last line of output}.
    """
    record = read_json(run.path / EVALUATION_FILE)
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    started = float(record.get("started_at") or 0)
    if _alive(record["pid"]):
        return {"state": "running", "elapsed_s": max(0.0, time.time() - started)}
    metrics = run.path / "metrics.json"
    if metrics.exists() and metrics.stat().st_mtime >= started:
        return {"state": "finished"}
    return {"state": "failed", "reason": _last_line(run.path / EVALUATION_LOG) or "the evaluator stopped"}


def start_evaluation(run: Run) -> subprocess.Popen:
    """Start `python -m aigc_core evaluate --run DIR` for a run and return at once.

    Raises:
        ValueError: an evaluation of this run is already running.
        OSError: the run's folder cannot be written.
    """
    progress = evaluation_progress(run)
    if progress and progress["state"] == "running":
        raise ValueError(f"Expected no evaluation of run {run.run_id} in progress. Received: one started "
                         f"{progress['elapsed_s']:.0f} s ago")
    command = [sys.executable, "-m", "aigc_core", "evaluate", "--run", str(run.path)]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.time()
    with open(run.path / EVALUATION_LOG, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=PROJECT_ROOT, env=environment, start_new_session=True)
    write_json_atomic(run.path / EVALUATION_FILE, {"pid": process.pid, "started_at": started})
    threading.Thread(target=process.wait, daemon=True).start()  # reap it, so a finished one is not a zombie
    return process
