"""The Train page's parts: the settings widgets that build a `TrainingConfig`, and the live
view of one run read from its directory (the page never touches a training process).

Widget defaults come from their one home: the registry variant, the model class signature
and `TrainingConfig`; this module only maps widget keys to those names.
"""

from __future__ import annotations

import math
import os
import numbers
import re
from dataclasses import fields
import streamlit as st

from aigc_core import studio
from aigc_core.config import (
    MAX_MINUTES, OVERRIDE_RULES, SettingError, TrainingConfig, constructor_parameters, default_precision_for,
    override_rules,
)
from aigc_core.quality.diagnosis import BROKEN_PRESETS, diagnose, is_critic_history
from aigc_core.studio import (
    ACTIVE_STATES, DATASET_NAMES, DATASET_TITLES, FAMILIES, FETCH_COMMANDS, MAX_SEED, PRECISIONS,
    QUALITY_SAMPLES_VARIABLE, Run, check_config, dataset_source, get_variant, kl_history, presets_for, resume,
    scoring_unavailable_reason, train_command,
)
from ui.charts import LABELS as QUALITY_LABELS
from ui.charts import image_grid_png, kl_figure, loss_figure, png_data_uri, quality_figure
from ui.diagnosis_view import annotate_figure, render_finding_cards, watch_for_text
from ui.diagnosis_view import preset_title as broken_preset_title
from ui.families import description_text, family_title, preset_title
from ui.i18n import N_, _, current_language, error_text
from ui.lesson_view import render_narration
from ui.run_control_view import is_paused, render_run_controls
from ui.run_names_view import run_title
from ui.share import figure_scale, presentation_mode
from ui.visitor import failure_text, may_control_run, not_owner_note, requester

# Widget key -> model hyperparameter (an `overrides` name), per family, in display order. A
# variant shows those its model class takes (`config.override_rules`): no gp_weight for a DCGAN.
HYPERPARAMETER_KEYS = {
    "gan": {
        "train_latent_dim": "latent_dim",
        "train_g_lr": "g_learning_rate",
        "train_d_lr": "d_learning_rate",
        "train_d_steps": "d_steps_per_g_step",
        "train_gp_weight": "gp_weight",
        "train_real_label": "real_label",
        "train_instance_noise": "instance_noise",
        "train_instance_noise_steps": "instance_noise_steps",
    },
    "vae": {
        "train_latent_dim": "latent_dim",
        "train_lr": "learning_rate",
        "train_beta": "beta",
    },
    "diffusion": {
        "train_lr": "learning_rate",
        "train_objective": "objective",
        "train_sampling_steps": "sampling_steps",
    },
}
LABELS = {
    "latent_dim": N_("Latent size (dimensions of z)"),
    "g_learning_rate": N_("Generator learning rate"),
    "d_learning_rate": N_("Discriminator learning rate"),
    "d_steps_per_g_step": N_("Discriminator (critic) steps per generator step"),
    "gp_weight": N_("Gradient penalty weight λ"),
    "real_label": N_("Real-image label (one-sided label smoothing)"),
    "instance_noise": N_("Instance noise (standard deviation)"),
    "instance_noise_steps": N_("Instance noise fades out over (steps)"),
    "learning_rate": N_("Learning rate"),
    "beta": N_("β (weight of the KL term)"),
    "objective": N_("What the network learns to predict"),
    "sampling_steps": N_("Denoising steps when drawing"),
}
# One sentence per control: what it does and why one would change it (shown as the widget's help).
HELP = {
    "latent_dim": N_("Length of the random vector every image starts from: more dimensions can hold more "
                     "variety, and take longer to organise."),
    "g_learning_rate": N_("Step size of the generator's Adam optimizer: smaller is slower but steadier."),
    "d_learning_rate": N_("Step size of the discriminator's (critic's) optimizer: the usual advice is to keep the "
                          "generator's rate at or below it, so that D stays a useful teacher."),
    "d_steps_per_g_step": N_("Discriminator updates before each generator update: 1 for a DCGAN (more lets D "
                             "overpower G), 5 for WGAN-GP, whose critic must be near its optimum for its score "
                             "difference to estimate a distance."),
    "gp_weight": N_("Weight of the penalty that pushes the critic's gradient norm towards 1 between real and fake "
                    "images, which keeps the critic smooth and its Wasserstein estimate meaningful (10 in the paper; "
                    "0 removes the constraint and the critic runs away)."),
    "real_label": N_("The target D learns for real images: 0.9 instead of 1 (one-sided label smoothing) keeps D "
                     "from becoming over-confident, which would leave the generator no gradient; 1 is off."),
    "instance_noise": N_("Gaussian noise of this standard deviation is added to every image D sees, real and fake, "
                         "so that the two overlap and D cannot separate them perfectly early on; 0 is off."),
    "instance_noise_steps": N_("The noise shrinks linearly to 0 over this many generator steps, so it helps early "
                               "and no longer blurs D's view at the end; 0 keeps it constant."),
    "learning_rate": N_("Step size of the Adam optimizer: smaller is slower but steadier."),
    "beta": N_("Weight of the KL term: low β gives sharper reconstructions, high β a smoother, more regular latent "
               "space, and too high a β collapses it (watch the per-dimension KL bars under the chart)."),
    "objective": N_("Flow matching learns the straight direction from a digit to its noise; DDPM learns which "
                    "noise was added. Both train the same network and draw in the steps below."),
    "sampling_steps": N_("How many times the network is applied to turn pure noise into a digit, for the "
                         "snapshots and the quality curve: more steps are slower and usually cleaner."),
}
# The diffusion objectives as the form names them.
OBJECTIVE_TITLES = {"flow": N_("the way from digit to noise (flow matching)"),
                    "ddpm": N_("the added noise (DDPM)")}
FORMATS = {"float_open": "%.5f", "float": "%.2f"}
STEP_SIZES = {"g_learning_rate": 1e-4, "d_learning_rate": 1e-4, "learning_rate": 1e-4, "beta": 0.1,
              "gp_weight": 1.0, "real_label": 0.05, "instance_noise": 0.05, "instance_noise_steps": 100}
# The β slider spans the beta-VAE range people try; a "break it" preset beyond it stretches it.
BETA_SLIDER_MAX = 10.0
# A time budget is the UI's own choice: TrainingConfig has no default minutes.
DEFAULT_MINUTES = 2.0
MIN_MINUTES = 0.5
# How the Dataset picker names each dataset: what its images show, not only its name.
DATASET_CHOICES = {"mnist": N_("MNIST digits"), "fashion_mnist": N_("Fashion-MNIST clothes")}
BUDGET_TITLES = {"steps": N_("steps"), "minutes": N_("minutes")}
PRECISION_CHOICES = {"float32": N_("float32"), "mixed_bfloat16": N_("mixed bfloat16")}
# `dataset_source` says this when only a keras.datasets download could provide the data.
NEEDS_DOWNLOAD = "needs the internet"
# The Steps field says what one step is: a generator update for a GAN, one batch for a VAE.
STEPS_LABELS = {"gan": N_("Steps (generator updates)"), "vae": N_("Steps (training steps)"),
                "diffusion": N_("Steps (training steps)")}
# validate()'s names for the settings outside the hyperparameter column, as the form labels them.
SETTING_LABELS = {"batch_size": N_("Batch size"), "seed": N_("Seed"), "minutes": N_("Minutes"),
                  "epochs": N_("Epochs"), "precision": N_("Precision"), "dataset": N_("Dataset"),
                  "ema_decay": N_("Generator averaging (0 = off)")}
# The training loop's loss names, as a divergence error names them.
LOSS_NAMES = {"g_loss": N_("generator loss"), "d_loss": N_("discriminator loss"), "loss": N_("loss"),
              "reconstruction_loss": N_("reconstruction loss"), "kl_loss": N_("KL term"),
              "d_real": N_("D(x)"), "d_fake": N_("D(G(z))"), "wasserstein": N_("Wasserstein estimate"),
              "gradient_penalty": N_("gradient penalty"), "loss_low_noise": N_("loss at low noise"),
              "loss_mid_noise": N_("loss at middle noise"), "loss_high_noise": N_("loss at high noise")}
STATE_TITLES = {"queued": N_("queued"), "running": N_("running"), "finished": N_("finished"), "stopped": N_("stopped"),
                "interrupted": N_("interrupted"), "failed": N_("failed"), "damaged": N_("damaged"),
                "paused": N_("paused"), "unknown": N_("unknown")}
STATE_COLOURS = {"queued": "gray", "running": "blue", "finished": "green", "stopped": "orange", "interrupted": "violet",
                 "failed": "red"}


def _config_default(name: str):
    return next(item.default for item in fields(TrainingConfig) if item.name == name)


def model_defaults(family: str, preset: str) -> dict:
    """The model constructor's defaults updated by the variant's config: what training would use."""
    variant = get_variant(family, preset)
    defaults = {
        name: parameter.default
        for name, parameter in constructor_parameters(variant.model_class).items()
        if parameter.default is not parameter.empty
    }
    return {**defaults, **variant.model_config}


def shown_hyperparameters(family: str, preset: str) -> dict[str, str]:
    """Widget key -> hyperparameter name for the controls this variant gets, in display order."""
    rules = override_rules(family, preset)
    return {key: name for key, name in HYPERPARAMETER_KEYS[family].items() if name in rules}


def default_steps(family: str, preset: str) -> int:
    """The steps `validate()` fills in when this variant's config names no budget: the variant's
    budget that ends on digits, so a new user's first Start is not over before they appear."""
    return check_config(TrainingConfig(model=family, preset=preset)).steps


def widget_defaults(family: str, preset: str) -> dict:
    """Widget key -> default value for the hyperparameters of this variant."""
    variant = get_variant(family, preset)
    defaults = model_defaults(family, preset)
    values = {key: defaults[name] for key, name in shown_hyperparameters(family, preset).items()}
    values["train_batch_size"] = variant.batch_size
    return values


NO_BREAKAGE = N_("(healthy: the preset as it is)")


def _reset_hyperparameters() -> None:
    family, preset = st.session_state.train_model, st.session_state.train_preset
    if preset not in presets_for(family):
        preset = st.session_state.train_preset = presets_for(family)[0]
    st.session_state.update(variant_defaults(family, preset))


def apply_broken_preset() -> None:
    """Fill the form with a "break it on purpose" setup: its model, preset and bad hyperparameters."""
    name = st.session_state.train_broken
    if name not in BROKEN_PRESETS:
        return
    st.session_state.update(broken_preset_values(name))


def broken_preset_values(name: str) -> dict:
    """Widget key -> value of a "break it on purpose" setup: its model, preset, bad hyperparameters, budget."""
    broken = BROKEN_PRESETS[name]
    values = {"train_model": broken.family, "train_preset": broken.preset,
              **widget_defaults(broken.family, broken.preset)}
    keys_by_name = {name: key for key, name in shown_hyperparameters(broken.family, broken.preset).items()}
    values.update({keys_by_name[name]: value for name, value in broken.overrides.items() if name in keys_by_name})
    # The budget the preset is known to fail within (bench/break_it.py).
    values.update(train_budget_kind="steps", train_steps=broken.steps)
    return values


def broken_preset_in_form(name: str, family: str, preset: str, overrides: dict) -> str | None:
    """`name` when the form still holds that "break it" preset's setup, else None.

    A user who picked a preset and then changed one of its settings runs something else: the
    run must not carry the preset's name then.
    """
    broken = BROKEN_PRESETS.get(name)
    if broken is None or (broken.family, broken.preset) != (family, preset):
        return None
    shown = [setting for setting in broken.overrides if setting in overrides]
    return name if all(overrides[setting] == broken.overrides[setting] for setting in shown) else None


def break_it_note(config: dict) -> str:
    """A run caption's preset part: "preset fast", or the "break it" preset's plain name when it came from one."""
    name = config.get("break_it")
    preset = preset_title(config.get("preset"))
    return _("break it: {name} (preset {preset})").format(name=broken_preset_title(name), preset=preset) if name \
        else _("preset {preset}").format(preset=preset)


def state_title(state) -> str:
    return _(STATE_TITLES[state]) if state in STATE_TITLES else str(state)


def format_number(value) -> str:
    """A number as people read it: 1,000 for a count, 0.0002 for a rate, 2.79e11 for a huge or tiny one."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return _("not a number (NaN)")
    if math.isinf(number):
        return _("infinity") if number > 0 else _("minus infinity")
    if number.is_integer() and abs(number) < 1e6:
        return f"{int(number):,}"
    text = f"{number:.3g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def setting_label(name: str, family: str = "gan") -> str:
    """The Train form's own label for a setting `validate` names in code (`g_learning_rate`)."""
    if name == "steps":
        return _(STEPS_LABELS.get(family, STEPS_LABELS["gan"]))
    if name in LABELS:
        return _(LABELS[name])
    return _(SETTING_LABELS[name]) if name in SETTING_LABELS else name


# Code names are the snake_case ones: "steps" or "beta" in a sentence are words, not settings.
CODE_NAME = re.compile(r"\b(" + "|".join(sorted({name for name in {*LABELS, *SETTING_LABELS} if "_" in name},
                                                  key=len, reverse=True)) + r")\b")


def plain_names(text: str, family: str = "gan") -> str:
    """`text` with every setting's code name replaced by the form's label in quotes (for library tips)."""
    return CODE_NAME.sub(lambda match: "“" + setting_label(match.group(1), family) + "”", text)


def setting_problem_text(error: Exception, family: str = "gan") -> str:
    """A refused setting in the user's words: the control's label, its allowed range, people's numbers."""
    if not isinstance(error, SettingError):  # a library MessageError (a cap reached) in the session's language
        return plain_names(error_text(error), family)
    parts = {"setting": setting_label(error.name, family), "low": format_number(error.low),
             "high": format_number(error.high), "value": format_number(error.value)}
    if error.rule == "open":
        return _("“{setting}” must be greater than {low} and at most {high}; it is {value}.").format(**parts)
    if error.rule == "whole":
        return _("“{setting}” must be a whole number from {low} to {high}; it is {value}.").format(**parts)
    if error.rule in ("number", "finite"):
        return _("“{setting}” must be a number; it is {value}.").format(**parts)
    if error.rule == "choice":
        return _("“{setting}” cannot be {value} here.").format(**parts)
    return _("“{setting}” must be from {low} to {high}; it is {value}.").format(**parts)


DIVERGED = re.compile(r"training diverged at step (\d+): (.+) became (.+); try a lower learning rate")


def failure_reason(error: str | None, family: str = "gan") -> str:
    """Why a run failed, in words: a divergence names its losses and their values as people read them."""
    if not error:
        return _("no reason recorded")
    diverged = DIVERGED.fullmatch(error.strip())
    if not diverged:
        return plain_names(error, family)
    step, names, values = diverged.groups()
    losses = [_(LOSS_NAMES[name]) if name in LOSS_NAMES else name for name in names.split(", ")]
    numbers_shown = []
    for value in values.split(", "):
        try:
            numbers_shown.append(format_number(float(value)))
        except ValueError:
            numbers_shown.append(value)
    return _("training diverged at step {step}: {losses} reached {values}. Try a lower learning rate.").format(
        step=f"{int(step):,}", losses=_(", ").join(losses), values=_(", ").join(numbers_shown))


def _ensure_defaults() -> None:
    """Give every settings widget its default before it is drawn, unless the user set it.

    Widgets read their value from Session State (no `value=` argument), so that a change of
    model or preset can reset them from a callback.
    """
    state = st.session_state
    state.setdefault("train_model", _config_default("model"))
    state.setdefault("train_dataset", _config_default("dataset"))
    state.setdefault("train_broken", NO_BREAKAGE)
    if state.get("train_preset") not in presets_for(state.train_model):
        state.train_preset = presets_for(state.train_model)[0]
    for key, value in form_defaults(state.train_model, state.train_preset).items():
        state.setdefault(key, value)


def variant_defaults(family: str, preset: str) -> dict:
    """Widget key -> default of every form field that depends on the model and preset: what picking
    another variant resets (the dataset, budget kind, minutes and seed stay as the user set them)."""
    return {
        **widget_defaults(family, preset),
        # Each variant's own budget: a diffusion model needs fewer, slower steps than a GAN to show digits.
        "train_steps": default_steps(family, preset),
        # bfloat16 where this variant measured faster on this CPU, float32 elsewhere.
        "train_precision": default_precision_for(family, preset),
        "train_broken": NO_BREAKAGE,
    }


def form_defaults(family: str, preset: str) -> dict:
    """Widget key -> default of every form field but the model and preset choices (a fresh form's values)."""
    return {
        **variant_defaults(family, preset),
        "train_dataset": _config_default("dataset"),
        "train_budget_kind": "steps",
        "train_minutes": DEFAULT_MINUTES,
        "train_seed": _config_default("seed"),
    }


def _hyperparameter_input(key: str, name: str, family: str):
    kind, low, high = OVERRIDE_RULES[family][name]
    if name == "beta":
        # A slider makes the beta-VAE sweep one gesture; a wider value (a "break it" preset) widens it
        # to the whole allowed range, in one jump: a maximum that followed the value would make each
        # move a new widget, and Streamlit would throw the moved value away.
        high = BETA_SLIDER_MAX if float(st.session_state.get(key, low)) <= BETA_SLIDER_MAX else float(high)
        return st.slider(_(LABELS[name]), min_value=float(low), max_value=high, step=STEP_SIZES[name], key=key,
                         help=_(HELP[name]))
    if kind == "choice":
        return st.radio(_(LABELS[name]), low, key=key, help=_(HELP[name]),
                        format_func=lambda choice: _(OBJECTIVE_TITLES[choice]) if choice in OBJECTIVE_TITLES
                        else str(choice))
    if kind == "int":
        return st.number_input(_(LABELS[name]), min_value=low, max_value=high, step=STEP_SIZES.get(name, 1), key=key,
                               help=_(HELP[name]))
    # A learning rate of exactly 0 is allowed here so that the validator can explain why it is refused.
    return st.number_input(_(LABELS[name]), min_value=float(low), max_value=float(high), step=STEP_SIZES[name],
                           format=FORMATS[kind], key=key, help=_(HELP[name]))


def learning_rate_ratio_caption(overrides: dict) -> str | None:
    """The D/G learning-rate ratio in words, for a GAN whose two rates are both set (else None)."""
    g_rate, d_rate = overrides.get("g_learning_rate"), overrides.get("d_learning_rate")
    if not g_rate or not d_rate:
        return None
    return _("D/G learning-rate ratio: **{ratio}**. Above 1 the discriminator learns faster (the usual advice, "
             "so that it stays a useful teacher); far above, it wins and the generator's gradient "
             "vanishes.").format(ratio=format_number(d_rate / g_rate))


def dataset_problem(dataset: str) -> str | None:
    """Why a run on `dataset` cannot start on this server, in one line, or None when its data is here.

    Only a keras.datasets download could provide the data then; offline the worker would fail
    after loading TensorFlow, so the page refuses Start and names the fetch script instead.
    """
    if NEEDS_DOWNLOAD not in dataset_source(dataset):
        return None
    return _("{dataset} is not on this server, and a run would have to download it (which fails offline): "
             "{fix}.").format(dataset=DATASET_TITLES[dataset], fix=fetch_fix(dataset))


def fetch_fix(dataset: str) -> str:
    """How to put `dataset`'s data on the server: its fetch script, or the bundled file."""
    return (_("run `{command}` on the server first").format(command=FETCH_COMMANDS[dataset])
            if dataset in FETCH_COMMANDS else _("restore the bundled data file on the server"))


def start_problem(config: TrainingConfig) -> str | None:
    """The one line that keeps Start disabled: what `validate` refuses, else missing data; None when a run can start."""
    try:
        check_config(config)
    except ValueError as error:
        return setting_problem_text(error, config.model)
    return dataset_problem(config.dataset)


def settings_form() -> TrainingConfig:
    """Draw the settings widgets in four columns and return the config they describe (not yet validated)."""
    _ensure_defaults()
    model_column, hyperparameter_column, budget_column, seed_column = st.columns(4, gap="medium")
    with model_column:
        family = st.radio(_("Model"), FAMILIES, key="train_model", horizontal=True, format_func=family_title,
                          on_change=_reset_hyperparameters)
        preset = st.selectbox(_("Preset"), presets_for(family), key="train_preset", format_func=preset_title,
                              on_change=_reset_hyperparameters)
        st.caption(description_text(get_variant(family, preset).description))
        dataset = st.selectbox(_("Dataset"), DATASET_NAMES, key="train_dataset",
                               format_func=lambda name: _(DATASET_CHOICES[name]),
                               help=_("What the model learns to draw: handwritten digits (shipped with the app) or "
                                      "ten kinds of clothing (fetched once with a script). Same 28x28 grayscale "
                                      "shape, so every model trains on either."))
        if NEEDS_DOWNLOAD in dataset_source(dataset):
            st.caption(_("{dataset} is not on this server: training would need to download it from the "
                         "internet (to avoid that, {fix}).").format(dataset=DATASET_TITLES[dataset],
                                                                    fix=fetch_fix(dataset)))
        broken = st.selectbox(_("Break it on purpose"), [NO_BREAKAGE, *BROKEN_PRESETS], key="train_broken",
                              on_change=apply_broken_preset, format_func=lambda name: _(name) if name == NO_BREAKAGE
                              else broken_preset_title(name),
                              help=_("Known ways to make training fail; the diagnosis under the chart should spot "
                                     "them."))
        if broken in BROKEN_PRESETS:
            st.info(watch_for_text(broken), icon=":material/visibility:")
    with hyperparameter_column:
        overrides = {name: _hyperparameter_input(key, name, family)
                     for key, name in shown_hyperparameters(family, preset).items()}
        ratio = learning_rate_ratio_caption(overrides)
        if ratio:
            st.caption(ratio)
    with budget_column:
        batch_size = st.number_input(_("Batch size"), min_value=1, step=1, key="train_batch_size")
        budget_kind = st.radio(_("Budget"), ("steps", "minutes"), key="train_budget_kind", horizontal=True,
                               format_func=lambda kind: _(BUDGET_TITLES[kind]))
        budget = {}
        if budget_kind == "steps":
            budget["steps"] = st.number_input(setting_label("steps", family), min_value=1, step=50, key="train_steps")
        else:
            budget["minutes"] = st.number_input(_("Minutes"), min_value=MIN_MINUTES, max_value=MAX_MINUTES, step=0.5,
                                                format="%.1f", key="train_minutes")
    with seed_column:
        seed = st.number_input(_("Seed"), min_value=0, max_value=MAX_SEED, step=1, key="train_seed")
        precision = st.selectbox(
            _("Precision"), PRECISIONS, key="train_precision", format_func=lambda name: _(PRECISION_CHOICES[name]),
            help=_("Mixed bfloat16 computes in 16 bits and keeps the weights in 32: faster on GPUs and on CPUs "
                   "with AMX or AVX512-BF16, slower on other CPUs. On such a CPU the fast VAE starts in it: it "
                   "trained about 1.7 times the steps per second and drew better digits in the same time. "
                   "The GANs gained nothing, so they start in float32."))
    break_it = broken_preset_in_form(broken, family, preset, overrides)
    if break_it:  # settings the form does not show (Adam's momentum) travel with the preset's name
        overrides = {**BROKEN_PRESETS[break_it].overrides, **overrides}
    return TrainingConfig(model=family, preset=preset, dataset=dataset, overrides=overrides,
                          batch_size=int(batch_size), seed=int(seed), precision=precision, break_it=break_it, **budget)


def precision_note(config: dict) -> str:
    """A run caption's " · mixed bfloat16" for a run not trained in float32, the default."""
    precision = config.get("precision", "float32")
    if precision == "float32":
        return ""
    return " · " + (_(PRECISION_CHOICES[precision]) if precision in PRECISION_CHOICES else precision)


def dataset_note(config: dict) -> str:
    """A run caption's " · on Fashion-MNIST" for a run not trained on MNIST; "" for MNIST, the default."""
    dataset = config.get("dataset", "mnist")
    return "" if dataset == "mnist" else " · " + _("on {dataset}").format(dataset=DATASET_TITLES.get(dataset, dataset))


def format_duration(seconds: float | None) -> str:
    """`m:ss`, or `h:mm:ss` past an hour; an em dash when unknown."""
    if seconds is None:
        return "—"
    seconds = int(round(max(0.0, float(seconds))))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def progress_fraction(status: dict, config: dict) -> float:
    """Steps done out of the total, or for a time budget the share of the minutes used."""
    if status.get("state") == "finished":
        return 1.0
    total = status.get("total_steps")
    if total:
        return min(1.0, status.get("step", 0) / total)
    if config.get("minutes"):
        return min(1.0, status.get("elapsed_s", 0.0) / (config["minutes"] * 60.0))
    return 0.0


# What a run does before its first step, by the model's `labels_preparation` key (status "preparing").
PREPARATION_TEXTS = {"clustering": N_("sorting the training images into look-alike groups…"), None: N_("preparing…")}


def _progress_text(status: dict, config: dict) -> str:
    total = status.get("total_steps")
    step = status.get("step", 0)
    parts = [_("step {step:,} / {total:,}").format(step=step, total=total) if total
             else _("step {step:,}").format(step=step)]
    elapsed = format_duration(status.get("elapsed_s"))
    if config.get("minutes") and not total:
        parts.append(_("elapsed {elapsed} of {budget}").format(elapsed=elapsed,
                                                              budget=format_duration(config["minutes"] * 60)))
    else:
        parts.append(_("elapsed {elapsed}").format(elapsed=elapsed))
    preparing = status.get("preparing") if status.get("state") == "running" else None
    if preparing:  # the seconds before step 1 that the elapsed time leaves out
        known = PREPARATION_TEXTS.get(preparing) if isinstance(preparing, str) else None  # a damaged file's value too
        parts.append(_(known or PREPARATION_TEXTS[None]))
    elif is_paused(status):
        parts.append(_("paused"))
    elif status.get("state") == "running" and (total or config.get("minutes")):
        # The worker leaves eta_s empty until it has timed a few steps (aigc_core.runs.eta).
        parts.append(_("ETA estimating…") if status.get("eta_s") is None
                     else _("ETA {duration}").format(duration=format_duration(status["eta_s"])))
    return "  ·  ".join(parts)


def _queue_message(run: Run) -> str:
    ahead = studio.queue_position(run)
    training = studio.running_count(except_run=run)
    if not ahead and not training:
        return _("Starting the worker: loading TensorFlow and the data…")
    return _("Waiting for a free training slot: {training} training now, {ahead} queued ahead of this "
             "run.").format(training=training, ahead=ahead)


def _preset_batch_size(family: str, preset) -> int | str:
    """The batch size a run without its own used: its preset's ("?" for a preset this version lacks)."""
    try:
        return get_variant(family, preset).batch_size
    except ValueError:
        return "?"


RESUMABLE_STATES = ("stopped", "interrupted", "failed")


def _render_resume(run: Run, status: dict) -> None:
    """A run that ended early continues from its last checkpoint up to its original budget."""
    checkpoint = run.checkpoint() if studio.has_checkpoint(run) else None
    if status.get("state") not in RESUMABLE_STATES:
        return
    if not may_control_run(run):
        not_owner_note("resume")
        return
    # Without a checkpoint (a worker killed before its first one) the run can still start over.
    label = (_("Resume from step {step:,}").format(step=checkpoint.get("step", 0)) if checkpoint
             else _("Start again from step 0 (no checkpoint)"))
    if st.button(label, key="train_resume", icon=":material/play_arrow:"):
        try:
            resume(run, requester=requester())
        except (ValueError, OSError) as error:  # a cap, the disk, another browser's run, a read-only folder
            st.error(_("Could not resume: {reason}").format(reason=failure_text(error)))
        else:
            st.rerun()


STOP_ERROR_KEY = "train_stop_error"


def _render_stop(run: Run, notices=st) -> None:
    """The Stop button; a refused stop stays on screen across the live view's reruns, until retried.

    `notices` is where its messages go: the full width under a row of controls, not the button's narrow column.
    """
    failed = st.session_state.get(STOP_ERROR_KEY)
    if st.button(_("Stop training"), key="train_stop", icon=":material/stop_circle:"):
        try:
            studio.stop(run, requester())
        except (ValueError, OSError) as error:
            failed = st.session_state[STOP_ERROR_KEY] = (
                run.run_id, _("Could not stop the run: {reason}").format(reason=failure_text(error)))
        else:
            st.session_state.pop(STOP_ERROR_KEY, None)
            notices.caption(_("Stop requested: the run checkpoints and ends after the current step."))
            return
    if failed and failed[0] == run.run_id:
        notices.error(failed[1])


def state_badge(status: dict) -> str:
    """The run's state as a Markdown badge, to open its one-line caption."""
    state = status.get("state", "unknown")
    if is_paused(status):
        return ":orange-badge[" + _("paused") + "]"
    return f":{STATE_COLOURS.get(state, 'gray')}-badge[" + state_title(state) + "]"


def _render_header(run: Run, status: dict, config: dict, family: str) -> None:
    """One band: the run's title and settings on the left, its progress bar (steps, time, ETA) on the right."""
    title_column, progress_column = st.columns([6, 5], vertical_alignment="bottom", gap="medium")
    with title_column:
        st.markdown("#### " + run_title(run))  # a heading one line high, so the run's charts come up
        batch_size = config.get("batch_size") or _preset_batch_size(family, config.get("preset"))
        st.caption(f"{state_badge(status)} {family_title(family)} · {break_it_note(config)}{dataset_note(config)}"
                   f"{precision_note(config)} · "
                   + _("batch {batch_size} · seed {seed}").format(batch_size=batch_size, seed=config.get("seed")))
    with progress_column.container(key="live_progress"):
        st.progress(progress_fraction(status, config), text=_progress_text(status, config))


def _render_state(run: Run, status: dict, config: dict) -> None:
    """What the run's state asks of the viewer: a notice for a queued or ended run, then its controls."""
    state = status.get("state", "unknown")
    if state == "queued":
        st.info(_queue_message(run))
    family = config.get("model", "gan")
    if state == "failed":
        st.error(_("The run failed: {reason}").format(reason=failure_reason(status.get("error"), family)))
    elif state == "stopped":
        st.warning(_("Stopped at step {step:,}; its last checkpoint is kept.").format(step=status.get("step", 0)))
    elif state == "interrupted":
        reason = plain_names(status["error"], family) if status.get("error") else _("the worker was asked to end")
        st.warning(_("Interrupted: {reason}. Resume continues from its checkpoint.").format(reason=reason))
    elif state == "finished":
        st.success(_("Finished {steps:,} steps in {duration}.").format(
            steps=status.get("step", 0), duration=format_duration(status.get("elapsed_s"))))
    elif state == "damaged":
        st.error(_("This run is damaged and cannot be resumed: {reason}").format(reason=status.get("error")))
    damage = run.file_damage(rows=True) if state not in ACTIVE_STATES and state != "damaged" else None
    if damage:
        st.warning(_("This run is damaged: {damage}. What can still be read is shown below.").format(damage=damage))
    if state in ACTIVE_STATES:
        _render_active_controls(run, status)
    else:
        columns = st.columns(3 if state in RESUMABLE_STATES else 2, vertical_alignment="center")
        if state in RESUMABLE_STATES:
            with columns[0]:
                _render_resume(run, status)
        compare_column, runs_column = columns[-2:]
        compare_column.page_link("pages/compare.py", label=_("Compare this model with the shipped ones"),
                                 icon=":material/compare:")
        runs_column.page_link("pages/runs.py", label=_("All runs: timeline, downloads, delete"),
                              icon=":material/folder_open:")


def _render_active_controls(run: Run, status: dict) -> None:
    """Stop, then Pause/Step/Speed for the owner of a running run, in one row under the header."""
    if run.stop_requested():
        st.caption(_("Stop requested: the run checkpoints and ends after the current step."))
    elif not may_control_run(run):
        not_owner_note("stop")
    elif status.get("state") == "running":
        controls, notices = st.container(key="live_controls"), st.container()
        with controls:
            render_run_controls(run, status, first_control=lambda: _render_stop(run, notices), notices=notices)
    else:
        _render_stop(run)


def run_signature(run: Run) -> tuple:
    """What the live view is drawn from: it changes exactly when the view would change."""
    return studio.run_version(run)


# Heights (px at screen size, scaled with the fonts in presentation mode) that let the live view
# (header, controls, charts, samples and diagnosis) fit one 1400x900 laptop screen and one
# 1920x1080 projector: the full-size figures of the other pages would push it past the fold.
LIVE_LOSS_HEIGHTS = {"gan": 420, "critic": 480, "vae": 250, "diffusion": 360}
LIVE_KL_HEIGHT = 150
# Presentation mode sets every text of the page to about 20 px, a metric's value too: in the live
# view's quality row the value is what a class reads, so it stays large.
LIVE_PRESENTATION_CSS = """<style>
.st-key-live_quality [data-testid="stMetricValue"] :is(div, p) { font-size: 2.6rem !important; line-height: 1.2; }
</style>"""
# The sample grid's width: square, so it is also its height; the column would make it taller.
LIVE_GRID_WIDTH = 240


def live_loss_height(family: str, rows: list[dict]) -> int:
    """The live view's loss chart height: a WGAN-GP's three panels need more than a DCGAN's two."""
    if family == "gan" and is_critic_history(rows):
        return LIVE_LOSS_HEIGHTS["critic"]
    return LIVE_LOSS_HEIGHTS.get(family, LIVE_LOSS_HEIGHTS["gan"])


@st.cache_resource(max_entries=64, show_spinner=False)
def _run_view(run_id: str, family: str, signature: tuple, scale: float, language: str = "en") -> dict:
    """Figures, findings and the sample grid of one run, built once per change of its files.

    The live fragment reruns every second in every open tab; building plotly figures costs
    ~0.5 s of server CPU each time, so ten visitors watching would saturate a 2-core server.
    Keyed by the files' signature (and the presentation scale), a figure is rebuilt only when
    the run wrote something new, and tabs showing the same run share it. Cached objects are
    only read (serialized by st.plotly_chart), never changed.
    """
    run = studio.get_run(run_id)
    rows, latest = run.metrics(), run.latest_snapshot()
    error = signature[-1]
    findings = diagnose(family, rows, latest[1] if latest else None, snapshot_step=latest[0] if latest else None,
                        error=error)
    quality_rows = run.quality()
    kl_rows = [row for row in kl_history(run) if isinstance(row.get("kl"), list) and row["kl"]]
    return {
        "rows": rows,
        "findings": findings,
        "loss_figure": annotate_figure(loss_figure(rows, family, height=live_loss_height(family, rows)), findings)
        if rows else None,
        "quality_rows": quality_rows,
        "quality_figure": quality_figure(quality_rows) if quality_rows else None,
        "kl_row": kl_rows[-1] if kl_rows else None,
        "kl_figure": kl_figure(kl_rows[-1]["kl"], step=kl_rows[-1].get("step"), height=LIVE_KL_HEIGHT)
        if kl_rows else None,
        "latest_step": latest[0] if latest else None,
        "grid_uri": png_data_uri(image_grid_png(latest[1], scale=2)) if latest else None,
    }


def no_loss_curves_caption(status: dict, config: dict) -> str:
    """What stands where the loss curves will be: a wait while training, what happened once it ended."""
    log_every = config.get("log_every", "")
    if status.get("state") in ACTIVE_STATES or not status:
        return _("Loss curves appear after the first {count} steps.").format(count=log_every)
    state = status.get("state")
    ended = {"failed": N_("failed (see why above)"), "stopped": N_("was stopped"),
             "interrupted": N_("was interrupted")}.get(state, N_("ended"))
    return _("No loss curves: the run {ended} at step {step:,}, before its first logged step (losses are logged "
             "every {count} steps).").format(ended=_(ended), step=status.get("step", 0), count=log_every)


def render_curves_and_samples(run: Run, family: str, config: dict) -> None:
    """The live run on one screen: on the left the loss curves (with diagnosis markers), the
    quality numbers and a VAE's KL bars; on the right the latest snapshot grid of the fixed
    latent batch with the diagnosis under it. The quality curve in full, and what each figure
    measures, sit in an expander below."""
    view = _run_view(run.run_id, family, run_signature(run), figure_scale(), current_language())
    dataset = config.get("dataset", "mnist")
    curves_column, samples_column = st.columns([4, 3], gap="medium")
    with curves_column:
        with st.container(key="live_loss_chart"):
            if view["loss_figure"] is not None:
                st.plotly_chart(view["loss_figure"], config={"displayModeBar": False})
            else:
                st.caption(no_loss_curves_caption(run.status(), config))
        with st.container(key="live_quality"):
            render_quality_numbers(view, dataset)
        if family == "vae":
            render_kl_bars(view)
    with samples_column:
        with st.container(key="live_samples"):
            if view["grid_uri"] is None:
                st.caption(_("Samples appear once the model is built."))
            else:
                st.image(view["grid_uri"], width=round(LIVE_GRID_WIDTH * figure_scale()))
                # Under the grid at the column's width: as the image's own caption it would wrap at the image's.
                st.caption(_("Samples from one fixed noise batch at step {step:,}").format(step=view["latest_step"]))
        with st.container(key="live_diagnosis"):
            render_finding_cards(view["findings"])  # beside the chart it explains, not under all of them
            status = run.status()  # lesson mode: what is happening now, in two or three plain sentences
            render_narration(family, status.get("state"), view["rows"], view["quality_rows"], view["findings"],
                             total_steps=status.get("total_steps"), paused=is_paused(status))
    with st.expander(_("Quality curve and what the figures measure"), icon=":material/query_stats:"):
        render_quality_curve(view, dataset)
        if family == "vae":
            st.caption(_("Averaged over a fixed batch of test images at each snapshot. A grey bar near 0 is a collapsed "
                         "dimension: its code is the same for every image, so the decoder ignores it. Raising β pushes "
                         "the bars down."))


def render_kl_bars(view: dict) -> None:
    """The KL term per latent dimension at the latest snapshot, from kl.jsonl: collapse made visible."""
    if view["kl_figure"] is None:
        st.caption(_("The KL per latent dimension appears with the first snapshot."))
        return
    st.plotly_chart(view["kl_figure"], config={"displayModeBar": False})


def render_quality_numbers(view: dict, dataset: str = "mnist") -> None:
    """The latest FID and Inception Score in one row, each with its change since the previous scored
    snapshot: the quality curve's news in the space of a caption (the curve itself is in the expander)."""
    rows = view["quality_rows"]
    if not rows:
        reason = quality_unavailable_text(dataset)
        st.caption(_("No quality curve: {reason}.").format(reason=reason) if reason
                   else _("Quality (FID, Inception Score) appears after the first snapshot is scored."))
        return
    help_text = quality_scoring_note(rows, dataset)
    columns = st.columns(2)
    for column, name, colour in zip(columns, ("fid", "inception_score"), ("inverse", "normal")):
        history = [row[name] for row in rows if isinstance(row.get(name), (int, float))]
        if not history:
            continue
        delta = history[-1] - history[-2] if len(history) > 1 else None
        column.metric(_(QUALITY_LABELS[name]), f"{history[-1]:.1f}" if name == "fid" else f"{history[-1]:.2f}",
                      delta=None if delta is None else (f"{delta:+.1f}" if name == "fid" else f"{delta:+.2f}"),
                      delta_color=colour, help=help_text, border=True)


def quality_scoring_note(rows: list[dict], dataset: str) -> str:
    """What a quality point is: how many samples, which classifier, and what it is not comparable with."""
    return _("Each point scores {count} samples of one fixed noise batch with the project's {dataset} "
             "classifier; compare points of this curve with each other, not with the 10,000-sample "
             "numbers of `python -m aigc_core evaluate`.").format(
                 count=rows[-1].get("num_samples", ""), dataset=DATASET_TITLES.get(dataset, dataset))


def render_quality_curve(view: dict, dataset: str = "mnist") -> None:
    """FID and Inception Score against the step, from quality.jsonl: what the losses cannot say.

    Each dataset has its own classifier, so the caption names the one that scored this run.
    """
    rows = view["quality_rows"]
    if rows:
        st.plotly_chart(view["quality_figure"], config={"displayModeBar": False})
        st.caption(quality_scoring_note(rows, dataset))
    else:
        st.caption(_("Quality (FID, Inception Score) appears after the first snapshot is scored."))


def quality_unavailable_text(dataset: str) -> str | None:
    """`scoring_unavailable_reason` in the session's language (None when runs on `dataset` are scored)."""
    if scoring_unavailable_reason(dataset) is None:
        return None
    if os.environ.get(QUALITY_SAMPLES_VARIABLE, "").strip() == "0":
        return _("quality scoring is switched off on this server (`{setting}`)").format(
            setting=f"{QUALITY_SAMPLES_VARIABLE}=0")
    return _("this server has no {dataset} classifier; train it with `{command}` (minutes on a CPU)").format(
        dataset=DATASET_TITLES.get(dataset, dataset), command=train_command(dataset))


# How often an open tab redraws a run. A running run changes every second; a queued one only
# when a slot frees. On a shared server most watched runs wait in the queue, and every poll is
# a fragment run on the server (bench/load_test.py has four of five queued at the start).
POLL_INTERVALS = {"running": "1s", "queued": "4s"}


def render_run(run_id: str) -> None:
    """The live view of a run named in the URL; one error line for a bad or unknown id."""
    try:
        run = studio.get_run(run_id)
    except ValueError as error:
        st.error(_("Cannot show run from the URL: {reason}").format(reason=error))
        return
    config = run.config()
    family = config.get("model", "gan")
    state = run.status().get("state")
    interval = POLL_INTERVALS.get(state)

    # Polls while the run is active; a finished run is drawn once and left alone.
    @st.fragment(run_every=interval)
    def live_view():
        status = run.status()
        if interval and status.get("state") != state:
            st.rerun()  # started or ended: a full rerun sets the new pace and refreshes the sidebar
        with st.container(key="live_view"):
            _render_header(run, status, config, family)
            _render_state(run, status, config)
            render_curves_and_samples(run, family, config)
            if presentation_mode():
                st.markdown(LIVE_PRESENTATION_CSS, unsafe_allow_html=True)

    live_view()
