"""Taking it away: what the app shows as files for a slide or a student's own computer.

Every function here is pure and deterministic (the same arguments give the same bytes) and
Streamlit-free; the pages offer the results as downloads.

- ``result_slide_png`` — a convolution result enlarged for a slide (whole pixels, so each cell
  stays a crisp square), with its colour bar and the numbers the bar's ends stand for.
- ``montage_png`` — a network stage's feature maps (``stage_pictures.stage_montage``) the same
  way, with the stage's colour bar.
- ``animation_gif`` — the window sliding over the padded input while the output fills in,
  cell by cell, as an animated GIF (``animation_frames`` are its frames).
- ``playground_code`` — a short NumPy + PyTorch script that recomputes the playground's result
  exactly, with the textbook double loop and ``F.conv2d`` side by side, and checks they agree;
  ``code_input_png`` is the picture file that script reads (None when it writes the numbers
  inline).

Colours are ``render.colourise``'s, so a slide shows exactly the colours of the page. Text is
drawn with Pillow's built-in font (no font file is fetched from anywhere). That font has no
glyphs for "−" or "×", so drawn text uses "-" and "x" instead.
"""

from __future__ import annotations

import functools
import io
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from explorer import render
from explorer.convolution import WindowTrace
from explorer.kernels import KERNELS
from explorer.player import NUMBERS_MAX_SIDE, format_value, written_sum
from explorer.playground import ConvPicture
from explorer.playground_state import CUSTOM, PlaygroundState, result_planes
from explorer.samples import SAMPLES
from explorer.share import format_weight

if TYPE_CHECKING:
    from explorer.features import StageKind
    from explorer.stage_pictures import ScaleMode

RGB = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

WHITE: RGB = (255, 255, 255)
INK: RGB = (17, 17, 17)  # text: the near-black the page's grids write numbers in
MUTED: RGB = (90, 90, 90)  # secondary text (the colour bar's explanation)
BAR_BORDER: RGB = (160, 160, 160)

# ============================================================================================
# Text with the built-in font


@functools.lru_cache(maxsize=32)
def _font(size: int) -> Font:
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
    font = _font(24)
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


def _text_size(text: str, font: Font) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return int(right - min(left, 0)), int(bottom)


# ============================================================================================
# Slides: a picture, a title, a colour bar with its numbers

SLIDE_MIN_SIDE = 800  # the picture's long side is enlarged to at least this many pixels
SLIDE_MARGIN = 32
TITLE_PX = 30
LABEL_PX = 22
NOTE_PX = 18
BAR_HEIGHT = 28
BAR_MAX_WIDTH = 640
CELL_NUMBERS_MIN_PX = 24  # cells smaller than this get no number written in them


@dataclass(frozen=True)
class Slide:
    """A picture laid out for a slide. ``pixels`` is H×W×3 uint8; the other fields say where
    things are on it (x to the right, y down, in pixels), for tests and for anyone cropping."""

    pixels: np.ndarray
    picture_origin: tuple[int, int]  # (x, y) of the picture's top-left pixel
    cell_px: int  # each value of the result is a cell_px × cell_px square
    bar_box: tuple[int, int, int, int] | None  # (x0, y0, x1, y1) of the colour ramp, x1/y1 excl.
    bar_labels: tuple[tuple[str, int], ...]  # the numbers under the bar: (text, x it marks)

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


def _numbers_font(values: np.ndarray, cell: int, largest: int) -> Font | None:
    """One font for writing every value of ``values`` in a ``cell``-px square: the largest
    size up to ``largest`` (and cell/4) at which the widest value fits; None when even 9 px
    is too wide."""
    texts = [drawable_text(format_value(v)) for v in np.ravel(values)]
    for size in range(min(largest, cell // 4), 8, -1):
        if max(_text_size(text, _font(size))[0] for text in texts) <= cell - 8:
            return _font(size)
    return None


def _write_in_cells(
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


def _compose(
    picture: np.ndarray,
    cell_px: int,
    title: str | None,
    bar: _Bar | None,
    note: str = "",
    numbers: np.ndarray | None = None,
) -> Slide:
    """Lay out: the title, the picture (centred), the colour bar with its labels, a note."""
    title_text = drawable_text(title) if title else ""
    title_font, label_font, note_font = _font(TITLE_PX), _font(LABEL_PX), _font(NOTE_PX)
    note = drawable_text(note or (bar.note if bar else ""), 200)
    ph, pw = picture.shape[:2]
    bar_width = min(pw, BAR_MAX_WIDTH) if bar else 0
    if bar:
        bar_width = max(bar_width, 320)
    widths = [pw, bar_width]
    if title_text:
        widths.append(_text_size(title_text, title_font)[0])
    if note:
        widths.append(_text_size(note, note_font)[0])
    width = max(widths) + 2 * SLIDE_MARGIN
    y = SLIDE_MARGIN
    title_y = y
    if title_text:
        y += TITLE_PX + 18
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
    font = _numbers_font(numbers, cell_px, 40) if numbers is not None else None
    if numbers is not None and font is not None:
        _write_in_cells(canvas, numbers, picture_origin, cell_px, font)
    draw = ImageDraw.Draw(canvas)
    if title_text:
        draw.text((SLIDE_MARGIN, title_y), title_text, font=title_font, fill=INK)
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
    return Slide(np.asarray(canvas).copy(), picture_origin, cell_px, bar_box, tuple(labels))


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
    ``title``: one line above the picture (drawn as text, never interpreted).
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
    (C×H×W maps, 8 or 16 a row, map 0 top left) under an optional one-line ``title``, with the
    colour bar of the stage and its end values (``scale="layer"``: the range shared by the
    stage; ``"map"``: each map on its own range, said in words)."""
    return montage_slide(maps, kind, scale, title, tile_px=tile_px).png()


# ============================================================================================
# The animation: the window slides, the output fills in

MAX_FRAMES = 120  # a GIF of 120 frames of ~600×360 px stays well under 2 MB
LOOP_SECONDS = 12.0  # the whole slide, first window to last, before the final pause
MIN_FRAME_MS = 60  # browsers slow GIF frames shorter than 20 ms down to 100 ms
MAX_FRAME_MS = 1500  # a few windows: each stays long enough to read its sum
FINAL_PAUSE_MS = 2500  # the finished output stays up before the loop starts again
PANEL_PX = 320  # the larger panel's side, about
ANIM_MARGIN = 16
PANEL_GAP = 32
HEADING_PX = 16
CAPTION_PX = 16

OUTLINE: RGB = (255, 170, 0)  # the window and its output cell: in neither colour map
EMPTY: RGB = (205, 205, 205)  # an output cell not computed yet: not a diverging colour
IMAGE_EDGE: RGB = (0, 200, 255)  # where the image ends and the padding begins


@dataclass(frozen=True)
class AnimationLayout:
    """Where everything is in each frame (x to the right, y down, in pixels) and which window
    each frame shows."""

    size: tuple[int, int]  # (width, height) of every frame
    cell_px: int  # each input and output cell is a cell_px square
    outline_px: int  # the window's outline: this wide, just outside the window's cells
    input_origin: tuple[int, int]  # (x, y) of the padded input's cell (0, 0)
    output_origin: tuple[int, int]  # (x, y) of the output's cell (0, 0)
    windows: tuple[int, ...]  # frame k shows window windows[k]; outputs 0…windows[k] are done
    durations_ms: tuple[int, ...]  # how long each frame stays (multiples of 10 ms, as GIF)
    numbers: bool  # values written in the cells (small grids only)

    def window_box(self, trace: WindowTrace, window: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), x1/y1 exclusive, of the cells window ``window`` spans (dilated
        taps and the gaps between them) in the input panel."""
        rows, cols = trace.rows[window], trace.cols[window]
        x, y, c = *self.input_origin, self.cell_px
        return (
            x + int(cols.min()) * c,
            y + int(rows.min()) * c,
            x + (int(cols.max()) + 1) * c,
            y + (int(rows.max()) + 1) * c,
        )

    def output_box(self, trace: WindowTrace, window: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), exclusive, of the output cell window ``window`` computes."""
        r, c = divmod(window, trace.out_shape[1])
        x, y, s = *self.output_origin, self.cell_px
        return x + c * s, y + r * s, x + (c + 1) * s, y + (r + 1) * s


def frame_windows(n_windows: int, max_frames: int = MAX_FRAMES) -> tuple[int, ...]:
    """The windows the frames show: all of them when there are at most ``max_frames``, else
    ``max_frames`` spread evenly from the first to the last (both always included)."""
    if n_windows < 1 or max_frames < 2:
        raise ValueError("An animation needs at least one window and room for two frames.")
    if n_windows <= max_frames:
        return tuple(range(n_windows))
    # Spaced at least one apart, so rounding keeps them distinct.
    return tuple(int(i) for i in np.rint(np.linspace(0, n_windows - 1, max_frames)))


def animation_layout(
    trace: WindowTrace,
    max_frames: int = MAX_FRAMES,
    loop_seconds: float = LOOP_SECONDS,
) -> AnimationLayout:
    """The frames' geometry and timing for ``trace`` (see :func:`animation_gif`)."""
    hp, wp = trace.padded.shape
    oh, ow = trace.out_shape
    cell = int(np.clip(PANEL_PX // max(hp, wp, oh, ow), 3, 48))
    outline = 1 if cell < 8 else 2 if cell < 24 else 3
    numbers = max(hp, wp) <= NUMBERS_MAX_SIDE and cell >= CELL_NUMBERS_MIN_PX
    panels_width = wp * cell + PANEL_GAP + ow * cell
    width = max(panels_width + 2 * ANIM_MARGIN, 560)
    left = (width - panels_width) // 2
    top = ANIM_MARGIN + HEADING_PX + 10
    height = top + max(hp, oh) * cell + 12 + 2 * (CAPTION_PX + 6) + ANIM_MARGIN
    windows = frame_windows(trace.n_windows, max_frames)
    step = loop_seconds * 1000 / len(windows)
    step_ms = int(np.clip(round(step / 10) * 10, MIN_FRAME_MS, MAX_FRAME_MS))
    durations = (step_ms,) * (len(windows) - 1) + (max(step_ms, FINAL_PAUSE_MS),)
    return AnimationLayout(
        size=(width, height),
        cell_px=cell,
        outline_px=outline,
        input_origin=(left, top),
        output_origin=(left + wp * cell + PANEL_GAP, top),
        windows=windows,
        durations_ms=durations,
        numbers=numbers,
    )


def _outline(frame: np.ndarray, box: tuple[int, int, int, int], width: int) -> None:
    """A ``width``-px frame in OUTLINE colour just outside ``box`` (the cells stay visible)."""
    x0, y0, x1, y1 = box
    frame[y0 - width : y0, x0 - width : x1 + width] = OUTLINE
    frame[y1 : y1 + width, x0 - width : x1 + width] = OUTLINE
    frame[y0:y1, x0 - width : x0] = OUTLINE
    frame[y0:y1, x1 : x1 + width] = OUTLINE


def _text_strip(text: str, size: int, width: int, height: int, anchor: str) -> np.ndarray:
    """``text`` in INK on white, without anti-aliasing (only two colours: a GIF's palette
    stays small), as a height×width×3 strip; the anchor's x is the strip's left, middle or
    right ("l", "m", "r")."""
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"
    x = {"l": 0, "m": width // 2, "r": width - 1}[anchor]
    draw.text((x, 0), text, font=_font(size), fill=INK, anchor=anchor + "a")
    return np.asarray(image)


def _cell_numbers(
    panel: np.ndarray, values: np.ndarray, cell: int, font: Font, mask: np.ndarray | None = None
) -> None:
    """``_write_in_cells`` on an H×W×3 array, aliased."""
    image = Image.fromarray(panel)
    _write_in_cells(image, values, (0, 0), cell, font, mask, aliased=True)
    panel[...] = np.asarray(image)


def _caption(trace: WindowTrace, window: int, width: int) -> tuple[str, str]:
    """The two lines under the panels: which window, and its arithmetic (or just its sum
    when the written-out sum is too wide)."""
    r, c = divmod(window, trace.out_shape[1])
    first = drawable_text(
        f"Window {window + 1:,} of {trace.n_windows:,}: output row {r}, column {c}", 200
    )
    total = float(trace.sums[window])
    second = drawable_text(written_sum(trace.products[window], total).text, 300)
    if _text_size(second, _font(CAPTION_PX))[0] > width:
        second = drawable_text(
            f"sum of the {trace.products[window].size} products = {format_value(total)}", 200
        )
    return first, second


def animation_frames(
    trace: WindowTrace,
    max_frames: int = MAX_FRAMES,
    loop_seconds: float = LOOP_SECONDS,
) -> Iterator[np.ndarray]:
    """The animation's frames, H×W×3 uint8 each, one per ``animation_layout(...).windows``.

    Each shows the padded input in gray (``colourise(padded, "gray")``, black to white over its
    range as the player draws it; a cyan line where the image ends and the padding begins),
    the current window outlined in orange (its taps marked when dilated), the output with
    every cell up to this window in ``colourise(trace.output())``'s colours (one range for the
    whole animation, so a cell never changes colour) and the rest light gray, the current
    output cell outlined, and two lines of text: the window's number and its sum written out.
    """
    layout = animation_layout(trace, max_frames, loop_seconds)
    cell, w = layout.cell_px, layout.outline_px
    width, height = layout.size
    hp, wp = trace.padded.shape
    oh, ow = trace.out_shape
    (ix, iy), (ox, oy) = layout.input_origin, layout.output_origin

    base = np.full((height, width, 3), 255, dtype=np.uint8)
    # Black to white over the padded input's own range, as the player draws it.
    gray = render.enlarge(render.colourise(trace.padded, "gray"), cell)
    in_font = _numbers_font(trace.padded, cell, 18) if layout.numbers else None
    out_font = _numbers_font(trace.sums, cell, 18) if layout.numbers else None
    if in_font is not None:
        _cell_numbers(gray, trace.padded, cell, in_font)
    base[iy : iy + hp * cell, ix : ix + wp * cell] = gray
    p = trace.settings.padding
    if p:
        image_box = (ix + p * cell, iy + p * cell, ix + (wp - p) * cell, iy + (hp - p) * cell)
        x0, y0, x1, y1 = image_box
        base[y0 - 1, x0 - 1 : x1 + 1] = IMAGE_EDGE
        base[y1, x0 - 1 : x1 + 1] = IMAGE_EDGE
        base[y0 - 1 : y1 + 1, x0 - 1] = IMAGE_EDGE
        base[y0 - 1 : y1 + 1, x1] = IMAGE_EDGE
    heading_y = ANIM_MARGIN
    s = trace.settings
    input_heading = f"Input, {wp - 2 * p}x{hp - 2 * p}" + (
        f", padded by {p} ({s.padding_mode})" if p else ""
    )
    output_heading = f"Output, {ow}x{oh}"
    # Each heading has the width of its panel (and the gap after the input's): a long one is
    # cut short rather than run into the other.
    spans = ((input_heading, ix, wp * cell + PANEL_GAP - 8), (output_heading, ox, width - ox))
    for text, x, span in spans:
        strip = _text_strip(drawable_text(text), HEADING_PX, span, HEADING_PX + 6, "l")
        base[heading_y : heading_y + strip.shape[0], x : x + span] = strip

    filled = np.empty((oh * cell, ow * cell, 3), dtype=np.uint8)
    filled[...] = EMPTY
    colours = render.colourise(trace.output(), "diverging")
    done = 0  # windows 0 … done−1 are drawn into `filled`
    caption_y = iy + max(hp, oh) * cell + 12
    for window in layout.windows:
        if window >= done:
            cells = np.zeros((oh, ow), dtype=bool)
            cells.flat[done : window + 1] = True
            big = np.repeat(np.repeat(cells, cell, axis=0), cell, axis=1)
            filled[big] = render.enlarge(colours, cell)[big]
            if out_font is not None:
                _cell_numbers(filled, trace.output(), cell, out_font, cells)
            done = window + 1
        frame = base.copy()
        frame[oy : oy + oh * cell, ox : ox + ow * cell] = filled
        _outline(frame, layout.window_box(trace, window), w)
        _outline(frame, layout.output_box(trace, window), w)
        if trace.settings.dilation > 1:
            dot = max(1, cell // 3)
            for r, c in zip(trace.rows[window].ravel(), trace.cols[window].ravel(), strict=True):
                top = iy + int(r) * cell + (cell - dot) // 2
                left = ix + int(c) * cell + (cell - dot) // 2
                frame[top : top + dot, left : left + dot] = OUTLINE
        first, second = _caption(trace, window, width - 2 * ANIM_MARGIN)
        for line, text in enumerate((first, second)):
            strip = _text_strip(text, CAPTION_PX, width - 2 * ANIM_MARGIN, CAPTION_PX + 6, "m")
            y = caption_y + line * (CAPTION_PX + 6)
            frame[y : y + strip.shape[0], ANIM_MARGIN : ANIM_MARGIN + strip.shape[1]] = strip
        yield frame


def _ramp(cmap: render.ColourMap) -> np.ndarray:
    """All 256 colours of a colour map, low end first (256×3 uint8)."""
    return render.colourise(np.linspace(0.0, 1.0, 256)[None], cmap, 0.0, 1.0)[0]


def _codes(colours: np.ndarray) -> np.ndarray:
    """…×3 uint8 colours → one int64 0xRRGGBB each."""
    c = colours.astype(np.int64)
    return (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]


_SPECIALS = np.array([WHITE, INK, OUTLINE, EMPTY, IMAGE_EDGE], dtype=np.uint8)


def _gif_palette() -> np.ndarray:
    """The GIF's fixed palette (a GIF holds at most 256 colours): the special colours, every
    second step of the diverging map (and its last) and 92 levels of gray; 255 colours in all,
    so one index stays free for the transparency of unchanged pixels."""
    levels = np.unique(np.rint(np.linspace(0, 255, 92)).astype(np.uint8))
    diverging = _ramp("diverging")
    colours = np.concatenate(
        [_SPECIALS, diverging[::2], diverging[-1:], np.repeat(levels, 3).reshape(-1, 3)]
    )
    _, first = np.unique(_codes(colours), return_index=True)
    palette = colours[np.sort(first)]  # duplicates dropped, order kept
    assert len(palette) <= 255, len(palette)
    return palette


GIF_PALETTE = _gif_palette()


def _gif_mapping() -> tuple[np.ndarray, np.ndarray]:
    """Every colour a frame can hold (sorted 0xRRGGBB codes: both maps' 256 colours and the
    special ones) and the index of its nearest GIF palette colour (the specials: themselves;
    a shade: at most one step of its map away)."""
    colours = np.concatenate([_SPECIALS, _ramp("diverging"), _ramp("gray")])
    codes, first = np.unique(_codes(colours), return_index=True)
    distances = ((colours[first, None, :].astype(int) - GIF_PALETTE[None].astype(int)) ** 2).sum(2)
    return codes, np.argmin(distances, axis=1).astype(np.uint8)


_FRAME_CODES, _GIF_INDEX = _gif_mapping()


TRANSPARENT = len(GIF_PALETTE)  # the free index: "as in the previous frame"


def _gif_indices(frame: np.ndarray) -> np.ndarray:
    """An RGB frame (its colours all from ``_gif_mapping``) → H×W indices into GIF_PALETTE."""
    codes = _codes(frame)
    where = np.minimum(np.searchsorted(_FRAME_CODES, codes), len(_FRAME_CODES) - 1)
    if not np.array_equal(_FRAME_CODES[where], codes):
        raise AssertionError("a frame holds a colour of neither map")  # a bug, never input
    return _GIF_INDEX[where]


def _gif_frames(frames: Iterator[np.ndarray]) -> Iterator[Image.Image]:
    """RGB frames → "P" images on GIF_PALETTE, each after the first with the pixels that did
    not change marked TRANSPARENT: the viewer keeps the previous frame's pixels there, and
    long runs of one index compress to almost nothing. (Pillow's ``optimize`` does the same
    but keeps a second copy of every frame: twice the memory.)"""
    palette = [*GIF_PALETTE.ravel().tolist(), *WHITE]  # TRANSPARENT drawn white, never seen
    previous = None
    for frame in frames:
        indices = _gif_indices(frame)
        shown = indices.copy()
        if previous is not None:
            shown[indices == previous] = TRANSPARENT
        previous = indices
        image = Image.fromarray(shown)  # "L": indices
        image.putpalette(palette)  # now "P" on our palette
        yield image


def animation_gif(
    trace: WindowTrace,
    max_frames: int = MAX_FRAMES,
    loop_seconds: float = LOOP_SECONDS,
) -> bytes:
    """The window sliding over the padded input as an animated GIF, looping forever (frames:
    :func:`animation_frames`; timing: :func:`animation_layout`).

    ``max_frames`` bounds the frames (windows sampled evenly, the first and last always
    included); each frame stays ``loop_seconds`` / frames (60 ms to 1.5 s), the last 2.5 s.
    A GIF holds at most 256 colours, so each gray and diverging shade is the nearest colour
    of a fixed palette, at most one step of its map from the page's (``animation_frames`` has
    the exact colours). 64×64 with a 7×7 kernel and padding 3 stays under 2 MB.
    """
    layout = animation_layout(trace, max_frames, loop_seconds)
    frames = _gif_frames(animation_frames(trace, max_frames, loop_seconds))
    first = next(frames)
    out = io.BytesIO()
    # disposal 1: each frame is drawn over the previous one, so its transparent pixels show
    # what was there (~330 KB for 64×64 and a 7×7 kernel instead of ~1.8 MB).
    # Pillow copies each frame as it reads it: handing them over one at a time keeps one copy.
    first.save(
        out,
        format="GIF",
        save_all=True,
        append_images=frames,
        duration=list(layout.durations_ms),
        loop=0,
        optimize=False,
        transparency=TRANSPARENT,
        disposal=1,
    )
    return out.getvalue()


# ============================================================================================
# The code: the playground's result recomputed in a short script

INPUT_FILE_NAME = "convolution_input.png"
CODE_FILE_NAME = "convolution.py"
INLINE_MAX_SIDE = 16  # gray pictures up to this size have their numbers written in the code
_NUMPY_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}


def _comment(text: str, limit: int = 80) -> str:
    """Text for a ``#`` comment: printable characters only, on one line (a line break inside
    a comment would turn the rest of it into code)."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _comment_lines(text: str) -> list[str]:
    """``text`` as ``#`` comment lines of at most 96 characters."""
    return ["# " + line for line in textwrap.wrap(_comment(text, 1000), 94)]


def _python_string(text: str) -> str:
    """``text`` as a Python string literal (double quotes where it has no quotes itself);
    whatever it holds, it stays one string: ``repr`` escapes line breaks and quotes."""
    literal = repr(str(text))
    if "'" in text or '"' in text:
        return literal
    return '"' + literal[1:-1] + '"'


def _writes_numbers(state: PlaygroundState, picture: ConvPicture) -> bool:
    """Whether the code writes the input's numbers inline (typed numbers, small gray
    pictures, and anything a PNG cannot hold exactly) instead of reading a picture file."""
    full = picture.full
    whole_bytes = bool(np.all(full == np.rint(full)) and full.min() >= 0 and full.max() <= 255)
    small_gray = not picture.is_colour and max(full.shape) <= INLINE_MAX_SIDE
    return state.source == "numbers" or small_gray or not whole_bytes


def code_input_png(state: PlaygroundState, picture: ConvPicture) -> bytes | None:
    """The picture file :func:`playground_code` reads, as PNG bytes: the input exactly as the
    app read it (an RGB PNG for a colour picture, a grayscale one otherwise; after any
    shrinking to 1024 px a side). None when the code writes the numbers inline instead."""
    if _writes_numbers(state, picture):
        return None
    if picture.is_colour:
        return render.png_bytes(np.moveaxis(picture.channels, 0, 2).astype(np.uint8))
    return render.png_bytes(picture.full.astype(np.uint8))


def _matrix_lines(name: str, values: np.ndarray) -> list[str]:
    """``name = np.array([...], dtype=np.float64)`` with one row a line, columns aligned;
    each number as a person types it (``1/9``) and exactly the float64 it was."""
    cells = [[format_weight(v) for v in row] for row in np.asarray(values, dtype=np.float64)]
    width = max(len(cell) for row in cells for cell in row)
    rows = ["    [" + ", ".join(cell.rjust(width) for cell in row) + "]," for row in cells]
    return [f"{name} = np.array([", *rows, "], dtype=np.float64)"]


def _input_lines(
    state: PlaygroundState, picture: ConvPicture, mode: str, image_file: str
) -> list[str]:
    """The lines that make ``image``: H×W (mode "plane") or 3×H×W ("sum", "per_channel")."""
    if state.source == "numbers":
        what = "the numbers you typed"
    elif state.source == "sample" and state.sample in SAMPLES:
        what = f'the sample "{_comment(SAMPLES[state.sample].name)}"'
    else:
        what = {"draw": "your drawing", "upload": "your picture"}.get(state.source, "the picture")
    height, width = picture.full.shape
    if _writes_numbers(state, picture):
        return [f"# The input: {what} ({height}×{width}).", *_matrix_lines("image", picture.full)]
    shrunk = ", shrunk to 1024 px a side" if picture.capped else ""
    lines = _comment_lines(
        f"The input: {what}, {width}×{height} px. Save it with the download button beside this "
        f"code as {_comment(image_file)}, next to this file: the picture exactly as the app "
        f"read it{shrunk}."
    )
    path = _python_string(image_file)
    if not picture.is_colour:
        return [
            *lines,
            f'image = np.asarray(Image.open({path}).convert("L"), dtype=np.float64)  # H×W',
        ]
    lines.append(f'rgb = np.asarray(Image.open({path}).convert("RGB"), dtype=np.float64)  # H×W×3')
    if mode != "plane":
        return [*lines, "image = rgb.transpose(2, 0, 1)  # 3×H×W: the red, green and blue planes"]
    if state.colour in ("r", "g", "b"):
        name = {"r": "red", "g": "green", "b": "blue"}[state.colour]
        index = "rgb".index(state.colour)
        return [*lines, f"image = rgb[:, :, {index}]  # the {name} plane, H×W"]
    return [
        *lines,
        "# Gray as the app makes it: ITU-R BT.601 luma, rounded to whole numbers.",
        "image = np.rint(rgb @ np.array([0.299, 0.587, 0.114]))  # H×W",
    ]


def playground_code(
    state: PlaygroundState, picture: ConvPicture, image_file: str = INPUT_FILE_NAME
) -> str:
    """A short Python script (NumPy + PyTorch) that recomputes the playground's result, the
    numbers of its section 5, exactly: from the full input ``picture`` (the playground's
    ``prepare_picture(...)`` of the current source), with ``state``'s kernel, padding, stride,
    dilation, flip and, for a colour picture, its plane or ``result_mode``.

    The input's numbers are written inline for typed numbers and small gray pictures; other
    pictures are read from ``image_file`` (save :func:`code_input_png` there), converted as
    the app converts them. The script computes the result twice, with ``F.conv2d`` and with
    the textbook double loop, prints how far apart they are, asserts that they agree and
    prints the result; its variables ``result`` (the loop's) and ``torch_result`` hold the
    two. Everything that comes from the user is a number or a comment; nothing is evaluated.
    Raises ``KernelError`` when the custom kernel does not parse.
    """
    kernel = state.kernel()
    s = state.settings
    image, channels = result_planes(picture, state.result_mode)
    mode = "plane" if image.ndim == 2 else channels
    if state.preset == CUSTOM:
        origin = f" ({_comment(state.kernel_origin)})" if state.kernel_origin else ""
        kernel_name = f"your own{origin}"
    else:
        kernel_name = _comment(KERNELS[state.preset].name)
    padding = s.padding
    pad_mode = s.padding_mode if padding else "zeros"
    operation = (
        "a true convolution (the kernel rotated 180° first)"
        if s.flip
        else "cross-correlation, as in PyTorch (the kernel not flipped)"
    )
    reads_file = not _writes_numbers(state, picture)
    kh, kw = kernel.shape
    padding_text = f"padding {padding} ({pad_mode})" if padding else "no padding"
    lines = [
        "# CNN Explorer, convolution playground: this set-up in NumPy and PyTorch.",
        *_comment_lines(
            f"Kernel: {kernel_name} ({kh}×{kw}); {padding_text}, stride {s.stride}, "
            f"dilation {s.dilation}; {operation}."
        ),
        f"# Needs: pip install numpy torch{' pillow' if reads_file else ''}",
        "import numpy as np",
        "import torch",
        "import torch.nn.functional as F",
    ]
    if reads_file:
        lines.append("from PIL import Image")
    lines += ["", *_input_lines(state, picture, mode, image_file), ""]
    lines += _matrix_lines("kernel", kernel)
    lines.append(f"padding, stride, dilation = {padding}, {s.stride}, {s.dilation}")

    # PyTorch
    lines += ["", "# 1. PyTorch: tensors are batch × channels × height × width."]
    if mode == "plane":
        lines += [
            "x = torch.tensor(image)[None, None]  # 1×1×H×W",
            "weight = torch.tensor(kernel)[None, None]  # 1×1×kh×kw",
        ]
    elif mode == "sum":
        lines += [
            "x = torch.tensor(image)[None]  # 1×3×H×W",
            "weight = torch.tensor(kernel).repeat(1, 3, 1, 1)  # 1×3×kh×kw: "
            "the kernel on each plane, summed",
        ]
    else:
        lines += [
            "x = torch.tensor(image)[None]  # 1×3×H×W",
            "weight = torch.tensor(kernel).repeat(3, 1, 1, 1)  # 3×1×kh×kw: "
            "one copy per plane (groups=3)",
        ]
    if s.flip:
        lines.append("weight = torch.flip(weight, dims=(2, 3))  # true convolution: rotate 180°")
    conv_args = "stride=stride, dilation=dilation"
    if pad_mode == "zeros":
        conv_args = "stride=stride, padding=padding, dilation=dilation"
    else:
        lines.append(f'x = F.pad(x, (padding, padding, padding, padding), mode="{pad_mode}")')
    if mode == "per_channel":
        conv_args += ", groups=3"
    lines.append(f"out = F.conv2d(x, weight, {conv_args})")
    if mode == "per_channel":
        lines.append("torch_result = out[0].numpy()  # 3×H'×W': the batch's only picture")
    else:
        lines.append("torch_result = out[0, 0].numpy()  # H'×W': its only picture and channel")

    # The loop
    numpy_mode = _NUMPY_PAD_MODES[pad_mode]
    widths = "padding" if mode == "plane" else "((0, 0), (padding, padding), (padding, padding))"
    mode_arg = "" if numpy_mode == "constant" else f', mode="{numpy_mode}"'
    k = "kernel"
    lines += ["", "# 2. The same by hand: slide the window, multiply, add up."]
    if s.flip:
        lines.append("flipped = np.flip(kernel)  # rotated 180°, as for PyTorch above")
        k = "flipped"
    lines += [
        f"padded = np.pad(image, {widths}{mode_arg})",
        f"span_h = dilation * ({k}.shape[0] - 1) + 1  # rows the window covers",
        f"span_w = dilation * ({k}.shape[1] - 1) + 1  # columns",
        "out_h = (padded.shape[-2] - span_h) // stride + 1",
        "out_w = (padded.shape[-1] - span_w) // stride + 1",
        "result = np.zeros((3, out_h, out_w))"
        if mode == "per_channel"
        else "result = np.zeros((out_h, out_w))",
    ]
    if picture.full.size > 250_000:
        lines.append(
            "# The loop visits every output cell: on a picture this large, that takes a while."
        )
    planes = "" if mode == "plane" else ":, "
    lines += [
        "for r in range(out_h):",
        "    for c in range(out_w):",
        "        top, left = r * stride, c * stride",
        f"        window = padded[{planes}top : top + span_h : dilation, "
        "left : left + span_w : dilation]",
    ]
    if mode == "per_channel":
        lines.append(
            f"        result[:, r, c] = np.sum(window * {k}, axis=(1, 2))  # one per plane"
        )
    elif mode == "sum":
        lines.append(f"        result[r, c] = np.sum(window * {k})  # all three planes added up")
    else:
        lines.append(f"        result[r, c] = np.sum(window * {k})")
    lines += [
        "",
        "difference = np.abs(result - torch_result).max()",
        'print(f"The loop and PyTorch differ by at most {difference:.1e}.")',
        "assert difference <= 1e-9 * max(1.0, np.abs(result).max())",
        "np.set_printoptions(precision=4, suppress=True, linewidth=120)",
        'print(f"The result, {result.shape}:")',
        "print(result)",
    ]
    return "\n".join(lines) + "\n"
