"""The network's input: a drawn digit or a photo → the 32×32×3 uint8 picture SimpleCNN reads,
prepared exactly as its training images were (the trainer uses ``pad_digits`` too).

Array shapes are rows first (H×W); sizes in messages are width×height px.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from explorer.pixels import ImageError, resize_exact, to_grayscale

MODEL_SIDE = 32  # SimpleCNN reads 32×32×3, the CIFAR-10 size
MNIST_BOX = 20  # MNIST digits were scaled to fit a 20×20 box…
MNIST_SIDE = 28  # …and centred by their centre of mass in 28×28
DIGIT_PAD = (MODEL_SIDE - MNIST_SIDE) // 2  # 2 px of black on every side makes 28 → 32
_INK = 0.5  # darker than half a gray level counts as background


def digit_like_mnist(gray: np.ndarray) -> np.ndarray:
    """A drawn digit (H×W uint8 or float in 0..255, white strokes on black, any size; an
    H×W×3 image is converted with ``to_grayscale``) → 28×28 uint8, prepared the way the MNIST
    digits were (LeCun et al.):

    1. crop to the bounding box of the ink;
    2. scale so the longer side is 20 px, keeping the aspect ratio (anti-aliased; a box that
       is already 20 px long is kept pixel for pixel);
    3. paste into a black 28×28 image so the intensity-weighted centre of mass lands on pixel
       (14, 14), the shift rounded to whole pixels. (The shift is limited so no ink is cut off;
       only a very lopsided digit can end up slightly off-centre.)

    Raises ImageError("Draw a digit first.") when there is no ink.
    """
    arr = np.asarray(gray)
    values = to_grayscale(arr) if arr.ndim == 3 else np.asarray(arr, dtype=np.float64)
    if values.ndim != 2:
        raise ImageError(f"Expected an H×W drawing, not an array of shape {values.shape}.")
    values = np.nan_to_num(values, nan=0.0, posinf=255.0, neginf=0.0)
    ink_rows = np.flatnonzero((values > _INK).any(axis=1))
    ink_cols = np.flatnonzero((values > _INK).any(axis=0))
    if ink_rows.size == 0:
        raise ImageError("Draw a digit first.")
    box = values[ink_rows[0] : ink_rows[-1] + 1, ink_cols[0] : ink_cols[-1] + 1]

    height, width = box.shape
    scale = MNIST_BOX / max(height, width)
    new_h = min(MNIST_BOX, max(1, round(height * scale)))
    new_w = min(MNIST_BOX, max(1, round(width * scale)))
    box = np.clip(resize_exact(box, new_h, new_w), 0, 255)

    ys, xs = np.indices(box.shape)
    total = box.sum()
    if total <= 0:  # only possible if resampling erased a faint speck
        raise ImageError("Draw a digit first.")
    centre_y, centre_x = (ys * box).sum() / total, (xs * box).sum() / total
    centre = MNIST_SIDE // 2
    top = int(np.clip(np.floor(centre - centre_y + 0.5), 0, MNIST_SIDE - new_h))
    left = int(np.clip(np.floor(centre - centre_x + 0.5), 0, MNIST_SIDE - new_w))

    out = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.uint8)
    out[top : top + new_h, left : left + new_w] = np.rint(box).astype(np.uint8)
    return out


def pad_digits(digits: np.ndarray, channel_axis: int) -> np.ndarray:
    """…×28×28 uint8 digits → 32×32 on three identical channels, inserted at
    ``channel_axis``: ``DIGIT_PAD`` px of black on every side. The one padding used by the
    trainer (N×28×28 → N×3×32×32, ``channel_axis=1``) and the app (28×28 → 32×32×3,
    ``channel_axis=-1``), so the model sees drawings exactly as it saw its training digits."""
    arr = np.asarray(digits, dtype=np.uint8)
    if arr.ndim < 2 or arr.shape[-2:] != (MNIST_SIDE, MNIST_SIDE):
        raise ImageError(f"Expected 28×28 digits, not an array of shape {arr.shape}.")
    widths = [(0, 0)] * (arr.ndim - 2) + [(DIGIT_PAD, DIGIT_PAD)] * 2
    padded = np.pad(arr, widths)
    return np.repeat(np.expand_dims(padded, channel_axis), 3, axis=channel_axis)


def pad_digit(digit28: np.ndarray) -> np.ndarray:
    """One 28×28 uint8 digit → 32×32×3 uint8 (see ``pad_digits``)."""
    return pad_digits(digit28, channel_axis=-1)


def digit_to_model_image(gray: np.ndarray) -> np.ndarray:
    """A drawn digit (see ``digit_like_mnist``) → the MNIST network's 32×32×3 uint8 input."""
    return pad_digit(digit_like_mnist(gray))


def photo_to_model_image(rgb: np.ndarray) -> np.ndarray:
    """Any H×W×3 uint8 photo (or H×W gray) → the CIFAR-10 network's 32×32×3 uint8 input.

    Centre-crop to a square (the CIFAR images are square and the network must not see a
    squashed object), then resize with bicubic interpolation — Pillow's default filter for
    ``Image.resize``, which widens its support when shrinking, so it is anti-aliased. A photo
    decoded with ``decode_image(data, max_side=…)`` of a few hundred px gives the same input
    as its full size, at a fraction of the memory.
    """
    arr = np.asarray(rgb)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"Expected an H×W×3 colour image, not an array of shape {arr.shape}.")
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    height, width = arr.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = np.ascontiguousarray(arr[top : top + side, left : left + side])
    if side == MODEL_SIDE:
        return square.copy()
    resized = Image.fromarray(square).resize((MODEL_SIDE, MODEL_SIDE), Image.Resampling.BICUBIC)
    return np.asarray(resized).copy()
