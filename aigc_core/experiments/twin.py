"""Twin runs: a GAN and a VAE trained on one budget, one seed and one data stream, then raced.

A twin is two ordinary runs (gan-fast and vae-fast) launched together through the worker
queue. Both get the same seed, the same budget (steps or minutes) and the same batch size, so
that "after n images" means the same thing for both. Each run's folder holds a `twin.json`
naming the twin and both run ids: the pair can be found again from either run, and deleting
one run leaves no dangling index elsewhere.

The timeline helpers put both runs on one clock: elapsed seconds (read off the metric rows,
as `aigc_core.experiments.animation` does for the twin GIF) or images seen (step x batch size).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from aigc_core.experiments.animation import latest_at, snapshot_times
from aigc_core.config import TrainingConfig, validate
from aigc_core.runs.ownership import OPERATOR, Requester, check_queue_caps
from aigc_core.models.registry import get_variant
from aigc_core.runs.store import Run, RunStore, read_json, validate_run_id, write_json_atomic
from aigc_core.runs.run_names import write_generated_name

TWIN_FILE = "twin.json"
TWIN_PRESETS = (("gan", "fast"), ("vae", "fast"))
BUDGET_KINDS = ("steps", "minutes")
AXES = ("seconds", "images")
# Both twins train on batches of this size unless told otherwise: the GAN preset's own size,
# so the GAN trains exactly as its preset says and the VAE sees the same images per step.
DEFAULT_BATCH_SIZE = get_variant("gan", "fast").batch_size


@dataclass(frozen=True)
class Twin:
    """A twin pair as recorded in `twin.json`: its id and its GAN and VAE runs."""

    twin_id: str
    gan: Run
    vae: Run
    seed: int
    budget_kind: str
    budget_value: float
    created_at: float

    @property
    def runs(self) -> tuple[Run, Run]:
        return self.gan, self.vae

    @property
    def url_value(self) -> str:
        """What `?twin=` holds: the twin id (a pair "gan id,vae id" is accepted too)."""
        return self.twin_id

    def label(self) -> str:
        budget = f"{self.budget_value:g} {self.budget_kind}"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created_at)) if self.created_at else "?"
        return f"{when} · seed {self.seed} · {budget}"


def new_twin_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-twin-{secrets.token_hex(3)}"


def twin_configs(seed: int, budget_kind: str, budget_value: float, batch_size: int | None = None,
                 **config_fields) -> tuple[TrainingConfig, TrainingConfig]:
    """The validated GAN and VAE configs of a twin: same seed, budget, batch size and data.

    Args:
        seed: the seed of both runs (weights, data order and the fixed snapshot batch).
        budget_kind: "steps" or "minutes".
        budget_value: how many steps, or how many minutes of training each run gets.
        batch_size: images per step for both runs; default `DEFAULT_BATCH_SIZE`.
        **config_fields: any other `TrainingConfig` field, for both (e.g. `train_limit`).

    Raises:
        ValueError: one line, for a bad budget kind or a value `validate()` refuses.
    """
    if budget_kind not in BUDGET_KINDS:
        raise ValueError(f"Expected budget_kind to be one of {BUDGET_KINDS}. Received: budget_kind={budget_kind!r}")
    budget = {"steps": budget_value} if budget_kind == "steps" else {"minutes": budget_value}
    batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
    configs = tuple(
        validate(TrainingConfig(model=family, preset=preset, seed=seed, batch_size=batch_size,
                                **budget, **config_fields))
        for family, preset in TWIN_PRESETS
    )
    return configs


def launch_twin(seed: int, budget_kind: str, budget_value: float, store: RunStore | None = None,
                batch_size: int | None = None, requester: Requester = OPERATOR, **config_fields) -> tuple[Run, Run]:
    """Queue a GAN and a VAE run on the same budget and record them as a twin; returns at once.

    The worker queue trains them one after the other (`$AIGC_MAX_CONCURRENT` = 1, the default
    on a CPU) or side by side; their clocks count training time only, so waiting in the queue
    does not handicap the second one.

    Returns:
        (gan_run, vae_run), both queued, each with a `twin.json`.

    Raises:
        ValueError: a config `validate()` refuses, or the requester's caps leave no room for two
            runs (nothing is launched then).
        OSError: the runs folder cannot be written; the GAN run is stopped if the VAE fails.
    """
    from aigc_core.runs.worker import launch  # imports the training stack: only when launching

    store = store or RunStore()
    gan_config, vae_config = twin_configs(seed, budget_kind, budget_value, batch_size, **config_fields)
    check_queue_caps(requester, store, needed=2)
    gan_run = launch(gan_config, store, requester)
    try:
        vae_run = launch(vae_config, store, requester)
    except BaseException:
        gan_run.request_stop()  # half a twin races nobody
        raise
    write_twin_record(gan_run, vae_run, seed, budget_kind, budget_value, gan_config.batch_size)
    return gan_run, vae_run


def write_twin_record(gan_run: Run, vae_run: Run, seed: int, budget_kind: str, budget_value: float,
                      batch_size: int | None, **extra) -> str:
    """Make two runs a twin: the same `twin.json` in both folders. Returns the new twin id.

    `extra` fields are stored as they are (a replayed twin names its recording there).
    """
    record = {
        "twin_id": new_twin_id(),
        "runs": {"gan": gan_run.run_id, "vae": vae_run.run_id},
        "run_ids": [gan_run.run_id, vae_run.run_id],
        "seed": int(seed),
        "budget": {"kind": budget_kind, "value": budget_value},
        "batch_size": batch_size,
        "created_at": time.time(),
        **extra,
    }
    for run in (gan_run, vae_run):
        write_json_atomic(run.path / TWIN_FILE, record)
        write_generated_name(run, RunStore(run.path.parent), run.config(), twin=True)
    return record["twin_id"]


def read_twin(run: Run, store: RunStore | None = None) -> Twin | None:
    """The twin a run belongs to, or None (no or unreadable `twin.json`, or its partner is gone)."""
    record = read_json(run.path / TWIN_FILE)
    if not isinstance(record, dict) or not isinstance(record.get("runs"), dict):
        return None
    store = store or RunStore(run.path.parent)
    try:
        twin_id = validate_run_id(record.get("twin_id"))
        gan, vae = (store.get(record["runs"].get(family)) for family in ("gan", "vae"))
    except (ValueError, TypeError):
        return None
    budget = record.get("budget") if isinstance(record.get("budget"), dict) else {}
    return Twin(twin_id, gan, vae, int(record.get("seed", 0)), str(budget.get("kind", "?")),
                float(budget.get("value", 0) or 0), float(record.get("created_at", 0) or 0))


def find_twins(store: RunStore | None = None) -> list[Twin]:
    """Every complete twin in the store, newest first (one entry per pair)."""
    store = store or RunStore()
    twins: dict[str, Twin] = {}
    for run in store.list():
        if (run.path / TWIN_FILE).exists():
            twin = read_twin(run, store)
            if twin is not None:
                twins.setdefault(twin.twin_id, twin)
    return sorted(twins.values(), key=lambda twin: twin.created_at, reverse=True)


def find_twin(value: str | None, store: RunStore | None = None) -> Twin | None:
    """The twin a URL names: its twin id, or "gan id,vae id". None for anything unknown or malformed."""
    if not isinstance(value, str) or not value:
        return None
    twins = find_twins(store)
    if "," in value:
        pair = tuple(part.strip() for part in value.split(",", 1))
        return next((twin for twin in twins if (twin.gan.run_id, twin.vae.run_id) == pair), None)
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
    """The union of both runs' snapshot moments: the stops of a slider over the race.

    Runs without snapshots yet add nothing; an empty list means neither has one.
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
    """Who leads a twin race at one moment, by the live FID each side had measured by then."""

    leader: str | None  # "gan" or "vae"; None when neither or only one is measured, or they are level
    fid: dict  # "gan"/"vae" -> the latest FID at or before the moment, or None


# Live FID from ~1,000 samples wobbles by a few percent between snapshots: closer than this is a tie.
TIE_SHARE = 0.05


def race_verdict(twin: Twin, moment: float, axis: str = "seconds") -> RaceVerdict:
    """The verdict at `moment`: each side's latest live FID by then, and the lower one leads.

    A side is never judged on a score it measured later than `moment`.
    """
    fid = {}
    for family, run in zip(("gan", "vae"), twin.runs):
        scored = [(when, row) for when, row in rows_on_clock(run, run.quality(), axis)
                  if isinstance(row.get("fid"), (int, float)) and when <= moment]
        fid[family] = float(scored[-1][1]["fid"]) if scored else None
    if fid["gan"] is None or fid["vae"] is None:
        return RaceVerdict(None, fid)
    if abs(fid["gan"] - fid["vae"]) <= TIE_SHARE * max(fid["gan"], fid["vae"]):
        return RaceVerdict(None, fid)
    return RaceVerdict("gan" if fid["gan"] < fid["vae"] else "vae", fid)
