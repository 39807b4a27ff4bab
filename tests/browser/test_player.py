"""The convolution player in a real browser: controls, keyboard, state reports, and numbers that
are NumPy's to the last digit. Runs bench/player_app.py (the player alone) on its own server."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from bench.bench_player import serve_player_app
from bench.player_app import trace_for
from explorer.player import format_value

COUNTER = "[data-testid='cp-counter']"


@pytest.fixture(scope="module")
def player_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_player_app(tmp_path_factory.mktemp("player") / "streamlit.log") as url:
        yield url


@pytest.fixture
def open_player(browser, player_url: str) -> Iterator[object]:
    """open_player(query) → a page showing the player, waited until it has drawn."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []

    def open_(query: str = "") -> object:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{player_url}/?{query}")
        page.wait_for_function("() => window.__convPlayerStats?.frames > 0")
        return page

    yield open_
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def position(page) -> int:
    return int(page.locator(COUNTER).get_attribute("data-position"))


def wait_position(page, expected: int) -> None:
    page.wait_for_function(f"() => window.__convPlayerStats.position === {expected}", timeout=5_000)


def set_range(page, testid: str, value: int) -> None:
    """Move a range input as a user's drag ends: input events, then change."""
    page.get_by_test_id(testid).evaluate(
        f"e => {{ e.value = {value}; e.dispatchEvent(new Event('input'));"
        " e.dispatchEvent(new Event('change')); }"
    )


def test_renders_titles_grids_and_counter(open_player) -> None:
    page = open_player("size=8&padding=1")
    assert page.get_by_test_id("cp-in-title").text_content() == "Input 8×8, padded to 10×10"
    assert page.get_by_test_id("cp-out-title").text_content() == "Output 8×8"
    assert page.get_by_test_id("cp-counter").text_content() == "window 0 of 64"
    box = page.locator("canvas[data-layer='in-static']").bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200
    assert page.get_by_test_id("cp-sum").text_content() == "–"  # nothing computed yet


def test_play_advances_pause_stops_and_python_hears_where(open_player) -> None:
    page = open_player("size=64")
    set_range(page, "cp-speed", 60)  # ~96 windows a second
    page.get_by_test_id("cp-play").click()
    page.wait_for_function("() => window.__convPlayerStats.position > 20")
    page.get_by_test_id("cp-play").click()
    stopped = position(page)
    assert page.get_by_test_id("cp-play").get_attribute("data-state") == "paused"
    # Python is told once, on pause; its rerun resends the same numbers, which must neither
    # restart the player nor move it.
    page.get_by_text(f"reported position: {stopped}").wait_for()
    page.wait_for_timeout(600)
    assert position(page) == stopped
    assert page.evaluate("window.__convPlayerStats.layouts") == 1


def test_step_buttons_and_scrub(open_player) -> None:
    page = open_player("size=8")
    for _ in range(3):
        page.get_by_test_id("cp-forward").click()
    wait_position(page, 3)
    page.get_by_test_id("cp-back").click()
    wait_position(page, 2)
    assert page.get_by_test_id("cp-counter").text_content() == "window 2 of 36"
    set_range(page, "cp-scrub", 20)
    wait_position(page, 20)
    assert page.get_by_test_id("cp-target").text_content() == "output[3, 1]"  # window 19
    page.get_by_text("reported position: 20").wait_for()
    page.get_by_test_id("cp-end").click()
    wait_position(page, 36)
    page.get_by_test_id("cp-start").click()
    wait_position(page, 0)


def test_keyboard_shortcuts_when_focused(open_player) -> None:
    page = open_player("size=8")
    page.get_by_test_id("cp-root").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    wait_position(page, 2)
    page.keyboard.press("ArrowLeft")
    wait_position(page, 1)
    page.keyboard.press("End")
    wait_position(page, 36)
    page.keyboard.press("Home")
    wait_position(page, 0)
    page.keyboard.press(" ")
    page.wait_for_function("() => window.__convPlayerStats.position >= 1")
    assert page.get_by_test_id("cp-play").get_attribute("data-state") == "playing"
    page.keyboard.press(" ")
    assert page.get_by_test_id("cp-play").get_attribute("data-state") == "paused"


def test_shown_products_and_sum_are_numpys(open_player) -> None:
    # Padding, stride and dilation together, so the browser's derivation of the window's
    # cells is exercised; the blur kernel's sixteenths give products with 4+ decimals.
    query = "size=9&padding=1&stride=2&dilation=2&kernel=blur"
    trace = trace_for(dict(part.split("=") for part in query.split("&")))
    page = open_player(query)
    k = 5  # window 5 → position 6
    set_range(page, "cp-scrub", k + 1)
    wait_position(page, k + 1)
    shown = {
        name: page.get_by_test_id(f"cp-{name}").locator("span").all_text_contents()
        for name in ("patch", "kernel", "products")
    }
    assert shown["patch"] == [format_value(v) for v in trace.patches[k].ravel()]
    assert shown["kernel"] == [format_value(v) for v in trace.kernel.ravel()]
    assert shown["products"] == [format_value(v) for v in trace.products[k].ravel()]
    assert page.get_by_test_id("cp-sum").text_content() == format_value(trace.sums[k])
    out_row, out_col = divmod(k, trace.out_shape[1])
    assert page.get_by_test_id("cp-target").text_content() == f"output[{out_row}, {out_col}]"
    cells = page.evaluate("window.__convPlayerStats.cells")
    assert cells == np.stack([trace.rows[k], trace.cols[k]], -1).reshape(-1, 2).tolist()

    # The shared number formatter agrees with Python's on awkward values too.
    values = [3.0, -12.0, -0.0, 1 / 3, -2 / 3, 2.5, 0.1 + 0.2, 0.03125, -0.03125, 1.00001,
              123.45678, 1e-5, -1.23456e-7, 9.99996e-5, 1e300, 1e15 + 0.5, 4503599627370495.5,
              *trace.products.ravel()[:50].tolist()]  # fmt: skip
    in_js = page.evaluate("vs => vs.map(v => window.__convPlayerFormat(v))", values)
    assert in_js == [format_value(v) for v in values]
