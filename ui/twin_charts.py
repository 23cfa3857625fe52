"""The Twin race page's small figures: each model's losses and every member's quality curve on the race's clock.

Drawn on the same clock as the race's slider (training seconds or images seen), with a dashed
line at the slider's moment, and short enough that every grid, the curves and the verdict fit
one screen. Colours and curve names are the ones every other chart of the app uses.
"""

from __future__ import annotations

import plotly.graph_objects as go

from typing import TYPE_CHECKING

from aigc_core.studio import Run, rows_on_clock

if TYPE_CHECKING:
    from aigc_core.studio import Twin
from ui.charts import COLOURS, LABELS, _style_text_and_axes
from ui.families import family_title
from ui.i18n import N_, _
from ui.share import figure_scale

# Two curves per model: what each one optimises, readable at a glance.
RACE_LOSSES = {"gan": ("d_loss", "g_loss"), "vae": ("reconstruction_loss", "kl_loss"),
               "diffusion": ("loss_low_noise", "loss_high_noise")}
AXIS_TITLES = {"seconds": N_("training time (s)"), "images": N_("images seen")}
FAMILY_COLOURS = {"gan": "#D55E00", "vae": "#0072B2", "diffusion": "#009E73"}
HEIGHT_PX = 240


def _layout(figure: go.Figure, axis: str, moment: float, title: str | None) -> go.Figure:
    """The dashed moment line, the clock's axis title, and a legend in a row of its own above the plot
    (inside it, it would hide the curves of a 210-pixel chart)."""
    figure.add_vline(x=moment, line={"color": "gray", "width": 2, "dash": "dash"})
    figure.update_xaxes(title_text=_(AXIS_TITLES[axis]))
    figure.update_layout(
        title={"text": title, "y": 0.98, "yanchor": "top"} if title else None, height=int(HEIGHT_PX * figure_scale()),
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 10, "r": 10, "t": 36, "b": 10}, hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0 if title is None else 1,
                "xanchor": "left" if title is None else "right"},
    )
    figure = _style_text_and_axes(figure)
    small = round(14 * figure_scale())
    figure.update_layout(legend_font={"size": small}, title_font={"size": round(16 * figure_scale())})
    figure.update_xaxes(title_font={"size": small}, tickfont={"size": small})
    figure.update_yaxes(tickfont={"size": small})
    return figure


def race_loss_figure(run: Run, family: str, axis: str, moment: float) -> go.Figure | None:
    """One model's two main losses on the race's clock (the side's header names the model); None before
    its first logged row."""
    timed = rows_on_clock(run, run.metrics(), axis)
    if not timed:
        return None
    figure = go.Figure()
    for index, name in enumerate(RACE_LOSSES[family]):
        points = [(when, row[name]) for when, row in timed if isinstance(row.get(name), (int, float))]
        # A VAE's KL term is a hundred times smaller than its reconstruction loss: it gets the right-hand axis.
        second_axis = family == "vae" and index == 1
        figure.add_trace(go.Scatter(x=[when for when, _value in points], y=[value for _when, value in points],
                                    name=_(LABELS[name]), mode="lines", yaxis="y2" if second_axis else "y",
                                    line={"color": COLOURS[name], "width": 3}))
    if family == "vae":
        figure.update_layout(yaxis2={"overlaying": "y", "side": "right", "showgrid": False})
    figure = _layout(figure, axis, moment, None)
    if family == "vae":
        figure.update_layout(yaxis2={"tickfont": {"size": round(14 * figure_scale()), "color": COLOURS["kl_loss"]}})
    return figure


def race_quality_figure(twin: Twin, axis: str, moment: float) -> go.Figure:
    """Every member's live FID on one clock: the race itself, lower is better."""
    figure = go.Figure()
    for family, run in twin.members:
        points = [(when, row["fid"]) for when, row in rows_on_clock(run, run.quality(), axis)
                  if isinstance(row.get("fid"), (int, float))]
        figure.add_trace(go.Scatter(x=[when for when, _value in points], y=[value for _when, value in points],
                                    name=family_title(family), mode="lines+markers",
                                    line={"color": FAMILY_COLOURS[family], "width": 3}, marker={"size": 6}))
    figure = _layout(figure, axis, moment, _("FID (lower is better)"))
    figure.update_layout(height=int((HEIGHT_PX + 60) * figure_scale()))
    if len(twin.members) > 2:
        # Three names do not fit beside the title in a narrow column: the legend gets rows of its own under it.
        figure.update_layout(margin={"t": int(76 * figure_scale())}, legend={"x": 0, "xanchor": "left"},
                             height=int((HEIGHT_PX + 90) * figure_scale()))
    return figure
