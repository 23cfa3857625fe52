"""The command line: `python -m aigc_core train | sample | list | resume | stop | worker`.

Bad input exits with status 2 and one line naming the value and what is allowed;
a run that fails exits with status 1 and its reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aigc_core.augment_cli import add_augment_parser, command_augment

# Help texts name the registry's choices, but importing it pulls in Keras; argparse
# choices are checked by config.validate() instead, so `--help` stays fast.


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line instead of usage plus error."""

    def error(self, message):
        self.exit(2, f"error: {message}\n")


def _add_budget(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--steps", type=int, help="number of training steps (a GAN step is one generator update)")
    group.add_argument("--epochs", type=int, help="passes over the training set")
    group.add_argument("--minutes", type=float, help="wall-clock budget in minutes")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m aigc_core",
                           description="Train, sample and inspect GAN, VAE and diffusion models.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = commands.add_parser("train", help="train a model in this process, with a progress bar")
    train.add_argument("--model", default="gan", help="gan, vae or diffusion")
    train.add_argument("--preset", default="fast",
                       help="gan: fast, paper, wgan-gp, conditional; vae: fast, large, conditional; "
                            "diffusion: fast, large, conditional")
    _add_budget(train)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="learning rate (GAN: both networks)")
    train.add_argument("--g-lr", type=float, help="GAN generator learning rate")
    train.add_argument("--d-lr", type=float, help="GAN discriminator learning rate")
    train.add_argument("--d-steps", type=int, help="GAN discriminator steps per generator step")
    train.add_argument("--real-label", type=float,
                       help="GAN one-sided label smoothing: D's target for real images (1 = off, 0.9 usual)")
    train.add_argument("--instance-noise", type=float,
                       help="GAN: std of the noise added to D's inputs (0 = off)")
    train.add_argument("--instance-noise-steps", type=int,
                       help="GAN: steps over which the instance noise fades to 0 (0 = constant)")
    train.add_argument("--gp-weight", type=float, help="WGAN-GP gradient penalty weight (default 10)")
    train.add_argument("--latent-dim", type=int)
    train.add_argument("--beta", type=float, help="VAE weight of the KL term")
    train.add_argument("--reconstruction", help="VAE reconstruction loss: bernoulli, gaussian or gaussian_learned")
    train.add_argument("--objective",
                       help="diffusion: flow (flow matching, predicts the velocity) or ddpm (predicts the noise)")
    train.add_argument("--sampling-steps", type=int,
                       help="diffusion: denoising steps per image for snapshots, samples and evaluation")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--dataset", default="mnist", help="mnist or fashion_mnist")
    train.add_argument("--train-limit", type=int, help="use only the first N training images")
    train.add_argument("--devices", type=int, default=1,
                       help="data-parallel replicas: split each batch over the first N GPUs (or CPUs); "
                            "$AIGC_LOGICAL_CPUS=N splits one CPU into N")
    train.add_argument("--precision",
                       help="float32, or mixed_bfloat16 (bfloat16 compute, float32 weights: GPUs and AMX CPUs); "
                            "default: mixed_bfloat16 for vae-fast on a CPU with AVX512-BF16 or AMX, else float32")
    train.add_argument("--ema-decay", type=float,
                       help="GAN and diffusion: per-step decay of the moving average of the generator (the "
                            "denoiser) that samples and checkpoints use (e.g. 0.999; 0 = off; default: the "
                            "training config's)")
    train.add_argument("--log-every", type=int, default=10, help="steps between metrics lines")
    train.add_argument("--sample-every", type=int, default=100, help="steps between snapshot grids")
    train.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    train.add_argument("--run-dir", help="directory for this run (default: runs/<new id>)")
    train.add_argument("--runs-root", help="folder of runs (default: $AIGC_RUNS_DIR or ./runs)")
    train.add_argument("--detach", action="store_true",
                       help="submit the run to the executor ($AIGC_EXECUTOR: local or ray), print its "
                            "directory and return at once")

    sample = commands.add_parser("sample", help="write samples of a run or of shipped weights")
    source = sample.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="run directory")
    source.add_argument("--weights", help="a .weights.h5 file, or the name of shipped weights")
    sample.add_argument("--num", type=int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--label", type=int, help="conditional models only: the digit (0-9) every sample shows")
    sample.add_argument("--sampling-steps", type=int,
                        help="diffusion models only: denoising steps per image (default: the model's own)")
    sample.add_argument("--out", required=True, help="FILE.npy (N, 28, 28) float32 in [0, 1] or FILE.png grid")

    listing = commands.add_parser("list", help="runs with their status, and shipped weights")
    listing.add_argument("--runs-root")

    rename = commands.add_parser("rename", help="give a run a name of its own (\"\" for the generated one) and a note")
    rename.add_argument("run", help="run directory, or the id of a run in $AIGC_RUNS_DIR")
    rename.add_argument("name", help="at most 60 characters; an empty name brings the generated one back")
    rename.add_argument("--note", help="at most 500 characters (kept as it was when left out)")

    resume = commands.add_parser("resume", help="continue a stopped, failed or killed run from its checkpoint")
    resume.add_argument("--run", required=True)
    _add_budget(resume)

    stop = commands.add_parser("stop", help="ask a running run to stop after its current step")
    stop.add_argument("--run", required=True)

    evaluate = commands.add_parser("evaluate", help="FID, Inception Score and class coverage through the dataset's classifier")
    evaluated = evaluate.add_mutually_exclusive_group(required=True)
    evaluated.add_argument("--run", help="run directory")
    evaluated.add_argument("--weights", help="a .weights.h5 file, or the name of shipped weights")
    evaluate.add_argument("--num", type=int, default=10_000, help="samples drawn (FID needs 10000 to compare)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--sampling-steps", type=int,
                          help="diffusion models only: denoising steps per image (default: the model's own)")
    evaluate.add_argument("--json", metavar="FILE",
                          help="also write the measurements to FILE.json (a run's own metrics.json is written "
                               "anyway; measurements of weights are only printed unless this is given)")

    add_augment_parser(commands)

    worker = commands.add_parser("worker", help=argparse.SUPPRESS)
    worker.add_argument("--run", required=True)
    worker.add_argument("--steps", type=int)
    worker.add_argument("--minutes", type=float)
    return parser


def _fail(message: str, code: int = 2) -> int:
    """Print one line: control characters from the input (newlines, NUL) are shown escaped."""
    printable = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in str(message))
    print(f"error: {printable[:1000]}", file=sys.stderr)
    return code


# Flags named exactly like the GAN hyperparameter they set.
GAN_OPTION_FLAGS = ("real_label", "instance_noise", "instance_noise_steps", "gp_weight")


def _refuse_diffusion_flags(arguments) -> None:
    for flag in ("objective", "sampling_steps"):
        if getattr(arguments, flag) is not None:
            raise ValueError(f"--{flag.replace('_', '-')} applies to diffusion models only; "
                             f"received it with --model {arguments.model}")


def _overrides(arguments) -> dict:
    overrides = {}
    if arguments.model == "gan":
        if arguments.lr is not None:
            overrides["g_learning_rate"] = overrides["d_learning_rate"] = arguments.lr
        if arguments.g_lr is not None:
            overrides["g_learning_rate"] = arguments.g_lr
        if arguments.d_lr is not None:
            overrides["d_learning_rate"] = arguments.d_lr
        if arguments.d_steps is not None:
            overrides["d_steps_per_g_step"] = arguments.d_steps
        for flag in GAN_OPTION_FLAGS:  # validate() refuses one the preset's model does not take
            if getattr(arguments, flag) is not None:
                overrides[flag] = getattr(arguments, flag)
        for flag in ("beta", "reconstruction"):
            if getattr(arguments, flag) is not None:
                raise ValueError(f"--{flag} applies to the VAE only; received it with --model gan")
        _refuse_diffusion_flags(arguments)
    elif arguments.model == "diffusion":
        if arguments.lr is not None:
            overrides["learning_rate"] = arguments.lr
        for flag in ("objective", "sampling_steps"):
            if getattr(arguments, flag) is not None:
                overrides[flag] = getattr(arguments, flag)
        for flag in ("g_lr", "d_lr", "d_steps", *GAN_OPTION_FLAGS, "beta", "reconstruction"):
            if getattr(arguments, flag) is not None:
                raise ValueError(f"--{flag.replace('_', '-')} does not apply to --model diffusion")
    else:
        if arguments.lr is not None:
            overrides["learning_rate"] = arguments.lr
        if arguments.beta is not None:
            overrides["beta"] = arguments.beta
        if arguments.reconstruction is not None:
            overrides["reconstruction"] = arguments.reconstruction
        for flag in ("g_lr", "d_lr", "d_steps", *GAN_OPTION_FLAGS):
            if getattr(arguments, flag) is not None:
                raise ValueError(f"--{flag.replace('_', '-')} applies to the GAN only; received it with --model vae")
        _refuse_diffusion_flags(arguments)
    if arguments.latent_dim is not None:
        overrides["latent_dim"] = arguments.latent_dim
    return overrides


def _progress_printer():
    """A one-line progress bar on a terminal; a line per 5% (or per 100 steps) in a log file."""
    import time

    started = time.monotonic()
    last_printed = {"step": 0}
    interactive = sys.stderr.isatty()

    def progress(step, total_steps, losses):
        elapsed = time.monotonic() - started
        if total_steps:
            fraction = min(1.0, step / total_steps)
            bar = "#" * int(fraction * 30)
            head = f"[{bar:<30s}] {step}/{total_steps} {fraction:4.0%}"
        else:
            head = f"step {step}"
        text = f"{head}  {elapsed:6.1f} s  " + " ".join(f"{k}={v:.3f}" for k, v in sorted(losses.items()))
        if interactive:
            print("\r" + text, end="", file=sys.stderr, flush=True)
            return
        every = max(1, total_steps // 20) if total_steps else 100
        if step - last_printed["step"] >= every or step == total_steps:
            last_printed["step"] = step
            print(text, file=sys.stderr, flush=True)

    return progress


def _report(run, status) -> int:
    state = status.get("state")
    print(f"\nrun {state}: {run.path} (step {status.get('step')}, {status.get('elapsed_s', 0):.1f} s)")
    if state == "failed":
        return _fail(status.get("error", "unknown error"), code=1)
    return 0


def command_train(arguments) -> int:
    from aigc_core import studio
    from aigc_core.config import TrainingConfig

    studio.quiet_tensorflow()
    if arguments.model not in studio.FAMILIES:
        return _fail(f"model must be one of {list(studio.FAMILIES)}; received {arguments.model!r}")
    config = TrainingConfig(
        model=arguments.model, preset=arguments.preset, overrides=_overrides(arguments),
        batch_size=arguments.batch_size, seed=arguments.seed, steps=arguments.steps, epochs=arguments.epochs,
        minutes=arguments.minutes, log_every=arguments.log_every, sample_every=arguments.sample_every,
        checkpoint_every=arguments.checkpoint_every, dataset=arguments.dataset, train_limit=arguments.train_limit,
        devices=arguments.devices, precision=arguments.precision,
        **({} if arguments.ema_decay is None else {"ema_decay": arguments.ema_decay}),
    )
    if arguments.detach:
        return _detach(config, arguments)
    run = studio.create_run(config, run_dir=arguments.run_dir, runs_root=arguments.runs_root)  # validates, once
    print(f"run directory: {run.path}")
    status = studio.train_here(run, progress=_progress_printer())
    return _report(run, status)


def _detach(config, arguments) -> int:
    """Queue the run on the configured executor, as the Train page does, and print where it went."""
    from aigc_core import studio

    if arguments.run_dir:
        return _fail("--detach names its run itself; use --runs-root instead of --run-dir")
    run = studio.launch(config, store=studio.run_store(arguments.runs_root))  # validates, once
    print(f"run directory: {run.path}")
    return 0


def _load_source(arguments):
    from aigc_core import studio

    if arguments.run is not None:  # an empty --run "" names no run, not the weights branch
        return studio.load_run_model(studio.open_run(arguments.run))
    return studio.load_weights_model(arguments.weights)


def command_sample(arguments) -> int:
    from aigc_core import studio

    studio.quiet_tensorflow()
    out = studio.validate_sample_output(arguments.out)
    num_samples, seed = studio.validate_sampling(arguments.num, arguments.seed, names=("--num", "--seed"))
    if arguments.label is not None:
        studio.validate_label(arguments.label, name="--label")  # a label out of range is refused before loading
    model = _load_source(arguments)
    if arguments.sampling_steps is not None:
        studio.use_sampling_steps(model, arguments.sampling_steps, name="--sampling-steps")
    labels = studio.labels_for(model.num_classes, num_samples, arguments.label, name="--label")
    studio.save_samples(model.sample(num_samples, seed=seed, labels=labels), out)
    shown = f" of digit {arguments.label}" if arguments.label is not None else ""
    print(f"wrote {num_samples} samples{shown} to {out}")
    return 0


def command_list(arguments) -> int:
    from aigc_core import studio

    runs = studio.list_runs(arguments.runs_root)
    print(f"runs in {studio.runs_folder(arguments.runs_root)}:")
    if not runs:
        print("  (none)")
    else:
        print(f"  {'ID':36s} {'NAME':32s} {'STATE':10s} MODEL-PRESET, STEP, SECONDS, LAST LOSSES")
    for run in runs:
        row = run.summary()
        losses = ", ".join(f"{k}={v:.3f}" for k, v in sorted(row["final_losses"].items()) if isinstance(v, float))
        error = f"  ({row['error']})" if row["error"] else ""
        broken = f"  [break it: {row['break_it']}]" if row.get("break_it") else ""
        name = studio.run_name_text(run)
        where = f"{row['executor']}@{row['where']}" if row.get("where") else row["executor"]
        print(f"  {row['run_id']:36s} {name:32s} {row['state']:10s} {row['model'] or '?'}-{row['preset'] or '?':6s} "
              f"step {row['step']:>6} {row['elapsed_s']:8.1f} s  {where:24s} {losses}{broken}{error}")
    print("shipped weights:")
    entries = studio.shipped_models()
    if not entries:
        print("  (none)")
    for entry in entries:
        print(f"  {entry['name']:20s} {entry['family']}  {entry['description']}")
    return 0


def command_rename(arguments) -> int:
    """Name a run given by its folder or its id; the CLI runs on the server, with the operator's rights."""
    from aigc_core import studio

    run = studio.open_run(arguments.run) if Path(arguments.run).is_dir() else studio.get_run(arguments.run)
    named = studio.rename_run(run, studio.OPERATOR, arguments.name, arguments.note)
    print(f"run {run.run_id} is now called {named.text()!r}" + (f" (note: {len(named.note)} characters)"
                                                                if named.note else ""))
    return 0


def command_resume(arguments) -> int:
    from aigc_core import studio

    studio.quiet_tensorflow()
    run = studio.open_run(arguments.run)
    state = run.status().get("state")
    if state not in studio.ACTIVE_STATES and state != "damaged":
        if arguments.epochs is not None:
            return _fail("resume takes --steps or --minutes, not --epochs")
        for name in ("steps", "minutes"):
            value = getattr(arguments, name)
            if value is not None and not value > 0:
                return _fail(f"--{name} must be positive; received {value}")
    # The state, the budget, the recorded config on this machine and the free disk space, checked at the door.
    arguments.steps, arguments.minutes = studio.check_resumable_here(run, arguments.steps, arguments.minutes)
    print(f"resuming {run.path} from step {(run.checkpoint() or {}).get('step', 0)}")
    status = studio.train_here(run, extra_steps=arguments.steps, extra_minutes=arguments.minutes,
                               progress=_progress_printer())
    return _report(run, status)


def command_stop(arguments) -> int:
    from aigc_core import studio

    run = studio.open_run(arguments.run)
    studio.stop(run)  # the CLI is the operator: any run
    print(f"stop requested for {run.path}")
    return 0


def command_evaluate(arguments) -> int:
    """Measure a run or weights and print them beside the reference rows.

    A run's measurements are written to its own metrics.json. Weights files are never written
    beside: the shipped `weights/<name>.metrics.json` come from 10,000 samples and only their
    maker (scripts/train_all_shipped.sh) replaces them, by naming the file with `--json FILE`.
    """
    from aigc_core import studio

    studio.quiet_tensorflow()
    arguments.num, arguments.seed = studio.validate_sampling(
        arguments.num, arguments.seed, min_samples=2, max_samples=studio.evaluation_limits(), names=("--num", "--seed"))
    outputs = []
    if arguments.json is not None:
        if not arguments.json.endswith(".json"):
            return _fail(f"--json expects a FILE.json path; received {arguments.json!r}")
        outputs.append(Path(arguments.json))
    run = None
    if arguments.run is not None:  # an empty --run "" names no run, not the weights branch
        run = studio.open_run(arguments.run)
        outputs.insert(0, run.path / "metrics.json")

    def announce(name: str, dataset: str) -> None:
        print(f"evaluating {name} ({dataset}) on {arguments.num} samples (seed {arguments.seed}) ...", file=sys.stderr,
              flush=True)

    report = studio.evaluate(run, arguments.weights, arguments.num, arguments.seed, announce=announce,
                             sampling_steps=arguments.sampling_steps)
    metrics = report["metrics"]
    print(studio.evaluation_text(report))
    if metrics.get("digit_agreement"):  # a conditional model: does the label pick the digit?
        shares = "  ".join(f"{digit}: {share:.0%}" for digit, share in enumerate(metrics["digit_agreement"])
                           if share is not None)
        print(f"classifier agrees with the label asked for: {shares}")
    for out in outputs:
        studio.write_json(out, {"name": report["name"], "family": report["family"],
                                "weights_sha256": report["weights_sha256"], **metrics, "reference": report["reference"]})
        print(f"wrote {out}")
    return 0


def command_worker(arguments) -> int:
    from aigc_core.runs.executors.local import worker_main  # sets TensorFlow up itself, once it holds a training slot

    return worker_main(arguments.run, extra_steps=arguments.steps, extra_minutes=arguments.minutes)


COMMANDS = {
    "train": command_train,
    "sample": command_sample,
    "list": command_list,
    "rename": command_rename,
    "resume": command_resume,
    "stop": command_stop,
    "evaluate": command_evaluate,
    "worker": command_worker,
    "augment": command_augment,
}


def main(argv: list[str] | None = None) -> int:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow
    arguments = build_parser().parse_args(argv)
    try:
        if arguments.command != "worker":  # a queued worker must not import TensorFlow while it waits
            from aigc_core.devices import configure_logical_cpus, enable_gpu_memory_growth

            configure_logical_cpus()  # $AIGC_LOGICAL_CPUS, before any command starts TensorFlow's runtime
            enable_gpu_memory_growth()
        return COMMANDS[arguments.command](arguments)
    except ValueError as error:  # includes DatasetError-free validation and WeightsError
        return _fail(str(error))
    except RuntimeError as error:  # DatasetError: offline download and corrupt files
        return _fail(str(error), code=1)
    except OSError as error:  # a full disk, a read-only runs folder, a path that cannot be opened
        from aigc_core.studio import describe_os_error

        return _fail(describe_os_error(error), code=1)
    except KeyboardInterrupt:
        return _fail("interrupted", code=130)
