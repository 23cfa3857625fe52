"""The Home page's first screen: fresh digits from each model family, and where to start.

A visitor should see what the app does before any theory: samples of the families side by
side and one obvious next step (train a GAN). The other shipped models follow further down.
"""

from __future__ import annotations

import math
import string

import streamlit as st

from aigc_core import studio
from ui.cache import load_model
from ui.charts import image_grid_png
from ui.families import family_title
from ui.i18n import _
from ui.share import switch_page

FEATURED_FAMILIES = ("gan", "vae", "diffusion")
FEATURED_COLUMNS, FEATURED_ROWS = 8, 2
# Streamlit's theme shrinks Graphviz labels to about 10 px; the diagrams are laid out for 18 pt
# labels (18 units of their own viewBox), so this gives them back the size their boxes were made for.
DIAGRAM_CSS = """
<style>
[data-testid="stGraphVizChart"] svg text { font-size: 18px !important; }
</style>
"""


# Graphviz sources of the two diagrams; $-names are the visible labels, filled in the session's language.
GAN_DIAGRAM = string.Template("""
digraph GAN {
  rankdir=TB; bgcolor="transparent";
  node [shape=box, style="rounded,filled", fillcolor="#0072B2", fontcolor="white", fontname="$font", fontsize=18, color="#0072B2"];
  edge [color="#888888", fontcolor="#888888", fontname="$font", penwidth=2];
  noise [label="$noise", shape=ellipse, fillcolor="#888888", color="#888888"];
  real [label="$real", shape=ellipse, fillcolor="#009E73", color="#009E73"];
  generator [label="$generator"];
  fake [label="$fake", shape=ellipse, fillcolor="#888888", color="#888888"];
  discriminator [label="$discriminator", fillcolor="#E69F00", color="#E69F00"];
  verdict [label="$verdict", shape=ellipse, fillcolor="#D55E00", color="#D55E00"];
  noise -> generator -> fake -> discriminator;
  real -> discriminator;
  discriminator -> verdict;
}
""")
VAE_DIAGRAM = string.Template("""
digraph VAE {
  rankdir=TB; bgcolor="transparent";
  node [shape=box, style="rounded,filled", fillcolor="#0072B2", fontcolor="white", fontname="$font", fontsize=18, color="#0072B2"];
  edge [color="#888888", fontcolor="#888888", fontname="$font", penwidth=2];
  input [label="$input", shape=ellipse, fillcolor="#009E73", color="#009E73"];
  encoder [label="$encoder"];
  stats [label="$mean\\n$log_variance", shape=ellipse, fillcolor="#888888", color="#888888"];
  sample [label="z = μ + σ · ε", fillcolor="#E69F00", color="#E69F00"];
  noise [label="ε ~ N(0, I)", shape=ellipse, fillcolor="#888888", color="#888888"];
  decoder [label="$decoder"];
  output [label="$output", shape=ellipse, fillcolor="#D55E00", color="#D55E00"];
  input -> encoder -> stats -> sample -> decoder -> output;
  noise -> sample;
}
""")
# Training above (a clean digit is mixed with noise at a random time t, the network guesses how to
# undo the mix); the dashed edge is drawing, the same network applied again and again from pure noise.
DIFFUSION_DIAGRAM = string.Template("""
digraph Diffusion {
  rankdir=TB; bgcolor="transparent";
  node [shape=box, style="rounded,filled", fillcolor="#0072B2", fontcolor="white", fontname="$font", fontsize=18, color="#0072B2"];
  edge [color="#888888", fontcolor="#888888", fontname="$font", penwidth=2];
  real [label="$real", shape=ellipse, fillcolor="#009E73", color="#009E73"];
  noise [label="$noise", shape=ellipse, fillcolor="#888888", color="#888888"];
  time [label="$time", shape=ellipse, fillcolor="#888888", color="#888888"];
  mix [label="$mix", fillcolor="#E69F00", color="#E69F00"];
  network [label="$network"];
  guess [label="$guess", shape=ellipse, fillcolor="#D55E00", color="#D55E00"];
  { rank=same; mix; time; }
  real -> mix; noise -> mix; time -> mix;
  mix -> network -> guess;
  time -> network;
  guess -> mix [style=dashed, label="$repeat", fontsize=18, constraint=false];
}
""")
DIAGRAM_FONT = "Helvetica"
# The objective the diffusion model trains with (aigc_core/models: the diffusion helper measured
# which one gives digits sooner on a CPU); the formula on Home must be the one that is trained.
DIFFUSION_OBJECTIVE = "flow"


def dot_label(text: str) -> str:
    """Text that is safe inside a Graphviz double-quoted label (a translation may hold quotes)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def gan_diagram() -> str:
    """The GAN diagram's Graphviz source, its labels in the session's language."""
    labels = {"noise": _("noise z"), "real": _("real image"), "generator": _("generator G"),
              "fake": _("fake image G(z)"), "discriminator": _("discriminator D"), "verdict": _("real or fake?")}
    return GAN_DIAGRAM.substitute({name: dot_label(text) for name, text in labels.items()}, font=DIAGRAM_FONT)


def vae_diagram() -> str:
    """The VAE diagram's Graphviz source, its labels in the session's language."""
    labels = {"input": _("input image x"), "encoder": _("encoder"), "mean": _("mean μ"),
              "log_variance": _("log-variance log σ²"), "decoder": _("decoder"), "output": _("reconstruction x̂")}
    return VAE_DIAGRAM.substitute({name: dot_label(text) for name, text in labels.items()}, font=DIAGRAM_FONT)


def diffusion_diagram() -> str:
    """The diffusion diagram's Graphviz source, its labels in the session's language."""
    labels = {"real": _("clean image x"), "noise": _("noise ε ~ N(0, I)"), "time": _("noise level t"),
              "mix": _("noisy image x_t"), "network": _("denoising network (U-Net)"),
              "guess": _("how to remove the noise"), "repeat": _("repeat to draw")}
    return DIFFUSION_DIAGRAM.substitute({name: dot_label(text) for name, text in labels.items()}, font=DIAGRAM_FONT)


def diffusion_formulas(objective: str = DIFFUSION_OBJECTIVE) -> list[tuple[str, str]]:
    """(sentence, LaTeX) pairs for the noisy image and the loss of the objective the model trains with.

    Raises:
        ValueError: for an objective this page has no formula for.
    """
    if objective == "flow":
        return [(_("The noisy image mixes the digit x with noise ε drawn from N(0, I); the noise level t is drawn "
                   "between 0 (the clean digit) and 1 (pure noise):"),
                 r"x_t = (1 - t)\, x + t\, \varepsilon"),
                (_("The network v_θ learns the straight direction from the digit to the noise (flow matching); "
                   "drawing walks that direction backwards from t = 1 to t = 0:"),
                 r"L = \mathbb{E}_{x, \varepsilon, t}\, \big\| v_\theta(x_t, t) - (\varepsilon - x) \big\|^2")]
    if objective == "ddpm":
        return [(_("The noisy image mixes the digit x with noise ε drawn from N(0, I), more of it at a later "
                   "step t:"),
                 r"x_t = \sqrt{\bar\alpha_t}\, x + \sqrt{1 - \bar\alpha_t}\, \varepsilon"),
                (_("The network ε_θ learns to tell which noise was added (DDPM); drawing subtracts its guess "
                   "a little at a time:"),
                 r"L = \mathbb{E}_{x, \varepsilon, t}\, \big\| \varepsilon - \varepsilon_\theta(x_t, t) \big\|^2")]
    raise ValueError(f"expected a diffusion objective 'flow' or 'ddpm', received {objective!r}")


def diagram_style() -> None:
    """Draw the diagrams' labels at the size Graphviz laid them out for."""
    st.markdown(DIAGRAM_CSS, unsafe_allow_html=True)


def shipped_fid(entry: dict) -> float:
    """The FID recorded beside shipped weights (`<name>.metrics.json`); infinity when there is none."""
    value = (studio.shipped_metrics(entry) or {}).get("fid")
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
        st.error(_("Cannot load {name}: {error}").format(name=entry["name"], error=error))
        return
    images = model.sample(count, seed=int(seed))
    st.image(image_grid_png(images, columns=columns, scale=scale), width="stretch",
             caption=_("{family} `{name}`: {count} new digits from seed {seed}").format(
                 family=family_title(entry["family"]), name=entry["name"], count=count, seed=seed))


def render_featured(featured: list[dict], seed: int) -> None:
    """The featured models' samples side by side (stacked on a narrow screen)."""
    for column, entry in zip(st.columns(len(featured), gap="large"), featured):
        with column:
            render_samples(entry, seed, FEATURED_COLUMNS * FEATURED_ROWS, FEATURED_COLUMNS)


# Seconds from Start to the end of the preset each family's Train form offers first, at its default
# budget, on a 2-core CPU this project is developed on, interpreter start and tracing included:
# `python bench/default_budgets.py` (bench/README.md, "Default budgets"). Rounded when shown. The
# slower of the two machines measured on 2026-12-06 (an AMD EPYC; 17:35-18:11 UTC, after the data
# pipeline stopped waiting ~40 s at exit): gan-clusters' 2,000 steps 96.4 s (its k-means included),
# vae-clusters' 4,000 steps 115.1 s in float32, what a CPU without bfloat16 arithmetic trains it in
# (101.7 s in mixed bfloat16, its default where the CPU computes it: quicker on both CPUs measured,
# so the float32 time is the one no visitor waits longer than), diffusion-fast's 2,000 steps 286.8 s.
FIRST_RUN_SECONDS = {"gan": 96.4, "vae": 115.1, "diffusion": 286.8}


def duration_text(seconds: float) -> str:
    """Seconds as a visitor plans with them: half minutes from a minute on ("1.5 min"), and under a
    minute seconds to the nearest five ("45 s"), never below "5 s"."""
    to_five = max(5, 5 * round(seconds / 5))
    if to_five < 60:
        return _("{seconds:g} s").format(seconds=to_five)
    return _("{minutes:g} min").format(minutes=round(seconds / 30) / 2)


def first_run_text() -> str:
    """How long a first run takes, so a visitor knows whether to wait for digits or come back."""
    return _("How long a first run takes on a laptop's 2-core CPU, at the Train page's default budget: "
             "about {gan} for the GAN, {vae} for the VAE and {diffusion} for the diffusion model, each "
             "ending on rough but readable digits (longer runs draw cleaner ones).").format(
        **{family: duration_text(seconds) for family, seconds in FIRST_RUN_SECONDS.items()})


def train_a_gan_button() -> None:
    """The one next step the first screen offers: the Train page, whose default model is a GAN."""
    if st.button(_("Train a GAN now"), key="home_train_gan", type="primary", icon=":material/model_training:"):
        switch_page("pages/train.py")
