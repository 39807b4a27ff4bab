"""The convolution playground's input: any source picture → the planes it convolves.

A source is H×W numbers (a typed matrix, a matrix-like sample) or an H×W×3 uint8 picture
(a drawing, an upload, a photo sample). ``prepare_picture`` caps its size, picks the plane to
convolve and makes the small copy the animation works on. Arrays are rows first (H×W); the
sizes it writes for people are width×height, as image viewers say them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.pixels import resize_max_side, to_grayscale

PLAYGROUND_MAX_SIDE = 1024  # larger uploads are shrunk: a 1024² result is already 1 M numbers


@dataclass(frozen=True)
class ConvPicture:
    """The playground's input, ready to convolve. Its arrays are read-only."""

    full: np.ndarray  # H×W float64: the plane the result uses (gray, or the chosen channel)
    channels: np.ndarray  # C×H×W float64: every channel (C = 3 for colour, 1 for gray)
    working: np.ndarray  # h×w float64 whole numbers: `full` shrunk for the animation
    is_colour: bool  # the channels differ somewhere (a gray picture stored as RGB does not)
    original_shape: tuple[int, int]  # (H, W) before shrinking to PLAYGROUND_MAX_SIDE
    capped: bool  # True when it was shrunk

    @property
    def shape_text(self) -> str:
        """The full plane's size, width×height: ``"640×480"`` for a 480-row plane."""
        height, width = self.full.shape
        return f"{width}×{height}"

    @property
    def original_text(self) -> str:
        """The source's size before capping, width×height (``"4000×3000"``)."""
        height, width = self.original_shape
        return f"{width}×{height}"


def prepare_picture(
    source: np.ndarray,
    colour: str,
    working_side: int,
    original_size: tuple[int, int] | None = None,
) -> ConvPicture:
    """A source (H×W values or H×W×3 uint8) → the planes the playground convolves.

    The source is first shrunk to at most ``PLAYGROUND_MAX_SIDE`` a side. ``colour`` ("gray",
    "r", "g", "b") picks the plane of a colour picture (ignored for gray ones). The working
    plane keeps the aspect ratio, is at most ``working_side`` a side (never enlarged), and is
    rounded to whole numbers so the animation's cells show what a student can add up by hand.

    ``original_size`` is the picture's (width, height) when it was already shrunk while
    decoding (``uploads.decode_upload(data, PLAYGROUND_MAX_SIDE).original_size``), so the
    page can still say how large the upload was; by default, the source's own size.
    """
    source = np.asarray(source)
    original = source.shape[:2] if original_size is None else original_size[::-1]
    source = resize_max_side(source, PLAYGROUND_MAX_SIDE)
    if source.ndim == 2:
        full = source.astype(np.float64)
        channels, is_colour = full[None], False
    else:
        channels = np.moveaxis(source, 2, 0).astype(np.float64)  # H×W×3 → 3×H×W
        is_colour = bool((channels[0] != channels[1]).any() or (channels[1] != channels[2]).any())
        index = {"r": 0, "g": 1, "b": 2}.get(colour)
        full = channels[index].copy() if is_colour and index is not None else to_grayscale(source)
        if not is_colour:
            channels = full[None]
    working = full
    if max(full.shape) > working_side:
        working = np.rint(resize_max_side(full, working_side))
    for array in (full, channels, working):
        array.setflags(write=False)
    original = (int(original[0]), int(original[1]))
    return ConvPicture(full, channels, working, is_colour, original, original != full.shape)
