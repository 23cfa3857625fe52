"""The Train page's parts: the settings widgets that build a `TrainingConfig`, and the live
view of one run read from its directory (the page never touches a training process).

Widget defaults come from their one home: the registry variant, the model class signature
and `TrainingConfig`; this module only maps widget keys to those names.
"""

from __future__ import annotations

import inspect
from dataclasses import fields

import streamlit as st

from aigc_core.config import MAX_MINUTES, OVERRIDE_RULES, TrainingConfig, validate
from aigc_core.diagnosis import BROKEN_PRESETS, diagnose
from aigc_core.limits import MAX_SEED
from aigc_core.quality import scoring_unavailable_reason
from aigc_core.registry import FAMILIES, get_variant, presets_for
from aigc_core.runs import ACTIVE_STATES, Run, RunStore
from aigc_core.worker import queue_position
from ui.charts import image_grid_png, loss_figure, png_data_uri, quality_figure
from ui.diagnosis_view import annotate_figure, render_finding_cards

# Widget key -> model hyperparameter (an `overrides` name), per family, in display order.
HYPERPARAMETER_KEYS = {
    "gan": {
        "train_latent_dim": "latent_dim",
        "train_g_lr": "g_learning_rate",
        "train_d_lr": "d_learning_rate",
        "train_d_steps": "d_steps_per_g_step",
    },
    "vae": {
        "train_latent_dim": "latent_dim",
        "train_lr": "learning_rate",
        "train_beta": "beta",
    },
}
LABELS = {
    "latent_dim": "Latent size (dimensions of z)",
    "g_learning_rate": "Generator learning rate",
    "d_learning_rate": "Discriminator learning rate",
    "d_steps_per_g_step": "Discriminator steps per generator step",
    "learning_rate": "Learning rate",
    "beta": "β (weight of the KL term)",
}
FORMATS = {"float_open": "%.5f", "float": "%.2f"}
STEP_SIZES = {"g_learning_rate": 1e-4, "d_learning_rate": 1e-4, "learning_rate": 1e-4, "beta": 0.1}
# A time budget is the UI's own choice: TrainingConfig has no default minutes.
DEFAULT_MINUTES = 2.0
STATE_COLOURS = {"queued": "gray", "running": "blue", "finished": "green", "stopped": "orange", "interrupted": "violet",
                 "failed": "red"}


def _config_default(name: str):
    return next(item.default for item in fields(TrainingConfig) if item.name == name)


def model_defaults(family: str, preset: str) -> dict:
    """The model constructor's defaults updated by the variant's config: what training would use."""
    variant = get_variant(family, preset)
    signature = inspect.signature(variant.model_class.__init__)
    defaults = {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    return {**defaults, **variant.model_config}


def default_steps() -> int:
    """The steps `validate()` fills in when a config names no budget."""
    return validate(TrainingConfig()).steps


def widget_defaults(family: str, preset: str) -> dict:
    """Widget key -> default value for the hyperparameters of this variant."""
    variant = get_variant(family, preset)
    defaults = model_defaults(family, preset)
    values = {key: defaults[name] for key, name in HYPERPARAMETER_KEYS[family].items()}
    values["train_batch_size"] = variant.batch_size
    return values


NO_BREAKAGE = "(healthy: the preset as it is)"


def _reset_hyperparameters() -> None:
    family, preset = st.session_state.train_model, st.session_state.train_preset
    if preset not in presets_for(family):
        preset = st.session_state.train_preset = presets_for(family)[0]
    st.session_state.update(widget_defaults(family, preset))
    st.session_state.train_broken = NO_BREAKAGE


def _apply_broken_preset() -> None:
    """Fill the form with a "break it on purpose" setup: its model, preset and bad hyperparameters."""
    name = st.session_state.train_broken
    if name not in BROKEN_PRESETS:
        return
    broken = BROKEN_PRESETS[name]
    state = st.session_state
    state.train_model, state.train_preset = broken.family, broken.preset
    state.update(widget_defaults(broken.family, broken.preset))
    keys_by_name = {name: key for key, name in HYPERPARAMETER_KEYS[broken.family].items()}
    state.update({keys_by_name[name]: value for name, value in broken.overrides.items() if name in keys_by_name})


def _ensure_defaults() -> None:
    """Give every settings widget its default before it is drawn, unless the user set it.

    Widgets read their value from Session State (no `value=` argument), so that a change of
    model or preset can reset them from a callback.
    """
    state = st.session_state
    state.setdefault("train_model", _config_default("model"))
    state.setdefault("train_broken", NO_BREAKAGE)
    if state.get("train_preset") not in presets_for(state.train_model):
        state.train_preset = presets_for(state.train_model)[0]
    for key, value in {
        **widget_defaults(state.train_model, state.train_preset),
        "train_budget_kind": "steps",
        "train_steps": default_steps(),
        "train_minutes": DEFAULT_MINUTES,
        "train_seed": _config_default("seed"),
    }.items():
        state.setdefault(key, value)


def _hyperparameter_input(key: str, name: str, family: str):
    kind, low, high = OVERRIDE_RULES[family][name]
    if kind == "int":
        return st.number_input(LABELS[name], min_value=low, max_value=high, step=1, key=key)
    # A learning rate of exactly 0 is allowed here so that the validator can explain why it is refused.
    return st.number_input(LABELS[name], min_value=float(low), max_value=float(high), step=STEP_SIZES[name],
                           format=FORMATS[kind], key=key)


def settings_form() -> TrainingConfig:
    """Draw the settings widgets in four columns and return the config they describe (not yet validated)."""
    _ensure_defaults()
    model_column, hyperparameter_column, budget_column, seed_column = st.columns(4, gap="medium")
    with model_column:
        family = st.radio("Model", FAMILIES, key="train_model", horizontal=True, format_func=str.upper,
                          on_change=_reset_hyperparameters)
        preset = st.selectbox("Preset", presets_for(family), key="train_preset", on_change=_reset_hyperparameters)
        st.caption(get_variant(family, preset).description)
        broken = st.selectbox("Break it on purpose", [NO_BREAKAGE, *BROKEN_PRESETS], key="train_broken",
                              on_change=_apply_broken_preset,
                              help="Known ways to make training fail; the diagnosis under the chart should spot them.")
        if broken in BROKEN_PRESETS:
            st.info(f"**Watch for:** {BROKEN_PRESETS[broken].watch_for}", icon=":material/visibility:")
    with hyperparameter_column:
        overrides = {name: _hyperparameter_input(key, name, family)
                     for key, name in HYPERPARAMETER_KEYS[family].items()}
    with budget_column:
        batch_size = st.number_input("Batch size", min_value=1, step=1, key="train_batch_size")
        budget_kind = st.radio("Budget", ("steps", "minutes"), key="train_budget_kind", horizontal=True)
        budget = {}
        if budget_kind == "steps":
            budget["steps"] = st.number_input("Steps (generator updates for a GAN)", min_value=1, step=50,
                                              key="train_steps")
        else:
            budget["minutes"] = st.number_input("Minutes", min_value=0.5, max_value=MAX_MINUTES, step=0.5,
                                                format="%.1f", key="train_minutes")
    with seed_column:
        seed = st.number_input("Seed", min_value=0, max_value=MAX_SEED, step=1, key="train_seed")
    return TrainingConfig(model=family, preset=preset, overrides=overrides, batch_size=int(batch_size),
                          seed=int(seed), **budget)


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


def _progress_text(status: dict, config: dict) -> str:
    total = status.get("total_steps")
    step = f"step {status.get('step', 0)}" + (f" / {total}" if total else "")
    parts = [step, f"elapsed {format_duration(status.get('elapsed_s'))}"]
    if config.get("minutes") and not total:
        parts[-1] += f" of {format_duration(config['minutes'] * 60)}"
    if status.get("state") in ACTIVE_STATES and status.get("eta_s") is not None:
        parts.append(f"ETA {format_duration(status['eta_s'])}")
    return "  ·  ".join(parts)


def _queue_message(run: Run, store: RunStore) -> str:
    ahead = queue_position(run, store)
    training = sum(1 for other in store.list() if other.path != run.path and other.status().get("state") == "running")
    if not ahead and not training:
        return "Starting the worker: loading TensorFlow and the data…"
    return f"Waiting for a free training slot: {training} training now, {ahead} queued ahead of this run."


def _render_state(run: Run, store: RunStore, status: dict, config: dict) -> None:
    state = status.get("state", "unknown")
    st.badge(state, color=STATE_COLOURS.get(state, "gray"))
    if state == "queued":
        st.info(_queue_message(run, store))
    st.progress(progress_fraction(status, config), text=_progress_text(status, config))
    if state == "failed":
        st.error(f"The run failed: {status.get('error') or 'no reason recorded'}")
    elif state == "stopped":
        st.warning(f"Stopped at step {status.get('step', 0)}; its last checkpoint is kept.")
    elif state == "interrupted":
        st.warning(f"Interrupted: {status.get('error') or 'the worker was asked to end'}. Resume it on the Runs page.")
    elif state == "finished":
        st.success(f"Finished {status.get('step', 0)} steps in {format_duration(status.get('elapsed_s'))}.")
    if state in ACTIVE_STATES:
        if run.stop_requested():
            st.caption("Stop requested: the run checkpoints and ends after the current step.")
        elif st.button("Stop training", key="train_stop", icon=":material/stop_circle:"):
            run.request_stop()
            st.caption("Stop requested: the run checkpoints and ends after the current step.")
    else:
        st.page_link("pages/compare.py", label="Compare this model with the shipped ones", icon=":material/compare:")
        st.page_link("pages/runs.py", label="All runs: timeline, downloads, delete", icon=":material/folder_open:")


def render_curves_and_samples(run: Run, family: str, config: dict) -> None:
    """The loss curves (with diagnosis markers) and the quality curve (FID, IS of each scored
    snapshot) beside the latest snapshot grid of the fixed latent batch.

    The diagnosis is numpy over a few hundred rows and one snapshot: cheap enough every second.
    """
    rows, latest = run.metrics(), run.latest_snapshot()
    findings = diagnose(family, rows, latest[1] if latest else None, snapshot_step=latest[0] if latest else None,
                        error=run.status().get("error"))
    curves_column, samples_column = st.columns([4, 3], gap="medium")
    with curves_column:
        if rows:
            st.plotly_chart(annotate_figure(loss_figure(rows, family), findings), config={"displayModeBar": False})
        else:
            st.caption(f"Loss curves appear after the first {config.get('log_every', '')} steps.")
        render_quality_curve(run)
    with samples_column:
        if latest is None:
            st.caption("Samples appear once the model is built.")
        else:
            step, images = latest
            st.image(png_data_uri(image_grid_png(images, scale=2)), width="stretch",
                     caption=f"Samples from one fixed noise batch at step {step}")
    render_finding_cards(findings)


def render_quality_curve(run: Run) -> None:
    """FID and Inception Score against the step, from quality.jsonl: what the losses cannot say."""
    rows = run.quality()
    if rows:
        st.plotly_chart(quality_figure(rows), config={"displayModeBar": False})
        st.caption(f"Each point scores {rows[-1].get('num_samples', '')} samples of one fixed noise batch "
                   "with the project's MNIST classifier; compare points of this curve with each other, not "
                   "with the 10,000-sample numbers of `python -m aigc_core evaluate`.")
    else:
        reason = scoring_unavailable_reason()
        st.caption(f"No quality curve: {reason}." if reason
                   else "Quality (FID, Inception Score) appears after the first snapshot is scored.")


def render_run(run_id: str) -> None:
    """The live view of a run named in the URL; one error line for a bad or unknown id."""
    store = RunStore()
    try:
        run = store.get(run_id)
    except ValueError as error:
        st.error(f"Cannot show run from the URL: {error}")
        return
    config = run.config()
    family = config.get("model", "gan")
    active = run.status().get("state") in ACTIVE_STATES

    # Polls once a second while the run is active; a finished run is drawn once and left alone.
    @st.fragment(run_every="1s" if active else None)
    def live_view():
        status = run.status()
        if active and status.get("state") not in ACTIVE_STATES:
            st.rerun()  # a full rerun redraws this view without polling and refreshes the sidebar
        st.subheader(f"Run {run.run_id}")
        st.caption(f"{family.upper()} · preset {config.get('preset')} · batch {config.get('batch_size')} · "
                   f"seed {config.get('seed')}")
        _render_state(run, store, status, config)
        render_curves_and_samples(run, family, config)

    live_view()
