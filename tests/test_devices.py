"""Data-parallel training (`devices`, `--devices`): config, the replicas' arithmetic, and the CLI.

TensorFlow fixes its device list when its runtime starts, so everything that needs two devices
runs in a subprocess that splits the CPU into two logical ones first (`$AIGC_LOGICAL_CPUS` for
the CLI, `configure_logical_cpus(2)` in the scripts below). They hide the GPUs, if any, so the
two devices are the logical CPUs everywhere.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from aigc_core.config import TrainingConfig, validate
from conftest import PROJECT_ROOT, tiny_config


def python(*arguments, logical_cpus: int | None = None, timeout_s: float = 240) -> subprocess.CompletedProcess:
    """Run the project's Python with the CPU split into `logical_cpus` devices and no GPU."""
    environment = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(PROJECT_ROOT)}
    environment.pop("AIGC_LOGICAL_CPUS", None)
    if logical_cpus is not None:
        environment["AIGC_LOGICAL_CPUS"] = str(logical_cpus)
    return subprocess.run([sys.executable, *map(str, arguments)], cwd=PROJECT_ROOT, env=environment,
                          capture_output=True, text=True, timeout=timeout_s)


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# -- config ------------------------------------------------------------------------------------

def test_devices_is_recorded_and_an_old_config_without_it_loads_as_one_device():
    assert TrainingConfig().devices == 1
    assert tiny_config(devices=2).to_dict()["devices"] == 2
    old = tiny_config().to_dict()
    del old["devices"]  # a config.json written before the field existed
    assert TrainingConfig.from_dict(old).devices == 1
    assert validate(TrainingConfig.from_dict(old)).devices == 1


@pytest.mark.parametrize("devices", [0, -1, 1.5, "2", True, None, float("nan")])
def test_validate_refuses_a_device_count_that_is_not_a_positive_whole_number(devices):
    with pytest.raises(ValueError, match="^devices must") as raised:
        validate(tiny_config(devices=devices))
    assert "\n" not in str(raised.value)


def test_validate_checks_devices_against_what_tensorflow_sees_and_the_batch(monkeypatch):
    from aigc_core import devices as devices_module

    monkeypatch.setattr(devices_module, "training_devices", lambda: ["/device:CPU:0", "/device:CPU:1"])
    assert validate(tiny_config(devices=2.0)).devices == 2  # a JSON float is normalized
    with pytest.raises(ValueError, match=r"^devices must be at most the 2 CPU device\(s\) TensorFlow sees .*received 3$"):
        validate(tiny_config(devices=3))
    with pytest.raises(ValueError, match=r"^batch_size must be a multiple of devices \(2\).*received 33$"):
        validate(tiny_config(devices=2, batch_size=33))
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")  # keras.distribution's territory, not ours
    with pytest.raises(ValueError, match="^devices above 1 need the TensorFlow backend"):
        validate(tiny_config(devices=2))
    assert validate(tiny_config(devices=1)).devices == 1


def test_logical_cpu_variable_is_checked_before_tensorflow_starts(monkeypatch):
    from aigc_core.devices import LOGICAL_CPUS_VARIABLE, configure_logical_cpus, logical_cpus_from_environment

    monkeypatch.delenv(LOGICAL_CPUS_VARIABLE, raising=False)
    assert logical_cpus_from_environment() is None and configure_logical_cpus() is None
    for value in ("two", "0", "-2", "1e3", "65"):
        monkeypatch.setenv(LOGICAL_CPUS_VARIABLE, value)
        with pytest.raises(ValueError, match=f"^Expected \\${LOGICAL_CPUS_VARIABLE} to be a whole number"):
            configure_logical_cpus()
    monkeypatch.setenv(LOGICAL_CPUS_VARIABLE, "1")
    assert configure_logical_cpus() is None  # one device: TensorFlow is left as it is


def test_average_gradients_across_replicas_divides_what_each_optimizer_applies():
    """The mechanism in isolation, on one device: a gradient of 1 reaches Adam as 1/2."""
    import numpy as np

    from aigc_core.models.registry import get_variant

    model = get_variant("vae", "fast").build(latent_dim=2)
    model.average_gradients_across_replicas(2)
    variables = model.trainable_variables
    model.optimizer.apply([np.ones(variable.shape, "float32") for variable in variables], variables)
    momentums = [variable for variable in model.optimizer.variables if variable.path.endswith("_momentum")]
    assert len(momentums) == len(variables)
    for momentum in momentums:  # Adam's m after one step: (1 - beta_1) * gradient
        np.testing.assert_allclose(np.asarray(momentum), 0.1 * 0.5, rtol=1e-6)
    model.average_gradients_across_replicas(1)
    assert model.optimizer.loss_scale_factor is None


# -- one step on two replicas against one step on one device ----------------------------------

# A global batch of 64 on one device, and the same 64 images split 32 + 32 over two logical CPUs.
# Replicas draw their own noise (different latent vectors and dropout masks), so no seed makes
# the two runs see the same random numbers; the script makes them deterministic instead:
# `keras.random.normal` returns fixed values whose rows repeat every 32 rows (so one device's 64
# rows are twice what each replica draws, and the generator's BatchNormalization sees the same
# batch statistics in both runs) and dropout is off. Then both runs must give the same losses,
# weights and Adam moments. The moments are what catch a wrong gradient scale: Adam's weight
# update is nearly g / sqrt(g^2), blind to a factor 2, while its m and v would be 2x and 4x;
# "vae:sum" runs the replicas without `average_gradients_across_replicas` to show the check bites.
# The steps run eagerly: the same train_step, optimizer and all-reduce as in `fit()`'s compiled
# function, without its ~7 s of tracing per distributed model (the CLI test below compiles).
ONE_STEP_SCRIPT = r'''
import json, sys
from aigc_core.devices import configure_logical_cpus, make_strategy, strategy_scope
configure_logical_cpus(2)
import keras, numpy as np, tensorflow as tf
from aigc_core.config import TrainingConfig
from aigc_core.data import load_images, scale_pixels
from aigc_core.models.base import ReplicaSeedGenerator
from aigc_core.runs.training import build_model

GLOBAL_BATCH, PER_REPLICA = 64, 32
images = load_images("mnist", "train", GLOBAL_BATCH).images
random_normal = keras.random.normal

def repeating_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    shape = tf.cast(tf.convert_to_tensor(shape), tf.int32)
    rows = tf.range(shape[0]) % PER_REPLICA
    grid = tf.cast(rows[:, None] * 7 + tf.range(tf.reduce_prod(shape[1:]))[None, :] * 13, "float32")
    return tf.reshape(mean + stddev * tf.sin(grid * 0.1), shape)

def one_step(family, devices, average=True):
    keras.utils.set_random_seed(0)
    strategy = make_strategy(devices)
    model = build_model(TrainingConfig(model=family, preset="fast", batch_size=GLOBAL_BATCH, devices=devices), strategy)
    if not average:
        model.average_gradients_across_replicas(1)
    for network in model.networks().values():
        for layer in network.layers:
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0
    initial = [np.asarray(variable) for variable in model.weights]
    with strategy_scope(strategy):
        dataset = tf.data.Dataset.from_tensor_slices(scale_pixels(images, model.pixel_range)).batch(GLOBAL_BATCH)
    model.run_eagerly = True
    history = model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0).history
    moments = [np.asarray(variable) for optimizer in model.named_optimizers().values() for variable in optimizer.variables]
    return {"initial": initial, "weights": [np.asarray(variable) for variable in model.weights], "moments": moments,
            "losses": {name: float(values[-1]) for name, values in history.items()}}

def largest_difference(left, right):
    """The largest |left - right| of any variable, relative to that variable's largest magnitude."""
    return max(float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-12)) for a, b in zip(left, right))

report, single_device = {}, {}
for check in sys.argv[1:]:
    if check == "noise":  # what each replica's seed generator draws, against a plain SeedGenerator's draw
        strategy = make_strategy(2)
        with strategy.scope():
            generator = ReplicaSeedGenerator(0)
        draws = strategy.experimental_local_results(
            tf.function(lambda: strategy.run(lambda: random_normal((8,), seed=generator)))())
        plain = random_normal((8,), seed=keras.random.SeedGenerator(0))
        report["noise"] = {"replicas_differ": bool(not np.allclose(draws[0], draws[1])),
                           "replica_0_is_plain": bool(np.allclose(draws[0], plain))}
        continue
    family, average = check.split(":") if ":" in check else (check, "average")
    keras.random.normal = repeating_normal
    if family not in single_device:  # "vae:sum" compares with the same one-device step as "vae"
        single_device[family] = one_step(family, 1)
    single = single_device[family]
    mirrored = one_step(family, 2, average=average == "average")
    keras.random.normal = random_normal
    report[check] = {
        "initial": largest_difference(mirrored["initial"], single["initial"]),
        "weights": largest_difference(mirrored["weights"], single["weights"]),
        "moments": largest_difference(mirrored["moments"], single["moments"]),
        "losses": {name: [single["losses"][name], mirrored["losses"][name]] for name in single["losses"]},
    }
print("REPORT " + json.dumps(report))
'''


def one_step_report(*checks) -> dict:
    result = python("-c", ONE_STEP_SCRIPT, *checks)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(last_line(result.stdout).removeprefix("REPORT "))


# Float32 sums in another order (two halves, then an all-reduce) differ by ~1e-5 of a variable's
# scale; a gradient summed instead of averaged is off by 1.0 (m) and 3.0 (v) of it.
TOLERANCE = 1e-3


# Each family's subprocess adds one more check: the GAN's real per-replica draws, and for the VAE
# the same comparison without averaging, which must fail.
EXTRA_CHECK = {"gan": "noise", "vae": "vae:sum"}


@pytest.mark.parametrize("family", ["gan", "vae"])
def test_one_step_on_two_devices_equals_one_step_on_one_device(family):
    report = one_step_report(family, EXTRA_CHECK[family])
    step = report[family]
    assert step["initial"] == 0.0, "both runs start from the same weights"
    for name, (single, mirrored) in step["losses"].items():
        assert math.isfinite(single) and mirrored == pytest.approx(single, rel=1e-4, abs=1e-4), name
    assert step["moments"] < TOLERANCE, f"Adam's moments differ by {step['moments']:.2e}"
    assert step["weights"] < TOLERANCE, f"weights differ by {step['weights']:.2e} after one step"
    if family == "gan":
        # Real draws (no fixed noise): replica 0 draws what one device draws, replica 1 its own.
        assert report["noise"] == {"replicas_differ": True, "replica_0_is_plain": True}
    else:
        # Summed instead of averaged, the same comparison fails: m doubles, v quadruples.
        assert report["vae:sum"]["moments"] == pytest.approx(3.0, rel=1e-3)


# -- the command line --------------------------------------------------------------------------

def test_cli_trains_data_parallel_on_two_logical_cpus(tmp_path):
    run_dir = tmp_path / "two-devices"
    result = python(
        "-m", "aigc_core", "train", "--model", "gan", "--preset", "fast", "--steps", 3, "--devices", 2,
        "--train-limit", 256, "--batch-size", 32, "--log-every", 1, "--run-dir", run_dir, logical_cpus=2,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "run finished" in result.stdout
    assert json.loads((run_dir / "config.json").read_text())["devices"] == 2  # what a resume will use
    assert json.loads((run_dir / "status.json").read_text())["state"] == "finished"
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [1, 2, 3]
    for row in rows:
        assert all(math.isfinite(row[name]) for name in ("d_loss", "g_loss", "d_real", "d_fake")), row


def test_cli_refuses_more_devices_than_tensorflow_sees_in_one_line(tmp_path):
    result = python(
        "-m", "aigc_core", "train", "--model", "gan", "--steps", 3, "--devices", 3, "--train-limit", 256,
        "--run-dir", tmp_path / "refused", logical_cpus=2,
    )
    assert result.returncode == 2
    assert last_line(result.stderr) == (
        "error: devices must be at most the 2 CPU device(s) TensorFlow sees "
        "($AIGC_LOGICAL_CPUS=N splits one CPU into N); received 3"
    )
    assert "Traceback" not in result.stderr and not (tmp_path / "refused").exists()


def test_resume_refuses_a_run_recorded_with_more_devices_than_this_machine_has(store, capsys):
    """The check runs before training, so the run keeps its state instead of turning `failed`."""
    from aigc_core.cli import main
    from aigc_core.devices import device_count

    if device_count() >= 2:
        pytest.skip("this machine could resume a two-device run")
    run = store.create(tiny_config(devices=2).to_dict())
    run.update_status(state="stopped")
    assert main(["resume", "--run", str(run.path), "--steps", "2"]) == 2
    assert last_line(capsys.readouterr().err).startswith("error: devices must be at most the 1 ")
    assert run.status()["state"] == "stopped"
