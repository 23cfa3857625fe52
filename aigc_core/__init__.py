"""AIGC Studio core, no Streamlit: models/, runs/, quality/ and experiments/ behind one door, studio.py."""

__version__ = "0.1.0"
