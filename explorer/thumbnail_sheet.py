"""Many small pictures as one PNG (a sprite sheet): the thumbnails of a grid travel to the
browser as one file, fetched once, instead of one data URL each on every run.

Tiles are all the same size, ``columns`` a row, tile 0 top left, row-major, with no gap (the
browser cuts tile i out by its row and column: ``i // columns``, ``i % columns``). Pure arrays
in, bytes out; Streamlit-free.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from explorer import render

SHEET_COLUMNS = 16


@dataclass(frozen=True)
class ThumbnailSheet:
    """``count`` tiles of ``tile`` (height, width) pixels in one PNG, ``columns`` a row."""

    png: bytes
    count: int
    columns: int
    tile: tuple[int, int]

    @property
    def rows(self) -> int:
        return -(-self.count // self.columns)


def thumbnail_sheet(
    tiles: Sequence[np.ndarray] | np.ndarray, compress_level: int = 9
) -> ThumbnailSheet:
    """N pictures of one size (h×w×3 uint8, or h×w gray) → their sheet, at most
    ``SHEET_COLUMNS`` a row. Encoded with zlib's best compression by default: a sheet of
    fixed pictures (the gallery, the samples) is made once and then travels to every browser
    that shows it. A sheet made for every new input (a layer's maps) passes 1: fastest."""
    stack = np.stack([_rgb(t) for t in tiles]) if len(tiles) else np.zeros((0, 1, 1, 3))
    if stack.ndim != 4 or len(stack) == 0:
        raise ValueError("a thumbnail sheet needs at least one picture, all of one size")
    columns = min(SHEET_COLUMNS, len(stack))
    pixels = render.montage(stack.astype(np.uint8), cols=columns, gap=0, fill=255)
    buf = io.BytesIO()
    picture = Image.fromarray(np.ascontiguousarray(pixels))
    picture.save(buf, format="PNG", compress_level=compress_level)
    return ThumbnailSheet(buf.getvalue(), len(stack), columns, stack.shape[1:3])


def sheet_tile(sheet: ThumbnailSheet, index: int) -> np.ndarray:
    """Tile ``index`` of ``sheet`` as h×w×3 uint8, cut out as the browser does (tests)."""
    if not 0 <= index < sheet.count:
        raise IndexError(f"tile {index} of a sheet of {sheet.count}")
    pixels = np.asarray(Image.open(io.BytesIO(sheet.png)).convert("RGB"))
    (h, w), (r, c) = sheet.tile, divmod(index, sheet.columns)
    return pixels[r * h : (r + 1) * h, c * w : (c + 1) * w]


def square_thumbnail(picture: np.ndarray, side: int, fill: int = 255) -> np.ndarray:
    """Any H×W(×3) uint8 picture fitted into a ``side``×``side`` tile, its shape kept: small
    ones (a 5×5 matrix) enlarged by a whole factor so each pixel stays a crisp square, large
    ones shrunk smoothly; centred on ``fill``."""
    rgb = _rgb(picture)
    h, w = rgb.shape[:2]
    if max(h, w) <= side:
        rgb = render.enlarge(rgb, max(1, side // max(h, w)))
    else:
        scale = side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))
    h, w = rgb.shape[:2]
    out = np.full((side, side, 3), fill, np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    out[top : top + h, left : left + w] = rgb
    return out


def _rgb(picture: np.ndarray) -> np.ndarray:
    arr = np.asarray(picture)
    if arr.dtype != np.uint8:
        raise ValueError(f"a thumbnail is uint8 pixels, not {arr.dtype}")
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"a thumbnail is H×W or H×W×3, not shape {arr.shape}")
    return arr


def numbers_tile(values: np.ndarray, side: int) -> np.ndarray:
    """A small matrix (a 5×5 sample) as its numbers in gray cells, darkest for the smallest,
    as the playground's grid draws it: a picture of 1…25 in gray levels alone would be black."""
    from explorer.export.text import builtin_font, write_in_cells

    values = np.asarray(values, dtype=np.float64)
    cell = max(1, side // max(values.shape))
    picture = render.enlarge(render.colourise(values, "gray"), cell)
    image = Image.fromarray(square_thumbnail(picture, side))
    top, left = (side - cell * values.shape[0]) // 2, (side - cell * values.shape[1]) // 2
    write_in_cells(image, values, (left, top), cell, builtin_font(max(8, cell * 5 // 8)))
    return np.asarray(image)
