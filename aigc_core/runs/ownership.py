"""Who may control a run, and how many runs one visitor and the whole server may queue.

A run belongs to the browser that started it: the page hashes the browser's identity (see
`ui/visitor.py`) with a server-side salt and the run's status.json keeps only that hash as
`owner`. Anyone may watch, compare and download a run; only its owner, or the operator
(the CLI on the server, or a visitor who opened the app with `?admin=<$AIGC_ADMIN_TOKEN>`),
may stop, resume or delete it. The caps count the run store itself, not a page's memory,
so a reload or a new tab of the same browser finds its runs still counted.
"""

from __future__ import annotations

import errno
import hashlib
import heapq
import math
import os
import secrets
import statistics
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aigc_core.files import directory_lock
from aigc_core.runs.housekeeping import describe_os_error
from aigc_core.limits import max_concurrent_runs, max_queued, max_queued_per_session
from aigc_core.messages import MessageError, N_
from aigc_core.runs.store import ACTIVE_STATES, Run, RunStore

SALT_FILE = ".owner-salt"
QUEUE_LOCK_DIR = ".queue-lock"
# A worker loads TensorFlow and the data before its first step.
STARTUP_S = 15.0
# Seconds per step when no finished run on this server says better (gan-fast on 2 CPU cores).
DEFAULT_SECONDS_PER_STEP = 0.1
MNIST_TRAIN_IMAGES = 60_000
# The salt of a runs folder nobody can write to: no run can be created there anyway.
_FALLBACK_SALT = secrets.token_bytes(16)


@dataclass(frozen=True)
class Requester:
    """Who asks: a visitor's hashed browser identity, and whether they have operator rights."""

    owner: str | None = None
    operator: bool = False


# The CLI runs on the server: whoever can type there can delete the files anyway.
OPERATOR = Requester(owner=None, operator=True)


class NotOwner(ValueError):
    """A visitor asked to stop, resume or delete a run another browser started."""


def _salt(store: RunStore) -> bytes:
    """`$AIGC_OWNER_SALT`, else a random salt kept in the runs folder (made on first use)."""
    configured = os.environ.get("AIGC_OWNER_SALT")
    if configured:
        return configured.encode()
    path = store.root / SALT_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError:
        return _FALLBACK_SALT
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()  # another server process made it first
    except OSError:
        return _FALLBACK_SALT
    salt = secrets.token_hex(16).encode()
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(salt)
    return salt


def visitor(identity: str, store: RunStore | None = None, operator: bool = False) -> Requester:
    """The requester for a browser identity; only a salted hash of it is ever stored.

    Raises:
        ValueError: an empty identity (it would make every such visitor one owner).
    """
    if not identity:
        raise ValueError("expected a non-empty visitor identity; received an empty one")
    store = store or RunStore()
    digest = hashlib.sha256(_salt(store) + b"\x00" + identity.encode("utf-8", "surrogatepass")).hexdigest()
    return Requester(owner=digest, operator=operator)


def run_owner(run: Run) -> str | None:
    return run.raw_status().get("owner")


def may_control(run: Run, requester: Requester) -> bool:
    """True for the operator, and for the visitor whose hash started the run."""
    if requester.operator:
        return True
    owner = run_owner(run)
    return owner is not None and owner == requester.owner


def check_control(run: Run, requester: Requester, action: str) -> None:
    """Raise `NotOwner` in one line when `requester` may not `action` ("stop", "delete") this run."""
    if not may_control(run, requester):
        raise NotOwner(f"only the browser that started run {run.run_id} can {action} it")


def stop_run(run: Run, requester: Requester) -> None:
    """Ask the run's worker to stop after its current step.

    Raises:
        NotOwner: another browser's run.
        OSError: the STOP file cannot be written (a read-only runs folder).
    """
    from aigc_core.runs.executors import executor_for  # the engine that placed the run: a Ray run is cancelled if queued

    check_control(run, requester, "stop")
    executor_for(run).stop(run)


def delete_run(store: RunStore, run_id: str, requester: Requester) -> None:
    """Delete a finished run for its owner or the operator (`RunStore.delete` checks the state).

    Raises:
        NotOwner, ValueError: another browser's run, an unknown id or an active run.
        OSError: the runs folder cannot be written.
    """
    check_control(store.get(run_id), requester, "delete")
    store.delete(run_id)


def write_failure(error: OSError) -> str:
    """One line for a failed write to the runs folder: "the runs folder is read-only" when it is."""
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the runs folder is read-only"
    return describe_os_error(error)


# -- the caps ---------------------------------------------------------------------------------
def active_runs(store: RunStore) -> list[tuple[Run, dict]]:
    """(run, status) of every queued or running run, dead workers already reported as failed."""
    found = []
    for run in store.list():
        status = run.status()
        if status.get("state") in ACTIVE_STATES:
            found.append((run, status))
    return found


def _seconds_per_step(store: RunStore) -> float:
    """The median pace of this server's finished runs, so the estimate follows its hardware."""
    paces = []
    for run in store.list()[:50]:
        status = run.raw_status()
        if status.get("state") == "finished" and status.get("step") and status.get("elapsed_s"):
            paces.append(status["elapsed_s"] / status["step"])
    return statistics.median(paces) if paces else DEFAULT_SECONDS_PER_STEP


def remaining_seconds(run: Run, status: dict, seconds_per_step: float) -> float:
    """How long an active run still needs: its ETA, the rest of its minutes, or its steps left."""
    if status.get("eta_s") is not None and status.get("state") == "running":
        return max(0.0, float(status["eta_s"]))
    config = run.config()
    elapsed = float(status.get("elapsed_s") or 0.0)
    startup = STARTUP_S if status.get("state") == "queued" else 0.0
    if config.get("minutes"):
        return startup + max(0.0, float(config["minutes"]) * 60.0 - elapsed)
    total = status.get("total_steps") or config.get("steps")
    if not total and config.get("epochs"):
        images = config.get("train_limit") or MNIST_TRAIN_IMAGES
        total = config["epochs"] * math.ceil(images / max(1, config.get("batch_size") or 64))
    done = int(status.get("step") or 0)
    pace = elapsed / done if done and elapsed else seconds_per_step
    return startup + max(0, int(total or 0) - done) * pace


def wait_for_places(store: RunStore, active: list[tuple[Run, dict]], places: int) -> float:
    """Seconds until `places` active runs have ended, the queue trained in order on its slots."""
    slots = max_concurrent_runs()
    pace = _seconds_per_step(store)
    running = [remaining_seconds(run, status, pace) for run, status in active if status.get("state") == "running"]
    queued = sorted((status.get("created_at", 0), remaining_seconds(run, status, pace))
                    for run, status in active if status.get("state") != "running")
    free_at = sorted(running)[:slots] + [0.0] * max(0, slots - len(running))
    ends = sorted(running)
    heapq.heapify(free_at)
    for _, duration in queued:
        start = heapq.heappop(free_at)
        heapq.heappush(free_at, start + duration)
        ends.append(start + duration)
    ends.sort()
    return ends[min(len(ends), places) - 1] if ends else 0.0


def check_queue_caps(requester: Requester, store: RunStore, needed: int = 1, race: bool = False) -> None:
    """Refuse `needed` new runs when this visitor or the whole server has no room left.

    The operator is never refused. A visitor may hold `$AIGC_MAX_QUEUED_PER_SESSION` queued or
    running runs; the server accepts `$AIGC_MAX_QUEUED` in all. A race (`race`: the members of a
    twin or three-way race, trained one after the other) is one start: a browser with nothing
    queued or running may start a whole race even when it has more members than that cap, so
    the three-way race is open to every visitor (at most three runs each) and not only to the
    operator. The server-wide cap counts every member.

    Raises:
        ValueError: one line saying which cap is reached; for a full queue, about how long until
            a place frees.
    """
    if requester.operator:
        return
    active = active_runs(store)
    mine = sum(1 for run, status in active if requester.owner and status.get("owner") == requester.owner)
    limit = max_queued_per_session()
    if mine + needed > limit and not (race and mine == 0):
        # One whole sentence per case (not pieces joined): a translation words each as a whole.
        templates = {(True, False): N_("this browser already has {count} queued or running run (at most {limit} at "
                                       "a time); wait for one to finish or stop it"),
                     (False, False): N_("this browser already has {count} queued or running runs (at most {limit} "
                                        "at a time); wait for one to finish or stop it"),
                     (True, True): N_("this browser already has {count} queued or running run (at most {limit} at "
                                      "a time; this starts {needed} runs); wait for one to finish or stop it"),
                     (False, True): N_("this browser already has {count} queued or running runs (at most {limit} "
                                       "at a time; this starts {needed} runs); wait for one to finish or stop it")}
        raise MessageError(templates[(mine == 1, needed != 1)], count=mine, limit=limit, needed=needed)
    server_limit = max_queued()
    if len(active) + needed > server_limit:
        minutes = max(1, math.ceil(wait_for_places(store, active, len(active) + needed - server_limit) / 60.0))
        template = (N_("the queue is full ({count} runs waiting or training, at most {limit}); try again in about "
                       "{minutes} minute") if minutes == 1 else
                    N_("the queue is full ({count} runs waiting or training, at most {limit}); try again in about "
                       "{minutes} minutes"))
        raise MessageError(template, count=len(active), limit=server_limit, minutes=minutes)


@contextmanager
def admission(store: RunStore, requester: Requester, needed: int = 1, race: bool = False):
    """Check the caps and create the runs under one lock, so two quick clicks cannot both pass."""
    if requester.operator:
        yield
        return
    store.root.mkdir(parents=True, exist_ok=True)
    with directory_lock(Path(store.root) / QUEUE_LOCK_DIR):  # not flock: app replicas on many hosts share it
        check_queue_caps(requester, store, needed, race)
        yield
