"""Your own digit: draw or upload one, see it made MNIST-like, encoded by a VAE and found by a GAN."""

import streamlit as st

from ui import digit_view, share
from ui.i18n import _
from ui.router import ensure_router

ensure_router()  # a deep link on a fresh server must still go through app.py

st.title(_("Your own digit"))
st.caption(_("Draw a digit or upload a picture of one: the VAE encodes it, the GAN searches its latent space "
             "for it, and two of your digits can be blended under both models."))

# Folded (one click away) in presentation mode: the canvas is what the class watches.
with st.expander(_("Models"), expanded=not share.presentation_mode()):
    vae_column, gan_column, steps_column = st.columns([2, 2, 1])
    with vae_column:
        vae_key = digit_view.choose_source("vae", "digit_vae", "vae")
    with gan_column:
        gan_key = digit_view.choose_source("gan", "digit_gan", "gan")
    steps = steps_column.select_slider(_("GAN search steps"), digit_view.STEP_CHOICES, value=200, key="digit_steps",
                                       help=_("Adam steps per start when looking for the GAN latent of a digit."))

input_column, prepared_column = st.columns(2, gap="large")
prepared = None
with input_column:
    mode = st.radio(_("Input"), ["Draw", "Upload"], horizontal=True, key="digit_input",
                    format_func=lambda choice: _(digit_view.INPUT_LABELS[choice]))
    try:
        if mode == "Draw":
            drawing = digit_view.drawing_canvas("digit_canvas")
            st.caption(_("Draw one digit with the mouse, large and in the middle; **Clear** starts over."))
            prepared = digit_view.own_digit.prepare_drawing(drawing) if drawing else None
        else:
            upload = st.file_uploader(_("A PNG or JPEG of one digit"), type=["png", "jpg", "jpeg"], key="digit_upload")
            prepared = digit_view.digit_from_upload(upload) if upload is not None else None
    except ValueError as error:
        st.error(digit_view.error_text(error))
with prepared_column:
    if prepared is not None:
        digit_view.render_prepared(prepared)
    else:
        st.info(_("Nothing to show yet: draw a digit on the black square, or upload an image."))
    digit_view.render_slot_buttons(prepared)

# Models are loaded only when there is something to show them (loading takes a second or two).
needed = prepared is not None or digit_view.both_slots_kept()
vae_model = digit_view.load_or_explain(vae_key, "vae") if needed else None
gan_model = digit_view.load_or_explain(gan_key, "gan") if needed else None
if prepared is not None:
    vae_section, gan_section = st.columns(2, gap="large")
    with vae_section:
        st.subheader(_("What the VAE makes of it"))
        if vae_model is not None:
            digit_view.render_vae(vae_model, prepared)
    with gan_section:
        st.subheader(_("What the GAN can reproduce"))
        if gan_model is not None:
            try:
                digit_view.render_gan(gan_key, gan_model, prepared, steps)
            except ValueError as error:
                st.error(digit_view.error_text(error))

if vae_model is not None:
    st.subheader(_("Where the VAE puts your digits"))
    digit_view.render_vae_scatter(vae_key, vae_model, prepared)

st.divider()
st.subheader(_("From digit A to digit B"))
try:
    digit_view.render_interpolations(vae_key, vae_model, gan_key, gan_model, steps)
except ValueError as error:
    st.error(digit_view.error_text(error))
