#!/usr/bin/env bash
# Train the paper DCGAN and the VAE under JAX on a GPU host; print images/s and seconds per epoch.
#
# Meant for a host with Python, JAX (CUDA) and PyTorch but no TensorFlow and possibly no network.
# Keras is installed from the wheels in bench/wheels when they are there (see bench/README.md for
# how to fill that folder); the data is the MNIST copy bundled in aigc_core/assets.
#
# Usage, from anywhere:   bash bench/gpu.sh [bench/gpu_train.py options]
#   PYTHON=python3.12 bash bench/gpu.sh          # another interpreter
#   bash bench/gpu.sh --steps 100                 # fewer timed steps than one epoch
# Samples and gpu_bench.json go to $OUT when it is set, else ./gpu-bench-output.
set -euo pipefail

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

keras_wheel="$(ls "$bench_dir"/wheels/keras-*.whl 2>/dev/null | sort -V | tail -n 1 || true)"
if [[ -n "$keras_wheel" ]]; then
    # Ask for the wheel's exact version, so an older Keras already installed is replaced.
    keras_version="$(basename "$keras_wheel" | cut -d- -f2)"
    echo "installing keras==$keras_version from $bench_dir/wheels (offline)"
    "$python" -m pip install --quiet --no-index --find-links "$bench_dir/wheels" "keras==$keras_version"
elif ! "$python" -c "import keras" 2>/dev/null; then
    echo "Expected keras to be installed or a keras wheel in $bench_dir/wheels. Received: neither (see bench/README.md)" >&2
    exit 1
fi

export KERAS_BACKEND=jax
cd "$bench_dir/.."
exec "$python" bench/gpu_train.py "$@"
