"""Browser-side pieces, shipped as inline strings (no build step, no asset directory).

``PLAYER_HTML``, ``PLAYER_CSS`` and ``PLAYER_JS`` are the convolution player's markup, styles
and ES module (its default export is the component's entry point); ``explorer.ui.player``
registers them with ``st.components.v2.component``. Nothing here imports Streamlit.

The module is two files joined: ``player_state.js``, the pure part (numbers, pace, keys, the
play state, the quiz; no DOM, so Node can run it alone: ``PLAYER_STATE_JS``), then
``player.js``, the drawing and the entry point, which uses the first file's functions.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _read(name: str) -> str:
    return (_HERE / name).read_text(encoding="utf-8")


PLAYER_HTML: str = _read("player.html")
PLAYER_CSS: str = _read("player.css")
PLAYER_STATE_JS: str = _read("player_state.js")
PLAYER_JS: str = PLAYER_STATE_JS + "\n" + _read("player.js")
