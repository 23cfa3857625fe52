"""Make a run that continues a shipped model's training from its shipped weights.

    python scripts/continue_shipped.py gan-paper --steps 40000 --precision mixed_bfloat16
    python -m aigc_core resume --run RUN                      (trains from the shipped step on)
    python -m aigc_core stop --run RUN                        (whenever it is good enough)
    python scripts/train_shipped.py gan-paper --from-run RUN  (exports it back to weights/)

Why: the shipped gan-paper weights were still improving when their run stopped, and that run's
folder, with its optimizer state, was on a machine that is gone. A shipped weights file holds the
whole model (for a GAN with a moving average, the average in the generator's place), so it can be
a new run's checkpoint at the shipped step: the run's config is the variant's preset, its metrics
start with the shipped loss history, and resume trains on from there. Adam's moments and the
generator's moving average start afresh, from the shipped weights.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def continuation_run(name: str, steps: int, *, precision: str | None = None, store=None, weights_dir=None):
    """A new stopped run (in `store`) whose checkpoint is the shipped `name` at its shipped step.

    Resuming it trains on to `steps` in all. ValueError when `name` is no registered variant's
    weights, or `steps` is not past the shipped step.
    """
    from aigc_core.config import TrainingConfig
    from aigc_core.data import load_images
    from aigc_core.models.registry import VARIANTS
    from aigc_core.files import write_bytes_atomic, write_json_atomic
    from aigc_core.runs.store import RunStore
    from aigc_core.runs.training import start_run
    from aigc_core.weights import WEIGHTS_DIR, find_shipped

    entry = find_shipped(name, Path(weights_dir or WEIGHTS_DIR))
    if name not in VARIANTS:
        raise ValueError(f"{name} is not a registered variant, so there is no preset to continue it with")
    variant = VARIANTS[name]
    provenance = json.loads(Path(entry["config_path"]).read_text())
    shipped_step = int(provenance.get("steps") or 0)
    if steps <= shipped_step:
        raise ValueError(f"--steps counts from the start: {name} shipped after {shipped_step} steps, so give more")
    config = TrainingConfig(model=variant.family, preset=variant.preset, seed=int(provenance.get("seed", 0)),
                            steps=steps, precision=precision, log_every=50, sample_every=500, checkpoint_every=250)
    run = start_run(config, store or RunStore())
    shutil.copyfile(entry["weights_path"], run.weights_path)
    write_json_atomic(run.model_config_path, {key: provenance[key] for key in ("family", "model_class", "config", "version")
                                              if key in provenance})
    history = Path(entry["weights_path"]).with_name(f"{name}.history.jsonl")
    if history.exists():
        write_bytes_atomic(run.metrics_path, history.read_bytes())
    images_per_epoch = len(load_images(config.dataset, "train", config.train_limit).images)
    write_json_atomic(run.path / "checkpoint.json", {
        "step": shipped_step, "epoch": round(shipped_step * config.resolved_batch_size() / images_per_epoch, 4),
        "elapsed_s": float(provenance.get("training_seconds") or 0.0)})
    run.update_status(state="stopped", step=shipped_step)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="shipped weights of a registered variant, e.g. gan-paper")
    parser.add_argument("--steps", type=int, required=True, help="steps in all, counted from the start")
    parser.add_argument("--precision", help="float32 or mixed_bfloat16 (default: the variant's on this machine)")
    parser.add_argument("--runs-root", help="folder of runs (default: $AIGC_RUNS_DIR or ./runs)")
    arguments = parser.parse_args()
    from aigc_core.runs.store import RunStore

    try:
        run = continuation_run(arguments.name, arguments.steps, precision=arguments.precision,
                               store=RunStore(Path(arguments.runs_root)) if arguments.runs_root else None)
    except ValueError as error:
        parser.error(str(error))
    print(f"continue it with: python -m aigc_core resume --run {run.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
