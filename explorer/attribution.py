"""Where the network looks, and what a conv3 filter looks for.

    found = attribute(model, x, target=3, pre=pre)     # x: 1×3×32×32, normalised
    found.grad_cam, found.saliency, found.integrated   # 32×32 maps over the input
    best = maximise_channel(model, pre, channel=17)    # an input that excites conv3 map 17
    best = maximise_channel(model, pre, 5, stage="conv1")   # … or a map of conv1 or conv2
    peaks = gallery_responses(model, images, pre)      # how much each image excites each map

The attributions are computed by Captum (``captum.attr``: LayerGradCam, Saliency,
IntegratedGradients), not by gradient code of our own. Everything that needs gradients or hooks
runs on a *private deep copy* of the model (:func:`private_copy`): the app shares one model
between every session, and Captum registers hooks on the layer it explains. The copy's
parameters do not require gradients, so nothing is accumulated in them either.

All of it runs on ``device`` (CUDA or MPS when there is one, else the CPU) and returns plain
float64 NumPy arrays on the CPU. A GPU that fails is retried on the CPU and the reason kept.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

import numpy as np
import torch
from torch import nn

from explorer.errors import UserError
from explorer.model import Preprocessing, SimpleCNN, normalise

GRAD_CAM_LAYER = "conv3"
# Gauss–Legendre points along the path. A ReLU network is only piecewise smooth, so the sum
# converges slowly: on the gallery the completeness gap is up to ~3% of the score change at 32
# points and under 1% at 64, which costs 50–120 ms on a 2-core CPU.
IG_STEPS = 64
MAXIMISE_STEPS = 256
MAXIMISE_SEED = 0
# The convolutions whose maps can be ranked over the gallery and optimised for (before their
# ReLU, as the network computes them).
CONV_STAGES = ("conv1", "conv2", "conv3")

T = TypeVar("T")


@dataclass(frozen=True)
class MethodNote:
    """What an attribution method shows, and where it misleads: a sentence each for the page."""

    name: str
    shows: str
    misleads: str


METHOD_NOTES: dict[str, MethodNote] = {
    "grad_cam": MethodNote(
        "Grad-CAM on conv3",
        "How much each region of conv3's 8×8 maps pushes the chosen class's score up: every map "
        "weighted by the average gradient of the score with respect to it, summed, negatives "
        "set to 0, then stretched from 8×8 to 32×32.",
        "It is only 8×8: each cell stands for an 18×18 patch of the input, so it points at a "
        "region, never at a pixel, and the smooth stretching invents detail that is not there. "
        "It shows what helps the class, not what argues against it.",
    ),
    "saliency": MethodNote(
        "Saliency (gradient)",
        "For every pixel, how much a tiny change of it would change the class's score: the "
        "gradient's size, the largest of the three colour channels.",
        "It says where the score is *sensitive*, not what the network used: it is noisy, it "
        "lights up edges of whatever is in the image, and it ignores pixels that matter but "
        "whose small changes do not (a ReLU that is off has zero gradient).",
    ),
    "integrated": MethodNote(
        "Integrated gradients",
        "Each pixel's share of the score's change from a black image to this one: the "
        "gradients along the straight path between them, averaged, times the change of the "
        "pixel. Red pixels raise the score, blue ones lower it; the shares add up to the "
        "difference of the two scores.",
        "The answer depends on the black starting image: black pixels get no share at all, "
        "however much they matter (an MNIST digit's background, a night sky). The shares "
        "can be large where the path passes through regions the network never saw in "
        "training.",
    ),
}


class AttributionError(UserError):
    """A class or channel that does not exist, with a sentence saying what does."""


def private_copy(model: SimpleCNN, device: str = "cpu") -> SimpleCNN:
    """A deep copy of ``model`` on ``device``, in eval mode, its parameters frozen
    (``requires_grad=False``): free for hooks and gradients, never shared."""
    net = copy.deepcopy(model).to(device).eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def _as_input(x: torch.Tensor | np.ndarray, device: str) -> torch.Tensor:
    """A fresh 1×3×32×32 float32 tensor on ``device`` (the caller's ``x`` is never touched)."""
    t = torch.as_tensor(np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x))
    t = t.reshape(1, 3, *t.shape[-2:]).to(device=device, dtype=torch.float32, copy=True)
    if not torch.isfinite(t).all():
        raise ValueError("the input holds NaN or infinite values")
    return t.requires_grad_(True)  # ours alone: the gradients with respect to it are the point


def black_baseline(pre: Preprocessing, side: int = 32) -> torch.Tensor:
    """A black image (every pixel 0) as the network sees it: 1×3×side×side, normalised."""
    return normalise(torch.zeros(1, 3, side, side, dtype=torch.uint8), pre)


# --------------------------------------------------------------------------------------------
# Where the network looks


@dataclass(frozen=True)
class Attributions:
    """Three answers to "which pixels made the score of class ``target``?" for one image.

    ``grad_cam_coarse``: 8×8 ≥ 0 (on conv3's grid); ``grad_cam``: the same stretched to 32×32
    (bilinear); ``saliency``: 32×32 ≥ 0, max over channels of |∂score/∂pixel|;
    ``integrated``: 32×32 signed, integrated gradients summed over the three channels.
    ``score``/``baseline_score``: the class's logit for the image and for a black image;
    ``ig_gap``: Σ integrated − (score − baseline_score), Captum's convergence delta (0 for
    the exact integral). ``ms``: the time of each method; ``device``: where they ran."""

    target: int
    score: float
    baseline_score: float
    grad_cam_coarse: np.ndarray
    grad_cam: np.ndarray
    saliency: np.ndarray
    integrated: np.ndarray
    ig_gap: float
    device: str
    ms: dict[str, float]
    fallback_reason: str | None = None
    # What was explained (the weights, the device, the input, the class), set by whoever keeps
    # it in a cache: the caches of its pictures hash it by this (explorer.ui).
    identity: str = ""


def grad_cam(net: SimpleCNN, x: torch.Tensor, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM of class ``target`` on ``net.conv3`` (Captum's LayerGradCam with the ReLU of
    the paper): (8×8, its 32×32 bilinear enlargement), float64. ``net``: a private copy."""
    from captum.attr import LayerAttribution, LayerGradCam

    cam = LayerGradCam(net, net.conv3).attribute(x, target=target, relu_attributions=True)
    fine = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    return _plain(cam[0, 0]), _plain(fine[0, 0])


def saliency(net: SimpleCNN, x: torch.Tensor, target: int) -> np.ndarray:
    """|∂score/∂x|, the largest of the three channels at every pixel (Simonyan et al. 2014),
    by Captum's Saliency: 32×32 float64 ≥ 0."""
    from captum.attr import Saliency

    grads = Saliency(net).attribute(x, target=target, abs=True)  # 1×3×32×32
    return _plain(grads[0].amax(dim=0))


def integrated_gradients(
    net: SimpleCNN, x: torch.Tensor, target: int, baseline: torch.Tensor, steps: int = IG_STEPS
) -> tuple[np.ndarray, float]:
    """Integrated gradients from ``baseline`` to ``x`` (Sundararajan et al. 2017) by Captum:
    (3×32×32 float64 attributions, the convergence delta)."""
    from captum.attr import IntegratedGradients

    attributions, delta = IntegratedGradients(net).attribute(
        x, baselines=baseline, target=target, n_steps=steps, return_convergence_delta=True
    )
    return _plain(attributions[0]), float(delta.item())


def _plain(t: torch.Tensor) -> np.ndarray:
    arr = t.detach().cpu().numpy().astype(np.float64)
    arr.setflags(write=False)
    return arr


def _check_target(net: nn.Module, target: int) -> int:
    classes = int(cast(nn.Linear, net.fc2).out_features)
    if int(target) != target or not 0 <= int(target) < classes:
        raise AttributionError(f"The network has classes 0 to {classes - 1}; not {target}.")
    return int(target)


def attribute(
    model: SimpleCNN,
    x: torch.Tensor | np.ndarray,
    target: int,
    pre: Preprocessing,
    device: str = "cpu",
    steps: int = IG_STEPS,
) -> Attributions:
    """Grad-CAM, saliency and integrated gradients (from a black image) of class ``target``'s
    score (its logit, before softmax) for ``x`` (1×3×32×32 or 3×32×32, normalised with
    ``pre``), on a private copy of ``model`` on ``device``. A GPU that fails is retried on the
    CPU (``fallback_reason`` says why)."""
    target = _check_target(model, target)
    try:
        return _attribute_on(model, x, target, pre, device, steps)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 — any GPU failure: carry on on the CPU
        if device == "cpu":
            raise
        found = _attribute_on(model, x, target, pre, "cpu", steps)
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return _replace(found, fallback_reason=reason[:300])


def _replace(found: Attributions, fallback_reason: str) -> Attributions:
    import dataclasses

    return dataclasses.replace(found, fallback_reason=fallback_reason)


def _attribute_on(
    model: SimpleCNN,
    x: torch.Tensor | np.ndarray,
    target: int,
    pre: Preprocessing,
    device: str,
    steps: int,
) -> Attributions:
    net = private_copy(model, device)
    inp = _as_input(x, device)
    baseline = black_baseline(pre, inp.shape[-1]).to(device)
    ms: dict[str, float] = {}

    def timed(name: str, action: Callable[[], T]) -> T:
        _sync(device)
        t0 = time.perf_counter()
        out = action()
        _sync(device)
        ms[name] = (time.perf_counter() - t0) * 1000.0
        return out

    with torch.enable_grad():  # callers may run under no_grad; the gradients are the point
        coarse, fine = timed("grad_cam", lambda: grad_cam(net, inp, target))
        sal = timed("saliency", lambda: saliency(net, inp, target))
        ig, gap = timed(
            "integrated", lambda: integrated_gradients(net, inp, target, baseline, steps)
        )
    with torch.no_grad():
        scores = net(torch.cat([inp, baseline]))[:, target].cpu().double()
    summed = ig.sum(axis=0)  # 32×32: the three channels' shares of each pixel
    summed.setflags(write=False)
    return Attributions(
        target, float(scores[0]), float(scores[1]), coarse, fine, sal, summed, gap, device, ms
    )


# --------------------------------------------------------------------------------------------
# What a conv filter looks for (conv3 on the Inside page; conv1 to conv3 on the hierarchy page)


@dataclass(frozen=True)
class GalleryResponses:
    """How strongly each of N images excites each of a convolution's C maps (conv3 unless
    :func:`gallery_responses` was asked for another): ``peak`` N×C (the largest value of the
    map), ``where`` N×C×2 (its row and column), ``mean`` N×C."""

    peak: np.ndarray
    where: np.ndarray
    mean: np.ndarray

    def ranking(self, channel: int, k: int = 5) -> list[int]:
        """The ``k`` images that excite map ``channel`` most (by peak), strongest first."""
        order = sorted(range(len(self.peak)), key=lambda i: (-self.peak[i, channel], i))
        return order[:k]


def _check_stage(stage: str) -> str:
    if stage not in CONV_STAGES:
        raise AttributionError(f"Choose one of {', '.join(CONV_STAGES)}; not {stage!r}.")
    return stage


def _conv(net: SimpleCNN, x: torch.Tensor, stage: str = "conv3") -> torch.Tensor:
    """SimpleCNN's layers up to ``stage`` (conv1, conv2 or conv3, before its ReLU):
    N×3×32×32 → N×32×32×32, N×64×16×16 or N×128×8×8."""
    x = net.conv1(x)
    if stage == "conv1":
        return x
    x = net.conv2(net.pool(torch.relu(x)))
    if stage == "conv2":
        return x
    return net.conv3(net.pool(torch.relu(x)))


def gallery_responses(
    model: SimpleCNN,
    images: np.ndarray,
    pre: Preprocessing,
    device: str = "cpu",
    stage: str = "conv3",
) -> GalleryResponses:
    """``stage``'s response (conv1, conv2 or conv3) to each of ``images`` (N×32×32×3 uint8).
    The model is only called, without gradients — its layers run as ``capture_activations``
    runs them — so the shared model itself can be passed."""
    _check_stage(stage)
    arr = np.asarray(images)
    x = normalise(torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2))), pre)
    here = next(model.parameters()).device
    with torch.no_grad():
        maps = _conv(model, x.to(here), stage).cpu().double()  # N×C×side×side
    flat = maps.flatten(2)
    peak, index = flat.max(dim=2)
    width = maps.shape[-1]
    where = torch.stack([index // width, index % width], dim=-1)
    return GalleryResponses(peak.numpy(), where.numpy(), flat.mean(dim=2).numpy())


@dataclass(frozen=True)
class MaximisedInput:
    """An input optimised to excite map ``channel`` of ``stage`` (conv3 unless asked for
    another): ``image`` (32×32×3 uint8, what was
    optimised, rounded to whole pixel values), the map's mean and peak on it (measured on the
    rounded image), the same for the starting noise, the objective at every step (float64),
    where it ran and how long it took."""

    channel: int
    image: np.ndarray
    mean: float
    peak: float
    start_mean: float
    history: np.ndarray
    steps: int
    seed: int
    device: str
    seconds: float
    stage: str = "conv3"


def _total_variation(pixels: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels: small for smooth images."""
    dy = (pixels[..., 1:, :] - pixels[..., :-1, :]).abs().mean()
    dx = (pixels[..., :, 1:] - pixels[..., :, :-1]).abs().mean()
    return dx + dy


def maximise_channel(
    model: SimpleCNN,
    pre: Preprocessing,
    channel: int,
    steps: int = MAXIMISE_STEPS,
    seed: int = MAXIMISE_SEED,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    smoothness: float = 4.0,
    learning_rate: float = 0.05,
    stage: str = "conv3",
) -> MaximisedInput:
    """Activation maximisation: start from seeded noise and follow the gradient, ``steps``
    times (Adam), towards the input that makes map ``channel`` of ``stage`` (conv1, conv2 or
    conv3, before its ReLU) largest on average.

    Pixels are ``sigmoid(z)`` (always in 0…1, so the image stays an image), normalised with
    ``pre`` as the network expects. Two usual regularisers keep it from turning into noise the
    network happens to like: a total-variation penalty (``smoothness``) and a random shift of
    up to 2 pixels at each step (seeded). ``progress(step, steps)`` is called now and then
    (and may raise to end the work early: a job's stop). Runs on a private copy of ``model``
    on ``device``."""
    maps = getattr(model, _check_stage(stage)).out_channels
    if int(channel) != channel or not 0 <= int(channel) < maps:
        raise AttributionError(f"{stage} has maps 0 to {maps - 1}; not {channel}.")
    if not 1 <= steps <= 5000:
        raise AttributionError(f"Choose 1 to 5,000 steps, not {steps}.")
    net = private_copy(model, device)
    generator = torch.Generator().manual_seed(seed)
    z = (0.5 * torch.randn(1, 3, 32, 32, generator=generator)).to(device).requires_grad_(True)
    shifts = torch.randint(-2, 3, (steps, 2), generator=generator).tolist()
    mean = torch.tensor(pre.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(pre.std, device=device).view(1, 3, 1, 1)
    optimiser = torch.optim.Adam([z], lr=learning_rate)
    history = np.empty(steps)
    every = max(1, steps // 50)
    t0 = time.perf_counter()
    start = _map_on_pixels(net, torch.sigmoid(z.detach()), channel, mean, std, stage)
    with torch.enable_grad():
        for step, (dy, dx) in enumerate(shifts):
            pixels = torch.sigmoid(z)
            shifted = torch.roll(pixels, shifts=(dy, dx), dims=(2, 3))
            response = _conv(net, (shifted - mean) / std, stage)[0, channel].mean()
            loss = -response + smoothness * _total_variation(pixels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            history[step] = float(response.detach())
            if progress is not None and (step + 1) % every == 0:
                progress(step + 1, steps)
    image = (torch.sigmoid(z.detach()) * 255).round().clamp(0, 255).to(torch.uint8)
    final = _map_on_pixels(net, image.float() / 255, channel, mean, std, stage)
    _sync(device)
    seconds = time.perf_counter() - t0
    history.setflags(write=False)
    picture = image[0].permute(1, 2, 0).cpu().numpy().copy()
    picture.setflags(write=False)
    return MaximisedInput(
        int(channel),
        picture,
        float(final.mean()),
        float(final.max()),
        float(start.mean()),
        history,
        steps,
        seed,
        device,
        seconds,
        stage,
    )


def _map_on_pixels(
    net: SimpleCNN,
    pixels: torch.Tensor,
    channel: int,
    mean: torch.Tensor,
    std: torch.Tensor,
    stage: str = "conv3",
) -> torch.Tensor:
    """Map ``channel`` of ``stage`` for pixels in 0…1."""
    with torch.no_grad():
        return _conv(net, (pixels - mean) / std, stage)[0, channel].cpu().double()


__all__ = [
    "CONV_STAGES",
    "GRAD_CAM_LAYER",
    "IG_STEPS",
    "MAXIMISE_SEED",
    "MAXIMISE_STEPS",
    "METHOD_NOTES",
    "AttributionError",
    "Attributions",
    "GalleryResponses",
    "MaximisedInput",
    "MethodNote",
    "attribute",
    "black_baseline",
    "gallery_responses",
    "grad_cam",
    "integrated_gradients",
    "maximise_channel",
    "private_copy",
    "saliency",
]
