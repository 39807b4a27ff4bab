"""The camera as a source, in a real browser with Chromium's fake camera (scripts/chromium.py
starts it with a moving test pattern and no permission prompt): a photo taken on Feature maps
is the network's input there and stays the session's input on the next page; a photo taken in
the playground is convolved. The page makes no request outside its own server (the browser
takes the photo; Streamlit uploads it to this server)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.browser.conftest import SCRIPT_DONE, wait_for_app


def take_photo(page) -> None:
    """Wait for the camera's live picture, press the widget's button, wait for the run."""
    widget = page.get_by_test_id("stCameraInput")
    button = widget.get_by_role("button", name="Take Photo")
    button.wait_for(timeout=60_000)
    page.wait_for_function(  # the fake camera's stream is playing
        "() => { const v = document.querySelector('[data-testid=\"stCameraInput\"] video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0 }",
        timeout=60_000,
    )
    button.click()
    page.wait_for_timeout(500)
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)


def test_a_photo_is_the_networks_input_and_stays_for_the_next_page(page) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    wait_for_app(page, "feature_maps?in=camera")
    page.get_by_text("Allow the camera").wait_for()
    take_photo(page)
    heading = page.locator("h4:has-text('The network says')")
    heading.wait_for(timeout=60_000)
    assert "your camera photo" in page.get_by_test_id("stMain").inner_text()
    assert page.get_by_text("A link cannot carry a camera photo").count() >= 1

    page.get_by_test_id("stSidebarNav").get_by_text("Inside the network", exact=True).click()
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)
    page.get_by_text("Using your camera photo from before").wait_for(timeout=60_000)

    own = urlsplit(page.app_url).netloc
    outside = [u for u in requests if urlsplit(u).netloc not in (own, "")]
    assert not outside, outside
    assert not page.js_errors, page.js_errors


def test_a_photo_is_convolved_in_the_playground(page) -> None:
    wait_for_app(page, "convolution?src=camera&k=sobel_x")
    take_photo(page)
    main = page.get_by_test_id("stMain")
    main.get_by_text("Result", exact=False).first.wait_for(timeout=60_000)
    text = main.inner_text()
    assert "Allow the camera" not in text
    assert "could not" not in text.lower(), text[:500]
    assert not page.js_errors, page.js_errors
