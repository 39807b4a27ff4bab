"""The network pages' set-up as small, frozen, Streamlit-free objects, like the playground's
``PlaygroundState``:

- :class:`NetworkState`: what the session runs the network on — the weights and the input,
  which belong to the session (they decide every number on every network page, so they survive
  page switches and travel in each network page's link and every link between them) — and the
  Feature maps page's enlarged map and colours.
- :class:`InsideState`: the Inside page's cell, the class its attributions explain and the
  conv3 map of its last section.

    net, warnings = NetworkState.from_query({"w": "simplecnn-mnist", "img": "mnist-3"})
    net.choose("layer", "conv2").to_query("feature_maps")
    inside, warnings = InsideState.from_query({"stage": "fc1", "cell": "7"})

Values are keys; labels come from the registries :data:`NETWORK_CHOICES` and
:data:`INSIDE_CHOICES`, which feed both the widgets and the link checks. A link's values are
checked by :class:`explorer.links.LinkReader`: anything else keeps the current value and gets
a sentence. A link that names a gallery image of another network's gallery says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from explorer.links import Choice, LinkReader, parse_whole
from explorer.model import builtin_weights
from explorer.samples import GalleryItem, gallery
from explorer.stages import SPATIAL_STAGES, STAGE_BY_NAME, STAGE_NAMES

UPLOAD = "upload"  # the weights choice "your own file": its bytes live in the session only
TRAINED = "trained"  # "Your network (trained here)": made on the Train page, in the session only
OWN_CLASSES = "own"  # "Your classes (trained here)": made on "Teach it your classes", session only
OWN_WEIGHTS = (UPLOAD, TRAINED, OWN_CLASSES)  # weights whose file lives in the session
DATASETS = {"cifar10": "CIFAR-10 photos", "mnist": "MNIST digits"}
SCALES = {"layer": "Shared by the layer", "map": "Each map on its own"}
MAX_MAPS = 128  # conv3 has the most maps
MAX_SIDE = 32  # the largest map's rows and columns
MAX_UNITS = 2048  # flatten has the most numbers
MAX_CLASSES_IN_LINK = 1000  # explorer.model.MAX_CLASSES


def _weights_labels() -> dict[str, str]:
    labels = {c.key: c.label for c in builtin_weights()}
    labels[UPLOAD] = "Upload your own (.pt)"
    labels[TRAINED] = "Your network (trained here)"
    labels[OWN_CLASSES] = "Your classes (trained here)"
    return labels


def _dataset_of_builtin() -> dict[str, str]:
    return {
        c.key: "mnist" if c.preprocessing.kind == "digit" else "cifar10" for c in builtin_weights()
    }


#: Every closed choice of the network pages: field name → link parameter and labels.
NETWORK_CHOICES: dict[str, Choice] = {
    "weights": Choice("w", _weights_labels()),
    "upload_dataset": Choice("wdata", DATASETS),
    "input": Choice(
        "in", {"gallery": "Gallery", "draw": "Draw", "upload": "Upload", "camera": "Camera"}
    ),
    "layer": Choice("layer", {name: STAGE_BY_NAME[name].title for name in SPATIAL_STAGES}),
    "scale": Choice("scale", SCALES),
}
BUILTIN_DATASET: dict[str, str] = _dataset_of_builtin()
DEFAULT_WEIGHTS = next(iter(BUILTIN_DATASET))  # the first shipped weights (CIFAR-10)


@dataclass(frozen=True)
class NetworkState:
    """The network pages' set-up. Field defaults carry their reason."""

    weights: str = DEFAULT_WEIGHTS  # trained weights: the maps show learned patterns
    upload_dataset: str = "cifar10"  # what the session's own weights were trained on
    input: str = "gallery"  # exact test images with their true label: right or wrong is known
    image: str | None = None  # a gallery key of the weights' dataset; None: its first image
    layer: str = "conv1"  # the first maps look most like the picture
    map: int = 0
    scale: str = "layer"  # one colour scale per layer: strong and weak maps can be compared

    # ------------------------------------------------------------------ what it describes

    @property
    def dataset(self) -> str:
        """The gallery (and the drawing's preparation) that matches the weights."""
        if self.weights in OWN_WEIGHTS:
            return self.upload_dataset
        return BUILTIN_DATASET.get(self.weights, "cifar10")

    def gallery_item(self) -> GalleryItem:
        """The chosen gallery image of the weights' dataset (its first when none is chosen)."""
        items = gallery(self.dataset)
        return next((item for item in items if item.key == self.image), items[0])

    # ------------------------------------------------------------------ changes

    def choose(self, name: str, value: Any) -> NetworkState:
        """This state with ``name`` set to ``value`` (ValueError for a value that is not one of
        its choices). New weights of another dataset start from that gallery's first image."""
        if name == "map":
            if not (
                isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_MAPS
            ):
                raise ValueError(f"{value!r} is not a map number")
            return replace(self, map=value)
        if name == "image":
            if value not in {item.key for item in gallery(self.dataset)}:
                raise ValueError(f"{value!r} is not an image of the {self.dataset} gallery")
            return replace(self, image=value)
        if value not in NETWORK_CHOICES[name].labels:
            raise ValueError(f"{value!r} is not a choice of {name}")
        new = replace(self, **{name: value})
        if new.dataset != self.dataset:
            new = replace(new, image=None)
        return new

    # ------------------------------------------------------------------ links

    def to_query(self, page: str = "session") -> dict[str, str]:
        """The link parameters of ``page`` ("session": what every network page's link carries;
        "feature_maps": that and the enlarged map and colours). The weights and the input are
        always written, default or not: a link followed inside a session must set them, not
        keep whatever the session had."""
        params = {"w": self.weights}
        if self.weights in OWN_WEIGHTS:
            params["wdata"] = self.upload_dataset
        if self.input != "gallery":
            params["in"] = self.input
        else:
            params["img"] = self.gallery_item().key
        if page == "feature_maps":
            default = NetworkState()
            for name in ("layer", "scale"):
                if getattr(self, name) != getattr(default, name):
                    params[NETWORK_CHOICES[name].param] = getattr(self, name)
            if self.map != default.map:
                params["map"] = str(self.map)
        return params

    @classmethod
    def from_query(
        cls, params: Mapping[str, object], base: NetworkState | None = None
    ) -> tuple[NetworkState, list[str]]:
        """(``base`` — the session's set-up, else the default — with what the link sets, one
        sentence per value ignored). Parameters of other pages are not read."""
        read = LinkReader(params)
        state = base or cls()
        changes: dict[str, Any] = {}
        for name, choice in NETWORK_CHOICES.items():
            value = read.choice(choice)
            if value is not None:
                changes[name] = value
        number = read.whole("map", 0, MAX_MAPS - 1, "a map number")
        if number is not None:
            changes["map"] = number
        new = replace(state, **changes)
        if new.dataset != state.dataset:
            new = replace(new, image=None)
        image = read.text("img")
        if image is not None:
            keys = {item.key for item in gallery(new.dataset)}
            if image in keys:
                new = replace(new, image=image)
            else:
                read.ignore(
                    "img",
                    image,
                    f"it is not an image of the {DATASETS[new.dataset]} gallery "
                    "these weights use, so the first of that gallery is shown",
                )
        return new, read.warnings

    def cannot_travel(self) -> str | None:
        """What of this set-up a link cannot carry (uploaded weights, a drawing, an uploaded
        image, a camera photo), as a sentence for the page, or None."""
        lost = []
        if self.weights == UPLOAD:
            lost.append("uploaded weights")
        elif self.weights == TRAINED:
            lost.append("a network trained here")
        elif self.weights == OWN_CLASSES:
            lost.append("a network taught your classes here")
        if self.input == "draw":
            lost.append("a drawing")
        elif self.input == "upload":
            lost.append("an uploaded image")
        elif self.input == "camera":
            lost.append("a camera photo")
        if not lost:
            return None
        return f"A link cannot carry {' or '.join(lost)}: whoever opens it adds their own."


# ============================================================================================
# Inside the network


INSIDE_CHOICES: dict[str, Choice] = {
    "stage": Choice("stage", {name: STAGE_BY_NAME[name].title for name in STAGE_NAMES}),
}


@dataclass(frozen=True)
class InsideState:
    """The Inside page's set-up. ``map``/``row``/``col`` pick a cell of a stage of maps and
    ``unit`` one of a vector: each is kept while the other kind of stage is shown."""

    stage: str = "conv2"  # a convolution over many maps: the richest arithmetic
    map: int = 0
    row: int = 4  # away from the border: no padding in the window
    col: int = 4
    unit: int = 0
    target: int | None = None  # the class the attributions explain; None: the network's answer
    channel: int = 0  # the conv3 map of "What a conv3 filter looks for"

    @property
    def cell(self) -> tuple[int, ...]:
        """(map, row, col) for a stage of maps, (unit,) for a vector."""
        if STAGE_BY_NAME[self.stage].spatial:
            return (self.map, self.row, self.col)
        return (self.unit,)

    def choose(self, name: str, value: Any) -> InsideState:
        """This state with ``name`` set to ``value`` (ValueError for a value it cannot take:
        a stage that does not exist, a number out of the link's ranges)."""
        if name == "stage":
            if value not in INSIDE_CHOICES["stage"].labels:
                raise ValueError(f"{value!r} is not a stage")
            return replace(self, stage=value)
        limits = {
            "map": MAX_MAPS,
            "row": MAX_SIDE,
            "col": MAX_SIDE,
            "unit": MAX_UNITS,
            "target": MAX_CLASSES_IN_LINK,
            "channel": MAX_MAPS,
        }
        if name not in limits:
            raise ValueError(f"{name!r} is not a field")
        if value is None and name == "target":
            return replace(self, target=None)
        if not (isinstance(value, int) and not isinstance(value, bool)):
            raise ValueError(f"{value!r} is not a whole number")
        if not 0 <= value < limits[name]:
            raise ValueError(f"{value!r} is out of range for {name}")
        changes: dict[str, Any] = {name: value}
        return replace(self, **changes)

    def at(self, stage: str, cell: tuple[int, ...]) -> InsideState:
        """This state explaining ``cell`` of ``stage``."""
        if stage not in STAGE_BY_NAME:
            raise ValueError(f"{stage!r} is not a stage")
        if STAGE_BY_NAME[stage].spatial:
            m, r, c = cell
            return replace(self, stage=stage, map=m, row=r, col=c)
        (unit,) = cell
        return replace(self, stage=stage, unit=unit)

    def fitted(self, shape: tuple[int, ...]) -> InsideState:
        """The cell moved inside a stage of this ``shape`` (C×H×W, or N)."""

        def inside(v: int, n: int) -> int:
            return min(max(int(v), 0), n - 1)

        if len(shape) == 3:
            return replace(
                self,
                map=inside(self.map, shape[0]),
                row=inside(self.row, shape[1]),
                col=inside(self.col, shape[2]),
            )
        return replace(self, unit=inside(self.unit, shape[0]))

    def to_query(self) -> dict[str, str]:
        params = {"stage": self.stage, "cell": ",".join(map(str, self.cell))}
        if self.target is not None:
            params["class"] = str(self.target)
        if self.channel != InsideState.channel:
            params["channel"] = str(self.channel)
        return params

    @classmethod
    def from_query(
        cls, params: Mapping[str, object], base: InsideState | None = None
    ) -> tuple[InsideState, list[str]]:
        """(``base`` or the default, with what the link sets; one sentence per value ignored)."""
        read = LinkReader(params)
        state = base or cls()
        stage = read.choice(INSIDE_CHOICES["stage"])
        if stage is not None:
            state = replace(state, stage=stage)
        text = read.text("cell")
        if text is not None:
            cell = _parse_cell(text, STAGE_BY_NAME[state.stage].spatial)
            if cell is None:
                read.ignore("cell", text, _cell_rule(state.stage))
            else:
                state = state.at(state.stage, cell)
        target = read.whole("class", 0, MAX_CLASSES_IN_LINK - 1, "a class number")
        if target is not None:
            state = replace(state, target=target)
        channel = read.whole("channel", 0, MAX_MAPS - 1, "a conv3 map number")
        if channel is not None:
            state = replace(state, channel=channel)
        return state, read.warnings


def _parse_cell(text: str, spatial: bool) -> tuple[int, ...] | None:
    parts = text.split(",")
    limits: tuple[int, ...]
    if spatial and len(parts) == 3:
        limits = (MAX_MAPS - 1, MAX_SIDE - 1, MAX_SIDE - 1)
    elif not spatial and len(parts) == 1:
        limits = (MAX_UNITS - 1,)
    else:
        return None
    numbers = [parse_whole(p.strip(), 0, high) for p, high in zip(parts, limits, strict=True)]
    return None if None in numbers else tuple(n for n in numbers if n is not None)


def _cell_rule(stage: str) -> str:
    if STAGE_BY_NAME[stage].spatial:
        return (
            f"for {stage} it must be map,row,column — three whole numbers, the map at most "
            f"{MAX_MAPS - 1}, the row and column at most {MAX_SIDE - 1}"
        )
    return f"for {stage} it must be one whole number from 0 to {MAX_UNITS - 1}"
