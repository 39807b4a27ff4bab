"""Browser tests: the real app in Debian's headless Chromium, driven by Playwright.

One Streamlit server per test session on a free port (``scripts.server``); one fresh browser
context per test. Chromium is launched by ``scripts.chromium`` (Playwright's own browser
download does not work on our machines).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from scripts.chromium import CHROMIUM_ARGS, chromium_path, launch_chromium
from scripts.server import serve

__all__ = ["CHROMIUM_ARGS", "SCRIPT_DONE", "chromium_path", "serve", "wait_for_app"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve("app.py", tmp_path_factory.mktemp("app") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if chromium_path() is None:
        pytest.fail("Debian's chromium is not installed: run scripts/install-chromium.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_chromium(pw)
        yield b
        b.close()


def new_page(browser, app_url: str) -> object:
    """A page in a fresh browser context (its own cookies, so its own Streamlit session), with
    ``app_url`` and the JavaScript errors it collects (``js_errors``) attached."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.app_url = app_url  # type: ignore[attr-defined]
    pg.js_errors = errors  # type: ignore[attr-defined]
    return pg


@pytest.fixture
def page(browser, app_url: str) -> Iterator[object]:
    pg = new_page(browser, app_url)
    yield pg
    pg.context.close()


# True once Streamlit has finished the current run (and removed the previous run's elements).
SCRIPT_DONE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidget"]')
        && document.querySelector('[data-testid="stMain"]');
}"""


def wait_for_app(page, path: str = "") -> None:
    """Open a page of the app and wait until Streamlit has finished running it."""
    page.goto(f"{page.app_url}/{path}")
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
