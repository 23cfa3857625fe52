"""Load test: many browser sessions on one real `streamlit run`, some of them starting runs.

    python bench/load_test.py [--sessions 10] [--starters 5] [--steps 30]

Each session is its own Playwright browser context (its own cookies and Streamlit session) in
Debian's Chromium. All sessions open the Train page at once; `--starters` of them then start a
run each, with a seed of their own, so a run that shows up in the wrong session or with the
wrong seed is caught. While the queue drains (one training at a time, as on the demo server),
visitors go on using the app, one action every `--think-s` seconds: a session that started a
run watches it (the page updates itself; every action checks that its URL and heading still
name its own run) until the run has ended, then opens its run's link again (a full page load;
the page must name its own run) and browses on; the others switch pages in the app (Train,
Runs, Train, ... from the sidebar). Every render is timed: from the request to the page drawn
and its script finished.

Most of a first visit is the browser starting Streamlit's own frontend, on the same cores as
the server. So before the app, the same number of sessions open a one-line Streamlit app at
once, in this command: the burst of first visits is judged against that baseline (a ratio),
the renders after it against `--p95-limit` seconds.

The browsers share the machine with the server: on the 2-core CPU machine a first visit cost
Chromium ~2.4 s of CPU for a one-line Streamlit page as for ours, against the server's ~0.1 s
(2026-11-29). So the table also prints where the CPU went (server, training worker, browsers)
and the server's own CPU seconds per page it drew, the part a deployment controls.

The server's own part of every render is timed too, on the wire: from the browser's request for
a script run to the server's "script finished", read from the frames' timestamps in Chromium's
network stack (every script run: first visits, clicks, live updates).

Checks (the verdict line): every started run finishes, none is lost or duplicated, each run's
config carries the seed its session set, each session's URL names its own run, the 95th
percentiles of the renders after the first visits and of the server's script runs (all of
them) stay under `--p95-limit` seconds, and the first visits' median is at most
`--arrival-ratio-limit` times the one-line app's. `--warm-up`
lets one visitor open the app before the crowd (the first page load of a server imports
TensorFlow). Prints the figures the README quotes, the 95th percentile over all renders too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT / "tests"))
sys.path.insert(0, str(PROJECT_ROOT))

from browser_support import CHROMIUM_ARGS, CHROMIUM_PATH, VIEWPORT, StreamlitServer  # noqa: E402

RUN_ID_PATTERN = re.compile(r"[?&]run=([^&#]+)")
LOAD_TIMEOUT_MS = 120_000
SEED_BASE = 1000
PAGE_HEADINGS = {"Train": "Train a model", "Runs": "Runs"}  # sidebar entry -> its page's title


async def wait_rendered(page) -> None:
    """Connected, script finished, and the page's title drawn: what a visitor waits for."""
    await page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=LOAD_TIMEOUT_MS)
    await page.wait_for_selector("[data-testid='stMain'] h1", timeout=LOAD_TIMEOUT_MS)
    await page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=LOAD_TIMEOUT_MS)


async def timed_load(page, url: str, render_times: list[float]) -> None:
    started = time.monotonic()
    await page.goto(url, wait_until="domcontentloaded", timeout=LOAD_TIMEOUT_MS)
    await wait_rendered(page)
    render_times.append(time.monotonic() - started)


async def timed_switch(page, title: str, render_times: list[float]) -> None:
    """Click a page in the sidebar (no page load: the app reruns over its websocket) and time it."""
    started = time.monotonic()
    await page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()
    await page.wait_for_function(
        "title => [...document.querySelectorAll(\"[data-testid='stMain'] h1\")].some(h => h.textContent.includes(title))",
        arg=PAGE_HEADINGS[title], timeout=LOAD_TIMEOUT_MS)
    await page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=LOAD_TIMEOUT_MS)
    render_times.append(time.monotonic() - started)


async def settle(page) -> None:
    await asyncio.sleep(0.6)
    await page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=LOAD_TIMEOUT_MS)


async def start_run(page, steps: int, seed: int, render_times: list[float]) -> str:
    """Set a step budget and this session's seed, press Start, return the run id from the URL.

    The time from the click on Start to the run's page drawn goes into `render_times`.
    """
    await page.locator(".st-key-train_budget_kind").get_by_text("steps", exact=True).click()
    await settle(page)
    for key, value in (("train_steps", steps), ("train_seed", seed)):
        field = page.locator(f".st-key-{key} input")
        await field.fill(str(value))
        await field.press("Enter")
        await settle(page)
    started = time.monotonic()
    await page.locator(".st-key-train_start button").click()
    await page.wait_for_url(lambda url: RUN_ID_PATTERN.search(url) is not None, timeout=LOAD_TIMEOUT_MS)
    run_id = RUN_ID_PATTERN.search(page.url).group(1)
    await page.locator("[data-testid='stMain']").get_by_text(f"Run {run_id}").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    await page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=LOAD_TIMEOUT_MS)
    render_times.append(time.monotonic() - started)
    return run_id


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def watch_script_runs(context, page, server_times: list[float]) -> None:
    """Time every script run of this page on the wire: the browser's rerun request to the server's script_finished.

    That is the server's part of a render (its queue, the script, sending the page), read from
    the frames' own timestamps in Chromium's network stack (DevTools protocol), not from when
    this process hears of them. Live updates of a watched run are script runs too.
    """
    import base64

    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    devtools = await context.new_cdp_session(page)
    await devtools.send("Network.enable")
    requested: list[float] = []

    def sent(event) -> None:
        try:
            message = BackMsg.FromString(base64.b64decode(event["response"]["payloadData"]))
        except Exception:  # not a Streamlit message
            return
        if message.WhichOneof("type") == "rerun_script":
            # A request that replaces one still pending (Streamlit stops that run) restarts the clock.
            requested[:] = [event["timestamp"]]

    def received(event) -> None:
        payload = event["response"]["payloadData"]
        if not requested or len(payload) > 400:  # script_finished is a few bytes; skip decoding page deltas
            return
        try:
            message = ForwardMsg.FromString(base64.b64decode(payload))
        except Exception:
            return
        if message.WhichOneof("type") == "script_finished":
            server_times.append(event["timestamp"] - requested.pop())

    devtools.on("Network.webSocketFrameSent", sent)
    devtools.on("Network.webSocketFrameReceived", received)


async def session(index: int, browser, server, args, shared: dict) -> None:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    try:
        await watch_script_runs(context, page, shared["server_times"])
        await timed_load(page, f"{server.url}/train", shared["first_render"])
        if index < args.starters:
            seed = SEED_BASE + index
            run_id = await start_run(page, args.steps, seed, shared["start_renders"])
            shared["started"][index] = (run_id, seed)
        # Keep using the app while the queue drains: render time under load.
        next_page, reopened = "Runs", index >= args.starters
        while not shared["done"].is_set():
            await asyncio.sleep(args.think_s)
            if shared["done"].is_set():
                break
            if reopened:
                await timed_switch(page, next_page, shared["switches"])
                next_page = "Train" if next_page == "Runs" else "Runs"
                continue
            # A starter watches its run (the page updates itself) and checks it is still its own;
            # once the run has ended it comes back through the run's link: a full page load.
            await check_own_run(page, index, shared)
            if run_ended(server.runs_dir, shared["started"][index][0]):
                await reopen_own_run(page, index, shared)
                reopened = True
        if not reopened:  # the last run ended after this session's last look
            await reopen_own_run(page, index, shared)
    except Exception as error:  # report, do not hide: a failed session is a failed load test
        shared["errors"].append(f"session {index}: {type(error).__name__}: {str(error)[:300]}")
    finally:
        await context.close()


async def reopen_own_run(page, index: int, shared: dict) -> None:
    await timed_load(page, page.url, shared["reloads"])
    await check_own_run(page, index, shared)


def run_ended(runs_dir: Path, run_id: str) -> bool:
    from aigc_core.runs.store import FINAL_STATES, RunStore

    return RunStore(runs_dir).get(run_id).status().get("state") in FINAL_STATES


async def check_own_run(page, index: int, shared: dict) -> None:
    """The page's URL and heading must name the run this session started, never another's."""
    shown = RUN_ID_PATTERN.search(page.url)
    own = shared["started"][index][0]
    if not shown or shown.group(1) != own or f"Run {own}" not in await page.locator("[data-testid='stMain']").inner_text():
        shared["mixed_up"].append(f"session {index} shows {page.url}")


async def wait_for_runs(store, shared: dict, args) -> None:
    from aigc_core.runs.store import FINAL_STATES

    deadline = time.monotonic() + args.timeout_s
    while time.monotonic() < deadline:
        if len(shared["errors"]) >= args.sessions:
            break  # every session failed: nothing will finish
        if len(shared["started"]) + len(shared["errors"]) >= args.starters:
            runs = store.list()
            if all(run.status().get("state") in FINAL_STATES for run in runs):
                break
        await asyncio.sleep(1.0)
    shared["done"].set()


async def main_async(args) -> int:
    from playwright.async_api import async_playwright

    from aigc_core.runs.store import RunStore

    with tempfile.TemporaryDirectory(prefix="aigc-load-") as folder:
        runs_dir = Path(folder) / "runs"
        server = StreamlitServer(runs_dir, Path(folder) / "server.log").start()
        shared = {"warm_up": [], "first_render": [], "start_renders": [], "switches": [], "reloads": [], "started": {},
                  "server_times": [], "mixed_up": [],
                  "errors": [], "done": asyncio.Event()}
        try:
            server.wait_until_healthy()
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS)
                shared["baseline"] = await baseline_first_visits(browser, Path(folder), args.sessions)
                if args.warm_up:  # one visitor first, alone: the server imports TensorFlow on its first page
                    context = await browser.new_context(viewport=VIEWPORT)
                    await timed_load(await context.new_page(), f"{server.url}/train", shared["warm_up"])
                    await context.close()
                began, sampler = time.monotonic(), CpuSampler(runs_dir)
                sampler.start()
                sampling = asyncio.create_task(sampler.run(shared["done"]))
                store = RunStore(runs_dir)
                tasks = [asyncio.create_task(session(index, browser, server, args, shared)) for index in range(args.sessions)]
                await wait_for_runs(store, shared, args)
                await asyncio.gather(*tasks, sampling)
                await browser.close()
            elapsed = time.monotonic() - began
            return report(args, shared, RunStore(runs_dir), elapsed, sampler.totals())
        finally:
            server.stop()


HELLO_WORLD = 'import streamlit as st\n\nst.title("Train a model")\n'


async def baseline_first_visits(browser, folder: Path, sessions: int) -> list[float]:
    """First visits of `sessions` browsers at once to a one-line Streamlit app: what any Streamlit page costs here.

    Most of a first visit is the browser starting Streamlit's own frontend (about 2.4 s of CPU
    per visit on the 2-core Xeon, for this one-line page as for ours). Measured in the same
    command, it tells the app's share of the burst from Streamlit's.
    """
    script = folder / "hello_world.py"
    script.write_text(HELLO_WORLD)
    server = StreamlitServer(folder / "hello_runs", folder / "hello.log", script=str(script)).start()
    try:
        server.wait_until_healthy()
        contexts = [await browser.new_context(viewport=VIEWPORT) for _ in range(sessions + 1)]
        await timed_load(await contexts[0].new_page(), server.url, [])  # its warm-up visit
        pages = [await context.new_page() for context in contexts[1:]]
        times: list[float] = []
        await asyncio.gather(*(timed_load(page, server.url, times) for page in pages))
        for context in contexts:
            await context.close()
        return times
    finally:
        server.stop()


class CpuSampler:
    """CPU seconds per role (server, training workers, browsers), sampled from /proc each second.

    Processes are told apart by their command line. Each process's last sample counts, so
    workers and browser tabs that exit during the test are still in (less their last second).
    Linux only: elsewhere nothing is sampled and the CPU line is left out.
    """

    def __init__(self, runs_dir: Path):
        self.runs_dir = str(runs_dir)
        self.latest: dict[int, tuple[str, float]] = {}  # pid -> (role, CPU seconds so far)
        self.baseline: dict[int, float] = {}

    def role_of(self, command: str) -> str | None:
        if "streamlit run" in command:
            return "server"
        if "aigc_core" in command:
            return "workers"
        if "chromium" in command or "playwright" in command or "node" in command.split(" ")[0]:
            return "browsers"
        return None

    def sample(self) -> None:
        try:
            tick = os.sysconf("SC_CLK_TCK")
            entries = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
        except (OSError, ValueError, AttributeError):
            return
        for pid in entries:
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            role = self.role_of(command)
            if role:
                self.latest[pid] = (role, (int(fields[11]) + int(fields[12])) / tick)

    def start(self) -> None:
        self.sample()
        self.baseline = {pid: seconds for pid, (_, seconds) in self.latest.items()}

    async def run(self, done: asyncio.Event) -> None:
        while not done.is_set():
            self.sample()
            await asyncio.sleep(1.0)
        self.sample()

    def totals(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pid, (role, seconds) in self.latest.items():
            totals[role] = totals.get(role, 0.0) + seconds - self.baseline.get(pid, 0.0)
        return totals


def report(args, shared: dict, store, elapsed: float, cpu: dict[str, float]) -> int:
    runs = store.list()
    states = {run.run_id: run.status().get("state") for run in runs}
    problems = list(shared["errors"]) + sorted(set(shared["mixed_up"]))
    started_ids = [run_id for run_id, _ in shared["started"].values()]
    if len(started_ids) != args.starters or len(set(started_ids)) != len(started_ids):
        problems.append(f"{len(started_ids)} runs started by {args.starters} sessions: {started_ids}")
    if sorted(states) != sorted(started_ids):
        problems.append(f"run folder holds {sorted(states)}, sessions started {sorted(started_ids)}")
    queue_waits = []  # Start pressed -> finished, seconds: queue wait plus training
    for run_id, seed in shared["started"].values():
        run = store.get(run_id)
        status, config = run.status(), run.config()
        if status.get("state") != "finished" or status.get("step") != args.steps:
            problems.append(f"{run_id}: {status.get('state')} at step {status.get('step')} ({status.get('error')})")
        if config.get("seed") != seed:
            problems.append(f"{run_id}: seed {config.get('seed')}, its session set {seed}")
        queue_waits.append(status.get("updated_at", 0) - status.get("created_at", 0))

    first, starts, switches, reloads = (shared[key] for key in ("first_render", "start_renders", "switches", "reloads"))
    after_arrival = starts + switches + reloads
    renders = first + after_arrival
    print(f"sessions {args.sessions}, runs started {len(started_ids)}, finished "
          f"{sum(1 for s in states.values() if s == 'finished')}, wall time {elapsed:.0f} s, "
          f"one action per session every {args.think_s:g} s")
    if shared["warm_up"]:
        print(f"warm-up: the server's first page, one visitor alone: {shared['warm_up'][0]:.2f} s")
    print(f"{'render time (s)':36} {'n':>5} {'p50':>7} {'p95':>6} {'max':>6}")
    for name, values in (("one-line Streamlit app, all at once", shared.get("baseline", [])),
                         ("first visit, all at once", first), ("Start pressed -> run page", starts),
                         ("page switch in the app", switches), ("own run's link, reopened", reloads),
                         ("after the arrival", after_arrival), ("all renders", renders),
                         ("server: request -> script finished", shared["server_times"])):
        if values:
            print(f"{name:36} {len(values):5d} {statistics.median(values):7.2f} {percentile(values, 0.95):6.2f} {max(values):6.2f}")
    if queue_waits:
        print("start-to-finish per run (s): " + ", ".join(f"{value:.0f}" for value in sorted(queue_waits)))
    if cpu:
        cores = os.cpu_count() or 1
        print(f"CPU during the test ({cores} cores, {elapsed:.0f} s): " + ", ".join(
            f"{role} {seconds:.0f} s ({seconds / elapsed:.0%} of one core)" for role, seconds in sorted(cpu.items())))
        if renders and "server" in cpu:
            print(f"server CPU per page drawn: {cpu['server'] / len(renders):.2f} s "
                  f"(live updates of watched runs included)")
    p95 = percentile(after_arrival, 0.95) if after_arrival else float("inf")
    if p95 > args.p95_limit:
        problems.append(f"95th percentile render time after the arrival {p95:.2f} s over the {args.p95_limit:.1f} s limit")
    server_p95 = percentile(shared["server_times"], 0.95) if shared["server_times"] else float("inf")
    if server_p95 > args.p95_limit:
        problems.append(f"95th percentile of the server's script runs {server_p95:.2f} s over the {args.p95_limit:.1f} s limit")
    baseline = shared.get("baseline") or []
    arrival_ratio = statistics.median(first) / statistics.median(baseline) if first and baseline else float("inf")
    print(f"first visits at once: median {arrival_ratio:.2f}x the one-line Streamlit app's "
          f"(limit {args.arrival_ratio_limit:.2f}x)")
    if arrival_ratio > args.arrival_ratio_limit:
        problems.append(f"first visits at once {arrival_ratio:.2f}x the one-line Streamlit app's, "
                        f"over the {args.arrival_ratio_limit:.2f}x limit")
    for problem in problems:
        print("PROBLEM:", problem)
    verdict = "PASS" if not problems else "FAIL"
    print(f"verdict: {verdict}: {len(started_ids)} of {args.starters} runs finished unmixed; "
          f"p95 render after the arrival {p95:.2f} s, p95 of the server's script runs {server_p95:.2f} s "
          f"(limit {args.p95_limit:.1f} s); "
          f"first visits {arrival_ratio:.2f}x a one-line Streamlit app's (limit {args.arrival_ratio_limit:.2f}x)")
    return 0 if not problems else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--starters", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--think-s", type=float, default=5.0,
                        help="pause between a session's actions (a page switch, or a reload of its run)")
    parser.add_argument("--warm-up", action="store_true", help="one visitor opens the app before the crowd arrives")
    parser.add_argument("--p95-limit", type=float, default=5.0,
                        help="seconds allowed at the 95th percentile of the renders after the first visits")
    parser.add_argument("--arrival-ratio-limit", type=float, default=2.0,
                        help="first visits at once, median, at most this many times a one-line Streamlit app's "
                             "(the Train page loads its form's widgets too: 1.3-1.6x measured)")
    parser.add_argument("--timeout-s", type=float, default=900.0)
    args = parser.parse_args(argv)
    if not 1 <= args.starters <= args.sessions:
        parser.error("--starters must be between 1 and --sessions")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
