"""Hostile input against the command line, in this process (`cli.main([...])`): random and
nasty strings and numbers for every flag of train, sample, resume and evaluate.

Whatever comes in, `main` returns an exit code (argparse's own refusal is SystemExit 2),
nothing prints a traceback, a refused command leaves the runs folder as it was, and any
command that is accepted hands training a config that passes `validate()`. Training itself
is replaced by a recorder, so no example trains a model.
"""

from __future__ import annotations

import functools
import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from aigc_core import cli, weights
from aigc_core.runs import training
from aigc_core.config import TrainingConfig, validate
from aigc_core.runs.store import RunStore
from conftest import tiny_config

HOSTILE = [
    "../../etc", "/etc/passwd", "/etc", "..", ".", "", " ", "a\x00b", "\x00", "nan", "-nan", "inf", "-inf", "1e309",
    "-1e309", "99999999999999999999999999999", "-1", "0", "-0", "0x10", "1_000", "１２", "٣", "🙂", "$(rm -rf /)",
    "%s%n%x", "'; DROP TABLE runs;--", "\n", "\r\n", "x\ny", "~", "~root/.ssh/id_rsa", "/dev/zero", "/proc/self/environ",
    "CON", "gan-fast", "../weights/gan-fast", "x.npy", "x.png", "../../etc/x.npy", "/etc/passwd.png", "a" * 300,
]
hostile_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=24))
# Half the draws are plausible values, so that accepted commands are exercised too.
plausible = st.one_of(st.integers(min_value=1, max_value=256).map(str),
                      st.floats(min_value=1e-4, max_value=0.9).map(repr))
numberish = st.one_of(
    plausible, plausible, plausible,
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "3", "2.5", "256", "32", "1e-3"]),
    hostile_text,
)
TRAIN_FLAGS = {
    "--model": st.one_of(st.sampled_from(["gan", "vae"]), hostile_text),
    "--preset": st.one_of(st.sampled_from(["fast", "paper", "large"]), hostile_text),
    "--steps": numberish, "--epochs": numberish, "--minutes": numberish, "--batch-size": numberish,
    "--lr": numberish, "--g-lr": numberish, "--d-lr": numberish, "--d-steps": numberish, "--latent-dim": numberish,
    "--beta": numberish, "--reconstruction": st.one_of(st.sampled_from(["bernoulli", "gaussian"]), hostile_text),
    "--seed": numberish, "--dataset": st.one_of(st.sampled_from(["mnist", "fashion_mnist"]), hostile_text),
    "--train-limit": numberish, "--log-every": numberish, "--sample-every": numberish,
    "--checkpoint-every": numberish, "--devices": numberish,
    "--precision": st.one_of(st.sampled_from(["float32", "mixed_bfloat16"]), hostile_text),
}
FUZZ_SETTINGS = settings(max_examples=60, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def flags(options: dict) -> st.SearchStrategy[list[str]]:
    """A random subset of `options`, each with a drawn value, flattened into argv order."""
    return st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True).flatmap(
        lambda names: st.tuples(*(options[name] for name in names)).map(
            lambda values: [item for pair in zip(names, values) for item in pair]))


@pytest.fixture
def harness(runs_dir, tmp_path, monkeypatch, capsys):
    """Training replaced by a recorder; no shipped weights; a finished run to aim resume and sample at."""
    recorded = []

    def record_training(run, *, extra_steps=None, extra_minutes=None, progress=None):
        recorded.append({"config": run.config(), "extra_steps": extra_steps, "extra_minutes": extra_minutes})
        return run.update_status(state="finished", step=0, elapsed_s=0.0)

    monkeypatch.setattr(training, "train_run", record_training)
    empty_weights = tmp_path / "no-weights"
    empty_weights.mkdir()
    monkeypatch.setattr(weights, "find_shipped", functools.partial(weights.find_shipped, directory=empty_weights))
    monkeypatch.setenv("AIGC_MIN_FREE_MB", "0")
    monkeypatch.chdir(tmp_path)  # a relative --out lands here, never in the project
    existing = RunStore(tmp_path / "other-runs").create(tiny_config().to_dict(), run_id="existing")
    existing.update_status(state="finished")

    def call(argv: list[str]) -> tuple[int, str]:
        capsys.readouterr()
        before = set(runs_dir.iterdir())
        count = len(recorded)
        try:
            code = cli.main(argv)
        except SystemExit as exit:  # argparse's refusal of a malformed command line
            code = exit.code
            assert code == 2, (argv, code)
        output = capsys.readouterr()
        text = output.out + output.err
        assert "Traceback" not in text, (argv, text)
        assert isinstance(code, int), (argv, code)
        if code != 0:
            assert len(recorded) == count, argv  # refused: nothing trained
            assert set(runs_dir.iterdir()) == before, argv  # and no run directory left behind
            errors = [line for line in output.err.splitlines() if line.strip()]
            assert len(errors) == 1 and errors[0].startswith("error:"), (argv, output.err)
        return code, text

    call.recorded = recorded
    call.runs_dir = runs_dir
    call.existing = existing
    return call


def assert_valid_training_configs(recorded: list[dict]) -> None:
    for entry in recorded:
        config = TrainingConfig.from_dict(entry["config"])
        assert validate(config).to_dict() == entry["config"]


@FUZZ_SETTINGS
@given(argv=flags(TRAIN_FLAGS))
def test_train_never_raises_and_never_creates_a_bad_run(harness, argv):
    code, _ = harness(["train", *argv])
    event(f"exit code {code}")  # --hypothesis-show-statistics shows how many were accepted
    assert code in (0, 1, 2)
    assert_valid_training_configs(harness.recorded)
    created = [path for path in harness.runs_dir.iterdir() if path.is_dir()]
    assert len(created) == len(harness.recorded)  # a run directory exists only for accepted commands


@FUZZ_SETTINGS
@given(run=st.one_of(hostile_text, st.just("EXISTING")), budget=flags({"--steps": numberish, "--minutes": numberish,
                                                                       "--epochs": numberish}))
def test_resume_never_raises_and_keeps_to_the_caps(harness, run, budget):
    from aigc_core.config import MAX_MINUTES, MAX_STEPS

    target = str(harness.existing.path) if run == "EXISTING" else run
    count = len(harness.recorded)
    code, _ = harness(["resume", "--run", target, *budget])
    event(f"exit code {code}")
    if code == 0:
        (entry,) = harness.recorded[count:]
        steps, minutes = entry["extra_steps"], entry["extra_minutes"]
        assert steps is None or (type(steps) is int and 1 <= steps <= MAX_STEPS)
        assert minutes is None or (math.isfinite(minutes) and 0 < minutes <= MAX_MINUTES)
        harness.existing.update_status(state="finished")
    else:
        assert len(harness.recorded) == count


@FUZZ_SETTINGS
@given(source=st.sampled_from(["--run", "--weights"]), target=st.one_of(hostile_text, st.just("EXISTING")),
       options=flags({"--num": numberish, "--seed": numberish, "--out": hostile_text}))
def test_sample_never_raises(harness, source, target, options):
    target = str(harness.existing.path) if target == "EXISTING" else target
    if "--out" not in options:
        options = [*options, "--out", "samples.npy"]
    code, _ = harness(["sample", source, target, *options])
    assert code != 0  # no source here has weights: every example is refused, in one line


@FUZZ_SETTINGS
@given(source=st.sampled_from(["--run", "--weights"]), target=st.one_of(hostile_text, st.just("EXISTING")),
       options=flags({"--num": numberish, "--seed": numberish}))
def test_evaluate_never_raises(harness, source, target, options):
    target = str(harness.existing.path) if target == "EXISTING" else target
    code, _ = harness(["evaluate", source, target, *options])
    assert code != 0


@pytest.mark.parametrize("run_dir", ["/etc", "../../..", "/proc"])
def test_train_refuses_a_run_dir_that_exists(harness, run_dir):
    code, text = harness(["train", "--run-dir", run_dir, "--steps", "3"])
    assert code == 2 and "already exists" in text
    assert harness.recorded == []


def test_resume_refuses_infinite_and_huge_budgets(harness):
    for budget in (["--minutes", "inf"], ["--minutes", "1e9"], ["--steps", str(10**12)]):
        code, text = harness(["resume", "--run", str(harness.existing.path), *budget])
        assert code == 2 and budget[0] in text, text
    assert harness.recorded == []


def test_an_accepted_command_reaches_training_with_a_valid_config(harness):
    code, _ = harness(["train", "--model", "vae", "--steps", "3", "--train-limit", "256", "--batch-size", "32"])
    assert code == 0
    (entry,) = harness.recorded
    assert entry["config"]["model"] == "vae" and entry["config"]["steps"] == 3
    assert_valid_training_configs(harness.recorded)
