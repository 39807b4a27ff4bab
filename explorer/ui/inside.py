"""The Inside page's set-up (:class:`InsideState`) and its widgets: picking a cell (by number
or by clicking it in the table of numbers), the class the attributions explain, and the
max-pool stepper. The arithmetic is written out by explorer.ui.inside_arithmetic, the later
sections by explorer.ui.inside_sections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from explorer import inside_pictures as pics
from explorer import render
from explorer.features import Activations, ModelInput
from explorer.inside import pool_trace
from explorer.network_state import INSIDE_CHOICES, InsideState
from explorer.numbers import display_value as fmt
from explorer.stages import SCORE_STAGES, STAGE_BY_NAME, shown_as
from explorer.ui.network import NetworkContext
from explorer.ui.state import Bound

ss = st.session_state
INSIDE: Bound[InsideState] = Bound("in_state", "in_", InsideState, INSIDE_CHOICES)
VECTOR_COLUMNS = 16  # long vectors are shown 16 numbers a row (flatten: one pool3 map a row)
TARGET_FOR = "in_target_for"  # the (weights, image) the chosen class was chosen for


# The written arithmetic's grids are HTML drawn for a laptop (numbers of 12 px): on a projector
# they are zoomed to be read from the back of the room (18 px at 1280 wide, 22 px from 1600;
# a row that no longer fits wraps), the prose around them is scaled by presenter mode itself.
# Raw HTML blocks are a markdown container's only <div> children without a test id (a
# heading's wrapper has one).
LEAD_KEY = "in_lead"
_RAW_HTML = f'.st-key-{LEAD_KEY} [data-testid="stMarkdownContainer"] > div:not([data-testid])'
PRESENTER_ARITHMETIC_CSS = f"""<style>
{_RAW_HTML} {{zoom: 1.5;}}
@media (min-width: 1600px) {{ {_RAW_HTML} {{zoom: 1.8;}} }}
</style>"""


def presenter_lead() -> DeltaGenerator:
    """The container that comes first in presenter mode: the cell picked and its arithmetic,
    the grids zoomed for a projector."""
    st.html(PRESENTER_ARITHMETIC_CSS)
    return st.container(key=LEAD_KEY)


def pick_cell(
    acts: Activations, classes: tuple[str, ...], compact: bool = False
) -> tuple[str, tuple[int, ...]]:
    """The stage and the cell to explain: a stage box, then map/row/column (or unit) boxes,
    kept inside the stage's shape. ``compact`` (presenter mode): all of them on one row, so
    the arithmetic under them starts on the first screen. Returns ``(stage, cell)``."""
    where = st.columns([2, 3], gap="medium") if compact else None
    with where[0] if where is not None else st.container():
        stage = INSIDE.choice(st.selectbox, "stage", "Stage")
    state = INSIDE.get()
    shape = acts.stages[state.stage].shape
    state = state.fitted(shape)
    INSIDE.put(state)
    with where[1] if where is not None else st.container():
        _pick_position(shape, stage, classes)
    state = INSIDE.get()
    return state.stage, state.cell


def _pick_position(shape: tuple[int, ...], stage: str, classes: tuple[str, ...]) -> None:
    """The map/row/column boxes of a map stage, the class of a score, or the position in a
    long vector."""
    state = INSIDE.get()
    if len(shape) == 3:
        c1, c2, c3 = st.columns(3)
        INSIDE.number("map", f"Map (0–{shape[0] - 1})", 0, shape[0] - 1, where=c1)
        INSIDE.number("row", f"Row (0–{shape[1] - 1})", 0, shape[1] - 1, where=c2)
        INSIDE.number("col", f"Column (0–{shape[2] - 1})", 0, shape[2] - 1, where=c3)
    elif stage in SCORE_STAGES:
        ss["in_unit"] = state.unit

        def chose() -> None:
            if ss.get("in_unit") in range(shape[0]):
                INSIDE.put(INSIDE.get().choose("unit", ss["in_unit"]))

        st.selectbox(
            "Class",
            range(shape[0]),
            key="in_unit",
            on_change=chose,
            format_func=lambda k: f"{k}: {classes[k]}",
        )
    else:
        INSIDE.number("unit", f"Position (0–{shape[0] - 1})", 0, shape[0] - 1)


def as_table(values: np.ndarray, stage: str, classes: tuple[str, ...]) -> pd.DataFrame:
    """What the clickable table shows: a map as rows × columns, a long vector 16 a row (so
    flatten's rows are pool3's maps), the ten scores with their class names."""
    if values.ndim == 2:
        return pd.DataFrame(values, columns=[str(c) for c in range(values.shape[1])])
    if len(values) <= 10 and stage in SCORE_STAGES:
        return pd.DataFrame([values], columns=[f"{k}: {classes[k]}" for k in range(len(values))])
    rows = -(-len(values) // VECTOR_COLUMNS)
    padded = np.full(rows * VECTOR_COLUMNS, np.nan)
    padded[: len(values)] = values
    grid = padded.reshape(rows, VECTOR_COLUMNS)
    return pd.DataFrame(
        grid,
        columns=[f"+{c}" for c in range(VECTOR_COLUMNS)],
        index=[str(r * VECTOR_COLUMNS) for r in range(rows)],
    )


def clicked(
    state: InsideState, selection: object, table: pd.DataFrame, stage: str, size: int
) -> InsideState | None:
    """``state`` after a click on the table of numbers, from the selection the browser sent
    back (checked like a link's value: a cell that was not offered changes nothing)."""
    try:
        cells = selection["selection"]["cells"]  # type: ignore[index]
        row, column = cells[0]
        row, col = int(row), list(table.columns).index(column)
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if not 0 <= row < len(table):
        return None
    if STAGE_BY_NAME[stage].spatial:
        return state.at(stage, (state.map, row, col))
    unit = col if len(table) == 1 and stage in SCORE_STAGES else row * VECTOR_COLUMNS + col
    return state.at(stage, (unit,)) if unit < size else None


def clickable_numbers(
    acts: Activations, stage: str, cell: tuple[int, ...], classes: tuple[str, ...]
) -> None:
    """The numbers of the picked map (or vector) as a table coloured like the maps: click
    one to explain it."""
    arr = acts.stages[stage]
    values = arr[cell[0]] if arr.ndim == 3 else arr
    table = as_table(np.asarray(values, dtype=np.float64), stage, classes)
    kind = STAGE_BY_NAME[shown_as(stage)].kind
    cmap: render.ColourMap = "diverging" if kind == "signed" else "viridis"
    colours = render.colourise(table.to_numpy(), cmap)
    css = [
        [f"background-color: rgb({r},{g},{b}); color: {render.ink(r, g, b)}" for r, g, b in row]
        for row in colours
    ]
    styled = table.style.apply(lambda _: np.array(css), axis=None).format(fmt, na_rep="")
    what = (
        f"The numbers of map {cell[0]} of {stage}"
        if arr.ndim == 3
        else f"The {len(arr):,} numbers of {stage}"
    )
    st.caption(f"{what}, from this image. **Click a number** to explain it.")

    def on_click() -> None:
        new = clicked(INSIDE.get(), ss.get("in_table"), table, stage, len(values))
        if new is not None:
            INSIDE.put(new)

    st.dataframe(
        styled,
        key="in_table",
        on_select=on_click,
        selection_mode="single-cell",
        height=min(38 + 35 * len(table), 320),
    )


def pick_class(ctx: NetworkContext, inp: ModelInput, acts: Activations) -> int:
    """The class whose score the attributions explain: the network's answer for every new image
    (or weights), until the student picks another one (or a link names one)."""
    predicted = int(acts.probabilities.argmax())
    classes = ctx.classes
    mark = f"{ctx.weights_id}|{inp.key}"
    state = INSIDE.get()
    if state.target is not None and ss.get(TARGET_FOR) not in (None, mark):
        state = state.choose("target", None)  # a new image or weights: their answer
    ss[TARGET_FOR] = mark
    if state.target is not None and state.target >= len(classes):
        state = state.choose("target", None)
    INSIDE.put(state)
    ss["in_target"] = predicted if state.target is None else state.target

    def chose() -> None:
        if ss.get("in_target") in range(len(classes)):
            INSIDE.put(INSIDE.get().choose("target", ss["in_target"]))

    return st.selectbox(
        "Explain the score of",
        range(len(classes)),
        key="in_target",
        on_change=chose,
        format_func=lambda k: classes[k] + (" (the network's answer)" if k == predicted else ""),
    )


def pool_stepper(acts: Activations, stage: str, channel: int, row: int, col: int) -> None:
    """Every window of this max-pool, one step at a time (a slider; the arrow keys step)."""
    source = STAGE_BY_NAME[stage].source
    trace = pool_trace(acts.stages[source][channel])
    st.markdown(f"**Window by window**: {stage} map {channel} from {source} map {channel}.")
    key = "in_pool_step"  # 1 … steps, as the caption counts windows
    if ss.get("in_pool_for") != (stage, channel, row, col):  # a new cell: its step
        ss["in_pool_for"] = (stage, channel, row, col)
        ss[key] = row * trace.output.shape[1] + col + 1
    step_now = ss.get(key)
    ss[key] = min(max(int(step_now), 1), trace.steps) if isinstance(step_now, int) else 1
    step = (
        st.slider(
            "Window",
            1,
            trace.steps,
            key=key,
            help="Drag, or click the handle and use the arrow keys.",
        )
        - 1
    )
    i, j = trace.position(step)
    best = trace.windows[step].max()
    st.caption(
        f"Window {step + 1} of {trace.steps}: rows {2 * i}–{2 * i + 1}, columns "
        f"{2 * j}–{2 * j + 1} → {stage}[{channel}, {i}, {j}] = {fmt(best)} (orange: "
        "the winner)."
    )
    st.markdown(
        pics.pool_step_html(trace, step, f"{source} map {channel}", f"{stage} map {channel}"),
        unsafe_allow_html=True,
    )
