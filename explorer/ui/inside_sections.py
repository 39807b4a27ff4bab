"""The Inside page's sections after the arithmetic: the receptive field's growth, the three
attribution maps, the gallery images that excite a conv3 map most, and the input optimised
for that map. The attribution maps and the optimised input are heavy work: they are computed
in a worker process, once for the whole server (explorer.ui.heavy), and drawn when they come."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer import render
from explorer.heavy import Explain, HeavyFailed, Optimise
from explorer.numbers import display_value as shown
from explorer.ui import content, heavy, widgets
from explorer.ui.inside_arithmetic import article, cell_name
from explorer.ui.network import NetworkContext

if TYPE_CHECKING:
    from explorer.attribution import Attributions, GalleryResponses, MaximisedInput
    from explorer.features import ModelInput
    from explorer.receptive_field import FieldBox

# The attribution maps of the classes the network rates highest after the one asked for are
# computed on the side in the same job (so changing the class costs nothing): at most this many.
LOOKS_ON_THE_SIDE = 9


def optimise_item(channel: int, stage: str = "conv3") -> Optimise:
    """The optimised input the page shows for map ``channel`` of ``stage``: the steps and seed
    are read now, so a test (or a teacher's server) can change them."""
    from explorer import attribution

    return Optimise(stage, int(channel), attribution.MAXIMISE_STEPS, attribution.MAXIMISE_SEED)


def maximised_input(
    ctx: NetworkContext,
    channel: int,
    progress: Callable[[int, int], None] | None = None,
    compute: bool = True,
) -> MaximisedInput | None:
    """The input optimised for conv3 map ``channel`` with these weights: from the server's
    shared results, else (when ``compute``) computed by a job and waited for, reporting
    ``progress(step, steps)``; else None. Raises HeavyFailed when the job failed."""
    key = (ctx.identity, optimise_item(channel))
    found = heavy.work().result(key)
    if found is not None or not compute:
        return found
    work = heavy.work()
    work.ask(ctx.identity, [key[1]], heavy.session_id(), heavy.OPTIMISE, network=heavy.network(ctx))

    def tick(states: dict) -> None:
        state = states[key]
        if progress is not None and state.steps:
            progress(state.step, state.steps)

    state = work.wait([key], on_tick=tick)[key]
    if state.status != "done":
        raise HeavyFailed(state.error or "The optimisation was stopped.")
    return state.result


class _Optimised:
    """The optimised inputs among the server's shared results: ``clear()`` forgets them (tests
    start from a cold cache with it)."""

    def clear(self) -> None:
        heavy.work().forget(lambda key: isinstance(key[1], Optimise))


_MAXIMISED = _Optimised()


def show_looks(
    pending: heavy.Pending,
    ctx: NetworkContext,
    inp: ModelInput,
    target: int,
    probabilities: np.ndarray,
) -> None:
    """Section 3: the three attribution maps of class ``target`` for this input, computed by a
    job (with the likeliest other classes on the side) and drawn when they come."""
    from explorer.attribution import IG_STEPS

    ranked = [int(k) for k in np.argsort(-np.asarray(probabilities), kind="stable")]
    others = [k for k in ranked if k != target][:LOOKS_ON_THE_SIDE]

    def draw(found: Attributions) -> None:
        show_attributions(found, content.attribution_pngs(found, inp.image), ctx.classes)

    pending.slot(
        ctx,
        Explain(inp.key, int(target), IG_STEPS),
        draw,
        name="in_looks",
        what="Asking where the network looks",
        button="Show where the network looks",
        auto=True,
        extra=[Explain(inp.key, k, IG_STEPS) for k in others],
        image=inp.image,
    )


def show_optimised(
    pending: heavy.Pending, ctx: NetworkContext, channel: int, scores: GalleryResponses
) -> None:
    """Section 4's last part: the input optimised for conv3 map ``channel``, once a student
    asks for it (or anyone did before: it is shared)."""
    pending.slot(
        ctx,
        optimise_item(channel),
        lambda best: show_maximised(best, scores, channel),
        name="in_maximise",
        what=f"Optimising an input for conv3 map {channel}",
        button=f"Optimise an input for conv3 map {channel}",
        auto=False,
    )


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
        clipped = (
            " (the rest of the field hangs over the edge: padding)"
            if (box.height < box.field or box.width < box.field)
            else ""
        )
        where = f"input rows {box.top}–{box.bottom} and columns {box.left}–{box.right}"
        size = f"{article(box.field)} {box.field}×{box.field} field"
        st.markdown(
            f"**{cell_name(stage, box.cell)} can be influenced by {where}**: {size}, "
            f"{box.height}×{box.width} of it on the image{clipped}. No other pixel can change "
            "it, whatever its value."
        )
    rows = ["| stage | kernel | stride | field | jump |", "|---|---:|---:|---|---:|"]
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
            st.image(
                picture,
                width="stretch",
                output_format="PNG",
                caption=f"{note.name} for {classes[found.target]}",
                alt=f"{note.name} for {classes[found.target]}, in colour over the input in grey",
            )
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
    return (
        f"The 32×32 input with rows {box.top}–{box.bottom} and columns {box.left}–"
        f"{box.right} outlined, the rest dimmed"
    )


def show_gallery_top(
    keys: tuple[str, ...], scores: GalleryResponses, channel: int, dataset: str
) -> None:
    """The five gallery images that excite conv3 map ``channel`` most, each with the field of
    its strongest cell outlined and that cell's value."""
    from explorer.receptive_field import receptive_field
    from explorer.samples import gallery, load_gallery_image

    items = {item.key: item for item in gallery(dataset)}
    st.markdown(
        f"**The gallery images that excite conv3 map {channel} most** (its largest "
        "value, and that cell's receptive field outlined)"
    )
    for col, i in zip(st.columns(5), scores.ranking(channel, 5), strict=False):
        item = items[keys[i]]
        image = load_gallery_image(item)
        r, c = (int(v) for v in scores.where[i, channel])
        box = receptive_field("conv3", (channel, r, c))
        col.image(
            content.field_png(image, box),
            width="stretch",
            output_format="PNG",
            caption=f"{item.label_name}: {shown(scores.peak[i, channel])} at ({r}, {c})",
            alt=f"A {item.label_name} from the gallery. {field_alt(box)}",
        )


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
    gallery's best (``scores``: the gallery's responses of the same stage)."""
    from explorer.receptive_field import field_steps

    stage = best.stage
    field = next(s.field for s in field_steps() if s.stage == stage)
    pic, words = st.columns([1, 3], gap="large")
    pic.image(
        render.png_bytes(render.enlarge(best.image, 8)),
        width="stretch",
        output_format="PNG",
        caption=f"An input made for {stage} map {channel}",
        alt=f"A 32×32 image optimised to excite {stage} map {channel}",
    )
    gallery_best = float(scores.mean[:, channel].max())
    words.markdown(
        f"Starting from random noise (seed {best.seed}), {best.steps} small steps, each "
        f"changing the pixels in the direction that raises the **mean of {stage} map {channel}** "
        f"most (the gradient). That mean rose from **{shown(best.start_mean)}** to "
        f"**{shown(best.mean)}**. For comparison, the gallery image with the highest mean on "
        f"this map reaches **{shown(gallery_best)}**. (The made input's largest single cell is "
        f"{shown(best.peak)}.)"
    )
    words.caption(
        "This is the pattern the filter responds to, repeated across the image because every "
        f"cell of the map looks for it in its own {field}×{field} field. Two brakes keep it an "
        "image: neighbouring pixels are pulled together, and the image is shifted by a pixel or "
        f"two at random at each step. Computed on {best.device.upper()} in {best.seconds:.1f} s, "
        "in a worker process of the server."
    )
