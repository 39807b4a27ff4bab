"""The convolution playground's input: any source picture → the planes it convolves.

A source is H×W numbers (a typed matrix, a matrix-like sample) or an H×W×3 uint8 picture
(a drawing, an upload, a photo sample). ``prepare_picture`` caps its size, picks the plane to
convolve and makes the small copy the animation works on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.images import resize_max_side, to_grayscale

PLAYGROUND_MAX_SIDE = 1024  # larger uploads are shrunk: a 1024² result is already 1 M numbers


@dataclass(frozen=True)
class ConvPicture:
    """The playground's input, ready to convolve. Its arrays are read-only."""

    full: np.ndarray  # H×W float64: the plane the result uses (gray, or the chosen channel)
    channels: np.ndarray  # C×H×W float64: every channel (C = 3 for colour, 1 for gray)
    working: np.ndarray  # h×w float64 whole numbers: `full` shrunk for the animation
    is_colour: bool  # the channels differ somewhere (a gray picture stored as RGB does not)
    original_shape: tuple[int, int]  # before shrinking to PLAYGROUND_MAX_SIDE
    capped: bool  # True when it was shrunk

    @property
    def shape_text(self) -> str:
        """The full plane's size, ``"H×W"``."""
        return "×".join(str(n) for n in self.full.shape)

    @property
    def original_text(self) -> str:
        """The source's size before capping, ``"H×W"``."""
        return "×".join(str(n) for n in self.original_shape)


def prepare_picture(source: np.ndarray, colour: str, working_side: int) -> ConvPicture:
    """A source (H×W values or H×W×3 uint8) → the planes the playground convolves.

    The source is first shrunk to at most ``PLAYGROUND_MAX_SIDE`` a side. ``colour`` ("gray",
    "r", "g", "b") picks the plane of a colour picture (ignored for gray ones). The working
    plane keeps the aspect ratio, is at most ``working_side`` a side (never enlarged), and is
    rounded to whole numbers so the animation's cells show what a student can add up by hand.
    """
    source = np.asarray(source)
    original = source.shape[:2]
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
    return ConvPicture(full, channels, working, is_colour, original, original != full.shape)
