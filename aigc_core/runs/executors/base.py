"""What every executor does for a run: start it, stop it, say where it stands and what it can run.

An executor is the engine under `aigc_core.runs.worker.launch` / `resume` and the stop path: the app,
the CLI and the service door never start a process or a Ray task themselves. A run's directory
stays the one source of truth (status.json, STOP, control.json), so any process on any host can
read a run, and an executor only adds how the training is placed and queued.
"""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass

from aigc_core.runs.run_control import request_pause, request_resume, request_steps
from aigc_core.runs.store import ACTIVE_STATES, Run, RunStore


@dataclass(frozen=True)
class Capacity:
    """What an executor can train at once: worker slots (or nodes), and the CPUs and GPUs behind them."""

    workers: int
    cpus: float
    gpus: float


def this_host() -> str:
    """The host name a run's status shows under "where it runs"."""
    return socket.gethostname()


class Executor(ABC):
    """Places training runs on workers; the same run files whatever the engine.

    Pause and step are the run's control file, read by the training loop between steps, so
    they work the same on every executor and need no engine-specific code.
    """

    name: str = "executor"

    @abstractmethod
    def launch(self, run: Run, extra_steps: int | None = None, extra_minutes: float | None = None) -> None:
        """Queue the run (already created, state "queued") and return at once."""

    def resume(self, run: Run, extra_steps: int | None = None, extra_minutes: float | None = None) -> None:
        """Queue a stopped, failed or interrupted run again; it continues from its checkpoint."""
        self.launch(run, extra_steps, extra_minutes)

    def stop(self, run: Run) -> None:
        """Ask the run to stop after its current step (the STOP file every training loop reads)."""
        run.request_stop()

    def pause(self, run: Run) -> dict:
        return request_pause(run)

    def unpause(self, run: Run) -> dict:
        return request_resume(run)

    def step(self, run: Run, steps: int) -> dict:
        return request_steps(run, steps)

    @abstractmethod
    def queue_position(self, run: Run, store: RunStore) -> int:
        """How many queued runs of this executor start before this one (0 = next)."""

    def state(self, run: Run, store: RunStore | None = None) -> dict:
        """The run's state, and its place in the queue while it waits."""
        status = run.status()
        state = status.get("state")
        position = self.queue_position(run, store or RunStore(run.path.parent)) if state == "queued" else None
        return {"state": state, "queue_position": position, "where": status.get("where")}

    @abstractmethod
    def capacity(self) -> Capacity:
        """Workers, CPUs and GPUs this executor trains on."""

    @abstractmethod
    def reconcile(self, store: RunStore) -> list[Run]:
        """After an app restart: mark the active runs whose training is gone as failed; returns those."""

    @abstractmethod
    def describe(self) -> str:
        """Where runs train, in a few words ("this machine (vm)", "Ray cluster at ...")."""

    def active_runs(self, store: RunStore) -> list[Run]:
        """The queued or running runs this executor placed (by the executor named in their status)."""
        return [run for run in store.list()
                if run.raw_status().get("state") in ACTIVE_STATES
                and run.raw_status().get("executor", "local") == self.name]
