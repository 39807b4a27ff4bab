"""One forward pass that records what every stage of SimpleCNN computes, and the filters.

    acts = capture_activations(model, preprocess(img32, pre))   # img32: 32×32×3 uint8
    acts.stages["conv1"]    # 32×32×32 float32: 32 maps of 32×32
    acts.stages["softmax"]  # 10 probabilities

Everything returned is a plain, read-only NumPy array on the CPU; nothing is displayed here and
nothing is kept between calls.

The stages are computed by calling the model's layers one after another, exactly as
``SimpleCNN.forward`` does — the same modules and functions in the same order — so the
captured logits are *bit for bit* ``model(x)`` (the tests check it on many inputs and on the
shipped weights). Nothing is registered on the model: the app shares one model between every
session, each a thread of one process, and a hook on it would fire for every session's images.

======== ========================================= ===============
stage    computed as                               shape (1 image)
======== ========================================= ===============
conv1    ``model.conv1(x)``                        32×32×32
relu1    ``torch.relu(conv1)``                     32×32×32
pool1    ``model.pool(relu1)``                     32×16×16
conv2    ``model.conv2(pool1)``                    64×16×16
relu2    ``torch.relu(conv2)``                     64×16×16
pool2    ``model.pool(relu2)``                     64×8×8
conv3    ``model.conv3(pool2)``                    128×8×8
relu3    ``torch.relu(conv3)``                     128×8×8
pool3    ``model.pool(relu3)``                     128×4×4
flatten  ``torch.flatten(pool3, 1)``               2048
fc1      ``model.fc1(flatten)``                    512
relu4    ``torch.relu(fc1)``                       512
dropout  ``model.dropout(relu4)`` (eval mode: identical to relu4 — dropout is off)
fc2      ``model.fc2(dropout)`` = the logits       10
softmax  ``torch.softmax(logits, dim=1)``          10
======== ========================================= ===============
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from explorer.errors import UserError
from explorer.model import OVERFLOW_MESSAGE, Preprocessing, SimpleCNN, WeightsError, normalise
from explorer.stages import CONV_STAGES, INPUT, LOGITS, STAGES, Stage


@dataclass(frozen=True)
class Activations:
    """Every stage's output for one image (batch dimension removed), where it ran, how long
    the forward pass took, and — when a GPU failed — why it ran on the CPU instead. The arrays
    are read-only, so a cache can hand the same object to every session."""

    stages: OrderedDict[str, np.ndarray]
    device: str
    forward_ms: float
    fallback_reason: str | None = None
    # What was computed (the weights, the device asked for, the input's bytes), set by whoever
    # keeps the capture in a cache: the caches of its pictures hash it by this (explorer.ui).
    identity: str = ""

    @property
    def logits(self) -> np.ndarray:
        return self.stages[LOGITS]

    @property
    def probabilities(self) -> np.ndarray:
        return self.stages["softmax"]


@dataclass
class ModelInput:
    """The 32×32×3 uint8 image the network will get, where it came from (a sentence for the
    page), and its true class when known (gallery images)."""

    image: np.ndarray
    description: str
    true_label: str | None = None

    @property
    def key(self) -> str:
        """The image's identity in caches: the SHA-256 of its pixels."""
        return hashlib.sha256(np.ascontiguousarray(self.image).tobytes()).hexdigest()


# --------------------------------------------------------------------------------------------
# Input


def preprocess(img: np.ndarray, pre: Preprocessing) -> torch.Tensor:
    """32×32×3 uint8 RGB → 1×3×32×32 float32 ``(x/255 − mean) / std`` per channel, by the
    trainer's own ``normalise``."""
    arr = np.asarray(img)
    if arr.shape != (32, 32, 3) or arr.dtype != np.uint8:
        raise ValueError(f"expected a 32×32×3 uint8 image, got {arr.shape} {arr.dtype}")
    x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]  # 1×3×32×32
    return normalise(x, pre)


def unpreprocess(x: torch.Tensor | np.ndarray, pre: Preprocessing) -> np.ndarray:
    """The inverse of :func:`preprocess`, for display: 1×3×32×32 (or 3×32×32) normalised values
    → 32×32×3 uint8 (rounded, clipped to 0..255)."""
    arr = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    arr = arr.reshape(3, *arr.shape[-2:])
    mean = np.asarray(pre.mean).reshape(3, 1, 1)
    std = np.asarray(pre.std).reshape(3, 1, 1)
    pixels = (arr * std + mean) * 255.0
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8).transpose(1, 2, 0)


# --------------------------------------------------------------------------------------------
# The forward pass


def _model_on(model: SimpleCNN, device: str) -> SimpleCNN:
    """``model`` itself when it already lives on ``device``, else a moved copy — the caller's
    model is never changed (the app shares one model between all sessions)."""
    here = next(model.parameters()).device
    there = torch.device(device)
    if here.type == there.type and there.index in (None, here.index):
        return model
    return copy.deepcopy(model).to(there)


def apply_stage(net: SimpleCNN, stage: Stage, x: torch.Tensor) -> torch.Tensor:
    """One stage of SimpleCNN's forward pass on its source ``x``: the same module or function
    ``SimpleCNN.forward`` uses for it."""
    if stage.op == "relu":
        return torch.relu(x)
    if stage.op == "flatten":
        return torch.flatten(x, 1)  # N×2048, channel-major
    if stage.op == "softmax":
        return torch.softmax(x, dim=1)
    assert stage.module is not None, stage.name  # conv, pool, linear and dropout are modules
    return getattr(net, stage.module)(x)  # dropout in eval mode: the very same tensor


def _forward_stages(net: SimpleCNN, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
    """SimpleCNN's forward pass written out one stage at a time — the stages of
    ``explorer.stages.STAGES``, each from its source, with the same modules and functions in
    the same order as ``SimpleCNN.forward`` — keeping every stage's output.
    x: N×3×32×32 → each stage N×… as in the module docstring."""
    s: OrderedDict[str, torch.Tensor] = OrderedDict()
    for stage in STAGES:
        s[stage.name] = apply_stage(net, stage, x if stage.source == INPUT else s[stage.source])
    return s


def capture_activations(model: SimpleCNN, x: torch.Tensor, device: str = "cpu") -> Activations:
    """Run ``model`` once on ``x`` (1×3×32×32, normalised) on ``device`` in eval mode without
    gradients, and return every stage's output (see the module docstring for the list and the
    shapes) as read-only arrays. The model is only read, never changed — it may be shared by
    every session — so a model in training mode is refused rather than switched.

    Raises :class:`~explorer.model.WeightsError` when the weights make a stage overflow
    (inf/NaN) on this image: the numbers could not be shown, and the prediction would read
    "nan%"."""
    if any(module.training for module in model.modules()):  # dropout would be on
        raise ValueError("capture_activations needs a model in eval mode (model.eval())")
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"expected a batch of one image, 1×3×32×32; got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("the input image holds NaN or infinite values")
    net = _model_on(model, device)
    with torch.no_grad():
        xd = x.to(device)
        _sync(device)
        t0 = time.perf_counter()
        captured = _forward_stages(net, xd)
        _sync(device)
        forward_ms = (time.perf_counter() - t0) * 1000.0
    stages: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, tensor in captured.items():
        arr = tensor[0].cpu().numpy().copy()  # a copy: dropout's output *is* relu4's tensor
        arr.setflags(write=False)
        if not np.isfinite(arr).all():
            raise WeightsError(f"{OVERFLOW_MESSAGE} With this image it happens at {name}.")
        stages[name] = arr
    return Activations(stages, device, forward_ms)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def run_with_fallback(
    model: SimpleCNN, x: torch.Tensor, device: str, cpu_model: SimpleCNN | None = None
) -> Activations:
    """:func:`capture_activations` on ``device``; if a GPU fails (out of memory, a driver or
    runtime error), run again on the CPU — on ``cpu_model`` when given, else a CPU copy of
    ``model`` — and say why in ``fallback_reason``. A failure on the CPU is raised, and so is a
    user's mistake (weights that overflow), which no other device would fix."""
    if device == "cpu":
        return capture_activations(cpu_model or model, x, "cpu")
    try:
        return capture_activations(model, x, device)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 — any GPU failure: carry on on the CPU
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        acts = capture_activations(cpu_model or model, x, "cpu")
        return dataclasses.replace(acts, fallback_reason=reason[:300])


# --------------------------------------------------------------------------------------------
# Filters, statistics, predictions


def filters(model: SimpleCNN, layer: str) -> np.ndarray:
    """A conv layer's weights as a float32 copy: out×in×3×3 (conv1 32×3×3×3, conv2 64×32×3×3,
    conv3 128×64×3×3)."""
    if layer not in CONV_STAGES:
        raise ValueError(f"{layer} is not a convolution layer")
    return getattr(model, layer).weight.detach().cpu().numpy().copy()


def biases(model: SimpleCNN, layer: str) -> np.ndarray:
    """A layer's bias vector as a float32 copy."""
    return getattr(model, layer).bias.detach().cpu().numpy().copy()


def conv1_filters_rgb(model: SimpleCNN) -> np.ndarray:
    """conv1's 32 filters as 32×3×3×3 uint8 RGB patches (filter, row, col, channel): see
    :func:`filters_rgb`."""
    return filters_rgb(filters(model, "conv1"))


def filters_rgb(conv1: np.ndarray) -> np.ndarray:
    """conv1's weights (32×3×3×3: filter, channel, row, col — of any network, or of a training
    run's snapshot) as 32×3×3×3 uint8 RGB patches (filter, row, col, channel).

    Each filter is scaled symmetrically about 0 by its own largest |weight|, ``128 + 127·w/m``,
    so a weight of 0 is mid-grey (128,128,128), the filter's strongest positive weight is 255
    and its strongest negative weight 1 in that channel — the usual way to show first-layer
    filters as colour patches (a reddish patch responds to red, a dark one to its opposite)."""
    w = np.asarray(conv1, dtype=np.float64).transpose(0, 2, 3, 1)  # 32×3×3×3 (HWC)
    m = np.abs(w).reshape(len(w), -1).max(axis=1).reshape(-1, 1, 1, 1)
    m[m == 0] = 1.0
    return np.clip(np.rint(128 + 127 * w / m), 0, 255).astype(np.uint8)


def map_statistics(arr: np.ndarray) -> dict[str, float]:
    """min, max, mean, std (population) and the fraction of exact zeros of any array."""
    a = np.asarray(arr, dtype=np.float64)
    return {
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": float(a.mean()),
        "std": float(a.std()),
        "fraction_zero": float(np.mean(a == 0)),
    }


def predictions(probs: np.ndarray, classes: tuple[str, ...] | list[str]) -> list[tuple[str, float]]:
    """(class, probability) pairs, the most probable first (ties keep class order)."""
    p = np.asarray(probs, dtype=np.float64)
    order = sorted(range(len(p)), key=lambda i: (-p[i], i))
    return [(classes[i], float(p[i])) for i in order]


CHANNELS = ("R", "G", "B")


def playground_kernel(model: SimpleCNN, index: int, channel: str) -> dict:
    """conv1 filter ``index`` as a 3×3 kernel for the playground: one colour channel ("R",
    "G", "B") or "sum" — the three channels added, which is what the filter computes on a gray
    image whose channels are equal. Returns ``{"name": str, "values": 3×3 list of floats}``."""
    w = filters(model, "conv1")[index].astype(np.float64)  # 3×3×3 (channel, row, col)
    if channel == "sum":
        values, what = w.sum(axis=0), "R+G+B"
    else:
        values, what = w[CHANNELS.index(channel)], channel
    return {
        "name": f"conv1 filter {index} ({what})",
        "values": [[float(v) for v in row] for row in values],
    }


__all__ = [
    "CHANNELS",
    "Activations",
    "apply_stage",
    "ModelInput",
    "biases",
    "capture_activations",
    "conv1_filters_rgb",
    "filters_rgb",
    "filters",
    "map_statistics",
    "playground_kernel",
    "predictions",
    "preprocess",
    "run_with_fallback",
    "unpreprocess",
]
