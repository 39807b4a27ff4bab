"""Inside the network: how any number of the forward pass was made, which input pixels can reach
it, where the network looks for its answer, and what a conv3 filter looks for. Top to bottom as
on the screen; the widgets are in explorer/ui/inside*.py."""

from __future__ import annotations

import streamlit as st

from explorer.errors import literal_markdown
from explorer.features import preprocess
from explorer.inside import explain
from explorer.network_view import verdict
from explorer.receptive_field import receptive_field
from explorer.stages import STAGE_BY_NAME
from explorer.ui import content, widgets
from explorer.ui import inside as view
from explorer.ui import inside_sections as sections
from explorer.ui import network as net
from explorer.ui.inside_arithmetic import cell_name, show_arithmetic
from explorer.ui.network_input import network_input

SECTIONS = {
    "input": "The input",
    "field": "The receptive field",
    "looks": "Where the network looks",
    "filter": "What a conv3 filter looks for",
}

widgets.use_app_navigation()
show, ctx = net.network_page(
    "inside",
    "Inside the network",
    "Pick any number the network computed for this image and see the arithmetic that made it, "
    "the input pixels that can reach it, and where the network looked for its answer.",
    SECTIONS,
    page_state=view.INSIDE,
)
sections.readable_captions()
left, right = st.columns([2, 3], gap="large")
with left if show.shows("input") else st.container():
    inp = network_input(ctx)
if inp is None:
    st.stop()
acts = widgets.guarded(lambda: content.capture(ctx, inp))
if acts is None:
    st.stop()
x = preprocess(inp.image, ctx.preprocessing)
said = verdict(acts.probabilities, ctx.classes, inp.true_label)

with right if show.shows("input") else st.container():
    st.markdown(f"#### {said.sentence()}")
    st.caption(f"Input: {literal_markdown(inp.description)}.")
    st.subheader("1 · How one number was made")
    stage, cell = view.pick_cell(acts, ctx.classes)
    view.clickable_numbers(acts, stage, cell, ctx.classes)

how = widgets.guarded(lambda: explain(ctx.cpu_model, x, acts, stage, cell))
if how is None:
    st.stop()
show_arithmetic(how, ctx.classes)
if STAGE_BY_NAME[stage].op == "pool":
    view.pool_stepper(acts, stage, *cell)

if show.shows("field"):
    st.subheader("2 · Which input pixels can reach it: the receptive field")
    box = receptive_field(stage, cell)
    pic, words = st.columns([1, 2], gap="large")
    pic.image(
        content.field_png(inp.image, box),
        width="stretch",
        output_format="PNG",
        alt=sections.field_alt(box),
        caption=f"Outlined: the pixels {cell_name(stage, cell)} can see",
    )
    with words:
        sections.show_field_arithmetic(stage, box)

if show.shows("looks"):
    st.subheader("3 · Where the network looks")
    target = view.pick_class(ctx, inp, acts)
    found = widgets.guarded(lambda: content.attributions(ctx, inp, target))
    if found is not None:
        pngs = content.attribution_pngs(found, inp.image)
        sections.show_attributions(found, pngs, ctx.classes)

if show.shows("filter"):
    st.subheader("4 · What a conv3 filter looks for")
    channel = view.INSIDE.number("channel", "conv3 map (0–127)", 0, 127)
    keys, scores = content.gallery_scores(ctx)
    sections.show_gallery_top(keys, scores, channel, ctx.dataset)
    best = sections.maximised_input(ctx, channel, compute=False)
    slot = st.empty()  # the button, then the progress bar in its place
    if best is None and slot.button(
        f"Optimise an input for conv3 map {channel}",
        key="in_maximise",
        icon=":material/auto_awesome:",
    ):
        bar = slot.progress(0.0, text="Optimising…")
        best = sections.maximised_input(
            ctx, channel, progress=lambda k, n: bar.progress(k / n, text=f"Step {k} of {n}")
        )
        bar.empty()
    if best is not None:
        sections.show_maximised(best, scores, channel)

net.keep_address(
    {**net.NET.get().to_query("session"), **view.INSIDE.get().to_query(), **show.query()}
)
net.link_note(net.NET.get())
widgets.presenter_controls("inside", SECTIONS, show)
