"""The live view of a run fits one screen, in a real browser (issue #14, defect 6).

A class watches a run on one screen: progress with its controls, the loss chart, the latest
samples, the quality numbers and the current diagnosis must all be visible at once, without
scrolling, on a 1400x900 laptop and on a 1920x1080 projector in presentation mode; nothing may
stick out of its column, a chart's diagnosis label must stay inside its chart, and on the
projector no text of the live view is under 18 px.

The run is a demo-pack recording written instantly into the server's runs folder and shown
paused at step 300 (its tallest state: a paused notice and the Resume/Step/Speed controls), owned
by the test's browser so that the controls are drawn. Screenshots go to
test-artifacts/screenshots/live_layout_*.png.
"""

from __future__ import annotations

import dataclasses

import pytest

from aigc_core.runs import replay
from aigc_core.runs.ownership import visitor as owner_of
from aigc_core.runs.run_control import request_pause
from aigc_core.runs.store import RunStore, own_process_identity
from browser_support import SCREENSHOTS_DIR, assert_no_exception, keyed, open_page, wait_for_app

pytestmark = pytest.mark.browser

TIMEOUT_MS = 120_000
SHOWN_STEP = 300
SMALLEST_READABLE_PX = 18
# The parts of the live run a class must see at once, by the keys of their containers.
LIVE_PARTS = ("live_progress", "live_controls", "live_loss_chart", "live_samples", "live_quality",
              "live_diagnosis")

# Every visible element of the live view wider than the column (or the view) that holds it.
OVERFLOW_SCRIPT = """(viewKey) => {
  const view = document.querySelector(`.st-key-${viewKey}`);
  const wide = [];
  for (const element of view.querySelectorAll('*')) {
    if (!element.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    // Inside a chart only its drawing surfaces count: plotly's drag handles reach past the plot on purpose.
    if (element.closest('.js-plotly-plot') && !element.matches('svg.main-svg')) continue;
    // A progress bar's fill slides inside its clipped track.
    if (element.closest('[role="progressbar"]')) continue;
    const box = element.getBoundingClientRect();
    if (box.width < 1 || box.height < 1) continue;
    const holder = element.parentElement.closest('[data-testid="stColumn"]') || view;
    const room = holder.getBoundingClientRect();
    if (box.left < room.left - 1 || box.right > room.right + 1) {
      wide.push(`${element.tagName}[${element.closest('[data-testid]')?.dataset.testid}] "${element.textContent.slice(0, 30)}" `
                + `${Math.round(box.left)}..${Math.round(box.right)} in ${Math.round(room.left)}..${Math.round(room.right)}`);
    }
  }
  return wide;
}"""

# Each chart label (a plotly annotation: panel titles, diagnosis markers) that leaves its chart.
CUT_LABELS_SCRIPT = """(viewKey) => {
  const cut = [];
  for (const chart of document.querySelectorAll(`.st-key-${viewKey} .js-plotly-plot`)) {
    const room = chart.getBoundingClientRect();
    for (const label of chart.querySelectorAll('g.annotation')) {
      const box = label.getBoundingClientRect();
      if (box.width < 1) continue;
      if (box.left < room.left - 1 || box.right > room.right + 1 || box.top < room.top - 1
          || box.bottom > room.bottom + 1) {
        cut.push(`"${label.textContent.slice(0, 40)}" ${Math.round(box.left)}..${Math.round(box.right)} `
                 + `in ${Math.round(room.left)}..${Math.round(room.right)}`);
      }
    }
  }
  return cut;
}"""

# Visible text of the live view (HTML and the charts' SVG text) under `limit` px, as "size TAG text".
SMALL_TEXT_SCRIPT = """([viewKey, limit]) => {
  const small = [];
  for (const element of document.querySelectorAll(`.st-key-${viewKey} *`)) {
    const field = element.tagName === 'INPUT' && !['checkbox', 'radio'].includes(element.type);
    const ownText = [...element.childNodes].some(
      node => node.nodeType === 3 && node.textContent.replace(/[\\s\\u200b]/g, '').length);
    if (!field && !ownText) continue;
    if (!element.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    const box = element.getBoundingClientRect();
    if (box.width < 1 || box.height < 1) continue;
    const size = parseFloat(getComputedStyle(element).fontSize);
    if (size < limit) small.push(`${size}px ${element.tagName} "${(element.value || element.textContent).trim().slice(0, 40)}"`);
  }
  return small;
}"""


# Scroll the live view's top just under Streamlit's header bar (which covers the window's top);
# returns the bar's height, the first pixel row a reader sees.
SCROLL_TO_VIEW_SCRIPT = """(viewKey) => {
  const view = document.querySelector(`.st-key-${viewKey}`);
  view.scrollIntoView({block: 'start'});
  const header = document.querySelector('[data-testid="stHeader"]');
  const covered = header ? Math.max(0, header.getBoundingClientRect().bottom) : 0;
  let scroller = view.parentElement;
  while (scroller && !(scroller.scrollHeight > scroller.clientHeight
                       && ['auto', 'scroll'].includes(getComputedStyle(scroller).overflowY))) {
    scroller = scroller.parentElement;
  }
  if (scroller) scroller.scrollTop -= covered;
  return covered;
}"""


@pytest.fixture(scope="module")
def server(shipped_weights_server):
    return shipped_weights_server


def paused_replay_owned_by(page, server, name: str):
    """A recording written up to `SHOWN_STEP` into the server's runs folder, shown as a running run
    paused there, owned by `page`'s browser. The test process stands in for its worker (its pid is
    the run's), so the app sees a live run; the caller ends it."""
    from ui.visitor import identity_from_cookie

    open_page(page, server, "train")  # the server sets the browser's identity cookie on the first load
    cookie = next(item["value"] for item in page.context.cookies() if item["name"] == "_streamlit_xsrf")
    store = RunStore(server.runs_dir)
    recording = replay.load_recording(name)
    shown = [index for index, step in enumerate(recording.snapshot_steps) if step <= SHOWN_STEP]
    recording = dataclasses.replace(
        recording,
        metrics=[row for row in recording.metrics if row["step"] <= SHOWN_STEP],
        quality=[row for row in recording.quality if row["step"] <= SHOWN_STEP],
        kl=[row for row in recording.kl if row["step"] <= SHOWN_STEP],
        snapshot_steps=recording.snapshot_steps[shown], snapshots=recording.snapshots[shown])
    run = store.create(recording.config, run_id=store.new_run_id(f"replay-{recording.family}"))
    now = [0.0]
    replay.replay_into(run, recording, 1.0, sleep=lambda seconds: now.__setitem__(0, now[0] + seconds),
                       clock=lambda: now[0])
    request_pause(run)
    run.update_status(state="running", paused=True, step=SHOWN_STEP, total_steps=recording.config["steps"],
                      eta_s=None, owner=owner_of(identity_from_cookie(cookie), store).owner,
                      replay={"name": name, "title": recording.title, "speed": 1.0}, **own_process_identity())
    return run


def show_live_view(page, server, run, query: str = "") -> float:
    """Open the run's live view and scroll its header just under Streamlit's top bar; returns the
    height that bar covers at the top of the window."""
    open_page(page, server, f"train?run={run.run_id}{query}")
    for part in LIVE_PARTS:
        page.locator(keyed(part)).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    wait_for_app(page, TIMEOUT_MS)
    assert_no_exception(page, f"/train?run={run.run_id}{query}")
    # The page's title and the folded settings may sit above: scroll the view's header to the top.
    covered = page.evaluate(SCROLL_TO_VIEW_SCRIPT, "live_view")
    page.wait_for_timeout(300)
    return covered


def assert_live_run_on_one_screen(page, viewport: dict, covered: float) -> None:
    """Every part of the live run between Streamlit's top bar and the window's bottom edge, the
    view's header included; nothing wider than its column; no chart label past its chart's edge."""
    parts = ("live_view", *LIVE_PARTS)
    boxes = {part: page.locator(keyed(part)).first.bounding_box() for part in parts}
    for part, box in boxes.items():
        assert box is not None and box["height"] > 0, f"{part} is not shown"
        if part != "live_view":  # the view's own box ends after its expander of details
            assert covered - 1 <= box["y"] and box["y"] + box["height"] <= viewport["height"] + 1, \
                f"{part} spans {box['y']:.0f}..{box['y'] + box['height']:.0f}, outside {covered:.0f}..{viewport['height']}"
    top = boxes["live_view"]["y"]
    bottom = max(box["y"] + box["height"] for part, box in boxes.items() if part != "live_view")
    assert top >= covered - 1 and bottom - top <= viewport["height"] - covered, \
        f"the live run is {bottom - top:.0f} px tall from its header, on a {viewport['height'] - covered:.0f} px screen"
    wide = page.evaluate(OVERFLOW_SCRIPT, "live_view")
    assert not wide, f"elements wider than their column: {wide[:10]}"
    cut = page.evaluate(CUT_LABELS_SCRIPT, "live_view")
    assert not cut, f"chart labels cut off at the chart's edge: {cut}"


@pytest.mark.parametrize("name", ["broken-vae-beta-20", "broken-gan-discriminator-10x-faster"])
def test_a_paused_run_fits_a_1400x900_laptop_screen(visitor_window, server, name):
    viewport = {"width": 1400, "height": 900}
    page = visitor_window(viewport)
    run = paused_replay_owned_by(page, server, name)
    try:
        covered = show_live_view(page, server, run)
        assert page.locator(keyed("train_continue")).first.is_visible(), "no Resume control on a paused run"
        page.screenshot(path=str(SCREENSHOTS_DIR / f"live_layout_1400x900_{name}.png"))
        assert_live_run_on_one_screen(page, viewport, covered)
    finally:
        run.update_status(state="stopped", paused=False)


def test_a_paused_run_fits_a_1920x1080_projector_and_reads_from_the_back(visitor_window, server):
    viewport = {"width": 1920, "height": 1080}
    page = visitor_window(viewport)
    run = paused_replay_owned_by(page, server, "broken-vae-beta-20")
    try:
        covered = show_live_view(page, server, run, "&present=1")
        assert page.locator(f"{keyed('presentation_mode')} input").is_checked()
        page.screenshot(path=str(SCREENSHOTS_DIR / "live_layout_1920x1080_present.png"))
        assert_live_run_on_one_screen(page, viewport, covered)
        small = page.evaluate(SMALL_TEXT_SCRIPT, ["live_view", SMALLEST_READABLE_PX])
        assert not small, f"live-view text under {SMALLEST_READABLE_PX} px in presentation mode: {small[:15]}"
    finally:
        run.update_status(state="stopped", paused=False)
