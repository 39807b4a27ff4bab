"""Pictures as a clickable grid (the gallery, a layer's maps, the playground's samples): a
st.components.v2 component (explorer/components/thumbnails/) that wraps its thumbnails to the
width — no table, no scroll box — and reports a click as a trigger, so every click is one event,
a repeated one and one made while the page is still running included.

The pictures travel as one sprite sheet (explorer.thumbnail_sheet), made once per content by
the caches and served once as a /media file that the browser keeps: a rerun sends the grid's
keys, names and choice, never the pictures again. A click calls ``pick(key)`` before the rerun,
like a widget's callback; what the browser reports is checked like a link's value (a key the
grid did not offer is ignored).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from explorer.components import THUMBNAILS_CSS, THUMBNAILS_HTML, THUMBNAILS_JS
from explorer.thumbnail_sheet import ThumbnailSheet
from explorer.ui.widgets import media_url

if TYPE_CHECKING:  # the network's modules import torch: the playground's grid does without
    from explorer.network_state import NetworkState

ss = st.session_state
MAP_TILE_PX = 48  # the smallest a map's thumbnail is drawn; the grid stretches them to fill
GALLERY_TILE_PX = 64

# Registered once, at import (as the player is): registering per call re-registers every run.
_thumbnails_component = st.components.v2.component(
    "cnn_explorer.thumbnails", html=THUMBNAILS_HTML, css=THUMBNAILS_CSS, js=THUMBNAILS_JS
)


@dataclass(frozen=True)
class Thumbnail:
    """One picture of a grid: its ``key`` (what a click reports), its accessible ``name`` (read
    out by a screen reader, shown on hover) and an optional ``caption`` shown under it."""

    key: str
    name: str
    caption: str = ""


def read_pick(value: object, keys: Collection[str]) -> str | None:
    """The key a click reported (``{"key": str, "n": the click's number}``), or None for
    anything else a browser could send: not a mapping, no text key, a key not offered."""
    if not isinstance(value, Mapping):
        return None
    key = value.get("key")
    return key if isinstance(key, str) and key in keys else None


def sheet_url(sheet: ThumbnailSheet, key: str) -> str:
    """The sheet's address on this server. Its media file id is the hash of its bytes, so the
    same pictures keep the same address from run to run and the browser fetches them once."""
    return media_url(sheet.png, "image/png", f"thumbnails.{key}")


def thumbnail_payload(
    sheet_address: str,
    sheet: ThumbnailSheet,
    items: Sequence[Thumbnail],
    chosen: str | None,
    label: str,
    tile_px: int,
    crisp: bool,
) -> dict:
    """What the component is given: small, and the same from run to run unless the choice,
    the pictures or the items change."""
    if len(items) != sheet.count:
        raise ValueError(f"{len(items)} thumbnails for a sheet of {sheet.count} pictures")
    return {
        "label": label,
        "sheet": sheet_address,
        "columns": sheet.columns,
        "rows": sheet.rows,
        "items": [[t.key, t.name, t.caption] for t in items],
        "selected": chosen,
        "tile": tile_px,
        "crisp": crisp,
    }


def thumbnail_grid(
    sheet: ThumbnailSheet,
    items: Sequence[Thumbnail],
    chosen: str | None,
    pick: Callable[[str], None],
    *,
    key: str,
    label: str,
    tile_px: int,
    crisp: bool = True,
) -> None:
    """``items`` (tile i of ``sheet`` each) as a grid under the accessible group name
    ``label``, at least ``tile_px`` CSS px a thumbnail, ``chosen`` marked; clicking one calls
    ``pick(its key)``. ``crisp``: enlarge with square pixels (maps, 32×32 images)."""
    keys = frozenset(item.key for item in items)

    def picked() -> None:
        reported = ss.get(key)
        found = read_pick(reported.get("pick") if isinstance(reported, Mapping) else None, keys)
        if found is not None:
            pick(found)

    _thumbnails_component(
        key=key,
        data=thumbnail_payload(sheet_url(sheet, key), sheet, items, chosen, label, tile_px, crisp),
        on_pick_change=picked,
        height="content",
    )


def map_picker(thumbnails: ThumbnailSheet, state: NetworkState) -> None:
    """The maps of a layer as thumbnails (map 0 first, as many a row as fit); clicking one makes
    it the enlarged map."""
    from explorer.ui.network import NET

    def pick(index: str) -> None:
        NET.put(NET.get().choose("map", int(index)))

    items = [Thumbnail(str(i), f"map {i}") for i in range(thumbnails.count)]
    label = f"The {thumbnails.count} maps of {state.layer}"
    thumbnail_grid(
        thumbnails,
        items,
        str(state.map),
        pick,
        key="net_map_grid",
        label=label,
        tile_px=MAP_TILE_PX,
    )


def gallery_picker(state: NetworkState) -> None:
    """The gallery as thumbnails with their true labels; clicking one picks it. The choice
    follows the state, so the picker and the list above always agree."""
    from explorer.samples import gallery
    from explorer.ui import content
    from explorer.ui.network import NET

    items = [
        Thumbnail(item.key, f"{item.label_name}, gallery image {i + 1}", item.label_name)
        for i, item in enumerate(gallery(state.dataset))
    ]

    def pick(key: str) -> None:
        NET.put(NET.get().choose("image", key))

    thumbnail_grid(
        content.gallery_thumbnails(state.dataset),
        items,
        state.gallery_item().key,
        pick,
        key="net_gallery_grid",
        label="Gallery: test images with their true labels",
        tile_px=GALLERY_TILE_PX,
    )
