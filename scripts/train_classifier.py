"""Train the MNIST classifier that FID and the Inception Score look through.

    python scripts/train_classifier.py --epochs 6 --seed 0

Writes weights/classifier/mnist.weights.h5 and weights/classifier/mnist.json (architecture,
test accuracy, command, seed, training time, hardware). Exits 1 when the test accuracy is
below --min-accuracy, so a weak classifier is never shipped silently.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> int:
    from aigc_core.classifier import CLASSIFIER_CONFIG_PATH, CLASSIFIER_WEIGHTS_PATH, save_classifier, train_classifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--max-shift", type=int, default=2, help="random translation in pixels (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-accuracy", type=float, default=0.99)
    parser.add_argument("--weights", default=str(CLASSIFIER_WEIGHTS_PATH))
    parser.add_argument("--config", default=str(CLASSIFIER_CONFIG_PATH))
    arguments = parser.parse_args()

    classifier, info = train_classifier(
        epochs=arguments.epochs, batch_size=arguments.batch_size, learning_rate=arguments.learning_rate,
        max_shift=arguments.max_shift, seed=arguments.seed, log=lambda line: print(line, flush=True),
    )
    print(f"test accuracy {info['test_accuracy']:.4f} after {info['training_seconds']:.0f} s", flush=True)
    if info["test_accuracy"] < arguments.min_accuracy:
        print(f"test accuracy below --min-accuracy {arguments.min_accuracy}; nothing written", file=sys.stderr)
        return 1
    import tensorflow as tf

    gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    path = save_classifier(
        classifier,
        {
            **info,
            "command": " ".join(["python", "scripts/train_classifier.py", *sys.argv[1:]]),
            "hardware": f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})"
            + (f", GPU {gpus}" if gpus else ""),
            "dataset": "mnist (bundled), train split; accuracy on the test split",
        },
        weights_path=Path(arguments.weights),
        config_path=Path(arguments.config),
    )
    print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
