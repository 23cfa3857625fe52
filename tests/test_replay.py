"""The demo pack: a recorded run replays into an ordinary run directory, at a chosen speed.

The recording here is made from a small hand-built run (no training): what matters is that
the replay writes back exactly what was recorded, paced by the recorded times, and stops
when asked. The shipped pack itself is checked at the end: small, loadable, and each
"break it" recording shows the failure its preset promises.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import FakeClock

from aigc_core.runs import replay
from aigc_core.runs.store import PROJECT_ROOT, RunStore
from conftest import wait_for

STEPS = (0, 10, 20, 30)


def make_finished_run(store: RunStore, state: str = "finished", error: str | None = None, model: str = "gan"):
    run = store.create({"model": model, "preset": "fast", "steps": 30, "batch_size": 32})
    run.append_metrics([{"step": step, "elapsed_s": step / 10, "d_loss": 1.0 / (step + 1), "g_loss": 2.0,
                         "d_real": 0.8, "d_fake": 0.2} for step in STEPS[1:]])
    run.append_quality([{"step": 20, "elapsed_s": 2.0, "fid": 80.0, "inception_score": 3.0}])
    rng = np.random.default_rng(0)
    for step in STEPS:
        np.save(run.samples_dir / f"step_{step:07d}.npy", rng.random((4, 28, 28), dtype=np.float32))
    run.update_status(state=state, error=error, step=30, total_steps=30, elapsed_s=3.0)
    return run



def test_a_replay_writes_back_what_was_recorded_at_the_recorded_pace(store, tmp_path):
    original = make_finished_run(store, state="failed", error="training diverged at step 30")
    replay.record(original, "healthy", "A title", "A note", demo_dir=tmp_path)
    recording = replay.load_recording("healthy", demo_dir=tmp_path)
    target = store.create(recording.config)
    clock = FakeClock()
    status = replay.replay_into(target, recording, speed=0.5, sleep=clock.sleep, clock=clock)

    assert target.metrics() == original.metrics()
    assert target.quality() == original.quality()
    assert [step for step, _ in target.snapshots()] == list(STEPS)
    for (_, copied), (_, source) in zip(target.snapshots(), original.snapshots()):
        np.testing.assert_allclose(np.load(copied), np.load(source), atol=0.5 / 255 + 1e-6)
    assert status["state"] == "failed" and "diverged" in status["error"]
    assert clock.now == pytest.approx(3.0 / 0.5, abs=replay.POLL_S)  # 3 s recorded, half speed


def test_a_stop_request_ends_a_replay_early(store, tmp_path):
    replay.record(make_finished_run(store), "healthy", "t", "n", demo_dir=tmp_path)
    recording = replay.load_recording("healthy", demo_dir=tmp_path)
    target = store.create(recording.config)
    clock = FakeClock()

    def sleep_then_stop(seconds):
        clock.sleep(seconds)
        if clock.now > 1.5:
            target.request_stop()

    status = replay.replay_into(target, recording, speed=1.0, sleep=sleep_then_stop, clock=clock)
    assert status["state"] == "stopped"
    assert 0 < len(target.metrics()) < len(recording.metrics)


def test_pause_and_step_hold_a_replay_like_a_training_run(store, tmp_path):
    from aigc_core.runs.run_control import request_pause, request_resume, request_steps

    replay.record(make_finished_run(store), "healthy", "t", "n", demo_dir=tmp_path)
    recording = replay.load_recording("healthy", demo_dir=tmp_path)
    target = store.create(recording.config)
    request_pause(target)
    clock, seen = FakeClock(), []

    def sleep(seconds):
        clock.sleep(seconds)
        seen.append(len(target.metrics()))
        if len(seen) == 50:
            request_steps(target, 10)  # one Step of 10 while paused: exactly one more logged row
        if len(seen) == 200:
            request_resume(target)

    status = replay.replay_into(target, recording, speed=1.0, sleep=sleep, clock=clock)
    assert status["state"] == "finished"
    assert seen[49] == 0 and target.raw_status()["paused"] is False  # held before its first row while paused
    assert 1 in seen[:200] and 2 not in seen[:200]  # Step 10 let exactly the step-10 row through
    assert len(target.metrics()) == len(recording.metrics)


def test_unknown_names_speeds_and_damaged_files_are_refused(store, tmp_path):
    with pytest.raises(ValueError, match="demo recordings"):
        replay.load_recording("../../etc/passwd", demo_dir=tmp_path)
    replay.record(make_finished_run(store), "healthy", "t", "n", demo_dir=tmp_path)
    with pytest.raises(ValueError, match="speed"):
        replay.start_replay("healthy", speed=100.0, store=store, demo_dir=tmp_path)
    (tmp_path / "healthy.json").write_text("{not json")
    with pytest.raises(ValueError, match="damaged"):
        replay.load_recording("healthy", demo_dir=tmp_path)


def test_a_replay_process_runs_without_tensorflow_and_finishes(store, tmp_path):
    replay.record(make_finished_run(store), "healthy", "t", "n", demo_dir=tmp_path)
    run = replay.start_replay("healthy", speed=4.0, store=store, demo_dir=tmp_path)
    assert run.raw_status()["replay"]["name"] == "healthy"
    wait_for(lambda: run.raw_status().get("state") == "finished", 60,
             message=lambda: (run.path / "worker.log").read_text())
    assert len(run.metrics()) == len(STEPS) - 1
    probe = subprocess.run([sys.executable, "-c", "import sys, aigc_core.runs.replay; print('tensorflow' in sys.modules)"],
                           cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "False"


# -- twin races ---------------------------------------------------------------------------------
def test_a_recorded_twin_replays_both_members_as_they_were(store, tmp_path):
    gan, vae = make_finished_run(store), make_finished_run(store, model="vae")
    vae.append_metrics([{"step": 40, "elapsed_s": 5.0, "loss": 1.0}])  # the VAE's clock runs longer
    replay.record_twin(gan, vae, "race", "A race", "A note", seed=3, budget_kind="steps", budget_value=30,
                       demo_dir=tmp_path)
    assert replay.list_recordings(tmp_path) == []  # never offered as a single run
    recording = replay.load_twin_recording("race", demo_dir=tmp_path)
    assert (recording.seed, recording.budget_kind, recording.budget_value) == (3, "steps", 30.0)
    assert recording.duration_s == 5.0
    for family, original in zip(replay.TWIN_MEMBERS, (gan, vae)):
        member = recording.members[family]
        target = store.create(member.config)
        clock = FakeClock()
        status = replay.replay_into(target, member, speed=2.0, sleep=clock.sleep, clock=clock)
        assert status["state"] == "finished" and member.family == family
        assert target.metrics() == original.metrics() and target.quality() == original.quality()
        assert [step for step, _ in target.snapshots()] == list(STEPS)
        # Each member keeps its own recorded pace: its last row at its own time, halved.
        assert clock.now == pytest.approx(max(row["elapsed_s"] for row in original.metrics()) / 2, abs=replay.POLL_S)
    with pytest.raises(ValueError, match="Expected a VAE run"):
        replay.record_twin(gan, gan, "bad", "t", "n", 3, "steps", 30, demo_dir=tmp_path)
    with pytest.raises(ValueError, match="twin recordings"):
        replay.load_twin_recording("../race", demo_dir=tmp_path)
    (tmp_path / replay.TWIN_SUBDIR / "race.npz").write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="damaged"):
        replay.load_twin_recording("race", demo_dir=tmp_path)


def test_a_twin_replay_makes_a_twin_whose_two_processes_finish(store, tmp_path):
    from aigc_core.experiments.twin import find_twins

    replay.record_twin(make_finished_run(store), make_finished_run(store, model="vae"), "race", "t", "n",
                       seed=3, budget_kind="steps", budget_value=30, demo_dir=tmp_path)
    with pytest.raises(ValueError, match="speed"):
        replay.start_twin_replay("race", speed=3.0, store=store, demo_dir=tmp_path)
    gan, vae = replay.start_twin_replay("race", speed=4.0, store=store, demo_dir=tmp_path, owner="someone")
    twin = next(twin for twin in find_twins(store) if twin.gan.run_id == gan.run_id)
    assert twin.vae.run_id == vae.run_id and twin.seed == 3
    for run in (gan, vae):
        assert run.raw_status()["owner"] == "someone"
        wait_for(lambda: run.raw_status().get("state") == "finished", 60,
                 message=lambda: (run.path / "worker.log").read_text())
        assert len(run.snapshots()) == len(STEPS)


# -- the shipped pack ------------------------------------------------------------------------
SHIPPED = replay.list_recordings()


def test_the_shipped_twin_race_is_small_and_fair():
    assert replay.list_twin_recordings() == ["twin-race"]
    size = sum(path.stat().st_size for path in (replay.DEMO_DIR / replay.TWIN_SUBDIR).glob("twin-race.*"))
    assert size < 600_000, f"the twin race is {size / 1e3:.0f} kB"
    recording = replay.load_twin_recording("twin-race")
    gan, vae = (recording.members[family] for family in replay.TWIN_MEMBERS)
    assert (gan.family, vae.family) == ("gan", "vae")
    for field in ("seed", "batch_size", "steps", "dataset"):
        assert gan.config[field] == vae.config[field], field
    for member in (gan, vae):
        assert member.final_status["state"] == "finished" and len(member.metrics) >= 10
        assert len(member.snapshot_steps) >= 10 and len(member.quality) >= 5


def test_the_shipped_pack_is_small_and_covers_the_lesson():
    sizes = sum(path.stat().st_size for path in replay.DEMO_DIR.rglob("*") if path.is_file())
    assert sizes < 6_000_000, f"the demo pack is {sizes / 1e6:.1f} MB"
    families = {replay.load_recording(name).family for name in SHIPPED}
    assert {"gan", "vae"} <= families
    assert any(replay.load_recording(name).broken for name in SHIPPED), "no break-it recording"


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_recording_shows_what_its_title_promises(name):
    from aigc_core.quality.diagnosis import BROKEN_PRESETS, diagnose

    recording = replay.load_recording(name)
    broken = recording.broken
    if recording.final_status.get("state") == "failed":  # a divergence ends before its first logged row
        assert recording.final_status.get("error") and len(recording.snapshot_steps) >= 1
    else:
        assert len(recording.metrics) >= 10 and len(recording.snapshot_steps) >= 5
    findings = diagnose(recording.family, recording.metrics, recording.snapshots[-1].astype(np.float32) / 255,
                        error=recording.final_status.get("error"))
    kinds = {finding.kind for finding in findings if finding.severity in ("error", "warning")}
    if broken:
        assert BROKEN_PRESETS[broken].expected_kind in kinds, (name, kinds)
    else:
        assert not kinds, f"the healthy recording {name} shows {kinds}"
