"""How the app names a model family to a user: "GAN", "VAE", "Diffusion" (translated where it is a word).

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
