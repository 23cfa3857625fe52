"""Animated GIFs of a run's training timeline, alone or beside another run's (a twin).

Every snapshot of a run draws the same fixed latent batch, so the frames of a timeline show one
set of digits taking shape. Frames are built from the `.npy` snapshots (not the PNGs) so the
grid, scale and label are the same whatever wrote the run.
"""

from __future__ import annotations

import io

import numpy as np

from aigc_core.images import make_grid

MATCH_MODES = ("step", "time")
LABEL_HEIGHT = 14  # pixels before scaling: room for one line of the default bitmap font
GAP = 8  # pixels before scaling between the two grids of a twin GIF
LAST_FRAME_HOLD = 4  # the final frame stays this many frame durations, so the loop does not hide the result


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # a scalable font (Pillow >= 10.1 with FreeType)
    except (TypeError, OSError):
        return ImageFont.load_default()


def _labelled(grid: np.ndarray, label: str, scale: int):
    """A PIL grayscale image: a label strip on top of the grid, both enlarged with sharp pixels."""
    from PIL import Image, ImageDraw

    grid = np.kron(grid, np.ones((scale, scale), dtype=np.uint8)) if scale > 1 else grid
    strip = LABEL_HEIGHT * scale
    image = Image.new("L", (grid.shape[1], grid.shape[0] + strip), color=0)
    image.paste(Image.fromarray(grid, mode="L"), (0, strip))
    ImageDraw.Draw(image).text((3 * scale, scale), label, fill=255, font=_font(max(10, strip - 3 * scale)))
    return image


def _encode(frames: list, frame_ms: int) -> bytes:
    durations = [int(frame_ms)] * len(frames)
    durations[-1] = int(frame_ms) * LAST_FRAME_HOLD
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations,
                   loop=0, optimize=False)
    return buffer.getvalue()


def _check(scale, frame_ms) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 8:
        raise ValueError(f"Expected scale to be a whole number from 1 to 8. Received: scale={scale!r}")
    if isinstance(frame_ms, bool) or not isinstance(frame_ms, (int, float)) or not 20 <= frame_ms <= 10_000:
        raise ValueError(f"Expected frame_ms between 20 and 10000. Received: frame_ms={frame_ms!r}")


def _snapshots(run) -> list[tuple[int, object]]:
    snapshots = run.snapshots()
    if not snapshots:
        raise ValueError(f"run {run.run_id} has no snapshots yet; its timeline starts with the first one")
    return snapshots


def _grid(run, path) -> np.ndarray:
    return make_grid(run.load_snapshot(path))


def timeline_gif(run, scale: int = 3, frame_ms: int = 300) -> bytes:
    """The run's snapshots, oldest first, as a looping GIF with the step written on each frame.

    Args:
        run: a `aigc_core.runs.store.Run`.
        scale: pixel enlargement (nearest neighbour, 1-8).
        frame_ms: how long each frame shows; the last one stays `LAST_FRAME_HOLD` times longer.

    Raises:
        ValueError: when the run has no snapshots, or for a bad scale or frame duration.
    """
    _check(scale, frame_ms)
    family = str(run.config().get("model", "")).upper()
    frames = [_labelled(_grid(run, path), f"{family} step {step:,}".strip(), scale) for step, path in _snapshots(run)]
    return _encode(frames, frame_ms)


def snapshot_times(run) -> list[tuple[float, int, object]]:
    """(elapsed seconds, step, path) of every snapshot, its time read off the metric rows.

    Snapshots and metric rows are written at different steps, so a snapshot's time is
    interpolated between the logged rows' `elapsed_s` (step 0 is at 0 s).
    """
    rows = [row for row in run.metrics() if isinstance(row.get("step"), (int, float))
            and isinstance(row.get("elapsed_s"), (int, float))]
    steps = np.array([0.0] + [float(row["step"]) for row in rows])
    seconds = np.array([0.0] + [float(row["elapsed_s"]) for row in rows])
    order = np.argsort(steps, kind="stable")
    return [(float(np.interp(step, steps[order], seconds[order])), step, path) for step, path in _snapshots(run)]


def latest_at(keyed: list[tuple[float, int, object]], moment: float):
    """The last entry whose key is at or before `moment` (the first one when all come later)."""
    chosen = keyed[0]
    for entry in keyed:
        if entry[0] <= moment:
            chosen = entry
    return chosen


def twin_gif(*runs, scale: int = 3, frame_ms: int = 300, match: str = "step") -> bytes:
    """Two or more runs' timelines side by side in one GIF, on one clock (a twin race's members).

    The frames follow the union of the runs' snapshot moments (steps, or elapsed seconds with
    `match="time"`); at each moment each side shows the latest snapshot it had taken by then, so
    neither run is shown ahead of itself. A GAN step and a VAE step cost different time: compare
    by "time" for an honest race.

    Returns:
        GIF bytes; each frame is as wide as all grids plus a `GAP * scale` pixel gutter between two.

    Raises:
        ValueError: fewer than two runs, a run without snapshots, or a bad `match`, scale or frame duration.
    """
    from PIL import Image

    _check(scale, frame_ms)
    if len(runs) < 2:
        raise ValueError(f"Expected two or more runs. Received: {len(runs)}")
    if match not in MATCH_MODES:
        raise ValueError(f"Expected match to be one of {MATCH_MODES}. Received: match={match!r}")
    sides = []
    for run in runs:
        timed = snapshot_times(run)
        keyed = [(float(step), step, path) for _, step, path in timed] if match == "step" else timed
        sides.append((run, str(run.config().get("model", "")).upper(), keyed))
    moments = sorted({entry[0] for _, _, keyed in sides for entry in keyed})
    cache: dict = {}
    frames = []
    for moment in moments:
        images = []
        for run, family, keyed in sides:
            _, step, path = latest_at(keyed, moment)
            if path not in cache:
                cache[path] = _grid(run, path)
            label = f"{family} step {step:,}" if match == "step" else f"{family} {moment:.0f} s"
            images.append(_labelled(cache[path], label.strip(), scale))
        width = sum(image.width for image in images) + GAP * scale * (len(images) - 1)
        frame = Image.new("L", (width, max(image.height for image in images)), color=0)
        left = 0
        for image in images:
            frame.paste(image, (left, 0))
            left += image.width + GAP * scale
        frames.append(frame)
    return _encode(frames, frame_ms)
