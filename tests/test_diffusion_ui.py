"""The diffusion family in the app's faces: its loss chart, its Train form, and the pages that list it."""

from __future__ import annotations

import pytest


def diffusion_rows(count: int = 4) -> list[dict]:
    return [{"step": 10 * (index + 1), "loss": 1.0 - 0.1 * index, "loss_low_noise": 1.2 - 0.1 * index,
             "loss_mid_noise": 0.9 - 0.1 * index, "loss_high_noise": 0.7 - 0.1 * index} for index in range(count)]


def test_the_diffusion_loss_chart_plots_every_band_under_a_plain_name():
    from ui.charts import loss_figure

    figure = loss_figure(diffusion_rows(), "diffusion")
    names = [trace.name for trace in figure.data]
    assert names == ["loss, all noise levels", "loss at low noise", "loss at middle noise", "loss at high noise"]
    assert [list(trace.y) for trace in figure.data][1] == [row["loss_low_noise"] for row in diffusion_rows()]
    with pytest.raises(ValueError, match="Received: family='flow'"):
        loss_figure(diffusion_rows(), "flow")
