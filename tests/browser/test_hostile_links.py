"""Hostile share links in a real browser: a link whose values are markdown images, links or
HTML shows them as literal text in its warning, and the browser requests nothing outside the
app (a markdown image would make every visitor's browser fetch it)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from tests.browser.conftest import wait_for_app

LINKS = {
    "convolution": {"k": "![](//evil.example/i.png)", "ch": "[Log in again](http://evil.example)"},
    "feature_maps": {"img": "<img src=//evil.example/x.png>", "w": "![](http://evil.example/w)"},
}


@pytest.mark.parametrize("path", list(LINKS))
def test_a_hostile_link_is_shown_as_text_and_fetches_nothing(page, path: str) -> None:
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))
    query = "&".join(f"{k}={quote(v)}" for k, v in LINKS[path].items())
    wait_for_app(page, f"{path}?{query}")
    alerts = page.get_by_test_id("stAlert")
    alerts.filter(has_text="Ignored the link").first.wait_for()
    shown = " ".join(alerts.nth(i).inner_text() for i in range(alerts.count()))
    shown = shown.replace("\u2060", "")  # the invisible joiner that stops auto-linking
    for value in LINKS[path].values():
        assert value[:20] in shown  # the value itself, character for character
    assert page.locator("[data-testid='stAlert'] img, [data-testid='stAlert'] a").count() == 0
    origin = urlsplit(page.app_url).netloc
    assert [u for u in requested if urlsplit(u).netloc not in (origin, "")] == []
    assert not page.js_errors
