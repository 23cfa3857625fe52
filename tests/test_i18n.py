"""English and Chinese: every marked string is translated, and a Chinese session shows no English.

The catalogue check extracts the marked strings with Babel exactly as
`scripts/update_translations.sh` does, so a new `_("...")` without a Chinese translation fails
here before a teacher sees English in a Chinese lesson.
"""

from __future__ import annotations

import re
import string

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from aigc_core.runs.store import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")
TIMEOUT_S = 120
# Names that stay as they are in a Chinese text (the list, and units).
KEPT_NAMES = {"GAN", "GANs", "VAE", "VAEs", "MNIST", "Fashion-MNIST", "FID", "IS", "AIGC", "Studio", "CPU", "GPU",
              "DCGAN", "WGAN", "WGAN-GP", "ELBO", "KL", "Adam", "JAX", "TensorFlow", "Keras", "English", "PNG",
              "GIF", "JPEG", "JSON", "CSV", "URL", "Language", "CVAE", "Wasserstein", "Inception", "NaN"}
# Where the translated part of the app is checked for English (grows as pages are translated).
TRANSLATED_AREAS = ("sidebar",)


def marked_strings() -> set[str]:
    """Every string in `_()` or `N_()` in the app's files, found the way `pybabel extract` finds them."""
    from babel.messages.extract import extract_from_dir

    found = set()
    with open(PROJECT_ROOT / "babel.cfg") as config:
        from babel.messages.frontend import parse_mapping_cfg

        method_map, options_map = parse_mapping_cfg(config)
    for _filename, _line, message, _comments, _context in extract_from_dir(
        str(PROJECT_ROOT), method_map, options_map, keywords={"_": None, "N_": None}
    ):
        found.add(message)
    return found


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def english_words(text: str) -> list[str]:
    """Latin-letter words of 3+ letters that are not kept names: English left in a Chinese text."""
    text = re.sub(r"https?://\S+|\?\w+=\S*|`[^`]*`", " ", text)  # links and code are not prose
    return [word for word in re.findall(r"[A-Za-z][A-Za-z\-]{2,}", text) if word not in KEPT_NAMES]


def test_every_marked_string_has_a_chinese_translation():
    from ui.i18n import catalogue

    catalogue.cache_clear()
    marked = marked_strings()
    assert len(marked) >= 10, "the extraction found almost nothing: is babel.cfg still pointing at the app?"
    chinese = catalogue("zh")
    missing = sorted(message for message in marked if message not in chinese)
    assert not missing, f"{len(missing)} strings have no Chinese translation (run scripts/update_translations.sh " \
                        f"and fill ui/locales/zh/LC_MESSAGES/messages.po): {missing[:10]}"


def test_translations_keep_every_placeholder():
    from ui.i18n import catalogue

    mismatched = [(message, translation) for message, translation in catalogue("zh").items()
                  if placeholders(message) != placeholders(translation)]
    assert not mismatched, mismatched[:5]


def test_english_words_finds_english_and_spares_kept_names():
    assert english_words("训练一个 GAN，查看 FID") == []
    assert english_words("训练 Training now") == ["Training", "now"]


def test_browser_language_reads_the_locale(monkeypatch):
    from ui import i18n

    class Context:
        locale = "zh-CN"

    monkeypatch.setattr(i18n.st, "context", Context())
    assert i18n.browser_language() == "zh"
    Context.locale = "fr-FR"
    assert i18n.browser_language() is None


def _open(query: str = "") -> AppTest:
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    if query:
        app.query_params = dict(part.split("=", 1) for part in query.split("&"))
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def _texts(block) -> list[str]:
    """Every string a visitor reads in a block: markdown, captions, titles, widget labels and options."""
    texts = []

    def visit(node):
        for attribute in ("value", "label", "body"):
            value = getattr(node, attribute, None) if attribute != "value" or type(node).__name__ in (
                "Markdown", "Caption", "Title", "Header", "Subheader", "Text", "Info", "Warning", "Error",
                "Success") else None
            if isinstance(value, str):
                texts.append(value)
        options = getattr(node, "options", None)
        if type(node).__name__ in ("Selectbox", "Radio") and options:
            texts.extend(str(option) for option in options)
        for child in getattr(node, "children", {}).values() if isinstance(getattr(node, "children", None), dict) else []:
            visit(child)

    visit(block)
    return texts


@pytest.mark.parametrize("query, expected", [("lang=zh", "zh"), ("lang=xx", "en"), ("", "en")])
def test_the_link_chooses_the_language(query, expected):
    app = _open(query)
    assert app.session_state["language"] == expected


def test_a_chinese_session_shows_no_english_in_the_translated_areas():
    app = _open("lang=zh")
    for area in TRANSLATED_AREAS:
        texts = _texts(getattr(app, area))
        assert texts, f"found nothing to read in the {area}"
        leftovers = {text: english_words(text) for text in texts if english_words(text)}
        assert not leftovers, f"English in the Chinese {area}: {leftovers}"
    assert any("演示模式" in text for text in _texts(app.sidebar))


def test_the_switch_wins_over_the_link_and_updates_it():
    """The sidebar switch's choice (Session State, as AppTest's first run can set it) beats `?lang=`.

    AppTest's later runs skip app.py (see ui/router.py), so the click itself is driven in the browser test.
    """
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.query_params = {"lang": "zh"}
    app.session_state["language"] = "en"
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    assert any("Presentation mode" in text for text in _texts(app.sidebar))
    assert app.query_params.get("lang") in ("en", ["en"])


# -- pages translated by the first translation pass: Augment, Your own digit, Runs ------------------
def _open_chinese_page(page: str, monkeypatch, tmp_path, **state) -> AppTest:
    """A page opened in a Chinese session with no shipped weights (the runs folder is conftest's empty one)."""
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path))
    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.session_state["language"] = "zh"
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


@pytest.mark.parametrize("page, expected", [
    ("pages/augment.py", "运行实验"),
    ("pages/digit.py", "保存为数字 A"),
    ("pages/runs.py", "还没有训练记录"),
])
def test_a_chinese_session_shows_no_english_on_the_translated_pages(page, expected, monkeypatch, tmp_path):
    import numpy as np

    # Two kept digits make the Your own digit page explain its missing models too.
    kept = {"A": np.zeros((28, 28), np.float32), "B": np.zeros((28, 28), np.float32)}
    app = _open_chinese_page(page, monkeypatch, tmp_path, own_digit_slots=kept)
    texts = _texts(app.main)
    assert any(expected in text for text in texts + [button.label for button in app.button]), texts
    leftovers = {text: english_words(text) for text in texts if english_words(text)}
    assert not leftovers, f"English on the Chinese {page}: {leftovers}"


def _augment_result():
    """An experiment result made by hand with every outcome the verdict words (no classifier trained)."""
    from aigc_core.experiments.augment import AugmentSettings, ArmResult, ExperimentResult

    seeds = [0, 1, 2]
    rows = [ArmResult(10, "real", "real only", 100, seeds, [0.50, 0.60, 0.70]),
            ArmResult(10, "more_real", "+ more real data (reference)", 2000, seeds, [0.40, 0.49, 0.60]),
            ArmResult(10, "gan", "+ conditional GAN (run:abc)", 2000, seeds, [0.505, 0.606, 0.705]),
            ArmResult(10, "vae", "+ CVAE (weights:cvae)", 2000, seeds, [0.60, 0.71, 0.80]),
            ArmResult(50, "real", "real only", 500, seeds, [0.80, 0.81, 0.82]),
            ArmResult(50, "vae", "+ CVAE (weights:cvae)", 1500, seeds, [0.85, 0.76, 0.83]),
            ArmResult(100, "real", "real only", 1000, [0], [0.90]),
            ArmResult(100, "more_real", "+ more real data (reference)", 2000, [0], [0.92])]
    return ExperimentResult(AugmentSettings(per_class=(10, 50, 100), seeds=3, test_limit=1000),
                            "the first 1,000 images of the MNIST test split", rows)


def test_the_augment_page_words_the_library_s_results_as_the_library_does_in_english():
    from aigc_core.experiments.augment import ARM_FAMILIES, missing_model_note
    from ui import augment_view

    result = _augment_result()
    outcomes = {item.outcome for item in result.comparisons()}
    assert outcomes == {"helped", "hurt", "negligible", "no significant difference", "one seed"}
    assert augment_view.verdict_lines(result) == result.verdict()
    assert augment_view.test_set_text(result) == result.test_set
    for family in ARM_FAMILIES:
        assert augment_view.missing_model_text(family) == missing_model_note(family)
    assert [augment_view.arm_label(row.arm, row.label) for row in result.rows] == [row.label for row in result.rows]


def test_the_augment_page_s_library_words_are_marked_and_translated(monkeypatch):
    from aigc_core.experiments.augment import ARM_FAMILIES, MORE_REAL_LABEL, REAL_LABEL
    from ui import augment_view, i18n

    library_words = {*ARM_FAMILIES.values(), REAL_LABEL, MORE_REAL_LABEL,
                     *(item.outcome for item in _augment_result().comparisons())}
    assert library_words <= set(augment_view.LIBRARY_TEXTS)
    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    result = _augment_result()
    shown = [*augment_view.verdict_lines(result), augment_view.test_set_text(result),
             *(text for row in augment_view.result_rows(result) for text in map(str, [*row, *row.values()])),
             *(augment_view.missing_model_text(family) for family in ARM_FAMILIES)]
    # Source keys (weights:NAME, run:ID) are identifiers, not prose.
    leftovers = {text: english_words(re.sub(r"\((weights|run):[\w-]+\)", " ", text)) for text in shown}
    assert not {text: words for text, words in leftovers.items() if words}, leftovers


def test_a_translated_metric_delta_keeps_its_sign_first():
    """Streamlit reads a delta's direction from its first character: the number must stay in front."""
    from ui.i18n import catalogue

    catalogue.cache_clear()
    assert catalogue("zh")["{change:+.3f} from the best random start"].startswith("{change:+.3f}")


# -- pages translated by the second translation pass: Home, Conditional, and the charts ------------
def _shipped_subset(tmp_path, names) -> str:
    """A weights folder holding links to some shipped models (each with its config and metrics)."""
    source = PROJECT_ROOT / "weights"
    for name in names:
        for path in source.glob(f"{name}.*"):
            (tmp_path / path.name).symlink_to(path)
    return str(tmp_path)


def _leftovers(texts: list[str]) -> dict:
    """English words in what a visitor reads: style sheets, LaTeX and shipped file names are not prose."""
    prose = [re.sub(r"\b(gan|vae)-[a-z-]+", " ", text) for text in texts
             if not text.startswith(("<style>", "$$"))]
    return {text: english_words(text) for text in prose if english_words(text)}


def test_the_chinese_home_page_shows_no_english_and_draws_chinese_diagrams(monkeypatch, tmp_path):
    """Two featured models and one more (its description translated); the diagrams' labels too."""
    weights = _shipped_subset(tmp_path, ("gan-fast", "vae-fast", "gan-wgan-gp"))  # WGAN-GP's FID is not the best
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", weights)
    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.session_state["language"] = "zh"
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    texts = _texts(app.main)
    texts += [image.caption for element in app.get("image") for image in element.proto.imgs]
    texts += [button.label for button in app.button]
    assert any("生成器" in text for text in texts) and any("评论家" in text for text in texts), texts
    assert not _leftovers(texts), f"English on the Chinese Home page: {_leftovers(texts)}"
    diagrams = [element.proto.spec for element in app.get("graphviz_chart")]
    assert len(diagrams) == 3  # GAN, VAE and diffusion
    # "log σ²" is the formula's notation, as in the LaTeX beside it.
    labels = [label.replace("log σ²", "") for spec in diagrams for label in re.findall(r'label="([^"]*)"', spec)]
    assert "判别器 D" in labels and "编码器" in labels and "加噪图像 x_t" in labels
    assert not _leftovers(labels), f"English in the Chinese diagrams: {_leftovers(labels)}"
    assert any("重建" in element.proto.body for element in app.get("latex"))


def test_every_shipped_model_description_is_translated():
    """Home shows each shipped model's description: a new or reworded one must reach the table."""
    import json

    from ui.families import DESCRIPTIONS

    descriptions = {json.loads(path.read_text()).get("description")
                    for path in (PROJECT_ROOT / "weights").glob("*.json") if path.name != "reference_metrics.json"}
    descriptions.discard(None)
    assert descriptions and descriptions <= set(DESCRIPTIONS), descriptions - set(DESCRIPTIONS)


def test_the_chinese_conditional_page_shows_no_english(monkeypatch, tmp_path):
    app = _open_chinese_page("pages/conditional.py", monkeypatch, tmp_path, conditional_per_digit=2)
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", _shipped_subset(tmp_path, ("gan-conditional", "vae-conditional")))
    st.cache_data.clear()
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    texts = _texts(app.main)
    texts += [image.caption for element in app.get("image") for image in element.proto.imgs]
    assert sum(block.value.startswith("| 数字 |") and "| 一致率 |" in block.value for block in app.markdown) == 2
    assert "GAN · 自带：gan-conditional" in texts, texts
    assert not _leftovers(texts), f"English on the Chinese Conditional page: {_leftovers(texts)}"


def test_the_conditional_model_picker_words_runs_in_chinese(monkeypatch):
    from aigc_core.sources import Source
    from ui import conditional_view, i18n

    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    run = Source("run:20260101-abc", "run 20260101-abc (paused)", "vae", PROJECT_ROOT, PROJECT_ROOT)
    assert conditional_view.source_text(run) == "VAE · 训练记录 20260101-abc（已暂停）"


def _figure_texts(figure) -> list[str]:
    """Titles, panel titles, axis titles, legend names and hover texts of a Plotly figure."""
    layout = figure.layout
    texts = [annotation.text for annotation in layout.annotations or ()]
    texts += [axis.title.text for name in dir(layout) if name.startswith(("xaxis", "yaxis"))
              for axis in [getattr(layout, name)] if axis is not None and axis.title.text]
    for trace in figure.data:
        texts.append(trace.name)
        # Plotly's %{...} fields and the <br>/<extra> tags are markup, not words.
        texts.append(re.sub(r"%\{[^}]*\}|<[^>]*>", " ", trace.hovertemplate or ""))
    return [text for text in texts if text]


def test_charts_built_in_a_chinese_session_carry_chinese_titles(monkeypatch):
    from ui import charts, i18n

    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    gan_rows = [{"step": step, "d_loss": 0.6, "g_loss": 0.8, "d_real": 0.6, "d_fake": 0.4} for step in (1, 2)]
    critic_rows = [{"step": step, "d_loss": -1.0, "g_loss": 0.5, "wasserstein": 1.0, "gradient_penalty": 0.1}
                   for step in (1, 2)]
    vae_rows = [{"step": step, "loss": 9.0, "reconstruction_loss": 8.0, "kl_loss": 1.0} for step in (1, 2)]
    quality_rows = [{"step": 1, "fid": 90.0, "inception_score": 5.0, "min_class_share": 0.05, "max_class_share": 0.2}]
    figures = [charts.loss_figure(gan_rows, "gan"), charts.loss_figure(critic_rows, "gan"),
               charts.loss_figure(vae_rows, "vae"), charts.quality_figure(quality_rows),
               charts.kl_figure([0.5, 0.001], step=1200)]
    texts = [text for figure in figures for text in _figure_texts(figure)]
    for expected in ("判别器损失", "评论家损失", "重建损失", "梯度惩罚", "潜在维度（第 1,200 步）", "步"):
        assert expected in texts or any(expected in text for text in texts), (expected, texts)
    assert not _leftovers(texts), f"English in Chinese charts: {_leftovers(texts)}"


# -- the diagnosis: cards, chart markers, and the "break it on purpose" presets -----------------------
def _gan_history(values, start=10):
    """GAN metric rows from (d_loss, g_loss, d_real, d_fake) tuples, one every 10 steps."""
    return [{"step": start + 10 * index, "d_loss": d_loss, "g_loss": g_loss, "d_real": d_real, "d_fake": d_fake}
            for index, (d_loss, g_loss, d_real, d_fake) in enumerate(values)]


def _vae_history(kl_values, reconstruction_values):
    return [{"step": 10 + 10 * index, "loss": kl + reconstruction, "reconstruction_loss": reconstruction, "kl_loss": kl}
            for index, (kl, reconstruction) in enumerate(zip(kl_values, reconstruction_values))]


def _every_kind_of_finding():
    """Synthetic histories that make `diagnose` produce every title it has, ongoing and recovered."""
    import numpy as np

    from aigc_core.quality.diagnosis import diagnose

    winning, healthy, losing = (0.005, 7.0, 0.998, 0.003), (1.2, 0.8, 0.6, 0.4), (1.4, 0.7, 0.5, 0.55)
    swinging = [(0.3 if index % 2 else 3.0, 1.0, 0.6, 0.4) for index in range(20)]
    exploded = (1e6, 1.0, 0.5, 0.5)
    copies = np.repeat((np.random.default_rng(0).random((1, 28, 28)) > 0.6).astype(float), 64, axis=0)
    findings = [
        *diagnose("gan", _gan_history([winning] * 8)), *diagnose("gan", _gan_history([winning] * 6 + [healthy] * 6)),
        *diagnose("gan", _gan_history([losing] * 12)),
        *diagnose("gan", _gan_history(swinging)), *diagnose("gan", _gan_history(swinging + [healthy] * 12)),
        *diagnose("gan", _gan_history([healthy] * 3 + [(float("nan"), 1.0, 0.5, 0.5)])),
        *diagnose("gan", _gan_history([healthy] * 3 + [exploded] + [healthy] * 2)),
        *diagnose("gan", _gan_history([healthy] * 3 + [exploded])),
        *diagnose("gan", _gan_history([healthy] * 3), error="diverged at step 1234"),
        *diagnose("vae", _vae_history([1.0, 1.0] + [0.01] * 8, [500, 300] + [200] * 8)),
        *diagnose("vae", _vae_history([1.0, 1.0] + [0.01] * 8 + [2.0] * 6, [500, 300] + [200] * 14)),
        *diagnose("vae", _vae_history([3.0] * 10, [500, 300, 250, 200, 190, 600, 700, 800, 900, 950])),
        *diagnose("gan", [], copies, class_probabilities=np.eye(10)[[3] * 40 + [5] * 24]),
    ]
    titles = {finding.templates[0] for finding in findings}
    assert len(titles) == 11 and any(finding.end_step for finding in findings), sorted(titles)
    assert {finding.kind for finding in findings} == {"divergence", "discriminator_winning", "discriminator_losing",
                                                      "oscillation", "posterior_collapse", "low_diversity",
                                                      "mode_collapse"}
    return findings


def test_every_diagnosis_card_and_marker_reads_in_chinese(monkeypatch):
    from ui import charts, diagnosis_view, i18n

    findings = _every_kind_of_finding()
    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    monkeypatch.setattr(diagnosis_view, "current_language", lambda: "zh")
    cards = [diagnosis_view.card_text(finding) for finding in findings]
    figure = diagnosis_view.annotate_figure(charts.loss_figure(_gan_history([(1.2, 0.8, 0.6, 0.4)] * 30), "gan"),
                                            findings)
    markers = [annotation.text for annotation in figure.layout.annotations if annotation.hovertext]
    assert len(markers) == len([finding for finding in findings if finding.step is not None])
    # A Chinese title has no spaces: it is cut after its punctuation.
    assert "判别器占了上风<br>（第 10–60 步，<br>之后已恢复）" in markers, markers
    assert all("*试试*：" in card and ("从第" in card) == (finding.step is not None)
               for card, finding in zip(cards, findings)), cards[0]
    assert not _leftovers(cards + markers), f"English in Chinese diagnosis cards: {_leftovers(cards + markers)}"
    recovered = [diagnosis_view.finding_texts(finding)[0] for finding in findings if finding.end_step]
    assert all("之后已恢复" in title for title in recovered), recovered


def test_a_chinese_session_draws_the_diagnosis_cards_in_chinese():
    def script():
        import streamlit as st

        from ui.diagnosis_view import render_finding_cards

        render_finding_cards(st.session_state.findings)
        render_finding_cards([])

    findings = _every_kind_of_finding()
    app = AppTest.from_function(script, default_timeout=TIMEOUT_S)
    app.session_state["language"] = "zh"
    app.session_state["findings"] = findings
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    texts = _texts(app.main)
    callouts = [*app.error, *app.warning, *app.info]
    assert len(callouts) == len(findings) and all("试试" in callout.value for callout in callouts), texts
    assert "诊断：目前一切正常。" in texts, texts
    assert not _leftovers(texts), f"English in the Chinese diagnosis: {_leftovers(texts)}"


def test_every_break_it_preset_is_named_and_explained_in_chinese(monkeypatch):
    """Each preset's title and card translate, and the card quotes its finding's Chinese title."""
    from aigc_core.quality.diagnosis import BROKEN_PRESETS
    from ui import diagnosis_view, i18n

    findings = _every_kind_of_finding()
    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    titles = {}
    for finding in findings:
        titles.setdefault(finding.kind, []).append(diagnosis_view.finding_texts(finding)[0])
    for name, broken in BROKEN_PRESETS.items():
        title, card = diagnosis_view.preset_title(name), diagnosis_view.watch_for_text(name)
        assert title != name and not _leftovers([title, card]), (name, _leftovers([title, card]))
        quoted = re.findall(r"“([^”]+)”", card)
        assert quoted and all(any(shown.startswith(quote) for kind_titles in titles.values() for shown in kind_titles)
                              for quote in quoted), (name, quoted)
        assert any(shown.startswith(quoted[0]) for shown in titles[broken.expected_kind]), (name, quoted)
    assert diagnosis_view.preset_title("not a preset") == "not a preset"


# -- pages translated by the fourth translation pass: Compare, Latent space, Runs -----------------
# Lines drawn on Runs by other views (the Train page's, the diagnosis', the visitor's), translated by
# other passes: as long as one is still in English here, it is theirs to translate, not this page's.
OTHER_PASSES = ("Diagnosis: nothing looks wrong so far.", "Only the browser that started this run can", "preset fast")


def _finished_run_with_timeline():
    """One finished GAN run with two snapshots, losses, and sample-quality numbers beside the references."""
    import json

    import numpy as np

    from aigc_core.quality.evaluation import REAL_FLOOR, UNTRAINED_CEILING
    from aigc_core.runs.store import RunStore

    run = RunStore().create({"model": "gan", "preset": "fast"})
    run.update_status(state="finished", step=20, elapsed_s=8.0)
    for step in (10, 20):
        np.save(run.samples_dir / f"step_{step:07d}.npy", np.full((16, 28, 28), 0.5, dtype=np.float32))
    run.append_metrics([{"step": step, "epoch": 0, "elapsed_s": step / 2, "d_loss": 1.0, "g_loss": 1.0}
                        for step in (10, 20)])
    numbers = {"fid": 30.0, "inception_score": 7.0, "coverage": 0.9}
    (run.path / "metrics.json").write_text(json.dumps({**numbers, "num_samples": 10_000, "dataset": "mnist",
                                                       "reference": {REAL_FLOOR: numbers, UNTRAINED_CEILING: numbers}}))
    return run


def _table_texts(app) -> list[str]:
    """Column and row names of the tables and data frames on a page."""
    texts = []
    for element in app.get("table") + app.get("arrow_data_frame"):
        frame = element.value
        texts += [str(name) for name in frame.columns] + [str(name) for name in frame.index
                                                          if not isinstance(name, int)]
    return texts


@pytest.mark.parametrize("page, shipped, expected", [
    ("pages/compare.py", ("gan-fast", "vae-fast"), "训练时间线"),
    ("pages/latent.py", ("vae-fast",), "重建"),
    ("pages/runs.py", (), "样本质量"),
])
def test_the_chinese_compare_latent_and_runs_pages_show_no_english(page, shipped, expected, monkeypatch, tmp_path):
    run = _finished_run_with_timeline()
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", _shipped_subset(tmp_path, shipped))
    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.session_state["language"] = "zh"
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    texts = _texts(app.main) + _table_texts(app)
    texts += [image.caption for element in app.get("image") for image in element.proto.imgs]
    texts += [button.label for button in app.button] + [metric.label for metric in app.metric]
    texts += [element.label for element in app.get("select_slider") + app.get("text_input")]
    assert any(expected in text for text in texts), texts
    # The run's id, its preset's name and file types are identifiers, not prose; the lines of other
    # pages' views are checked in English here only until their own translation is merged.
    texts = [re.sub(r"[(（]\.[\w.]+[)）]|(?<![\w-])fast\b", " ", text.replace(run.run_id, " ")) for text in texts
             if not any(line in text for line in OTHER_PASSES)]
    leftovers = _leftovers(texts)
    assert not leftovers, f"English on the Chinese {page}: {leftovers}"


# -- the Train page (third translation pass), and its code names in words (issue 14, defect 8) ------
def _train_page_texts(app: AppTest) -> list[str]:
    texts = _texts(app.main)
    texts += [button.label for button in app.button]
    texts += [bar.proto.text for bar in app.get("progress")]
    texts += [element.proto.body for element in app.get("badge")] if app.get("badge") else []
    return texts


def _train_leftovers(texts: list[str]) -> dict:
    """English on the Train page; run ids (20261205-...-gan-fast-1a2b) are names, not prose."""
    return _leftovers([re.sub(r"\d{8}-[A-Za-z0-9_-]+|:\w+-badge\[", " ", text) for text in texts])


def test_the_chinese_train_form_shows_no_english(monkeypatch, tmp_path):
    app = _open_chinese_page("pages/train.py", monkeypatch, tmp_path, train_broken="VAE: beta = 20")
    texts = _train_page_texts(app)
    assert "开始训练" in texts and any("留意" in text for text in texts), texts
    assert not _train_leftovers(texts), f"English on the Chinese Train form: {_train_leftovers(texts)}"


@pytest.mark.parametrize("state, error", [
    ("finished", None),
    ("failed", "training diverged at step 12: g_loss, d_loss became 278799548416.0, nan; try a lower learning rate"),
])
def test_the_chinese_live_view_of_a_run_shows_no_english(state, error, store, monkeypatch, tmp_path):
    from tests.conftest import tiny_config
    from ui.visitor import OPERATOR_KEY

    run = store.create(tiny_config(steps=20).to_dict())
    run.append_metrics([{"step": step, "d_loss": 0.6, "g_loss": 0.8, "d_real": 0.6, "d_fake": 0.4}
                        for step in (10, 20)])
    run.update_status(state=state, step=20 if state == "finished" else 12, total_steps=20, elapsed_s=4.0,
                      **({"error": error} if error else {}))
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path))
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.session_state["language"] = "zh"
    app.session_state[OPERATOR_KEY] = True
    app.query_params["run"] = run.run_id
    app.run()
    app.switch_page("pages/train.py").run()
    assert not app.exception, [item.value for item in app.exception]
    texts = _train_page_texts(app)
    assert any("GAN（快速）" in text and "#1" in text for text in texts), texts  # the run's generated name
    if error:
        assert any("2.79e11" in text and "生成器损失" in text for text in [e.value for e in app.error]), \
            [e.value for e in app.error]
    assert not _train_leftovers(texts), f"English in the Chinese live view: {_train_leftovers(texts)}"


def test_a_refused_setting_is_named_by_its_label_with_people_s_numbers():
    from aigc_core.config import TrainingConfig
    from ui.train_view import start_problem

    problem = start_problem(TrainingConfig(model="gan", preset="fast", overrides={"g_learning_rate": 0.0}))
    assert problem == "“Generator learning rate” must be greater than 0 and at most 1; it is 0.", problem
    too_many = start_problem(TrainingConfig(model="vae", preset="fast", steps=10**9))
    assert "“Steps (training steps)” must be from 1 to" in too_many and "_" not in too_many, too_many


def test_library_tips_and_divergence_errors_read_in_plain_words():
    from ui.train_view import HELP, failure_reason, format_number, plain_names

    assert plain_names("lower d_learning_rate or d_steps_per_g_step") == \
        "lower “Discriminator learning rate” or “Discriminator (critic) steps per generator step”"
    assert not [text for text in HELP.values() if "seed's" in text or "_" in text]
    reason = failure_reason("training diverged at step 1200: g_loss, d_loss became 278799548416.0, nan; "
                            "try a lower learning rate")
    assert reason == ("training diverged at step 1,200: generator loss, discriminator loss reached 2.79e11, "
                      "not a number (NaN). Try a lower learning rate."), reason
    assert [format_number(value) for value in (2e-4, 1_000, 1e-6, 0.5)] == ["0.0002", "1,000", "1e-6", "0.5"]


def test_the_steps_field_says_what_a_step_is_for_each_family(monkeypatch, tmp_path):
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path))
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    app.run()
    app.switch_page("pages/train.py").run()
    app.radio(key="train_model").set_value("vae").run()
    assert app.number_input(key="train_steps").label == "Steps (training steps)"
    app.radio(key="train_model").set_value("gan").run()
    assert app.number_input(key="train_steps").label == "Steps (generator updates)"


def test_the_train_page_s_library_texts_are_marked():
    from aigc_core.models.registry import FAMILIES, get_variant, presets_for
    from ui.families import DESCRIPTIONS, PRESET_TITLES

    shown = {get_variant(family, preset).description for family in FAMILIES for preset in presets_for(family)}
    assert shown <= set(DESCRIPTIONS), shown - set(DESCRIPTIONS)
    assert {preset for family in FAMILIES for preset in presets_for(family)} <= set(PRESET_TITLES)


# -- the library's errors and progress lines in a Chinese session (issue 14) -----------------------
def _prose(texts: list[str]) -> dict:
    """English left in what a visitor reads, model keys (weights:NAME, run:ID) and file names aside."""
    return _leftovers([re.sub(r"(weights|run):[\w-]+|\S+\.(weights\.h5|json|h5|png)\b", " ", text) for text in texts])


def test_a_refused_augmentation_setting_reads_in_chinese(monkeypatch, tmp_path):
    app = _open_chinese_page("pages/augment.py", monkeypatch, tmp_path, augment_per_class=[])
    errors = [error.value for error in app.error]
    assert len(errors) == 1 and "“每个数字的真实样本数" in errors[0], errors
    assert not _prose(errors), f"English in the Chinese refusal: {_prose(errors)}"


def test_the_augment_page_s_library_refusals_and_progress_read_in_chinese(monkeypatch):
    from aigc_core.experiments.augment import AugmentSettings
    from aigc_core.messages import Message
    from ui import augment_view, i18n

    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    too_long = augment_view.check(AugmentSettings(per_class=(5, 10, 20), seeds=10, train_steps=2000), {"gan": ""})
    repeated = augment_view.check(AugmentSettings(per_class=(10, 10)), {})
    progress = i18n.error_text(Message("seed {seed}, {size} real per class, {label}", seed=1, size=10,
                                       label=augment_view.arm_label("real", "real only"), arm="real"))
    assert "120,000" in too_long and "分类器" in too_long and "10" in progress, (too_long, progress)
    assert not _prose([too_long, repeated, progress]), _prose([too_long, repeated, progress])


def _bad_images() -> dict[str, bytes]:
    """Files a visitor might upload instead of a digit, each refused for another reason."""
    import io

    import numpy as np
    from PIL import Image

    def encoded(array, format="PNG"):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format=format)
        return buffer.getvalue()

    return {"empty": b"", "not an image": b"hello, this is text", "GIF": encoded(np.zeros((40, 40), np.uint8), "GIF"),
            "too small": encoded(np.zeros((4, 4), np.uint8)), "blank": encoded(np.full((40, 40), 255, np.uint8)),
            "too big": encoded(np.zeros((5000, 10), np.uint8))}


def test_every_refused_upload_reads_in_chinese(monkeypatch):
    from aigc_core.experiments import own_digit
    from ui import digit_view, i18n

    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    shown = {}
    for name, data in _bad_images().items():
        with pytest.raises(ValueError) as refused:
            own_digit.prepare_upload(data)
        shown[name] = digit_view.error_text(refused.value)
    with pytest.raises(ValueError) as refused:
        own_digit.prepare_drawing("data:image/png;base64,@@@")
    shown["damaged drawing"] = digit_view.error_text(refused.value)
    assert len(set(shown.values())) == len(shown), shown
    assert not _prose(list(shown.values())), f"English in Chinese upload errors: {_prose(list(shown.values()))}"


def test_a_refused_upload_on_the_chinese_digit_page(monkeypatch, tmp_path):
    from ui import i18n

    # AppTest reads a widget's value back through its format_func outside the script run, where
    # the session's language is unknown: the whole process speaks Chinese instead.
    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    app = _open_chinese_page("pages/digit.py", monkeypatch, tmp_path, digit_input="Upload")
    gif_named_png = ("digit.png", _bad_images()["GIF"], "image/png")  # Streamlit itself refuses a .gif name
    app.file_uploader(key="digit_upload").set_value(gif_named_png).run()
    assert not app.exception, [item.value for item in app.exception]
    errors = [error.value for error in app.error]
    assert errors and any("GIF" in error for error in errors), errors
    assert not _prose(errors), f"English in the Chinese upload error: {_prose(errors)}"


def test_a_model_that_cannot_load_is_explained_in_chinese(monkeypatch, tmp_path):
    """Weights that do not fit their config (a VAE's file beside a GAN's config): one Chinese line, no h5py text."""
    source = PROJECT_ROOT / "weights"
    (tmp_path / "gan-mixed.json").symlink_to(source / "gan-fast.json")
    (tmp_path / "gan-mixed.weights.h5").symlink_to(source / "vae-fast.weights.h5")
    _shipped_subset(tmp_path, ("vae-fast",))  # Compare needs two models; the GAN is the one that fails
    app = _open_chinese_page("pages/compare.py", monkeypatch, tmp_path)
    errors = [error.value for error in app.error]
    assert any("gan-mixed.weights.h5" in error for error in errors), errors
    assert not _prose(errors), f"English in the Chinese load error: {_prose(errors)}"


def test_a_read_only_runs_folder_and_a_full_disk_are_named_in_chinese(monkeypatch):
    import errno

    from ui import i18n
    from ui.visitor import failure_text

    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    texts = [failure_text(PermissionError(errno.EACCES, "Permission denied", "/srv/runs/x")),
             failure_text(OSError(errno.EROFS, "Read-only file system")),
             failure_text(OSError(errno.ENOSPC, "No space left on device"))]
    assert len(set(texts)) == 2 and not _prose(texts), texts


def test_streamlit_s_own_uploader_words_are_replaced_in_a_chinese_session(monkeypatch, tmp_path):
    """Streamlit 1.67 draws "Upload" and "5MB per file" itself: a style sheet words them in Chinese."""
    from ui.i18n import catalogue

    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path))  # Home with no models to draw: a quick run
    styles = {}
    for language in ("zh", "en"):
        st.cache_resource.clear()
        app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
        app.session_state["language"] = language
        app.run()
        assert not app.exception, [item.value for item in app.exception]
        styles[language] = " ".join(element.proto.body for element in app.get("html")
                                    if "stFileUploaderDropzone" in element.proto.body)
    words = re.findall(r'content: "([^"]*)"', styles["zh"])
    limit = st.get_option("server.maxUploadSize")
    assert words == [catalogue("zh")["Upload"], f"每个文件最多 {limit} MB"], styles["zh"]
    assert not styles["en"]


def test_a_reached_cap_is_worded_in_chinese(store, monkeypatch):
    """The per-browser and server caps on queued runs (a refused Start) read in the session's language."""
    from aigc_core.runs.ownership import Requester, check_queue_caps
    from ui import i18n
    from ui.train_view import setting_problem_text

    monkeypatch.setenv("AIGC_MAX_QUEUED_PER_SESSION", "1")
    with pytest.raises(ValueError) as refused:  # a twin run needs two places
        check_queue_caps(Requester(owner="visitor-a", operator=False), store, needed=2)
    english = setting_problem_text(refused.value)
    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    chinese = setting_problem_text(refused.value)
    assert english == str(refused.value) == ("this browser already has 0 queued or running runs (at most 1 at a time; "
                                             "this starts 2 runs); wait for one to finish or stop it"), english
    assert "启动 2 个" in chinese, chinese
    assert not _prose([chinese]), chinese
