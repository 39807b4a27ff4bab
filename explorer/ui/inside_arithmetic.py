"""The arithmetic of one cell of any stage, written out as the Inside page shows it: the
window, weights and products of a convolution, the sum of a fully connected unit, exp and the
sum of softmax, the choice of ReLU, max-pool, flatten and dropout, and how each compares with
PyTorch's own float32 number."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import inside_pictures as pics
from explorer.inside import (
    CellRecord,
    ConvCell,
    DropoutCell,
    FlattenCell,
    LinearCell,
    PoolCell,
    ReluCell,
    SoftmaxCell,
    flatten_index,
    unflatten_index,
)
from explorer.numbers import display_value as fmt
from explorer.numbers import with_minus
from explorer.stages import LOGITS

SOFTMAX_ROWS = 10  # a head of up to 1,000 classes: the table lists the 10 most probable


def article(number: int) -> str:
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
    steps = (
        "exp, the sum and the division"
        if isinstance(how, SoftmaxCell)
        else f"the {terms:,} additions"
    )
    order = "" if isinstance(how, SoftmaxCell) else ", adding in another order"
    return (
        f"In float64 this is **{with_minus(f'{how.value:.10g}')}**; PyTorch computed "
        f"**{with_minus(captured)}** in float32{order}. Difference "
        f"{with_minus(f'{how.difference:.2g}')}: {verdict} (float32 keeps about 7 "
        f"significant digits; its rounding in {steps} can move the result by up to "
        f"{with_minus(f'{how.bound:.2g}')})."
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
        html = pics.equation_html(
            [
                pics.captioned_html(
                    label,
                    pics.number_grid_html(
                        how.window[i], "diverging", 36, lo=-lo_w, hi=lo_w, blank=~how.inside
                    ),
                ),
                pics.operator_html("×"),
                pics.captioned_html(
                    f"weights, slice {i}",
                    pics.number_grid_html(how.weights[i], "diverging", 36, lo=-lo_k, hi=lo_k),
                ),
                pics.operator_html("="),
                pics.captioned_html(
                    "products",
                    pics.number_grid_html(
                        how.products[i], "diverging", 36, lo=-lo_p, hi=lo_p, blank=~how.inside
                    ),
                ),
                pics.operator_html("→"),
                f"<b>sum {fmt(how.channel_sums[i])}</b>",
            ]
        )
        st.markdown(html, unsafe_allow_html=True)
    if not how.inside.all():
        st.caption("Grey cells hang over the edge of the map: padding, which counts as 0.")
    rows = [f"| {channel_label(how, i)} | {fmt(how.channel_sums[i])} |" for i in how.shown]
    others = n - len(how.shown)
    if others:
        rows.append(f"| the other {others} channels, summed | {fmt(how.rest)} |")
    rows += [
        f"| bias of filter {c} | {fmt(how.bias)} |",
        f"| **= {cell_name(how.stage, how.cell)}** | **{fmt(how.value)}** |",
    ]
    st.markdown("| one sum per input channel | value |\n|---|---:|\n" + "\n".join(rows))
    if others:
        st.caption(
            f"Only the {len(how.shown)} channels with the largest sums (either sign) are shown "
            f"one by one; the other {others} are added into one row. Every one of the "
            f"{how.terms:,} numbers is in the sum."
        )


def show_linear(how: LinearCell, classes: tuple[str, ...]) -> None:
    unit = how.cell[0]
    what = f"class {unit} ({classes[unit]})" if how.stage == LOGITS else f"unit {unit}"
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
    rows += [
        f"| the other {others:,} products, summed | | | {fmt(how.rest)} |",
        f"| bias | | | {fmt(how.bias)} |",
        f"| **= {cell_name(how.stage, how.cell)}** | | | **{fmt(how.value)}** |",
    ]
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
    st.markdown(
        f"**softmax[{k}] = {fmt(how.value)}**, the probability of *{classes[k]}*: "
        f"exp(score − {fmt(how.shift)}) of every class, their sum, and each divided by the sum."
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
        rows.append(
            f"| the other {len(others):,} classes | | {how.exps[others].sum():.6g} | "
            f"{how.probabilities[others].sum():.6f} |"
        )
    rows.append(f"| **sum** | | **{how.total:.6g}** | {how.probabilities.sum():.6f} |")
    st.markdown(
        "| class | score (fc2) | exp(score − largest) | exp ÷ sum = probability |\n"
        "|---|---:|---:|---:|\n" + "\n".join(rows)
    )
    st.caption(
        f"Every score minus the largest, {fmt(how.shift)}, first: it cancels in the division, "
        "so no probability changes, and it keeps exp from overflowing for large scores and from "
        "rounding every exp to 0 for very negative ones (PyTorch does the same)."
    )


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
        st.caption(
            "In evaluation mode dropout passes every number through unchanged (while "
            "training it zeroes half of them at random and doubles the rest)."
        )
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
    tie = (
        (
            f" ({how.ties} of the four are equal; the first, in reading order, is the one "
            "PyTorch reports)"
        )
        if how.ties > 1
        else ""
    )
    st.markdown(
        f"**{cell_name(how.stage, how.cell)} = {fmt(how.value)}**: the largest of the 2×2 window "
        f"of {how.source} map {c}, rows {2 * r}–{2 * r + 1}, columns {2 * col}–{2 * col + 1}. It "
        f"won at the window's {where}, {how.source}[{c}, {how.source_cell[0]}, "
        f"{how.source_cell[1]}]{tie}."
    )
    grid = pics.number_grid_html(
        how.window,
        "viridis",
        56,
        lo=0.0,
        hi=max(float(how.window.max()), 1e-12),
        marks={how.winner: pics.WINNER},
    )
    st.markdown(
        pics.equation_html([grid, pics.operator_html("→"), f"<b>max = {fmt(how.value)}</b>"]),
        unsafe_allow_html=True,
    )
