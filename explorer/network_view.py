"""What the network pages say about one forward pass, as plain records: the verdict, what the
model sees in each colour channel, the words of a colour legend, the choices of colour scale,
and the data flow through the layers drawn for a projector. Pure functions of arrays and
labels; the pages only show them."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explorer.architecture import LayerRow
from explorer.features import predictions, preprocess
from explorer.model import Preprocessing
from explorer.numbers import with_minus
from explorer.render import _LAYER_FILL as LAYER_FILL  # the graphviz diagram's colours
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
        return with_minus(f"blue {low:.3g} · white 0 · red {high:.3g}")
    return with_minus(f"dark {low:.3g} · yellow {high:.3g}")


# ============================================================================================
# The data flow for a projector: the layers in blocks side by side, so the whole network fits
# one 1280×720 screen with labels of at least 18 px (the graphviz chain, one box under the
# other, is 16 boxes tall).

FLOW_FONT = "clamp(20px, 1.3vw, 28px)"  # 20 px at 1280 wide, 25 px at 1920


def flow_groups(rows: Sequence[LayerRow]) -> list[tuple[str, list[LayerRow]]]:
    """The layers (``architecture.layer_table`` rows, in forward order) in the blocks a teacher
    names: the input, one block per convolution (conv → ReLU → pool) and the classifier head
    from flatten on."""
    groups: list[tuple[str, list[LayerRow]]] = []
    blocks = 0
    for row in rows:
        if row.name == "input":
            groups.append(("Input", [row]))
        elif row.name.startswith("conv"):
            blocks += 1
            groups.append((f"Block {blocks}", [row]))
        elif row.name == "flatten" or not groups:
            groups.append(("Classifier head", [row]))
        else:
            groups[-1][1].append(row)
    return groups


def flow_html(rows: Sequence[LayerRow]) -> str:
    """The data flow as HTML: one column per block, left to right (they wrap on a narrow
    screen), each layer a box with its name and its output shape less the batch dimension,
    coloured as the graphviz diagram (conv orange, relu blue, pool green, fc purple)."""
    columns = []
    for title, layers in flow_groups(rows):
        boxes = []
        for row in layers:
            shape = " × ".join(str(d) for d in row.output_shape[1:])
            fill = next((c for p, c in LAYER_FILL.items() if row.name.startswith(p)), "#eeeeee")
            boxes.append(
                f'<li class="flow-layer" data-layer="{html.escape(row.name)}" style="'
                f"background:{fill};border:1px solid #555;border-radius:0.5em;padding:0.2em 0.6em;"
                'list-style:none;margin:0;text-align:center;line-height:1.25;font-size:1em">'
                f"<b>{html.escape(row.name)}</b><br>"
                f'<span style="font-variant-numeric:tabular-nums">{html.escape(shape)}</span></li>'
            )
        arrow = (
            '<li aria-hidden="true" style="list-style:none;text-align:center;line-height:1;'
            'font-size:1em">↓</li>'
        )
        columns.append(
            '<section class="flow-block" style="flex:1 1 9em;min-width:8em;max-width:14em">'
            '<div class="flow-title" style="margin:0 0 0.3em;text-align:center;font-weight:600">'
            f"{html.escape(title)}</div>"
            '<ol style="display:flex;flex-direction:column;gap:0.15em;margin:0;padding:0;'
            'font-size:1em">' + arrow.join(boxes) + "</ol></section>"
        )
    step = '<span aria-hidden="true" style="align-self:center;font-size:1.4em">→</span>'
    return (
        f'<div class="flow" data-testid="network-flow" style="display:flex;flex-wrap:wrap;'
        f"align-items:flex-start;justify-content:center;gap:0.6em;font-size:{FLOW_FONT};"
        f'line-height:1.25">{step.join(columns)}</div>'
    )


# ============================================================================================
# Every stage of the Feature maps page: one HTML block a row of stages


@dataclass(frozen=True)
class StageFigure:
    """One stage as the Feature maps page shows it: its title and shape, its maps (or numbers)
    as one picture at ``maps_url`` described by ``alt``, its colour bar at ``bar_url``, the words
    under the bar and what the stage does. Plain text throughout: the HTML escapes it."""

    name: str
    title: str
    shape: str
    maps_url: str
    alt: str
    bar_url: str
    legend: str
    explanation: str


# Captions as Streamlit draws them (0.875rem, the text colour at 60 %: #6b6a69 on white is
# 5.3:1); presenter mode's markdown rule, more specific, makes them 1.3rem. The stages of a row
# sit side by side down to a phone's width, then one under the other. Pictures are enlarged
# crisply, as app.py does for st.image.
STAGE_FIGURE_CSS = (
    "<style>"
    ".cnnx-stages{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:1rem 1.5rem;"
    "margin-bottom:0.5rem}"
    "@media (max-width:640px){.cnnx-stages{grid-template-columns:minmax(0,1fr)}}"
    ".cnnx-stages figure{margin:0}"
    ".cnnx-stages .cnnx-title{margin:0 0 0.5rem 0}"
    ".cnnx-stages img.cnnx-maps{display:block;width:100%;height:auto;object-fit:fill;"
    "image-rendering:pixelated}"
    ".cnnx-stages img.cnnx-bar{display:block;width:160px;max-width:100%;height:auto;"
    "margin:0.5rem 0 0.25rem 0}"
    ".cnnx-stages .cnnx-note{font-size:0.875rem;color:#6b6a69;margin:0 0 0.25rem 0}"
    "</style>"
)


def stage_figures_html(figures: Sequence[StageFigure], css: bool = False) -> str:
    """A row of stages as one HTML block (for ``st.markdown(..., unsafe_allow_html=True)``):
    one element on the page instead of six a stage. ``css``: begin with STAGE_FIGURE_CSS (the
    page's first row)."""
    e = html.escape
    parts = [STAGE_FIGURE_CSS if css else "", '<div class="cnnx-stages">']
    for f in figures:
        parts.append(
            f'<figure data-stage="{e(f.name)}">'
            f'<p class="cnnx-title"><strong>{e(f.title)}</strong><br>{e(f.shape)}</p>'
            f'<img class="cnnx-maps" src="{e(f.maps_url)}" alt="{e(f.alt)}">'
            f'<img class="cnnx-bar" src="{e(f.bar_url)}" alt="">'
            f'<p class="cnnx-note cnnx-legend">{e(f.legend)}</p>'
            f'<p class="cnnx-note">{e(f.explanation)}</p>'
            "</figure>"
        )
    parts.append("</div>")
    return "".join(parts)
