"""Weights that travel with the config that rebuilds their model (shipped ones and runs').

Only weights are ever loaded, into an architecture built by this package's own classes:
no Keras archive or pickled object is deserialized, so a weights file cannot run code.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

from aigc_core.files import PROJECT_ROOT, read_json, write_json_atomic
from aigc_core.messages import MessageError, N_

WEIGHTS_DIR = PROJECT_ROOT / "weights"

# Keras builds and loads models through process-global state; two Streamlit sessions loading
# at once have been seen to load only part of a model. One load at a time.
_load_lock = threading.Lock()


class WeightsError(MessageError):
    """A weights file is missing, unreadable or does not fit its config."""


def load_model_from_files(config_path: Path, weights_path: Path):
    """Build the model described by a config JSON and load its weights.

    Raises:
        WeightsError: when either file is missing, or the weights do not match the architecture.
    """
    from aigc_core.models.registry import build_model

    config_path, weights_path = Path(config_path), Path(weights_path)
    if not weights_path.is_file():
        raise WeightsError(N_("no weights file at {path}"), path=str(weights_path))
    description = read_json(config_path)
    if not isinstance(description, dict) or "family" not in description or "config" not in description:
        raise WeightsError(N_("{path} is missing or is not a model config (expected keys 'family' and 'config')"),
                           path=str(config_path))
    with _load_lock:
        try:
            model = build_model(description["family"], dict(description["config"]), description.get("model_class"))
        except (TypeError, ValueError) as error:
            raise WeightsError(N_("{config} describes no model this version can build"), detail=str(error),
                               config=config_path.name) from None
        try:
            with warnings.catch_warnings():
                # Keras only warns when part of a file does not match and keeps random weights
                # there; a half-random model must be refused, not shown.
                warnings.filterwarnings("error", message=".*Skipping nested container.*")
                model.load_weights(weights_path)
        except Exception as error:  # h5py and Keras raise many types for a mismatched file
            detail = " ".join(line.strip() for line in str(error).splitlines()[:2]) or type(error).__name__
            raise WeightsError(N_("{weights} does not match its config {config}"), detail=detail[:300],
                               weights=weights_path.name, config=config_path.name) from None
    return model


def shipped_weights(directory: Path = WEIGHTS_DIR) -> list[dict]:
    """Every `<name>.weights.h5` in `weights/` with its `<name>.json`: name, family, description, paths."""
    found = []
    for weights_path in sorted(Path(directory).glob("*.weights.h5")):
        name = weights_path.name[: -len(".weights.h5")]
        config_path = weights_path.with_name(f"{name}.json")
        description = read_json(config_path)
        if not isinstance(description, dict):
            continue
        found.append(
            {
                "name": name,
                "family": description.get("family"),
                "description": description.get("description", ""),
                "config_path": config_path,
                "weights_path": weights_path,
                "metadata": description,
            }
        )
    return found


def find_shipped(name: str, directory: Path = WEIGHTS_DIR) -> dict:
    for entry in shipped_weights(directory):
        if entry["name"] == name:
            return entry
    names = [entry["name"] for entry in shipped_weights(directory)]
    raise WeightsError(N_("no shipped weights named {name!r}; available: {names}"), name=name, names=names)


def config_path_for(weights_path: Path) -> Path:
    """The config beside a weights file: `<name>.json` for shipped weights, model_config.json in a run."""
    weights_path = Path(weights_path)
    if weights_path.name == "model.weights.h5":
        return weights_path.with_name("model_config.json")
    return weights_path.with_name(weights_path.name[: -len(".weights.h5")] + ".json")


def export_weights(model, name: str, directory: Path = WEIGHTS_DIR, **metadata) -> Path:
    """Save a model as shipped weights `<name>.weights.h5` plus `<name>.json` (config and provenance)."""
    import os

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path = directory / f"{name}.weights.h5"
    temporary = directory / f".partial-{name}.weights.h5"
    model.save_weights(temporary)
    os.replace(temporary, weights_path)
    from aigc_core import __version__

    write_json_atomic(
        directory / f"{name}.json",
        {"family": model.family, "model_class": type(model).__name__, "config": model.get_config(), "version": __version__, **metadata},
    )
    return weights_path
