"""Browser-side pieces, shipped as inline strings (no build step, no asset directory).

``PLAYER_HTML``, ``PLAYER_CSS`` and ``PLAYER_JS`` are the convolution player's markup, styles
and ES module (its default export is the component's entry point); ``explorer.ui`` registers
them with ``st.components.v2.component``. Nothing here imports Streamlit.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _read(name: str) -> str:
    return (_HERE / name).read_text(encoding="utf-8")


PLAYER_HTML: str = _read("player.html")
PLAYER_CSS: str = _read("player.css")
PLAYER_JS: str = _read("player.js")
