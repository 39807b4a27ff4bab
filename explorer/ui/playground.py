"""The convolution playground's cached steps. Each takes plain arrays and numbers, so a rerun
that changes nothing recomputes nothing, and every session shares one result per content.
Pictures are H×W×3 uint8, planes H×W float64."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from explorer import render
from explorer.convolution import (
    ChannelMode,
    ConvSettings,
    WindowTrace,
    conv2d,
    output_size_steps,
    window_trace,
)
from explorer.export.animation import animation_gif
from explorer.export.code import CODE_FILE_NAME, INPUT_FILE_NAME, code_input_png, playground_code
from explorer.export.slides import result_slide_png
from explorer.numbers import display_value, parse_matrix
from explorer.playground import PLAYGROUND_MAX_SIDE, ConvPicture, prepare_picture
from explorer.playground_state import CHOICES, PlaygroundState, shown_cells, with_edits
from explorer.reference import TorchCheck, check_against_torch
from explorer.samples import SAMPLES, load_sample, sample_matrix
from explorer.share import kernel_cells, link, result_csv
from explorer.thumbnail_sheet import ThumbnailSheet, numbers_tile, square_thumbnail, thumbnail_sheet
from explorer.ui import widgets
from explorer.ui.state import Bound
from explorer.ui.thumbnails import Thumbnail, thumbnail_grid
from explorer.uploads import DecodedImage, decode_upload

ss = st.session_state
STATE_KEY = "conv_state"  # the session's PlaygroundState: the one place the set-up lives
EDITOR_BASE_KEY = "conv_editor_base"  # the cells the custom-kernel editor was mounted with
SIZE_KEYS = ("conv_rows", "conv_cols")  # the custom kernel's size pickers


# ============================================================================================
# The state and the widgets bound to it. A widget's key holds its value only while it is on
# the screen (Streamlit drops it on other pages); the state holds it for the session. So each
# widget starts from the state, and its change callback writes the state back.


def _kernel_changed(old: PlaygroundState, new: PlaygroundState) -> None:
    if new.custom_cells != old.custom_cells:  # a new kernel: a fresh editor shows it
        for key in (EDITOR_BASE_KEY, *SIZE_KEYS):
            ss.pop(key, None)


PLAYGROUND: Bound[PlaygroundState] = Bound(
    STATE_KEY, "conv_", PlaygroundState, CHOICES, on_put=_kernel_changed
)


def state() -> PlaygroundState:
    """The session's set-up: on its first visit the link's, afterwards what the user chose."""
    if STATE_KEY not in ss:
        new, warnings = PlaygroundState.from_query(st.query_params.to_dict())
        ss[STATE_KEY] = new
        PLAYGROUND.warn(warnings)
    return PLAYGROUND.get()


def link_warnings() -> list[str]:
    """What the link asked for that could not be used: shown from the first visit until the
    student changes the set-up (reruns that change nothing, like the player reporting its
    position, keep them on the screen)."""
    return PLAYGROUND.warnings()


def adopt(new: PlaygroundState) -> None:
    """Make ``new`` the set-up, arriving from elsewhere (another page, a size change): the
    bound widgets follow the state; the text area and the editor are created afresh."""
    for key in ("conv_matrix_text", *SIZE_KEYS, EDITOR_BASE_KEY):
        ss.pop(key, None)
    state()
    PLAYGROUND.put(new)


def _change(new: PlaygroundState) -> None:
    PLAYGROUND.put(new)


def choice(widget: Callable[..., Any], name: str, label: str, **kwargs: Any) -> Any:
    """``widget`` (st.selectbox, st.radio, st.select_slider, st.segmented_control, …) for the
    closed choice ``name``, with its options and labels from the registry, bound to the state
    (the binder every page's state object uses: explorer.ui.state)."""
    state()
    return PLAYGROUND.choice(widget, name, label, **kwargs)


SAMPLE_TILE_PX = 80


@st.cache_data(max_entries=1, show_spinner=False)
def sample_sheet() -> ThumbnailSheet:
    """Every sample as an 80×80 thumbnail, in the registry's order, on one sheet (made once for
    the whole server): small matrices as their numbers, pictures fitted to the tile."""
    tiles = []
    for key in SAMPLES:
        matrix = sample_matrix(key)
        if matrix is not None and max(matrix.shape) <= 8:
            tiles.append(numbers_tile(matrix, SAMPLE_TILE_PX))
        else:
            tiles.append(square_thumbnail(load_sample(key), SAMPLE_TILE_PX))
    return thumbnail_sheet(tiles)


def sample_picker() -> str:
    """The samples as pictures with their names, bound to the state: clicking one makes it the
    input. Returns the chosen sample's key."""
    items = [Thumbnail(key, sample.name, sample.name) for key, sample in SAMPLES.items()]

    def pick(key: str) -> None:
        _change(PLAYGROUND.get().choose("sample", key))

    thumbnail_grid(
        sample_sheet(),
        items,
        state().sample,
        pick,
        key="conv_sample_grid",
        label="Sample",
        tile_px=SAMPLE_TILE_PX,
        crisp=False,
    )
    return state().sample


def matrix_text_area(label: str, **kwargs: Any) -> str:
    """The typed-numbers input, bound to the state."""
    ss.setdefault("conv_matrix_text", state().matrix_text)

    def on_change() -> None:
        _change(ss[STATE_KEY].with_matrix(ss["conv_matrix_text"]))

    return st.text_area(label, key="conv_matrix_text", on_change=on_change, **kwargs)


def kernel_editor() -> PlaygroundState:
    """The custom kernel: its size, then a grid to type into. Returns the state with what is
    typed. The grid is mounted once per kernel that arrives from outside it, so the typing
    itself never remounts it (the cursor stays where the student is)."""
    current = state()
    rows, cols = current.kernel_shape
    ss.setdefault("conv_rows", rows)
    ss.setdefault("conv_cols", cols)

    def on_resize() -> None:
        _change(ss[STATE_KEY].resized(ss["conv_rows"], ss["conv_cols"]))

    size = st.columns(2)
    size[0].selectbox("Rows", range(1, 8), key="conv_rows", on_change=on_resize)
    size[1].selectbox("Columns", range(1, 8), key="conv_cols", on_change=on_resize)
    base = ss.get(EDITOR_BASE_KEY, current.custom_cells)
    key = editor_key(base)
    if key in ss and not edits_fit_grid(ss[key], len(base), len(base[0])):
        # A browser sent edits this grid cannot take (Streamlit would apply them and fail, or
        # return a grid of another shape): drop them, and the grid mounts afresh.
        del ss[key]
    if key not in ss:  # a fresh mount (first time, the page reopened, or edits dropped)
        base = current.custom_cells
        key = editor_key(base)
    ss[EDITOR_BASE_KEY] = base
    shown = shown_cells(base)  # a learned filter's long decimals, rounded for reading
    frame = pd.DataFrame([list(row) for row in shown], dtype="string")
    frame.columns = _editor_columns(frame.shape[1])
    edited = st.data_editor(frame, key=key, hide_index=True)
    typed = tuple(
        tuple("" if pd.isna(v) else str(v) for v in row) for row in edited.itertuples(index=False)
    )
    cells = with_edits(base, shown, typed)  # untouched cells keep their exact values
    if cells != current.custom_cells:  # typed into: no longer the kernel it came from
        current = current.with_kernel(cells)
        ss[STATE_KEY] = current  # not _change: the mounted grid already shows these cells
        ss.pop("conv_link_warnings", None)
    return current


def editor_key(cells: tuple[tuple[str, ...], ...]) -> str:
    """The custom-kernel grid's widget key when it is mounted with ``cells``: a new kernel from
    outside the grid mounts a new grid, the student's typing keeps the one mounted."""
    return "conv_editor_" + hashlib.sha256(repr(cells).encode()).hexdigest()[:16]


def _editor_columns(count: int) -> list[str]:
    return [str(c + 1) for c in range(count)]  # the columns are named 1, 2, … as on paper


def edits_fit_grid(edits: object, rows: int, cols: int) -> bool:
    """Does ``edits`` — a data editor's state as the browser sends it, ``{"edited_rows":
    {row: {column: text or None}}, "added_rows": [], "deleted_rows": []}`` — only change cells
    of the custom kernel's rows×cols grid? A browser can send any JSON in its place; the
    kernel's editor has a fixed size, so rows added or deleted, a row or column that is not
    the grid's, or a cell that is not text do not fit."""
    if not isinstance(edits, Mapping) or edits.get("added_rows") or edits.get("deleted_rows"):
        return False
    edited = edits.get("edited_rows", {})
    if not isinstance(edited, Mapping):
        return False
    columns = _editor_columns(cols)
    for row, changes in edited.items():
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < rows:
            return False
        if not isinstance(changes, Mapping):
            return False
        for column, text in changes.items():
            if column not in columns or not (text is None or isinstance(text, str)):
                return False
    return True


def send_kernel(values: np.ndarray | list[list[float]], origin: str) -> None:
    """Put a kernel from another page (a learned filter) into the playground as its custom
    kernel; the caller then switches to the playground."""
    adopt(ss.get(STATE_KEY, PlaygroundState()).with_kernel(kernel_cells(values), origin=origin))


def keep_address(current: PlaygroundState, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Keep the address bar's query in step with the set-up (and ``extra`` flags, such as
    presenter mode's), so the address *is* the link."""
    params = {**current.to_query(), **(extra or {})}
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    return params


# ============================================================================================
# Cached steps


@st.cache_data(max_entries=8, show_spinner="Reading the image…")
def conv_decode_upload(data: bytes) -> DecodedImage:
    """Uploaded bytes → the picture (H×W×3 uint8), shrunk while decoding to the playground's
    largest side, with its original size (ImageError for anything that is not a usable image)."""
    return decode_upload(data, max_side=PLAYGROUND_MAX_SIDE)


@st.cache_data(max_entries=32, show_spinner=False)
def conv_sample(key: str) -> np.ndarray:
    """A sample: its exact H×W float64 values for matrix-like samples, else H×W×3 uint8."""
    matrix = sample_matrix(key)
    return matrix if matrix is not None else load_sample(key)


@st.cache_data(max_entries=16, show_spinner=False)
def conv_prepare(
    source: np.ndarray,
    colour: str,
    working_side: int,
    original_size: tuple[int, int] | None = None,
) -> ConvPicture:
    """``playground.prepare_picture``, once per (source, colour, working side)."""
    return prepare_picture(source, colour, working_side, original_size)


def source_from_state(current: PlaygroundState) -> np.ndarray:
    """The input of a set-up that needs no widget (a sample or typed numbers): what the image
    section would give, for presenter mode when that section is hidden."""
    if current.source == "numbers":
        return parse_matrix(current.matrix_text)
    if current.source != "sample":
        raise ValueError(f"a {current.source} input needs its widgets")
    return conv_sample(current.sample)


def prepare(source: np.ndarray | DecodedImage, colour: str, working_side: int) -> ConvPicture:
    """The picture the playground convolves, from a source of any kind (an upload keeps its
    original size for the page to mention)."""
    if isinstance(source, DecodedImage):
        return conv_prepare(source.pixels, colour, working_side, source.original_size)
    return conv_prepare(source, colour, working_side)


@st.cache_resource(max_entries=16, show_spinner=False)
def conv_trace(working: np.ndarray, kernel: np.ndarray, settings: ConvSettings) -> WindowTrace:
    """The window trace the player animates. A cache *resource*: traces are read-only, so
    every session can share one instead of copying megabytes on each rerun."""
    return window_trace(working, kernel, settings)


@st.cache_data(max_entries=16, show_spinner=False)
def conv_result(
    image: np.ndarray, kernel: np.ndarray, settings: ConvSettings, channels: ChannelMode
) -> np.ndarray:
    """``conv2d`` on the full image: H×W or C×H×W in, H'×W' (or C×H'×W') out."""
    return conv2d(image, kernel, settings, channels)


@st.cache_data(max_entries=16, show_spinner="Checking against PyTorch…")
def conv_torch_check(
    image: np.ndarray, kernel: np.ndarray, settings: ConvSettings, channels: ChannelMode
) -> TorchCheck:
    """Our result against ``torch.nn.functional.conv2d`` (imports torch on the first call)."""
    ours = conv_result(image, kernel, settings, channels)
    return check_against_torch(image, kernel, settings, channels, ours)


@st.cache_data(max_entries=16, show_spinner=False)
def conv_colour_picture(result: np.ndarray) -> np.ndarray:
    """``render.channels_picture``: a per-channel result → H'×W'×3 uint8, cached."""
    return render.channels_picture(result)


@st.cache_data(max_entries=16, show_spinner=False)
def conv_result_png(result: np.ndarray) -> bytes:
    """``render.result_png``: a result as PNG bytes, cached."""
    return render.result_png(result)


@st.cache_data(max_entries=64, show_spinner=False)
def conv_colour_bar_html(
    values: np.ndarray, width_px: int = 320, cmap: render.ColourMap = "diverging"
) -> str:
    """``render.colour_bar_html``: the colour bar of ``values``, cached."""
    return render.colour_bar_html(values, width_px, cmap)


# ============================================================================================
# Views of the playground's pieces


def settings_controls() -> None:
    """Padding, its mode, stride, dilation, the animation's size and the flip."""
    cols = st.columns(5)
    with cols[0]:
        choice(
            st.select_slider,
            "padding",
            "Padding",
            help="Cells added around the image, so windows can also sit on its border.",
        )
    with cols[1]:
        choice(st.selectbox, "padding_mode", "Padding fills with", disabled=state().padding == 0)
    with cols[2]:
        choice(st.select_slider, "stride", "Stride", help="How far the window jumps each step.")
    with cols[3]:
        choice(
            st.select_slider,
            "dilation",
            "Dilation",
            help="Gaps between the kernel's taps: 2 spreads a 3×3 kernel over 5×5 pixels.",
        )
    with cols[4]:
        choice(
            st.select_slider,
            "res",
            "Animation size",
            help="The animation works on a copy at most this many pixels a side (smaller "
            "images keep their size). The result below always uses the full image.",
        )
    choice(st.radio, "flip", "Operation", horizontal=True)
    st.caption(
        "A true convolution rotates the kernel 180° before sliding it; deep-learning libraries "
        "skip the rotation (cross-correlation) and still call it convolution. Their kernels are "
        "learned, so which way round they are does not matter."
    )


def output_size_view(
    image_shape: tuple[int, int], kernel_shape: tuple[int, int], s: ConvSettings
) -> None:
    """The output-size formula worked out with the current numbers, per side."""
    (h, w), (kh, kw) = image_shape, kernel_shape
    st.markdown(
        f"**Output size** for the {w}×{h} animation image and the {kw}×{kh} kernel "
        "(n = image side, k = kernel side, p = padding, s = stride, d = dilation):"
    )
    sides = (
        [("Height and width", h, kh)]
        if (h, kh) == (w, kw)
        else [("Height", h, kh), ("Width", w, kw)]
    )
    for col, (side, n, k) in zip(st.columns(2), sides, strict=False):
        steps = output_size_steps(n, k, s.padding, s.stride, s.dilation)
        # Wrapped: the last line of a kernel that does not fit is a whole sentence.
        col.code(f"{side}: n = {n}, k = {k}\n" + "\n".join(steps), language=None, wrap_lines=True)


HEATMAP_MAX_CELLS = 128 * 128  # larger results are shown as a picture, one pixel per value


def picture_view(picture: ConvPicture) -> None:
    """The image as the convolution sees it: numbers in the cells when small, else a picture."""
    h, w = picture.working.shape
    st.markdown("**The image as the convolution sees it**")
    if max(h, w) <= 16:
        st.markdown(widgets.grid_html(picture.working, "gray", 36), unsafe_allow_html=True)
    else:
        # Clipped like the caption says (a typed matrix may hold values outside 0..255); a
        # plain uint8 cast would wrap -5 round to 251.
        gray = render.colourise(picture.working, "gray", vmin=0.0, vmax=255.0)
        st.image(
            render.enlarge_to(gray, 256),
            width=256,
            alt=f"The {w}×{h} image the convolution sees, in gray",
        )
    note = f"{w}×{h} numbers, 0 = black and 255 = white"
    if picture.working.shape != picture.full.shape:
        note += f"; shrunk for the animation from {picture.shape_text}"
    st.caption(note + ".")


def result_view(
    picture: ConvPicture, result: np.ndarray, channels: ChannelMode, cmap: render.ColourMap
) -> None:
    """The result's size and range, then the result itself (see :func:`heatmap_view`)."""
    height, width = result.shape[-2:]
    st.markdown(
        f"**{width}×{height} result** from the full {picture.shape_text} image: values from "
        f"**{display_value(result.min())}** to **{display_value(result.max())}**."
    )
    if picture.capped:
        st.caption(
            f"The upload was {picture.original_text} px; it was shrunk to "
            f"{PLAYGROUND_MAX_SIDE} px a side."
        )
    if channels == "per_channel":
        st.image(
            conv_colour_picture(result),
            width=min(512, max(256, result.shape[-1])),
            alt="The result, each colour channel filtered on its own",
        )
        st.caption(
            "Each channel filtered on its own and put back together as a colour picture; values "
            "below 0 or above 255 are clipped for display (the CSV has the exact numbers)."
        )
    else:
        heatmap_view(result, cmap)


def heatmap_view(result: np.ndarray, cmap: render.ColourMap = "diverging") -> None:
    """The result in its colours (``cmap``: diverging about 0, or gray on the picture's own
    0..255) with its colour bar: as a picture, one pixel per value (it re-renders fast, even at
    1024²), small ones with their numbers written in; on request as an interactive Plotly
    heatmap that shows each exact value on hover."""
    vmin, vmax = (0.0, 255.0) if cmap == "gray" else (None, None)
    if max(result.shape) <= 16:
        grid = widgets.grid_html(result, cmap, 40, vmin, vmax)
        st.markdown(grid, unsafe_allow_html=True)
    elif ss.get("conv_hover") and result.size <= HEATMAP_MAX_CELLS:
        height = min(560, 160 + 4 * max(result.shape))
        fig = render.heatmap_figure(
            result, cmap, colorbar_title="value", height=height, vmin=vmin, vmax=vmax
        )
        st.plotly_chart(fig, config={"displayModeBar": False}, key="conv_result_chart")
    else:
        factor = max(1, 320 // max(result.shape))  # whole-pixel enlargement keeps cells crisp
        st.image(
            render.enlarge(render.colourise(result, cmap, vmin, vmax), factor),
            width=min(640, factor * result.shape[1]),
            alt=f"The {result.shape[1]}×{result.shape[0]} result in colours (the bar below "
            "says what they mean; the CSV has every number)",
        )
    st.markdown(conv_colour_bar_html(result, 320, cmap), unsafe_allow_html=True)
    if max(result.shape) > 16:
        st.toggle(
            "Interactive heatmap: hover to read each value",
            key="conv_hover",
            disabled=result.size > HEATMAP_MAX_CELLS,
            help=f"For results up to {HEATMAP_MAX_CELLS:,} values; the CSV below has them all.",
        )


def torch_check_view(check: TorchCheck) -> None:
    """The live check against PyTorch: ✓ with the largest difference, or ✗ with it."""
    if check.agrees:
        st.success(
            "✓ Checked against PyTorch: `torch.nn.functional.conv2d` gives the same result "
            f"(largest difference {check.difference:.1e}).",
            icon=":material/verified:",
        )
    else:
        st.error(
            f"✗ PyTorch's conv2d differs from this result by up to {check.difference:.3g}.",
            icon=":material/error:",
        )


@st.cache_data(max_entries=16, show_spinner="Drawing the slide…")
def conv_result_slide(result: np.ndarray, cmap: render.ColourMap, title: str) -> bytes:
    """``export.slides.result_slide_png`` in the page's colours, cached."""
    vmin, vmax = (0.0, 255.0) if cmap == "gray" else (None, None)
    return result_slide_png(result, cmap, title, vmin=vmin, vmax=vmax)


@st.cache_data(max_entries=8, show_spinner="Making the animation…")
def conv_animation_gif(working: np.ndarray, kernel: np.ndarray, settings: ConvSettings) -> bytes:
    """``export.animation.animation_gif`` of the trace of (working, kernel, settings), cached."""
    return animation_gif(conv_trace(working, kernel, settings))


def animation_download(working: np.ndarray, kernel: np.ndarray, settings: ConvSettings) -> None:
    """The window sliding, as an animated GIF for a slide (made when clicked)."""
    st.download_button(
        "Animation as GIF",
        lambda: conv_animation_gif(working, kernel, settings),
        file_name="convolution.gif",
        mime="image/gif",
        on_click="ignore",
        icon=":material/animated_images:",
        key="conv_dl_gif",
    )


def code_view(current: PlaygroundState, picture: ConvPicture) -> None:
    """This very set-up as a short NumPy + PyTorch script that recomputes the result, with
    the input picture to run it on when the numbers cannot be written into it."""
    code = widgets.guarded(lambda: playground_code(current, picture))
    if code is None:
        return
    st.markdown("**This set-up as code**: NumPy and PyTorch, recomputing the result below.")
    st.code(code, language="python")
    cols = st.columns(2)
    cols[0].download_button(
        "The code (.py)",
        code,
        file_name=CODE_FILE_NAME,
        mime="text/x-python",
        on_click="ignore",
        icon=":material/code:",
        key="conv_dl_code",
    )
    picture_png = code_input_png(current, picture)
    if picture_png is not None:
        cols[1].download_button(
            "The input picture (PNG)",
            picture_png,
            file_name=INPUT_FILE_NAME,
            mime="image/png",
            on_click="ignore",
            icon=":material/image:",
            key="conv_dl_input",
        )


def downloads(result: np.ndarray, kernel: np.ndarray, cmap: render.ColourMap, title: str) -> None:
    """The result as PNG (one pixel per value, and scaled up for a slide) and CSV, the kernel
    as CSV."""
    cols = st.columns(4)
    cols[3].download_button(
        "Result for a slide (PNG)",
        lambda: conv_result_slide(result, cmap, title),
        file_name="convolution_slide.png",
        mime="image/png",
        on_click="ignore",
        icon=":material/slideshow:",
        key="conv_dl_slide",
    )
    cols[0].download_button(
        "Result as PNG",
        lambda: conv_result_png(result),
        file_name="convolution.png",
        mime="image/png",
        on_click="ignore",
        icon=":material/image:",
        key="conv_dl_png",
    )
    cols[1].download_button(
        "Result as CSV",
        lambda: result_csv(result),
        help="Every number of the result, exact, one row per row of the output.",
        file_name="convolution.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/table:",
        key="conv_dl_csv",
    )
    cols[2].download_button(
        "Kernel as CSV",
        result_csv(kernel),
        file_name="kernel.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/table:",
        key="conv_dl_kernel",
    )


def share_view(params: dict[str, str], kernel_ok: bool) -> None:
    """The link to this set-up (the address bar holds it too)."""
    if not kernel_ok:
        st.caption("The link keeps the last working kernel until the one above is fixed.")
    st.markdown(
        "Your browser's address bar always holds this set-up: copy the address and share it, and "
        "the page opens with the same image choice, kernel and settings (a drawing, an upload or "
        "a photo does not travel in a link)."
    )
    st.code(link(st.context.url, params), language=None)
