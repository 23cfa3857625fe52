"""Training configuration: the one home of its defaults, and the one validation layer.

The CLI and the Train page both build a `TrainingConfig` and call `validate()`, so a
value refused in one is refused in the other with the same one-line message.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
from dataclasses import asdict, dataclass, field, fields

from aigc_core.data import DATASET_NAMES
from aigc_core.limits import MAX_SEED
from aigc_core.models.base import GenerativeModel
from aigc_core.models.diffusion import MAX_SAMPLING_STEPS, OBJECTIVES
from aigc_core.models.vae import RECONSTRUCTION_LOSSES
from aigc_core.models.registry import FAMILIES, get_variant

# Server-side caps: a shared demo must not accept a week-long run.
MAX_MINUTES = float(os.environ.get("AIGC_MAX_MINUTES", "60"))
MAX_STEPS = 1_000_000
MAX_EPOCHS = 1_000
MAX_BATCH_SIZE = 4096
MAX_DEVICES = 64
# A decay of 0.9999 already averages ~10,000 steps, longer than most runs here.
MAX_EMA_DECAY = 0.9999

# Allowed ranges for the model hyperparameters a user may override: name -> (kind, low, high).
# Bounds are inclusive; "float_open" excludes the low bound (a learning rate of 0 learns nothing).
# A family lists every knob of its classes; `override_rules` keeps those a variant's class takes.
OVERRIDE_RULES: dict[str, dict[str, tuple]] = {
    "gan": {
        "latent_dim": ("int", 1, 512),
        "g_learning_rate": ("float_open", 0.0, 1.0),
        "d_learning_rate": ("float_open", 0.0, 1.0),
        "g_beta_1": ("float", 0.0, 0.999),
        "d_beta_1": ("float", 0.0, 0.999),
        "beta_2": ("float", 0.0, 0.9999),
        "d_steps_per_g_step": ("int", 1, 10),
        # DCGAN tips: a real label below 0.5 would teach D that real images are fake.
        "real_label": ("float", 0.5, 1.0),
        "instance_noise": ("float", 0.0, 1.0),
        "instance_noise_steps": ("int", 0, MAX_STEPS),
        "r1_weight": ("float", 0.0, 100.0),
        "learning_rate_warmup_steps": ("int", 0, MAX_STEPS),
        "learning_rate_decay_steps": ("int", 0, MAX_STEPS),
        # WGAN-GP
        "gp_weight": ("float", 0.0, 100.0),
    },
    "vae": {
        "latent_dim": ("int", 1, 512),
        "beta": ("float", 0.0, 100.0),
        "learning_rate": ("float_open", 0.0, 1.0),
        "reconstruction": ("choice", RECONSTRUCTION_LOSSES, None),
        "kl_warmup_steps": ("int", 0, MAX_STEPS),
    },
    "diffusion": {
        "learning_rate": ("float_open", 0.0, 1.0),
        "objective": ("choice", OBJECTIVES, None),
        "sampling_steps": ("int", 1, MAX_SAMPLING_STEPS),
    },
}


@dataclass
class TrainingConfig:
    """Everything needed to build the model and repeat a run, seed included.

    Exactly one of `steps`, `epochs` or `minutes` sets the budget; with none, `steps` is the
    variant's `default_steps` (a budget that ends on digits). A GAN step is one generator update.
    """

    model: str = "gan"
    preset: str = "fast"
    overrides: dict = field(default_factory=dict)
    batch_size: int | None = None
    seed: int = 0
    steps: int | None = None
    epochs: int | None = None
    minutes: float | None = None
    log_every: int = 10
    sample_every: int = 100
    checkpoint_every: int = 200
    num_snapshot_samples: int = 64
    dataset: str = "mnist"
    train_limit: int | None = None
    # Data parallelism: the global batch is split over this many devices (see aigc_core.devices).
    devices: int = 1
    # "mixed_bfloat16" computes in bfloat16 with float32 weights (GPUs, and CPUs with AMX or
    # AVX512-BF16); see aigc_core.devices.PRECISIONS. None (not given): `validate()` picks the
    # variant's default for this machine (aigc_core.devices.default_precision), and the run's
    # config records what it picked.
    precision: str | None = None
    # The plain name of the "break it on purpose" preset the run was set up from (a key of
    # aigc_core.quality.diagnosis.BROKEN_PRESETS), so run lists and captions can say which; None otherwise.
    break_it: str | None = None
    # GANs and diffusion models: the per-step decay of the moving average of the generator's (denoiser's) weights that snapshots,
    # quality scores, checkpoints and sampling use (aigc_core.runs.averaging); 0 switches it off.
    # On by default: gan-fast reached a lower FID with it at equal time (bench/README.md,
    # "Digits in one minute").
    ema_decay: float = 0.999

    def to_dict(self) -> dict:
        """The config as JSON-ready data; a precision not chosen is written as this machine's default
        for the variant, so a run's config.json always says what it trains in."""
        data = asdict(self)
        if data["precision"] is None:
            try:
                data["precision"] = default_precision_for(self.model, self.preset)
            except (ValueError, TypeError):  # an unknown variant: `validate()` will say so
                pass
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TrainingConfig":
        if not isinstance(data, dict):
            raise ValueError(f"Expected a training config object. Received: {type(data).__name__}")
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown training config keys {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    def resolved_batch_size(self) -> int:
        return self.batch_size if self.batch_size is not None else get_variant(self.model, self.preset).batch_size

    def model_config(self) -> dict:
        """The model constructor config: the preset's, updated by the user's overrides."""
        variant = get_variant(self.model, self.preset)
        return {**variant.model_config, **self.overrides}


def constructor_parameters(model_class: type) -> dict[str, inspect.Parameter]:
    """The keyword arguments a model class's constructor takes, following `**kwargs` to its parents."""
    parameters = {}
    for cls in model_class.__mro__:
        if "__init__" not in vars(cls):
            continue
        signature = inspect.signature(cls.__init__).parameters
        for name, parameter in signature.items():
            if name != "self" and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                parameters.setdefault(name, parameter)
        if not any(parameter.kind == parameter.VAR_KEYWORD for parameter in signature.values()):
            break
        if cls is GenerativeModel:  # past it, **kwargs reach keras.Model: not hyperparameters
            break
    return parameters


def override_rules(family: str, preset: str) -> dict[str, tuple]:
    """The hyperparameters a user may override for one variant, with their allowed ranges.

    A family's rules that the variant's model class does not take are left out, so gp_weight
    is refused for a DCGAN and real_label for a WGAN-GP, by the same check as an unknown name.
    """
    accepted = constructor_parameters(get_variant(family, preset).model_class)
    return {name: rule for name, rule in OVERRIDE_RULES[family].items() if name in accepted}


def default_precision_for(family: str, preset: str) -> str:
    """The precision `validate()` gives this variant's run when the config names none, on this machine."""
    from aigc_core.devices import default_precision

    return default_precision(get_variant(family, preset).prefers_bfloat16)


class SettingError(ValueError):
    """A setting out of its range, with the parts a UI needs to word it in its own labels and language.

    `str()` stays the one-line message a CLI user reads (they know the flag names); `rule` is
    "choice", "number", "whole", "finite", "open" (greater than low, at most high) or "range".
    """

    def __init__(self, message: str, *, name: str, rule: str, low=None, high=None, value=None):
        super().__init__(message)
        self.name, self.rule, self.low, self.high, self.value = name, rule, low, high, value


def _check_number(name: str, value, kind: str, low, high):
    """Raise a one-line ValueError naming `name` unless `value` fits; return it normalized.

    A whole-number field given as 32.0 (a slider, a JSON float) comes back as the int 32,
    because TensorFlow refuses a float batch size deep inside training.
    """
    if kind == "choice":
        if value not in low:
            raise SettingError(f"{name} must be one of {list(low)}; received {value!r}", name=name, rule="choice",
                              low=low, value=value)
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # NumPy scalars from widgets count too
        raise SettingError(f"{name} must be a number; received {value!r}", name=name, rule="number", value=value)
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range, e.g. 10**400
        raise SettingError(f"{name} must be between {low} and {high}; received an integer too large to represent",
                           name=name, rule="range", low=low, high=high) from None
    if kind == "int" and not number.is_integer():
        raise SettingError(f"{name} must be a whole number between {low} and {high}; received {value!r}", name=name,
                           rule="whole", low=low, high=high, value=value)
    if not math.isfinite(number):
        raise SettingError(f"{name} must be a finite number; received {value!r}", name=name, rule="finite", value=value)
    if kind == "float_open":
        if not low < value <= high:
            raise SettingError(f"{name} must be greater than {low} and at most {high}; received {value!r}", name=name,
                              rule="open", low=low, high=high, value=value)
    elif not low <= value <= high:
        raise SettingError(f"{name} must be between {low} and {high}; received {value!r}", name=name, rule="range",
                           low=low, high=high, value=value)
    return int(value) if kind == "int" else value


def _check_devices(devices, batch_size: int) -> int:
    """`devices` as an int that this machine can train on, and that splits `batch_size` evenly.

    Only a count above 1 asks TensorFlow how many devices it sees (its runtime then starts),
    so validating an ordinary config stays free of TensorFlow.
    """
    devices = _check_number("devices", devices, "int", 1, MAX_DEVICES)
    if devices == 1:
        return devices
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"devices above 1 need the TensorFlow backend (tf.distribute); received {devices} "
                         f"with the {keras.backend.backend()} backend")
    from aigc_core.devices import LOGICAL_CPUS_VARIABLE, training_devices

    visible = training_devices()
    if devices > len(visible):
        kind = "GPU" if "GPU" in visible[0].upper() else "CPU"
        hint = f" (${LOGICAL_CPUS_VARIABLE}=N splits one CPU into N)" if kind == "CPU" else ""
        raise ValueError(f"devices must be at most the {len(visible)} {kind} device(s) TensorFlow sees{hint}; "
                         f"received {devices}")
    # Each replica averages its own share; equal shares make the mean of those means the batch's mean.
    if batch_size % devices:
        raise ValueError(f"batch_size must be a multiple of devices ({devices}) so each gets an equal share; "
                         f"received {batch_size}")
    return devices


def validate(config: TrainingConfig, train_size: int | None = None) -> TrainingConfig:
    """Check types, ranges and combinations; return the config or raise a one-line ValueError.

    Args:
        config: the config to check.
        train_size: number of training images, when known, so a batch larger than the
            dataset is refused before a worker starts.
    """
    if config.model not in FAMILIES:
        raise ValueError(f"model must be one of {list(FAMILIES)}; received {config.model!r}")
    get_variant(config.model, config.preset)  # raises with the allowed presets
    if config.dataset not in DATASET_NAMES:
        raise ValueError(f"dataset must be one of {list(DATASET_NAMES)}; received {config.dataset!r}")
    if not isinstance(config.overrides, dict):
        raise ValueError(f"overrides must be a mapping of hyperparameters; received {config.overrides!r}")
    rules = override_rules(config.model, config.preset)
    for name, value in config.overrides.items():
        if name not in rules:
            raise ValueError(f"{name} is not a hyperparameter of {config.model}-{config.preset}; allowed: {sorted(rules)}")
    config.overrides = {name: _check_number(name, value, *rules[name]) for name, value in config.overrides.items()}
    if config.batch_size is not None:
        config.batch_size = _check_number("batch_size", config.batch_size, "int", 1, MAX_BATCH_SIZE)
    config.seed = _check_number("seed", config.seed, "int", 0, MAX_SEED)
    budgets = [name for name in ("steps", "epochs", "minutes") if getattr(config, name) is not None]
    if len(budgets) > 1:
        raise ValueError(f"give one budget (steps, epochs or minutes); received {budgets}")
    if config.steps is not None:
        config.steps = _check_number("steps", config.steps, "int", 1, MAX_STEPS)
    if config.epochs is not None:
        config.epochs = _check_number("epochs", config.epochs, "int", 1, MAX_EPOCHS)
    if config.minutes is not None:
        config.minutes = _check_number("minutes", config.minutes, "float_open", 0.0, MAX_MINUTES)
    for name, high in (("log_every", 100_000), ("sample_every", 100_000), ("checkpoint_every", 1_000_000)):
        setattr(config, name, _check_number(name, getattr(config, name), "int", 1, high))
    config.num_snapshot_samples = _check_number("num_snapshot_samples", config.num_snapshot_samples, "int", 1, 256)
    if config.train_limit is not None:
        config.train_limit = _check_number("train_limit", config.train_limit, "int", 1, 10_000_000)
    batch_size = config.resolved_batch_size()
    available = train_size if train_size is not None else config.train_limit
    if available is not None and batch_size > available:
        raise ValueError(f"batch_size must be at most the number of training images ({available}); received {batch_size}")
    config.devices = _check_devices(config.devices, batch_size)
    from aigc_core.devices import PRECISIONS

    if config.precision is None:
        config.precision = default_precision_for(config.model, config.preset)
    if not isinstance(config.precision, str) or config.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}; received {config.precision!r}")
    config.ema_decay = _check_number("ema_decay", config.ema_decay, "float", 0.0, MAX_EMA_DECAY)
    if config.break_it is not None:
        from aigc_core.quality.diagnosis import BROKEN_PRESETS

        if config.break_it not in BROKEN_PRESETS or BROKEN_PRESETS[config.break_it].family != config.model:
            names = [name for name, broken in BROKEN_PRESETS.items() if broken.family == config.model]
            raise ValueError(f"break_it must be one of {names} or absent; received {config.break_it!r}")
    if config.steps is None and config.epochs is None and config.minutes is None:
        config.steps = get_variant(config.model, config.preset).default_steps
    return config
