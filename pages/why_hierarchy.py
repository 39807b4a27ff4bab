"""Why CNNs: a hierarchy of features — how far one unit of each stage sees, then a tour of
conv1, conv2 and conv3: for the maps a computed rule chooses, the gallery images that excite
them most and an input optimised to excite them. Top to bottom as on the screen; the views are
in explorer/ui/hierarchy.py, the numbers in explorer/hierarchy.py."""

from __future__ import annotations

import streamlit as st

from explorer.hierarchy import TOUR_STAGES, field_tour
from explorer.samples import gallery, load_gallery_image
from explorer.ui import heavy, path, widgets
from explorer.ui import hierarchy as view
from explorer.ui import network as net
from explorer.ui.network import NET
from explorer.ui.network_input import current_input

SECTIONS = {
    "fields": "How far one unit sees",
    "conv1": "conv1",
    "conv2": "conv2",
    "conv3": "conv3",
}

widgets.use_app_navigation()
show, ctx = net.network_page(
    "hierarchy",
    "Why CNNs: a hierarchy",
    "Each layer of a CNN looks at the maps of the layer before, so each sees a larger piece of "
    "the image and can combine simpler patterns into more complex ones: colours and edges, then "
    "textures, then parts. Below, first how far one unit of each stage sees, then a tour of "
    "the three convolutions on this network: for a few of their maps, the gallery images that "
    "excite them most and an input made to excite them.",
    SECTIONS,
    page_state=view.HIER,
)

if show.shows("fields"):
    st.header("How far one unit sees")
    inp = current_input(ctx, NET.get())
    if inp is None:  # a drawing or an upload not made yet: a gallery image stands in
        item = gallery(ctx.dataset)[0]
        image, source = load_gallery_image(item), f"a gallery {item.label_name}"
    else:
        image, source = inp.image, inp.description
    view.show_fields(image, field_tour(), source)

state = view.controls()
pending = heavy.Pending()  # the made inputs: one job for the page, shared by every session
for stage in TOUR_STAGES:
    if show.shows(stage):
        view.show_stage(pending, ctx, stage, state)

net.keep_address({**NET.get().to_query("session"), **view.HIER.get().to_query(), **show.query()})
net.link_note(NET.get())
path.page_end(__file__)
widgets.presenter_controls("hierarchy", SECTIONS, show)
pending.settle()  # last: the page is drawn; each made input fills its place as it comes
