"""What the network pages say about one forward pass, as plain records: the verdict, what the
model sees in each colour channel, the words of a colour legend, the choices of colour scale.
Pure functions of arrays and labels; the pages only show them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.features import predictions, preprocess
from explorer.model import Preprocessing
from explorer.stages import StageKind


@dataclass(frozen=True)
class Verdict:
    """The network's answer for one input, and whether it is right when that can be known."""

    answer: str
    probability: float
    true_label: str | None
    correct: bool | None  # None: no true label, or one that is not among the classes

    def sentence(self) -> str:
        """The headline as Markdown (class names are the app's own, never user text)."""
        text = f"The network says: **{self.answer}** ({self.probability:.1%})"
        if self.correct is True:
            return text + " — correct"
        if self.correct is False:
            return text + f" — wrong, the true label is **{self.true_label}**"
        if self.true_label is not None:
            return text + (
                f" — the true label is **{self.true_label}**, which is not one of these "
                "weights' classes, so right or wrong cannot be told"
            )
        return text


def verdict(probabilities: np.ndarray, classes: tuple[str, ...], true_label: str | None) -> Verdict:
    """The most probable class and, for a labelled input whose label is one of ``classes``,
    whether it is that label. Weights with another head (say 7 classes named "class 0"…)
    never compare a class index with a label name."""
    answer, probability = predictions(probabilities, classes)[0]
    correct = None if true_label is None or true_label not in classes else answer == true_label
    return Verdict(answer, probability, true_label, correct)


@dataclass(frozen=True)
class ChannelView:
    """One colour channel of the 32×32 input: its pixels (H×W uint8) and the range of the
    numbers the network gets for it after normalising, ``(pixel/255 − mean) / std``."""

    name: str
    pixels: np.ndarray
    mean: float
    std: float
    low: float
    high: float


def channel_views(image: np.ndarray, pre: Preprocessing) -> list[ChannelView]:
    """The 32×32×3 uint8 input → its R, G and B channels as the network sees them (normalised
    by the same ``preprocess`` the capture uses)."""
    x = preprocess(image, pre)[0].numpy()  # 3×32×32 float32
    return [
        ChannelView(name, image[:, :, i], mean, std, float(x[i].min()), float(x[i].max()))
        for i, (name, mean, std) in enumerate(zip("RGB", pre.mean, pre.std, strict=True))
    ]


def stage_explanation(explanation: str, trained: bool) -> str:
    """A stage's explanation for these weights: untrained (random) weights have learned
    nothing, so their filters are not called learned."""
    if trained:
        return explanation
    return explanation.replace("one learned", "one random (untrained)").replace(
        "learned", "random (untrained)"
    )


def legend_text(kind: StageKind, low: float, high: float, per_map: bool) -> str:
    """The words under a stage's colour bar: what its two ends stand for."""
    if per_map:
        if kind == "signed":  # each map on its own symmetric range: white stays 0
            return (
                "Each map: white = 0; its own largest size, positive or negative, is the deepest "
                "red or blue."
            )
        return "Each map: darkest = 0, yellow = its own highest value."
    if kind == "signed":
        return f"blue {low:.3g} · white 0 · red {high:.3g}"
    return f"dark {low:.3g} · yellow {high:.3g}"
