"""The page "Why CNNs: shared weights" as one small, frozen, Streamlit-free object, like
``TrainState``: which conv1 filter and channel the kernel lab starts from, the weights the
student has typed over, and the input size the parameter counts are made for — so that the
address bar is a link that shows the same numbers (with the session's weights and input,
which ``NetworkState`` carries).

    state, warnings = SharingState.from_query({"kfilter": "3", "kedit": "4:0.5"})
    state.kernel(learned)     # the learned 3×3 kernel with the typed weights put in
    state.to_query()          # {"kfilter": "3", "kedit": "4:0.5"}: what differs from the default

An edit is kept as the text typed (``"1/9"``, ``"−0.5"``), read by ``explorer.numbers``: a link
carries exactly what the student typed. Cells are numbered 0…8 row by row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from explorer.links import Choice, LinkReader, parse_whole, shown
from explorer.model import expected_shapes
from explorer.numbers import MAX_NUMBER_CHARS, NumberError, cell_name, parse_number

KERNEL_SIDE = 3  # conv1's kernels are 3×3
CELLS = KERNEL_SIDE * KERNEL_SIDE
FILTERS = expected_shapes()["conv1.weight"][0]  # conv1's filters (32), read from SimpleCNN
MAX_EDIT_CHARS = CELLS * (MAX_NUMBER_CHARS + 3)  # nine "cell:number" entries and commas
SIDES = (32, 64, 128, 224)  # SimpleCNN's own size up to ImageNet's usual crop
_SIDE_NOTES = {32: " (CIFAR-10)", 224: " (ImageNet)"}

#: Every closed choice of the page: field name → link parameter and labels.
SHARING_CHOICES: dict[str, Choice] = {
    "channel": Choice("kchan", {"R": "Red", "G": "Green", "B": "Blue"}),
    "side": Choice("inpx", {s: f"{s}×{s}{_SIDE_NOTES.get(s, '')}" for s in SIDES}),
}


def weight_name(cell: int) -> str:
    """``"Row 1, column 2"``: how messages name a kernel cell (1-based, as on paper)."""
    row, col = divmod(cell, KERNEL_SIDE)
    return cell_name(row + 1, col + 1)


@dataclass(frozen=True)
class SharingState:
    """The page's set-up. Field defaults carry their reason."""

    filter: int = 0  # conv1's first filter: the brief's starting point
    channel: str = "R"  # the first channel conv1 reads
    edits: tuple[tuple[int, str], ...] = ()  # (cell, typed text), by cell; () = as learned
    side: int = 32  # SimpleCNN's own input size: the counts of the network as it is

    # ------------------------------------------------------------------ changes

    def choose(self, name: str, value: Any) -> SharingState:
        """This state with ``name`` set to ``value`` (ValueError for anything not offered).
        Another filter or channel starts again from its learned weights."""
        if name == "filter":
            if not (isinstance(value, int) and not isinstance(value, bool)):
                raise ValueError(f"{value!r} is not a whole number")
            if not 0 <= value < FILTERS:
                raise ValueError(f"conv1 has filters 0 to {FILTERS - 1}")
            return replace(self, filter=value, edits=() if value != self.filter else self.edits)
        if name not in SHARING_CHOICES:
            raise ValueError(f"{name!r} is not a field")
        labels = SHARING_CHOICES[name].labels
        if value not in labels or type(value) is not type(next(iter(labels))):
            raise ValueError(f"{value!r} is not a choice of {name}")
        if name == "channel":
            return replace(self, channel=value, edits=() if value != self.channel else self.edits)
        return replace(self, side=value)

    def edit(self, cell: int, text: str) -> SharingState:
        """This state with weight ``cell`` typed as ``text``; NumberError (a sentence naming
        the weight) when ``text`` is not a usable number."""
        if not 0 <= cell < CELLS:
            raise ValueError(f"{cell!r} is not a cell of a {KERNEL_SIDE}×{KERNEL_SIDE} kernel")
        parse_number(text, weight_name(cell))
        kept = dict(self.edits)
        kept[cell] = text.strip()
        return replace(self, edits=tuple(sorted(kept.items())))

    def unedit(self, cell: int) -> SharingState:
        """Weight ``cell`` back to its learned value."""
        return replace(self, edits=tuple((c, t) for c, t in self.edits if c != cell))

    def reset(self) -> SharingState:
        """Every weight back to its learned value."""
        return replace(self, edits=())

    # ------------------------------------------------------------------ what it describes

    def kernel(self, learned: np.ndarray) -> np.ndarray:
        """``learned`` (3×3) with the typed weights put in, as a new float64 array."""
        kernel = np.array(learned, dtype=np.float64).reshape(KERNEL_SIDE, KERNEL_SIDE)
        for cell, text in self.edits:
            kernel[divmod(cell, KERNEL_SIDE)] = parse_number(text, weight_name(cell))
        return kernel

    def typed(self, cell: int) -> str | None:
        """The text typed for weight ``cell``, None when it is as learned."""
        return dict(self.edits).get(cell)

    # ------------------------------------------------------------------ links

    def to_query(self) -> dict[str, str]:
        """The link parameters of what differs from the default."""
        default = SharingState()
        params: dict[str, str] = {}
        if self.filter != default.filter:
            params["kfilter"] = str(self.filter)
        for name, choice in SHARING_CHOICES.items():
            if getattr(self, name) != getattr(default, name):
                params[choice.param] = choice.encode(getattr(self, name))
        if self.edits:
            params["kedit"] = ",".join(f"{cell}:{text}" for cell, text in self.edits)
        return params

    @classmethod
    def from_query(
        cls, params: Mapping[str, object], base: SharingState | None = None
    ) -> tuple[SharingState, list[str]]:
        """(``base`` or the default, with what the link sets; one sentence per value ignored).
        A link that names another filter or channel starts from its learned weights."""
        read = LinkReader(params)
        state = base or cls()
        number = read.whole("kfilter", 0, FILTERS - 1, "a conv1 filter number")
        if number is not None:
            state = state.choose("filter", number)
        for name, choice in SHARING_CHOICES.items():
            value = read.choice(choice)
            if value is not None:
                state = state.choose(name, value)
        text = read.text("kedit", MAX_EDIT_CHARS)
        if text is not None:
            state = _read_edits(state.reset(), text, read)
        return state, read.warnings


def _read_edits(state: SharingState, text: str, read: LinkReader) -> SharingState:
    """``state`` with the link's edits (``cell:number,…``) put in; each one that cannot be
    used is named in a sentence and left out."""
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        where, colon, number = entry.partition(":")
        cell = parse_whole(where.strip(), 0, CELLS - 1)
        if not colon or cell is None:
            read.warnings.append(
                f"Ignored the link's kedit entry {shown(entry)}: each entry is a weight's "
                f"number from 0 to {CELLS - 1} (row by row), a colon and a number, like 4:0.5."
            )
            continue
        try:
            state = state.edit(cell, number)
        except NumberError as exc:
            read.warnings.append(f"Ignored the link's kedit entry {shown(entry)}: {exc}")
    return state


__all__ = [
    "CELLS",
    "FILTERS",
    "KERNEL_SIDE",
    "SHARING_CHOICES",
    "SIDES",
    "SharingState",
    "weight_name",
]
