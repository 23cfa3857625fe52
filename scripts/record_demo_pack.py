"""Record the demo pack: real runs of the Train page's presets, packed into demo/ for replay.

    python scripts/record_demo_pack.py            # every recording (about 10 minutes on 2 cores)
    python scripts/record_demo_pack.py gan-healthy vae-healthy
    python scripts/record_demo_pack.py twin-race   # the twin race alone (a few minutes)

Each recording is a real training run with the settings a teacher gets on the Train page
(the healthy presets, and each "break it on purpose" preset at its own budget), snapshots
taken every 25 steps so the replay has frames to show, and the live quality curve on. The
run is trained in this process, then packed with `aigc_core.runs.replay.record`.

The twin race trains the Train page's twin (gan-fast and vae-fast on one seed, budget and
batch size, `aigc_core.experiments.twin.twin_configs`) one after the other, as a CPU server does, with
4x4 snapshot grids so the pair stays a few hundred kB; `aigc_core.runs.replay.record_twin` packs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")



def N_(text: str) -> str:
    """Mark a recording's title and note for translation (the Train page shows them with `_()`)."""
    return text


HEALTHY = {
    "gan-healthy": ("gan", N_("A healthy GAN"), N_("The fast DCGAN preset trained for 500 steps: noise, then strokes, "
                                                   "then digits, with the discriminator and the generator in balance.")),
    "vae-healthy": ("vae", N_("A healthy VAE"), N_("The fast VAE preset trained for 500 steps: a grey blob, then "
                                                   "smooth and slightly blurry digits.")),
}
SNAPSHOT_EVERY = 25
SEED = 0
TWIN_NAME = "twin-race"
TWIN_STEPS = 500
TWIN_SAMPLES = 16  # a 4x4 grid per snapshot: both members together stay a few hundred kB
TWIN_TITLE = N_("A twin race: GAN vs VAE")
TWIN_NOTE = N_("gan-fast and vae-fast trained for 500 steps each on the same seed, batches and budget, one "
               "after the other on a shared 2-core machine that was busy with other work (so both clocks run "
               "slower than on an idle one). The GAN turns noise into sharp strokes; the VAE sharpens smooth "
               "blobs.")


def recordings() -> dict:
    """name -> (TrainingConfig, title, note, broken preset name or None)."""
    from aigc_core.config import TrainingConfig
    from aigc_core.quality.diagnosis import BROKEN_PRESETS, broken_config

    planned = {}
    for name, (family, title, note) in HEALTHY.items():
        planned[name] = (TrainingConfig(model=family, preset="fast", steps=default_break_it_steps(), seed=SEED,
                                        sample_every=SNAPSHOT_EVERY), title, note, None)
    for preset_name, preset in BROKEN_PRESETS.items():
        slug = "broken-" + "".join(char if char.isalnum() else "-" for char in preset_name.lower()).strip("-")
        slug = "-".join(part for part in slug.split("-") if part)
        config = broken_config(preset_name, seed=SEED, sample_every=SNAPSHOT_EVERY,
                               steps=max(preset.steps, default_break_it_steps()))
        planned[slug] = (config, preset_name, preset.watch_for, preset_name)
    return planned


def default_break_it_steps() -> int:
    """The budget the Train page gives a break-it preset: the steps `validate()` fills in."""
    from aigc_core.config import TrainingConfig, validate

    return validate(TrainingConfig()).steps


def record_twin_race() -> None:
    """Train the twin race's two runs one after the other and pack them as one recording."""
    from aigc_core.runs import replay
    from aigc_core.runs.store import RunStore
    from aigc_core.runs.training import start_run, train_run
    from aigc_core.experiments.twin import twin_configs

    started = time.monotonic()
    configs = twin_configs(SEED, "steps", TWIN_STEPS, sample_every=SNAPSHOT_EVERY,
                           num_snapshot_samples=TWIN_SAMPLES)
    runs = [start_run(config, RunStore()) for config in configs]
    states = [train_run(run).get("state") for run in runs]
    json_path, npz_path = replay.record_twin(*runs, TWIN_NAME, TWIN_TITLE, TWIN_NOTE, SEED, "steps", TWIN_STEPS)
    size = json_path.stat().st_size + npz_path.stat().st_size
    print(f"{TWIN_NAME}: {states} in {time.monotonic() - started:.0f} s, {size / 1e3:.0f} kB "
          f"({', '.join(str(run.path) for run in runs)})", flush=True)


def main() -> int:
    from aigc_core.runs import replay
    from aigc_core.runs.store import RunStore
    from aigc_core.runs.training import start_run, train_run

    planned = recordings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[[], *planned, TWIN_NAME],
                        help="recordings to make (default: all)")
    arguments = parser.parse_args()
    for name in arguments.names or [*planned, TWIN_NAME]:
        if name == TWIN_NAME:
            record_twin_race()
            continue
        config, title, note, broken = planned[name]
        run = start_run(config, RunStore())
        started = time.monotonic()
        status = train_run(run)
        replay.record(run, name, title, note, broken=broken)
        size = sum(path.stat().st_size for path in replay.DEMO_DIR.glob(f"{name}.*"))
        print(f"{name}: {status.get('state')} at step {status.get('step')} in {time.monotonic() - started:.0f} s, "
              f"{size / 1e3:.0f} kB ({run.path})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
