"""Lesson mode: a prepared sequence of steps for a 45-minute class, and narration of a live run.

A lesson is a list of steps; each opens a page with given settings and says, in two or three
plain sentences, what to show and what to look at. The step number lives in the URL
(`?lesson=N`), so a reload, a new tab or a shared link lands on the same step, and in Session
State, so the page links of the sidebar (which drop the URL's parameters) do not end the lesson.
The narration beside a live chart is chosen by `aigc_core.quality.narration.training_moment` from the
run's own files; its texts are here, translated like every visible string.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from aigc_core.quality.narration import training_moment
from ui.i18n import N_, _
from ui.share import switch_page

LESSON_KEY = "lesson_step"
LESSON_PARAM = "lesson"


@dataclass(frozen=True)
class LessonStep:
    """One step of the lesson: where it happens, what it is called and what the teacher says."""

    title: str
    text: str
    page: str
    query_params: dict = field(default_factory=dict)


LESSON_STEPS: tuple[LessonStep, ...] = (
    LessonStep(N_("Machines that draw digits"),
               N_("Every digit on this page was drawn by a model that learned from 60,000 handwritten examples; "
                  "none of them is copied from the data. Today we meet three families of such models, GANs, VAEs "
                  "and diffusion models: we watch them learn, break them on purpose and measure which one draws "
                  "better."),
               "pages/home.py"),
    LessonStep(N_("How a GAN learns"),
               N_("A GAN is two networks in a contest. The generator turns random noise into an image; the "
                  "discriminator looks at real and generated images and guesses which is which. Each one learns "
                  "from the other's mistakes: follow the arrows of the GAN diagram on this page."),
               "pages/home.py"),
    LessonStep(N_("Train a GAN, live"),
               N_("Press Start training. The panel beside the chart says what is happening as it happens. "
                  "Pause stops on a moment to talk about it, Step trains a few steps at a time, and the slow "
                  "speed takes more snapshots while the pictures change fastest."),
               "pages/train.py", {"model": "gan", "preset": "fast"}),
    LessonStep(N_("Break it: the discriminator wins"),
               N_("This run lets the discriminator learn ten times faster than the generator. Watch its loss drop "
                  "towards zero: a judge that always wins gives the generator nothing to learn from, and the "
                  "diagnosis under the chart names the failure and the step where it began."),
               "pages/train.py", {"broken": "GAN: discriminator 10x faster"}),
    LessonStep(N_("Break it: steps that are too large"),
               N_("Here both networks take steps ten times the size the DCGAN paper uses, and Adam keeps more of "
                  "its momentum (0.9 instead of 0.5). Instead of settling, the losses jump from one point to the "
                  "next and the samples fall apart; the diagnosis says what went wrong."),
               "pages/train.py", {"broken": "GAN: learning rate x10, Adam momentum 0.9"}),
    LessonStep(N_("How a VAE learns"),
               N_("A VAE squeezes each image into a few numbers, its latent code, and rebuilds the image from "
                  "them. A penalty (the KL term) keeps the codes close to a simple bell curve, so that any code "
                  "drawn from that curve decodes into a digit. Look at the VAE diagram and its loss formula."),
               "pages/home.py"),
    LessonStep(N_("Train a VAE, live"),
               N_("Start a VAE. Its samples sharpen smoothly out of grey blobs: it never fights itself the way a "
                  "GAN does, but its digits stay a little blurry. Compare its curves with the GAN's."),
               "pages/train.py", {"model": "vae", "preset": "fast"}),
    LessonStep(N_("Break it: posterior collapse"),
               N_("With the KL penalty twenty times stronger, the encoder gives up and sends almost the same code "
                  "for every image. Watch the KL curve fall to zero while every sample becomes the same blur."),
               "pages/train.py", {"broken": "VAE: beta = 20"}),
    LessonStep(N_("How a diffusion model learns"),
               N_("A diffusion model learns one plain job: given a digit buried under some noise, say how to remove "
                  "the noise. To draw, it starts from pure noise and does that job again and again, a little at a "
                  "time. Follow the diffusion diagram on this page: no contest and no compression, but many steps "
                  "to draw one image."),
               "pages/home.py"),
    LessonStep(N_("Train a diffusion model, live"),
               N_("Start a diffusion model. Its chart shows one loss three times, at low, middle and high noise. "
                  "Its samples come out of grey clouds, and with one network and no contest there is little to go "
                  "wrong: compare its steady curves with the GAN's."),
               "pages/train.py", {"model": "diffusion", "preset": "fast"}),
    LessonStep(N_("Watch the noise go"),
               N_("Drag the slider from pure noise to the digits: every step removes a little noise. Then measure "
                  "steps versus quality: fewer steps draw faster but rougher, which is why few-step samplers matter."),
               "pages/denoise.py"),
    LessonStep(N_("GAN against VAE, with numbers"),
               N_("Both families side by side, each with its FID (lower is better) and Inception Score (higher is "
                  "better), measured on 10,000 samples with the project's own digit classifier. The numbers, not "
                  "our impressions, say which model draws better."),
               "pages/compare.py"),
    LessonStep(N_("Walking through latent space"),
               N_("Every point of the latent space is an image. Walk in a straight line between two points and "
                  "watch one digit turn into another: the model has learned a smooth map of handwriting."),
               "pages/latent.py"),
    LessonStep(N_("Ask for a digit"),
               N_("A conditional model is also told which digit to draw. Pick a digit: both families draw it, "
                  "and the classifier checks how often they drew what was asked."),
               "pages/conditional.py"),
    LessonStep(N_("Your own digit"),
               N_("Draw or upload a digit. The VAE encodes it and rebuilds it; the GAN has no encoder, so it "
                  "searches its noise for the closest image it can draw."),
               "pages/digit.py"),
    LessonStep(N_("Are generated digits useful?"),
               N_("Train a small classifier on a handful of real digits, with and without generated ones, and "
                  "see whether the generated digits help it read the test set."),
               "pages/augment.py"),
    LessonStep(N_("What we learned"),
               N_("GANs draw sharp digits but their training is a fragile contest. VAEs train steadily and learn "
                  "a meaningful latent space, but blur. Diffusion models train steadily too, and pay at drawing "
                  "time: one pass of the network per step. Measured numbers, not impressions, decide which is "
                  "better."),
               "pages/home.py"),
)

# What the narration panel says at each moment of a run (keys from aigc_core.quality.narration).
NARRATION = {
    "queued": N_("The run waits for a free training slot; it starts by itself."),
    "paused": N_("Paused: the model waits in memory. Talk about the picture, then press Step to train a few "
                 "steps at a time, or Resume."),
    "finished": N_("The run is over. Compare the last grid with the first one, and the losses' start with their end."),
    "stopped": N_("The run was stopped; its last checkpoint is kept and it can be resumed."),
    "gan_waiting": N_("The generator has not learned anything yet: what it draws is shaped noise."),
    "gan_noise": N_("First the generator draws noise. The discriminator has an easy job: telling noise from "
                    "handwriting, so its loss falls fast."),
    "gan_discriminator_leads": N_("The discriminator is ahead: it tells real from fake easily (its score for real "
                                  "images is far above its score for fakes). The generator's loss is high: it is "
                                  "being told exactly where its images look wrong."),
    "gan_generator_catches_up": N_("The generator catches up: the discriminator's scores for real and fake "
                                   "images move closer together. Neither network wins for long; that balance is "
                                   "what a healthy GAN looks like."),
    "gan_strokes": N_("The noise has turned into strokes and loops. Look at the grid: some shapes already read as "
                      "digits, others are still between two digits."),
    "gan_digits": N_("Most samples now read as digits. The quality curve shows it: the Inception Score rises "
                     "towards the real data's, and the FID falls."),
    "vae_waiting": N_("The decoder has not learned anything yet: it draws grey noise."),
    "vae_blobs": N_("First the VAE draws the average of all digits: a grey blob in the middle. The reconstruction "
                    "loss falls fast as it learns where ink usually is."),
    "vae_reconstruction_improves": N_("The reconstruction loss keeps falling while the KL term grows: the codes "
                                      "start to carry information about each image."),
    "vae_shapes": N_("Blobs turn into digit shapes. The samples are smooth and a little blurry: a VAE averages "
                     "over the digits it is unsure about."),
    "vae_digits": N_("Most samples now read as digits, blurrier than a GAN's. The latent space behind them is "
                     "smooth: see Latent space."),
    "diffusion_waiting": N_("The denoising network has not learned anything yet: walking back from pure noise "
                            "still ends in noise."),
    "diffusion_clouds": N_("First the network learns where ink usually is: its loss falls fast and the samples "
                           "are grey clouds in the middle."),
    "diffusion_noise_levels": N_("Look at the three loss curves: the same job at low, middle and high noise. They are "
                                 "not equally hard, so compare each curve with its own start, not with the others: "
                                 "when all three fall, the network gets better at every stage of drawing."),
    "diffusion_shapes": N_("Shapes come out of the noise. Every sample is a whole walk from pure noise, one "
                           "denoising step after another."),
    "diffusion_digits": N_("Most samples now read as digits. Each one still costs one pass of the network per "
                           "step: the Denoising page shows how few steps are enough."),
    "failure_divergence": N_("The losses exploded and the run was stopped: the steps were too large for the "
                             "network to follow. The diagnosis says where it began."),
    "failure_discriminator_winning": N_("The discriminator wins: its loss is near zero and it rejects every fake. "
                                        "A judge that always wins teaches the generator nothing, so the samples "
                                        "stop improving."),
    "failure_discriminator_losing": N_("The discriminator has fallen asleep: it cannot tell real from fake, so the "
                                       "generator has no teacher and draws whatever it likes."),
    "failure_oscillation": N_("The losses swing from one point to the next instead of settling: both networks "
                              "overshoot. Smaller learning rates would calm them."),
    "failure_posterior_collapse": N_("Posterior collapse: the KL term fell to zero, so the code says nothing about "
                                     "the image and every sample is the same average digit."),
    "failure_mode_collapse": N_("Mode collapse: the generator found a few images that fool the discriminator and "
                                "draws only those. Look at the grid: many samples are near copies."),
    "failure": N_("Something went wrong in this run: the diagnosis under the chart says what and since when."),
}


def _in_script_run() -> bool:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return get_script_run_ctx() is not None


def lesson_step() -> int | None:
    """The lesson's current step (1-based), or None outside lesson mode."""
    if not _in_script_run():
        return None
    step = st.session_state.get(LESSON_KEY)
    return step if isinstance(step, int) and 1 <= step <= len(LESSON_STEPS) else None


def parse_lesson_step(text) -> int | None:
    """A lesson step number from URL text: ASCII digits naming an existing step, else None."""
    if not (isinstance(text, str) and text.isascii() and text.isdecimal() and len(text) <= 3):
        return None
    step = int(text)
    return step if 1 <= step <= len(LESSON_STEPS) else None


def restore_lesson() -> None:
    """A fresh session (a reload or a shared link) takes its lesson step from `?lesson=N`."""
    if LESSON_KEY not in st.session_state:
        st.session_state[LESSON_KEY] = parse_lesson_step(st.query_params.get(LESSON_PARAM))


def _publish_lesson() -> None:
    step = lesson_step()
    if step is None:
        st.query_params.pop(LESSON_PARAM, None)
    elif st.query_params.get(LESSON_PARAM) != str(step):
        st.query_params[LESSON_PARAM] = str(step)


def go_to_step(step: int | None) -> None:
    """Open a lesson step's page with its settings (None ends the lesson and stays here)."""
    st.session_state[LESSON_KEY] = step
    if step is None:
        st.query_params.pop(LESSON_PARAM, None)
        st.rerun()
    target = LESSON_STEPS[step - 1]
    switch_page(target.page, {**target.query_params, LESSON_PARAM: str(step)})


def render_lesson_start() -> None:
    """The sidebar's way into lesson mode (and out of it)."""
    if lesson_step() is None:
        if st.button(_("Start the lesson"), key="lesson_start", icon=":material/school:", width="stretch"):
            go_to_step(1)
    elif st.button(_("End the lesson"), key="lesson_end", icon=":material/close:", width="stretch"):
        go_to_step(None)


def render_lesson_panel() -> None:
    """Above every page in lesson mode: the step, what to say, and Previous / Next."""
    _publish_lesson()
    step = lesson_step()
    if step is None:
        return
    current = LESSON_STEPS[step - 1]
    with st.container(border=True, key="lesson_panel"):
        text_column, previous_column, next_column = st.columns([6, 1, 1], vertical_alignment="center")
        text_column.markdown(_("**Lesson, step {step} of {total}: {title}**").format(
            step=step, total=len(LESSON_STEPS), title=_(current.title)))
        text_column.markdown(_(current.text))
        if previous_column.button(_("Previous"), key="lesson_previous", icon=":material/arrow_back:",
                                  disabled=step == 1, width="stretch"):
            go_to_step(step - 1)
        if step < len(LESSON_STEPS):
            if next_column.button(_("Next"), key="lesson_next", icon=":material/arrow_forward:", type="primary",
                                  width="stretch"):
                go_to_step(step + 1)
        elif next_column.button(_("Finish"), key="lesson_finish", icon=":material/check:", type="primary",
                                width="stretch"):
            go_to_step(None)


def narration_text(family: str, state: str | None, rows, quality_rows=(), findings=(), *,
                   total_steps: int | None = None, paused: bool = False) -> str:
    """The two or three sentences that say what is happening in a run now, in the session's language."""
    moment = training_moment(family if family in ("vae", "diffusion") else "gan", state, rows, quality_rows, findings,
                             total_steps=total_steps, paused=paused)
    return _(NARRATION[moment])


def render_narration(family: str, state: str | None, rows, quality_rows=(), findings=(), *,
                     total_steps: int | None = None, paused: bool = False) -> None:
    """The narration panel beside the live chart (lesson mode only)."""
    if lesson_step() is None:
        return
    st.info(narration_text(family, state, rows, quality_rows, findings, total_steps=total_steps, paused=paused),
            icon=":material/record_voice_over:")
