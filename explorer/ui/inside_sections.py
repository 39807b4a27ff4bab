"""The Inside page's sections after the arithmetic: the receptive field's growth, the three
attribution maps, the gallery images that excite a conv3 map most, and the input optimised
for that map (with its own small cache: it reports progress as it runs, which Streamlit's
caches cannot replay)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st

from explorer import render
from explorer.numbers import format_value as fmt
from explorer.ui import content, widgets
from explorer.ui.inside_arithmetic import article, cell_name
from explorer.ui.network import NetworkContext

if TYPE_CHECKING:
    from explorer.attribution import Attributions, GalleryResponses, MaximisedInput
    from explorer.receptive_field import FieldBox


# Activation maximisation reports its progress as it runs, which Streamlit's caches cannot
# replay, so its results live in this small cache of our own: content-keyed, shared by every
# session, the least recently used dropped first.
_MAXIMISED: OrderedDict[tuple, MaximisedInput] = OrderedDict()
_MAXIMISED_LOCK = threading.Lock()
MAXIMISED_ENTRIES = 64


def maximised_input(
    ctx: NetworkContext,
    channel: int,
    progress: Callable[[int, int], None] | None = None,
    compute: bool = True,
) -> MaximisedInput | None:
    """The input optimised for conv3 map ``channel`` with these weights: from the cache, else
    computed (reporting ``progress``) when ``compute``, else None."""
    from explorer.attribution import MAXIMISE_SEED, MAXIMISE_STEPS, maximise_channel

    key = (ctx.identity, channel, MAXIMISE_STEPS, MAXIMISE_SEED)
    with _MAXIMISED_LOCK:
        if key in _MAXIMISED:
            _MAXIMISED.move_to_end(key)
            return _MAXIMISED[key]
    if not compute:
        return None
    found = maximise_channel(
        ctx.model,
        ctx.preprocessing,
        channel,
        MAXIMISE_STEPS,
        MAXIMISE_SEED,
        device=ctx.device.device,
        progress=progress,
    )  # the steps and seed of the key, always
    with _MAXIMISED_LOCK:
        _MAXIMISED[key] = found
        while len(_MAXIMISED) > MAXIMISED_ENTRIES:
            _MAXIMISED.popitem(last=False)
    return found


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
            caption=f"{item.label_name}: {fmt(scores.peak[i, channel])} at ({r}, {c})",
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
    gallery's best."""
    pic, words = st.columns([1, 3], gap="large")
    pic.image(
        render.png_bytes(render.enlarge(best.image, 8)),
        width="stretch",
        output_format="PNG",
        caption=f"An input made for conv3 map {channel}",
        alt=f"A 32×32 image optimised to excite conv3 map {channel}",
    )
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
