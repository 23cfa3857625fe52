"""Lesson mode: the narration follows a run's own metrics, and the prepared steps open real pages."""

from __future__ import annotations

import re

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from aigc_core.quality.diagnosis import BROKEN_PRESETS, Finding
from aigc_core.quality.narration import (DIFFUSION_MOMENTS, END_MOMENTS, FAILURE_MOMENTS, GAN_MOMENTS, VAE_MOMENTS,
                                 training_moment)
from aigc_core.runs.store import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")


def gan_row(step, d_real, d_fake, d_loss=0.6, g_loss=1.0):
    return {"step": step, "d_real": d_real, "d_fake": d_fake, "d_loss": d_loss, "g_loss": g_loss}


def test_a_healthy_gan_run_is_told_in_order():
    rows = [gan_row(10, 0.9, 0.1)]
    assert training_moment("gan", "running", []) == "gan_waiting"
    assert training_moment("gan", "running", rows, total_steps=1000) == "gan_noise"
    rows.append(gan_row(20, 0.95, 0.05))
    assert training_moment("gan", "running", rows, total_steps=1000) == "gan_discriminator_leads"
    rows.append(gan_row(30, 0.7, 0.45))
    assert training_moment("gan", "running", rows, total_steps=1000) == "gan_generator_catches_up"
    quality = [{"step": 30, "inception_score": 3.1}]
    assert training_moment("gan", "running", rows, quality, total_steps=1000) == "gan_strokes"
    quality.append({"step": 40, "inception_score": 7.2})
    assert training_moment("gan", "running", rows, quality, total_steps=1000) == "gan_digits"
    assert training_moment("gan", "finished", rows, quality) == "finished"


def test_without_a_quality_curve_the_budget_done_tells_the_stage():
    rows = [gan_row(step, 0.7, 0.45) for step in (100, 200, 400)]
    assert training_moment("gan", "running", rows, total_steps=1000) == "gan_strokes"
    assert training_moment("gan", "running", rows, total_steps=500) == "gan_digits"


def test_a_failure_beats_the_normal_story_and_a_recovered_one_does_not():
    rows = [gan_row(step, 0.99, 0.01) for step in (10, 20, 30)]
    winning = Finding("discriminator_winning", "error", 10, "D wins", "", "")
    assert training_moment("gan", "running", rows, findings=[winning]) == "failure_discriminator_winning"
    recovered = Finding("discriminator_winning", "info", 10, "D won", "", "", end_step=20)
    assert training_moment("gan", "running", rows, findings=[recovered]) != "failure_discriminator_winning"
    collapse = Finding("posterior_collapse", "error", 5, "collapse", "", "")
    assert training_moment("vae", "running", [{"step": 5, "kl_loss": 0.0}], findings=[collapse]) \
        == "failure_posterior_collapse"
    odd = Finding("something_new", "warning", 5, "new", "", "")
    assert training_moment("gan", "running", rows, findings=[odd]) == "failure"


def test_a_vae_run_and_the_end_states():
    rows = [{"step": step, "loss": 300 - step} for step in (10, 20)]
    assert training_moment("vae", "running", []) == "vae_waiting"
    assert training_moment("vae", "running", rows, total_steps=1000) == "vae_blobs"
    rows += [{"step": step, "loss": 200} for step in (30, 40, 50)]
    assert training_moment("vae", "running", rows, total_steps=1000) == "vae_reconstruction_improves"
    assert training_moment("vae", "running", rows, [{"inception_score": 4.0}]) == "vae_shapes"
    assert training_moment("vae", "running", rows, [{"inception_score": 8.0}]) == "vae_digits"
    assert training_moment("vae", "queued", []) == "queued"
    assert training_moment("gan", "running", rows, paused=True) == "paused"


def test_a_diffusion_run_is_told_as_denoising_not_as_a_gan():
    rows = [{"step": step, "loss": 1.0, "loss_low_noise": 0.2, "loss_mid_noise": 0.8, "loss_high_noise": 1.6}
            for step in (10, 20)]
    assert training_moment("diffusion", "running", []) == "diffusion_waiting"
    assert training_moment("diffusion", "running", rows, total_steps=1000) == "diffusion_clouds"
    rows += [dict(rows[-1], step=step) for step in (30, 40, 50)]
    assert training_moment("diffusion", "running", rows, total_steps=1000) == "diffusion_noise_levels"
    assert training_moment("diffusion", "running", rows, [{"inception_score": 4.0}]) == "diffusion_shapes"
    assert training_moment("diffusion", "running", rows, [{"inception_score": 8.0}]) == "diffusion_digits"
    assert training_moment("diffusion", "finished", rows) == "finished"


def test_the_narration_panel_tells_a_diffusion_run_in_its_own_words():
    from ui.lesson_view import NARRATION, narration_text

    rows = [{"step": step, "loss": 1.0} for step in (10, 20, 30, 40)]
    assert narration_text("diffusion", "running", rows, total_steps=1000) == NARRATION["diffusion_noise_levels"]


def test_the_lesson_trains_a_diffusion_model_and_opens_the_denoising_page():
    from aigc_core.studio import presets_for
    from ui.lesson_view import LESSON_STEPS

    diffusion_steps = [step for step in LESSON_STEPS if step.query_params.get("model") == "diffusion"]
    assert diffusion_steps and all(step.query_params["preset"] in presets_for("diffusion") for step in diffusion_steps)
    assert any(step.page == "pages/denoise.py" for step in LESSON_STEPS)


def test_damaged_rows_do_not_break_the_narration():
    assert training_moment("gan", "running", [5, "x", None, {"step": "late"}], [{"inception_score": "high"}]) \
        in GAN_MOMENTS


def test_every_moment_has_a_narration_and_every_step_opens_a_real_page():
    from ui.lesson_view import LESSON_STEPS, NARRATION

    moments = set(GAN_MOMENTS) | set(VAE_MOMENTS) | set(DIFFUSION_MOMENTS) | set(END_MOMENTS) | set(FAILURE_MOMENTS.values()) | {"failure"}
    assert moments <= set(NARRATION), moments - set(NARRATION)
    app_pages = set(re.findall(r'st\.Page\("([^"]+)"', (PROJECT_ROOT / "app.py").read_text()))
    for step in LESSON_STEPS:
        assert step.page in app_pages, step
        broken = step.query_params.get("broken")
        assert broken is None or broken in BROKEN_PRESETS, f"lesson step {step.title!r} names no break-it preset"
    assert 10 <= len(LESSON_STEPS) <= 20  # a 45-minute class: a few minutes per step


def _open(query: dict, language: str | None = None) -> AppTest:
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params = query
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def _markdown(app) -> str:
    return "\n".join(element.value for element in app.markdown)


@pytest.mark.parametrize("lang, heading", [("en", "Lesson, step 2 of"), ("zh", "课程 第 2 步")])
def test_a_lesson_link_opens_its_step_in_either_language(lang, heading, isolated_app):
    # An empty weights folder: the step's heading and buttons are the point, not Home's samples
    # (drawing those from every shipped model cost this test a minute of CI).
    app = _open({"lesson": "2", "lang": lang})
    assert heading in _markdown(app)
    assert app.button(key="lesson_next").label == ("Next" if lang == "en" else "下一步")
    assert app.button(key="lesson_previous").disabled is False
    assert app.query_params.get("lesson") in ("2", ["2"])


def test_lesson_numbers_from_links_are_parsed_strictly():
    from ui.lesson_view import LESSON_STEPS, parse_lesson_step

    assert parse_lesson_step("1") == 1 and parse_lesson_step(str(len(LESSON_STEPS))) == len(LESSON_STEPS)
    for value in ["0", str(len(LESSON_STEPS) + 1), "-1", "２", "²", "1e3", "abc", " 3", "", None, "0003"]:
        assert parse_lesson_step(value) is None, value


def test_a_bad_lesson_number_opens_no_lesson(isolated_app):
    app = _open({"lesson": "99"})
    assert "Lesson, step" not in _markdown(app)
    assert app.button(key="lesson_start").label == "Start the lesson"


def test_the_live_view_narrates_a_run_in_lesson_mode_only(store):
    from conftest import tiny_config

    run = store.create(tiny_config(steps=30).to_dict())
    run.append_metrics([gan_row(step, 0.99, 0.01, d_loss=0.01, g_loss=6.0) for step in range(10, 70, 10)])
    run.update_status(state="finished", step=60, total_steps=60)
    texts = {}
    for lesson in ("3", None):
        st.cache_resource.clear()
        app = AppTest.from_file(APP, default_timeout=120)
        app.query_params = {"run": run.run_id, **({"lesson": lesson} if lesson else {})}
        app.run()
        app.switch_page("pages/train.py").run()
        assert not app.exception, [item.value for item in app.exception]
        texts[lesson] = " ".join(info.value for info in app.info)
    # D wins from the first row: the narration tells the failure the diagnosis sees, not "the run is over".
    assert "The discriminator wins" in texts["3"]
    assert "The discriminator wins" not in texts[None]


def _view_params_script():
    import streamlit as st

    from ui.i18n import LANGUAGE_KEY
    from ui.share import PRESENTATION_KEY, view_params

    setting = st.query_params.get("setting", "")
    if setting:
        st.session_state[LANGUAGE_KEY] = "zh"
        st.session_state[PRESENTATION_KEY] = True
    st.json(view_params())


@pytest.mark.parametrize("setting, kept", [("zh+present", {"lang": "zh", "present": "1"}), ("", {})])
def test_the_lessons_page_switch_keeps_the_language_and_presentation_mode(setting, kept):
    # Next and Previous open another page with `st.switch_page`, which hands the new page only the
    # link parameters it is given: a Chinese lesson turned English, and a projected one small, at
    # its first change of page. `ui.share.switch_page` adds `view_params()`, and the new page restores
    # both from its link, as for a shared one. An English, unprojected session adds nothing.
    import json

    app = AppTest.from_function(_view_params_script)
    app.query_params = {"setting": setting} if setting else {}
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    assert json.loads(app.json[0].value) == kept
