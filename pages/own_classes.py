"""Teach it your classes: a student's own classes and pictures, the shipped network's last layer
taught them in seconds, an honest held-out test, a new picture to try — and the result on the
network pages as "Your classes". Top to bottom as on the screen; the widgets are in
explorer/ui/own_classes.py."""

from __future__ import annotations

import streamlit as st

from explorer.ui import network, path, widgets
from explorer.ui import own_classes as ui

SECTIONS = {"classes": "Your classes and pictures", "try": "Try it on a new picture"}

widgets.use_app_navigation()
network.read_link(ui.OWN)
show = widgets.presenter("own", SECTIONS)
widgets.page_header(
    "Teach it your classes",
    "Make classes of your own — cups and pens, thumbs up and thumbs down, your drawings of "
    "suns and moons — with at least 5 pictures each. The shipped network keeps everything it "
    "has learned and only its **last layer** (fc2) learns your classes, from your pictures' "
    "features: that takes seconds, not minutes. One picture in five of each class is **held "
    "out** to test it honestly.",
    presenting=show.on,
)
for warning in ui.OWN.warnings():
    widgets.warning(warning, icon=":material/link:")

job = ui.current_job()
busy = job is not None and job.active
st.subheader("The network to start from")
ui.OWN.choice(
    st.radio,
    "base",
    "Start from",
    horizontal=True,
    disabled=busy,
    help="Its convolution layers and fc1 stay as they are: they turn every picture into 512 "
    "numbers, and only a new fc2 learns which numbers mean which of your classes.",
)
state = ui.OWN.get()
st.caption(
    "Why only fc2: letting fc1 learn too was measured (bench/bench_own_images.py). It helped "
    "a little on pictures unlike the network's own (digits through the photo network), was "
    "worse on pictures like them, and took several times longer; with a few pictures a class, "
    "fewer numbers to learn also means less room to learn the pictures by heart. "
    + (
        "The digit network knows white strokes on black: draw, or use pictures like that."
        if state.base == "mnist"
        else "The photo network knows small colour photographs: the camera or photos work best."
    )
)

if show.shows("classes"):
    st.subheader("Your classes")
    ui.class_cards(state.base, disabled=busy)

st.subheader("Train")
ui.train_controls(job)
live = st.fragment(ui.status_panel, run_every=ui.POLL_S if busy else None)
live()

taken = ui.take_result()
if taken is not None:
    st.subheader("How well it does on the held-out pictures")
    ui.held_out_view(taken)
    ui.use_elsewhere(taken["result"])
    if show.shows("try"):
        st.subheader("Try it on a new picture")
        ui.try_panel(taken["result"])

ui.keep_address(show.query())
st.caption(
    ":material/link: The address bar holds the network to start from and the seed; your "
    "pictures and class names cannot travel in a link (they stay in this browser session), so "
    "whoever opens it makes their own."
)
path.page_end(__file__)
widgets.presenter_controls("own", SECTIONS, show)
