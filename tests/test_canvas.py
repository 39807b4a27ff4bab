"""explorer.ui.canvas: the drawing canvas hands back checked pixels, never raw browser data.

The component is opaque to AppTest, so its value is injected through session state, as the
browser would send it (the page tests do the same)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

# AppTest's own default is 3 seconds a run: a loaded 2-core CI machine can take that long for a
# first run, and the test then fails for nothing. Every run gets the page tests' generous limit.
TIMEOUT = 60


def canvas_app() -> None:
    import streamlit as st

    from explorer.errors import UserError
    from explorer.ui.canvas import drawing_canvas

    try:
        rgba = drawing_canvas(key="canvas", width=40, height=30, stroke_width=5)
    except UserError as exc:
        st.error(str(exc))
    else:
        text = "nothing" if rgba is None else f"{rgba.shape} {rgba.dtype} {int(rgba[..., 0].sum())}"
        st.markdown(text)


def png_url(img: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    img.save(buffer, fmt)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def run_with(value: object) -> AppTest:
    at = AppTest.from_function(canvas_app, default_timeout=TIMEOUT)
    at.run()
    if value is not None:
        at.session_state["canvas"] = value
        at.run()
    assert not at.exception
    return at


def test_no_drawing_yet_gives_none():
    assert run_with(None).markdown[0].value == "nothing"


def test_a_drawing_comes_back_as_rgba_pixels():
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[5:10, 5:10] = (255, 255, 255, 255)
    at = run_with({"drawing": {"raw": {"objects": []}, "data": png_url(Image.fromarray(rgba))}})
    assert at.markdown[0].value == f"(30, 40, 4) uint8 {25 * 255}"


def test_a_forged_eps_is_refused_with_a_sentence():
    eps = base64.b64encode(b"%!PS-Adobe-3.0 EPSF-3.0\n").decode()
    at = run_with({"drawing": {"raw": {}, "data": "data:image/png;base64," + eps}})
    assert "The drawing could not be read: it says PNG but the data is an EPS" in at.error[0].value


def test_a_png_larger_than_the_canvas_is_refused():
    at = run_with({"drawing": {"data": png_url(Image.new("RGBA", (400, 300)))}})
    assert "400×300 px, larger than the 40×30 px canvas" in at.error[0].value


def test_a_drawing_field_of_the_wrong_kind_is_refused():
    at = run_with({"drawing": ["not", "a", "dict"]})
    assert "The drawing could not be read" in at.error[0].value
