"""Browser-side pieces, shipped as inline strings (no build step, no asset directory).

``PLAYER_HTML``, ``PLAYER_CSS`` and ``PLAYER_JS`` are the convolution player's markup, styles
and ES module (its default export is the component's entry point); ``explorer.ui.player``
registers them with ``st.components.v2.component``. Nothing here imports Streamlit.

The module is plain files joined in order (no build step): ``player_state.js``, the pure part
(numbers, pace, keys, the play state, the quiz; no DOM, so Node can run it alone:
``PLAYER_STATE_JS``), then the view, one idea a file (``PLAYER_VIEW_FILES``): reading the
payload, the colours, the player's layout, its two grids, its written arithmetic and screen
reader's words, its controls, its "your turn" — and last ``player.js``, the player itself and
the entry point, which mixes the methods of the files before it into the player.

``THUMBNAILS_*`` are the thumbnail grid's (``thumbnails/``), registered by
``explorer.ui.thumbnails``: ``thumbnails_state.js`` (pure, Node runs it alone) then
``thumbnails.js`` (the view and the entry point).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _read(name: str) -> str:
    return (_HERE / name).read_text(encoding="utf-8")


PLAYER_HTML: str = _read("player.html")
PLAYER_CSS: str = _read("player.css")
PLAYER_STATE_JS: str = _read("player_state.js")
PLAYER_VIEW_FILES: tuple[str, ...] = (
    "player_payload.js",  # explorer/player.py's bytes, read
    "player_colours.js",  # colour maps and readable text on any cell
    "player_layout.js",  # the panels arranged for the width, the canvases sized
    "player_grids.js",  # the input and output canvases, the window over them
    "player_arithmetic.js",  # titles, the window's arithmetic, the screen reader's words
    "player_controls.js",  # buttons, keys, pointer, the play loop, reports to Python
    "player_quiz.js",  # "your turn"
    "player.js",  # the Player and the entry point (the module's default export): last
)
PLAYER_JS: str = "\n".join([PLAYER_STATE_JS, *(_read(name) for name in PLAYER_VIEW_FILES)])

# The thumbnail grid (thumbnails/): the gallery, a layer's maps, the playground's samples.
# Its pure part (keys, rows, sheet positions, clicks; no DOM) comes first, as for the player.
THUMBNAILS_HTML: str = _read("thumbnails/thumbnails.html")
THUMBNAILS_CSS: str = _read("thumbnails/thumbnails.css")
THUMBNAILS_STATE_JS: str = _read("thumbnails/thumbnails_state.js")
THUMBNAILS_JS: str = "\n".join([THUMBNAILS_STATE_JS, _read("thumbnails/thumbnails.js")])
