"""Why CNNs: shared weights — one kernel used at every position, edited live, and what the
sharing saves, counted on the live model. Top to bottom as on the screen; the widgets and
views are in explorer/ui/sharing.py."""

from __future__ import annotations

import streamlit as st

from explorer.sharing import learned_kernel
from explorer.ui import network as net
from explorer.ui import path, widgets
from explorer.ui import sharing as ui
from explorer.ui.network import NET
from explorer.ui.network_input import current_input

SECTIONS = {
    "input": "The input image",
    "lab": "One kernel, every position",
    "counts": "What sharing saves",
    "where": "Where the parameters are",
}

widgets.use_app_navigation()
show, ctx = net.network_page(
    "sharing",
    "Why CNNs: shared weights",
    "A convolution slides **one** small kernel over the whole image: the same nine weights "
    "at every position. Change one of them and every output changes; and because the weights "
    "are shared, a convolution needs a few hundred numbers where a layer with a kernel of its "
    "own at every position needs about a million. Both are shown below on the network itself.",
    SECTIONS,
    page_state=ui.SHARE,
)

st.header("One kernel, every position")
st.markdown(
    "The kernel is one of conv1's learned filters, on one colour channel of the input. Type "
    "a new number into any of its nine weights and compare the output map before and after."
)
inp = ui.input_chooser(ctx) if show.shows("input") else current_input(ctx, NET.get())
if inp is not None and show.shows("lab"):  # no drawing yet: the counts below still stand
    editor, picture = st.columns(2, gap="large")
    with editor:
        ui.kernel_controls()
        state = ui.SHARE.get()
        ui.kernel_editor(learned_kernel(ctx.cpu_model, state.filter, state.channel))
        ui.change_summary(ui.lab(ctx, inp, ui.SHARE.get()))
    with picture:
        ui.input_view(ctx, inp)
    ui.maps_view(ctx, inp)

if show.shows("counts"):
    st.header("What sharing saves")
    st.markdown(
        "The same three layers, counted three ways: as SimpleCNN has them (**shared**: one "
        "kernel per filter, used at every position), with kernels of their own at every "
        "position (**locally connected**), and as **dense** layers that connect every number "
        "of the input maps to every number of the output maps."
    )
    ui.counts_view(ctx)

if show.shows("where"):
    st.header("Where the network's parameters are")
    ui.where_view(ctx)

net.keep_address({**NET.get().to_query("session"), **ui.SHARE.get().to_query(), **show.query()})
net.link_note(NET.get())
path.page_end(__file__)
widgets.presenter_controls("sharing", SECTIONS, show)
