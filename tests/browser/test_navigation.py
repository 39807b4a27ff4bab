"""Direct links: a page opened by its own address — the first thing a teacher's shared link
does — runs inside app.py's navigation, even as the first visit to a freshly started server
(Streamlit treats a pages/ folder as a legacy multipage app until st.navigation has run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.server import serve

PAGES = {
    "convolution": "Convolution playground",
    "network": "The network",
    "feature_maps": "Feature maps",
    "home": "CNN Explorer",
}
NAV_TITLES = ["Start here", "Convolution playground", "The network", "Feature maps"]


@pytest.fixture
def fresh_app(tmp_path: Path) -> Iterator[str]:
    """A server nobody has visited yet."""
    with serve("app.py", tmp_path / "streamlit.log") as url:
        yield url


@pytest.mark.parametrize("path", ["feature_maps", "convolution"])
def test_first_visit_by_direct_link_uses_the_app_navigation(browser, fresh_app, path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{fresh_app}/{path}")
    page.get_by_role("heading", name=PAGES[path]).first.wait_for(timeout=60_000)
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_text("Start here", exact=True).wait_for()
    text = nav.inner_text()
    assert all(title in text for title in NAV_TITLES), text
    assert "app" not in text.split()  # the legacy list would name the entry script "app"
    assert errors == []
    page.close()
