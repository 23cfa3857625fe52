"""The run store: one directory per training run, written atomically, readable by anyone.

    runs/<run_id>/
        config.json          TrainingConfig: rebuilds the model and repeats the run
        status.json          state, pid, progress, error
        name.json            the run's name and note (aigc_core.runs.run_names)
        metrics.jsonl        one JSON line per logged step
        quality.jsonl        one JSON line per scored snapshot (FID, IS, class coverage)
        samples/step_XXXXXXX.{png,npy}   grids from one fixed latent batch
        model.weights.h5     latest checkpoint, with model_config.json beside it
        optimizer.npz        optimizer state, so that resume continues the same descent
        checkpoint.json      the step, epoch and elapsed time the checkpoint belongs to
        STOP                 present when a stop was requested
        control.json         pause, step N, speed: read between steps (aigc_core.runs.run_control)

The UI only reads these files; it never reaches into a training process. Every file is read
through its check in `aigc_core.runs.run_files`: a damaged one makes the run "damaged" (one line
naming the file and what is wrong), never a crash, and links in the runs folder are not followed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path

import numpy as np

from aigc_core.files import PROJECT_ROOT, append_json_lines, read_json, write_bytes_atomic, write_json_atomic
from aigc_core.runs.run_files import (
    CHECKPOINT, CONFIG, DAMAGED, MODEL_CONFIG, OBJECT_FILES, STATUS, DamagedRunFile, read_json_lines,
    read_json_object, read_snapshot,
)

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
ACTIVE_STATES = ("queued", "running")
FINAL_STATES = ("finished", "stopped", "failed", "interrupted")
# A queued run whose worker has not reported its pid within this time never started.
STARTUP_GRACE_S = 60.0


def default_runs_root() -> Path:
    """`$AIGC_RUNS_DIR`, or `runs/` in the project folder."""
    return Path(os.environ.get("AIGC_RUNS_DIR", PROJECT_ROOT / "runs")).resolve()


def validate_run_id(run_id: str) -> str:
    """Refuse anything that could name a path outside the runs folder (`..`, `/`, absolute paths)."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):  # `$` alone would accept "x\n"
        raise ValueError(
            "run id must be 1-100 letters, digits, '-' or '_' (no '/', '.' or '..'); "
            f"received {str(run_id)[:120]!r}"
        )
    return run_id


def _process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (field 22 of /proc/<pid>/stat), or None if gone/zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    after_name = stat.rsplit(")", 1)[1].split()
    if after_name[0] in ("Z", "X"):
        return None
    return after_name[19]


def process_alive(pid: int | None, start_time: str | None = None) -> bool:
    """True if `pid` runs and, when given, started at `start_time` (guards against pid reuse)."""
    if not pid:
        return False
    if Path("/proc").is_dir():
        actual = _process_start_time(int(pid))
        return actual is not None and (start_time is None or actual == start_time)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def own_process_identity() -> dict:
    pid = os.getpid()
    return {"pid": pid, "pid_start_time": _process_start_time(pid) if Path("/proc").is_dir() else None}


def worker_gone(status: dict) -> bool:
    """True when an active run's worker died, or never reported its pid within the grace period.

    A run on Ray is never judged by its pid, which names a process on another host: Ray retries
    a dead worker, and the Ray executor records the run as failed when Ray gives up.
    """
    if status.get("executor") == "ray":
        return False
    pid = status.get("pid")
    if pid:
        return not process_alive(pid, status.get("pid_start_time"))
    return time.time() - status.get("created_at", time.time()) > STARTUP_GRACE_S


class Run:
    """One run directory. Cheap to construct; every accessor reads the files afresh."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    # -- paths ----------------------------------------------------------------------------
    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def weights_path(self) -> Path:
        return self.path / "model.weights.h5"

    @property
    def model_config_path(self) -> Path:
        return self.path / "model_config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def quality_path(self) -> Path:
        return self.path / "quality.jsonl"

    @property
    def stop_path(self) -> Path:
        return self.path / "STOP"

    # -- config and status ----------------------------------------------------------------
    def _read_object(self, schema) -> tuple[dict, DamagedRunFile | None]:
        """A JSON file's checked contents ({} when missing or damaged), and what damages it."""
        try:
            return read_json_object(self.path / schema.file_name, schema) or {}, None
        except DamagedRunFile as error:
            return {}, error

    def config(self, strict: bool = False) -> dict:
        """config.json; {} when missing or damaged, or with `strict` DamagedRunFile when damaged."""
        config, damage = self._read_object(CONFIG)
        if damage and strict:
            raise damage
        return config

    def raw_status(self) -> dict:
        """status.json as written; `{"state": "damaged", "error": why}` when it cannot be used."""
        status, damage = self._read_object(STATUS)
        return {"state": DAMAGED, "error": str(damage)} if damage else status

    def file_damage(self, rows: bool = False) -> str | None:
        """One line naming the first damaged file of the run (and what is wrong), None when all are sound.

        Args:
            rows: also read metrics.jsonl and quality.jsonl, which grow long; the small JSON
                files are always checked.
        """
        for schema in OBJECT_FILES:
            damage = self._read_object(schema)[1]
            if damage:
                return str(damage)
        if rows:
            for path in (self.metrics_path, self.quality_path):
                problem = read_json_lines(path)[1]
                if problem:
                    return problem
        return None

    def status(self) -> dict:
        """The status, with an active run whose worker is gone reported (and recorded) as failed.

        A run that is not active and has a damaged config, status, checkpoint or model config
        is reported as "damaged" with the reason as its error; its files are left as they are.
        """
        status = self.raw_status()
        state = status.get("state")
        if state not in ACTIVE_STATES and state != DAMAGED:
            problem = self.file_damage()
            if problem:
                return {**status, "state": DAMAGED, "error": problem}
        if state in ACTIVE_STATES:
            pid = status.get("pid")
            if worker_gone(status):
                status = {
                    **status,
                    "state": "failed",
                    "error": self._death_message(pid, status.get("step") or 0) if pid else "worker never started",
                    "updated_at": time.time(),
                }
                try:
                    write_json_atomic(self.path / "status.json", status)
                except OSError:
                    pass  # a read-only store still reports the truth
        return status

    def _death_message(self, pid: int, step: int) -> str:
        """Why the run failed, and what a resume will do: continue from a checkpoint, or start over."""
        checkpoint = self.checkpoint() if self.weights_path.exists() else None
        if checkpoint:
            return f"worker died (process {pid} is gone); resume continues from the checkpoint at step {checkpoint.get('step', 0)}"
        lost = f"its {step} steps are lost" if step else "nothing was trained yet"
        return f"worker died (process {pid} is gone) before its first checkpoint: {lost}; resume starts again from step 0"

    def update_status(self, **fields) -> dict:
        """Write these fields over status.json's, keeping every key it had (even a damaged file's)."""
        written = read_json(self.path / "status.json")
        status = {**(written if isinstance(written, dict) else {}), **fields, "updated_at": time.time()}
        write_json_atomic(self.path / "status.json", status)
        return status

    # -- metrics --------------------------------------------------------------------------
    def append_metrics(self, rows: list[dict]) -> None:
        """Append whole lines in one write; a reader skips a trailing partial line."""
        append_json_lines(self.metrics_path, rows)

    def append_quality(self, rows: list[dict]) -> None:
        """Append scored-snapshot rows to quality.jsonl (see `aigc_core.quality.live`)."""
        append_json_lines(self.quality_path, rows)

    def metrics(self) -> list[dict]:
        return self.read_metrics_file(self.metrics_path)

    def quality(self) -> list[dict]:
        """Scored snapshots, oldest first: step, elapsed_s, fid, inception_score, class shares."""
        return self.read_metrics_file(self.quality_path)

    @staticmethod
    def read_metrics_file(path: Path) -> list[dict]:
        """The sound rows of a .jsonl file (a run's, or the history shipped beside weights).

        Damaged lines are skipped here; `file_damage(rows=True)` names them.
        """
        return read_json_lines(path)[0]

    def truncate_metrics(self, last_step: int) -> None:
        """Keep only rows up to `last_step` (the checkpoint), so resume repeats no step."""
        self._truncate_rows(self.metrics_path, last_step)

    def truncate_quality(self, last_step: int) -> None:
        """Keep only scored snapshots up to `last_step`, like `truncate_metrics`."""
        self._truncate_rows(self.quality_path, last_step)

    def _truncate_rows(self, path: Path, last_step: int) -> None:
        rows = [row for row in self.read_metrics_file(path) if row.get("step", 0) <= last_step]
        write_bytes_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode())

    # -- samples --------------------------------------------------------------------------
    def snapshots(self) -> list[tuple[int, Path]]:
        """(step, path of the .npy grid samples) for every snapshot, oldest first."""
        found = []
        if self.samples_dir.is_symlink():
            return []
        for path in self.samples_dir.glob("step_*.npy"):
            if path.is_symlink():
                continue
            try:
                found.append((int(path.stem.split("_")[1]), path))
            except (IndexError, ValueError):
                continue
        return sorted(found)

    def load_snapshot(self, path: Path) -> np.ndarray:
        """The images of one snapshot; DamagedRunFile (a ValueError) when the file is not a grid of images."""
        return read_snapshot(path)

    def latest_snapshot(self) -> tuple[int, np.ndarray] | None:
        """The newest snapshot that can be read; damaged ones are passed over."""
        for step, path in reversed(self.snapshots()):
            try:
                return step, self.load_snapshot(path)
            except DamagedRunFile:
                continue
        return None

    # -- control --------------------------------------------------------------------------
    def request_stop(self) -> None:
        write_bytes_atomic(self.stop_path, b"stop requested\n")

    def stop_requested(self) -> bool:
        return self.stop_path.exists()

    def checkpoint(self) -> dict | None:
        """checkpoint.json (step, epoch, elapsed time), or None when missing or damaged."""
        return self._read_object(CHECKPOINT)[0] or None

    def model_config(self) -> dict | None:
        """model_config.json (family, class, constructor config), or None when missing or damaged."""
        return self._read_object(MODEL_CONFIG)[0] or None

    def summary(self) -> dict:
        """One row for run lists: id, state, model, preset, duration, final losses.

        A run that is not active and has any damaged file is "damaged", its error the reason.
        """
        config, status = self.config(), self.status()
        metrics, metrics_problem = read_json_lines(self.metrics_path)
        if status.get("state") not in ACTIVE_STATES and status.get("state") != DAMAGED:
            problem = metrics_problem or read_json_lines(self.quality_path)[1]
            if problem:
                status = {**status, "state": DAMAGED, "error": problem}
        last = metrics[-1] if metrics else {}
        return {
            "run_id": self.run_id,
            "state": status.get("state", "unknown"),
            "model": config.get("model"),
            "preset": config.get("preset"),
            "break_it": config.get("break_it"),  # the "break it on purpose" preset's name, if any
            "step": status.get("step", 0),
            "total_steps": status.get("total_steps"),
            "elapsed_s": status.get("elapsed_s") or 0.0,
            "created_at": status.get("created_at"),
            "error": status.get("error"),
            "executor": status.get("executor") or "local",  # which engine placed it, and on which host
            "where": status.get("where"),
            "final_losses": {k: v for k, v in last.items() if k not in ("step", "epoch", "elapsed_s")},
        }


class RunStore:
    """The folder of runs: create, find, list and delete them by validated id."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root).resolve() if root is not None else default_runs_root()

    def new_run_id(self, family: str) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{family}-{secrets.token_hex(3)}"

    def create(self, config: dict, run_id: str | None = None, owner: str | None = None) -> Run:
        """Make the directory with config.json and a `queued` status (with its `owner` hash, if any)."""
        run_id = validate_run_id(run_id or self.new_run_id(config.get("model", "run")))
        self.root.mkdir(parents=True, exist_ok=True)
        run = Run(self.root / run_id)
        run.path.mkdir()
        try:
            run.samples_dir.mkdir()
            write_json_atomic(run.path / "config.json", config)
            now = time.time()
            write_json_atomic(
                run.path / "status.json",
                {"state": "queued", "pid": None, "step": 0, "created_at": now, "updated_at": now,
                 **({"owner": owner} if owner else {})},
            )
            from aigc_core.runs.run_names import write_generated_name  # it reads the store: imported late, no cycle

            write_generated_name(run, self, config)
        except OSError as error:
            # A full disk or a read-only folder: leave no run without a status behind.
            shutil.rmtree(run.path, ignore_errors=True)
            reason = error.strerror or type(error).__name__
            raise OSError(error.errno, f"cannot create a run in {self.root}: {reason}") from None
        return run

    def get(self, run_id: str) -> Run:
        """The run with this id; ValueError for a bad or unknown id (never a path outside root)."""
        validate_run_id(run_id)
        path = (self.root / run_id).resolve()
        if (self.root / run_id).is_symlink() or path.parent != self.root or not (path / "config.json").exists():
            raise ValueError(f"no run named {run_id!r}")  # the server's folder is none of a visitor's business
        return Run(path)

    def open_path(self, path: str | Path) -> Run:
        """A run given as a directory path (CLI `--run DIR`), checked to be a run directory."""
        path = Path(path).resolve()
        if not (path / "config.json").is_file():
            raise ValueError(f"{path} is not a run directory (no config.json)")
        return Run(path)

    def list(self) -> list[Run]:
        """All runs, newest first."""
        if not self.root.is_dir():
            return []
        runs = [Run(p) for p in self.root.iterdir()
                if not p.is_symlink() and p.is_dir() and RUN_ID_PATTERN.fullmatch(p.name) and (p / "config.json").exists()]
        return sorted(runs, key=lambda run: run.raw_status().get("created_at", 0), reverse=True)

    def delete(self, run_id: str) -> None:
        """Delete a finished run; refuse an active one (stop it first)."""
        run = self.get(run_id)
        if run.status().get("state") in ACTIVE_STATES:
            raise ValueError(f"run {run_id} is still {run.status()['state']}; stop it before deleting")
        # Renamed out of the listing first: a read-only folder refuses before a file is lost, and a
        # failure halfway through leaves no half-deleted run on the Runs page.
        doomed = run.path.with_name(f".deleting-{run_id}-{secrets.token_hex(3)}")
        os.rename(run.path, doomed)
        shutil.rmtree(doomed)
