"""Convolution playground: an image and a kernel → the window-by-window animation → the full
result, checked live against PyTorch. The sections run top to bottom as on the screen; all
computation is in explorer/ (cached through explorer.ui)."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import streamlit as st

from explorer import render, share, ui
from explorer.convolution import (
    PADDING_MODES,
    ConvSettings,
    convolve2d,
    output_size_steps,
)
from explorer.images import SAMPLES, UPLOAD_EXTENSIONS, canvas_is_blank, canvas_to_rgb, parse_matrix
from explorer.kernels import KERNELS, KernelError, kernel_sum_note, parse_kernel
from explorer.player import format_value
from explorer.playground import PLAYGROUND_MAX_SIDE, ConvPicture

SOURCES = {
    "sample": ":material/image: Sample",
    "draw": ":material/draw: Draw",
    "upload": ":material/upload: Upload",
    "numbers": ":material/pin: Numbers",
}
COLOURS = {"gray": "Grayscale", "r": "Red", "g": "Green", "b": "Blue"}
PRESETS = {**{k: v.name for k, v in KERNELS.items()}, share.CUSTOM: "✎ Custom: type your own"}
MODES = {"zeros": "zeros", "reflect": "reflect (mirror)", "replicate": "replicate (repeat edge)"}
FLIP = {False: "Cross-correlation (as PyTorch)", True: "True convolution (kernel flipped 180°)"}
RESULT_MODES = {
    "animated": "One plane, like the animation",
    "per_channel": "Each colour channel separately",
    "sum": "Summed over R, G, B (like Conv2d)",
}
HEATMAP_MAX_CELLS = 128 * 128  # larger results are shown as a picture, one pixel per value
ss = st.session_state


# ----------------------------------------------------------------------------- state


def init_state() -> None:
    """Every conv_ key in one place: a link's values on the session's first visit, what the
    user had before visiting another page, or the defaults; then a kernel sent by another page."""
    if "conv_link_read" not in ss:
        state, ss.conv_link_warnings = share.decode(st.query_params.to_dict())
        ss.conv_link_read = True
    else:
        state = {**share.DEFAULTS, **ss.get("conv_saved", {})}
    for key, value in {
        **state,
        "conv_brush": 18,
        "conv_canvas_n": 0,
        "conv_editor_n": 0,
        "conv_hover": False,
    }.items():
        ss.setdefault(key, value)
    incoming = ss.pop("conv_incoming_kernel", None)
    if incoming is not None:
        try:
            set_custom_kernel(share.kernel_cells(parse_kernel(incoming["values"])))
            ss.conv_preset, ss.conv_kernel_from = share.CUSTOM, str(incoming.get("name", "?"))
        except (KernelError, KeyError, TypeError) as exc:
            st.warning(f"The kernel sent from the other page could not be used: {exc}")
    ss.setdefault("conv_custom_rows", len(ss.conv_custom_cells))
    ss.setdefault("conv_custom_cols", len(ss.conv_custom_cells[0]))


def set_custom_kernel(cells: list[list[str]]) -> None:
    ss.conv_custom_cells = cells
    ss.conv_custom_rows, ss.conv_custom_cols = len(cells), len(cells[0])
    ss.conv_editor_n += 1  # a fresh editor shows the new cells


def current_cells() -> list[list[str]]:
    """The custom grid with the edits typed into the editor since it was mounted."""
    cells = [list(row) for row in ss.conv_custom_cells]
    edits = ss.get(f"conv_editor_{ss.conv_editor_n}", {}).get("edited_rows", {})
    for r, row in edits.items():
        for c, value in row.items():
            cells[int(r)][int(c)] = "" if value is None else str(value)
    return cells


def on_preset_change() -> None:
    if ss.conv_preset == share.CUSTOM and ss.get("conv_last_preset") in KERNELS:
        set_custom_kernel(share.kernel_cells(KERNELS[ss.conv_last_preset].values))
        ss.conv_kernel_from = KERNELS[ss.conv_last_preset].name


def on_custom_resize() -> None:
    """Keep the typed cells that still fit; new cells start at 0."""
    rows, cols, old = ss.conv_custom_rows, ss.conv_custom_cols, current_cells()
    cell = lambda r, c: old[r][c] if r < len(old) and c < len(old[0]) else "0"  # noqa: E731
    set_custom_kernel([[cell(r, c) for c in range(cols)] for r in range(rows)])


def on_cell_edit() -> None:
    set_custom_kernel(current_cells())


def clear_canvas() -> None:
    ss.conv_canvas_n += 1


# ----------------------------------------------------------------------------- 1. the image


def source_image() -> np.ndarray | None:
    """The chosen input: H×W float64 exact values (a matrix) or H×W×3 uint8 (a picture)."""
    if ss.conv_source == "draw":
        from streamlit_drawable_canvas import st_canvas

        st.slider("Brush size", 4, 40, key="conv_brush")
        drawing = st_canvas(
            stroke_width=ss.conv_brush,
            stroke_color="#ffffff",
            background_color="#000000",
            height=280,
            width=280,
            return_image_data=True,
            key=f"conv_canvas_{ss.conv_canvas_n}",
        )
        st.button("Clear the drawing", on_click=clear_canvas, icon=":material/ink_eraser:")
        if canvas_is_blank(drawing.image_data):
            st.info(
                "Draw something on the black square: a digit, a line, a smiley.",
                icon=":material/draw:",
            )
            return None
        return canvas_to_rgb(drawing.image_data)
    if ss.conv_source == "upload":
        upload = st.file_uploader("An image file", type=UPLOAD_EXTENSIONS, key="conv_upload")
        if upload is None:
            st.info(
                "Upload a photo or a drawing (PNG, JPEG, WebP, BMP, GIF or TIFF).",
                icon=":material/upload:",
            )
            return None
        return ui.guarded(lambda: ui.conv_decode_upload(upload.getvalue()))
    if ss.conv_source == "numbers":
        hint = "Separate the numbers with spaces or commas; at most 32×32."
        st.text_area("Numbers, one row per line", key="conv_matrix_text", height=150, help=hint)
        return ui.guarded(lambda: parse_matrix(ss.conv_matrix_text))
    st.selectbox("Sample", list(SAMPLES), format_func=lambda k: SAMPLES[k].name, key="conv_sample")
    st.caption(SAMPLES[ss.conv_sample].description)
    return ui.guarded(lambda: ui.conv_sample(ss.conv_sample))


def show_picture(picture: ConvPicture) -> None:
    h, w = picture.working.shape
    st.markdown("**The image as the convolution sees it**")
    if max(h, w) <= 16:
        st.markdown(ui.conv_grid_html(picture.working, "gray", 36), unsafe_allow_html=True)
    else:
        # Clipped like the caption says (a typed matrix may hold values outside 0..255); a
        # plain uint8 cast would wrap -5 round to 251.
        gray = render.colourise(picture.working, "gray", vmin=0.0, vmax=255.0)
        st.image(render.enlarge_to(gray, 256), width=256)
    note = f"{h}×{w} numbers, 0 = black and 255 = white"
    if picture.working.shape != picture.full.shape:
        note += f"; shrunk for the animation from {picture.shape_text}"
    st.caption(note + ".")


# ----------------------------------------------------------------------------- 2. the kernel


def kernel_input() -> np.ndarray | None:
    st.selectbox(
        "Kernel", list(PRESETS), format_func=PRESETS.get, key="conv_preset",
        on_change=on_preset_change,
    )  # fmt: skip
    ss.conv_last_preset = ss.conv_preset
    if ss.conv_preset != share.CUSTOM:
        st.caption(KERNELS[ss.conv_preset].description)
        return KERNELS[ss.conv_preset].values
    origin = f"Kernel from: {ss.conv_kernel_from}. " if ss.get("conv_kernel_from") else ""
    st.caption(origin + "Type into any cell; fractions such as 1/9 work.")
    size = st.columns(2)
    size[0].selectbox("Rows", range(1, 8), key="conv_custom_rows", on_change=on_custom_resize)
    size[1].selectbox("Columns", range(1, 8), key="conv_custom_cols", on_change=on_custom_resize)
    cells = pd.DataFrame(ss.conv_custom_cells, dtype="string")
    cells.columns = [str(c + 1) for c in range(cells.shape[1])]
    st.data_editor(
        cells, key=f"conv_editor_{ss.conv_editor_n}", on_change=on_cell_edit, hide_index=True
    )
    return ui.guarded(lambda: parse_kernel(current_cells()))


# ----------------------------------------------------------------------------- 3. settings


def settings_input() -> ConvSettings:
    cols = st.columns(5)
    cols[0].select_slider(
        "Padding", [0, 1, 2, 3], key="conv_padding",
        help="Cells added around the image, so windows can also sit on its border.",
    )  # fmt: skip
    cols[1].selectbox(
        "Padding fills with", PADDING_MODES, format_func=MODES.get, key="conv_padding_mode",
        disabled=ss.conv_padding == 0,
    )  # fmt: skip
    cols[2].select_slider(
        "Stride", [1, 2, 3], key="conv_stride", help="How far the window jumps at each step."
    )
    cols[3].select_slider(
        "Dilation", [1, 2, 3], key="conv_dilation",
        help="Gaps between the kernel's taps: 2 spreads a 3×3 kernel over 5×5 pixels.",
    )  # fmt: skip
    cols[4].select_slider(
        "Animation size", share.RESOLUTIONS, key="conv_res", format_func=lambda n: f"≤ {n} px",
        help="The animation works on a copy at most this many pixels a side (smaller images "
        "keep their size). The result below always uses the full image.",
    )  # fmt: skip
    st.radio("Operation", list(FLIP), format_func=FLIP.get, key="conv_flip", horizontal=True)
    st.caption(
        "A true convolution rotates the kernel 180° before sliding it; deep-learning libraries "
        "skip the rotation (cross-correlation) and still call it convolution. Their kernels are "
        "learned, so which way round they are does not matter."
    )
    return ConvSettings(
        ss.conv_padding, ss.conv_padding_mode, ss.conv_stride, ss.conv_dilation, ss.conv_flip
    )


def show_output_size(picture: ConvPicture, kernel: np.ndarray, s: ConvSettings) -> None:
    (h, w), (kh, kw) = picture.working.shape, kernel.shape
    st.markdown(
        f"**Output size** for the {h}×{w} animation image and the {kh}×{kw} kernel "
        "(n = image side, k = kernel side, p = padding, s = stride, d = dilation):"
    )
    sides = [("Height", h, kh), ("Width", w, kw)]
    if (h, kh) == (w, kw):  # a square image and kernel: one calculation says it all
        sides = [("Height and width", h, kh)]
    for col, (side, n, k) in zip(st.columns(2), sides, strict=False):
        steps = output_size_steps(n, k, s.padding, s.stride, s.dilation)
        col.code(f"{side}: n = {n}, k = {k}\n" + "\n".join(steps), language=None)


# ----------------------------------------------------------------------------- 5. the result


def show_result(picture: ConvPicture, kernel: np.ndarray, s: ConvSettings) -> None:
    mode = ss.conv_result_mode if picture.is_colour else "animated"
    if picture.is_colour:
        st.radio(
            "Apply the kernel to", list(RESULT_MODES), format_func=RESULT_MODES.get,
            key="conv_result_mode", horizontal=True,
        )  # fmt: skip
    image = picture.full if mode == "animated" else picture.channels
    channels = "per_channel" if mode == "per_channel" else "sum"
    result = ui.guarded(lambda: ui.conv_result(image, kernel, s, channels))
    if result is None:
        return
    shape = "×".join(str(n) for n in result.shape[-2:])
    st.markdown(
        f"**{shape} result** from the full {picture.shape_text} image: values from "
        f"**{format_value(result.min())}** to **{format_value(result.max())}**."
    )
    if picture.capped:
        st.caption(f"The upload was {picture.original_text} px; it was shrunk to {PLAYGROUND_MAX_SIDE} px a side.")  # fmt: skip  # noqa: E501
    if mode == "per_channel":
        st.image(ui.conv_colour_picture(result), width=min(512, max(256, result.shape[-1])))
        st.caption(
            "Each channel filtered on its own and put back together as a colour picture; values "
            "below 0 or above 255 are clipped for display (the CSV has the exact numbers)."
        )
    else:
        show_heatmap(result)
    diff = ui.conv_torch_difference(image, kernel, s, channels)
    if diff <= 1e-9 * max(1.0, float(np.abs(result).max())):
        st.success(
            "✓ Checked against PyTorch: `torch.nn.functional.conv2d` gives the same result "
            f"(largest difference {diff:.1e}).", icon=":material/verified:",
        )  # fmt: skip
    else:
        st.error(
            f"✗ PyTorch's conv2d differs from this result by up to {diff:.3g}.",
            icon=":material/verified:",
        )
    cols = st.columns(3)
    cols[0].download_button(
        "Result as PNG", lambda: ui.conv_result_png(result), file_name="convolution.png",
        mime="image/png", on_click="ignore", icon=":material/image:",
    )  # fmt: skip
    cols[1].download_button(
        "Result as CSV (exact numbers)", lambda: share.result_csv(result),
        file_name="convolution.csv", mime="text/csv", on_click="ignore", icon=":material/table:",
    )  # fmt: skip
    cols[2].download_button(
        "Kernel as CSV", share.result_csv(kernel), file_name="kernel.csv", mime="text/csv",
        on_click="ignore", icon=":material/table:",
    )  # fmt: skip


def show_heatmap(result: np.ndarray) -> None:
    """The result in the diverging colour map with its colour bar: as a picture, one pixel per
    value (it re-renders fast, even at 1024²), small ones with their numbers written in; on
    request as an interactive Plotly heatmap that shows each exact value on hover."""
    if max(result.shape) <= 16:
        st.markdown(ui.conv_grid_html(result, "diverging", 40), unsafe_allow_html=True)
    elif ss.conv_hover and result.size <= HEATMAP_MAX_CELLS:
        height = min(560, 160 + 4 * max(result.shape))
        fig = render.heatmap_figure(result, "diverging", colorbar_title="value", height=height)
        st.plotly_chart(fig, config={"displayModeBar": False}, key="conv_result_chart")
    else:
        factor = max(1, 320 // max(result.shape))  # whole-pixel enlargement keeps cells crisp
        st.image(
            render.enlarge(render.colourise(result), factor),
            width=min(640, factor * result.shape[1]),
        )
    st.markdown(ui.conv_colour_bar_html(result), unsafe_allow_html=True)
    if max(result.shape) > 16:
        st.toggle(
            "Interactive heatmap: hover to read each value", key="conv_hover",
            disabled=result.size > HEATMAP_MAX_CELLS,
            help=f"For results up to {HEATMAP_MAX_CELLS:,} values; the CSV below has them all.",
        )  # fmt: skip


def show_share_link(kernel_ok: bool) -> None:
    """Keep the address bar's query in step with the set-up, so the address *is* the link."""
    state = {**{k: ss.get(k) for k in share.DEFAULTS}, "conv_custom_cells": current_cells()}
    params = share.encode(state)
    if not kernel_ok:  # never put a kernel that does not parse into a link
        st.caption("The link keeps the last working kernel until the one above is fixed.")
    elif st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    st.markdown(
        "Your browser's address bar always holds this set-up: copy the address and share it, and "
        "the page opens with the same image choice, kernel and settings (a drawing or an upload "
        "does not travel in a link)."
    )
    st.code(share.link(st.context.url, st.query_params.to_dict()), language=None)


# ----------------------------------------------------------------------------- the page

ui.use_app_navigation()
init_state()
ui.page_header(
    "Convolution playground",
    "A **convolution** slides a small grid of numbers, the **kernel**, over an image. At each "
    "position it multiplies the pixels under the kernel by the kernel's numbers and adds the "
    "products up: that sum is one pixel of the result. Pick an image and a kernel, then press ▶ "
    "in the player to watch it happen, window by window.",
)
for warning in ss.pop("conv_link_warnings", []):
    st.warning(warning, icon=":material/link:")

st.header("1 · The image")
left, right = st.columns([3, 2], gap="large")
with left:
    st.segmented_control(
        "Where the image comes from", list(SOURCES), format_func=SOURCES.get, key="conv_source",
        required=True,
    )  # fmt: skip
    source = source_image()
picture = None
if source is not None:
    picture = ui.guarded(lambda: ui.conv_prepare(source, ss.conv_colour, ss.conv_res))
with right:
    if picture is not None and picture.is_colour:
        st.radio(
            "Colour plane to convolve", list(COLOURS), format_func=COLOURS.get, key="conv_colour",
            horizontal=True,
        )  # fmt: skip
    if picture is not None:
        show_picture(picture)


st.header("2 · The kernel")
left, right = st.columns([3, 2], gap="large")
with left:
    kernel = kernel_input()
with right:
    if kernel is not None:
        st.markdown(ui.conv_grid_html(kernel, "diverging"), unsafe_allow_html=True)
        st.caption(f"The {kernel.shape[0]}×{kernel.shape[1]} kernel. {kernel_sum_note(kernel)}")

st.header("3 · How it slides")
settings = settings_input()
ready = picture is not None and kernel is not None
if ready:
    show_output_size(picture, kernel, settings)

st.header("4 · Watch it slide")
trace = ui.guarded(lambda: ui.conv_trace(picture.working, kernel, settings)) if ready else None
if trace is None:
    st.info("The animation appears once the image, the kernel and the settings fit together.")
else:
    ui.guarded(lambda: ui.conv_player(trace, key="conv_player"))
    with st.expander("The code: a convolution is two loops"):
        st.code(inspect.getsource(convolve2d), language="python")
        st.markdown(
            "The general version pads `image` first, moves the window `stride` cells at a "
            "time, takes every `dilation`-th pixel inside it, and for a true convolution "
            "flips `kernel`."
        )

st.header("5 · The result")
if trace is not None:
    show_result(picture, kernel, settings)
else:
    st.info("The result appears here once the animation above can run.")

st.header(":material/link: Share this set-up")
show_share_link(kernel is not None)
ss.conv_saved = {k: ss[k] for k in share.DEFAULTS if k in ss}
