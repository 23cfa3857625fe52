"""Your own digit in a real browser: draw with the mouse, see the models answer, upload a bad file.

A `streamlit run app.py` server and headless Chromium, as in tests/test_browser.py (with the
helpers of tests/browser_support.py). The page uses the shipped vae-map (2-D, so the scatter can place the drawing) and gan-fast weights, named in the URL so that
other shipped weights cannot change what is tested. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from browser_support import (assert_no_exception, choose_radio, image_bytes, keyed, new_context,
    new_tab, open_page, screenshot, wait_for_app)

pytestmark = pytest.mark.browser

DIGIT_PAGE = "digit?vae=weights:vae-map&gan=weights:gan-fast"
MODEL_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def server(shipped_weights_server):
    return shipped_weights_server


@pytest.fixture(scope="module")
def tab(shared_chromium):
    context = new_context(shared_chromium, MODEL_TIMEOUT_MS)
    yield new_tab(context)
    context.close()


def draw(page, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw on the canvas with mouse moves; points are fractions (0-1) of its width and height."""
    canvas = page.locator(f"{keyed('digit_canvas')} canvas")
    canvas.wait_for()
    box = canvas.bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            for fraction in np.linspace(0.1, 1.0, 10):  # many small moves, as a hand makes them
                page.mouse.move(box["x"] + (x0 + fraction * (x1 - x0)) * box["width"],
                                box["y"] + (y0 + fraction * (y1 - y0)) * box["height"])
        page.mouse.up()
    time.sleep(0.5)
    wait_for_app(page, MODEL_TIMEOUT_MS)


def image_with_caption(page, prefix: str):
    """The `<img>` of the image whose caption starts with `prefix` (waits for it)."""
    figure = page.locator("[data-testid='stImage']").filter(
        has=page.locator("[data-testid='stImageCaption']", has_text=prefix))
    figure.first.wait_for(timeout=MODEL_TIMEOUT_MS)
    return figure.first.locator("img")


def fetched_pixels(page, server, image) -> np.ndarray:
    """The pixels of an `<img>` as the browser got them, grey in [0, 1]."""
    data = image_bytes(page, server, image)
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float32) / 255.0


def centre_of_mass(pixels: np.ndarray) -> tuple[float, float]:
    rows, columns = np.mgrid[0 : pixels.shape[0], 0 : pixels.shape[1]]
    return float((pixels * rows).sum() / pixels.sum()), float((pixels * columns).sum() / pixels.sum())


SEVEN = [[(0.2, 0.15), (0.8, 0.15), (0.45, 0.9)]]  # drawn in the upper left-to-centre area
ONE = [[(0.75, 0.1), (0.75, 0.6)]]                 # short and far right: off-centre on purpose


def test_draw_a_digit_and_see_both_models_answer(tab, server):
    open_page(tab, server, DIGIT_PAGE)
    assert_no_exception(tab, "/digit before drawing")
    draw(tab, SEVEN)
    prepared = fetched_pixels(tab, server, image_with_caption(tab, "as MNIST"))
    assert prepared.max() > 0.9, "the MNIST-like image is empty: the drawing did not reach Python"
    # A 28x28 digit enlarged 8x in a 2-pixel frame: its centre of mass must sit near the middle.
    row, column = centre_of_mass(prepared)
    middle = (prepared.shape[0] - 1) / 2
    assert abs(row - middle) < 0.1 * prepared.shape[0] and abs(column - middle) < 0.1 * prepared.shape[1], (
        row, column, prepared.shape)
    image_with_caption(tab, "reconstruction (distance")
    image_with_caption(tab, "closest GAN image (distance")
    distance = float(tab.locator("[data-testid='stMetricValue']").first.inner_text())
    assert 0.0 <= distance < 0.5, distance
    stars = tab.locator("[data-testid='stPlotlyChart'] .legendtext", has_text="your digit")
    stars.first.wait_for(timeout=30_000)  # plotly draws after the images; a timeout here: no star
    assert stars.count() == 1, "more than one star for the drawing on the latent scatter"
    assert_no_exception(tab, "/digit after drawing")
    screenshot(tab, "digit_drawn")


def test_two_digits_are_interpolated_under_both_models(tab, server):
    if tab.locator(f"{keyed('digit_canvas')} canvas").count() == 0:
        open_page(tab, server, DIGIT_PAGE)
        draw(tab, SEVEN)
    tab.locator(f"{keyed('digit_keep_a')} button").click()
    wait_for_app(tab, MODEL_TIMEOUT_MS)
    tab.locator(keyed("digit_canvas")).get_by_role("button", name="Clear").click()
    wait_for_app(tab, MODEL_TIMEOUT_MS)
    assert tab.locator("[data-testid='stImageCaption']", has_text="as MNIST").count() == 0, "Clear left the digit"
    draw(tab, ONE)
    one = fetched_pixels(tab, server, image_with_caption(tab, "as MNIST"))
    row, column = centre_of_mass(one)
    assert abs(column - (one.shape[1] - 1) / 2) < 0.1 * one.shape[1], "the off-centre 1 was not centred"
    tab.locator(f"{keyed('digit_keep_b')} button").click()
    wait_for_app(tab, MODEL_TIMEOUT_MS)
    image_with_caption(tab, "VAE: decoded along")
    image_with_caption(tab, "GAN: spherical path")
    assert_no_exception(tab, "/digit interpolation")
    screenshot(tab, "digit_interpolation")


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_upload_bad_then_good_file(tab, server, tmp_path):
    open_page(tab, server, DIGIT_PAGE)
    choose_radio(tab, "digit_input", "Upload")
    chooser = tab.locator(f"{keyed('digit_upload')} input[type='file']")
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"this is a text file called .png")
    chooser.set_input_files(str(bad))
    wait_for_app(tab, MODEL_TIMEOUT_MS)
    alerts = tab.locator("[data-testid='stAlert']").all_inner_texts()
    assert any("PNG or JPEG" in text for text in alerts), alerts
    assert all("\n" not in text.strip() for text in alerts if "PNG or JPEG" in text), alerts
    assert_no_exception(tab, "/digit bad upload")
    screenshot(tab, "digit_upload_error")

    paper = np.full((300, 240), 235, np.uint8)
    paper[60:240, 110:135] = 20  # a dark "1" on light paper
    good = tmp_path / "one.png"
    good.write_bytes(png_bytes(paper))
    chooser.set_input_files(str(good))
    wait_for_app(tab, MODEL_TIMEOUT_MS)
    image_with_caption(tab, "reconstruction (distance")
    assert tab.get_by_text("was inverted").count() >= 1, "the dark-on-light upload was not reported as inverted"
    assert_no_exception(tab, "/digit upload")
    assert not tab.browser_errors, f"JavaScript errors in the page: {tab.browser_errors}"
    screenshot(tab, "digit_upload")
