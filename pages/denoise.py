"""Denoising: a diffusion model's walk from pure noise to digits, step by step, and what fewer steps cost."""

import streamlit as st

from aigc_core.studio import MAX_SEED
from ui import denoise_view, share, sources_view
from ui.cache import load_model, model_sources
from ui.i18n import _
from ui.router import ensure_router

ensure_router()  # a deep link on a fresh server must still go through app.py

st.title(_("Denoising: from pure noise to a digit"))
st.caption(_("A diffusion model draws by removing noise a little at a time. Pick a model, a seed and a number of "
             "steps, then drag the slider from pure noise to the finished digits."))

sources = [source for source in model_sources() if source.family == "diffusion"]
if not sources:
    st.info(_("No diffusion model yet: on the **Train** page choose the model **Diffusion** and train one "
              "(its checkpoint appears here)."))
    st.page_link("pages/train.py", label=_("Go to Train"), icon=":material/model_training:",
                 query_params={"model": "diffusion"})
else:
    by_key = {source.key: source for source in sources}
    share.restore_choice("denoise_source", "source", list(by_key), sources[0].key)
    share.restore_int("denoise_seed", "seed", 0, 0, MAX_SEED)
    source_column, seed_column, steps_column = st.columns([3, 1, 1])
    key = source_column.selectbox(_("Diffusion model"), list(by_key), key="denoise_source",
                                  format_func=lambda source_key: sources_view.source_text(by_key[source_key]))
    seed = int(seed_column.number_input(_("Seed"), min_value=0, max_value=MAX_SEED, step=1, key="denoise_seed"))
    try:
        model_steps = load_model(key).sampling_steps
    except ValueError as error:
        st.error(_("Could not load {key}: {reason}").format(key=key, reason=sources_view.one_line(error)))
        st.stop()
    share.restore_int("denoise_steps", "steps", min(model_steps, denoise_view.MAX_UI_STEPS), 1,
                      denoise_view.MAX_UI_STEPS)
    steps = int(steps_column.number_input(_("Denoising steps"), min_value=1, max_value=denoise_view.MAX_UI_STEPS,
                                          step=1, key="denoise_steps",
                                          help=_("How many times the network removes some noise; the model was "
                                                 "trained to draw in {steps}.").format(steps=model_steps)))
    share.publish_all({"source": key, "seed": seed, "steps": steps})
    drawn = denoise_view.render_timeline(key, seed, steps)
    st.divider()
    denoise_view.render_steps_versus_quality(key, seed, model_loads=drawn)
