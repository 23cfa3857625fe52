"""The Twin race page in a real browser: the whole race on one screen, the slider's value shown once.

The issue's demand: both models' grids, their curves, the slider and the verdict fit a 1400x900
screen, and a 1920x1080 one in presentation mode, without scrolling. The race is the demo pack's
recorded one, written into the shared server's runs folder at once (no training), and removed
afterwards. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import shutil

import pytest

from aigc_core.runs.store import RunStore
from aigc_core.experiments.twin import find_twin
from browser_support import SCREENSHOTS_DIR, assert_no_exception, new_tab, open_page
from test_twin_race import replay_twin_instantly, three_way_race_instantly

pytestmark = pytest.mark.browser

# What the race is made of: each side's grid and losses, both FID curves, the slider, the verdict.
RACE_PARTS = (".st-key-twin_side_gan [data-testid='stImage']", ".st-key-twin_side_vae [data-testid='stImage']",
              ".st-key-twin_loss_gan", ".st-key-twin_loss_vae", ".st-key-twin_quality", ".st-key-twin_time",
              ".st-key-twin_verdict")


@pytest.fixture(scope="module")
def twin_id(shipped_weights_server):
    store = RunStore(shipped_weights_server.runs_dir)
    twin_id = replay_twin_instantly(store)
    yield twin_id
    for run in find_twin(twin_id, store).runs:  # the other browser files share this server's runs folder
        shutil.rmtree(run.path, ignore_errors=True)


@pytest.mark.parametrize("width, height, present", [(1400, 900, False), (1920, 1080, True)])
def test_the_twin_race_fits_one_screen_and_shows_the_moment_once(shared_chromium, shipped_weights_server, twin_id,
                                                                   width, height, present):
    context = shared_chromium.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(120_000)
    try:
        page = new_tab(context)
        open_page(page, shipped_weights_server, f"twin?twin={twin_id}" + ("&present=1" if present else ""))
        assert_no_exception(page, "the twin race")
        page.wait_for_selector(".st-key-twin_loss_vae .js-plotly-plot", timeout=60_000)
        for selector in RACE_PARTS:
            box = page.locator(selector).first.bounding_box()
            assert box is not None, f"{selector} is not shown"
            assert box["y"] >= 0 and box["y"] + box["height"] <= height + 1, (selector, box, "below the fold")
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (selector, box, "off the right edge")
        slider = page.locator(".st-key-twin_time").first
        value = slider.locator("[data-testid='stSliderThumbValue']").inner_text().strip()
        assert value.endswith(" s") and slider.inner_text().count(value) == 1, slider.inner_text()
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS_DIR / f"twin_race_{width}x{height}.png"))
    finally:
        context.close()


# A three-way race adds the diffusion model's grid and losses; every part still fits one screen.
THREE_WAY_PARTS = RACE_PARTS + (".st-key-twin_side_diffusion [data-testid='stImage']", ".st-key-twin_loss_diffusion")


@pytest.fixture(scope="module")
def three_way_id(shipped_weights_server):
    store = RunStore(shipped_weights_server.runs_dir)
    race_id = three_way_race_instantly(store)
    yield race_id
    for run in find_twin(race_id, store).runs:
        shutil.rmtree(run.path, ignore_errors=True)


@pytest.mark.parametrize("width, height, present", [(1400, 900, False), (1920, 1080, True), (390, 844, False)])
def test_a_three_way_race_fits_one_screen_and_stacks_on_a_phone(shared_chromium, shipped_weights_server, three_way_id,
                                                                  width, height, present):
    context = shared_chromium.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(120_000)
    phone = width < 640
    try:
        page = new_tab(context)
        open_page(page, shipped_weights_server, f"twin?twin={three_way_id}" + ("&present=1" if present else ""))
        assert_no_exception(page, "the three-way race")
        page.wait_for_selector(".st-key-twin_loss_diffusion .js-plotly-plot", timeout=60_000)
        boxes = {}
        for selector in THREE_WAY_PARTS:
            box = page.locator(selector).first.bounding_box()
            assert box is not None, f"{selector} is not shown"
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (selector, box, "off the right edge")
            if not phone:
                assert box["y"] >= 0 and box["y"] + box["height"] <= height + 1, (selector, box, "below the fold")
            boxes[selector] = box
        grids = [boxes[f".st-key-twin_side_{family} [data-testid='stImage']"] for family in ("gan", "vae", "diffusion")]
        if phone:  # stacked: one column, each member below the one before
            assert grids[0]["y"] < grids[1]["y"] < grids[2]["y"], grids
        else:  # side by side, in race order
            assert grids[0]["x"] < grids[1]["x"] < grids[2]["x"] and len({round(grid["y"]) for grid in grids}) == 1, grids
        assert "Diffusion" in page.locator(".st-key-twin_verdict").first.inner_text()
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS_DIR / f"twin_race_three_way_{width}x{height}.png"), full_page=phone)
    finally:
        context.close()
