"""The service door (`aigc_core.studio`): what both faces do with runs goes through it.

No worker process is started (`spawn_worker` records the run instead); where a test needs the
worker's answer to a stop, it writes the status the worker would write.
"""

from __future__ import annotations

import pytest

from aigc_core import config, studio
from aigc_core.runs import training, worker
from aigc_core.experiments import twin
from tests.conftest import tiny_config


@pytest.fixture
def spawned(monkeypatch):
    started = []
    monkeypatch.setattr(worker, "spawn_worker", lambda run, *args, **kwargs: started.append(run.run_id))
    return started


@pytest.fixture
def validations(monkeypatch):
    """Count every `validate()` of a config in this process, whichever module's name for it is called."""
    calls = []
    real = config.validate

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    for module in (config, training, twin):
        monkeypatch.setattr(module, "validate", spy)
    return calls


def test_launch_list_stop_delete_through_the_door(spawned):
    alice = studio.visitor("alice-browser")
    bob = studio.visitor("bob-browser")

    run = studio.launch(tiny_config(), alice)
    assert spawned == [run.run_id]
    assert [listed.run_id for listed in studio.list_runs()] == [run.run_id]
    assert studio.get_run(run.run_id).status()["state"] == "queued"
    assert studio.queue_position(run) == 0

    with pytest.raises(studio.NotOwner):
        studio.stop(run, bob)
    with pytest.raises(ValueError, match="stop it before deleting"):
        studio.delete(run.run_id, alice)

    studio.stop(run, alice)
    assert run.stop_requested()
    run.update_status(state="stopped")  # what the worker writes when it sees the stop
    with pytest.raises(studio.NotOwner):
        studio.delete(run.run_id, bob)
    studio.delete(run.run_id, alice)
    assert studio.list_runs() == []
    with pytest.raises(ValueError, match="no run named"):
        studio.get_run(run.run_id)


def test_a_launch_validates_its_config_exactly_once(spawned, validations):
    studio.launch(tiny_config())
    assert len(validations) == 1

    with pytest.raises(ValueError, match="batch_size"):
        studio.launch(tiny_config(batch_size=0))
    assert len(validations) == 2 and len(spawned) == 1  # refused at the door, nothing queued


def test_a_twin_validates_each_of_its_two_configs_once(spawned, validations):
    gan_run, vae_run = studio.launch_twin(seed=3, budget_kind="steps", budget_value=5, train_limit=256)
    assert len(validations) == 2 and sorted(spawned) == sorted([gan_run.run_id, vae_run.run_id])
    found = studio.read_twin(vae_run)
    assert studio.find_twin(found.twin_id).gan.run_id == gan_run.run_id
    assert [each.twin_id for each in studio.find_twins()] == [found.twin_id]


def test_the_doors_light_copies_match_the_modules_that_import_keras():
    """The door names these without importing the model registry; they must not drift apart."""
    from aigc_core.models import registry

    assert studio.TWIN_AXES == twin.AXES and studio.TWIN_FILE == twin.TWIN_FILE and studio.TWIN_RACES == twin.RACES
    assert studio.FAMILIES == registry.FAMILIES and studio.KL_FILENAME == training.KL_FILENAME


def test_pause_step_and_speed_go_through_the_door(spawned):
    run = studio.launch(tiny_config())
    assert studio.pause(run)["mode"] == "pause"
    assert studio.step(run, 3) == studio.control(run) and studio.control(run)["steps"] == 3
    assert studio.set_speed(run, "slow")["speed"] == "slow"
    assert studio.unpause(run)["mode"] == "run"


def test_sources_and_run_files_through_the_door(spawned):
    run = studio.launch(tiny_config())
    assert studio.read_run_file(run, "config.json") is not None
    assert studio.read_run_file(run, "model.weights.h5") is None  # no checkpoint yet
    with pytest.raises(ValueError, match="no model source"):
        studio.resolve_source(f"run:{run.run_id}")
    keys = [source.key for source in studio.list_sources()]
    assert f"run:{run.run_id}" not in keys
    with pytest.raises(ValueError, match="run id must be"):
        studio.check_run_id("../etc")


def test_importing_the_door_does_not_import_keras():
    """Pages and the CLI's --help import the door: the training stack must wait until it is needed."""
    import subprocess
    import sys

    code = "import sys, aigc_core.studio; print('keras' in sys.modules or 'tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr[-2000:]
