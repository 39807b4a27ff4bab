""" "Inside the network" in a real browser: clicking a number explains it, the max-pool stepper
takes the keyboard, a link opens the cell it names, and the optimised input appears after its
progress bar — without JavaScript errors."""

from __future__ import annotations

import re

from tests.browser.conftest import SCRIPT_DONE, wait_for_app

HEADLINE = "[data-testid='stMarkdownContainer'] strong"


def open_inside(page, query: str = "") -> None:
    if query:
        wait_for_app(page, f"inside?{query}")
    else:  # through the app's navigation, as a student arrives
        wait_for_app(page)
        page.get_by_test_id("stSidebarNav").get_by_text("Inside the network", exact=True).click()
    page.wait_for_selector("h4:has-text('The network says')", timeout=60_000)
    settle(page)


def settle(page) -> None:
    page.wait_for_timeout(300)  # the rerun a click starts
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)


def headline(page, stage: str) -> str:
    """The first bold "stage[…] = …" the arithmetic starts with."""
    return page.locator(HEADLINE).filter(has_text=re.compile(rf"^{stage}\[")).first.inner_text()


def test_clicking_a_number_explains_it(page) -> None:
    open_inside(page)
    assert headline(page, "conv2").startswith("conv2[0, 4, 4] = ")
    grid = page.get_by_test_id("stDataFrame").last
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    # Streamlit's table: a 35 px header row, 35 px rows, the index column, then the columns.
    # Row 2, column 3 of map 0 (its cells are about 59 px wide after a ~51 px index column).
    page.mouse.click(box["x"] + 51 + 59 * 3 + 29, box["y"] + 35 + 35 * 2 + 17)
    page.wait_for_function(
        "() => [...document.querySelectorAll('strong')].some(s => "
        "s.innerText.startsWith('conv2[0, 2, 3] = '))",
        timeout=30_000,
    )
    settle(page)
    assert page.get_by_label("Row (0–15)").input_value() == "2"
    assert page.get_by_label("Column (0–15)").input_value() == "3"
    assert "cell=0%2C2%2C3" in page.url  # the address is a link to it
    assert page.js_errors == []


def test_pool_stepper_takes_the_arrow_keys(page) -> None:
    open_inside(page, "stage=pool1&cell=2,1,1")
    assert headline(page, "pool1").startswith("pool1[2, 1, 1] = ")
    caption = page.get_by_text(re.compile(r"^Window \d+ of 256"))
    assert caption.inner_text().startswith("Window 18 of 256")  # the picked cell's window
    page.get_by_role("slider").first.focus()
    page.keyboard.press("ArrowRight")
    page.get_by_text(re.compile(r"^Window 19 of 256: rows 2–3, columns 4–5")).wait_for()
    assert page.js_errors == []


def test_a_link_opens_a_head_number_and_optimises_an_input(page) -> None:
    open_inside(page, "stage=fc1&cell=7&channel=21")
    assert headline(page, "fc1").startswith("fc1[7] = ")
    assert page.get_by_text("the other 2,040 products, summed").count() == 1
    button = page.get_by_role("button", name="Optimise an input for conv3 map 21")
    button.scroll_into_view_if_needed()
    button.click()
    page.get_by_text("An input made for conv3 map 21").wait_for(timeout=60_000)
    settle(page)
    assert page.get_by_role("button", name="Optimise an input for conv3 map 21").count() == 0
    assert page.js_errors == []
