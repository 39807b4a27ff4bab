"""The feature-map page in a real browser: a gallery sample, an uploaded image and a digit
drawn with the mouse all end in a prediction, without JavaScript errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.model import WEIGHTS_DIR
from tests.browser.conftest import wait_for_app

HEADING = "h4:has-text('The network says')"


def open_feature_maps(page) -> None:
    """Through the app's navigation (app.py sets the wide layout and the page list)."""
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Feature maps", exact=True).click()
    page.wait_for_selector(HEADING, timeout=60_000)


def choose(page, label: str, option: str) -> None:
    box = page.get_by_test_id("stSelectbox").filter(has_text=label)
    box.click()
    page.keyboard.type(option.split(" — ")[0])  # the list is virtual: filter it so it is drawn
    page.get_by_role("option", name=option).first.click()


def settled_heading(page, previous: str | None = None) -> str:
    page.wait_for_function(
        "([sel, prev]) => { const h = document.querySelector('h4'); return h && "
        "h.innerText.includes('The network says') && h.innerText !== prev && "
        "!document.querySelector('[data-testid=\"stStatusWidget\"]') }",
        arg=[HEADING, previous or ""],
        timeout=60_000,
    )
    return page.locator(HEADING).inner_text()


def test_gallery_sample_upload_and_drawing(page, tmp_path: Path) -> None:
    open_feature_maps(page)
    first = settled_heading(page)
    page.wait_for_function(  # the input and its channels, then 12 stages' pictures, all loaded
        "() => document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 4"
        " && [...document.querySelectorAll('img.cnnx-maps, img.cnnx-bar')]"
        "      .filter(i => i.complete && i.naturalWidth > 0).length === 24"
    )

    # another gallery sample: a ship
    choose(page, "Test image", "ship")
    second = settled_heading(page, first)
    assert page.get_by_text("True label: ship").count() == 1
    assert second

    # upload a photo
    page.get_by_text("Upload", exact=True).click()
    path = tmp_path / "red.png"
    Image.fromarray(np.full((60, 90, 3), (220, 40, 40), np.uint8)).save(path)
    page.locator("input[type='file']").set_input_files(str(path))
    page.wait_for_selector("text=your image red.png", timeout=60_000)

    # draw a "1" (with the MNIST network when it is there)
    mnist = (WEIGHTS_DIR / "simplecnn-mnist.pt").exists()
    if mnist:
        choose(page, "Weights", "Trained on MNIST digits")
        settled_heading(page)
    page.get_by_text("Draw", exact=True).click()
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 40)
    page.mouse.down()
    for i in range(1, 21):
        page.mouse.move(x + i * 0.3, box["y"] + 40 + i * 10)
    page.mouse.up()
    page.wait_for_selector("text=your drawing", timeout=60_000)
    heading = settled_heading(page)
    if mnist:
        assert "says: 1 " in heading, heading

    # the weights and the drawing are the session's: the next page runs the same network on it
    page.get_by_test_id("stSidebarNav").get_by_text("Inside the network", exact=True).click()
    page.wait_for_selector("text=Using your drawing from before", timeout=60_000)
    assert settled_heading(page) == heading
    assert page.js_errors == []


def test_a_learned_filter_opens_in_the_playground_as_its_kernel(page) -> None:
    open_feature_maps(page)
    settled_heading(page)
    button = page.get_by_role("button", name="Use this filter in the playground")
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_selector("text=Kernel from: conv1 filter 0", timeout=60_000)
    assert "/convolution" in page.url
    page.wait_for_url(re.compile(r"[?&]k=custom\b"))  # the filter travels in the share link
    page.get_by_text("Checked against PyTorch").wait_for(timeout=60_000)
    assert page.js_errors == []
