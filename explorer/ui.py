"""The one module that imports Streamlit: cached loaders and widgets shared by the pages.

Pages import from here and from the rest of ``explorer``; nothing else in ``explorer`` imports
Streamlit, so all computation stays testable (and runnable on a GPU machine) without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from explorer.errors import UserError

T = TypeVar("T")


def guarded(action: Callable[[], T]) -> T | None:
    """Run ``action``; a user's mistake becomes an ``st.error`` with its sentence, not a
    traceback. Returns None when it failed."""
    try:
        return action()
    except UserError as exc:
        st.error(str(exc), icon=":material/warning:")
        return None


def use_app_navigation() -> None:
    """Make sure this page runs inside app.py's navigation, also when opened by its own URL.

    Streamlit (1.67) treats a folder named ``pages/`` beside the entry script as a legacy
    multipage app until ``st.navigation`` has run once in the server process. So the first
    visitor who opens a page's own address — a teacher's share link, say — would get the page
    script run on its own, without app.py's page list and wide layout. Every page calls this
    first: it switches the legacy mode off and reruns, this time through app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_header(title: str, intro: str) -> None:
    """A page's title and the few sentences that tell a newcomer what it is for."""
    st.title(title)
    st.markdown(intro)


# ============================================================================================
# The network pages ("The network", "Feature maps"): cached models, the shared sidebar, the
# input chooser and cached captures. torch is imported inside the functions, so pages that do
# not need the network never pay for it.

import hashlib  # noqa: E402 — this section's own imports, kept with it
from dataclasses import dataclass, field  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

if TYPE_CHECKING:
    import numpy as np

    from explorer.features import Activations
    from explorer.model import DeviceInfo, Preprocessing, SimpleCNN

UPLOAD_WEIGHTS = "upload"
NET_DEFAULTS: dict[str, Any] = {
    "net_weights": None,  # a built-in key, or UPLOAD_WEIGHTS; None: the first built-in
    "net_device": None,  # a torch device string; None: the best available
    "net_upload_dataset": "cifar10",  # what uploaded 10-class weights were trained on
    "fm_input": "Gallery",
    "fm_gallery": None,
    "fm_layer": "conv1",
    "fm_map": 0,
    "fm_scale": "Shared by the layer",
    "fm_pg_filter": 0,
    "fm_pg_channel": "sum",
}


def init_network_state() -> None:
    """Give every ``net_``/``fm_`` key its default, once per session (the one place they are
    initialised)."""
    for key, value in NET_DEFAULTS.items():
        st.session_state.setdefault(key, value)


@dataclass
class NetworkContext:
    """The weights and device the sidebar chose, with the model ready on that device."""

    weights_id: str  # a built-in key, or "upload:<sha256>" — identifies the weights in caches
    label: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    dataset: str  # the gallery that matches: "cifar10" or "mnist"
    model: SimpleCNN  # on ``device.device``; shared by all sessions: never modify it
    cpu_model: SimpleCNN  # the same weights on the CPU (the fallback when a GPU fails)
    device: DeviceInfo
    card: dict = field(default_factory=dict)


@st.cache_resource(show_spinner="Loading the network…", max_entries=8)
def builtin_model(key: str, device: str) -> SimpleCNN:
    """A built-in network in eval mode on ``device``: loaded once per (weights, device) and
    shared by every session."""
    from explorer.model import builtin_weights, load_choice

    choice = {c.key: c for c in builtin_weights()}[key]
    return load_choice(choice).to(device).eval()


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
    key = bar.selectbox(
        "Weights",
        options,
        format_func=lambda k: choices[k].label if k in choices else "Upload your own (.pt)",
        key="net_weights",
        help="The numbers inside the filters and layers. Trained weights recognise things; "
        "untrained ones are random.",
    )
    device = _device_picker()
    if key in choices:
        choice = choices[key]
        model = builtin_model(key, device.device)
        cpu_model = model if device.device == "cpu" else builtin_model(key, "cpu")
        _model_card(choice.card)
        dataset = "mnist" if choice.preprocessing.kind == "digit" else "cifar10"
        return NetworkContext(
            key, choice.label, choice.classes, choice.preprocessing, dataset, model,
            cpu_model, device, choice.card,
        )  # fmt: skip
    upload = bar.file_uploader(
        "SimpleCNN weights (a state_dict saved with torch.save)",
        type=["pt", "pth"],
        key="net_weights_file",
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
        st.info("Upload a weights file in the sidebar, or choose built-in weights.")
        return None
    data = upload.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    try:
        model = uploaded_model(sha, device.device, data)
        cpu_model = model if device.device == "cpu" else uploaded_model(sha, "cpu", data)
    except UserError as exc:
        st.error(f"These weights cannot be used: {exc}", icon=":material/warning:")
        return None
    num_classes = model.fc2.out_features
    digits = trained_on == "mnist"
    classes = DIGIT_CLASSES if digits else CIFAR10_CLASSES
    if num_classes != 10:
        classes = tuple(f"class {i}" for i in range(num_classes))
    pre = MNIST_PREPROCESSING if digits else CIFAR10_PREPROCESSING
    bar.success(f"Loaded {upload.name}: {num_classes} classes.")
    return NetworkContext(
        f"upload:{sha}", upload.name, classes, pre, trained_on, model, cpu_model, device
    )


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


@dataclass
class ModelInput:
    """The 32×32×3 uint8 image the network will get, where it came from, and its true class
    when known (gallery images)."""

    image: np.ndarray
    description: str
    true_label: str | None = None


def network_input(ctx: NetworkContext) -> ModelInput | None:
    """Gallery, drawing or upload → the network's 32×32 input; None (after saying why) when
    there is nothing to show yet."""
    from explorer import images

    source = st.radio(
        "Input", ["Gallery", "Draw", "Upload"], key="fm_input", horizontal=True,
        help="Gallery: exact test images the network never saw in training, with their true "
        "label.",
    )  # fmt: skip
    try:
        if source == "Gallery":
            return _gallery_input(ctx)
        if source == "Draw":
            return _drawn_input(ctx)
        upload = st.file_uploader(
            "An image (PNG, JPEG, WebP, BMP, GIF, TIFF)",
            type=["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"],
            key="fm_upload",
        )
        if upload is None:
            st.info("Choose an image file: it is cropped to a square and shrunk to 32×32.")
            return None
        rgb = images.decode_image(upload.getvalue())
        return ModelInput(images.photo_to_model_image(rgb), f"your image {upload.name}")
    except UserError as exc:
        st.error(str(exc), icon=":material/warning:")
        return None


def _gallery_input(ctx: NetworkContext) -> ModelInput:
    from explorer import images, render

    items = {item.key: item for item in images.gallery(ctx.dataset)}
    if st.session_state["fm_gallery"] not in items:
        st.session_state["fm_gallery"] = next(iter(items))
    key = st.selectbox(
        "Test image",
        list(items),
        format_func=lambda k: f"{items[k].label_name} — {items[k].source}",
        key="fm_gallery",
    )
    item = items[key]
    st.image(
        render.enlarge(images.load_gallery_image(item), 5),
        caption=f"True label: {item.label_name}",
        output_format="PNG",
    )
    return ModelInput(images.load_gallery_image(item), item.source, item.label_name)


def _drawn_input(ctx: NetworkContext) -> ModelInput | None:
    from streamlit_drawable_canvas import st_canvas

    from explorer import images

    digit = ctx.preprocessing.kind == "digit"
    st.caption(
        "Draw a digit, large, in the middle. It is centred and scaled the way MNIST digits are."
        if digit
        else "Draw anything: the drawing is shrunk to 32×32 like a photo."
    )
    result = st_canvas(
        stroke_width=18, stroke_color="#FFFFFF", background_color="#000000",
        height=280, width=280, return_image_data=True, key="fm_canvas",
    )  # fmt: skip
    rgba = result.image_data
    if images.canvas_is_blank(rgba):
        st.info("Draw on the black square with the mouse (or a finger).")
        return None
    rgb = images.canvas_to_rgb(rgba, background=(0, 0, 0))
    if digit:
        return ModelInput(images.digit_to_model_image(rgb), "your drawing, prepared like MNIST")
    return ModelInput(images.photo_to_model_image(rgb), "your drawing")


def image_key(img: np.ndarray) -> bytes:
    """A short key for an image in the caches (its SHA-256)."""
    return hashlib.sha256(img.tobytes()).digest()


@st.cache_data(max_entries=64, show_spinner=False)
def capture(weights_id: str, device: str, image_key: bytes, _ctx: NetworkContext,
            _image: np.ndarray) -> Activations:  # fmt: skip
    """Every stage for one image, computed once per (weights, device, image) and shared."""
    from explorer.features import preprocess, run_with_fallback

    x = preprocess(_image, _ctx.preprocessing)
    return run_with_fallback(_ctx.model, x, device, cpu_model=_ctx.cpu_model)


def capture_for(ctx: NetworkContext, inp: ModelInput) -> Activations:
    """The cached capture for this context and input."""
    return capture(ctx.weights_id, ctx.device.device, image_key(inp.image), ctx, inp.image)


@st.cache_data(max_entries=64, show_spinner=False)
def stage_pictures(weights_id: str, device: str, image_key: bytes, per_map: bool,
                   _acts: Activations) -> dict[str, bytes]:  # fmt: skip
    """PNG bytes of every stage: one montage per spatial stage, one strip per long vector."""
    from explorer import render
    from explorer.features import SPATIAL_STAGES, STAGE_BY_NAME, stage_montage, vector_strip

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
def colour_bar_png(kind: str) -> bytes:
    """The legend image of a stage kind (its numbers are printed beside it)."""
    from explorer import render
    from explorer.features import colour_bar

    return render.png_bytes(colour_bar(kind, 0.0, 1.0))  # type: ignore[arg-type]


def layer_chain_dot(rows: list) -> str:
    """Graphviz DOT of the data flow, top to bottom: one box per stage with its output shape
    (built from ``model.layer_table`` rows, so it follows the model)."""
    fill = {"conv": "#fde0c5", "relu": "#dbe9f6", "pool": "#d5efd5", "fc": "#eedcf5"}
    nodes, names = [], []
    for r in rows:
        shape = " × ".join(str(d) for d in r.output_shape[1:])
        colour = next((c for p, c in fill.items() if r.name.startswith(p)), "#eeeeee")
        nodes.append(f'{r.name} [label="{r.name}   {shape}", fillcolor="{colour}"]')
        names.append(r.name)
    return (
        "digraph G { rankdir=TB; nodesep=0.2; ranksep=0.12; "
        'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=12, '
        'width=2.2, height=0.3, margin="0.08,0.03"]; edge [arrowsize=0.5]; '
        + "; ".join(nodes)
        + "; "
        + " -> ".join(names)
        + "; }"
    )


def legend(kind: str, lo: float, hi: float, per_map: bool) -> None:
    """The colour bar of a stage with the numbers its ends stand for."""
    st.image(colour_bar_png(kind), width=160, output_format="PNG")
    if per_map:
        st.caption("Each map: darkest/bluest = its own lowest value, brightest/reddest = highest.")
    elif kind == "signed":
        st.caption(f"blue {lo:.3g} · white 0 · red {hi:.3g}")
    else:
        st.caption(f"dark {lo:.3g} · yellow {hi:.3g}")


def show_stage(name: str, acts: Activations, pictures: dict[str, bytes], per_map: bool) -> None:
    """One stage: title, what it does, all its maps as one image, its colour legend."""
    from explorer.features import STAGE_BY_NAME, stage_limits

    stage = STAGE_BY_NAME[name]
    arr = acts.stages[name]
    st.markdown(f"**{stage.title}**  \n{'×'.join(map(str, arr.shape))}")
    st.image(pictures[name], width="stretch", output_format="PNG")
    lo, hi = stage_limits(arr, stage.kind)
    legend(stage.kind, lo, hi, per_map and arr.ndim == 3)
    st.caption(stage.explanation)


def class_bars(values: list[tuple[str, float]], highlight: str, title: str, fmt: str) -> Any:
    """Horizontal bars, first item on top, ``highlight`` in the accent colour."""
    import plotly.graph_objects as go

    names = [n for n, _ in values]
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in values],
            y=names,
            orientation="h",
            marker_color=["#d62728" if n == highlight else "#9aa5b1" for n in names],
            text=[format(v, fmt) for _, v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:.6g}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    if fmt.endswith("%"):
        fig.update_xaxes(tickformat=".0%")
    fig.update_layout(
        title=title, height=40 + 26 * len(values), margin={"l": 10, "r": 10, "t": 36, "b": 10}
    )
    return fig


def show_map_detail(ctx: NetworkContext, acts: Activations) -> None:
    """Pick one map (``fm_layer``, ``fm_map``): enlarged with hover values, its statistics and
    the filter that made it."""
    import pandas as pd

    from explorer import render
    from explorer.features import (
        CONV_OF_STAGE,
        SPATIAL_STAGES,
        STAGE_BY_NAME,
        biases,
        filter_grid,
        filters,
        map_statistics,
        stage_cmap,
        stage_limits,
    )

    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", SPATIAL_STAGES, key="fm_layer",
                         format_func=lambda n: STAGE_BY_NAME[n].title)  # fmt: skip
    arr = acts.stages[layer]
    if st.session_state["fm_map"] >= len(arr):
        st.session_state["fm_map"] = 0
    index = c2.number_input(f"Map (0–{len(arr) - 1})", 0, len(arr) - 1, key="fm_map")
    stage = STAGE_BY_NAME[layer]
    per_map = st.session_state["fm_scale"] != NET_DEFAULTS["fm_scale"]
    lo, hi = (None, None) if per_map else stage_limits(arr, stage.kind)
    left, right = st.columns([3, 2])
    with left:
        title = f"{layer}, map {index} ({arr.shape[1]}×{arr.shape[2]})"
        fig = render.heatmap_figure(arr[index], stage_cmap(stage.kind), title, layer, lo, hi)
        st.plotly_chart(fig, width="stretch", key="fm_heatmap")
        stats = map_statistics(arr[index])
        st.markdown(
            " · ".join(
                f"{k.replace('_', ' ')} **{v:.1%}**" if k == "fraction_zero" else f"{k} **{v:.4g}**"
                for k, v in stats.items()
            )
        )
    with right:
        conv = CONV_OF_STAGE[layer]
        w = filters(ctx.cpu_model, conv)[index]
        bias = float(biases(ctx.cpu_model, conv)[index])
        st.markdown(
            f"**The filter that made it: {conv} filter {index}** — {w.shape[0]} slices of 3×3, "
            f"one per input channel, plus a bias of {bias:.4g}."
        )
        if layer != conv:
            st.caption(f"{layer} is computed from {conv}'s map {index}, so this is its filter.")
        if conv == "conv1":
            fig = kernel_figure([(f"{c} channel", k) for c, k in zip("RGB", w, strict=True)])
            st.plotly_chart(fig, width="stretch", key="fm_filter_fig")
        else:
            grid, bound = filter_grid(w)
            st.image(render.png_bytes(grid), width="stretch", output_format="PNG")
            st.caption(
                f"One 3×3 square per input channel (channel 0 top left, 8 a row); "
                f"blue −{bound:.3g} · white 0 · red {bound:.3g}"
            )
            with st.expander("The numbers"):
                numbers = pd.DataFrame(
                    w.reshape(len(w), 9),
                    columns=[f"({r},{c})" for r in range(3) for c in range(3)],
                ).rename_axis("input channel")
                st.dataframe(numbers.round(4), width="stretch")


def kernel_figure(kernels: list[tuple[str, np.ndarray]], height: int = 250) -> Any:
    """3×3 kernels side by side as blue–red heatmaps with every weight written in its cell,
    all on one colour range symmetric about 0."""
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    bound = max(float(np.abs(k).max()) for _, k in kernels) or 1.0
    fig = make_subplots(1, len(kernels), subplot_titles=[t for t, _ in kernels],
                        horizontal_spacing=0.04)  # fmt: skip
    for i, (_, k) in enumerate(kernels, start=1):
        fig.add_trace(
            go.Heatmap(
                z=k, zmin=-bound, zmax=bound, colorscale="RdBu_r", showscale=False,
                texttemplate="%{z:.3f}", textfont={"size": 12},
                hovertemplate="row %{y}, col %{x}: %{z:.6g}<extra></extra>",
            ),
            1, i,
        )  # fmt: skip
        fig.update_yaxes(
            autorange="reversed", scaleanchor=f"x{i}", showticklabels=False, row=1, col=i
        )
        fig.update_xaxes(showticklabels=False, row=1, col=i)
    fig.update_xaxes(showgrid=False, zeroline=False)
    fig.update_yaxes(showgrid=False, zeroline=False)
    fig.update_layout(height=height, margin={"l": 5, "r": 5, "t": 30, "b": 5}, plot_bgcolor="white")
    return fig


def playground_sender(ctx: NetworkContext) -> None:
    """Choose a conv1 filter and a channel; the button opens it in the playground."""
    import numpy as np

    from explorer.features import playground_kernel

    c1, c2 = st.columns(2)
    index = c1.number_input("conv1 filter", 0, 31, key="fm_pg_filter")
    channel = c2.radio("Channel", ["R", "G", "B", "sum"], key="fm_pg_channel", horizontal=True,
                       format_func=lambda c: "R+G+B" if c == "sum" else c)  # fmt: skip
    kernel = playground_kernel(ctx.cpu_model, index, channel)
    fig = kernel_figure([(kernel["name"], np.asarray(kernel["values"]))], height=230)
    st.plotly_chart(fig, key="fm_pg_fig")
    if st.button("Use this filter in the playground", key="fm_pg_send", icon=":material/send:"):
        st.session_state["conv_incoming_kernel"] = kernel
        st.switch_page("pages/convolution.py")


# ============================================================================================
# The convolution player: a st.components.v2 component (inline HTML/CSS/JS from
# explorer/components) that animates a window trace in the browser, without reruns.

from explorer.components import PLAYER_CSS, PLAYER_HTML, PLAYER_JS  # noqa: E402
from explorer.player import player_payload  # noqa: E402

if TYPE_CHECKING:
    from explorer.convolution import WindowTrace

# Registered once, at import: registering per call would re-register on every rerun.
_conv_player_component = st.components.v2.component(
    "cnn_explorer.conv_player", html=PLAYER_HTML, css=PLAYER_CSS, js=PLAYER_JS
)


def conv_player(trace: WindowTrace, key: str, height: int | None = None) -> int | None:
    """Mount the window-by-window player for ``trace``; return the position (windows done,
    0…N) the browser last reported — on pause, step, scrub or jump, never while playing — or
    None before it has reported one.

    ``key`` keeps the player's state across reruns; ``height`` fixes its height in pixels
    (default: as tall as its content). Raises PlayerError (a UserError) for traces too large
    to animate.
    """
    state = st.session_state.get(key)
    last = state.get("position") if state is not None else None
    # A freshly mounted player (after the page was left and reopened) opens where it stopped;
    # the browser ignores `start` when only it changed, so reporting does not restart it.
    payload = player_payload(trace, start=last or 0)
    result = _conv_player_component(
        key=key,
        data=payload,
        default={"position": last},
        on_position_change=lambda: None,
        height=height if height is not None else "content",
    )
    position = result.get("position")
    return int(position) if position is not None else None


# ============================================================================================
# The convolution playground (pages/convolution.py): its cached steps. Each takes plain arrays
# and numbers, so a rerun that changes nothing recomputes nothing. Pictures are H×W×3 uint8,
# planes H×W float64; "full" means the whole image (at most PLAYGROUND_MAX_SIDE a side).

if TYPE_CHECKING:
    from explorer.convolution import ConvSettings

PLAYGROUND_MAX_SIDE = 1024  # larger uploads are shrunk: a 1024² result is already 1 M numbers


@dataclass(frozen=True)
class ConvPicture:
    """The playground's input, ready to convolve."""

    full: np.ndarray  # H×W float64: the plane the result uses (gray, or the chosen channel)
    channels: np.ndarray  # C×H×W float64: every channel (C = 3 for colour, 1 for gray)
    working: np.ndarray  # h×w float64 whole numbers: `full` shrunk for the animation
    is_colour: bool  # the channels differ somewhere (a gray picture stored as RGB does not)
    original_shape: tuple[int, int]  # before shrinking to PLAYGROUND_MAX_SIDE
    capped: bool  # True when it was shrunk

    @property
    def shape_text(self) -> str:
        return "×".join(str(n) for n in self.full.shape)

    @property
    def original_text(self) -> str:
        return "×".join(str(n) for n in self.original_shape)


@st.cache_data(max_entries=8, show_spinner="Reading the image…")
def conv_decode_upload(data: bytes) -> np.ndarray:
    """Uploaded bytes → H×W×3 uint8 (ImageError for anything that is not a usable image)."""
    from explorer.images import decode_image

    return decode_image(data)


@st.cache_data(max_entries=32, show_spinner=False)
def conv_sample(key: str) -> np.ndarray:
    """A sample: its exact H×W float64 values for matrix-like samples, else H×W×3 uint8."""
    from explorer.images import load_sample, sample_matrix

    matrix = sample_matrix(key)
    return matrix if matrix is not None else load_sample(key)


@st.cache_data(max_entries=16, show_spinner=False)
def conv_prepare(source: np.ndarray, colour: str, working_side: int) -> ConvPicture:
    """A source (H×W values or H×W×3 uint8) → the planes the playground convolves.

    ``colour`` ("gray", "r", "g", "b") picks the plane of a colour picture (ignored for gray
    ones). The working plane keeps the aspect ratio, is never enlarged, and is rounded to
    whole numbers so the animation's cells show what a student can add up by hand.
    """
    import numpy as np

    from explorer.images import resize_max_side, to_grayscale

    source = np.asarray(source)
    original = source.shape[:2]
    source = resize_max_side(source, PLAYGROUND_MAX_SIDE)
    if source.ndim == 2:
        full = source.astype(np.float64)
        channels, is_colour = full[None], False
    else:
        channels = np.moveaxis(source, 2, 0).astype(np.float64)  # H×W×3 → 3×H×W
        is_colour = bool((channels[0] != channels[1]).any() or (channels[1] != channels[2]).any())
        index = {"r": 0, "g": 1, "b": 2}.get(colour)
        full = channels[index].copy() if is_colour and index is not None else to_grayscale(source)
        if not is_colour:
            channels = full[None]
    working = full
    if max(full.shape) > working_side:
        working = np.rint(resize_max_side(full, working_side))
    for array in (full, channels, working):
        array.setflags(write=False)
    return ConvPicture(full, channels, working, is_colour, original, original != full.shape)


@st.cache_resource(max_entries=16, show_spinner=False)
def conv_trace(working: np.ndarray, kernel: np.ndarray, settings: ConvSettings) -> WindowTrace:
    """The window trace the player animates. A cache *resource*: traces are read-only, so
    every session can share one instead of copying megabytes on each rerun."""
    from explorer.convolution import window_trace

    return window_trace(working, kernel, settings)


@st.cache_data(max_entries=16, show_spinner=False)
def conv_result(
    image: np.ndarray, kernel: np.ndarray, settings: ConvSettings, channels: str
) -> np.ndarray:
    """``conv2d`` on the full image: H×W or C×H×W in, H'×W' (or C×H'×W') out."""
    from explorer.convolution import conv2d

    return conv2d(image, kernel, settings, channels)


@st.cache_data(max_entries=16, show_spinner="Checking against PyTorch…")
def conv_torch_difference(
    image: np.ndarray, kernel: np.ndarray, settings: ConvSettings, channels: str
) -> float:
    """The largest |ours − torch.nn.functional.conv2d| (imports torch on the first call)."""
    from explorer.reference import max_abs_difference

    return max_abs_difference(image, kernel, settings, channels, ours=conv_result(
        image, kernel, settings, channels))  # fmt: skip


@st.cache_data(max_entries=16, show_spinner=False)
def conv_colour_picture(result: np.ndarray) -> np.ndarray:
    """A per-channel result (C×H'×W') → H'×W'×3 uint8 picture, values clipped to 0..255."""
    import numpy as np

    picture = np.clip(np.rint(np.moveaxis(result, 0, -1)), 0, 255).astype(np.uint8)
    return picture if picture.shape[2] == 3 else np.repeat(picture[:, :, :1], 3, axis=2)


@st.cache_data(max_entries=16, show_spinner=False)
def conv_result_png(result: np.ndarray) -> bytes:
    """A result as PNG bytes: a colour picture for C×H×W, the diverging map for H×W."""
    from explorer.render import colourise, png_bytes

    picture = conv_colour_picture(result) if result.ndim == 3 else colourise(result, "diverging")
    return png_bytes(picture)


@st.cache_data(max_entries=64, show_spinner=False)
def conv_grid_html(values: np.ndarray, cmap: str, cell_px: int = 44) -> str:
    """A small matrix as an HTML table: each cell coloured by its value (``render.colourise``)
    with the number written in it (as the player writes numbers), dark text on light cells."""
    import html

    from explorer.player import format_value
    from explorer.render import colourise

    colours = colourise(values, cmap)
    font = max(9, min(15, cell_px // 3))
    rows = []
    for r in range(values.shape[0]):
        cells = []
        for c in range(values.shape[1]):
            red, green, blue = (int(v) for v in colours[r, c])
            ink = "#111" if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else "#fff"
            cells.append(
                f'<td style="background:rgb({red},{green},{blue});color:{ink};'
                f"width:{cell_px}px;height:{cell_px}px;min-width:{cell_px}px;padding:0;"
                f'text-align:center;font-size:{font}px;border:1px solid #ddd">'
                f"{html.escape(format_value(values[r, c]))}</td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<table style="border-collapse:collapse;margin:0 0 0.5rem 0;font-variant-numeric:'
        f'tabular-nums">{"".join(rows)}</table>'
    )


@st.cache_data(max_entries=64, show_spinner=False)
def conv_colour_bar_html(values: np.ndarray, width_px: int = 320) -> str:
    """The diverging colour bar for ``values`` as HTML: its low end, a gradient, its high end
    (symmetric about 0, so white is always 0), and what the colours mean."""
    import html

    from explorer.player import format_value
    from explorer.render import _ANCHORS, value_range

    lo, hi = value_range(values, "diverging")
    stops = ", ".join(f"rgb({r},{g},{b})" for r, g, b in _ANCHORS["diverging"])
    label = 'style="font-variant-numeric:tabular-nums;font-size:0.85rem"'
    return (
        '<div style="display:flex;align-items:center;gap:0.5rem;margin:0.25rem 0 0.5rem 0">'
        f"<span {label}>{html.escape(format_value(lo))}</span>"
        f'<span style="display:inline-block;width:{width_px}px;height:14px;border:1px solid #ccc;'
        f'background:linear-gradient(to right, {stops})"></span>'
        f"<span {label}>{html.escape(format_value(hi))}</span>"
        '<span style="font-size:0.85rem;color:#666">blue = negative · white = 0 · '
        "red = positive</span></div>"
    )
