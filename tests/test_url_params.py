"""Every page's URL parameters, fuzzed: a malformed value never breaks the page.

A bad value (a malformed number, an unknown model, a run id with a slash) falls back to the
page's default with exactly one notice that names the control; a good one gives no notice.
The pages run over two untrained tiny models and one run with a snapshot, so each AppTest
run takes a second or two; hypothesis draws a few queries per page with a fixed seed.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import streamlit as st
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as strategies
from streamlit.testing.v1 import AppTest

from aigc_core.runs.store import PROJECT_ROOT, RunStore
from test_twin_and_share import export_tiny_models
from ui import share

APP = str(PROJECT_ROOT / "app.py")
MAX_SEED = 2**31 - 1
# The examples and their relatives: each one passed `isdigit()` or broke `int()` once.
MALFORMED_NUMBERS = ["--5", "\u00b2", "\u0663", "+5", " 5", "5 ", "5\n", "1e3", "0x10", "-1", "2147483648",
                     "9" * 5000, "\u00bd", "5.0", "\x00"]
HOSTILE_TEXT = ["../../etc", "weights:", "run:../x", "[x](http://example.com)", "<b>x</b>", "\x00", "a" * 3000]
FUZZ = settings(derandomize=True, max_examples=6, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def number_values():
    return strategies.one_of(strategies.sampled_from(MALFORMED_NUMBERS),
                             strategies.integers(0, MAX_SEED).map(str),
                             strategies.text(max_size=8))


def choice_values(options):
    return strategies.one_of(strategies.sampled_from(list(options)),
                             strategies.sampled_from(HOSTILE_TEXT),
                             strategies.text(max_size=12))


def queries(numbers=(), choices=None):
    """Dictionaries of some of the page's parameters, each present or not."""
    fields = {name: number_values() for name in numbers}
    fields.update({name: choice_values(options) for name, options in (choices or {}).items()})
    return strategies.fixed_dictionaries({}, optional=fields)


def is_good_number(value: str) -> bool:
    return re.fullmatch(r"[0-9]+", value) is not None and int(value) <= MAX_SEED


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    return folder, export_tiny_models(folder)


@pytest.fixture
def pages(tiny_weights, monkeypatch, runs_dir):
    """Tiny models, one finished run with a snapshot, no workers; yields (gan key, vae key, run id)."""
    folder, (gan_key, vae_key) = tiny_weights
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(folder))
    monkeypatch.setattr("aigc_core.runs.worker.spawn_worker", lambda run, *args: None)
    run = RunStore().create({"model": "gan", "preset": "fast"})
    np.save(run.samples_dir / "step_0000000.npy", np.zeros((16, 28, 28), dtype=np.float32))
    run.update_status(state="finished")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield gan_key, vae_key, run.run_id
    st.cache_resource.clear()
    st.cache_data.clear()


def open_with(page: str, query: dict) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update(query)
    app.switch_page(page).run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def notices(app: AppTest) -> list[str]:
    return [item.value for item in app.info if item.value.startswith("This link's ")]


def check_notices(app: AppTest, query: dict, good: dict) -> None:
    """One notice per parameter whose value is not good (an empty value counts as absent), none else."""
    bad = [name for name, value in query.items() if value and not good[name](value)]
    shown = notices(app)
    for name in bad:
        assert any(text.startswith(f"This link's {share.PARAM_LABELS[name]} is not") for text in shown), (name, shown)
    assert len(shown) == len(bad), (query, shown)
    assert not app.error


# -- the parser ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text", MALFORMED_NUMBERS)
def test_malformed_numbers_are_refused(text):
    assert share.parse_int(text, 0, MAX_SEED) is None


@settings(derandomize=True, max_examples=100)
@given(strategies.text())
def test_parse_int_never_raises_and_stays_in_range(text):
    number = share.parse_int(text, 0, 1000)
    assert number is None or 0 <= number <= 1000


@settings(derandomize=True, max_examples=100)
@given(strategies.integers(-10**6, 10**6))
def test_parse_int_reads_every_plain_number_in_range(number):
    assert share.parse_int(str(number), -500, 500) == (number if -500 <= number <= 500 else None)


# -- the links of the issue, then every page fuzzed ------------------------------------------------
@pytest.mark.parametrize("page, query, param", [
    ("pages/home.py", {"seed": "--5"}, "seed"),
    ("pages/home.py", {"seed": "\u00b2"}, "seed"),
    ("pages/compare.py", {"seed": "--5"}, "seed"),
    ("pages/latent.py", {"source": "weights:tiny-gan", "seed_a": "--5"}, "seed_a"),
])
def test_the_reported_links_open_the_page_with_one_notice(pages, page, query, param):
    app = open_with(page, query)
    assert notices(app) == [f"This link's {share.PARAM_LABELS[param]} is not a whole number from 0 to 2,147,483,647, "
                            "so the default is shown."]
    assert not app.error


@FUZZ
@given(data=strategies.data())
def test_home_and_presentation_parameters(pages, data):
    query = data.draw(queries(["seed"], {"present": ["1", "0", "true", "off", "yes"]}))
    app = open_with("pages/home.py", query)
    check_notices(app, query, {"seed": is_good_number,
                               "present": lambda value: value.lower() in share.TRUE_VALUES + share.FALSE_VALUES})
    seed = query.get("seed", "")
    assert app.number_input(key="home_seed").value == (int(seed) if is_good_number(seed) else 0)


@FUZZ
@given(data=strategies.data())
def test_compare_parameters(pages, data):
    gan_key, vae_key, run_id = pages
    keys = [gan_key, vae_key]
    query = data.draw(queries(["seed"], {"left": keys, "right": keys, "timeline": [run_id]}))
    app = open_with("pages/compare.py", query)
    check_notices(app, query, {"seed": is_good_number, "left": keys.__contains__, "right": keys.__contains__,
                               "timeline": [run_id].__contains__})
    assert app.selectbox(key="compare_left").value == (query["left"] if query.get("left") in keys else gan_key)


@FUZZ
@given(data=strategies.data())
def test_latent_parameters(pages, data):
    gan_key, _, _ = pages  # the VAE's latent map encodes the test set: too slow for a fuzz
    query = data.draw(queries(["seed_a", "seed_b"], {"source": [gan_key], "method": ["linear", "spherical"]}))
    app = open_with("pages/latent.py", query)
    check_notices(app, query, {"seed_a": is_good_number, "seed_b": is_good_number, "source": [gan_key].__contains__,
                               "method": ["linear", "spherical"].__contains__})


@FUZZ
@given(data=strategies.data())
def test_digit_and_runs_parameters(pages, data):
    gan_key, vae_key, run_id = pages
    digit_query = data.draw(queries(choices={"vae": [vae_key], "gan": [gan_key]}))
    check_notices(open_with("pages/digit.py", digit_query), digit_query,
                  {"vae": [vae_key].__contains__, "gan": [gan_key].__contains__})
    runs_query = data.draw(queries(choices={"run": [run_id]}))
    check_notices(open_with("pages/runs.py", runs_query), runs_query, {"run": [run_id].__contains__})


@FUZZ
@given(data=strategies.data())
def test_train_parameters_never_break_the_page(pages, data):
    _, _, run_id = pages
    query = data.draw(queries(choices={"run": [run_id], "twin": ["x,y"]}))
    app = open_with("pages/train.py", query)
    if query.get("run") and query["run"] != run_id and not query.get("twin"):
        assert len(app.error) == 1  # the Train page names a run it cannot show in one error line
