"""Where a trained model can come from: shipped weights or a run's checkpoint.

A source is named by a short key string ("weights:gan-fast", "run:<run id>") so that
the UI can cache loaded models by key, put keys in URLs, and never hold a path from
the browser: keys are resolved here, against the weights folder and the run store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aigc_core.messages import MessageError, N_
from aigc_core.runs.run_files import is_own_file
from aigc_core.runs.run_names import RunName, read_run_name
from aigc_core.runs.store import RunStore
from aigc_core.weights import WEIGHTS_DIR, load_model_from_files, shipped_weights


@dataclass(frozen=True)
class Source:
    key: str
    label: str
    family: str
    config_path: Path
    weights_path: Path
    # A run's name (aigc_core.runs.run_names) and state, so that a picker can word them in its language.
    run_name: RunName | None = None
    run_state: str | None = None

    def version(self) -> float:
        """Modification time of the weights: a changed checkpoint gets a new cache entry."""
        try:
            return self.weights_path.stat().st_mtime
        except FileNotFoundError:
            return 0.0


def list_sources(store: RunStore | None = None, weights_dir: Path = WEIGHTS_DIR) -> list[Source]:
    """Shipped weights first, then every run that has a checkpoint (newest first)."""
    store = store or RunStore()
    sources = [_shipped_source(entry) for entry in shipped_weights(weights_dir)]
    for run in store.list():
        source = _run_source(run)
        if source is not None:
            sources.append(source)
    return sources


def _shipped_source(entry: dict) -> Source:
    return Source(f"weights:{entry['name']}", f"shipped: {entry['name']}", entry["family"],
                  entry["config_path"], entry["weights_path"])


def _run_source(run) -> Source | None:
    """A run's checkpoint as a source, or None while it has none (or its files are links or damaged)."""
    if not (is_own_file(run.weights_path) and is_own_file(run.model_config_path)):
        return None
    model_config = run.model_config()
    if model_config is None:
        return None
    family = model_config["family"]
    state = run.status().get("state", "?")
    name = read_run_name(run)
    broken = run.config().get("break_it")  # a renamed "break it on purpose" run still says which
    label = f"{name.text()} ({state})" + (f" · break it: {broken}" if broken and name.custom else "")
    return Source(f"run:{run.run_id}", label, family, run.model_config_path, run.weights_path, name, state)


def resolve_source(key: str, store: RunStore | None = None, weights_dir: Path = WEIGHTS_DIR) -> Source:
    """The source for a key; ValueError for an unknown or malformed key.

    Looks up that one run or weights file instead of listing every source: pages resolve
    their models on every rerun, and the run store grows all day on a shared server. The
    run id is validated by `RunStore.get` and the weights name must be one `shipped_weights`
    lists, so no key reaches a path outside those two folders.
    """
    if not isinstance(key, str) or ":" not in key:
        raise MessageError(N_("source must look like 'weights:NAME' or 'run:ID'; received {key!r}"), key=str(key)[:80])
    kind, name = key.split(":", 1)
    source = None
    if kind == "weights":
        entry = next((entry for entry in shipped_weights(weights_dir) if entry["name"] == name), None)
        source = _shipped_source(entry) if entry else None
    elif kind == "run":
        try:
            source = _run_source((store or RunStore()).get(name))
        except ValueError:
            source = None
    if source is None:
        raise MessageError(N_("no model source {key!r}: it has no weights (yet), or was deleted"), key=key)
    return source


def load_source(key: str, store: RunStore | None = None, weights_dir: Path = WEIGHTS_DIR):
    """Build and load the model behind a source key."""
    source = resolve_source(key, store, weights_dir)
    return load_model_from_files(source.config_path, source.weights_path)
