"""The Denoising page in a real browser: the slider walks one grid from the digits back to pure noise.

A tiny diffusion run (trained here, in this process, for a few steps) is copied into the shared
server's runs folder and removed afterwards; the page lists it like any run with a checkpoint.
"""

from __future__ import annotations

import os
import shutil

import pytest

from browser_support import SCREENSHOTS_DIR, assert_no_exception, image_bytes, keyed, new_tab, open_page, wait_for_app
from conftest import tiny_config

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def diffusion_run_id(shipped_weights_server, tmp_path_factory):
    from aigc_core.runs.store import RunStore
    from aigc_core.runs.training import train_run

    store = RunStore(tmp_path_factory.mktemp("denoise-browser-runs"))
    quality = os.environ.get("AIGC_QUALITY_SAMPLES")
    os.environ["AIGC_QUALITY_SAMPLES"] = "0"  # no scoring of the tiny run's snapshots
    try:
        # No weight average: after a few steps the averaged denoiser is still its zero start, which draws nothing.
        run = store.create(tiny_config(model="diffusion", steps=2, ema_decay=0.0,
                                       overrides={"sampling_steps": 3}).to_dict())
        train_run(run)
    finally:
        os.environ.pop("AIGC_QUALITY_SAMPLES") if quality is None else os.environ.update(AIGC_QUALITY_SAMPLES=quality)
    run.update_status(pid=None, pid_start_time=None)  # trained by this process: no worker to watch
    copy = shipped_weights_server.runs_dir / run.run_id
    shutil.copytree(run.path, copy)
    yield run.run_id
    shutil.rmtree(copy, ignore_errors=True)  # the other browser files share this server's runs folder


def test_the_denoising_slider_walks_from_the_digits_back_to_pure_noise(shared_chromium, shipped_weights_server,
                                                                        diffusion_run_id):
    context = shared_chromium.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(120_000)
    try:
        page = new_tab(context)
        open_page(page, shipped_weights_server, f"denoise?source=run:{diffusion_run_id}&seed=5")
        assert_no_exception(page, "the Denoising page")
        grid = page.locator(f"{keyed('denoise_grid')} img").first
        assert "Step 3 of 3: the finished digits" in page.locator(keyed("denoise_grid")).first.inner_text()
        digits = image_bytes(page, shipped_weights_server, grid)
        thumb = page.locator(f"{keyed('denoise_frame')} input[type='range']").first  # react-aria's hidden range input
        thumb.focus()
        thumb.press("Home")  # the keyboard's way to the slider's first value: step 0
        wait_for_app(page)
        assert "Step 0 of 3: pure noise" in page.locator(keyed("denoise_grid")).first.inner_text()
        assert image_bytes(page, shipped_weights_server, page.locator(f"{keyed('denoise_grid')} img").first) != digits
        assert page.locator(keyed("denoise_download")).count() == 1  # the GIF's download
        assert_no_exception(page, "the Denoising page at step 0")
        assert not page.browser_errors, page.browser_errors
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS_DIR / "denoise_step0.png"))
    finally:
        context.close()
