"""Streamlit-only helpers shared by the pages: cached loaders, widgets and figure builders."""
