"""Training in a separate worker process, with a queue shared by every caller.

The app never trains in its own process: `launch()` creates the run directory and starts
`python -m aigc_core worker`, which waits for a free training slot, then trains. A slot
is an exclusive `flock` on a file in the runs folder, so the queue needs no server, and
the kernel frees a slot the moment its worker dies, however it dies.

A queued worker imports nothing heavy: TensorFlow and Keras (about 700 MB resident) are imported
only once it holds a slot, so ten queued runs cost ten small Python processes, not 7 GB.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from aigc_core.housekeeping import check_disk_space, prepare_new_run
from aigc_core.limits import max_concurrent_runs, validate_extra_budget
from aigc_core.ownership import OPERATOR, Requester, admission, check_control
from aigc_core.runs import PROJECT_ROOT, Run, RunStore, own_process_identity

if TYPE_CHECKING:
    from aigc_core.config import TrainingConfig

QUEUE_POLL_S = 0.5


def queue_position(run: Run, store: RunStore) -> int:
    """How many queued runs were created before this one (0 = next to start)."""
    mine = run.raw_status().get("created_at", 0)
    return sum(
        1
        for other in store.list()
        if other.path != run.path
        and other.status().get("state") == "queued"
        and other.raw_status().get("created_at", 0) < mine
    )


# Workers run at a lower scheduling priority: the web server (nice 0) gets the CPU whenever
# it needs it, and the worker still uses every core the rest of the time. Bounding the
# worker's threads instead would halve training speed on a 2-core machine.
WORKER_NICENESS = 5


def spawn_worker(run: Run, extra_steps: int | None = None, extra_minutes: float | None = None) -> subprocess.Popen:
    """Start the worker process for a run and return at once; its output goes to worker.log."""
    command = [sys.executable, "-m", "aigc_core", "worker", "--run", str(run.path)]
    if extra_steps is not None:
        command += ["--steps", str(extra_steps)]
    if extra_minutes is not None:
        command += ["--minutes", str(extra_minutes)]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    with open(run.path / "worker.log", "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=PROJECT_ROOT, env=environment, start_new_session=True,
        )
    # Reap the child when it exits, so a killed worker does not linger as a zombie that looks alive.
    threading.Thread(target=process.wait, daemon=True).start()
    return process


def launch(config: TrainingConfig, store: RunStore | None = None, requester: Requester = OPERATOR) -> Run:
    """Create the run directory (queued) and start its worker; returns immediately.

    The config is validated once, by the caller: `aigc_core.studio.launch` (the faces' door) or
    `aigc_core.twin.twin_configs`; it is not checked again here.

    Args:
        requester: who starts it; a visitor is held to the per-browser and server-wide caps and
            becomes the run's owner. The default, the operator (the CLI), is never capped.

    Raises:
        ValueError: a cap reached, or too little disk space (after old runs are pruned).
        OSError: the runs folder cannot be written; no half-made run is left behind.
    """
    store = store or RunStore()
    with admission(store, requester):
        prepare_new_run(store)
        run = store.create(config.to_dict(), owner=requester.owner)
    spawn_worker(run)
    return run


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


def _acquire_slot(run: Run, store: RunStore):
    """Block until this run holds a training slot; None if a stop was requested while queued."""
    slots_dir = store.root / ".slots"
    slots_dir.mkdir(parents=True, exist_ok=True)
    limit = max_concurrent_runs()
    while True:
        if run.stop_requested():
            return None
        if queue_position(run, store) < limit:
            for index in range(limit):
                handle = open(slots_dir / f"slot-{index}.lock", "w")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return handle
                except BlockingIOError:
                    handle.close()
        time.sleep(QUEUE_POLL_S)


def _limit_threads() -> None:
    """Lower this worker's priority, and bound TensorFlow's threads if `$AIGC_WORKER_THREADS` says so."""
    try:
        os.nice(WORKER_NICENESS)
    except OSError:
        pass  # not permitted here: run at normal priority
    threads = os.environ.get("AIGC_WORKER_THREADS")
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(max(1, int(threads) // 2))


def worker_main(run_path: str, extra_steps: int | None = None, extra_minutes: float | None = None) -> int:
    """Entry point of `python -m aigc_core worker`: wait for a slot, then train the run."""
    run = RunStore().open_path(run_path)
    store = RunStore(run.path.parent)
    run.update_status(state="queued", **own_process_identity())
    slot = _acquire_slot(run, store)
    if slot is None:
        run.stop_path.unlink(missing_ok=True)
        run.update_status(state="stopped", error=None, eta_s=None)
        return 0
    try:
        # Only now the training stack: a worker waiting in the queue stays a small process.
        from aigc_core.devices import configure_logical_cpus, enable_gpu_memory_growth
        from aigc_core.training import quiet_tensorflow, train_run

        quiet_tensorflow()
        configure_logical_cpus()  # $AIGC_LOGICAL_CPUS, before TensorFlow's runtime starts
        enable_gpu_memory_growth()
        _limit_threads()
        status = train_run(run, extra_steps=extra_steps, extra_minutes=extra_minutes)
    finally:
        slot.close()
    return 0 if status.get("state") in ("finished", "stopped", "interrupted") else 1
