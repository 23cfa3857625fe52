"""Model families: one module each, sharing `GenerativeModel`."""

from aigc_core.models.base import GenerativeModel
from aigc_core.models.conditional import ConditionalDCGAN, ConditionalVAE
from aigc_core.models.dcgan import DCGAN
from aigc_core.models.diffusion import ConditionalDiffusionModel, DiffusionModel
from aigc_core.models.vae import VAE
from aigc_core.models.wgan import WGANGP

MODEL_CLASSES = {"gan": DCGAN, "vae": VAE, "diffusion": DiffusionModel}

__all__ = ["GenerativeModel", "DCGAN", "VAE", "ConditionalDCGAN", "ConditionalVAE", "WGANGP", "DiffusionModel", "ConditionalDiffusionModel", "MODEL_CLASSES"]
