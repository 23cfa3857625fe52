"""Sampling cost of the diffusion models: 64 images at 1, 4, 16 and 64 steps, and 1,000 at the default.

    python bench/sampling_cost.py [--calls 3] [--variants diffusion-fast diffusion-large]

A diffusion model runs its denoiser once per step, so its sampling time grows with the step
count, where a GAN or VAE decodes in one pass (bench/sampling_latency.py: ~20 ms for 64). The
weights do not change the cost, so freshly built models are timed. The last column times 1,000
samples at the preset's `sampling_steps` (batches of 512, as `evaluate` draws them); ten times it
is what the 10,000-sample `evaluate` spends sampling.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STEP_COUNTS = (1, 4, 16, 64)


def median_seconds(function, calls: int) -> float:
    function()  # warm-up: traces the denoiser's predict function for this batch shape
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=["diffusion-fast", "diffusion-large"])
    arguments = parser.parse_args()

    from aigc_core.registry import VARIANTS

    print(f"| model | {' | '.join(f'64 at {steps} steps (s)' for steps in STEP_COUNTS)} | 1,000 at default steps (s) |")
    print(f"| --- | {' | '.join('---' for _ in STEP_COUNTS)} | --- |")
    for name in arguments.variants:
        model = VARIANTS[name].build()
        cells = [f"{median_seconds(lambda: model.sample(64, seed=0, steps=steps), arguments.calls):.2f}"
                 for steps in STEP_COUNTS]
        started = time.perf_counter()
        model.sample(1000, seed=0)
        thousand = time.perf_counter() - started
        print(f"| {name} | {' | '.join(cells)} | {thousand:.1f} ({model.sampling_steps} steps) |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
