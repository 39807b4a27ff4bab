"""Feature maps in a real browser: clicking a map's thumbnail enlarges that map (no typing of
map numbers), and the address follows the choice."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from tests.browser.conftest import SCRIPT_DONE, wait_for_app


def test_clicking_a_thumbnail_enlarges_that_map(page) -> None:
    wait_for_app(page, "feature_maps?layer=conv2")
    grid = page.locator(".st-key-net_map_grid [data-testid='stDataFrame']")
    grid.evaluate("e => e.scrollIntoView({block: 'center'})")
    time.sleep(0.8)
    box = grid.bounding_box()
    assert box is not None
    header, row, cols = 36, 54, 8  # the grid's header and row heights; 8 maps a row
    col_px = box["width"] / cols
    # Map 19 = row 2, column 3 (8 a row, map 0 top left).
    for _attempt in range(3):  # the first click may only give the grid the focus
        page.mouse.click(box["x"] + col_px * 3.5, box["y"] + header + row * 2.5)
        deadline = time.monotonic() + 5
        while parse_qs(urlsplit(page.url).query).get("map") != ["19"]:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        else:
            break
    assert parse_qs(urlsplit(page.url).query).get("map") == ["19"], page.url
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    assert page.get_by_text("conv2 filter 19").count() >= 1
    assert not page.js_errors


def test_clicking_a_gallery_thumbnail_picks_that_image(page) -> None:
    from explorer.samples import gallery

    wait_for_app(page, "feature_maps")
    grid = page.locator(".st-key-net_gallery_grid [data-testid='stDataFrame']")
    grid.evaluate("e => e.scrollIntoView({block: 'center'})")
    time.sleep(0.8)
    box = grid.bounding_box()
    assert box is not None
    header, row, cols = 36, 70, 5
    item = gallery("cifar10")[7]  # row 1, column 2
    for _attempt in range(3):  # the first click may only give the grid the focus
        page.mouse.click(box["x"] + box["width"] / cols * 2.5, box["y"] + header + row * 1.5)
        deadline = time.monotonic() + 5
        while parse_qs(urlsplit(page.url).query).get("img") != [item.key]:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        else:
            break
    assert parse_qs(urlsplit(page.url).query).get("img") == [item.key], page.url
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    assert page.get_by_text(f"True label: {item.label_name}").count() == 1
    assert not page.js_errors
