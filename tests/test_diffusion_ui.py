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


def test_the_diagnosis_tells_a_diffusion_run_only_what_applies_to_it():
    """No GAN or VAE tips for a denoiser: a healthy run is quiet, a NaN loss is still a divergence."""
    import numpy as np

    from aigc_core.quality.diagnosis import diagnose

    one_digit = (np.random.default_rng(0).random((28, 28)) > 0.7).astype("float32")
    identical_samples = np.repeat(one_digit[None], 16, axis=0)  # "low diversity" for a GAN
    assert diagnose("diffusion", diffusion_rows(), identical_samples) == []
    broken = diffusion_rows() + [{"step": 50, "loss": float("nan"), "loss_low_noise": float("nan")}]
    assert [finding.kind for finding in diagnose("diffusion", broken)] == ["divergence"]
    assert diagnose("gan", [], identical_samples)  # the same samples do warn for a GAN
