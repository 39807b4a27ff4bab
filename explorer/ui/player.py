"""The convolution player: a st.components.v2 component (inline HTML/CSS/JS from
explorer/components) that animates a window trace in the browser, without reruns."""

from __future__ import annotations

import streamlit as st

from explorer.components import PLAYER_CSS, PLAYER_HTML, PLAYER_JS
from explorer.convolution import WindowTrace
from explorer.player import player_payload

# Registered once, at import: registering per call would re-register on every rerun.
_conv_player_component = st.components.v2.component(
    "cnn_explorer.conv_player", html=PLAYER_HTML, css=PLAYER_CSS, js=PLAYER_JS
)


def conv_player(trace: WindowTrace, key: str, height: int | None = None) -> int | None:
    """Mount the window-by-window player for ``trace``; return the position (windows done,
    0…N) the browser last reported — on pause, step, scrub or jump, never while playing — or
    None before it has reported one.

    ``key`` keeps the player's state across reruns; ``height`` fixes its height in pixels
    (default: as tall as its content). Raises PlayerError (a UserError) for traces too large
    to animate.
    """
    state = st.session_state.get(key)
    last = state.get("position") if state is not None else None
    # A freshly mounted player (after the page was left and reopened) opens where it stopped;
    # the browser ignores `start` when only it changed, so reporting does not restart it.
    payload = player_payload(trace, start=last or 0)
    result = _conv_player_component(
        key=key,
        data=payload,
        default={"position": last},
        on_position_change=lambda: None,
        height=height if height is not None else "content",
    )
    position = result.get("position")
    return int(position) if position is not None else None


