"""What the thumbnail grids (the gallery, a layer's maps) cost: bytes a tab receives per run and
the server's time in the grid calls.

    python -m bench.bench_thumbnails

1. **Bytes.** One tab speaks Streamlit's websocket protocol to a real server (bench/bench_load's
   ``Tab``: it tells the server which large messages it holds, so the server sends references to
   those) through a Feature maps visit: open it at conv3, a rerun that changes nothing in the
   grids, another layer, a click on a map, another gallery image, and a rerun of nothing again.
   Per step: the bytes of the grids' own messages, of everything else, and of the pictures the
   grids load over HTTP (``/media``; a browser fetches a URL once, then reuses it).
2. **Server time.** The same visit in-process (AppTest): the time spent in ``map_picker`` and
   ``gallery_picker`` per run, beside the whole run's time.

Nothing is asserted; the figures are for people (and the report of the change that made them).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from bench.bench_load import PageState, Tab, rerun_message, selectbox_choice
from scripts.server import running_server

GRIDS = ("net_map_grid", "net_gallery_grid")
PAGE = "feature_maps"


class CountingState(PageState):
    """A tab's state that also counts, per run, the bytes of the grids' messages (a reference to
    a held message counts as what was sent: the reference)."""

    def __init__(self) -> None:
        super().__init__()
        self.grid_bytes = 0
        self.other_bytes = 0
        self.sprites: list[str] = []

    def absorb(self, raw: bytes) -> bool:
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        shown = msg
        if msg.WhichOneof("type") == "ref_hash" and msg.ref_hash in self.cache:
            shown = ForwardMsg()
            shown.ParseFromString(self.cache[msg.ref_hash])
        grid = _grid_of(shown)
        if grid is not None:
            self.grid_bytes += len(raw)
            self.sprites += _sprite_urls(shown)
        else:
            self.other_bytes += len(raw)
        return super().absorb(raw)


def _grid_of(msg: ForwardMsg) -> str | None:
    if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
        return None
    element = msg.delta.new_element
    kind = element.WhichOneof("type")
    widget_id = getattr(getattr(element, kind), "id", "") if kind else ""
    return next((g for g in GRIDS if isinstance(widget_id, str) and widget_id.endswith(g)), None)


def _sprite_urls(msg: ForwardMsg) -> list[str]:
    element = msg.delta.new_element
    if element.WhichOneof("type") != "bidi_component" or not element.bidi_component.json:
        return []
    data = json.loads(element.bidi_component.json)
    return [data["sheet"]] if isinstance(data, dict) and data.get("sheet") else []


def _click_state(widget: Any, index: int) -> WidgetState:
    """A click on thumbnail ``index`` of a grid, as the browser reports it."""
    if widget.DESCRIPTOR.name == "BidiComponent":  # the thumbnails component: a trigger
        data = json.loads(widget.json)
        key = data["items"][index][0]
        state = WidgetState(id=f"$$STREAMLIT_INTERNAL_KEY_{widget.id}__events")
        state.json_trigger_value = json.dumps([{"event": "pick", "value": {"key": key, "n": 1}}])
        return state
    cols = 8  # the data table: single-cell selection, 8 maps a row
    state = WidgetState(id=widget.id)
    cell = [[index // cols, str(index % cols)]]
    state.string_value = json.dumps({"selection": {"rows": [], "columns": [], "cells": cell}})
    return state


async def _visit(server: Any) -> list[dict]:
    import random

    rng = random.Random(0)
    tab = Tab(server, fetch_media=False)
    tab.state = CountingState()
    fetched: set[str] = set()
    rows: list[dict] = []

    async def run(name: str, request: bytes) -> None:
        state = tab.state
        assert isinstance(state, CountingState)
        state.grid_bytes = state.other_bytes = 0
        state.sprites = []
        await tab.ws.send(request)
        await tab._until_finished()
        new = [u for u in dict.fromkeys(state.sprites) if u not in fetched]
        sizes = await _media_sizes(server.url, new)
        fetched.update(new)
        rows.append(
            {
                "step": name,
                "grid_bytes": state.grid_bytes,
                "sprite_bytes": sum(sizes),
                "other_bytes": state.other_bytes,
                "errors": list(state.errors),
            }
        )
        state.errors.clear()

    import websockets

    tab.ws = await websockets.connect(server.ws_url, subprotocols=["streamlit"], max_size=None)
    state = tab.state
    state.query_string = "layer=conv3"
    await run("open at conv3", rerun_message(page_name=PAGE, query_string="layer=conv3"))

    def again(widgets: list[WidgetState] | None = None) -> bytes:
        return rerun_message(
            page_hash=state.page_hash,
            query_string=state.query_string,
            widgets=list(tab.changed.values()) + (widgets or []),
            cached=list(state.cache),
        )

    await run("rerun, grids unchanged", again())
    tab.changed["net_layer"] = selectbox_choice(state.widgets["net_layer"], rng)
    await run("another layer", again())
    await run("click map 19", again([_click_state(state.widgets["net_map_grid"], 19)]))
    tab.changed["net_image"] = selectbox_choice(state.widgets["net_image"], rng)
    await run("another gallery image", again())
    await run("rerun, grids unchanged", again())
    await tab.close()
    return rows


async def _media_sizes(base_url: str, paths: list[str]) -> list[int]:
    """Bytes of each picture at ``paths`` (GET, one after another)."""
    import urllib.request

    sizes = []
    for path in paths:
        with urllib.request.urlopen(base_url + path) as response:  # noqa: S310 (our server)
            sizes.append(len(response.read()))
    return sizes


def bytes_per_run() -> list[dict]:
    with running_server() as server:
        rows = asyncio.run(_visit(server))
    print("step                      grids (B)  their pictures (B)  rest of the page (B)")
    for r in rows:
        print(
            f"{r['step']:<25} {r['grid_bytes']:>9,} {r['sprite_bytes']:>19,} "
            f"{r['other_bytes']:>21,}" + (f"  errors: {r['errors']}" if r["errors"] else "")
        )
    return rows


def server_time(runs: int = 8) -> dict:
    """Median ms per run in the two grid calls and in the whole run (AppTest, in-process)."""
    import sys

    from streamlit.testing.v1 import AppTest

    spent: list[float] = []

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - t0)

        return wrapper

    at = AppTest.from_file("../pages/feature_maps.py", default_timeout=120)
    at.query_params["layer"] = "conv3"
    at.run()  # imports the page's modules (a component registers itself only inside a run)
    fm, ni = sys.modules["explorer.ui.feature_maps"], sys.modules["explorer.ui.network_input"]
    originals = fm.map_picker, ni.gallery_picker
    fm.map_picker, ni.gallery_picker = timed(fm.map_picker), timed(ni.gallery_picker)
    try:
        grids, whole = [], []
        for _ in range(runs):
            spent.clear()
            t0 = time.perf_counter()
            at.run()
            whole.append(time.perf_counter() - t0)
            grids.append(sum(spent))
            assert not at.exception, at.exception
    finally:
        fm.map_picker, ni.gallery_picker = originals
    row = {
        "grid_ms": 1000 * statistics.median(grids),
        "run_ms": 1000 * statistics.median(whole),
    }
    print(
        f"server time, median of {runs} reruns at conv3: the two grid calls "
        f"{row['grid_ms']:.1f} ms of a {row['run_ms']:.0f} ms run "
        f"({row['grid_ms'] / row['run_ms']:.1%})"
    )
    return row


def run() -> list[dict]:
    rows = bytes_per_run()
    return [*rows, server_time()]


if __name__ == "__main__":
    run()
