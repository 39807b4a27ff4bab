"""CNN Explorer — entry point for `streamlit run app.py`: page set-up and navigation only."""

import os
from pathlib import Path

import streamlit as st

from explorer.ui import warm, widgets

# One torch thread per process on a shared server: every student's run is a thread of this one
# process, and torch's default (one thread per core) makes concurrent work fight over the cores
# (one activation maximisation on a busy 2-core server: 63.5 s with 2 threads, 2.3 s with 1).
# Set before torch is first imported; long work runs in worker processes (explorer.jobs).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# pandas whole before any page runs: plotly looks it up in sys.modules without the import lock,
# so a chart drawn while another session is importing pandas for the first time would find it
# half-made ("partially initialized module 'pandas' has no attribute 'Series'").
import pandas  # noqa: E402, F401

# The pages, in the beginner's path (imports torch, through the glossary: after the cap above).
from explorer.learning_path import navigation  # noqa: E402

# The tab's icon is our own SVG, sent inline as a data: URL. A ":material/…:" page icon makes the
# browser fetch the icon from Google's font server (fonts.gstatic.com), which an offline
# classroom cannot reach (tests/browser/test_offline.py). The Material icons of st.Page and the
# pages are fine: they are drawn with the font Streamlit serves itself.
ICON = Path(__file__).resolve().parent / "assets" / "icon.svg"
st.set_page_config(page_title="CNN Explorer", page_icon=ICON, layout="wide")

pages = [
    st.Page(p.page, title=p.title, icon=p.icon, default=i == 0) for i, p in enumerate(navigation())
]
widgets.visible_focus()
warm.start_warming()  # the gallery's Feature maps pictures, once, in the background
# Every picture in the app is pixel data (maps, inputs, kernels), sent near its true size and
# scaled by the browser: nearest-neighbour keeps each value a crisp square instead of a blur.
st.html("<style>[data-testid='stImage'] img { image-rendering: pixelated; }</style>")
st.navigation(pages).run()
