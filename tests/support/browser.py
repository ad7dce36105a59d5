"""Headless Chromium for tests (Debian's `chromium` package, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.needs import missing

CHROMIUM = "/usr/bin/chromium"
# Without these Chromium stalls on a machine with no network (and no GPU, no sandbox).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_tool(path: str | None, install: str) -> str:
    """`path` if the tool is there; else skip (fail under CI=true) saying what to install."""
    if path is not None and os.access(path, os.X_OK):
        return path
    missing(install)


@contextmanager
def chromium_page(**context: Any) -> Iterator[Any]:
    """A Playwright page in a fresh headless Chromium profile; `context`: context options."""
    executable = require_tool(
        shutil.which("chromium") or CHROMIUM, "Chromium: apt-get install -y chromium"
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_tool(None, "Playwright: pip install -e '.[test]'")
        raise
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, args=FLAGS, **context
        )
        try:
            yield browser.pages[0] if browser.pages else browser.new_page()
        finally:
            browser.close()
