"""No request leaves the app's own server: an offline classroom gets the whole app.

Every page of app.py's navigation (read from app.py itself, so a page added there is checked
too) is opened with every request outside the app's origin recorded and refused (a classroom
without internet behaves like this test), then used a little: the playground's draw and
numbers inputs and its interactive heatmap, a gallery image on the feature maps. The test fails
on any outside request — page loads, fonts, the tab's icon, websockets, workers' and frames'
requests — and checks that the page still drew itself: no failed font (a Material icon whose
font failed shows its name as text, "grid_on"), no broken image, no exception.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from explorer.learning_path import navigation
from tests.browser.conftest import SCRIPT_DONE

VIEWPORT = {"width": 1280, "height": 720}  # the classroom projector (DESIGN.md §8)
OWN_SCHEMES = ("data", "blob", "about")


@dataclass(frozen=True)
class AppPage:
    path: str  # the address after the app's URL: "" for the default page
    title: str
    script: str


def app_pages() -> list[AppPage]:
    """The pages app.py hands to st.navigation (explorer.learning_path.navigation), with the
    address Streamlit gives each: the file's name, "" for the first (the default)."""
    return [AppPage(p.address(i == 0), p.title, p.page) for i, p in enumerate(navigation())]


def is_own(url: str, app_url: str) -> bool:
    """Whether ``url`` is the app's own server (same scheme family, host and port) or data the
    page holds itself (data:, blob:, about:)."""
    parts, app = urlsplit(url), urlsplit(app_url)
    if parts.scheme in OWN_SCHEMES:
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.netloc == app.netloc


@pytest.fixture
def offline_page(browser, app_url: str) -> Iterator[object]:
    """A 1280×720 page whose context refuses every request outside the app's server and lists
    them in ``page.outside`` (context-wide: frames, workers and websockets included)."""
    context = browser.new_context(viewport=VIEWPORT)
    outside: list[str] = []

    def record(request) -> None:
        if not is_own(request.url, app_url):
            outside.append(f"{request.resource_type} {request.url}")

    context.on("request", record)
    context.route(lambda url: not is_own(url, app_url), lambda route: route.abort())
    context.route_web_socket(lambda url: not is_own(url, app_url), lambda ws: ws.close())
    page = context.new_page()
    page.set_default_timeout(30_000)
    track_requests(page)
    page.on("websocket", lambda ws: None if is_own(ws.url, app_url) else outside.append(ws.url))
    page.on("worker", lambda w: None if is_own(w.url, app_url) else outside.append(w.url))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.app_url, page.outside, page.js_errors = app_url, outside, errors
    yield page
    context.close()


# Streamlit's run has ended (SCRIPT_DONE), no request is in flight and the page has not changed
# for half a second: the browser still draws a long run's elements after the server says the
# run is over, fetching the code for some of them first (feature maps: its 30 images appear
# ~1.5 s after the run's end on a busy machine).
SETTLED = """quietMs => {
    if (!window.__lastChange) {
        window.__lastChange = performance.now();
        new MutationObserver(() => { window.__lastChange = performance.now(); })
            .observe(document.body, {subtree: true, childList: true, characterData: true});
    }
    if (!(SCRIPT_DONE)()) { window.__lastChange = performance.now(); return false; }
    return performance.now() - window.__lastChange > quietMs;
}""".replace("SCRIPT_DONE", SCRIPT_DONE)
QUIET_MS = 500


def track_requests(page) -> None:
    """Keep ``page.in_flight``: the requests of the page's context not yet answered."""
    in_flight: set = set()
    page.context.on("request", lambda request: in_flight.add(request))
    page.context.on("requestfinished", lambda request: in_flight.discard(request))
    page.context.on("requestfailed", lambda request: in_flight.discard(request))
    page.in_flight = in_flight


def settle(page, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        page.wait_for_function(SETTLED, arg=QUIET_MS, timeout=timeout_s * 1000, polling=100)
        if not getattr(page, "in_flight", None):
            return
        assert time.monotonic() < deadline, f"requests never answered: {page.in_flight}"
        page.wait_for_timeout(100)


def open_page(page, path: str) -> None:
    page.goto(f"{page.app_url}/{path}")
    page.wait_for_selector("[data-testid='stApp']")
    settle(page)


def draw_stroke(page) -> None:
    """A stroke across the drawing canvas, then wait for the playground's result."""
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 60)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + 60 + 15 * step, box["y"] + 60 + 10 * step)
    page.mouse.up()
    page.wait_for_selector("text=Checked against PyTorch", timeout=60_000)
    settle(page)


# What a student does on each page, beyond opening it (pages not named here are only opened).
def use_playground(page) -> None:
    page.wait_for_selector("[data-testid='cp-root']")  # the player, the sample's default view
    page.get_by_text("Interactive heatmap", exact=False).click()  # Plotly
    page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg")
    page.get_by_role("radio", name="Draw").click()
    draw_stroke(page)
    page.get_by_role("radio", name="Numbers").click()
    page.wait_for_selector("textarea")
    settle(page)


def use_feature_maps(page) -> None:
    page.wait_for_selector("h4:has-text('The network says')", timeout=60_000)
    page.get_by_test_id("stSelectbox").filter(has_text="Test image").click()
    page.keyboard.type("ship")
    page.get_by_role("option", name=re.compile("^ship")).first.wait_for()
    page.keyboard.press("Enter")
    settle(page)


USE = {"convolution": use_playground, "feature_maps": use_feature_maps}

# In the page: fonts that failed to load, Material icons drawn as their names (the icon font
# missing), images that did not load, and the tab's icon.
RENDERED = """() => {
    const failedFonts = [...document.fonts].filter(f => f.status === 'error').map(f => f.family);
    const wordIcons = [...document.querySelectorAll('[data-testid="stIconMaterial"]')]
        .filter(e => e.scrollWidth > 1.6 * parseFloat(getComputedStyle(e).fontSize))
        .map(e => e.textContent);
    const brokenImages = [...document.images]
        .filter(i => i.complete && i.naturalWidth === 0 && i.getAttribute('src'))
        .map(i => i.src.slice(0, 80));
    const icon = document.querySelector("link[rel~='icon']");
    return {failedFonts, wordIcons, brokenImages, icon: icon ? icon.href : null,
            exceptions: [...document.querySelectorAll('[data-testid="stException"]')]
                .map(e => e.innerText.slice(0, 300))};
}"""


def test_app_pages_reads_the_navigation() -> None:
    pages = {page.path: page.script for page in app_pages()}
    assert pages[""] == "pages/home.py"
    assert {"convolution", "network", "feature_maps"} <= set(pages)


@pytest.mark.parametrize("page_info", app_pages(), ids=lambda p: p.path or "home")
def test_page_makes_no_request_outside_the_app(offline_page, page_info: AppPage, tmp_path) -> None:
    page = offline_page
    open_page(page, page_info.path)
    USE.get(page_info.path, lambda _: None)(page)
    page.wait_for_timeout(300)  # late requests: favicons, lazy fonts
    page.screenshot(path=str(tmp_path / f"{page_info.path or 'home'}.png"))

    assert page.outside == [], "requests outside the app's server:\n" + "\n".join(page.outside)
    shown = page.evaluate(RENDERED)
    assert shown["failedFonts"] == [], shown
    assert shown["wordIcons"] == [], f"icons drawn as words (icon font missing): {shown}"
    assert shown["brokenImages"] == [], shown
    assert shown["icon"] and is_own(shown["icon"], page.app_url), shown["icon"]
    assert shown["exceptions"] == [], shown["exceptions"]
    assert page.locator("h1").count() >= 1
    assert page.js_errors == []
    if page_info.path == "":  # app_pages() gives each page the address Streamlit gives it
        links = page.get_by_test_id("stSidebarNav").locator("a")
        hrefs = {urlsplit(links.nth(i).get_attribute("href")).path for i in range(links.count())}
        assert {href.strip("/") for href in hrefs} == {p.path for p in app_pages()}
