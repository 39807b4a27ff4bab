"""The convolution player: a st.components.v2 component (inline HTML/CSS/JS from
explorer/components) that animates a window trace in the browser, without reruns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from explorer.components import PLAYER_CSS, PLAYER_HTML, PLAYER_JS
from explorer.convolution import WindowTrace
from explorer.player import (
    interesting_start,
    player_payload,
    read_score,
    read_view,
    trace_id,
)

# Registered once, at import: registering per call would re-register on every rerun.
_conv_player_component = st.components.v2.component(
    "cnn_explorer.conv_player", html=PLAYER_HTML, css=PLAYER_CSS, js=PLAYER_JS
)


def _memory_key(key: str) -> str:
    # A plain session-state entry, not the component's: Streamlit drops a widget's state when
    # a run does not draw it (the user is on another page), this one outlives that.
    return f"{key}__remembered"


def conv_player(
    trace: WindowTrace,
    key: str,
    height: int | None = None,
    *,
    start: int | None = None,
    presenter: bool = False,
    test_hooks: bool = False,
) -> int | None:
    """Mount the window-by-window player for ``trace``; return the position (windows done,
    0…N) the browser last reported for this trace — on pause, step, scrub or jump, never while
    playing — or None before it has reported one.

    ``key`` keeps the player's state across reruns, and (under ``key + "__remembered"``) its
    position, chosen speed and "your turn" score across page visits: a reopened page opens
    where it stopped, as long as the trace is the same. ``start``: the position a new trace
    opens at (default ``interesting_start(trace)``, a window where something happens); a
    remembered position wins. ``presenter``: the projector layout (the arithmetic ≥ 24 px,
    the whole player on one 1280×720 screen). ``test_hooks``: expose ``window.__playerTest``
    (browser tests and benches only). ``height`` fixes the height in pixels (default: as tall
    as its content). Raises PlayerError (a UserError) for traces too large to animate.
    """
    this_trace = trace_id(trace)
    memory: dict[str, Any] = dict(st.session_state.get(_memory_key(key)) or {})
    reported = st.session_state.get(key)
    if not isinstance(reported, Mapping):
        reported = {}
    # What the browser reported last (this run's component state) is newer than the memory.
    # A browser can send anything: only values that pass read_view/read_score are kept.
    view = read_view(reported.get("view"))
    if view is not None:
        memory.update(trace=view.trace, position=view.position, speed=view.speed)
    score = read_score(reported.get("score"))
    if score is not None:
        memory["score"] = score
    st.session_state[_memory_key(key)] = memory

    remembered = memory.get("position") if memory.get("trace") == this_trace else None
    if remembered is not None:
        remembered = min(remembered, trace.n_windows)  # checked ≥ 0; a forged one may pass N
        opening = remembered
    elif start is not None:
        opening = start
    else:
        opening = interesting_start(trace)
    payload = player_payload(
        trace,
        start=opening,
        presenter=presenter,
        test_hooks=test_hooks,
        speed=memory.get("speed"),
        score=memory.get("score", (0, 0)),
    )
    _conv_player_component(
        key=key,
        data=payload,
        default={"view": None, "score": None},
        on_view_change=lambda: None,
        on_score_change=lambda: None,
        height=height if height is not None else "content",
    )
    return remembered


def conv_player_score(key: str) -> tuple[int, int]:
    """The "your turn" score of the player under ``key`` this session: (right, asked)."""
    right, asked = (st.session_state.get(_memory_key(key)) or {}).get("score", (0, 0))
    return int(right), int(asked)
