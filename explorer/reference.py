"""An independent second opinion: the same convolution computed by PyTorch.

``explorer.convolution.conv2d`` is our own NumPy code; ``torch_reference`` asks
``torch.nn.functional.conv2d`` for the same result, so the playground can show, live, that the
two agree (and the largest difference between them). Torch is imported inside the functions:
importing it takes about a second, which no page should pay before the check is wanted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.convolution import ChannelMode, ConvSettings, conv2d

# PyTorch's names for our padding modes (F.pad's "constant" is our "zeros").
_TORCH_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate"}


def torch_reference(
    image: np.ndarray,
    kernel: np.ndarray,
    settings: ConvSettings = ConvSettings(),
    channels: ChannelMode = "sum",
) -> np.ndarray:
    """What ``torch.nn.functional.conv2d`` computes for ``conv2d(image, kernel, settings,
    channels)``, in float64, with the same shapes:

    - image H×W, kernel kh×kw → H'×W' (one input and one output channel);
    - image C×H×W, ``"sum"``: the kh×kw kernel repeated on every channel (weight 1×C×kh×kw,
      like ``nn.Conv2d(C, 1)``) → H'×W';
    - image C×H×W, ``"per_channel"``: one copy of the kernel per channel (``groups=C``, weight
      C×1×kh×kw, a depthwise convolution) → C×H'×W'.

    ``settings.flip`` rotates the kernel 180° first (PyTorch itself only does
    cross-correlation). Padding other than zeros is done with ``F.pad``, as ``nn.Conv2d``
    does for its ``padding_mode``.
    """
    import torch
    import torch.nn.functional as F  # noqa: N812 — PyTorch's own convention

    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if settings.flip:
        kernel = kernel[::-1, ::-1]
    two_d = image.ndim == 2
    x = torch.tensor(image[None] if two_d else image)[None]  # 1×C×H×W (a copy)
    n_channels = x.shape[1]
    k = torch.tensor(kernel.copy())
    per_channel = channels == "per_channel" and not two_d
    if per_channel:
        weight = k.expand(n_channels, 1, *k.shape).contiguous()  # C×1×kh×kw
    else:
        weight = k.expand(1, n_channels, *k.shape).contiguous()  # 1×C×kh×kw
    p = settings.padding
    padding = 0
    if p and settings.padding_mode == "zeros":
        padding = p
    elif p:
        x = F.pad(x, (p, p, p, p), mode=_TORCH_PAD_MODES[settings.padding_mode])
    with torch.no_grad():
        out = F.conv2d(
            x,
            weight,
            stride=settings.stride,
            padding=padding,
            dilation=settings.dilation,
            groups=n_channels if per_channel else 1,
        )
    result = out[0].numpy()  # C_out×H'×W'
    return result if per_channel else result[0]


def max_abs_difference(
    image: np.ndarray,
    kernel: np.ndarray,
    settings: ConvSettings = ConvSettings(),
    channels: ChannelMode = "sum",
    ours: np.ndarray | None = None,
) -> float:
    """The largest |ours − PyTorch's| over every output cell (0.0 when they agree exactly).

    ``ours`` is our ``conv2d`` result if already computed (it is recomputed otherwise).
    Returns infinity when the two results do not even have the same shape.
    """
    if ours is None:
        ours = conv2d(image, kernel, settings, channels)
    reference = torch_reference(image, kernel, settings, channels)
    if ours.shape != reference.shape:
        return float("inf")
    if ours.size == 0:
        return 0.0
    return float(np.max(np.abs(ours - reference)))


@dataclass(frozen=True)
class TorchCheck:
    """Our result compared with ``torch.nn.functional.conv2d``: the largest difference, and the
    tolerance it must stay within (float64 rounding: 1e-9 of the result's largest value)."""

    difference: float
    tolerance: float

    @property
    def agrees(self) -> bool:
        return self.difference <= self.tolerance


def check_against_torch(
    image: np.ndarray,
    kernel: np.ndarray,
    settings: ConvSettings,
    channels: ChannelMode,
    ours: np.ndarray,
) -> TorchCheck:
    """:func:`max_abs_difference` with its verdict (see :class:`TorchCheck`)."""
    largest = float(np.abs(ours).max()) if ours.size else 0.0
    difference = max_abs_difference(image, kernel, settings, channels, ours=ours)
    return TorchCheck(difference, 1e-9 * max(1.0, largest))
