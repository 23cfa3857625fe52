"""WGAN-GP and the DCGAN training tips (label smoothing, instance noise, learning-rate ratio).

The maths is checked on hand-made inputs whose answers are known (a linear critic has a known
gradient norm, label smoothing shifts the loss by a known amount); the models on 256 real
digits through `fit()` and through a real run; the Train page through AppTest.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from aigc_core.config import TrainingConfig, override_rules, validate
from aigc_core.data import load_images, scale_pixels
from aigc_core.quality.diagnosis import diagnose
from aigc_core.models import DCGAN, WGANGP
from aigc_core.models.dcgan import discriminator_loss
from aigc_core.models.wgan import build_critic, critic_loss, gradient_penalty, penalty_from_gradients
from aigc_core.models.registry import MODEL_CLASSES, VARIANTS, build_model, get_variant, presets_for
from conftest import TINY_TRAINING, end_workers
from test_app_home_train_runs import widget_keys

WGAN_METRICS = {"d_loss", "g_loss", "wasserstein", "gradient_penalty"}


@pytest.fixture(scope="module")
def digits():
    """256 real MNIST digits, uint8."""
    return load_images("mnist", "train", limit=256).images


def fit_logs(model, images, batch_size=64) -> dict:
    history = model.fit(scale_pixels(images, model.pixel_range), batch_size=batch_size, epochs=1, verbose=0,
                        shuffle=False)
    return {name: values[-1] for name, values in history.history.items()}


# -- the variant -----------------------------------------------------------------------------
def test_wgan_gp_is_a_gan_variant_with_the_papers_settings():
    variant = VARIANTS["gan-wgan-gp"]
    assert (variant.family, variant.preset) == ("gan", "wgan-gp") and "wgan-gp" in presets_for("gan")
    assert get_variant("gan", "wgan-gp") is variant and MODEL_CLASSES["WGANGP"] is WGANGP
    model = variant.build()
    assert isinstance(model, WGANGP) and model.family == "gan" and model.pixel_range == "tanh"
    assert (model.gp_weight, model.d_steps_per_g_step) == (10.0, 5)
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert (float(optimizer.beta_1), float(optimizer.beta_2)) == (0.5, 0.9)
    assert set(model.metric_names) == WGAN_METRICS
    assert set(model.parameter_counts()) == {"generator", "critic"}
    # the generator is the DCGAN's own builder: same layers, same parameter count
    dcgan = get_variant("gan", "fast").build()
    assert model.parameter_counts()["generator"] == dcgan.parameter_counts()["generator"]


@pytest.mark.parametrize("architecture", ["fast", "paper"])
def test_critic_has_no_sigmoid_batch_norm_or_dropout(architecture):
    critic = build_critic(architecture)
    kinds = {type(layer).__name__ for layer in critic.layers}
    assert not kinds & {"BatchNormalization", "Dropout"}, kinds
    assert "LayerNormalization" in kinds
    assert critic.layers[-1].activation.__name__ == "linear"
    # unbounded scores: scaling the last layer scales the output, no squashing
    images = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    kernel, bias = critic.layers[-1].get_weights()
    critic.layers[-1].set_weights([kernel * 1000.0, bias])
    assert np.abs(critic(images).numpy()).max() > 1.0
    with pytest.raises(ValueError, match="architecture"):
        build_critic("large")


def test_sampling_is_seeded_and_in_unit_range():
    model = get_variant("gan", "wgan-gp").build()
    first = model.sample(6, seed=4)
    assert first.shape == (6, 28, 28) and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0
    np.testing.assert_array_equal(model.sample(6, seed=4), first)
    assert not np.allclose(model.sample(6, seed=5), first)


# -- the maths -------------------------------------------------------------------------------
def linear_critic(norm: float):
    """D(x) = <w, x> with ||w|| = norm: its gradient is w everywhere, so its penalty is (norm - 1)^2."""
    import keras

    critic = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(1, use_bias=False)])
    direction = np.random.default_rng(1).standard_normal((784, 1)).astype(np.float32)
    critic.layers[-1].set_weights([direction / np.linalg.norm(direction) * norm])
    return critic


@pytest.mark.parametrize("norm", [1.0, 0.5, 3.0])
def test_gradient_penalty_of_a_linear_critic_is_its_distance_from_1_lipschitz(norm):
    rng = np.random.default_rng(2)
    real = rng.uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    fake = rng.uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
    mixing = rng.uniform(0, 1, (8, 1, 1, 1)).astype(np.float32)
    penalty = float(gradient_penalty(linear_critic(norm), real, fake, mixing))
    assert penalty == pytest.approx((norm - 1.0) ** 2, abs=1e-5)


def test_penalty_takes_the_norm_per_image_then_the_mean():
    gradients = np.zeros((2, 28, 28, 1), np.float32)
    gradients[0, 0, 0, 0] = 3.0  # norm 3 -> (3 - 1)^2 = 4
    gradients[1, 5, 5, 0], gradients[1, 6, 6, 0] = 0.6, 0.8  # norm 1 -> 0
    assert float(penalty_from_gradients(gradients)) == pytest.approx(2.0, abs=1e-5)


def test_critic_loss_is_minus_the_wasserstein_estimate():
    real, fake = np.array([[2.0], [4.0]], np.float32), np.array([[1.0], [1.0]], np.float32)
    assert float(critic_loss(real, fake)) == pytest.approx(-(3.0 - 1.0))


# -- training --------------------------------------------------------------------------------
def test_a_few_wgan_steps_give_finite_losses_and_five_critic_updates_each(digits):
    import keras

    keras.utils.set_random_seed(0)
    model = get_variant("gan", "wgan-gp").build()
    logs = fit_logs(model, digits)  # 256 images / 64 = 4 generator steps
    assert set(logs) == WGAN_METRICS and all(math.isfinite(value) for value in logs.values()), logs
    assert logs["gradient_penalty"] >= 0.0
    assert (int(model.d_optimizer.iterations.numpy()), int(model.g_optimizer.iterations.numpy())) == (20, 4)


def test_wgan_training_is_repeatable_with_a_seed(digits):
    import keras

    def train(seed):
        keras.utils.set_random_seed(seed)
        model = WGANGP(latent_dim=8, d_steps_per_g_step=2)
        model.compile()
        logs = fit_logs(model, digits[:128])
        return logs, [np.array(weight) for weight in model.generator.weights]

    first_logs, first_weights = train(3)
    second_logs, second_weights = train(3)
    other_logs, _ = train(4)
    assert first_logs == pytest.approx(second_logs, rel=1e-5)
    for first, second in zip(first_weights, second_weights):
        np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)
    assert first_logs != pytest.approx(other_logs, rel=1e-3)


def test_weights_round_trip_through_the_weights_module(digits, tmp_path):
    from aigc_core.weights import export_weights, load_model_from_files

    model = get_variant("gan", "wgan-gp").build(latent_dim=16)
    fit_logs(model, digits[:64])
    path = export_weights(model, "tiny-wgan", tmp_path)
    description = json.loads((tmp_path / "tiny-wgan.json").read_text())
    assert description["model_class"] == "WGANGP" and description["config"]["gp_weight"] == 10.0
    rebuilt = load_model_from_files(tmp_path / "tiny-wgan.json", path)
    assert type(rebuilt) is WGANGP and rebuilt.get_config() == model.get_config()
    np.testing.assert_array_equal(rebuilt.sample(8, seed=1), model.sample(8, seed=1))
    fresh = build_model("gan", model.get_config(), "WGANGP")
    assert not np.allclose(fresh.sample(8, seed=1), model.sample(8, seed=1))  # the weights did the work


def test_a_wgan_run_trains_logs_its_estimate_and_reloads(store, monkeypatch, tmp_path):
    from aigc_core.runs.training import load_run_model, start_run, train_run

    config = TrainingConfig(model="gan", preset="wgan-gp", steps=4, log_every=1, sample_every=2, seed=0,
                            **TINY_TRAINING)
    run = start_run(config, store)
    status = train_run(run)
    assert status["state"] == "finished", status
    rows = run.metrics()
    assert [row["step"] for row in rows] == [1, 2, 3, 4]
    for row in rows:
        assert set(row) == {"step", "epoch", "elapsed_s"} | WGAN_METRICS
        assert all(math.isfinite(value) for value in row.values())
        # d_loss = -estimate + 10 * penalty, all from the critic's last update of the step
        assert row["d_loss"] == pytest.approx(-row["wasserstein"] + 10.0 * row["gradient_penalty"], rel=1e-4, abs=1e-4)
    model = load_run_model(run)
    assert type(model) is WGANGP
    latent = model.latent_batch(config.num_snapshot_samples, config.seed)
    np.testing.assert_allclose(model.generate(latent), run.latest_snapshot()[1], atol=1e-5)
    # the BCE discriminator checks do not read a critic's rows
    assert [finding.kind for finding in diagnose("gan", rows)] == []

    # the Train page's live view of this run plots the estimate and the penalty
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path))
    app = open_train(run_id=run.run_id)
    traces = [trace.get("name") for chart in app.get("plotly_chart") for trace in json.loads(chart.proto.spec)["data"]]
    assert "gradient penalty" in traces and any("Wasserstein estimate" in str(name) for name in traces), traces
    assert "critic loss" in traces and not app.error


# -- validation ------------------------------------------------------------------------------
def gan(preset="fast", **overrides) -> TrainingConfig:
    return TrainingConfig(model="gan", preset=preset, overrides=overrides)


@pytest.mark.parametrize("config, field", [
    (gan(gp_weight=5.0), "gp_weight"),  # a DCGAN has no gradient penalty
    (gan("paper", gp_weight=5.0), "gp_weight"),
    (gan("wgan-gp", real_label=0.9), "real_label"),  # a critic has no labels to smooth
    (gan("wgan-gp", instance_noise=0.1), "instance_noise"),
    (gan("wgan-gp", gp_weight=-1.0), "gp_weight"),
    (gan("wgan-gp", gp_weight=float("nan")), "gp_weight"),
    (gan(real_label=-0.1), "real_label"),
    (gan(real_label=1.1), "real_label"),
    (gan(real_label=0.3), "real_label"),
    (gan(instance_noise=-0.1), "instance_noise"),
    (gan(instance_noise_steps=-5), "instance_noise_steps"),
    (gan(instance_noise_steps=2.5), "instance_noise_steps"),
    (TrainingConfig(model="vae", overrides={"gp_weight": 1.0}), "gp_weight"),
])
def test_validation_refuses_options_of_another_variant_and_out_of_range(config, field):
    with pytest.raises(ValueError) as raised:
        validate(config)
    assert field in str(raised.value) and "\n" not in str(raised.value)


def test_validation_accepts_each_variants_own_options():
    validate(gan("wgan-gp", gp_weight=0.0, d_steps_per_g_step=1, latent_dim=8))
    validate(gan(real_label=0.9, instance_noise=0.1, instance_noise_steps=500))
    validate(gan("paper", real_label=1.0, instance_noise=0.0, instance_noise_steps=0))
    assert "gp_weight" in override_rules("gan", "wgan-gp") and "gp_weight" not in override_rules("gan", "fast")
    assert "real_label" in override_rules("gan", "fast") and "real_label" not in override_rules("gan", "wgan-gp")


# -- DCGAN tips ------------------------------------------------------------------------------
def test_label_smoothing_off_is_the_old_loss_and_on_shifts_it_by_a_known_amount():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(0, 3, (16, 1)).astype(np.float32), rng.normal(0, 3, (16, 1)).astype(np.float32)

    def softplus(x):
        return np.logaddexp(0.0, x)

    old = softplus(-real).mean() + softplus(fake).mean()  # -log sigmoid(r) - log(1 - sigmoid(f))
    assert float(discriminator_loss(real, fake)) == pytest.approx(old, rel=1e-5)
    assert float(discriminator_loss(real, fake, 1.0)) == float(discriminator_loss(real, fake))
    # BCE(t, x) = softplus(x) - t x: lowering the real target by 0.1 adds 0.1 * mean(real logits)
    smoothed = float(discriminator_loss(real, fake, 0.9))
    assert smoothed == pytest.approx(old + 0.1 * real.mean(), rel=1e-5)


def test_defaults_keep_the_dcgan_exactly_as_before(digits):
    import keras

    def one_step(**options):
        keras.utils.set_random_seed(9)
        model = DCGAN(architecture="fast", latent_dim=8, **options)
        model.compile()
        return fit_logs(model, digits[:64], batch_size=64), model

    default_logs, model = one_step()
    assert (model.real_label, model.instance_noise, model.instance_noise_steps) == (1.0, 0.0, 0)
    assert one_step(real_label=1.0, instance_noise=0.0, instance_noise_steps=0)[0] == default_logs
    assert one_step(real_label=0.9)[0] != default_logs
    # with noise off, D sees the exact images (no random draw that would shift every later one)
    real, fake = np.ones((2, 28, 28, 1), np.float32), -np.ones((2, 28, 28, 1), np.float32)
    state = np.array(model.seed_generator.state)
    np.testing.assert_array_equal(model.discriminator_inputs(real, fake), np.concatenate([real, fake]))
    np.testing.assert_array_equal(np.array(model.seed_generator.state), state)


def test_shipped_dcgan_weights_still_load_with_the_new_options(tmp_path):
    from aigc_core.weights import WEIGHTS_DIR, load_model_from_files

    config_path = WEIGHTS_DIR / "gan-fast.json"
    if not config_path.exists():
        pytest.skip("no shipped gan-fast weights in this checkout")
    description = json.loads(config_path.read_text())
    # A config file as written before the options existed (the shipped one names them since its
    # weights were retrained): every option takes its old meaning when its key is absent.
    newer_options = ("real_label", "instance_noise", "instance_noise_steps", "adversarial_loss", "spectral_norm",
                     "upsampling")
    description["config"] = {key: value for key, value in description["config"].items() if key not in newer_options}
    old_config = tmp_path / "gan-fast.json"
    old_config.write_text(json.dumps(description))
    model = load_model_from_files(old_config, WEIGHTS_DIR / "gan-fast.weights.h5")
    assert (model.real_label, model.instance_noise) == (1.0, 0.0)
    assert (model.adversarial_loss, model.spectral_norm, model.upsampling) == ("bce", False, "transpose")
    assert model.sample(4, seed=0).std() > 0.1  # trained digits, not flat grey


def test_instance_noise_anneals_linearly_to_zero_or_stays_constant():
    model = DCGAN(architecture="fast", latent_dim=8, instance_noise=0.2, instance_noise_steps=10)
    model.compile()
    for step, expected in ((0, 0.2), (5, 0.1), (10, 0.0), (25, 0.0)):
        model.g_optimizer.iterations.assign(step)
        assert float(model.instance_noise_std()) == pytest.approx(expected, abs=1e-6)
    constant = DCGAN(architecture="fast", latent_dim=8, instance_noise=0.2)
    constant.compile()
    constant.g_optimizer.iterations.assign(1000)
    assert float(constant.instance_noise_std()) == pytest.approx(0.2)
    real, fake = np.zeros((64, 28, 28, 1), np.float32), np.zeros((64, 28, 28, 1), np.float32)
    noisy = np.asarray(constant.discriminator_inputs(real, fake))
    assert noisy.std() == pytest.approx(0.2, rel=0.05)  # both halves get noise
    assert noisy[:64].std() > 0.15 and noisy[64:].std() > 0.15


def test_dcgan_with_all_tips_trains_and_round_trips(digits, tmp_path):
    model = get_variant("gan", "fast").build(real_label=0.9, instance_noise=0.1, instance_noise_steps=100)
    logs = fit_logs(model, digits)
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"} and all(math.isfinite(v) for v in logs.values())
    config = model.get_config()
    assert (config["real_label"], config["instance_noise"], config["instance_noise_steps"]) == (0.9, 0.1, 100)
    path = tmp_path / "tips.weights.h5"
    model.save_weights(path)
    rebuilt = build_model("gan", config, "DCGAN")
    rebuilt.load_weights(path)
    np.testing.assert_array_equal(rebuilt.sample(4, seed=2), model.sample(4, seed=2))


# -- diagnosis and charts --------------------------------------------------------------------
def critic_rows(count=12):
    """WGAN-GP-shaped rows: negative, swinging critic losses, no D probabilities."""
    return [{"step": 10 * (index + 1), "d_loss": (-1) ** index * 5.0 - 3.0, "g_loss": 4.0 + (-1) ** index * 3,
             "wasserstein": 6.0 - 0.2 * index, "gradient_penalty": 0.02 + 0.3 * (index % 2)} for index in range(count)]


def test_diagnosis_skips_the_cross_entropy_checks_for_a_critic():
    rows = critic_rows()
    assert diagnose("gan", rows) == []
    # the same swinging d_loss with D's probabilities beside it is a DCGAN that oscillates
    bce = [{**{key: abs(value) / 5 for key, value in row.items() if key in ("d_loss", "g_loss")},
            "step": row["step"], "d_real": 0.8, "d_fake": 0.2} for row in rows]
    assert "oscillation" in [finding.kind for finding in diagnose("gan", bce)]
    # the family-independent checks still apply to a critic
    rows[-1] = {**rows[-1], "wasserstein": float("nan")}
    assert [finding.kind for finding in diagnose("gan", rows)] == ["divergence"]


def test_loss_figure_plots_the_estimate_and_the_penalty_for_a_critic():
    from ui.charts import loss_figure

    figure = loss_figure(critic_rows(), "gan")
    names = [trace.name for trace in figure.data]
    assert any("Wasserstein" in name for name in names) and "gradient penalty" in names
    assert "critic loss" in names and not any("judged real" in name for name in names)
    # no probability axis: the estimate is a score, far outside [0, 1]
    assert all(axis.range is None for axis in (figure.layout.yaxis, figure.layout.yaxis2, figure.layout.yaxis3))
    dcgan = loss_figure([{"step": 1, "d_loss": 1.0, "g_loss": 1.0, "d_real": 0.6, "d_fake": 0.4}], "gan")
    assert any("judged real" in trace.name for trace in dcgan.data)


# -- the Train page --------------------------------------------------------------------------
def open_train(run_id: str | None = None):
    """The Train page in AppTest, showing run `run_id` when given (as a `?run=` link would)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from aigc_core.runs.store import PROJECT_ROOT

    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    if run_id:
        app.query_params["run"] = run_id
    app.run()
    app.switch_page("pages/train.py").run()
    assert not app.exception, [item.value for item in app.exception]
    return app


TIP_KEYS = {"train_real_label", "train_instance_noise", "train_instance_noise_steps"}


def test_train_page_shows_each_variants_own_controls_with_explanations(monkeypatch, tmp_path):
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path))
    app = open_train()
    # The article's tips belong to the plain DCGAN (gan-fast); the clustered GAN offered first has none.
    assert not TIP_KEYS & widget_keys(app), "the clustered GAN takes no DCGAN tips"
    app.selectbox(key="train_preset").set_value("fast").run()
    assert TIP_KEYS <= widget_keys(app) and "train_gp_weight" not in widget_keys(app)
    assert app.number_input(key="train_real_label").value == 1.0  # off by default
    for key in TIP_KEYS | {"train_d_lr"}:
        assert app.number_input(key=key).help, key  # a sentence next to every control
    assert any("D/G learning-rate ratio: **1**" in item.value for item in app.caption)
    app.number_input(key="train_d_lr").set_value(2 * app.number_input(key="train_g_lr").value).run()
    assert any("D/G learning-rate ratio: **2**" in item.value for item in app.caption)

    app.selectbox(key="train_preset").set_value("wgan-gp").run()
    assert not app.exception and not app.error, [item.value for item in app.error]
    assert "train_gp_weight" in widget_keys(app) and not TIP_KEYS & widget_keys(app)
    assert app.number_input(key="train_gp_weight").value == 10.0
    assert app.number_input(key="train_d_steps").value == 5
    assert "penalty" in app.number_input(key="train_gp_weight").help


def test_train_page_starts_a_wgan_run(monkeypatch, tmp_path, store):
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path))
    app = open_train()
    app.selectbox(key="train_preset").set_value("wgan-gp").run()
    app.number_input(key="train_batch_size").set_value(32)
    app.number_input(key="train_steps").set_value(3)
    app.button(key="train_start").click().run()
    try:
        assert not app.exception and not app.error, [item.value for item in app.error]
        run_id = app.query_params["run"]
        run_id = run_id[0] if isinstance(run_id, list) else run_id
        run = store.get(run_id)
        assert run.config()["preset"] == "wgan-gp" and run.config()["overrides"]["gp_weight"] == 10.0
        deadline = time.monotonic() + 150
        while run.status().get("state") in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(1.0)
        assert run.status()["state"] == "finished", run.status()
        app.run()
        assert not app.exception, [item.value for item in app.exception]
        assert "Finished 3 steps" in app.success[0].value and app.get("image")
    finally:
        end_workers(store)
