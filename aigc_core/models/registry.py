"""The named variants a user can train or load: one explicit dict, listed by the CLI and pages."""

from __future__ import annotations

from dataclasses import dataclass, field

from aigc_core.models import (
    DCGAN, VAE, WGANGP, ClusteredDCGAN, ClusteredVAE, ConditionalDCGAN, ConditionalDiffusionModel, ConditionalVAE, DiffusionModel, GenerativeModel,
)


@dataclass(frozen=True)
class Variant:
    """A model family plus a preset: the class, its constructor config and training defaults."""

    name: str
    family: str
    preset: str
    model_class: type
    model_config: dict = field(default_factory=dict)
    batch_size: int = 64
    description: str = ""
    # The budget a run gets when it names none (the Train form's first value, the CLI without
    # --steps): enough steps for this variant to end on recognisable digits on a 2-core CPU, where
    # it can do so in a few minutes (bench/README.md, "Default budgets").
    default_steps: int = 500
    # Whether a run names no precision trains in mixed bfloat16 on CPUs that compute it
    # (`aigc_core.devices.default_precision`): only variants measured faster and no worse in it at
    # equal time (bench/README.md, "Digits in one minute").
    prefers_bfloat16: bool = False

    def build(self, **overrides) -> GenerativeModel:
        """A fresh, compiled model with this variant's config updated by `overrides`."""
        model = self.model_class(**{**self.model_config, **overrides})
        model.compile()
        return model


# The small convolutional VAE's settings, shared by the presets that differ only in latent size.
SMALL_VAE_CONFIG = {"architecture": "fast", "beta": 1.0, "learning_rate": 1e-3}
# The small DCGAN's networks and recipe (gan-fast's, which takes larger steps; reasons at its entry) ...
SMALL_GAN_CONFIG = {
    "architecture": "fast",
    "latent_dim": 64,
    "g_learning_rate": 4e-4,
    "d_learning_rate": 4e-4,
    "g_beta_1": 0.5,
    "d_beta_1": 0.5,
}
# ... and gan-conditional's, its classifier term added (reasons at its entry), which gan-clusters
# trains on its clusters.
SMALL_CONDITIONAL_GAN_CONFIG = {**SMALL_GAN_CONFIG, "class_loss_weight": 0.3}

VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (
        Variant(
            name="gan-clusters",
            family="gan",
            preset="clusters",
            model_class=ClusteredDCGAN,
            # The conditional GAN's networks and recipe, its codes k-means clusters of the training
            # images, not their labels: after 120 s on 2 CPU cores FID-MNIST 18.1 and IS 7.94 with 10
            # clusters against gan-fast's 40.9 and 6.54, and the same again on a second seed. More
            # clusters split the game further, and won every comparison at 60 and 120 s: 20 and 30
            # beat 10 (seed 0), 50 beat 20 and 30 (seeds 1 and 2), and 100 beat 50 (seed 0; FID 5.5,
            # IS 9.25 after 120 s). 100 is the most `ClusteredDCGAN` allows (bench/README.md, "Digits
            # in one minute", "How many clusters"). First of the GANs, so the Train page offers it first:
            # it reaches digits soonest. The CLI's default preset stays `fast` (gan-fast).
            model_config={**SMALL_CONDITIONAL_GAN_CONFIG, "num_clusters": 100},
            batch_size=64,
            description="Small GAN that first sorts the training images into 100 look-alike groups (no labels) "
                        "and learns to draw each group: the quickest GAN to readable digits.",
            default_steps=2000,
        ),
        Variant(
            name="gan-fast",
            family="gan",
            preset="fast",
            model_class=DCGAN,
            # Both learning rates at 8e-4, four times the DCGAN paper's 2e-4 and twice the conditional
            # GAN's 4e-4: after 60 / 120 s on 2 CPU cores FID-MNIST 50.2 / 38.7 against 59.1 / 42.7 at
            # 4e-4 (seed 0) and 47.7 / 37.8 against 55.7 / 42.1 (seed 1), at the same step counts
            # (bench/README.md, "Step sizes for the fast presets"). 1.6e-3 and 3.2e-3 did a little
            # better still, but would put the default next to the 2e-3 of the lesson's "steps that are
            # too large" preset. Two time scales (G 1e-4, D 4e-4) were worse.
            model_config={**SMALL_GAN_CONFIG, "g_learning_rate": 8e-4, "d_learning_rate": 8e-4},
            batch_size=64,
            description="Small DCGAN (~0.3 M parameters): recognizable digits after ~2 minutes on a laptop CPU.",
            default_steps=2000,
        ),
        Variant(
            name="gan-paper",
            family="gan",
            preset="paper",
            model_class=DCGAN,
            model_config={
                "architecture": "paper",
                "latent_dim": 100,
                # The DCGAN paper's Adam (Radford et al. 2015), not the tutorial's 1e-4 and 0.9:
                # on the same network and batch it learns faster per step.
                "g_learning_rate": 2e-4,
                "d_learning_rate": 2e-4,
                "g_beta_1": 0.5,
                "d_beta_1": 0.5,
            },
            batch_size=256,
            description="The seed article's DCGAN (2.3 M parameters, the TensorFlow tutorial's network) with the DCGAN paper's Adam settings; wants a GPU.",
            # On an AVX512-BF16 CPU, 15 minutes at equal time, quiet (2026-12-06): 1,959 steps in mixed
            # bfloat16 against 1,384 in float32, FID 56.0 against 76.8, IS 5.99 against 4.87; its
            # shipped weights' last 11,268 steps trained in it too (bench/README.md, "Digits in one minute").
            prefers_bfloat16=True,
        ),
        Variant(
            name="gan-wgan-gp",
            family="gan",
            preset="wgan-gp",
            model_class=WGANGP,
            model_config={
                "architecture": "fast",
                "latent_dim": 64,
                "g_learning_rate": 1e-4,
                "d_learning_rate": 1e-4,
                "g_beta_1": 0.5,
                "d_beta_1": 0.5,
                "beta_2": 0.9,
                "d_steps_per_g_step": 5,
                "gp_weight": 10.0,
            },
            batch_size=64,
            description="WGAN-GP: the small generator against a critic kept smooth by a gradient penalty; "
                        "5 critic steps per generator step, so a step costs ~6x a DCGAN's on a CPU.",
        ),
        Variant(
            name="vae-clusters",
            family="vae",
            preset="clusters",
            model_class=ClusteredVAE,
            # vae-fast's networks and 16-D latent, conditioned on k-means clusters of the training
            # images as gan-clusters is: after 120 s on 2 CPU cores, seeds 0 and 1, FID-MNIST 34.0
            # and 37.2 with 10 clusters against vae-fast's 52.1 and 47.6; with 50 clusters (seed 1)
            # 25.8 and IS 7.94, in fewer steps (bench/README.md, "Digits in one minute", "How many
            # clusters"). First of the VAEs, so the Train page offers it first. Mixed bfloat16 as
            # vae-fast: the same networks, and every arm was measured in it. Adam 2e-3, twice vae-fast's:
            # after 120 s, seeds 0 and 1, FID 28.7 and 21.7, IS 8.17 and 8.44, against 45.1 and 30.8,
            # 6.90 and 7.63 at 1e-3 (bench/README.md, "The first VAE's step size").
            model_config={**SMALL_VAE_CONFIG, "latent_dim": 16, "num_clusters": 50, "learning_rate": 2e-3},
            batch_size=128,
            description="Small VAE that first sorts the training images into 50 look-alike groups (no labels) "
                        "and learns to draw each group: the quickest VAE to readable digits.",
            # 1,500 steps (vae-fast's budget) ended on blurry digits (FID 97.9 in 32.6 s launch to
            # exit, mixed bfloat16); 4,000 end on readable ones (bench/README.md, "Default budgets").
            default_steps=4000,
            prefers_bfloat16=True,
        ),
        Variant(
            name="vae-fast",
            family="vae",
            preset="fast",
            model_class=VAE,
            # 16 latent dimensions, not 2: after 120 s on 2 CPU cores FID-MNIST 69.1 against 176.8 for
            # the same network with a 2-D latent (bench/README.md, "Digits in one minute"). The 2-D
            # one stays as vae-map, for the Latent page's picture of the whole space.
            model_config={**SMALL_VAE_CONFIG, "latent_dim": 16},
            batch_size=128,
            description="Small convolutional VAE with a 16-D latent space, no clusters: the plain VAE the lesson explains.",
            default_steps=1500,
            # Two seeds at equal time on an AVX512-BF16 CPU: 65-72% more steps and FID 8-15% lower
            # after 120 s (the GAN was not faster in it, so it stays float32).
            prefers_bfloat16=True,
        ),
        Variant(
            name="vae-map",
            family="vae",
            preset="map",
            model_class=VAE,
            model_config={**SMALL_VAE_CONFIG, "latent_dim": 2},
            batch_size=128,
            description="Small convolutional VAE with a 2-D latent space you can plot and walk through (blurrier digits).",
            default_steps=1500,
        ),
        Variant(
            name="vae-large",
            family="vae",
            preset="large",
            model_class=VAE,
            model_config={"architecture": "large", "latent_dim": 16, "beta": 1.0, "learning_rate": 1e-3},
            batch_size=128,
            description="Wider VAE with a 16-D latent space: sharper samples, no 2-D plot.",
            default_steps=1000,
        ),
        Variant(
            name="gan-conditional",
            family="gan",
            preset="conditional",
            model_class=ConditionalDCGAN,
            # Projection D + auxiliary classifier: at 4e-4 (vs 2e-4) per-digit agreement after 1,600
            # CPU steps rose from ~70% to 94% (worst digit 82%). A full-weight classifier term makes
            # G draw over-typical digits (IS above the real data's, FID stuck near 3.3); after 300 s
            # on 2 CPU cores FID-MNIST was 3.28 at weight 1.0, 2.93 at 0.1, 2.76 at 0.3 (bench/README.md).
            model_config=SMALL_CONDITIONAL_GAN_CONFIG,
            batch_size=64,
            description="Conditional GAN (small DCGAN, label in G and D): you pick the digit it draws.",
            default_steps=2000,
        ),
        Variant(
            name="vae-conditional",
            family="vae",
            preset="conditional",
            model_class=ConditionalVAE,
            # A 2-D latent leaves the class to the label: 95% classifier agreement after 500 steps,
            # where an 8-D one (free to encode the class itself) reached 64%.
            model_config={"architecture": "fast", "latent_dim": 2, "beta": 1.0, "learning_rate": 1e-3},
            batch_size=128,
            description="Conditional VAE (CVAE): the label picks the digit, the 2-D latent only its style.",
            default_steps=1000,
        ),
        Variant(
            name="diffusion-fast",
            family="diffusion",
            preset="fast",
            model_class=DiffusionModel,
            # Flow matching beat DDPM noise prediction after the same 500 CPU steps: FID-MNIST 108.9 vs
            # 126.9 at 16 sampling steps, 124.9 vs 149.7 at 4 (2,000 samples). 8 steps gave 113.6 at half
            # the sampling time of 16, and 92.5 once flow matching drew logit-normal times
            # (bench/README.md, "A diffusion model on the CPU").
            model_config={"architecture": "fast", "objective": "flow", "sampling_steps": 8, "learning_rate": 1e-3},
            batch_size=64,
            description="Small diffusion model (U-Net, ~0.24 M parameters) trained by flow matching: "
                        "it turns noise into a digit in a few denoising steps.",
            default_steps=2000,
        ),
        Variant(
            name="diffusion-large",
            family="diffusion",
            preset="large",
            model_class=DiffusionModel,
            model_config={"architecture": "large", "objective": "flow", "sampling_steps": 8, "learning_rate": 5e-4},
            batch_size=128,
            description="Wider diffusion U-Net (~1 M parameters) for the shipped weights; slow to train on a CPU.",
        ),
        Variant(
            name="diffusion-conditional",
            family="diffusion",
            preset="conditional",
            model_class=ConditionalDiffusionModel,
            model_config={"architecture": "fast", "objective": "flow", "sampling_steps": 8, "learning_rate": 1e-3},
            batch_size=64,
            description="Conditional diffusion model: the label picks the digit, the noise only its style.",
            default_steps=2000,
        ),
    )
}

FAMILIES = ("gan", "vae", "diffusion")


def presets_for(family: str) -> tuple[str, ...]:
    """The preset names registered for a model family, in registry order."""
    return tuple(variant.preset for variant in VARIANTS.values() if variant.family == family)


def get_variant(family: str, preset: str) -> Variant:
    """Look up a variant by family and preset, with an error that lists what exists."""
    if family not in FAMILIES:
        raise ValueError(f"Expected model to be one of {FAMILIES}. Received: model={family!r}")
    name = f"{family}-{preset}"
    if name not in VARIANTS:
        raise ValueError(
            f"Expected preset for model {family!r} to be one of {presets_for(family)}. Received: preset={preset!r}"
        )
    return VARIANTS[name]


# Every model class a saved config may name. Files written before classes were recorded name
# only a family; those fall back to the family's original class.
MODEL_CLASSES: dict[str, type] = {cls.__name__: cls for cls in {variant.model_class for variant in VARIANTS.values()}}
_FAMILY_DEFAULT_CLASS = {"gan": DCGAN, "vae": VAE, "diffusion": DiffusionModel}


def build_model(family: str, model_config: dict, model_class: str | None = None) -> GenerativeModel:
    """Rebuild a compiled model from a saved `get_config()` dict: only our own classes, never code from a file.

    Args:
        family: "gan", "vae" or "diffusion".
        model_config: the constructor keywords.
        model_class: the class name recorded beside the config (e.g. "DCGAN"); looked up in
            `MODEL_CLASSES`, never imported by name.
    """
    if family not in FAMILIES:
        raise ValueError(f"Expected model family to be one of {FAMILIES}. Received: family={family!r}")
    if model_class is None:
        cls = _FAMILY_DEFAULT_CLASS[family]
    elif model_class in MODEL_CLASSES and MODEL_CLASSES[model_class].family == family:
        cls = MODEL_CLASSES[model_class]
    else:
        raise ValueError(f"Expected a {family} model class, one of {sorted(MODEL_CLASSES)}. Received: model_class={model_class!r}")
    model = cls(**model_config)
    model.compile()
    return model
