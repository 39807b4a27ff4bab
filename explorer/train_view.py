"""What the Train page shows of a run, from the events its job has sent so far (see
``explorer.live_training.train_job``): the curves, conv1 at every snapshot (its filters, and the
maps it makes of a chosen image), the held-out strip's current answers, the last epoch's
per-class accuracy and confusion matrix, and the progress. Pure functions of plain data; the
page only shows them.

    view = run_view(job.events)
    view.curves            # {"train": [(step, loss, accuracy)…], "held_out": […]}
    view.filters[-1]       # Snapshot(step, conv1 32×3×3×3, bias 32): conv1 now
    conv1_maps(view.filters[-1], image, pre)   # 32×32×32: conv1's maps of one image now

Why the page computes the maps of the watched image and the worker does not send them: a
snapshot of conv1 (weights and biases) is 3.6 KB, its maps of one image 128 KB. Sent with every
snapshot, the maps of one image would be 36 times the snapshot and tied to the image chosen
when the run started. From the snapshot the page makes the maps of any image — a held-out one
or the session's own input, changed at any moment, at any snapshot the scrubber goes back to —
with one 3×3 convolution of one 32×32 image (well under a millisecond), and they are exactly
the run's: the same weights through the same ``conv1`` as ``SimpleCNN``'s.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from explorer.model import Preprocessing, SimpleCNN


@dataclass(frozen=True, eq=False)
class Snapshot:
    """conv1 at one step of a run: its weights (32×3×3×3 float32) and biases (32 float32)."""

    step: int
    conv1: np.ndarray
    bias: np.ndarray


@dataclass
class RunView:
    """Everything a run has reported so far, gathered by kind."""

    progress: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, list[tuple[int, float, float]]] = field(
        default_factory=lambda: {"train": [], "held_out": []}
    )
    filters: list[Snapshot] = field(default_factory=list)
    strip: dict[str, Any] = field(default_factory=dict)
    epochs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        """How much of the run is done, 0…1."""
        steps = self.progress.get("steps") or 0
        return min(1.0, self.progress.get("step", 0) / steps) if steps else 0.0

    def seconds_left(self) -> float | None:
        """The time left at the pace so far (None before the first progress report)."""
        done, seconds = self.progress.get("step", 0), self.progress.get("seconds", 0.0)
        if not done or not seconds:
            return None
        return (self.progress["steps"] - done) * seconds / done


def run_view(events: list[Any]) -> RunView:
    """The events of one run (in the order they were sent) → what the page shows."""
    view = RunView()
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("kind")
        if kind == "progress":
            view.progress = event
        elif kind in ("train", "held_out"):
            view.curves[kind].append(
                (int(event["step"]), float(event["loss"]), float(event["accuracy"]))
            )
        elif kind == "filters":
            conv1 = np.asarray(event["conv1"], dtype=np.float32)
            bias = np.asarray(event["bias"], dtype=np.float32)
            view.filters.append(Snapshot(int(event["step"]), conv1, bias))
        elif kind == "strip":
            view.strip = event
        elif kind == "epoch":
            view.epochs.append(event)
    return view


@functools.cache
def _conv1_template() -> SimpleCNN:
    """A SimpleCNN whose ``conv1`` gives the layer's geometry (stride, padding, dilation), so
    the maps are computed exactly as the network computes them."""
    from explorer.model import SimpleCNN

    return SimpleCNN()


def conv1_maps(snapshot: Snapshot, image: np.ndarray, pre: Preprocessing) -> np.ndarray:
    """conv1's 32 maps (32×32×32 float32, before the ReLU) of ``image`` — 32×32×3 uint8, or
    3×32×32 as the training sets store it — normalised by ``pre`` as in training
    (``features.preprocess``), with ``snapshot``'s weights and biases."""
    import torch
    import torch.nn.functional as F

    from explorer.features import preprocess

    arr = np.asarray(image)
    if arr.shape == (3, 32, 32):
        arr = arr.transpose(1, 2, 0)
    conv = _conv1_template().conv1
    with torch.no_grad():
        out = F.conv2d(
            preprocess(np.ascontiguousarray(arr), pre),
            torch.from_numpy(np.ascontiguousarray(snapshot.conv1, dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(snapshot.bias, dtype=np.float32)),
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
        )
    return out[0].numpy()


def progress_line(view: RunView, status: str) -> str:
    """The words under the progress bar: step, epoch, speed and the time left."""
    p = view.progress
    if not p:
        return "Starting: loading the images and the network…" if status == "running" else ""
    left = view.seconds_left()
    when = f", about {left:.0f} s left" if left is not None and status == "running" else ""
    return (
        f"Step {p['step']:,} of {p['steps']:,} · epoch {p['epoch']:.2f} · "
        f"{p['images_per_s']:,.0f} images/s · {p['seconds']:.1f} s{when}"
        + (f" · training on {p['device']}" if p.get("device") else "")
    )


@dataclass(frozen=True)
class Curve:
    """One line of the loss and accuracy panels: x (epochs or steps), loss, accuracy (0–1)."""

    name: str
    kind: str  # "train" | "held_out": its colour and dash (CURVE_STYLES)
    x: list[float]
    loss: list[float]
    accuracy: list[float]


# Training in solid blue, held-out images in dashed red, on every page that shows a run.
CURVE_STYLES = {"train": ("#1f77b4", "solid"), "held_out": ("#d62728", "dash")}


def loss_accuracy_figure(
    curves: list[Curve],
    x_title: str,
    *,
    height: int,
    marker_size: int,
    x_range: tuple[float, float] | None = None,
    loss_top: float | None = None,
    mark_x: float | None = None,
) -> Any:
    """Loss (left) and accuracy in % (right) of ``curves`` as one Plotly figure: the Train
    page's live run and the replay of a recorded one. ``x_range`` and ``loss_top`` fix the axes
    (so scrubbing moves only the lines); ``mark_x`` draws a dotted line at that x."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (lower is better)", "Accuracy"))
    for curve in curves:
        colour, dash = CURVE_STYLES[curve.kind]
        accuracy = [100 * float(a) for a in curve.accuracy]
        for col, values in ((1, [float(v) for v in curve.loss]), (2, accuracy)):
            fig.add_trace(
                go.Scatter(
                    x=list(curve.x),
                    y=values,
                    name=curve.name,
                    mode="lines+markers",
                    line={"color": colour, "dash": dash},
                    marker={"size": marker_size},
                    showlegend=col == 1,
                    legendgroup=curve.kind,
                ),
                row=1,
                col=col,
            )
    if mark_x is not None:
        for col in (1, 2):
            fig.add_vline(
                x=mark_x, line={"color": "#555", "width": 1, "dash": "dot"}, row=1, col=col
            )
    fig.update_xaxes(title_text=x_title, range=list(x_range) if x_range else None)
    if loss_top is not None:
        fig.update_yaxes(range=[0, loss_top], row=1, col=1)
    fig.update_yaxes(title_text="%", range=[0, 100], row=1, col=2)
    fig.update_layout(
        height=height,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def curves_figure(view: RunView) -> Any:
    """Loss and accuracy against the step, training (its recent batches) and held-out (images
    never trained on), as one Plotly figure with two panels side by side."""
    names = {"train": "training batches", "held_out": "held-out images"}
    curves = [
        Curve(
            names[kind],
            kind,
            [p[0] for p in points],
            [p[1] for p in points],
            [p[2] for p in points],
        )  # fmt: skip
        for kind, points in view.curves.items()
    ]
    return loss_accuracy_figure(curves, "step (one batch each)", height=320, marker_size=4)


def confusion_rows(confusion: np.ndarray, classes: tuple[str, ...]) -> list[dict[str, Any]]:
    """The confusion matrix as table rows: one per true class, a column per predicted class."""
    return [
        {"true class": name, **{c: int(n) for c, n in zip(classes, row, strict=True)}}
        for name, row in zip(classes, np.asarray(confusion), strict=True)
    ]
