"""Train one registered variant and export it to weights/ with its provenance.

    python scripts/train_shipped.py gan-fast --minutes 5 --seed 0
    python scripts/train_shipped.py gan-paper --from-run /work/runs-long/RUN   (export a run trained by the CLI)

The run itself stays in the run store (metrics, timeline); weights/<name>.json records
the command, seed, training time and hardware so the numbers in weights/README.md can
be reproduced.
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
    from aigc_core.config import TrainingConfig
    from aigc_core.models.registry import VARIANTS
    from aigc_core.runs.store import RunStore, write_bytes_atomic
    from aigc_core.runs.training import load_run_model, start_run, train_run
    from aigc_core.weights import export_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=sorted(VARIANTS))
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float)
    budget.add_argument("--steps", type=int)
    budget.add_argument("--from-run", metavar="RUN_DIR",
                        help="export this run's latest checkpoint (trained by `python -m aigc_core train`) instead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", help="name in weights/ (default: the variant name)")
    parser.add_argument("--average-generator", type=float, metavar="DECAY",
                        help="GANs: train with the moving average of the generator's weights at this per-step "
                             "decay (the run's ema_decay, e.g. 0.999; see aigc_core/runs/averaging.py) and export it")
    arguments = parser.parse_args()

    variant = VARIANTS[arguments.variant]
    overrides = {}
    if arguments.average_generator is not None:
        if variant.family != "gan":
            parser.error(f"--average-generator averages a GAN's generator; {variant.name} is a {variant.family.upper()}")
        overrides["ema_decay"] = arguments.average_generator
    if arguments.from_run:
        from aigc_core.runs.store import Run

        run = Run(Path(arguments.from_run).resolve())
        status = run.raw_status()
        if status.get("state") not in ("finished", "stopped", "interrupted"):
            parser.error(f"--from-run expects a run that has ended; {run.path} is {status.get('state')!r}")
        config = TrainingConfig.from_dict(run.config(strict=True))
        if (config.model, config.preset) != (variant.family, variant.preset):
            parser.error(f"--from-run: {run.path} trained {config.model}-{config.preset}, not {variant.name}")
    else:
        try:
            config = TrainingConfig(model=variant.family, preset=variant.preset, seed=arguments.seed,
                                    minutes=arguments.minutes, steps=arguments.steps,
                                    sample_every=500, checkpoint_every=1000, log_every=50, **overrides)
            run = start_run(config, RunStore())
        except ValueError as error:
            parser.error(str(error))
        print(f"training {variant.name} in {run.path}", flush=True)
        status = train_run(run)
        if status.get("state") != "finished":
            print(f"run ended {status.get('state')}: {status.get('error')}", file=sys.stderr)
            return 1
    model = load_run_model(run)  # an averaged run's checkpoint holds the average (aigc_core.runs.training)
    averaged = {"generator_average": {"decay": config.ema_decay}} if config.ema_decay and variant.family == "gan" else {}
    import tensorflow as tf

    gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    path = export_weights(
        model, arguments.name or variant.name,
        description=variant.description,
        command=" ".join(["python", "scripts/train_shipped.py", *sys.argv[1:]]),
        seed=config.seed, steps=status["step"], training_seconds=status["elapsed_s"],
        hardware=f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})" + (f", GPU {gpus}" if gpus else ""),
        source_run=run.run_id, **averaged,
    )
    # The run store is not shipped; its loss history is, so Compare can draw the curves.
    if run.metrics_path.exists():  # a run shorter than its log interval logged nothing
        write_bytes_atomic(path.with_name(f"{arguments.name or variant.name}.history.jsonl"), run.metrics_path.read_bytes())
    print(f"exported {path} after {status['step']} steps, {status['elapsed_s']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
