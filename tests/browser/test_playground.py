"""The convolution playground in a real browser: drawing, uploading, a bad upload, and the
player's controls, with no JavaScript errors along the way.

The canvas (streamlit-drawable-canvas) is a components-v2 element inside an open shadow root;
Playwright's CSS selectors pierce it, and fabric.js listens on its `upper-canvas`.
"""

from __future__ import annotations

import io
import re
import time

import numpy as np
from PIL import Image

from explorer.convolution import window_trace
from explorer.kernels import KERNELS
from explorer.player import interesting_start
from explorer.playground import prepare_picture
from explorer.samples import sample_matrix
from tests.browser.conftest import SCRIPT_DONE, wait_for_app

CHECKED = "text=Checked against PyTorch"


def open_playground(page, query: str = "") -> None:
    wait_for_app(page, f"convolution{query}")
    page.wait_for_selector(CHECKED if "src=" not in query else "[data-testid='stHeading']")


def result_line(page) -> str:
    return page.get_by_text(re.compile(r"result from the full")).inner_text()


def settled(page) -> None:
    """Wait until the script run has finished and its stale elements are gone (the status
    widget alone is not enough: Streamlit shows it only for runs that take a while)."""
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)


def wait_until(condition, timeout_s: float = 15.0) -> None:
    """Poll ``condition`` (the player lives in a shadow root, out of reach of
    ``page.wait_for_function``'s document.querySelector)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def test_drawing_a_stroke_updates_the_result(page) -> None:
    open_playground(page, "?src=draw")
    page.wait_for_selector("text=Draw something")
    canvas = page.locator("canvas.upper-canvas")
    box = canvas.bounding_box()
    assert box is not None and box["width"] == 280
    page.mouse.move(box["x"] + 40, box["y"] + 140)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(box["x"] + 40 + 10 * step, box["y"] + 140 + 2 * step)
    page.mouse.up()
    page.wait_for_selector("text=278×278 result", timeout=30_000)
    page.wait_for_selector(CHECKED)
    assert page.get_by_text("Draw something").count() == 0
    assert page.js_errors == []


def test_uploaded_image_is_used_and_a_bad_one_explained(page, tmp_path) -> None:
    open_playground(page, "?src=upload")
    page.wait_for_selector("text=Upload a photo")
    picture = tmp_path / "stripes.png"
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, ::4] = (250, 200, 20)
    picture.write_bytes(png_bytes(rgb))
    page.locator("input[type=file]").set_input_files(str(picture))
    page.wait_for_selector("text=58×38 result", timeout=30_000)  # width × height
    page.wait_for_selector(CHECKED)

    notes = tmp_path / "notes.png"
    notes.write_text("not a picture at all")
    page.locator("input[type=file]").set_input_files(str(notes))
    page.wait_for_selector("text=could not be read as an image", timeout=30_000)
    settled(page)
    assert page.get_by_text(re.compile(r"\d+×\d+ result")).count() == 0
    assert page.js_errors == []


def test_player_plays_pauses_and_steps_back(page) -> None:
    open_playground(page)
    counter = page.locator("[data-testid='cp-counter']")
    counter.wait_for()
    # 30×30 windows on the 32×32 image; the demo opens where something visible happens
    picture = prepare_picture(sample_matrix("shapes"), "gray", 32)
    start = interesting_start(window_trace(picture.working, KERNELS["sobel_x"].values))
    assert counter.inner_text() == f"window {start} of 900"
    page.locator("[data-testid='cp-play']").click()
    wait_until(lambda: int(counter.get_attribute("data-position")) >= start + 3)
    page.locator("[data-testid='cp-play']").click()  # pause
    paused = int(counter.get_attribute("data-position"))
    page.wait_for_timeout(400)
    assert int(counter.get_attribute("data-position")) == paused  # it stays paused
    page.locator("[data-testid='cp-back']").click()
    assert int(counter.get_attribute("data-position")) == paused - 1
    assert counter.inner_text() == f"window {paused - 1} of 900"
    assert page.locator("[data-testid='cp-sum']").inner_text() not in ("", "–")
    assert page.js_errors == []


def test_changing_the_kernel_rerenders_and_keeps_the_link(page) -> None:
    open_playground(page)
    before = result_line(page)
    page.get_by_role("combobox", name=re.compile("Kernel")).first.click()
    page.get_by_role("option", name="Box blur 3×3").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('p')].some(p => p.innerText.includes('to 255'))"
    )
    settled(page)
    assert result_line(page) != before
    # The address bar is updated by a message that may arrive just after the rerun ends.
    page.wait_for_url(re.compile(r"[?&]k=box_blur_3\b"))
    assert "k=box_blur_3" in page.url
    assert page.js_errors == []
