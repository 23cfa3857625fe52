"""What is happening in a run right now, as one "moment" a teacher can narrate.

Lesson mode shows two or three plain sentences beside the live chart. Which sentences is
decided here, from the run's own files: its state, its logged losses, its scored snapshots
and the diagnosis. The texts themselves live in the UI (they are translated there); this
module only names the moment, so the same rules serve the browser, the CLI and the tests.

A moment is chosen in order of importance: a failure the diagnosis sees beats the normal
story of training, and the story follows the quality curve where there is one (the
classifier's Inception Score says when the samples turn into digits) and the share of the
budget done where there is not.
"""

from __future__ import annotations

# The normal story of a GAN run, in order.
GAN_MOMENTS = ("gan_waiting", "gan_noise", "gan_discriminator_leads", "gan_generator_catches_up",
               "gan_strokes", "gan_digits")
VAE_MOMENTS = ("vae_waiting", "vae_blobs", "vae_reconstruction_improves", "vae_shapes", "vae_digits")
DIFFUSION_MOMENTS = ("diffusion_waiting", "diffusion_clouds", "diffusion_noise_levels", "diffusion_shapes",
                     "diffusion_digits")
END_MOMENTS = ("finished", "stopped", "paused", "queued")
# Diagnosis kinds that have their own narration; any other finding of severity "error" is "failure".
FAILURE_MOMENTS = {
    "divergence": "failure_divergence",
    "discriminator_winning": "failure_discriminator_winning",
    "discriminator_losing": "failure_discriminator_losing",
    "oscillation": "failure_oscillation",
    "posterior_collapse": "failure_posterior_collapse",
    "mode_collapse": "failure_mode_collapse",
    "low_diversity": "failure_mode_collapse",
}
# Inception Score thresholds (the project's classifier; real MNIST scores about 9.8): below
# STROKES the samples are blobs, from DIGITS on most of them read as digits.
STROKES_SCORE = 2.5
DIGITS_SCORE = 6.0
# Without a quality curve, the share of the budget after which the same moments are told.
STROKES_SHARE = 0.35
DIGITS_SHARE = 0.7
# How many logged rows the discriminator's head start is told for.
EARLY_ROWS = 3


def _latest_score(quality_rows) -> float | None:
    scores = [row.get("inception_score") for row in quality_rows or [] if isinstance(row, dict)]
    scores = [float(score) for score in scores if isinstance(score, (int, float)) and not isinstance(score, bool)]
    return scores[-1] if scores else None


def _share_done(rows, total_steps) -> float:
    if not rows or not total_steps:
        return 0.0
    step = rows[-1].get("step", 0)
    return min(1.0, max(0.0, float(step) / float(total_steps))) if isinstance(step, (int, float)) else 0.0


def _failure_moment(findings) -> str | None:
    for finding in findings or []:
        if getattr(finding, "severity", None) not in ("error", "warning"):
            continue
        return FAILURE_MOMENTS.get(getattr(finding, "kind", ""), "failure")
    return None


def _quality_stage(score: float | None, share: float) -> str:
    """"early", "strokes" or "digits", from the score when there is one, else from the budget done."""
    if score is not None:
        return "digits" if score >= DIGITS_SCORE else "strokes" if score >= STROKES_SCORE else "early"
    return "digits" if share >= DIGITS_SHARE else "strokes" if share >= STROKES_SHARE else "early"


def training_moment(family: str, state: str | None, rows, quality_rows=(), findings=(), *,
                    total_steps: int | None = None, paused: bool = False) -> str:
    """The moment of a run to narrate: a key of GAN_, VAE_, DIFFUSION_, END_MOMENTS or FAILURE_MOMENTS.

    Args:
        family: "gan", "vae" or "diffusion" (conditional and WGAN variants narrate as their family).
        state: the run's state from status.json ("queued", "running", "finished", ...).
        rows: logged metrics rows, oldest first.
        quality_rows: scored snapshots, oldest first (may be empty: scoring is optional).
        findings: the diagnosis of the run (`aigc_core.quality.diagnosis.Finding`s).
        total_steps: the run's step budget, when it has one (a timed run has none).
        paused: the run is paused (lesson mode tells the class what Step does).
    """
    rows = [row for row in rows or [] if isinstance(row, dict)]
    failure = _failure_moment(findings)
    if failure:
        return failure
    if state == "queued":
        return "queued"
    if paused:
        return "paused"
    if state in ("finished", "stopped"):
        return state
    stage = _quality_stage(_latest_score(quality_rows), _share_done(rows, total_steps))
    if family == "diffusion":
        if not rows:
            return "diffusion_waiting"
        if stage == "digits":
            return "diffusion_digits"
        if stage == "strokes":
            return "diffusion_shapes"
        return "diffusion_clouds" if len(rows) <= EARLY_ROWS else "diffusion_noise_levels"
    if family == "vae":
        if not rows:
            return "vae_waiting"
        if stage == "digits":
            return "vae_digits"
        if stage == "strokes":
            return "vae_shapes"
        return "vae_blobs" if len(rows) <= EARLY_ROWS else "vae_reconstruction_improves"
    if not rows:
        return "gan_waiting"
    if stage == "digits":
        return "gan_digits"
    if stage == "strokes":
        return "gan_strokes"
    if len(rows) <= 1:
        return "gan_noise"
    return "gan_discriminator_leads" if _discriminator_ahead(rows) else "gan_generator_catches_up"


def _discriminator_ahead(rows) -> bool:
    """True while D tells real from fake better than G fools it: D(x) well above D(G(z)).

    Early in every healthy run D learns faster (it has an easier job); then G catches up and
    D(G(z)) climbs back towards D(x). Runs logged without D's outputs fall back to the losses.
    """
    last = rows[-1]
    real, fake = last.get("d_real"), last.get("d_fake")
    if isinstance(real, (int, float)) and isinstance(fake, (int, float)):
        return real - fake > 0.35
    d_loss, g_loss = last.get("d_loss"), last.get("g_loss")
    if isinstance(d_loss, (int, float)) and isinstance(g_loss, (int, float)):
        return g_loss > 2 * d_loss
    return len(rows) <= EARLY_ROWS
