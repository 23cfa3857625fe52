"""A queued worker waits for its training slot without importing TensorFlow (it once cost 775 MB).

The test holds the only slot itself, starts a real `python -m aigc_core worker`, looks at the
waiting process from outside (/proc: its mapped libraries and resident memory), then asks the
run to stop, which a queued worker obeys without ever training.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import tiny_config, wait_for
from aigc_core.runs.store import PROJECT_ROOT

QUEUED_RSS_LIMIT_MB = 200


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError(f"no VmRSS for process {pid}")


def tensorflow_libraries(pid: int) -> set[str]:
    return {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
            if "tensorflow" in line.split()[-1]}


def test_a_queued_worker_waits_small_and_stops_without_training(store):
    run = store.create(tiny_config().to_dict())
    slots = store.root / ".slots"
    slots.mkdir()
    with open(slots / "slot-0.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the slot a running training would hold
        environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "AIGC_MAX_CONCURRENT": "1"}
        worker = subprocess.Popen([sys.executable, "-m", "aigc_core", "worker", "--run", str(run.path)],
                                  cwd=PROJECT_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: run.raw_status().get("pid") == worker.pid, 60, message="the worker to queue itself")
            time.sleep(1.0)  # two polls of the queue: it is waiting now, not importing
            assert worker.poll() is None and run.status()["state"] == "queued"
            assert tensorflow_libraries(worker.pid) == set()
            assert resident_mb(worker.pid) < QUEUED_RSS_LIMIT_MB
            run.request_stop()
            output, _ = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert worker.returncode == 0, output
    assert run.status()["state"] == "stopped" and run.checkpoint() is None
