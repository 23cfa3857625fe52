"""What the training pipeline costs around `fit()`: the project's fixed prefetch against tf.data autotuning.

    python bench/data_pipeline.py [--model vae-clusters] [--rounds 4] [--steps 300]

Each `fit()` call makes a new iterator over the dataset and destroys it when it returns. With
tf.data's autotuning on (the usual `prefetch(tf.data.AUTOTUNE)`), the iterator's destructor waits
for autotuning's optimiser thread, which sleeps between optimisations: gdb showed a finished run's
process idle for ~20 s at exit in it (`RootDataset::Iterator::~Iterator` waiting on
`Model::OptimizeLoop`). So this times whole `fit()` calls of `--steps` steps, in turns whose order
reverses every round, on the same model: `make_training_dataset` as the library builds it, and the
same pipeline with `prefetch(tf.data.AUTOTUNE)` and autotuning left on. The ratio is the
autotuned pipeline's median seconds over the library's (above 1: the library's is faster).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def autotuned(images, labels, batch_size: int):
    """The pipeline as it was before: shuffled, repeated and batched as the library's, then
    `prefetch(tf.data.AUTOTUNE)` with autotuning on (tf.data's default)."""
    import tensorflow as tf

    slices = images if labels is None else (images, labels.astype("int32"))
    dataset = tf.data.Dataset.from_tensor_slices(slices)
    dataset = dataset.shuffle(min(len(images), 60_000), seed=0, reshuffle_each_iteration=True)
    return dataset.repeat().batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vae-clusters", help="a registry variant (default vae-clusters)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=300, help="training steps per fit() call")
    arguments = parser.parse_args()

    from aigc_core.data import make_training_dataset
    from as_a_run import build_as_a_run

    built = build_as_a_run(arguments.model)
    variant, precision, model, images, labels = built.variant, built.precision, built.model, built.images, built.labels
    pipelines = {"library (fixed prefetch)": make_training_dataset(images, variant.batch_size, seed=0, labels=labels),
                 "autotuned": autotuned(images, labels, variant.batch_size)}
    for dataset in pipelines.values():  # trace the step once per pipeline before timing
        model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)

    seconds = {name: [] for name in pipelines}
    for round_index in range(arguments.rounds):
        order = list(pipelines) if round_index % 2 == 0 else list(pipelines)[::-1]
        for name in order:
            started = time.perf_counter()
            model.fit(pipelines[name], epochs=1, steps_per_epoch=arguments.steps, verbose=0)
            seconds[name].append(time.perf_counter() - started)
        print(f"round {round_index + 1}: " + "   ".join(f"{name} {seconds[name][-1]:6.2f} s" for name in pipelines),
              flush=True)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    print(f"\n{arguments.model} in {precision}, {arguments.steps} steps per fit(), median of {arguments.rounds} rounds:")
    for name, median in medians.items():
        print(f"  {name:<26}{median:7.2f} s")
    ratio = medians["autotuned"] / medians["library (fixed prefetch)"]
    print(f"ratio autotuned/library = {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
