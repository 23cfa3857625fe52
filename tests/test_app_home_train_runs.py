"""AppTests of the Home, Train and Runs pages, driven through the router like a browser would.

Runs go to the per-test `$AIGC_RUNS_DIR` (conftest) and shipped weights to an empty temp
folder through `$AIGC_WEIGHTS_DIR`, so the project's own runs/ and weights/ never leak in.
Every worker a test starts has ended before the test returns.
"""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from aigc_core.runs.store import PROJECT_ROOT, RunStore
from ui import visitor

APP = str(PROJECT_ROOT / "app.py")
TIMEOUT_S = 120  # a busy CI machine once took over 60 s for a first Compare render
KEYED_WIDGETS = {
    "pages/home.py": [],  # home_seed and home_generate exist only with weights: see the weights test
    "pages/train.py": ["train_model", "train_preset", "train_budget_kind", "train_steps", "train_batch_size",
                       "train_seed", "train_latent_dim", "train_g_lr", "train_d_lr", "train_d_steps", "train_start"],
    "pages/runs.py": [],  # runs_* widgets exist only when a run does: see the runs tests
}


# Every test: an empty weights folder, fresh caches, no worker left running (conftest).
pytestmark = pytest.mark.usefixtures("isolated_app")


def open_page(page: str | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.run()
    if page:
        app.switch_page(page)
        app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def widget_keys(app: AppTest) -> set[str]:
    keys = set()

    def visit(node):
        if getattr(node, "key", None):
            keys.add(node.key)
        for child in getattr(node, "children", {}).values():
            visit(child)

    visit(app._tree)
    return keys


def poll(app: AppTest, condition, timeout_s: float, message: str):
    """Rerun the page (AppTest never fires `run_every`) until `condition(app)` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        app.run()
        assert not app.exception, [item.value for item in app.exception]
        if condition(app):
            return app
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {message}; "
                        f"progress: {[bar.proto.text for bar in app.get('progress')]}")
        time.sleep(1.0)


def start_training(app: AppTest, steps: int) -> str:
    """Fill the Train form for a small GAN run, press Start, return the run id from the URL."""
    app.number_input(key="train_batch_size").set_value(32)
    app.number_input(key="train_steps").set_value(steps)
    app.button(key="train_start").click().run()
    assert not app.exception, [item.value for item in app.exception]
    assert not app.error, [item.value for item in app.error]
    run_id = app.query_params["run"]
    return run_id[0] if isinstance(run_id, list) else run_id


def texts(elements) -> list[str]:
    return [str(element.value) for element in elements]


def test_app_runs_and_home_says_no_weights():
    app = open_page()
    assert any("No shipped weights" in text for text in texts(app.info))
    # Home says how long a first run takes, from the measured seconds (none of them left at zero).
    from ui.home_view import FIRST_RUN_SECONDS

    assert all(seconds > 0 for seconds in FIRST_RUN_SECONDS.values())
    assert any("How long a first run takes" in text for text in texts(app.caption))
    assert app.get("graphviz_chart") and app.get("latex")
    assert any("Training now: no active run" in text for text in texts(app.caption))


@pytest.mark.parametrize("page", sorted(KEYED_WIDGETS))
def test_page_renders_with_its_keyed_widgets(page):
    app = open_page(page)
    missing = set(KEYED_WIDGETS[page]) - widget_keys(app)
    assert not missing


def test_home_samples_from_shipped_weights(isolated_app):
    from aigc_core.models.registry import get_variant
    from aigc_core.weights import export_weights

    model = get_variant("vae", "fast").build()
    model.sample(1, seed=0)  # builds the networks so their weights can be saved
    export_weights(model, "tiny-vae", isolated_app, description="untrained, for the test")

    app = open_page()
    assert not any("No shipped weights" in text for text in texts(app.info))
    assert len(app.get("image")) == 1
    assert {"home_seed", "home_generate"} <= widget_keys(app)
    first_image = app.get("image")[0].proto.imgs[0].url
    app.button(key="home_generate").click().run()
    assert not app.exception
    assert app.number_input(key="home_seed").value != 0 or app.get("image")[0].proto.imgs[0].url != first_image
    app.number_input(key="home_seed").set_value(7).run()
    assert len(app.get("image")) == 1 and not app.error


def test_train_shows_defaults_from_the_registry_and_switches_family():
    from aigc_core.models.registry import get_variant

    app = open_page("pages/train.py")
    # The GAN the page offers first is the clustered one that reaches digits soonest.
    gan = get_variant("gan", app.selectbox(key="train_preset").value)
    assert gan.name == "gan-clusters"
    assert app.number_input(key="train_batch_size").value == gan.batch_size
    assert app.number_input(key="train_steps").value == gan.default_steps
    assert app.number_input(key="train_g_lr").value == pytest.approx(gan.model_config["g_learning_rate"])
    app.radio(key="train_model").set_value("vae").run()
    vae = get_variant("vae", app.selectbox(key="train_preset").value)
    assert {"train_lr", "train_beta"} <= widget_keys(app) and "train_g_lr" not in widget_keys(app)
    assert app.number_input(key="train_latent_dim").value == vae.model_config["latent_dim"]
    # The VAE the page offers first is the 16-D clustered one that learns soonest, with its own budget.
    assert vae.name == "vae-clusters" and vae.model_config["latent_dim"] == 16
    assert app.number_input(key="train_steps").value == vae.default_steps
    app.radio(key="train_model").set_value("diffusion").run()
    diffusion = get_variant("diffusion", app.selectbox(key="train_preset").value)
    assert app.number_input(key="train_steps").value == diffusion.default_steps != vae.default_steps
    app.radio(key="train_model").set_value("vae").run()
    app.selectbox(key="train_preset").set_value("large").run()
    assert app.number_input(key="train_latent_dim").value == get_variant("vae", "large").model_config["latent_dim"]
    app.radio(key="train_budget_kind").set_value("minutes").run()
    assert "train_minutes" in widget_keys(app) and "train_steps" not in widget_keys(app)
    # The plain DCGAN takes larger steps than the clustered one: the form follows the preset.
    app.radio(key="train_model").set_value("gan").run()
    app.selectbox(key="train_preset").set_value("fast").run()
    fast = get_variant("gan", "fast")
    assert fast.model_config["g_learning_rate"] != gan.model_config["g_learning_rate"]
    assert app.number_input(key="train_g_lr").value == pytest.approx(fast.model_config["g_learning_rate"])
    assert app.number_input(key="train_d_lr").value == pytest.approx(fast.model_config["d_learning_rate"])


def test_train_refuses_invalid_settings_with_one_line():
    app = open_page("pages/train.py")
    app.number_input(key="train_batch_size").set_value(5000).run()
    assert len(app.error) == 1 and "“Batch size”" in app.error[0].value  # the control's label, not batch_size
    assert app.button(key="train_start").disabled
    app.number_input(key="train_batch_size").set_value(32)
    app.number_input(key="train_g_lr").set_value(0.0).run()
    assert len(app.error) == 1 and "“Generator learning rate”" in app.error[0].value


def test_train_bad_run_id_in_url_is_one_error_line():
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.query_params["run"] = "../../etc"
    app.run()
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert len(app.error) == 1 and "run id" in app.error[0].value
    app.query_params["run"] = "no-such-run"
    app.run()
    assert not app.exception and len(app.error) == 1 and "no run named" in app.error[0].value


def one_browser(monkeypatch) -> str:
    """Every following session is the same browser (AppTest carries no cookie); its identity."""
    monkeypatch.setattr(visitor, "browser_cookie", lambda: "one-browser")
    return visitor.identity_from_cookie("one-browser")


def test_train_a_tiny_run_to_the_end_then_list_download_and_delete_it(runs_dir, monkeypatch):
    one_browser(monkeypatch)  # the Runs page below is another session of the browser that started the run
    app = open_page("pages/train.py")
    run_id = start_training(app, steps=20)
    assert (runs_dir / run_id / "config.json").is_file()

    poll(app, lambda app: app.success, 120, "the run to finish")
    assert "Finished 20 steps" in app.success[0].value
    assert app.get("progress")[0].proto.value == 100
    assert app.get("plotly_chart") and app.get("image")
    assert "train_stop" not in widget_keys(app)

    # A new session with only the URL (a reload, a new tab) shows the same run.
    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    reloaded.query_params["run"] = run_id
    reloaded.run()
    reloaded.switch_page("pages/train.py").run()
    assert not reloaded.exception and reloaded.success

    runs = open_page("pages/runs.py")
    assert run_id in list(runs.dataframe[0].value["run"])
    losses = runs.dataframe[0].value["final losses"].iloc[0]  # plain words, never d_loss / g_loss
    assert "discriminator " in losses and "generator " in losses and "_loss" not in losses, losses
    assert runs.selectbox(key="runs_select").value == run_id
    labels = [button.proto.label for button in runs.get("download_button")]
    assert len(labels) == 3 and not any(button.proto.disabled for button in runs.get("download_button"))
    assert runs.button(key="runs_delete").disabled
    runs.checkbox(key="runs_confirm_delete").check().run()
    runs.button(key="runs_delete").click().run()
    assert not runs.exception
    assert any(run_id in text for text in texts(runs.success))
    assert not (runs_dir / run_id).exists()
    assert any("No runs yet" in text for text in texts(runs.info))


def test_train_stop_ends_a_longer_run(runs_dir):
    app = open_page("pages/train.py")
    run_id = start_training(app, steps=100_000)
    run = RunStore().get(run_id)
    poll(app, lambda app: run.status().get("state") == "running", 90, "the worker to start training")
    # AppTest drops the sidebar after switch_page, so read it on the default page.
    assert any("Training now: **1 running**" in text for text in texts(open_page().caption))
    app.button(key="train_stop").click().run()
    assert run.stop_requested() or run.status().get("state") == "stopped"
    poll(app, lambda app: any("Stopped at step" in text for text in texts(app.warning)), 60, "the run to stop")
    assert run.status()["state"] == "stopped" and "train_stop" not in widget_keys(app)
    stopped_at = run.status()["step"]
    assert stopped_at < 100_000 and run.checkpoint()["step"] == stopped_at

    app.button(key="train_resume").click().run()  # continues towards the original 100,000 steps
    assert not app.exception
    poll(app, lambda app: run.status().get("state") == "running" and run.status().get("step", 0) > stopped_at,
         90, "the resumed run to train past its checkpoint")
    steps = [row["step"] for row in run.metrics()]
    assert steps == sorted(set(steps)), "a resumed run repeats no logged step"
    app.button(key="train_stop").click().run()
    poll(app, lambda app: run.status().get("state") == "stopped", 60, "the resumed run to stop")


def test_runs_refuses_to_delete_an_active_run(runs_dir, monkeypatch):
    from aigc_core.config import TrainingConfig
    from aigc_core.runs.ownership import visitor as owner_for

    store = RunStore()
    owner = owner_for(one_browser(monkeypatch), store).owner
    run = store.create(TrainingConfig().to_dict(), owner=owner)  # queued, its worker not yet started
    app = open_page("pages/runs.py")
    app.checkbox(key="runs_confirm_delete").check().run()
    app.button(key="runs_delete").click().run()
    assert not app.exception
    assert len(app.error) == 1 and "stop it before deleting" in app.error[0].value
    assert run.path.exists()


def test_home_features_the_best_shipped_model_of_each_family(tmp_path):
    """The first screen shows each family at its best: the lowest recorded FID, else the first listed."""
    import json

    from ui.home_view import featured_models

    def entry(name: str, family: str, fid=None) -> dict:
        if fid is not None:
            (tmp_path / f"{name}.metrics.json").write_text(json.dumps({"fid": fid}))
        return {"name": name, "family": family, "weights_path": tmp_path / f"{name}.weights.h5"}

    models = [entry("gan-a", "gan", 40.0), entry("gan-b", "gan", 3.5), entry("vae-a", "vae"), entry("vae-b", "vae")]
    assert [model["name"] for model in featured_models(models)] == ["gan-b", "vae-a"]
    assert [model["name"] for model in featured_models(models[2:])] == ["vae-a"]  # a family may be missing


def test_home_explains_diffusion_with_its_diagram_and_the_trained_objective():
    """Home explains the third family: a header, its flow diagram and the loss of the objective it trains with."""
    from ui.home_view import DIFFUSION_OBJECTIVE, diffusion_formulas

    app = open_page()
    assert any("Diffusion" in header.value for header in app.header)
    diagrams = [chart.proto.spec for chart in app.get("graphviz_chart")]
    assert len(diagrams) == 3 and any("digraph Diffusion" in spec for spec in diagrams)
    shown = [formula.value for formula in app.latex]
    assert all(any(formula in latex for latex in shown) for _, formula in diffusion_formulas(DIFFUSION_OBJECTIVE))
    with pytest.raises(ValueError, match="expected a diffusion objective"):
        diffusion_formulas("score_matching")
