"""Named, annotated runs (issue #14): a generated name at creation, the owner's own name and note,
limits, a damaged name file, and the name wherever a run is listed (sources, CLI, Runs page)."""

from __future__ import annotations

import json
import shutil
import unicodedata

import pytest
import streamlit as st
from hypothesis import given, settings, strategies

from aigc_core.runs import ownership, worker
from aigc_core.cli import main
from aigc_core.runs.ownership import OPERATOR, NotOwner
from aigc_core.runs.run_names import (
    NAME_FILE, NAME_MAX_CHARS, NOTE_MAX_CHARS, clean_name, clean_note, read_run_name, rename_run, run_name_text,
)
from aigc_core.runs.store import PROJECT_ROOT
from aigc_core.sources import list_sources, resolve_source
from aigc_core.weights import WEIGHTS_DIR
from conftest import tiny_config

BROKEN = "GAN: learning rate x10, Adam momentum 0.9"


def give_checkpoint(run, family: str = "gan") -> None:
    """The two files that make a run a model source (not loaded by these tests)."""
    run.model_config_path.write_text(json.dumps({"family": family}))
    run.weights_path.write_bytes(b"not read here")


def test_generated_names_say_what_the_run_is_and_count_per_kind(store):
    names = [run_name_text(store.create(tiny_config(**changes).to_dict())) for changes in (
        {}, {}, {"model": "vae", "preset": "large"}, {"break_it": BROKEN}, {}, {"break_it": BROKEN})]
    assert names == ["GAN (fast) #1", "GAN (fast) #2", "VAE (large) #1", f"{BROKEN} #1", "GAN (fast) #3",
                     f"{BROKEN} #2"]


def test_a_generated_name_is_worded_in_the_sessions_language(store):
    run = store.create(tiny_config().to_dict())
    words = {"{title} #{number}": "{title}（第 {number} 次）", "{model} ({preset})": "{model}（{preset}）", "fast": "快速"}
    assert read_run_name(run).text(lambda text: words.get(text, text)) == "GAN（快速）（第 1 次）"


def test_twin_halves_are_named_as_a_twin_race_and_a_resumed_run_keeps_its_name(store, monkeypatch):
    from aigc_core.experiments.twin import launch_twin

    monkeypatch.setattr(worker, "spawn_worker", lambda *arguments, **keywords: None)
    monkeypatch.setattr(worker, "prepare_new_run", lambda store: None)
    gan_run, vae_run = launch_twin(0, "steps", 5, store, train_limit=256)
    assert [run_name_text(gan_run), run_name_text(vae_run)] == ["Twin race GAN #1", "Twin race VAE #1"]
    assert run_name_text(launch_twin(1, "steps", 5, store, train_limit=256)[0]) == "Twin race GAN #2"
    # A three-way race's members are named alike (the sidebar lists them by these names).
    three = launch_twin(2, "steps", 5, store, train_limit=256, families=("gan", "vae", "diffusion"))
    assert [run_name_text(run) for run in three] == ["Twin race GAN #3", "Twin race VAE #3", "Twin race Diffusion #1"]

    rename_run(gan_run, OPERATOR, "first race", note="GAN ahead at 3 s")
    gan_run.update_status(state="stopped", pid=None)
    worker.resume(gan_run, extra_steps=5)
    assert gan_run.status()["state"] == "queued"
    assert (run_name_text(gan_run), read_run_name(gan_run).note) == ("first race", "GAN ahead at 3 s")


@settings(derandomize=True, max_examples=40, deadline=None)
@given(strategies.text(max_size=80))
def test_names_and_notes_lose_control_characters_and_keep_their_limits(text):
    for clean, limit in ((clean_name, NAME_MAX_CHARS), (clean_note, NOTE_MAX_CHARS)):
        try:
            cleaned = clean(text * (1 if clean is clean_name else 7))
        except ValueError as error:
            assert f"at most {limit} characters" in str(error)
            continue
        assert len(cleaned) <= limit and cleaned == cleaned.strip()
        allowed = "\n" if clean is clean_note else ""
        assert not [c for c in cleaned if c not in allowed and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    assert "\n" not in clean_name(text[:NAME_MAX_CHARS])


def test_a_name_too_long_is_refused_and_an_empty_one_brings_the_generated_name_back(store):
    run = store.create(tiny_config().to_dict())
    with pytest.raises(ValueError, match=f"at most {NAME_MAX_CHARS} characters, received {NAME_MAX_CHARS + 1}"):
        rename_run(run, OPERATOR, "x" * (NAME_MAX_CHARS + 1))
    with pytest.raises(ValueError, match=f"at most {NOTE_MAX_CHARS} characters"):
        rename_run(run, OPERATOR, "ok", note="y" * (NOTE_MAX_CHARS + 1))
    assert run_name_text(run) == "GAN (fast) #1"
    assert rename_run(run, OPERATOR, "  night\x1b[0m\u202e run \t ", note="a\r\nb\x00").text() == "night[0m run"
    assert read_run_name(run).note == "a\nb"
    assert rename_run(run, OPERATOR, "   ").text() == "GAN (fast) #1"
    assert read_run_name(run).note == "a\nb"  # a note left out is kept


@pytest.mark.parametrize("content", [b"\xff\xfe", b"{", b"[]", b'{"series": "preset", "family": "gan", "number": 0}',
                                     json.dumps({"series": "twin", "family": "gan", "number": 2,
                                                 "name": "n" * 61}).encode()])
def test_a_damaged_name_file_falls_back_to_a_name_from_the_config_and_id(store, content):
    run = store.create(tiny_config(break_it=BROKEN).to_dict())
    (run.path / NAME_FILE).write_bytes(content)
    assert run_name_text(run) == f"{BROKEN} · {run.run_id}"
    assert run.status()["state"] == "queued"  # the name file never makes a run damaged
    give_checkpoint(run)
    assert list_sources(store, WEIGHTS_DIR)[-1].label.startswith(f"{BROKEN} · {run.run_id} (")
    assert rename_run(run, OPERATOR, "").text() == f"{BROKEN} #1"  # renaming repairs the file


def test_a_missing_name_file_and_config_still_name_the_run(store):
    run = store.create(tiny_config().to_dict())
    (run.path / NAME_FILE).unlink()
    (run.path / "config.json").write_text("not json")
    assert run_name_text(run) == f"Run · {run.run_id}"


def test_only_the_owner_or_the_operator_may_rename_a_run(store):
    owner, stranger = ownership.visitor("session:owner", store), ownership.visitor("session:stranger", store)
    run = store.create(tiny_config().to_dict(), owner=owner.owner)
    with pytest.raises(NotOwner, match="can rename it"):
        rename_run(run, stranger, "mine now")
    assert run_name_text(run) == "GAN (fast) #1"
    assert rename_run(run, owner, "by the owner").text() == "by the owner"
    assert rename_run(run, OPERATOR, "by the operator").text() == "by the operator"


def test_sources_and_the_cli_list_show_the_name(store, capsys):
    run = store.create(tiny_config().to_dict())
    give_checkpoint(run)
    assert resolve_source(f"run:{run.run_id}", store, WEIGHTS_DIR).label == "GAN (fast) #1 (queued)"
    assert main(["rename", run.run_id, "Digits by night", "--note", "lr 2e-4"]) == 0
    capsys.readouterr()
    assert resolve_source(f"run:{run.run_id}", store, WEIGHTS_DIR).label == "Digits by night (queued)"
    assert main(["list", "--runs-root", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert "NAME" in out
    row = next(line for line in out.splitlines() if run.run_id in line)
    assert "Digits by night" in row and "gan-fast" in row
    assert main(["rename", "no-such-run", "x"]) == 2


def test_runs_page_edits_the_name_and_note_and_compare_lists_it(store, monkeypatch, tmp_path):
    """The operator (this AppTest has no browser owner) renames a run on Runs; Compare's pickers name it."""
    from streamlit.testing.v1 import AppTest
    from ui import visitor

    weights = tmp_path / "weights"
    weights.mkdir()
    for name in ("gan-fast", "vae-fast"):  # Compare needs two sources beside the run, drawn from these
        for suffix in (".json", ".weights.h5"):
            shutil.copy(WEIGHTS_DIR / f"{name}{suffix}", weights / f"{name}{suffix}")
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(weights))
    st.cache_resource.clear()
    st.cache_data.clear()
    run = store.create(tiny_config().to_dict())
    give_checkpoint(run)
    run.update_status(state="stopped")

    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    app.session_state[visitor.OPERATOR_KEY] = True
    app.run()
    app.switch_page("pages/runs.py").run()
    assert not app.exception, app.exception
    assert list(app.dataframe[0].value["name"]) == ["GAN (fast) #1"]
    app.text_input(key=f"runs_name_{run.run_id}").input("Digits by night")
    app.text_area(key=f"runs_note_{run.run_id}").input("lr 2e-4: strokes after 300 steps")
    app.button(key=f"runs_name_save_{run.run_id}").click().run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    assert list(table.columns[:1]) == ["name"] and list(table["name"]) == ["Digits by night"]
    assert list(table["note"]) == ["lr 2e-4: strokes after 300 steps"] and list(table["run"]) == [run.run_id]
    assert app.subheader[0].value == "Digits by night"
    assert app.selectbox(key="runs_select").format_func(run.run_id).startswith("Digits by night")
    assert [text.value for text in app.get("text")] == ["lr 2e-4: strokes after 300 steps"]

    app.switch_page("pages/compare.py").run()
    assert not app.exception, app.exception
    options = app.selectbox(key="compare_left").options
    assert any("Digits by night (stopped)" in option for option in options), options
    st.cache_resource.clear()
    st.cache_data.clear()


def test_the_sidebar_names_the_active_runs(store):
    from streamlit.testing.v1 import AppTest
    from ui import visitor

    queued = store.create(tiny_config().to_dict())  # queued: within the start-up grace, so still active
    rename_run(queued, OPERATOR, "Waiting *in* line")
    store.create(tiny_config(model="vae").to_dict()).update_status(state="finished")
    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    app.session_state[visitor.OPERATOR_KEY] = True
    app.run()
    assert not app.exception, app.exception
    links = [link.proto for link in app.sidebar.get("page_link")]
    assert [(link.label, link.query_string) for link in links] == [(r"Waiting \*in\* line", f"run={queued.run_id}")]
