"""Where a trained model can come from: shipped weights or a run's checkpoint.

A source is named by a short key string ("weights:gan-fast", "run:<run id>") so that
the UI can cache loaded models by key, put keys in URLs, and never hold a path from
the browser: keys are resolved here, against the weights folder and the run store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aigc_core.runs import RunStore, read_json
from aigc_core.weights import WEIGHTS_DIR, load_model_from_files, shipped_weights


@dataclass(frozen=True)
class Source:
    key: str
    label: str
    family: str
    config_path: Path
    weights_path: Path

    def version(self) -> float:
        """Modification time of the weights: a changed checkpoint gets a new cache entry."""
        try:
            return self.weights_path.stat().st_mtime
        except FileNotFoundError:
            return 0.0


def list_sources(store: RunStore | None = None, weights_dir: Path = WEIGHTS_DIR) -> list[Source]:
    """Shipped weights first, then every run that has a checkpoint (newest first)."""
    store = store or RunStore()
    sources = [
        Source(f"weights:{entry['name']}", f"shipped: {entry['name']}", entry["family"],
               entry["config_path"], entry["weights_path"])
        for entry in shipped_weights(weights_dir)
    ]
    for run in store.list():
        if run.weights_path.exists() and run.model_config_path.exists():
            family = (read_json(run.model_config_path) or {}).get("family", "?")
            state = run.status().get("state", "?")
            sources.append(Source(f"run:{run.run_id}", f"run {run.run_id} ({state})", family,
                                  run.model_config_path, run.weights_path))
    return sources


def resolve_source(key: str, store: RunStore | None = None, weights_dir: Path = WEIGHTS_DIR) -> Source:
    """The source for a key; ValueError for an unknown or malformed key."""
    if not isinstance(key, str) or ":" not in key:
        raise ValueError(f"source must look like 'weights:NAME' or 'run:ID'; received {str(key)[:80]!r}")
    for source in list_sources(store, weights_dir):
        if source.key == key:
            return source
    raise ValueError(f"no model source {key!r}: it has no weights (yet), or was deleted")


def load_source(key: str, store: RunStore | None = None, weights_dir: Path = WEIGHTS_DIR):
    """Build and load the model behind a source key."""
    source = resolve_source(key, store, weights_dir)
    return load_model_from_files(source.config_path, source.weights_path)
