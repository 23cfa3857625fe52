"""Keeping a shared runs folder healthy for a day of visitors.

- `prune_runs`: delete the oldest finished, stopped or failed runs beyond `$AIGC_KEEP_RUNS`
  or `$AIGC_MAX_RUNS_MB`; never an active run, never anything outside the runs folder
  (shipped weights live in weights/ and are out of its reach).
- `check_disk_space`: refuse a new run in one line when the disk is nearly full, rather
  than let it fail halfway through its first checkpoint.
- `reconcile`: after a server restart, record runs whose worker is gone as failed and hand
  back the queued ones so that the caller can start their workers again.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from aigc_core.limits import keep_runs, max_runs_mb, min_free_mb
from aigc_core.runs.store import FINAL_STATES, Run, RunStore, worker_gone

MEGABYTE = 1024 * 1024


def describe_os_error(error: OSError) -> str:
    """One line for a file-system error (what went wrong, on which file) for the CLI and the pages."""
    reason = error.strerror or str(error) or type(error).__name__
    where = f": {error.filename}" if error.filename else ""
    return " ".join(f"{reason}{where}".split())[:500]


def directory_size(path: Path) -> int:
    """Bytes in the regular files under `path`; links are not followed (their targets are not ours)."""
    total = 0
    for folder, subfolders, files in os.walk(path, followlinks=False):
        for name in files:
            try:
                info = os.lstat(os.path.join(folder, name))
            except OSError:
                continue  # removed while we walked
            total += info.st_size
    return total


def _is_inside(path: Path, root: Path) -> bool:
    """True for a real directory directly in `root` (not a link that leads elsewhere)."""
    return not path.is_symlink() and path.resolve().parent == root.resolve()


def prune_runs(store: RunStore | None = None, keep: int | None = None, max_mb: float | None = None) -> list[str]:
    """Delete old finished runs beyond the count and size caps, oldest first; return their ids.

    Only runs in a final state are candidates; active runs count towards the size but are
    never deleted, so a folder full of active runs stays over the size cap. Neither is a
    damaged run (see `aigc_core.runs.run_files`): its files are the evidence of what went wrong.
    """
    store = store or RunStore()
    keep = keep_runs() if keep is None else keep
    max_bytes = (max_runs_mb() if max_mb is None else max_mb) * MEGABYTE
    runs = store.list()  # newest first, only valid run ids directly inside the root
    sizes = {run.path: directory_size(run.path) for run in runs}
    total = sum(sizes.values())
    finished = [run for run in runs if run.status().get("state") in FINAL_STATES and _is_inside(run.path, store.root)]
    pruned = []
    for index in range(len(finished) - 1, -1, -1):  # oldest first
        run = finished[index]
        if index < keep and total <= max_bytes:
            break
        try:
            store.delete(run.run_id)  # re-checks the state: a run resumed meanwhile is refused
        except (ValueError, OSError):
            continue
        total -= sizes[run.path]
        pruned.append(run.run_id)
    return pruned


def _existing_ancestor(path: Path) -> Path:
    path = Path(path).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk_space(root: Path | str, min_free: float | None = None) -> float:
    """Free megabytes on the disk of the runs folder; ValueError in one line when too few or not writable."""
    min_free = min_free_mb() if min_free is None else min_free
    where = _existing_ancestor(Path(root))
    if not os.access(where, os.W_OK | os.X_OK):
        raise ValueError(f"the runs folder {where} is not writable; no run can be started")
    free = shutil.disk_usage(where).free / MEGABYTE
    if free < min_free:
        raise ValueError(f"not enough disk space for a new run: {free:.0f} MB free in {where}, "
                         f"at least {min_free:.0f} MB needed (AIGC_MIN_FREE_MB)")
    return free


def prepare_new_run(store: RunStore) -> None:
    """Before a run is created: prune old runs, then check the disk (pruning may have freed it)."""
    prune_runs(store)
    check_disk_space(store.root)


def reconcile(store: RunStore | None = None) -> list[Run]:
    """Settle the runs left by a previous server process; return queued runs to start again.

    A running run whose worker is gone is recorded as failed by `Run.status()`. A queued run
    whose worker is gone (or never reported after `STARTUP_GRACE_S`) is reset to queued with
    no worker and returned, oldest first, so that the caller spawns a worker for each; their
    order in the queue is kept, behind the runs whose workers still wait.
    """
    store = store or RunStore()
    orphans = []
    for run in store.list():
        status = run.raw_status()
        if status.get("state") != "queued":
            run.status()  # records a dead running worker as failed
            continue
        if worker_gone(status):
            orphans.append(run)
    orphans.sort(key=lambda run: run.raw_status().get("created_at", 0))
    now = time.time()
    requeued = []
    for index, run in enumerate(orphans):
        try:
            run.update_status(state="queued", pid=None, pid_start_time=None, error=None,
                              created_at=now + index * 1e-3)
        except OSError:
            continue  # a read-only store: Run.status() will report it as never started
        requeued.append(run)
    _reconcile_ray_runs(store)
    return requeued


def _reconcile_ray_runs(store: RunStore) -> None:
    """Runs placed on Ray are Ray's to settle: those it no longer holds are recorded as failed."""
    if not any(status.get("executor") == "ray" and status.get("state") in ("queued", "running")
               for status in (run.raw_status() for run in store.list())):
        return
    from aigc_core.runs.executors import make_executor

    try:
        make_executor("ray").reconcile(store)
    except Exception:  # Ray not installed or not reachable: the runs keep their state until it is
        pass
