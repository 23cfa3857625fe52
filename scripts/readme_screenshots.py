"""Screenshots for the README: each headline feature as a visitor sees it in Chromium.

    python scripts/readme_screenshots.py [--minutes 1.0] [--out docs/screenshots]

Trains what the pictures need in a temporary runs folder (a twin GAN-vs-VAE run of `--minutes`
each and one "break it on purpose" run), starts a real `streamlit run`, and saves:

    twin_race.png        Compare: the twin race slider, both models at one moment
    quality_diagnosis.png Train: losses with diagnosis markers, quality curve, finding card
    compare.png          Compare: two models side by side with metrics
    presentation.png     the same Compare view in presentation mode (?present=1)

own_digit.png (a drawn digit with both models' answers) comes from tests/test_browser_digit.py.

Takes a few minutes on a 2-core CPU; not part of the test suite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT / "tests"))
sys.path.insert(0, str(PROJECT_ROOT))

from browser_support import StreamlitServer, launch_chromium  # noqa: E402

VIEWPORT = {"width": 1400, "height": 1150}
LOAD_TIMEOUT_MS = 180_000


def wait_settled(page) -> None:
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=LOAD_TIMEOUT_MS)
    for _ in range(3):
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=LOAD_TIMEOUT_MS)
        time.sleep(1.0)


def shoot(page, url: str, path: Path, scroll_to: str | None = None, height: int = VIEWPORT["height"]) -> None:
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    page.goto(url, wait_until="domcontentloaded")
    wait_settled(page)
    if scroll_to:
        page.get_by_text(scroll_to, exact=False).first.evaluate("element => element.scrollIntoView({block: 'start'})")
        time.sleep(1.0)
    page.screenshot(path=str(path))
    print(f"wrote {path}", flush=True)


def train_demo_runs(runs_dir: Path, minutes: float) -> dict:
    """A twin run and a broken run, trained to the end by workers (one at a time)."""
    import os

    os.environ["AIGC_RUNS_DIR"] = str(runs_dir)
    from aigc_core.quality.diagnosis import broken_config
    from aigc_core.runs.store import FINAL_STATES, RunStore
    from aigc_core.experiments.twin import launch_twin
    from aigc_core.runs.worker import launch

    store = RunStore(runs_dir)
    gan_run, vae_run = launch_twin(seed=0, budget_kind="minutes", budget_value=minutes, store=store)
    broken = launch(broken_config("GAN: discriminator 10x faster", steps=400, log_every=5, sample_every=50), store)
    deadline = time.monotonic() + 4 * minutes * 60 + 600
    while time.monotonic() < deadline:
        states = [run.status().get("state") for run in (gan_run, vae_run, broken)]
        if all(state in FINAL_STATES for state in states):
            break
        time.sleep(2)
    return {"gan": gan_run.run_id, "vae": vae_run.run_id, "broken": broken.run_id}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="training budget of each twin")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "screenshots"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="aigc-shots-") as folder:
        runs_dir = Path(folder) / "runs"
        runs = train_demo_runs(runs_dir, args.minutes)
        server = StreamlitServer(runs_dir, Path(folder) / "server.log").start()
        try:
            server.wait_until_healthy()
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_page(viewport=VIEWPORT)
                base = server.url
                compare = f"{base}/compare?left=run:{runs['gan']}&right=run:{runs['vae']}&seed=3"
                shoot(page, f"{base}/train?run={runs['broken']}", out / "quality_diagnosis.png",
                      scroll_to="Run ", height=2000)  # losses, quality curve and the diagnosis card
                shoot(page, compare, out / "compare.png")
                shoot(page, f"{compare}&present=1", out / "presentation.png")
                shoot(page, f"{base}/compare?left=run:{runs['gan']}&right=run:{runs['vae']}", out / "twin_race.png",
                      scroll_to="Twin race")
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
