"""The shift lab: what SimpleCNN does with an input that slides by a few pixels. Streamlit-free.

Three measurements, each on the live network:

1. **Convolution is equivariant.** Shift the input by (dx, dy) and conv1's maps shift by the
   same amount: compared after shifting them back, they are equal — to float rounding — at
   every cell whose receptive field lies inside the picture in both inputs. Only the border
   band, where the padding or the fill reaches, differs.
2. **Pooling is not.** After pool1 the maps sit on a grid of 2 input pixels, after pool2 of 4,
   after pool3 of 8. A shift that is a whole number of cells there is a shift of those maps
   too (0 in the interior again); any other shift is not, and even the best-aligned comparison
   differs inside the picture.
3. **So the answer is only approximately invariant.** The class probabilities along a line of
   shifts, and, over many images, how often a one-pixel shift changes the top-1 answer and
   Zhang's consistency: the probability that two random shifts of one image get the same
   top-1 class (R. Zhang, "Making Convolutional Networks Shift-Invariant Again", ICML 2019).

A shift (dx, dy) moves the picture dx pixels right and dy down (negative: left, up). The strip
it uncovers is filled with 0 *in the normalised input*: the dataset's mean colour. That is the
value the convolutions pad with and the value the shipped CIFAR-10 network's training crops
were padded with (``explorer.train.augment_crop_flip``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from explorer import render
from explorer.features import apply_stage, unpreprocess
from explorer.model import Preprocessing, SimpleCNN, normalise
from explorer.receptive_field import INPUT_SIDE, FieldStep, field_steps
from explorer.shift_summary import (
    APPROXIMATE_CONSISTENCY,
    INVARIANT_CONSISTENCY,
    INVARIANT_FLIP_RATE,
    ShiftSummary,
    home_sentence,
    save_shipped_summary,
    shipped_summary,
    shipped_summary_path,
)
from explorer.stage_pictures import stage_cmap, stage_limits
from explorer.stages import INPUT, STAGE_BY_NAME, STAGE_NAMES, STAGES

if TYPE_CHECKING:
    import plotly.graph_objects as go

SHIFT_LIMIT = 8  # shifts from −8 to +8 pixels: pool3's whole cell
SHIFTS: tuple[int, ...] = tuple(range(-SHIFT_LIMIT, SHIFT_LIMIT + 1))
AXES = ("x", "y")
COMPARED = ("conv1", "pool1", "pool2", "pool3")  # the stages the lab compares
# A float32 map of values up to ~10 computed in another order can differ by ~1e-6; anything
# above this is a real difference, not rounding.
ROUNDING = 1e-5
FILL_SENTENCE = (
    "The strip the shift uncovers is filled with **0 after normalising** — the dataset's mean "
    "colour, the value the convolutions pad with (and the shipped CIFAR-10 network's training "
    "crops were padded with)."
)

# The measured summary: the sample, the shifts and the draw of shift pairs. Shifts of up to 4 px
# (an eighth of the picture): the shifts the shipped CIFAR-10 network saw in training (crops
# of the image padded by 4 px), so what is measured is what training could teach, not what
# falls off the edge.
SUMMARY_LIMIT = 4
HELD_PER_CLASS = 30  # held-out images per class (300 for 10 classes)
PAIRS_PER_IMAGE = 4  # Zhang's random shift pairs per image
SUMMARY_SEED = 0
SUMMARY_BATCH = 128


def check_shift(dx: int, dy: int) -> None:
    """ValueError unless both are whole numbers from −SHIFT_LIMIT to SHIFT_LIMIT."""
    for d in (dx, dy):
        if not (isinstance(d, int) and not isinstance(d, bool)) or abs(d) > SHIFT_LIMIT:
            raise ValueError(f"a shift is a whole number from {-SHIFT_LIMIT} to {SHIFT_LIMIT}")


def shift_images(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """N×C×H×W (normalised) → the same pictures moved ``dx`` right and ``dy`` down; the
    uncovered strip is 0 (the mean colour) and what leaves the frame is gone."""
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dx) >= w or abs(dy) >= h:
        return out
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def run_stages(model: SimpleCNN, x: torch.Tensor, keep: Sequence[str]) -> dict[str, torch.Tensor]:
    """SimpleCNN's forward pass on the batch ``x``, stage by stage with the very modules its
    ``forward`` uses (``features.apply_stage``), up to the last stage in ``keep``; returns
    those stages (N×…), without gradients."""
    last = max(STAGE_NAMES.index(name) for name in keep)
    found: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for stage in STAGES[: last + 1]:
            source = x if stage.source == INPUT else found[stage.source]
            found[stage.name] = apply_stage(model, stage, source)
    return {name: found[name] for name in keep}


# ============================================================================================
# Comparing a stage's maps for the original and the shifted input


@dataclass(frozen=True)
class StageComparison:
    """One stage's maps (C×h×w) for the original and the shifted input, and their difference
    after shifting the shifted maps back by ``shift`` cells (x, y).

    ``cells`` is the input's shift in this stage's cells (dx/stride, dy/stride). When both are
    whole numbers, ``shift`` is exactly that; otherwise the shift is not a whole number of
    cells here, and ``shift`` is whichever neighbouring whole shift differs least in the
    interior (the best alignment there is). ``difference[:, r, c]`` = shifted[:, r + y,
    c + x] − original[:, r, c], NaN where the shifted maps have no such cell. ``interior``
    (h×w): the cells whose receptive field lies inside the picture, in the original input and
    at the compared place of the shifted one, on pixels both inputs share — no padding and no
    fill can reach them. The maxima are of |difference| over every map of the stage."""

    stage: str
    stride: int
    cells: tuple[Fraction, Fraction]
    shift: tuple[int, int]
    original: np.ndarray
    shifted: np.ndarray
    difference: np.ndarray
    interior: np.ndarray
    interior_max: float | None  # None: no cell is far enough from the border
    border_max: float | None  # None: every compared cell is interior

    @property
    def whole(self) -> bool:
        """Whether the input's shift is a whole number of this stage's cells on both axes."""
        return all(c.denominator == 1 for c in self.cells)

    def interior_box(self) -> tuple[int, int, int, int] | None:
        """(top, left, bottom, right) of the interior, ends included; None when it is empty."""
        rows, cols = np.flatnonzero(self.interior.any(1)), np.flatnonzero(self.interior.any(0))
        if not len(rows):
            return None
        return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def step_of(stage: str) -> FieldStep:
    """The receptive-field arithmetic of ``stage`` (its stride, field and first field's start),
    read from SimpleCNN's layers."""
    return next(s for s in field_steps() if s.stage == stage)


def _axis_interior(step: FieldStep, d: int, c: int) -> np.ndarray:
    """Along one axis: which cells q count as interior when the input moved ``d`` pixels and
    the maps are compared ``c`` cells apart. The field of q covers input pixels
    start + q·jump … + field − 1; it must lie inside the picture as it is (no padding), where
    the comparison puts it in the shifted input (no padding there), and on original pixels of
    that input (no fill)."""
    q = np.arange(step.side)
    first = step.start + q * step.jump
    last = first + step.field - 1
    ok = (q + c >= 0) & (q + c < step.side)
    for offset in (0, c * step.jump, c * step.jump - d):
        ok &= (first + offset >= 0) & (last + offset <= INPUT_SIDE - 1)
    return ok


def _candidates(d: int, stride: int) -> list[int]:
    """The whole cell shifts to try: d/stride itself, or the two whole numbers around it."""
    if d % stride == 0:
        return [d // stride]
    return [d // stride, d // stride + 1]


def _max(values: np.ndarray) -> float | None:
    return float(values.max()) if values.size else None


def compare_stage(
    stage: str, original: np.ndarray, shifted: np.ndarray, dx: int, dy: int
) -> StageComparison:
    """Compare ``stage``'s maps (C×h×w each) for an input and that input shifted by (dx, dy):
    see :class:`StageComparison`."""
    check_shift(dx, dy)
    step = step_of(stage)
    stride = step.jump
    best: StageComparison | None = None
    for cx, cy in itertools.product(_candidates(dx, stride), _candidates(dy, stride)):
        h, w = original.shape[-2:]
        diff = np.full(original.shape, np.nan)
        rows = slice(max(0, -cy), min(h, h - cy))
        cols = slice(max(0, -cx), min(w, w - cx))
        moved_rows = slice(rows.start + cy, rows.stop + cy)
        moved_cols = slice(cols.start + cx, cols.stop + cx)
        diff[:, rows, cols] = shifted[:, moved_rows, moved_cols].astype(np.float64) - original[
            :, rows, cols
        ].astype(np.float64)
        interior = _axis_interior(step, dy, cy)[:, None] & _axis_interior(step, dx, cx)[None, :]
        size = np.abs(diff)
        compared = np.isfinite(diff[0])
        found = StageComparison(
            stage,
            stride,
            (Fraction(dx, stride), Fraction(dy, stride)),
            (cx, cy),
            original,
            shifted,
            diff,
            interior,
            _max(size[:, interior]),
            _max(size[:, compared & ~interior]),
        )
        if best is None or _alignment_cost(found) < _alignment_cost(best):
            best = found
    assert best is not None
    return best


def _alignment_cost(c: StageComparison) -> float:
    if c.interior_max is not None:
        return c.interior_max
    return float(np.nanmax(np.abs(c.difference))) if np.isfinite(c.difference).any() else 0.0


def is_zero(value: float | None) -> bool:
    """Whether a maximum |difference| is 0 to float rounding."""
    return value is not None and value <= ROUNDING


# ============================================================================================
# One step of the lab: the comparisons and the probability curve


@dataclass(frozen=True)
class ShiftView:
    """Everything the lab shows for one shift: the inputs, each compared stage, and the class
    probabilities at the original, at the shift and along the current axis's line of shifts
    (the other coordinate held at its current value)."""

    dx: int
    dy: int
    axis: str
    original_image: np.ndarray  # 32×32×3 uint8, as the network sees it
    shifted_image: np.ndarray  # the same, shifted (the fill in the mean colour)
    stages: dict[str, StageComparison]
    probabilities: np.ndarray  # K, at no shift
    shifted_probabilities: np.ndarray  # K, at (dx, dy)
    curve: np.ndarray  # len(SHIFTS)×K: the probabilities at each shift along ``axis``
    forward_ms: float

    @property
    def current(self) -> int:
        """The current shift along the curve's axis."""
        return self.dx if self.axis == "x" else self.dy

    def curve_answers(self) -> np.ndarray:
        """The top-1 class at each shift of the curve."""
        return self.curve.argmax(axis=1)

    def curve_changes(self) -> int:
        """How many one-pixel steps along the curve change the top-1 class."""
        answers = self.curve_answers()
        return int(np.count_nonzero(answers[1:] != answers[:-1]))


def curve_shifts(axis: str, dx: int, dy: int) -> list[tuple[int, int]]:
    """The line of shifts the curve follows: every shift along ``axis``, the other coordinate
    kept."""
    if axis not in AXES:
        raise ValueError(f"the axis is x or y, not {axis!r}")
    return [(d, dy) if axis == "x" else (dx, d) for d in SHIFTS]


def shift_view(
    model: SimpleCNN, image: np.ndarray, pre: Preprocessing, dx: int, dy: int, axis: str
) -> ShiftView:
    """The lab's numbers for ``image`` (32×32×3 uint8) shifted by (dx, dy): one batched pass
    over the original, the shifted input and the curve's 17 shifts."""
    check_shift(dx, dy)
    x = normalise(torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None], pre)
    shifts = [(0, 0), (dx, dy), *curve_shifts(axis, dx, dy)]
    batch = torch.cat([shift_images(x, sx, sy) for sx, sy in shifts])
    t0 = time.perf_counter()
    found = run_stages(model, batch, (*COMPARED, "softmax"))
    forward_ms = (time.perf_counter() - t0) * 1000.0
    arrays = {name: t.numpy() for name, t in found.items()}
    stages = {
        name: compare_stage(name, arrays[name][0], arrays[name][1], dx, dy) for name in COMPARED
    }
    probs = arrays["softmax"].astype(np.float64)
    return ShiftView(
        dx,
        dy,
        axis,
        np.asarray(image),
        unpreprocess(batch[1], pre),
        stages,
        probs[0],
        probs[1],
        probs[2:],
        forward_ms,
    )


# ============================================================================================
# Pictures (pure arrays; the page shows them)

PANEL_PX = 160  # every map panel is drawn 160 px wide, whatever the stage's size
OUTLINE = (20, 20, 20)


def _outlined(img: np.ndarray, box: tuple[int, int, int, int] | None, factor: int) -> np.ndarray:
    """``img`` (enlarged ``factor``×) with the cells top…bottom × left…right outlined."""
    if box is None:
        return img
    top, left, bottom, right = box
    out = img.copy()
    y0, x0, y1, x1 = (
        top * factor,
        left * factor,
        (bottom + 1) * factor - 1,
        (right + 1) * factor - 1,
    )
    out[y0 : y0 + 2, x0 : x1 + 1] = OUTLINE
    out[y1 - 1 : y1 + 1, x0 : x1 + 1] = OUTLINE
    out[y0 : y1 + 1, x0 : x0 + 2] = OUTLINE
    out[y0 : y1 + 1, x1 - 1 : x1 + 1] = OUTLINE
    return out


def stage_panels(c: StageComparison, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map ``index`` of a compared stage as three pictures: the original, the shifted, and the
    difference after shifting back, all ~PANEL_PX wide. The two maps share one colour range;
    the difference is drawn blue–white–red on that same range (white = exactly 0, so a
    difference is as strong as it looks next to the maps), grey where nothing is compared,
    with the interior outlined."""
    kind = STAGE_BY_NAME[c.stage].kind
    both = np.stack([c.original[index], c.shifted[index]])
    lo, hi = stage_limits(both, kind)
    factor = max(1, PANEL_PX // c.original.shape[-1])
    maps = [
        render.enlarge(render.colourise(m, stage_cmap(kind), lo, hi), factor)
        for m in (c.original[index], c.shifted[index])
    ]
    bound = max(abs(lo), abs(hi))
    diff = render.colourise(c.difference[index], "diverging", -bound, bound)
    return maps[0], maps[1], _outlined(render.enlarge(diff, factor), c.interior_box(), factor)


def input_panel(image: np.ndarray) -> np.ndarray:
    """The 32×32 input, enlarged to PANEL_PX."""
    return render.enlarge(image, PANEL_PX // INPUT_SIDE)


CURVE_CLASSES = 4  # at most this many classes' curves: the ones that matter most
# Okabe & Ito's colour-blind-safe colours: four curves told apart by anyone.
CURVE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")


def curve_classes(view: ShiftView) -> list[int]:
    """The classes the curve shows: every class that is the answer somewhere on the line,
    then the most probable others, at most CURVE_CLASSES (ordered by their peak)."""
    peak = view.curve.max(axis=0)
    answers = set(view.curve_answers().tolist())
    order = sorted(range(view.curve.shape[1]), key=lambda k: (k not in answers, -peak[k], k))
    return order[: max(CURVE_CLASSES, 1)]


def curve_figure(view: ShiftView, classes: Sequence[str]) -> go.Figure:
    """The class probabilities against the shift along the view's axis, the current shift
    marked by a dashed line; markers on each class's curve where it is the answer."""
    import plotly.graph_objects as go

    answers = view.curve_answers()
    fig = go.Figure()
    for k, colour in zip(curve_classes(view), CURVE_COLOURS, strict=False):
        fig.add_trace(
            go.Scatter(
                x=list(SHIFTS),
                y=view.curve[:, k].tolist(),
                mode="lines+markers",
                name=classes[k],
                line={"color": colour, "width": 2},
                marker={"size": [9 if a == k else 0 for a in answers], "color": colour},
                hovertemplate=f"{classes[k]}: %{{y:.1%}} at %{{x:+d}} px<extra></extra>",
            )
        )
    fig.add_vline(x=view.current, line_dash="dash", line_color="#444")
    other = view.dy if view.axis == "x" else view.dx
    kept = f"shift {'down' if view.axis == 'x' else 'right'} kept at {other} px".replace(
        "-", "\u2212"
    )
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={
            "title": {"text": f"shift {'right' if view.axis == 'x' else 'down'} (px); {kept}"},
            "dtick": 2,
        },
        yaxis={"title": {"text": "probability"}, "range": [0, 1], "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.3},
        plot_bgcolor="white",
    )
    fig.update_xaxes(gridcolor="#eee", zeroline=False)
    fig.update_yaxes(gridcolor="#eee")
    return fig


# ============================================================================================
# The measured summary over many images


def line_shifts(limit: int = SUMMARY_LIMIT) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The horizontal and the vertical line of shifts the flip rate walks along."""
    span = range(-limit, limit + 1)
    return [(d, 0) for d in span], [(0, d) for d in span]


def consistency_offsets(n: int, pairs: int, limit: int, seed: int) -> np.ndarray:
    """n×pairs×2×2 whole numbers in −limit…limit: for each image and pair, two shifts (dx, dy).
    Drawn with ``numpy.random.default_rng(seed).integers(-limit, limit + 1, (n, pairs, 2, 2))``:
    the same seed, the same pairs."""
    return np.random.default_rng(seed).integers(-limit, limit + 1, (n, pairs, 2, 2))


def _top1(model: SimpleCNN, x: torch.Tensor, batch: int, tick: Callable[[int], None]) -> np.ndarray:
    answers = []
    with torch.no_grad():
        for start in range(0, len(x), batch):
            chunk = x[start : start + batch]
            answers.append(model(chunk).argmax(dim=1).numpy())
            tick(len(chunk))
    return np.concatenate(answers) if answers else np.zeros(0, np.int64)


def measure_summary(
    model: SimpleCNN,
    images: np.ndarray,
    pre: Preprocessing,
    *,
    limit: int = SUMMARY_LIMIT,
    pairs_per_image: int = PAIRS_PER_IMAGE,
    seed: int = SUMMARY_SEED,
    batch: int = SUMMARY_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int, int, int, int]:
    """Over ``images`` (N×3×32×32 uint8): (flips, flip pairs, agreements, consistency pairs,
    forward passes) — see :class:`ShiftSummary`. Every shifted image goes through the network
    once, in batches of ``batch``; ``progress(done, total)`` after each batch."""
    if any(module.training for module in model.modules()):
        raise ValueError("measure_summary needs a model in eval mode")
    x = normalise(torch.from_numpy(np.ascontiguousarray(images)), pre)
    n = len(x)
    across, down = line_shifts(limit)
    lines = list(dict.fromkeys(across + down))  # (0, 0) once
    offsets = consistency_offsets(n, pairs_per_image, limit, seed)
    total = n * (len(lines) + 2 * pairs_per_image)
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress(done, total)

    line_x = torch.cat([shift_images(x, dx, dy) for dx, dy in lines]) if n else x
    answers = _top1(model, line_x, batch, tick).reshape(len(lines), n)
    column = {shift: i for i, shift in enumerate(lines)}
    flips = pairs = 0
    for line in (across, down):
        along = answers[[column[s] for s in line]]  # len(line)×n
        flips += int(np.count_nonzero(along[1:] != along[:-1]))
        pairs += (len(line) - 1) * n
    flat = offsets.reshape(-1, 2)  # (image, pair, which) in order
    owner = np.repeat(np.arange(n), 2 * pairs_per_image)
    pair_x = torch.empty((len(flat), *x.shape[1:]), dtype=x.dtype)
    for i, (image, (dx, dy)) in enumerate(zip(owner, flat, strict=True)):
        pair_x[i] = shift_images(x[image : image + 1], int(dx), int(dy))[0]
    pair_answers = _top1(model, pair_x, batch, tick).reshape(n, pairs_per_image, 2)
    agreements = int(np.count_nonzero(pair_answers[..., 0] == pair_answers[..., 1]))
    return flips, pairs, agreements, n * pairs_per_image, done


def summary_images(dataset: str, per_class: int) -> tuple[np.ndarray, int, int]:
    """The summary's images for ``dataset``: every gallery image, then the first ``per_class``
    held-out images of each class (in the file's order). Returns (N×3×32×32 uint8, how many
    from the gallery, how many held out)."""
    from explorer.samples import gallery, load_gallery_image
    from explorer.training_data import load_training_set

    shown = np.stack([load_gallery_image(item).transpose(2, 0, 1) for item in gallery(dataset)])
    data = load_training_set(dataset)
    chosen = np.sort(
        np.concatenate(
            [np.flatnonzero(data.held_y == k)[:per_class] for k in np.unique(data.held_y)]
        )
    )
    held = data.held_x[chosen]
    return np.concatenate([shown, held]), len(shown), len(held)


def summarise(
    model: SimpleCNN,
    pre: Preprocessing,
    dataset: str,
    per_class: int = HELD_PER_CLASS,
    pairs_per_image: int = PAIRS_PER_IMAGE,
    seed: int = SUMMARY_SEED,
    progress: Callable[[int, int], None] | None = None,
) -> ShiftSummary:
    """The measured summary of ``model`` over ``dataset``'s gallery and held-out sample."""
    t0 = time.perf_counter()
    images, from_gallery, held = summary_images(dataset, per_class)
    flips, pairs, agreements, consistency_pairs, passes = measure_summary(
        model, images, pre, pairs_per_image=pairs_per_image, seed=seed, progress=progress
    )
    return ShiftSummary(
        dataset,
        from_gallery,
        held,
        per_class,
        SUMMARY_LIMIT,
        pairs,
        flips,
        consistency_pairs,
        agreements,
        pairs_per_image,
        seed,
        passes,
        time.perf_counter() - t0,
    )


def summary_job(
    control: Any,
    emit: Callable[[object], None],
    *,
    preprocessing: Preprocessing,
    dataset: str,
    weights_key: str | None = None,
    weights_bytes: bytes | None = None,
    per_class: int = HELD_PER_CLASS,
    pairs_per_image: int = PAIRS_PER_IMAGE,
    seed: int = SUMMARY_SEED,
) -> ShiftSummary:
    """The summary as a job of ``explorer.jobs`` (a worker process): the built-in weights
    ``weights_key`` or the state_dict file ``weights_bytes``; emits ``{"done", "total"}``."""
    from explorer.model import build_model, builtin_weights
    from explorer.weights_file import load_choice, load_state_dict_bytes

    if weights_key is not None:
        model = load_choice({c.key: c for c in builtin_weights()}[weights_key])
    elif weights_bytes is not None:
        state, classes = load_state_dict_bytes(weights_bytes)
        model = build_model(state, classes)
    else:
        raise ValueError("summary_job needs weights_key or weights_bytes")

    def progress(done: int, total: int) -> None:
        control.checkpoint()
        emit({"done": done, "total": total})

    return summarise(model, preprocessing, dataset, per_class, pairs_per_image, seed, progress)


def claim_sentence(summary: ShiftSummary) -> str:
    """What the measurement means for "CNNs are translation invariant", worded by the numbers
    (Markdown)."""
    flips, same = summary.flip_rate, summary.consistency
    measured = (
        f"a one-pixel shift changed the answer in **{flips:.1%}** of neighbouring shifts, and "
        f"two random shifts of the same image got the same answer **{same:.1%}** of the time"
    )
    if same >= INVARIANT_CONSISTENCY and flips <= INVARIANT_FLIP_RATE:
        verdict = (
            f"For this network the claim holds to within the measurement: {measured}. "
            "Convolution is equivariant and the pooling's misalignments rarely reach the answer."
        )
    elif same >= APPROXIMATE_CONSISTENCY:
        verdict = (
            f"For this network the claim is only **approximately** true: {measured}. "
            "Convolution is equivariant (exactly, away from the border), but after each pooling "
            "a shift that is not a whole number of cells is no longer a shift of the maps, so "
            "the answer can flicker as the image slides."
        )
    else:
        verdict = (
            f"For this network the claim is **not** true: {measured}. Convolution is "
            "equivariant, but pooling breaks the shift apart and the answer follows where the "
            "image sits."
        )
    return verdict


__all__ = [
    "home_sentence",
    "save_shipped_summary",
    "shipped_summary",
    "shipped_summary_path",
    "AXES",
    "COMPARED",
    "FILL_SENTENCE",
    "SHIFTS",
    "SHIFT_LIMIT",
    "SUMMARY_LIMIT",
    "ShiftSummary",
    "ShiftView",
    "StageComparison",
    "check_shift",
    "claim_sentence",
    "compare_stage",
    "consistency_offsets",
    "curve_figure",
    "curve_shifts",
    "input_panel",
    "is_zero",
    "line_shifts",
    "measure_summary",
    "run_stages",
    "shift_images",
    "shift_view",
    "stage_panels",
    "summarise",
    "summary_images",
    "summary_job",
]
