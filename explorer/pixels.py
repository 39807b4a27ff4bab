"""Pixels and sizes: gray levels, compositing transparency, resizing. The bottom layer of image
handling (uploads, samples and the model's input build on it), so ``ImageError`` lives here.

Pictures are H×W×3 uint8 RGB unless a docstring says otherwise; grayscale "intensity" arrays
are H×W float64 in 0..255 so the playground can show whole numbers in its cells. Array shapes
are written rows first (H×W); sizes in messages are width×height px, as image viewers say them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from explorer.errors import UserError

MAX_SIDE = 12_000  # the longest side, in px, of any image we decode or make
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
# Rows of pixels composited per step: bounds the integer temporaries to a few MB however large
# the picture is.
_BLOCK_PIXELS = 1 << 20


class ImageError(UserError):
    """An image or matrix the user gave us that we cannot use, with a sentence saying why."""


def to_grayscale(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 RGB → H×W float64 luma in 0..255, ITU-R BT.601
    (0.299 R + 0.587 G + 0.114 B) — the weights JPEG and Pillow's "L" use.

    The result is rounded to whole numbers so the playground's cells show integers and the
    hand-computed sums a student checks come out exact. An H×W array is already gray and is
    returned as a float64 copy with its values unchanged.
    """
    arr = np.asarray(rgb)
    if arr.ndim == 2:
        return arr.astype(np.float64, copy=True)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageError(f"Expected an H×W×3 colour image, not an array of shape {arr.shape}.")
    luma = arr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.rint(luma)


def gray_to_rgb(values: np.ndarray) -> np.ndarray:
    """H×W numbers → H×W×3 uint8, rounded and clipped to 0..255, the same on every channel."""
    gray = np.clip(np.rint(np.asarray(values, dtype=np.float64)), 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def composite(rgba: np.ndarray, background: tuple[int, int, int] = WHITE) -> np.ndarray:
    """H×W×4 RGBA → H×W×3 uint8: ``rgb·a + background·(1−a)``, a = alpha / 255, rounded.

    uint8 input is composited in 16-bit integer arithmetic, a block of rows at a time, so a
    36-megapixel picture needs no float copies (≈ 3 bytes per pixel for the result plus a few
    MB). Other dtypes are first rounded and clipped to whole levels 0..255.
    """
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ImageError(f"Expected an H×W×4 (RGBA) image, not an array of shape {arr.shape}.")
    height, width = arr.shape[:2]
    bg = np.asarray(background, dtype=np.uint16).reshape(1, 1, 3)
    out = np.empty((height, width, 3), dtype=np.uint8)
    rows = max(1, _BLOCK_PIXELS // max(1, width))
    for top in range(0, height, rows):
        block = arr[top : top + rows]
        if block.dtype != np.uint8:
            block = np.clip(np.rint(np.nan_to_num(block.astype(np.float64))), 0, 255)
        block = block.astype(np.uint16)
        alpha = block[:, :, 3:4]
        # (x + 127) // 255 rounds x / 255 to the nearest integer (255 is odd: no ties), and
        # 255·255 + 127 still fits in 16 bits.
        mixed = block[:, :, :3] * alpha + bg * (255 - alpha) + 127
        out[top : top + rows] = mixed // 255
    return out


def shrunk_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(height, width) scaled so the longer side is at most ``max_side``, aspect ratio kept,
    each side at least 1; unchanged when already small enough."""
    if max_side < 1:
        raise ImageError("The largest side must be at least 1 pixel.")
    longest = max(height, width)
    if longest <= max_side:
        return height, width
    scale = max_side / longest
    return (
        min(max_side, max(1, round(height * scale))),
        min(max_side, max(1, round(width * scale))),
    )


def resize_max_side(img: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longer side is at most ``max_side`` px, keeping the aspect ratio; never
    enlarges (an image already small enough comes back as an unchanged copy).

    Works for H×W×3 / H×W uint8 and H×W (×C) float; the result has the input's dtype. Uses
    Pillow's Lanczos filter, which widens its support when shrinking, so it averages over the
    whole area each output pixel covers (no aliasing).
    """
    arr = np.asarray(img)
    height, width = shrunk_size(arr.shape[0], arr.shape[1], max_side)
    if (height, width) == arr.shape[:2]:
        return arr.copy()
    return resize_exact(arr, height, width)


def resize_exact(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """H×W(×C) → height×width(×C), the same dtype (uint8 or float), aspect ratio not kept.

    Lanczos when the image gets smaller (area-aware, no aliasing), bicubic when it gets larger
    (Lanczos rings visibly when enlarging). Float results are clipped to the input's range so
    the filter's overshoot never invents values below the minimum or above the maximum.
    """
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise ImageError(
            f"A size of {width}×{height} px is not possible; each side must be 1 to "
            f"{MAX_SIDE:,} px."
        )
    arr = np.asarray(img)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ImageError(f"Expected an H×W or H×W×C image, not an array of shape {arr.shape}.")
    if arr.shape[:2] == (height, width):
        return arr.copy()
    shrinking = height * width < arr.shape[0] * arr.shape[1]
    method = Image.Resampling.LANCZOS if shrinking else Image.Resampling.BICUBIC
    if arr.dtype == np.uint8 and (arr.ndim == 2 or arr.shape[2] in (3, 4)):
        return np.asarray(Image.fromarray(arr).resize((width, height), method)).copy()
    # Floats (and odd channel counts) go through Pillow's 32-bit float mode one channel at a
    # time; float32 keeps ~7 significant digits, plenty for values in 0..255.
    channels = arr[:, :, None] if arr.ndim == 2 else arr
    as_float = channels.astype(np.float64)
    out = np.stack(
        [
            np.asarray(
                Image.fromarray(as_float[:, :, c].astype(np.float32)).resize(
                    (width, height), method
                )
            )
            for c in range(channels.shape[2])
        ],
        axis=2,
    ).astype(np.float64)
    out = np.clip(out, as_float.min(), as_float.max())
    if arr.ndim == 2:
        out = out[:, :, 0]
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(arr.dtype)
