"""How one number of the forward pass was made: the arithmetic behind any cell of any stage.

    acts = capture_activations(model, x)               # x: 1×3×32×32, normalised
    how = explain(model, x, acts, "conv2", (5, 3, 4))  # map 5, row 3, column 4
    how.value, how.captured                            # float64 arithmetic, PyTorch's float32

Each stage gets a record that holds the numbers a student needs to redo the step by hand, taken
from *this* forward pass (``acts``) and *these* weights:

========= ===================== ==============================================================
stage     record                what it holds
========= ===================== ==============================================================
conv1-3   :class:`ConvCell`     the 3×3×C window, the weights, the products, one sum per input
                                channel, the bias; for conv2/conv3 the channels that contribute
                                most, the rest summed
relu1-4   :class:`ReluCell`     the value before and after max(0, v)
pool1-3   :class:`PoolCell`     the 2×2 window, the winner and where it sits
flatten   :class:`FlattenCell`  channel, row, column of pool3 ↔ position among the 2,048
fc1, fc2  :class:`LinearCell`   the inputs × weights that contribute most, the rest, the bias
dropout   :class:`DropoutCell`  the value passed through unchanged (eval mode)
softmax   :class:`SoftmaxCell`  exp of every logit, their sum, each divided by it
========= ===================== ==============================================================

The arithmetic is done in float64 from the float32 numbers PyTorch used, so the only difference
from the captured float32 value is PyTorch's own rounding (it adds the same terms in float32, in
another order): a few units in the last place (:attr:`Arithmetic.ulps`). ReLU, max-pooling,
flatten and dropout only *choose* numbers, so their values are exactly the captured ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast

import numpy as np
import torch

from explorer.errors import UserError
from explorer.features import Activations
from explorer.model import SimpleCNN
from explorer.stages import LOGITS, STAGE_BY_NAME, STAGE_NAMES, sources

CONV_SOURCE = sources("conv")  # conv2 → pool1: the maps each convolution reads
RELU_SOURCE = sources("relu")
POOL_SOURCE = sources("pool")
LINEAR_SOURCE = sources("linear")
# Every stage capture_activations records, in forward order.
EXPLAINED_STAGES = STAGE_NAMES
# float32 rounds every result to 24 significant bits: a relative error of at most 2⁻²⁴.
FLOAT32_UNIT_ROUNDOFF = 2.0**-24
# TF32, which cuDNN uses for float32 convolutions on recent NVIDIA GPUs unless told not to,
# keeps 11 significant bits of every input and weight.
TF32_UNIT_ROUNDOFF = 2.0**-11
# How far PyTorch's float32 sum may be from the exact one, in units of 2⁻²⁴ × Σ|terms|. The
# worst case of adding n terms one by one is n of them (577 for conv3); blocked and pairwise
# sums, which PyTorch's kernels use, stay far below it: the shipped weights show at most 5.1.
SUM_ROUNDING_UNITS = 16

Cell3 = tuple[int, int, int]  # (map, row, column) of a spatial stage


class CellError(UserError):
    """A cell that does not exist in the chosen stage (a row past the map's edge, say)."""


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class Arithmetic:
    """What every record has: the stage, the cell (``(map, row, col)`` for C×H×W stages,
    ``(unit,)`` for vectors), the value recomputed here in float64 and the float32 value PyTorch
    computed in the forward pass."""

    stage: str
    cell: tuple[int, ...]
    value: float
    captured: float
    # The relative rounding of the arithmetic that made ``captured``: float32's 2⁻²⁴, or
    # TF32's 2⁻¹¹ for convolutions on a CUDA GPU that allows it (cuDNN's default).
    roundoff: float = field(default=2.0**-24, kw_only=True)

    @property
    def ulp(self) -> float:
        """The gap between the captured float32 value and the next float32 number."""
        return float(np.spacing(np.abs(np.float32(self.captured))))

    @property
    def difference(self) -> float:
        """|float64 arithmetic − PyTorch's float32 value|."""
        return abs(self.value - self.captured)

    @property
    def ulps(self) -> float:
        """:attr:`difference` in units in the last place of float32 (0: the same number)."""
        return self.difference / self.ulp if self.ulp > 0 else 0.0

    @property
    def bound(self) -> float:
        """How far apart float32 rounding can put the two values: 0 for a stage that only
        chooses a number (ReLU, pooling, flatten, dropout); see the subclasses for sums."""
        return 0.0

    @property
    def agrees(self) -> bool:
        """True when the float64 arithmetic equals PyTorch's value to float32 precision."""
        return self.difference <= self.bound


@dataclass(frozen=True)
class ConvCell(Arithmetic):
    """One output of a 3×3 convolution (padding 1): the window over the previous stage's C
    maps, centred on (row, col), times the filter, summed, plus the bias.

    ``window``, ``weights``, ``products``: C×3×3 float64 (``window`` is 0 where it hangs over
    the edge, and ``inside`` says where it does not); ``channel_sums``: C, one per input
    channel; ``shown``: the input channels listed one by one — all of them in their own order
    when they fit (the input's R, G, B), else the ``top`` largest |sums|, largest first;
    ``rest``: the sum of all the other channels' sums."""

    source: str
    window: np.ndarray
    inside: np.ndarray  # 3×3 bool
    weights: np.ndarray
    products: np.ndarray
    channel_sums: np.ndarray
    shown: tuple[int, ...]
    rest: float
    bias: float

    @property
    def terms(self) -> int:
        """How many numbers are added: every product and the bias."""
        return self.products.size + 1

    @property
    def magnitude(self) -> float:
        """Σ|product| + |bias|: the scale rounding errors are measured against."""
        return float(np.abs(self.products).sum() + abs(self.bias))

    @property
    def bound(self) -> float:
        """SUM_ROUNDING_UNITS × roundoff × Σ|terms|: a float32 sum's rounding, whatever the
        order of the additions."""
        return SUM_ROUNDING_UNITS * self.roundoff * self.magnitude


@dataclass(frozen=True)
class ReluCell(Arithmetic):
    """``value = max(0, before)``; ``before`` is the cell of ``source`` (conv or fc1)."""

    source: str
    before: float


@dataclass(frozen=True)
class DropoutCell(Arithmetic):
    """Dropout in eval mode passes ``before`` (relu4's unit) through unchanged."""

    source: str
    before: float


@dataclass(frozen=True)
class PoolCell(Arithmetic):
    """One output of a 2×2 max-pool: the window of ``source`` (rows ``2·row``, ``2·row+1``,
    columns ``2·col``, ``2·col+1``), the position (r, c) of the winner inside it, the same
    position in the source map, and how many of the four share the largest value."""

    source: str
    window: np.ndarray  # 2×2 float64
    winner: tuple[int, int]
    source_cell: tuple[int, int]
    ties: int


@dataclass(frozen=True)
class FlattenCell(Arithmetic):
    """Position ``index`` among the 2,048 numbers ↔ ``(channel, row, col)`` of pool3:
    ``index = (channel·H + row)·W + col``."""

    index: int
    channel: int
    row: int
    col: int
    shape: tuple[int, int, int]


@dataclass(frozen=True)
class LinearCell(Arithmetic):
    """One unit of a fully connected layer: Σ inputᵢ·weightᵢ + bias. ``shown``: the inputs
    listed one by one (the largest |product| first), with their ``inputs``, ``weights`` and
    ``products`` (float64, in the order of ``shown``); ``rest``: the sum of the other products;
    ``positive``/``negative``: how many products are > 0 / < 0 in all."""

    source: str
    fan_in: int
    shown: tuple[int, ...]
    inputs: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    rest: float
    bias: float
    zero_inputs: int  # inputs that are exactly 0 (ReLU switched them off): products of 0
    magnitude: float  # Σ|product| + |bias|

    @property
    def terms(self) -> int:
        """How many numbers are added: every product and the bias."""
        return self.fan_in + 1

    @property
    def bound(self) -> float:
        """SUM_ROUNDING_UNITS × roundoff × Σ|terms|, as for a convolution."""
        return SUM_ROUNDING_UNITS * self.roundoff * self.magnitude


@dataclass(frozen=True)
class SoftmaxCell(Arithmetic):
    """``p_k = exp(z_k − m) / Σⱼ exp(z_j − m)`` for the chosen class k: every class's logit
    ``z``, ``exps`` (exp(z − m)), their ``total`` and all ``probabilities`` (float64), and
    ``captured_all`` (PyTorch's float32 probabilities). ``m`` (``shift``) is the largest logit:
    subtracting it changes no probability and keeps every exp in float64's range."""

    logits: np.ndarray
    shift: float
    exps: np.ndarray
    total: float
    probabilities: np.ndarray
    captured_all: np.ndarray

    @property
    def bound(self) -> float:
        """PyTorch rounds z − max(z) (an error of up to |z − max z| × 2⁻²⁴, which exp turns into
        that much *relative* error), then exp, the sum of the exps and the division each add a
        few units of 2⁻²⁴: so (|z_k − max z| + 16) × 2 × 2⁻²⁴ × p_k, with a factor 2 to spare."""
        k = self.cell[0]
        spread = abs(float(self.logits[k] - self.logits.max()))
        return (spread + 16) * 2 * FLOAT32_UNIT_ROUNDOFF * abs(self.captured)


CellRecord = ConvCell | ReluCell | DropoutCell | PoolCell | FlattenCell | LinearCell | SoftmaxCell


# --------------------------------------------------------------------------------------------
# Cells


def stage_shape(acts: Activations, stage: str) -> tuple[int, ...]:
    """The shape of one image's ``stage``: (C, H, W) for maps, (N,) for vectors."""
    if stage not in acts.stages:
        raise CellError(f"There is no stage called '{stage}'.")
    return tuple(acts.stages[stage].shape)


def check_cell(shape: tuple[int, ...], cell: tuple[int, ...], stage: str) -> tuple[int, ...]:
    """``cell`` as a tuple of ints inside ``shape``, or :class:`CellError` saying which
    coordinate is out of range and what the range is."""
    names = ("map", "row", "column") if len(shape) == 3 else ("unit",)
    if len(cell) != len(shape):
        raise CellError(
            f"A cell of {stage} has {len(shape)} coordinate(s) ({', '.join(names)}), not "
            f"{len(cell)}."
        )
    out = []
    for name, value, size in zip(names, cell, shape, strict=True):
        if int(value) != value or not 0 <= int(value) < size:
            raise CellError(f"{stage} has {name}s 0 to {size - 1}; {value} is not one of them.")
        out.append(int(value))
    return tuple(out)


def flatten_index(channel: int, row: int, col: int, shape: tuple[int, int, int]) -> int:
    """Where (channel, row, col) of a C×H×W stack lands when flattened channel-major, as
    ``torch.flatten`` does: ``(channel·H + row)·W + col``."""
    _, h, w = shape
    return (channel * h + row) * w + col


def unflatten_index(index: int, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """The inverse of :func:`flatten_index`: position → (channel, row, col)."""
    _, h, w = shape
    channel, within = divmod(index, h * w)
    return channel, *divmod(within, w)


def _input_array(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """The normalised input as 3×32×32 float64 (from 1×3×32×32 or 3×32×32)."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return arr.reshape(arr.shape[-3:]).astype(np.float64)


def _parameter(
    model: SimpleCNN, layer: str, what: Literal["weight", "bias"], index: int
) -> np.ndarray:
    """A float64 copy of row ``index`` of a layer's weight or bias (the model is only read)."""
    return getattr(getattr(model, layer), what)[index].detach().cpu().numpy().astype(np.float64)


def conv_cell(
    model: SimpleCNN,
    x: np.ndarray | torch.Tensor,
    acts: Activations,
    stage: str,
    cell: tuple[int, int, int],
    top: int = 4,
) -> ConvCell:
    """The arithmetic of ``stage`` (conv1/2/3) at (map, row, col): see :class:`ConvCell`.
    conv1 reads the normalised input ``x`` (3×32×32); conv2 pool1, conv3 pool2. ``top`` input
    channels are listed one by one (all of them when there are no more than ``top + 1``)."""
    source = CONV_SOURCE[stage]
    channel, row, col = cell
    previous = _input_array(x) if source == "input" else acts.stages[source].astype(np.float64)
    c, h, w = previous.shape
    padded = np.zeros((c, h + 2, w + 2))  # padding 1: a ring of zeros
    padded[:, 1:-1, 1:-1] = previous
    window = padded[:, row : row + 3, col : col + 3]  # C×3×3, centred on (row, col)
    rows, cols = np.arange(row - 1, row + 2), np.arange(col - 1, col + 2)
    inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]
    weights = _parameter(model, stage, "weight", channel)  # C×3×3
    bias = float(_parameter(model, stage, "bias", channel))
    products = window * weights
    sums = products.sum(axis=(1, 2))  # one per input channel
    order = sorted(range(c), key=lambda i: (-abs(sums[i]), i))
    shown = tuple(range(c)) if c <= top + 1 else tuple(order[:top])
    rest = float(sum(sums[i] for i in order[len(shown) :]))
    value = float(sums.sum() + bias)
    return ConvCell(
        stage,
        cell,
        value,
        float(acts.stages[stage][cell]),
        source,
        window.copy(),
        inside,
        weights,
        products,
        sums,
        shown,
        rest,
        bias,
        roundoff=conv_roundoff(acts.device),
    )


def conv_roundoff(device: str) -> float:
    """The relative rounding of a float32 convolution on ``device``: TF32's on CUDA when cuDNN
    may use it (``torch.backends.cudnn.allow_tf32``, on by default), float32's elsewhere."""
    if device.startswith("cuda") and torch.backends.cudnn.allow_tf32:
        return TF32_UNIT_ROUNDOFF
    return FLOAT32_UNIT_ROUNDOFF


def relu_cell(acts: Activations, stage: str, cell: tuple[int, ...]) -> ReluCell:
    """max(0, v) of the cell of the stage before (conv1/2/3 or fc1)."""
    source = RELU_SOURCE[stage]
    before = float(acts.stages[source][cell])
    return ReluCell(stage, cell, max(0.0, before), float(acts.stages[stage][cell]), source, before)


def pool_cell(acts: Activations, stage: str, cell: tuple[int, int, int]) -> PoolCell:
    """The 2×2 window of relu1/2/3 behind (map, row, col) of pool1/2/3 and its winner (the
    first largest in reading order — the one PyTorch reports — when several tie)."""
    source = POOL_SOURCE[stage]
    channel, row, col = cell
    window = acts.stages[source][channel, 2 * row : 2 * row + 2, 2 * col : 2 * col + 2]
    window = window.astype(np.float64)
    r, c = divmod(int(np.argmax(window)), 2)
    ties = int(np.sum(window == window.max()))
    return PoolCell(
        stage,
        cell,
        float(window.max()),
        float(acts.stages[stage][cell]),
        source,
        window,
        (r, c),
        (2 * row + r, 2 * col + c),
        ties,
    )


def flatten_cell(acts: Activations, index: int) -> FlattenCell:
    """Number ``index`` of the 2,048 and the pool3 cell it comes from."""
    shape = tuple(acts.stages["pool3"].shape)
    channel, row, col = unflatten_index(index, shape)
    value = float(acts.stages["pool3"][channel, row, col])
    return FlattenCell(
        "flatten",
        (index,),
        value,
        float(acts.stages["flatten"][index]),
        index,
        channel,
        row,
        col,
        shape,
    )


def linear_cell(
    model: SimpleCNN, acts: Activations, stage: str, unit: int, top: int = 8
) -> LinearCell:
    """fc1 or fc2's ``unit`` as a dot product of its inputs (flatten, or dropout = relu4) with
    its row of weights, plus the bias; the ``top`` largest |products| listed one by one."""
    source = LINEAR_SOURCE[stage]
    inputs = acts.stages[source].astype(np.float64)
    weights = _parameter(model, stage, "weight", unit)
    bias = float(_parameter(model, stage, "bias", unit))
    products = inputs * weights
    order = np.lexsort((np.arange(len(products)), -np.abs(products)))  # largest |p|, then index
    shown = order[:top]
    rest = float(products[order[top:]].sum())
    value = float(products.sum() + bias)
    return LinearCell(
        stage,
        (unit,),
        value,
        float(acts.stages[stage][unit]),
        source,
        len(inputs),
        tuple(int(i) for i in shown),
        inputs[shown],
        weights[shown],
        products[shown],
        rest,
        bias,
        int(np.sum(inputs == 0)),
        float(np.abs(products).sum() + abs(bias)),
    )


def softmax_cell(acts: Activations, index: int) -> SoftmaxCell:
    """Probability ``index`` from every logit: exp, sum, divide (float64)."""
    logits = acts.stages[LOGITS].astype(np.float64)
    # The largest logit is always subtracted first: it cancels in the division, and it keeps
    # exp from overflowing (logits past 709) and from underflowing to 0/0 (all logits below
    # −745), which PyTorch's own softmax avoids the same way.
    shift = float(logits.max())
    exps = np.exp(logits - shift)
    total = float(exps.sum())
    probabilities = exps / total
    captured = acts.stages["softmax"]
    return SoftmaxCell(
        "softmax",
        (index,),
        float(probabilities[index]),
        float(captured[index]),
        logits,
        shift,
        exps,
        total,
        probabilities,
        captured.astype(np.float64),
    )


def explain(
    model: SimpleCNN,
    x: np.ndarray | torch.Tensor,
    acts: Activations,
    stage: str,
    cell: tuple[int, ...],
    top: int = 4,
) -> CellRecord:
    """The arithmetic behind one cell of any stage (see the module docstring for the records).

    ``model``: the weights that made ``acts`` (only read); ``x``: the normalised input,
    1×3×32×32 or 3×32×32; ``cell``: (map, row, col) for conv/relu/pool stages, (unit,) for
    flatten, fc1, relu4, dropout, fc2, softmax. ``top``: how many input channels (conv) are
    listed one by one; fully connected units list twice as many inputs. Raises
    :class:`CellError` for a stage or cell that does not exist."""
    cell = check_cell(stage_shape(acts, stage), tuple(cell), stage)
    info = STAGE_BY_NAME[stage]
    if info.op == "conv":
        return conv_cell(model, x, acts, stage, cast(Cell3, cell), top)
    if info.op == "relu":
        return relu_cell(acts, stage, cell)
    if info.op == "pool":
        return pool_cell(acts, stage, cast(Cell3, cell))
    if info.op == "flatten":
        return flatten_cell(acts, cell[0])
    if info.op == "linear":
        return linear_cell(model, acts, stage, cell[0], 2 * top)
    if info.op == "dropout":
        before = float(acts.stages[info.source][cell])
        return DropoutCell(
            stage, cell, before, float(acts.stages[stage][cell]), info.source, before
        )
    return softmax_cell(acts, cell[0])


# --------------------------------------------------------------------------------------------
# Max-pooling, window by window


@dataclass(frozen=True)
class PoolTrace:
    """Every window of a 2×2 max-pool over one H×W map, in reading order: step k covers rows
    2i, 2i+1 and columns 2j, 2j+1 of the map, with (i, j) = divmod(k, W/2).

    ``windows``: (H/2·W/2)×2×2 float64; ``winners``: the flat position (0–3, reading order)
    of each window's winner; ``output``: (H/2)×(W/2), each window's largest value."""

    source: np.ndarray  # H×W
    windows: np.ndarray
    winners: np.ndarray
    output: np.ndarray

    @property
    def steps(self) -> int:
        return len(self.windows)

    def position(self, step: int) -> tuple[int, int]:
        """The output cell (i, j) that step ``step`` fills."""
        return divmod(step, self.output.shape[1])


def pool_trace(source: np.ndarray) -> PoolTrace:
    """The 2×2 max-pool of one H×W map (H, W even), window by window."""
    m = np.asarray(source, dtype=np.float64)
    h, w = m.shape
    # H×W → (H/2)×2×(W/2)×2 → (H/2)×(W/2)×2×2: each 2×2 block together.
    blocks = m.reshape(h // 2, 2, w // 2, 2).transpose(0, 2, 1, 3)
    windows = blocks.reshape(-1, 2, 2)
    flat = windows.reshape(len(windows), 4)
    winners = np.argmax(flat, axis=1)
    output = flat.max(axis=1).reshape(h // 2, w // 2)
    return PoolTrace(m, windows, winners, output)


__all__ = [
    "CONV_SOURCE",
    "EXPLAINED_STAGES",
    "FLOAT32_UNIT_ROUNDOFF",
    "LINEAR_SOURCE",
    "POOL_SOURCE",
    "RELU_SOURCE",
    "SUM_ROUNDING_UNITS",
    "TF32_UNIT_ROUNDOFF",
    "Arithmetic",
    "CellError",
    "CellRecord",
    "ConvCell",
    "DropoutCell",
    "FlattenCell",
    "LinearCell",
    "PoolCell",
    "PoolTrace",
    "ReluCell",
    "SoftmaxCell",
    "check_cell",
    "conv_cell",
    "conv_roundoff",
    "explain",
    "flatten_cell",
    "flatten_index",
    "linear_cell",
    "pool_cell",
    "pool_trace",
    "relu_cell",
    "softmax_cell",
    "stage_shape",
    "unflatten_index",
]
