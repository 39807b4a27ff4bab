"""The drawing canvas (streamlit-drawable-canvas), with its data decoded by our own checks.

``st_canvas(...).image_data`` would hand whatever data URL the browser sent to an unrestricted
``PIL.Image.open``: a modified client could send a 6000×6000 PNG (1 GB to decode) or an EPS
file (Pillow's EPS plugin runs Ghostscript where it is installed). So this calls the package's
component itself and decodes its data URL with ``uploads.decode_canvas``: PNG only, no larger
than the canvas asked for, checked before a pixel is decoded.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import streamlit_drawable_canvas

from explorer.pixels import ImageError
from explorer.uploads import decode_canvas


def drawing_canvas(
    *,
    key: str,
    width: int = 280,
    height: int = 280,
    stroke_width: int = 20,
    stroke_color: str = "#ffffff",
    background_color: str = "#000000",
) -> np.ndarray | None:
    """A freehand drawing canvas of ``width``×``height`` px → its H×W×4 uint8 RGBA pixels
    (height rows, width columns), or None until the first stroke.

    Raises ImageError (a UserError the pages show as a sentence) when the browser sends data
    that is not a PNG of at most the canvas's size.
    """
    empty = {"objects": [], "background": background_color}
    # The arguments st_canvas 0.13 sends for a plain freehand canvas (see its source): the
    # frontend reads every key, so all of them are here.
    data = {
        "fillColor": "#eee",
        "strokeWidth": stroke_width,
        "strokeColor": stroke_color,
        "backgroundColor": background_color,
        "backgroundImageURL": None,
        "realtimeUpdateStreamlit": True,
        "canvasWidth": width,
        "canvasHeight": height,
        "drawingMode": "freedraw",
        "initialDrawing": empty,
        "displayRadius": 3,
        "returnImageData": True,
        "disabled": False,
        "backgroundImageFit": "stretch",
        "maxDisplayHeight": None,
        "fontSize": 20,
        "label": "",
    }
    result = streamlit_drawable_canvas.out(
        data=data,
        key=key,
        default={"drawing": {"raw": empty, "data": None}, "backgroundFit": None},
        on_drawing_change=lambda: None,
        on_backgroundFit_change=lambda: None,
        width="content",
        height="content",
    )
    # Everything in `result` came from the browser: check its shape before reading it.
    drawing = result.get("drawing") if isinstance(result, Mapping) else None
    if drawing is None:
        return None
    if not isinstance(drawing, Mapping):
        raise ImageError("The drawing could not be read: the canvas sent something else.")
    return decode_canvas(drawing.get("data"), width, height)
