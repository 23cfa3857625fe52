"""Figures for a projector: loss curves, quality curves and enlarged sample grids.

Large fonts, few lines, a transparent background and colours that read on both the light
and the dark theme, so the same figure works whatever theme the presenter picked.
"""

from __future__ import annotations

import base64

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from aigc_core.quality.diagnosis import is_critic_history
from aigc_core.images import make_grid, png_bytes
from ui.i18n import N_, _
from ui.share import figure_scale

# Mid-tone colours (Okabe-Ito palette): visible on white and on near-black, and colour-blind safe.
COLOURS = {
    "d_loss": "#E69F00",
    "g_loss": "#0072B2",
    "d_real": "#009E73",
    "d_fake": "#D55E00",
    "loss": "#0072B2",
    "reconstruction_loss": "#009E73",
    "kl_loss": "#E69F00",
    "wasserstein": "#009E73",
    "gradient_penalty": "#D55E00",
    "fid": "#CC79A7",
    "inception_score": "#56B4E9",
    "loss_low_noise": "#009E73",
    "loss_mid_noise": "#E69F00",
    "loss_high_noise": "#D55E00",
}
LABELS = {
    "d_loss": N_("discriminator loss"),
    "g_loss": N_("generator loss"),
    "d_real": N_("D(x): real judged real"),
    "d_fake": N_("D(G(z)): fake judged real"),
    "loss": N_("total loss"),
    "reconstruction_loss": N_("reconstruction"),
    "kl_loss": N_("KL divergence"),
    "wasserstein": N_("Wasserstein estimate E[D(x)] − E[D(G(z))]"),
    "gradient_penalty": N_("gradient penalty"),
    "fid": N_("FID (lower is better)"),
    "inception_score": N_("Inception Score (higher is better)"),
    "loss_low_noise": N_("loss at low noise"),
    "loss_mid_noise": N_("loss at middle noise"),
    "loss_high_noise": N_("loss at high noise"),
}
# Grey at half opacity is a grid line on white and on black alike.
GRID_COLOUR = "rgba(128, 128, 128, 0.3)"
FONT_SIZE = 18
# The VAE's total is reconstruction plus a small KL term: dashed, so the two stay distinguishable.
DASHED = {"loss"}
# A WGAN-GP's D is a critic: its loss is a score difference plus the penalty, not a cross-entropy.
CRITIC_LABELS = {**LABELS, "d_loss": N_("critic loss")}
# A diffusion model's total is the mean over every noise level, which the three bands split up.
DIFFUSION_LABELS = {**LABELS, "loss": N_("loss, all noise levels")}
DIFFUSION_LOSSES = ("loss", "loss_low_noise", "loss_mid_noise", "loss_high_noise")
# Bars of collapsed latent dimensions are grey: the eye should find the ones the model ignores.
KL_COLOUR, COLLAPSED_COLOUR = "#0072B2", "#999999"


def _trace(rows: list[dict], name: str, labels: dict = LABELS) -> go.Scatter:
    points = [(row["step"], row[name]) for row in rows if "step" in row and row.get(name) is not None]
    label = _(labels[name]) if name in labels else name
    return go.Scatter(
        x=[step for step, _value in points],
        y=[value for _step, value in points],
        name=label,
        mode="lines",
        line={"color": COLOURS.get(name), "width": 3, "dash": "dash" if name in DASHED else "solid"},
        hovertemplate=_("step") + " %{x}<br>%{y:.4f}<extra>" + label + "</extra>",
    )


def small_font_size() -> int:
    """Ticks and panel titles: 16 px on a screen, scaled with the figures in presentation mode
    (about 22 px), so nothing on a projected chart is under 18 px."""
    return round((FONT_SIZE - 2) * figure_scale())


def _style_text_and_axes(figure: go.Figure) -> go.Figure:
    """Sizes set on every part explicitly: Streamlit's chart theme would otherwise shrink them."""
    figure.update_annotations(font={"size": small_font_size()})
    axis_style = {"gridcolor": GRID_COLOUR, "zeroline": False, "tickfont": {"size": small_font_size()},
                  "title_font": {"size": round(FONT_SIZE * figure_scale())}}
    figure.update_xaxes(**axis_style)
    figure.update_yaxes(**axis_style)
    figure.update_layout(title_font={"size": round((FONT_SIZE + 2) * figure_scale())},
                         legend_font={"size": round(FONT_SIZE * figure_scale())})
    return figure


def loss_figure(rows: list[dict], family: str, title: str | None = None, height: int | None = None) -> go.Figure:
    """Loss curves of one run against the training step.

    Args:
        rows: metric rows as `Run.metrics()` returns them (each has `step` and the losses).
        family: "gan" (losses on top, D's mean output on real and fake images below, as
            probabilities; for a WGAN-GP the critic's Wasserstein estimate and its gradient
            penalty instead, which are scores, not probabilities), "vae" (total,
            reconstruction and KL losses on one axis) or "diffusion" (its loss over all noise
            levels and the loss at low, middle and high noise, on one axis).
        title: optional heading drawn above the figure.
        height: the figure's height in pixels at screen size (scaled in presentation mode); by
            default tall enough for its panels on a page of their own. The Train page's live
            view passes less, so that the whole run fits one screen.

    Raises:
        ValueError: for a family other than "gan", "vae" or "diffusion".
    """
    chosen_height = height
    if family == "gan" and is_critic_history(rows):
        figure = make_subplots(
            rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.09, row_heights=[0.4, 0.33, 0.27],
            subplot_titles=(_("losses"), _("Wasserstein estimate (falls as the samples get closer to real digits)"),
                            _("gradient penalty (0: the critic's gradient norm is exactly 1)")),
        )
        for name in ("d_loss", "g_loss"):
            figure.add_trace(_trace(rows, name, CRITIC_LABELS), row=1, col=1)
        figure.add_trace(_trace(rows, "wasserstein", CRITIC_LABELS), row=2, col=1)
        figure.add_trace(_trace(rows, "gradient_penalty", CRITIC_LABELS), row=3, col=1)
        figure.update_xaxes(title_text=_("step"), row=3, col=1)
        height = 680
    elif family == "gan":
        figure = make_subplots(
            rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12, row_heights=[0.55, 0.45],
            subplot_titles=(_("losses"), _("discriminator output (probability of 'real')")),
        )
        for name in ("d_loss", "g_loss"):
            figure.add_trace(_trace(rows, name), row=1, col=1)
        for name in ("d_real", "d_fake"):
            figure.add_trace(_trace(rows, name), row=2, col=1)
        # 0.5 is where a perfectly confused discriminator sits: the equilibrium GANs aim for.
        figure.add_hline(y=0.5, line={"dash": "dot", "color": "gray", "width": 1}, row=2, col=1)
        figure.update_yaxes(range=[0, 1], row=2, col=1)
        figure.update_xaxes(title_text=_("step"), row=2, col=1)
        height = 560
    elif family == "vae":
        figure = go.Figure()
        for name in ("loss", "reconstruction_loss", "kl_loss"):
            figure.add_trace(_trace(rows, name))
        figure.update_xaxes(title_text=_("step"))
        height = 420
    elif family == "diffusion":
        figure = go.Figure()
        for name in DIFFUSION_LOSSES:
            figure.add_trace(_trace(rows, name, DIFFUSION_LABELS))
        figure.update_xaxes(title_text=_("step"))
        height = 420
    else:
        raise ValueError(f"Expected family to be 'gan', 'vae' or 'diffusion'. Received: family={family!r}")

    figure.update_layout(
        title={"text": title} if title else None,
        height=int((chosen_height or height) * figure_scale()),
        font={"size": FONT_SIZE},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 10, "r": 10, "t": 60 if title or family == "gan" else 20, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.06 if family == "gan" else 1.02, "x": 0,
                "font": {"size": FONT_SIZE}},
        hovermode="x unified",
    )
    return _style_text_and_axes(figure)


def quality_figure(rows: list[dict], title: str | None = None) -> go.Figure:
    """FID and Inception Score of a run's snapshots against the training step.

    Two stacked panels sharing the step axis, since the two numbers live on different scales
    (FID in the hundreds falling, IS between 1 and 10 rising). Points are marked: each one
    is a scored snapshot, usually 100 steps apart.

    Args:
        rows: rows as `Run.quality()` returns them (step, fid, inception_score, class shares).
        title: optional heading drawn above the figure.
    """
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.14, row_heights=[0.5, 0.5],
        subplot_titles=(_("FID against the MNIST test set (lower is better)"),
                        _("Inception Score (higher is better, 10 at most)")),
    )
    for index, name in enumerate(("fid", "inception_score"), start=1):
        points = [row for row in rows if "step" in row and row.get(name) is not None]
        figure.add_trace(go.Scatter(
            x=[row["step"] for row in points],
            y=[row[name] for row in points],
            customdata=[[row.get("min_class_share"), row.get("max_class_share")] for row in points],
            name=_(LABELS[name]),
            mode="lines+markers",
            line={"color": COLOURS[name], "width": 3},
            marker={"size": 8},
            hovertemplate=(_("step") + " %{x}<br>%{y:.2f}<br>"
                           + _("rarest digit {rarest}, commonest {commonest}").format(
                               rarest="%{customdata[0]:.1%}", commonest="%{customdata[1]:.1%}")
                           + "<extra>" + _(LABELS[name]) + "</extra>"),
        ), row=index, col=1)
    figure.update_xaxes(title_text=_("step"), row=2, col=1)
    figure.update_layout(
        title={"text": title} if title else None,
        height=460,
        font={"size": FONT_SIZE},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        showlegend=False,  # the panel titles name both curves
        hovermode="x unified",
    )
    return _style_text_and_axes(figure)


def image_grid_png(images, columns: int | None = None, scale: int = 4) -> bytes:
    """A PNG of images (N, 28, 28) in [0, 1] tiled into a grid, enlarged with sharp pixels.

    Nearest-neighbour enlargement keeps the digits crisp on a projector, where the browser's
    own smoothing of a 28-pixel image would blur them.
    """
    return png_bytes(make_grid(images, columns=columns), scale=scale)


def png_data_uri(png: bytes) -> str:
    """A PNG as a `data:` URI, which `st.image` shows without the server's media file store.

    A view that reruns every second replaces its media files faster than a busy browser fetches
    them (the image then fails with a 404); an inline image cannot go missing.
    """
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def kl_figure(kl_values, step: int | None = None, title: str | None = None, height: int = 300) -> go.Figure:
    """The KL term per latent dimension as bars: posterior collapse made visible.

    A dimension whose bar is near 0 (grey, below `COLLAPSED_DIMENSION_NATS`) has a posterior
    equal to the prior for every image: the decoder ignores it. Raising beta pushes bars down.

    Args:
        kl_values: nats per latent dimension (as `VAE.kl_per_dimension_on` returns them).
        step: the training step they were measured at, named in the axis title.
        title: optional heading drawn above the figure.
        height: in pixels at screen size (scaled in presentation mode).
    """
    from aigc_core.studio import collapsed_dimension_nats

    COLLAPSED_DIMENSION_NATS = collapsed_dimension_nats()
    values = [float(value) for value in kl_values]
    figure = go.Figure(go.Bar(
        x=[f"z{index + 1}" for index in range(len(values))],
        y=values,
        marker={"color": [COLLAPSED_COLOUR if value < COLLAPSED_DIMENSION_NATS else KL_COLOUR for value in values]},
        hovertemplate="%{x}: %{y:.3f} " + _("nats") + "<extra></extra>",
        name=_("KL per dimension"),
    ))
    figure.add_hline(y=COLLAPSED_DIMENSION_NATS, line={"dash": "dot", "color": "gray", "width": 1})
    figure.update_xaxes(title_text=_("latent dimension") if step is None
                        else _("latent dimension (step {step:,})").format(step=step))
    figure.update_yaxes(title_text=_("KL (nats)"), rangemode="tozero")
    figure.update_layout(
        title={"text": title} if title else None,
        height=int(height * figure_scale()),
        font={"size": FONT_SIZE},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 10, "r": 10, "t": 50 if title else 20, "b": 10},
        showlegend=False,
    )
    return _style_text_and_axes(figure)


def style_figure(figure: go.Figure, height: int) -> go.Figure:
    """The projector look shared with ui.charts: big type, transparent, faint grid."""
    figure.update_layout(
        height=int(height * figure_scale()),
        font={"size": FONT_SIZE},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    figure.update_xaxes(gridcolor=GRID_COLOUR, zeroline=False)
    figure.update_yaxes(gridcolor=GRID_COLOUR, zeroline=False)
    return projector_fonts(figure)


def projector_fonts(figure: go.Figure) -> go.Figure:
    """Give every text element of a figure an explicit large size.

    Streamlit's chart theme (`theme="streamlit"`, which adapts the colours to light and dark)
    replaces the layout's global font size with its own small one; sizes set on the axes,
    legend, title and annotations themselves survive it.
    """
    figure.update_xaxes(tickfont={"size": FONT_SIZE}, title_font={"size": FONT_SIZE + 2})
    figure.update_yaxes(tickfont={"size": FONT_SIZE}, title_font={"size": FONT_SIZE + 2})
    figure.update_layout(legend_font={"size": FONT_SIZE}, legend_title_font={"size": FONT_SIZE},
                         hoverlabel_font={"size": FONT_SIZE}, title_font={"size": FONT_SIZE + 4})
    figure.update_annotations(font_size=FONT_SIZE)
    return figure
