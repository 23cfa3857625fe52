"""A registry variant built as a run of it trains on this machine, for benchmarks that time `fit()`.

The precision a run gets here when it names none (`default_precision_for`), `Variant.build()`, and
the MNIST training images scaled and labelled as `training.train_run` feeds them (a clustered
variant's own k-means labels, seed 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BuiltAsARun:
    variant: object
    precision: str
    model: object
    images: np.ndarray
    labels: np.ndarray | None


def build_as_a_run(model_name: str) -> BuiltAsARun:
    from aigc_core.config import default_precision_for
    from aigc_core.data import load_images, scale_pixels
    from aigc_core.devices import dtype_policy
    from aigc_core.models.registry import VARIANTS

    variant = VARIANTS[model_name]
    precision = default_precision_for(variant.family, variant.preset)
    training_set = load_images("mnist", "train")
    with dtype_policy(precision):
        model = variant.build()
    labels = model.training_labels(training_set.images, training_set.labels, 0)
    return BuiltAsARun(variant, precision, model, scale_pixels(training_set.images, model.pixel_range), labels)
