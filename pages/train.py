"""Train it yourself: SimpleCNN learns in front of the class — the curves, conv1's filters and
maps, and the mistakes as they change — then joins the network pages as "Your network". Top to
bottom as on the screen; the widgets are in explorer/ui/train.py."""

from __future__ import annotations

import streamlit as st

from explorer.training_data import load_held_out
from explorer.ui import path, widgets
from explorer.ui import replay as replay_view
from explorer.ui import train as ui

SECTIONS = {
    "settings": "The settings",
    "after": "Your network, afterwards",
    "replay": "Replay: how the shipped network learned",
}

widgets.use_app_navigation()
ui.read_link()
show = widgets.presenter("train", SECTIONS)
widgets.page_header(
    "Train it yourself",
    "Watch SimpleCNN learn: press **Start** and the network sees the training images a batch "
    "at a time, nudging every weight to make its answers a little less wrong. The curves show "
    "how wrong it still is on the images it trains on and on **held-out** images it never "
    "sees in training — the honest test.",
    presenting=show.on,
)
for warning in ui.TRAIN.warnings():
    widgets.warning(warning, icon=":material/link:")

job = ui.current_job()
state = ui.TRAIN.get()
data = widgets.guarded(lambda: load_held_out(state.dataset, state.full_data))
if data is None:
    st.stop()
ui.controls(job)
if "train_start_error" in st.session_state:
    widgets.error(st.session_state.pop("train_start_error"))
if show.shows("settings"):
    ui.set_up(data, disabled=job is not None and job.active)

live = st.fragment(ui.live_panel, run_every=ui.POLL_S if job is not None and job.active else None)
live()

if job is not None and job.status == "done" and show.shows("after"):
    st.subheader("Your network, afterwards")
    ui.use_trained(job)

if show.shows("replay"):
    replay_view.show_replay(state.dataset)

ui.keep_address({**show.query(), **replay_view.replay_query()})
st.caption(
    ":material/link: The address bar holds every setting of this run: the same link trains "
    "the same network, number for number, on any machine's CPU."
)
path.page_end(__file__)
widgets.presenter_controls("train", SECTIONS, show)
