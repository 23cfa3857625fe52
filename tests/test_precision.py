"""Mixed precision as a run option (issue 5): bfloat16 compute, float32 weights, float32 losses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aigc_core.config import validate
from conftest import tiny_config


@pytest.mark.parametrize(
    "model, preset, overrides",
    [
        pytest.param("gan", "fast", {}, id="gan"),
        pytest.param("vae", "fast", {}, id="vae"),
        # The penalty mixes G's bfloat16 images with float32 real ones; two critic steps per
        # generator step run its loop while compiling less than the preset's five.
        pytest.param("gan", "wgan-gp", {"d_steps_per_g_step": 2}, id="gan-wgan-gp"),
        pytest.param("gan", "conditional", {}, id="gan-conditional"),
        pytest.param("vae", "conditional", {}, id="vae-conditional"),
    ],
)
def test_a_mixed_bfloat16_run_trains_computes_in_bfloat16_and_saves_float32(store, model, preset, overrides):
    import keras

    from aigc_core.runs.training import build_model, load_run_model, start_run, train_run

    config = tiny_config(model=model, preset=preset, overrides=overrides, steps=4, log_every=2, precision="mixed_bfloat16")
    built = build_model(config)
    networks = list(built.networks().values())
    assert all(layer.compute_dtype == "bfloat16" for network in networks for layer in network.layers
               if layer.weights), "a layer with weights still computes in float32"
    assert all(weight.dtype == "float32" for weight in built.weights)
    assert keras.config.dtype_policy().name == "float32", "the global policy leaked out of the build"

    run = start_run(config, store)
    status = train_run(run)
    assert status["state"] == "finished", status
    assert run.config()["precision"] == "mixed_bfloat16"
    rows = run.metrics()
    assert rows and all(math.isfinite(value) for row in rows for key, value in row.items() if key.endswith("loss"))
    reloaded = load_run_model(run)  # rebuilt in float32 from the checkpoint
    samples = reloaded.sample(8, seed=0)
    assert samples.dtype == np.float32 and 0.0 <= samples.min() and samples.max() <= 1.0


def test_an_unknown_precision_is_refused():
    for bad in ("float16", "mixed_float16", "", 16):
        with pytest.raises(ValueError, match="precision must be one of"):
            validate(tiny_config(precision=bad))


@pytest.mark.parametrize("cpu_has_bfloat16", [True, False])
def test_a_run_naming_no_precision_gets_bfloat16_only_for_the_measured_variants_on_a_bfloat16_cpu(monkeypatch, cpu_has_bfloat16):
    from aigc_core import devices
    from aigc_core.config import TrainingConfig

    monkeypatch.setattr(devices, "cpu_computes_bfloat16", lambda: cpu_has_bfloat16)
    assert TrainingConfig().precision is None  # "not chosen": validate() picks, and the run records it
    for model, preset in (("vae", "fast"), ("vae", "clusters"), ("gan", "paper")):
        chosen = validate(TrainingConfig(model=model, preset=preset)).precision
        assert chosen == ("mixed_bfloat16" if cpu_has_bfloat16 else "float32"), (model, preset)
    for model, preset in (("gan", "fast"), ("gan", "clusters"), ("vae", "map"), ("diffusion", "fast")):
        assert validate(TrainingConfig(model=model, preset=preset)).precision == "float32", (model, preset)
    # A choice made is kept, either way.
    assert validate(TrainingConfig(model="vae", precision="float32")).precision == "float32"
    assert validate(TrainingConfig(model="gan", precision="mixed_bfloat16")).precision == "mixed_bfloat16"


@pytest.mark.parametrize(
    "flags, expected",
    [("fpu sse avx512f avx512_bf16 amx_tile", True), ("fpu sse amx_bf16", True), ("fpu sse avx2 avx512f", False)],
)
def test_bfloat16_support_is_read_from_the_cpu_flags(tmp_path, flags, expected):
    from aigc_core.devices import cpu_computes_bfloat16

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n\n")
    assert cpu_computes_bfloat16(str(cpuinfo)) is expected
    assert cpu_computes_bfloat16(str(tmp_path / "missing")) is False


def test_cli_refuses_a_bad_precision_in_one_line(capsys):
    from aigc_core.cli import main

    assert main(["train", "--model", "gan", "--steps", "2", "--precision", "half"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "precision must be one of" in error, error


def test_gpu_memory_growth_is_a_no_op_without_a_gpu():
    from aigc_core.devices import enable_gpu_memory_growth

    assert enable_gpu_memory_growth() == 0  # the CPU machines the suite runs on


def test_home_quotes_the_slower_machines_first_runs_and_no_bfloat16_time(monkeypatch):
    from aigc_core import studio
    from ui.home_view import FIRST_RUN_SECONDS, duration_text, first_run_text

    # Home quotes the VAE's float32 time, the longest a visitor waits, and no bfloat16 time, on any CPU.
    texts = set()
    for computes in (True, False):
        monkeypatch.setattr(studio, "cpu_computes_bfloat16", lambda computes=computes: computes)
        texts.add(first_run_text())
    (text,) = texts
    assert "bfloat16" not in text
    assert f"about {duration_text(FIRST_RUN_SECONDS['gan'])} for the GAN, {duration_text(FIRST_RUN_SECONDS['vae'])} for the VAE" in text
    assert (duration_text(43.7), duration_text(71.4), duration_text(96.4), duration_text(115.1), duration_text(286.8)) == (
        "45 s", "1 min", "1.5 min", "2 min", "5 min")
    assert duration_text(1) == "5 s" and duration_text(56) == "55 s" and duration_text(59) == "1 min"


def test_the_sidebar_names_exactly_the_variants_that_default_to_bfloat16():
    from aigc_core import studio
    from aigc_core.models.registry import VARIANTS
    from ui.sidebar import bfloat16_note

    preferring = [variant for variant in VARIANTS.values() if variant.prefers_bfloat16]
    assert studio.bfloat16_default_variants() == [(variant.family, variant.preset) for variant in preferring]
    note = bfloat16_note()
    assert "VAE (fast)" in note and "GAN (fast)" not in note
    assert note.count("(") == len(preferring)  # one "FAMILY (preset)" per variant, none more
