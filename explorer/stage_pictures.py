"""Pictures of what the network computed: every stage's maps as one montage, long vectors as
strips, colour bars, one filter's slices, conv1's filters as colour patches. Pure arrays in,
H×W×3 uint8 pictures out; nothing is displayed here (the pages show them).

Colours: a stage whose values can be negative (conv, fc) uses the diverging blue–white–red map
with white at 0; a stage that is never negative (ReLU, pooling) uses viridis from 0.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from explorer import render
from explorer.features import filters, filters_rgb
from explorer.model import SimpleCNN
from explorer.stages import StageKind

ScaleMode = Literal["layer", "map"]
MAP_GAP_FILL = 110  # dark grey between tiles: not a colour of either map (white = 0 in blue-red)


def stage_cmap(kind: StageKind) -> render.ColourMap:
    """Diverging (blue–white–red, white = 0) for signed stages, viridis for stages ≥ 0."""
    return "diverging" if kind == "signed" else "viridis"


def stage_limits(arr: np.ndarray, kind: StageKind) -> tuple[float, float]:
    """The colour range shared by a whole stage: symmetric about 0 for signed stages, from 0 to
    the largest value for ReLU/pool outputs."""
    if kind == "signed":
        return render.value_range(arr, "diverging")
    top = float(np.max(arr)) if arr.size else 0.0
    return render.value_range(arr, "viridis", 0.0, top if top > 0 else 1.0)


def stage_montage(arr: np.ndarray, kind: StageKind, scale: ScaleMode, tile_px: int) -> np.ndarray:
    """C×H×W maps → one RGB grid (8 or 16 maps a row, map 0 top left, row-major), each map
    enlarged by the whole factor nearest ``tile_px`` / its side (never shrunk), 2 px apart
    (1 px for tiles under 16 px). ``scale="layer"``: one colour range for the whole
    stage (maps comparable); ``"map"``: each map stretched over its own range (shapes visible
    even in weak maps)."""
    cmap = stage_cmap(kind)
    if scale == "layer":  # one range: the whole stack in one call (128 calls cost 10× more)
        tiles = list(render.colourise(arr, cmap, *stage_limits(arr, kind)))
    elif kind == "signed":
        tiles = [render.colourise(m, cmap) for m in arr]
    else:
        tiles = [render.colourise(m, cmap, 0.0, max(float(m.max()), 1e-12)) for m in arr]
    factor = max(1, round(tile_px / arr.shape[-1]))
    cols = 8 if len(arr) <= 64 else 16
    tiles_arr = np.repeat(np.repeat(np.stack(tiles), factor, axis=1), factor, axis=2)
    # 2 px between tiles; 1 px between tiles under 16 px, which the browser enlarges a lot (a
    # 2 px gap beside 8 px maps drew a thick grey grid over conv3's maps)
    gap = 2 if tiles_arr.shape[1] >= 16 else 1
    return render.montage(tiles_arr, cols=cols, gap=gap, fill=MAP_GAP_FILL)


def vector_strip(vec: np.ndarray, kind: StageKind, cols: int = 64, cell_px: int = 10) -> np.ndarray:
    """A long vector (2048 or 512 numbers) as rows of ``cols`` coloured cells, read left to
    right, top to bottom, on the stage's shared colour range."""
    lo, hi = stage_limits(vec, kind)
    rows = -(-len(vec) // cols)
    grid = np.full(rows * cols, np.nan)
    grid[: len(vec)] = vec
    img = render.colourise(grid.reshape(rows, cols), stage_cmap(kind), lo, hi)
    return render.enlarge(img, cell_px)


def colour_bar(
    kind: StageKind, lo: float, hi: float, width: int = 256, height: int = 14
) -> np.ndarray:
    """A horizontal colour bar image from ``lo`` (left) to ``hi`` (right)."""
    ramp = np.tile(np.linspace(lo, hi, width), (height, 1))
    return render.colourise(ramp, stage_cmap(kind), lo, hi)


def filter_grid(weights: np.ndarray, tile_px: int = 27) -> tuple[np.ndarray, float]:
    """One filter's in×3×3 weights → a grid of its 3×3 slices (one per input channel, 8 a
    row), all on one symmetric blue–red range; returns the image and that range's bound."""
    lo, hi = render.value_range(weights, "diverging")
    tiles = np.stack(
        [render.enlarge(render.colourise(k, "diverging", lo, hi), tile_px // 3) for k in weights]
    )
    cols = min(8, len(weights))
    return render.montage(tiles, cols=cols, gap=2, fill=MAP_GAP_FILL), hi


def conv1_filters_picture(model: SimpleCNN, px: int = 48) -> np.ndarray:
    """:func:`conv1_filters_rgb` as one image: 16 patches a row, each enlarged to ``px``."""
    return filters_picture(filters(model, "conv1"), px)


def filters_picture(conv1: np.ndarray, px: int = 48) -> np.ndarray:
    """conv1's weights (32×3×3×3) as :func:`features.filters_rgb` patches in one image: 16 a
    row, each enlarged to ``px`` (the Feature maps page's picture, and a training snapshot's)."""
    patches = filters_rgb(conv1)
    tiles = np.stack([render.enlarge(p, max(1, px // 3)) for p in patches])
    return render.montage(tiles, cols=16, gap=4)
