"""App start: seconds from `streamlit run` until the Home page shows its sample grids.

    python bench/app_start.py [--rounds 3]

Each round starts a fresh server process (cold: Python, Streamlit, TensorFlow and the shipped
weights all load on the first visit), opens Home in a new browser context and times until every
shipped model's sample image is drawn; then a second context opens Home on the same server
(warm: the weights are cached, only the page runs). Prints the median of the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT / "tests"))
sys.path.insert(0, str(PROJECT_ROOT))

from browser_support import VIEWPORT, StreamlitServer, launch_chromium  # noqa: E402

LOAD_TIMEOUT_MS = 180_000


def shipped_model_count() -> int:
    from aigc_core.weights import shipped_weights

    return len(shipped_weights())


def time_home(browser, url: str, expected_images: int) -> float:
    """Open Home in a new context; seconds until `expected_images` sample images have loaded."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    started = time.monotonic()
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_function(
            """count => Array.from(document.querySelectorAll("[data-testid='stMain'] [data-testid='stImage'] img"))
                        .filter(image => image.complete && image.naturalWidth > 0).length >= count""",
            arg=expected_images, timeout=LOAD_TIMEOUT_MS,
        )
        return time.monotonic() - started
    finally:
        context.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    expected = shipped_model_count()
    cold, warm = [], []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for round_index in range(args.rounds):
            with tempfile.TemporaryDirectory(prefix="aigc-start-") as folder:
                server = StreamlitServer(Path(folder) / "runs", Path(folder) / "server.log")
                started = time.monotonic()
                server.start()
                try:
                    server.wait_until_healthy()
                    healthy = time.monotonic() - started
                    cold.append(healthy + time_home(browser, server.url, expected))
                    warm.append(time_home(browser, server.url, expected))
                finally:
                    server.stop()
            print(f"round {round_index + 1}: server healthy after {healthy:.1f} s, Home with {expected} grids: "
                  f"cold {cold[-1]:.1f} s (from `streamlit run`), warm {warm[-1]:.1f} s", flush=True)
        browser.close()
    print(f"median of {args.rounds}: cold start {statistics.median(cold):.1f} s, warm visit {statistics.median(warm):.1f} s")
    print(f"verdict: Home shows samples {statistics.median(cold):.1f} s after `streamlit run` "
          f"and {statistics.median(warm):.1f} s after a later visitor opens it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
