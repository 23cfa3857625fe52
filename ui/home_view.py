"""The Home page's first screen: fresh digits from one GAN and one VAE, and where to start.

A visitor should see what the app does before any theory: samples of both families side by
side and one obvious next step (train a GAN). The other shipped models follow further down.
"""

from __future__ import annotations

import json
import math

import streamlit as st

from ui.cache import load_model
from ui.charts import image_grid_png

FEATURED_FAMILIES = ("gan", "vae")
FAMILY_TITLES = {"gan": "GAN", "vae": "VAE"}
FEATURED_COLUMNS, FEATURED_ROWS = 8, 2
# Streamlit's theme shrinks Graphviz labels to about 10 px; the diagrams are laid out for 18 pt
# labels (18 units of their own viewBox), so this gives them back the size their boxes were made for.
DIAGRAM_CSS = """
<style>
[data-testid="stGraphVizChart"] svg text { font-size: 18px !important; }
</style>
"""


def diagram_style() -> None:
    """Draw the diagrams' labels at the size Graphviz laid them out for."""
    st.markdown(DIAGRAM_CSS, unsafe_allow_html=True)


def shipped_fid(entry: dict) -> float:
    """The FID recorded beside shipped weights (`<name>.metrics.json`); infinity when there is none."""
    path = entry["weights_path"].with_name(f"{entry['name']}.metrics.json")
    try:
        value = json.loads(path.read_text()).get("fid")
    except (OSError, ValueError, AttributeError):
        return math.inf
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.inf


def featured_models(models: list[dict]) -> list[dict]:
    """One shipped model per family for the first screen: the one with the best (lowest) recorded FID.

    The first screen is the app's promise, so it shows each family at its best; a family
    without any recorded FID shows its first model.
    """
    chosen = []
    for family in FEATURED_FAMILIES:
        of_family = [entry for entry in models if entry.get("family") == family]
        if of_family:
            chosen.append(min(of_family, key=shipped_fid))  # min keeps the first of equals
    return chosen


def render_samples(entry: dict, seed: int, count: int, columns: int, scale: int = 4) -> None:
    """`count` samples of one shipped model as a grid, or one error line when its weights cannot load."""
    try:
        model = load_model(f"weights:{entry['name']}")
    except ValueError as error:  # WeightsError included: a broken file is one line, not a traceback
        st.error(f"Cannot load {entry['name']}: {error}")
        return
    images = model.sample(count, seed=int(seed))
    st.image(image_grid_png(images, columns=columns, scale=scale), width="stretch",
             caption=f"{FAMILY_TITLES.get(entry['family'], entry['family'])} `{entry['name']}`: "
                     f"{count} new digits from seed {seed}")


def render_featured(featured: list[dict], seed: int) -> None:
    """The featured models' samples side by side (stacked on a narrow screen)."""
    for column, entry in zip(st.columns(len(featured), gap="large"), featured):
        with column:
            render_samples(entry, seed, FEATURED_COLUMNS * FEATURED_ROWS, FEATURED_COLUMNS)


def train_a_gan_button() -> None:
    """The one next step the first screen offers: the Train page, whose default model is a GAN."""
    if st.button("Train a GAN now", key="home_train_gan", type="primary", icon=":material/model_training:"):
        st.switch_page("pages/train.py")
