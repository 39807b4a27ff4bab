"""The shift lab in a real browser: the one-pixel step button and the shift slider (by keyboard)
move the picture, the numbers beside them change with it, and the address follows. Presenter
mode hides the measured summary, so the shared test server runs no long job for this test."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from tests.browser.conftest import SCRIPT_DONE, wait_for_app


def pool1_row(page) -> list[str]:
    """The glance table's pool1 row: stage, shift in cells, inside, on the border."""
    row = page.locator("[data-testid='stMarkdownContainer'] table tr", has_text="pool1")
    return [c.strip() for c in row.first.locator("td").all_inner_texts()]


def wait_for(page, check, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {pool1_row(page)} at {page.url}")
        time.sleep(0.1)
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)


def shift_in_address(page) -> str | None:
    return (parse_qs(urlsplit(page.url).query).get("dx") or [None])[0]


def test_the_step_button_and_the_slider_move_the_shift_and_its_numbers(page) -> None:
    wait_for_app(page, "why_translation?dx=1&dy=0&present=1&hide=summary")
    page.wait_for_selector("[data-testid='stMarkdownContainer'] table td", timeout=60_000)
    first = pool1_row(page)
    assert first[1] == "1/2, 0" and first[2] != "0", first  # half a cell: not a shift of pool1

    # .first: Streamlit draws a hidden copy of a button in a horizontal row to measure it
    page.locator(".st-key-shift_x_plus [data-testid^='stBaseButton']").first.click()
    wait_for(page, lambda: pool1_row(page)[1] == "1, 0", "one step right")
    assert pool1_row(page)[2] == "0"  # a whole cell: pool1's maps shift exactly
    assert shift_in_address(page) == "2"

    page.locator(".st-key-shift_dx input").focus()  # Streamlit's slider: an input
    page.keyboard.press("ArrowRight")
    wait_for(page, lambda: pool1_row(page)[1] == "3/2, 0", "the slider one step right")
    # Half a cell again: not 0. (3 px is 1 px and then a whole pool1 cell, so its largest
    # difference is the 1 px shift's, moved by one cell: the same number.)
    assert pool1_row(page)[2] != "0"
    assert shift_in_address(page) == "3"
    conv1 = page.locator("[data-testid='stMarkdownContainer'] table tr", has_text="conv1")
    assert conv1.first.locator("td").all_inner_texts()[2].strip() == "0"  # conv1: always 0
    assert not page.js_errors
