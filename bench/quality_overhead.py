"""What scoring every snapshot costs: gan-fast runs with and without quality scoring.

    python bench/quality_overhead.py [--steps 600] [--rounds 2] [--samples 1000 500]

Each round trains one fresh gan-fast run (default settings: batch 64, a snapshot every 100
steps) per setting, alternating, so a busy machine slows all of them alike. Every run is its
own process, like a real worker: in one long process the 6th or 7th Keras model trained
runs 2x slower whatever the setting, which would land on whichever setting came last.
`$AIGC_QUALITY_SAMPLES` = 0 is the baseline. The table reports the median wall time of
`train_run`, the training seconds (status elapsed_s, which excludes scoring), the overhead
of the wall time against the baseline, and `direct`: the scorer's own measured seconds
against the training seconds (less noisy); the verdict compares `direct` with 10%.
A worker reads the test-set statistics from the small file beside the classifier (the
warm-up run writes it if missing). Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_OVERHEAD = 0.10


def one_run(store, steps: int, num_samples: int) -> dict:
    """Train one run in a child process; its wall time counts `train_run` only, not the imports."""
    command = [sys.executable, __file__, "--one-run", str(num_samples), "--steps", str(steps), "--store", str(store)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def child_run(store_path: str, steps: int, num_samples: int) -> None:
    from aigc_core.quality import live as quality
    from aigc_core.config import TrainingConfig
    from aigc_core.runs.store import RunStore
    from aigc_core.runs.training import start_run, train_run

    os.environ[quality.QUALITY_SAMPLES_VARIABLE] = str(num_samples)
    run = start_run(TrainingConfig(model="gan", preset="fast", steps=steps), RunStore(store_path))
    started = time.monotonic()
    status = train_run(run)
    wall = time.monotonic() - started
    if status.get("state") != "finished":
        raise SystemExit(f"run ended {status.get('state')}: {status.get('error')}")
    rows = run.quality()
    print(json.dumps({"wall": wall, "training": status["elapsed_s"], "scored": len(rows),
                      "scoring": sum(row["seconds_spent"] for row in rows)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, nargs="+", default=[1000, 500],
                        help="sample counts to compare with scoring switched off")
    parser.add_argument("--one-run", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--store", default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one_run is not None:
        child_run(arguments.store, arguments.steps, arguments.one_run)
        return

    settings = [0, *arguments.samples]
    results = {samples: [] for samples in settings}
    with tempfile.TemporaryDirectory() as directory:
        store = directory
        one_run(store, 20, settings[-1])  # warm up: TensorFlow, the data, the statistics file
        for round_index in range(arguments.rounds):
            for samples in settings if round_index % 2 == 0 else reversed(settings):
                result = one_run(store, arguments.steps, samples)
                results[samples].append(result)
                print(f"round {round_index + 1}, samples {samples:>5}: {result['wall']:.1f} s wall, "
                      f"{result['training']:.1f} s training, {result['scored']} snapshots scored in "
                      f"{result['scoring']:.1f} s", flush=True)

    baseline = statistics.median(result["wall"] for result in results[0])
    print(f"\ngan-fast, {arguments.steps} steps, a snapshot every 100 steps, median of {arguments.rounds} rounds")
    print(f"{'samples':>8}  {'wall s':>8}  {'train s':>8}  {'scored':>6}  {'scoring s':>9}  {'overhead':>8}  "
          f"{'direct':>7}")
    overheads, directs = {}, {}
    for samples in settings:
        wall = statistics.median(result["wall"] for result in results[samples])
        scoring = statistics.median(result["scoring"] for result in results[samples])
        training = statistics.median(result["training"] for result in results[samples])
        scored = results[samples][0]["scored"]
        overheads[samples] = wall / baseline - 1.0
        directs[samples] = scoring / training
        label = "off" if samples == 0 else str(samples)
        # direct: the seconds the scorer itself measured, against the run's training seconds
        print(f"{label:>8}  {wall:8.1f}  {training:8.1f}  {scored:6d}  {scoring:9.2f}  {overheads[samples]:+8.1%}  "
              f"{directs[samples]:7.1%}")
    # On a shared machine the wall-time difference is often smaller than the noise, so the
    # verdict reads the scorer's own clock; the wall column shows whether the two agree.
    for samples in arguments.samples:
        verdict = "within" if directs[samples] < TARGET_OVERHEAD else "OVER"
        print(f"verdict: {samples} samples per snapshot cost {directs[samples]:.1%} of training time "
              f"(wall-time difference {overheads[samples]:+.1%}), {verdict} the {TARGET_OVERHEAD:.0%} target")


if __name__ == "__main__":
    main()
