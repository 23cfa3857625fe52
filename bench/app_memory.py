"""Memory: the app process across consecutive runs, and each training worker's peak.

    python bench/app_memory.py [--runs 20] [--steps 20]

One browser session on a real `streamlit run` starts `--runs` runs one after the other from
the Train page (alternating GAN and VAE), waiting for each to finish and watching its page
render the finished run. After each run the resident memory (VmRSS) of the Streamlit server
process is read from /proc; each worker's peak (VmHWM) is read while it trains.

Training happens in worker processes that exit, so the server's memory must not grow with
each run. Verdict: PASS when the growth from the end of run 5 (caches warm) to the last run is
under `--growth-limit-mb`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import (  # noqa: E402  (bench/ is not a package)
    CHROMIUM_ARGS, CHROMIUM_PATH, VIEWPORT, StreamlitServer, settle, start_run, wait_rendered,
)

WARM_UP_RUNS = 5


def memory_mb(pid: int, field: str) -> float | None:
    """VmRSS or VmHWM of a process in MiB, from /proc (None once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


async def choose_model(page, family: str) -> None:
    await page.locator(".st-key-train_model").get_by_text(family.upper(), exact=True).click()
    await settle(page)


async def main_async(args) -> int:
    from playwright.async_api import async_playwright

    from aigc_core.runs.store import FINAL_STATES, RunStore

    with tempfile.TemporaryDirectory(prefix="aigc-memory-") as folder:
        runs_dir = Path(folder) / "runs"
        server = StreamlitServer(runs_dir, Path(folder) / "server.log").start()
        rows = []
        try:
            server.wait_until_healthy()
            store = RunStore(runs_dir)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS)
                page = await (await browser.new_context(viewport=VIEWPORT)).new_page()
                for index in range(args.runs):
                    family = ("gan", "vae")[index % 2]
                    await page.goto(f"{server.url}/train", wait_until="domcontentloaded")
                    await wait_rendered(page)
                    await choose_model(page, family)
                    run_id = await start_run(page, args.steps, seed=index)
                    run = store.get(run_id)
                    worker_peak = 0.0
                    deadline = time.monotonic() + args.timeout_s
                    while run.status().get("state") not in FINAL_STATES and time.monotonic() < deadline:
                        pid = run.raw_status().get("pid")
                        if pid:
                            worker_peak = max(worker_peak, memory_mb(pid, "VmHWM") or 0.0)
                        await asyncio.sleep(0.5)
                    await page.get_by_text(f"Finished {args.steps} steps").wait_for(timeout=60_000)
                    state = run.status().get("state")
                    server_mb = memory_mb(server.process.pid, "VmRSS")
                    rows.append((index + 1, family, state, server_mb, worker_peak))
                    print(f"run {index + 1:2d} {family}: {state:9s} server RSS {server_mb:7.1f} MiB, "
                          f"worker peak {worker_peak:7.1f} MiB", flush=True)
                await browser.close()
        finally:
            server.stop()

    problems = [f"run {number} ended {state}" for number, _, state, _, _ in rows if state != "finished"]
    server_sizes = [row[3] for row in rows]
    warm_index = min(WARM_UP_RUNS, len(rows)) - 1
    growth = server_sizes[-1] - server_sizes[warm_index]
    for family in ("gan", "vae"):
        peaks = [row[4] for row in rows if row[1] == family]
        if peaks:
            print(f"worker peak RSS, {family}-fast: {max(peaks):.0f} MiB (median {sorted(peaks)[len(peaks) // 2]:.0f})")
    print(f"server RSS after run 1: {server_sizes[0]:.0f} MiB, after run {warm_index + 1}: "
          f"{server_sizes[warm_index]:.0f} MiB, after run {len(rows)}: {server_sizes[-1]:.0f} MiB "
          f"(growth since run {warm_index + 1}: {growth:+.1f} MiB)")
    if growth > args.growth_limit_mb:
        problems.append(f"server grew {growth:.1f} MiB over {len(rows) - warm_index - 1} runs")
    for problem in problems:
        print("PROBLEM:", problem)
    print(f"verdict: {'PASS' if not problems else 'FAIL'}: {len(rows)} runs, server growth {growth:+.1f} MiB "
          f"after warm-up (limit {args.growth_limit_mb:.0f} MiB)")
    return 0 if not problems else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--growth-limit-mb", type=float, default=30.0)
    parser.add_argument("--timeout-s", type=float, default=300.0, help="longest wait for one run")
    args = parser.parse_args(argv)
    if args.runs <= WARM_UP_RUNS:
        parser.error(f"--runs must be more than {WARM_UP_RUNS} (the warm-up)")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
