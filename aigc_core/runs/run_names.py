"""A run's name and note: what people call a run instead of its timestamp id.

    runs/<run_id>/name.json   {"series": "preset", "family": "gan", "preset": "fast",
                               "break_it": null, "number": 3, "name": null, "note": ""}

A run gets a generated name when it is created, from what it is: "GAN (fast) #3", a "break
it on purpose" run "GAN: learning rate x10, Adam momentum 0.9 #2", one half of a twin "Twin
race GAN #1". The number counts the runs of the same series in the store, so that two runs of
one kind can be told apart. The generated name is kept as its parts, not as English text: the
UI words it in the session's language (the templates are marked with `N_`). Its owner, or the
operator, may give it a name of their own and a note; those are kept as typed (cleaned of
control characters and held to a length).

A missing or damaged name.json never stops a page: the run is then named from its config and
its id ("GAN (fast) · 20261205-...").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

from aigc_core.messages import N_
from aigc_core.runs.ownership import Requester, check_control
from aigc_core.runs.run_files import (
    MODEL_FAMILIES, NAME_MAX_CHARS, NOTE_MAX_CHARS, RUN_NAME, DamagedRunFile, read_json_object,
)
from aigc_core.runs.store import RUN_ID_PATTERN, Run, RunStore, write_json_atomic

NAME_FILE = RUN_NAME.file_name
# What a series is called; `{model}` is GAN or VAE, `{preset}` the preset's translated word.
SERIES_TITLES = {"preset": N_("{model} ({preset})"), "break_it": "{break_it}", "twin": N_("Twin race {model}")}
NUMBERED = N_("{title} #{number}")
# A run whose name file is missing or damaged: its series and its id, which is unique.
UNNUMBERED = N_("{title} · {run_id}")
UNKNOWN_RUN = N_("Run")
# The presets' words (the same msgids the Train page's preset picker uses).
PRESET_WORDS = {"fast": N_("fast"), "paper": N_("paper"), "conditional": N_("conditional"), "large": N_("large"),
                "wgan-gp": "WGAN-GP", "map": N_("2-D map")}
# A family that is a word, not an acronym upper-cased ("GAN", "VAE").
FAMILY_WORDS = {"diffusion": N_("Diffusion")}
_WHITESPACE = re.compile(r"\s+")


def _unchanged(text: str) -> str:
    return text


@dataclass(frozen=True)
class RunName:
    """A run's generated name (its parts), the name its owner gave it, if any, and its note."""

    run_id: str
    series: str | None
    family: str | None
    preset: str | None = None
    break_it: str | None = None
    number: int | None = None
    custom: str | None = None
    note: str = ""

    def generated(self, translate: Callable[[str], str] = _unchanged) -> str:
        """The generated name, worded by `translate` (the UI's `_`; English when left out)."""
        model = translate(FAMILY_WORDS[self.family]) if self.family in FAMILY_WORDS else (self.family or "?").upper()
        if self.series in SERIES_TITLES:
            preset = self.preset or "?"
            title = translate(SERIES_TITLES[self.series]).format(
                model=model, preset=translate(PRESET_WORDS[preset]) if preset in PRESET_WORDS else preset,
                break_it=translate(self.break_it or "?"))
        else:
            title = translate(UNKNOWN_RUN)
        if self.number is None:
            return translate(UNNUMBERED).format(title=title, run_id=self.run_id)
        return translate(NUMBERED).format(title=title, number=self.number)

    def text(self, translate: Callable[[str], str] = _unchanged) -> str:
        """What the run is called: its own name when it has one, else the generated one."""
        return self.custom or self.generated(translate)


def clean_name(text) -> str:
    """A name on one line: control characters dropped, runs of spaces made one, ends trimmed.

    Raises:
        ValueError: not text, or longer than `NAME_MAX_CHARS` once cleaned.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected the name to be text, received {type(text).__name__}")
    cleaned = _WHITESPACE.sub(" ", _drop_controls(text, keep="")).strip()
    if len(cleaned) > NAME_MAX_CHARS:
        raise ValueError(f"expected a name of at most {NAME_MAX_CHARS} characters, received {len(cleaned)}")
    return cleaned


def clean_note(text) -> str:
    """A note: line breaks kept (as \\n), other control characters dropped, ends trimmed.

    Raises:
        ValueError: not text, or longer than `NOTE_MAX_CHARS` once cleaned.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected the note to be text, received {type(text).__name__}")
    cleaned = _drop_controls(text.replace("\r\n", "\n").replace("\r", "\n"), keep="\n").strip()
    if len(cleaned) > NOTE_MAX_CHARS:
        raise ValueError(f"expected a note of at most {NOTE_MAX_CHARS} characters, received {len(cleaned)}")
    return cleaned


def _drop_controls(text: str, keep: str) -> str:
    """Without control and format characters (Cc, Cf: a right-to-left override could make a name
    read backwards) and line separators; a tab or a line break becomes a space unless kept."""
    kept = []
    for character in text:
        if character in keep:
            kept.append(character)
        elif character in "\t\n\v\f\u2028\u2029\x85":
            kept.append(" ")
        elif unicodedata.category(character) not in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            kept.append(character)
    return "".join(kept)


def series_of(config: dict, twin: bool = False) -> dict:
    """The parts of a generated name that say what kind of run `config` makes (no number yet)."""
    family = config.get("model") if config.get("model") in MODEL_FAMILIES else "gan"
    if twin:
        return {"series": "twin", "family": family, "preset": None, "break_it": None}
    if config.get("break_it"):
        return {"series": "break_it", "family": family, "preset": None, "break_it": str(config["break_it"])}
    return {"series": "preset", "family": family, "preset": str(config.get("preset") or "?"), "break_it": None}


def _read_record(run: Run) -> dict | None:
    """name.json's checked contents, or None when it is missing or damaged."""
    try:
        return read_json_object(run.path / NAME_FILE, RUN_NAME)
    except DamagedRunFile:
        return None


def next_number(store: RunStore, series: dict, exclude: str | None = None) -> int:
    """One more than the highest number of `series` in the store (1 for its first run)."""
    highest = 0
    if store.root.is_dir():
        for path in store.root.iterdir():
            if path.name == exclude or path.is_symlink() or not RUN_ID_PATTERN.fullmatch(path.name):
                continue
            record = _read_record(Run(path))
            if record and all(record.get(key) == value for key, value in series.items()):
                highest = max(highest, record["number"])
    return highest + 1


def write_generated_name(run: Run, store: RunStore, config: dict, twin: bool = False) -> dict:
    """Give a new run its generated name (a twin's half is renamed once the pair is known).

    Returns:
        The record written to name.json.
    """
    series = series_of(config, twin=twin)
    record = {**series, "number": next_number(store, series, exclude=run.run_id), "name": None, "note": ""}
    write_json_atomic(run.path / NAME_FILE, record)
    return record


def read_run_name(run: Run) -> RunName:
    """The run's name and note; from its config and id when name.json is missing or damaged."""
    record = _read_record(run)
    if record is None:
        config = run.config()
        series = series_of(config) if config.get("model") in MODEL_FAMILIES else {"series": None, "family": None}
        return RunName(run.run_id, series["series"], series["family"], series.get("preset"), series.get("break_it"))
    custom = record.get("name")
    return RunName(run.run_id, record["series"], record["family"], record.get("preset"), record.get("break_it"),
                   record["number"], clean_name(custom) or None if custom else None, clean_note(record.get("note", "")))


def rename_run(run: Run, requester: Requester, name: str, note: str | None = None) -> RunName:
    """Give a run its own name (an empty one brings the generated name back) and, when given, a note.

    Raises:
        NotOwner: another browser's run (the same rule as stop and delete).
        ValueError: a name or note too long once cleaned.
        OSError: the runs folder cannot be written.
    """
    check_control(run, requester, "rename")
    name = clean_name(name)
    note = clean_note(note) if note is not None else None
    current = read_run_name(run)
    if current.number is None:  # name.json was missing or damaged: number the run now
        series = series_of(run.config())
        record = {**series, "number": next_number(RunStore(run.path.parent), series, exclude=run.run_id)}
    else:
        record = {"series": current.series, "family": current.family, "preset": current.preset,
                  "break_it": current.break_it, "number": current.number}
    record.update(name=name or None, note=current.note if note is None else note)
    write_json_atomic(run.path / NAME_FILE, record)
    return read_run_name(run)


def run_name_text(run: Run, translate: Callable[[str], str] = _unchanged) -> str:
    """What a run is called, worded by `translate`: the one call every list of runs makes."""
    return read_run_name(run).text(translate)
