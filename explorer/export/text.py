"""Text drawn with Pillow's built-in font, for slides and animation frames.

No font file is fetched from anywhere: the font is Pillow's own. It has no glyphs for "−" or
"×", so drawn text uses "-" and "x" instead (``drawable_text``), and any other character it
lacks is drawn as "?". ``write_in_cells`` writes a grid's values in its cells, dark on light
colours and white on dark ones, as the page's grids do.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from explorer import render
from explorer.player import format_value

RGB = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

WHITE: RGB = (255, 255, 255)
INK: RGB = (17, 17, 17)  # text: the near-black the page's grids write numbers in
CELL_NUMBERS_MIN_PX = 24  # cells smaller than this get no number written in them


@functools.lru_cache(maxsize=32)
def builtin_font(size: int) -> Font:
    """Pillow's own font at ``size`` px: Aileron, bundled with Pillow ≥ 10.1 and drawn by
    FreeType (which Pillow's wheels include), so nothing is read from disk or the network."""
    return ImageFont.load_default(size=size)


# Characters the app writes that the built-in font lacks, and what is drawn instead.
_SUBSTITUTES = str.maketrans(
    {
        "\N{MINUS SIGN}": "-",
        "\N{EN DASH}": "-",
        "\N{EM DASH}": "-",
        "\N{MULTIPLICATION SIGN}": "x",
        "\N{NO-BREAK SPACE}": " ",
        "\N{HORIZONTAL ELLIPSIS}": "...",
        "\N{ALMOST EQUAL TO}": "~",
        "\N{LESS-THAN OR EQUAL TO}": "<=",
        "\N{GREATER-THAN OR EQUAL TO}": ">=",
        "\N{RIGHTWARDS ARROW}": "->",
    }
)
MAX_TITLE_CHARS = 120


def _glyph_pixels(char: str) -> bytes:
    font = builtin_font(24)
    image = Image.new("L", (48, 40))
    ImageDraw.Draw(image).text((4, 4), char, font=font, fill=255)
    return image.tobytes()


@functools.lru_cache(maxsize=1024)
def _has_glyph(char: str) -> bool:
    """Whether the built-in font draws ``char`` (a missing glyph is drawn as the same box as
    a private-use character, which no font maps)."""
    return char.isascii() or _glyph_pixels(char) != _glyph_pixels("\ue000")


def drawable_text(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """``text`` as the built-in font can draw it: one line, "−" and "×" as "-" and "x", other
    characters the font lacks (and control characters) as "?", at most ``limit`` characters."""
    text = " ".join(str(text).translate(_SUBSTITUTES).split())
    text = "".join(c if c.isprintable() and _has_glyph(c) else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def text_size(text: str, font: Font) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return int(right - min(left, 0)), int(bottom)


def numbers_font(values: np.ndarray, cell: int, largest: int) -> Font | None:
    """One font for writing every value of ``values`` in a ``cell``-px square: the largest
    size up to ``largest`` (and cell/4) at which the widest value fits; None when even 9 px
    is too wide."""
    texts = [drawable_text(format_value(v)) for v in np.ravel(values)]
    for size in range(min(largest, cell // 4), 8, -1):
        if max(text_size(text, builtin_font(size))[0] for text in texts) <= cell - 8:
            return builtin_font(size)
    return None


def write_in_cells(
    image: Image.Image,
    values: np.ndarray,
    origin: tuple[int, int],
    cell: int,
    font: Font,
    mask: np.ndarray | None = None,
    aliased: bool = False,
) -> None:
    """Each value (where ``mask`` is set) written in the middle of its cell, dark on light
    colours and white on dark ones as the page's grids do (the colour read from the cell's
    corner). ``aliased``: only those two colours, no anti-aliasing (for a GIF's palette)."""
    draw = ImageDraw.Draw(image)
    if aliased:
        draw.fontmode = "1"
    x0, y0 = origin
    pixels = np.asarray(image)
    for (r, c), value in np.ndenumerate(values):
        if mask is not None and not mask[r, c]:
            continue
        red, green, blue = (int(v) for v in pixels[y0 + r * cell, x0 + c * cell])
        ink = WHITE if render.ink(red, green, blue) == "#fff" else INK
        centre = (x0 + c * cell + cell / 2, y0 + r * cell + cell / 2)
        draw.text(centre, drawable_text(format_value(value)), font=font, fill=ink, anchor="mm")
