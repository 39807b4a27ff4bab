"""The "Why CNNs: a hierarchy" page's numbers, Streamlit-free: how far one unit of each stage
sees, and which maps of conv1, conv2 and conv3 the tour shows — chosen by a rule computed over
the gallery, never by hand.

    state, warnings = HierarchyState.from_query({"maps": "2", "rank": "peak"})
    rows = field_tour()                       # the centre unit of each stage and its field
    shown = chosen_maps(responses, state)     # the maps to show, best first, with their score

Why the centre unit. Every unit of a stage sees a field of the same size; the one nearest the
middle of the image has its whole field on the image (the border units' fields hang over the
padding), so the pictures show the true growth: 3, 4, 8, 10, 18 and 22 pixels, then the whole
image from fc1 on.

Why a rule. A tour that shows the maps someone found pretty proves nothing. The maps shown are
the ``maps`` of each stage with the largest score over the gallery's images — their mean
response ("mean": maps busy everywhere, often colours and textures) or their peak averaged over
the images ("peak": maps that fire hard somewhere) — so a student can check the choice, and
another rule shows that other maps look different.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.links import Choice, LinkReader
from explorer.receptive_field import (
    INPUT_SIDE,
    FieldBox,
    FieldStep,
    field_steps,
    receptive_field,
)

if TYPE_CHECKING:
    from explorer.attribution import GalleryResponses

TOUR_STAGES = ("conv1", "conv2", "conv3")  # the maps the tour shows, in forward order
# The stages whose field is drawn: every spatial stage, then fc1 (the whole image).
FIELD_STAGES = ("conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "fc1")
TOP_IMAGES = 3  # the gallery images shown for each map

RULES = {
    "mean": "Largest mean response over the gallery",
    "peak": "Largest peak, averaged over the gallery",
}
HIERARCHY_CHOICES: dict[str, Choice] = {
    "maps": Choice("maps", {1: "1", 2: "2", 3: "3", 4: "4"}),
    "rank": Choice("rank", RULES),
}


@dataclass(frozen=True)
class HierarchyState:
    """The page's set-up: how many maps of each stage the tour shows, and the rule that
    chooses them."""

    maps: int = 3
    rank: str = "mean"

    def choose(self, name: str, value: Any) -> HierarchyState:
        """This state with ``name`` set to ``value`` (ValueError for a value it cannot take)."""
        if name not in HIERARCHY_CHOICES:
            raise ValueError(f"{name!r} is not a field")
        if value not in HIERARCHY_CHOICES[name].labels or isinstance(value, bool):
            raise ValueError(f"{value!r} is not a choice of {name}")
        changes: dict[str, Any] = {name: value}
        return replace(self, **changes)

    def to_query(self) -> dict[str, str]:
        """The link parameters that differ from the defaults."""
        params = {}
        for name, choice in HIERARCHY_CHOICES.items():
            value = getattr(self, name)
            if value != getattr(HierarchyState, name):
                params[choice.param] = choice.encode(value)
        return params

    @classmethod
    def from_query(
        cls, params: Mapping[str, object], base: HierarchyState | None = None
    ) -> tuple[HierarchyState, list[str]]:
        """(``base`` or the default, with what the link sets; one sentence per value ignored)."""
        read = LinkReader(params)
        state = base or cls()
        for name, choice in HIERARCHY_CHOICES.items():
            value = read.choice(choice)
            if value is not None:
                state = state.choose(name, value)
        return state, read.warnings


# ============================================================================================
# How far one unit sees


@dataclass(frozen=True)
class FieldRow:
    """The unit of ``stage`` nearest the image's centre, and the input pixels it can see."""

    stage: str
    cell: tuple[int, ...]
    box: FieldBox

    @property
    def side(self) -> int:
        """The field's side in input pixels (the whole image from fc1 on)."""
        return self.box.field

    @property
    def share(self) -> float:
        """The fraction of the image's pixels the unit can see."""
        return self.box.height * self.box.width / INPUT_SIDE**2


def centre_cell(step: FieldStep) -> int:
    """The row (and column) of ``step``'s stage whose field's centre is nearest the image's
    centre (the later one of two equally near: the image's centre lies between two pixels)."""
    middle = (INPUT_SIDE - 1) / 2
    ideal = (middle - step.start - (step.field - 1) / 2) / step.jump
    return min(max(math.floor(ideal + 0.5), 0), step.side - 1)


def field_tour(steps: tuple[FieldStep, ...] | None = None) -> list[FieldRow]:
    """One row per stage of :data:`FIELD_STAGES`: its centre unit (map 0) and its field."""
    steps = steps or field_steps()
    by_stage = {s.stage: s for s in steps}
    rows = []
    for stage in FIELD_STAGES:
        if stage in by_stage:
            i = centre_cell(by_stage[stage])
            cell: tuple[int, ...] = (0, i, i)
        else:
            cell = (0,)
        rows.append(FieldRow(stage, cell, receptive_field(stage, cell, steps)))
    return rows


# ============================================================================================
# Which maps the tour shows


@dataclass(frozen=True)
class ChosenMap:
    """A map the tour shows: its index, its score under the rule, its rank among the stage's
    maps (1 = highest) and the gallery images that excite it most (indices, by peak)."""

    channel: int
    score: float
    rank: int
    top: tuple[int, ...]


def map_scores(responses: GalleryResponses, rule: str) -> np.ndarray:
    """Each map's score over the gallery: the mean over the images of its mean response
    ("mean"), or of its largest value ("peak")."""
    if rule not in RULES:
        raise ValueError(f"{rule!r} is not a rule")
    per_image = responses.mean if rule == "mean" else responses.peak
    return np.asarray(per_image, dtype=np.float64).mean(axis=0)


def chosen_maps(
    responses: GalleryResponses, state: HierarchyState, images: int = TOP_IMAGES
) -> list[ChosenMap]:
    """The ``state.maps`` maps with the highest scores (ties: the lower index), best first."""
    scores = map_scores(responses, state.rank)
    order = sorted(range(len(scores)), key=lambda c: (-scores[c], c))
    return [
        ChosenMap(c, float(scores[c]), rank + 1, tuple(responses.ranking(c, images)))
        for rank, c in enumerate(order[: state.maps])
    ]


__all__ = [
    "FIELD_STAGES",
    "HIERARCHY_CHOICES",
    "RULES",
    "TOP_IMAGES",
    "TOUR_STAGES",
    "ChosenMap",
    "FieldRow",
    "HierarchyState",
    "centre_cell",
    "chosen_maps",
    "field_tour",
    "map_scores",
]
