"""Feature maps: give the network an image and see what every layer makes of it. Top to
bottom as on the screen; the views are in explorer/ui/feature_maps.py."""

from __future__ import annotations

import streamlit as st

from explorer.errors import literal_markdown
from explorer.network_view import verdict
from explorer.numbers import with_minus
from explorer.stages import LOGITS
from explorer.ui import content, path, widgets
from explorer.ui import feature_maps as view
from explorer.ui import network as net
from explorer.ui.inside_links import link_here
from explorer.ui.network import NET
from explorer.ui.network_input import current_input, network_input

SECTIONS = {
    "input": "The input and the answer",
    "sees": "What the model sees",
    "compare": "Side by side with another network",
    "detail": "One map up close",
    "filters": "conv1's 32 filters",
}

widgets.use_app_navigation()
show, ctx = net.network_page(
    "feature_maps",
    "Feature maps",
    "Choose an image and follow it through the network. Every convolution filter produces one "
    "**feature map**: a picture of where in the image the filter found its pattern. All the "
    "numbers are computed live, in one pass through the network.",
    SECTIONS,
)
# A drawing or an upload needs its widgets, so that section always shows for them.
input_shown = show.shows("input") or NET.get().input != "gallery"
if show.on:  # the picture and the answer first, the chooser under them
    picture_place, answer_place = st.columns([1, 2], gap="large")
    chooser = st.container() if input_shown else None
else:
    chooser, answer_place = st.columns([2, 3], gap="large")
if chooser is not None:
    with chooser:
        inp = network_input(ctx)
else:
    inp = current_input(ctx, NET.get())
if inp is None:
    st.stop()
acts = widgets.guarded(lambda: content.capture(ctx, inp))  # weights may overflow on it
if acts is None:
    st.stop()
said = verdict(acts.probabilities, ctx.classes, inp.true_label)
if show.on:
    with picture_place:
        view.projector_picture(inp)
with answer_place:
    revealed = view.guess_first(ctx, inp, said.answer, show.on)
    if revealed:
        st.markdown(f"#### {said.sentence()}")
    if revealed:
        st.markdown("**Probability of each class (softmax)**")
        probabilities = list(zip(ctx.classes, map(float, acts.probabilities), strict=True))
        st.markdown(
            content.bars_html(view.top(probabilities), said.answer, ".1%"), unsafe_allow_html=True
        )
        k = int(acts.probabilities.argmax())
        link_here(f"Which pixels made it say {said.answer}?", "softmax", (k,), k)
    if revealed and not show.on:
        st.caption(
            f"Input: {literal_markdown(inp.description)}. Forward pass: "
            f"**{acts.forward_ms:.2f} ms** on "
            f"**{ctx.device.name if acts.device == ctx.device.device else 'CPU'}**. The network "
            "runs in evaluation mode (`model.eval()`): dropout is off, so the same image always "
            "gets the same answer."
        )
    if acts.fallback_reason:
        widgets.warning(f"The GPU failed ({acts.fallback_reason}); this ran on the CPU instead.")

# What the model sees, then every stage; presenting, the stages (the lesson) come first.
sees_place, stages_place = st.container(), st.container()
if show.on:
    sees_place, stages_place = stages_place, sees_place

if show.shows("sees"):
    with sees_place:
        st.subheader("What the model sees")
        enlarged, channels = content.input_pictures(inp, ctx.preprocessing)
        cols = st.columns(4)
        cols[0].image(
            enlarged,
            caption="The 32×32 input, enlarged",
            output_format="PNG",
            alt="The network's 32×32 input, enlarged",
        )
        for col, (channel, picture) in zip(cols[1:], channels, strict=True):
            col.image(
                picture,
                caption=f"{channel.name} channel",
                output_format="PNG",
                alt=f"The input's {channel.name} channel in gray",
            )
            col.caption(
                f"(pixel/255 − {channel.mean:.4g}) / {channel.std:.4g} → from "
                + with_minus(f"**{channel.low:.3f}** to **{channel.high:.3f}**")
            )
        st.caption(
            "The network does not see 0–255: each channel is scaled to 0–1, then the training "
            "set's mean is subtracted and the result divided by its standard deviation, so the "
            "numbers are centred on 0."
        )

with stages_place:
    st.subheader("Every stage, every map")
    NET.choice(
        st.radio,
        "scale",
        "Colours",
        horizontal=True,
        help="Shared: the same colour means the same number in every map of a layer, so strong "
        "and weak maps can be compared. Each map on its own: every map uses its full colour "
        "range, which shows the shape of weak maps too.",
    )
    per_map = NET.get().scale == "map"
    st.caption(
        "Blue–white–red for values that can be negative (white = 0); dark-to-yellow for ReLU and "
        "pooling outputs, which are never negative. Maps are numbered from 0, left to right, "
        "8 (or 16) a row."
    )
    view.every_stage(acts, per_map, ctx.trained, (inp, ctx.label))
    st.markdown(f"**fc2: the {len(ctx.classes)} scores (logits), before softmax**")
    logits = list(zip(ctx.classes, map(float, acts.logits), strict=True))
    if revealed:
        st.markdown(content.bars_html(view.top(logits), said.answer, ".3g"), unsafe_allow_html=True)
        best = int(acts.probabilities.argmax())
        link_here(f"How was the {said.answer} score made?", LOGITS, (best,))
    else:
        st.caption("The scores appear once the guess is in (above).")
    if revealed and len(ctx.classes) > view.CLASSES_SHOWN:
        st.caption(f"The {view.CLASSES_SHOWN} largest of {len(ctx.classes):,} are shown.")

if show.shows("compare"):
    st.subheader(SECTIONS["compare"])
    view.compare_networks(ctx, inp, acts, per_map, revealed)

if show.shows("detail"):
    st.subheader(SECTIONS["detail"])
    view.show_map_detail(ctx, acts, per_map)

if show.shows("filters"):
    st.subheader(SECTIONS["filters"])
    st.image(
        content.conv1_filters_png(ctx),
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
    view.playground_sender(ctx)

net.keep_address({**NET.get().to_query("feature_maps"), **show.query()})
net.link_note(NET.get())
path.page_end(__file__)
widgets.presenter_controls("feature_maps", SECTIONS, show)
