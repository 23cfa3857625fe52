"""Sampling cost of the diffusion models: 64 images at 1, 4, 16 and 64 steps, and 1,000 at the default.

    python bench/sampling_cost.py [--calls 3] [--variants gan-fast vae-fast diffusion-fast diffusion-large]

A diffusion model runs its denoiser once per step, so its sampling time grows with the step
count, where a GAN or VAE decodes in one pass: their rows time that one pass in every column
(they have no steps to choose), so the table puts the three families side by side. The weights
do not change the cost, so freshly built models are timed. The last column times 1,000 samples
at the preset's `sampling_steps` (one pass for a GAN or VAE; batches of 512, as `evaluate` draws
them); ten times it is what the 10,000-sample `evaluate` spends sampling.
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
    parser.add_argument("--variants", nargs="+",
                        default=["gan-fast", "vae-fast", "diffusion-fast", "diffusion-large"])
    arguments = parser.parse_args()

    from aigc_core.models.registry import VARIANTS

    print(f"| model | {' | '.join(f'64 at {steps} steps (s)' for steps in STEP_COUNTS)} | 1,000 at default steps (s) |")
    print(f"| --- | {' | '.join('---' for _ in STEP_COUNTS)} | --- |")
    for name in arguments.variants:
        model = VARIANTS[name].build()
        steps_of_model = getattr(model, "sampling_steps", None)
        if steps_of_model is None:  # a GAN or VAE: one decoder pass, whatever the column asks
            one_pass = f"{median_seconds(lambda: model.sample(64, seed=0), arguments.calls):.3f}"
            cells = [one_pass for _ in STEP_COUNTS]
        else:
            cells = [f"{median_seconds(lambda: model.sample(64, seed=0, steps=steps), arguments.calls):.2f}"
                     for steps in STEP_COUNTS]
        model.sample(1000, seed=0)  # warm-up for this batch shape, as the 64-image cells had
        started = time.perf_counter()
        model.sample(1000, seed=0)
        thousand = time.perf_counter() - started
        how = "one pass" if steps_of_model is None else f"{steps_of_model} steps"
        print(f"| {name} | {' | '.join(cells)} | {thousand:.2f} ({how}) |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
