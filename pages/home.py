"""Home: fresh digits from each model family with the next step first, then what the three are
and how they learn, then a row of digits from each other shipped model."""

import random

import streamlit as st

from aigc_core.studio import MAX_SEED
from ui.cache import shipped_models
from ui.home_view import (diagram_style, diffusion_diagram, diffusion_formulas, featured_models, first_run_text,
                          gan_diagram, render_featured, render_samples, train_a_gan_button, vae_diagram)
from ui.families import description_text, family_title
from ui.i18n import _
from ui.router import ensure_router
from ui import share

ensure_router()  # a deep link on a fresh server must still go through app.py

SAMPLES_PER_ROW = 10

def draw_new_seed() -> None:
    """Button callback: runs before the script, so the seed input may still be changed."""
    st.session_state.home_seed = random.randint(0, MAX_SEED)


st.title(_("AIGC Studio: three ways to make digits from noise"))
st.markdown(_(
    "All three model families here learn from {count:,} handwritten digits (MNIST) and then draw new "
    "ones that were never in the data. They learn in very different ways."
).format(count=60_000))

models = shipped_models()
featured = featured_models(models)
if not models:
    st.info(_("No shipped weights yet: train a model on the **Train** page, then see it on Compare."))
    train_a_gan_button()
    seed = 0
else:
    share.restore_int("home_seed", "seed", 0, 0, MAX_SEED)
    seed = int(st.session_state.home_seed)
    render_featured(featured, seed)
    action_column, new_column, seed_column = st.columns([2, 2, 1], vertical_alignment="bottom")
    with action_column:
        train_a_gan_button()
    with new_column:
        st.button(_("New digits"), key="home_generate", on_click=draw_new_seed, icon=":material/casino:")
    with seed_column:
        seed = int(st.number_input(_("Seed"), min_value=0, max_value=MAX_SEED, step=1, key="home_seed"))
    share.publish("seed", seed)
st.caption(first_run_text())

st.divider()
diagram_style()
gan_column, vae_column = st.columns(2, gap="large")
with gan_column:
    st.header(_("GAN: a forger and a detective"))
    st.markdown(_(
        "A **generator** turns random noise into an image. A **discriminator** sees real digits "
        "and the generator's fakes and learns to tell them apart. The generator is trained only "
        "through the discriminator's verdict: it improves by fooling it. When training goes well "
        "the two stay balanced and the discriminator ends up unsure, near 50/50."
    ))
    st.graphviz_chart(gan_diagram())
    st.markdown(_("The discriminator minimises binary cross-entropy on real and fake images:"))
    st.latex(r"L_D = -\,\mathbb{E}_{x}\big[\log D(x)\big] \;-\; \mathbb{E}_{z}\big[\log\big(1 - D(G(z))\big)\big]")
    st.markdown(_("The generator uses the non-saturating loss, which still gives gradients when D wins early:"))
    st.latex(r"L_G = -\,\mathbb{E}_{z}\big[\log D(G(z))\big]")

with vae_column:
    st.header(_("VAE: compress, then rebuild"))
    st.markdown(_(
        "An **encoder** squeezes each image into a few numbers: not one point but a small cloud, "
        "a mean and a variance. A point **z** is drawn from that cloud and a **decoder** rebuilds "
        "the image from it. A second term keeps every cloud close to a standard normal, so after "
        "training any point drawn from N(0, I) decodes into a plausible digit."
    ))
    st.graphviz_chart(vae_diagram())
    st.markdown(_("The loss is reconstruction error plus β times the KL divergence to the prior:"))
    reconstruction = _("reconstruction")  # the name under the first term's brace
    st.latex(r"\begin{aligned} L &= \underbrace{-\,\mathbb{E}_{q(z\mid x)}\big[\log p(x\mid z)\big]}_{\text{"
             + reconstruction + r"}} \\ &\quad + \beta\, D_{KL}\big(q(z\mid x)\,\|\,\mathcal{N}(0, I)\big) \end{aligned}")
    st.latex(r"D_{KL} = -\tfrac{1}{2} \sum_{j=1}^{d} \big(1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2\big)")

st.divider()
st.header(_("Diffusion: from pure noise to a digit, step by step"))
text_column, diagram_column = st.columns(2, gap="large")
with text_column:
    st.markdown(_(
        "Training takes a real digit and buries it under noise: a little or a lot, the amount chosen at "
        "random. One **denoising network** sees the noisy image and the amount of noise, and learns to say "
        "how to get back to the digit. To draw, it starts from pure noise and removes a bit of noise at a "
        "time, step after step, until a digit appears."
    ))
    st.markdown(_(
        "Unlike a GAN, there is no contest: one network learns with a plain regression loss, so training "
        "is steady. Unlike a VAE, nothing is compressed into a few numbers: the starting noise has as many "
        "numbers as the image has pixels. The price is drawing: a GAN or a VAE draws in one pass, a "
        "diffusion model needs one pass per denoising step, so fewer steps are faster but rougher."
    ))
    for sentence, formula in diffusion_formulas():
        st.markdown(sentence)
        st.latex(formula)
with diagram_column:
    st.graphviz_chart(diffusion_diagram())

others = [entry for entry in models if entry not in featured]
if others:
    st.divider()
    st.header(_("Every other shipped model"))
    for entry in others:
        st.subheader(f"{entry['name']}  ·  {family_title(entry['family'])}")
        if entry["description"]:
            st.caption(description_text(entry["description"]))
        render_samples(entry, seed, SAMPLES_PER_ROW, SAMPLES_PER_ROW)
