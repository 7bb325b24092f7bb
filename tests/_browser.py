"""A headless Chromium for the browser tests: Debian's, driven by Playwright.

Playwright's own browser download does not work here, so the tests drive the
`chromium` package from apt. Without it a test is skipped, except in CI
(`CI=true`), where a missing browser is a broken setup and fails.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parents[1]
#: The browser chat client's files, served by the chat server's HTTP door.
WEB_DIR = ROOT / "examples" / "chat" / "web"

#: Chromium flags: no sandbox (containers), and nothing that phones home or updates itself.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_path() -> str:
    """Return the path of Debian's chromium, or skip (fail in CI) if it is not installed."""
    path = shutil.which("chromium")
    if path is not None:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(
            "chromium is not installed, and the browser tests need it: .ci/run installs "
            "chromium with apt (apt-get install chromium) before running the tests"
        )
    pytest.skip("chromium is not installed (apt-get install chromium); skipping browser tests")


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Start a headless Chromium through Playwright; close it (and Playwright) at the end."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only browser tests need it

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()
