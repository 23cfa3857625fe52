#!/usr/bin/env bash
# Retrain every shipped variant, measure it, and regenerate weights/README.md.
# The budgets are what fit one CPU session; with a GPU give them more.
set -euo pipefail
cd "$(dirname "$0")/.."
train_and_measure() {
    python scripts/train_shipped.py "$1" --minutes "$2" --seed 0
    # evaluate only prints for weights; naming the shipped file is what replaces it
    python -m aigc_core evaluate --weights "$1" --json "weights/$1.metrics.json"
}
train_and_measure gan-fast 12
train_and_measure gan-clusters 15
train_and_measure vae-large 8
train_and_measure vae-clusters 9
train_and_measure vae-fast 4
train_and_measure gan-paper 15
train_and_measure vae-conditional 6
train_and_measure gan-conditional 10
train_and_measure gan-wgan-gp 10
train_and_measure diffusion-fast 18
train_and_measure diffusion-conditional 18
python scripts/weights_readme.py
