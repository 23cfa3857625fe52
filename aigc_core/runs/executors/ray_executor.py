"""The Ray executor: each run is a Ray task, queued and placed by a Ray cluster.

    AIGC_EXECUTOR=ray  AIGC_RAY_ADDRESS=auto | HOST:PORT | ray://HOST:10001

A run asks Ray for the resources its config needs (one CPU, and one GPU per data-parallel
device where the cluster has GPUs); Ray queues it until a node has them. The task trains the
run in the same run folder the app reads, so every host needs the runs folder mounted at the
same path (`$AIGC_RUNS_DIR` on a shared volume). Nothing here uses `flock`: the queue is Ray's.

Tasks are submitted by one detached actor, the dispatcher, not by the app or the CLI: a Ray
task dies with the process that submitted it, and `train --detach` exits at once, as the app
may restart. The dispatcher owns every task, so it can cancel one from any process, and it
watches them: a stopped queued run is cancelled; a running run that does not stop within
`$AIGC_RAY_STOP_GRACE_S` of its STOP file is cancelled by force; a task whose worker died is
retried by Ray (`max_retries`) from the run's last checkpoint, then recorded as failed with
Ray's reason in one line.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import ray

from aigc_core.runs.executors.base import Capacity, Executor, this_host
from aigc_core.runs.store import ACTIVE_STATES, PROJECT_ROOT, Run, RunStore

ADDRESS_VARIABLE = "AIGC_RAY_ADDRESS"
NAMESPACE = "aigc-studio"
DISPATCHER_NAME = "aigc-dispatcher"
# Ray retries a task whose worker process died this many times (each from the checkpoint).
DEFAULT_MAX_RETRIES = 2
# A running run gets this long to stop at a step boundary before its task is killed.
DEFAULT_STOP_GRACE_S = 30.0
WATCH_POLL_S = 0.5
# What a worker host inherits from the submitting process: the project's own settings and the
# Keras backend when it is chosen explicitly (otherwise each host picks its own, see below).
FORWARDED_PREFIXES = ("AIGC_", "KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def max_retries() -> int:
    """`$AIGC_RAY_MAX_RETRIES`: how often Ray retries a run whose worker died (default 2)."""
    return max(0, int(_env_number("AIGC_RAY_MAX_RETRIES", DEFAULT_MAX_RETRIES)))


def worker_environment() -> dict:
    """Environment variables every Ray worker of this app gets (runtime_env env_vars)."""
    environment = {name: value for name, value in os.environ.items() if name.startswith(FORWARDED_PREFIXES)}
    # The package is found on every host at the same path as here (the image, or a shared checkout).
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return environment


def connect(address: str | None = None) -> None:
    """Join the Ray cluster once per process (`$AIGC_RAY_ADDRESS`, default "auto")."""
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get(ADDRESS_VARIABLE, "auto"), namespace=NAMESPACE,
                 logging_level="ERROR", log_to_driver=False, runtime_env={"env_vars": worker_environment()})


def one_line(error: BaseException) -> str:
    """Ray's reason for a failure as one line: the error's class and the first line of its message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else 'no message'}"[:300]


def choose_keras_backend() -> str:
    """TensorFlow where this host has it, else JAX; set before Keras is imported in this worker."""
    if "KERAS_BACKEND" not in os.environ:
        os.environ["KERAS_BACKEND"] = "tensorflow" if importlib.util.find_spec("tensorflow") else "jax"
    return os.environ["KERAS_BACKEND"]


def train_on_ray(run_path: str, target_step: int | None, extra_minutes: float | None) -> str | None:
    """Body of a run's Ray task: train (or, on a retry, resume from the checkpoint) and return the state.

    Args:
        target_step: for a resume with `--steps N`, the step to reach (checkpoint + N when it was
            queued), so a retry after a crash trains to the same step rather than N more.
    """
    backend = choose_keras_backend()
    run = Run(Path(run_path))
    attempts = (run.raw_status().get("attempts") or 0) + 1
    run.update_status(executor="ray", where=f"{this_host()} ({ray.util.get_node_ip_address()})",
                      attempts=attempts, keras_backend=backend)
    if run.stop_requested():  # stopped in the moment between Ray starting the task and now
        run.stop_path.unlink(missing_ok=True)
        return run.update_status(state="stopped", error=None, eta_s=None)["state"]
    extra_steps = None
    if target_step is not None:
        reached = (run.checkpoint() or {}).get("step", 0) if run.weights_path.exists() else 0
        extra_steps = target_step - reached
        if extra_steps <= 0:  # died after its last checkpoint at the target: nothing left to train
            return run.update_status(state="finished", error=None, eta_s=None)["state"]
    from aigc_core.devices import configure_logical_cpus, enable_gpu_memory_growth
    from aigc_core.runs.executors.local import bound_threads
    from aigc_core.runs.training import quiet_tensorflow, train_run

    quiet_tensorflow()
    configure_logical_cpus()
    enable_gpu_memory_growth()
    if backend == "tensorflow":
        bound_threads()
    return train_run(run, extra_steps=extra_steps, extra_minutes=extra_minutes).get("state")


@dataclass
class _Task:
    ref: ray.ObjectRef
    path: str
    submitted_at: float
    cancelled: bool = False
    forced_after_s: float | None = None
    stop_seen_at: float | None = None
    retries: int = field(default_factory=max_retries)


class Dispatcher:
    """The detached actor that submits, owns, watches and cancels every run's task."""

    def __init__(self, stop_grace_s: float = DEFAULT_STOP_GRACE_S):
        self.stop_grace_s = stop_grace_s
        self.tasks: dict[str, _Task] = {}
        self.lock = threading.Lock()
        # max_calls=1: each run gets a fresh worker process, so TensorFlow and GPU memory are
        # released when it ends, and a crash of one run cannot leave state for the next.
        self.remote_training = ray.remote(max_calls=1)(train_on_ray)
        threading.Thread(target=self._watch, daemon=True).start()

    def submit(self, run_path: str, resources: dict, environment: dict, retries: int,
               target_step: int | None, extra_minutes: float | None) -> str:
        """Queue the run's task; returns Ray's task id."""
        ref = self.remote_training.options(
            **resources, max_retries=retries, retry_exceptions=False,
            runtime_env={"env_vars": environment}, name=f"train {Path(run_path).name}",
        ).remote(run_path, target_step, extra_minutes)
        with self.lock:
            self.tasks[Path(run_path).name] = _Task(ref, run_path, time.time(), retries=retries)
        return ref.task_id().hex()

    def tracked(self) -> list[str]:
        """Run ids whose task Ray still holds (queued or running)."""
        with self.lock:
            return list(self.tasks)

    def queue(self) -> list[str]:
        """Run ids waiting for Ray to start them, in the order they were submitted."""
        with self.lock:
            waiting = sorted(self.tasks.items(), key=lambda item: item[1].submitted_at)
        return [run_id for run_id, task in waiting if Run(Path(task.path)).raw_status().get("state") == "queued"]

    def stop(self, run_id: str) -> None:
        """Act on a STOP file at once rather than at the next watch round."""
        self._check_stop(run_id)

    def _watch(self) -> None:
        while True:
            try:
                self._watch_once()
            except Exception:  # a transient Ray or file error: the next round tries again
                pass
            time.sleep(WATCH_POLL_S)

    def _watch_once(self) -> None:
        with self.lock:
            items = list(self.tasks.items())
        if not items:
            return
        refs = [task.ref for _, task in items]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        ready = set(ready)
        for run_id, task in items:
            if task.ref in ready:
                self._finish(run_id, task)
            else:
                self._check_stop(run_id)

    def _check_stop(self, run_id: str) -> None:
        with self.lock:
            task = self.tasks.get(run_id)
        if task is None or task.cancelled:
            return
        run = Run(Path(task.path))
        if not run.stop_requested():
            return
        if run.raw_status().get("state") == "queued":
            task.cancelled = True
            ray.cancel(task.ref)
            return
        task.stop_seen_at = task.stop_seen_at or time.monotonic()
        waited = time.monotonic() - task.stop_seen_at
        if waited > self.stop_grace_s:
            task.cancelled, task.forced_after_s = True, waited
            ray.cancel(task.ref, force=True)

    def _finish(self, run_id: str, task: _Task) -> None:
        run = Run(Path(task.path))
        try:
            ray.get(task.ref)  # the task wrote its own final status
        except Exception as error:
            if task.cancelled:
                run.stop_path.unlink(missing_ok=True)
                forced = (f"stopped by force: training did not stop within {task.forced_after_s:.0f} s"
                          if task.forced_after_s is not None else None)
                run.update_status(state="stopped", error=forced, eta_s=None)
            elif run.raw_status().get("state") in ACTIVE_STATES:
                run.update_status(state="failed", eta_s=None,
                                  error=f"Ray gave up after {task.retries} retries: {one_line(error)}")
        with self.lock:
            self.tasks.pop(run_id, None)


RemoteDispatcher = ray.remote(Dispatcher)


def run_resources(run: Run) -> dict:
    """What one run asks Ray for: 1 CPU, and one GPU per data-parallel device on a cluster with GPUs."""
    cpus = max(0.01, _env_number("AIGC_RAY_CPUS_PER_RUN", 1.0))
    devices = run.config().get("devices") or 1
    gpus = float(devices) if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
    return {"num_cpus": cpus, "num_gpus": gpus}


class RayExecutor(Executor):
    """Runs as tasks on the Ray cluster at `$AIGC_RAY_ADDRESS`."""

    name = "ray"

    def __init__(self, address: str | None = None):
        self.address = address or os.environ.get(ADDRESS_VARIABLE, "auto")

    def dispatcher(self):
        """The cluster's one dispatcher, started by the first app or CLI that needs it."""
        connect(self.address)
        return RemoteDispatcher.options(
            name=DISPATCHER_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
            num_cpus=0, max_concurrency=16, runtime_env={"env_vars": worker_environment()},
        ).remote(_env_number("AIGC_RAY_STOP_GRACE_S", DEFAULT_STOP_GRACE_S))

    def launch(self, run: Run, extra_steps: int | None = None, extra_minutes: float | None = None) -> None:
        target_step = None
        if extra_steps is not None:
            reached = (run.checkpoint() or {}).get("step", 0) if run.weights_path.exists() else 0
            target_step = reached + extra_steps
        # Written before the task exists: once submitted, the task itself writes where it runs.
        run.update_status(executor=self.name, where=None, attempts=0)
        try:
            dispatcher = self.dispatcher()
            task_id = ray.get(dispatcher.submit.remote(str(run.path), run_resources(run), worker_environment(),
                                                       max_retries(), target_step, extra_minutes))
        except Exception as error:  # no cluster at the address, or it refused the task
            message = f"cannot queue the run on the Ray cluster at {self.address}: {one_line(error)}"
            run.update_status(state="failed", error=message)
            raise RuntimeError(message) from None
        run.update_status(ray_task_id=task_id)

    def stop(self, run: Run) -> None:
        run.request_stop()
        if run.raw_status().get("executor") == self.name:
            ray.get(self.dispatcher().stop.remote(run.run_id))

    def queue_position(self, run: Run, store: RunStore) -> int:
        waiting = ray.get(self.dispatcher().queue.remote())
        return waiting.index(run.run_id) if run.run_id in waiting else 0

    def capacity(self) -> Capacity:
        connect(self.address)
        resources = ray.cluster_resources()
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        return Capacity(workers=len(nodes), cpus=float(resources.get("CPU", 0)), gpus=float(resources.get("GPU", 0)))

    def reconcile(self, store: RunStore) -> list[Run]:
        tracked = set(ray.get(self.dispatcher().tracked.remote()))
        lost = []
        for run in self.active_runs(store):
            if run.run_id in tracked:
                continue
            checkpoint = (run.checkpoint() or {}).get("step") if run.weights_path.exists() else None
            after = (f"resume continues from the checkpoint at step {checkpoint}" if checkpoint
                     else "resume starts again from step 0")
            run.update_status(state="failed", eta_s=None,
                              error=f"Ray has no task for this run (the cluster restarted?); {after}")
            lost.append(run)
        return lost

    def describe(self) -> str:
        return f"Ray cluster at {self.address}"
