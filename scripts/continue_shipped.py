"""Make a run that continues a shipped model's training from its shipped weights.

    python scripts/continue_shipped.py gan-paper --steps 40000 --precision mixed_bfloat16
        [--set learning_rate_decay_steps=4000 --set learning_rate_warmup_steps=200]
    python -m aigc_core resume --run RUN                      (trains from the shipped step on)
    python -m aigc_core stop --run RUN                        (whenever it is good enough)
    python scripts/train_shipped.py gan-paper --from-run RUN  (exports it back to weights/)

Why: the shipped gan-paper weights were still improving when their run stopped, and that run's
folder, with its optimizer state, was on a machine that is gone. A shipped weights file holds the
whole model (for a GAN with a moving average, the average in the generator's place), so it can be
a new run's checkpoint at the shipped step: the run's config is the variant's preset, its metrics
start with the shipped loss history, and resume trains on from there. Adam's moments and the
generator's moving average start afresh, from the shipped weights. `--set KEY=VALUE` changes a
hyperparameter of the preset for the continuation (checked as the Train form's are), e.g. a
cosine decay of the step size to 0 over the extra steps, so that a long run ends on settled weights.
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


def continuation_run(name: str, steps: int, *, precision: str | None = None, overrides: dict | None = None,
                     store=None, weights_dir=None):
    """A new stopped run (in `store`) whose checkpoint is the shipped `name` at its shipped step.

    Resuming it trains on to `steps` in all, with the preset's hyperparameters updated by
    `overrides`. ValueError when `name` is no registered variant's weights, `steps` is not past
    the shipped step, or an override is not one of the preset's hyperparameters or out of range.
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
                            steps=steps, precision=precision, overrides=dict(overrides or {}), log_every=50, sample_every=500, checkpoint_every=250)
    run = start_run(config, store or RunStore())
    shutil.copyfile(entry["weights_path"], run.weights_path)
    model_config = {key: provenance[key] for key in ("family", "model_class", "config", "version") if key in provenance}
    model_config["config"] = {**model_config.get("config", {}), **run.config()["overrides"]}
    write_json_atomic(run.model_config_path, model_config)
    history = Path(entry["weights_path"]).with_name(f"{name}.history.jsonl")
    if history.exists():
        write_bytes_atomic(run.metrics_path, history.read_bytes())
    images_per_epoch = len(load_images(config.dataset, "train", config.train_limit).images)
    write_json_atomic(run.path / "checkpoint.json", {
        "step": shipped_step, "epoch": round(shipped_step * config.resolved_batch_size() / images_per_epoch, 4),
        "elapsed_s": float(provenance.get("training_seconds") or 0.0)})
    run.update_status(state="stopped", step=shipped_step)
    return run


def parse_setting(text: str) -> tuple[str, float]:
    """`KEY=VALUE` as (KEY, the number VALUE); ValueError, in words, for anything else."""
    key, equals, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = None
    if not equals or not key or number is None:
        raise ValueError(f"--set takes KEY=NUMBER, e.g. learning_rate_decay_steps=4000; received {text!r}")
    return key, int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="shipped weights of a registered variant, e.g. gan-paper")
    parser.add_argument("--steps", type=int, required=True, help="steps in all, counted from the start")
    parser.add_argument("--precision", help="float32 or mixed_bfloat16 (default: the variant's on this machine)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a hyperparameter of the preset changed for the continuation (repeatable)")
    parser.add_argument("--runs-root", help="folder of runs (default: $AIGC_RUNS_DIR or ./runs)")
    arguments = parser.parse_args()
    from aigc_core.runs.store import RunStore

    try:
        overrides = dict(parse_setting(setting) for setting in arguments.set)
        run = continuation_run(arguments.name, arguments.steps, precision=arguments.precision, overrides=overrides,
                               store=RunStore(Path(arguments.runs_root)) if arguments.runs_root else None)
    except ValueError as error:
        parser.error(str(error))
    print(f"continue it with: python -m aigc_core resume --run {run.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
