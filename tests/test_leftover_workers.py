"""The suite's own hygiene: a test that fails half-way leaves no worker training behind."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import kill_leftover_workers


def test_a_leftover_worker_of_a_run_is_killed_and_another_process_is_not(tmp_path):
    run = tmp_path / "20261205-000000-gan-abcdef"
    run.mkdir()
    sleeper = "import sys, time; time.sleep(120)"
    worker = subprocess.Popen([sys.executable, "-c", sleeper, str(run)])  # names the run's folder, as a worker does
    bystander = subprocess.Popen([sys.executable, "-c", sleeper])
    try:
        (run / "status.json").write_text(json.dumps({"pid": worker.pid, "state": "running"}))
        other = tmp_path / "20261205-000001-gan-fedcba"
        other.mkdir()
        (other / "status.json").write_text(json.dumps({"pid": bystander.pid, "state": "running"}))  # pid reused
        assert kill_leftover_workers(tmp_path) == [worker.pid]
        assert worker.wait(timeout=10) != 0
        assert bystander.poll() is None
    finally:
        for process in (worker, bystander):
            process.kill()
            process.wait()
