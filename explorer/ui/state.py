"""A page's set-up kept as one frozen state object in the session, with widgets bound to it.

A widget's key holds its value only while the widget is on the screen (Streamlit drops it on
other pages); the state object holds it for the session. So every bound widget is given the
state's value before it is drawn, and its change callback writes the state back: one place
holds each choice, whichever page or click changed it last.

    NET = Bound("net_state", "net_", NetworkState, NETWORK_CHOICES)
    NET.choice(column.selectbox, "layer", "Layer")  # options and labels from the registry
    NET.number("map", "Map", 0, 31)
    NET.put(NET.get().choose("map", 5))             # a click elsewhere: the widgets follow
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import streamlit as st

from explorer.links import Choice

S = TypeVar("S")
ss = st.session_state


class Bound(Generic[S]):
    """The session's state object under ``key`` (``default()`` until something sets it), and
    widgets bound to its fields (widget key: ``prefix`` + field name)."""

    def __init__(
        self,
        key: str,
        prefix: str,
        default: Callable[[], S],
        choices: Mapping[str, Choice],
        on_put: Callable[[S, S], None] | None = None,
    ) -> None:
        """``on_put(old, new)``: what else must follow a change (say, a fresh editor)."""
        self.key, self.prefix, self.default, self.choices = key, prefix, default, choices
        self.on_put = on_put

    def get(self) -> S:
        if self.key not in ss:
            ss[self.key] = self.default()
        return ss[self.key]

    def put(self, new: S) -> None:
        """Make ``new`` the set-up; the student has moved on from a link's warnings."""
        old = self.get()
        if new != old:
            ss.pop(self.key + "_warnings", None)
            if self.on_put is not None:
                self.on_put(old, new)
        ss[self.key] = new

    def warn(self, warnings: list[str]) -> None:
        ss[self.key + "_warnings"] = list(warnings)

    def warnings(self) -> list[str]:
        """What the last link asked for that could not be used (until the set-up changes)."""
        return ss.get(self.key + "_warnings", [])

    def _change(self, name: str, value: Any) -> None:
        self.put(self.get().choose(name, value))  # type: ignore[attr-defined]

    def choice(
        self,
        widget: Callable[..., Any],
        name: str,
        label: str,
        *,
        options: list[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``widget`` (st.selectbox, st.radio, …) for the closed choice ``name``, with its
        options (all of the registry's unless given) and labels from the registry, bound to the
        state. A value the browser sends back that is not an option is refused by ``choose``
        (ValueError): the state keeps its value."""
        key = self.prefix + name
        labels = self.choices[name].labels
        offered = list(labels) if options is None else options
        value = getattr(self.get(), name)
        ss[key] = value if value in offered else offered[0]

        def on_change() -> None:
            picked = ss.get(key)
            if picked in offered:
                self._change(name, picked)

        return widget(
            label,
            offered,
            format_func=lambda v: labels.get(v, str(v)),
            key=key,
            on_change=on_change,
            **kwargs,
        )

    def number(
        self, name: str, label: str, low: int, high: int, *, where: Any = st, **kwargs: Any
    ) -> int:
        """A whole-number input for field ``name``, ``low``…``high``, bound to the state."""
        key = self.prefix + name
        ss[key] = min(max(int(getattr(self.get(), name)), low), high)

        def on_change() -> None:
            value = ss.get(key)
            if isinstance(value, int) and low <= value <= high:
                self._change(name, value)

        return int(
            where.number_input(label, low, high, step=1, key=key, on_change=on_change, **kwargs)
        )
