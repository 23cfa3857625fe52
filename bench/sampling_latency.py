"""Sampling latency: 64 samples from each shipped model, median of 50 calls after warm-up.

    python bench/sampling_latency.py [--calls 50]

Target (issue 5): <= 50 ms on the 2-core CPU for every preset. The baselines printed beside
each row, in the same process and in turns with it: the eager decoder call `sample` made
before it was compiled (`eager ms`), and Keras's own `generator.predict` on the same latent
batch.
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


def median_ms_in_turns(functions, calls: int) -> list[float]:
    """Median milliseconds of each function, called in turns so that a busy moment hits them alike."""
    for function in functions:
        for _ in range(3):
            function()
    times = [[] for _ in functions]
    for _ in range(calls):
        for function, kept in zip(functions, times):
            started = time.perf_counter()
            function()
            kept.append((time.perf_counter() - started) * 1000.0)
    return [statistics.median(kept) for kept in times]


def eager_sample(model, num_samples: int, seed: int):
    """`sample` as it was before its decoder was compiled: the eager Keras call, per 512-row chunk."""
    import numpy as np

    from aigc_core.data import to_unit_range

    latent = model.latent_batch(num_samples, seed)
    labels = model.check_labels(None, num_samples)
    images = model.decode_latent(latent) if labels is None else model.decode_latent(latent, labels)
    return to_unit_range(np.asarray(images, dtype=np.float32)[..., 0], model.pixel_range)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--bfloat16", action="store_true",
                        help="also time each model rebuilt under mixed_bfloat16, and its largest pixel difference")
    arguments = parser.parse_args()

    from aigc_core.weights import load_model_from_files, shipped_weights

    rows, bfloat16_rows = [], []
    for entry in shipped_weights():
        if entry.get("family") == "diffusion":
            # Many denoiser passes, not one decoder call: bench/sampling_cost.py times them by step count.
            print(f"{entry['name']}: a diffusion model, timed by bench/sampling_cost.py instead")
            continue
        model = load_model_from_files(entry["config_path"], entry["weights_path"])
        latent = model.latent_batch(64, seed=0)
        decoder = model.generator if model.family == "gan" else model.decoder
        import numpy as np

        if model.num_classes:  # a conditional decoder takes [latent, one-hot label]
            inputs = [latent, np.eye(model.num_classes, dtype=np.float32)[model.default_labels(len(latent))]]
        elif hasattr(model, "clusters_of"):  # the clustered GAN's: [latent, one-hot cluster the latent picks]
            inputs = [latent, np.eye(model.num_clusters, dtype=np.float32)[np.asarray(model.clusters_of(latent))]]
        else:
            inputs = latent
        ours, eager, keras_predict = median_ms_in_turns(
            [lambda: model.sample(64, seed=0), lambda: eager_sample(model, 64, seed=0),
             lambda: decoder.predict(inputs, verbose=0)], arguments.calls)
        rows.append((entry["name"], ours, eager, keras_predict))
        if arguments.bfloat16:
            from aigc_core.devices import dtype_policy

            with dtype_policy("mixed_bfloat16"):
                reduced = load_model_from_files(entry["config_path"], entry["weights_path"])
            reduced_ms, full_ms = median_ms_in_turns(
                [lambda: reduced.sample(64, seed=0), lambda: model.sample(64, seed=0)], arguments.calls)
            difference = float(abs(reduced.sample(64, seed=0) - model.sample(64, seed=0)).max())
            bfloat16_rows.append((entry["name"], reduced_ms, full_ms, difference))
    print(f"{'model':<16}{'sample(64) ms':>15}{'eager ms':>10}{'keras predict ms':>18}{'eager/sample':>14}")
    for name, ours, eager, keras_predict in rows:
        print(f"{name:<16}{ours:>15.1f}{eager:>10.1f}{keras_predict:>18.1f}{eager / ours:>14.2f}")
    if bfloat16_rows:
        print(f"\n{'model':<16}{'bfloat16 ms':>13}{'float32 ms':>12}{'speed-up':>10}{'largest pixel difference':>26}")
        for name, reduced_ms, full_ms, difference in bfloat16_rows:
            print(f"{name:<16}{reduced_ms:>13.1f}{full_ms:>12.1f}{full_ms / reduced_ms:>10.2f}{difference:>26.4f}")
    worst = max(row[1] for row in rows) if rows else float("nan")
    print(f"\nverdict: slowest model {worst:.1f} ms for 64 samples; target <= {TARGET_MS:.0f} ms:",
          "met" if worst <= TARGET_MS else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
