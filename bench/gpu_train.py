"""Train the paper DCGAN and the VAE under JAX for a fixed number of steps; print images/s and s/epoch.

What bench/gpu.sh runs on a GPU host that has JAX but no TensorFlow (and maybe no network):
the data is the bundled MNIST (aigc_core/assets/mnist.npz, no download), the input pipeline is
Keras's own array batching (no `tf.data`), and nothing here imports TensorFlow.

For each variant: one short `fit()` to compile the step (reported apart), then `--repeats`
timed `fit()` calls of `--steps` steps each (default: one MNIST epoch). The fastest one gives
images/s, and seconds per epoch are that rate scaled to the 60,000 MNIST training images; all
times are printed, so a slow first call (a second compilation) would show. Samples (64, seed 0) go to the output folder as a PNG grid and an NPY array,
with a JSON summary of every number printed.

Usage (from the repository root):
    bash bench/gpu.sh                                   # on the GPU host; output in $OUT
    KERAS_BACKEND=jax python bench/gpu_train.py --allow-cpu --steps 2 --warmup-steps 1 --limit 1024
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import sys
import time
import zlib
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MNIST_TRAIN_IMAGES = 60_000
TARGET_SECONDS_PER_EPOCH = {"gan-paper": 3.0}  # issue 5, on an H200


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["gan-paper", "vae-fast"], help="registry names")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant (default: one MNIST epoch)")
    parser.add_argument("--warmup-steps", type=int, default=3, help="steps of the compiling fit(), not timed")
    parser.add_argument("--repeats", type=int, default=2, help="timed fit() calls per variant; the fastest counts")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the variant's own")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only (quick checks)")
    parser.add_argument("--out", default=os.environ.get("OUT") or "gpu-bench-output", help="samples and summary")
    parser.add_argument("--allow-cpu", action="store_true", help="run even when JAX sees no GPU")
    arguments = parser.parse_args(argv)
    for name in ("steps", "warmup_steps", "repeats", "batch_size", "limit"):
        value = getattr(arguments, name)
        if value is not None and value < 1:
            raise SystemExit(f"Expected --{name.replace('_', '-')} to be a positive integer. Received: {value}")
    return arguments


def describe_platform() -> dict:
    """Versions and devices, printed first so a failure on a remote host still says where it ran."""
    import keras

    info = {"python": platform.python_version(), "keras": keras.__version__, "backend": keras.backend.backend()}
    if info["backend"] == "jax":
        import jax

        info["jax"] = jax.__version__
        info["devices"] = [str(device) for device in jax.devices()]
        info["gpu"] = jax.default_backend() == "gpu"
    info["tensorflow_imported"] = "tensorflow" in sys.modules
    return info


def png_grayscale(grid) -> bytes:
    """A grayscale PNG from a uint8 (H, W) array with the standard library only.

    `aigc_core.images.png_bytes` needs Pillow, which a JAX-and-PyTorch host may not have.
    """
    height, width = grid.shape

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    rows = b"".join(b"\x00" + grid[row].tobytes() for row in range(height))  # filter type 0 per row
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def final_values(history) -> dict:
    return {name: round(float(values[-1]), 4) for name, values in history.history.items()}


def bench_variant(name: str, images, arguments, out_dir: Path) -> dict:
    """Compile, time `steps` training steps, write samples; returns the numbers printed."""
    import keras
    import numpy as np

    from aigc_core.data import scale_pixels
    from aigc_core.images import make_grid
    from aigc_core.models.registry import VARIANTS

    if name not in VARIANTS:
        raise SystemExit(f"Expected variants among {sorted(VARIANTS)}. Received: {name!r}")
    variant = VARIANTS[name]
    batch_size = arguments.batch_size or variant.batch_size
    if batch_size > len(images):
        raise SystemExit(f"Expected --batch-size <= {len(images)} images. Received: {batch_size}")
    full_batches = len(images) // batch_size
    steps = arguments.steps or full_batches
    if max(steps, arguments.warmup_steps) > full_batches:  # fit() on arrays stops, with only a warning, when they run out
        raise SystemExit(
            f"Expected --steps and --warmup-steps <= {full_batches}, the full batches in {len(images)} images. "
            f"Received: {steps} and {arguments.warmup_steps}"
        )
    keras.utils.set_random_seed(0)
    model = variant.build()
    # Whole batches only: a last, smaller batch would make JAX compile the step a second time.
    scaled = scale_pixels(images[: full_batches * batch_size], model.pixel_range)

    start = time.perf_counter()
    model.fit(scaled, batch_size=batch_size, epochs=1, steps_per_epoch=arguments.warmup_steps, verbose=0)
    compile_s = time.perf_counter() - start

    train_times = []
    for _ in range(arguments.repeats):
        start = time.perf_counter()
        # History turns the epoch's logs into Python floats, so fit() returns after the device is done.
        history = model.fit(scaled, batch_size=batch_size, epochs=1, steps_per_epoch=steps, verbose=0)
        train_times.append(time.perf_counter() - start)
    train_s = min(train_times)

    images_per_s = steps * batch_size / train_s
    samples = model.sample(64, seed=0)
    np.save(out_dir / f"{name}-samples.npy", samples)
    (out_dir / f"{name}-samples.png").write_bytes(png_grayscale(make_grid(samples, columns=8)))
    result = {
        "variant": name,
        "batch_size": batch_size,
        "steps": steps,
        "compile_and_warmup_s": round(compile_s, 2),
        "train_s": round(train_s, 3),
        "all_train_s": [round(seconds, 3) for seconds in train_times],
        "images_per_s": round(images_per_s, 1),
        "seconds_per_epoch": round(MNIST_TRAIN_IMAGES / images_per_s, 3),
        "final_logs": final_values(history),
        "samples_in_unit_range": bool(samples.min() >= 0.0 and samples.max() <= 1.0),
    }
    target = TARGET_SECONDS_PER_EPOCH.get(name)
    if target is not None:
        result["target_seconds_per_epoch"] = target
        result["target_met"] = result["seconds_per_epoch"] <= target
    return result


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    info = describe_platform()
    print("platform:", json.dumps(info), flush=True)
    if info["backend"] == "jax" and not info["gpu"] and not arguments.allow_cpu:
        print(f"Expected JAX to see a GPU. Received: devices {info['devices']}. Pass --allow-cpu (with small --steps) to run anyway.")
        return 2

    from aigc_core.data import load_images

    images = load_images("mnist", "train", limit=arguments.limit).images
    out_dir = Path(arguments.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for name in arguments.variants:
        result = bench_variant(name, images, arguments, out_dir)
        results.append(result)
        verdict = ""
        if "target_met" in result:
            verdict = f"  target <= {result['target_seconds_per_epoch']} s/epoch: {'met' if result['target_met'] else 'NOT met'}"
        print(
            f"{name}: batch {result['batch_size']}, {result['steps']} steps in {result['train_s']} s "
            f"(best of {result['all_train_s']}; compile + {arguments.warmup_steps} warm-up steps "
            f"{result['compile_and_warmup_s']} s): {result['images_per_s']} images/s, "
            f"{result['seconds_per_epoch']} s per 60,000-image epoch{verdict}",
            flush=True,
        )
        print(f"  final logs {result['final_logs']}; samples in [0, 1]: {result['samples_in_unit_range']}", flush=True)
    info["tensorflow_imported"] = "tensorflow" in sys.modules
    summary = {"platform": info, "results": results}
    (out_dir / "gpu_bench.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"samples and gpu_bench.json in {out_dir.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
