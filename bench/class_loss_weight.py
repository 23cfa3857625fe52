"""gan-conditional's FID-MNIST after a fixed training time, for several AC-GAN class-loss weights.

    python bench/class_loss_weight.py [--weights 0.1,0.3,1.0] [--seconds 300] [--num 10000]

The conditional GAN's discriminator both projects the label and classifies the digit; the
classifier's cross-entropy enters both players' losses with `class_loss_weight`. At weight 1.0
the generator drew over-typical digits (its Inception Score above the real data's) and its FID
stopped near 3.3 however long it trained. Each weight here trains the preset from the same seed
for `--seconds` of training time, in this one process, one after the other, and is scored by the
project's evaluator, by `bench/time_to_quality.py`'s trainer, so the weights are compared on one clock.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(PROJECT_ROOT))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="0.1,0.3,1.0", help="class-loss weights, comma-separated")
    parser.add_argument("--seconds", type=float, default=300.0, help="training seconds per weight")
    parser.add_argument("--num", type=int, default=10_000, help="samples scored per weight")
    args = parser.parse_args(argv)

    from aigc_core.data import load_images
    from aigc_core.quality.evaluation import default_classifier
    from time_to_quality import ProjectTrainer, score

    training_set = load_images("mnist", "train")
    classifier = default_classifier()
    print(f"{'class_loss_weight':>17} {'seconds':>8} {'FID':>7} {'IS':>6}", flush=True)
    results = []
    for weight in (float(value) for value in args.weights.split(",")):
        trainer = ProjectTrainer("gan-conditional", training_set, class_loss_weight=weight)
        trainer.train_until(args.seconds)
        seconds = trainer.trained_s
        row = score(trainer.sample(args.num), classifier)
        results.append((row["fid"], weight))
        print(f"{weight:17g} {seconds:8.0f} {row['fid']:7.2f} {row['inception_score']:6.2f}", flush=True)
    best_fid, best_weight = min(results)
    print(f"verdict: the lowest FID after {args.seconds:.0f} s is {best_fid:.2f}, at class_loss_weight {best_weight:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
