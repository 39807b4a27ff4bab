"""Feature maps: give the network an image and see what every layer makes of it. The page's
widgets come first, as functions; the page itself, top to bottom as on the screen, is below."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from explorer import render
from explorer.errors import UserError, literal_markdown
from explorer.features import (
    CONV_OF_STAGE,
    SPATIAL_STAGES,
    STAGE_BY_NAME,
    Activations,
    ModelInput,
    StageKind,
    biases,
    conv1_filters_picture,
    filter_grid,
    filters,
    map_statistics,
    playground_kernel,
    predictions,
    preprocess,
    stage_cmap,
    stage_limits,
)
from explorer.model_input import digit_to_model_image, photo_to_model_image
from explorer.playground import PLAYGROUND_MAX_SIDE
from explorer.samples import gallery, load_gallery_image
from explorer.ui import network as net
from explorer.ui import playground, widgets
from explorer.ui.canvas import drawing_canvas
from explorer.uploads import UPLOAD_EXTENSIONS, canvas_is_blank, canvas_to_rgb, decode_image

# ----------------------------------------------------------------------------- the input


def network_input(ctx: net.NetworkContext) -> ModelInput | None:
    """Gallery, drawing or upload → the network's 32×32 input; None (after saying why) when
    there is nothing to show yet."""
    source = st.radio(
        "Input", ["Gallery", "Draw", "Upload"], key="fm_input", horizontal=True,
        help="Gallery: exact test images the network never saw in training, with their true "
        "label.",
    )  # fmt: skip
    try:
        if source == "Gallery":
            return gallery_input(ctx)
        if source == "Draw":
            return drawn_input(ctx)
        upload = st.file_uploader(
            "An image (PNG, JPEG, WebP, BMP, GIF, TIFF)",
            type=UPLOAD_EXTENSIONS,
            key="fm_upload",
        )
        if upload is None:
            st.info("Choose an image file: it is cropped to a square and shrunk to 32×32.")
            return None
        rgb = decode_image(upload.getvalue(), max_side=PLAYGROUND_MAX_SIDE)
        return ModelInput(photo_to_model_image(rgb), f"your image {upload.name}")
    except UserError as exc:
        widgets.error(str(exc))
        return None


def gallery_input(ctx: net.NetworkContext) -> ModelInput:
    items = {item.key: item for item in gallery(ctx.dataset)}
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
        render.enlarge(load_gallery_image(item), 5),
        caption=f"True label: {item.label_name}",
        output_format="PNG",
    )
    return ModelInput(load_gallery_image(item), item.source, item.label_name)


def drawn_input(ctx: net.NetworkContext) -> ModelInput | None:
    digit = ctx.preprocessing.kind == "digit"
    st.caption(
        "Draw a digit, large, in the middle. It is centred and scaled the way MNIST digits are."
        if digit
        else "Draw anything: the drawing is shrunk to 32×32 like a photo."
    )
    rgba = drawing_canvas(stroke_width=18, key="fm_canvas")
    if canvas_is_blank(rgba):
        st.info("Draw on the black square with the mouse (or a finger).")
        return None
    rgb = canvas_to_rgb(rgba, background=(0, 0, 0))
    if digit:
        return ModelInput(digit_to_model_image(rgb), "your drawing, prepared like MNIST")
    return ModelInput(photo_to_model_image(rgb), "your drawing")


# ----------------------------------------------------------------------------- the stages


def legend(kind: StageKind, lo: float, hi: float, per_map: bool) -> None:
    """The colour bar of a stage with the numbers its ends stand for."""
    st.image(net.colour_bar_png(kind), width=160, output_format="PNG")
    if per_map:
        st.caption("Each map: darkest/bluest = its own lowest value, brightest/reddest = highest.")
    elif kind == "signed":
        st.caption(f"blue {lo:.3g} · white 0 · red {hi:.3g}")
    else:
        st.caption(f"dark {lo:.3g} · yellow {hi:.3g}")


def show_stage(name: str, acts: Activations, pictures: dict[str, bytes], per_map: bool) -> None:
    """One stage: title, what it does, all its maps as one image, its colour legend."""
    stage = STAGE_BY_NAME[name]
    arr = acts.stages[name]
    st.markdown(f"**{stage.title}**  \n{'×'.join(map(str, arr.shape))}")
    st.image(pictures[name], width="stretch", output_format="PNG")
    lo, hi = stage_limits(arr, stage.kind)
    legend(stage.kind, lo, hi, per_map and arr.ndim == 3)
    st.caption(stage.explanation)


def show_map_detail(ctx: net.NetworkContext, acts: Activations) -> None:
    """Pick one map (``fm_layer``, ``fm_map``): enlarged with hover values, its statistics and
    the filter that made it."""
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", SPATIAL_STAGES, key="fm_layer",
                         format_func=lambda n: STAGE_BY_NAME[n].title)  # fmt: skip
    arr = acts.stages[layer]
    if st.session_state["fm_map"] >= len(arr):
        st.session_state["fm_map"] = 0
    index = c2.number_input(f"Map (0–{len(arr) - 1})", 0, len(arr) - 1, key="fm_map")
    stage = STAGE_BY_NAME[layer]
    per_map = st.session_state["fm_scale"] != net.NET_DEFAULTS["fm_scale"]
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
            fig = render.kernel_figure([(f"{c} channel", k) for c, k in zip("RGB", w, strict=True)])
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


def playground_sender(ctx: net.NetworkContext) -> None:
    """Choose a conv1 filter and a channel; the button opens it in the playground."""
    c1, c2 = st.columns(2)
    index = c1.number_input("conv1 filter", 0, 31, key="fm_pg_filter")
    channel = c2.radio("Channel", ["R", "G", "B", "sum"], key="fm_pg_channel", horizontal=True,
                       format_func=lambda c: "R+G+B" if c == "sum" else c)  # fmt: skip
    kernel = playground_kernel(ctx.cpu_model, index, channel)
    fig = render.kernel_figure([(kernel["name"], np.asarray(kernel["values"]))], height=230)
    st.plotly_chart(fig, key="fm_pg_fig")
    if st.button("Use this filter in the playground", key="fm_pg_send", icon=":material/send:"):
        playground.send_kernel(kernel["values"], kernel["name"])
        st.switch_page("pages/convolution.py")


# ----------------------------------------------------------------------------- the page

widgets.use_app_navigation()
widgets.page_header(
    "Feature maps",
    "Choose an image and follow it through the network. Every convolution filter produces one "
    "**feature map**: a picture of where in the image the filter found its pattern. All the "
    "numbers are computed live, in one pass through the network.",
)
ctx = net.network_sidebar()
if ctx is None:
    st.stop()

left, right = st.columns([2, 3], gap="large")
with left:
    inp = network_input(ctx)
if inp is None:
    st.stop()
acts = widgets.guarded(lambda: net.capture_for(ctx, inp))  # weights may overflow on it
if acts is None:
    st.stop()
ranked = predictions(acts.probabilities, ctx.classes)
with right:
    answer = ranked[0][0]
    verdict = ""
    if inp.true_label is not None:
        verdict = (
            " — correct"
            if answer == inp.true_label
            else f" — wrong, the true label is **{inp.true_label}**"
        )
    st.markdown(f"#### The network says: **{answer}** ({ranked[0][1]:.1%}){verdict}")
    st.plotly_chart(
        render.class_bars(ranked, answer, "Probability of each class (softmax)", ".1%"),
        width="stretch",
        key="fm_probs",
    )
    st.caption(
        f"Input: {literal_markdown(inp.description)}. Forward pass: "
        f"**{acts.forward_ms:.2f} ms** on "
        f"**{ctx.device.name if acts.device == ctx.device.device else 'CPU'}**. The network runs "
        "in evaluation mode (`model.eval()`): dropout is off, so the same image always gets the "
        "same answer."
    )
    if acts.fallback_reason:
        widgets.warning(f"The GPU failed ({acts.fallback_reason}); this ran on the CPU instead.")

st.subheader("What the model sees")
x = preprocess(inp.image, ctx.preprocessing)[0].numpy()  # 3×32×32 normalised
cols = st.columns(4)
cols[0].image(
    render.enlarge(inp.image, 5), caption="The 32×32 input, enlarged", output_format="PNG"
)
for col, name, channel, mean, std in zip(
    cols[1:], "RGB", x, ctx.preprocessing.mean, ctx.preprocessing.std, strict=True
):
    col.image(
        render.enlarge(inp.image[:, :, "RGB".index(name)], 5),
        caption=f"{name} channel",
        output_format="PNG",
    )
    col.caption(
        f"(pixel/255 − {mean:.4g}) / {std:.4g} → from **{channel.min():.3f}** to "
        f"**{channel.max():.3f}**"
    )
st.caption(
    "The network does not see 0–255: each channel is scaled to 0–1, then the training set's "
    "mean is subtracted and the result divided by its standard deviation, so the numbers are "
    "centred on 0."
)

st.subheader("Every stage, every map")
scale = st.radio(
    "Colours",
    ["Shared by the layer", "Each map on its own"],
    key="fm_scale",
    horizontal=True,
    help="Shared: the same colour means the same number in every map of a layer, so strong and "
    "weak maps can be compared. Each map on its own: every map uses its full colour range, "
    "which shows the shape of weak maps too.",
)
per_map = scale != net.NET_DEFAULTS["fm_scale"]
st.caption(
    "Blue–white–red for values that can be negative (white = 0); dark-to-yellow for ReLU and "
    "pooling outputs, which are never negative. Maps are numbered from 0, left to right, "
    "8 (or 16) a row."
)
pictures = net.stage_pictures(ctx.weights_id, acts.device, net.image_key(inp.image), per_map, acts)
for block in ("1", "2", "3"):
    for col, name in zip(st.columns(3), ("conv", "relu", "pool"), strict=True):
        with col:
            show_stage(name + block, acts, pictures, per_map)
st.markdown("##### The classifier head")
for col, name in zip(st.columns(3), ("flatten", "fc1", "relu4"), strict=True):
    with col:
        show_stage(name, acts, pictures, per_map)
logits = [(c, float(v)) for c, v in zip(ctx.classes, acts.logits, strict=True)]
st.plotly_chart(
    render.class_bars(logits, answer, "fc2: the 10 scores (logits), before softmax", ".3g"),
    width="stretch",
    key="fm_logits",
)

st.subheader("One map up close")
show_map_detail(ctx, acts)

st.subheader("conv1's 32 filters")
st.image(render.png_bytes(conv1_filters_picture(ctx.cpu_model)), output_format="PNG")
st.caption(
    "Filter 0 is top left, 16 a row. Each 3×3 filter drawn as colours: for each channel, "
    "grey = weight 0, brighter = positive, darker = negative (each filter scaled by its own "
    "largest weight). A reddish patch responds to red, a patch with a light and a dark side to "
    "an edge."
)
st.markdown("**Use a filter in the convolution playground**")
playground_sender(ctx)
