"""`config.validate`: the one gate every training request passes (CLI, Train page, worker).

Each bad value must raise a one-line ValueError naming the field; a property test throws
random and hostile values at it and checks that nothing else escapes and that whatever is
accepted is in range.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from aigc_core.config import MAX_BATCH_SIZE, MAX_MINUTES, OVERRIDE_RULES, TrainingConfig, default_precision_for, validate
from aigc_core.models.registry import FAMILIES, get_variant, presets_for

NAN, INF = float("nan"), float("inf")


def config(**changes) -> TrainingConfig:
    return TrainingConfig(**{"model": "gan", "preset": "fast", **changes})


BAD_CONFIGS = [
    # learning rates: negative, zero (learns nothing), not finite, too large
    (config(overrides={"g_learning_rate": -1e-4}), "g_learning_rate"),
    (config(overrides={"d_learning_rate": 0.0}), "d_learning_rate"),
    (config(overrides={"d_learning_rate": 0}), "d_learning_rate"),
    (config(overrides={"g_learning_rate": NAN}), "g_learning_rate"),
    (config(overrides={"g_learning_rate": INF}), "g_learning_rate"),
    (config(overrides={"d_learning_rate": -INF}), "d_learning_rate"),
    (config(overrides={"g_learning_rate": 2.0}), "g_learning_rate"),
    (config(model="vae", overrides={"learning_rate": -0.001}), "learning_rate"),
    (config(model="vae", overrides={"learning_rate": NAN}), "learning_rate"),
    (config(model="vae", overrides={"learning_rate": 0.0}), "learning_rate"),
    # sizes
    (config(batch_size=0), "batch_size"),
    (config(batch_size=-32), "batch_size"),
    (config(batch_size=MAX_BATCH_SIZE + 1), "batch_size"),
    (config(batch_size=32.5), "batch_size"),
    (config(overrides={"latent_dim": 0}), "latent_dim"),
    (config(model="vae", overrides={"latent_dim": 0}), "latent_dim"),
    (config(overrides={"latent_dim": 10**400}), "latent_dim"),  # beyond float range: no OverflowError
    (config(overrides={"d_steps_per_g_step": 0}), "d_steps_per_g_step"),
    (config(model="vae", overrides={"beta": -1.0}), "beta"),
    (config(model="vae", overrides={"reconstruction": "l1"}), "reconstruction"),
    # model and preset
    (config(model="flow"), "model"),
    (config(model="GAN"), "model"),
    (config(preset="huge"), "preset"),
    (config(model="vae", preset="paper"), "preset"),
    (config(dataset="cifar10"), "dataset"),
    # budgets
    (config(steps=10, minutes=1.0), "budget"),
    (config(steps=10, epochs=1), "budget"),
    (config(steps=0), "steps"),
    (config(steps=-5), "steps"),
    (config(steps=10**400), "steps"),
    (config(epochs=0), "epochs"),
    (config(minutes=MAX_MINUTES + 1), "minutes"),
    (config(minutes=0.0), "minutes"),
    (config(minutes=NAN), "minutes"),
    (config(minutes=INF), "minutes"),
    # data and bookkeeping
    (config(batch_size=64, train_limit=32), "batch_size"),
    (config(train_limit=0), "train_limit"),
    (config(log_every=0), "log_every"),
    (config(sample_every=-1), "sample_every"),
    (config(checkpoint_every=0), "checkpoint_every"),
    (config(num_snapshot_samples=0), "num_snapshot_samples"),
    (config(seed=-1), "seed"),
    (config(seed=1.5), "seed"),
    # unknown keys and wrong types
    (config(overrides={"learning_rate": 1e-3}), "learning_rate"),  # a VAE knob given to the GAN
    (config(model="vae", overrides={"g_learning_rate": 1e-3}), "g_learning_rate"),
    (config(overrides={"dropout": 0.5}), "dropout"),
    (config(overrides=["latent_dim", 8]), "overrides"),
    (config(batch_size=True), "batch_size"),
    (config(steps=True), "steps"),
    (config(overrides={"latent_dim": True}), "latent_dim"),
    (config(overrides={"g_learning_rate": False}), "g_learning_rate"),
    (config(overrides={"g_learning_rate": "0.001"}), "g_learning_rate"),
    (config(batch_size="32"), "batch_size"),
    (config(minutes=None, steps=None, epochs="3"), "epochs"),
]


@pytest.mark.parametrize(
    "bad_config, field", BAD_CONFIGS, ids=[f"{index}-{field}" for index, (_, field) in enumerate(BAD_CONFIGS)]
)
def test_bad_values_raise_one_line_value_error_naming_the_field(bad_config, field):
    with pytest.raises(ValueError) as raised:
        validate(bad_config)
    message = str(raised.value)
    assert field in message
    assert "\n" not in message


def test_train_size_caps_the_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        validate(config(batch_size=128), train_size=100)
    assert validate(config(batch_size=100), train_size=100).batch_size == 100


def test_preset_batch_size_is_checked_against_train_limit():
    # gan-paper's default batch is 256: a 100-image slice cannot feed it.
    with pytest.raises(ValueError, match="batch_size"):
        validate(config(preset="paper", train_limit=100))


def test_defaults_are_valid_and_get_their_variants_step_budget():
    checked = validate(TrainingConfig())
    assert checked.steps == get_variant("gan", "fast").default_steps and checked.epochs is None and checked.minutes is None
    budgets = {}
    for family in FAMILIES:
        for preset in presets_for(family):
            budgets[(family, preset)] = validate(TrainingConfig(model=family, preset=preset)).steps
            assert budgets[(family, preset)] == get_variant(family, preset).default_steps
    # The fast presets get budgets that end on digits, not the flat 500 steps every variant had.
    assert budgets[("gan", "fast")] > 500 and budgets[("vae", "fast")] > 500 and budgets[("diffusion", "fast")] > 500


def test_edge_values_are_accepted():
    validate(config(overrides={"g_learning_rate": 1.0, "d_learning_rate": 1e-12, "latent_dim": 1}))
    validate(config(model="vae", overrides={"beta": 0.0, "reconstruction": "gaussian", "latent_dim": 512}))
    validate(config(minutes=MAX_MINUTES))
    validate(config(seed=2**31 - 1, batch_size=MAX_BATCH_SIZE))


def test_whole_number_floats_become_ints():
    # TensorFlow refuses a float batch size deep inside training; validate hands back ints.
    checked = validate(config(batch_size=32.0, steps=10.0, seed=3.0, train_limit=256.0, overrides={"latent_dim": 8.0}))
    for value in (checked.batch_size, checked.steps, checked.seed, checked.train_limit, checked.overrides["latent_dim"]):
        assert type(value) is int
    assert checked.to_dict()["batch_size"] == 32


def test_from_dict_refuses_unknown_keys_and_non_objects():
    with pytest.raises(ValueError, match="learning_rate"):
        TrainingConfig.from_dict({"model": "gan", "learning_rate": 0.1})
    with pytest.raises(ValueError, match="config"):
        TrainingConfig.from_dict(["gan"])
    assert TrainingConfig.from_dict(config(steps=7, precision="float32").to_dict()) == config(steps=7, precision="float32")
    # A precision not chosen is written down as the one the run will get, so the file says it.
    unchosen = config(model="vae", preset="fast", steps=7)
    assert unchosen.precision is None
    assert TrainingConfig.from_dict(unchosen.to_dict()).precision == default_precision_for("vae", "fast")


# -- property test ------------------------------------------------------------------------

OVERRIDE_NAMES = sorted({name for rules in OVERRIDE_RULES.values() for name in rules})

hostile = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=600),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, 2**31]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1.0, max_value=2.0),
    st.sampled_from(["bernoulli", "gaussian", "", "1e-3", "nan"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)


def in_range(kind, low, high):
    """Values a rule accepts, edges included, whole numbers sometimes given as floats."""
    if kind == "choice":
        return st.sampled_from(low)
    if kind == "int":
        return st.one_of(st.integers(low, high), st.integers(low, high).map(float))
    if kind == "float_open":
        return st.floats(low, high, exclude_min=True)
    return st.floats(low, high)


def out_of_range(kind, low, high):
    """Values just past a rule's bounds, or hostile ones."""
    if kind == "choice":
        return st.one_of(st.sampled_from(["BERNOULLI", "", "l2"]), hostile)
    return st.one_of(
        st.sampled_from([low - 1, high + 1, float(high) * 1.0001 + 1e-9, -0.0 if low > 0 else low - 1e-9]),
        st.sampled_from([0.0, float(low)]) if kind == "float_open" else st.nothing(),
        st.floats(low + 0.1, high - 0.1) if kind == "int" and high - low > 1 else st.nothing(),
        hostile,
    )


RULES = {
    "batch_size": ("int", 1, 300),
    "seed": ("int", 0, 2**31 - 1),
    "steps": ("int", 1, 1_000_000),
    "epochs": ("int", 1, 1_000),
    "minutes": ("float_open", 0.0, MAX_MINUTES),
    "log_every": ("int", 1, 100_000),
    "sample_every": ("int", 1, 100_000),
    "checkpoint_every": ("int", 1, 1_000_000),
    "num_snapshot_samples": ("int", 1, 256),
    "train_limit": ("int", 1, 600),
    "dataset": ("choice", ("mnist", "fashion_mnist"), None),
}


@st.composite
def hostile_configs(draw):
    """Mostly valid configs with up to two spoiled fields or override values, so both outcomes occur."""
    model = draw(st.sampled_from(["gan", "vae"]))
    fields = {"model": model, "preset": draw(st.sampled_from(presets_for(model)))}
    for name, rule in RULES.items():
        optional = name in ("batch_size", "train_limit")
        fields[name] = None if optional and draw(st.booleans()) else draw(in_range(*rule))
    budget = draw(st.sampled_from(["steps", "epochs", "minutes", "none"]))
    for name in ("steps", "epochs", "minutes"):
        if name != budget:
            fields[name] = None
    rules = OVERRIDE_RULES[model]
    overrides = {name: draw(in_range(*rules[name])) for name in draw(st.sets(st.sampled_from(sorted(rules))))}

    spoiled = draw(st.sets(st.sampled_from([*RULES, "model", "preset", "overrides", "override_value", "budget"]), max_size=2))
    for name in spoiled:
        if name in RULES:
            fields[name] = draw(out_of_range(*RULES[name]))
        elif name in ("model", "preset"):
            fields[name] = draw(st.one_of(st.sampled_from(["gan", "vae", "fast", "paper", "large", "GAN"]), hostile))
        elif name == "overrides":
            overrides = draw(hostile)
        elif name == "override_value":
            if not isinstance(overrides, dict):
                continue  # the whole mapping is already spoiled (a set's order is arbitrary)
            key = draw(st.one_of(st.sampled_from(OVERRIDE_NAMES), st.text(max_size=6)))
            overrides[key] = draw(out_of_range(*rules[key]) if key in rules else hostile)
        else:
            fields[draw(st.sampled_from(["steps", "epochs", "minutes"]))] = draw(hostile)
    return TrainingConfig(overrides=overrides, **fields)


def is_whole(value, low, high) -> bool:
    return type(value) is int and low <= value <= high


def is_real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_configs())
def test_validate_raises_only_value_error_and_accepts_only_values_in_range(candidate):
    try:
        checked = validate(candidate)
    except ValueError as error:
        assert str(error) and "\n" not in str(error)
        event("refused")
        return
    event("accepted")

    assert checked.model in ("gan", "vae") and checked.preset in presets_for(checked.model)
    assert checked.dataset in ("mnist", "fashion_mnist")
    for name, value in checked.overrides.items():
        kind, low, high = OVERRIDE_RULES[checked.model][name]
        if kind == "choice":
            assert value in low
        elif kind == "int":
            assert is_whole(value, low, high)
        elif kind == "float_open":
            assert is_real(value) and low < value <= high
        else:
            assert is_real(value) and low <= value <= high

    budgets = [name for name in ("steps", "epochs", "minutes") if getattr(checked, name) is not None]
    assert len(budgets) == 1
    if checked.steps is not None:
        assert is_whole(checked.steps, 1, 1_000_000)
    if checked.epochs is not None:
        assert is_whole(checked.epochs, 1, 1_000)
    if checked.minutes is not None:
        assert is_real(checked.minutes) and 0 < checked.minutes <= MAX_MINUTES

    batch_size = checked.resolved_batch_size()
    assert is_whole(batch_size, 1, MAX_BATCH_SIZE)
    if checked.train_limit is not None:
        assert is_whole(checked.train_limit, 1, 10_000_000) and batch_size <= checked.train_limit
    assert is_whole(checked.seed, 0, 2**31 - 1)
    for name in ("log_every", "sample_every", "checkpoint_every"):
        assert is_whole(getattr(checked, name), 1, 1_000_000)
    assert is_whole(checked.num_snapshot_samples, 1, 256)
