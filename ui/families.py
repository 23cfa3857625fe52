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
