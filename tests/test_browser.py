"""The app in a real browser: every page renders, a run trains live, stops, survives a reload.

One Streamlit server (`streamlit run app.py`) and one headless Chromium serve the whole module;
runs go into a temp folder and the server's workers are killed at the end. Screenshots of every
step land in `test-artifacts/screenshots/` for a person to look at (CI keeps them as artifacts).

Widgets are found by their keys: Streamlit gives a keyed widget's container the CSS class
`st-key-<key>` (see the widget-key contract in the issue), so the test does not depend on labels.
"""

from __future__ import annotations

import re
import time

import pytest

from browser_support import (ARTIFACTS_DIR, VIEWPORT, assert_no_exception, choose_radio, chromium_browser, keyed,
    new_context, new_tab, open_page, screenshot, serve_app, set_number, wait_for_app)

pytestmark = pytest.mark.browser

# Page name -> URL path. Home is the default page, which Streamlit serves at "/" whatever its
# url_path ("/home" answers "Page not found" and then runs the main page).
PAGES = {"home": "", "train": "train", "compare": "compare", "latent": "latent", "conditional": "conditional",
         "digit": "digit", "augment": "augment", "runs": "runs"}
TRAINING_TIMEOUT_MS = 120_000
SHORT_RUN_STEPS = 60
LONG_RUN_STEPS = 5000
RUN_ID_PATTERN = re.compile(r"[?&]run=([^&#]+)")


# --- fixtures: one server, one browser, one tab for the module -------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_app(tmp_path_factory.mktemp("browser-runs"), "streamlit-server.log",
                         records_dir=ARTIFACTS_DIR / "runs")


@pytest.fixture(scope="module")
def browser(server):
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def context(browser):
    context = new_context(browser)
    yield context
    context.close()


@pytest.fixture(scope="module")
def first_visit(server, context) -> dict:
    """The server's very first page view, a deep link to a run, as a returning user makes it.

    Done before any other page so that its result does not depend on which tests run:
    Streamlit decides on a server's first script run whether its legacy `pages/` folder mode
    is on, and keeps that for every later visitor. Opening the main page afterwards runs
    app.py, which switches such a server to the router for good, so the other tests check
    the pages rather than this one problem.
    """
    page = context.new_page()
    try:
        open_page(page, server, "train?run=20260101-000000-gan-abcdef")
        screenshot(page, "deep_link_first_visit")
        sidebar = page.locator("[data-testid='stSidebar']")
        seen = {
            "links": [text.strip() for text in sidebar.locator("[data-testid='stSidebarNavLink']").all_inner_texts()],
            "sidebar": sidebar.inner_text(),
            "alerts": page.locator("[data-testid='stAlert']").all_inner_texts(),
            "exceptions": page.locator("[data-testid='stException']").count(),
        }
        open_page(page, server, "")
        return seen
    finally:
        page.close()


@pytest.fixture(scope="module")
def tab(context, first_visit):
    page = new_tab(context)
    yield page
    page.close()


@pytest.fixture(scope="module")
def trained_runs():
    """Run ids the training flow made, shared with the Compare test."""
    return {}


# --- helpers -----------------------------------------------------------------------------------

def assert_router_ran(page, where: str) -> None:
    """The page was drawn through `app.py`: titled navigation and the shared sidebar are there.

    Without the router Streamlit lists the files (`app`, `compare`, ...) and the page misses
    the wide layout and the sidebar's device and training lines.
    """
    sidebar = page.locator("[data-testid='stSidebar']")
    links = [text.strip() for text in sidebar.locator("[data-testid='stSidebarNavLink']").all_inner_texts()]
    assert "Latent space" in " ".join(links) and "app" not in links, f"{where}: sidebar navigation is {links}"
    assert "Device:" in sidebar.inner_text(), f"{where}: the shared sidebar (app.py) was not drawn"


def start_training(page, steps: int) -> str:
    """Set the step budget, press Start, and return the run id the URL then carries."""
    previous = RUN_ID_PATTERN.search(page.url)
    choose_radio(page, "train_budget_kind", "steps")
    set_number(page, "train_steps", steps)
    start = page.locator(f"{keyed('train_start')} button")
    assert start.is_enabled(), "Start is disabled: " + page.locator("[data-testid='stAlert']").all_inner_texts().__str__()
    start.click()
    page.wait_for_url(
        lambda url: (found := RUN_ID_PATTERN.search(url)) is not None
        and (previous is None or found.group(1) != previous.group(1)),
        timeout=30_000,
    )
    return RUN_ID_PATTERN.search(page.url).group(1)


def progress_step(page) -> int:
    """The step shown by the run's progress bar text ("step N / total ..."), or -1."""
    texts = page.locator("[data-testid='stProgress']").all_inner_texts()
    for text in texts:
        found = re.search(r"step (\d+)", text)
        if found:
            return int(found.group(1))
    return -1


def wait_until(predicate, timeout_s: float, message: str, page=None):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            if page is not None:
                screenshot(page, "timeout")
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {message}")
        time.sleep(0.5)


# --- the flows ---------------------------------------------------------------------------------

def test_deep_link_on_a_fresh_server_goes_through_the_router(first_visit):
    """The first visitor after a restart may come back through a bookmarked run URL: that page
    must still be drawn by `app.py` (titled navigation, shared sidebar, one error line)."""
    assert first_visit["exceptions"] == 0, "an exception was shown on the first visit"
    assert "Latent space" in " ".join(first_visit["links"]) and "app" not in first_visit["links"], (
        f"the server's first visit, /train?run=<unknown>, ran without app.py: sidebar navigation is "
        f"{first_visit['links']} (Streamlit's legacy pages/ folder mode); see screenshots/deep_link_first_visit.png"
    )
    assert "Device:" in first_visit["sidebar"], "the shared sidebar (app.py) was not drawn on the first visit"
    assert any("Cannot show run" in text for text in first_visit["alerts"]), (
        f"no one-line error for an unknown run: {first_visit['alerts']}")


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_without_runs(tab, server, name):
    """Every page opens on an empty run store without an exception (its 'nothing yet' state)."""
    open_page(tab, server, PAGES[name])
    assert tab.locator("[data-testid='stMain'] h1").count() >= 1, f"/{name} shows no title"
    assert_no_exception(tab, f"/{name}")
    assert_router_ran(tab, f"/{name}")
    screenshot(tab, f"{name}_empty")


def test_train_gan_live_curves_and_samples(tab, server, trained_runs):
    open_page(tab, server, "train")
    choose_radio(tab, "train_model", "GAN")
    run_id = start_training(tab, SHORT_RUN_STEPS)
    trained_runs["gan"] = run_id
    # The run's generated name heads it: the Train page's first GAN is gan-clusters.
    tab.get_by_text(re.compile(r"^GAN \(clusters\) #\d+$")).first.wait_for()

    # The live view polls the run directory: curves and the snapshot grid appear while it trains.
    tab.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg", timeout=TRAINING_TIMEOUT_MS)
    tab.wait_for_selector("[data-testid='stImage'] img", timeout=TRAINING_TIMEOUT_MS)
    points = tab.locator("[data-testid='stPlotlyChart'] .scatterlayer .trace path.js-line")
    assert points.count() >= 1, "the loss chart has no line"
    wait_for_app(tab)
    assert_no_exception(tab, "/train (GAN run)")
    screenshot(tab, "train_running")


def test_train_vae_stop_and_reload(tab, context, server, trained_runs):
    open_page(tab, server, "train")
    choose_radio(tab, "train_model", "VAE")
    run_id = start_training(tab, LONG_RUN_STEPS)
    trained_runs["vae"] = run_id

    # Runs queue one at a time, so this waits for the GAN run to finish and the VAE to train a little.
    wait_until(lambda: progress_step(tab) > 0, TRAINING_TIMEOUT_MS / 1000, "the VAE run to show progress", tab)
    tab.locator(f"{keyed('train_stop')} button").click()
    stopped = tab.get_by_text(re.compile(r"Stopped at step \d+"))
    stopped.wait_for(timeout=60_000)
    wait_for_app(tab)
    assert_no_exception(tab, "/train (stopped VAE run)")
    assert tab.locator(keyed("train_stop")).count() == 0, "a stopped run still offers Stop"
    screenshot(tab, "train_stopped")

    # Closing the tab loses the session, not the run: a new tab with the URL shows it again.
    url = f"{server.url}/train?run={run_id}"
    second = context.new_page()
    try:
        open_page(second, server, f"train?run={run_id}")
        assert second.url.endswith(f"run={run_id}"), second.url
        # The run's generated name heads it: the Train page's first VAE is vae-clusters.
        second.get_by_text(re.compile(r"^VAE \(clusters\) #\d+$")).first.wait_for()
        second.get_by_text(re.compile(r"Stopped at step \d+")).wait_for()
        assert_no_exception(second, url)
        screenshot(second, "train_reloaded")
    finally:
        second.close()


def test_compare_two_grids_side_by_side(tab, server, trained_runs):
    open_page(tab, server, "compare")
    assert_no_exception(tab, "/compare")
    screenshot(tab, "compare")
    # The model cards come before the divider that opens the training timeline.
    above_timeline = """(selector) => {
        const divider = document.querySelector('[data-testid="stMain"] hr');
        return [...document.querySelectorAll('[data-testid="stMain"] ' + selector)]
            .filter(element => !divider || (element.compareDocumentPosition(divider) & Node.DOCUMENT_POSITION_FOLLOWING))
            .map(element => { const r = element.getBoundingClientRect();
                              return {x: r.x, y: r.y, width: r.width, text: element.innerText}; });
    }"""
    errors = [box["text"] for box in tab.evaluate(above_timeline, "[data-testid='stAlert']")]
    assert not errors, f"a model card shows an error instead of samples: {errors}"
    boxes = tab.evaluate(above_timeline, "[data-testid='stImage'] img")
    assert len(boxes) >= 2, f"expected two sample grids above the timeline, found {len(boxes)} images"
    left = min(box["x"] for box in boxes)
    right = max(box["x"] for box in boxes)
    assert right - left > VIEWPORT["width"] / 4, f"the grids are not side by side: {boxes}"


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_with_runs(tab, server, trained_runs, name):
    """Every page again, now with a finished GAN run and a stopped VAE run in the store."""
    if not trained_runs:
        pytest.skip("the training flows did not run")
    earlier_errors = len(tab.browser_errors)  # each page answers for its own errors only
    open_page(tab, server, PAGES[name])
    assert_no_exception(tab, f"/{name}")
    assert_router_ran(tab, f"/{name}")
    screenshot(tab, name)
    new_errors = tab.browser_errors[earlier_errors:]
    assert not new_errors, f"JavaScript errors in the page: {new_errors}"


def test_server_log_has_no_errors(server):
    """What the visitor does not see: uncaught errors and half-loaded models in the server log."""
    log = server.log_tail(characters=2_000_000)
    problems = [line for line in log.splitlines()
                if "Traceback" in line or "Uncaught app" in line or "Skipping nested container" in line]
    assert not problems, (f"{len(problems)} problem line(s) in test-artifacts/streamlit-server.log, first: "
                          f"{problems[0][:400]}")
