"""Where runs train: `local` worker processes (the default) or a `ray` cluster.

    AIGC_EXECUTOR=local | ray

`select_executor()` is the one place the choice is read. `aigc_core.runs.worker` launches, resumes
and stops through it, so the CLI, the pages and the service door all follow the setting. A run
records the executor that placed it in its status, and `executor_for(run)` uses that one, so a
run queued on Ray is still stopped through Ray after the app was switched back to local.
Ray is imported only when it is chosen: it is not part of the default install.
"""

from __future__ import annotations

import os

from aigc_core.runs.executors.base import Capacity, Executor
from aigc_core.runs.store import Run

EXECUTOR_VARIABLE = "AIGC_EXECUTOR"
EXECUTOR_NAMES = ("local", "ray")

_executors: dict[str, Executor] = {}


def make_executor(name: str) -> Executor:
    """The executor called `name`, one object per process (Ray's connection is kept)."""
    if name not in EXECUTOR_NAMES:
        raise ValueError(f"{EXECUTOR_VARIABLE} must be one of {list(EXECUTOR_NAMES)}; received {name!r}")
    if name not in _executors:
        if name == "ray":
            try:
                from aigc_core.runs.executors.ray_executor import RayExecutor
            except ImportError:
                raise ValueError("AIGC_EXECUTOR=ray needs Ray: pip install -r requirements-cluster.txt") from None
            _executors[name] = RayExecutor()
        else:
            from aigc_core.runs.executors.local import LocalExecutor

            _executors[name] = LocalExecutor()
    return _executors[name]


def select_executor() -> Executor:
    """The executor `$AIGC_EXECUTOR` names (default local)."""
    return make_executor(os.environ.get(EXECUTOR_VARIABLE, "local").strip() or "local")


def executor_for(run: Run) -> Executor:
    """The executor that placed this run (its status says), or the configured one for a new run."""
    recorded = run.raw_status().get("executor")
    return make_executor(recorded) if recorded in EXECUTOR_NAMES else select_executor()


def executor_summary() -> tuple[str, Capacity | None]:
    """The name of the executor new runs go to, and what it holds; capacity None when unreachable.

    Raises:
        ValueError: `$AIGC_EXECUTOR` names no executor, or Ray is chosen but not installed.
    """
    executor = select_executor()
    try:
        return executor.name, executor.capacity()
    except Exception:  # a Ray cluster that is down: the app still renders, and says so
        return executor.name, None


__all__ = ["Capacity", "Executor", "executor_for", "executor_summary", "make_executor", "select_executor"]
