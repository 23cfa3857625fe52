"""Latent space: where a VAE puts the digits, and what a GAN draws between two seeds (a conditional
GAN at one chosen digit, or between two digits at one z)."""

import streamlit as st

from aigc_core.studio import MAX_SEED
from ui.cache import model_sources
from ui import latent_view
from ui import sources_view
from ui.cache import load_model
from ui.i18n import N_, _
from ui.router import ensure_router
from ui import share

ensure_router()  # a deep link on a fresh server must still go through app.py

# A conditional model can walk two ways; the label is never changed along a walk through z.
WALKS = {"z": N_("Walk through z (one digit held fixed)"), "label": N_("Label interpolation (z held still)")}



def restore_indices(default: str) -> None:
    """Before the indices box is drawn: the link's `?digits=3,2,1` if every entry is a valid test-set
    index (untrusted text is parsed, never shown), else the model's default row with a notice."""
    if isinstance(st.session_state.get("latent_digits"), str):
        return
    linked = share.url_value("digits")
    try:
        indices = latent_view.parse_indices(linked, latent_view.TEST_SET_SIZE) if linked is not None else None
    except ValueError:
        share.notice_bad_value("digits", _("a list of up to 20 whole numbers from 0 to 9,999"))
        indices = None
    st.session_state["latent_digits"] = ", ".join(map(str, indices)) if indices else default


st.title(_("Latent space"))
st.caption(_("Every image a model draws starts as a point in its latent space: here you can look at that space."))

# A diffusion model starts from noise with one number per pixel (784): no small latent space to map or walk.
all_sources = model_sources()
sources = [source for source in all_sources if source.family != "diffusion"]
if len(sources) < len(all_sources):
    st.caption(_("Diffusion models are not listed here: they start from noise with one number per pixel (784), "
                 "not from a small latent space. Their path from noise to digit is on the **Denoising** page."))
model = None
if not sources:
    st.info(_("No trained model yet (no shipped weights, no run with a checkpoint): train one on the **Train** page."))
    st.page_link("pages/train.py", label=_("Go to Train"), icon=":material/model_training:")
else:
    by_key = {source.key: source for source in sources}
    share.restore_choice("latent_source", "source", list(by_key), sources[0].key)
    key = st.selectbox(_("Model"), list(by_key), key="latent_source",
                       format_func=lambda source_key: sources_view.source_text(by_key[source_key]))
    share.publish("source", key)
    try:
        model = load_model(key)
    except ValueError as error:
        st.error(_("Could not load {key}: {reason}").format(key=key, reason=sources_view.one_line(error)))

if model is not None and model.family == "vae":
    st.subheader(_("Where the encoder puts the test digits"))
    latent_view.render_latent_map(key, model)
    st.subheader(_("Reconstructions"))
    restore_indices(", ".join(map(str, latent_view.default_digit_indices(key))))
    text = st.text_input(_("Test-set indices (up to 20)"), key="latent_digits",
                         help=_("Whole numbers between 0 and 9999, separated by commas or spaces."))
    share.publish("digits", ",".join(text.replace(",", " ").split()) or None)
    latent_view.render_reconstructions(key, text)
    latent_view.render_kl_bars(key, model)
elif model is not None:
    conditional = bool(model.num_classes)
    walk = "z"
    if conditional:
        share.restore_choice("latent_walk", "walk", list(WALKS), "z")
        walk = st.radio(_("What moves"), list(WALKS), format_func=lambda value: _(WALKS[value]), key="latent_walk")
        share.restore_int("latent_digit", "digit", latent_view.HELD_DIGIT, 0, 9)
    share.restore_int("latent_seed_a", "seed_a", 0, 0, MAX_SEED)
    if walk == "z":
        st.subheader(_("Walking between two seeds, one digit held fixed") if conditional else _("Walking between two seeds"))
        columns = st.columns([1, 1, 1, 2] if conditional else [1, 1, 2])
        seed_a_column, seed_b_column, method_column = columns[0], columns[1], columns[-1]
        share.restore_int("latent_seed_b", "seed_b", 1, 0, MAX_SEED)
        share.restore_choice("latent_method", "method", ["linear", "spherical"], "spherical")
        seed_a = int(seed_a_column.number_input(_("Seed A"), min_value=0, max_value=MAX_SEED, key="latent_seed_a"))
        seed_b = int(seed_b_column.number_input(_("Seed B"), min_value=0, max_value=MAX_SEED, key="latent_seed_b"))
        method = method_column.radio(_("Interpolation"), ["linear", "spherical"], horizontal=True, key="latent_method",
                                     format_func=latent_view.method_text)
        digit = None
        if conditional:
            digit = int(columns[2].selectbox(_("Digit in every frame"), list(range(10)), key="latent_digit"))
        share.publish_all({"seed_a": seed_a, "seed_b": seed_b, "method": method, "digit": digit,
                           "walk": "z" if conditional else None})
        latent_view.render_interpolation(key, seed_a, seed_b, method, digit)
    else:
        st.subheader(_("Label interpolation: one digit blends into another"))
        share.restore_int("latent_digit_b", "digit_b", 8, 0, 9)
        seed_column, from_column, to_column = st.columns(3)
        seed_a = int(seed_column.number_input(_("Seed (z, held still)"), min_value=0, max_value=MAX_SEED,
                                              key="latent_seed_a"))
        digit_a = int(from_column.selectbox(_("From digit"), list(range(10)), key="latent_digit"))
        digit_b = int(to_column.selectbox(_("To digit"), list(range(10)), key="latent_digit_b"))
        share.publish_all({"seed_a": seed_a, "digit": digit_a, "digit_b": digit_b, "walk": "label"})
        latent_view.render_label_interpolation(key, seed_a, digit_a, digit_b)
