"""Pictures as a clickable grid (the gallery, a layer's maps): ``st.dataframe`` with image
columns and single-cell selection. A click calls ``pick(i)`` before the rerun, like a widget's
callback; a selection the browser sends back is checked like a link's value (a cell that was
not offered is ignored, never indexed)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from explorer.network_state import NetworkState
from explorer.ui import content
from explorer.ui.network import NET

ss = st.session_state
MAP_GRID_COLUMNS = 8


def _select_cell(key: str, cell: list) -> None:
    """Show ``cell`` ([row, "column"]) selected in grid ``key``, and remember it: the browser
    may send this same selection back with another widget's change, and that is not a click."""
    if (ss.get(key) or {}).get("selection", {}).get("cells") != [cell]:
        ss[key] = {"selection": {"rows": [], "columns": [], "cells": [cell]}}
    ss[key + "_shown"] = cell


def clicked_cell(selection: object, shown: object, rows: int, cols: int) -> tuple[int, int] | None:
    """The (row, column) a grid's ``selection`` (as the browser sent it) says was clicked:
    None when it is the selection the page itself showed (``shown``), or anything but one
    cell of the ``rows``×``cols`` grid."""
    try:
        cells = selection.get("selection", {}).get("cells") or []  # type: ignore[attr-defined]
        if not cells or list(cells[0]) == list(shown or []):  # type: ignore[call-overload]
            return None
        row, col = cells[0]
        row, col = int(row), int(str(col))
    except (AttributeError, TypeError, ValueError):
        return None
    return (row, col) if 0 <= row < rows and 0 <= col < cols else None


def thumbnail_grid(
    urls: list[str],
    cols: int,
    chosen: int,
    pick: Callable[[int], None],
    key: str,
    row_px: int,
    max_rows: int | None = None,
    title: Callable[[int], str] = str,
) -> None:
    """Pictures (``urls``: PNG data URLs) as a grid, ``cols`` a row, the first top left, with
    picture ``chosen`` selected; clicking picture i calls ``pick(i)``."""
    import pandas as pd

    rows = -(-len(urls) // cols)
    cells = [
        [urls[r * cols + c] if r * cols + c < len(urls) else None for c in range(cols)]
        for r in range(rows)
    ]
    frame = pd.DataFrame(cells, columns=[str(c) for c in range(cols)])
    _select_cell(key, [chosen // cols, str(chosen % cols)])

    def picked() -> None:
        cell = clicked_cell(ss.get(key), ss.get(key + "_shown"), rows, cols)
        if cell is not None and cell[0] * cols + cell[1] < len(urls):
            pick(cell[0] * cols + cell[1])

    st.dataframe(
        frame,
        key=key,
        on_select=picked,
        selection_mode="single-cell",
        hide_index=True,
        row_height=row_px,
        height=min(max_rows or rows, rows) * row_px + 40,
        column_config={
            c: st.column_config.ImageColumn(title(int(c)), width="small") for c in frame.columns
        },
    )


def map_picker(thumbnails: list[str], state: NetworkState) -> None:
    """The maps of a layer as thumbnails (8 a row, map 0 top left); clicking one makes it the
    enlarged map."""

    def pick(index: int) -> None:
        NET.put(NET.get().choose("map", index))

    thumbnail_grid(thumbnails, MAP_GRID_COLUMNS, state.map, pick, "net_map_grid", 54, max_rows=6)


def gallery_picker(state: NetworkState) -> None:
    """The gallery as thumbnails, five a row; clicking one picks it. The selection follows the
    state, so the picker and the list above always agree."""
    from explorer.samples import gallery

    keys = [item.key for item in gallery(state.dataset)]

    def pick(index: int) -> None:
        NET.put(NET.get().choose("image", keys[index]))

    urls = [url for url, _ in content.gallery_thumbnails(state.dataset)]
    current = keys.index(state.gallery_item().key)
    thumbnail_grid(urls, 5, current, pick, "net_gallery_grid", 70, title=lambda _c: " ")
