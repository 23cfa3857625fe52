"""How the app names a model family ("GAN", "VAE", "Diffusion") and a preset to a user, translated where a word.

The library's family keys ("gan", "vae", "diffusion") are code names; upper-casing them worked for
two acronyms, and a third family that is a word needs its own title.
"""

from __future__ import annotations

from ui.i18n import N_, _

FAMILY_TITLES = {"gan": "GAN", "vae": "VAE", "diffusion": N_("Diffusion")}


def family_title(family) -> str:
    """A family's title in the session's language; an unknown family as it is, upper-cased."""
    if family in FAMILY_TITLES:
        title = FAMILY_TITLES[family]
        return _(title) if family == "diffusion" else title
    return str(family or "?").upper()


PRESET_TITLES = {"fast": N_("fast"), "paper": N_("paper"), "wgan-gp": "WGAN-GP", "conditional": N_("conditional"),
                 "large": N_("large"), "map": N_("2-D map"), "clusters": N_("clusters")}


def preset_title(preset) -> str:
    """A preset's name in the session's language (an unknown one as it is)."""
    return _(PRESET_TITLES[preset]) if preset in PRESET_TITLES else str(preset)


def variant_title(family, preset) -> str:
    """A variant as a sentence names it: "VAE (fast)", "GAN (paper)"."""
    return _("{family} ({preset})").format(family=family_title(family), preset=preset_title(preset))


# The registry's variant descriptions, marked for translation: the Train form shows them and the
# shipped weights' `<name>.json` carry them (Home, Compare). tests/test_i18n.py fails when one of
# them changes without this table; a description not listed (new weights) is shown as written.
DESCRIPTIONS = (
    N_("Small GAN that first sorts the training images into 100 look-alike groups (no labels) and learns to "
       "draw each group: the quickest GAN to readable digits."),
    N_("Small DCGAN (~0.3 M parameters): recognizable digits after ~2 minutes on a laptop CPU."),
    N_("The seed article's DCGAN (2.3 M parameters, the TensorFlow tutorial's network) with the DCGAN paper's "
       "Adam settings; wants a GPU."),
    N_("WGAN-GP: the small generator against a critic kept smooth by a gradient penalty; 5 critic steps per "
       "generator step, so a step costs ~6x a DCGAN's on a CPU."),
    N_("Conditional GAN (small DCGAN, label in G and D): you pick the digit it draws."),
    N_("Small VAE that first sorts the training images into 50 look-alike groups (no labels) and learns to "
       "draw each group: the quickest VAE to readable digits."),
    N_("Small convolutional VAE with a 16-D latent space, no clusters: the plain VAE the lesson explains."),
    N_("Small convolutional VAE with a 2-D latent space you can plot and walk through (blurrier digits)."),
    N_("Wider VAE with a 16-D latent space: sharper samples, no 2-D plot."),
    N_("Conditional VAE (CVAE): the label picks the digit, the 2-D latent only its style."),
    N_("Small diffusion model (U-Net, ~0.24 M parameters) trained by flow matching: it turns noise into a digit "
       "in a few denoising steps."),
    N_("Wider diffusion U-Net (~1 M parameters) for the shipped weights; slow to train on a CPU."),
    N_("Conditional diffusion model: the label picks the digit, the noise only its style."),
)


def description_text(description: str) -> str:
    """A variant's or shipped model's description in the session's language (as written when not listed)."""
    return _(description) if description in DESCRIPTIONS else description
