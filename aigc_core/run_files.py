"""One check per file of a run: a damaged file is named in one line, never a crash.

A run folder is written by our own training code, but on a shared server anything can
happen to it: a disk fills mid-write, someone edits a file by hand, a link is planted.
Every reader of the run store goes through the schemas here, so a file that cannot be
read, or does not have the shape our code writes, becomes a `DamagedRunFile` ("status.json:
expected created_at to be a time in seconds, received 'yesterday'") in one place, and the
pages and the CLI show that line instead of failing on the first `.get` of a list.

Links are refused: a run's files are the ones its training wrote, and a link planted in the
runs folder must not let a visitor view or download the file it points to.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from aigc_core.data import DATASET_NAMES

# The model families (aigc_core.registry.FAMILIES, which imports Keras): pages pick charts by it.
MODEL_FAMILIES = ("gan", "vae", "diffusion")
RUN_STATES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
DAMAGED = "damaged"
# Far beyond any real run, low enough that time.localtime and formatting never overflow.
LARGEST_SECONDS = 1e11


class DamagedRunFile(ValueError):
    """A run file that cannot be read or does not have the expected shape; str() is one line."""

    def __init__(self, file_name: str, problem: str):
        self.file_name = file_name
        self.problem = problem
        super().__init__(f"{file_name}: {problem}")


def _shown(value) -> str:
    """A received value for a message: its repr, cut to one short line."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _json_kind(value) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return kinds.get(type(value), "a number")


def is_number(value) -> bool:
    """An int or float (not true/false, which JSON also turns into ints) that a float can hold."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def is_finite_number(value) -> bool:
    return is_number(value) and math.isfinite(value)


def is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**15


def is_seconds(value) -> bool:
    return is_finite_number(value) and 0 <= value < LARGEST_SECONDS


def optional(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: value is None or check(value)


def is_text(value) -> bool:
    return isinstance(value, str)


@dataclass(frozen=True)
class JsonObjectSchema:
    """The shape of one JSON-object file of a run: the keys it must have and what each key may hold.

    Keys not listed are allowed (a newer or older version may add some); listed keys that are
    present must pass their check, because some reader formats or compares them.
    """

    file_name: str
    fields: dict[str, tuple[str, Callable[[object], bool]]]
    required: tuple[str, ...] = ()

    def check(self, data) -> dict:
        """`data` itself when it fits; DamagedRunFile naming the first key that does not."""
        if not isinstance(data, dict):
            raise DamagedRunFile(self.file_name, f"expected a JSON object, received {_json_kind(data)}")
        for name, (expected, accepts) in self.fields.items():
            if name in data and not accepts(data[name]):
                raise DamagedRunFile(self.file_name, f"expected {name} to be {expected}, received {_shown(data[name])}")
        for name in self.required:
            if name not in data:
                raise DamagedRunFile(self.file_name, f"expected the key {name!r}, received none")
        return data


TEXT = ("text", is_text)
COUNT = ("a whole number >= 0", is_count)
OPTIONAL_COUNT = ("a whole number >= 0 or null", optional(is_count))
SECONDS = ("a time in seconds", is_seconds)
OPTIONAL_SECONDS = ("a time in seconds or null", optional(is_seconds))
OPTIONAL_EPOCH = ("a number of epochs >= 0 or null", optional(lambda value: is_finite_number(value) and value >= 0))

CONFIG = JsonObjectSchema("config.json", {
    "model": (f"one of {list(MODEL_FAMILIES)}", lambda value: value in MODEL_FAMILIES),
    "preset": TEXT,
    "overrides": ("an object", lambda value: isinstance(value, dict)),
    "batch_size": OPTIONAL_COUNT,
    "seed": ("a whole number", lambda value: isinstance(value, int) and not isinstance(value, bool)),
    "steps": OPTIONAL_COUNT,
    "epochs": OPTIONAL_COUNT,
    "minutes": ("a number of minutes or null", optional(is_seconds)),
    "log_every": COUNT,
    "sample_every": COUNT,
    "checkpoint_every": COUNT,
    "num_snapshot_samples": COUNT,
    "dataset": (f"one of {list(DATASET_NAMES)}", lambda value: value in DATASET_NAMES),
    "train_limit": OPTIONAL_COUNT,
    "devices": COUNT,
    "precision": TEXT,
}, required=("model", "preset"))

STATUS = JsonObjectSchema("status.json", {
    "state": (f"one of {list(RUN_STATES)}", lambda value: value in RUN_STATES),
    "pid": ("a process id or null", optional(lambda value: is_count(value) and value > 0)),
    "pid_start_time": ("text or null", optional(is_text)),
    "step": COUNT,
    "total_steps": OPTIONAL_COUNT,
    "epoch": OPTIONAL_EPOCH,
    "elapsed_s": OPTIONAL_SECONDS,
    "eta_s": OPTIONAL_SECONDS,
    "created_at": SECONDS,
    "updated_at": SECONDS,
    "error": ("text or null", optional(is_text)),
}, required=("state",))

CHECKPOINT = JsonObjectSchema("checkpoint.json", {
    "step": COUNT, "epoch": OPTIONAL_EPOCH, "elapsed_s": SECONDS,
}, required=("step",))

MODEL_CONFIG = JsonObjectSchema("model_config.json", {
    "family": (f"one of {list(MODEL_FAMILIES)}", lambda value: value in MODEL_FAMILIES), "model_class": TEXT, "config": ("an object", lambda value: isinstance(value, dict)),
}, required=("family",))

# A run's name and note (aigc_core.run_names): a damaged name file falls back to a generated name,
# so it is not among OBJECT_FILES and never makes a run "damaged".
NAME_MAX_CHARS = 60
NOTE_MAX_CHARS = 500
NAME_SERIES = ("preset", "break_it", "twin")
RUN_NAME = JsonObjectSchema("name.json", {
    "name": (f"text of at most {NAME_MAX_CHARS} characters or null",
             optional(lambda value: is_text(value) and len(value) <= NAME_MAX_CHARS)),
    "note": (f"text of at most {NOTE_MAX_CHARS} characters", lambda value: is_text(value) and len(value) <= NOTE_MAX_CHARS),
    "series": (f"one of {list(NAME_SERIES)}", lambda value: value in NAME_SERIES),
    "family": (f"one of {list(MODEL_FAMILIES)}", lambda value: value in MODEL_FAMILIES),
    "preset": ("text or null", optional(is_text)),
    "break_it": ("text or null", optional(is_text)),
    "number": ("a whole number >= 1", lambda value: is_count(value) and value >= 1),
}, required=("series", "family", "number"))

# The small files that say what a run is; `Run.status()` reads them all on every call.
OBJECT_FILES = (CONFIG, STATUS, CHECKPOINT, MODEL_CONFIG)


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise DamagedRunFile(path.name, "is a link to another file; links in the runs folder are not followed")


def read_run_bytes(path: Path | str) -> bytes | None:
    """The bytes of a run file, or None when it does not exist; DamagedRunFile when it cannot be read."""
    path = Path(path)
    _refuse_link(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise DamagedRunFile(path.name, "expected a file, received a folder") from None
    except OSError as error:
        raise DamagedRunFile(path.name, f"cannot be read ({error.strerror or type(error).__name__})") from None


def parse_json(data: bytes, file_name: str):
    """JSON from UTF-8 bytes; DamagedRunFile saying where the text stops being JSON."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DamagedRunFile(file_name, f"expected UTF-8 text, received the byte {data[error.start]:#04x} "
                                        f"at position {error.start}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DamagedRunFile(file_name, f"expected JSON, received text that is not: {error.msg} at line "
                                        f"{error.lineno} column {error.colno}") from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise DamagedRunFile(file_name, f"expected JSON, received {' '.join(str(error).split())[:80]}") from None
    except RecursionError:
        raise DamagedRunFile(file_name, "expected JSON, received lists or objects nested too deeply") from None


def read_json_object(path: Path | str, schema: JsonObjectSchema) -> dict | None:
    """The checked contents of a run's JSON file, or None when it does not exist.

    Raises:
        DamagedRunFile: the file cannot be read, is not JSON, or does not fit `schema`.
    """
    data = read_run_bytes(path)
    if data is None:
        return None
    return schema.check(parse_json(data, schema.file_name))


# The one value of a row that is a list: kl.jsonl's KL term per latent dimension.
LIST_KEYS = ("kl",)


def check_row(row, file_name: str) -> dict:
    """One line of a .jsonl file: an object with a whole-number step and numbers (`kl`: a list of them)."""
    if not isinstance(row, dict):
        raise DamagedRunFile(file_name, f"expected a JSON object, received {_json_kind(row)}")
    if not is_count(row.get("step")):
        raise DamagedRunFile(file_name, f"expected step to be a whole number >= 0, received {_shown(row.get('step'))}")
    for name, value in row.items():
        if name in LIST_KEYS:
            if not (isinstance(value, list) and all(is_number(item) for item in value)):
                raise DamagedRunFile(file_name, f"expected {name} to be a list of numbers, received {_shown(value)}")
        elif not is_number(value):
            raise DamagedRunFile(file_name, f"expected {name} to be a number, received {_shown(value)}")
    return row


def read_json_lines(path: Path | str) -> tuple[list[dict], str | None]:
    """The sound rows of a .jsonl file, and one line naming the first damaged one (None if none).

    A last line without its newline is being written right now (or was cut by a crash that
    resume truncates): it is used when whole, and skipped silently when not.
    """
    path = Path(path)
    try:
        data = read_run_bytes(path)
    except DamagedRunFile as error:
        return [], str(error)
    if data is None:
        return [], None
    lines = data.split(b"\n")
    unfinished = lines.pop()
    rows, problem = [], None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(check_row(parse_json(line, path.name), path.name))
        except DamagedRunFile as error:
            problem = problem or f"{path.name} line {number}: {error.problem}"
    if unfinished.strip():
        try:
            rows.append(check_row(parse_json(unfinished, path.name), path.name))
        except DamagedRunFile:
            pass
    return rows, problem


def read_snapshot(path: Path | str) -> np.ndarray:
    """A snapshot grid's images (N, H, W) or (N, H, W, 1) as float32; DamagedRunFile otherwise."""
    path = Path(path)
    data = read_run_bytes(path)
    if data is None:
        raise DamagedRunFile(path.name, "was deleted while being read")
    try:
        images = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, TypeError) as error:
        raise DamagedRunFile(path.name, f"expected a NumPy array, received a file that is not one "
                                        f"({' '.join(str(error).split())[:80]})") from None
    if not isinstance(images, np.ndarray) or not np.issubdtype(images.dtype, np.number) \
            or images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 1) or 0 in images.shape:
        raise DamagedRunFile(path.name, f"expected images of shape (N, H, W), received an array of shape "
                                        f"{getattr(images, 'shape', None)} and type {getattr(images, 'dtype', None)}")
    return images.astype(np.float32)


def is_own_file(path: Path | str) -> bool:
    """True for a regular file that is not a link: the only kind a run's page offers to download."""
    path = Path(path)
    return not path.is_symlink() and path.is_file()
