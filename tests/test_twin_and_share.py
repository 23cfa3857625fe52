"""Twin runs (launch, find; the race itself: test_twin_race.py) and shareable views (URL state, presentation mode).

No test trains: worker processes are replaced by a recorder (the queue and the worker have
their own tests), twin timelines get hand-written snapshots and metric rows, and models for
Compare/Latent are untrained tiny exports in a temp weights folder.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from conftest import end_workers
from aigc_core.runs.store import PROJECT_ROOT, RunStore
from aigc_core.experiments.twin import (DEFAULT_BATCH_SIZE, TWIN_FILE, find_twin, find_twins, launch_twin, snapshot_at,
                            timed_snapshots, twin_configs, twin_moments)

APP = str(PROJECT_ROOT / "app.py")
TIMEOUT_S = 120  # a busy CI machine once took over 60 s for a first Compare render
TINY = {"train_limit": 256, "num_snapshot_samples": 16}


def _end_workers(store: RunStore, timeout_s: float = 30.0) -> None:
    end_workers(store, timeout_s)


def isolate_app(tmp_path, monkeypatch, runs_dir):
    """An autouse fixture's body (`yield from`): an empty weights folder, fresh caches, workers
    recorded instead of started; yields {"weights": folder, "spawned": run ids}."""
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(weights_dir))
    spawned = []
    monkeypatch.setattr("aigc_core.runs.worker.spawn_worker", lambda run, *args: spawned.append(run.run_id))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield {"weights": weights_dir, "spawned": spawned}
    st.cache_resource.clear()
    st.cache_data.clear()
    _end_workers(RunStore(runs_dir))


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, runs_dir):
    yield from isolate_app(tmp_path, monkeypatch, runs_dir)


def add_fake_timeline(run, steps_and_seconds, value: float) -> None:
    """Snapshots (16 images of one grey level) at the given steps, metric rows with their times."""
    for step, _ in steps_and_seconds:
        np.save(run.samples_dir / f"step_{step:07d}.npy", np.full((16, 28, 28), value, dtype=np.float32))
    run.append_metrics([{"step": step, "epoch": 0, "elapsed_s": seconds, "loss": 1.0}
                        for step, seconds in steps_and_seconds if step])


def make_twin(store, gan_timeline=((0, 0.0), (10, 4.0), (20, 8.0)), vae_timeline=((0, 0.0), (10, 2.0), (20, 4.0))):
    gan, vae = launch_twin(3, "steps", 20, store, **TINY)
    add_fake_timeline(gan, gan_timeline, 0.2)
    add_fake_timeline(vae, vae_timeline, 0.8)
    return gan, vae, json.loads((gan.path / TWIN_FILE).read_text())["twin_id"]


def open_page(page: str, query: dict | None = None, **state) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.query_params.update(query or {})
    for key, value in state.items():
        app.session_state[key] = value
    app.switch_page(page).run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def export_tiny_models(directory) -> list[str]:
    """Two untrained shipped models (a GAN and a VAE): sources for Compare and Latent."""
    from aigc_core.models.registry import build_model
    from aigc_core.weights import export_weights

    keys = []
    for family, config in (("gan", {"architecture": "fast", "latent_dim": 8}),
                           ("vae", {"architecture": "fast", "latent_dim": 2})):
        model = build_model(family, config)
        model.sample(1, seed=0)  # builds the networks so their weights can be saved
        export_weights(model, f"tiny-{family}", directory, description="untrained, for the test")
        keys.append(f"weights:tiny-{family}")
    return keys


# -- twin runs: the library -------------------------------------------------------------------
def test_launch_twin_queues_a_gan_and_a_vae_on_one_budget(store, isolated):
    gan, vae = launch_twin(5, "steps", 40, store, **TINY)
    assert isolated["spawned"] == [gan.run_id, vae.run_id]  # one worker each, through worker.launch
    configs = gan.config(), vae.config()
    assert [config["model"] for config in configs] == ["gan", "vae"]
    assert [config["preset"] for config in configs] == ["fast", "fast"]
    for config in configs:
        assert (config["seed"], config["steps"], config["minutes"]) == (5, 40, None)
        assert config["batch_size"] == DEFAULT_BATCH_SIZE and config["train_limit"] == 256
    assert [run.status()["state"] for run in (gan, vae)] == ["queued", "queued"]
    records = [json.loads((run.path / TWIN_FILE).read_text()) for run in (gan, vae)]
    assert records[0] == records[1]
    assert records[0]["runs"] == {"gan": gan.run_id, "vae": vae.run_id}
    assert records[0]["budget"] == {"kind": "steps", "value": 40}
    assert not list(gan.path.glob(".*.tmp"))

    twins = find_twins(store)
    assert len(twins) == 1
    assert (twins[0].gan.run_id, twins[0].vae.run_id, twins[0].seed) == (gan.run_id, vae.run_id, 5)
    assert find_twin(records[0]["twin_id"], store).twin_id == records[0]["twin_id"]
    assert find_twin(f"{gan.run_id},{vae.run_id}", store).twin_id == records[0]["twin_id"]
    for stale in ("no-such-twin", "../etc", f"{vae.run_id},{gan.run_id}", "", None):
        assert find_twin(stale, store) is None


THREE_WAY = ("gan", "vae", "diffusion")


def ids(runs) -> list[str]:
    return [run.run_id for run in runs]


def test_a_three_way_race_queues_gan_vae_and_diffusion_on_one_budget_and_seed(store, isolated):
    runs = launch_twin(7, "steps", 30, store, families=THREE_WAY, **TINY)
    assert isolated["spawned"] == [run.run_id for run in runs]
    configs = [run.config() for run in runs]
    assert [(config["model"], config["preset"]) for config in configs] == [(family, "fast") for family in THREE_WAY]
    assert {(config["seed"], config["steps"], config["minutes"], config["batch_size"]) for config in configs} == {
        (7, 30, None, DEFAULT_BATCH_SIZE)}
    records = [json.loads((run.path / TWIN_FILE).read_text()) for run in runs]
    assert records[0] == records[1] == records[2]
    assert records[0]["runs"] == dict(zip(THREE_WAY, (run.run_id for run in runs)))
    (race,) = find_twins(store)
    assert race.families == THREE_WAY and ids(race.runs) == ids(runs) and race.member("diffusion").run_id == runs[2].run_id
    assert find_twin(",".join(run.run_id for run in runs), store).twin_id == race.twin_id
    assert find_twin(f"{runs[0].run_id},{runs[1].run_id}", store) is None  # two of three names no race
    for run in runs:
        run.update_status(state="stopped")
    store.delete(runs[2].run_id)
    assert find_twins(store) == []  # a member gone: the race is gone, not shown as a pair


def test_a_race_of_unknown_families_is_refused_before_anything_is_queued(store, isolated):
    for families in (("gan",), ("vae", "gan"), ("gan", "diffusion"), ("gan", "vae", "vae")):
        with pytest.raises(ValueError, match="Expected families"):
            launch_twin(1, "steps", 5, store, families=families, **TINY)
    assert store.list() == [] and isolated["spawned"] == []


def test_a_twin_recorded_before_three_way_races_still_opens(store, isolated):
    """The `twin.json` that two-member twins have always written (pinned here as it was) reads as a pair."""
    gan, vae = (store.create({"model": family, "preset": "fast", "seed": 2, "steps": 9, "batch_size": 64})
                for family in ("gan", "vae"))
    legacy = {"twin_id": "20260101-120000-twin-abc123", "runs": {"gan": gan.run_id, "vae": vae.run_id},
              "run_ids": [gan.run_id, vae.run_id], "seed": 2, "budget": {"kind": "steps", "value": 9},
              "batch_size": 64, "created_at": 1767268800.0}
    for run in (gan, vae):
        (run.path / TWIN_FILE).write_text(json.dumps(legacy))
    (twin,) = find_twins(store)
    assert (twin.twin_id, twin.families, ids(twin.runs), twin.seed) == (legacy["twin_id"], ("gan", "vae"), ids((gan, vae)), 2)
    assert (twin.gan.run_id, twin.vae.run_id, twin.member("diffusion")) == (gan.run_id, vae.run_id, None)
    assert find_twin(f"{gan.run_id},{vae.run_id}", store).twin_id == legacy["twin_id"]


def test_twin_minutes_budget_and_refusals(store, isolated):
    gan_config, vae_config = twin_configs(1, "minutes", 1.5)
    assert gan_config.minutes == vae_config.minutes == 1.5 and gan_config.steps is None
    with pytest.raises(ValueError, match="budget_kind"):
        launch_twin(1, "epochs", 2, store)
    with pytest.raises(ValueError):
        launch_twin(1, "steps", 0, store)
    assert store.list() == [] and isolated["spawned"] == []  # nothing half-launched


def test_a_twin_whose_partner_was_deleted_is_not_listed(store, isolated):
    gan, vae = launch_twin(0, "steps", 10, store, **TINY)
    for run in (gan, vae):
        run.update_status(state="stopped")
    store.delete(vae.run_id)
    assert find_twins(store) == []


def test_twin_clock_picks_the_latest_snapshot_at_each_moment(store, isolated):
    gan, vae, _ = make_twin(store)
    assert [(moment, step) for moment, step, _ in timed_snapshots(gan, "seconds")] == [(0, 0), (4, 10), (8, 20)]
    assert [moment for moment, _, _ in timed_snapshots(vae, "images")] == [0, 10 * DEFAULT_BATCH_SIZE,
                                                                          20 * DEFAULT_BATCH_SIZE]
    timed = timed_snapshots(gan, "seconds")
    assert snapshot_at(timed, 3.9)[1] == 0 and snapshot_at(timed, 4.0)[1] == 10 and snapshot_at(timed, 99)[1] == 20
    twin = find_twins(store)[0]
    assert twin_moments(twin, "seconds") == [0, 2, 4, 8]
    with pytest.raises(ValueError, match="axis"):
        timed_snapshots(gan, "epochs")


# -- twin runs: the pages ----------------------------------------------------------------------
def test_train_twin_button_launches_the_pair_and_shows_both(isolated):
    app = open_page("pages/train.py", train_seed=11, train_budget_kind="steps", train_steps=30)
    app.button(key="train_twin").click().run()
    assert not app.exception, [item.value for item in app.exception]
    twins = find_twins(RunStore())
    assert len(twins) == 1 and len(isolated["spawned"]) == 2
    twin = twins[0]
    assert app.query_params.get("twin") in (twin.twin_id, [twin.twin_id])
    assert twin.seed == 11 and twin.budget_kind == "steps" and twin.budget_value == 30
    assert [run.config()["steps"] for run in twin.runs] == [30, 30]
    markdown = " ".join(item.value for item in app.markdown)
    assert twin.gan.run_id in markdown and twin.vae.run_id in markdown
    assert app.button(key="train_twin_stop")

    # The link reopens the pair in a fresh session; a stale twin id is one calm line.
    reopened = open_page("pages/train.py", {"twin": twin.twin_id})
    assert twin.vae.run_id in " ".join(item.value for item in reopened.markdown)
    stale = open_page("pages/train.py", {"twin": "20200101-000000-twin-abcdef"})
    assert not stale.error and any("no longer exists" in item.value for item in stale.info)


def test_with_diffusion_ticked_the_train_button_launches_a_three_way_race(isolated):
    # A visitor, not the operator: the race has three members against the per-browser cap of two,
    # and a race counts as one start for a browser with nothing else queued.
    app = open_page("pages/train.py", train_seed=4, train_budget_kind="steps", train_steps=25)
    assert app.button(key="train_twin").label == "Twin run: GAN vs VAE"
    app.checkbox(key="train_twin_diffusion").check().run()
    assert app.button(key="train_twin").label == "Three-way race: GAN vs VAE vs diffusion"
    app.button(key="train_twin").click().run()
    assert not app.exception and not app.error, [item.value for item in app.exception] + [e.value for e in app.error]
    (race,) = find_twins(RunStore())
    assert race.families == THREE_WAY and len(isolated["spawned"]) == 3
    assert {(run.config()["seed"], run.config()["steps"]) for run in race.runs} == {(4, 25)}
    markdown = " ".join(item.value for item in app.markdown)
    assert all(run.run_id in markdown for run in race.runs)
    assert any(item.value.startswith("Three-way race: GAN vs VAE vs Diffusion") for item in app.subheader)


# The race itself (slider, both sides at a moment, the clock) is tested on its own page: test_twin_race.py.


def test_twin_gif_for_the_pair_is_a_two_grid_animation(store, isolated):
    from PIL import Image
    import io

    from ui.twin_race_view import _twin_gif

    gan, vae, _ = make_twin(store)
    gif = _twin_gif((gan.run_id, vae.run_id), "time", ((0, 10, 20), (0, 10, 20)))
    image = Image.open(io.BytesIO(gif))
    assert image.format == "GIF" and image.n_frames == 4  # moments 0, 2, 4 and 8 s


# -- shareable views --------------------------------------------------------------------------
def test_compare_opens_with_the_values_of_a_shared_link(isolated):
    gan_key, vae_key = export_tiny_models(isolated["weights"])
    app = open_page("pages/compare.py", {"left": vae_key, "right": gan_key, "seed": "7"})
    assert app.selectbox(key="compare_left").value == vae_key
    assert app.selectbox(key="compare_right").value == gan_key
    assert app.number_input(key="compare_seed").value == 7
    assert any("seed 7" in image.proto.imgs[0].caption for image in app.get("image") if image.proto.imgs)
    # Changes are written back, so the address bar always holds a link to this view.
    app.number_input(key="compare_seed").set_value(9).run()
    assert app.query_params.get("seed") in ("9", ["9"])
    assert app.query_params.get("left") in (vae_key, [vae_key])


@pytest.mark.parametrize("query", [
    {"left": "weights:deleted", "right": "run:../../etc", "seed": "-3"},
    {"left": "nonsense", "seed": "12abc", "timeline": "no/such/run", "twin": "x,y"},
])
def test_compare_falls_back_on_a_stale_link_with_a_notice(isolated, query):
    gan_key, vae_key = export_tiny_models(isolated["weights"])
    app = open_page("pages/compare.py", query)
    assert not app.error
    assert any(item.value.startswith("This link's left model is not") for item in app.info)
    assert app.selectbox(key="compare_left").value == gan_key  # the page's own defaults
    assert app.selectbox(key="compare_right").value == vae_key
    assert app.number_input(key="compare_seed").value == 0


def test_latent_runs_and_home_restore_from_the_url(store, isolated):
    gan_key, vae_key = export_tiny_models(isolated["weights"])
    latent = open_page("pages/latent.py", {"source": gan_key, "seed_a": "4", "seed_b": "5", "method": "linear"})
    assert latent.selectbox(key="latent_source").value == gan_key
    assert (latent.number_input(key="latent_seed_a").value, latent.number_input(key="latent_seed_b").value) == (4, 5)
    assert latent.radio(key="latent_method").value == "linear"
    stale = open_page("pages/latent.py", {"source": "weights:gone", "method": "cubic", "seed_a": "x"})
    assert not stale.error and stale.selectbox(key="latent_source").value == gan_key

    home = open_page("pages/home.py", {"seed": "42"})
    assert home.number_input(key="home_seed").value == 42

    first, second = (store.create({"model": "gan", "preset": "fast"}) for _ in range(2))
    for run in (first, second):
        run.update_status(state="finished")
    older = store.list()[-1].run_id
    runs = open_page("pages/runs.py", {"run": older})
    assert runs.selectbox(key="runs_select").value == older
    stale_runs = open_page("pages/runs.py", {"run": "../x"})
    assert not stale_runs.exception and stale_runs.selectbox(key="runs_select").value == store.list()[0].run_id


def test_presentation_mode_from_the_url_and_the_toggle(isolated):
    from ui import share

    def styled(page) -> bool:  # the presentation stylesheet is on the page
        return any(item.value.strip() == share.PRESENTATION_CSS.strip() for item in page.markdown)

    app = open_page("pages/home.py", {"present": "1"})
    assert app.toggle(key="presentation_mode").value is True
    assert styled(app)

    plain = open_page("pages/home.py")
    assert plain.toggle(key="presentation_mode").value is False
    assert not styled(plain)
    assert "present" not in plain.query_params
    # AppTest's later runs skip app.py (and so the sidebar): a toggled session is a fresh one here.
    switched_on = open_page("pages/home.py", presentation_mode=True)
    assert switched_on.query_params.get("present") in ("1", ["1"])
    switched_off = open_page("pages/home.py", {"present": "1"}, presentation_mode=False)
    assert "present" not in switched_off.query_params  # the session's toggle wins over the link
    assert not styled(switched_off)
    assert share.figure_scale() == 1.0  # outside a script run: figures keep their normal size


def test_loss_figures_grow_in_presentation_mode(monkeypatch):
    from ui import charts, share

    rows = [{"step": 1, "loss": 1.0, "reconstruction_loss": 0.9, "kl_loss": 0.1}]
    normal = charts.loss_figure(rows, "vae").layout.height
    monkeypatch.setattr(share, "presentation_mode", lambda: True)
    assert charts.loss_figure(rows, "vae").layout.height == int(normal * share.PRESENTATION_FIGURE_SCALE)


# -- every control that changes a page is in its link (issue 14, defect 9) ---------------------
def _published(app) -> dict:
    """The page's query parameters as a fresh tab would receive them (one string per name)."""
    return {name: value[-1] if isinstance(value, list) else value for name, value in app.query_params.items()}


def test_conditional_seed_samples_and_digit_travel_in_the_link(isolated):
    app = open_page("pages/conditional.py")
    app.number_input(key="conditional_seed").set_value(11)
    app.slider(key="conditional_per_digit").set_value(5)
    app.button_group(key="conditional_digit").set_value(3)
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    link = _published(app)
    assert {name: link.get(name) for name in ("seed", "per_digit", "digit")} == {"seed": "11", "per_digit": "5",
                                                                                 "digit": "3"}
    reopened = open_page("pages/conditional.py", link)
    assert reopened.number_input(key="conditional_seed").value == 11
    assert reopened.slider(key="conditional_per_digit").value == 5
    assert reopened.button_group(key="conditional_digit").value == 3
    stale = open_page("pages/conditional.py", {"digit": "12", "seed": "x"})
    assert stale.button_group(key="conditional_digit").value == 7 and stale.number_input(key="conditional_seed").value == 0
    assert any(item.value.startswith("This link's digit is not") for item in stale.info)


def test_compare_s_timeline_step_travels_in_the_link(store, isolated):
    run = store.create({"model": "gan", "preset": "fast"})
    run.update_status(state="finished")
    add_fake_timeline(run, ((0, 0.0), (10, 4.0), (20, 8.0)), 0.5)
    app = open_page("pages/compare.py")
    assert app.select_slider(key="compare_timeline_step").value == 20  # the last step at first
    app.select_slider(key="compare_timeline_step").set_value(10).run()
    link = _published(app)
    assert link.get("timeline") == run.run_id and link.get("step") == "10"
    reopened = open_page("pages/compare.py", link)
    assert reopened.select_slider(key="compare_timeline_step").value == 10
    assert any("10" in image.proto.imgs[0].caption for image in reopened.get("image") if image.proto.imgs)
    missing_step = open_page("pages/compare.py", {"timeline": run.run_id, "step": "15"})
    assert missing_step.select_slider(key="compare_timeline_step").value == 20


def test_latent_walk_and_digits_travel_in_the_link(isolated, monkeypatch):
    """A conditional GAN's two walks: what moves, the digit (and the second digit) come back from the link."""
    from aigc_core.models.registry import build_model
    from aigc_core.weights import export_weights

    model = build_model("gan", {"latent_dim": 8}, model_class="ConditionalDCGAN")
    model.sample(1, seed=0)
    export_weights(model, "tiny-cgan", isolated["weights"], description="untrained, for the test")
    app = open_page("pages/latent.py")
    app.selectbox(key="latent_digit").set_value(4).run()
    assert _published(app).get("digit") == "4" and _published(app).get("walk") == "z"
    app.radio(key="latent_walk").set_value("label").run()
    app.selectbox(key="latent_digit_b").set_value(2).run()
    link = _published(app)
    assert (link.get("walk"), link.get("digit"), link.get("digit_b")) == ("label", "4", "2")
    reopened = open_page("pages/latent.py", link)
    assert reopened.radio(key="latent_walk").value == "label"
    assert (reopened.selectbox(key="latent_digit").value, reopened.selectbox(key="latent_digit_b").value) == (4, 2)


def test_latent_vae_s_test_set_indices_travel_in_the_link(isolated):
    gan_key, vae_key = export_tiny_models(isolated["weights"])
    app = open_page("pages/latent.py", {"source": vae_key})
    app.text_input(key="latent_digits").set_value("5, 3 8").run()
    link = _published(app)
    assert link.get("digits") == "5,3,8" and link.get("source") == vae_key
    reopened = open_page("pages/latent.py", link)
    assert reopened.text_input(key="latent_digits").value == "5, 3, 8"
    stale = open_page("pages/latent.py", {"source": vae_key, "digits": "1,99999"})
    assert any(item.value.startswith("This link's row of test-set indices is not") for item in stale.info)
    from ui.latent_view import default_digit_indices

    assert stale.text_input(key="latent_digits").value == ", ".join(map(str, default_digit_indices(vae_key)))
