"""Feature maps: give the network an image and see what every layer makes of it. The page's
widgets come first, as functions; the page itself, top to bottom as on the screen, is below."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from explorer.errors import literal_markdown
from explorer.features import (
    CONV_OF_STAGE,
    SPATIAL_STAGES,
    STAGE_BY_NAME,
    Activations,
    ModelInput,
    biases,
    filters,
    map_statistics,
    playground_kernel,
)
from explorer.model import builtin_weights
from explorer.network_view import SCALES, legend_text, stage_explanation, verdict
from explorer.stage_pictures import stage_limits
from explorer.ui import inside as inside_view
from explorer.ui import network as net
from explorer.ui import playground, widgets
from explorer.ui.network_input import gallery_choice, network_input

# ----------------------------------------------------------------------------- the stages

CLASSES_SHOWN = 10  # a head of up to 1,000 classes: the charts draw the ten largest


def top(values: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(values, key=lambda cv: -cv[1])[:CLASSES_SHOWN])


def show_stage(
    name: str, acts: Activations, pictures: dict[str, bytes], per_map: bool, trained: bool
) -> None:
    """One stage: title, what it does, all its maps as one image, its colour legend."""
    stage = STAGE_BY_NAME[name]
    arr = acts.stages[name]
    st.markdown(f"**{stage.title}**  \n{'×'.join(map(str, arr.shape))}")
    st.image(
        pictures[name],
        width="stretch",
        output_format="PNG",
        alt=f"All {arr.shape[0]} maps of {name}, {'×'.join(map(str, arr.shape[1:]))} each",
    )
    st.image(net.colour_bar_png(stage.kind), width=160, output_format="PNG", alt="")
    lo, hi = stage_limits(arr, stage.kind)
    st.caption(legend_text(stage.kind, lo, hi, per_map and arr.ndim == 3))
    st.caption(stage_explanation(stage.explanation, trained))
    if arr.ndim == 3:
        st.download_button(
            "Maps as PNG", lambda: net.montage_png_for(name, per_map, acts),
            file_name=f"{name}_maps.png", mime="image/png", on_click="ignore", type="tertiary",
            icon=":material/download:", key=f"fm_dl_{name}",
        )  # fmt: skip


def show_map_detail(
    ctx: net.NetworkContext, inp: ModelInput, acts: Activations, per_map: bool
) -> None:
    """Pick one map (``fm_layer``, ``fm_map``): enlarged with hover values, its statistics and
    the filter that made it."""
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", SPATIAL_STAGES, key="fm_layer",
                         format_func=lambda n: STAGE_BY_NAME[n].title)  # fmt: skip
    arr = acts.stages[layer]
    if st.session_state["fm_map"] >= len(arr):
        st.session_state["fm_map"] = 0
    index = c2.number_input(f"Map (0–{len(arr) - 1})", 0, len(arr) - 1, key="fm_map")
    st.caption("Click a map to enlarge it.")
    net.map_picker(net.map_thumbnails_for(ctx, inp, acts, layer, per_map))
    left, right = st.columns([3, 2])
    with left:
        fig = net.map_figure_for(ctx, inp, acts, layer, index, per_map)
        st.plotly_chart(fig, width="stretch", key="fm_heatmap")
        stats = map_statistics(arr[index])
        st.markdown(
            f"min **{stats['min']:.4g}** · max **{stats['max']:.4g}** · mean "
            f"**{stats['mean']:.4g}** · std **{stats['std']:.4g}** · fraction zero "
            f"**{stats['fraction_zero']:.1%}**"
        )
        r, c = np.unravel_index(int(np.argmax(arr[index])), arr[index].shape)
        cell = (int(index), int(r), int(c))
        inside_view.link_here(f"How was {layer}[{index}, {r}, {c}], its largest value, made?",
                              layer, cell)  # fmt: skip
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
            for column, name, kernel in zip(st.columns(3), "RGB", w, strict=True):
                column.caption(f"{name} channel")
                column.markdown(widgets.grid_html(kernel, "diverging", 40), unsafe_allow_html=True)
        else:
            grid, bound = net.filter_grid_png_for(ctx, conv, index)
            st.image(
                grid,
                width="stretch",
                output_format="PNG",
                alt=f"{conv} filter {index}: its {w.shape[0]} slices of 3×3 as colours",
            )
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


def compare_networks(ctx: net.NetworkContext, inp: ModelInput, acts: Activations,
                     per_map: bool) -> None:  # fmt: skip
    """The same input through a second built-in network, stage by stage, beside this one."""
    others = [c for c in builtin_weights() if c.key != ctx.weights_id]
    labels = {c.key: c.label for c in others}
    other = st.selectbox(
        "Compare with", [None, *labels], key="fm_compare",
        format_func=lambda k: "— no comparison —" if k is None else labels[k],
        help="The same 32×32 input through other weights: trained against untrained, or "
        "CIFAR-10 against MNIST. Each network normalises the input its own way.",
    )  # fmt: skip
    if other is None:
        return
    ctx2 = net.builtin_context(other, ctx.device)
    acts2 = widgets.guarded(lambda: net.capture_for(ctx2, inp))
    if acts2 is None:
        return
    pictures = net.pictures_for(ctx, inp, acts, per_map)
    pictures2 = net.pictures_for(ctx2, inp, acts2, per_map)
    left, right = st.columns(2, gap="large")
    for column, c, a in ((left, ctx, acts), (right, ctx2, acts2)):
        said = verdict(a.probabilities, c.classes, inp.true_label)
        column.markdown(f"**{c.label}** says **{said.answer}** ({said.probability:.1%})")
    for name in SPATIAL_STAGES:
        left, right = st.columns(2, gap="large")
        title = STAGE_BY_NAME[name].title
        left.image(pictures[name], caption=title, output_format="PNG", alt=f"{ctx.label}: {name}")
        right.image(
            pictures2[name], caption=title, output_format="PNG", alt=f"{ctx2.label}: {name}"
        )


def playground_sender(ctx: net.NetworkContext) -> None:
    """Choose a conv1 filter and a channel; the button opens it in the playground."""
    c1, c2 = st.columns(2)
    index = c1.number_input("conv1 filter", 0, 31, key="fm_pg_filter")
    channel = c2.radio("Channel", ["R", "G", "B", "sum"], key="fm_pg_channel", horizontal=True,
                       format_func=lambda c: "R+G+B" if c == "sum" else c)  # fmt: skip
    kernel = playground_kernel(ctx.cpu_model, index, channel)
    st.caption(kernel["name"])
    st.markdown(
        widgets.grid_html(np.asarray(kernel["values"]), "diverging", 48), unsafe_allow_html=True
    )
    if st.button("Use this filter in the playground", key="fm_pg_send", icon=":material/send:"):
        playground.send_kernel(kernel["values"], kernel["name"])
        st.switch_page("pages/convolution.py")


# ----------------------------------------------------------------------------- the page

SECTIONS = {"input": "The input and the answer", "sees": "What the model sees",
            "compare": "Side by side with another network", "detail": "One map up close",
            "filters": "conv1's 32 filters"}  # fmt: skip

widgets.use_app_navigation()
show, ctx = net.network_page(
    "feature_maps",
    "Feature maps",
    "Choose an image and follow it through the network. Every convolution filter produces one "
    "**feature map**: a picture of where in the image the filter found its pattern. All the "
    "numbers are computed live, in one pass through the network.",
    SECTIONS,
)
stages_place = st.container()  # presenting: every stage's maps first

# A drawing or an upload needs its widgets, so that section always shows for them.
input_shown = show.shows("input") or st.session_state["fm_input"] != "Gallery"
if input_shown:
    left, right = st.columns([2, 3], gap="large")
    with left:
        inp = network_input(ctx)
else:
    inp = gallery_choice(ctx)
if inp is None:
    st.stop()
acts = widgets.guarded(lambda: net.capture_for(ctx, inp))  # weights may overflow on it
if acts is None:
    st.stop()
said = verdict(acts.probabilities, ctx.classes, inp.true_label)
with right if input_shown else stages_place:
    revealed = net.guess_first(ctx, inp, said.answer)
    if revealed:
        st.markdown(f"#### {said.sentence()}")
    if input_shown and revealed:
        st.markdown("**Probability of each class (softmax)**")
        probabilities = list(zip(ctx.classes, map(float, acts.probabilities), strict=True))
        st.markdown(net.bars_html(top(probabilities), said.answer, ".1%"), unsafe_allow_html=True)
        k = int(acts.probabilities.argmax())
        inside_view.link_here(f"Which pixels made it say {said.answer}?", "softmax", (k,), k)
        st.caption(
            f"Input: {literal_markdown(inp.description)}. Forward pass: "
            f"**{acts.forward_ms:.2f} ms** on "
            f"**{ctx.device.name if acts.device == ctx.device.device else 'CPU'}**. The network "
            "runs in evaluation mode (`model.eval()`): dropout is off, so the same image always "
            "gets the same answer."
        )
    if acts.fallback_reason:
        widgets.warning(f"The GPU failed ({acts.fallback_reason}); this ran on the CPU instead.")

if show.shows("sees"):
    st.subheader("What the model sees")
    enlarged, channels = net.input_pictures_for(ctx, inp)
    cols = st.columns(4)
    cols[0].image(
        enlarged,
        caption="The 32×32 input, enlarged",
        output_format="PNG",
        alt="The network's 32×32 input, enlarged",
    )
    for col, (view, picture) in zip(cols[1:], channels, strict=True):
        col.image(
            picture,
            caption=f"{view.name} channel",
            output_format="PNG",
            alt=f"The input's {view.name} channel in gray",
        )
        col.caption(
            f"(pixel/255 − {view.mean:.4g}) / {view.std:.4g} → from **{view.low:.3f}** to "
            f"**{view.high:.3f}**"
        )
    st.caption(
        "The network does not see 0–255: each channel is scaled to 0–1, then the training set's "
        "mean is subtracted and the result divided by its standard deviation, so the numbers are "
        "centred on 0."
    )

with stages_place if show.on else st.container():
    st.subheader("Every stage, every map")
    scale = st.radio(
        "Colours", list(SCALES), format_func=SCALES.get, key="fm_scale", horizontal=True,
        help="Shared: the same colour means the same number in every map of a layer, so strong and "
        "weak maps can be compared. Each map on its own: every map uses its full colour range, "
        "which shows the shape of weak maps too.",
    )  # fmt: skip
    per_map = scale == "map"
    st.caption(
        "Blue–white–red for values that can be negative (white = 0); dark-to-yellow for ReLU and "
        "pooling outputs, which are never negative. Maps are numbered from 0, left to right, "
        "8 (or 16) a row."
    )
    pictures = net.pictures_for(ctx, inp, acts, per_map)
    for block in ("1", "2", "3"):
        for col, name in zip(st.columns(3), ("conv", "relu", "pool"), strict=True):
            with col:
                show_stage(name + block, acts, pictures, per_map, ctx.trained)
    st.markdown("##### The classifier head")
    for col, name in zip(st.columns(3), ("flatten", "fc1", "relu4"), strict=True):
        with col:
            show_stage(name, acts, pictures, per_map, ctx.trained)
    st.markdown(f"**fc2: the {len(ctx.classes)} scores (logits), before softmax**")
    logits = list(zip(ctx.classes, map(float, acts.logits), strict=True))
    if revealed:
        st.markdown(net.bars_html(top(logits), said.answer, ".3g"), unsafe_allow_html=True)
        best = int(acts.probabilities.argmax())
        inside_view.link_here(f"How was the {said.answer} score made?", "fc2", (best,))
    else:
        st.caption("The scores appear once you have made your guess above.")
    if revealed and len(ctx.classes) > CLASSES_SHOWN:
        st.caption(f"The {CLASSES_SHOWN} largest of {len(ctx.classes):,} are shown.")

if show.shows("compare"):
    st.subheader(SECTIONS["compare"])
    compare_networks(ctx, inp, acts, per_map)

if show.shows("detail"):
    st.subheader(SECTIONS["detail"])
    show_map_detail(ctx, inp, acts, per_map)

if show.shows("filters"):
    st.subheader(SECTIONS["filters"])
    st.image(
        net.conv1_filters_png_for(ctx),
        output_format="PNG",
        alt="conv1's 32 filters as 3×3 colour patches, 16 a row",
    )
    st.caption(
        "Filter 0 is top left, 16 a row. Each 3×3 filter drawn as colours: for each channel, "
        "grey = weight 0, brighter = positive, darker = negative (each filter scaled by its own "
        "largest weight). A reddish patch responds to red, a patch with a light and a dark side to "
        "an edge."
    )
    st.markdown("**Use a filter in the convolution playground**")
    playground_sender(ctx)

net.keep_address(show.query())
if not input_shown or st.session_state["fm_input"] == "Gallery":
    st.caption(
        ":material/link: The address bar holds this page's set-up (weights, image, map, "
        "colours): copy it to share."
    )
else:
    st.caption(
        ":material/link: The address bar holds the weights, map and colours; a drawing or an "
        "upload does not travel in a link."
    )
widgets.presenter_controls("feature_maps", SECTIONS, show)
