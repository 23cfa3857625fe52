"""Throughput of the paper DCGAN's fit() in float32 and in mixed bfloat16, on this machine.

    python bench/precision.py [--rounds 2] [--steps 24]

Keras fixes a dtype policy when layers are built, so each policy trains in its own child
process (this file with `--child POLICY`), alternating float32 and mixed_bfloat16 round by
round; the table reports images per second (median of the timed calls) and the ratio. On a CPU
with AMX or AVX512-BF16, oneDNN runs bfloat16 convolutions faster; elsewhere it may be slower.
The project trains in float32; this measures whether switching would pay (issue 5's attempts).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
POLICIES = ("float32", "mixed_bfloat16")


def child(policy: str, steps: int) -> None:
    """Build gan-paper under `policy`, warm up, then print the images/s of two timed fit() calls."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(PROJECT_ROOT))
    import keras

    keras.mixed_precision.set_global_policy(policy)
    from aigc_core.data import load_images, make_training_dataset, scale_pixels
    from aigc_core.models.registry import VARIANTS

    variant = VARIANTS["gan-paper"]
    model = variant.build()
    images = load_images("mnist", "train", 4096).images
    dataset = make_training_dataset(scale_pixels(images, "tanh"), variant.batch_size, seed=0)
    model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)  # trace and warm up
    for _ in range(2):
        started = time.perf_counter()
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
        print(f"IMAGES_PER_SECOND {steps * variant.batch_size / (time.perf_counter() - started):.1f}", flush=True)


def measure(policy: str, steps: int) -> list[float]:
    output = subprocess.run([sys.executable, __file__, "--child", policy, "--steps", str(steps)],
                            capture_output=True, text=True, check=True).stdout
    return [float(line.split()[1]) for line in output.splitlines() if line.startswith("IMAGES_PER_SECOND")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--child", choices=POLICIES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.steps)
        return 0
    results = {policy: [] for policy in POLICIES}
    for _ in range(args.rounds):
        for policy in POLICIES:
            results[policy] += measure(policy, args.steps)
    print("policy            images/s (median)   calls")
    for policy, values in results.items():
        print(f"{policy:<17} {statistics.median(values):>10.1f}          {', '.join(f'{v:.0f}' for v in values)}")
    ratio = statistics.median(results["mixed_bfloat16"]) / statistics.median(results["float32"])
    print(f"ratio mixed_bfloat16 / float32 = {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
