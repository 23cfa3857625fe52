"""Model families: one module each, sharing `GenerativeModel`, and the registry of their variants.

Never imports runs, quality or the service door (`aigc_core.studio`): a model knows nothing of
where it is trained or how it is judged. `registry` is not imported here (it imports this package).
"""

from aigc_core.models.base import GenerativeModel
from aigc_core.models.clustered import ClusteredDCGAN, ClusteredVAE
from aigc_core.models.conditional import ConditionalDCGAN, ConditionalVAE
from aigc_core.models.dcgan import DCGAN
from aigc_core.models.diffusion import ConditionalDiffusionModel, DiffusionModel
from aigc_core.models.vae import VAE
from aigc_core.models.wgan import WGANGP

MODEL_CLASSES = {"gan": DCGAN, "vae": VAE, "diffusion": DiffusionModel}

__all__ = ["GenerativeModel", "DCGAN", "ClusteredDCGAN", "ClusteredVAE", "VAE", "ConditionalDCGAN", "ConditionalVAE", "WGANGP", "DiffusionModel", "ConditionalDiffusionModel", "MODEL_CLASSES"]
