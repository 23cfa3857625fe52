"""The Ray executor against a real local Ray cluster on 127.0.0.1 (one head node, 2 CPUs).

The cluster is started once for the module with `ray start --head` and stopped at the end with
`ray stop --force`, also when a test fails; every Ray process is kept on loopback by
`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`. Runs are tiny (a VAE, 256 images, tens of steps);
each Ray task is a fresh worker process that imports TensorFlow, which is most of the time here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import PROJECT_ROOT, tiny_config, wait_for

LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
# Ray reads this when it is imported: set later, this process would look for the cluster on the
# machine's network address while the cluster listens on 127.0.0.1, and `ray.init` hangs.
os.environ.update(LOOPBACK)
ray = pytest.importorskip("ray")

from aigc_core.runs import executors, worker  # noqa: E402
from aigc_core.cli import main  # noqa: E402
from aigc_core.runs.executors.ray_executor import RayExecutor  # noqa: E402
from aigc_core.runs.housekeeping import reconcile  # noqa: E402
from aigc_core.runs.run_control import set_speed  # noqa: E402
from aigc_core.runs.store import RunStore  # noqa: E402

pytestmark = pytest.mark.ray

RUN_TIMEOUT_S = 300.0  # generous: the cores are shared with the rest of the suite


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_head() -> str:
    """`ray start --head` on a free loopback port, tried three times.

    Ray gives its raylet a fixed 30 s to register; on two cores shared with the rest of the suite
    that can pass, and a port can be taken between choosing it and binding it.
    """
    for _ in range(3):
        address = f"127.0.0.1:{free_port()}"
        started = subprocess.run(["ray", "start", "--head", "--node-ip-address=127.0.0.1",
                                  f"--port={address.split(':')[1]}", "--num-cpus=2", "--include-dashboard=false",
                                  "--disable-usage-stats"], capture_output=True, text=True, timeout=180)
        if started.returncode == 0:
            return address
        subprocess.run(["ray", "stop", "--force"], capture_output=True, timeout=120)
    pytest.fail(f"ray start failed: {(started.stderr or started.stdout)[-2000:]}")


@pytest.fixture(scope="module")
def ray_cluster():
    """A one-node Ray cluster on 127.0.0.1 with 2 CPUs, chosen by `AIGC_EXECUTOR=ray` for the module."""
    started = time.monotonic()
    saved = {name: os.environ.get(name) for name in (*LOOPBACK, "AIGC_EXECUTOR", "AIGC_RAY_ADDRESS")}
    os.environ.update(LOOPBACK)
    try:
        address = start_head()
        os.environ.update({"AIGC_EXECUTOR": "ray", "AIGC_RAY_ADDRESS": address})
        executors._executors.pop("ray", None)
        print(f"\nray cluster at {address} started in {time.monotonic() - started:.1f} s")
        yield address
    finally:
        ray.shutdown()
        subprocess.run(["ray", "stop", "--force"], capture_output=True, timeout=120)
        executors._executors.pop("ray", None)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def timed(request):
    started = time.monotonic()
    yield
    print(f"\n{request.node.name}: {time.monotonic() - started:.1f} s")


def vae_config(**changes):
    return tiny_config(**{"model": "vae", "steps": 20, "log_every": 5, "sample_every": 10,
                          "checkpoint_every": 10, **changes})


def logged_steps(run) -> list[int]:
    return [row["step"] for row in run.metrics()]


def final_state(run, timeout_s: float = RUN_TIMEOUT_S) -> str:
    def done():
        state = run.status().get("state")
        return state if state not in ("queued", "running") else None

    return wait_for(done, timeout_s, interval_s=0.5,
                    message=lambda: f"run {run.run_id} to end; status {json.dumps(run.raw_status())}")


def test_three_runs_submitted_at_once_through_cli_and_launch_all_finish(ray_cluster, runs_dir, capsys):
    command = [sys.executable, "-m", "aigc_core", "train", "--model", "vae", "--steps", "20", "--train-limit", "256",
               "--batch-size", "32", "--log-every", "5", "--sample-every", "10", "--checkpoint-every", "10",
               "--detach"]
    cli = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    launched = [worker.launch(vae_config()), worker.launch(vae_config(seed=1))]  # what the Train page calls
    output, errors = cli.communicate(timeout=RUN_TIMEOUT_S)
    assert cli.returncode == 0, errors
    store = RunStore(runs_dir)
    printed = output.strip().splitlines()[-1].removeprefix("run directory: ")
    runs = [store.open_path(printed), *launched]
    assert len({run.run_id for run in runs}) == 3
    for run in runs:
        assert final_state(run) == "finished", run.raw_status()
        status = run.raw_status()
        assert status["executor"] == "ray" and "127.0.0.1" in status["where"]
        assert logged_steps(run) == [5, 10, 15, 20]
        assert run.checkpoint()["step"] == 20 and run.weights_path.exists()
        assert [step for step, _ in run.snapshots()] == [0, 10, 20]
    assert main(["list"]) == 0
    assert capsys.readouterr().out.count(f"ray@{socket.gethostname()} (127.0.0.1)") == 3


def test_start_on_the_train_page_trains_on_the_ray_cluster(ray_cluster, runs_dir, isolated_app):
    """The same app, unchanged: with `AIGC_EXECUTOR=ray` its Start button places the run on Ray."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    app.run()
    app.switch_page("pages/train.py").run()
    app.number_input(key="train_batch_size").set_value(32)
    app.number_input(key="train_steps").set_value(20)
    app.button(key="train_start").click().run()
    assert not app.exception and not app.error, [item.value for item in [*app.exception, *app.error]]
    run_id = app.query_params["run"]
    run = RunStore(runs_dir).get(run_id[0] if isinstance(run_id, list) else run_id)
    assert final_state(run) == "finished", run.raw_status()
    status = run.raw_status()
    assert status["executor"] == "ray" and "127.0.0.1" in status["where"]
    assert run.checkpoint()["step"] == 20 and run.weights_path.exists()


def test_worker_killed_mid_run_is_retried_from_its_checkpoint_then_failed_when_retries_run_out(
        ray_cluster, runs_dir, monkeypatch):
    def kill_after_first_checkpoint(run):
        wait_for(lambda: (run.checkpoint() or {}).get("step", 0) >= 10 and run.raw_status().get("state") == "running",
                 RUN_TIMEOUT_S, message=lambda: json.dumps(run.raw_status()))
        status = run.raw_status()
        os.kill(status["pid"], signal.SIGKILL)
        return status["pid"]

    run = worker.launch(vae_config(steps=30))
    set_speed(run, "slow")  # 5 steps a second, kept across the retry: room to kill it mid-run
    killed = kill_after_first_checkpoint(run)
    assert final_state(run) == "finished", run.raw_status()
    status = run.raw_status()
    assert status["attempts"] == 2 and status["pid"] != killed
    assert logged_steps(run) == list(range(5, 31, 5))  # no step repeated or missing

    monkeypatch.setenv("AIGC_RAY_MAX_RETRIES", "0")
    doomed = worker.launch(vae_config(steps=30))
    set_speed(doomed, "slow")
    kill_after_first_checkpoint(doomed)
    assert final_state(doomed) == "failed"
    error = doomed.raw_status()["error"]
    assert error.startswith("Ray gave up after 0 retries: ") and "\n" not in error


def test_stop_a_queued_and_a_running_run(ray_cluster, runs_dir, monkeypatch):
    monkeypatch.setenv("AIGC_RAY_CPUS_PER_RUN", "2")  # the first run holds the whole cluster: the second waits
    running = worker.launch(vae_config(steps=2000))
    wait_for(lambda: running.raw_status().get("state") == "running", RUN_TIMEOUT_S)
    queued = worker.launch(vae_config(steps=20))
    store = RunStore(runs_dir)
    assert executors.executor_for(queued).state(queued, store) == {"state": "queued", "queue_position": 0,
                                                                   "where": None}
    worker.stop(queued)
    assert final_state(queued, timeout_s=60) == "stopped"
    assert queued.raw_status().get("error") is None and not queued.metrics_path.exists()
    worker.stop(running)
    assert final_state(running) == "stopped"
    assert 0 < running.raw_status()["step"] < 2000


def test_a_restarted_app_reconciles_with_rays_state(ray_cluster, runs_dir, monkeypatch):
    store = RunStore(runs_dir)
    monkeypatch.setenv("AIGC_RAY_CPUS_PER_RUN", "3")  # more than the cluster has: Ray holds it queued
    waiting = worker.launch(vae_config())
    # A run Ray never heard of: what a cluster restart leaves behind in the store.
    lost = store.create(vae_config().to_dict())
    lost.update_status(state="running", executor="ray", pid=None, step=3)
    assert reconcile(store) == []  # what a starting app calls: no local worker to restart
    assert lost.status()["state"] == "failed" and "Ray has no task for this run" in lost.status()["error"]
    restarted = RayExecutor(os.environ["AIGC_RAY_ADDRESS"])  # a new app process's executor object
    assert restarted.reconcile(store) == []
    assert restarted.state(waiting, store) == {"state": "queued", "queue_position": 0, "where": None}
    restarted.stop(waiting)
    assert final_state(waiting, timeout_s=60) == "stopped"
    capacity = restarted.capacity()
    assert (capacity.workers, capacity.cpus, capacity.gpus) == (1, 2.0, 0.0)
    assert restarted.describe() == f"Ray cluster at {os.environ['AIGC_RAY_ADDRESS']}"


def test_a_frozen_worker_is_cancelled_by_force_after_the_grace_period(ray_cluster, runs_dir, monkeypatch):
    """A run whose worker cannot reach a step boundary (here frozen with SIGSTOP) still stops.

    The dispatcher reads its grace period when it is created, so the test replaces the module's
    dispatcher (default 30 s) with one that waits 2 s, and removes it again at the end. It runs
    last in the module: the dispatcher owns every task, and none is left running by then.
    """
    from aigc_core.runs.executors.ray_executor import DISPATCHER_NAME, NAMESPACE

    def replace_dispatcher():
        ray.kill(RayExecutor(os.environ["AIGC_RAY_ADDRESS"]).dispatcher(), no_restart=True)
        wait_for(lambda: not _named_actor_exists(DISPATCHER_NAME, NAMESPACE), 60)

    monkeypatch.setenv("AIGC_RAY_STOP_GRACE_S", "2")
    replace_dispatcher()
    try:
        run = worker.launch(vae_config(steps=2000))
        set_speed(run, "slow")
        wait_for(lambda: run.raw_status().get("state") == "running" and run.raw_status().get("pid"),
                 RUN_TIMEOUT_S, message=lambda: json.dumps(run.raw_status()))
        pid = run.raw_status()["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            worker.stop(run)
            state = final_state(run, timeout_s=60)
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        assert state == "stopped", run.raw_status()
        assert run.raw_status()["error"].startswith("stopped by force: training did not stop within ")
        assert not run.stop_path.exists()
        assert not _process_alive(pid)
    finally:
        monkeypatch.delenv("AIGC_RAY_STOP_GRACE_S")
        replace_dispatcher()


def _named_actor_exists(name: str, namespace: str) -> bool:
    try:
        ray.get_actor(name, namespace=namespace)
    except ValueError:
        return False
    return True


def _process_alive(pid: int) -> bool:
    """True while `pid` is a process that has not exited (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
