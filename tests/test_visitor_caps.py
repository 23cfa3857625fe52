"""A run belongs to the browser that started it; the queue caps hold across reloads and tabs.

The browser's identity is its `_streamlit_xsrf` cookie, which AppTest does not carry: the tests
give each simulated browser a cookie through `ui.visitor.browser_cookie`, re-masked for every
session as the server does on each page load. No worker is spawned (`spawn_worker` is a no-op):
a run that no worker picks up stays queued for `STARTUP_GRACE_S`, longer than any test here.
"""

from __future__ import annotations

import errno
import json
import os
from collections import namedtuple

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from aigc_core import files
from aigc_core.runs import housekeeping, ownership, store as runs, worker
from aigc_core.cli import main
from aigc_core.runs.ownership import OPERATOR, NotOwner, Requester
from aigc_core.runs.store import RunStore, own_process_identity
from conftest import PROJECT_ROOT, tiny_config
from ui import visitor as ui_visitor

APP = str(PROJECT_ROOT / "app.py")
TIMEOUT_S = 120
TOKENS = {"alice": bytes(range(16)), "bob": bytes(range(16, 32)), "carol": bytes(range(32, 48))}


def xsrf_cookie(token: bytes, mask: bytes) -> str:
    """The cookie as Streamlit writes it: `2|mask|token XOR mask|timestamp`."""
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(token))
    return f"2|{mask.hex()}|{masked.hex()}|1700000000"


def owner_of(name: str, store: RunStore) -> Requester:
    return ownership.visitor(ui_visitor.identity_from_cookie(xsrf_cookie(TOKENS[name], b"\x01\x02\x03\x04")), store)


@pytest.fixture
def browser(monkeypatch, tmp_path):
    """Which simulated browser the next AppTest session is; every session gets a fresh cookie mask."""
    current = {"name": "alice", "sessions": 0}

    def cookie():
        if current["name"] is None:
            return None
        current["sessions"] += 1
        return xsrf_cookie(TOKENS[current["name"]], os.urandom(4))

    monkeypatch.setattr(ui_visitor, "browser_cookie", cookie)
    monkeypatch.setattr(worker, "spawn_worker", lambda run, *args, **kwargs: None)
    monkeypatch.setenv("AIGC_MIN_FREE_MB", "0")
    monkeypatch.setenv("AIGC_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    streamlit.cache_resource.clear()
    yield current
    streamlit.cache_resource.clear()


def open_page(page: str, query: dict | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    for name, value in (query or {}).items():
        app.query_params[name] = value
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def press_start(app: AppTest) -> AppTest:
    app.number_input(key="train_steps").set_value(5)
    app.button(key="train_start").click().run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def widget_keys(app: AppTest) -> set[str]:
    keys = set()

    def visit(node):
        if getattr(node, "key", None):
            keys.add(node.key)
        for child in getattr(node, "children", {}).values():
            visit(child)

    visit(app._tree)
    return keys


def captions(app: AppTest) -> str:
    return " ".join(item.value for item in app.caption)


def owned_run(store: RunStore, owner: Requester, state: str = "running", **status):
    """A run of `owner` that looks alive (this process as its worker) or ended, as `state` says."""
    run = store.create(tiny_config().to_dict(), owner=owner.owner)
    alive = own_process_identity() if state in runs.ACTIVE_STATES else {}
    run.update_status(state=state, **alive, **status)
    return run


# -- the visitor's identity -------------------------------------------------------------------
def test_the_cookie_token_survives_a_new_mask_and_differs_between_browsers(store):
    first = ui_visitor.cookie_token(xsrf_cookie(TOKENS["alice"], b"\x00\x11\x22\x33"))
    assert first == ui_visitor.cookie_token(xsrf_cookie(TOKENS["alice"], b"\xff\x10\x00\x42")) == TOKENS["alice"].hex()
    assert first != ui_visitor.cookie_token(xsrf_cookie(TOKENS["bob"], b"\x00\x11\x22\x33"))
    assert ui_visitor.cookie_token("not-a-v2-cookie") == "not-a-v2-cookie"

    alice = owner_of("alice", store)
    assert alice.owner and TOKENS["alice"].hex() not in alice.owner and not alice.operator
    assert alice == owner_of("alice", RunStore(store.root))  # one salt per runs folder, kept on disk
    with pytest.raises(ValueError, match="non-empty"):
        ownership.visitor("", store)


# -- caps: library level ----------------------------------------------------------------------
def test_the_visitor_cap_counts_the_run_store_and_spares_others_and_the_operator(store, monkeypatch):
    monkeypatch.setattr(worker, "spawn_worker", lambda run, *args, **kwargs: None)
    monkeypatch.setenv("AIGC_MIN_FREE_MB", "0")
    alice, bob = owner_of("alice", store), owner_of("bob", store)
    owned_run(store, alice, "finished")  # an ended run does not count
    first = worker.launch(tiny_config(), store, alice)
    assert json.loads((first.path / "status.json").read_text())["owner"] == alice.owner
    worker.launch(tiny_config(), store, alice)

    with pytest.raises(ValueError, match="this browser already has 2 queued or running runs") as caught:
        worker.launch(tiny_config(), store, alice)
    assert "\n" not in str(caught.value)
    assert len(store.list()) == 3  # nothing was created for the refused start
    worker.launch(tiny_config(), store, bob)
    worker.launch(tiny_config(), store)  # the operator (CLI) is not capped
    with pytest.raises(ValueError, match="this starts 2 runs"):
        from aigc_core.experiments.twin import launch_twin

        launch_twin(1, "steps", 5, store, requester=bob, train_limit=256)


def test_a_race_is_one_start_for_a_visitor_with_nothing_queued(store, monkeypatch):
    from aigc_core.experiments.twin import RACES, launch_twin

    THREE_WAY = RACES[1]

    spawned = []
    monkeypatch.setattr(worker, "spawn_worker", lambda run, *args, **kwargs: spawned.append(run.run_id))
    monkeypatch.setenv("AIGC_MIN_FREE_MB", "0")
    alice, bob = owner_of("alice", store), owner_of("bob", store)
    # Three members against the default cap of two: a browser with nothing queued may start the race.
    race = launch_twin(1, "steps", 5, store, requester=alice, families=THREE_WAY, train_limit=256)
    assert len(race) == 3 and sorted(spawned) == sorted(run.run_id for run in race)
    assert {json.loads((run.path / "status.json").read_text())["owner"] for run in race} == {alice.owner}
    # With one run of its own queued, the same race is refused whole: nothing is created.
    worker.launch(tiny_config(), store, bob)
    before = len(store.list())
    with pytest.raises(ValueError, match="this starts 3 runs"):
        launch_twin(1, "steps", 5, store, requester=bob, families=THREE_WAY, train_limit=256)
    assert len(store.list()) == before
    # The server-wide cap still counts every member.
    monkeypatch.setenv("AIGC_MAX_QUEUED", str(before + 2))
    with pytest.raises(ValueError, match="the queue is full"):
        launch_twin(1, "steps", 5, store, requester=owner_of("carol", store), families=THREE_WAY, train_limit=256)
    assert len(store.list()) == before


def test_a_race_whose_second_worker_cannot_start_leaves_no_queued_orphan(store, monkeypatch):
    from aigc_core.experiments.twin import launch_twin

    started = []

    def spawn_once(run, *args, **kwargs):
        if started:
            raise OSError(28, "No space left on device")
        started.append(run)

    monkeypatch.setattr(worker, "spawn_worker", spawn_once)
    monkeypatch.setenv("AIGC_MIN_FREE_MB", "0")
    with pytest.raises(OSError):
        launch_twin(1, "steps", 5, store, requester=owner_of("alice", store), train_limit=256)
    (left,) = store.list()  # the member that never got a worker is gone
    assert left.run_id == started[0].run_id and left.stop_requested()


def test_a_full_server_queue_says_how_long_to_wait(store, monkeypatch):
    monkeypatch.setenv("AIGC_MAX_QUEUED", "3")
    monkeypatch.setenv("AIGC_MAX_QUEUED_PER_SESSION", "5")
    alice, bob = owner_of("alice", store), owner_of("bob", store)
    running = owned_run(store, alice, "running", eta_s=200.0)
    owned_run(store, alice, "queued")
    owned_run(store, bob, "queued")

    with pytest.raises(ValueError) as caught:
        ownership.check_queue_caps(owner_of("carol", store), store)
    # The first place frees when the running run ends: 200 s from now, about 4 minutes.
    assert str(caught.value) == ("the queue is full (3 runs waiting or training, at most 3); "
                                 "try again in about 4 minutes")
    running.update_status(eta_s=3000.0)
    with pytest.raises(ValueError, match="try again in about 50 minutes"):
        ownership.check_queue_caps(bob, store)
    ownership.check_queue_caps(OPERATOR, store)
    monkeypatch.setenv("AIGC_MAX_QUEUED", "4")
    ownership.check_queue_caps(owner_of("carol", store), store)


def test_only_the_owner_or_the_operator_stops_resumes_and_deletes_a_run(store, monkeypatch):
    monkeypatch.setattr(worker, "spawn_worker", lambda run, *args, **kwargs: None)
    monkeypatch.setenv("AIGC_MIN_FREE_MB", "0")
    alice, bob = owner_of("alice", store), owner_of("bob", store)
    active = owned_run(store, alice, "running")
    ended = owned_run(store, alice, "stopped")

    with pytest.raises(NotOwner, match=f"only the browser that started run {active.run_id} can stop it"):
        ownership.stop_run(active, bob)
    assert not active.stop_requested()
    with pytest.raises(NotOwner, match="can resume it"):
        worker.resume(ended, requester=bob)
    with pytest.raises(NotOwner, match="can delete it"):
        ownership.delete_run(store, ended.run_id, bob)
    assert ended.raw_status()["state"] == "stopped" and ended.path.exists()

    ownership.stop_run(active, alice)
    assert active.stop_requested()
    worker.resume(ended, requester=alice)
    assert ended.raw_status()["state"] == "queued" and ended.raw_status()["owner"] == alice.owner
    ended.update_status(state="stopped")
    ownership.delete_run(store, ended.run_id, Requester(owner=bob.owner, operator=True))  # an admin
    assert not ended.path.exists()


def low_disk(monkeypatch, free_mb: float) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(housekeeping.shutil, "disk_usage",
                        lambda path: usage(10**12, 10**12, int(free_mb * housekeeping.MEGABYTE)))


def test_resume_refuses_when_the_disk_is_below_the_free_space_floor(store, monkeypatch, capsys):
    spawned = []
    monkeypatch.setattr(worker, "spawn_worker", lambda run, *args, **kwargs: spawned.append(run))
    monkeypatch.setenv("AIGC_MIN_FREE_MB", "500")
    low_disk(monkeypatch, 100)
    run = owned_run(store, owner_of("alice", store), "stopped")

    with pytest.raises(ValueError, match="not enough disk space.*AIGC_MIN_FREE_MB"):
        worker.resume(run)
    assert run.raw_status()["state"] == "stopped" and spawned == []
    assert main(["resume", "--run", str(run.path), "--steps", "5"]) == 2
    assert "not enough disk space" in capsys.readouterr().err

    low_disk(monkeypatch, 600)
    worker.resume(run)
    assert run.raw_status()["state"] == "queued" and spawned == [run]


def refuse_writes_in(monkeypatch, root) -> None:
    """A read-only runs folder, as root sees one: writes and renames under it fail with EACCES."""
    real_rename, real_write = os.rename, runs.write_bytes_atomic

    def refuse(*paths):
        if any(str(path).startswith(str(root)) for path in paths):
            raise PermissionError(errno.EACCES, "Permission denied", str(paths[0]))

    monkeypatch.setattr(os, "rename", lambda source, target: refuse(source, target) or real_rename(source, target))
    monkeypatch.setattr(runs, "write_bytes_atomic", lambda path, data: refuse(path) or real_write(path, data))
    monkeypatch.setattr(files, "write_bytes_atomic", lambda path, data: refuse(path) or real_write(path, data))


def test_deleting_in_a_read_only_folder_loses_no_file(store, monkeypatch):
    run = owned_run(store, owner_of("alice", store), "finished")
    files = sorted(path.name for path in run.path.rglob("*"))
    store.root.chmod(0o500)
    try:
        if os.access(store.root, os.W_OK):  # root ignores permissions: simulate the refusal
            refuse_writes_in(monkeypatch, store.root)
        with pytest.raises(OSError) as caught:
            ownership.delete_run(store, run.run_id, OPERATOR)
    finally:
        store.root.chmod(0o700)
    assert ownership.write_failure(caught.value) == "the runs folder is read-only"
    assert sorted(path.name for path in run.path.rglob("*")) == files


# -- the pages --------------------------------------------------------------------------------
def test_the_caps_hold_across_a_reload_and_spare_other_browsers(store, browser, monkeypatch):
    monkeypatch.setenv("AIGC_MAX_QUEUED", "3")
    first = press_start(open_page("pages/train.py"))
    press_start(first)
    assert len(store.list()) == 2 and not first.error

    reloaded = press_start(open_page("pages/train.py"))  # a reload: a new session, the same cookie
    errors = [item.value for item in reloaded.error]
    assert len(errors) == 1 and "this browser already has 2 queued or running runs" in errors[0], errors
    assert len(store.list()) == 2 and browser["sessions"] >= 2

    browser["name"] = "bob"
    assert not press_start(open_page("pages/train.py")).error
    browser["name"] = "carol"
    errors = [item.value for item in press_start(open_page("pages/train.py")).error]
    assert len(errors) == 1 and errors[0].startswith("Could not start: the queue is full (3 runs waiting"), errors
    assert "try again in about" in errors[0] and len(store.list()) == 3


def test_another_browser_watches_but_cannot_stop_or_delete_and_the_operator_can(store, browser, monkeypatch):
    monkeypatch.setenv("AIGC_ADMIN_TOKEN", "s3cret-operator-token")
    alice = owner_of("alice", store)
    active = owned_run(store, alice, "running")

    browser["name"] = "bob"
    watcher = open_page("pages/train.py", {"run": active.run_id})
    assert "train_stop" not in widget_keys(watcher)
    assert "Only the browser that started this run can stop it." in captions(watcher)
    wrong = open_page("pages/train.py", {"run": active.run_id, "admin": "guess"})
    assert "train_stop" not in widget_keys(wrong) and "admin" not in wrong.query_params

    operator = open_page("pages/train.py", {"run": active.run_id, "admin": "s3cret-operator-token"})
    assert "admin" not in operator.query_params  # no shared link carries the token
    operator.button(key="train_stop").click().run()
    assert not operator.exception and active.stop_requested()

    active.stop_path.unlink()
    active.update_status(state="finished")
    listing = open_page("pages/runs.py")
    assert "runs_delete" not in widget_keys(listing) and listing.get("download_button")
    assert "Only the browser that started this run can delete it." in captions(listing)

    browser["name"] = "alice"
    owner = open_page("pages/runs.py")
    owner.checkbox(key="runs_confirm_delete").check().run()
    owner.button(key="runs_delete").click().run()
    assert not owner.exception and not active.path.exists()


def test_stop_and_delete_in_a_read_only_folder_say_so_in_one_line(store, browser, monkeypatch):
    alice = owner_of("alice", store)
    active = owned_run(store, alice, "running")
    ended = owned_run(store, alice, "finished")
    refuse_writes_in(monkeypatch, store.root)

    app = open_page("pages/train.py", {"run": active.run_id})
    app.button(key="train_stop").click().run()
    expected = "Could not stop the run: the runs folder is read-only"
    assert not app.exception and [item.value for item in app.error] == [expected]
    app.run()  # the live view redraws: the refusal stays on screen
    assert [item.value for item in app.error] == [expected] and not active.stop_requested()

    listing = open_page("pages/runs.py", {"run": ended.run_id})
    listing.checkbox(key="runs_confirm_delete").check().run()
    listing.button(key="runs_delete").click().run()
    assert not listing.exception
    assert [item.value for item in listing.error] == ["Could not delete the run: the runs folder is read-only"]
    assert (ended.path / "config.json").exists()


def test_without_a_cookie_a_session_is_its_own_visitor(store, browser):
    browser["name"] = None  # XSRF protection off: no cookie to tell browsers apart
    starter = press_start(open_page("pages/train.py"))
    assert "train_stop" in widget_keys(starter) and not starter.error
    run_id = store.list()[0].run_id
    other = open_page("pages/train.py", {"run": run_id})
    assert "train_stop" not in widget_keys(other)


def test_a_run_deleted_meanwhile_says_so_instead_of_offering_its_files(store, browser):
    from ui import runs_view

    alice = owner_of("alice", store)
    older = owned_run(store, alice, "finished")
    shown = owned_run(store, alice, "finished")
    browser["name"] = "bob"
    watcher = open_page("pages/runs.py", {"run": shown.run_id})
    assert watcher.selectbox(key="runs_select").value == shown.run_id
    download = runs_view._deferred(shown, lambda: b"the file")
    assert download() == b"the file"

    ownership.delete_run(store, shown.run_id, alice)  # the owner, in another tab
    with pytest.raises(FileNotFoundError, match=f"run {shown.run_id} was deleted meanwhile"):
        download()
    watcher.run()
    assert not watcher.exception
    assert [item.value for item in watcher.error] == [
        f"Run {shown.run_id} was deleted meanwhile: its files can no longer be downloaded."]
    assert watcher.selectbox(key="runs_select").value == older.run_id
    watcher.run()
    assert not watcher.error  # said once
