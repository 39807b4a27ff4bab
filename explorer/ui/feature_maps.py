"""The Feature maps page's views: one stage's maps, one map up close with its filter, the
same input through another network, a conv1 filter sent to the playground, and "guess
first". The page (pages/feature_maps.py) calls them top to bottom as on the screen."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from explorer.features import (
    Activations,
    ModelInput,
    biases,
    filters,
    map_statistics,
    playground_kernel,
)
from explorer.model import builtin_weights
from explorer.network_view import legend_text, stage_explanation, verdict
from explorer.stage_pictures import stage_limits
from explorer.stages import BLOCKS, CONV_OF_STAGE, SPATIAL_STAGES, STAGE_BY_NAME, STRIP_STAGES
from explorer.ui import content, inside_links, playground, widgets
from explorer.ui.network import NET, NetworkContext, builtin_context
from explorer.ui.thumbnails import map_picker

ss = st.session_state
CLASSES_SHOWN = 10  # a head of up to 1,000 classes: the charts draw the ten largest


def top(values: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(values, key=lambda cv: -cv[1])[:CLASSES_SHOWN])


def show_stage(
    name: str, acts: Activations, pictures: dict[str, bytes], per_map: bool, trained: bool
) -> None:
    """One stage: title, what it does, all its maps as one image, its colour legend."""
    stage = STAGE_BY_NAME[name]
    arr = acts.stages[name]
    st.markdown(f"**{stage.title}**  \n{'×'.join(map(str, arr.shape))}")
    if arr.ndim == 3:
        what = f"All {arr.shape[0]} maps of {name}, {'×'.join(map(str, arr.shape[1:]))} each"
    else:
        what = f"All {arr.shape[0]} numbers of {name}, 64 a row, as colours"
    st.image(pictures[name], width="stretch", output_format="PNG", alt=what)
    st.image(content.colour_bar_png(stage.kind), width=160, output_format="PNG", alt="")
    lo, hi = stage_limits(arr, stage.kind)
    st.caption(legend_text(stage.kind, lo, hi, per_map and arr.ndim == 3))
    st.caption(stage_explanation(stage.explanation, trained))
    if arr.ndim == 3:
        st.download_button(
            "Maps as PNG",
            lambda: content.montage_png(acts, name, per_map),
            file_name=f"{name}_maps.png",
            mime="image/png",
            on_click="ignore",
            type="tertiary",
            icon=":material/download:",
            key=f"fm_dl_{name}",
        )


def every_stage(acts: Activations, per_map: bool, trained: bool) -> None:
    """Every block of maps (conv, ReLU, pool side by side), then the head's long vectors."""
    pictures = content.stage_pictures(acts, per_map)
    for block in BLOCKS:
        for col, name in zip(st.columns(len(block)), block, strict=True):
            with col:
                show_stage(name, acts, pictures, per_map, trained)
    st.markdown("##### The classifier head")
    for col, name in zip(st.columns(len(STRIP_STAGES)), STRIP_STAGES, strict=True):
        with col:
            show_stage(name, acts, pictures, per_map, trained)


def show_map_detail(ctx: NetworkContext, acts: Activations, per_map: bool) -> None:
    """Pick one map (the state's layer and map): enlarged with hover values, its statistics,
    a link to the arithmetic of its largest value and the filter that made it."""
    c1, c2 = st.columns(2)
    NET.choice(c1.selectbox, "layer", "Layer")
    state = NET.get()
    arr = acts.stages[state.layer]
    if state.map >= len(arr):
        state = state.choose("map", 0)
        NET.put(state)
    index = NET.number("map", f"Map (0–{len(arr) - 1})", 0, len(arr) - 1, where=c2)
    st.caption("Click a map to enlarge it.")
    map_picker(content.map_thumbnails(acts, state.layer, per_map), state)
    layer = state.layer
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(
            content.map_figure(acts, layer, index, per_map), width="stretch", key="fm_heatmap"
        )
        stats = map_statistics(arr[index])
        st.markdown(
            f"min **{stats['min']:.4g}** · max **{stats['max']:.4g}** · mean "
            f"**{stats['mean']:.4g}** · std **{stats['std']:.4g}** · fraction zero "
            f"**{stats['fraction_zero']:.1%}**"
        )
        r, c = np.unravel_index(int(np.argmax(arr[index])), arr[index].shape)
        cell = (int(index), int(r), int(c))
        inside_links.link_here(
            f"How was {layer}[{index}, {r}, {c}], its largest value, made?", layer, cell
        )
    with right:
        show_filter(ctx, CONV_OF_STAGE[layer], layer, index)


def show_filter(ctx: NetworkContext, conv: str, layer: str, index: int) -> None:
    """The filter that made map ``index`` of ``layer``: its slices and bias."""
    w = filters(ctx.cpu_model, conv)[index]
    bias = float(biases(ctx.cpu_model, conv)[index])
    st.markdown(
        f"**The filter that made it: {conv} filter {index}** — {w.shape[0]} slices of 3×3, "
        f"one per input channel, plus a bias of {bias:.4g}."
    )
    if layer != conv:
        st.caption(f"{layer} is computed from {conv}'s map {index}, so this is its filter.")
    if w.shape[0] == 3:  # a filter over the colour channels: one small grid each
        for column, name, kernel in zip(st.columns(3), "RGB", w, strict=True):
            column.caption(f"{name} channel")
            column.markdown(widgets.grid_html(kernel, "diverging", 40), unsafe_allow_html=True)
        return
    grid, bound = content.filter_grid_png(ctx, conv, index)
    st.image(
        grid,
        width="stretch",
        output_format="PNG",
        alt=f"{conv} filter {index}: its {w.shape[0]} slices of 3×3 as colours",
    )
    st.caption(
        f"One 3×3 square per input channel (channel 0 top left, 8 a row); "
        f"blue −{bound:.3g} · white 0 · red {bound:.3g}"
    )
    with st.expander("The numbers"):
        numbers = pd.DataFrame(
            w.reshape(len(w), 9), columns=[f"({r},{c})" for r in range(3) for c in range(3)]
        ).rename_axis("input channel")
        st.dataframe(numbers.round(4), width="stretch")


def compare_networks(
    ctx: NetworkContext, inp: ModelInput, acts: Activations, per_map: bool, revealed: bool
) -> None:
    """The same input through a second built-in network, stage by stage, beside this one.
    Its answer is kept back while the student is still guessing."""
    others = {c.key: c.label for c in builtin_weights() if c.key != ctx.weights_id}
    if ss.get("fm_compare") not in (None, *others):
        ss["fm_compare"] = None
    other = st.selectbox(
        "Compare with",
        [None, *others],
        key="fm_compare",
        format_func=lambda k: "— no comparison —" if k is None else others[k],
        help="The same 32×32 input through other weights: trained against untrained, or "
        "CIFAR-10 against MNIST. Each network normalises the input its own way.",
    )
    if other is None:
        return
    ctx2 = builtin_context(other, ctx.device)
    acts2 = widgets.guarded(lambda: content.capture(ctx2, inp))
    if acts2 is None:
        return
    pictures = content.stage_pictures(acts, per_map)
    pictures2 = content.stage_pictures(acts2, per_map)
    left, right = st.columns(2, gap="large")
    for column, c, a in ((left, ctx, acts), (right, ctx2, acts2)):
        if revealed:
            said = verdict(a.probabilities, c.classes, inp.true_label)
            column.markdown(f"**{c.label}** says **{said.answer}** ({said.probability:.1%})")
        else:
            column.markdown(f"**{c.label}** (its answer appears once you have guessed)")
    for name in SPATIAL_STAGES:
        left, right = st.columns(2, gap="large")
        title = STAGE_BY_NAME[name].title
        left.image(pictures[name], caption=title, output_format="PNG", alt=f"{ctx.label}: {name}")
        right.image(
            pictures2[name], caption=title, output_format="PNG", alt=f"{ctx2.label}: {name}"
        )


def playground_sender(ctx: NetworkContext) -> None:
    """Choose a conv1 filter and a channel; the button opens it in the playground."""
    c1, c2 = st.columns(2)
    index = int(c1.number_input("conv1 filter", 0, 31, key="fm_pg_filter"))
    channel = c2.radio(
        "Channel",
        ["R", "G", "B", "sum"],
        key="fm_pg_channel",
        horizontal=True,
        format_func=lambda c: "R+G+B" if c == "sum" else c,
    )
    if not 0 <= index <= 31 or channel not in ("R", "G", "B", "sum"):
        return
    kernel = playground_kernel(ctx.cpu_model, index, channel)
    st.caption(kernel["name"])
    st.markdown(
        widgets.grid_html(np.asarray(kernel["values"]), "diverging", 48), unsafe_allow_html=True
    )
    if st.button("Use this filter in the playground", key="fm_pg_send", icon=":material/send:"):
        playground.send_kernel(kernel["values"], kernel["name"])
        st.switch_page("pages/convolution.py")


def guess_first(ctx: NetworkContext, inp: ModelInput, answer: str) -> bool:
    """ "What will the network say?": with the switch on, the student picks a class before the
    answer is revealed, then sees whether the network agreed, with a running score for the
    session. Returns whether the answer may be shown (always, with the switch off)."""
    on = st.toggle(
        "Guess first: what will the network say?",
        key="fm_guess_on",
        help="Pick a class before the network's answer and probabilities are shown.",
    )
    if not on:
        return True
    guesses: dict[str, str] = ss.setdefault("fm_guesses", {})
    which = f"{ctx.weights_id}:{inp.key}"
    if which not in guesses:
        pick_key = "fm_guess_" + hashlib.sha256(which.encode()).hexdigest()[:12]

        def guessed() -> None:
            mine = ss.get(pick_key)
            if mine in ctx.classes:  # a value the browser sends back is checked
                guesses[which] = mine
                right, asked = ss.get("fm_guess_score", (0, 0))
                ss["fm_guess_score"] = (right + (mine == answer), asked + 1)

        if len(ctx.classes) <= 12:
            st.pills("Your guess", list(ctx.classes), key=pick_key, on_change=guessed)
        else:
            st.selectbox(
                "Your guess", list(ctx.classes), index=None, key=pick_key, on_change=guessed
            )
        st.info("Pick the class you think the network will choose: its answer appears then.")
        return False
    right, asked = ss.get("fm_guess_score", (0, 0))
    mine = guesses[which]
    said = "the same as the network" if mine == answer else f"the network says {answer}"
    st.markdown(
        f"You guessed **{mine}**: {said}. Your guesses so far: **{right} of {asked}** "
        "matched the network."
    )
    return True
