"""TensorFlow's thread settings on a training step: its defaults against one inter-op thread.

    python bench/threads.py [--models gan-clusters,vae-clusters,gan-paper] [--rounds 4] [--steps 200]

Thread pools are fixed when TensorFlow starts, so the arms cannot share a process: each round
starts one child process per arm, in an order that reverses every round, and each child builds
the variant in the precision a run gets on this machine, traces its step with a 2-step `fit()`,
then times one `fit()` of `--steps` steps (wall clock and the child's CPU seconds). The table
gives each arm's median steps per second and per CPU-second, and the ratio of the `inter1` arm
to TensorFlow's defaults (above 1: one inter-op thread is faster). Issue 16 listed "thread
settings"; a loaded-machine run had suggested +14% per CPU-second. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARMS = {
    "default": {},
    "inter1": {"TF_NUM_INTEROP_THREADS": "1"},
}


def child(model_name: str, steps: int) -> None:
    """Time one `fit()` of `steps` steps of `model_name` in this process; print the result as JSON."""
    sys.path.insert(0, str(ROOT))
    from aigc_core.data import make_training_dataset
    from as_a_run import build_as_a_run

    built = build_as_a_run(model_name)
    model, precision = built.model, built.precision
    dataset = make_training_dataset(built.images, built.variant.batch_size, seed=0, labels=built.labels)
    model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)
    wall_started, cpu_started = time.perf_counter(), time.process_time()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    print(json.dumps({"wall": time.perf_counter() - wall_started, "cpu": time.process_time() - cpu_started,
                      "precision": precision}))


def time_arm(model_name: str, steps: int, arm: str) -> dict:
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **ARMS[arm]}
    finished = subprocess.run([sys.executable, __file__, "--child", model_name, str(steps)], env=environment,
                              capture_output=True, text=True, check=True)
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="gan-clusters,vae-clusters,gan-paper")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=200, help="timed training steps per child")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "STEPS"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child[0], int(arguments.child[1]))
        return 0

    print(f"{os.cpu_count()} cores; arms: " + ", ".join(f"{arm} {ARMS[arm] or '(TensorFlow defaults)'}" for arm in ARMS))
    for model_name in arguments.models.split(","):
        results = {arm: [] for arm in ARMS}
        for round_index in range(arguments.rounds):
            order = list(ARMS) if round_index % 2 == 0 else list(ARMS)[::-1]
            for arm in order:
                results[arm].append(time_arm(model_name, arguments.steps, arm))
            print(f"{model_name} round {round_index + 1}: " + "   ".join(
                f"{arm} {arguments.steps / results[arm][-1]['wall']:6.2f} steps/s" for arm in ARMS), flush=True)
        medians = {arm: (statistics.median(arguments.steps / r["wall"] for r in runs),
                         statistics.median(arguments.steps / r["cpu"] for r in runs)) for arm, runs in results.items()}
        precision = results["default"][0]["precision"]
        print(f"\n{model_name} ({precision}), {arguments.steps} steps per child, median of {arguments.rounds} rounds:")
        for arm, (per_second, per_cpu_second) in medians.items():
            print(f"  {arm:<10}{per_second:8.2f} steps/s {per_cpu_second:8.2f} steps/CPU-s")
        print(f"ratio inter1/default = {medians['inter1'][0] / medians['default'][0]:.2f} (wall), "
              f"{medians['inter1'][1] / medians['default'][1]:.2f} (per CPU-second)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
