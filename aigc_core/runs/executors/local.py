"""The embedded executor: one worker process per run on this machine, queued by `flock` slots.

`launch()` starts `python -m aigc_core worker`, which waits for a free training slot, then
trains. A slot is an exclusive `flock` on a file in the runs folder, so the queue needs no
server, and the kernel frees a slot the moment its worker dies, however it dies. This is why
the local executor needs a runs folder on one host: `flock` does not hold across hosts.

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

from aigc_core.runs.executors.base import Capacity, Executor, this_host
from aigc_core.limits import max_concurrent_runs
from aigc_core.runs.store import PROJECT_ROOT, Run, RunStore, own_process_identity

QUEUE_POLL_S = 0.5
# Workers run at a lower scheduling priority: the web server (nice 0) gets the CPU whenever
# it needs it, and the worker still uses every core the rest of the time. Bounding the
# worker's threads instead would halve training speed on a 2-core machine.
WORKER_NICENESS = 5


def queue_position(run: Run, store: RunStore) -> int:
    """How many queued runs were created before this one (0 = next to start)."""
    mine = run.raw_status().get("created_at", 0)
    return sum(
        1
        for other in store.list()
        if other.path != run.path
        and other.status().get("state") == "queued"
        and other.raw_status().get("executor", "local") == "local"
        and other.raw_status().get("created_at", 0) < mine
    )


def start_worker_process(run: Run, extra_steps: int | None = None,
                         extra_minutes: float | None = None) -> subprocess.Popen:
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


def acquire_slot(run: Run, store: RunStore):
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
    bound_threads()


def bound_threads() -> None:
    """TensorFlow's thread pools sized by `$AIGC_WORKER_THREADS`, when it is set (any executor's worker)."""
    threads = os.environ.get("AIGC_WORKER_THREADS")
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(max(1, int(threads) // 2))


def worker_main(run_path: str, extra_steps: int | None = None, extra_minutes: float | None = None) -> int:
    """Entry point of `python -m aigc_core worker`: wait for a slot, then train the run."""
    store = RunStore()
    run = store.open_path(run_path)
    store = RunStore(run.path.parent)
    run.update_status(state="queued", executor="local", where=this_host(), **own_process_identity())
    slot = acquire_slot(run, store)
    if slot is None:
        run.stop_path.unlink(missing_ok=True)
        run.update_status(state="stopped", error=None, eta_s=None)
        return 0
    try:
        # Only now the training stack: a worker waiting in the queue stays a small process.
        from aigc_core.devices import configure_logical_cpus, enable_gpu_memory_growth
        from aigc_core.runs.training import quiet_tensorflow, train_run

        quiet_tensorflow()
        configure_logical_cpus()  # $AIGC_LOGICAL_CPUS, before TensorFlow's runtime starts
        enable_gpu_memory_growth()
        _limit_threads()
        status = train_run(run, extra_steps=extra_steps, extra_minutes=extra_minutes)
    finally:
        slot.close()
    return 0 if status.get("state") in ("finished", "stopped", "interrupted") else 1


class LocalExecutor(Executor):
    """Today's worker processes on this machine, `$AIGC_MAX_CONCURRENT` of them training at once."""

    name = "local"

    def launch(self, run: Run, extra_steps: int | None = None, extra_minutes: float | None = None) -> None:
        run.update_status(executor=self.name, where=this_host())
        start_worker_process(run, extra_steps, extra_minutes)

    def queue_position(self, run: Run, store: RunStore) -> int:
        return queue_position(run, store)

    def capacity(self) -> Capacity:
        return Capacity(workers=max_concurrent_runs(), cpus=float(os.cpu_count() or 1), gpus=float(_visible_gpus()))

    def reconcile(self, store: RunStore) -> list[Run]:
        # `Run.status()` checks each active run's worker pid and records a dead one as failed.
        return [run for run in self.active_runs(store) if run.status().get("state") == "failed"]

    def describe(self) -> str:
        return f"this machine ({this_host()})"


def _visible_gpus() -> int:
    """NVIDIA GPUs on this machine, counted without importing TensorFlow (the sidebar asks often)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([device for device in visible.split(",") if device.strip() and device.strip() != "-1"])
    try:
        return len([name for name in os.listdir("/dev") if name.startswith("nvidia") and name[6:].isdigit()])
    except OSError:
        return 0
