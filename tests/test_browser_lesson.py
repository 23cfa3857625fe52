"""A whole lesson in a real browser, as a teacher gives it: Home, start the lesson, train a GAN,
pause it, step it, resume it, break it, compare, switch to Chinese and back, presentation mode
on a 1920x1080 projector, and a shared link that reopens the same lesson step.

One server and one Chromium for the module; the run trains for real (a few hundred steps of
the fast GAN, stopped once resumed). The break-it step replays its recording from the demo
pack, which shows the failure in seconds. Every step leaves a screenshot,
test-artifacts/screenshots/lesson_NN_*.png, for a person to look at.
"""

from __future__ import annotations

import re
import time

import pytest

from browser_support import (ARTIFACTS_DIR, SCREENSHOTS_DIR, assert_no_exception, keyed, new_tab,
                             open_page, serve_app, set_number, wait_for_app)

pytestmark = pytest.mark.browser

TIMEOUT_MS = 120_000
LAPTOP = {"width": 1400, "height": 900}
PROJECTOR = {"width": 1920, "height": 1080}
RUN_ID = re.compile(r"[?&]run=([^&#]+)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_app(tmp_path_factory.mktemp("lesson-runs"), "streamlit-lesson.log",
                         records_dir=ARTIFACTS_DIR / "lesson-runs")


@pytest.fixture(scope="module")
def browser(server, shared_chromium):
    """The session's Chromium: Playwright's sync API allows one running instance per process."""
    return shared_chromium


def shot(page, name: str) -> None:
    """What the class sees: the window as it is (not the full page), saved for a person to check."""
    page.screenshot(path=str(SCREENSHOTS_DIR / f"lesson_{name}.png"))


def click(page, key: str) -> None:
    page.locator(f"{keyed(key)} button").first.click()
    wait_for_app(page)


def panel_text(page) -> str:
    panel = page.locator(keyed("lesson_panel"))
    return panel.inner_text() if panel.count() else ""


def progress(page) -> int:
    for text in page.locator("[data-testid='stProgress']").all_inner_texts():
        found = re.search(r"(\d[\d,]*)\s*/", text) or re.search(r"step (\d+)", text)
        if found:
            return int(found.group(1).replace(",", ""))
    return -1


def wait_until(page, predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        if time.monotonic() > deadline:
            shot(page, "timeout")
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.5)
    return value


def choose(page, key: str, label: str) -> None:
    """Pick `label` in a keyed selectbox (a combobox in Streamlit 1.67), then wait for the rerun."""
    page.locator(f"{keyed(key)} [role='combobox']").click()
    page.get_by_role("option", name=label, exact=True).click()
    wait_for_app(page)


def choose_language(page, label: str) -> None:
    choose(page, "language", label)


def test_a_whole_lesson_in_the_browser(browser, server):
    context = browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(TIMEOUT_MS)
    page = new_tab(context)

    # 1. Home, then the lesson's first steps.
    open_page(page, server, "")
    assert_no_exception(page, "home")
    shot(page, "01_home")
    click(page, "lesson_start")
    assert "Lesson, step 1 of" in panel_text(page)
    assert "lesson=1" in page.url
    shot(page, "02_lesson_started")
    click(page, "lesson_next")
    click(page, "lesson_next")
    wait_until(page, lambda: "/train" in page.url and "step 3 of" in panel_text(page), 30, "lesson step 3 on Train")
    shot(page, "03_train_step")

    # 2. Train a GAN live: pause, step, resume, stop.
    page.locator(keyed("train_model")).get_by_text("GAN", exact=True).click()
    wait_for_app(page)
    set_number(page, "train_steps", 400)
    click(page, "train_start")
    run_id = wait_until(page, lambda: RUN_ID.search(page.url), 30, "the run's id in the URL").group(1)
    wait_until(page, lambda: progress(page) >= 5, 120, "the first training steps")
    click(page, "train_pause")
    wait_until(page, lambda: "Paused at step" in page.locator("[data-testid='stMain']").inner_text(), 60, "the pause")
    held = progress(page)
    time.sleep(3)
    assert progress(page) == held, "a paused run went on training"
    shot(page, "04_paused")
    click(page, "train_step")  # 10 steps, then paused again
    wait_until(page, lambda: progress(page) == held + 10 and "Paused at step" in
               page.locator("[data-testid='stMain']").inner_text(), 60, f"step {held + 10} and a pause")
    narration = page.locator("[data-testid='stMain'] [data-testid='stAlert']").all_inner_texts()
    assert any("Paused" in text for text in narration), narration
    shot(page, "05_stepped")
    click(page, "train_continue")
    wait_until(page, lambda: progress(page) > held + 10, 60, "training to go on after Resume")
    click(page, "train_stop")
    shot(page, "06_resumed_and_stopped")

    # 3. Break it: the lesson's next step opens Train with the preset; its recording shows the failure.
    click(page, "lesson_next")
    wait_until(page, lambda: "step 4 of" in panel_text(page), 30, "lesson step 4")
    assert page.locator(f"{keyed('train_d_lr')} input").input_value() == "0.00200"  # the preset's setting
    assert "Watch for" in page.locator("[data-testid='stMain']").inner_text()
    if not page.locator(keyed("train_replay_choice")).is_visible():
        page.locator("[data-testid='stExpander']").filter(has_text="Replay a recorded run").locator("summary").click()
        wait_for_app(page)
    choose(page, "train_replay_choice", "GAN: discriminator 10x faster")
    click(page, "train_replay")
    wait_until(page, lambda: "discriminator is winning" in page.locator("[data-testid='stMain']").inner_text().lower(),
               90, "the diagnosis of the replayed failure")
    assert RUN_ID.search(page.url).group(1) != run_id
    shot(page, "07_broken_replayed")

    # 4. Compare, then Chinese and back.
    page.goto(f"{server.url}/compare?lesson=9", wait_until="domcontentloaded")
    wait_for_app(page)
    assert "step 9 of" in panel_text(page)
    assert_no_exception(page, "compare")
    shot(page, "08_compare")
    choose_language(page, "简体中文")
    assert "课程 第 9 步" in panel_text(page)
    assert "对比" in page.locator("[data-testid='stSidebarNav']").inner_text()
    shot(page, "09_chinese")
    choose_language(page, "English")
    assert "Lesson, step 9 of" in panel_text(page)

    # 5. Presentation mode on a projector, and a shared link that reopens the same view.
    page.set_viewport_size(PROJECTOR)
    page.locator(f"{keyed('presentation_mode')} label").click()
    wait_for_app(page)
    wait_until(page, lambda: "present=1" in page.url and "lesson=9" in page.url, 20, "the link to carry the view")
    shot(page, "10_presentation")
    link = page.url
    context.close()

    shared = browser.new_context(viewport=PROJECTOR)
    shared.set_default_timeout(TIMEOUT_MS)
    student = new_tab(shared)
    student.goto(link, wait_until="domcontentloaded")
    wait_for_app(student)
    assert "Lesson, step 9 of" in panel_text(student)
    assert student.locator(f"{keyed('presentation_mode')} input").is_checked()
    assert_no_exception(student, "shared link")
    shot(student, "11_shared_link")
    shared.close()
