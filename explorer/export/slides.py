"""Slides: a picture, a title, a colour bar with its numbers.

``result_slide_png`` enlarges a convolution result for a slide (whole pixels, so each cell
stays a crisp square) with its colour bar and the numbers the bar's ends stand for;
``montage_png`` does the same for a network stage's feature maps. Colours are
``render.colourise``'s, so a slide shows exactly the colours of the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

from explorer import render
from explorer.export.text import (
    CELL_NUMBERS_MIN_PX,
    INK,
    RGB,
    WHITE,
    builtin_font,
    drawable_text,
    numbers_font,
    text_size,
    write_in_cells,
)
from explorer.player import NUMBERS_MAX_SIDE, format_value

if TYPE_CHECKING:
    from explorer.stage_pictures import ScaleMode
    from explorer.stages import StageKind

MUTED: RGB = (90, 90, 90)  # secondary text (the colour bar's explanation)
BAR_BORDER: RGB = (160, 160, 160)

SLIDE_MIN_SIDE = 800  # the picture's long side is enlarged to at least this many pixels
SLIDE_MARGIN = 32
TITLE_PX = 30
LABEL_PX = 22
NOTE_PX = 18
BAR_HEIGHT = 28
BAR_MAX_WIDTH = 640


@dataclass(frozen=True)
class Slide:
    """A picture laid out for a slide. ``pixels`` is H×W×3 uint8; the other fields say where
    things are on it (x to the right, y down, in pixels), for tests and for anyone cropping."""

    pixels: np.ndarray
    picture_origin: tuple[int, int]  # (x, y) of the picture's top-left pixel
    cell_px: int  # each value of the result is a cell_px × cell_px square
    bar_box: tuple[int, int, int, int] | None  # (x0, y0, x1, y1) of the colour ramp, x1/y1 excl.
    bar_labels: tuple[tuple[str, int], ...]  # the numbers under the bar: (text, x it marks)
    titles: tuple[str, ...] = ()  # the title's lines as drawn, the first one large

    def png(self) -> bytes:
        return render.png_bytes(self.pixels)


@dataclass(frozen=True)
class _Bar:
    """A colour bar to draw: its map and range, and the labels under it as (text, position
    0…1 along the bar)."""

    cmap: render.ColourMap
    lo: float
    hi: float
    labels: tuple[tuple[str, float], ...]
    note: str = ""


def _value_labels(lo: float, hi: float, cmap: render.ColourMap) -> tuple[tuple[str, float], ...]:
    """The bar's end values, and 0 in the middle of a diverging bar symmetric about 0 (its
    white; with a range given by hand, white is the middle, whatever value that is)."""
    labels = [(format_value(lo), 0.0), (format_value(hi), 1.0)]
    if cmap == "diverging" and lo == -hi:
        labels.insert(1, ("0", 0.5))
    return tuple(labels)


def _compose(
    picture: np.ndarray,
    cell_px: int,
    title: str | None,
    bar: _Bar | None,
    note: str = "",
    numbers: np.ndarray | None = None,
) -> Slide:
    """Lay out: the title (its first line large, the others smaller), the picture (centred),
    the colour bar with its labels, a note."""
    titles = title_lines(title)
    title_font, label_font, note_font = (
        builtin_font(TITLE_PX),
        builtin_font(LABEL_PX),
        builtin_font(NOTE_PX),
    )
    note = drawable_text(note or (bar.note if bar else ""), 200)
    ph, pw = picture.shape[:2]
    bar_width = min(pw, BAR_MAX_WIDTH) if bar else 0
    if bar:
        bar_width = max(bar_width, 320)
    widths = [pw, bar_width]
    fonts = [title_font if k == 0 else label_font for k in range(len(titles))]
    widths += [text_size(line, font)[0] for line, font in zip(titles, fonts, strict=True)]
    if note:
        widths.append(text_size(note, note_font)[0])
    width = max(widths) + 2 * SLIDE_MARGIN
    y = SLIDE_MARGIN
    title_ys = []
    for k in range(len(titles)):
        title_ys.append(y)
        y += TITLE_PX + 10 if k == 0 else LABEL_PX + 8
    if titles:
        y += 8
    picture_origin = ((width - pw) // 2, y)
    y += ph + 20
    bar_box = None
    if bar:
        bar_x = (width - bar_width) // 2
        bar_box = (bar_x, y, bar_x + bar_width, y + BAR_HEIGHT)
        y += BAR_HEIGHT + 6 + LABEL_PX + 10
    note_y = y
    if note:
        y += NOTE_PX + 10
    height = y + SLIDE_MARGIN - 10

    canvas = Image.new("RGB", (width, height), WHITE)
    canvas.paste(Image.fromarray(np.ascontiguousarray(picture)), picture_origin)
    font = numbers_font(numbers, cell_px, 40) if numbers is not None else None
    if numbers is not None and font is not None:
        write_in_cells(canvas, numbers, picture_origin, cell_px, font)
    draw = ImageDraw.Draw(canvas)
    for line, font, line_y in zip(titles, fonts, title_ys, strict=True):
        ink = INK if font is title_font else MUTED
        draw.text((SLIDE_MARGIN, line_y), line, font=font, fill=ink)
    labels: list[tuple[str, int]] = []
    if bar and bar_box:
        x0, y0, x1, y1 = bar_box
        ramp = np.tile(np.linspace(bar.lo, bar.hi, x1 - x0), (y1 - y0, 1))
        canvas.paste(Image.fromarray(render.colourise(ramp, bar.cmap, bar.lo, bar.hi)), (x0, y0))
        draw.rectangle((x0 - 1, y0 - 1, x1, y1), outline=BAR_BORDER)
        for text, position in bar.labels:
            text = drawable_text(text, 40)
            x = x0 + round(position * (x1 - x0 - 1))
            anchor = "la" if position == 0 else "ra" if position == 1 else "ma"
            draw.text((x, y1 + 6), text, font=label_font, fill=INK, anchor=anchor)
            labels.append((text, x))
    if note:
        draw.text((width // 2, note_y), note, font=note_font, fill=MUTED, anchor="ma")
    return Slide(np.asarray(canvas).copy(), picture_origin, cell_px, bar_box, tuple(labels), titles)


def title_lines(title: str | None) -> tuple[str, ...]:
    """A title's lines as a slide draws them: split at line breaks, each made drawable
    (``text.drawable_text``), empty lines dropped."""
    lines = (drawable_text(line) for line in str(title or "").split("\n"))
    return tuple(line for line in lines if line)


def slide_factor(height: int, width: int, min_side: int = SLIDE_MIN_SIDE) -> int:
    """The whole-number enlargement that brings the long side to at least ``min_side`` px
    (at most ``min_side`` + one cell beyond it); 1 for pictures already that large, which are
    never shrunk (the playground's results are at most 1,030 px a side)."""
    return max(1, -(-min_side // max(1, height, width)))


def result_slide(
    result: np.ndarray,
    cmap: render.ColourMap = "diverging",
    title: str | None = None,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    numbers: bool | None = None,
    min_side: int = SLIDE_MIN_SIDE,
) -> Slide:
    """A convolution result laid out for a slide (see :func:`result_slide_png`)."""
    result = np.asarray(result, dtype=np.float64)
    if result.ndim not in (2, 3) or result.size == 0:
        raise ValueError(f"A result is H×W or C×H×W numbers, not shape {result.shape}.")
    height, width = result.shape[-2:]
    factor = slide_factor(height, width, min_side)
    if result.ndim == 3:
        picture = render.enlarge(render.channels_picture(result), factor)
        names = "red, green and blue" if result.shape[0] == 3 else "each channel"
        note = (
            f"The kernel applied to {names} separately and put back together; "
            "values outside 0 to 255 are clipped."
        )
        return _compose(picture, factor, title, None, note)
    lo, hi = render.value_range(result, cmap, vmin, vmax)
    picture = render.enlarge(render.colourise(result, cmap, vmin, vmax), factor)
    symmetric = cmap == "diverging" and lo == -hi
    note = "blue = negative · white = 0 · red = positive" if symmetric else ""
    bar = _Bar(cmap, lo, hi, _value_labels(lo, hi, cmap), note)
    if numbers is None:
        numbers = max(result.shape) <= NUMBERS_MAX_SIDE
    written = result if numbers and factor >= CELL_NUMBERS_MIN_PX else None
    return _compose(picture, factor, title, bar, numbers=written)


def result_slide_png(
    result: np.ndarray,
    cmap: render.ColourMap = "diverging",
    title: str | None = None,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    numbers: bool | None = None,
    min_side: int = SLIDE_MIN_SIDE,
) -> bytes:
    """A convolution result as a PNG for a slide.

    ``result`` H×W: coloured with ``render.colourise(result, cmap, vmin, vmax)`` (exactly the
    page's colours), enlarged by a whole factor (nearest neighbour: crisp square cells) until
    its long side is at least ``min_side`` px, with the colour bar underneath, the numbers its
    ends stand for (and 0 on a diverging bar) and, for the diverging map, what the colours
    mean. ``numbers``: write each value in its cell (None: when the result is at most 16 a
    side, as the page does). ``result`` C×H×W (a per-channel result): the colour picture the
    page shows (``render.channels_picture``) with a sentence instead of a colour bar.
    ``title``: above the picture, drawn as text (never interpreted): its first line large, the
    lines after a line break smaller (``titles.convolution_title`` writes one).
    """
    return result_slide(
        result, cmap, title, vmin=vmin, vmax=vmax, numbers=numbers, min_side=min_side
    ).png()


def montage_slide(
    maps: np.ndarray,
    kind: StageKind,
    scale: ScaleMode = "layer",
    title: str | None = None,
    *,
    tile_px: int = 100,
) -> Slide:
    """A stage's C×H×W maps as ``stage_pictures.stage_montage`` draws them on the page, with a
    title and the stage's colour bar (see :func:`montage_png`)."""
    # stage_pictures imports the model, and with it torch: only when a montage is asked for.
    from explorer.stage_pictures import stage_cmap, stage_limits, stage_montage

    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3 or maps.size == 0:
        raise ValueError(f"A stage's maps are C×H×W numbers, not shape {maps.shape}.")
    picture = stage_montage(maps, kind, scale, tile_px)
    cmap = stage_cmap(kind)
    if scale == "layer":
        lo, hi = stage_limits(maps, kind)
        labels = _value_labels(lo, hi, cmap)
        note = "blue = negative · white = 0 · red = positive" if kind == "signed" else ""
    else:
        lo, hi = 0.0, 1.0
        if kind == "signed":  # each map symmetric about 0 on its own largest size, m
            labels = (("-m", 0.0), ("0", 0.5), ("m", 1.0))
            note = "Each map on its own range: m is its largest size (|value|)."
        else:
            labels = (("0", 0.0), ("m", 1.0))
            note = "Each map on its own range: m is its largest value."
    factor = max(1, round(tile_px / maps.shape[-1]))
    return _compose(picture, factor, title, _Bar(cmap, lo, hi, labels, note))


def montage_png(
    maps: np.ndarray,
    kind: StageKind,
    scale: ScaleMode = "layer",
    title: str | None = None,
    *,
    tile_px: int = 100,
) -> bytes:
    """A network stage's feature maps as one PNG: ``stage_montage(maps, kind, scale, tile_px)``
    (C×H×W maps, 8 or 16 a row, map 0 top left) under an optional ``title`` (a second line after
    a line break: ``titles.montage_title`` names the image and the weights there), with the
    colour bar of the stage and its end values (``scale="layer"``: the range shared by the
    stage; ``"map"``: each map on its own range, said in words)."""
    return montage_slide(maps, kind, scale, title, tile_px=tile_px).png()
