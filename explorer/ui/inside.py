"""The "Inside the network" page's widgets and caches: picking a cell (by number or by clicking
it), the arithmetic of every kind of stage written out, the max-pool stepper, the pictures of
receptive fields and attributions, and the activation-maximisation button with its progress.

Everything computed depends only on content — the weights' identity, the input's bytes, the
options — and is cached for the whole server (thirty students opening the same link cost
little more than one). The shared model is only read; attributions and activation
maximisation run on private copies (explorer.attribution).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from explorer import inside_pictures as pics
from explorer import render
from explorer.features import STAGE_BY_NAME
from explorer.inside import (
    EXPLAINED_STAGES,
    CellRecord,
    ConvCell,
    DropoutCell,
    FlattenCell,
    LinearCell,
    PoolCell,
    ReluCell,
    SoftmaxCell,
    flatten_index,
    pool_trace,
    unflatten_index,
)
from explorer.numbers import format_value as fmt
from explorer.ui import network as net
from explorer.ui import widgets

if TYPE_CHECKING:
    from explorer.attribution import Attributions, GalleryResponses, MaximisedInput
    from explorer.features import Activations, ModelInput
    from explorer.receptive_field import FieldBox

IN_DEFAULTS: dict[str, Any] = {
    "in_stage": "conv2",
    "in_map": 0,
    "in_row": 4,
    "in_col": 4,
    "in_unit": 0,
    "in_pool_step": 1,
    "in_channel": 0,
    "in_class": 0,
    "in_class_for": None,  # (weights, image) in_class was chosen for; "link": set by a link
    "in_link": None,  # the query parameters last read from or written to the address bar
}
SOFTMAX_ROWS = 10  # a head of up to 1,000 classes: the table lists the 10 most probable
VECTOR_COLUMNS = 16  # long vectors are shown 16 numbers a row (flatten: one pool3 map a row)


def init_inside_state() -> None:
    """Give every ``in_`` key its default, once per session."""
    for key, value in IN_DEFAULTS.items():
        st.session_state.setdefault(key, value)


# ----------------------------------------------------------------------------- the link


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and len(text) <= 6 else None


def apply_link(dataset: str) -> None:
    """Read ``?layer=conv2&map=5&row=3&col=4`` (``&unit=7`` for vectors), ``&class=3`` (the
    class the attributions explain), ``&channel=12`` (the conv3 map of section 4) and
    ``&img=<gallery key>`` from the address bar into the session, once per new link. Unknown
    or out-of-range values are ignored (numbers are clamped by the widgets)."""
    from explorer.samples import gallery

    params = st.query_params.to_dict()
    if not params or params == st.session_state["in_link"]:
        return
    st.session_state["in_link"] = params
    if params.get("layer") in EXPLAINED_STAGES:
        st.session_state["in_stage"] = params["layer"]
    for name in ("map", "row", "col", "unit", "channel", "class"):
        key = f"in_{name}"
        value = _int(params.get(name))
        if value is not None:
            st.session_state[key] = value
    if _int(params.get("class")) is not None:
        st.session_state["in_class_for"] = "link"
    if params.get("img") in {item.key for item in gallery(dataset)}:
        st.session_state["fm_input"] = "Gallery"
        st.session_state["fm_gallery"] = params["img"]


def sync_link(stage: str, cell: tuple[int, ...]) -> None:
    """Keep the address bar a link to what is on the screen (a teacher can share it): the
    cell, the class, the conv3 map and, for a gallery image, the image."""
    ss = st.session_state
    params = link_params(stage, cell, ss["in_class"], ss["in_channel"])
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    ss["in_link"] = params


def link_params(
    stage: str, cell: tuple[int, ...], target: int | None = None, channel: int | None = None
) -> dict[str, str]:
    """The query of a link to this page that opens ``cell`` of ``stage`` (and the class the
    attributions explain, the conv3 map of section 4, and the session's gallery image when
    the input is one): what other pages put in their links here."""
    params = {"layer": stage}
    if len(cell) == 3:
        params.update(map=str(cell[0]), row=str(cell[1]), col=str(cell[2]))
    else:
        params["unit"] = str(cell[0])
    if target is not None:
        params["class"] = str(target)
    if channel is not None:
        params["channel"] = str(channel)
    if st.session_state.get("fm_input") == "Gallery" and st.session_state.get("fm_gallery"):
        params["img"] = str(st.session_state["fm_gallery"])
    return params


def link_here(
    label: str, stage: str, cell: tuple[int, ...], target: int | None = None, **kwargs: Any
) -> None:
    """A link from another page to the arithmetic of ``cell`` of ``stage`` on this one, e.g.
    ``link_here("How was this number made?", "conv2", (5, 3, 4))`` or, from a prediction,
    ``link_here("Which pixels made it say cat?", "softmax", (3,), target=3)``."""
    params = link_params(stage, cell, target)
    try:
        st.page_link("pages/inside.py", label=label, icon=":material/calculate:",
                     query_params=params, **kwargs)  # fmt: skip
    except StreamlitPageNotFoundError:
        # A page run on its own, outside app.py's navigation (AppTest runs pages that way):
        # a plain link to the page's address does the same.
        st.markdown(f":material/calculate: [{label}](inside?{urlencode(params)})")


# ----------------------------------------------------------------------------- picking a cell


def _clamp(key: str, size: int) -> None:
    if not 0 <= int(st.session_state[key]) < size:
        st.session_state[key] = min(max(int(st.session_state[key]), 0), size - 1)


def stage_label(name: str) -> str:
    if name == "dropout":  # the feature-maps page shows it with relu4: it changes nothing
        return "dropout — off in evaluation mode"
    return STAGE_BY_NAME[name].title


def pick_cell(acts: Activations, classes: tuple[str, ...]) -> tuple[str, tuple[int, ...]]:
    """The stage and the cell to explain: a stage box, then map/row/column (or unit) boxes,
    kept inside the stage's shape. Returns ``(stage, cell)``."""
    if st.session_state["in_stage"] not in EXPLAINED_STAGES:
        st.session_state["in_stage"] = "conv2"
    stage = st.selectbox("Stage", EXPLAINED_STAGES, key="in_stage", format_func=stage_label)
    shape = acts.stages[stage].shape
    if len(shape) == 3:
        for key, size in zip(("in_map", "in_row", "in_col"), shape, strict=True):
            _clamp(key, size)
        c1, c2, c3 = st.columns(3)
        m = c1.number_input(f"Map (0–{shape[0] - 1})", 0, shape[0] - 1, key="in_map")
        r = c2.number_input(f"Row (0–{shape[1] - 1})", 0, shape[1] - 1, key="in_row")
        c = c3.number_input(f"Column (0–{shape[2] - 1})", 0, shape[2] - 1, key="in_col")
        return stage, (int(m), int(r), int(c))
    _clamp("in_unit", shape[0])
    if stage in ("fc2", "softmax"):
        unit = st.selectbox("Class", range(shape[0]), key="in_unit",
                            format_func=lambda k: f"{k}: {classes[k]}")  # fmt: skip
    else:
        unit = st.number_input(f"Position (0–{shape[0] - 1})", 0, shape[0] - 1, key="in_unit")
    return stage, (int(unit),)


def _as_table(values: np.ndarray, stage: str, classes: tuple[str, ...]) -> pd.DataFrame:
    """What the clickable table shows: a map as rows × columns, a long vector 16 a row (so
    flatten's rows are pool3's maps), the ten scores with their class names."""
    if values.ndim == 2:
        return pd.DataFrame(values, columns=[str(c) for c in range(values.shape[1])])
    if len(values) <= 10 and stage in ("fc2", "softmax"):
        return pd.DataFrame([values], columns=[f"{k}: {classes[k]}" for k in range(len(values))])
    rows = -(-len(values) // VECTOR_COLUMNS)
    padded = np.full(rows * VECTOR_COLUMNS, np.nan)
    padded[: len(values)] = values
    grid = padded.reshape(rows, VECTOR_COLUMNS)
    return pd.DataFrame(grid, columns=[f"+{c}" for c in range(VECTOR_COLUMNS)],
                        index=[str(r * VECTOR_COLUMNS) for r in range(rows)])  # fmt: skip


def _on_click(stage: str, ndim: int, columns: list[str]) -> None:
    """A clicked cell of the table becomes the picked cell."""
    cells = st.session_state["in_table"]["selection"]["cells"]
    if not cells:
        return
    row, column = cells[0][0], columns.index(cells[0][1])
    if ndim == 3:
        st.session_state["in_row"], st.session_state["in_col"] = int(row), int(column)
    elif stage in ("fc2", "softmax"):
        st.session_state["in_unit"] = int(column)
    else:
        st.session_state["in_unit"] = int(row) * VECTOR_COLUMNS + int(column)


def clickable_numbers(acts: Activations, stage: str, cell: tuple[int, ...], classes) -> None:
    """The numbers of the picked map (or vector) as a table coloured like the maps: click
    one to explain it."""
    arr = acts.stages[stage]
    values = arr[cell[0]] if arr.ndim == 3 else arr
    table = _as_table(np.asarray(values, dtype=np.float64), stage, classes)
    kind = STAGE_BY_NAME["relu4" if stage == "dropout" else stage].kind
    cmap: render.ColourMap = "diverging" if kind == "signed" else "viridis"
    colours = render.colourise(table.to_numpy(), cmap)
    css = [[f"background-color: rgb({r},{g},{b}); color: {render.ink(r, g, b)}"
            for r, g, b in row] for row in colours]  # fmt: skip
    styled = table.style.apply(lambda _: np.array(css), axis=None).format(fmt, na_rep="")
    what = f"The numbers of map {cell[0]} of {stage}" if arr.ndim == 3 else (
        f"The {len(arr):,} numbers of {stage}")  # fmt: skip
    st.caption(f"{what}, from this image. **Click a number** to explain it.")
    st.dataframe(
        styled, key="in_table", on_select=lambda: _on_click(stage, arr.ndim, list(table.columns)),
        selection_mode="single-cell", height=min(38 + 35 * len(table), 320),
    )  # fmt: skip


def pick_class(classes: tuple[str, ...], predicted: int, image_key: bytes, weights_id: str) -> int:
    """The class whose score the attributions explain: the network's answer for every new image
    (or weights), until the student picks another one (or a link names one)."""
    mark = (weights_id, image_key)
    if st.session_state["in_class_for"] == "link":
        st.session_state["in_class_for"] = mark
    elif st.session_state["in_class_for"] != mark:
        st.session_state["in_class_for"] = mark
        st.session_state["in_class"] = predicted
    _clamp("in_class", len(classes))
    return st.selectbox(
        "Explain the score of", range(len(classes)), key="in_class",
        format_func=lambda k: classes[k] + (" (the network's answer)" if k == predicted else ""),
    )  # fmt: skip


# ----------------------------------------------------------------------------- the arithmetic


def _a(number: int) -> str:
    """The article before a number said aloud: "an 8", "an 18", "an 11", "a 22"."""
    return "an" if str(number).startswith("8") or number in (11, 18) else "a"


def cell_name(stage: str, cell: tuple[int, ...]) -> str:
    """``conv2[5, 3, 4]``: how the page writes a cell."""
    return f"{stage}[{', '.join(map(str, cell))}]"


def agreement(how: CellRecord) -> str:
    """The sentence that compares this arithmetic with PyTorch's float32 value."""
    captured = str(np.float32(how.captured))  # the shortest text that reads back as it
    if how.bound == 0:
        same = "the same number" if how.value == how.captured else "a different number (!)"
        return f"PyTorch's value in this forward pass: **{captured}** — {same}: nothing is added."
    verdict = "equal to float32 precision" if how.agrees else "**not** equal to float32 precision"
    terms = getattr(how, "terms", 0)
    steps = ("exp, the sum and the division" if isinstance(how, SoftmaxCell)
             else f"the {terms:,} additions")  # fmt: skip
    order = "" if isinstance(how, SoftmaxCell) else ", adding in another order"
    return (
        f"In float64 this is **{how.value:.10g}**; PyTorch computed **{captured}** in float32"
        f"{order}. Difference {how.difference:.2g}: {verdict} (float32 keeps about 7 "
        f"significant digits; its rounding in {steps} can move the result by up to "
        f"{how.bound:.2g})."
    )


def channel_label(how: ConvCell, i: int) -> str:
    return f"input {'RGB'[i]}" if how.source == "input" else f"{how.source} channel {i}"


def show_conv(how: ConvCell) -> None:
    c, r, col = how.cell
    n = len(how.channel_sums)
    maps = "the input's 3 colour channels" if how.source == "input" else f"{how.source}'s {n} maps"
    st.markdown(
        f"**{cell_name(how.stage, how.cell)} = {fmt(how.value)}**: the 3×3 window of {maps} "
        f"centred on row {r}, column {col}, times {how.stage}'s filter {c} ({n} slices of 3×3), "
        "everything added, plus the bias."
    )
    lo_w = float(np.abs(how.window).max()) or 1.0
    lo_k = float(np.abs(how.weights).max()) or 1.0
    lo_p = float(np.abs(how.products).max()) or 1.0
    for i in how.shown:
        label = channel_label(how, i)
        html = pics.equation_html([
            pics.captioned_html(label, pics.number_grid_html(
                how.window[i], "diverging", 36, lo=-lo_w, hi=lo_w, blank=~how.inside)),
            pics.operator_html("×"),
            pics.captioned_html(f"weights, slice {i}", pics.number_grid_html(
                how.weights[i], "diverging", 36, lo=-lo_k, hi=lo_k)),
            pics.operator_html("="),
            pics.captioned_html("products", pics.number_grid_html(
                how.products[i], "diverging", 36, lo=-lo_p, hi=lo_p, blank=~how.inside)),
            pics.operator_html("→"),
            f"<b>sum {fmt(how.channel_sums[i])}</b>",
        ])  # fmt: skip
        st.markdown(html, unsafe_allow_html=True)
    if not how.inside.all():
        st.caption("Grey cells hang over the edge of the map: padding, which counts as 0.")
    rows = [f"| {channel_label(how, i)} | {fmt(how.channel_sums[i])} |" for i in how.shown]
    others = n - len(how.shown)
    if others:
        rows.append(f"| the other {others} channels, summed | {fmt(how.rest)} |")
    rows += [f"| bias of filter {c} | {fmt(how.bias)} |",
             f"| **= {cell_name(how.stage, how.cell)}** | **{fmt(how.value)}** |"]  # fmt: skip
    st.markdown("| one sum per input channel | value |\n|---|---:|\n" + "\n".join(rows))
    if others:
        st.caption(
            f"Only the {len(how.shown)} channels with the largest sums (either sign) are shown "
            f"one by one; the other {others} are added into one row. Every one of the "
            f"{how.terms:,} numbers is in the sum."
        )


def show_linear(how: LinearCell, classes: tuple[str, ...]) -> None:
    unit = how.cell[0]
    what = f"class {unit} ({classes[unit]})" if how.stage == "fc2" else f"unit {unit}"
    st.markdown(
        f"**{cell_name(how.stage, how.cell)} = {fmt(how.value)}** ({what}): each of the "
        f"{how.fan_in:,} numbers of {how.source} times its own weight, all added, plus the bias."
    )

    def sourcecell_name(k: int) -> str:
        if how.source == "flatten":
            c, i, j = unflatten_index(k, (how.fan_in // 16, 4, 4))
            return f"flatten[{k}] = pool3[{c}, {i}, {j}]"
        return f"{how.source}[{k}]"

    rows = [
        f"| {sourcecell_name(k)} | {fmt(v)} | {fmt(w)} | {fmt(p)} |"
        for k, v, w, p in zip(how.shown, how.inputs, how.weights, how.products, strict=True)
    ]
    others = how.fan_in - len(how.shown)
    rows += [f"| the other {others:,} products, summed | | | {fmt(how.rest)} |",
             f"| bias | | | {fmt(how.bias)} |",
             f"| **= {cell_name(how.stage, how.cell)}** | | | **{fmt(how.value)}** |"]  # fmt: skip
    st.markdown(
        "| input | value | × weight | = product |\n|---|---:|---:|---:|\n" + "\n".join(rows)
    )
    st.caption(
        f"The {len(how.shown)} largest products (either sign) are listed. {how.zero_inputs:,} of "
        f"the {how.fan_in:,} inputs are exactly 0 (ReLU switched them off), so their products "
        "are 0 whatever the weight."
    )


def show_softmax(how: SoftmaxCell, classes: tuple[str, ...]) -> None:
    k = how.cell[0]
    shift = f" − {fmt(how.shift)}" if how.shift else ""
    st.markdown(
        f"**softmax[{k}] = {fmt(how.value)}**, the probability of *{classes[k]}*: "
        f"exp(score{shift}) of every class, their sum, and each divided by the sum."
    )
    listed: list[int] = list(range(len(classes)))
    if len(classes) > SOFTMAX_ROWS:  # a large head: the most probable classes and this one
        order = sorted(listed, key=lambda j: (-how.probabilities[j], j))[:SOFTMAX_ROWS]
        listed = sorted({*order, k})
    rows = []
    for j in listed:
        z, e, p = how.logits[j], how.exps[j], how.probabilities[j]
        bold = "**" if j == k else ""
        rows.append(f"| {bold}{j}: {classes[j]}{bold} | {fmt(z)} | {e:.6g} | {bold}{p:.6f}{bold} |")
    others = sorted(set(range(len(classes))) - set(listed))
    if others:
        rows.append(f"| the other {len(others):,} classes | | {how.exps[others].sum():.6g} | "
                    f"{how.probabilities[others].sum():.6f} |")  # fmt: skip
    rows.append(f"| **sum** | | **{how.total:.6g}** | {how.probabilities.sum():.6f} |")
    st.markdown(
        "| class | score (fc2) | exp(score) | exp ÷ sum = probability |\n|---|---:|---:|---:|\n"
        + "\n".join(rows)
    )
    if how.shift:
        st.caption(f"Every score minus the largest ({fmt(how.shift)}) first: exp would overflow.")


def show_arithmetic(how: CellRecord, classes: tuple[str, ...]) -> None:
    """The arithmetic of any record, written out, then how it compares with PyTorch."""
    name = cell_name(how.stage, how.cell)
    if isinstance(how, ConvCell):
        show_conv(how)
    elif isinstance(how, ReluCell):
        src = cell_name(how.source, how.cell)
        st.markdown(f"**{name} = max(0, {src}) = max(0, {fmt(how.before)}) = {fmt(how.value)}**")
        st.caption("ReLU keeps a positive number and replaces a negative one by 0.")
    elif isinstance(how, DropoutCell):
        st.markdown(f"**{name} = relu4[{how.cell[0]}] = {fmt(how.value)}**")
        st.caption("In evaluation mode dropout passes every number through unchanged (while "
                   "training it zeroes half of them at random and doubles the rest).")  # fmt: skip
    elif isinstance(how, PoolCell):
        show_pool(how)
    elif isinstance(how, FlattenCell):
        c, i, j = how.channel, how.row, how.col
        _, h, w = how.shape
        st.markdown(
            f"**flatten[{how.index}] = pool3[{c}, {i}, {j}] = {fmt(how.value)}**: the maps are "
            f"laid end to end, map 0's {h * w} numbers first, row by row.  \n"
            f"There: position = (map × {h} + row) × {w} + column = ({c} × {h} + {i}) × {w} + {j} "
            f"= **{flatten_index(c, i, j, how.shape)}**.  \nBack: map = {how.index} ÷ {h * w} = "
            f"{c}, remainder {how.index % (h * w)}; row = {how.index % (h * w)} ÷ {w} = {i}, "
            f"column = remainder {j}."
        )
    elif isinstance(how, LinearCell):
        show_linear(how, classes)
    elif isinstance(how, SoftmaxCell):
        show_softmax(how, classes)
    st.markdown(agreement(how))


def show_pool(how: PoolCell) -> None:
    c, r, col = how.cell
    where = ("top", "bottom")[how.winner[0]] + " " + ("left", "right")[how.winner[1]]
    tie = (f" ({how.ties} of the four are equal; the first, in reading order, is the one "
           "PyTorch reports)") if how.ties > 1 else ""  # fmt: skip
    st.markdown(
        f"**{cell_name(how.stage, how.cell)} = {fmt(how.value)}**: the largest of the 2×2 window "
        f"of {how.source} map {c}, rows {2 * r}–{2 * r + 1}, columns {2 * col}–{2 * col + 1}. It "
        f"won at the window's {where}, {how.source}[{c}, {how.source_cell[0]}, "
        f"{how.source_cell[1]}]{tie}."
    )
    grid = pics.number_grid_html(how.window, "viridis", 56, lo=0.0,
                                 hi=max(float(how.window.max()), 1e-12),
                                 marks={how.winner: pics.WINNER})  # fmt: skip
    st.markdown(
        pics.equation_html([grid, pics.operator_html("→"), f"<b>max = {fmt(how.value)}</b>"]),
        unsafe_allow_html=True,
    )


def pool_stepper(acts: Activations, stage: str, channel: int, row: int, col: int) -> None:
    """Every window of this max-pool, one step at a time (a slider; the arrow keys step)."""
    source = {"pool1": "relu1", "pool2": "relu2", "pool3": "relu3"}[stage]
    trace = pool_trace(acts.stages[source][channel])
    st.markdown(f"**Window by window**: {stage} map {channel} from {source} map {channel}.")
    key = "in_pool_step"  # 1 … steps, as the caption counts windows
    if st.session_state.get("in_pool_for") != (stage, channel, row, col):  # a new cell: its step
        st.session_state["in_pool_for"] = (stage, channel, row, col)
        st.session_state[key] = row * trace.output.shape[1] + col + 1
    st.session_state[key] = min(max(int(st.session_state[key]), 1), trace.steps)
    step = st.slider("Window", 1, trace.steps, key=key,
                     help="Drag, or click the handle and use the arrow keys.") - 1  # fmt: skip
    i, j = trace.position(step)
    best = trace.windows[step].max()
    st.caption(f"Window {step + 1} of {trace.steps}: rows {2 * i}–{2 * i + 1}, columns "
               f"{2 * j}–{2 * j + 1} → {stage}[{channel}, {i}, {j}] = {fmt(best)} (orange: "
               "the winner).")  # fmt: skip
    st.markdown(pics.pool_step_html(trace, step, f"{source} map {channel}",
                                    f"{stage} map {channel}"), unsafe_allow_html=True)  # fmt: skip


# ----------------------------------------------------------------------------- pictures


def field_png(image_key: bytes, box: FieldBox, image: np.ndarray) -> bytes:
    """The input with ``box`` outlined, as PNG bytes, once per content."""
    return _field_png(image_key, (box.top, box.left, box.bottom, box.right), image)


@st.cache_data(max_entries=256, show_spinner=False)
def _field_png(image_key: bytes, edges: tuple[int, int, int, int], _image: np.ndarray) -> bytes:
    return render.png_bytes(pics.outline_field(_image, *edges))


@st.cache_data(max_entries=64, show_spinner="Asking where the network looks…")
def attributions(
    weights_id: str, device: str, image_key: bytes, target: int,
    _ctx: net.NetworkContext, _image: np.ndarray,
) -> Attributions:  # fmt: skip
    """Grad-CAM, saliency and integrated gradients for (weights, device, image, class)."""
    from explorer.attribution import attribute
    from explorer.features import preprocess

    x = preprocess(_image, _ctx.preprocessing)
    return attribute(_ctx.model, x, target, _ctx.preprocessing, device)


@st.cache_data(max_entries=64, show_spinner=False)
def attribution_pngs(
    weights_id: str, device: str, image_key: bytes, target: int,
    _found: Attributions, _image: np.ndarray,
) -> dict[str, tuple[bytes, str]]:  # fmt: skip
    """Each method's map over the input as PNG bytes, with its legend's HTML."""
    out = {}
    for name, heat, signed in (("grad_cam", _found.grad_cam, False),
                               ("saliency", _found.saliency, False),
                               ("integrated", _found.integrated, True)):  # fmt: skip
        top = float(np.abs(heat).max()) or 1.0
        cmap: render.ColourMap = "diverging" if signed else "viridis"
        lo = -top if signed else 0.0
        meaning = "blue lowers the score · red raises it" if signed else "brighter = more"
        out[name] = (render.png_bytes(pics.overlay(_image, heat, cmap, lo, top)),
                     pics.legend_html(cmap, lo, top, meaning))  # fmt: skip
    return out


@st.cache_data(max_entries=16, show_spinner="Showing the gallery to conv3…")
def gallery_scores(
    weights_id: str, device: str, dataset: str, _ctx: net.NetworkContext
) -> tuple[tuple[str, ...], GalleryResponses]:
    """conv3's response to every gallery image of ``dataset``, once per weights."""
    from explorer.attribution import gallery_responses
    from explorer.samples import gallery, load_gallery_image

    items = gallery(dataset)
    images = np.stack([load_gallery_image(item) for item in items])
    found = gallery_responses(_ctx.model, images, _ctx.preprocessing, device)
    return tuple(item.key for item in items), found


# Activation maximisation reports its progress as it runs, which Streamlit's caches cannot
# replay, so its results live in this small cache of our own: content-keyed, shared by every
# session, the least recently used dropped first.
_MAXIMISED: OrderedDict[tuple, MaximisedInput] = OrderedDict()
_MAXIMISED_LOCK = threading.Lock()
MAXIMISED_ENTRIES = 64


def maximised_input(
    ctx: net.NetworkContext,
    channel: int,
    progress: Callable[[int, int], None] | None = None,
    compute: bool = True,
) -> MaximisedInput | None:
    """The input optimised for conv3 map ``channel`` with these weights: from the cache, else
    computed (reporting ``progress``) when ``compute``, else None."""
    from explorer.attribution import MAXIMISE_SEED, MAXIMISE_STEPS, maximise_channel

    key = (ctx.weights_id, ctx.device.device, channel, MAXIMISE_STEPS, MAXIMISE_SEED)
    with _MAXIMISED_LOCK:
        if key in _MAXIMISED:
            _MAXIMISED.move_to_end(key)
            return _MAXIMISED[key]
    if not compute:
        return None
    found = maximise_channel(ctx.model, ctx.preprocessing, channel, device=ctx.device.device,
                             progress=progress)  # fmt: skip
    with _MAXIMISED_LOCK:
        _MAXIMISED[key] = found
        while len(_MAXIMISED) > MAXIMISED_ENTRIES:
            _MAXIMISED.popitem(last=False)
    return found


# ----------------------------------------------------------------------------- sections


def show_field_arithmetic(stage: str, box: FieldBox) -> None:
    """Where the cell's field lies, and the field's growth through every layer as a table."""
    from explorer.receptive_field import field_steps

    steps = field_steps()
    if box.full_top == 0 and box.field == 32 and stage not in {s.stage for s in steps}:
        st.markdown(
            f"**{cell_name(stage, box.cell)} can be influenced by every pixel of the input**: "
            f"{'it is one of pool3' if stage == 'flatten' else 'fc1 adds up all of pool3'}"
            "'s cells, and their fields together cover the image."
        )
    else:
        clipped = " (the rest of the field hangs over the edge: padding)" if (
            box.height < box.field or box.width < box.field) else ""  # fmt: skip
        where = f"input rows {box.top}–{box.bottom} and columns {box.left}–{box.right}"
        size = f"{_a(box.field)} {box.field}×{box.field} field"
        st.markdown(
            f"**{cell_name(stage, box.cell)} can be influenced by {where}**: {size}, "
            f"{box.height}×{box.width} of it on the image{clipped}. No other pixel can change "
            "it, whatever its value."
        )
    rows = ["| stage | kernel | stride | field | jump |",
            "|---|---:|---:|---|---:|"]  # fmt: skip
    field, jump = 1, 1
    for s in steps:
        grown = f"{field} + ({s.kernel} − 1) × {jump} = **{s.field}**"
        bold = "**" if s.stage == stage else ""
        rows.append(f"| {bold}{s.stage}{bold} | {s.kernel} | {s.stride} | {grown} | {s.jump} |")
        field, jump = s.field, s.jump
    st.markdown("\n".join(rows))
    st.caption(
        "Field = the previous field + (kernel − 1) × the previous jump. The jump is how many input "
        "pixels apart two neighbouring cells are: each pooling doubles it, so every later kernel "
        "row reaches twice as far. Row r of a stage sees input rows start + r × jump onwards, "
        "field of them; start is −1 after conv1, −3 after conv2 and −7 after conv3, because "
        "padding reaches outwards (the same for columns)."
    )


def show_attributions(found: Attributions, pngs: dict, classes: tuple[str, ...]) -> None:
    """The three maps side by side, each with its legend, what it shows and where it misleads."""
    from explorer.attribution import IG_STEPS, METHOD_NOTES

    for col, name in zip(st.columns(3), ("grad_cam", "saliency", "integrated"), strict=True):
        note = METHOD_NOTES[name]
        picture, legend = pngs[name]
        with col:
            st.markdown(f"**{note.name}**")
            st.image(picture, width="stretch", output_format="PNG",
                     caption=f"{note.name} for {classes[found.target]}",
                     alt=f"{note.name} for {classes[found.target]}, in colour over the input "
                     "in grey")  # fmt: skip
            st.markdown(legend, unsafe_allow_html=True)
            st.caption(f"**Shows:** {note.shows}")
            st.caption(f"**Misleads:** {note.misleads}")
    change = found.score - found.baseline_score
    st.caption(
        f"Score (logit) of {classes[found.target]}: **{found.score:.4f}** for this image, "
        f"{found.baseline_score:.4f} for a black one. The integrated gradients add up to "
        f"**{found.integrated.sum():.4f}**, the difference being {change:.4f}"
        f" (gap {found.ig_gap:.2g}: the integral is approximated with {IG_STEPS} points). "
        f"Computed on {found.device.upper()} in {sum(found.ms.values()):.0f} ms."
    )
    if found.fallback_reason:
        widgets.warning(f"The GPU failed ({found.fallback_reason}); this ran on the CPU instead.")


def field_alt(box: FieldBox) -> str:
    """The receptive-field picture in words, for screen readers."""
    return (f"The 32×32 input with rows {box.top}–{box.bottom} and columns {box.left}–"
            f"{box.right} outlined, the rest dimmed")  # fmt: skip


def show_gallery_top(
    keys: tuple[str, ...], scores: GalleryResponses, channel: int, dataset: str
) -> None:
    """The five gallery images that excite conv3 map ``channel`` most, each with the field of
    its strongest cell outlined and that cell's value."""
    from explorer.receptive_field import receptive_field
    from explorer.samples import gallery, load_gallery_image

    items = {item.key: item for item in gallery(dataset)}
    st.markdown(f"**The gallery images that excite conv3 map {channel} most** (its largest "
                "value, and that cell's receptive field outlined)")  # fmt: skip
    for col, i in zip(st.columns(5), scores.ranking(channel, 5), strict=False):
        item = items[keys[i]]
        image = load_gallery_image(item)
        r, c = (int(v) for v in scores.where[i, channel])
        box = receptive_field("conv3", (channel, r, c))
        col.image(field_png(net.image_key(image), box, image), width="stretch",
                  caption=f"{item.label_name}: {fmt(scores.peak[i, channel])} at ({r}, {c})",
                  alt=f"A {item.label_name} from the gallery. {field_alt(box)}")  # fmt: skip


def readable_captions() -> None:
    """Streamlit draws captions at 60% opacity: 3.9:1 on white, under the 4.5:1 that WCAG AA
    asks of small text. This page's captions carry numbers a student reads, so they are drawn
    at 85% (about 8:1)."""
    st.markdown(
        '<style>[data-testid="stMain"] [data-testid="stCaptionContainer"] {opacity: 0.85}</style>',
        unsafe_allow_html=True,
    )


def show_maximised(best: MaximisedInput, scores: GalleryResponses, channel: int) -> None:
    """The optimised input, enlarged, and how much it excites the map compared with the
    gallery's best."""
    pic, words = st.columns([1, 3], gap="large")
    pic.image(render.png_bytes(render.enlarge(best.image, 8)), width="stretch",
              caption=f"An input made for conv3 map {channel}",
              alt=f"A 32×32 image optimised to excite conv3 map {channel}")  # fmt: skip
    gallery_best = float(scores.mean[:, channel].max())
    words.markdown(
        f"Starting from random noise (seed {best.seed}), {best.steps} small steps, each "
        f"changing the pixels in the direction that raises the **mean of conv3 map {channel}** "
        f"most (the gradient): from **{fmt(best.start_mean)}** to **{fmt(best.mean)}** (largest "
        f"cell {fmt(best.peak)}). The gallery image that excites it most on average reaches "
        f"{fmt(gallery_best)}."
    )
    words.caption(
        "This is the pattern the filter responds to, repeated across the image because every "
        "cell of the map looks for it in its own 18×18 field. Two brakes keep it an image: "
        "neighbouring pixels are pulled together, and the image is shifted by a pixel or two "
        f"at random at each step. Computed on {best.device.upper()} in {best.seconds:.1f} s."
    )


# ----------------------------------------------------------------------------- for the page
# The page passes what is on the screen (the network, the input, the stage's cell); the keys
# of the caches above are made here, from content, never by the page.


def pick_class_for(ctx: net.NetworkContext, inp: ModelInput, acts: Activations) -> int:
    """:func:`pick_class` for this network and input."""
    predicted = int(acts.probabilities.argmax())
    return pick_class(ctx.classes, predicted, net.image_key(inp.image), ctx.weights_id)


def attributions_for(ctx: net.NetworkContext, inp: ModelInput, target: int) -> Attributions:
    """:func:`attributions` for this network and input."""
    key = net.image_key(inp.image)
    return attributions(ctx.weights_id, ctx.device.device, key, target, ctx, inp.image)


def attribution_pngs_for(
    ctx: net.NetworkContext, inp: ModelInput, found: Attributions
) -> dict[str, tuple[bytes, str]]:
    """:func:`attribution_pngs` of ``found`` for this network and input."""
    key = net.image_key(inp.image)
    return attribution_pngs(ctx.weights_id, found.device, key, found.target, found, inp.image)


def gallery_scores_for(ctx: net.NetworkContext) -> tuple[tuple[str, ...], GalleryResponses]:
    """:func:`gallery_scores` for this network."""
    return gallery_scores(ctx.weights_id, ctx.device.device, ctx.dataset, ctx)


def field_png_for(inp: ModelInput, box: FieldBox) -> bytes:
    """:func:`field_png` of ``box`` on this input."""
    return field_png(net.image_key(inp.image), box, inp.image)
