"""The sharing lab's widgets and views: the kernel editor bound to :class:`SharingState`, the
kernel slid over the input before and after an edit, and the parameter counts of the live
model with and without sharing. The page (pages/why_sharing.py) lays them out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from explorer import render
from explorer.features import ModelInput
from explorer.numbers import NumberError, display_value, format_value
from explorer.sharing import (
    MODEL_SIDE,
    OUTLINED,
    KernelLab,
    LayerCounts,
    channel_input,
    conv1_map_gap,
    conv1_padding,
    head_counts,
    in_words,
    kernel_lab,
    layer_counts,
    learned_kernel,
    network_total,
    times,
    where_parameters,
)
from explorer.sharing_state import (
    CELLS,
    FILTERS,
    KERNEL_SIDE,
    SHARING_CHOICES,
    SIDES,
    SharingState,
    weight_name,
)
from explorer.ui import content, widgets
from explorer.ui.network import NET, NetworkContext
from explorer.ui.network_input import network_input
from explorer.ui.state import Bound

ss = st.session_state
BAD = "share_bad"  # cell → (text, sentence): typed but not a usable number (not in the state)
BOX_PX = 92  # a weight's text box: "-0.3535" fits, and three a row fit a phone


def _changed(old: SharingState, new: SharingState) -> None:
    """Another filter or channel: the text that could not be read belonged to the old one."""
    if (old.filter, old.channel) != (new.filter, new.channel) or not new.edits:
        ss.pop(BAD, None)


SHARE: Bound[SharingState] = Bound(
    "share_state", "share_", SharingState, SHARING_CHOICES, on_put=_changed
)


# ============================================================================================
# Computations, cached by content (explorer.ui.content's model)


def lab(ctx: NetworkContext, inp: ModelInput, state: SharingState) -> KernelLab:
    """conv1's kernel (``state``'s filter and channel, with its edits) slid over the input's
    channel, before and after the edits."""
    return _lab(ctx, inp, state.filter, state.channel, state.edits)


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=content.CONTENT)
def _lab(ctx: NetworkContext, inp: ModelInput, index: int, channel: str, edits: tuple) -> KernelLab:
    """:func:`lab`, once per (weights, image, kernel): the input size chosen further down
    the page does not touch it."""
    learned = learned_kernel(ctx.cpu_model, index, channel)
    image = channel_input(inp.image, ctx.preprocessing, channel)
    kernel = SharingState(index, channel, edits).kernel(learned)
    return kernel_lab(image, learned, kernel, conv1_padding(ctx.cpu_model))


def lab_pngs(ctx: NetworkContext, inp: ModelInput, state: SharingState) -> dict[str, bytes]:
    """The lab's four pictures as PNG bytes: the input channel, the output before and after
    (one colour scale), and what changed."""
    return _lab_pngs(ctx, inp, state.filter, state.channel, state.edits)


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=content.CONTENT)
def _lab_pngs(
    ctx: NetworkContext, inp: ModelInput, index: int, channel: str, edits: tuple
) -> dict[str, bytes]:
    from explorer.sharing_pictures import input_picture, output_picture

    found = _lab(ctx, inp, index, channel, edits)
    top, spread = colour_ranges(found)
    diff = found.difference
    kernel = found.before.shape[0]
    return {
        "input": render.png_bytes(input_picture(found.padded, found.padding, kernel, OUTLINED)),
        "before": render.png_bytes(output_picture(found.out_before, -top, top, OUTLINED)),
        "after": render.png_bytes(output_picture(found.out_after, -top, top, OUTLINED)),
        "changed": render.png_bytes(
            output_picture(diff, -spread, spread, OUTLINED, hatched=~found.changed)
        ),
    }


def colour_ranges(found: KernelLab) -> tuple[float, float]:
    """The bound of the output maps' shared colour scale (±), and of the difference's (a
    range of 1 where everything is 0: drawn white)."""
    top = max(float(np.abs(found.out_before).max()), float(np.abs(found.out_after).max()))
    return top or 1.0, float(np.abs(found.difference).max()) or 1.0


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs=content.CONTENT)
def map_gap(ctx: NetworkContext, inp: ModelInput, index: int) -> float:
    """``sharing.conv1_map_gap`` once per (weights, image, filter)."""
    return conv1_map_gap(ctx.cpu_model, inp.image, ctx.preprocessing, index)


# ============================================================================================
# The kernel editor


def _shown(learned: np.ndarray, cell: int) -> str:
    return format_value(float(learned.ravel()[cell]))


def _typed(cell: int, learned: np.ndarray) -> None:
    """A weight's text box changed: an edit when it is a number, back to the learned weight
    when it shows the learned value, a sentence (the text kept on the screen) otherwise."""
    text = ss.get(f"share_w{cell}", "")
    bad = ss.setdefault(BAD, {})
    bad.pop(cell, None)
    state = SHARE.get()
    if text.strip() == _shown(learned, cell):
        SHARE.put(state.unedit(cell))
        return
    try:
        SHARE.put(state.edit(cell, text))
    except NumberError as exc:
        bad[cell] = (text, str(exc))


def kernel_controls() -> None:
    """Which filter and channel the kernel starts from, side by side (wrapping on a phone)."""
    with st.container(horizontal=True, gap="medium"):
        SHARE.number(
            "filter",
            "conv1 filter",
            0,
            FILTERS - 1,
            width=130,
            help=f"conv1 has {FILTERS} filters, each 3×3 on each of the three colour channels.",
        )
        SHARE.choice(
            st.radio,
            "channel",
            "Channel",
            horizontal=True,
            width="content",
            help="The kernel is the filter's 3×3 slice for this channel, slid over this channel "
            "of the input as the network sees it (normalised).",
        )


def kernel_editor(learned: np.ndarray) -> None:
    """The kernel's nine weights as text boxes, row by row; a button puts the learned ones
    back. A box holding text that is not a number keeps it and says what is wrong; the
    computation goes on with the last number that could be read there."""
    state = SHARE.get()
    bad: dict[int, tuple[str, str]] = ss.get(BAD, {})
    st.markdown(
        f"**The kernel: filter {state.filter}, "
        f"{SHARING_CHOICES['channel'].labels[state.channel].lower()} channel** — type over "
        "any weight (2, −0.5, 1e-3 or 1/9), then press Enter."
    )
    for r in range(KERNEL_SIDE):
        # A row of fixed-width boxes rather than columns: three columns stack on a phone, or
        # scroll sideways when told not to; three 92 px boxes fit a 390 px screen.
        with st.container(horizontal=True, gap="xsmall"):
            for c in range(KERNEL_SIDE):
                cell = r * KERNEL_SIDE + c
                key = f"share_w{cell}"
                typed = state.typed(cell)
                ss[key] = bad[cell][0] if cell in bad else typed or _shown(learned, cell)
                st.text_input(
                    f"Weight {weight_name(cell).lower()}",
                    key=key,
                    on_change=_typed,
                    args=(cell, learned),
                    label_visibility="collapsed",
                    max_chars=60,
                    width=BOX_PX,
                )
    for cell in sorted(bad):
        widgets.error(bad[cell][1] + " The computation uses the last number read there.")
    if state.edits:
        kernel = state.kernel(learned)
        changes = "; ".join(
            f"{weight_name(cell).lower()}: {display_value(float(learned.ravel()[cell]))} → "
            f"{display_value(float(kernel.ravel()[cell]))}"
            for cell, _ in state.edits
        )
        st.caption(f"Changed — {changes}.")
        st.button(
            "Put back the learned weights",
            key="share_reset",
            on_click=lambda: SHARE.put(SHARE.get().reset()),
            icon=":material/undo:",
        )
    else:
        st.caption(f"All {CELLS} weights as conv1 learned them (rounded to 4 decimals here).")


# ============================================================================================
# The lab


def changed_sentence(found: KernelLab) -> str:
    """What the edit did to the output, in numbers the page computed (the count itself is the
    metric above it)."""
    total, n = found.n_outputs, found.n_changed
    if not found.edited_cells:
        return (
            f"No weight changed yet, so none of the {total:,} output values has. Change one "
            "weight and watch the whole map."
        )
    edited = len(found.edited_cells)
    what = "one weight" if edited == 1 else f"{edited} weights"
    if n == total:
        return (
            f"**All {total:,} output values changed**: you changed {what}, in one place, and "
            "the convolution uses the same weights at every position."
        )
    reasons = found.unchanged_reasons()
    parts = []
    if reasons["padding"]:
        parts.append(
            f"{reasons['padding']:,} at the border, where the changed weight lies on the zero "
            "padding (0 × anything is 0)"
        )
    if reasons["zero"]:
        parts.append(f"{reasons['zero']:,} where the pixels under it are exactly 0")
    if reasons["rounding"]:
        parts.append(
            f"{reasons['rounding']:,} where the change is too small to register in a 64-bit "
            "number, or your changes cancel out"
        )
    return (
        f"You changed {what}, in one place, and the convolution uses the same weights at every "
        f"position. The {total - n:,} values that did not change: " + "; ".join(parts) + "."
    )


def positions_table(found: KernelLab) -> pd.DataFrame:
    """The lettered positions' arithmetic as the page shows it."""
    rows = []
    for p in found.positions():
        rows.append(
            {
                "position": p.letter,
                "row, column": f"{p.row}, {p.col}",
                "before": display_value(p.before),
                "after": display_value(p.after),
                "change": display_value(p.change),
                "Σ (new w − old w) × pixel": display_value(p.expected_change),
            }
        )
    return pd.DataFrame(rows).set_index("position")


def input_chooser(ctx: NetworkContext) -> ModelInput | None:
    """The session's input (gallery, drawing, upload…) folded away under the lab: the kernel
    is what this page is about. Open when a drawing or an upload needs its widgets."""
    with st.expander("The input image — choose another", expanded=NET.get().input != "gallery"):
        return network_input(ctx)


def change_summary(found: KernelLab) -> None:
    """How many outputs the edit changed: the number, and why the others did not."""
    st.metric("Output values changed", f"{found.n_changed:,} of {found.n_outputs:,}")
    st.markdown(changed_sentence(found))


def input_view(ctx: NetworkContext, inp: ModelInput) -> None:
    """The channel the kernel slides over, with the kernel outlined at A–D."""
    state = SHARE.get()
    channel = SHARING_CHOICES["channel"].labels[state.channel].lower()
    st.image(
        lab_pngs(ctx, inp, state)["input"],
        caption=f"The input's {channel} channel as conv1 reads it (normalised), its zero "
        "padding hatched, the 3×3 kernel outlined at A, B, C and D",
        output_format="PNG",
        alt=f"The input's {channel} channel in grey with the 3×3 kernel outlined at four positions",
        width="stretch",
    )


def maps_view(ctx: NetworkContext, inp: ModelInput) -> None:
    """The output before and after, what changed, and the arithmetic at A–D."""
    state = SHARE.get()
    found = lab(ctx, inp, state)
    pictures = lab_pngs(ctx, inp, state)
    side = found.out_before.shape
    top, spread = colour_ranges(found)
    scale = f"blue −{format_value(top)} · white 0 · red {format_value(top)}"
    change = (
        f"blue −{format_value(spread)} · white 0 · red {format_value(spread)}; hatched where "
        "nothing changed"
        if found.n_changed
        else "nothing has changed yet: all hatched"
    )
    captions = {
        "before": f"The output ({side[0]}×{side[1]}) with the learned kernel: {scale}",
        "after": f"With your kernel, the same colours: {scale}",
        "changed": f"After − before: {change}",
    }
    alts = {
        "before": "The output map before the edit: blue negative, red positive",
        "after": "The output map after the edit, on the same colour scale",
        "changed": "The difference between the two output maps",
    }
    for column, name in zip(st.columns(3), captions, strict=True):
        column.image(
            pictures[name],
            caption=captions[name],
            output_format="PNG",
            alt=alts[name],
            width="stretch",
        )
    st.markdown("**The same nine weights at A, B, C and D**")
    st.table(positions_table(found))
    st.caption(
        "At every position the output is the sum of the nine weights times the nine pixels "
        "under them, so an edit changes each output by (new weight − old weight) × the pixel "
        "under that weight: the last column, worked out from the patch alone, agrees with the "
        "change (up to the last digits of 64-bit arithmetic). The weights are the same at "
        "every position; only the pixels differ."
    )
    gap = map_gap(ctx, inp, state.filter)
    st.caption(
        f"This is one third of conv1's map {state.filter}: the network adds the other two "
        f"channels' outputs (each with its own 3×3 slice of filter {state.filter}) and the "
        f"filter's bias. Added up that way with the learned weights, the three agree with the "
        f"network's own conv1 to within {format_value(gap)} (float32 rounding)."
    )


# ============================================================================================
# The counts


def counts_table(rows: list[LayerCounts]) -> pd.DataFrame:
    """conv1…conv3 and their total, three ways, as the page shows them."""

    def shape(counts: LayerCounts) -> str:
        s = counts.shape
        return (
            f"{s.in_channels}×{s.in_side[0]}×{s.in_side[1]} → "
            f"{s.out_channels}×{s.out_side[0]}×{s.out_side[1]}"
        )

    table = [
        {
            "layer": r.shape.name,
            "maps in → out": shape(r),
            "shared": f"{r.shared:,}",
            "locally connected": f"{r.local:,}",
            "dense": f"{r.dense:,}",
        }
        for r in rows
    ]
    table.append(
        {
            "layer": "total",
            "maps in → out": "",
            "shared": f"{sum(r.shared for r in rows):,}",
            "locally connected": f"{sum(r.local for r in rows):,}",
            "dense": f"{sum(r.dense for r in rows):,}",
        }
    )
    return pd.DataFrame(table).set_index("layer")


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs=content.CONTENT)
def counts_chart(ctx: NetworkContext, side: int) -> object:
    """The three totals and fc1 against the input side, the chosen side marked."""
    from explorer.sharing_pictures import counts_figure

    per_side = {s: layer_counts(ctx.cpu_model, s) for s in SIDES}
    fc1 = {s: head_counts(ctx.cpu_model, s)[0].params for s in SIDES}
    series = [
        ("convolutions (shared)", [sum(r.shared for r in per_side[s]) for s in SIDES]),
        ("locally connected", [sum(r.local for r in per_side[s]) for s in SIDES]),
        ("dense", [sum(r.dense for r in per_side[s]) for s in SIDES]),
        ("fc1", [fc1[s] for s in SIDES]),
    ]
    return counts_figure(SIDES, series, side)


def counts_view(ctx: NetworkContext) -> None:
    """conv1…conv3 counted three ways for the chosen input size, the totals in words, and how
    each count grows with the image."""
    model = ctx.cpu_model
    SHARE.choice(
        st.radio,
        "side",
        "Input image size",
        horizontal=True,
        help="The same layers (3×3 kernels, the same numbers of maps, the same pooling) made "
        "for larger images. SimpleCNN itself is made for 32×32.",
    )
    side = SHARE.get().side
    rows = layer_counts(model, side)
    st.table(counts_table(rows))
    totals = (
        ("Shared (the convolutions)", sum(r.shared for r in rows)),
        ("Locally connected", sum(r.local for r in rows)),
        ("Dense", sum(r.dense for r in rows)),
    )
    shared = totals[0][1]
    for column, (label, n) in zip(st.columns(3), totals, strict=True):
        column.metric(label, f"{n:,}")
        more = f" · {times(n, shared)} as many" if n != shared else ""
        column.caption(f"about {in_words(n)}{more}")
    base = layer_counts(model, MODEL_SIDE)
    fc1, fc1_base = head_counts(model, side)[0], head_counts(model, MODEL_SIDE)[0]
    if side == MODEL_SIDE:
        growth = (
            "Choose a larger image: the convolutions' count stays where it is, the others grow."
        )
    else:
        growth = (
            f"From {MODEL_SIDE}×{MODEL_SIDE} to {side}×{side} the convolutions keep their "
            f"{shared:,} parameters; the locally connected layers grow "
            f"{times(sum(r.local for r in rows), sum(r.local for r in base))}, as the number "
            "of output positions does; the dense layers "
            f"{times(sum(r.dense for r in rows), sum(r.dense for r in base))}, as the inputs "
            "times the outputs do."
        )
    st.markdown(
        f"A convolution's parameters do not depend on the image: {shared:,} at any size. "
        f"Without sharing, each of the {sum(r.positions for r in rows):,} output positions of "
        f"conv1…conv3 needs its own kernels. {growth}"
    )
    st.markdown(
        f"**fc1** grows with the image too: at {side}×{side} flatten hands it "
        f"{fc1.in_features:,} numbers, so it needs {fc1.in_features:,} × {fc1.out_features} + "
        f"{fc1.out_features} = **{fc1.params:,}** parameters"
        + (
            f" ({times(fc1.params, fc1_base.params)} its {fc1_base.params:,} at "
            f"{MODEL_SIDE}×{MODEL_SIDE}); the whole network {network_total(model, side):,}."
            if side != MODEL_SIDE
            else f"; the whole network {network_total(model, side):,}."
        )
    )
    st.plotly_chart(
        counts_chart(ctx, side),
        config={"displayModeBar": False},
        width="stretch",
        key="share_counts_chart",
    )
    st.caption(
        "Locally connected: one 3×3×in kernel and bias per filter at every output position — a "
        "convolution whose weights are not shared. Dense: a fully connected layer from all the "
        "numbers of the input maps to all the numbers of the output maps, as fc1 is. Counts are "
        "weights plus biases, worked out from the model's own layer sizes."
    )


def where_view(ctx: NetworkContext) -> int:
    """Each layer's share of the network's parameters as bars and a table; returns the total."""
    found = where_parameters(ctx.cpu_model)
    total = sum(n for _, n, _ in found)
    largest = max(found, key=lambda item: item[1])
    st.markdown(
        content.bars_html(tuple((name, share) for name, _, share in found), largest[0], ".1%"),
        unsafe_allow_html=True,
    )
    st.table(
        pd.DataFrame(
            {
                "layer": name,
                "parameters": f"{n:,}",
                "share": f"{share:.1%}",
            }
            for name, n, share in found
        ).set_index("layer")
    )
    convs = sum(n for name, n, _ in found if name.startswith("conv"))
    st.markdown(
        f"**{largest[0]} alone holds {largest[2]:.0%}** of the {total:,} "
        f"parameters: {largest[1]:,}. The three convolutions, which do all the looking at the "
        f"image, hold {convs:,} ({convs / total:.1%}) between them, because each reuses its "
        "small kernels at every position; fc1 connects every one of its inputs to every one "
        "of its outputs."
    )
    return total
