"""Timeline GIFs: one frame per snapshot, decodable, twin frames side by side on one clock."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from aigc_core.experiments.animation import GAP, LAST_FRAME_HOLD, snapshot_times, timeline_gif, twin_gif


def fake_run(store, family, steps, seconds_per_step, num_samples=16):
    """A run directory with snapshots at `steps` (each a different brightness) and timed metric rows."""
    run = store.create({"model": family, "preset": "fast"})
    for step in steps:
        np.save(run.samples_dir / f"step_{step:07d}.npy",
                np.full((num_samples, 28, 28), min(1.0, step / max(steps)), dtype=np.float32))
    run.append_metrics([{"step": step, "elapsed_s": step * seconds_per_step, "loss": 1.0} for step in range(10, max(steps) + 1, 10)])
    return run


def frames(gif: bytes) -> list[Image.Image]:
    image = Image.open(io.BytesIO(gif))
    assert image.format == "GIF"
    collected = []
    for index in range(image.n_frames):
        image.seek(index)
        collected.append(image.convert("L"))
    return collected


def test_timeline_has_one_frame_per_snapshot(store):
    run = fake_run(store, "gan", [0, 20, 40, 60, 80], seconds_per_step=0.1)
    gif = timeline_gif(run, scale=2, frame_ms=100)
    decoded = frames(gif)
    assert len(decoded) == len(run.snapshots()) == 5
    assert decoded[0].size == decoded[-1].size
    # frames follow the snapshots: the last (all white) frame is brighter than the first (all black)
    assert np.asarray(decoded[-1]).mean() > np.asarray(decoded[0]).mean() + 50
    image = Image.open(io.BytesIO(gif))
    image.seek(image.n_frames - 1)
    assert image.info["duration"] == 100 * LAST_FRAME_HOLD


def test_scale_enlarges_the_frames(store):
    run = fake_run(store, "vae", [0, 50], seconds_per_step=0.1)
    small, large = frames(timeline_gif(run, scale=1))[0], frames(timeline_gif(run, scale=3))[0]
    assert large.size == (small.size[0] * 3, small.size[1] * 3)


def test_twin_is_both_timelines_side_by_side(store):
    gan = fake_run(store, "gan", [0, 20, 40], seconds_per_step=0.05)
    vae = fake_run(store, "vae", [0, 10, 30, 40], seconds_per_step=0.2, num_samples=9)
    width_gan = frames(timeline_gif(gan, scale=2))[0].width
    width_vae = frames(timeline_gif(vae, scale=2))[0].width
    twin = frames(twin_gif(gan, vae, scale=2))
    assert twin[0].width == width_gan + width_vae + GAP * 2
    assert len(twin) == len({0, 20, 40} | {0, 10, 30, 40})  # one frame per moment either run took a snapshot
    timed = frames(twin_gif(gan, vae, scale=2, match="time"))
    assert len(timed) == len({0.0, 1.0, 2.0} | {0.0, 2.0, 6.0, 8.0})


def test_a_three_way_race_gif_puts_every_timeline_in_a_row(store):
    runs = [fake_run(store, family, steps, seconds_per_step=0.1)
            for family, steps in (("gan", [0, 20]), ("vae", [0, 10]), ("diffusion", [0, 30]))]
    widths = [frames(timeline_gif(run, scale=2))[0].width for run in runs]
    race = frames(twin_gif(*runs, scale=2))
    assert race[0].width == sum(widths) + 2 * GAP * 2
    assert len(race) == len({0, 10, 20, 30})
    with pytest.raises(ValueError, match="two or more runs"):
        twin_gif(runs[0])


def test_snapshot_times_are_read_off_the_metric_rows(store):
    run = fake_run(store, "gan", [0, 25, 40], seconds_per_step=0.5)
    assert [(seconds, step) for seconds, step, _ in snapshot_times(run)] == [(0.0, 0), (12.5, 25), (20.0, 40)]


def test_bad_input_is_refused(store):
    empty = store.create({"model": "gan", "preset": "fast"})
    with pytest.raises(ValueError, match="no snapshots"):
        timeline_gif(empty)
    run = fake_run(store, "gan", [0, 10], seconds_per_step=0.1)
    with pytest.raises(ValueError, match="scale"):
        timeline_gif(run, scale=0)
    with pytest.raises(ValueError, match="match"):
        twin_gif(run, run, match="epochs")
