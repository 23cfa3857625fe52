"""Training throughput of the paper DCGAN: the TensorFlow tutorial loop vs the project's fit().

    python bench/throughput.py [--rounds 3] [--steps 8]

Both train the same architecture at batch 256 on the same data in this one process,
alternating round by round; the table reports images per second (median of the rounds),
their ratio, and achieved GFLOP/s against the CPU's peak. Not part of the test suite.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

GFLOP_PER_IMAGE = 0.45  # one train step of the paper DCGAN, per image (see NOTES.md)

def flop_per_cycle_per_core() -> int:
    """float32 FLOP per cycle per core: two FMA units of 8 lanes (AVX2) or 16 lanes (AVX-512)."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return 32
    return 64 if "avx512f" in flags else 32


def cpu_peak_gflops() -> float | None:
    try:
        megahertz = [float(line.split(":")[1]) for line in open("/proc/cpuinfo") if line.startswith("cpu MHz")]
    except OSError:
        return None
    if not megahertz:
        return None
    return len(megahertz) * max(megahertz) / 1000.0 * flop_per_cycle_per_core()


def time_reference(images, steps: int) -> float:
    import reference_dcgan

    reference = reference_dcgan.ReferenceDCGAN()
    dataset = reference_dcgan.tutorial_dataset(images)
    reference_dcgan.train(reference, dataset, steps=2)  # trace and warm up
    result = reference_dcgan.train(reference, dataset, steps=steps)
    return steps * reference_dcgan.BATCH_SIZE / result["seconds"]


def time_project(images, steps: int) -> float:
    from aigc_core.data import make_training_dataset, scale_pixels
    from aigc_core.models.registry import VARIANTS

    variant = VARIANTS["gan-paper"]
    model = variant.build()
    dataset = make_training_dataset(scale_pixels(images, "tanh"), variant.batch_size, seed=0)
    model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)  # trace and warm up
    started = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps * variant.batch_size / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    arguments = parser.parse_args()

    from aigc_core.data import load_images

    images = load_images("mnist", "train").images
    reference_rates, project_rates = [], []
    for round_index in range(arguments.rounds):
        reference_rates.append(time_reference(images, arguments.steps))
        project_rates.append(time_project(images, arguments.steps))
        print(f"round {round_index + 1}: reference {reference_rates[-1]:7.1f} img/s   project {project_rates[-1]:7.1f} img/s", flush=True)
    reference, project = statistics.median(reference_rates), statistics.median(project_rates)
    peak = cpu_peak_gflops()
    print()
    print(f"{'loop':<22}{'images/s':>10}{'GFLOP/s':>10}{'% of peak':>11}")
    for name, rate in (("TF tutorial (ref)", reference), ("aigc_core gan-paper", project)):
        gflops = rate * GFLOP_PER_IMAGE
        share = f"{100 * gflops / peak:9.1f}%" if peak else "      n/a"
        print(f"{name:<22}{rate:>10.1f}{gflops:>10.1f}{share:>11}")
    ratio = project / reference
    print(f"\nratio project/reference = {ratio:.2f} (median of {arguments.rounds} rounds, {os.cpu_count()} cores,"
          f" peak ~{peak:.0f} GFLOP/s)" if peak else f"\nratio project/reference = {ratio:.2f}")
    print("verdict:", "meets the 1.3x target" if ratio >= 1.3 else "below the 1.3x target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
