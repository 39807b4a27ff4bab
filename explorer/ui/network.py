"""The network pages ("The network", "Feature maps"): their session state, the models shared by
every session, the sidebar they share, and the captures and pictures cached by content."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import streamlit as st

from explorer import render
from explorer.errors import UserError, literal_markdown
from explorer.ui import widgets

Triple = tuple[float, float, float]

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from explorer.features import Activations, ModelInput, StageKind
    from explorer.model import DeviceInfo, Preprocessing, SimpleCNN
    from explorer.network_view import ChannelView


UPLOAD_WEIGHTS = "upload"
NET_DEFAULTS: dict[str, Any] = {
    "net_weights": None,  # a built-in key, or UPLOAD_WEIGHTS; None: the first built-in
    "net_device": None,  # a torch device string; None: the best available
    "net_upload_dataset": "cifar10",  # what uploaded 10-class weights were trained on
    "fm_input": "Gallery",
    "fm_gallery": None,
    "fm_layer": "conv1",
    "fm_map": 0,
    "fm_scale": "layer",  # a key of network_view.SCALES
    "fm_pg_filter": 0,
    "fm_pg_channel": "sum",
}


def init_network_state() -> None:
    """Give every ``net_``/``fm_`` key its value: on the session's first visit what the link
    asks for, else its default (the one place they are initialised)."""
    ss = st.session_state
    if "net_link_read" not in ss:
        from explorer.model import builtin_weights
        from explorer.network_link import network_from_query
        from explorer.samples import GALLERY_DATASETS, gallery

        keys = [item.key for dataset in GALLERY_DATASETS for item in gallery(dataset)]
        values, ss["net_link_warnings"] = network_from_query(
            st.query_params.to_dict(), [c.key for c in builtin_weights()], keys
        )
        for key, value in values.items():
            ss[key] = value
        ss["net_link_read"] = True
    for key, value in NET_DEFAULTS.items():
        ss.setdefault(key, value)


def link_warnings() -> list[str]:
    """What the link asked for that could not be used: shown from the first visit until the
    student changes the set-up (the weights, the image, the map or the colours)."""
    from explorer.network_link import PARAMS

    ss = st.session_state
    now = {key: ss.get(key) for key in PARAMS}
    if ss.setdefault("net_link_snapshot", now) != now:
        ss.pop("net_link_warnings", None)
    return ss.get("net_link_warnings", [])


def keep_address(
    extra: dict[str, str] | None = None, keys: tuple[str, ...] | None = None
) -> dict[str, str]:
    """Keep the address bar in step with the network pages' set-up (the built-in weights, the
    gallery image, the enlarged map, the colour scale) and ``extra`` flags, so the address is
    the share link (``keys``: only these session keys, e.g. the weights alone). Uploaded
    weights cannot travel in a link: they are left out."""
    from explorer.network_link import PARAMS, network_to_query

    ss = st.session_state
    values = {key: ss.get(key) for key in (keys or PARAMS)}
    if values.get("net_weights") == UPLOAD_WEIGHTS:
        values["net_weights"] = None
    if ss.get("fm_input", "Gallery") != "Gallery":
        values["fm_gallery"] = None
    params = {**network_to_query(values), **(extra or {})}
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    return params


@dataclass
class NetworkContext:
    """The weights and device the sidebar chose, with the model ready on that device."""

    weights_id: str  # a built-in key, or "upload:<sha256>:<dataset>": the weights in caches
    label: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    dataset: str  # the gallery that matches: "cifar10" or "mnist"
    model: SimpleCNN  # on ``device.device``; shared by all sessions: never modify it
    cpu_model: SimpleCNN  # the same weights on the CPU (the fallback when a GPU fails)
    device: DeviceInfo
    card: dict = field(default_factory=dict)
    trained: bool = True  # False for the untrained, seeded network: nothing is learned there


@st.cache_resource(show_spinner="Loading the network…", max_entries=8)
def builtin_model(key: str, device: str) -> SimpleCNN:
    """A built-in network in eval mode on ``device``: loaded once per (weights, device) and
    shared by every session."""
    from explorer.model import builtin_weights, load_choice

    choice = {c.key: c for c in builtin_weights()}[key]
    return load_choice(choice).to(device).eval()


# At most 6 uploaded models are kept (least recently used first out). A model has at most
# MAX_CLASSES classes, so each is at most ~7 MB of float32 parameters: ~40 MB for the cache.
@st.cache_resource(show_spinner="Checking the weights…", max_entries=6)
def uploaded_model(sha256: str, device: str, _data: bytes) -> SimpleCNN:
    """A user's weights (keyed by the file's SHA-256, the bytes themselves are not hashed
    again) in eval mode on ``device``. Raises WeightsError for an unusable file."""
    from explorer.model import build_model, load_state_dict_bytes

    state, num_classes = load_state_dict_bytes(_data)
    return build_model(state, num_classes).to(device).eval()


def _device_picker() -> DeviceInfo:
    from explorer.model import available_devices

    devices = {d.device: d for d in available_devices()}
    if st.session_state["net_device"] not in devices:
        st.session_state["net_device"] = next(iter(devices))
    if len(devices) == 1:
        st.sidebar.caption("Runs on: **CPU** (no GPU found on the server).")
        return devices["cpu"]
    chosen = st.sidebar.radio(
        "Run the network on",
        list(devices),
        format_func=lambda d: devices[d].name,
        key="net_device",
        help="The GPU is chosen when there is one; switch to the CPU to compare.",
    )
    return devices[chosen]


def network_sidebar() -> NetworkContext | None:
    """The sidebar both network pages share: which weights, which device, the model card.
    Returns None (after saying why) when uploaded weights are missing or unusable."""
    from explorer.model import (
        CIFAR10_CLASSES,
        CIFAR10_PREPROCESSING,
        DIGIT_CLASSES,
        MAX_CLASSES,
        MAX_WEIGHTS_BYTES,
        MNIST_PREPROCESSING,
        builtin_weights,
    )

    init_network_state()
    choices = {c.key: c for c in builtin_weights()}
    options = [*choices, UPLOAD_WEIGHTS]
    if st.session_state["net_weights"] not in options:
        st.session_state["net_weights"] = options[0]
    bar = st.sidebar
    bar.header("The network")
    # The weights are chosen on the page itself, not in the sidebar: on a phone the sidebar is
    # folded away, and which network runs is the first thing a student changes.
    key = st.columns([2, 3])[0].selectbox(
        "Weights",
        options,
        format_func=lambda k: choices[k].label if k in choices else "Upload your own (.pt)",
        key="net_weights",
        help="The numbers inside the filters and layers. Trained weights recognise things; "
        "untrained ones are random.",
    )
    device = _device_picker()
    if key in choices:
        _model_card(choices[key].card)
        return builtin_context(key, device)
    upload = bar.file_uploader(
        "SimpleCNN weights (a state_dict saved with torch.save)",
        # Other kinds are accepted here so that our checks can say what the file is and how
        # to convert it, rather than the uploader refusing it without a reason.
        type=["pt", "pth", "bin", "ckpt", "safetensors", "onnx", "npz", "h5"],
        key="net_weights_file",
        help=f"At most {MAX_WEIGHTS_BYTES // 2**20} MB and {MAX_CLASSES:,} classes. Only "
        "tensors are read (torch.load with weights_only=True); nothing in the file is run.",
    )
    trained_on = bar.radio(
        "Trained on",
        ["cifar10", "mnist"],
        format_func={"cifar10": "CIFAR-10 photos", "mnist": "MNIST digits"}.get,
        key="net_upload_dataset",
        horizontal=True,
        help="Decides the class names, the normalisation and how drawings are prepared.",
    )
    if upload is None:
        st.info("Upload a weights file in the sidebar (☰ on a phone), or choose built-in weights.")
        return None
    data = upload.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    try:
        model = uploaded_model(sha, device.device, data)
        cpu_model = model if device.device == "cpu" else uploaded_model(sha, "cpu", data)
    except UserError as exc:
        st.error(
            literal_markdown(f"These weights cannot be used. {exc}"), icon=":material/warning:"
        )
        return None
    num_classes = model.fc2.out_features
    digits = trained_on == "mnist"
    classes = DIGIT_CLASSES if digits else CIFAR10_CLASSES
    if num_classes != 10:
        classes = tuple(f"class {i}" for i in range(num_classes))
    pre = MNIST_PREPROCESSING if digits else CIFAR10_PREPROCESSING
    bar.success(f"Loaded {literal_markdown(upload.name)}: {num_classes} classes.")
    # The dataset is part of the identity: it decides the normalisation, so the same file read
    # as MNIST weights must not reuse the captures made for it as CIFAR-10 weights.
    return NetworkContext(
        f"upload:{sha}:{trained_on}",
        upload.name,
        classes,
        pre,
        trained_on,
        model,
        cpu_model,
        device,
    )


def network_page(
    page: str, title: str, intro: str, sections: dict[str, str]
) -> tuple[widgets.Presenter, NetworkContext]:
    """The start every network page shares: presenter mode, the title and intro, the weights
    and device, what a link asked for that could not be used. Stops the page (after saying
    why) when there is no usable network yet."""
    show = widgets.presenter(page, sections)
    widgets.page_header(title, intro, presenting=show.on)
    ctx = network_sidebar()
    for warning in link_warnings():
        widgets.warning(warning, icon=":material/link:")
    if ctx is None:
        st.stop()
    return show, ctx


def builtin_context(key: str, device: DeviceInfo) -> NetworkContext:
    """A built-in network on ``device`` (shared, cached) with what the pages need to know."""
    from explorer.model import builtin_weights

    choice = {c.key: c for c in builtin_weights()}[key]
    model = builtin_model(key, device.device)
    cpu_model = model if device.device == "cpu" else builtin_model(key, "cpu")
    dataset = "mnist" if choice.preprocessing.kind == "digit" else "cifar10"
    return NetworkContext(
        key, choice.label, choice.classes, choice.preprocessing, dataset, model, cpu_model,
        device, choice.card, trained=choice.path is not None,
    )  # fmt: skip


def _model_card(card: dict) -> None:
    if not card:
        st.sidebar.caption(
            "Random weights: the network has not learned anything yet, so its answers are "
            "guesses. Its structure and shapes are exactly those of the trained network."
        )
        return
    line = f"**Test accuracy: {card['test_accuracy'] * 100:.1f}%** on {card['dataset']}"
    if "test_images_exact" in card:
        line += f" ({card['test_images_exact']:,} test images never seen in training)"
    st.sidebar.markdown(line)
    training = card.get("training", {})
    st.sidebar.caption(
        f"{card.get('train_images', 0):,} training images, {training.get('epochs', '?')} "
        f"epochs on {card.get('device', '?')}."
    )


def image_key(img: np.ndarray) -> bytes:
    """A short key for an image in the caches (its SHA-256)."""
    return hashlib.sha256(img.tobytes()).digest()


@st.cache_data(max_entries=64, show_spinner=False)
def capture(
    weights_id: str, device: str, image_key: bytes, _ctx: NetworkContext, _image: np.ndarray
) -> Activations:
    """Every stage for one image, computed once per (weights, device, image) and shared."""
    from explorer.features import preprocess, run_with_fallback

    x = preprocess(_image, _ctx.preprocessing)
    return run_with_fallback(_ctx.model, x, device, cpu_model=_ctx.cpu_model)


def capture_for(ctx: NetworkContext, inp: ModelInput) -> Activations:
    """The cached capture for this context and input."""
    return capture(ctx.weights_id, ctx.device.device, image_key(inp.image), ctx, inp.image)


# Everything below depends only on content (the weights' identity, the input's bytes, the
# options), so it is computed once for the whole server and shared by every session: thirty
# students opening the same link cost little more than one.


@st.cache_data(max_entries=64, show_spinner=False)
def stage_pictures(
    weights_id: str, device: str, image_key: bytes, per_map: bool, _acts: Activations
) -> dict[str, bytes]:
    """PNG bytes of every stage: one montage per spatial stage, one strip per long vector."""
    from explorer.features import SPATIAL_STAGES, STAGE_BY_NAME
    from explorer.stage_pictures import stage_montage, vector_strip

    pictures: dict[str, bytes] = {}
    for name in SPATIAL_STAGES:
        stage = STAGE_BY_NAME[name]
        arr = _acts.stages[name]
        img = stage_montage(arr, stage.kind, "map" if per_map else "layer", tile_px=64)
        pictures[name] = render.png_bytes(img)
    for name in ("flatten", "fc1", "relu4"):
        strip = vector_strip(_acts.stages[name], STAGE_BY_NAME[name].kind, cell_px=8)
        pictures[name] = render.png_bytes(strip)
    return pictures


@st.cache_data(show_spinner=False)
def colour_bar_png(kind: StageKind) -> bytes:
    """The legend image of a stage kind (the page prints its numbers beside it)."""
    from explorer.stage_pictures import stage_cmap

    return render.colour_bar_png(stage_cmap(kind))


@st.cache_data(max_entries=256, show_spinner=False)
def bars_html(values: tuple[tuple[str, float], ...], highlight: str, fmt: str) -> str:
    """``render.bars_html``, once per content."""
    return render.bars_html(values, highlight, fmt)


@st.cache_data(max_entries=64, show_spinner=False)
def input_pictures(
    image_key: bytes, mean: tuple[float, ...], std: tuple[float, ...], _image: np.ndarray
) -> tuple[bytes, list[tuple[ChannelView, bytes]]]:
    """The 32×32 input enlarged, and each channel as the network sees it, as PNG bytes."""
    from explorer.model import Preprocessing
    from explorer.network_view import channel_views

    pre = Preprocessing(mean=cast(Triple, mean), std=cast(Triple, std))  # always 3 channels
    views = channel_views(_image, pre)
    pictures = [(v, render.png_bytes(render.enlarge(v.pixels, 5))) for v in views]
    return render.png_bytes(render.enlarge(_image, 5)), pictures


@st.cache_data(max_entries=256, show_spinner=False)
def enlarged_png(image_key: bytes, _image: np.ndarray) -> bytes:
    """A small picture enlarged 5× (whole pixels, crisp) as PNG bytes."""
    return render.png_bytes(render.enlarge(_image, 5))


@st.cache_data(max_entries=16, show_spinner=False)
def conv1_filters_png(weights_id: str, _model: SimpleCNN) -> bytes:
    """conv1's filters as colour patches, once per set of weights."""
    from explorer.stage_pictures import conv1_filters_picture

    return render.png_bytes(conv1_filters_picture(_model))


@st.cache_data(max_entries=128, show_spinner=False)
def filter_grid_png(
    weights_id: str, conv: str, index: int, _model: SimpleCNN
) -> tuple[bytes, float]:
    """One conv2/conv3 filter's slices as one picture, with its colour range's bound."""
    from explorer.features import filters
    from explorer.stage_pictures import filter_grid

    grid, bound = filter_grid(filters(_model, conv)[index])
    return render.png_bytes(grid), bound


@st.cache_resource(max_entries=64, show_spinner=False)
def map_figure(
    weights_id: str,
    device: str,
    image_key: bytes,
    layer: str,
    index: int,
    per_map: bool,
    _acts: Activations,
) -> go.Figure:
    """One map enlarged as an interactive heatmap (hover gives each value), built once per
    content and shared: a figure is only read when it is sent, never changed."""
    from explorer.features import STAGE_BY_NAME
    from explorer.stage_pictures import stage_cmap, stage_limits

    arr, kind = _acts.stages[layer], STAGE_BY_NAME[layer].kind
    lo, hi = (None, None) if per_map else stage_limits(arr, kind)
    title = f"{layer}, map {index} ({arr.shape[2]}×{arr.shape[1]})"
    return render.heatmap_figure(arr[index], stage_cmap(kind), title, layer, lo, hi)


MAP_GRID_COLUMNS = 8


def _select_cell(key: str, cell: list) -> None:
    """Show ``cell`` ([row, "column"]) selected in the thumbnail grid ``key``, and remember it:
    the browser may send this same selection back with another widget's change, and that is
    not a click (see :func:`_clicked_cell`)."""
    ss = st.session_state
    if (ss.get(key) or {}).get("selection", {}).get("cells") != [cell]:
        ss[key] = {"selection": {"rows": [], "columns": [], "cells": [cell]}}
    ss[key + "_shown"] = cell


def _clicked_cell(key: str) -> tuple[int, int] | None:
    """The (row, column) the student clicked in grid ``key``, or None when the grid only sent
    back the selection the page itself showed."""
    ss = st.session_state
    cells = (ss.get(key) or {}).get("selection", {}).get("cells") or []
    if not cells or list(cells[0]) == list(ss.get(key + "_shown") or []):
        return None
    return int(cells[0][0]), int(cells[0][1])


@st.cache_data(max_entries=64, show_spinner=False)
def map_thumbnails(weights_id: str, device: str, image_key: bytes, layer: str, per_map: bool,
                   _acts: Activations) -> list[str]:  # fmt: skip
    """Every map of ``layer`` as a small PNG data URL, in map order (for the map picker)."""
    import base64

    from explorer.features import STAGE_BY_NAME
    from explorer.stage_pictures import stage_cmap, stage_limits

    arr, kind = _acts.stages[layer], STAGE_BY_NAME[layer].kind
    lo, hi = (None, None) if per_map else stage_limits(arr, kind)
    urls = []
    for m in arr:
        picture = render.colourise(m, stage_cmap(kind), lo, hi)
        png = render.png_bytes(render.enlarge(picture, max(1, 48 // m.shape[0])))
        urls.append("data:image/png;base64," + base64.b64encode(png).decode())
    return urls


def thumbnail_grid(
    urls: list[str], cols: int, chosen: int, pick: Callable[[int], None], key: str,
    row_px: int, max_rows: int | None = None, title: Callable[[int], str] = str,
) -> None:  # fmt: skip
    """Pictures (``urls``: PNG data URLs) as a grid, ``cols`` a row, the first top left, with
    picture ``chosen`` selected; clicking picture i calls ``pick(i)`` (before the rerun, like
    a widget's callback). Used for the gallery and for a layer's maps."""
    import pandas as pd

    rows = -(-len(urls) // cols)
    cells = [[urls[r * cols + c] if r * cols + c < len(urls) else None for c in range(cols)]
             for r in range(rows)]  # fmt: skip
    frame = pd.DataFrame(cells, columns=[str(c) for c in range(cols)])
    _select_cell(key, [chosen // cols, str(chosen % cols)])

    def picked() -> None:
        cell = _clicked_cell(key)
        if cell is not None and cell[0] * cols + cell[1] < len(urls):
            pick(cell[0] * cols + cell[1])

    st.dataframe(
        frame,
        key=key,
        on_select=picked,
        selection_mode="single-cell",
        hide_index=True,
        row_height=row_px,
        height=min(max_rows or rows, rows) * row_px + 40,
        column_config={
            c: st.column_config.ImageColumn(title(int(c)), width="small") for c in frame.columns
        },
    )


def map_picker(thumbnails: list[str]) -> None:
    """The maps of a layer as thumbnails (8 a row, map 0 top left); clicking one makes it the
    enlarged map (``fm_map``)."""

    def pick(index: int) -> None:
        st.session_state["fm_map"] = index

    current = int(st.session_state.get("fm_map", 0))
    thumbnail_grid(thumbnails, MAP_GRID_COLUMNS, current, pick, "fm_map_grid", 54, max_rows=6)


@st.cache_data(max_entries=4, show_spinner=False)
def gallery_thumbnails(dataset: str) -> list[tuple[str, str]]:
    """(thumbnail PNG data URL, true label) of every gallery image of ``dataset``, in order."""
    import base64

    from explorer.samples import gallery, load_gallery_image

    out = []
    for item in gallery(dataset):
        png = render.png_bytes(render.enlarge(load_gallery_image(item), 2))
        out.append(("data:image/png;base64," + base64.b64encode(png).decode(), item.label_name))
    return out


def gallery_picker(dataset: str, keys: list[str]) -> None:
    """The gallery as thumbnails, five a row; clicking one picks it (``fm_gallery``). The
    selection follows ``fm_gallery`` too, so the picker and the list above always agree."""

    def pick(index: int) -> None:
        st.session_state["fm_gallery"] = keys[index]

    urls = [url for url, _ in gallery_thumbnails(dataset)]
    current = keys.index(st.session_state["fm_gallery"]) if st.session_state.get(
        "fm_gallery") in keys else 0  # fmt: skip
    thumbnail_grid(urls, 5, current, pick, "fm_gallery_grid", 70, title=lambda _c: " ")


def guess_first(ctx: NetworkContext, inp: ModelInput, answer: str) -> bool:
    """ "What will the network say?": with the switch on, the student picks a class before the
    answer is revealed, then sees whether the network agreed, with a running score for the
    session. Returns whether the answer may be shown (always, with the switch off)."""
    ss = st.session_state
    on = st.toggle(
        "Guess first: what will the network say?",
        key="fm_guess_on",
        help="Pick a class before the network's answer and probabilities are shown.",
    )
    if not on:
        return True
    guesses: dict[str, str] = ss.setdefault("fm_guesses", {})
    which = f"{ctx.weights_id}:{image_key(inp.image).hex()}"
    if which not in guesses:
        pick_key = "fm_guess_" + hashlib.sha256(which.encode()).hexdigest()[:12]

        def guessed() -> None:
            if ss.get(pick_key) is not None:
                guesses[which] = ss[pick_key]
                right, asked = ss.get("fm_guess_score", (0, 0))
                ss["fm_guess_score"] = (right + (ss[pick_key] == answer), asked + 1)

        if len(ctx.classes) <= 12:
            st.pills("Your guess", list(ctx.classes), key=pick_key, on_change=guessed)
        else:
            st.selectbox("Your guess", list(ctx.classes), index=None, key=pick_key,
                         on_change=guessed)  # fmt: skip
        st.info("Pick the class you think the network will choose: its answer appears then.")
        return False
    right, asked = ss.get("fm_guess_score", (0, 0))
    mine = guesses[which]
    verdict = "the same as the network" if mine == answer else f"the network says {answer}"
    st.markdown(
        f"You guessed **{mine}**: {verdict}. Your guesses so far: **{right} of {asked}** "
        "matched the network."
    )
    return True


def montage_png_for(stage: str, per_map: bool, acts: Activations) -> bytes:
    """A stage's maps as a PNG for a slide, with its title and colour bar (made when the
    download is clicked)."""
    from explorer.export import montage_png
    from explorer.features import STAGE_BY_NAME

    info = STAGE_BY_NAME[stage]
    return montage_png(acts.stages[stage], info.kind, "map" if per_map else "layer", info.title)


# ----------------------------------------------------------------------------- for the pages
# The pages pass what is on the screen (the network, the input, its capture); the keys of the
# content-keyed caches above are made here, never by a page.


def pictures_for(ctx: NetworkContext, inp: ModelInput, acts: Activations, per_map: bool
                 ) -> dict[str, bytes]:  # fmt: skip
    """:func:`stage_pictures` of this capture."""
    return stage_pictures(ctx.weights_id, acts.device, image_key(inp.image), per_map, acts)


def input_pictures_for(ctx: NetworkContext, inp: ModelInput
                       ) -> tuple[bytes, list[tuple[ChannelView, bytes]]]:  # fmt: skip
    """:func:`input_pictures` of this input, normalised the way this network expects."""
    pre = ctx.preprocessing
    return input_pictures(image_key(inp.image), pre.mean, pre.std, inp.image)


def map_figure_for(ctx: NetworkContext, inp: ModelInput, acts: Activations, layer: str,
                   index: int, per_map: bool) -> go.Figure:  # fmt: skip
    """:func:`map_figure` of one map of this capture."""
    key = image_key(inp.image)
    return map_figure(ctx.weights_id, acts.device, key, layer, index, per_map, acts)


def map_thumbnails_for(ctx: NetworkContext, inp: ModelInput, acts: Activations, layer: str,
                       per_map: bool) -> list[str]:  # fmt: skip
    """:func:`map_thumbnails` of one stage of this capture."""
    key = image_key(inp.image)
    return map_thumbnails(ctx.weights_id, acts.device, key, layer, per_map, acts)


def filter_grid_png_for(ctx: NetworkContext, conv: str, index: int) -> tuple[bytes, float]:
    """:func:`filter_grid_png` of one filter of this network."""
    return filter_grid_png(ctx.weights_id, conv, index, ctx.cpu_model)


def conv1_filters_png_for(ctx: NetworkContext) -> bytes:
    """:func:`conv1_filters_png` of this network."""
    return conv1_filters_png(ctx.weights_id, ctx.cpu_model)
