"""The app in front of a class, in a real browser: presentation mode keeps every page usable and
legible, the Conditional page's tables fit their columns, and Home's first screen shows digits
and where to start.

Sizes are measured the way a viewer meets them: computed font sizes of visible text and fields,
bounding boxes at the window sizes a classroom uses (a 1920x1080 projector, a 1400x900 or
1280-wide laptop). The shipped weights are the models (no training here). Screenshots of the
first screen of each view go to test-artifacts/screenshots/classroom_*.png.
"""

from __future__ import annotations

import pytest

from browser_support import SCREENSHOTS_DIR, assert_no_exception, keyed, open_page, wait_for_app

pytestmark = pytest.mark.browser

TIMEOUT_MS = 120_000
PROJECTOR = {"width": 1920, "height": 1080}
LAPTOP = {"width": 1400, "height": 900}
# Nothing a class must read may be smaller than this on a 1920x1080 projector.
SMALLEST_READABLE_PX = 18
# Streamlit's own sidebar is 300 px wide (more than the page's columns need on a projector).
NARROW_SIDEBAR_PX = 280

# Every visible element that shows text of its own, or a text field, as "size px TAG text".
# KaTeX's MathML copy is for screen readers (clipped away); checkboxes and radios show no text.
SMALL_TEXT_SCRIPT = """(limit) => {
  const small = [];
  for (const root of document.querySelectorAll('[data-testid="stMain"], [data-testid="stSidebar"]')) {
    for (const element of root.querySelectorAll('*')) {
      if (element.closest('.katex-mathml')) continue;
      const field = (element.tagName === 'INPUT' && !['checkbox', 'radio'].includes(element.type))
                    || element.tagName === 'TEXTAREA';
      const ownText = [...element.childNodes].some(
        node => node.nodeType === 3 && node.textContent.replace(/[\\s\\u200b]/g, '').length);
      if (!field && !ownText) continue;
      if (!element.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
      const box = element.getBoundingClientRect();
      if (box.width < 1 || box.height < 1) continue;
      const size = parseFloat(getComputedStyle(element).fontSize);
      if (size < limit) {
        small.push(`${size}px ${element.tagName} "${(element.value || element.textContent).trim().slice(0, 40)}"`);
      }
    }
  }
  return small;
}"""

# Each table's box and the box of the page column it sits in.
TABLE_BOXES_SCRIPT = """() => [...document.querySelectorAll('[data-testid="stMain"] table')].map(table => {
  const column = table.closest('[data-testid="stColumn"]');
  const box = element => { const r = element.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {table: box(table), column: column ? box(column) : null};
})"""


@pytest.fixture(scope="module")
def server(shipped_weights_server):
    return shipped_weights_server


def first_screen(page, name: str) -> None:
    """What the window shows without scrolling, for a person to look at."""
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS_DIR / f"classroom_{name}.png"))


def test_presentation_train_page_keeps_start_and_settings_and_is_legible(visitor_window, server):
    page = visitor_window(PROJECTOR)
    open_page(page, server, "train?present=1")
    assert page.locator(f"{keyed('presentation_mode')} input").is_checked()
    assert_no_exception(page, "/train?present=1")
    start = page.locator(f"{keyed('train_start')} button")
    assert start.is_visible(), "no Start button in presentation mode: nothing to do on the page"
    for key in ("train_model", "train_preset", "train_steps", "train_seed"):
        assert page.locator(keyed(key)).is_visible(), f"setting {key} hidden in presentation mode"
    assert start.bounding_box()["height"] >= 48, "the main action must be a large control"
    first_screen(page, "train_presentation_1920")

    small = page.evaluate(SMALL_TEXT_SCRIPT, SMALLEST_READABLE_PX)
    assert not small, f"text under {SMALLEST_READABLE_PX} px in presentation mode: {small[:15]}"
    sidebar = page.locator("[data-testid='stSidebar']").bounding_box()
    assert sidebar is None or sidebar["width"] <= NARROW_SIDEBAR_PX, f"sidebar {sidebar['width']:.0f} px wide"


@pytest.mark.parametrize("width", [1400, 1280])
def test_conditional_tables_stay_inside_their_columns(visitor_window, server, width):
    page = visitor_window({"width": width, "height": 900})
    open_page(page, server, "conditional")
    page.locator("[data-testid='stMain'] table").nth(1).wait_for(timeout=TIMEOUT_MS)  # the classifier's verdicts
    wait_for_app(page, TIMEOUT_MS)
    assert_no_exception(page, "/conditional")
    boxes = page.evaluate(TABLE_BOXES_SCRIPT)
    assert len(boxes) == 3, boxes  # the shipped conditional GAN, VAE and diffusion model
    for found in boxes:
        left, top, right, bottom = found["table"]
        assert found["column"] is not None, "an agreement table outside the model columns"
        column_left, _, column_right, _ = found["column"]
        assert column_left - 1 <= left and right <= column_right + 1, f"table {found['table']} overflows {found['column']}"
    tables = sorted(box["table"] for box in boxes)
    for first, second in zip(tables, tables[1:]):
        assert first[2] <= second[0] or first[3] <= second[1], f"two tables overlap: {first} and {second}"
    page.locator("[data-testid='stMain'] table").first.scroll_into_view_if_needed()
    first_screen(page, f"conditional_tables_{width}")


def test_home_first_screen_shows_both_families_and_the_next_step(visitor_window, server):
    page = visitor_window(LAPTOP)
    open_page(page, server, "")
    assert_no_exception(page, "/")
    fold = LAPTOP["height"]
    images = page.locator("[data-testid='stMain'] [data-testid='stImage'] img")
    above_fold = [box for box in (images.nth(index).bounding_box() for index in range(images.count()))
                  if box and box["y"] + box["height"] <= fold]
    assert len(above_fold) >= 2, f"{len(above_fold)} sample grids on the first screen"
    captions = " ".join(page.locator("[data-testid='stImageCaption']").all_inner_texts()[:2])
    assert "GAN" in captions and "VAE" in captions, captions
    start_here = page.get_by_role("button", name="Train a GAN now")
    box = start_here.bounding_box()
    assert box is not None and box["y"] + box["height"] <= fold, f"'Train a GAN now' below the first screen: {box}"
    first_screen(page, "home_1400x900")

    start_here.click()
    page.wait_for_url("**/train", timeout=TIMEOUT_MS)
    wait_for_app(page, TIMEOUT_MS)
    assert page.locator(f"{keyed('train_start')} button").is_visible()
    assert page.locator(f"{keyed('train_model')} input[type='radio']").first.is_checked(), "GAN is not the chosen model"
