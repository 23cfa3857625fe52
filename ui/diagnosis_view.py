"""Diagnosis on screen: one card per finding, and a marker on the loss chart where it starts.

The findings come from `aigc_core.quality.diagnosis.diagnose`; this module only draws them, in the
session's language: a finding carries its English templates (marked with `N_` in aigc_core) and
their numbers apart, so each template is translated here and then filled.
"""

from __future__ import annotations

import re
import textwrap

import plotly.graph_objects as go
import streamlit as st

from aigc_core.quality.diagnosis import BROKEN_PRESETS, RECOVERED_TITLE, Finding, diagnose
from ui.charts import small_font_size
from ui.i18n import DEFAULT_LANGUAGE, N_, _, current_language

# Severity -> (Streamlit callout, marker colour). Red and orange read on light and dark themes.
STYLES = {
    "error": (st.error, "#D55E00"),
    "warning": (st.warning, "#E69F00"),
    "info": (st.info, "#888888"),
}
ICONS = {"error": ":material/error:", "warning": ":material/warning:", "info": ":material/history:"}
MARKER_LABEL_LENGTH = 24  # characters per line of a marker's label: the whole title, in a narrow column
# Chinese characters are about twice as wide as Latin letters, and a Chinese title has no spaces to
# wrap at: its lines hold this many characters, cut after its punctuation where possible.
WIDE_MARKER_LABEL_LENGTH = 12
QUIET_MESSAGE = N_("Diagnosis: nothing looks wrong so far.")


def run_findings(run) -> tuple[str, list[dict], list[Finding]]:
    """(family, metric rows, findings) of a run, judged on its rows, latest snapshot and status error."""
    family = run.config().get("model", "gan")
    rows = run.metrics()
    if family not in ("gan", "vae", "diffusion"):
        return family, rows, []
    latest = run.latest_snapshot()
    return family, rows, diagnose(family, rows, latest[1] if latest else None,
                                  snapshot_step=latest[0] if latest else None, error=run.status().get("error"))


def finding_texts(finding: Finding) -> tuple[str, str, str]:
    """(title, explanation, advice) of a finding in the session's language.

    A finding made without templates (by hand, e.g. in a test) is shown as it is.
    """
    if finding.templates is None:
        return finding.title, finding.explanation, finding.advice
    title, explanation, advice = (_(template).format(**finding.parameters) for template in finding.templates)
    if finding.end_step is not None:
        title = _(RECOVERED_TITLE).format(title=title, start_step=finding.step, end_step=finding.end_step)
    return title, explanation, advice


def preset_title(name: str) -> str:
    """A "break it on purpose" preset's name as shown; `name` itself stays the key in configs and links."""
    return _(name) if name in BROKEN_PRESETS else name


def watch_for_text(name: str) -> str:
    """The "watch for" card of a "break it on purpose" preset, in the session's language."""
    return _("**Watch for:** {card}").format(card=_(BROKEN_PRESETS[name].watch_for))


def card_text(finding: Finding) -> str:
    """A finding's callout: its title, the step it starts at, what it means and what to try."""
    title, explanation, advice = finding_texts(finding)
    where = _(" · from step {step:,}").format(step=finding.step) if finding.step is not None else ""
    return _("**{title}**{where}\n\n{explanation}\n\n*Try:* {advice}").format(
        title=title, where=where, explanation=explanation, advice=advice)


def render_finding_cards(findings: list[Finding], quiet_message: str | None = QUIET_MESSAGE) -> None:
    """One callout per finding (error, warning, or info for an episode the run recovered from)."""
    if not findings:
        if quiet_message:
            st.caption(_(quiet_message))
        return
    for finding in findings:
        callout = STYLES.get(finding.severity, STYLES["warning"])[0]
        callout(card_text(finding), icon=ICONS.get(finding.severity))


def render_findings(family: str, rows: list[dict], snapshot=None, *, snapshot_step: int | None = None,
                    error: str | None = None) -> list[Finding]:
    """Diagnose metric rows (and optionally a snapshot) and show the findings as cards.

    Returns the findings, so the caller can mark them on its chart with `annotate_figure`.
    """
    try:
        findings = diagnose(family, rows, snapshot, snapshot_step=snapshot_step, error=error)
    except ValueError as problem:
        st.error(_("Diagnosis unavailable: {problem}").format(problem=str(problem).splitlines()[0]))
        return []
    render_finding_cards(findings)
    return findings


def annotate_figure(figure: go.Figure, findings: list[Finding]) -> go.Figure:
    """Mark each finding on a loss figure: a dotted line at its first step, labelled with its title.

    An episode the run recovered from is a shaded band from its start to its end step. Lines span
    the whole figure height (`yref="paper"`), so both panels of the GAN figure get them; their x
    axes are shared. Returns the same figure, for chaining.
    """
    last_step = _last_step(figure)
    wrap = textwrap.wrap if current_language() == DEFAULT_LANGUAGE else _wrap_wide
    for finding in findings:
        if finding.step is None:
            continue
        colour = STYLES.get(finding.severity, STYLES["warning"])[1]
        if finding.end_step is not None and finding.end_step > finding.step:
            figure.add_shape(type="rect", xref="x", yref="paper", x0=finding.step, x1=finding.end_step, y0=0, y1=1,
                             fillcolor=colour, opacity=0.15, line={"width": 0}, layer="below")
        else:
            figure.add_shape(type="line", xref="x", yref="paper", x0=finding.step, x1=finding.step, y0=0, y1=1,
                             line={"color": colour, "width": 2, "dash": "dot"})
        # The whole title, wrapped onto short lines, on the side of the marker with room for it:
        # a label running left from a marker in the right half stays inside the chart.
        title = finding_texts(finding)[0]
        label = "<br>".join(wrap(title, MARKER_LABEL_LENGTH))
        side = "right" if finding.step > 0.5 * last_step else "left"
        figure.add_annotation(x=finding.step, xref="x", y=0.99, yref="paper", text=label, showarrow=False,
                              xanchor=side, yanchor="top", align=side, font={"color": colour, "size": small_font_size()},
                              hovertext=title)
    return figure


def _wrap_wide(title: str, _latin_width: int) -> list[str]:
    """A Chinese title's lines: cut after "，：；" and before "（", joined again while a line stays short."""
    pieces = [piece for piece in re.sub(r"([，：；])", "\\1\n", title).replace("（", "\n（").split("\n") if piece]
    lines = []
    for piece in pieces:
        if lines and len(lines[-1]) + len(piece) <= WIDE_MARKER_LABEL_LENGTH:
            lines[-1] += piece
        else:
            lines += textwrap.wrap(piece, WIDE_MARKER_LABEL_LENGTH) or [piece]
    return lines


def _last_step(figure: go.Figure) -> float:
    """The largest x of any trace (0 for an empty figure): where the chart's step axis ends."""
    steps = [step for trace in figure.data for step in (trace.x if trace.x is not None else ()) if step is not None]
    return float(max(steps)) if steps else 0.0
