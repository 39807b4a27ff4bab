"""The animation: the window slides over the padded input, the output fills in.

``animation_gif`` is an animated GIF for a slide; ``animation_frames`` are its frames in the
page's exact colours, and ``animation_layout`` says where everything is in them. A GIF holds at
most 256 colours, so its frames use a fixed palette (``GIF_PALETTE``) near the page's colours.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from explorer import render
from explorer.convolution import ConvolutionError, WindowTrace
from explorer.export.text import (
    CELL_NUMBERS_MIN_PX,
    INK,
    RGB,
    WHITE,
    Font,
    builtin_font,
    drawable_text,
    numbers_font,
    text_size,
    write_in_cells,
)
from explorer.player import NUMBERS_MAX_SIDE, format_value, written_sum

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

# Budgets for traces the page never makes (it animates at most 64×64 with padding 3: frames of
# at most ~700×430 px, 0.3 M pixels, and 37 M pixels for all 120). A larger trace is refused
# with a ConvolutionError before a single frame is drawn; enough padding would otherwise ask
# for gigabytes.
# One frame goes through several arrays of its size on its way into the GIF (RGB copies, and
# 8-byte colour codes to find each pixel's palette index): ~50 bytes a pixel at the peak, so a
# frame of 2 M pixels (about 2000×1000) costs ~100 MB while it is drawn.
MAX_FRAME_PIXELS = 2**21
# Pillow keeps every frame until it has written the whole file (~1.5 bytes a pixel measured),
# and drawing costs ~0.1 µs a pixel, so all the frames together are bounded too: 134 M pixels,
# ~200 MB and ~12 s (120 frames of 1000×1000 px: 122 M pixels, 180 MB, 11 s).
MAX_GIF_PIXELS = 2**27


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


_PANELS_TOP = ANIM_MARGIN + HEADING_PX + 10  # below the headings


def _geometry(trace: WindowTrace) -> tuple[int, int, tuple[int, int]]:
    """The cell side, the two panels' width and the frames' (width, height) for ``trace``."""
    hp, wp = trace.padded.shape
    oh, ow = trace.out_shape
    cell = int(np.clip(PANEL_PX // max(hp, wp, oh, ow), 3, 48))
    panels_width = wp * cell + PANEL_GAP + ow * cell
    width = max(panels_width + 2 * ANIM_MARGIN, 560)
    height = _PANELS_TOP + max(hp, oh) * cell + 12 + 2 * (CAPTION_PX + 6) + ANIM_MARGIN
    return cell, panels_width, (width, height)


def _refuse_oversize(trace: WindowTrace, max_frames: int = MAX_FRAMES) -> None:
    """Raise a ConvolutionError when the animation of ``trace`` would break a budget: a frame
    over MAX_FRAME_PIXELS, or all the frames together over MAX_GIF_PIXELS. Arithmetic only."""
    _, _, (width, height) = _geometry(trace)
    frame = width * height
    if frame > MAX_FRAME_PIXELS:
        raise ConvolutionError(
            f"Each frame of this animation would be {width:,}×{height:,} pixels; an animation "
            f"frame may have at most {MAX_FRAME_PIXELS:,} pixels (about 2000×1000). Use a "
            "smaller image or less padding."
        )
    frames = min(trace.n_windows, max_frames)
    if frames * frame > MAX_GIF_PIXELS:
        raise ConvolutionError(
            f"This animation would be {frames:,} frames of {width:,}×{height:,} pixels, "
            f"{frames * frame:,} pixels in all; a GIF here holds at most {MAX_GIF_PIXELS:,}. "
            "Use fewer frames, a smaller image or less padding."
        )


def animation_layout(
    trace: WindowTrace,
    max_frames: int = MAX_FRAMES,
    loop_seconds: float = LOOP_SECONDS,
) -> AnimationLayout:
    """The frames' geometry and timing for ``trace`` (see :func:`animation_gif`). Only
    arithmetic: the budgets are checked when frames are drawn (:func:`animation_frames`)."""
    hp, wp = trace.padded.shape
    oh, ow = trace.out_shape
    cell, panels_width, (width, height) = _geometry(trace)
    outline = 1 if cell < 8 else 2 if cell < 24 else 3
    numbers = max(hp, wp) <= NUMBERS_MAX_SIDE and cell >= CELL_NUMBERS_MIN_PX
    left = (width - panels_width) // 2
    top = _PANELS_TOP
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
    draw.text((x, 0), text, font=builtin_font(size), fill=INK, anchor=anchor + "a")
    return np.asarray(image)


def _cell_numbers(
    panel: np.ndarray, values: np.ndarray, cell: int, font: Font, mask: np.ndarray | None = None
) -> None:
    """``write_in_cells`` on an H×W×3 array, aliased."""
    image = Image.fromarray(panel)
    write_in_cells(image, values, (0, 0), cell, font, mask, aliased=True)
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
    if text_size(second, builtin_font(CAPTION_PX))[0] > width:
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

    Raises a ConvolutionError, before drawing anything, when the frames would be larger than
    MAX_FRAME_PIXELS each or MAX_GIF_PIXELS in all (:func:`_refuse_oversize`).
    """
    _refuse_oversize(trace, max_frames)
    return _draw_frames(trace, animation_layout(trace, max_frames, loop_seconds))


def _draw_frames(trace: WindowTrace, layout: AnimationLayout) -> Iterator[np.ndarray]:
    """The frames of :func:`animation_frames`, drawn one at a time as they are asked for."""
    cell, w = layout.cell_px, layout.outline_px
    width, height = layout.size
    hp, wp = trace.padded.shape
    oh, ow = trace.out_shape
    (ix, iy), (ox, oy) = layout.input_origin, layout.output_origin

    base = np.full((height, width, 3), 255, dtype=np.uint8)
    # Black to white over the padded input's own range, as the player draws it.
    gray = render.enlarge(render.colourise(trace.padded, "gray"), cell)
    in_font = numbers_font(trace.padded, cell, 18) if layout.numbers else None
    out_font = numbers_font(trace.sums, cell, 18) if layout.numbers else None
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
    the exact colours). 64×64 with a 7×7 kernel and padding 3 stays under 2 MB. Raises a
    ConvolutionError for frames beyond MAX_FRAME_PIXELS or MAX_GIF_PIXELS in all.
    """
    _refuse_oversize(trace, max_frames)
    layout = animation_layout(trace, max_frames, loop_seconds)
    frames = _gif_frames(_draw_frames(trace, layout))
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
