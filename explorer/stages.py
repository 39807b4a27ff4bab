"""SimpleCNN's stages, in forward order: the one registry every list, map and loop over the
network's stages is derived from (the forward pass, the pictures, the arithmetic of each
cell, the receptive fields, the pages' loops). Adding a kind of stage is one entry here and,
for a new operation, one function in ``features.OPERATIONS`` and ``inside.explain``.

    STAGE_BY_NAME["pool2"].source     # "relu2": what it is computed from
    SPATIAL_STAGES                    # conv1 … pool3: the stages that are C×H×W maps
    BLOCKS                            # (("conv1", "relu1", "pool1"), …): one row of the page
    conv_of("relu2")                  # "conv2": the filter that made its maps

No torch and no Streamlit here: the registry is plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StageKind = Literal["signed", "nonnegative", "probability"]
Operation = Literal["conv", "relu", "pool", "flatten", "linear", "dropout", "softmax"]
Picture = Literal["maps", "strip", "scores", "none"]

INPUT = "input"  # the source of the first stage: the normalised 3×32×32 image


@dataclass(frozen=True)
class Stage:
    """One step of the forward pass: what it computes, from which stage, with which module of
    the model, and how the pages show it."""

    name: str
    op: Operation
    source: str  # the stage it is computed from (INPUT for the first)
    module: str | None  # the model's attribute that computes it (None: a plain function)
    title: str
    kind: StageKind  # "signed": any sign (diverging colours); "nonnegative": ≥ 0 (sequential)
    explanation: str
    picture: Picture  # maps: a montage of C×H×W maps; strip: a long vector; scores: bars

    @property
    def spatial(self) -> bool:
        """Whether the stage is C×H×W maps (conv, ReLU and pool before flatten)."""
        return self.picture == "maps"

    @property
    def has_parameters(self) -> bool:
        return self.op in ("conv", "linear")


# A table: one stage an entry, its fields in the order of the dataclass above.
STAGES: tuple[Stage, ...] = (
    Stage(
        "conv1", "conv", INPUT, "conv1", "conv1 — 32 filters of 3×3×3", "signed",
        "Each map is one learned 3×3 filter slid over the three colour channels. Positive "
        "(red) where the image matches the filter's pattern, negative (blue) where it is the "
        "opposite.",
        "maps",
    ),
    Stage(
        "relu1", "relu", "conv1", None, "relu1 — ReLU", "nonnegative",
        "ReLU keeps positive values and sets negative ones to 0: only the places where a "
        "pattern was found stay lit.",
        "maps",
    ),
    Stage(
        "pool1", "pool", "relu1", "pool", "pool1 — max-pool 2×2 → 16×16", "nonnegative",
        "Each 2×2 block is replaced by its largest value: half the width and height, the "
        "strongest responses kept.",
        "maps",
    ),
    Stage(
        "conv2", "conv", "pool1", "conv2", "conv2 — 64 filters of 3×3×32", "signed",
        "Each filter now looks at all 32 maps of pool1 at once, so it combines simple "
        "patterns (edges, colours) into more complex ones.",
        "maps",
    ),
    Stage("relu2", "relu", "conv2", None, "relu2 — ReLU", "nonnegative",
          "Negative values set to 0.", "maps"),
    Stage("pool2", "pool", "relu2", "pool", "pool2 — max-pool 2×2 → 8×8", "nonnegative",
          "Largest value of each 2×2 block.", "maps"),
    Stage(
        "conv3", "conv", "pool2", "conv3", "conv3 — 128 filters of 3×3×64", "signed",
        "128 detectors of larger, more abstract patterns; each position now sees an 18×18 "
        "patch of the input image.",
        "maps",
    ),
    Stage("relu3", "relu", "conv3", None, "relu3 — ReLU", "nonnegative",
          "Negative values set to 0.", "maps"),
    Stage("pool3", "pool", "relu3", "pool", "pool3 — max-pool 2×2 → 4×4", "nonnegative",
          "128 maps of 4×4: what the classifier head receives.", "maps"),
    Stage(
        "flatten", "flatten", "pool3", None, "flatten — 2048 numbers in a row", "nonnegative",
        "The 128 maps of 4×4 laid end to end (map 0's 16 values, then map 1's, …): 2048 "
        "numbers, no longer a picture.",
        "strip",
    ),
    Stage(
        "fc1", "linear", "flatten", "fc1", "fc1 — fully connected, 2048 → 512", "signed",
        "Each of the 512 units is a weighted sum of all 2048 numbers plus a bias.",
        "strip",
    ),
    Stage(
        "relu4", "relu", "fc1", None, "relu4 — ReLU (dropout: off)", "nonnegative",
        "Negative values set to 0. Dropout comes next but does nothing here: the app runs "
        "the network in evaluation mode.",
        "strip",
    ),
    Stage(
        "dropout", "dropout", "relu4", "dropout", "dropout — off in evaluation mode",
        "nonnegative",
        "In evaluation mode dropout passes every number through unchanged: it equals relu4.",
        "none",
    ),
    Stage(
        "fc2", "linear", "dropout", "fc2", "fc2 — the logits, 512 → 10", "signed",
        "One score per class: a weighted sum of the 512 units plus a bias. The largest wins.",
        "scores",
    ),
    Stage(
        "softmax", "softmax", "fc2", None, "softmax — the probabilities", "probability",
        "exp(score) / sum of exp(all scores): positive numbers that add up to 1.",
        "scores",
    ),
)  # fmt: skip

STAGE_BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}
STAGE_NAMES: tuple[str, ...] = tuple(STAGE_BY_NAME)
SPATIAL_STAGES: tuple[str, ...] = tuple(s.name for s in STAGES if s.spatial)
STRIP_STAGES: tuple[str, ...] = tuple(s.name for s in STAGES if s.picture == "strip")
CONV_STAGES: tuple[str, ...] = tuple(s.name for s in STAGES if s.op == "conv")
PARAMETER_STAGES: tuple[str, ...] = tuple(s.name for s in STAGES if s.has_parameters)
LOGITS: str = next(s.source for s in STAGES if s.op == "softmax")  # "fc2"
SCORE_STAGES: tuple[str, ...] = tuple(s.name for s in STAGES if s.picture == "scores")


def sources(op: Operation) -> dict[str, str]:
    """Stage → the stage it is computed from, for every stage of operation ``op``."""
    return {s.name: s.source for s in STAGES if s.op == op}


def conv_of(name: str) -> str:
    """The convolution whose filters made the maps of spatial stage ``name`` (relu2 → conv2,
    pool2 → conv2): the first convolution met walking back along the sources."""
    stage = STAGE_BY_NAME[name]
    while stage.op != "conv":
        if stage.source == INPUT:
            raise ValueError(f"{name} does not come from a convolution")
        stage = STAGE_BY_NAME[stage.source]
    return stage.name


def shown_as(name: str) -> str:
    """The stage whose picture stands for ``name`` (dropout, which changes nothing in
    evaluation mode, is shown with its source)."""
    stage = STAGE_BY_NAME[name]
    return stage.source if stage.picture == "none" else name


CONV_OF_STAGE: dict[str, str] = {name: conv_of(name) for name in SPATIAL_STAGES}

#: The spatial stages grouped by the convolution that starts each block, in order:
#: (("conv1", "relu1", "pool1"), ("conv2", …), ("conv3", …)).
BLOCKS: tuple[tuple[str, ...], ...] = tuple(
    tuple(name for name in SPATIAL_STAGES if CONV_OF_STAGE[name] == conv) for conv in CONV_STAGES
)
