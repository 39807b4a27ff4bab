"""The network pages' computations and pictures, cached by what they hold.

Every argument of these functions is hashed — none is passed around a cache unhashed — and the
objects that travel between them carry their identity: a network context is its weights and
device, an input its pixels' SHA-256, a capture or an attribution what it was computed from.
Streamlit's ``hash_funcs`` hash each by that identity (:data:`CONTENT`), so a cache's key is
derived from the very object it computes with and cannot disagree with it. Everything here
depends only on content, so it is computed once for the whole server and shared by every
session: thirty students opening the same link cost little more than one.
"""

from __future__ import annotations

import dataclasses
import io
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from explorer import render
from explorer.attribution import Attributions
from explorer.features import Activations, ModelInput
from explorer.stages import SPATIAL_STAGES, STAGE_BY_NAME, STRIP_STAGES, StageKind
from explorer.ui.network import NetworkContext

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from explorer.attribution import GalleryResponses
    from explorer.model import Preprocessing
    from explorer.network_view import ChannelView
    from explorer.receptive_field import FieldBox
    from explorer.thumbnail_sheet import ThumbnailSheet


def _identity(obj: Any) -> str:
    if not obj.identity:  # made outside this module: it has no key that could be trusted
        raise ValueError(f"a {type(obj).__name__} without its identity cannot be cached")
    return obj.identity


#: How the caches hash the objects that travel between them: by the identity they carry.
CONTENT: dict[Any, Any] = {
    NetworkContext: lambda ctx: ctx.identity,
    ModelInput: lambda inp: inp.key,
    Activations: _identity,
    Attributions: _identity,
}


def _cached(max_entries: int, spinner: bool | str = False) -> Any:
    return st.cache_data(max_entries=max_entries, show_spinner=spinner, hash_funcs=CONTENT)


# ============================================================================================
# The forward pass and its pictures


@_cached(64)
def capture(ctx: NetworkContext, inp: ModelInput) -> Activations:
    """Every stage for one image, computed once per (weights, device, image) and shared."""
    from explorer.features import preprocess, run_with_fallback

    x = preprocess(inp.image, ctx.preprocessing)
    acts = run_with_fallback(ctx.model, x, ctx.device.device, cpu_model=ctx.cpu_model)
    return dataclasses.replace(acts, identity=f"{ctx.identity}|{inp.key}")


# A map's tile in the page's montages, in pixels before the browser scales it (crisply: app.py's
# PIXELATED style), so every map is sent at its own size (conv1's 32 px … pool2's 8 px) and only
# pool3's 4×4 maps are doubled. A new image's montages are most of what a feature-maps run
# costs, and encoding their PNGs most of that: 32 px tiles (conv3's 8×8 maps sent 16 times over)
# took 28 ms of PNG encoding an image; at their own size 7 ms.
MAP_TILE_PX = 8
# A stage's colour bar, drawn at the width the page shows it: st.image re-encodes, on every
# run, any picture wider than the width it is given (a dozen bars a feature-maps run).
COLOUR_BAR_PX = 160


@_cached(64)
def stage_pictures(acts: Activations, per_map: bool) -> dict[str, bytes]:
    """PNG bytes of every stage: one montage per spatial stage, one strip per long vector."""
    from explorer.stage_pictures import stage_montage, vector_strip

    pictures: dict[str, bytes] = {}
    for name in SPATIAL_STAGES:
        kind = STAGE_BY_NAME[name].kind
        img = stage_montage(
            acts.stages[name], kind, "map" if per_map else "layer", tile_px=MAP_TILE_PX
        )
        pictures[name] = render.png_bytes(img)
    for name in STRIP_STAGES:
        strip = vector_strip(acts.stages[name], STAGE_BY_NAME[name].kind, cell_px=1)
        pictures[name] = render.png_bytes(strip)
    return pictures


@_cached(8)
def colour_bar_png(kind: StageKind) -> bytes:
    """The legend image of a stage kind (the page prints its numbers beside it)."""
    from explorer.stage_pictures import stage_cmap

    return render.colour_bar_png(stage_cmap(kind), width=COLOUR_BAR_PX)


@_cached(512)
def sized_png(png: bytes, width: int) -> bytes:
    """``png`` scaled to ``width`` pixels wide (bilinear, as st.image would), once per content:
    st.image scales a picture wider than its ``width`` again on every run of every session."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        if img.width <= width:
            return png
        height = max(1, round(img.height * width / img.width))
        return render.png_bytes(
            np.asarray(img.convert("RGB").resize((width, height), Image.Resampling.BILINEAR))
        )


@_cached(256)
def bars_html(values: tuple[tuple[str, float], ...], highlight: str, fmt: str) -> str:
    """``render.bars_html``, once per content."""
    return render.bars_html(values, highlight, fmt)


@_cached(64)
def input_pictures(
    inp: ModelInput, pre: Preprocessing
) -> tuple[bytes, list[tuple[ChannelView, bytes]]]:
    """The 32×32 input enlarged, and each channel as the network sees it, as PNG bytes."""
    from explorer.network_view import channel_views

    views = channel_views(inp.image, pre)
    pictures = [(v, render.png_bytes(render.enlarge(v.pixels, 5))) for v in views]
    return render.png_bytes(render.enlarge(inp.image, 5)), pictures


@_cached(256)
def enlarged_png(image: np.ndarray) -> bytes:
    """A small picture enlarged 5× (whole pixels, crisp) as PNG bytes."""
    return render.png_bytes(render.enlarge(image, 5))


@_cached(16)
def conv1_filters_png(ctx: NetworkContext) -> bytes:
    """conv1's filters as colour patches, once per set of weights."""
    from explorer.stage_pictures import conv1_filters_picture

    return render.png_bytes(conv1_filters_picture(ctx.cpu_model))


@_cached(128)
def filter_grid_png(ctx: NetworkContext, conv: str, index: int) -> tuple[bytes, float]:
    """One conv2/conv3 filter's slices as one picture, with its colour range's bound."""
    from explorer.features import filters
    from explorer.stage_pictures import filter_grid

    grid, bound = filter_grid(filters(ctx.cpu_model, conv)[index])
    return render.png_bytes(grid), bound


@st.cache_resource(max_entries=64, show_spinner=False, hash_funcs=CONTENT)
def map_figure(acts: Activations, layer: str, index: int, per_map: bool) -> go.Figure:
    """One map enlarged as an interactive heatmap (hover gives each value), built once per
    content and shared: a figure is only read when it is sent, never changed."""
    from explorer.stage_pictures import stage_cmap, stage_limits

    arr, kind = acts.stages[layer], STAGE_BY_NAME[layer].kind
    lo, hi = (None, None) if per_map else stage_limits(arr, kind)
    title = f"{layer}, map {index} ({arr.shape[2]}×{arr.shape[1]})"
    return render.heatmap_figure(arr[index], stage_cmap(kind), title, layer, lo, hi)


@_cached(64)
def map_thumbnails(acts: Activations, layer: str, per_map: bool) -> ThumbnailSheet:
    """Every map of ``layer`` in its colours, at its own size (the browser enlarges it, pixels
    kept square), on one sheet in map order: the map picker's pictures, made once per content."""
    from explorer.stage_pictures import stage_cmap, stage_limits
    from explorer.thumbnail_sheet import thumbnail_sheet

    arr, kind = acts.stages[layer], STAGE_BY_NAME[layer].kind
    # Made for every new input: zlib's fastest level (9 took 17 ms for conv1's maps, 1 takes 5)
    if per_map:
        return thumbnail_sheet([render.colourise(m, stage_cmap(kind)) for m in arr], 1)
    # one range: the whole stack in one call (a call per map costs 10× more, stage_montage)
    return thumbnail_sheet(render.colourise(arr, stage_cmap(kind), *stage_limits(arr, kind)), 1)


@_cached(4)
def gallery_thumbnails(dataset: str) -> ThumbnailSheet:
    """Every gallery image of ``dataset``, 32×32 as the network gets it, on one sheet in
    gallery order."""
    from explorer.samples import gallery, load_gallery_image
    from explorer.thumbnail_sheet import thumbnail_sheet

    return thumbnail_sheet([load_gallery_image(item) for item in gallery(dataset)])


def montage_png(
    acts: Activations, stage: str, per_map: bool, inp: ModelInput | None = None, weights: str = ""
) -> bytes:
    """A stage's maps as a PNG for a slide, with its colour bar and a title that names the
    stage, the image (``inp``) and the ``weights`` (made when the download is clicked, so not
    cached)."""
    from explorer.export.slides import montage_png as slide
    from explorer.export.titles import image_words, montage_title

    info = STAGE_BY_NAME[stage]
    image = image_words(inp.description, inp.true_label) if inp is not None else ""
    title = montage_title(info.title, image, weights)
    return slide(acts.stages[stage], info.kind, "map" if per_map else "layer", title)


# ============================================================================================
# Inside the network


@_cached(256)
def field_png(image: np.ndarray, box: FieldBox) -> bytes:
    """The input with ``box``'s pixels outlined, as PNG bytes."""
    from explorer.inside_pictures import outline_field

    return render.png_bytes(outline_field(image, box.top, box.left, box.bottom, box.right))


@_cached(64, "Asking where the network looks…")
def attributions(ctx: NetworkContext, inp: ModelInput, target: int) -> Attributions:
    """Grad-CAM, saliency and integrated gradients for (weights, device, image, class)."""
    from explorer.attribution import attribute
    from explorer.features import preprocess

    x = preprocess(inp.image, ctx.preprocessing)
    found = attribute(ctx.model, x, target, ctx.preprocessing, ctx.device.device)
    return dataclasses.replace(found, identity=f"{ctx.identity}|{inp.key}|{target}")


@_cached(64)
def attribution_pngs(found: Attributions, image: np.ndarray) -> dict[str, tuple[bytes, str]]:
    """Each method's map over the input as PNG bytes, with its legend's HTML."""
    from explorer.inside_pictures import legend_html, overlay

    out = {}
    for name, heat, signed in (
        ("grad_cam", found.grad_cam, False),
        ("saliency", found.saliency, False),
        ("integrated", found.integrated, True),
    ):
        top = float(np.abs(heat).max()) or 1.0
        cmap: render.ColourMap = "diverging" if signed else "viridis"
        lo = -top if signed else 0.0
        meaning = "blue lowers the score · red raises it" if signed else "brighter = more"
        out[name] = (
            render.png_bytes(overlay(image, heat, cmap, lo, top)),
            legend_html(cmap, lo, top, meaning),
        )
    return out


@_cached(16, "Showing the gallery to conv3…")
def gallery_scores(ctx: NetworkContext) -> tuple[tuple[str, ...], GalleryResponses]:
    """conv3's response to every gallery image of the network's dataset, once per weights."""
    from explorer.attribution import gallery_responses
    from explorer.samples import gallery, load_gallery_image

    items = gallery(ctx.dataset)
    images = np.stack([load_gallery_image(item) for item in items])
    found = gallery_responses(ctx.model, images, ctx.preprocessing, ctx.device.device)
    return tuple(item.key for item in items), found
