"""Pictures and HTML for the "Inside the network" page: number grids with a marked window, a
max-pool step, a receptive field outlined on the input, attribution maps over the input, colour
legends. Plain arrays and records in, PNG-ready arrays or HTML strings out; nothing computes
what is shown (explorer.inside, explorer.receptive_field and explorer.attribution do).
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np

from explorer import render
from explorer.inside import PoolTrace
from explorer.numbers import display_value

WINNER = "#e67e00"  # the max-pool winner: orange reads on every colour of viridis
FRAME = "#fff"  # the rest of the window: white, on viridis's dark end where most cells are


def _fmt(value: float) -> str:
    return display_value(value)  # the playground's rule for writing numbers, with a true minus


def number_grid_html(
    values: np.ndarray,
    cmap: render.ColourMap,
    cell_px: int = 40,
    *,
    lo: float | None = None,
    hi: float | None = None,
    numbers: bool = True,
    marks: Mapping[tuple[int, int], str] | None = None,
    blank: np.ndarray | None = None,
    label: str = "",
) -> str:
    """An H×W matrix as an HTML table, each cell coloured by its value (``render.colourise``
    on ``lo``…``hi``) with the number written in it (``numbers``). ``marks``: (row, col) → a CSS
    colour drawn as a thick outline; ``blank``: H×W bool, cells drawn empty (grey, no number:
    padding, or not computed yet). ``label``: the table's accessible name."""
    values = np.asarray(values, dtype=np.float64)
    colours = render.colourise(values, cmap, lo, hi)
    marks = marks or {}
    font = max(9, min(14, cell_px // 3))
    texts = [[_fmt(v) for v in row] for row in values] if numbers else None
    longest = max((len(t) for row in texts for t in row), default=1) if texts else 0
    width = max(cell_px, round(longest * font * 0.62) + 8) if numbers else cell_px
    rows = []
    for r in range(values.shape[0]):
        cells = []
        for c in range(values.shape[1]):
            empty = blank is not None and bool(blank[r, c])
            colour = (236, 236, 236) if empty else colours[r, c]
            style = (
                f"background:rgb({int(colour[0])},{int(colour[1])},{int(colour[2])});"
                f"color:{render.ink(*(int(v) for v in colour))};"
                f"width:{width}px;min-width:{width}px;"
                f"height:{cell_px}px;padding:0;text-align:center;font-size:{font}px;"
            )
            outline = marks.get((r, c))
            style += (
                f"outline:3px solid {outline};outline-offset:-3px;"
                if outline
                else "border:1px solid #ddd;"
            )
            text = "" if empty or texts is None else html.escape(texts[r][c])
            cells.append(f'<td style="{style}">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    name = f' aria-label="{html.escape(label)}"' if label else ""
    return (
        f'<table{name} style="border-collapse:collapse;margin:0;'
        f'font-variant-numeric:tabular-nums">{"".join(rows)}</table>'
    )


def equation_html(parts: list[str]) -> str:
    """Grids and operators (``×``, ``=``) side by side, wrapping on narrow screens."""
    items = "".join(f'<div style="display:flex;align-items:center">{p}</div>' for p in parts)
    return (
        '<div style="display:flex;flex-wrap:wrap;align-items:center;gap:0.5rem;'
        f'margin:0.25rem 0 0.75rem 0">{items}</div>'
    )


def operator_html(symbol: str) -> str:
    return f'<span style="font-size:1.4rem;font-weight:600;padding:0 0.2rem">{symbol}</span>'


def captioned_html(title: str, body: str) -> str:
    """``body`` with a small title above it."""
    return (
        f'<div><div style="font-size:0.8rem;color:#555;margin-bottom:2px">{html.escape(title)}'
        f"</div>{body}</div>"
    )


def scroll_html(body: str) -> str:
    """``body`` in a box that scrolls sideways instead of overflowing a phone's screen."""
    return f'<div style="overflow-x:auto;max-width:100%">{body}</div>'


def pool_step_html(trace: PoolTrace, step: int, source_name: str, output_name: str) -> str:
    """Step ``step`` of a max-pool: the source map with this step's 2×2 window framed in white
    and its winner in orange, the window enlarged, and the pooled map filled in up to this step
    (later cells empty). Maps of up to 8×8 carry their numbers; larger ones only colours."""
    i, j = trace.position(step)
    h, w = trace.source.shape
    winner = divmod(int(trace.winners[step]), 2)
    lo, hi = 0.0, max(float(trace.source.max()), 1e-12)
    marks = {(2 * i + r, 2 * j + c): FRAME for r in range(2) for c in range(2)}
    marks[(2 * i + winner[0], 2 * j + winner[1])] = WINNER
    source = number_grid_html(
        trace.source,
        "viridis",
        34 if w <= 8 else 12 if w <= 16 else 10,
        lo=lo,
        hi=hi,
        numbers=w <= 8,
        marks=marks,
        label=f"{source_name}, window {step + 1}",
    )
    out_h, out_w = trace.output.shape
    done = (np.arange(out_h * out_w) > step).reshape(out_h, out_w)
    output = number_grid_html(
        trace.output,
        "viridis",
        34 if out_w <= 8 else 16,
        lo=lo,
        hi=hi,
        numbers=out_w <= 8,
        marks={(i, j): WINNER},
        blank=done,
        label=output_name,
    )
    window = number_grid_html(
        trace.windows[step],
        "viridis",
        56,
        lo=lo,
        hi=hi,
        marks={winner: WINNER},
        label="the window",
    )
    return equation_html(
        [
            captioned_html(f"{source_name} ({h}×{w})", scroll_html(source)),
            captioned_html("this window", window),
            operator_html("→"),
            captioned_html(f"{output_name} ({out_h}×{out_w})", scroll_html(output)),
        ]
    )


def outline_field(
    image: np.ndarray, top: int, left: int, bottom: int, right: int, factor: int = 8
) -> np.ndarray:
    """The 32×32×3 input enlarged ``factor`` times, the pixels outside rows ``top``…``bottom``
    and columns ``left``…``right`` (ends included: a :class:`FieldBox`'s edges) dimmed, the box
    outlined in yellow with a dark line inside it (visible on light and dark images)."""
    big = render.enlarge(np.asarray(image, dtype=np.uint8), factor).astype(np.float64)
    inside = np.zeros(big.shape[:2], bool)
    top, left = top * factor, left * factor
    bottom, right = (bottom + 1) * factor, (right + 1) * factor
    inside[top:bottom, left:right] = True
    big[~inside] = big[~inside] * 0.35 + 255 * 0.1
    out = np.clip(np.rint(big), 0, 255).astype(np.uint8)
    for width, colour in ((3, (20, 20, 20)), (2, (255, 214, 0))):
        _rectangle(out, top, left, bottom, right, width, colour)
    return out


def _rectangle(
    img: np.ndarray, top: int, left: int, bottom: int, right: int, width: int, colour: tuple
) -> None:
    """Draw a rectangle's edges ``width`` px thick just inside [top, bottom) × [left, right)."""
    h, w = img.shape[:2]
    t, lft = max(top, 0), max(left, 0)
    b, r = min(bottom, h), min(right, w)
    img[t : t + width, lft:r] = colour
    img[b - width : b, lft:r] = colour
    img[t:b, lft : lft + width] = colour
    img[t:b, r - width : r] = colour


def overlay(
    image: np.ndarray,
    heat: np.ndarray,
    cmap: render.ColourMap,
    lo: float,
    hi: float,
    factor: int = 8,
    opacity: float = 0.85,
) -> np.ndarray:
    """An attribution map over the input: the 32×32 image in grey, ``heat`` (32×32, coloured on
    ``lo``…``hi``) laid over it, enlarged ``factor`` times. Each pixel's colour is as opaque as
    its |heat| is large (up to ``opacity``), so where the map is near 0 the image shows."""
    grey = np.asarray(image, dtype=np.float64) @ np.array([0.299, 0.587, 0.114])
    base = np.repeat(grey[..., None], 3, axis=2)
    colours = render.colourise(heat, cmap, lo, hi).astype(np.float64)
    top = max(abs(lo), abs(hi)) or 1.0
    alpha = opacity * np.clip(np.abs(np.asarray(heat, dtype=np.float64)) / top, 0, 1)[..., None]
    alpha = np.maximum(alpha, 0.15)  # a trace of colour everywhere: the map covers the image
    mixed = (1 - alpha) * base + alpha * colours
    return render.enlarge(np.clip(np.rint(mixed), 0, 255).astype(np.uint8), factor)


def legend_html(cmap: render.ColourMap, lo: float, hi: float, meaning: str) -> str:
    """A colour legend: the low end's number, the gradient, the high end's number, and what the
    colours mean."""
    ramp = render.colourise(np.linspace(0, 1, 11)[None, :], cmap, 0.0, 1.0)[0]
    stops = ", ".join(f"rgb({r},{g},{b})" for r, g, b in ramp)
    number = 'style="font-variant-numeric:tabular-nums;font-size:0.8rem"'
    return (
        '<div style="display:flex;flex-wrap:wrap;align-items:center;gap:0.4rem;'
        'margin:0.1rem 0 0.4rem 0">'
        f"<span {number}>{html.escape(_fmt(lo))}</span>"
        f'<span style="display:inline-block;width:120px;height:12px;border:1px solid #bbb;'
        f'background:linear-gradient(to right, {stops})"></span>'
        f"<span {number}>{html.escape(_fmt(hi))}</span>"
        f'<span style="font-size:0.8rem;color:#555">{html.escape(meaning)}</span></div>'
    )


__all__ = [
    "captioned_html",
    "equation_html",
    "legend_html",
    "number_grid_html",
    "operator_html",
    "outline_field",
    "overlay",
    "pool_step_html",
    "scroll_html",
]
