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

from aigc_core import evaluate_process, housekeeping, ownership, replay, run_control, run_files, sources, worker
from aigc_core.ownership import OPERATOR, NotOwner, Requester
from aigc_core.runs import ACTIVE_STATES, FINAL_STATES, Run, RunStore
from aigc_core.sources import Source

if TYPE_CHECKING:  # both import Keras (through the model registry): only when a function needs them
    from aigc_core.config import TrainingConfig
    from aigc_core.twin import Twin

__all__ = ["ACTIVE_STATES", "FINAL_STATES", "OPERATOR", "NotOwner", "Requester", "Run", "Source"]

TWIN_AXES = ("seconds", "images")  # aigc_core.twin.AXES, without importing the model registry
TWIN_FILE = "twin.json"  # aigc_core.twin.TWIN_FILE


def _store(store: RunStore | None) -> RunStore:
    return store if store is not None else RunStore()


# -- configs and launching -----------------------------------------------------------------


def check_config(config: TrainingConfig) -> TrainingConfig:
    """The config, checked and with its defaults filled in; a one-line ValueError for a bad one.

    The Train page asks this on every rerun to keep Start disabled while a setting is wrong.
    """
    from aigc_core.config import validate

    return validate(config)


def launch(config: TrainingConfig, requester: Requester = OPERATOR, store: RunStore | None = None) -> Run:
    """Validate the config (the one check of a launch), then queue the run in a worker process.

    Returns at once with the queued run; see `aigc_core.worker.launch` for the caps and the
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
    store = RunStore(runs_root) if runs_root else RunStore()
    housekeeping.prepare_new_run(store)
    return store.create(config.to_dict())


def train_here(run: Run, extra_steps: int | None = None, extra_minutes: float | None = None, progress=None) -> dict:
    """Train `run` in this process until its budget ends (the CLI's foreground training); the final status."""
    from aigc_core.training import quiet_tensorflow, train_run

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
    from aigc_core.limits import validate_extra_budget

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

CONTROL_MODES = run_control.MODES
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
    from aigc_core.runs import validate_run_id

    return validate_run_id(run_id)


def read_run_file(run: Run, name: str) -> bytes | None:
    """The bytes of one of the run's own files for a download; None when missing or a link."""
    path = run.path / name
    if not run_files.is_own_file(path):
        return None
    return run_files.read_run_bytes(path)


def kl_history(run: Run) -> list[dict]:
    """A VAE run's per-dimension KL rows, oldest first ([] for other runs)."""
    from aigc_core.training import kl_history as read_kl_history

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
    from aigc_core.training import load_run_model as load

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
                store: RunStore | None = None, **config_fields) -> tuple[Run, Run]:
    """Queue a GAN and a VAE on the same budget as one twin (see `aigc_core.twin.launch_twin`)."""
    from aigc_core import twin

    return twin.launch_twin(seed, budget_kind, budget_value, _store(store), requester=requester, **config_fields)


def find_twin(value: str | None, store: RunStore | None = None) -> Twin | None:
    """The twin named by a twin id or one of its run ids, or None."""
    from aigc_core import twin

    return twin.find_twin(value, _store(store))


def find_twins(store: RunStore | None = None) -> list[Twin]:
    """Every twin in the run store, newest first."""
    from aigc_core import twin

    return twin.find_twins(_store(store))


def read_twin(run: Run) -> Twin | None:
    """The twin a run belongs to, or None."""
    from aigc_core import twin

    return twin.read_twin(run, RunStore(run.path.parent))


def twin_snapshot_at(run: Run, moment: float, axis: str = "seconds"):
    """The run's snapshot shown at `moment` on the twin race's axis (see `aigc_core.twin.snapshot_at`)."""
    from aigc_core import twin

    return twin.snapshot_at(run, moment, axis)


def twin_moments(found: Twin, axis: str = "seconds") -> list[float]:
    """The moments of a twin race's slider on an axis."""
    from aigc_core import twin

    return twin.twin_moments(found, axis)


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


# -- housekeeping and ownership -------------------------------------------------------------------


def reconcile_after_restart(store: RunStore | None = None) -> list[Run]:
    """Mark the runs a previous server left running; returns those whose workers must be restarted."""
    return housekeeping.reconcile(_store(store))


def restart_worker(run: Run) -> None:
    """Start the worker of a run that `reconcile_after_restart` queued again."""
    worker.spawn_worker(run)


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
