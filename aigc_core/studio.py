"""The one door both faces use: the Streamlit pages (ui/, pages/) and the command line (cli.py).

Everything the faces do with runs and models goes through these thin functions: launch, stop,
pause/step/speed, resume, delete, list and read runs, model sources, sampling, evaluation,
twin runs, replays, housekeeping and who may control a run. Why one door: the faces then hold
no file paths, locks or processes, a config is validated once (here, at launch), and the engine
under the door (worker processes today) can change without touching a page.

Runs cross the door as `Run` handles (read-only accessors over one run folder: status,
metrics, snapshots, quality), requesters as `Requester`, configs as `TrainingConfig`; the run
store itself (`RunStore`) stays behind it. Every function that takes `store` defaults to the
runs folder of `$AIGC_RUNS_DIR`; the faces never pass one.

The training stack (TensorFlow, Keras) is imported inside the functions that need it, so the
pages and `--help` stay fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aigc_core import sources
from aigc_core.runs import evaluate_process, housekeeping, ownership, replay, run_control, run_files, worker
from aigc_core.quality.classifier import train_command
from aigc_core.data import CLASS_NAMES, DATASET_NAMES, DATASET_TITLES, FETCH_COMMANDS, DatasetError, dataset_source
from aigc_core.devices import PRECISIONS, cpu_computes_bfloat16, enable_gpu_memory_growth
from aigc_core.quality.evaluation import DEFAULT_SAMPLES_PER_DIGIT, REAL_FLOOR, UNTRAINED_CEILING, dataset_of_weights
from aigc_core.limits import (
    MAX_SEED, labels_for, validate_extra_budget, validate_label, validate_sample_output, validate_sampling,
)
from aigc_core.runs.ownership import OPERATOR, NotOwner, Requester
from aigc_core.quality.live import QUALITY_SAMPLES_VARIABLE, scoring_unavailable_reason
from aigc_core.runs.replay import KL_FILENAME
from aigc_core.runs.run_files import MODEL_FAMILIES as FAMILIES, NAME_MAX_CHARS, NOTE_MAX_CHARS  # the faces read these limits here
from aigc_core.runs.store import ACTIVE_STATES, FINAL_STATES, Run, RunStore
from aigc_core.sources import Source

if TYPE_CHECKING:  # both import Keras (through the model registry): only when a function needs them
    from aigc_core.config import TrainingConfig
    from aigc_core.experiments.twin import Twin

# Plain data the faces draw with (names, titles, limits), passed through from the modules that own them.
__all__ = [
    "ACTIVE_STATES", "CLASS_NAMES", "DATASET_NAMES", "DATASET_TITLES", "DEFAULT_SAMPLES_PER_DIGIT", "DatasetError",
    "FAMILIES", "FETCH_COMMANDS", "FINAL_STATES", "KL_FILENAME", "MAX_SEED", "OPERATOR", "PRECISIONS",
    "QUALITY_SAMPLES_VARIABLE", "REAL_FLOOR", "UNTRAINED_CEILING", "NotOwner", "Requester", "Run", "Source",
    "bfloat16_default_variants", "cpu_computes_bfloat16", "dataset_of_weights", "dataset_source", "enable_gpu_memory_growth", "labels_for", "scoring_unavailable_reason",
    "train_command", "validate_extra_budget", "validate_label", "validate_sample_output", "validate_sampling",
]

TWIN_AXES = ("seconds", "images")  # aigc_core.experiments.twin.AXES, without importing the model registry
TWIN_FILE = "twin.json"  # aigc_core.experiments.twin.TWIN_FILE
TWIN_RACES = (("gan", "vae"), ("gan", "vae", "diffusion"))  # aigc_core.experiments.twin.RACES


def _store(store: RunStore | str | Path | None) -> RunStore:
    """`store` itself, a runs folder given by its path (the CLI's --runs-root), or `$AIGC_RUNS_DIR`'s."""
    if isinstance(store, RunStore):
        return store
    return RunStore(store) if store else RunStore()


# -- configs and launching -----------------------------------------------------------------


def bfloat16_default_variants() -> list[tuple[str, str]]:
    """(family, preset) of each variant a run trains in mixed bfloat16 when it names no precision,
    on a CPU that computes it (`Variant.prefers_bfloat16`): what the sidebar and the form say."""
    from aigc_core.models.registry import VARIANTS

    return [(variant.family, variant.preset) for variant in VARIANTS.values() if variant.prefers_bfloat16]


def check_config(config: TrainingConfig) -> TrainingConfig:
    """The config, checked and with its defaults filled in; a one-line ValueError for a bad one.

    The Train page asks this on every rerun to keep Start disabled while a setting is wrong.
    """
    from aigc_core.config import validate

    return validate(config)


def launch(config: TrainingConfig, requester: Requester = OPERATOR, store: RunStore | None = None) -> Run:
    """Validate the config (the one check of a launch), then queue the run in a worker process.

    Returns at once with the queued run; see `aigc_core.runs.worker.launch` for the caps and the
    disk check it applies.

    Raises:
        ValueError: a bad config, a cap reached, or too little disk space.
        OSError: the runs folder cannot be written; no half-made run is left behind.
    """
    check_config(config)
    return worker.launch(config, _store(store), requester)


def create_run(config: TrainingConfig, run_dir: str | Path | None = None, runs_root: str | Path | None = None) -> Run:
    """Validate the config and make its run folder (queued) for training in this process (the CLI).

    Args:
        run_dir: a new folder the user named; its parent is not pruned, only checked for space.
        runs_root: the runs folder to create it in (and prune) instead of `$AIGC_RUNS_DIR`.

    Raises:
        ValueError: a bad config, an existing `run_dir`, or too little disk space.
    """
    check_config(config)
    if run_dir is not None:
        run_dir = Path(run_dir).resolve()
        if run_dir.exists():
            raise ValueError(f"--run-dir {run_dir} already exists; choose a new directory or use resume")
        housekeeping.check_disk_space(run_dir.parent)
        return RunStore(run_dir.parent).create(config.to_dict(), run_id=run_dir.name)
    store = _store(runs_root)
    housekeeping.prepare_new_run(store)
    return store.create(config.to_dict())


def quiet_tensorflow() -> None:
    """Keep TensorFlow's start-up chatter out of a command's output (imports it)."""
    from aigc_core.runs.training import quiet_tensorflow as quiet

    quiet()


def train_here(run: Run, extra_steps: int | None = None, extra_minutes: float | None = None, progress=None) -> dict:
    """Train `run` in this process until its budget ends (the CLI's foreground training); the final status."""
    from aigc_core.runs.training import train_run

    quiet_tensorflow()
    return train_run(run, extra_steps=extra_steps, extra_minutes=extra_minutes, progress=progress)


def check_resumable_here(run: Run, extra_steps=None, extra_minutes=None) -> tuple[int | None, float | None]:
    """Refuse a foreground resume the worker would refuse; the checked extra budget.

    The run's recorded config must still fit this machine (e.g. its `devices`): refused here, the
    run keeps its state instead of being marked failed by a training that cannot start.

    Raises:
        ValueError: an active or damaged run, a bad budget, a config this machine refuses, or too
            little disk space.
    """
    status = run.status()
    state = status.get("state")
    if state in ACTIVE_STATES:
        raise ValueError(f"run {run.path} is still {state}; stop it first")
    if state == run_files.DAMAGED:
        raise ValueError(f"run {run.path} cannot be resumed: {status.get('error')}")
    budget = validate_extra_budget(extra_steps, extra_minutes, names=("--steps", "--minutes"))
    from aigc_core.config import TrainingConfig

    check_config(TrainingConfig.from_dict(run.config()))
    housekeeping.check_disk_space(run.path.parent)
    return budget


def resume(run: Run, extra_steps: int | None = None, extra_minutes: float | None = None,
           requester: Requester = OPERATOR) -> Run:
    """Queue a stopped, failed or interrupted run again in a worker; it continues from its checkpoint."""
    return worker.resume(run, extra_steps, extra_minutes, requester=requester)


def stop(run: Run, requester: Requester = OPERATOR) -> None:
    """Ask a run to stop (its owner or the operator only); the worker ends after the current step."""
    ownership.stop_run(run, requester)


def delete(run_id: str, requester: Requester = OPERATOR, store: RunStore | None = None) -> None:
    """Delete a run that is not active (its owner or the operator only)."""
    ownership.delete_run(_store(store), run_id, requester)


def queue_position(run: Run, store: RunStore | None = None) -> int:
    """How many queued runs were created before this one (0 = next to start)."""
    return worker.queue_position(run, _store(store) if store else RunStore(run.path.parent))


def running_count(except_run: Run | None = None, store: RunStore | None = None) -> int:
    """How many runs are training now (other than `except_run`)."""
    return sum(1 for other in _store(store).list()
               if (except_run is None or other.path != except_run.path) and other.status().get("state") == "running")


# -- pause, step, speed --------------------------------------------------------------------

SPEEDS = run_control.SPEEDS
SPEED_TITLES = run_control.SPEED_TITLES
DEFAULT_STEP_COUNT = run_control.DEFAULT_STEP_COUNT
MAX_STEP_COUNT = run_control.MAX_STEP_COUNT


def control(run: Run) -> dict:
    """The run's pause/step/speed request as the worker reads it (mode, steps, speed)."""
    return run_control.read_control(run)


def pause(run: Run) -> dict:
    """Ask the worker to hold after the current step."""
    return run_control.request_pause(run)


def unpause(run: Run) -> dict:
    """Let a paused run train on."""
    return run_control.request_resume(run)


def step(run: Run, steps: int) -> dict:
    """Train `steps` more steps, then hold again."""
    return run_control.request_steps(run, steps)


def set_speed(run: Run, speed: str) -> dict:
    """Full speed or slow motion (a name in `SPEEDS`)."""
    return run_control.set_speed(run, speed)


# -- reading runs --------------------------------------------------------------------------


def list_runs(store: RunStore | None = None) -> list[Run]:
    """All runs, newest first."""
    return _store(store).list()


def get_run(run_id: str, store: RunStore | None = None) -> Run:
    """The run with this id; ValueError for a malformed or unknown id."""
    return _store(store).get(run_id)


def open_run(path: str | Path) -> Run:
    """A run named by its folder (the CLI's `--run DIR`); ValueError when it is not a run folder."""
    return RunStore().open_path(path)


def runs_folder(store: RunStore | None = None) -> Path:
    """Where runs are kept (the CLI prints it; pages never show it)."""
    return _store(store).root


def check_run_id(run_id: str) -> str:
    """`run_id` when it is a well-formed id (e.g. from a URL); ValueError otherwise."""
    from aigc_core.runs.store import validate_run_id

    return validate_run_id(run_id)


def read_run_file(run: Run, name: str) -> bytes | None:
    """The bytes of one of the run's own files for a download; None when missing or a link."""
    path = run.path / name
    if not run_files.is_own_file(path):
        return None
    return run_files.read_run_bytes(path)


def run_exists(run: Run) -> bool:
    """False once the run's folder is gone (deleted from another tab or the CLI)."""
    return run.path.exists()


def run_version(run: Run) -> tuple:
    """What a run's live view is drawn from: changes exactly when its metrics, quality, KL history,
    snapshots or error change (each file's modification time and size), so views can be cached on it."""
    def signature(path: Path) -> tuple | None:
        try:
            info = path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    return (signature(run.metrics_path), signature(run.quality_path), signature(run.path / KL_FILENAME),
            signature(run.samples_dir), run.raw_status().get("error"))


def has_checkpoint(run: Run) -> bool:
    """True once the run has saved weights (a resume continues from them)."""
    return run.weights_path.exists()


def has_file(run: Run, name: str) -> bool:
    """True when the run has this file of its own (not a link planted in the runs folder)."""
    return run_files.is_own_file(run.path / name)


def run_source(run: Run) -> Source:
    """The run's checkpoint as a model source (its label the bare run id), whether or not it exists yet."""
    return Source(f"run:{run.run_id}", run.run_id, run.config().get("model", "gan"), run.model_config_path,
                  run.weights_path)


def kl_history(run: Run) -> list[dict]:
    """A VAE run's per-dimension KL rows, oldest first ([] for other runs)."""
    from aigc_core.runs.training import kl_history as read_kl_history

    return read_kl_history(run)


# -- model sources and sampling --------------------------------------------------------------


def list_sources(weights_dir: Path | None = None, store: RunStore | None = None) -> list[Source]:
    """Shipped weights first, then every run that has a checkpoint (newest first)."""
    return sources.list_sources(_store(store), *([weights_dir] if weights_dir is not None else []))


def resolve_source(key: str, weights_dir: Path | None = None, store: RunStore | None = None) -> Source:
    """The source behind a key ("weights:NAME", "run:ID"); ValueError for an unknown one."""
    return sources.resolve_source(key, _store(store), *([weights_dir] if weights_dir is not None else []))


def load_source(key: str, weights_dir: Path | None = None, store: RunStore | None = None):
    """The model behind a source key, built from its config and loaded with its weights."""
    return sources.load_source(key, _store(store), *([weights_dir] if weights_dir is not None else []))


def source_dataset(source: Source) -> str:
    """The dataset a source's model was trained on (its run's config.json or its weights' JSON).

    Raises:
        ValueError: when those files name a dataset this version does not know.
    """
    return dataset_of_weights(source.weights_path)


def source_run(source: Source) -> Run | None:
    """The run behind a source: its own run, or the run shipped weights name as `source_run`."""
    from aigc_core.files import read_json

    if source.key.startswith("run:"):
        run_id = source.key.split(":", 1)[1]
    else:
        run_id = (read_json(source.config_path) or {}).get("source_run")
    if not run_id:
        return None
    try:
        return RunStore().get(run_id)
    except ValueError:
        return None


def training_facts(source: Source) -> dict:
    """Steps, training seconds and loss rows of a source (rows None: no history available).

    A run reports its own status and metrics. Shipped weights carry `steps` and
    `training_seconds` in their JSON; their loss history exists only if the run that made
    them (`source_run`) is in the local run store, or a `<name>.history.jsonl` ships beside them.
    """
    from aigc_core.files import read_json

    run = source_run(source)
    if source.key.startswith("run:"):
        status = run.status() if run else {}
        return {"steps": status.get("step"), "seconds": status.get("elapsed_s"),
                "rows": run.metrics() if run else None}
    metadata = read_json(source.config_path) or {}
    history = source.weights_path.with_name(f"{source.key.split(':', 1)[1]}.history.jsonl")
    rows = Run.read_metrics_file(history) if history.exists() else (run.metrics() if run else None)
    return {"steps": metadata.get("steps"), "seconds": metadata.get("training_seconds"), "rows": rows}


def source_evaluation(source: Source) -> dict | None:
    """The measured sample quality of a source (`metrics.json` in a run's folder, or
    `weights/<name>.metrics.json` beside shipped weights); None when it was not evaluated."""
    from aigc_core.files import read_json

    if source.key.startswith("run:"):
        path = source.weights_path.parent / "metrics.json"
    else:
        path = source.weights_path.with_name(f"{source.key.split(':', 1)[1]}.metrics.json")
    metrics = read_json(path)
    return metrics if isinstance(metrics, dict) else None


def shipped_metrics(entry: dict) -> dict | None:
    """The sample quality recorded beside shipped weights (`<name>.metrics.json`), None without one."""
    from aigc_core.files import read_json

    metrics = read_json(Path(entry["weights_path"]).with_name(f"{entry['name']}.metrics.json"))
    return metrics if isinstance(metrics, dict) else None


def shipped_models(weights_dir: Path | None = None) -> list[dict]:
    """The shipped weights entries (name, family, description) of the weights folder."""
    from aigc_core.weights import shipped_weights

    return shipped_weights(*([weights_dir] if weights_dir is not None else []))


def default_weights_dir() -> Path:
    """The weights folder the library ships with."""
    from aigc_core.weights import WEIGHTS_DIR

    return WEIGHTS_DIR


def load_run_model(run: Run):
    """A run's model with its latest checkpoint; ValueError while it has none."""
    from aigc_core.runs.training import load_run_model as load

    if not run.weights_path.exists():
        raise ValueError(f"run {run.path} has no checkpoint yet (no model.weights.h5)")
    return load(run)


def load_weights_model(weights: str):
    """The model of a weights file (`*.weights.h5` beside its config) or of a shipped name."""
    from aigc_core.weights import config_path_for, find_shipped, load_model_from_files

    path = Path(weights)
    if path.suffix == ".h5" or path.exists():
        return load_model_from_files(config_path_for(path), path)
    entry = find_shipped(weights)
    return load_model_from_files(entry["config_path"], entry["weights_path"])


# -- evaluation --------------------------------------------------------------------------------

EVALUATION_TYPICAL_SECONDS = evaluate_process.TYPICAL_SECONDS


def start_evaluation(run: Run) -> None:
    """Measure a finished run's quality in a background process (written to its evaluation.json)."""
    evaluate_process.start_evaluation(run)


def evaluation_progress(run: Run) -> dict | None:
    """The background evaluation of a run: running or done, and its last line; None when never started."""
    return evaluate_process.evaluation_progress(run)


# -- twin runs and replays -----------------------------------------------------------------------

def launch_twin(seed: int, budget_kind: str, budget_value: float, requester: Requester = OPERATOR,
                store: RunStore | None = None, families=TWIN_RACES[0], **config_fields) -> tuple[Run, ...]:
    """Queue one run per family (GAN and VAE by default, one of `TWIN_RACES`) on the same budget as one
    race; returns the runs in race order (see `aigc_core.experiments.twin.launch_twin`)."""
    from aigc_core.experiments import twin

    return twin.launch_twin(seed, budget_kind, budget_value, _store(store), requester=requester, families=families,
                            **config_fields)


def find_twin(value: str | None, store: RunStore | None = None) -> Twin | None:
    """The twin named by a twin id or one of its run ids, or None."""
    from aigc_core.experiments import twin

    return twin.find_twin(value, _store(store))


def find_twins(store: RunStore | None = None) -> list[Twin]:
    """Every twin in the run store, newest first."""
    from aigc_core.experiments import twin

    return twin.find_twins(_store(store))


def read_twin(run: Run) -> Twin | None:
    """The twin a run belongs to, or None."""
    from aigc_core.experiments import twin

    return twin.read_twin(run, RunStore(run.path.parent))


def timed_snapshots(run: Run, axis: str = "seconds") -> list[tuple[float, int, object]]:
    """(moment on the axis, step, snapshot file) of each of a twin member's snapshots, oldest first."""
    from aigc_core.experiments import twin

    return twin.timed_snapshots(run, axis)


def snapshot_at(snapshots: list, moment: float):
    """The last of `timed_snapshots` taken at or before `moment` (the first one before any)."""
    from aigc_core.experiments import twin

    return twin.snapshot_at(snapshots, moment)


def twin_moments(found: Twin, axis: str = "seconds") -> list[float]:
    """The moments of a twin race's slider on an axis."""
    from aigc_core.experiments import twin

    return twin.twin_moments(found, axis)


def rows_on_clock(run: Run, rows: list, axis: str = "seconds") -> list[tuple[float, dict]]:
    """(moment, row) of a twin member's logged rows (metrics or quality) on the race's clock."""
    from aigc_core.experiments import twin

    return twin.rows_on_clock(run, rows, axis)


def race_verdict(found: Twin, moment: float, axis: str = "seconds"):
    """Who leads the twin race at `moment`: each side's latest live FID by then, the lower one."""
    from aigc_core.experiments import twin

    return twin.race_verdict(found, moment, axis)


REPLAY_SPEEDS = replay.SPEEDS


def list_recordings() -> list[str]:
    """The names of the recorded runs in the demo pack."""
    return replay.list_recordings()


def load_recording(name: str):
    """One recording of the demo pack (its title, note, config and files)."""
    return replay.load_recording(name)


def start_replay(name: str, speed: float = 1.0, requester: Requester = OPERATOR, store: RunStore | None = None) -> Run:
    """Replay a recording into a new run at `speed`; returns the queued replay run."""
    return replay.start_replay(name, speed, _store(store), owner=requester.owner)


def list_twin_recordings() -> list[str]:
    """The names of the recorded twin races in the demo pack."""
    return replay.list_twin_recordings(replay.DEMO_DIR)


def load_twin_recording(name: str):
    """One recorded twin race of the demo pack (its title, note, both configs); ValueError if unknown."""
    return replay.load_twin_recording(name, replay.DEMO_DIR)


def start_twin_replay(name: str, speed: float = 1.0, requester: Requester = OPERATOR,
                      store: RunStore | None = None) -> tuple[Run, Run]:
    """Replay a recorded twin race into two new runs at `speed`; returns (GAN run, VAE run) at once."""
    return replay.start_twin_replay(name, speed, _store(store), demo_dir=replay.DEMO_DIR, owner=requester.owner)


# -- the engine ----------------------------------------------------------------------------------
def executor_summary():
    """(name, capacity) of the executor new runs go to (`local` or `ray`); capacity None when unreachable.

    Raises:
        ValueError: `$AIGC_EXECUTOR` names no executor, or Ray is chosen but not installed.
    """
    from aigc_core.runs.executors import executor_summary as summary

    return summary()


def run_store(root: str | Path | None = None) -> RunStore:
    """The run store at `root` (the CLI's --runs-root), or the default one of `$AIGC_RUNS_DIR`."""
    return _store(root)


# -- run names -----------------------------------------------------------------------------------
def read_run_name(run: Run):
    """A run's name and note (`aigc_core.runs.run_names.RunName`): its own, or the generated one."""
    from aigc_core.runs import run_names

    return run_names.read_run_name(run)


def run_name_text(run: Run, translate=None) -> str:
    """A run's name as one line, worded by `translate` (the UI's `_`), in English without it."""
    from aigc_core.runs import run_names

    return run_names.run_name_text(run) if translate is None else run_names.run_name_text(run, translate)


def rename_run(run: Run, requester: Requester, name: str, note: str | None = None):
    """Give a run a name (empty: its generated one back) and a note; only its owner or the operator may."""
    from aigc_core.runs import run_names

    return run_names.rename_run(run, requester, name, note)


# -- housekeeping and ownership -------------------------------------------------------------------


def settle_after_restart(store: RunStore | None = None) -> int:
    """Settle the runs a previous server left behind; returns how many were queued again.

    Running runs whose worker is gone are recorded as failed; queued ones get a new worker.
    """
    requeued = housekeeping.reconcile(_store(store))
    for run in requeued:
        worker.spawn_worker(run)
    return len(requeued)


def describe_os_error(error: OSError) -> str:
    """One line for a failed write (a full disk, a read-only folder) without a server path."""
    return housekeeping.describe_os_error(error)


def visitor(identity: str, operator: bool = False, store: RunStore | None = None) -> Requester:
    """The requester for a browser's identity (hashed with the server's salt)."""
    return ownership.visitor(identity, _store(store), operator=operator)


def may_control(run: Run, requester: Requester) -> bool:
    """True when `requester` may stop, pause, resume or delete `run`."""
    return ownership.may_control(run, requester)


def write_failure(error: OSError) -> str:
    """A refused stop, resume or delete's write, in one line."""
    return ownership.write_failure(error)


# -- model variants and data (the registry imports Keras: asked only when called) ------------------


def presets_for(family: str) -> tuple[str, ...]:
    """The preset names of a model family, in the order the Train page lists them."""
    from aigc_core.models.registry import presets_for as presets

    return presets(family)


def get_variant(family: str, preset: str):
    """A family's preset (its description, batch size, model config); ValueError for an unknown one."""
    from aigc_core.models.registry import get_variant as variant

    return variant(family, preset)


def load_test_images(dataset: str, limit: int | None = None):
    """A dataset's test split (images as uint8, labels); DatasetError when its data cannot be read."""
    from aigc_core.data import load_images

    return load_images(dataset, "test", limit=limit)


def kl_test_images(dataset: str):
    """The fixed test batch a VAE's KL per latent dimension is measured on (the same as in training)."""
    from aigc_core.runs.training import kl_test_images as images

    return images(dataset)


def kl_image_count() -> int:
    """How many test images `kl_test_images` holds."""
    from aigc_core.runs.training import KL_IMAGES

    return KL_IMAGES


def conditional_agreement(model, samples_per_digit: int = DEFAULT_SAMPLES_PER_DIGIT, seed: int = 0) -> dict:
    """How often the classifier sees the digit a conditional model was asked for, per digit."""
    from aigc_core.quality.evaluation import conditional_agreement as agreement

    return agreement(model, samples_per_digit, seed)


def collapsed_dimension_nats() -> float:
    """Below this KL (nats) a VAE's latent dimension counts as collapsed."""
    from aigc_core.models.vae import COLLAPSED_DIMENSION_NATS

    return COLLAPSED_DIMENSION_NATS


# -- files the command line writes ---------------------------------------------------------------


def write_json(path: str | Path, data) -> None:
    """Write a report as JSON atomically: a reader never sees half of it."""
    from aigc_core.files import write_json_atomic

    write_json_atomic(Path(path), data)


def save_samples(images, out: str | Path) -> None:
    """Write sampled images to `out`: a .npy array of floats in [0, 1], or a .png grid; atomically."""
    import io

    import numpy as np

    from aigc_core.files import write_bytes_atomic
    from aigc_core.images import make_grid, png_bytes

    out = Path(out)
    if out.suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, images.astype(np.float32))
        write_bytes_atomic(out, buffer.getvalue())
    else:
        write_bytes_atomic(out, png_bytes(make_grid(images), scale=2))


# -- evaluation of a run or weights (the CLI's `evaluate`) -------------------------------------------


def evaluation_limits() -> int:
    """The most samples one evaluation may draw."""
    from aigc_core.quality.evaluation import MAX_NUM_SAMPLES

    return MAX_NUM_SAMPLES


def evaluate(run: Run | None, weights: str | None, num_samples: int, seed: int, announce=None,
             sampling_steps: int | None = None) -> dict:
    """Measure FID, Inception Score and class coverage of a run's checkpoint or of weights.

    Args:
        run: the run to measure; else `weights`, a `*.weights.h5` path or a shipped name.
        announce: called with (name, dataset) once the model is loaded, before the slow part.
        sampling_steps: diffusion models only: denoising steps per image (None: the model's own);
            recorded in the metrics as `sampling_steps`.

    Returns:
        {"name", "family", "dataset", "weights_sha256", "metrics", "reference"}: the reference rows
        (real data, an untrained generator) measured the same way, beside which the metrics mean something.

    Raises:
        ValueError: unknown weights, a run without a checkpoint, or a missing classifier.
    """
    from aigc_core.data import sha256_of
    from aigc_core.quality.evaluation import dataset_of_weights, default_classifier, evaluate_model, reference_rows

    if run is not None:
        name, path = run.run_id, run.weights_path
    else:
        path = Path(weights)
        if path.suffix == ".h5" or path.exists():
            name = path.name.removesuffix(".weights.h5")
        else:
            name, path = weights, default_weights_dir() / f"{weights}.weights.h5"
    dataset = dataset_of_weights(path)  # a run's config.json, or "dataset" in shipped <name>.json; else mnist
    default_classifier(dataset=dataset)  # a missing classifier is reported before any model is loaded
    model = load_run_model(run) if run is not None else load_weights_model(weights)
    weights_sha256 = sha256_of(path)  # names the weights measured; loading has checked the file exists
    if sampling_steps is not None:
        use_sampling_steps(model, sampling_steps)
    if announce is not None:
        announce(name, dataset)
    metrics = evaluate_model(model, num_samples=num_samples, seed=seed, dataset=dataset)
    if model.family == "diffusion":  # its FID depends on the step count as much as on the weights
        metrics["sampling_steps"] = model.sampling_steps
    return {"name": name, "family": model.family, "dataset": dataset, "weights_sha256": weights_sha256,
            "metrics": metrics, "reference": reference_rows(num_samples, dataset=dataset)}


def evaluation_text(report: dict) -> str:
    """An `evaluate` report as the table printed by the CLI: the model beside the reference rows."""
    from aigc_core.quality.evaluation import format_table

    reference = report["reference"]
    return format_table({report["name"]: report["metrics"], REAL_FLOOR: reference[REAL_FLOOR],
                         UNTRAINED_CEILING: reference[UNTRAINED_CEILING]})


# -- diffusion: step counts and the denoising made visible (aigc_core.experiments.denoising) ----------------------


def use_sampling_steps(model, steps, name: str = "sampling_steps") -> int:
    """Make a loaded diffusion model sample with `steps` denoising steps from now on; returns the count.

    Only for a model this caller loaded itself (the CLI's), never a cached one shared by sessions.

    Raises:
        ValueError: a model that is not a diffusion model, or a count outside [1, 1000].
    """
    from aigc_core.models.diffusion import check_steps

    if getattr(model, "family", None) != "diffusion":
        raise ValueError(f"{name} applies to diffusion models only; received a {getattr(model, 'family', '?')} model")
    model.sampling_steps = check_steps(steps, name)
    return model.sampling_steps


def denoising_timeline(source_key: str, seed: int, steps: int | None = None, num_samples: int = 16, labels=None,
                       weights_dir: Path | None = None, store: RunStore | None = None):
    """Frames (steps + 1, N, 28, 28) in [0, 1] of a diffusion source's sampling, noise first, digits last.

    Args:
        source_key: "weights:NAME" or "run:ID", as `load_source` takes it.
        seed: the starting noise's seed; the last frame equals `sample(num_samples, seed, steps=steps)`.
        steps: sampling steps; None uses the model's own count.
        labels: conditional models only: one digit per image; None cycles 0-9.

    Raises:
        ValueError: an unknown source, a model that is not a diffusion model, or a bad count.
    """
    from aigc_core.experiments import denoising

    return denoising.denoising_timeline(load_source(source_key, weights_dir, store), seed, num_samples, steps, labels)


def denoising_gif(source_key: str, seed: int, steps: int | None = None, num_samples: int = 16, labels=None,
                  scale: int = 3, frame_ms: int = 150, label: str | None = None,
                  weights_dir: Path | None = None, store: RunStore | None = None) -> bytes:
    """The denoising timeline of a diffusion source as a looping GIF; `label` is the frame caption's
    format with {step} and {steps} (a UI passes it translated; None: "step {step} of {steps}")."""
    from aigc_core.experiments import denoising

    frames = denoising_timeline(source_key, seed, steps, num_samples, labels, weights_dir, store)
    return denoising.timeline_gif(frames, scale, frame_ms, label or denoising.DEFAULT_FRAME_LABEL)


def steps_versus_quality(source_key: str, seed: int = 0, step_counts=None, num_eval_samples: int | None = None,
                         progress=None, reference_limit: int | None = None, weights_dir: Path | None = None,
                         store: RunStore | None = None) -> list[dict]:
    """A diffusion source sampled with each step count: time for 64 images, FID (against the test
    split of the data it was trained on) and IS; see `aigc_core.experiments.denoising.steps_versus_quality`
    (`reference_limit`: only the first N test images, for tests).

    Returns:
        One dict per count: steps, seconds_for_64, fid, inception_score, images (64, 28, 28).
    """
    from aigc_core.experiments import denoising

    source = resolve_source(source_key, weights_dir, store)
    model = load_source(source_key, weights_dir, store)
    return denoising.steps_versus_quality(
        model, seed, step_counts if step_counts is not None else denoising.DEFAULT_STEP_COUNTS,
        num_eval_samples if num_eval_samples is not None else denoising.DEFAULT_EVAL_SAMPLES,
        progress=progress, dataset=source_dataset(source), reference_limit=reference_limit)
