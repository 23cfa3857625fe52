"""What the Augment page shows: the experiment's settings, a Run button with progress, the result.

The experiment runs in the server's own process (a few thousand classifier steps, a minute or
two), so its size is capped by `PAGE_MAX_TOTAL_STEPS` through `validate_settings`; longer
settings belong to `python -m aigc_core augment`. Models come from `ui.cache.load_model` and
are only sampled. The last result is kept in Session State with the settings that made it.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from aigc_core.experiments.augment import (
    ARM_FAMILIES, GENERATED_RANGE, MIN_EFFECT_POINTS, SEEDS_RANGE, TRAIN_STEPS_RANGE, AugmentSettings,
    Comparison, ExperimentResult, conditional_sources, load_generator_arm, run_experiment, validate_settings,
)
from aigc_core.messages import Message
from ui.cache import load_model, weights_directory
from ui.charts import GRID_COLOUR
from ui.charts import projector_fonts
from ui.i18n import N_, _, error_text
from ui.share import figure_scale

# About twice the default settings' 7,200 steps: a few minutes at most in the server process.
PAGE_MAX_TOTAL_STEPS = 15_000
SIZE_OPTIONS = (5, 10, 20, 50, 100, 200, 500)
TEST_LIMIT_OPTIONS = (1000, 2000, 5000, 10_000)
NO_SOURCE = ""
RESULT_KEY = "augment_result"
# Pixels for the result table's verdict column: "no significant difference" at the app's font size.
VERDICT_WIDTH_PX = 200
# Okabe-Ito colours, as the other charts: one per arm, in the order arms are added.
ARM_COLOURS = {"real": "#999999", "more_real": "#009E73", "gan": "#0072B2", "vae": "#E69F00"}
# The fixed words of aigc_core.experiments.augment that the page shows (arm families and labels, a comparison's
# outcome): the library stays free of Streamlit, so they are marked here and translated where shown.
LIBRARY_TEXTS = (N_("conditional GAN"), N_("CVAE"), N_("conditional diffusion model"), N_("real only"), N_("+ more real data (reference)"),
                 N_("helped"), N_("hurt"), N_("negligible"), N_("no significant difference"), N_("one seed"))
WHOLE_TEST_SET = "the whole MNIST test split"
# `validate_settings`' names for the settings, as the form labels them (a refusal names the control).
SETTING_LABELS = {"per_class": N_("Real examples per digit (one row each)"),
                  "generated_per_class": N_("Generated examples added per digit (K)"),
                  "seeds": N_("Seeds (each picks other real examples)"), "seed": N_("Seed"),
                  "more_real": N_("Reference arm: K more *real* examples per digit"), "test_limit": N_("Test images"),
                  "train_steps": N_("Classifier training steps (the same for every arm)"),
                  "batch_size": N_("Batch size")}


def _default(key: str, value) -> None:
    """Widgets keep their value in Session State only (no `value=`), so tests and links can set it."""
    if key not in st.session_state:
        st.session_state[key] = value


def source_choice(family: str) -> str:
    """A select box of the conditional sources of one family; NO_SOURCE when there are none or none is chosen."""
    sources = conditional_sources(family, None, weights_directory())  # None: the app's run store
    by_key = {source.key: source.label for source in sources}
    options = [*by_key, NO_SOURCE]
    if st.session_state.get(f"augment_{family}") not in options:
        st.session_state[f"augment_{family}"] = options[0]
    choice = st.selectbox(_(ARM_FAMILIES[family]), options, key=f"augment_{family}",
                          format_func=lambda key: by_key.get(key, _("none (skip this arm)")))
    if not sources:
        st.caption(missing_model_text(family))
    return choice


def missing_model_text(family: str) -> str:
    """`aigc_core.experiments.augment.missing_model_note` in the session's language (the same words in English)."""
    return _("No {model} is available (no shipped conditional weights and no run of one), so its arm was not run. "
             "Train one on the Train page or with `python -m aigc_core train`.").format(model=_(ARM_FAMILIES[family]))


def arm_label(arm: str, label: str) -> str:
    """An arm's label in the session's language: a fixed one whole, a model's ("+ CVAE (key)") by its family."""
    family = ARM_FAMILIES.get(arm)
    if family and label.startswith(f"+ {family} "):
        return f"+ {_(family)} {label[len(family) + 3:]}"
    return _(label)


def settings_form() -> tuple[AugmentSettings, dict[str, str]]:
    """The keyed widgets; returns the settings (not yet validated) and {family: source key or NO_SOURCE}."""
    defaults = AugmentSettings()
    _default("augment_per_class", list(defaults.per_class))
    _default("augment_generated", defaults.generated_per_class)
    _default("augment_seeds", defaults.seeds)
    _default("augment_test_limit", defaults.test_limit)
    _default("augment_train_steps", defaults.train_steps)
    _default("augment_more_real", defaults.more_real)
    left, right = st.columns(2)
    with left:
        per_class = st.multiselect(_("Real examples per digit (one row each)"), SIZE_OPTIONS, key="augment_per_class")
        generated = st.number_input(_("Generated examples added per digit (K)"), *GENERATED_RANGE, step=10,
                                    key="augment_generated")
        seeds = st.number_input(_("Seeds (each picks other real examples)"), *SEEDS_RANGE, step=1, key="augment_seeds")
        more_real = st.checkbox(_("Reference arm: K more *real* examples per digit"), key="augment_more_real",
                                help=_("What the generated images are up against: the gain real data would bring."))
    with right:
        choices = {family: source_choice(family) for family in ARM_FAMILIES}
        test_limit = st.selectbox(_("Test images"), TEST_LIMIT_OPTIONS, key="augment_test_limit",
                                  format_func=lambda count: _("first {count:,} of the MNIST test split").format(
                                      count=count))
        train_steps = st.number_input(_("Classifier training steps (the same for every arm)"), *TRAIN_STEPS_RANGE,
                                      step=50, key="augment_train_steps")
    settings = AugmentSettings(per_class=tuple(per_class), generated_per_class=generated, seeds=seeds,
                               test_limit=test_limit, train_steps=train_steps, more_real=more_real)
    return settings, choices


def check(settings: AugmentSettings, choices: dict[str, str]) -> str | None:
    """The one-line reason these settings cannot run on this page, or None."""
    try:
        validate_settings(settings, sum(1 for key in choices.values() if key), PAGE_MAX_TOTAL_STEPS)
    except ValueError as error:
        labels = {name: _(label) for name, label in SETTING_LABELS.items()}
        return _("{reason} (longer settings: `python -m aigc_core augment`)").format(
            reason=error_text(error, labels))
    return None


def run_with_progress(settings: AugmentSettings, choices: dict[str, str]) -> ExperimentResult:
    """Load the chosen models, run the experiment under a progress bar, and return its result.

    Raises:
        ValueError: a model that cannot be loaded or is not conditional, or refused settings.
    """
    arms, notes = [], []
    for family, key in choices.items():
        if key:
            arms.append(load_generator_arm(family, key, None, weights_directory(), model=load_model(key)))
        elif conditional_sources(family, None, weights_directory()):
            notes.append(_("The {model} arm was switched off.").format(model=_(ARM_FAMILIES[family])))
        else:
            notes.append(missing_model_text(family))
    bar = st.progress(0.0, text=_("Loading MNIST…"))

    def progress(done: int, total: int, message: str) -> None:
        values = getattr(message, "values", {})
        if "label" in values:  # an arm's label, worded as the table words it
            message = Message(message.template, **{**values, "label": arm_label(values["arm"], values["label"])})
        bar.progress(done / total if total else 1.0, text=_("{done}/{total} classifier trainings · {message}").format(
            done=done, total=total, message=error_text(message)))

    result = run_experiment(settings, arms, progress=progress, max_total_steps=PAGE_MAX_TOTAL_STEPS, notes=notes)
    bar.empty()
    return result


def result_rows(result: ExperimentResult) -> list[dict]:
    """One table row per size and arm, accuracies in percent, with the paired difference to real-only."""
    comparisons = {(item.per_class, item.arm): item for item in result.comparisons()}
    rows = []
    for row in result.rows:
        comparison = comparisons.get((row.per_class, row.arm))
        # What a reader looks for first (arm, change, verdict) comes first; the spread last.
        rows.append({
            _("real per digit"): row.per_class,
            _("arm"): arm_label(row.arm, row.label),
            # Text, so the baseline's own row reads "baseline" rather than a missing number.
            _("vs real only (points)"): f"{comparison.mean_points:+.2f}" if comparison else _("baseline"),
            _("verdict"): _(comparison.outcome) if comparison else "",
            _("mean accuracy (%)"): round(100 * row.mean, 2),
            _("std"): round(100 * row.std, 2),
            _("min"): round(100 * row.minimum, 2),
            _("max"): round(100 * row.maximum, 2),
            _("training images"): row.train_size,
        })
    return rows


def accuracy_figure(result: ExperimentResult) -> go.Figure:
    """Grouped bars, one group per size: mean test accuracy, whiskers from the worst to the best seed."""
    figure = go.Figure()
    sizes = [str(size) for size in result.settings.per_class]
    arms = list(dict.fromkeys(row.arm for row in result.rows))
    for arm in arms:
        rows = [row for row in result.rows if row.arm == arm]
        means = [100 * row.mean for row in rows]
        figure.add_trace(go.Bar(
            x=[str(row.per_class) for row in rows], y=means, name=arm_label(arm, rows[0].label),
            marker_color=ARM_COLOURS.get(arm),
            error_y={"type": "data", "symmetric": False,
                     "array": [100 * row.maximum - mean for row, mean in zip(rows, means)],
                     "arrayminus": [mean - 100 * row.minimum for row, mean in zip(rows, means)]},
            hovertemplate="%{y:.1f}%<extra>" + arm_label(arm, rows[0].label) + "</extra>",
        ))
    figure.update_layout(
        barmode="group", height=int(420 * figure_scale()), paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)", margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.25},
        # Categories, not numbers: 10, 50 and 100 are evenly spaced groups. Bars start at 0 so
        # that their heights compare honestly; the table has the exact differences.
        xaxis={"title": _("real examples per digit"), "type": "category", "categoryorder": "array",
               "categoryarray": sizes},
        yaxis={"title": _("test accuracy (%)"), "range": [0, 100]},
    )
    figure.update_xaxes(gridcolor=GRID_COLOUR)
    figure.update_yaxes(gridcolor=GRID_COLOUR)
    return projector_fonts(figure)


def phrase(comparison: Comparison) -> str:
    """One arm's outcome at one size, as `aigc_core.experiments.augment` words it, in the session's language."""
    points, size = round(comparison.mean_points, 1) + 0.0, comparison.per_class  # + 0.0: never "-0.0"
    if comparison.outcome == "helped":
        return _("helped by {points:.1f} points at {size} per class").format(points=points, size=size)
    if comparison.outcome == "hurt":
        return _("hurt by {points:.1f} points at {size} per class").format(points=-points, size=size)
    if comparison.outcome == "negligible":
        return _("no meaningful difference at {size} per class ({points:+.1f} points, under {threshold:g})").format(
            size=size, points=points, threshold=MIN_EFFECT_POINTS)
    if comparison.outcome == "one seed":
        return _("{points:+.1f} points at {size} per class").format(points=points, size=size)
    return _("no significant difference at {size} per class ({points:+.1f} points, within the seed-to-seed "
             "spread)").format(size=size, points=points)


def verdict_lines(result: ExperimentResult) -> list[str]:
    """`ExperimentResult.verdict()` in the session's language: one sentence per arm."""
    lines, by_arm = [], {}
    for comparison in result.comparisons():
        by_arm.setdefault(comparison.arm, []).append(comparison)
    for arm, items in by_arm.items():
        items = sorted(items, key=lambda item: item.per_class)
        label = arm_label(arm, items[0].label).lstrip("+ ").strip()
        caveat = _(" (one seed: no spread to judge it by)") if any(item.outcome == "one seed" for item in items) \
            else ""
        lines.append(_("{arm}: {phrases}{caveat}.").format(arm=label, phrases=_("; ").join(map(phrase, items)),
                                                           caveat=caveat))
    return lines


def test_set_text(result: ExperimentResult) -> str:
    """The library's description of the test images ("the first 1,000 images of ..."), translated."""
    if result.test_set == WHOLE_TEST_SET:
        return _("the whole MNIST test split")
    return _("the first {count:,} images of the MNIST test split").format(
        count=min(result.settings.test_limit, 10_000))


def render_result(result: ExperimentResult) -> None:
    settings = result.settings
    st.subheader(_("Verdict"))
    for line in verdict_lines(result):
        st.markdown(f"- {line}")
    for note in result.notes:
        st.info(note)
    st.plotly_chart(accuracy_figure(result), key="augment_chart")
    st.caption(_("Bars: mean test accuracy on {test_set} over {seeds} seed(s); whiskers: the worst and the best "
                 "seed. Every arm of a seed trains {steps} steps of {batch_size} images from the same initial "
                 "weights on the same real examples, plus {generated} added images per digit. \"helped\" / "
                 "\"hurt\" means a paired t-test over the seeds finds the difference at 95%.").format(
        test_set=test_set_text(result), seeds=settings.seeds, steps=settings.train_steps,
        batch_size=settings.batch_size, generated=settings.generated_per_class))
    rows = result_rows(result)
    # The verdict comes right after the arm, wide enough for its longest words ("no significant
    # difference"), so it is whole on a 1280-px screen beside the sidebar; only the spread
    # columns at the end may scroll away on a narrow one.
    st.dataframe(rows, hide_index=True, key="augment_table", height=35 * (len(rows) + 1) + 3,
                 column_config={_("arm"): st.column_config.Column(width="medium"),
                                _("vs real only (points)"): st.column_config.Column(width=VERDICT_WIDTH_PX - 50),
                                _("verdict"): st.column_config.Column(width=VERDICT_WIDTH_PX)})
    st.caption(_("Ran {trainings} classifier trainings in {seconds:.1f} s ({cpu_seconds:.1f} s of CPU time).").format(
        trainings=sum(len(row.accuracies) for row in result.rows), seconds=result.elapsed_s,
        cpu_seconds=result.cpu_s))
