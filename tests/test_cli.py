"""The command line, as a user runs it: `python -m aigc_core train | sample | list | resume`.

Each subprocess pays TensorFlow's import (seconds), so one tiny run is trained once per module
and reused; most bad-argument cases call `cli.main()` in this process instead, with one
subprocess case checking that TensorFlow's import noise never hides the error line.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest

from aigc_core.cli import main
from aigc_core.runs.store import RunStore, own_process_identity
from conftest import PROJECT_ROOT, leftover_temporary_files

RUN_FILES = (
    "config.json", "status.json", "metrics.jsonl", "model.weights.h5", "model_config.json",
    "optimizer.npz", "checkpoint.json",
)


def cli(*arguments, runs_root, timeout_s: float = 240) -> subprocess.CompletedProcess:
    environment = {**os.environ, "AIGC_RUNS_DIR": str(runs_root)}
    return subprocess.run(
        [sys.executable, "-m", "aigc_core", *map(str, arguments)],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=timeout_s,
    )


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@pytest.fixture(scope="module")
def cli_runs_root(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-runs")


@pytest.fixture(scope="module")
def trained_run(cli_runs_root):
    """A run trained by `python -m aigc_core train`: 5 GAN steps on 256 images."""
    run_dir = cli_runs_root / "tiny-gan"
    result = cli(
        "train", "--model", "gan", "--preset", "fast", "--steps", 5, "--train-limit", 256,
        "--batch-size", 32, "--log-every", 5, "--run-dir", run_dir, runs_root=cli_runs_root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"run directory: {run_dir}" in result.stdout
    assert "run finished" in result.stdout
    return RunStore(cli_runs_root).open_path(run_dir)


def test_train_leaves_a_complete_run(trained_run):
    for name in RUN_FILES:
        assert (trained_run.path / name).is_file(), name
    assert leftover_temporary_files(trained_run.path) == []
    status = trained_run.status()
    assert status["state"] == "finished" and status["step"] == 5 and status["total_steps"] == 5
    config = trained_run.config()
    assert (config["model"], config["preset"], config["steps"], config["batch_size"], config["train_limit"]) == (
        "gan", "fast", 5, 32, 256,
    )
    assert [row["step"] for row in trained_run.metrics()] == [5]
    assert [step for step, _ in trained_run.snapshots()] == [0, 5]
    assert trained_run.checkpoint()["step"] == 5


def test_sample_writes_npy_and_png(trained_run, cli_runs_root, tmp_path, capsys):
    from PIL import Image

    from aigc_core.runs.training import load_run_model

    array_path, grid_path = tmp_path / "samples.npy", tmp_path / "grid.png"
    result = cli("sample", "--run", trained_run.path, "--num", 8, "--out", array_path, runs_root=cli_runs_root)
    assert result.returncode == 0, result.stderr[-3000:]
    images = np.load(array_path)
    assert images.shape == (8, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    # the same images the run's checkpoint gives in this process for seed 0
    np.testing.assert_allclose(images, load_run_model(trained_run).sample(8, seed=0), atol=1e-5)

    # The PNG path through main() in this process: the same code without another TensorFlow import.
    code, stderr = run_main(["sample", "--run", trained_run.path, "--num", 8, "--seed", 3, "--out", grid_path], capsys)
    assert code == 0, stderr
    grid = Image.open(io.BytesIO(grid_path.read_bytes()))
    assert grid.format == "PNG" and grid.mode == "L"
    assert grid.size == (2 * (3 * 30 + 2), 2 * (3 * 30 + 2))  # 3 x 3 tiles of 28 + 2 px gutter, doubled


def test_list_shows_the_run(trained_run, cli_runs_root):
    result = cli("list", runs_root=cli_runs_root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(cli_runs_root) in result.stdout
    row = next(line for line in result.stdout.splitlines() if trained_run.run_id in line)
    assert "finished" in row and "gan-fast" in row
    assert "shipped weights:" in result.stdout


def test_resume_continues_from_the_checkpoint(trained_run, cli_runs_root):
    result = cli("resume", "--run", trained_run.path, "--steps", 5, runs_root=cli_runs_root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming" in result.stdout and "from step 5" in result.stdout
    assert trained_run.status()["state"] == "finished" and trained_run.checkpoint()["step"] == 10
    assert [row["step"] for row in trained_run.metrics()] == [5, 10]
    assert [step for step, _ in trained_run.snapshots()] == [0, 5, 10]


def test_bad_argument_in_a_real_process_exits_2_with_one_clear_line(runs_dir):
    result = cli("train", "--model", "gan", "--lr", "-0.5", "--steps", 5, runs_root=runs_dir)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    line = last_line(result.stderr)
    assert line.startswith("error: ") and "learning_rate" in line and "-0.5" in line
    assert list(runs_dir.iterdir()) == []  # nothing created for a refused request


def run_main(arguments, capsys) -> tuple[int, str]:
    """`cli.main` in this process: (exit status, stderr)."""
    try:
        code = main([str(argument) for argument in arguments])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["train", "--batch-size", 0, "--steps", 5], ["batch_size", "0"]),
        (["train", "--model", "foo"], ["model", "'foo'"]),
        (["train", "--model", "vae", "--preset", "paper"], ["preset", "'paper'"]),
        (["train", "--model", "vae", "--lr", "nan"], ["learning_rate", "nan"]),
        (["train", "--model", "gan", "--beta", 2.0], ["--beta", "VAE"]),
        (["train", "--model", "vae", "--d-steps", 2], ["--d-steps", "GAN"]),
        (["train", "--model", "vae", "--gp-weight", 5], ["--gp-weight", "GAN"]),
        (["train", "--model", "gan", "--preset", "fast", "--gp-weight", 5], ["gp_weight", "gan-fast"]),
        (["train", "--model", "gan", "--preset", "wgan-gp", "--real-label", 0.9], ["real_label", "gan-wgan-gp"]),
        (["train", "--model", "gan", "--real-label", 0.2], ["real_label", "0.2"]),
        (["train", "--latent-dim", 0], ["latent_dim", "0"]),
        (["train", "--steps", 5, "--minutes", 1], ["--minutes", "--steps"]),
        (["train", "--steps", "five"], ["--steps", "'five'"]),
        (["train", "--train-limit", 16, "--batch-size", 32], ["batch_size", "16"]),
        (["sample", "--run", "/nonexistent/run", "--out", "x.npy"], ["/nonexistent/run"]),
        (["sample", "--run", "/nonexistent/run", "--out", "x.jpg"], ["--out", "x.jpg"]),
        (["sample", "--run", "/nonexistent/run", "--num", 0, "--out", "x.npy"], ["--num", "0"]),
        (["resume", "--run", "/nonexistent/run", "--steps", 5], ["/nonexistent/run"]),
        (["fly"], ["fly"]),
    ],
)
def test_bad_arguments_exit_2_with_one_line_naming_the_value(arguments, named, capsys):
    code, stderr = run_main(arguments, capsys)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    for text in named:
        assert text in lines[0]


def test_resume_refuses_a_zero_budget_and_a_running_run(trained_run, capsys):
    code, stderr = run_main(["resume", "--run", trained_run.path, "--steps", 0], capsys)
    assert code == 2 and "--steps must be positive" in stderr
    trained_run.update_status(state="running", **own_process_identity())  # this live process
    try:
        code, stderr = run_main(["resume", "--run", trained_run.path, "--steps", 5], capsys)
        assert code == 2 and "still running" in stderr
    finally:
        trained_run.update_status(state="finished", pid=None)


def test_gan_option_flags_become_the_overrides_of_a_valid_config():
    from aigc_core.cli import _overrides, build_parser
    from aigc_core.config import TrainingConfig, validate

    arguments = build_parser().parse_args(
        ["train", "--model", "gan", "--preset", "fast", "--real-label", "0.9", "--instance-noise", "0.1",
         "--instance-noise-steps", "500"])
    overrides = _overrides(arguments)
    assert overrides == {"real_label": 0.9, "instance_noise": 0.1, "instance_noise_steps": 500}
    assert validate(TrainingConfig(model="gan", preset="fast", overrides=overrides)).overrides == overrides
    wgan = _overrides(build_parser().parse_args(["train", "--model", "gan", "--preset", "wgan-gp", "--gp-weight", "5"]))
    assert validate(TrainingConfig(model="gan", preset="wgan-gp", overrides=wgan)).overrides == {"gp_weight": 5.0}
