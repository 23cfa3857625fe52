"""Peak resident memory of one training process per registered variant.

    python bench/worker_memory.py [--steps 30]

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)
    from aigc_core.registry import VARIANTS

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
