"""Presenter mode on every page, as a projector shows it: opened from a link at 1280×720 and at
1920×1080, each page's main object is on the first screen without scrolling — the playground's
whole player, the network's whole diagram, the Feature maps' picture and answer, the Inside
page's cell and its arithmetic, Home's explanation — the sidebar is gone and the text is sized
for a room. A presenter's clicker steps the player without a click on it first, and presenter
mode stays on from page to page, in every link."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCRIPT_DONE, new_page, wait_for_app

SIZES = [(1280, 720), (1920, 1080)]
PARTS = [
    "cp-in-grid",
    "cp-patch",
    "cp-kernel",
    "cp-products",
    "cp-written",
    "cp-out-grid",
    "cp-controls",
]
BODY_PX = 20  # body text on a projector
CAPTION_PX = 18  # captions and widget values
LABEL_PX = 18  # the network diagram's labels, the Inside page's grids of numbers

# Every visible paragraph, list item and caption of the page's first screen, with the size it is
# drawn at (its font size times any zoom on its ancestors).
FIRST_SCREEN_TEXT = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    const zoom = (el) => { let z = 1;
        for (let e = el; e; e = e.parentElement) z *= parseFloat(getComputedStyle(e).zoom) || 1;
        return z; };
    const found = [];
    const md = '[data-testid="stMarkdownContainer"]';
    const selector = `${md} p, ${md} li, [data-testid="stCaptionContainer"]`;
    for (const el of main.querySelectorAll(selector)) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0 || r.top >= innerHeight || r.bottom <= 0) continue;
        if (!el.innerText.trim()) continue;
        found.push({text: el.innerText.trim().slice(0, 40),
                    px: parseFloat(getComputedStyle(el).fontSize) * zoom(el),
                    caption: !!el.closest('[data-testid="stCaptionContainer"]')});
    }
    return found;
}"""


def open_presenting(page, path: str, size: tuple[int, int]) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    joiner = "&" if "?" in path else "?"
    wait_for_app(page, f"{path}{joiner}present=1")
    page.wait_for_timeout(500)  # pictures and HTML paint after the run
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    page.evaluate("() => window.scrollTo(0, 0)")


def on_first_screen(page, locator, what: str) -> dict:
    """``locator``'s box, asserted to lie wholly inside the viewport."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    box = locator.bounding_box()
    assert box is not None, what
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (what, box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= height + 0.5, (what, box)
    return box


def check_room_text(page) -> None:
    """No sidebar; the text of the first screen sized for a room."""
    assert not page.get_by_test_id("stSidebar").is_visible()
    texts = page.evaluate(FIRST_SCREEN_TEXT)
    assert texts, "no text on the first screen"
    small = [t for t in texts if t["px"] < (CAPTION_PX if t["caption"] else BODY_PX) - 0.01]
    assert small == [], small


def check_home(page) -> None:
    on_first_screen(page, page.get_by_role("heading", name="CNN Explorer"), "title")
    on_first_screen(page, page.get_by_role("heading", name="What is a CNN?"), "question")
    layers = page.locator("ul", has=page.locator("li", has_text="Convolution layers")).first
    on_first_screen(page, layers, "the three kinds of layers")


def check_network(page) -> None:
    flow = page.get_by_test_id("network-flow")
    on_first_screen(page, flow, "the network diagram")
    labels = page.locator("[data-testid='network-flow'] .flow-layer")
    assert labels.count() == 15  # input, 3 × (conv, relu, pool), flatten, fc1, relu4, dropout, fc2
    for i in range(labels.count()):
        label = labels.nth(i)
        on_first_screen(page, label, label.inner_text())
        px = label.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert px >= LABEL_PX, (label.inner_text(), px)


def check_feature_maps(page) -> None:
    picture = page.get_by_test_id("stMain").get_by_test_id("stImage").first
    on_first_screen(page, picture, "the picture")
    assert "true label" in picture.inner_text()
    on_first_screen(page, page.locator("h4", has_text="The network says").first, "the answer")
    bars = page.locator("table", has=page.locator("td", has_text="%")).first
    on_first_screen(page, bars, "the probabilities")


def check_inside(page) -> None:
    headline = page.locator("strong").filter(has_text=re.compile(r"^conv2\[0, 4, 4\] = ")).first
    on_first_screen(page, headline, "the cell")
    equation = page.locator(
        ".st-key-in_lead [data-testid='stMarkdownContainer'] > div:not([data-testid])"
    ).first
    on_first_screen(page, equation, "the first channel's window × weights = products")
    script = """e => { let z = 1;
        for (let a = e; a; a = a.parentElement) z *= parseFloat(getComputedStyle(a).zoom) || 1;
        return [...e.querySelectorAll('td')].map(
            (td) => parseFloat(getComputedStyle(td).fontSize) * z); }"""
    # The presenter's enlargement is a style of its own that a loaded machine may draw a moment
    # after the grids (CI measured 12 px once): look again for up to 3 s, as a viewer would.
    deadline = time.monotonic() + 3
    while (sizes := equation.evaluate(script)) and min(sizes) < LABEL_PX:
        if time.monotonic() > deadline:
            break
        page.wait_for_timeout(100)
    assert len(sizes) == 27 and min(sizes) >= LABEL_PX, sizes  # three 3×3 grids of numbers


def check_convolution(page) -> None:
    page.get_by_test_id("cp-written").wait_for()
    for part in PARTS:
        on_first_screen(page, page.get_by_test_id(part), part)
    written = page.get_by_test_id("cp-written")
    assert float(written.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 24
    # The player's secondary text: the window counter, "goes to output[…]", the colour bar's
    # ends, the clicker's keys — and every other text in it — at least 20 px.
    for part in ("cp-counter", "cp-target", "cp-scale-lo", "cp-scale-hi", "cp-presenter-hint"):
        element = page.get_by_test_id(part)
        assert element.is_visible(), part
        assert element.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 20, part
    sizes = page.get_by_test_id("cp-root").evaluate(
        """root => [...root.querySelectorAll('*')].filter((el) => {
            const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
            const r = el.getBoundingClientRect();
            return own && r.width > 0 && !el.closest('.cp-sr');
        }).map((el) => [el.textContent.trim().slice(0, 30),
                        parseFloat(getComputedStyle(el).fontSize)])"""
    )
    assert [s for s in sizes if s[1] < 20] == [], sizes


def check_train(page) -> None:
    on_first_screen(page, page.get_by_role("heading", name="Train it yourself"), "title")


PAGES = {
    "": check_home,
    "convolution?k=laplacian_8&sample=ship": check_convolution,
    "network": check_network,
    "feature_maps": check_feature_maps,
    "inside": check_inside,
    "train": check_train,
}


@pytest.mark.parametrize("size", SIZES, ids=["1280x720", "1920x1080"])
@pytest.mark.parametrize("path", list(PAGES), ids=lambda p: p.split("?")[0] or "home")
def test_each_page_leads_with_its_main_object_sized_for_a_room(page, path, size) -> None:
    open_presenting(page, path, size)
    PAGES[path](page)
    check_room_text(page)
    assert "present=1" in page.url  # the address is the link that opens it so
    assert not page.js_errors


@pytest.mark.parametrize("hide", ["image,kernel,settings", ""])
@pytest.mark.parametrize("size", SIZES, ids=["1280x720", "1920x1080"])
def test_the_whole_player_is_on_the_first_screen(page, size, hide) -> None:
    open_presenting(page, f"convolution?hide={hide}&k=laplacian_8&sample=ship", size)
    check_convolution(page)
    assert not page.get_by_test_id("stSidebar").is_visible()
    assert not page.js_errors


def position(page) -> int:
    return int(page.get_by_test_id("cp-counter").get_attribute("data-position"))


def wait_position(page, expected: int) -> None:
    # The player lives in a shadow root: a locator looks inside, document.querySelector not.
    expect(page.get_by_test_id("cp-counter")).to_have_attribute(
        "data-position", str(expected), timeout=10_000
    )


def test_a_clicker_steps_the_player_without_a_click_on_it(page) -> None:
    open_presenting(page, "convolution?k=laplacian_8&sample=ship", (1280, 720))
    page.get_by_test_id("cp-written").wait_for()
    start = position(page)
    assert start > 0  # a window where something happens, not the end
    # The keyboard is on the page, not on the player: a clicker sends PageDown/PageUp.
    assert page.evaluate("() => document.activeElement === document.body")
    page.keyboard.press("PageDown")
    wait_position(page, start + 1)
    page.keyboard.press("ArrowRight")
    wait_position(page, start + 2)
    page.keyboard.press("PageUp")
    page.keyboard.press("ArrowLeft")
    wait_position(page, start)
    page.keyboard.press("End")
    n = int(page.get_by_test_id("cp-scrub").get_attribute("max"))
    wait_position(page, n)
    page.keyboard.press("Home")
    wait_position(page, 0)
    page.keyboard.press(" ")
    expect(page.get_by_test_id("cp-play")).to_have_attribute("data-state", "playing")
    page.keyboard.press(" ")
    expect(page.get_by_test_id("cp-play")).to_have_attribute("data-state", "paused")
    assert page.evaluate("() => window.scrollY") == 0  # Space and PageDown did not scroll
    # Typing in a box of the page is typing: the player leaves those keys alone.
    box = page.get_by_test_id("stMain").get_by_role("combobox").last  # the sections to hide
    box.scroll_into_view_if_needed()
    box.focus()
    here = position(page)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("PageDown")
    page.wait_for_timeout(300)
    assert position(page) == here
    assert not page.js_errors


def test_outside_presenter_mode_the_player_takes_keys_only_when_focused(page) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    wait_for_app(page, "convolution?k=laplacian_8&sample=ship")
    page.get_by_test_id("cp-written").wait_for()
    start = position(page)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("PageDown")
    page.wait_for_timeout(300)
    assert position(page) == start
    assert not page.get_by_test_id("cp-presenter-hint").is_visible()
    assert page.get_by_test_id("cp-hint").is_visible()


def internal_links(page) -> list[str]:
    """The addresses of every link to another page of the app in the main area."""
    hrefs = (
        page.get_by_test_id("stMain")
        .locator("a[href]")
        .evaluate_all("links => links.map((a) => a.href)")
    )
    return [h for h in hrefs if h.startswith(page.app_url)]


def settle(page) -> None:
    page.wait_for_timeout(500)
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)


def test_presenter_mode_stays_on_from_page_to_page_and_in_every_link(page, browser) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    wait_for_app(page, "?present=1")
    visited = []
    # Home → The network (a card) → Feature maps (the lesson's links at the page's end) →
    # Inside (the answer's link).
    for link in ("See the architecture", "Feature maps", "Which pixels made it say"):
        links = internal_links(page)
        assert links and all("present=1" in href for href in links), links
        target = page.get_by_test_id("stMain").get_by_role("link", name=re.compile(link)).first
        target.scroll_into_view_if_needed()
        target.click()
        page.wait_for_url(re.compile(r"present=1"), timeout=60_000)
        settle(page)
        visited.append(page.url)
        # (hidden once the page has run through app.py: a first visit runs it twice)
        expect(page.get_by_test_id("stSidebar")).to_be_hidden(timeout=30_000)
    assert [re.search(r"/(\w+)\?", url).group(1) for url in visited] == [
        "network",
        "feature_maps",
        "inside",
    ]
    inside = visited[-1]
    assert "stage=softmax" in inside  # the answer's arithmetic, still presenting
    assert all("present=1" in href for href in internal_links(page))
    # The address, opened by someone else (a new session), presents too.
    other = new_page(browser, page.app_url)
    try:
        other.set_viewport_size({"width": 1280, "height": 720})
        wait_for_app(other, inside.removeprefix(page.app_url + "/"))
        expect(other.get_by_test_id("stSidebar")).to_be_hidden(timeout=30_000)
        assert "present=1" in other.url
    finally:
        other.context.close()
    assert not page.js_errors
