"""Convolution playground: an image and a kernel → the window-by-window animation → the full
result, checked live against PyTorch. The page reads top to bottom as on the screen; the set-up
is one PlaygroundState (explorer/playground_state.py), computation is in explorer/."""

from __future__ import annotations

import inspect

import numpy as np
import streamlit as st

from explorer.convolution import convolve2d
from explorer.export.titles import convolution_title
from explorer.kernels import KERNELS, kernel_sum_note
from explorer.numbers import parse_matrix
from explorer.playground import ConvPicture
from explorer.playground_state import PlaygroundState, result_cmap, result_planes
from explorer.samples import SAMPLES
from explorer.ui import path, player, widgets
from explorer.ui import playground as pg
from explorer.ui.canvas import drawing_canvas
from explorer.uploads import UPLOAD_EXTENSIONS, DecodedImage, canvas_is_blank, canvas_to_rgb


def image_source(state: PlaygroundState) -> np.ndarray | DecodedImage | None:
    """The chosen input: H×W numbers (a typed matrix) or an H×W×3 uint8 picture."""
    if state.source == "draw":
        brush = st.slider("Brush size", 4, 40, 18, key="conv_brush")
        drawing = widgets.guarded(lambda: drawing_canvas(stroke_width=brush, key="conv_canvas"))
        if canvas_is_blank(drawing):
            st.info(
                "Draw something on the black square: a digit, a line, a smiley.",
                icon=":material/draw:",
            )
            return None
        return widgets.guarded(lambda: canvas_to_rgb(drawing))
    if state.source == "upload":
        upload = st.file_uploader("An image file", type=UPLOAD_EXTENSIONS, key="conv_upload")
        if upload is None:
            st.info(
                "Upload a photo or a drawing (PNG, JPEG, WebP, BMP, GIF or TIFF).",
                icon=":material/upload:",
            )
            return None
        return widgets.guarded(lambda: pg.conv_decode_upload(upload.getvalue()))
    if state.source == "camera":
        photo = st.camera_input("Take a photo", key="conv_camera")
        if photo is None:
            st.info(
                "Allow the camera, then press Take Photo (the photo goes to this server only).",
                icon=":material/photo_camera:",
            )
            return None
        return widgets.guarded(lambda: pg.conv_decode_upload(photo.getvalue()))
    if state.source == "numbers":
        pg.matrix_text_area(
            "Numbers, one row per line",
            height=150,
            help="Separate the numbers with spaces or commas; at most 32×32.",
        )
        return widgets.guarded(lambda: parse_matrix(state.matrix_text))
    sample = pg.sample_picker()
    st.caption(SAMPLES[sample].description)
    return widgets.guarded(lambda: pg.conv_sample(sample))


def kernel_input(state: PlaygroundState) -> tuple[PlaygroundState, np.ndarray | None]:
    """A preset with its sentence, or the custom grid; the state with what was typed."""
    pg.choice(st.selectbox, "preset", "Kernel")
    if state.preset in KERNELS:
        st.caption(KERNELS[state.preset].description)
        return state, state.kernel()
    origin = f"Kernel from: {state.kernel_origin}. " if state.kernel_origin else ""
    st.caption(origin + "Type into any cell; fractions such as 1/9 work.")
    state = pg.kernel_editor()
    return state, widgets.guarded(state.kernel)


def kernel_title(state: PlaygroundState) -> str:
    """A slide's title: the operation, the kernel (a custom one says where it came from),
    padding with its mode, stride and dilation (explorer/export/titles.py)."""
    name = KERNELS[state.preset].name if state.preset in KERNELS else "Custom kernel"
    if state.preset not in KERNELS and state.kernel_origin:
        name = f"Custom kernel from {state.kernel_origin}"
    return convolution_title(name, state.kernel_shape, state.settings)


def show_result(picture: ConvPicture, kernel: np.ndarray, state: PlaygroundState) -> None:
    if picture.is_colour:
        pg.choice(st.radio, "result_mode", "Apply the kernel to", horizontal=True)
    image, channels = result_planes(picture, state.result_mode)
    result = widgets.guarded(lambda: pg.conv_result(image, kernel, state.settings, channels))
    if result is not None:
        cmap = result_cmap(state.result_colours, kernel)
        pg.result_view(picture, result, channels, cmap)
        if channels != "per_channel":
            pg.choice(st.radio, "result_colours", "Colours of the result")
        pg.torch_check_view(pg.conv_torch_check(image, kernel, state.settings, channels))
        pg.downloads(result, kernel, cmap, kernel_title(state))


# ----------------------------------------------------------------------------- the page

SECTIONS = {
    "image": "1 · The image",
    "kernel": "2 · The kernel",
    "settings": "3 · How it slides",
    "result": "5 · The result",
    "share": "Share this set-up",
}

widgets.use_app_navigation()
state = pg.state()
show = widgets.presenter("convolution", SECTIONS)
widgets.page_header(
    "Convolution playground",
    "A **convolution** slides a small grid of numbers, the **kernel**, over an image. At each "
    "position it multiplies the pixels under the kernel by the kernel's numbers and adds the "
    "products up: that sum is one pixel of the result. Pick an image and a kernel, then press ▶ "
    f"in the player to watch it happen, window by window, on a copy of at most {state.res}×"
    f"{state.res} pixels (quick to play); the result at the end uses the whole image.",
    presenting=show.on,
)
for warning in pg.link_warnings():
    widgets.warning(warning, icon=":material/link:")
player_place = st.container()  # presenting: the player first, above everything else

# A drawing, an upload or a photo needs its widgets, so that section always shows for them.
NEEDS_WIDGETS = ("draw", "upload", "camera")
if show.shows("image") or state.source in NEEDS_WIDGETS:
    st.header(SECTIONS["image"])
    left, right = st.columns([3, 2], gap="large")
    with left:
        pg.choice(st.segmented_control, "source", "Where the image comes from", required=True)
        source = image_source(state)
else:
    source = widgets.guarded(lambda: pg.source_from_state(state))
picture = None
if source is not None:
    picture = widgets.guarded(lambda: pg.prepare(source, state.colour, state.res))
if show.shows("image") or state.source in NEEDS_WIDGETS:
    with right:
        if picture is not None and picture.is_colour:
            pg.choice(st.radio, "colour", "Colour plane to convolve", horizontal=True)
        if picture is not None:
            pg.picture_view(picture)

if show.shows("kernel"):
    st.header(SECTIONS["kernel"])
    left, right = st.columns([3, 2], gap="large")
    with left:
        state, kernel = kernel_input(state)
    with right:
        if kernel is not None:
            st.markdown(widgets.grid_html(kernel, "diverging"), unsafe_allow_html=True)
            st.caption(f"The {kernel.shape[1]}×{kernel.shape[0]} kernel. {kernel_sum_note(kernel)}")
else:
    kernel = widgets.guarded(state.kernel)

ready = picture is not None and kernel is not None
if show.shows("settings"):
    st.header(SECTIONS["settings"])
    pg.settings_controls()
    if ready:
        pg.output_size_view(picture.working.shape, kernel.shape, state.settings)

trace = None
if ready:
    trace = widgets.guarded(lambda: pg.conv_trace(picture.working, kernel, state.settings))
with player_place if show.on else st.container():
    if not show.on:
        st.header("4 · Watch it slide")
    if trace is None:
        st.info("The animation appears once the image, the kernel and the settings fit together.")
    else:
        widgets.guarded(lambda: player.conv_player(trace, key="conv_player", presenter=show.on))
        with st.expander("The code: a convolution is two loops"):
            st.code(inspect.getsource(convolve2d), language="python")
            st.markdown(
                "The general version pads `image` first, moves the window `stride` cells at "
                "a time, takes every `dilation`-th pixel inside it, and for a true "
                "convolution flips `kernel`."
            )
            pg.code_view(state, picture)
        pg.animation_download(picture.working, kernel, state.settings)

if show.shows("result"):
    st.header(SECTIONS["result"])
    if trace is not None:
        show_result(picture, kernel, state)
    else:
        st.info("The result appears here once the animation above can run.")

params = pg.keep_address(state, show.query())
if show.shows("share"):
    st.header(":material/link: " + SECTIONS["share"])
    pg.share_view(params, kernel is not None)
path.page_end(__file__)
widgets.presenter_controls("convolution", SECTIONS, show)
