"""Atomic reads and writes of small files, a lock shared between hosts, and the project's root folder.

They live apart from the run store (`aigc_core.runs.store`) so that modules which only need to
write a file safely (the classifier's cache, an evaluation report, shipped weights) do not
depend on runs: a reader sees the old or the new file, never half of one.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers see old or new, never half."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data) -> None:
    """`data` as indented JSON with sorted keys (stable diffs), written atomically."""
    write_bytes_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path, default=None):
    """The JSON in a file, or `default` when it is missing, unreadable or not JSON (binary bytes too)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError):
        return default


def append_json_lines(path: Path, rows: list[dict]) -> None:
    """Append rows as JSON lines in one write, synced: a reader skips at most a partial last line.

    Every `.jsonl` file of a run grows this way (metrics, quality, the VAE's KL history).
    """
    if not rows:
        return
    text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
    with open(path, "a") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())


# A lock directory older than this is left over from a process that died holding it: admission
# (the only user) holds it for the milliseconds of a cap check and a run folder's creation.
STALE_LOCK_S = 30.0
LOCK_POLL_S = 0.02


class LockTimeout(TimeoutError):
    """The lock stayed taken for longer than the caller would wait."""


@contextmanager
def directory_lock(path: Path, timeout_s: float = 60.0, stale_after_s: float = STALE_LOCK_S):
    """Hold `path` (a directory that exists only while held) as a lock shared by every host.

    `flock` does not hold between the clients of many network filesystems, so two app replicas
    on two hosts, sharing one runs folder, would both pass a nearly full cap. Creating a
    directory is atomic on NFS and cloud file stores as on a local disk: exactly one `mkdir`
    wins. A holder that died leaves the directory behind, so one whose recorded process is gone
    (same host) or which is older than `stale_after_s` (any host) is broken.

    Raises:
        LockTimeout: still held by a live holder after `timeout_s`.
    """
    path = Path(path)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            path.mkdir()
            break
        except FileExistsError:
            if _stale(path, stale_after_s):
                _break(path)
                continue
            if time.monotonic() >= deadline:
                raise LockTimeout(f"{path} still held after {timeout_s:g} s") from None
            time.sleep(LOCK_POLL_S)
    token = f"{socket.gethostname()} {os.getpid()} {time.time():.3f}"
    (path / "holder").write_text(token)
    try:
        yield
    finally:
        _break(path)


def _stale(path: Path, stale_after_s: float) -> bool:
    """A lock directory whose holder died: its process is gone (this host), or it is too old."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:  # released meanwhile
        return False
    try:
        host, pid, _taken = (path / "holder").read_text().split()
    except (FileNotFoundError, ValueError):  # the holder died before or while writing its name
        return age > stale_after_s
    if host == socket.gethostname() and not _process_exists(int(pid)):
        return True
    return age > stale_after_s


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _break(path: Path) -> None:
    """Remove a lock directory (and its holder file), renamed out of the way first.

    Two waiters that both judge one dead holder's lock stale can race: the second may rename the
    lock the first has just taken. That needs a holder to die inside admission and two visitors
    to wait on it in the same few milliseconds; the cost is one cap check run twice at once.
    """
    doomed = path.with_name(f"{path.name}.broken-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(path, doomed)
    except FileNotFoundError:
        return
    (doomed / "holder").unlink(missing_ok=True)
    doomed.rmdir()
