"""Does sampling in bfloat16 move the scores? A shipped model's FID and IS, float32 against mixed_bfloat16.

    python bench/sampling_precision.py [--model gan-paper] [--num 10000]

The shipped weights are loaded twice, once under each dtype policy (the weights stay float32;
under mixed_bfloat16 the layers compute in bfloat16), and `num` samples of the same latent
batch are scored with the project's evaluator. A second float32 batch from another seed is
scored too: the FID's own seed-to-seed spread is the scale a precision change must stay within.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gan-paper")
    parser.add_argument("--num", type=int, default=10_000)
    arguments = parser.parse_args()

    from aigc_core.devices import dtype_policy
    from aigc_core.quality.evaluation import metrics_for_images, sample_as_scored
    from aigc_core.weights import load_model_from_files, shipped_weights

    entry = next((entry for entry in shipped_weights() if entry["name"] == arguments.model), None)
    if entry is None:
        parser.error(f"expected a shipped model name; received {arguments.model!r}")
    models = {}
    for precision in ("float32", "mixed_bfloat16"):
        with dtype_policy(precision):
            models[precision] = load_model_from_files(entry["config_path"], entry["weights_path"])
    rows = []
    for precision, seed in (("float32", 0), ("mixed_bfloat16", 0), ("float32", 1)):
        started = time.perf_counter()
        images, _ = sample_as_scored(models[precision], arguments.num, seed=seed)
        sampling_s = time.perf_counter() - started
        scores = metrics_for_images(images)
        rows.append((precision, seed, sampling_s, scores))
        print(f"{precision:<16} seed {seed}: sampled in {sampling_s:5.1f} s, FID {scores['fid']:.2f},"
              f" IS {scores['inception_score']:.2f}", flush=True)
    float32_images = sample_as_scored(models["float32"], 512, seed=0)[0]
    bfloat16_images = sample_as_scored(models["mixed_bfloat16"], 512, seed=0)[0]
    difference = abs(float32_images - bfloat16_images)
    print(f"\npixel difference, 512 images of seed 0: mean {difference.mean():.4f}, largest {difference.max():.4f}")
    fid = {(precision, seed): scores["fid"] for precision, seed, _, scores in rows}
    precision_shift = abs(fid[("mixed_bfloat16", 0)] - fid[("float32", 0)])
    seed_shift = abs(fid[("float32", 1)] - fid[("float32", 0)])
    print(f"FID shift from bfloat16 {precision_shift:.2f}; from another seed {seed_shift:.2f}")
    print("verdict:", "within the seed-to-seed spread" if precision_shift <= seed_shift else "moves more than another seed does")
    return 0


if __name__ == "__main__":
    sys.exit(main())
