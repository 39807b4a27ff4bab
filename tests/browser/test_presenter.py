"""Presenter mode on the real playground page: opened from a link at a projector's 1280×720
and at 1920×1080, the whole player — input, window, kernel, products, written sum, output and
controls — is on the first screen without scrolling, above every set-up section, and the
sidebar is gone."""

from __future__ import annotations

import pytest

from tests.browser.conftest import wait_for_app

PARTS = [
    "cp-in-grid",
    "cp-patch",
    "cp-kernel",
    "cp-products",
    "cp-written",
    "cp-out-grid",
    "cp-controls",
]


@pytest.mark.parametrize("hide", ["image,kernel,settings", ""])
@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_the_whole_player_is_on_the_first_screen(page, size, hide) -> None:
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    wait_for_app(page, f"convolution?present=1&hide={hide}&k=laplacian_8&sample=ship")
    page.get_by_test_id("cp-written").wait_for()
    page.evaluate("() => window.scrollTo(0, 0)")
    for part in PARTS:
        box = page.get_by_test_id(part).bounding_box()
        assert box is not None, part
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (part, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, (part, box)
    assert not page.get_by_test_id("stSidebar").is_visible()
    written = page.get_by_test_id("cp-written")
    assert float(written.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 24
    assert not page.js_errors
