"""The widgets and views of "Why CNNs: a hierarchy": the fields of one unit of each stage drawn
on the input, and the tour of conv1, conv2 and conv3 — for each, the maps the rule chose, the
gallery images that excite them most and an input optimised to excite them (a job of the
server's heavy work, explorer.ui.heavy, computed once for everyone)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer import render
from explorer.errors import literal_markdown
from explorer.hierarchy import (
    HIERARCHY_CHOICES,
    RULES,
    ChosenMap,
    FieldRow,
    HierarchyState,
    chosen_maps,
)
from explorer.numbers import display_value as fmt
from explorer.ui import content, heavy
from explorer.ui.state import Bound

if TYPE_CHECKING:
    from explorer.attribution import GalleryResponses, MaximisedInput
    from explorer.samples import GalleryItem
    from explorer.ui.network import NetworkContext


HIER: Bound[HierarchyState] = Bound("hier_state", "hier_", HierarchyState, HIERARCHY_CHOICES)
PICTURE_PX = 160  # every picture of the page: two side by side on a phone, 5 px a pixel

#: Per stage: what its maps are usually said to respond to, what a student can read into the
#: pictures, and what they cannot.
STAGE_WORDS: dict[str, tuple[str, str, str]] = {
    "conv1": (
        "3×3 pixels: colours and edges",
        "Each conv1 map is one 3×3 filter over the three colour channels, so what excites it "
        "is tiny: a colour, or a step from one colour to another in some direction. The input "
        "made for it repeats that patch all over, and the strongest cells of the gallery sit on "
        "such a patch (outlined).",
        "A 3×3 patch knows nothing about the object it lies on: the same map fires on a "
        "horse's edge and on a truck's. And the made input is one of many that excite the map, "
        "shaped by the two brakes that keep it an image.",
    ),
    "conv2": (
        "8×8 pixels: textures and simple shapes",
        "A conv2 map adds up conv1's maps over a 3×3 window of pool1, so it responds to "
        "arrangements of colours and edges within 8×8 pixels: stripes, corners, blobs, "
        "textures. Look for what the strongest patches have in common.",
        "Three gallery images out of twenty are a small sample: a pattern they share may be a "
        "coincidence. The made input shows what raises the map's mean everywhere at once, not "
        "what one cell needs.",
    ),
    "conv3": (
        "18×18 pixels: parts and layouts",
        "A conv3 cell sees 18×18 pixels, about a third of the image, built from conv2's "
        "textures: its strongest images may share a part or a layout (a wheel, a head against "
        "the sky, a horizon).",
        "A map is not a detector of a named thing: the name is ours, made up by looking at a "
        "handful of pictures, and the map also responds to other things. The answer mixes all "
        "128 maps through fc1, so no single map is the reason for it.",
    ),
}


@st.cache_data(max_entries=24, show_spinner=False, hash_funcs=content.CONTENT)
def stage_responses(ctx: NetworkContext, stage: str) -> tuple[tuple[str, ...], GalleryResponses]:
    """``stage``'s response to every gallery image of the network's dataset, once per weights
    (one forward pass of twenty images: milliseconds)."""
    from explorer.attribution import gallery_responses
    from explorer.samples import gallery, load_gallery_image

    items = gallery(ctx.dataset)
    images = np.stack([load_gallery_image(item) for item in items])
    found = gallery_responses(ctx.model, images, ctx.preprocessing, ctx.device.device, stage)
    return tuple(item.key for item in items), found


def controls() -> HierarchyState:
    """How many maps of each stage, and the rule that chooses them."""
    left, right = st.columns([1, 3])
    HIER.choice(
        left.selectbox,
        "maps",
        "Maps per stage",
        help="The tour shows this many maps of conv1, conv2 and conv3.",
    )
    HIER.choice(
        right.radio,
        "rank",
        "Which maps",
        horizontal=True,
        help="Mean: the maps most active on average over the gallery's images. Peak: the maps "
        "whose largest value is highest on average — they fire hard somewhere.",
    )
    return HIER.get()


def show_fields(image: np.ndarray, rows: list[FieldRow], source: str) -> None:
    """The field of the centre unit of each stage on the input, then the numbers as a table."""
    st.image(
        [content.sized_png(content.field_png(image, row.box), PICTURE_PX) for row in rows],
        caption=[
            f"{row.stage}: {row.side}×{row.side}" + (", all of it" if row.share == 1 else "")
            for row in rows
        ],
        width=PICTURE_PX,
        output_format="PNG",
        alt=[
            f"The input with the {row.side}×{row.side} field of {row.stage}'s middle unit "
            "outlined, the rest dimmed"
            for row in rows
        ],
    )
    table = [
        "| stage | unit | field | the pixels it can see | share of the image |",
        "|---|---|---:|---|---:|",
    ]
    for row in rows:
        box = row.box
        cell = ", ".join(map(str, row.cell))
        where = f"rows {box.top}–{box.bottom}, columns {box.left}–{box.right}"
        table.append(
            f"| {row.stage} | {row.stage}[{cell}] | {row.side}×{row.side} | {where} | "
            f"{row.share:.1%} |"
        )
    st.markdown("\n".join(table))
    st.caption(
        f"The input: {literal_markdown(source)}. For each stage, its unit nearest the middle of "
        "the image (every unit of a stage sees a field of the same size). A 3×3 convolution "
        "widens the field by 2 steps of the stage before it, a 2×2 pooling by 1 step, and each "
        "pooling doubles the step: so the field grows faster and faster. fc1 adds up all of "
        "pool3 and sees every pixel."
    )


def show_stage(
    pending: heavy.Pending,
    ctx: NetworkContext,
    stage: str,
    state: HierarchyState,
) -> list[ChosenMap]:
    """One stop of the tour: the stage's maps chosen by the rule, each with the input made for
    it and the gallery images that excite it most. Returns the maps shown."""
    from explorer.ui.inside_sections import optimise_item

    title, can, cannot = STAGE_WORDS[stage]
    st.header(f"{stage} · {title}")
    keys, responses = stage_responses(ctx, stage)
    shown = chosen_maps(responses, state)
    maps = responses.mean.shape[1]
    st.markdown(can)
    for chosen in shown:
        st.markdown(
            f"**{stage} map {chosen.channel}**: score {fmt(chosen.score)}, rank {chosen.rank} "
            f"of {maps} ({RULES[state.rank].lower()})"
        )
        made, found = st.columns([1, 3], gap="medium")
        with made:
            pending.slot(
                ctx,
                optimise_item(chosen.channel, stage),
                functools.partial(show_made, stage=stage, channel=chosen.channel),
                name=f"hier_made_{stage}_{chosen.channel}",
                what=f"{stage} map {chosen.channel}",
                button=f"Optimise an input for {stage} map {chosen.channel}",
                auto=True,
            )
        with found:
            show_strongest(ctx, keys, responses, stage, chosen)
    st.caption(f"**What these pictures cannot tell you:** {cannot}")
    return shown


def show_made(best: MaximisedInput, stage: str, channel: int) -> None:
    """The input optimised for the map, and how much it excites it compared with its start."""
    st.image(
        render.png_bytes(render.enlarge(best.image, PICTURE_PX // best.image.shape[1])),
        width=PICTURE_PX,
        output_format="PNG",
        caption=(
            f"Made for {stage} map {channel}: mean {fmt(best.mean)} (from noise: "
            f"{fmt(best.start_mean)})"
        ),
        alt=f"A 32×32 image optimised to excite {stage} map {channel}",
    )


def show_strongest(
    ctx: NetworkContext,
    keys: tuple[str, ...],
    responses: GalleryResponses,
    stage: str,
    chosen: ChosenMap,
) -> None:
    """The gallery images that excite the map most, each with its strongest cell's field
    outlined and that cell's value."""
    from explorer.receptive_field import receptive_field
    from explorer.samples import gallery, load_gallery_image

    items: dict[str, GalleryItem] = {item.key: item for item in gallery(ctx.dataset)}
    pictures, captions, alts = [], [], []
    for i in chosen.top:
        item = items[keys[i]]
        r, c = (int(v) for v in responses.where[i, chosen.channel])
        box = receptive_field(stage, (chosen.channel, r, c))
        pictures.append(content.field_png(load_gallery_image(item), box))
        captions.append(
            f"{item.label_name}: {fmt(responses.peak[i, chosen.channel])} at ({r}, {c})"
        )
        alts.append(
            f"A {item.label_name} from the gallery, the {box.field}×{box.field} field of its "
            f"strongest {stage} map {chosen.channel} cell outlined"
        )
    st.image(
        [content.sized_png(p, PICTURE_PX) for p in pictures],
        caption=captions,
        width=PICTURE_PX,
        output_format="PNG",
        alt=alts,
    )


__all__ = [
    "HIER",
    "STAGE_WORDS",
    "controls",
    "show_fields",
    "show_made",
    "show_stage",
    "show_strongest",
    "stage_responses",
]
