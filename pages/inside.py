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
from explorer.ui import content, heavy, path, widgets
from explorer.ui import inside as view
from explorer.ui import inside_sections as sections
from explorer.ui import network as net
from explorer.ui.inside_arithmetic import cell_name, show_arithmetic
from explorer.ui.network_input import current_input, network_input

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
    "the input pixels that can reach it, and where the network looked for its answer. A "
    "number is named by where it sits: `conv2[0, 4, 4]` is the value in conv2's map 0 at row "
    "4, column 4, counted from 0. Words such as logit, bias and float32 are explained at the "
    "end of the page.",
    SECTIONS,
    page_state=view.INSIDE,
)
sections.readable_captions()
# Presenting: the cell and its arithmetic first; the input, the answer and the table of numbers
# (another way to pick a cell) under them. A drawing or an upload needs its widgets, so that
# section always shows for them.
lead = view.presenter_lead() if show.on else None
input_shown = show.shows("input") or net.NET.get().input != "gallery"
left, right = st.columns([2, 3], gap="large") if input_shown else (None, st.container())
if left is not None:
    with left:
        inp = network_input(ctx)
else:
    inp = current_input(ctx, net.NET.get())
if inp is None:
    st.stop()
acts = widgets.guarded(lambda: content.capture(ctx, inp))
if acts is None:
    st.stop()
x = preprocess(inp.image, ctx.preprocessing)
said = verdict(acts.probabilities, ctx.classes, inp.true_label)

with right:
    st.markdown(f"#### {said.sentence()}")
    st.caption(f"Input: {literal_markdown(inp.description)}.")
with lead if lead is not None else right:
    st.subheader("1 · How one number was made")
    stage, cell = view.pick_cell(acts, ctx.classes, compact=lead is not None)
with right:
    view.clickable_numbers(acts, stage, cell, ctx.classes)

how = widgets.guarded(lambda: explain(ctx.cpu_model, x, acts, stage, cell))
if how is None:
    st.stop()
with lead if lead is not None else st.container():
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

pending = heavy.Pending()  # the attribution maps and the optimised input: worker processes
if show.shows("looks"):
    st.subheader("3 · Where the network looks")
    target = view.pick_class(ctx, inp, acts)
    sections.show_looks(pending, ctx, inp, target, acts.probabilities)

if show.shows("filter"):
    st.subheader("4 · What a conv3 filter looks for")
    channel = view.INSIDE.number("channel", "conv3 map (0–127)", 0, 127)
    keys, scores = content.gallery_scores(ctx)
    sections.show_gallery_top(keys, scores, channel, ctx.dataset)
    sections.show_optimised(pending, ctx, channel, scores)

net.keep_address(
    {**net.NET.get().to_query("session"), **view.INSIDE.get().to_query(), **show.query()}
)
net.link_note(net.NET.get())
path.page_end(__file__)
widgets.presenter_controls("inside", SECTIONS, show)
pending.settle()  # last: the page is drawn; each heavy result fills its place as it comes
