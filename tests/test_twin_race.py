"""The Twin race page: a twin from the runs folder, the demo pack's recorded race, and its link.

No test trains: twins get hand-written snapshots and metric rows (as in test_twin_and_share.py),
and the recorded race of the demo pack is written into a runs folder at once, with a clock
that only moves when slept.
"""

from __future__ import annotations

import json

import pytest

from conftest import FakeClock

from aigc_core.runs import replay
from aigc_core.runs.store import ACTIVE_STATES, RunStore
from aigc_core.experiments.twin import find_twins, race_verdict, write_twin_record
from conftest import wait_for
from test_twin_and_share import isolate_app, make_twin, open_page
from ui.twin_race_view import parse_moment

PAGE = "pages/twin.py"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, runs_dir):
    yield from isolate_app(tmp_path, monkeypatch, runs_dir)



def replay_twin_instantly(store: RunStore, name: str = "twin-race", demo_dir=replay.DEMO_DIR) -> str:
    """The demo pack's twin race written into `store` at once (both runs finished); returns its twin id."""
    recording = replay.load_twin_recording(name, demo_dir)
    runs = []
    for family in replay.TWIN_MEMBERS:
        member = recording.members[family]
        run = store.create(member.config, run_id=store.new_run_id(f"replay-{family}"))
        clock = FakeClock()
        replay.replay_into(run, member, speed=4.0, sleep=clock.sleep, clock=clock)
        # The replay ran in this process: no worker pid left for the teardown to wait on (or to stop).
        run.update_status(pid=None, pid_start_time=None)
        runs.append(run)
    return write_twin_record(runs, recording.seed, recording.budget_kind, recording.budget_value,
                             batch_size=runs[0].config().get("batch_size"))


def three_way_race_instantly(store: RunStore) -> str:
    """A three-way race without training: the demo pack's GAN and VAE written at once, beside a
    hand-made diffusion member on the VAE's clock (its grids the VAE's, noisier; its FID 10% lower).
    Returns the race's twin id."""
    import numpy as np

    replay_twin_instantly(store)
    pair = next(race for race in find_twins(store) if len(race.members) == 2)  # newest first: the one just made
    vae = pair.vae
    config = {**vae.config(), "model": "diffusion", "preset": "fast"}
    diffusion = store.create(config, run_id=store.new_run_id("replay-diffusion"))
    noise = np.random.default_rng(0)
    for step, path in vae.snapshots():
        images = np.clip(vae.load_snapshot(path) + noise.normal(0, 0.15, size=(16, 28, 28))[:len(vae.load_snapshot(path))],
                         0, 1)
        np.save(diffusion.samples_dir / f"step_{step:07d}.npy", images.astype(np.float32))
    diffusion.append_metrics([{"step": row["step"], "elapsed_s": row["elapsed_s"], "loss": 1.0 / (1 + row["step"] / 100),
                               "loss_low_noise": 1.4 / (1 + row["step"] / 100), "loss_high_noise": 0.6 / (1 + row["step"] / 80)}
                              for row in vae.metrics() if "elapsed_s" in row])
    diffusion.append_quality([{**row, "fid": row["fid"] * 0.9} for row in vae.quality() if "fid" in row])
    diffusion.update_status(state="finished", step=vae.status().get("step"), pid=None, pid_start_time=None)
    return write_twin_record([pair.gan, vae, diffusion], pair.seed, pair.budget_kind, pair.budget_value,
                             batch_size=config.get("batch_size"))


def side_headers(app) -> list[str]:
    return [item.value for item in app.markdown if item.value.startswith(("**GAN**", "**VAE**"))]


# -- a twin from the runs folder ----------------------------------------------------------------
def test_the_twin_page_races_a_twin_from_the_runs_folder(store):
    gan, vae, twin_id = make_twin(store)
    gan.append_quality([{"step": 10, "elapsed_s": 4.0, "fid": 90.0}])
    vae.append_quality([{"step": 10, "elapsed_s": 2.0, "fid": 150.0}])
    app = open_page(PAGE, {"twin": twin_id})
    assert app.selectbox(key="twin_choice").value == twin_id
    slider = app.select_slider(key="twin_time")
    assert slider.options == ["0.0 s", "2.0 s", "4.0 s", "8.0 s"] and slider.value == 8.0  # the newest moment
    assert side_headers(app)[0].startswith("**GAN** · step 20") and side_headers(app)[1].startswith("**VAE** · step 20")
    assert len(app.get("plotly_chart")) == 3  # each side's losses and both FID curves
    assert "The GAN leads: FID 90 against 150 for the VAE" in app.success[0].value

    slider.set_value(2.0).run()
    assert not app.exception
    # Each side at its latest snapshot by 2 s; the GAN has scored nothing yet, so no leader.
    assert side_headers(app)[0].startswith("**GAN** · step 0") and side_headers(app)[1].startswith("**VAE** · step 10")
    assert not app.success and "Only the VAE has a quality score" in " ".join(item.value for item in app.caption)
    assert app.query_params.get("at") in ("2.0", ["2.0"])

    app.radio(key="twin_axis").set_value("images").run()
    assert not app.exception
    assert app.select_slider(key="twin_time").options[-1] == f"{20 * vae.config()['batch_size']:,} images"
    assert app.query_params.get("axis") in ("images", ["images"])
    assert app.get("download_button")


def test_moments_a_person_cannot_tell_apart_are_one_stop_of_the_slider(store):
    """Defect 10: two snapshots 3.96 s and 4.04 s into the race were two stops both reading "4 s"."""
    _gan, _vae, twin_id = make_twin(store, gan_timeline=((0, 0.0), (10, 3.96), (20, 9.0)),
                                    vae_timeline=((0, 0.0), (10, 4.04), (20, 6.0)))
    app = open_page(PAGE, {"twin": twin_id})
    options = app.select_slider(key="twin_time").options
    assert options == ["0.0 s", "4.0 s", "6.0 s", "9.0 s"]
    app.select_slider(key="twin_time").set_value(4.0).run()
    # The one stop shows both sides' snapshots of that moment.
    assert [header.split(" · ")[1] for header in side_headers(app)] == ["step 10", "step 10"]


def test_a_shared_link_opens_the_same_moment(store):
    _gan, _vae, twin_id = make_twin(store)
    app = open_page(PAGE, {"twin": twin_id, "axis": "seconds", "at": "4.0"})
    assert app.select_slider(key="twin_time").value == 4.0 and not app.info


def test_a_link_s_moment_is_parsed_strictly():
    moments = [0.0, 2.0, 4.0, 8.0]
    assert parse_moment("5", moments) == 4.0  # between two stops (a link made mid-replay): the one before
    assert parse_moment("8.0", moments) == 8.0
    for text in ("99", "-1", "٣", "4e0", " 4", "4.", "4.00", "", None, "1" * 40):
        assert parse_moment(text, moments) is None, text


@pytest.mark.parametrize("query, controls", [
    ({"twin": "20200101-000000-twin-abcdef"}, ["twin pair"]),
    ({"twin": "x,y", "axis": "hours", "at": "4e3"}, ["twin pair", "race clock", "race moment"]),
])
def test_bad_link_values_give_a_notice_and_the_defaults(store, query, controls):
    _gan, _vae, twin_id = make_twin(store)
    app = open_page(PAGE, query)
    assert not app.error and not app.exception
    notices = [item.value for item in app.info]
    for control in controls:
        assert any(notice.startswith(f"This link's {control} is not") for notice in notices), notices
    assert app.selectbox(key="twin_choice").value == twin_id
    assert app.radio(key="twin_axis").value == "seconds"
    assert app.select_slider(key="twin_time").value == 8.0


def test_compare_keeps_a_link_to_the_twin_race(store):
    _gan, _vae, twin_id = make_twin(store)
    app = open_page("pages/compare.py", {"twin": twin_id})
    # The race itself is gone from Compare (only the timeline's slider is left there).
    assert [slider.key for slider in app.get("select_slider")] == ["compare_timeline_step"]
    assert [link.proto.query_string for link in app.get("page_link")
            if twin_id in link.proto.query_string] == [f"twin={twin_id}"]


# -- the recorded race ---------------------------------------------------------------------------
def test_the_recorded_race_replays_on_the_twin_page(store):
    app = open_page(PAGE)
    assert "No twin race yet" in app.info[0].value
    app.button(key="twin_replay").click().run()
    assert not app.exception and not app.error
    twins = find_twins(store)
    assert len(twins) == 1 and [run.status().get("replay", {}).get("speed") for run in twins[0].runs] == [4.0, 4.0]
    # Both replay processes fill their runs; the page races them as soon as a snapshot is there.
    wait_for(lambda: all(run.snapshots() for run in twins[0].runs), 30, message="the replays' first snapshots")
    app.run()
    assert app.selectbox(key="twin_choice").value == twins[0].twin_id
    assert [header[:7] for header in side_headers(app)] == ["**GAN**", "**VAE**"]
    for run in twins[0].runs:
        if run.status().get("state") in ACTIVE_STATES:
            run.request_stop()
    wait_for(lambda: all(run.status().get("state") not in ACTIVE_STATES for run in twins[0].runs), 30,
             message="both replays to stop")


def test_the_recorded_race_on_the_page_has_a_verdict(store):
    twin_id = replay_twin_instantly(store)
    app = open_page(PAGE, {"twin": twin_id})
    assert not app.exception
    assert len(app.select_slider(key="twin_time").options) >= 20
    assert app.success and "leads: FID" in app.success[0].value
    assert len(app.get("image")) >= 2


def test_race_verdict_judges_each_side_only_on_what_it_had_measured(store):
    gan, vae, twin_id = make_twin(store)
    twin = find_twins(store)[0]
    assert race_verdict(twin, 10.0).leader is None  # nothing measured
    gan.append_quality([{"step": 10, "elapsed_s": 4.0, "fid": 100.0}, {"step": 20, "elapsed_s": 8.0, "fid": 60.0}])
    vae.append_quality([{"step": 10, "elapsed_s": 2.0, "fid": 80.0}])
    assert race_verdict(twin, 3.0).fid == {"gan": None, "vae": 80.0}
    assert race_verdict(twin, 5.0).leader == "vae"
    assert race_verdict(twin, 8.0).leader == "gan"
    vae.append_quality([{"step": 20, "elapsed_s": 7.0, "fid": 62.0}])
    assert race_verdict(twin, 8.0).leader is None  # within a few percent: level
    assert race_verdict(twin, 20 * gan.config()["batch_size"], axis="images").fid == {"gan": 60.0, "vae": 62.0}


def test_a_three_way_verdict_ranks_every_member_by_fid_and_waits_for_all(store):
    from test_twin_and_share import TINY, add_fake_timeline
    from aigc_core.experiments.twin import launch_twin

    gan, vae, diffusion = launch_twin(3, "steps", 20, store, families=("gan", "vae", "diffusion"), **TINY)
    for run, level in ((gan, 0.2), (vae, 0.5), (diffusion, 0.8)):
        add_fake_timeline(run, ((0, 0.0), (10, 3.0), (20, 6.0)), level)
    (race,) = find_twins(store)
    gan.append_quality([{"step": 10, "elapsed_s": 3.0, "fid": 120.0}, {"step": 20, "elapsed_s": 6.0, "fid": 50.0}])
    vae.append_quality([{"step": 10, "elapsed_s": 3.0, "fid": 90.0}])
    early = race_verdict(race, 4.0)
    # Two of three measured: ranked, but nobody leads while diffusion might be ahead.
    assert (early.leader, early.ranking) == (None, ("vae", "gan")) and early.fid["diffusion"] is None
    diffusion.append_quality([{"step": 10, "elapsed_s": 3.5, "fid": 200.0}, {"step": 20, "elapsed_s": 6.0, "fid": 52.0}])
    assert race_verdict(race, 4.0).ranking == ("vae", "gan", "diffusion")
    assert race_verdict(race, 4.0).leader == "vae"
    late = race_verdict(race, 6.0)  # GAN 50 and diffusion 52 are within 5%: neck and neck, ahead of the VAE
    assert (late.leader, late.ranking, late.level) == (None, ("gan", "diffusion", "vae"), ("gan", "diffusion"))


def test_the_twin_page_shows_every_member_of_a_three_way_race(store):
    from test_twin_and_share import TINY, add_fake_timeline
    from aigc_core.experiments.twin import launch_twin

    gan, vae, diffusion = launch_twin(3, "steps", 20, store, families=("gan", "vae", "diffusion"), **TINY)
    for run, level in ((gan, 0.2), (vae, 0.5), (diffusion, 0.8)):
        add_fake_timeline(run, ((0, 0.0), (10, 3.0), (20, 6.0)), level)
    for run, fid in ((gan, 80.0), (vae, 120.0), (diffusion, 40.0)):
        run.append_quality([{"step": 20, "elapsed_s": 6.0, "fid": fid}])
    (race,) = find_twins(store)
    app = open_page(PAGE, {"twin": race.twin_id})
    headers = [item.value for item in app.markdown if item.value.startswith(("**GAN**", "**VAE**", "**Diffusion**"))]
    assert [header.split(" ·")[0] for header in headers] == ["**GAN**", "**VAE**", "**Diffusion**"]
    assert len(app.get("image")) >= 3
    quality = json.loads(app.get("plotly_chart")[-1].proto.spec)
    assert [trace["name"] for trace in quality["data"]] == ["GAN", "VAE", "Diffusion"]
    assert len(app.get("plotly_chart")) == 4  # three members' losses and the FID curves
    assert "The Diffusion leads: FID Diffusion 40 · GAN 80 · VAE 120" in app.success[0].value
    assert app.selectbox(key="twin_choice").options[0].startswith("GAN vs VAE vs Diffusion · ")
