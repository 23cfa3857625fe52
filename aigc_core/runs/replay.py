"""The demo pack: recorded runs that replay through the live view on any laptop, at any speed.

A teacher on a slow laptop, or with no time to train, can still show a GAN learning, a VAE
learning and each way of breaking them. A recording is a finished run packed into two small
files in `demo/`:

    <name>.json   title, note, the run's config and final status, and its metrics, quality and KL rows
    <name>.npz    the snapshot grids as uint8 (steps, images), read with allow_pickle=False

Replaying creates an ordinary run directory and fills it, row by row and snapshot by
snapshot, at the pace the original run wrote them (scaled by a speed factor), from a light
process that never imports TensorFlow. The Train page's live view, the diagnosis and lesson
mode's narration then see exactly what they saw during the real run. A replay has no
weights: it is shown, not sampled, and it cannot be resumed.

A twin race (a GAN and a VAE on one seed and budget, `aigc_core.experiments.twin`) is recorded in
`demo/twins/` as one pair of files holding both members; replaying it creates two runs that
form a twin, each filled by its own replay process on its own recorded clock, so the Twin race
page shows them racing as the real pair did.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aigc_core.images import make_grid, png_bytes
from aigc_core.runs.run_control import RunControl
from aigc_core.runs.store import PROJECT_ROOT, Run, RunStore, append_json_lines, own_process_identity, write_bytes_atomic

DEMO_DIR = PROJECT_ROOT / "demo"
TWIN_SUBDIR = "twins"  # twin recordings live apart, so the single-run list never offers half a twin
TWIN_MEMBERS = ("gan", "vae")
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
KL_FILENAME = "kl.jsonl"  # the name aigc_core.runs.training writes a VAE's per-dimension KL under
# A replay writes its status at most this often (the live view polls every second).
STATUS_INTERVAL_S = 0.25
POLL_S = 0.1


@dataclass(frozen=True)
class Recording:
    """One recorded run of the demo pack."""

    name: str
    title: str
    note: str
    family: str
    config: dict
    final_status: dict
    metrics: list
    quality: list
    kl: list
    snapshot_steps: np.ndarray
    snapshots: np.ndarray  # uint8, (snapshots, samples, 28, 28)
    broken: str | None = None  # the "break it on purpose" preset the run was started with, if any

    @property
    def duration_s(self) -> float:
        """Seconds of training the recording covers (its last logged elapsed time)."""
        times = [row.get("elapsed_s", 0.0) for row in self.metrics + self.quality]
        return float(max([0.0, *[t for t in times if isinstance(t, (int, float))]]))


def list_recordings(demo_dir: Path = DEMO_DIR) -> list[str]:
    """Names of the recordings in the demo pack, in the order their files sort."""
    if not Path(demo_dir).is_dir():
        return []
    return sorted(path.stem for path in Path(demo_dir).glob("*.json") if (path.with_suffix(".npz")).is_file())


def load_recording(name: str, demo_dir: Path = DEMO_DIR) -> Recording:
    """Read one recording; ValueError for an unknown name or a damaged file (never a path outside the pack)."""
    if name not in list_recordings(demo_dir):
        raise ValueError(f"Expected one of the demo recordings {list_recordings(demo_dir)}. Received: {name[:100]!r}")
    base = Path(demo_dir) / name
    try:
        header = json.loads(base.with_suffix(".json").read_text())
        with np.load(base.with_suffix(".npz"), allow_pickle=False) as arrays:
            steps, images = np.asarray(arrays["steps"]), np.asarray(arrays["images"])
        return Recording(name, str(header["title"]), str(header.get("note", "")), str(header["config"]["model"]),
                         dict(header["config"]), dict(header["final_status"]), list(header["metrics"]),
                         list(header.get("quality", [])), list(header.get("kl", [])), steps, images,
                         header.get("broken"))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"demo recording {name!r} is damaged: {type(error).__name__}: {error}") from None


def _packed_run(run: Run) -> tuple[dict, np.ndarray, np.ndarray]:
    """A finished run's header fields, snapshot steps and uint8 snapshots, as a recording stores them."""
    snapshots = run.snapshots()
    if not snapshots:
        raise ValueError(f"run {run.run_id} has no snapshots to record")
    steps = np.array([step for step, _ in snapshots], dtype=np.int64)
    images = np.stack([np.clip(np.rint(run.load_snapshot(path) * 255), 0, 255).astype(np.uint8)
                       for _, path in snapshots])
    images = images.reshape(images.shape[0], images.shape[1], 28, 28)
    status = run.raw_status()
    final_status = {key: status.get(key) for key in ("state", "error", "step", "total_steps", "elapsed_s", "epoch")}
    fields = {"config": run.config(), "final_status": final_status, "metrics": run.metrics(),
              "quality": run.quality(), "kl": Run.read_metrics_file(run.path / KL_FILENAME)}
    return fields, steps, images


def _write_pack(base: Path, header: dict, arrays: dict) -> tuple[Path, Path]:
    base.parent.mkdir(parents=True, exist_ok=True)
    json_path, npz_path = base.with_suffix(".json"), base.with_suffix(".npz")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes_atomic(npz_path, buffer.getvalue())
    write_bytes_atomic(json_path, (json.dumps(header, sort_keys=True, separators=(",", ":")) + "\n").encode())
    return json_path, npz_path


def record(run: Run, name: str, title: str, note: str, demo_dir: Path = DEMO_DIR,
           broken: str | None = None) -> tuple[Path, Path]:
    """Pack a finished run into the demo pack (scripts/record_demo_pack.py calls this)."""
    fields, steps, images = _packed_run(run)
    header = {"title": title, "note": note, "broken": broken, **fields}
    return _write_pack(Path(demo_dir) / name, header, {"steps": steps, "images": images})


# -- twin races ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TwinRecording:
    """A recorded twin race: both members, and the seed and budget they shared."""

    name: str
    title: str
    note: str
    seed: int
    budget_kind: str
    budget_value: float
    members: dict  # "gan"/"vae" -> Recording

    @property
    def duration_s(self) -> float:
        return max(member.duration_s for member in self.members.values())


def list_twin_recordings(demo_dir: Path = DEMO_DIR) -> list[str]:
    """Names of the twin races in the demo pack (`demo/twins/`)."""
    return list_recordings(Path(demo_dir) / TWIN_SUBDIR)


def record_twin(gan_run: Run, vae_run: Run, name: str, title: str, note: str, seed: int, budget_kind: str,
                budget_value: float, demo_dir: Path = DEMO_DIR) -> tuple[Path, Path]:
    """Pack a finished twin (two runs on one seed and budget) into `demo/twins/<name>.json|npz`."""
    header = {"title": title, "note": note, "twin": {"seed": int(seed), "budget": {"kind": budget_kind,
                                                                                      "value": budget_value}},
              "members": {}}
    arrays = {}
    for family, run in zip(TWIN_MEMBERS, (gan_run, vae_run)):
        if run.config().get("model") != family:
            raise ValueError(f"Expected a {family.upper()} run as the twin's {family} member. "
                             f"Received: run {run.run_id} of model {run.config().get('model')!r}")
        fields, steps, images = _packed_run(run)
        header["members"][family] = fields
        arrays[f"{family}_steps"], arrays[f"{family}_images"] = steps, images
    return _write_pack(Path(demo_dir) / TWIN_SUBDIR / name, header, arrays)


def load_twin_recording(name: str, demo_dir: Path = DEMO_DIR) -> TwinRecording:
    """Read one twin race; ValueError for an unknown name or a damaged file."""
    names = list_twin_recordings(demo_dir)
    if name not in names:
        raise ValueError(f"Expected one of the twin recordings {names}. Received: {name[:100]!r}")
    base = Path(demo_dir) / TWIN_SUBDIR / name
    try:
        header = json.loads(base.with_suffix(".json").read_text())
        with np.load(base.with_suffix(".npz"), allow_pickle=False) as arrays:
            packed = {key: np.asarray(arrays[key]) for key in arrays.files}
        members = {}
        for family in TWIN_MEMBERS:
            fields = header["members"][family]
            members[family] = Recording(f"{name}:{family}", str(header["title"]), str(header.get("note", "")),
                                        str(fields["config"]["model"]), dict(fields["config"]),
                                        dict(fields["final_status"]), list(fields["metrics"]),
                                        list(fields.get("quality", [])), list(fields.get("kl", [])),
                                        packed[f"{family}_steps"], packed[f"{family}_images"])
        budget = header["twin"]["budget"]
        return TwinRecording(name, str(header["title"]), str(header.get("note", "")), int(header["twin"]["seed"]),
                             str(budget["kind"]), float(budget["value"]), members)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"twin recording {name!r} is damaged: {type(error).__name__}: {error}") from None


def _spawn_replay(run: Run, arguments: list[str]) -> None:
    command = [sys.executable, "-m", "aigc_core.runs.replay", "--run", str(run.path), *arguments]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    with open(run.path / "worker.log", "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=PROJECT_ROOT, env=environment, start_new_session=True)
    threading.Thread(target=process.wait, daemon=True).start()  # reap it, so a finished replay is not a zombie


def start_twin_replay(name: str, speed: float = 1.0, store: RunStore | None = None, demo_dir: Path = DEMO_DIR,
                      owner: str | None = None) -> tuple[Run, Run]:
    """Create the two runs of a replayed twin race and start both replay processes; returns at once.

    Both members replay side by side, each at `speed` times its own recorded pace, so the
    race plays on one clock as the real pair trained (one after the other on a CPU).

    Raises:
        ValueError: an unknown twin recording or a speed not in SPEEDS.
    """
    from aigc_core.experiments.twin import write_twin_record  # the twin module is the one writer of twin.json

    if speed not in SPEEDS:
        raise ValueError(f"Expected a replay speed in {list(SPEEDS)}. Received: speed={speed!r}")
    recording = load_twin_recording(name, demo_dir)
    store = store or RunStore()
    runs = []
    for family in TWIN_MEMBERS:
        member = recording.members[family]
        run = store.create(member.config, run_id=store.new_run_id(f"replay-{family}"))
        fields = {"replay": {"name": f"{TWIN_SUBDIR}/{name}", "title": recording.title, "speed": speed}}
        if owner is not None:
            fields["owner"] = owner
        run.update_status(**fields)
        runs.append(run)
    gan_run, vae_run = runs
    write_twin_record(runs, recording.seed, recording.budget_kind, recording.budget_value,
                      batch_size=gan_run.config().get("batch_size"), replay={"name": name, "speed": speed})
    for family, run in zip(TWIN_MEMBERS, runs):
        _spawn_replay(run, ["--twin", name, "--member", family, "--speed", str(speed), "--demo-dir", str(demo_dir)])
    return gan_run, vae_run


def start_replay(name: str, speed: float = 1.0, store: RunStore | None = None, demo_dir: Path = DEMO_DIR,
                 owner: str | None = None) -> Run:
    """Create a run directory for a replay and start its light replay process; returns at once.

    Raises:
        ValueError: an unknown recording or a speed not in SPEEDS.
    """
    if speed not in SPEEDS:
        raise ValueError(f"Expected a replay speed in {list(SPEEDS)}. Received: speed={speed!r}")
    recording = load_recording(name, demo_dir)
    store = store or RunStore()
    run = store.create(recording.config, run_id=store.new_run_id(f"replay-{recording.family}"))
    fields = {"replay": {"name": name, "title": recording.title, "speed": speed}}
    if owner is not None:
        fields["owner"] = owner
    run.update_status(**fields)
    _spawn_replay(run, ["--name", name, "--speed", str(speed), "--demo-dir", str(demo_dir)])
    return run


def _events(recording: Recording) -> list[tuple[float, int, str, object]]:
    """(elapsed_s, step, kind, payload) of everything the original run wrote, in the order it wrote it."""
    events = []
    for kind, rows in (("metrics", recording.metrics), ("quality", recording.quality), ("kl", recording.kl)):
        for row in rows:
            if isinstance(row, dict) and isinstance(row.get("step"), (int, float)):
                events.append((float(row.get("elapsed_s") or 0.0), int(row["step"]), kind, row))
    metric_times = sorted((int(row["step"]), float(row.get("elapsed_s") or 0.0)) for row in recording.metrics
                          if isinstance(row, dict) and isinstance(row.get("step"), (int, float)))
    for index, step in enumerate(recording.snapshot_steps.tolist()):
        # A snapshot is written with the metrics row of its step; interpolate its time from the rows around it.
        earlier = [time_s for row_step, time_s in metric_times if row_step <= step]
        events.append((earlier[-1] if earlier else 0.0, int(step), "snapshot", index))
    order = {"metrics": 0, "snapshot": 1, "kl": 2, "quality": 3}
    return sorted(events, key=lambda event: (event[0], event[1], order[event[2]]))


def replay_into(run: Run, recording: Recording, speed: float, sleep=time.sleep, clock=time.monotonic) -> dict:
    """Write the recording into `run` at `speed` times its original pace; honours a stop request.

    `sleep` and `clock` are parameters so a test can replay instantly.
    """
    run.update_status(state="running", error=None, **own_process_identity())
    total_steps = recording.final_status.get("total_steps") or recording.config.get("steps")
    started, last_status, step = clock(), 0.0, 0
    control = RunControl(run, sleep=sleep, clock=clock)  # Pause, Step and Resume work on a replay too
    for elapsed_s, event_step, kind, payload in _events(recording):
        control.refresh(step)
        if event_step > step and control.pause_wanted(step):
            run.update_status(paused=True, step=step)
            started += control.wait_while_paused(step, should_end=run.stop_requested)
            run.update_status(paused=False)
        while True:
            if run.stop_requested():
                run.stop_path.unlink(missing_ok=True)
                return run.update_status(state="stopped", error=None, eta_s=None, step=step)
            wait = elapsed_s / speed - (clock() - started)
            if wait <= 0:
                break
            sleep(min(wait, POLL_S))
        step = max(step, event_step)
        if kind == "metrics":
            run.append_metrics([payload])
        elif kind == "quality":
            run.append_quality([payload])
        elif kind == "kl":
            append_json_lines(run.path / KL_FILENAME, [payload])
        else:
            images = recording.snapshots[payload].astype(np.float32) / 255.0
            buffer = io.BytesIO()
            np.save(buffer, images)
            write_bytes_atomic(run.samples_dir / f"step_{event_step:07d}.npy", buffer.getvalue())
            write_bytes_atomic(run.samples_dir / f"step_{event_step:07d}.png", png_bytes(make_grid(images), scale=2))
        if clock() - last_status >= STATUS_INTERVAL_S:
            last_status = clock()
            remaining = (recording.duration_s - elapsed_s) / speed
            run.update_status(step=step, total_steps=total_steps, elapsed_s=round(elapsed_s, 2),
                              eta_s=max(0.0, remaining) if math.isfinite(remaining) else None)
    final = recording.final_status
    state = final.get("state") if final.get("state") in ("finished", "failed", "stopped") else "finished"
    return run.update_status(state=state, error=final.get("error"), step=final.get("step") or step,
                             total_steps=total_steps, elapsed_s=final.get("elapsed_s"), eta_s=0.0)


def main(argv: list[str] | None = None) -> int:
    """`python -m aigc_core.runs.replay --run DIR (--name NAME | --twin NAME --member gan|vae) --speed S`."""
    parser = argparse.ArgumentParser(prog="python -m aigc_core.runs.replay")
    parser.add_argument("--run", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--name")
    source.add_argument("--twin")
    parser.add_argument("--member", choices=TWIN_MEMBERS)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--demo-dir", default=str(DEMO_DIR))
    arguments = parser.parse_args(argv)
    run = RunStore().open_path(arguments.run)
    try:
        if arguments.twin is not None:
            recording = load_twin_recording(arguments.twin, Path(arguments.demo_dir)).members[arguments.member]
        else:
            recording = load_recording(arguments.name, Path(arguments.demo_dir))
        replay_into(run, recording, arguments.speed)
    except Exception as error:  # a replay must end in a clear state, whatever broke
        run.update_status(state="failed", error=f"replay failed: {type(error).__name__}: {error}"[:300], eta_s=None)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
