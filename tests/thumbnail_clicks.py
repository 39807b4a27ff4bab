"""The thumbnail grid (explorer/ui/thumbnails.py) as AppTest sees it: what the component was
given, and a click on one of its thumbnails sent back as the browser sends it (a trigger)."""

from __future__ import annotations

import json
from typing import Any

from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

COMPONENT = "cnn_explorer.thumbnails"


def grid_element(at: AppTest, key: str) -> Any:
    """The grid ``key``'s element (its proto holds the payload and the widget id)."""
    found = [
        e
        for e in at.get("bidi_component")
        if e.proto.component_name == COMPONENT and e.proto.id.endswith(f"-{key}")
    ]
    assert len(found) == 1, f"{len(found)} thumbnail grids with key {key!r}"
    return found[0]


def grid_data(at: AppTest, key: str) -> dict:
    """The payload the page gave grid ``key``: label, sheet, columns, rows, items, selected…"""
    return json.loads(grid_element(at, key).proto.json)


def click_thumbnail(at: AppTest, key: str, item: str, n: int = 1, run: bool = True) -> AppTest:
    """A click on thumbnail ``item`` of grid ``key`` (the ``n``-th click in that grid), sent
    with the other widgets' values, as in the rerun the click starts. ``item`` may be any text:
    a forged click. ``run=False`` returns the widget states instead of running."""
    states = at._tree.get_widget_states()
    trigger = WidgetState(id=f"$$STREAMLIT_INTERNAL_KEY_{grid_element(at, key).proto.id}__events")
    trigger.json_trigger_value = json.dumps([{"event": "pick", "value": {"key": item, "n": n}}])
    states.widgets.append(trigger)
    return at._run(states) if run else states  # type: ignore[return-value]
