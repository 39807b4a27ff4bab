"""The page "Teach it your classes": its choices as one small, frozen, Streamlit-free object, like
``TrainState``: the network to start from and the seed of the held-out split. They travel in
the page's link; the student's pictures and class names cannot (they live in the browser
session only), which the page says.

    state, warnings = OwnState.from_query({"base": "mnist", "split": "3"})
    state.to_query()          # {"base": "mnist", "split": "3"}: only what differs from the default
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from explorer.links import Choice, LinkReader
from explorer.own_images import SEED_RANGE

#: Every closed choice of the page: field name → link parameter and labels.
OWN_CHOICES: dict[str, Choice] = {
    "base": Choice(
        "base",
        {
            "cifar10": "Photos: the CIFAR-10 network",
            "mnist": "Drawings: the MNIST digit network",
        },
    ),
}
SEED_PARAM = "split"


@dataclass(frozen=True)
class OwnState:
    """The page's set-up. Field defaults carry their reason."""

    # Photos: a camera picture or an upload is the quickest way to make a class, and the
    # CIFAR-10 network's features describe photographs.
    base: str = "cifar10"
    # Which pictures are held out; any seed is as good as another, 0 is the simplest.
    seed: int = 0

    def choose(self, name: str, value: Any) -> OwnState:
        """This state with ``name`` set to ``value`` (ValueError for anything not offered)."""
        if name == "seed":
            low, high = SEED_RANGE
            if not (isinstance(value, int) and not isinstance(value, bool)):
                raise ValueError(f"{value!r} is not a whole number")
            if not low <= value <= high:
                raise ValueError(f"the seed is a whole number from {low} to {high}")
            return replace(self, seed=value)
        if name not in OWN_CHOICES or value not in OWN_CHOICES[name].labels:
            raise ValueError(f"{value!r} is not a choice of {name}")
        changes: dict[str, Any] = {name: value}
        return replace(self, **changes)

    def to_query(self) -> dict[str, str]:
        default = OwnState()
        params = {}
        for name, choice in OWN_CHOICES.items():
            if getattr(self, name) != getattr(default, name):
                params[choice.param] = choice.encode(getattr(self, name))
        if self.seed != default.seed:
            params[SEED_PARAM] = str(self.seed)
        return params

    @classmethod
    def from_query(
        cls, params: Mapping[str, object], base: OwnState | None = None
    ) -> tuple[OwnState, list[str]]:
        """(``base`` or the default, with what the link sets; one sentence per value ignored)."""
        read = LinkReader(params)
        changes: dict[str, Any] = {}
        for name, choice in OWN_CHOICES.items():
            value = read.choice(choice)
            if value is not None:
                changes[name] = value
        seed = read.whole(SEED_PARAM, *SEED_RANGE, "a seed")
        if seed is not None:
            changes["seed"] = seed
        return replace(base or cls(), **changes), read.warnings
