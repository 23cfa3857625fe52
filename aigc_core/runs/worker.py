"""Launch, resume and stop runs through the configured executor; the app never trains itself.

`launch()` validates, admits and creates the run directory (queued), then hands it to the
executor `$AIGC_EXECUTOR` names (`aigc_core.runs.executors`): by default a worker process on this
machine queued by flock slots (`executors/local.py`), or a task on a Ray cluster
(`executors/ray_executor.py`). Both return at once; the run's status shows its progress.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING

from aigc_core.runs.executors import executor_for, select_executor
from aigc_core.runs.housekeeping import check_disk_space, prepare_new_run
from aigc_core.limits import validate_extra_budget
from aigc_core.runs.ownership import OPERATOR, Requester, admission, check_control
from aigc_core.runs.store import Run, RunStore

if TYPE_CHECKING:
    from aigc_core.config import TrainingConfig

def queue_position(run: Run, store: RunStore) -> int:
    """How many queued runs start before this one (0 = next), as the run's executor sees its queue."""
    return executor_for(run).queue_position(run, store)


def spawn_worker(run: Run, extra_steps: int | None = None, extra_minutes: float | None = None) -> None:
    """Hand a queued run to the configured executor (a worker process, or a Ray task); returns at once."""
    select_executor().launch(run, extra_steps, extra_minutes)


def stop(run: Run) -> None:
    """Ask the run to stop after its current step, through the executor that placed it.

    Raises:
        OSError: the STOP file cannot be written (a read-only runs folder).
    """
    executor_for(run).stop(run)


def launch(config: TrainingConfig, store: RunStore | None = None, requester: Requester = OPERATOR) -> Run:
    """Create the run directory (queued) and start its worker; returns immediately.

    The config is validated once, by the caller: `aigc_core.studio.launch` (the faces' door) or
    `aigc_core.experiments.twin.twin_configs`; it is not checked again here.

    Args:
        requester: who starts it; a visitor is held to the per-browser and server-wide caps and
            becomes the run's owner. The default, the operator (the CLI), is never capped.

    Raises:
        ValueError: a cap reached, or too little disk space (after old runs are pruned).
        OSError: the runs folder cannot be written; no half-made run is left behind.
    """
    return launch_together([config], store, requester)[0]


def launch_together(configs: list[TrainingConfig], store: RunStore | None = None, requester: Requester = OPERATOR,
                    race: bool = False) -> list[Run]:
    """Create several runs (queued) under one admission and start their workers; returns at once.

    Admitted as a whole or not at all: either every run fits the caps or none is created. With
    `race`, the runs are the members of one race and count as one start against the visitor's
    cap (`ownership.check_queue_caps`).

    Raises:
        ValueError: a cap reached, or too little disk space (after old runs are pruned).
        OSError: the runs folder cannot be written, or a worker cannot be started; the runs
            already started are asked to stop and the others removed (`_discard`).
    """
    store = store or RunStore()
    runs: list[Run] = []
    with admission(store, requester, needed=len(configs), race=race):
        prepare_new_run(store)
        try:
            for config in configs:
                runs.append(store.create(config.to_dict(), owner=requester.owner))
        except BaseException:
            _discard(runs, started=0)
            raise
    for started, run in enumerate(runs):
        try:
            spawn_worker(run)
        except BaseException:
            _discard(runs, started)
            raise
    return runs


def _discard(runs: list[Run], started: int) -> None:
    """Undo a half-made batch: the first `started` runs have workers and are asked to stop (part of
    a race races nobody); the others never got one, so their folders go rather than sit queued."""
    for run in runs[:started]:
        run.request_stop()
    for run in runs[started:]:
        shutil.rmtree(run.path, ignore_errors=True)


def resume(run: Run, extra_steps: int | None = None, extra_minutes: float | None = None,
           requester: Requester = OPERATOR) -> Run:
    """Queue a stopped, failed or interrupted run again; its worker continues from the checkpoint.

    Held to what a new run is held to: its owner (or the operator) only, the caps, and
    `$AIGC_MIN_FREE_MB` of free disk (old runs are not pruned: this one could be among them).

    Raises:
        NotOwner: another browser's run.
        ValueError: a bad budget, an active run, a cap reached or too little disk space.
        OSError: the status cannot be written (a read-only runs folder).
    """
    extra_steps, extra_minutes = validate_extra_budget(extra_steps, extra_minutes)
    check_control(run, requester, "resume")
    status = run.status()
    state = status.get("state")
    if state in ("queued", "running"):
        raise ValueError(f"run {run.run_id} is already {state}")
    if state == "damaged":  # resuming would write over the damaged files, the evidence of what happened
        raise ValueError(f"run {run.run_id} cannot be resumed: {status.get('error')}")
    if status.get("replay"):  # a replay has no weights: it would silently start training from scratch
        raise ValueError(f"run {run.run_id} is a replay of a recording; replay the recording again instead")
    store = RunStore(run.path.parent)
    with admission(store, requester):
        check_disk_space(store.root)
        run.update_status(state="queued", pid=None, created_at=time.time(), error=None)
    spawn_worker(run, extra_steps, extra_minutes)
    return run
