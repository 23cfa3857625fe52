"""The admission lock that app replicas on several hosts share (`aigc_core.files.directory_lock`)."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time

import pytest

from aigc_core.files import LockTimeout, directory_lock


def _take_turns(lock_path: str, log_path: str, turns: int) -> None:
    for _ in range(turns):
        with directory_lock(lock_path, timeout_s=30):
            with open(log_path, "a") as log:
                log.write(f"enter {os.getpid()}\n")
            time.sleep(0.01)
            with open(log_path, "a") as log:
                log.write(f"leave {os.getpid()}\n")


def test_only_one_process_holds_the_lock_at_a_time(tmp_path):
    lock, log = tmp_path / ".lock", tmp_path / "log"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_take_turns, args=(str(lock), str(log), 8)) for _ in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    lines = log.read_text().splitlines()
    assert len(lines) == 3 * 8 * 2
    for enter, leave in zip(lines[0::2], lines[1::2]):  # never two holders: each enter is followed by its own leave
        assert enter.startswith("enter ") and leave == "leave " + enter.split()[1], lines
    assert not lock.exists()


def _write_holder(lock, host: str, pid: int, age_s: float = 0.0) -> None:
    lock.mkdir()
    (lock / "holder").write_text(f"{host} {pid} {time.time() - age_s:.3f}")
    if age_s:
        os.utime(lock, (time.time() - age_s, time.time() - age_s))


def test_a_lock_left_by_a_dead_process_on_this_host_is_broken_at_once(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    lock = tmp_path / ".lock"
    _write_holder(lock, socket.gethostname(), dead_pid)
    started = time.monotonic()
    with directory_lock(lock, timeout_s=5):
        assert (lock / "holder").read_text().split()[1] == str(os.getpid())
    assert time.monotonic() - started < 2
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_a_lock_held_on_another_host_is_waited_for_until_it_is_stale(tmp_path):
    lock = tmp_path / ".lock"
    _write_holder(lock, "another-host", 1)
    with pytest.raises(LockTimeout):
        with directory_lock(lock, timeout_s=0.2, stale_after_s=30):
            pass
    assert (lock / "holder").read_text().startswith("another-host ")
    os.utime(lock, (time.time() - 60, time.time() - 60))
    with directory_lock(lock, timeout_s=1, stale_after_s=30):
        assert (lock / "holder").read_text().startswith(socket.gethostname() + " ")


def test_a_holder_that_died_before_naming_itself_is_broken_once_stale(tmp_path):
    lock = tmp_path / ".lock"
    lock.mkdir()
    with pytest.raises(LockTimeout):
        with directory_lock(lock, timeout_s=0.1, stale_after_s=30):
            pass
    os.utime(lock, (time.time() - 60, time.time() - 60))
    with directory_lock(lock, timeout_s=1, stale_after_s=30):
        pass
    assert not lock.exists()
