"""The Feature maps page's views: one stage's maps, one map up close with its filter, the
same input through another network, a conv1 filter sent to the playground, and "guess
first". The page (pages/feature_maps.py) calls them top to bottom as on the screen."""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from explorer import render
from explorer.errors import literal_markdown
from explorer.features import (
    Activations,
    ModelInput,
    biases,
    filters,
    map_statistics,
    playground_kernel,
)
from explorer.model import builtin_weights
from explorer.network_view import (
    StageFigure,
    legend_text,
    stage_explanation,
    stage_figures_html,
    verdict,
)
from explorer.numbers import with_minus
from explorer.stage_pictures import stage_limits
from explorer.stages import BLOCKS, CONV_OF_STAGE, SPATIAL_STAGES, STAGE_BY_NAME, STRIP_STAGES
from explorer.ui import content, inside_links, playground, widgets
from explorer.ui.network import NET, NetworkContext, builtin_context
from explorer.ui.thumbnails import map_picker

ss = st.session_state
CLASSES_SHOWN = 10  # a head of up to 1,000 classes: the charts draw the ten largest


def top(values: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(values, key=lambda cv: -cv[1])[:CLASSES_SHOWN])


PROJECTOR_SCALE = 16  # the 32×32 input as 512×512 pixels: crisp at a projector's column width


@st.cache_data(max_entries=64, show_spinner=False)
def _projector_png(image: np.ndarray) -> bytes:
    return render.png_bytes(render.enlarge(image, PROJECTOR_SCALE))


def projector_picture(inp: ModelInput) -> None:
    """The input as large as its column (presenter mode: the picture the answer is about, beside
    the answer), with where it came from."""
    label = f" — true label: {inp.true_label}" if inp.true_label else ""
    st.image(
        _projector_png(inp.image),
        width="stretch",
        output_format="PNG",
        caption=literal_markdown(f"{inp.description}{label}"),
        alt="The network's 32×32 input, enlarged",
    )


def stage_figure(
    name: str, acts: Activations, picture: bytes, per_map: bool, trained: bool
) -> StageFigure:
    """One stage for the page's HTML row: its words, and its pictures as this server's media."""
    stage = STAGE_BY_NAME[name]
    arr = acts.stages[name]
    if arr.ndim == 3:
        what = f"All {arr.shape[0]} maps of {name}, {'×'.join(map(str, arr.shape[1:]))} each"
    else:
        what = f"All {arr.shape[0]} numbers of {name}, 64 a row, as colours"
    lo, hi = stage_limits(arr, stage.kind)
    return StageFigure(
        name=name,
        title=stage.title,
        shape="×".join(map(str, arr.shape)),
        maps_url=widgets.media_url(picture, "image/png", f"fm.stage.{name}"),
        alt=what,
        bar_url=widgets.media_url(
            content.colour_bar_png(stage.kind), "image/png", f"fm.bar.{name}"
        ),
        legend=legend_text(stage.kind, lo, hi, per_map and arr.ndim == 3),
        explanation=stage_explanation(stage.explanation, trained),
    )


def every_stage(
    acts: Activations,
    per_map: bool,
    trained: bool,
    source: tuple[ModelInput | None, str] = (None, ""),
) -> None:
    """Every block of maps (conv, ReLU, pool side by side), then the head's long vectors: each
    row one HTML block (title, maps, colour bar, legend and what the stage does, for each
    stage) with the rows' "as PNG" buttons under it. Six elements a stage cost the server a
    third of a feature-maps run under load (every element hands the GIL to its event loop).
    ``source``: the input and the weights' name, for the downloaded slides' titles."""
    pictures = content.stage_pictures(acts, per_map)
    for row, block in enumerate(BLOCKS):
        figures = [stage_figure(n, acts, pictures[n], per_map, trained) for n in block]
        st.markdown(stage_figures_html(figures, css=row == 0), unsafe_allow_html=True)
        for col, name in zip(st.columns(len(block)), block, strict=True):
            col.download_button(
                f"{name}'s maps as PNG",
                functools.partial(content.montage_png, acts, name, per_map, *source),
                file_name=f"{name}_maps.png",
                mime="image/png",
                on_click="ignore",
                type="tertiary",
                icon=":material/download:",
                key=f"fm_dl_{name}",
            )
    st.markdown("##### The classifier head")
    figures = [stage_figure(n, acts, pictures[n], per_map, trained) for n in STRIP_STAGES]
    st.markdown(stage_figures_html(figures), unsafe_allow_html=True)


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
            with_minus(
                f"min **{stats['min']:.4g}** · max **{stats['max']:.4g}** · mean "
                f"**{stats['mean']:.4g}** · std **{stats['std']:.4g}** · fraction zero "
                f"**{stats['fraction_zero']:.1%}**"
            )
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
        f"one per input channel, plus a bias of {with_minus(f'{bias:.4g}')}."
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
        st.switch_page("pages/convolution.py", query_params=widgets.presenter_query())


GUESS_CLASSES_AS_BUTTONS = 12  # up to this many classes: one button each; more: a list


def guess_first(ctx: NetworkContext, inp: ModelInput, answer: str, presenting: bool) -> bool:
    """ "What will the network say?": with the switch on, the answer, the probabilities and
    everything that gives them away are kept back until a class is picked; then whether the
    network agreed, with a running score for the session. In presenter mode the teacher asks
    the room: the screen keeps the answer back until the teacher clicks the room's choice, or
    reveals it. Returns whether the answer may be shown (always, with the switch off)."""
    on = st.toggle(
        "Ask the room first: what will the network say?"
        if presenting
        else "Guess first: what will the network say?",
        key="fm_guess_on",
        help="The network's answer, its probabilities and scores stay hidden until a class is "
        "picked. A new image (or other weights) asks again.",
    )
    if not on:
        return True
    guesses: dict[str, str | None] = ss.setdefault("fm_guesses", {})
    scored: set[str] = ss.setdefault("fm_guesses_scored", set())
    which = f"{ctx.weights_id}:{inp.key}"
    if which not in guesses:
        _ask(ctx, which, answer, guesses, scored, presenting)
        return False
    mine = guesses[which]
    right, asked = ss.get("fm_guess_score", (0, 0))
    if mine is None:  # the teacher revealed it without a guess
        st.markdown(f"The network says **{answer}**.")
    else:
        who = "The room guessed" if presenting else "You guessed"
        said = "the same as the network" if mine == answer else f"the network says {answer}"
        st.markdown(
            f"{who} **{mine}**: {said}. Guesses so far: **{right} of {asked}** matched the network."
        )
    st.button(
        "Ask again" if presenting else "Guess again",
        key="fm_guess_again",
        type="tertiary",
        icon=":material/replay:",
        on_click=lambda: _forget(guesses, which),
        help="Hide the answer again (a second guess at the same image is not counted).",
    )
    return True


def _forget(guesses: dict[str, str | None], which: str) -> None:
    guesses.pop(which, None)


def _reveal(guesses: dict[str, str | None], which: str) -> None:
    guesses.setdefault(which, None)


def _ask(
    ctx: NetworkContext,
    which: str,
    answer: str,
    guesses: dict[str, str | None],
    scored: set[str],
    presenting: bool,
) -> None:
    """The question: one button per class (a grid that wraps to the width, so every class is
    reachable on a phone too), or a list for a head of many classes; in presenter mode a
    button that reveals the answer without a guess."""

    def guessed(mine: object) -> None:
        if mine not in ctx.classes:  # a value the browser sends back is checked
            return
        guesses[which] = str(mine)
        if which not in scored:  # only the first guess at an image counts
            scored.add(which)
            right, asked = ss.get("fm_guess_score", (0, 0))
            ss["fm_guess_score"] = (right + (mine == answer), asked + 1)

    st.markdown(
        "**Which class will the network choose?** Ask the room, then click its choice."
        if presenting
        else "**Which class will the network choose?** Your guess:"
    )
    if len(ctx.classes) <= GUESS_CLASSES_AS_BUTTONS:
        with st.container(horizontal=True, gap="small", key="fm_guess_classes"):
            for k, name in enumerate(ctx.classes):
                st.button(name, key=f"fm_pick_{k}", on_click=guessed, args=(name,))
    else:
        pick_key = "fm_pick_" + hashlib.sha256(which.encode()).hexdigest()[:12]
        st.selectbox(
            "Your guess",
            list(ctx.classes),
            index=None,
            key=pick_key,
            on_change=lambda: guessed(ss.get(pick_key)),
        )
    if presenting:
        st.button(
            "Reveal the answer",
            key="fm_reveal",
            type="primary",
            icon=":material/visibility:",
            on_click=lambda: _reveal(guesses, which),
        )
    else:
        st.caption("The answer, the probabilities and the scores appear once you have guessed.")
