"""Links: the one table of every query parameter the app reads, which page (or the whole
session) owns each, and the checks every page's state object uses to read them.

A link is typed, pasted and edited by people, and may be hostile. So every value is read the
same way on every page: text of at most :data:`MAX_LINK_VALUE_CHARS` characters, one of a
closed set of choices (:class:`Choice`) or a whole number written in ASCII digits within its
range; anything else keeps its default and gets one sentence saying which value was ignored
and why. A page reads only the parameters it owns and the session's: another page's
parameters in the same address are none of its business and never warned about. Nothing is
ever evaluated. Streamlit-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_LINK_VALUE_CHARS = 100  # every parameter but the playground's two grids

#: Every query parameter of the app → who owns it. "session": a choice that decides the numbers
#: on every network page (the weights, the input), so it travels in each of their links and in
#: every link between them; a page's own parameters are read by that page alone.
LINK_PARAMS: dict[str, str] = {
    # the convolution playground (explorer.playground_state)
    "src": "playground", "sample": "playground", "ch": "playground", "k": "playground",
    "pad": "playground", "mode": "playground", "stride": "playground", "dil": "playground",
    "flip": "playground", "res": "playground", "rc": "playground", "out": "playground",
    "kv": "playground", "m": "playground",
    # the network pages' session (explorer.network_state.NetworkState)
    "w": "session", "wdata": "session", "in": "session", "img": "session",
    # Feature maps (NetworkState: the enlarged map and the colours)
    "layer": "feature_maps", "map": "feature_maps", "scale": "feature_maps",
    # Inside the network (explorer.network_state.InsideState)
    "stage": "inside", "cell": "inside", "class": "inside", "channel": "inside",
    # Train it yourself (explorer.train_state.TrainState)
    "data": "train", "n": "train", "ep": "train", "bs": "train", "opt": "train", "lr": "train",
    "sched": "train", "wd": "train", "aug": "train", "from": "train", "seed": "train",
    "full": "train",
    # the Train page's replay of the shipped networks' training (explorer.replay.ReplayState)
    "replay": "replay",
    # Why CNNs: shared weights (explorer.sharing_state.SharingState)
    "kfilter": "sharing", "kchan": "sharing", "kedit": "sharing", "inpx": "sharing",
    # Why CNNs: shifts (explorer.shift_state.ShiftState)
    "dx": "shifts", "dy": "shifts", "axis": "shifts", "smap": "shifts",
    # Why CNNs: a hierarchy (explorer.hierarchy.HierarchyState)
    "maps": "hierarchy", "rank": "hierarchy",
    # Teach it your classes (explorer.own_state.OwnState)
    "base": "own", "split": "own",
    # presenter mode, on every page (explorer.ui.widgets)
    "present": "presenter", "hide": "presenter",
}  # fmt: skip


def params_of(owner: str) -> frozenset[str]:
    """The parameters ``owner`` reads ("playground", "session", "feature_maps", …)."""
    return frozenset(p for p, who in LINK_PARAMS.items() if who == owner)


def shown(value: str) -> str:
    """A link's value quoted for a sentence (long values cut at 30 characters)."""
    return repr(value if len(value) <= 30 else value[:30] + "…")


@dataclass(frozen=True)
class Choice:
    """A closed choice: its link parameter and each allowed value with the label shown."""

    param: str
    labels: Mapping[Any, str]

    def encode(self, value: Any) -> str:
        """The value as it is written in a link (``True`` → ``"1"``)."""
        return str(int(value)) if isinstance(value, bool | int) else str(value)

    def decode(self, text: str) -> Any:
        """The allowed value written as ``text``; ValueError when there is none."""
        for value in self.labels:
            if self.encode(value) == text:
                return value
        raise ValueError(text)

    def allowed(self) -> str:
        """The allowed values as a sentence names them."""
        values = ", ".join(self.encode(v) for v in self.labels)
        return values if len(values) <= 80 else "the names listed on the page"


class LinkReader:
    """Reads one link's parameters for a state object, collecting a sentence per value it
    ignores (quote-safe: show them as literal text, never as Markdown)."""

    def __init__(self, params: Mapping[str, object]) -> None:
        self.params = params
        self.warnings: list[str] = []

    def has(self, param: str) -> bool:
        return self.params.get(param) is not None

    def text(self, param: str, limit: int = MAX_LINK_VALUE_CHARS) -> str | None:
        """The parameter's text (stripped), None when absent or unusable (with a sentence)."""
        value = self.params.get(param)
        if value is None:
            return None
        if not isinstance(value, str):
            self.warnings.append(f"Ignored the link's {param}: it is not text.")
            return None
        if len(value) > limit:
            self.warnings.append(
                f"Ignored the link's {param}: it is {len(value):,} characters long, more than "
                f"the {limit:,} it may have."
            )
            return None
        return value.strip()

    def choice(self, choice: Choice) -> Any | None:
        """The allowed value the link names for ``choice``, or None."""
        text = self.text(choice.param)
        if text is None:
            return None
        try:
            return choice.decode(text)
        except ValueError:
            self.ignore(choice.param, text, f"it must be one of {choice.allowed()}")
            return None

    def whole(self, param: str, low: int, high: int, what: str) -> int | None:
        """A whole number ``low``…``high`` written in ASCII digits (``²`` or ``①`` are digits
        to Python's ``isdigit`` but not numbers a link may hold), or None."""
        text = self.text(param)
        if text is None:
            return None
        number = parse_whole(text, low, high)
        if number is None:
            self.ignore(param, text, f"it must be {what} from {low} to {high}")
        return number

    def ignore(self, param: str, text: str, why: str) -> None:
        self.warnings.append(f"Ignored the link's {param}={shown(text)}: {why}.")


def parse_whole(text: str, low: int, high: int) -> int | None:
    """``text`` as a whole number in ``low``…``high`` (ASCII digits, at most 9), else None."""
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        return None
    number = int(text)
    return number if low <= number <= high else None
