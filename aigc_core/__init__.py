"""AIGC Studio core: data, GAN and VAE models, training runs and evaluation (no Streamlit)."""

__version__ = "0.1.0"
