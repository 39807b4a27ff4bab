"""Debian's headless Chromium, the one way the browser tests, benches and scripts launch it.

Playwright's own browser download does not work on our machines, so Playwright drives the
system's ``chromium`` (``scripts/install-chromium.sh`` installs it; ``$CHROMIUM`` overrides).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # The camera source's tests: Chromium's own fake camera (a moving test pattern), allowed
    # without the permission prompt a headless browser cannot answer.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


def chromium_path() -> str | None:
    """The Chromium executable: ``$CHROMIUM``, else ``chromium`` on the PATH; None if neither."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium")


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium browser from a started ``sync_playwright()`` (or async) object.

    Raises RuntimeError with the fix when Chromium is not installed."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("Debian's chromium is not installed: run scripts/install-chromium.sh")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
