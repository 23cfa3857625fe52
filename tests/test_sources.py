"""Model sources: a key names one shipped weights file or one run's checkpoint, and nothing else."""

import json
import shutil
from pathlib import Path

import pytest

from aigc_core.sources import list_sources, resolve_source
from aigc_core.weights import WEIGHTS_DIR
from conftest import tiny_config


@pytest.fixture
def weights_dir(tmp_path) -> Path:
    """Two shipped entries copied from weights/, so the test does not depend on how many ship."""
    folder = tmp_path / "weights"
    folder.mkdir()
    for name in ("gan-fast", "vae-fast"):
        for suffix in (".json", ".weights.h5"):
            shutil.copy(WEIGHTS_DIR / f"{name}{suffix}", folder / f"{name}{suffix}")
    return folder


def give_checkpoint(run, family: str) -> None:
    """The two files that make a run a source (their content is not read by the lookup)."""
    run.model_config_path.write_text(json.dumps({"family": family}))
    run.weights_path.write_bytes(b"not read here")


def test_resolving_a_key_finds_the_same_source_as_listing_them_all(store, weights_dir):
    with_checkpoint = store.create(tiny_config().to_dict())
    give_checkpoint(with_checkpoint, "gan")
    store.create(tiny_config(model="vae").to_dict())  # queued, no checkpoint yet: not a source
    listed = list_sources(store, weights_dir)
    assert [source.key for source in listed] == ["weights:gan-fast", "weights:vae-fast", f"run:{with_checkpoint.run_id}"]
    for source in listed:
        assert resolve_source(source.key, store, weights_dir) == source


@pytest.mark.parametrize("key", [
    "weights:missing", "weights:../weights/gan-fast", "weights:", "run:", "run:../runs", "run:/etc",
    "run:no-such-run", "file:/etc/passwd", "gan-fast", "", None, 7,
])
def test_unknown_malformed_or_escaping_keys_are_refused(store, weights_dir, key):
    with pytest.raises(ValueError, match="source"):
        resolve_source(key, store, weights_dir)


def test_a_run_without_a_checkpoint_is_not_a_source_until_it_writes_one(store, weights_dir):
    run = store.create(tiny_config().to_dict())
    with pytest.raises(ValueError, match="no weights"):
        resolve_source(f"run:{run.run_id}", store, weights_dir)
    give_checkpoint(run, "gan")
    assert resolve_source(f"run:{run.run_id}", store, weights_dir).weights_path == run.weights_path


def test_a_break_it_runs_label_names_its_preset(store, weights_dir):
    name = "GAN: discriminator 10x faster"
    broken, healthy = store.create(tiny_config(break_it=name).to_dict()), store.create(tiny_config().to_dict())
    for run in (broken, healthy):
        give_checkpoint(run, "gan")
    assert resolve_source(f"run:{broken.run_id}", store, weights_dir).label.startswith(f"{name} #1")
    assert name not in resolve_source(f"run:{healthy.run_id}", store, weights_dir).label
