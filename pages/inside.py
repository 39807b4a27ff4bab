"""Inside the network: how any number of the forward pass was made, which input pixels can reach
it, where the network looks for its answer, and what a conv3 filter looks for. Top to bottom as
on the screen; the widgets are in explorer/ui/inside.py."""

from __future__ import annotations

import streamlit as st

from explorer.errors import literal_markdown
from explorer.features import preprocess
from explorer.inside import POOL_SOURCE, explain
from explorer.network_view import verdict
from explorer.receptive_field import receptive_field
from explorer.ui import inside as view
from explorer.ui import network as net
from explorer.ui import widgets
from explorer.ui.network_input import network_input

widgets.use_app_navigation()
widgets.page_header(
    "Inside the network",
    "Pick any number the network computed for this image and see the arithmetic that made it, "
    "the input pixels that can reach it, and where the network looked for its answer.",
)
ctx = net.network_sidebar()
if ctx is None:
    st.stop()
view.init_inside_state()
view.readable_captions()
view.apply_link(ctx.dataset)
left, right = st.columns([2, 3], gap="large")
with left:
    inp = network_input(ctx)
if inp is None:
    st.stop()
acts = widgets.guarded(lambda: net.capture_for(ctx, inp))
if acts is None:
    st.stop()
x = preprocess(inp.image, ctx.preprocessing)
said = verdict(acts.probabilities, ctx.classes, inp.true_label)

with right:
    st.markdown(f"#### {said.sentence()}")
    st.caption(f"Input: {literal_markdown(inp.description)}.")
    st.subheader("1 · How one number was made")
    stage, cell = view.pick_cell(acts, ctx.classes)
    view.clickable_numbers(acts, stage, cell, ctx.classes)

how = widgets.guarded(lambda: explain(ctx.cpu_model, x, acts, stage, cell))
if how is None:
    st.stop()
view.show_arithmetic(how, ctx.classes)
if stage in POOL_SOURCE:
    view.pool_stepper(acts, stage, *cell)

st.subheader("2 · Which input pixels can reach it: the receptive field")
box = receptive_field(stage, cell)
pic, words = st.columns([1, 2], gap="large")
pic.image(view.field_png_for(inp, box), width="stretch", alt=view.field_alt(box),
          caption=f"Outlined: the pixels {view.cell_name(stage, cell)} can see")  # fmt: skip
with words:
    view.show_field_arithmetic(stage, box)

st.subheader("3 · Where the network looks")
target = view.pick_class_for(ctx, inp, acts)
found = widgets.guarded(lambda: view.attributions_for(ctx, inp, target))
if found is not None:
    pngs = view.attribution_pngs_for(ctx, inp, found)
    view.show_attributions(found, pngs, ctx.classes)

st.subheader("4 · What a conv3 filter looks for")
channel = st.number_input("conv3 map (0–127)", 0, 127, key="in_channel")
keys, scores = view.gallery_scores_for(ctx)
view.show_gallery_top(keys, scores, channel, ctx.dataset)
best = view.maximised_input(ctx, channel, compute=False)
slot = st.empty()  # the button, then the progress bar in its place
if best is None and slot.button(f"Optimise an input for conv3 map {channel}",
                                key="in_maximise", icon=":material/auto_awesome:"):  # fmt: skip
    bar = slot.progress(0.0, text="Optimising…")
    best = view.maximised_input(
        ctx, channel, progress=lambda k, n: bar.progress(k / n, text=f"Step {k} of {n}")
    )
    bar.empty()
if best is not None:
    view.show_maximised(best, scores, channel)
view.sync_link(stage, cell)
