"""What drawing a conditional model's labels 1,000 per digit costs in FID, for real images and for a model.

    python bench/label_draw.py [--weights weights/gan-conditional.weights.h5] [--num 10000]

The MNIST test set that FID compares with is not balanced (1,135 ones, 892 fives). A set of
images with every digit equally often differs from it in its class mix alone, whoever drew
the images. This prints four FIDs through the project's classifier: real training images drawn
at random and drawn equally per digit, then the conditional model with labels drawn equally
and with labels in the training split's frequencies (what `evaluate` does; see
`aigc_core.quality.evaluation.sample_as_scored`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(PROJECT_ROOT / "weights" / "gan-conditional.weights.h5"))
    parser.add_argument("--num", type=int, default=10_000, help="images per row (a multiple of 10)")
    args = parser.parse_args(argv)

    import numpy as np

    from aigc_core.data import load_images
    from aigc_core.quality.evaluation import default_classifier, metrics_for_images, sample_as_scored
    from aigc_core.weights import config_path_for, load_model_from_files

    classifier = default_classifier()
    training = load_images("mnist", "train")
    images, labels = training.images.astype(np.float32) / 255.0, training.labels
    rng = np.random.default_rng(0)
    per_digit = args.num // 10
    balanced = np.concatenate([images[rng.choice(np.flatnonzero(labels == digit), per_digit, replace=False)]
                               for digit in range(10)])
    weights_path = Path(args.weights)
    model = load_model_from_files(config_path_for(weights_path), weights_path)
    rows = {
        "real training images drawn at random": images[rng.choice(len(images), args.num, replace=False)],
        f"real training images, {per_digit:,} of each digit": balanced,
        f"{weights_path.name}, {per_digit:,} of each digit": model.sample(args.num, seed=0, labels=np.repeat(np.arange(10), per_digit)),
        f"{weights_path.name}, labels in the training frequencies": sample_as_scored(model, args.num, 0, "mnist")[0],
    }
    print(f"| {args.num:,} images | FID | IS |\n| --- | --- | --- |")
    for name, row_images in rows.items():
        metrics = metrics_for_images(row_images, classifier)
        print(f"| {name} | {metrics['fid']:.2f} | {metrics['inception_score']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
