"""Why CNNs: shifts — slide the input and watch what follows: conv1's maps shift with it
(equivariance), the pooled maps only for whole cells, the answer only approximately. Top to
bottom as on the screen; the views are in explorer/ui/shift_lab.py, the numbers in
explorer/shift_lab.py."""

from __future__ import annotations

import streamlit as st

from explorer.shift_lab import COMPARED, FILL_SENTENCE
from explorer.ui import network as net
from explorer.ui import path, widgets
from explorer.ui import shift_lab as lab
from explorer.ui.network import NET
from explorer.ui.network_input import current_input, network_input

SECTIONS = {
    "input": "The input",
    "conv": "Convolution: the maps shift with the input",
    "pool": "Pooling: only whole cells shift",
    "answer": "The answer, as the image slides",
    "summary": "Measured over many images",
}

widgets.use_app_navigation()
show, ctx = net.network_page(
    "why_translation",
    "Why CNNs: shifts",
    "“CNNs are translation invariant”, the tutorials say: move the object and the network "
    "still sees it. Try it. Slide the picture a few pixels and follow the shift through the "
    "network — into conv1's maps, through each pooling, to the answer. Every number is "
    "computed live from the network.",
    SECTIONS,
    page_state=lab.SHIFT,
)

left, right = st.columns([2, 3], gap="large")
with left:
    if show.shows("input") or NET.get().input != "gallery":
        inp = network_input(ctx)
    else:
        inp = current_input(ctx, NET.get())
if inp is None:
    st.stop()
with right:
    state = lab.shift_controls()
    st.caption(FILL_SENTENCE)
    screen = widgets.guarded(
        lambda: lab.lab_screen(ctx, inp, state.dx, state.dy, state.axis, state.map)
    )
    if screen is None:
        st.stop()
    lab.show_inputs(screen)
    st.markdown(lab.answer_line(screen, ctx.classes))
    st.markdown(lab.glance_table(screen))
    st.caption(lab.GLANCE_CAPTION)

if show.shows("conv"):
    st.header(SECTIONS["conv"])
    lab.map_picker()
    lab.show_stage(screen, "conv1")
    st.markdown(lab.stage_sentence(screen, "conv1"))
    st.caption(
        "Colours: the two maps share one colour range; the difference uses blue–white–red on "
        "that same range, so white is exactly 0 and a difference looks as large as it is next "
        "to the maps. Grey: no cell to compare (it left the picture). The outline marks the "
        "interior: cells whose receptive field lies inside the picture in both inputs, where "
        "neither the padding nor the fill reaches."
    )

if show.shows("pool"):
    st.header(SECTIONS["pool"])
    st.markdown(
        "Each 2×2 max-pool keeps every second row and column, so after pool1 a cell stands for "
        "2 pixels, after pool2 for 4 and after pool3 for 8. A shift by a whole number of those "
        "cells is still a shift of the maps (0 inside the outline again); any other shift "
        "lands between the cells, and no shift of the maps matches."
    )
    for stage in COMPARED[1:]:
        lab.show_stage(screen, stage)

if show.shows("answer"):
    st.header(SECTIONS["answer"])
    st.plotly_chart(
        lab.curve_figure(ctx, inp, state.dx, state.dy, state.axis, state.map),
        width="stretch",
        key="shift_curve",
        config={"displayModeBar": False},
    )
    st.markdown(lab.curve_caption(screen, ctx.classes))

if show.shows("summary"):
    st.header(SECTIONS["summary"])
    panel = st.fragment(
        lab.summary_panel, run_every=lab.POLL_S if lab.summary_pending(ctx) else None
    )
    panel(ctx)

net.keep_address({**NET.get().to_query("session"), **lab.SHIFT.get().to_query(), **show.query()})
net.link_note(NET.get())
path.page_end(__file__)
widgets.presenter_controls("why_translation", SECTIONS, show)
