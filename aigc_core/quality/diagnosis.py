"""Diagnosis: read a run's metric rows (and its latest samples) and say in plain words what is going wrong.

Each check looks for a symptom that lasts, never for one noisy row, and skips the first rows of
training, where every model looks broken (an untrained VAE has KL near 0, an untrained generator
draws grey noise). The thresholds below were set against real runs of this project: healthy
runs (the shipped weights' histories and tiny 40-60 step runs) stay below every alarm, the
"break it on purpose" presets at the end of this file trip the alarm they name.

Pure Python and NumPy: the CLI, the tests and the UI share it, and it never imports Keras.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from aigc_core.messages import N_

# -- thresholds ----------------------------------------------------------------------------
# A symptom must hold for this many consecutive logged rows: one row is the mean of
# `log_every` steps and can dip by chance (a healthy VAE's KL dipped to 0.07 for one row).
MIN_SUSTAINED_ROWS = 4
# D loss is BCE on real plus BCE on fake; below 0.1 D gives each image the right label with
# probability ~0.95 or more, and D(G(z)) below 0.05 leaves the generator a vanishing gradient.
# Healthy runs of this project never go below 0.6.
D_WINNING_LOSS = 0.1
D_WINNING_FAKE = 0.05
# Once D has won, single rows where G fools it a little (D(G(z)) up to 0.16 in "discriminator
# 10x faster" runs) do not end the episode: it lasts while D(G(z)) stays below twice the entry
# threshold, and ends only after RECOVERY_ROWS rows in a row above it.
D_WINNING_STAYS_FAKE = 2 * D_WINNING_FAKE
RECOVERY_ROWS = 3
# D judging fakes at least as "real" as real digits means it has stopped telling them apart.
# A healthy GAN converges towards D(x) ~0.53 > D(G(z)) ~0.47, never below.
D_LOSING_MIN_ROWS = 6
# The first rows are skipped for the D checks: at step 0 both networks are random and
# D(x) ~ D(G(z)) ~ 0.5 by construction.
GAN_WARMUP_ROWS = 2
# Oscillation: the typical (median) row-to-row change of log(d_loss + floor) over a window of
# rows. 0.3 is a swing of about 35% from one row to the next; healthy runs here stay at or below
# 0.06, "learning rate x10" windows swing 0.2-1.0. An episode starts at the first window above 0.3
# and lasts while windows stay above 0.15 (a calmer stretch inside a swinging run is not a
# recovery). The floor keeps a discriminator that wins (d_loss ~0.001 -> 0.0005) from counting as a swing.
OSCILLATION_ROWS = 8
OSCILLATION_LOG_SWING = 0.3
OSCILLATION_STAYS_SWING = 0.15
OSCILLATION_FLOOR = 0.05
# An untrained Bernoulli VAE loses 784 * ln 2 ~ 543 nats per image; GAN losses are a few nats.
# Anything past 1e4 is a blow-up, not learning.
EXPLODING_VALUE = 1e4
# VAE loss counts as climbing when it sits this far above its best value for MIN_SUSTAINED_ROWS rows.
RISING_FACTOR = 1.5
# Posterior collapse: a total KL below 0.1 nats means the code carries almost nothing about the
# image (healthy runs here sit at 2-20 nats). It is only judged once the reconstruction loss has
# dropped 20% from its first value: before that the decoder has not learned anything yet and
# KL ~0 is normal.
KL_COLLAPSE_NATS = 0.1
# A collapsed code creeps back slowly (beta = 20 runs: 0.03-0.14 nats after 500 steps, 0.25 after
# 1,500, the samples still one blur): the episode lasts while KL stays below half a nat, less than
# the one bit (ln 2 = 0.69 nats) a code needs to tell even two kinds of image apart.
KL_COLLAPSE_STAYS_NATS = 0.5
WARMUP_RECONSTRUCTION_DROP = 0.2
# Sample diversity, on a snapshot (N, 28, 28) in [0, 1]. Two random MNIST digits are ~9.8 apart
# (L2 over 784 pixels); trained models here give 4.4 (blurry 2-D VAE) to 10. Below 3.0 most
# samples look alike. Images with a mean per-image std under 0.18 are not digits yet (an
# untrained generator draws flat grey, std ~0.02; real digits have 0.29), so they are not judged.
LOW_DIVERSITY_DISTANCE = 3.0
DUPLICATE_DISTANCE = 2.0
MIN_CONTRAST = 0.18
MIN_SAMPLES = 16
# Class coverage, when the classifier's probabilities of the snapshot are given: with 32 or
# more samples a healthy model shows at least 6 digits and no digit above half of them (the
# blurry 2-D VAE's most common digit has 23%).
MIN_DIGITS_PRESENT = 6
MAX_CLASS_SHARE = 0.5
MIN_SAMPLES_FOR_COVERAGE = 32

SEVERITIES = ("error", "warning", "info")
DIVERGED_PATTERN = re.compile(r"diverged at step (\d+)")
# The title of an episode the run recovered from: the finding's own title, then its steps.
RECOVERED_TITLE = N_("{title} (steps {start_step:,}-{end_step:,}, recovered since)")


@dataclass(frozen=True)
class Finding:
    """One diagnosis: what, how bad, from which step, and what to try.

    `severity` is "error" (training is broken now), "warning" (likely broken) or "info" (it
    happened, and the run has recovered since). `end_step` is the last step of an episode that
    is over (None while it lasts).

    `title`, `explanation` and `advice` are English. `templates` holds the same three texts
    before their numbers were filled in (marked with `N_` for translation) and `parameters` those
    numbers, so the UI can translate each template and fill it again (ui/diagnosis_view.py).
    """

    kind: str
    severity: str
    step: int | None
    title: str
    explanation: str
    advice: str
    end_step: int | None = None
    templates: tuple[str, str, str] | None = field(default=None, compare=False)
    parameters: dict = field(default_factory=dict, compare=False)


def _finding(kind: str, severity: str, step: int | None, title: str, explanation: str, advice: str,
             end_step: int | None = None, parameters: dict | None = None) -> Finding:
    """A Finding whose English texts are its templates filled with `parameters`.

    A finding with an `end_step` (an episode the run recovered from) gets RECOVERED_TITLE around its title.
    """
    parameters = dict(parameters or {})
    filled = title.format(**parameters)
    if end_step is not None:
        filled = RECOVERED_TITLE.format(title=filled, start_step=step, end_step=end_step)
    return Finding(kind, severity, step, filled, explanation.format(**parameters), advice.format(**parameters),
                   end_step=end_step, templates=(title, explanation, advice), parameters=parameters)


# -- helpers -------------------------------------------------------------------------------
def _value(row: dict, name: str) -> float | None:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _sorted_rows(rows) -> list[dict]:
    return sorted((row for row in rows or [] if isinstance(row, dict) and isinstance(row.get("step"), (int, float))),
                  key=lambda row: row["step"])


def _episodes(rows: list[dict], enters, stays, min_rows: int, recovery_rows: int) -> list[tuple[int, int, bool]]:
    """(first, last, ongoing) row indexes of every episode of a symptom, with hysteresis.

    An episode starts at the first of `min_rows` consecutive rows where `enters(row)` holds, so
    its first row is where the failure really starts. It then lasts while `stays(row)` (a looser
    test) holds, and a few better rows do not end it: only `recovery_rows` consecutive rows where
    `stays` fails do, and its last row is then the last one where `stays` held. An episode still
    open at the last row is `ongoing`, even when the last few rows look better.
    """
    episodes, start, last, misses, index = [], None, None, 0, 0
    while index < len(rows):
        if start is None:
            window = rows[index:index + min_rows]
            if len(window) == min_rows and all(enters(row) for row in window):
                start, last, misses = index, index + min_rows - 1, 0
                index += min_rows
                continue
        elif stays(rows[index]):
            last, misses = index, 0
        else:
            misses += 1
            if misses >= recovery_rows:
                episodes.append((start, last, False))
                start = None
        index += 1
    if start is not None:
        episodes.append((start, last, True))
    return episodes


def _episode(rows, holds, min_rows, kind, severity, title, explanation, advice, skip_rows=0,
             stays=None, recovery_rows=1, parameters=None) -> Finding | None:
    """The latest episode of the symptom (see `_episodes`) as a Finding, from the step where it started.

    Without `stays` the episode ends at the first row where `holds` fails. An episode that ended
    is reported as "info": it happened, the run recovered.
    """
    checked = rows[skip_rows:]
    episodes = _episodes(checked, holds, stays or holds, min_rows, recovery_rows)
    if not episodes:
        return None
    first, last, ongoing = episodes[-1]
    start_step, end_step = int(checked[first]["step"]), int(checked[last]["step"])
    if ongoing:
        return _finding(kind, severity, start_step, title, explanation, advice, parameters=parameters)
    return _finding(kind, "info", start_step, title, explanation, advice, end_step=end_step, parameters=parameters)


# -- checks --------------------------------------------------------------------------------
def _non_finite(rows: list[dict], error: str | None) -> Finding | None:
    advice = N_("Lower the learning rate (x0.1), keep the batch size at 32 or more, and start a new run.")
    for row in rows:
        bad = [name for name, value in row.items()
               if name not in ("step", "epoch", "elapsed_s") and isinstance(value, float) and not math.isfinite(value)]
        if bad:
            return _finding("divergence", "error", int(row["step"]), N_("Training diverged: NaN or infinite losses"),
                            N_("{names} stopped being numbers at step {step:,}. Once a weight is "
                               "NaN every later step is NaN too: the run cannot recover."), advice,
                            parameters={"names": ", ".join(bad), "step": int(row["step"])})
    match = DIVERGED_PATTERN.search(error or "")
    if match:
        step = int(match.group(1))
        return _finding("divergence", "error", step, N_("Training diverged and was stopped"),
                        N_("At step {step:,} a loss blew up (became infinite, NaN or larger than a million); "
                           "the trainer stopped the run there, so the chart ends before the blow-up."), advice,
                        parameters={"step": step})
    for row in rows:
        big = [name for name, value in row.items()
               if name not in ("step", "epoch", "elapsed_s") and isinstance(value, (int, float))
               and not isinstance(value, bool) and abs(value) > EXPLODING_VALUE]
        if big:
            step = int(row["step"])
            last = rows[-1]
            recovered = row is not last and all(abs(_value(last, name) or 0.0) <= EXPLODING_VALUE for name in big)
            return _finding("divergence", "info" if recovered else "warning", step,
                            N_("A loss exploded (recovered since)") if recovered else N_("A loss exploded"),
                            N_("{names} jumped above {limit:,.0f} at step {step:,}: the optimizer "
                               "took a step far too large. Healthy losses here stay in the hundreds (VAE) or "
                               "single digits (GAN)."), advice,
                            parameters={"names": ", ".join(big), "limit": EXPLODING_VALUE, "step": step})
    return None


def is_critic_history(rows: list[dict]) -> bool:
    """True for a WGAN-GP's rows: its critic logs a Wasserstein estimate, not D's probabilities."""
    return any("wasserstein" in row for row in rows)


def _gan_findings(rows: list[dict]) -> list[Finding]:
    """The discriminator checks, for a GAN whose D is a classifier trained with cross-entropy.

    A WGAN-GP's critic is not: its loss is a score difference that is negative when it works
    (so "D loss near 0" means nothing), it logs no D(x) or D(G(z)), and its loss moves by
    large factors in healthy runs. None of these thresholds was set for it, so its rows get
    only the family-independent checks (divergence, sample diversity).
    """
    if is_critic_history(rows):
        return []
    findings = []
    winning = _episode(
        rows,
        lambda row: (_value(row, "d_loss") is not None and _value(row, "d_fake") is not None
                     and _value(row, "d_loss") < D_WINNING_LOSS and _value(row, "d_fake") < D_WINNING_FAKE),
        MIN_SUSTAINED_ROWS, "discriminator_winning", "error", N_("The discriminator is winning"),
        N_("D loss is below {loss} and D(G(z)) below {fake}: the discriminator spots every fake, "
           "so its verdict is the same 'fake' whatever the generator tries, and the generator's gradient "
           "vanishes. Expect the samples to stop improving."),
        N_("Slow the discriminator down: lower its learning rate or its steps per generator step (1 is the DCGAN "
           "default), or raise the generator's learning rate."),
        stays=lambda row: _value(row, "d_fake") is not None and _value(row, "d_fake") < D_WINNING_STAYS_FAKE,
        recovery_rows=RECOVERY_ROWS, parameters={"loss": D_WINNING_LOSS, "fake": D_WINNING_FAKE})
    if winning:
        findings.append(winning)
    losing = _episode(
        rows,
        lambda row: (_value(row, "d_real") is not None and _value(row, "d_fake") is not None
                     and _value(row, "d_fake") >= _value(row, "d_real")),
        D_LOSING_MIN_ROWS, "discriminator_losing", "warning", N_("The discriminator cannot tell real from fake"),
        N_("D(G(z)) is at or above D(x): fakes are judged at least as real as real digits, and D loss sits at or "
           "above 2 ln 2 ≈ 1.39, what a coin flip scores. A healthy GAN keeps D(x) a little above D(G(z)); "
           "here the discriminator has stopped learning, so the generator gets no useful direction and "
           "can drift anywhere."),
        N_("Give the discriminator a chance: raise its learning rate (2e-4 is the fast preset's), or lower the "
           "generator's learning rate."), skip_rows=GAN_WARMUP_ROWS)
    if losing:
        findings.append(losing)
    oscillation = _oscillation(rows)
    # Once D has won, its loss sits near 0 and spikes whenever G fools it once: swinging that
    # begins after D took over is that winning, already reported, not a second failure.
    if oscillation and not (winning and winning.severity == "error" and winning.step <= oscillation.step):
        findings.append(oscillation)
    return findings


def _oscillation(rows: list[dict]) -> Finding | None:
    """Swinging D loss: an episode of OSCILLATION_ROWS-row windows, marked from the row of its first big swing.

    A window's swing is its median row-to-row change, so it only crosses the threshold once half
    its rows swing; the episode is therefore dated from the first large change in that window.
    """
    checked = rows[GAN_WARMUP_ROWS:]
    losses = [_value(row, "d_loss") for row in checked]
    windows = []
    for first in range(len(checked) - OSCILLATION_ROWS + 1):
        window = losses[first:first + OSCILLATION_ROWS]
        changes = (np.zeros(OSCILLATION_ROWS - 1) if any(value is None or value < 0 for value in window)
                   else np.abs(np.diff(np.log(np.asarray(window) + OSCILLATION_FLOOR))))
        windows.append({"first": first, "swing": float(np.median(changes)), "changes": changes})
    episodes = _episodes(windows, lambda window: window["swing"] > OSCILLATION_LOG_SWING,
                         lambda window: window["swing"] > OSCILLATION_STAYS_SWING, 1, RECOVERY_ROWS)
    if not episodes:
        return None
    first, last, ongoing = episodes[-1]
    opening = windows[first]
    start_row = opening["first"] + 1 + int(np.argmax(opening["changes"] > OSCILLATION_LOG_SWING))
    start_step = int(checked[start_row]["step"])
    typical = math.expm1(float(np.median([window["swing"] for window in windows[first:last + 1]])))
    title = N_("Training is oscillating")
    explanation = N_("D loss swings by about {swing:.0%} from one logged row to the next: the two networks "
                     "overshoot each other instead of settling. Samples will flicker between good and broken.")
    advice = N_("Lower both learning rates (x0.1), or set both Adam momentums to 0.5 "
                "(the DCGAN paper's Adam setting).")
    if ongoing:
        return _finding("oscillation", "warning", start_step, title, explanation, advice, parameters={"swing": typical})
    end_step = int(checked[windows[last]["first"] + OSCILLATION_ROWS - 1]["step"])
    return _finding("oscillation", "info", start_step, title, explanation, advice, end_step=end_step,
                    parameters={"swing": typical})


def _vae_findings(rows: list[dict]) -> list[Finding]:
    findings = []
    reconstruction = [(_value(row, "reconstruction_loss"), index) for index, row in enumerate(rows)]
    reconstruction = [(value, index) for value, index in reconstruction if value is not None]
    if not reconstruction:
        return findings
    first = reconstruction[0][0]
    warmed = [index for value, index in reconstruction if value <= first * (1.0 - WARMUP_RECONSTRUCTION_DROP)]
    if not warmed:
        return findings  # the decoder has not learned anything yet: KL ~0 is normal now
    collapse = _episode(
        rows,
        lambda row: _value(row, "kl_loss") is not None and _value(row, "kl_loss") < KL_COLLAPSE_NATS,
        MIN_SUSTAINED_ROWS, "posterior_collapse", "error", N_("Posterior collapse: the latent code is ignored"),
        N_("The KL term is below {nats} nats summed over all latent dimensions: the encoder "
           "gives (almost) the same distribution for every image, so the decoder learns to draw one "
           "average digit whatever the code. Sampling and the latent map show the same blur everywhere."),
        N_("Lower beta (1 is the plain VAE), or give the VAE more latent dimensions (the large preset has 16); "
           "a KL warm-up (beta rising from 0) also helps."),
        skip_rows=warmed[0], parameters={"nats": KL_COLLAPSE_NATS},
        stays=lambda row: _value(row, "kl_loss") is not None and _value(row, "kl_loss") < KL_COLLAPSE_STAYS_NATS,
        recovery_rows=RECOVERY_ROWS)
    if collapse:
        findings.append(collapse)
    losses = [(_value(row, "loss"), index) for index, row in enumerate(rows) if index >= warmed[0]]
    losses = [(value, index) for value, index in losses if value is not None]
    if len(losses) > MIN_SUSTAINED_ROWS:
        best = min(value for value, _ in losses[:-MIN_SUSTAINED_ROWS])
        tail = losses[-MIN_SUSTAINED_ROWS:]
        if best > 0 and all(value > RISING_FACTOR * best for value, _ in tail):
            findings.append(_finding(
                "divergence", "warning", int(rows[tail[0][1]]["step"]), N_("The loss is climbing"),
                N_("The loss has stayed more than {factor:g}x above its best value ({best:.1f}) for "
                   "{rows} logged rows: training is moving away from a solution."),
                N_("Lower the learning rate (x0.1) and resume from an earlier checkpoint, or start again."),
                parameters={"factor": RISING_FACTOR, "best": best, "rows": MIN_SUSTAINED_ROWS}))
    return findings


def _diversity_findings(snapshot, step: int | None, class_probabilities=None) -> list[Finding]:
    images = np.asarray(snapshot, dtype=np.float64)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or len(images) < MIN_SAMPLES or not np.isfinite(images).all():
        return []
    flat = images.reshape(len(images), -1)
    if float(flat.std(axis=1).mean()) < MIN_CONTRAST:
        return []  # not digits yet (grey noise or early blur): diversity says nothing
    squared = (flat * flat).sum(axis=1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2.0 * flat @ flat.T, 0.0))
    pairs = distances[np.triu_indices(len(flat), 1)]
    mean_distance = float(pairs.mean())
    duplicate_share = float((pairs < DUPLICATE_DISTANCE).mean())
    findings = []
    if mean_distance < LOW_DIVERSITY_DISTANCE:
        findings.append(_finding(
            "low_diversity", "warning", step, N_("Low sample diversity: the samples look alike"),
            N_("Samples drawn from different noise vectors are only {distance:.1f} apart on average (two "
               "random real digits: about 9.8), and {duplicates:.0%} of the pairs are near-duplicates. "
               "The generator has found a few outputs that work and repeats them (mode collapse)."),
            N_("For a GAN: lower the generator's learning rate, or restart with another seed; for a VAE: lower beta."),
            parameters={"distance": mean_distance, "duplicates": duplicate_share}))
    if class_probabilities is not None:
        probabilities = np.asarray(class_probabilities, dtype=np.float64)
        if probabilities.ndim == 2 and len(probabilities) == len(images) and len(images) >= MIN_SAMPLES_FOR_COVERAGE:
            shares = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1]) / len(probabilities)
            present, top = int((shares > 0).sum()), int(shares.argmax())
            if present < MIN_DIGITS_PRESENT or shares[top] > MAX_CLASS_SHARE:
                findings.append(_finding(
                    "mode_collapse", "warning", step, N_("Mode collapse: some digits are missing"),
                    N_("The project's classifier sees only {present} of 10 digits in these samples, and "
                       "{share:.0%} of them are a {digit}. A healthy model draws every digit about equally often."),
                    N_("For a GAN: lower the generator's learning rate or restart with another seed; train longer only "
                       "if the count of digits is still rising."),
                    parameters={"present": present, "share": float(shares[top]), "digit": top}))
    return findings


# -- entry point ---------------------------------------------------------------------------
def diagnose(family: str, rows, snapshot=None, *, snapshot_step: int | None = None,
             class_probabilities=None, error: str | None = None) -> list[Finding]:
    """Everything that looks wrong with a run, worst first.

    Args:
        family: "gan", "vae" or "diffusion" (a diffusion run is only checked for divergence: the
            GAN and VAE failure patterns and their tips do not apply to a denoiser).
        rows: metric rows as `Run.metrics()` returns them (each with `step` and the losses).
        snapshot: optional samples (N, 28, 28) in [0, 1], e.g. the latest snapshot, to judge diversity.
        snapshot_step: the step the snapshot belongs to (default: the last logged step).
        class_probabilities: optional (N, 10) classifier probabilities of `snapshot`, for class coverage.
        error: the run status's error line, which names the step a run diverged at (the trainer
            stops before such a row is logged).

    Returns:
        A list of `Finding`, errors first; empty when nothing looks wrong.

    Raises:
        ValueError: for a family other than "gan", "vae" or "diffusion".
    """
    if family not in ("gan", "vae", "diffusion"):
        raise ValueError(f"Expected family to be 'gan', 'vae' or 'diffusion'. Received: family={family!r}")
    rows = _sorted_rows(rows)
    findings = []
    diverged = _non_finite(rows, error)
    if diverged:
        findings.append(diverged)
    if family == "diffusion":
        return findings
    findings += _gan_findings(rows) if family == "gan" else _vae_findings(rows)
    if snapshot is not None:
        step = snapshot_step if snapshot_step is not None else (int(rows[-1]["step"]) if rows else None)
        findings += _diversity_findings(snapshot, step, class_probabilities)
    return sorted(findings, key=lambda finding: SEVERITIES.index(finding.severity))


# -- break it on purpose ---------------------------------------------------------------------
class BrokenPreset(NamedTuple):
    """A training setup that fails in a known way, and the card that tells what to watch for.

    `expected_kind` is the Finding kind the diagnosis raises on it, as an error or a warning, within
    `steps` steps with the Train page's other defaults (`python bench/break_it.py` checks it on
    three seeds; tests/test_diagnosis.py on a shortened run). `watch_for` names that finding's
    title, so the card promises what the diagnosis will say. `overrides` may set hyperparameters
    the form does not show (Adam's momentum); the Train page sends them with the run. The presets'
    names (the keys, also stored in run configs and links) and their cards are marked with `N_`:
    the UI translates them only where it shows them.
    """

    family: str
    preset: str
    overrides: dict
    watch_for: str
    expected_kind: str
    steps: int = 500


# Each setup is pinned to what bench/break_it.py measured: the GAN ones name G's learning rate
# (2e-4, the DCGAN paper's; gan-fast's until it moved to 4e-4, then 8e-4), so "10x" and "÷100"
# stay true; the VAE ones break the 2-D network (vae-map; it was vae-fast until vae-fast moved
# to a 16-D latent).
BROKEN_PRESETS: dict[str, BrokenPreset] = {
    N_("GAN: discriminator 10x faster"): BrokenPreset(
        "gan", "fast", {"g_learning_rate": 2e-4, "d_learning_rate": 2e-3, "d_steps_per_g_step": 5},
        N_("From the first logged rows D loss sits near 0 and D(G(z)) below 0.05, while the generator loss "
           "climbs past 5: the diagnosis says \"The discriminator is winning\" from the first steps, and the "
           "samples stay thin, broken fragments of digits."),
        "discriminator_winning"),
    N_("GAN: discriminator asleep (learning rate ÷100)"): BrokenPreset(
        "gan", "fast", {"g_learning_rate": 2e-4, "d_learning_rate": 2e-6},
        N_("D(x) stays at 0.5 and D(G(z)) climbs above it; D loss rises past 2 ln 2 ≈ 1.39: the diagnosis "
           "says \"The discriminator cannot tell real from fake\", and with no teacher the samples stay "
           "speckled noise."),
        "discriminator_losing"),
    N_("GAN: learning rate x10, Adam momentum 0.9"): BrokenPreset(
        "gan", "fast", {"g_learning_rate": 2e-3, "d_learning_rate": 2e-3, "g_beta_1": 0.9, "d_beta_1": 0.9},
        N_("Both learning rates x10, and Adam's momentum at its usual 0.9 instead of the DCGAN paper's 0.5 "
           "(the form does not show it; this preset sets it). D loss zig-zags by a third or more from one row to "
           "the next instead of settling: the diagnosis says \"Training is oscillating\" within the first "
           "150 steps (and may add \"The discriminator is winning\" for a stretch where D pulls ahead); the "
           "samples stay streaky, broken strokes. Past the 500-step budget it can calm down (one 1,500-step run "
           "did after ~600 steps), and the diagnosis then calls the oscillation recovered."),
        "oscillation"),
    N_("VAE: beta = 20"): BrokenPreset(
        "vae", "map", {"beta": 20.0},
        N_("The KL curve falls to ~0 and stays under half a nat while reconstruction plateaus: the diagnosis says "
           "\"Posterior collapse: the latent code is ignored\", and every sample is the same blurry average digit."),
        "posterior_collapse"),
    N_("VAE: learning rate x1000"): BrokenPreset(
        "vae", "map", {"learning_rate": 1.0},
        N_("The loss explodes within the first steps and the run is stopped: the diagnosis says "
           "\"Training diverged\"."),
        "divergence"),
}


def broken_config(name: str, **changes):
    """The `TrainingConfig` of a "break it on purpose" preset; keyword arguments change any field.

    Raises:
        ValueError: for an unknown preset name.
    """
    from aigc_core.config import TrainingConfig

    if name not in BROKEN_PRESETS:
        raise ValueError(f"Expected one of {list(BROKEN_PRESETS)}. Received: name={name!r}")
    broken = BROKEN_PRESETS[name]
    return TrainingConfig(**{"model": broken.family, "preset": broken.preset, "overrides": dict(broken.overrides),
                             "steps": broken.steps, "break_it": name, **changes})
