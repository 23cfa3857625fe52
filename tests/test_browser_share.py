"""Shareable links and presentation mode in a real browser.

A link copied from the address bar, opened in a fresh browser context (no cookies, a new
Streamlit session: what a colleague gets), must show the same view: the same models, seed and
method, and the very same sample pixels. Presentation mode must keep the settings panels (a page
without them has nothing left to do) and draw text and figures larger, whether switched on in the sidebar or by `?present=1` in a link.
The shipped weights are the models (no training here). Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import io
import time
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from PIL import Image

from browser_support import (assert_no_exception, choose_radio, image_bytes, keyed,
    new_context, new_tab, open_page, screenshot, set_number, wait_for_app)

pytestmark = pytest.mark.browser

TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def server(shipped_weights_server):
    return shipped_weights_server


@pytest.fixture(scope="module")
def browser(shared_chromium):
    return shared_chromium


@pytest.fixture
def new_visitor(browser):
    """Pages in fresh browser contexts: each one a new visitor with a new Streamlit session."""
    contexts = []

    def open_context():
        contexts.append(new_context(browser, TIMEOUT_MS))
        return new_tab(contexts[-1])

    yield open_context
    for context in contexts:
        context.close()


# -- helpers ------------------------------------------------------------------------------------
def choose_option(page, key: str, label: str) -> None:
    """Pick `label` in the keyed selectbox (a combobox in Streamlit 1.67), then wait for the rerun."""
    page.locator(f"{keyed(key)} [role='combobox']").click()
    page.get_by_role("option", name=label, exact=True).click(timeout=15_000)
    wait_for_app(page, TIMEOUT_MS)
    assert selectbox_text(page, key) == label, f"{key} shows {selectbox_text(page, key)!r}, expected {label!r}"


def query(page) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(urlparse(page.url).query).items()}


def link_once_published(page, expected: dict[str, str]) -> str:
    """The page's URL once it carries `expected`: the app publishes its query parameters while
    the script runs, so the address bar can lag the widgets (on a busy machine, long enough for
    a copied link to miss the last change)."""
    page.wait_for_url(lambda url: expected.items() <= {name: values[-1] for name, values in
                                                       parse_qs(urlparse(url).query).items()}.items(),
                      timeout=TIMEOUT_MS)
    return page.url


def assert_input_shows(page, key: str, value: str) -> None:
    """A keyed number input shows `value`, waiting while the page settles (a busy machine draws
    the widgets of a first visit over several frames); a wrong value still fails after TIMEOUT_MS."""
    from playwright.sync_api import expect

    expect(page.locator(f"{keyed(key)} input")).to_have_value(value, timeout=TIMEOUT_MS)


def images_with_caption(page, text: str):
    return page.locator("[data-testid='stImage']").filter(
        has=page.locator("[data-testid='stImageCaption']", has_text=text))


def pixels(page, server, figure) -> np.ndarray:
    """The pixels of the `<img>` inside an image element, as the browser fetched them."""
    data = image_bytes(page, server, figure.locator("img"))
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def selectbox_text(page, key: str) -> str:
    """What a keyed selectbox shows: the value of its combobox input."""
    return page.locator(f"{keyed(key)} [role='combobox']").input_value()


# -- shareable links ------------------------------------------------------------------------------
def test_compare_link_reopens_the_same_models_seed_and_samples(new_visitor, server):
    page = new_visitor()
    open_page(page, server, "compare")
    choose_option(page, "compare_left", "GAN · shipped: gan-fast")
    choose_option(page, "compare_right", "VAE · shipped: vae-large")
    set_number(page, "compare_seed", 7)
    images_with_caption(page, "samples, seed 7").nth(1).wait_for(timeout=TIMEOUT_MS)
    link = link_once_published(page, {"left": "weights:gan-fast", "right": "weights:vae-large", "seed": "7"})
    assert query(page) == {**query(page), "left": "weights:gan-fast", "right": "weights:vae-large", "seed": "7"}, link
    originals = [pixels(page, server, images_with_caption(page, "samples, seed 7").nth(index)) for index in (0, 1)]

    colleague = new_visitor()
    colleague.goto(link, wait_until="domcontentloaded")
    wait_for_app(colleague, TIMEOUT_MS)
    assert_no_exception(colleague, link)
    assert "gan-fast" in selectbox_text(colleague, "compare_left")
    assert "vae-large" in selectbox_text(colleague, "compare_right")
    assert_input_shows(colleague, "compare_seed", "7")
    grids = images_with_caption(colleague, "samples, seed 7")
    grids.nth(1).wait_for(timeout=TIMEOUT_MS)
    for index, original in enumerate(originals):
        np.testing.assert_array_equal(pixels(colleague, server, grids.nth(index)), original,
                                      err_msg=f"sample grid {index} differs when the link is reopened")
    screenshot(colleague, "share_compare_reopened")


def test_latent_link_keeps_the_model_seeds_and_method(new_visitor, server):
    page = new_visitor()
    open_page(page, server, "latent")
    choose_option(page, "latent_source", "GAN · shipped: gan-fast")
    set_number(page, "latent_seed_a", 3)
    set_number(page, "latent_seed_b", 11)
    choose_radio(page, "latent_method", "linear")
    caption = "linear interpolation from seed 3 to seed 11"
    images_with_caption(page, caption).first.wait_for(timeout=TIMEOUT_MS)
    link = link_once_published(page, {"seed_a": "3", "seed_b": "11", "method": "linear"})

    colleague = new_visitor()
    colleague.goto(link, wait_until="domcontentloaded")
    wait_for_app(colleague, TIMEOUT_MS)
    assert "gan-fast" in selectbox_text(colleague, "latent_source")
    assert_input_shows(colleague, "latent_seed_a", "3")
    assert_input_shows(colleague, "latent_seed_b", "11")
    assert colleague.locator(f"{keyed('latent_method')} input[type='radio']:checked").count() == 1
    assert images_with_caption(colleague, caption).count() == 1, f"{link} did not reopen the linear path"
    assert_no_exception(colleague, link)


def test_digit_link_keeps_the_chosen_models(new_visitor, server):
    page = new_visitor()
    open_page(page, server, "digit")
    choose_option(page, "digit_gan", "GAN · shipped: gan-paper")
    choose_option(page, "digit_vae", "VAE · shipped: vae-large")
    link = link_once_published(page, {"gan": "weights:gan-paper", "vae": "weights:vae-large"})
    assert query(page).get("gan") == "weights:gan-paper" and query(page).get("vae") == "weights:vae-large", link

    colleague = new_visitor()
    colleague.goto(link, wait_until="domcontentloaded")
    wait_for_app(colleague, TIMEOUT_MS)
    assert "gan-paper" in selectbox_text(colleague, "digit_gan")
    assert "vae-large" in selectbox_text(colleague, "digit_vae")


def test_a_link_with_unknown_values_falls_back_with_one_notice_each(new_visitor, server):
    """A bad value in a link falls back to the default and says so in one line (issue 15 point 2)."""
    page = new_visitor()
    open_page(page, server, "compare?left=run:..%2F..%2Fetc&right=weights:nope&seed=-5")
    assert_no_exception(page, "/compare with a bad link")
    notices = page.locator("[data-testid='stAlert']").all_inner_texts()
    assert len(notices) == 3 and all("so the default is shown" in notice for notice in notices), notices
    assert page.locator(f"{keyed('compare_seed')} input").input_value() == "0"
    images_with_caption(page, "samples, seed 0").nth(1).wait_for(timeout=TIMEOUT_MS)


# -- the Train form (issue 14, defect 9) -----------------------------------------------------------
def train_form(page, keys) -> dict[str, str]:
    """What each keyed control of the Train form shows: a number's text, a choice's label."""
    shown = {}
    for key in keys:
        container = page.locator(keyed(key)).first
        if container.locator("[role='combobox']").count():
            shown[key] = container.locator("[role='combobox']").input_value()
        elif container.locator("input[type='radio']").count():
            shown[key] = container.locator("label:has(input:checked)").inner_text()
        elif container.locator("input[type='range']").count():
            shown[key] = container.locator("input[type='range']").input_value()
        else:
            shown[key] = container.locator("input").input_value()
    return shown


def reopened_train_form(new_visitor, page, keys) -> dict[str, str]:
    """The form a colleague sees after opening this page's link in a fresh browser context."""
    time.sleep(1.0)  # the last rerun publishes the link while it runs
    colleague = new_visitor()
    colleague.goto(page.url, wait_until="domcontentloaded")
    wait_for_app(colleague, TIMEOUT_MS)
    assert_no_exception(colleague, page.url)
    assert not colleague.get_by_text("so the default is shown").count(), page.url
    return train_form(colleague, keys)


def test_train_link_reopens_every_field_of_the_form(new_visitor, server):
    """Change every field of the GAN form, then of the VAE form; each link reopens the same form."""
    page = new_visitor()
    open_page(page, server, "train")
    choose_option(page, "train_preset", "paper")
    choose_option(page, "train_dataset", "Fashion-MNIST clothes")
    for key, value in (("train_latent_dim", 64), ("train_g_lr", "0.00030"), ("train_d_lr", "0.00050"),
                       ("train_d_steps", 2), ("train_real_label", "0.85"), ("train_instance_noise", "0.10"),
                       ("train_instance_noise_steps", 300), ("train_batch_size", 32), ("train_seed", 17)):
        set_number(page, key, value)
    # The precision the paper preset does not get by default on this machine (a link names only
    # what differs from the defaults): float32 where this CPU computes bfloat16, else mixed bfloat16.
    from aigc_core.config import default_precision_for

    precision = "float32" if default_precision_for("gan", "paper") == "mixed_bfloat16" else "mixed_bfloat16"
    choose_option(page, "train_precision", {"float32": "float32", "mixed_bfloat16": "mixed bfloat16"}[precision])
    choose_radio(page, "train_budget_kind", "minutes")
    set_number(page, "train_minutes", "3.5")
    gan_keys = ("train_model", "train_preset", "train_dataset", "train_latent_dim", "train_g_lr", "train_d_lr",
                "train_d_steps", "train_real_label", "train_instance_noise", "train_instance_noise_steps",
                "train_batch_size", "train_budget_kind", "train_minutes", "train_seed", "train_precision")
    link_once_published(page, {"preset": "paper", "minutes": "3.5", "seed": "17", "precision": precision})
    shared = train_form(page, gan_keys)
    assert reopened_train_form(new_visitor, page, gan_keys) == shared, page.url

    choose_radio(page, "train_model", "VAE")
    choose_option(page, "train_broken", "VAE: beta = 20")
    set_number(page, "train_lr", "0.00200")
    page.locator(f"{keyed('train_beta')} input[type='range']").focus()
    page.keyboard.press("ArrowLeft")  # 20 -> 19.9: the slider keeps its range (it once fell to 0)
    wait_for_app(page, TIMEOUT_MS)
    set_number(page, "train_steps", 150)
    vae_keys = ("train_model", "train_preset", "train_broken", "train_latent_dim", "train_lr", "train_beta",
                "train_batch_size", "train_budget_kind", "train_steps", "train_seed", "train_precision")
    link_once_published(page, {"broken": "VAE: beta = 20", "beta": "19.9", "steps": "150"})
    shared = train_form(page, vae_keys)
    assert shared["train_beta"] == "19.9" and shared["train_model"] == "VAE", shared
    assert reopened_train_form(new_visitor, page, vae_keys) == shared, page.url
    screenshot(page, "share_train_form")


def test_switching_the_language_redraws_every_chosen_option_in_the_new_language(new_visitor, server):
    """A select box used to keep showing its choice in the old language until changed or reloaded."""
    page = new_visitor()
    open_page(page, server, "train")
    # The first GAN preset is gan-clusters ("clusters", 聚类), which trains in float32.
    assert (selectbox_text(page, "train_preset"), selectbox_text(page, "train_precision")) == ("clusters", "float32")
    choose_option(page, "language", "简体中文")
    assert (selectbox_text(page, "train_preset"), selectbox_text(page, "train_precision")) == ("聚类", "32 位浮点")
    choose_option(page, "language", "English")
    assert selectbox_text(page, "train_preset") == "clusters"
    assert_no_exception(page, "/train after switching the language twice")


# -- presentation mode ----------------------------------------------------------------------------
def chart_height(page, key: str) -> float:
    chart = page.locator(f"{keyed(key)} [data-testid='stPlotlyChart'], {keyed(key)}[data-testid='stPlotlyChart']")
    chart.first.locator(".main-svg").first.wait_for(timeout=TIMEOUT_MS)
    time.sleep(0.5)
    return chart.first.bounding_box()["height"]


def title_size(page) -> float:
    return page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('[data-testid=\"stMain\"] h1')).fontSize)")


def test_presentation_toggle_keeps_settings_and_enlarges_text(new_visitor, server):
    page = new_visitor()
    open_page(page, server, "train")
    settings = page.locator("[data-testid='stMain'] [data-testid='stExpander']")
    assert settings.first.is_visible(), "the Train page shows no settings panel"
    normal_title = title_size(page)

    page.locator(f"{keyed('presentation_mode')} label").click()
    wait_for_app(page, TIMEOUT_MS)
    assert query(page).get("present") == "1", page.url
    assert settings.first.is_visible(), "presentation mode hid the settings: no Start training left on the page"
    assert title_size(page) > 1.1 * normal_title, (title_size(page), normal_title)
    assert page.locator("[data-testid='stSidebar']").is_visible(), "the sidebar (and its toggle) must stay"
    screenshot(page, "presentation_train")

    page.locator(f"{keyed('presentation_mode')} label").click()
    wait_for_app(page, TIMEOUT_MS)
    assert "present" not in query(page) and settings.first.is_visible()


def test_presentation_link_enlarges_figures(new_visitor, server):
    normal = new_visitor()
    open_page(normal, server, "compare?left=weights:gan-fast&right=weights:vae-fast&seed=0")
    normal_height = chart_height(normal, "compare_loss_left")

    presenting = new_visitor()
    open_page(presenting, server, "compare?left=weights:gan-fast&right=weights:vae-fast&seed=0&present=1")
    assert presenting.locator(f"{keyed('presentation_mode')} input").is_checked()
    presented_height = chart_height(presenting, "compare_loss_left")
    assert presented_height > 1.2 * normal_height, (presented_height, normal_height)
    assert_no_exception(presenting, "/compare?present=1")
    screenshot(presenting, "presentation_compare")

    digit = new_visitor()
    open_page(digit, server, "digit?present=1")
    models = digit.locator("[data-testid='stMain'] [data-testid='stExpander']")
    assert models.first.is_visible(), "the digit page's model choice is gone: no way to pick another model"
    assert not digit.locator(keyed("digit_vae")).is_visible(), "the digit page's model choice is not folded away"
    assert digit.locator(f"{keyed('digit_canvas')} canvas").is_visible(), "presentation mode hid the canvas"
