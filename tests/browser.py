"""Shared browser-test plumbing: Debian's Chromium through Playwright, the app on a free loopback port.

Every ``tests/test_app_*.py`` browser module imports its helpers from here (``from tests.browser
import …``) and says ``pytestmark = BROWSER_MARKS``; the fixtures ``app_url``, ``browser`` and
``page`` live in conftest.py. The app runs in the test process on the session's searcher, so the
model loads once for the whole run. Chromium is Debian's (/usr/bin/chromium): ``playwright install``
would download a browser, which CI cannot do.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
QUERY_BOX = "#kb-query textarea, #kb-query input"
YOUNG_WOMEN = "which measures address the outflow of young women"
TIMEOUT_MS = 20_000

# Each browser test module says `pytestmark = BROWSER_MARKS`.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium "
                       "(scripts/setup.sh --test installs it: apt-get install chromium chromium-driver)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install -e .[test])")


def wait_for_http(url: str, seconds: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"app exited with {process.returncode}: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def search(page, text: str) -> None:
    box = page.locator(QUERY_BOX).first
    box.fill(text)
    box.press("Enter")


def hit_lines(page) -> list[int]:
    return [int(n) for n in page.locator("#kb-source tr.kb-hit").evaluate_all(
        "rows => rows.map(r => r.dataset.line)")]
