"""The shift lab's widgets and views (pages/why_translation.py lays them out): the shift bound
to :class:`ShiftState`, the lab's numbers and pictures cached by content, and the measured
summary, which runs as a job of the server's queue (a worker process: it takes thousands of
forward passes) and is kept once per set of weights for every session."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import streamlit as st

from explorer import render
from explorer.errors import UserError
from explorer.features import ModelInput
from explorer.numbers import display_value as num
from explorer.shift_lab import (
    AXES,
    HELD_PER_CLASS,
    PAIRS_PER_IMAGE,
    PANEL_PX,
    SHIFT_LIMIT,
    SHIFTS,
    SUMMARY_SEED,
    ShiftSummary,
    ShiftView,
    input_panel,
    is_zero,
    shift_view,
    stage_panels,
)
from explorer.shift_state import CONV1_MAPS, SHIFT_CHOICES, ShiftState
from explorer.ui import content, widgets
from explorer.ui.network import NetworkContext
from explorer.ui.state import Bound

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from explorer.jobs import Job

ss = st.session_state
SHIFT: Bound[ShiftState] = Bound("shift_state", "shift_", ShiftState, SHIFT_CHOICES)
SUMMARY_OWNER = "shift-lab"  # the summary's jobs belong to no session: every session shares them
POLL_S = 1.0  # the summary's redraw period while it is being measured

# ============================================================================================
# The shift's controls

_WORDS = {  # axis → (slider label, the −1 button, the +1 button)
    "x": ("Shift right (px)", "Left", "Right"),
    "y": ("Shift down (px)", "Up", "Down"),
}
_ICONS = {
    "x": (":material/arrow_back:", ":material/arrow_forward:"),
    "y": (":material/arrow_upward:", ":material/arrow_downward:"),
}


def _slid(axis: str) -> None:
    value = ss.get(f"shift_d{axis}")
    if isinstance(value, int) and abs(value) <= SHIFT_LIMIT:
        SHIFT.put(SHIFT.get().choose("d" + axis, value))


def _stepped(axis: str, by: int) -> None:
    SHIFT.put(SHIFT.get().step(axis, by))


def shift_controls() -> ShiftState:
    """Per axis a slider from −8 to +8 px between two one-pixel step buttons, and the axis the
    curve follows (it follows whatever was moved last). Returns the state they set."""
    state = SHIFT.get()
    for axis in AXES:
        value = getattr(state, "d" + axis)
        label, back, forward = _WORDS[axis]
        ss[f"shift_d{axis}"] = value
        row = st.container(horizontal=True, vertical_alignment="bottom", gap="small", wrap=False)
        row.button(
            "1 px",
            key=f"shift_{axis}_minus",
            icon=_ICONS[axis][0],
            on_click=_stepped,
            args=(axis, -1),
            disabled=value <= -SHIFT_LIMIT,
            help=f"Move the picture one pixel {back.lower()}.",
        )
        row.slider(
            label,
            -SHIFT_LIMIT,
            SHIFT_LIMIT,
            key=f"shift_d{axis}",
            on_change=_slid,
            args=(axis,),
            format="%+d",
            width="stretch",
        )
        row.button(
            "1 px",
            key=f"shift_{axis}_plus",
            icon=_ICONS[axis][1],
            on_click=_stepped,
            args=(axis, 1),
            disabled=value >= SHIFT_LIMIT,
            help=f"Move the picture one pixel {forward.lower()}.",
        )
    SHIFT.choice(
        st.radio,
        "axis",
        "The probability curve follows",
        horizontal=True,
        help="The curve shows the answer for every shift along this axis, the other shift "
        "kept. Moving a slider or a button picks its axis.",
    )
    return SHIFT.get()


def map_picker() -> int:
    """The conv1 map the pictures show (the numbers cover every map)."""
    SHIFT.number(
        "map",
        "Map shown",
        0,
        CONV1_MAPS - 1,
        where=st.columns([1, 2])[0],
        help="Which map of each stage the pictures show: conv1 and pool1 map n come from the "
        "same filter. The numbers are over every map of the stage.",
    )
    return SHIFT.get().map


# ============================================================================================
# The lab's numbers and pictures, cached by content


@dataclass(frozen=True)
class StageRow:
    """What the page says about one compared stage (the arrays stay in the cache's function)."""

    stage: str
    stride: int
    cells: tuple[Fraction, Fraction]
    shift: tuple[int, int]
    whole: bool
    maps: int
    interior_max: float | None
    border_max: float | None
    pictures: tuple[bytes, bytes, bytes]  # original, shifted, difference (PNG)


@dataclass(frozen=True)
class LabScreen:
    """One shift's screen: the inputs, each stage's row, the probabilities and the curve."""

    dx: int
    dy: int
    axis: str
    index: int
    original_png: bytes
    shifted_png: bytes
    rows: dict[str, StageRow]
    view: ShiftView = field(repr=False)  # without its stage arrays: the curve and answers


@st.cache_data(max_entries=256, show_spinner=False, hash_funcs=content.CONTENT)
def lab_screen(
    ctx: NetworkContext, inp: ModelInput, dx: int, dy: int, axis: str, index: int
) -> LabScreen:
    """The lab for (weights, input, shift, axis, map), computed once and shared."""
    view = shift_view(ctx.cpu_model, inp.image, ctx.preprocessing, dx, dy, axis)
    rows = {}
    for name, c in view.stages.items():
        pictures = tuple(render.png_bytes(p) for p in stage_panels(c, index))
        rows[name] = StageRow(
            name,
            c.stride,
            c.cells,
            c.shift,
            c.whole,
            len(c.original),
            c.interior_max,
            c.border_max,
            (pictures[0], pictures[1], pictures[2]),
        )
    slim = ShiftView(
        view.dx,
        view.dy,
        view.axis,
        view.original_image,
        view.shifted_image,
        {},
        view.probabilities,
        view.shifted_probabilities,
        view.curve,
        view.forward_ms,
    )
    return LabScreen(
        dx,
        dy,
        axis,
        index,
        render.png_bytes(input_panel(view.original_image)),
        render.png_bytes(input_panel(view.shifted_image)),
        rows,
        slim,
    )


@st.cache_resource(max_entries=64, show_spinner=False, hash_funcs=content.CONTENT)
def curve_figure(
    ctx: NetworkContext, inp: ModelInput, dx: int, dy: int, axis: str, index: int
) -> go.Figure:
    """The probability curve's figure, built once per content and shared (only ever read)."""
    from explorer.shift_lab import curve_figure as figure

    return figure(lab_screen(ctx, inp, dx, dy, axis, index).view, ctx.classes)


# ============================================================================================
# Showing it


def cells_text(cells: Fraction) -> str:
    """A shift in a stage's cells as a sentence names it: "3", "−1", "3/2"."""
    if cells.denominator == 1:
        return num(cells.numerator)
    return f"{num(cells.numerator)}/{cells.denominator}"


def max_text(value: float | None) -> str:
    """A largest |difference|; "—" when no cell counts."""
    if value is None:
        return "— (no cell)"
    return num(value)


def shift_words(dx: int, dy: int) -> str:
    """(3, −2) → "3 px right and 2 px up"; (0, 0) → "not shifted"."""
    parts = [
        f"{abs(d)} px {word}"
        for d, word in ((dx, "right" if dx > 0 else "left"), (dy, "down" if dy > 0 else "up"))
        if d
    ]
    return " and ".join(parts) if parts else "not shifted"


def show_inputs(screen: LabScreen) -> None:
    """The input as it is and as shifted, side by side (on a phone too: two fit)."""
    left = right = st.container(horizontal=True, gap="medium")
    left.image(
        screen.original_png,
        caption="The input",
        output_format="PNG",
        width=PANEL_PX,
        alt="The network's 32×32 input, enlarged",
    )
    words = shift_words(screen.dx, screen.dy)
    right.image(
        screen.shifted_png,
        caption=f"Shifted: {words}" if screen.dx or screen.dy else "Shifted: not at all",
        output_format="PNG",
        width=PANEL_PX,
        alt=f"The input shifted {words}, the uncovered strip in the mean colour",
    )


def glance_table(screen: LabScreen) -> str:
    """Markdown: each stage's shift in cells and its largest |difference| inside and near the
    border, for the numbers to sit next to the controls."""
    lines = [
        "| stage | shift in cells (x, y) | largest \\|difference\\| inside | on the border |",
        "|---|---|---|---|",
    ]
    for row in screen.rows.values():
        cells = ", ".join(cells_text(c) for c in row.cells)
        lines.append(
            f"| {row.stage} | {cells} | **{max_text(row.interior_max)}** | "
            f"{max_text(row.border_max)} |"
        )
    return "\n".join(lines)


GLANCE_CAPTION = (
    "A cell of conv1 is 1 px, of pool1 2 px, of pool2 4 px and of pool3 8 px: a fraction means "
    "the shift is not a whole number of that stage's cells. Inside: cells no padding and no "
    "fill can reach; the maximum is over every map of the stage."
)


def answer_line(screen: LabScreen, classes: tuple[str, ...]) -> str:
    """The network's answer without and with the shift (Markdown)."""
    view = screen.view
    before, after = int(view.probabilities.argmax()), int(view.shifted_probabilities.argmax())
    text = (
        f"The network says **{classes[before]}** ({view.probabilities[before]:.1%}) for the "
        f"input and **{classes[after]}** ({view.shifted_probabilities[after]:.1%}) for it "
        f"shifted"
    )
    return text + (": the same answer." if before == after else ": **the answer changed**.")


def show_stage(screen: LabScreen, stage: str) -> None:
    """One stage: its map for the input and the shifted input, the difference after shifting
    back (interior outlined), and the numbers."""
    row = screen.rows[stage]
    st.markdown(f"### {stage}, map {screen.index}")
    row_of_panels = st.container(horizontal=True, gap="medium")  # wraps on a phone
    shift_px = (row.shift[0] * row.stride, row.shift[1] * row.stride)
    captions = (
        "For the input",
        "For the shifted input",
        "Difference, shifted back " + (shift_words(*shift_px) if any(shift_px) else "by 0 px"),
    )
    alts = (
        f"{stage} map {screen.index} for the input",
        f"{stage} map {screen.index} for the shifted input",
        f"The difference of {stage} map {screen.index} after shifting back: white is 0, grey "
        "is not compared, the outline is the interior",
    )
    for png, caption, alt in zip(row.pictures, captions, alts, strict=True):
        row_of_panels.image(png, caption=caption, output_format="PNG", width=PANEL_PX, alt=alt)
    inside = max_text(row.interior_max)
    st.markdown(
        f"Largest |difference| over all {row.maps} maps: **{inside}** inside the outline, "
        f"**{max_text(row.border_max)}** on the border band."
    )
    if stage == "conv1" or row.whole:
        return
    st.markdown(_not_whole(row))


def _not_whole(row: StageRow) -> str:
    names = [
        f"{cells_text(c)} cells in {axis}"
        for c, axis in zip(row.cells, AXES, strict=True)
        if c.denominator != 1
    ]
    return (
        f"Here a cell is {row.stride} px, so the shift is {' and '.join(names)}: **not a whole "
        f"number of cells**. No shift of the maps matches; the best-aligned one (by "
        f"{num(row.shift[0])}, {num(row.shift[1])} cells, the smallest difference inside) is "
        "shown."
    )


def stage_sentence(screen: LabScreen, stage: str) -> str:
    """conv1's verdict as a sentence: equal away from the border, or (should it ever happen)
    not."""
    row = screen.rows[stage]
    if is_zero(row.interior_max):
        return (
            "**Equivariance:** away from the border the shifted maps are the original maps, "
            "shifted — the difference inside the outline is 0. Only the border band differs, "
            "where the padding or the fill reaches the 3×3 filters."
        )
    return (
        f"Inside the outline the difference is {max_text(row.interior_max)}, not 0: these "
        "maps are not simply shifted."
    )


def curve_caption(screen: LabScreen, classes: tuple[str, ...]) -> str:
    view = screen.view
    changes = view.curve_changes()
    word = "x (left–right)" if view.axis == "x" else "y (up–down)"
    other = view.dy if view.axis == "x" else view.dx
    kept = f" (the shift {'down' if view.axis == 'x' else 'right'} kept at {num(other)} px)"
    answers = {classes[int(k)] for k in view.curve_answers()}
    return (
        f"Along {word}, from {num(SHIFTS[0])} to +{num(SHIFTS[-1])} px{kept}, the top answer "
        f"changes **{changes}** time{'s' if changes != 1 else ''} in {len(SHIFTS) - 1} "
        f"one-pixel steps ({', '.join(sorted(answers))}). A dot marks the class that is the "
        "answer at that shift; the dashed line is the shift now."
    )


# ============================================================================================
# The measured summary: a job per set of weights, its result kept for every session


@dataclass
class SummarySlot:
    """The summary of one set of weights: the job measuring it, then its result."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    job_id: str | None = None
    result: ShiftSummary | None = None


@st.cache_resource(
    max_entries=16, show_spinner=False, hash_funcs={NetworkContext: lambda ctx: ctx.weights_id}
)
def summary_slot(ctx: NetworkContext, per_class: int, pairs: int, seed: int) -> SummarySlot:
    """The one slot of these weights and this sample, shared by every session (computed on
    the CPU, so the device does not matter)."""
    return SummarySlot()


def _weights_kwargs(ctx: NetworkContext) -> dict[str, object]:
    """How the worker gets the weights: a built-in key, or the state_dict as file bytes."""
    import torch

    from explorer.model import builtin_weights

    if ctx.weights_id in {c.key for c in builtin_weights()}:
        return {"weights_key": ctx.weights_id}
    buffer = io.BytesIO()
    torch.save(ctx.cpu_model.state_dict(), buffer)
    return {"weights_bytes": buffer.getvalue()}


def _slot(ctx: NetworkContext) -> SummarySlot:
    return summary_slot(ctx, HELD_PER_CLASS, PAIRS_PER_IMAGE, SUMMARY_SEED)


def summary_status(ctx: NetworkContext) -> tuple[ShiftSummary | None, Job | None]:
    """(the summary when it is measured, else None; the job measuring it). Starts the job the
    first time anyone asks for these weights; a job that was stopped is started again."""
    from explorer.ui.train import job_queue

    queue = job_queue()
    slot = _slot(ctx)
    with slot.lock:
        if slot.result is not None:
            return slot.result, None
        job = queue.get(slot.job_id) if slot.job_id else None
        if job is not None and job.status == "done":
            slot.result = job.result
            return slot.result, job
        if job is None or job.status == "stopped":
            job = queue.submit(
                "explorer.shift_lab:summary_job",
                SUMMARY_OWNER,
                preprocessing=ctx.preprocessing,
                dataset=ctx.dataset,
                per_class=HELD_PER_CLASS,
                pairs_per_image=PAIRS_PER_IMAGE,
                seed=SUMMARY_SEED,
                **_weights_kwargs(ctx),
            )
            slot.job_id = job.id
        return None, job


def forget_failed(ctx: NetworkContext) -> None:
    """After a failure: the next look starts a fresh job."""
    slot = _slot(ctx)
    with slot.lock:
        slot.job_id = None


def summary_pending(ctx: NetworkContext) -> bool:
    """Whether the summary is still being measured (the page then polls)."""
    try:
        result, job = summary_status(ctx)
    except UserError:
        return False
    return result is None and job is not None and job.active


def summary_panel(ctx: NetworkContext) -> None:
    """The measured summary, or how far its measurement has got."""
    try:
        result, job = summary_status(ctx)
    except UserError as exc:  # the queue is full
        widgets.error(str(exc))
        return
    if result is not None:
        if ss.pop("shift_polling", None):
            st.rerun()  # measured: the whole page shows it, and stops polling
        show_summary(result)
        return
    assert job is not None
    ss["shift_polling"] = True
    if job.status == "failed":
        ss.pop("shift_polling", None)
        widgets.error(f"The measurement failed: {job.error}")
        st.button("Measure again", key="shift_summary_retry", on_click=forget_failed, args=(ctx,))
        return
    if job.status == "queued":
        st.info(
            f"Waiting: {job.position()} in the server's queue of long work (one job at a time "
            "keeps everyone's pages fast). The numbers appear here by themselves.",
            icon=":material/hourglass:",
        )
        return
    done = next((e for e in reversed(job.events) if isinstance(e, dict)), None)
    fraction = done["done"] / done["total"] if done else 0.0
    st.progress(
        fraction,
        text=f"Measuring: {fraction:.0%} of the shifted images through the network, in a "
        "worker process. This is done once for these weights, for everyone.",
    )


def show_summary(s: ShiftSummary) -> None:
    """The measured figures, how they were measured, and what they mean for the claim."""
    from explorer.shift_lab import claim_sentence

    c1, c2 = st.columns(2)
    c1.metric(
        "A one-pixel shift changes the answer",
        f"{s.flip_rate:.1%}",
        help=f"{s.flips:,} of {s.flip_pairs:,} neighbouring shifts",
        border=True,
    )
    c2.metric(
        "Two random shifts agree (consistency)",
        f"{s.consistency:.1%}",
        help=f"{s.agreements:,} of {s.consistency_pairs:,} pairs",
        border=True,
    )
    st.markdown(claim_sentence(s))
    line = 2 * s.limit
    st.caption(
        f"Measured by the app on {s.images:,} images: the {s.gallery_images} gallery images and "
        f"{s.held_out_images:,} held-out images (the first {s.per_class} of each class, never "
        "trained on). **Flip rate:** each image shifted "
        f"−{s.limit}…+{s.limit} px along x and along y; of its {2 * line} neighbouring pairs "
        f"(one pixel apart) the share whose top answer differs — {s.flips:,} of "
        f"{s.flip_pairs:,}. **Consistency** (Zhang, 2019): {s.pairs_per_image} pairs of random "
        f"shifts per image, dx and dy each a whole number in −{s.limit}…+{s.limit} (seed "
        f"{s.seed}), {s.consistency_pairs:,} pairs in all; the share whose top answers agree — "
        f"{s.agreements:,}. Shifts of up to {s.limit} px: as far as the shipped CIFAR-10 "
        f"network's training crops moved its images. {s.forward_passes:,} forward passes in "
        f"{s.seconds:.1f} s on one CPU thread, once for these weights."
    )
