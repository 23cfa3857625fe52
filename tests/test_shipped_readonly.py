"""Shipped files are read-only to `evaluate`: a quick `--num 2` must not replace the measured
10,000-sample numbers that Compare shows (it once turned FID 32.3 into 318.7 "on 2 samples")."""

from __future__ import annotations

import json

import pytest

from aigc_core.cli import main
from aigc_core.weights import WEIGHTS_DIR
from test_evaluation import saved_tiny_classifier, tiny_classifier  # noqa: F401  (fixtures)


@pytest.fixture
def shipped_files_kept():
    """Bytes of every file in weights/ (top level); restored afterwards if a test changed one."""
    before = {path: path.read_bytes() for path in WEIGHTS_DIR.iterdir() if path.is_file()}
    yield before
    for path, data in before.items():
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)


def test_evaluate_of_shipped_weights_by_name_leaves_weights_untouched(shipped_files_kept, saved_tiny_classifier,
                                                                         tmp_path, capsys):
    assert main(["evaluate", "--weights", "gan-fast", "--num", "2"]) == 0
    assert "gan-fast" in capsys.readouterr().out
    after = {path: path.read_bytes() for path in WEIGHTS_DIR.iterdir() if path.is_file()}
    assert after == shipped_files_kept

    out = tmp_path / "gan-fast-quick.json"
    assert main(["evaluate", "--weights", "gan-fast", "--num", "2", "--json", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["name"] == "gan-fast" and written["num_samples"] == 2
    assert {path: path.read_bytes() for path in WEIGHTS_DIR.iterdir() if path.is_file()} == shipped_files_kept


def test_evaluate_json_must_name_a_json_file(shipped_files_kept, saved_tiny_classifier, tmp_path, capsys):
    assert main(["evaluate", "--weights", "gan-fast", "--num", "2", "--json", str(tmp_path / "out.h5")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --json expects") and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "out.h5").exists()
