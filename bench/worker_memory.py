"""Resident memory of a queued worker, and peak resident memory of one training process per variant.

    python bench/worker_memory.py [--steps 30]
    python bench/worker_memory.py --queued-only

A queued run's worker waits for a training slot (see aigc_core/runs/worker.py): the slot is held
here, a real `python -m aigc_core worker` is started, and its resident set size while it waits
(VmRSS and its peak VmHWM from /proc) is the figure, taken after it has polled the queue a few
times. It must stay small: every queued run has one.

Each variant trains for `--steps` steps on the full MNIST training split in its own
`python -m aigc_core train` process (what a worker does); the kernel's peak resident set size
of that child (`ru_maxrss` from wait4) is the figure. A demo server needs this much free memory
per concurrent training (`AIGC_MAX_CONCURRENT`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))


def peak_of_training(family: str, preset: str, steps: int, runs_root: Path) -> tuple[float, float, int]:
    """(peak RSS MiB, wall seconds, exit code) of one CLI training process."""
    command = [sys.executable, "-m", "aigc_core", "train", "--model", family, "--preset", preset,
               "--steps", str(steps), "--runs-root", str(runs_root)]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "AIGC_QUALITY_SAMPLES": "0"})
    _, status, usage = os.wait4(process.pid, 0)
    return usage.ru_maxrss / 1024.0, time.monotonic() - started, os.waitstatus_to_exitcode(status)


def _proc_status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def queued_worker_memory(runs_root: Path, wait_s: float = 3.0) -> tuple[float, float, bool]:
    """(resident MiB, peak resident MiB, TensorFlow mapped?) of a worker waiting for a held slot."""
    import fcntl

    from aigc_core.runs.store import RunStore

    store = RunStore(runs_root)
    run = store.create({"model": "gan", "preset": "fast", "steps": 5})  # never trained: it is stopped while queued
    (store.root / ".slots").mkdir(exist_ok=True)
    with open(store.root / ".slots" / "slot-0.lock", "w") as slot:
        fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
        worker = subprocess.Popen([sys.executable, "-m", "aigc_core", "worker", "--run", str(run.path)],
                                  cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env={**os.environ, "AIGC_MAX_CONCURRENT": "1", "PYTHONPATH": str(PROJECT_ROOT)})
        try:
            deadline = time.monotonic() + 120
            while run.raw_status().get("pid") != worker.pid and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(wait_s)  # several polls of the queue
            resident, peak = _proc_status_mb(worker.pid, "VmRSS"), _proc_status_mb(worker.pid, "VmHWM")
            tensorflow = "tensorflow" in Path(f"/proc/{worker.pid}/maps").read_text()
            run.request_stop()
            worker.wait(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return resident, peak, tensorflow


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--queued-only", action="store_true", help="measure only a queued worker (seconds)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aigc-queued-") as folder:
        resident, peak, tensorflow = queued_worker_memory(Path(folder))
    print(f"queued worker: {resident:.0f} MiB resident (peak {peak:.0f} MiB), TensorFlow "
          f"{'loaded' if tensorflow else 'not loaded'} while it waits", flush=True)
    if args.queued_only:
        return 0 if not tensorflow else 1
    from aigc_core.models.registry import VARIANTS

    failures = []
    print("variant                  peak RSS (MiB)   wall (s)")
    with tempfile.TemporaryDirectory(prefix="aigc-memory-") as folder:
        for variant in VARIANTS.values():
            peak, wall, code = peak_of_training(variant.family, variant.preset, args.steps, Path(folder))
            if code != 0:
                failures.append(variant.name)
            print(f"{variant.name:24} {peak:14.0f} {wall:10.1f}{'  FAILED' if code else ''}", flush=True)
    print(f"verdict: {'PASS' if not failures else 'FAIL'}: peak per training process measured for "
          f"{len(VARIANTS)} variants" + (f"; failed: {failures}" if failures else ""))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
