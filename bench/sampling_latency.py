"""Sampling latency: 64 samples from each shipped model, median of 50 calls after warm-up.

    python bench/sampling_latency.py [--calls 50]

Target (issue 5): <= 50 ms on the 2-core CPU for every preset. The baseline printed beside
each row is Keras's own `generator.predict` on the same latent batch, in the same process.
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

TARGET_MS = 50.0


def median_ms(function, calls: int) -> float:
    for _ in range(3):
        function()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    arguments = parser.parse_args()

    from aigc_core.weights import load_model_from_files, shipped_weights

    rows = []
    for entry in shipped_weights():
        model = load_model_from_files(entry["config_path"], entry["weights_path"])
        latent = model.latent_batch(64, seed=0)
        decoder = model.generator if model.family == "gan" else model.decoder
        if model.num_classes:  # a conditional decoder takes [latent, one-hot label]
            import numpy as np

            inputs = [latent, np.eye(model.num_classes, dtype=np.float32)[model.default_labels(len(latent))]]
        else:
            inputs = latent
        ours = median_ms(lambda: model.sample(64, seed=0), arguments.calls)
        keras_predict = median_ms(lambda: decoder.predict(inputs, verbose=0), arguments.calls)
        rows.append((entry["name"], ours, keras_predict))
    print(f"{'model':<12}{'sample(64) ms':>15}{'keras predict ms':>18}{'ratio':>8}")
    for name, ours, keras_predict in rows:
        print(f"{name:<12}{ours:>15.1f}{keras_predict:>18.1f}{keras_predict / ours:>8.2f}")
    worst = max(ours for _, ours, _ in rows) if rows else float("nan")
    print(f"\nverdict: slowest model {worst:.1f} ms for 64 samples; target <= {TARGET_MS:.0f} ms:",
          "met" if worst <= TARGET_MS else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
