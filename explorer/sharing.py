"""Why a CNN shares its weights, computed on the live network rather than told.

Two experiments for the page "Why CNNs: shared weights":

1. **One kernel, every position** (:func:`kernel_lab`): conv1's 3×3 filter on one colour
   channel of the network's input, before and after a student edits its weights. A
   convolution uses the same nine numbers at every output position, so changing one of them
   changes every output at once: the difference is exactly ``Σ Δw × the pixel under it``,
   position by position (:meth:`KernelLab.position`).
2. **What sharing saves** (:func:`layer_counts`, :func:`head_counts`): conv1…conv3 as they
   are (one kernel per filter, shared by every position), without sharing (a *locally
   connected* layer: its own kernel and bias at every output position) and as *dense* layers
   mapping the same input maps to the same output maps (every input number to every output
   number), for any input size. The shapes are read from the model's own modules and pushed
   through its stages (:func:`conv_shapes`), so the counts follow the live model.

Streamlit-free; the pictures are in ``explorer.sharing_pictures``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import nn

from explorer.architecture import conv_params, linear_params
from explorer.convolution import ConvSettings, conv2d, output_size
from explorer.features import filters, preprocess
from explorer.model import Preprocessing, SimpleCNN
from explorer.stages import INPUT, PARAMETER_STAGES, STAGES

CHANNELS = ("R", "G", "B")  # the input's channels, in the order conv1 reads them
MODEL_SIDE = 32  # the side of the images SimpleCNN is built for (fc1 expects 128·4·4)

#: Output positions outlined on the page (row, column of conv1's 32×32 map), each with its
#: letter: a corner, where the kernel lies partly on the zero padding, and three inside.
OUTLINED: tuple[tuple[str, int, int], ...] = (
    ("A", 0, 0),
    ("B", 6, 23),
    ("C", 16, 12),
    ("D", 26, 27),
)


# ============================================================================================
# 1. One kernel, every position


def channel_input(image: np.ndarray, pre: Preprocessing, channel: str) -> np.ndarray:
    """One channel of the network's input as conv1 reads it: the 32×32×3 uint8 image
    normalised by the weights' own ``(x/255 − mean) / std`` (``features.preprocess``),
    channel ``channel`` ("R", "G" or "B") as 32×32 float64."""
    x = preprocess(image, pre)  # 1×3×32×32 float32
    return x[0, CHANNELS.index(channel)].double().numpy().copy()


def learned_kernel(model: SimpleCNN, index: int, channel: str) -> np.ndarray:
    """conv1 filter ``index``'s 3×3 slice for ``channel``, as float64 (a copy)."""
    return filters(model, "conv1")[index, CHANNELS.index(channel)].astype(np.float64)


@dataclass(frozen=True)
class PositionRow:
    """One outlined output position: the patch the kernel lies on there (zeros on the
    padding), the output before and after the edit, and the change worked out by hand."""

    letter: str
    row: int
    col: int
    patch: np.ndarray  # kh×kw: the padded input under the kernel
    before: float
    after: float
    expected_change: float  # Σ (new w − old w) × the pixel under it

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass(frozen=True, eq=False)
class KernelLab:
    """One kernel slid over one channel, before and after an edit of its weights.

    ``out_before``/``out_after`` are ``explorer.convolution.conv2d`` of the channel with the
    two kernels, zero-padded as conv1 pads (so the map is as large as the input)."""

    channel_image: np.ndarray  # H×W float64
    padding: int
    before: np.ndarray  # kh×kw: the kernel as learned
    after: np.ndarray  # kh×kw: the kernel as edited
    out_before: np.ndarray  # H'×W'
    out_after: np.ndarray  # H'×W'

    @cached_property
    def padded(self) -> np.ndarray:
        """The channel with conv1's zero padding around it."""
        p = self.padding
        return np.pad(self.channel_image, ((p, p), (p, p)))

    @property
    def difference(self) -> np.ndarray:
        return self.out_after - self.out_before

    @property
    def changed(self) -> np.ndarray:
        """H'×W' bool: where the output is not what it was (exactly, in float64)."""
        return self.out_after != self.out_before

    @property
    def n_outputs(self) -> int:
        return int(self.out_before.size)

    @property
    def n_changed(self) -> int:
        return int(np.count_nonzero(self.changed))

    @property
    def edited_cells(self) -> list[tuple[int, int]]:
        """The kernel's cells (row, column) whose weight was edited."""
        rows, cols = np.nonzero(self.after != self.before)
        return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]

    def _taps(self) -> tuple[np.ndarray, np.ndarray]:
        """For every output position and every edited weight: whether the weight lies on the
        padding there, and the pixel under it (0 on the padding). Each P×E, P = positions."""
        h, w = self.out_before.shape
        rows, cols = np.divmod(np.arange(h * w), w)
        p = self.padding
        edited = self.edited_cells
        on_pad = np.zeros((h * w, len(edited)), bool)
        pixels = np.zeros((h * w, len(edited)))
        for e, (i, j) in enumerate(edited):
            r, c = rows + i - p, cols + j - p  # the input pixel under weight (i, j)
            outside = (r < 0) | (r >= self.channel_image.shape[0])
            outside |= (c < 0) | (c >= self.channel_image.shape[1])
            on_pad[:, e] = outside
            pixels[:, e] = self.padded[rows + i, cols + j]
        return on_pad, pixels

    def unchanged_reasons(self) -> dict[str, int]:
        """Why the outputs that did not change did not: ``padding`` — every edited weight
        lies on the zero padding there; ``zero`` — on pixels that are 0; ``rounding`` — the
        change was too small for float64 to register at that sum (or edits cancelled)."""
        unchanged = ~self.changed.ravel()
        if not self.edited_cells:
            return {"padding": 0, "zero": 0, "rounding": 0}
        on_pad, pixels = self._taps()
        all_pad = on_pad.all(axis=1)
        all_zero = (pixels == 0).all(axis=1) & ~all_pad
        return {
            "padding": int(np.count_nonzero(unchanged & all_pad)),
            "zero": int(np.count_nonzero(unchanged & all_zero)),
            "rounding": int(np.count_nonzero(unchanged & ~all_pad & ~all_zero)),
        }

    def position(self, letter: str, row: int, col: int) -> PositionRow:
        """The arithmetic at output (``row``, ``col``)."""
        kh, kw = self.before.shape
        patch = self.padded[row : row + kh, col : col + kw].copy()
        return PositionRow(
            letter,
            row,
            col,
            patch,
            float(self.out_before[row, col]),
            float(self.out_after[row, col]),
            float(np.sum((self.after - self.before) * patch)),
        )

    def positions(self) -> list[PositionRow]:
        return [self.position(*where) for where in OUTLINED]


def kernel_lab(
    channel_image: np.ndarray, before: np.ndarray, after: np.ndarray, padding: int
) -> KernelLab:
    """Slide ``before`` and ``after`` (kh×kw) over ``channel_image`` (H×W) with ``padding``
    zeros around it, by the app's own convolution (``explorer.convolution.conv2d``)."""
    settings = ConvSettings(padding=padding)
    image = np.asarray(channel_image, dtype=np.float64)
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    return KernelLab(
        image,
        padding,
        before,
        after,
        conv2d(image, before, settings),
        conv2d(image, after, settings),
    )


def conv1_padding(model: SimpleCNN) -> int:
    """conv1's zero padding on each side (1 for SimpleCNN: a 3×3 kernel keeps the size)."""
    padding = model.conv1.padding
    if isinstance(padding, str) or padding[0] != padding[1] or model.conv1.padding_mode != "zeros":
        raise ValueError("conv1 must pad equally with zeros on every side")
    return int(padding[0])


def conv1_map_gap(model: SimpleCNN, image: np.ndarray, pre: Preprocessing, index: int) -> float:
    """How far conv1's map ``index``, as the network computes it, is from the sum of the
    three channels' convolutions (each with its own 3×3 slice of the filter, by
    ``explorer.convolution``) plus the filter's bias: the largest |difference|, float32
    rounding only. This ties the one-channel experiment to the network itself."""
    padding = conv1_padding(model)
    weights = filters(model, "conv1")[index].astype(np.float64)  # 3×3×3
    bias = float(model.conv1.bias.detach()[index]) if model.conv1.bias is not None else 0.0
    total = sum(
        conv2d(channel_input(image, pre, ch), weights[i], ConvSettings(padding=padding))
        for i, ch in enumerate(CHANNELS)
    )
    with torch.no_grad():
        network = model.conv1(preprocess(image, pre).to(model.conv1.weight.device))
    return float(np.abs(network[0, index].double().cpu().numpy() - (total + bias)).max())


# ============================================================================================
# 2. What sharing saves


@dataclass(frozen=True)
class ConvShape:
    """One convolution of the model at a given input size: its maps in and out."""

    name: str
    in_channels: int
    out_channels: int
    kernel: int  # k of a k×k kernel
    in_side: tuple[int, int]  # H, W of the maps it reads
    out_side: tuple[int, int]  # H', W' of the maps it makes


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[-1])


def conv_shapes(model: SimpleCNN, side: int) -> tuple[list[ConvShape], int]:
    """Each convolution's maps in and out for a ``side``×``side`` input, and the number of
    values flatten hands to the first fully connected layer — pushed through the model's own
    stages in forward order, sizes by ``explorer.convolution.output_size`` from each module's
    kernel, padding, stride and dilation (ConvolutionError when the image is too small)."""
    channels, height, width = model.conv1.in_channels, side, side
    shapes: list[ConvShape] = []
    for stage in STAGES:
        module = getattr(model, stage.module) if stage.module else None
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            if kh != kw or isinstance(module.padding, str):
                raise ValueError(f"{stage.name} must have a square kernel and numeric padding")
            (ph, pw), (sh, sw), (dh, dw) = module.padding, module.stride, module.dilation
            out_h = output_size(height, kh, ph, sh, dh)
            out_w = output_size(width, kw, pw, sw, dw)
            shapes.append(
                ConvShape(
                    stage.name,
                    module.in_channels,
                    module.out_channels,
                    kh,
                    (height, width),
                    (out_h, out_w),
                )
            )
            channels, height, width = module.out_channels, out_h, out_w
        elif isinstance(module, nn.MaxPool2d):
            k, s = _pair(module.kernel_size), _pair(module.stride)
            p, d = _pair(module.padding), _pair(module.dilation)
            height = output_size(height, k[0], p[0], s[0], d[0])
            width = output_size(width, k[1], p[1], s[1], d[1])
        elif stage.op == "flatten":
            return shapes, channels * height * width
        elif stage.source == INPUT or stage.op in ("relu", "dropout"):
            continue  # shapes unchanged
        else:
            break
    raise ValueError("the model has no flatten stage")


@dataclass(frozen=True)
class LayerCounts:
    """A convolution's parameters three ways, for the input size its shape was made for."""

    shape: ConvShape

    @property
    def positions(self) -> int:
        """Output positions: where the kernel is laid."""
        return self.shape.out_side[0] * self.shape.out_side[1]

    @property
    def shared(self) -> int:
        """As a convolution: one k×k×in kernel and one bias per filter, for every position."""
        s = self.shape
        return conv_params(s.in_channels, s.out_channels, s.kernel)

    @property
    def local(self) -> int:
        """Locally connected: its own kernels and biases at every output position."""
        return self.positions * self.shared

    @property
    def dense(self) -> int:
        """Dense: every number of the input maps to every number of the output maps, one
        weight each, plus one bias per output number."""
        s = self.shape
        inputs = s.in_channels * s.in_side[0] * s.in_side[1]
        outputs = s.out_channels * s.out_side[0] * s.out_side[1]
        return linear_params(inputs, outputs)


def layer_counts(model: SimpleCNN, side: int) -> list[LayerCounts]:
    """conv1…conv3 counted three ways for a ``side``×``side`` input."""
    shapes, _ = conv_shapes(model, side)
    return [LayerCounts(shape) for shape in shapes]


@dataclass(frozen=True)
class HeadLayer:
    """A fully connected layer of a SimpleCNN made for a given input size."""

    name: str
    in_features: int
    out_features: int

    @property
    def params(self) -> int:
        return linear_params(self.in_features, self.out_features)


def head_counts(model: SimpleCNN, side: int) -> list[HeadLayer]:
    """fc1 and fc2 of this model's design made for ``side``×``side`` images: fc1 takes
    whatever flatten gives at that size (2,048 at 32×32), the rest keeps its sizes."""
    _, flat = conv_shapes(model, side)
    out: list[HeadLayer] = []
    features = flat
    for name in PARAMETER_STAGES:
        layer = getattr(model, name)
        if isinstance(layer, nn.Linear):
            out.append(HeadLayer(name, features, layer.out_features))
            features = layer.out_features
    return out


def network_total(model: SimpleCNN, side: int) -> int:
    """All parameters of this model's design made for ``side``×``side`` images (at 32×32:
    the model's own count)."""
    convs = sum(c.shared for c in layer_counts(model, side))
    return convs + sum(h.params for h in head_counts(model, side))


def where_parameters(model: nn.Module) -> list[tuple[str, int, float]]:
    """(layer, parameters, share of all) for each layer with parameters, in forward order,
    counted on the model's own tensors."""
    counts = [
        (name, sum(p.numel() for p in module.parameters()))
        for name, module in model.named_children()
        if any(True for _ in module.parameters())
    ]
    order = {name: i for i, name in enumerate(PARAMETER_STAGES)}
    counts.sort(key=lambda item: order.get(item[0], len(order)))
    total = sum(n for _, n in counts)
    return [(name, n, n / total) for name, n in counts]


# ============================================================================================
# Words for large numbers


_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))


def in_words(n: int) -> str:
    """A count as people say it, to three significant figures: ``93.2 thousand``,
    ``10.4 million``, ``268 million``; below a thousand, the number itself."""
    rounded = float(f"{n:.3g}")  # 999,999 → 1,000,000 before the word is chosen
    for value, word in _SCALES:
        if rounded >= value:
            return f"{rounded / value:.3g} {word}"
    return f"{n:,}"


def times(a: int, b: int) -> str:
    """``a`` as a multiple of ``b``: ``111×``, ``2,879×``, ``1.5×``."""
    ratio = a / b
    return f"{round(ratio):,}×" if ratio >= 10 else f"{ratio:.3g}×"


__all__ = [
    "CHANNELS",
    "MODEL_SIDE",
    "OUTLINED",
    "ConvShape",
    "HeadLayer",
    "KernelLab",
    "LayerCounts",
    "PositionRow",
    "channel_input",
    "conv1_map_gap",
    "conv1_padding",
    "conv_shapes",
    "head_counts",
    "in_words",
    "kernel_lab",
    "layer_counts",
    "learned_kernel",
    "network_total",
    "times",
    "where_parameters",
]
