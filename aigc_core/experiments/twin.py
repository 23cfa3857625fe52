"""Twin runs (races): a GAN and a VAE, or a GAN, a VAE and a diffusion model, trained on one
budget, one seed and one data stream, then raced.

A race is two or three ordinary runs (gan-fast, vae-fast and, in the three-way race,
diffusion-fast) launched together through the worker queue. All get the same seed, the same
budget (steps or minutes) and the same batch size, so that "after n images" means the same
thing for each. Each run's folder holds a `twin.json` naming the race and every member's run
id: the race can be found again from any member, and deleting one run leaves no dangling index
elsewhere. Races recorded before the third family (two members) read as they always did.

The timeline helpers put every member on one clock: elapsed seconds (read off the metric rows,
as `aigc_core.experiments.animation` does for the twin GIF) or images seen (step x batch size).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from aigc_core.experiments.animation import latest_at, snapshot_times
from aigc_core.config import TrainingConfig, validate
from aigc_core.runs.ownership import OPERATOR, Requester
from aigc_core.models.registry import get_variant
from aigc_core.runs.store import Run, RunStore, read_json, validate_run_id, write_json_atomic
from aigc_core.runs.run_names import write_generated_name

TWIN_FILE = "twin.json"
# Each family's preset in a race, in the order members are shown (and recorded).
TWIN_PRESETS = {"gan": "fast", "vae": "fast", "diffusion": "fast"}
# The races on offer: the classic pair (the default) and the three-way race with diffusion.
RACES = (("gan", "vae"), ("gan", "vae", "diffusion"))
DEFAULT_RACE = RACES[0]
BUDGET_KINDS = ("steps", "minutes")
AXES = ("seconds", "images")
# Both twins train on batches of this size unless told otherwise: the GAN preset's own size,
# so the GAN trains exactly as its preset says and the VAE sees the same images per step.
DEFAULT_BATCH_SIZE = get_variant("gan", "fast").batch_size


@dataclass(frozen=True)
class Twin:
    """A race as recorded in `twin.json`: its id and its members, (family, run) in race order."""

    twin_id: str
    members: tuple[tuple[str, Run], ...]
    seed: int
    budget_kind: str
    budget_value: float
    created_at: float

    @property
    def runs(self) -> tuple[Run, ...]:
        return tuple(run for _family, run in self.members)

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(family for family, _run in self.members)

    def member(self, family: str) -> Run | None:
        """The member run of `family`, or None when the race has none."""
        return dict(self.members).get(family)

    @property
    def gan(self) -> Run | None:
        return self.member("gan")

    @property
    def vae(self) -> Run | None:
        return self.member("vae")

    @property
    def url_value(self) -> str:
        """What `?twin=` holds: the twin id (the members' run ids, comma-separated, are accepted too)."""
        return self.twin_id

    def label(self) -> str:
        budget = f"{self.budget_value:g} {self.budget_kind}"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created_at)) if self.created_at else "?"
        return f"{when} · seed {self.seed} · {budget}"


def new_twin_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-twin-{secrets.token_hex(3)}"


def check_race(families) -> tuple[str, ...]:
    """`families` as one of `RACES`, or a one-line ValueError."""
    families = tuple(families)
    if families not in RACES:
        raise ValueError(f"Expected families to be one of {RACES}. Received: families={families!r}")
    return families


def twin_configs(seed: int, budget_kind: str, budget_value: float, batch_size: int | None = None,
                 families=DEFAULT_RACE, **config_fields) -> tuple[TrainingConfig, ...]:
    """The validated configs of a race's members: same seed, budget, batch size and data.

    Args:
        seed: the seed of every run (weights, data order and the fixed snapshot batch).
        budget_kind: "steps" or "minutes".
        budget_value: how many steps, or how many minutes of training each run gets.
        batch_size: images per step for every run; default `DEFAULT_BATCH_SIZE`.
        families: one of `RACES`: ("gan", "vae") by default, ("gan", "vae", "diffusion") for three.
        **config_fields: any other `TrainingConfig` field, for every member (e.g. `train_limit`).

    Returns:
        One config per family, in the order of `families`.

    Raises:
        ValueError: one line, for a bad budget kind, an unknown race or a value `validate()` refuses.
    """
    families = check_race(families)
    if budget_kind not in BUDGET_KINDS:
        raise ValueError(f"Expected budget_kind to be one of {BUDGET_KINDS}. Received: budget_kind={budget_kind!r}")
    budget = {"steps": budget_value} if budget_kind == "steps" else {"minutes": budget_value}
    batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
    configs = tuple(
        validate(TrainingConfig(model=family, preset=TWIN_PRESETS[family], seed=seed, batch_size=batch_size,
                                **budget, **config_fields))
        for family in families
    )
    return configs


def launch_twin(seed: int, budget_kind: str, budget_value: float, store: RunStore | None = None,
                batch_size: int | None = None, requester: Requester = OPERATOR, families=DEFAULT_RACE,
                **config_fields) -> tuple[Run, ...]:
    """Queue one run per family on the same budget and record them as a race; returns at once.

    The worker queue trains them one after the other (`$AIGC_MAX_CONCURRENT` = 1, the default
    on a CPU) or side by side; their clocks count training time only, so waiting in the queue
    does not handicap the later ones.

    Returns:
        The runs in the order of `families` ((gan_run, vae_run) by default), all queued, each
        with a `twin.json`.

    Raises:
        ValueError: a config `validate()` refuses, an unknown race, or the requester's caps leave
            no room for every member (nothing is launched then).
        OSError: the runs folder cannot be written; the members already launched are stopped.
    """
    from aigc_core.runs.worker import launch_together  # imports the training stack: only when launching

    store = store or RunStore()
    configs = twin_configs(seed, budget_kind, budget_value, batch_size, families, **config_fields)
    runs = launch_together(configs, store, requester, race=True)  # one start, admitted whole or not at all
    write_twin_record(runs, seed, budget_kind, budget_value, configs[0].batch_size)
    return tuple(runs)


def write_twin_record(runs, seed: int, budget_kind: str, budget_value: float,
                      batch_size: int | None, **extra) -> str:
    """Make two or more runs (one per family) a race: the same `twin.json` in every folder.

    Returns the new twin id. `extra` fields are stored as they are (a replayed twin names its
    recording there).

    Raises:
        ValueError: fewer than two runs, or two runs of one family.
    """
    runs = list(runs)
    families = [str(run.config().get("model")) for run in runs]
    if len(runs) < 2 or len(set(families)) != len(families):
        raise ValueError(f"Expected two or more runs of different families. Received: families={families}")
    record = {
        "twin_id": new_twin_id(),
        "runs": dict(zip(families, (run.run_id for run in runs))),
        "run_ids": [run.run_id for run in runs],
        "seed": int(seed),
        "budget": {"kind": budget_kind, "value": budget_value},
        "batch_size": batch_size,
        "created_at": time.time(),
        **extra,
    }
    for run in runs:
        write_json_atomic(run.path / TWIN_FILE, record)
        write_generated_name(run, RunStore(run.path.parent), run.config(), twin=True)
    return record["twin_id"]


def read_twin(run: Run, store: RunStore | None = None) -> Twin | None:
    """The race a run belongs to, or None (no or unreadable `twin.json`, or a member is gone).

    Members come in race order (GAN, VAE, diffusion) whatever order the record lists them in;
    a family this version does not know makes the record unreadable rather than half-shown.
    """
    record = read_json(run.path / TWIN_FILE)
    if not isinstance(record, dict) or not isinstance(record.get("runs"), dict):
        return None
    store = store or RunStore(run.path.parent)
    named = record["runs"]
    if len(named) < 2 or any(family not in TWIN_PRESETS for family in named):
        return None
    try:
        twin_id = validate_run_id(record.get("twin_id"))
        members = tuple((family, store.get(named[family])) for family in TWIN_PRESETS if family in named)
    except (ValueError, TypeError):
        return None
    budget = record.get("budget") if isinstance(record.get("budget"), dict) else {}
    return Twin(twin_id, members, int(record.get("seed", 0)), str(budget.get("kind", "?")),
                float(budget.get("value", 0) or 0), float(record.get("created_at", 0) or 0))


def find_twins(store: RunStore | None = None) -> list[Twin]:
    """Every complete race in the store, newest first (one entry per race)."""
    store = store or RunStore()
    twins: dict[str, Twin] = {}
    for run in store.list():
        if (run.path / TWIN_FILE).exists():
            twin = read_twin(run, store)
            if twin is not None:
                twins.setdefault(twin.twin_id, twin)
    return sorted(twins.values(), key=lambda twin: twin.created_at, reverse=True)


def find_twin(value: str | None, store: RunStore | None = None) -> Twin | None:
    """The race a URL names: its twin id, or its members' run ids in race order, comma-separated
    ("gan id,vae id"). None for anything unknown or malformed."""
    if not isinstance(value, str) or not value:
        return None
    twins = find_twins(store)
    if "," in value:
        ids = tuple(part.strip() for part in value.split(","))
        return next((twin for twin in twins if tuple(run.run_id for run in twin.runs) == ids), None)
    return next((twin for twin in twins if twin.twin_id == value), None)


# -- one clock for both runs ---------------------------------------------------------------
def timed_snapshots(run: Run, axis: str = "seconds") -> list[tuple[float, int, object]]:
    """(moment, step, snapshot path) of every snapshot, oldest first, on the chosen axis.

    Args:
        axis: "seconds" (training time, interpolated from the metric rows) or "images"
            (images seen: step x the run's batch size).

    Raises:
        ValueError: for an unknown axis, or a run without snapshots.
    """
    if axis not in AXES:
        raise ValueError(f"Expected axis to be one of {AXES}. Received: axis={axis!r}")
    timed = snapshot_times(run)
    if axis == "seconds":
        return timed
    batch_size = int(run.config().get("batch_size") or 1)
    return [(float(step * batch_size), step, path) for _, step, path in timed]


# The twin race picks frames exactly as the twin GIF does.
snapshot_at = latest_at


def twin_moments(twin: Twin, axis: str = "seconds") -> list[float]:
    """The union of every member's snapshot moments: the stops of a slider over the race.

    Runs without snapshots yet add nothing; an empty list means none has one.
    """
    moments = set()
    for run in twin.runs:
        if run.snapshots():
            moments.update(moment for moment, _, _ in timed_snapshots(run, axis))
    return sorted(moments)


def rows_on_clock(run: Run, rows: list, axis: str = "seconds") -> list[tuple[float, dict]]:
    """(moment, row) of logged rows (metrics or quality) on the race's clock, oldest first.

    Rows without a numeric step (or, on the seconds clock, without `elapsed_s`) are skipped.

    Raises:
        ValueError: for an unknown axis.
    """
    if axis not in AXES:
        raise ValueError(f"Expected axis to be one of {AXES}. Received: axis={axis!r}")
    batch_size = int(run.config().get("batch_size") or 1)
    timed = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("step"), (int, float)):
            continue
        if axis == "images":
            timed.append((float(row["step"] * batch_size), row))
        elif isinstance(row.get("elapsed_s"), (int, float)):
            timed.append((float(row["elapsed_s"]), row))
    return sorted(timed, key=lambda pair: pair[0])


@dataclass(frozen=True)
class RaceVerdict:
    """Who leads a race at one moment, by the live FID each member had measured by then."""

    leader: str | None  # a family; None until every member is measured, or when the best are level
    fid: dict  # family -> the latest FID at or before the moment, or None
    ranking: tuple[str, ...] = ()  # the measured families, best (lowest FID) first
    level: tuple[str, ...] = ()  # once all are measured: the families within TIE_SHARE of the best


# Live FID from ~1,000 samples wobbles by a few percent between snapshots: closer than this is a tie.
TIE_SHARE = 0.05


def race_verdict(twin: Twin, moment: float, axis: str = "seconds") -> RaceVerdict:
    """The verdict at `moment`: every member's latest live FID by then, ranked, the lowest leads.

    A member is never judged on a score it measured later than `moment`. Nobody leads until
    every member has a score (an unmeasured one might be ahead), nor while the runner-up is
    within `TIE_SHARE` of the best ("neck and neck").
    """
    fid = {}
    for family, run in twin.members:
        scored = [(when, row) for when, row in rows_on_clock(run, run.quality(), axis)
                  if isinstance(row.get("fid"), (int, float)) and when <= moment]
        fid[family] = float(scored[-1][1]["fid"]) if scored else None
    ranking = tuple(sorted((family for family in fid if fid[family] is not None), key=lambda family: fid[family]))
    if len(ranking) < len(fid):
        return RaceVerdict(None, fid, ranking)
    best = fid[ranking[0]]
    level = tuple(family for family in ranking if fid[family] - best <= TIE_SHARE * fid[family])
    return RaceVerdict(ranking[0] if len(level) == 1 else None, fid, ranking, level)
