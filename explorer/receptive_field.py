"""Receptive fields: which input pixels can influence one cell of a stage.

    steps = field_steps()                  # the arithmetic, layer by layer
    box = receptive_field("conv3", 2, 5)   # rows/cols of the 32×32 input, edges included

Every conv and pool layer widens what a cell sees. With ``k`` the kernel size, ``s`` the stride
and ``p`` the padding of a layer, and ``j`` the distance in input pixels between two
neighbouring cells of the layer's *input* ("jump"):

* field size: ``r_out = r_in + (k − 1)·j_in`` (each extra kernel row reaches ``j_in`` pixels
  further),
* jump: ``j_out = j_in·s``,
* first cell's field starts at ``a_out = a_in − p·j_in`` (padding shifts the window outwards).

so cell ``i`` of a stage sees input rows ``a + i·j`` to ``a + i·j + r − 1`` (clipped to the
image). ReLU changes nothing (1×1, stride 1); flatten and the fully connected layers mix every
pool3 cell, so they see the whole image. For SimpleCNN: 3, 4, 8, 10, 18, 22 pixels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn

from explorer.errors import UserError
from explorer.model import SimpleCNN
from explorer.stages import SPATIAL_STAGES, STAGE_BY_NAME, STAGE_NAMES

INPUT_SIDE = 32
SPATIAL = SPATIAL_STAGES
# After flatten every stage adds up all of pool3: each of its numbers can see every pixel.
WHOLE_IMAGE = STAGE_NAMES[STAGE_NAMES.index("flatten") + 1 :]


@dataclass(frozen=True)
class FieldStep:
    """One layer of the arithmetic: its kernel, stride and padding, and after it the side of
    its maps, the jump (input pixels between neighbouring cells), the field's side and where
    cell 0's field starts (an input row/column; negative: it hangs over the edge)."""

    stage: str
    kernel: int
    stride: int
    padding: int
    side: int
    jump: int
    field: int
    start: int


@dataclass(frozen=True)
class FieldBox:
    """The input pixels a cell can be influenced by: rows ``top``…``bottom`` and columns
    ``left``…``right`` of the 32×32 input, both ends included. ``full_*``: the same before
    clipping to the image (the part outside is zero padding)."""

    stage: str
    cell: tuple[int, ...]
    top: int
    left: int
    bottom: int
    right: int
    full_top: int
    full_left: int
    full_bottom: int
    full_right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    @property
    def field(self) -> int:
        """The side of the field before clipping."""
        return self.full_bottom - self.full_top + 1


def _layer_shape(module: nn.Module) -> tuple[int, int, int]:
    """(kernel, stride, padding) of a square conv or pool layer; ReLU is (1, 1, 0)."""

    def first(v: object) -> int:
        return int(v[0]) if isinstance(v, tuple) else int(v)  # type: ignore[call-overload]

    if isinstance(module, (nn.Conv2d, nn.MaxPool2d)):
        if isinstance(module, nn.Conv2d) and first(module.dilation) != 1:
            raise ValueError("dilated convolutions are not covered here")
        return first(module.kernel_size), first(module.stride), first(module.padding)
    return 1, 1, 0


@functools.cache
def _architecture() -> SimpleCNN:
    # On the meta device: the layers' shapes without allocating or drawing random weights.
    with torch.device("meta"):
        return SimpleCNN()


def field_steps(model: SimpleCNN | None = None, side: int = INPUT_SIDE) -> tuple[FieldStep, ...]:
    """The receptive-field arithmetic of every spatial stage, in forward order, reading each
    layer's kernel, stride and padding from ``model`` (SimpleCNN's own layers when None)."""
    net = model if model is not None else _architecture()
    relu = nn.ReLU()
    layers: list[tuple[str, nn.Module]] = []
    for name in SPATIAL_STAGES:
        attribute = STAGE_BY_NAME[name].module
        layers.append((name, getattr(net, attribute) if attribute else relu))
    steps: list[FieldStep] = []
    field, jump, start = 1, 1, 0
    for stage, module in layers:
        k, s, p = _layer_shape(module)
        field, start, jump = field + (k - 1) * jump, start - p * jump, jump * s
        side = (side + 2 * p - k) // s + 1
        steps.append(FieldStep(stage, k, s, p, side, jump, field, start))
    return tuple(steps)


def receptive_field(
    stage: str, cell: tuple[int, ...], steps: tuple[FieldStep, ...] | None = None
) -> FieldBox:
    """The input pixels that can influence ``cell`` of ``stage``: (map, row, col) for conv,
    ReLU and pool stages — the map does not matter, every map of a stage sees the same
    pixels — and (unit,) for flatten and the head. A flatten position sees what its pool3 cell
    sees; fc1 onwards see the whole image."""
    steps = steps or field_steps()
    last = INPUT_SIDE - 1
    if stage in STAGE_BY_NAME and STAGE_BY_NAME[stage].op == "flatten":
        pool3 = steps[-1]
        row, col = divmod(cell[0] % (pool3.side * pool3.side), pool3.side)
        return _box(pool3, stage, cell, row, col, last)
    if stage in WHOLE_IMAGE:
        return FieldBox(stage, tuple(cell), 0, 0, last, last, 0, 0, last, last)
    step = next((s for s in steps if s.stage == stage), None)
    if step is None:
        raise UserError(f"There is no stage called '{stage}'.")
    _, row, col = cell
    if not (0 <= row < step.side and 0 <= col < step.side):
        raise UserError(f"{stage} has rows and columns 0 to {step.side - 1}.")
    return _box(step, stage, cell, row, col, last)


def _box(
    step: FieldStep, stage: str, cell: tuple[int, ...], row: int, col: int, last: int
) -> FieldBox:
    top, left = step.start + row * step.jump, step.start + col * step.jump
    bottom, right = top + step.field - 1, left + step.field - 1
    return FieldBox(
        stage,
        tuple(cell),
        max(top, 0),
        max(left, 0),
        min(bottom, last),
        min(right, last),
        top,
        left,
        bottom,
        right,
    )


__all__ = [
    "INPUT_SIDE",
    "SPATIAL",
    "WHOLE_IMAGE",
    "FieldBox",
    "FieldStep",
    "field_steps",
    "receptive_field",
]
