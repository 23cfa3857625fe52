"""Atomic reads and writes of small files, and the project's root folder.

They live apart from the run store (`aigc_core.runs.store`) so that modules which only need to
write a file safely (the classifier's cache, an evaluation report, shipped weights) do not
depend on runs: a reader sees the old or the new file, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
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
