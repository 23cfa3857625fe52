"""Compare: two trained models side by side, then one run's samples step by step."""

import streamlit as st

from aigc_core import studio
from ui.cache import model_sources
from ui import compare_view
from ui import sources_view
from ui.charts import image_grid_png, loss_figure, projector_fonts
from ui.i18n import _
from ui.router import ensure_router
from ui.run_names_view import run_name
from ui import share

ensure_router()  # a deep link on a fresh server must still go through app.py

st.title(_("Compare"))
st.caption(_("Same seed, same number of samples: any two models side by side, GAN, VAE or diffusion."))

sources = model_sources()
if len(sources) < 2:
    st.info(_("Comparing needs two trained models (shipped weights or runs with a checkpoint); "
              "train one on the **Train** page."))
    st.page_link("pages/train.py", label=_("Go to Train"), icon=":material/model_training:")
else:
    by_key = {source.key: source for source in sources}
    left_index = sources_view.default_index(sources, "gan")
    right_index = sources_view.default_index(sources, "vae", exclude=left_index)
    # A shared link (?left=...&right=...&seed=...) opens the same pair; unknown keys fall back.
    share.restore_choice("compare_left", "left", list(by_key), sources[left_index].key)
    share.restore_choice("compare_right", "right", list(by_key), sources[right_index].key)
    share.restore_int("compare_seed", "seed", 0, 0, studio.MAX_SEED)
    left_column, right_column, seed_column = st.columns([2, 2, 1])
    left_key = left_column.selectbox(_("Left model"), list(by_key), key="compare_left",
                                     format_func=lambda key: sources_view.source_text(by_key[key]))
    right_key = right_column.selectbox(_("Right model"), list(by_key), key="compare_right",
                                       format_func=lambda key: sources_view.source_text(by_key[key]))
    seed = int(seed_column.number_input(_("Seed"), min_value=0, max_value=studio.MAX_SEED, step=1, key="compare_seed"))
    share.publish_all({"left": left_key, "right": right_key, "seed": seed})
    mismatch = sources_view.dataset_mismatch(by_key[left_key], by_key[right_key])
    if mismatch:
        st.warning(mismatch, icon=":material/warning:")
    for column, key, side in zip(st.columns(2, gap="large"), (left_key, right_key), ("left", "right")):
        with column:
            compare_view.render_model_card(by_key[key], seed, side)

st.divider()
st.subheader(_("Training timeline"))
runs = [run for run in studio.list_runs() if run.snapshots()]
if not runs:
    st.caption(_("No run has saved samples yet; every run saves a grid of the same latent batch as it trains."))
else:
    by_id = {run.run_id: run for run in runs}
    share.restore_choice("compare_timeline_run", "timeline", list(by_id), runs[0].run_id, run_id=True)
    run = by_id[st.selectbox(_("Run"), list(by_id), key="compare_timeline_run",
                             format_func=lambda run_id: sources_view.run_label(by_id[run_id]))]
    share.publish("timeline", run.run_id)
    snapshots = dict(run.snapshots())
    steps = list(snapshots)
    if len(steps) > 1:
        # The link's step if this run saved samples at it, else the last one (another run, an old link).
        share.restore_int("compare_timeline_step", "step", steps[-1], steps[0], steps[-1])
        sources_view.keep_choice("compare_timeline_step", steps)
        step = st.select_slider(_("Step"), steps, key="compare_timeline_step",
                                format_func=lambda value: _("step {step:,}").format(step=value))
        share.publish("step", step)
    else:
        step = steps[0]
        share.publish("step", None)
    image_column, loss_column = st.columns(2, gap="large")
    try:
        image_column.image(image_grid_png(run.load_snapshot(snapshots[step]), scale=4), width="stretch",
                           output_format="PNG",
                           caption=_("{run_id} at step {step:,}: the same latent batch at every step").format(
                               run_id=run_name(run), step=step))
    except ValueError as error:  # a damaged snapshot file: named, the rest of the page stays
        image_column.warning(_("The samples at step {step:,} cannot be shown: {reason}").format(
            step=step, reason=sources_view.one_line(error)))
    rows, family = run.metrics(), run.config().get("model")
    if rows and family in ("gan", "vae", "diffusion"):
        figure = projector_fonts(loss_figure(rows, family))
        figure.add_vline(x=step, line={"color": "gray", "width": 2, "dash": "dash"})
        loss_column.markdown(_("**Losses** (dashed line: the step shown)"))
        loss_column.plotly_chart(figure, key="compare_timeline_loss")
    else:
        loss_column.caption(_("No losses logged yet."))

st.divider()
# The twin race has a page of its own; an old Compare link to a twin (`?twin=`) still gets there.
st.page_link("pages/twin.py", label=_("Twin race: a GAN and a VAE (and a diffusion model) on one clock, on a page of its own"),
             icon=":material/sprint:", query_params={"twin": share.url_value("twin")} if share.url_value("twin") else None)
