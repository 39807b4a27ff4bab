"""The shift lab's set-up as one small, frozen, Streamlit-free object, like ``TrainState``: the
shift, the axis the probability curve follows and the conv1 map shown, so that the address bar
is a link to the same experiment (the weights and the input travel as the session's, in
``NetworkState``).

    state, warnings = ShiftState.from_query({"dx": "3", "dy": "-2"})
    state.step("x", +1).to_query()   # {"dx": "4", "dy": "-2", "axis": "x", "smap": "0"}

Shifts are signed, which the app-wide ``LinkReader.whole`` (ASCII digits only) does not read,
so a shift is read here: an optional minus sign ("-" or "−") and ASCII digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from explorer.links import Choice, LinkReader, parse_whole
from explorer.shift_lab import SHIFT_LIMIT

CONV1_MAPS = 32  # conv1 has 32 maps in every SimpleCNN

#: The shift lab's closed choices: field name → link parameter and labels.
SHIFT_CHOICES: dict[str, Choice] = {
    "axis": Choice("axis", {"x": "Left–right (x)", "y": "Up–down (y)"}),
}
SHIFT_PARAMS = {"dx": "dx", "dy": "dy"}  # field → link parameter
MAP_PARAM = "smap"


@dataclass(frozen=True)
class ShiftState:
    """The lab's set-up. Defaults: no shift (the student starts from the picture as it is),
    the curve along x, conv1's first map."""

    dx: int = 0  # pixels right (negative: left)
    dy: int = 0  # pixels down (negative: up)
    axis: str = "x"
    map: int = 0

    def choose(self, name: str, value: Any) -> ShiftState:
        """This state with ``name`` set to ``value`` (ValueError for anything not offered). A
        shift along an axis makes it the curve's axis: the curve follows what was moved."""
        whole = isinstance(value, int) and not isinstance(value, bool)
        if name in SHIFT_PARAMS:
            if not whole or abs(value) > SHIFT_LIMIT:
                raise ValueError(f"{value!r} is not a shift from {-SHIFT_LIMIT} to {SHIFT_LIMIT}")
            return replace(self, **{name: value, "axis": name[1]})
        if name == "map":
            if not whole or not 0 <= value < CONV1_MAPS:
                raise ValueError(f"{value!r} is not a conv1 map number")
            return replace(self, map=value)
        if name == "axis":
            if value not in SHIFT_CHOICES["axis"].labels:
                raise ValueError(f"{value!r} is not an axis")
            return replace(self, axis=value)
        raise ValueError(f"{name!r} is not a field")

    def step(self, axis: str, by: int) -> ShiftState:
        """The shift along ``axis`` ("x" or "y") moved by ``by`` pixels, kept within the limit."""
        name = "d" + axis
        value = getattr(self, name) + by
        return self.choose(name, max(-SHIFT_LIMIT, min(SHIFT_LIMIT, value)))

    def to_query(self) -> dict[str, str]:
        """Every field, default or not: a link followed inside a session must set the shift,
        not keep whatever the session had."""
        return {"dx": str(self.dx), "dy": str(self.dy), "axis": self.axis, MAP_PARAM: str(self.map)}

    @classmethod
    def from_query(
        cls, params: Mapping[str, object], base: ShiftState | None = None
    ) -> tuple[ShiftState, list[str]]:
        """(``base`` or the default, with what the link sets; one sentence per value ignored)."""
        read = LinkReader(params)
        changes: dict[str, Any] = {}
        for name, param in SHIFT_PARAMS.items():
            text = read.text(param)
            if text is None:
                continue
            value = parse_shift(text)
            if value is None:
                read.ignore(
                    param,
                    text,
                    f"it must be a whole number of pixels from {-SHIFT_LIMIT} to {SHIFT_LIMIT}",
                )
            else:
                changes[name] = value
        axis = read.choice(SHIFT_CHOICES["axis"])
        if axis is not None:
            changes["axis"] = axis
        number = read.whole(MAP_PARAM, 0, CONV1_MAPS - 1, "a conv1 map number")
        if number is not None:
            changes["map"] = number
        return replace(base or cls(), **changes), read.warnings


def parse_shift(text: str) -> int | None:
    """``"3"``, ``"-3"``, ``"−3"`` or ``"+3"`` → the shift, None unless it is a whole number of
    pixels within the limit."""
    sign = 1
    if text[:1] in ("-", "\u2212", "+"):
        sign = 1 if text[0] == "+" else -1
        text = text[1:]
    number = parse_whole(text, 0, SHIFT_LIMIT)
    return None if number is None else sign * number


__all__ = ["CONV1_MAPS", "SHIFT_CHOICES", "ShiftState", "parse_shift"]
