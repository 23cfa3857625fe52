"""bench/classroom.py with tiny values: two visitors, one-second runs, the local executor's one slot.

The full benchmark (30 visitors x 60 s, local and Ray with 1 and 2 nodes) is run by hand.
"""

from __future__ import annotations

import sys

import pytest

from conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import classroom  # noqa: E402


def test_percentiles_and_the_projection_follow_from_the_measured_times():
    assert classroom.percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert classroom.percentile([3.0, 1.0, 2.0, 4.0], 0.95) == 4.0
    with pytest.raises(ValueError, match="expected at least one"):
        classroom.percentile([], 0.5)
    projected = classroom.projection(visitors=30, run_cost_s=60.0, gpus=4)
    assert projected == {"gpus": 4, "wait_max": 7 * 60.0, "finish_max": 8 * 60.0, "runs_per_minute": 4.0}


def test_two_visitors_on_one_local_slot_wait_in_turn(capsys, monkeypatch):
    monkeypatch.setenv("AIGC_EXECUTOR", "local")
    assert classroom.main(["--visitors", "2", "--seconds", "1", "--scenarios", "local", "--timeout", "240"]) == 0
    output = capsys.readouterr().out
    table = output[output.index("| scenario"):]
    row = next(line for line in table.splitlines() if line.startswith("| local"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1:3] == ["2", "2"]  # both runs submitted, both finished
    wait_p50, wait_max = float(cells[3].removesuffix(" s")), float(cells[5].removesuffix(" s"))
    assert wait_max > wait_p50  # one slot: the second visitor waited for the first run
    assert "Projection (not measured)" in output and "| 8 |" in output
