"""Links to the Inside page's arithmetic, from any page: they carry the session's weights and
input with the cell, so the number explained there is the number the student clicked on."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from explorer.network_state import InsideState
from explorer.ui import widgets
from explorer.ui.network import NET

ss = st.session_state


def link_params(
    stage: str, cell: tuple[int, ...], target: int | None = None, channel: int | None = None
) -> dict[str, str]:
    """The query of a link to the Inside page that opens ``cell`` of ``stage`` (and the class
    the attributions explain, the conv3 map of its last section) with the session's weights
    and input."""
    inside = InsideState(target=target, channel=channel or 0).at(stage, cell)
    return {**NET.get().to_query("session"), **inside.to_query()}


def link_here(
    label: str, stage: str, cell: tuple[int, ...], target: int | None = None, **kwargs: Any
) -> None:
    """A link to the arithmetic of ``cell`` of ``stage`` on the Inside page, e.g.
    ``link_here("How was this number made?", "conv2", (5, 3, 4))`` or, from a prediction,
    ``link_here("Which pixels made it say cat?", "softmax", (3,), target=3)``."""
    params = {**link_params(stage, cell, target), **widgets.presenter_query()}
    try:
        st.page_link(
            "pages/inside.py",
            label=label,
            icon=":material/calculate:",
            query_params=params,
            **kwargs,
        )
    except StreamlitPageNotFoundError:
        # A page run on its own, outside app.py's navigation (AppTest runs pages that way):
        # a plain link to the page's address does the same.
        st.markdown(f":material/calculate: [{label}](inside?{urlencode(params)})")
