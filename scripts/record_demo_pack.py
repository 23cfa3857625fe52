"""Record the demo pack: real runs of the Train page's presets, packed into demo/ for replay.

    python scripts/record_demo_pack.py            # every recording (about 10 minutes on 2 cores)
    python scripts/record_demo_pack.py gan-healthy vae-healthy

Each recording is a real training run with the settings a teacher gets on the Train page
(the healthy presets, and each "break it on purpose" preset at its own budget), snapshots
taken every 25 steps so the replay has frames to show, and the live quality curve on. The
run is trained in this process, then packed with `aigc_core.replay.record`.
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


def recordings() -> dict:
    """name -> (TrainingConfig, title, note, broken preset name or None)."""
    from aigc_core.config import TrainingConfig
    from aigc_core.diagnosis import BROKEN_PRESETS, broken_config

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


def main() -> int:
    from aigc_core import replay
    from aigc_core.runs import RunStore
    from aigc_core.training import start_run, train_run

    planned = recordings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[[], *planned], help="recordings to make (default: all)")
    arguments = parser.parse_args()
    for name in arguments.names or planned:
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
