"""`python -m aigc_core augment`: the data augmentation experiment from the command line.

Kept apart from cli.py so the experiment's flags and output live with nothing else; cli.py only
calls `add_augment_parser` and dispatches to `command_augment`. Nothing heavy is imported at
module level: `--help` must stay fast.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

AUTO, NONE = "auto", "none"


def add_augment_parser(commands) -> None:
    """Add the `augment` subcommand to the CLI's subparsers."""
    from aigc_core.experiments.augment import AugmentSettings  # NumPy only: --help stays fast

    defaults = AugmentSettings()
    augment = commands.add_parser(
        "augment", help="train a small classifier on a few real digits, with and without generated ones")
    augment.add_argument("--per-class", help="real examples per digit, comma separated "
                         f"(default {','.join(map(str, defaults.per_class))})")
    augment.add_argument("--generated", type=int,
                         help=f"K: images each generator adds per digit (default {defaults.generated_per_class})")
    augment.add_argument("--seeds", type=int,
                         help=f"number of seeds; each picks other real examples (default {defaults.seeds})")
    augment.add_argument("--seed", type=int, help=f"first seed (default {defaults.seed})")
    augment.add_argument("--test-limit", type=int,
                         help=f"accuracy on the first N MNIST test images (default {defaults.test_limit})")
    augment.add_argument("--train-steps", type=int,
                         help=f"classifier updates per training, the same for every arm (default {defaults.train_steps})")
    augment.add_argument("--gan", default=AUTO, help="conditional GAN source: weights:NAME, run:ID, auto (default) or none")
    augment.add_argument("--vae", default=AUTO, help="CVAE source: weights:NAME, run:ID, auto (default) or none")
    augment.add_argument("--diffusion", default=AUTO,
                         help="conditional diffusion model source: weights:NAME, run:ID, auto (default) or none")
    augment.add_argument("--no-more-real", action="store_true", help="leave out the 'more real data' reference arm")
    augment.add_argument("--json", help="also write the full result to FILE.json")


def settings_from_arguments(arguments):
    """An `AugmentSettings` from the flags, defaults from the dataclass (their one home)."""
    from aigc_core.experiments.augment import AugmentSettings, parse_per_class

    defaults = AugmentSettings()
    given = {
        "per_class": parse_per_class(arguments.per_class) if arguments.per_class is not None else None,
        "generated_per_class": arguments.generated,
        "seeds": arguments.seeds,
        "seed": arguments.seed,
        "test_limit": arguments.test_limit,
        "train_steps": arguments.train_steps,
    }
    chosen = {name: value for name, value in given.items() if value is not None}
    return AugmentSettings(**{**defaults.__dict__, **chosen, "more_real": not arguments.no_more_real})


def _json_path(text: str | None) -> Path | None:
    if text is None:
        return None
    path = Path(text)
    if path.suffix != ".json":
        raise ValueError(f"--json must name a .json file; received {text[:200]!r}")
    if not path.parent.is_dir():
        raise ValueError(f"--json folder {str(path.parent)[:200]} does not exist")
    if path.is_dir():
        raise ValueError(f"--json {text[:200]} is a folder; give a file name")
    return path


def resolve_arms(choices: dict[str, str]):
    """Generator arms for {"gan": key, "vae": key, "diffusion": key}; `auto` takes the first conditional source that loads.

    Returns:
        (arms, notes): the loaded arms, and a sentence for every arm that was not run.
    """
    from aigc_core.experiments.augment import ARM_FAMILIES, conditional_sources, load_generator_arm, missing_model_note

    arms, notes = [], []
    for family, key in choices.items():
        if key == NONE:
            notes.append(f"The {ARM_FAMILIES[family]} arm was switched off (--{family} none).")
            continue
        if key != AUTO:
            arms.append(load_generator_arm(family, key))  # a source the user named must load, or we stop
            continue
        found, problems = conditional_sources(family), []
        for source in found:  # shipped weights first; a run saved by an older version may not load
            try:
                arms.append(load_generator_arm(family, source.key))
                break
            except ValueError as error:
                problems.append(f"{source.key}: {str(error).splitlines()[0][:200]}")
        if not found:
            notes.append(missing_model_note(family))
        elif len(problems) == len(found):
            notes.append(f"No {ARM_FAMILIES[family]} could be loaded, so its arm was not run ({problems[0]}).")
    return arms, notes


def _progress_printer():
    started = time.monotonic()
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int, message: str) -> None:
        fraction = done / total if total else 1.0
        text = f"[{'#' * int(fraction * 30):<30s}] {done}/{total} {time.monotonic() - started:6.1f} s  {message}"
        print(("\r" + text[:150].ljust(150)) if interactive else text, end="" if interactive else "\n",
              file=sys.stderr, flush=True)
        if interactive and done == total:
            print(file=sys.stderr)

    return progress


def command_augment(arguments) -> int:
    """Run the experiment, print the table, the verdict and the time it took; optionally write JSON."""
    from aigc_core.experiments.augment import validate_settings

    settings = validate_settings(settings_from_arguments(arguments))  # refuse bad values before importing Keras
    out = _json_path(arguments.json)
    for family in ("gan", "vae", "diffusion"):
        key = getattr(arguments, family)
        if key not in (AUTO, NONE) and ":" not in key:
            raise ValueError(f"--{family} must be weights:NAME, run:ID, auto or none; received {key[:80]!r}")

    from aigc_core.studio import quiet_tensorflow

    quiet_tensorflow()
    from aigc_core.experiments.augment import count_trainings, format_table, run_experiment

    arms, notes = resolve_arms({"gan": arguments.gan, "vae": arguments.vae, "diffusion": arguments.diffusion})
    settings = validate_settings(settings, len(arms))
    for note in notes:
        print(f"note: {note}")
    print(f"{count_trainings(settings, len(arms))} classifier trainings ...", file=sys.stderr, flush=True)
    result = run_experiment(settings, arms, progress=_progress_printer(), notes=notes)
    print(format_table(result))
    print()
    print("verdict:")
    for line in result.verdict():
        print(f"  {line}")
    print(f"finished in {result.elapsed_s:.1f} s ({result.cpu_s:.1f} s of CPU time)")
    if out is not None:
        from aigc_core.studio import write_json

        write_json(out, result.to_dict())
        print(f"wrote {out}")
    return 0
