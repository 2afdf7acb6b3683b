"""Real Chromium for the page's tests: Debian's headless shell driven by Playwright.

Playwright is told where the browser is (``executable_path``); it never downloads
one (``playwright install`` cannot work here, and CI installs the Debian package,
see ``.ci/run``).  The browser, uvicorn and the test share the test's event loop
(Playwright's async API), so a test can hold a reply half written on the server
and look at the page in the same breath.  Without Playwright or the browser the
tests skip and say which is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.environment import child_env

CANDIDATES = (
    "/usr/lib/chromium/chromium-headless-shell",
    "chromium-headless-shell",
    "/usr/lib/chromium/chromium",
    "chromium",
)
"""Where Debian's packages put a Chromium Playwright can drive, best first."""

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The first Chromium found."""
    for candidate in CANDIDATES:
        found = candidate if Path(candidate).is_file() else shutil.which(candidate)
        if found and os.access(found, os.X_OK):
            return found
    return None


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    """A headless Chromium for this test, its environment (home, caches) in the test's
    folder like any process a test starts; closed after it."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[dev]'")
    path = chromium_path()
    if path is None:
        pytest.skip(
            "no Chromium here: apt-get install chromium-headless-shell (as root; .ci/run does)"
        )
    async with async_playwright() as driver:
        chromium = await driver.chromium.launch(
            executable_path=path, args=FLAGS, headless=True, env=child_env(tmp_path)
        )
        try:
            yield chromium
        finally:
            await chromium.close()
