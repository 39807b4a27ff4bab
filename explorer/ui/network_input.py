"""The network pages' input: a gallery test image, a drawing or an upload → the network's
32×32×3 input (``features.ModelInput``). Shared by every page that runs the network."""

from __future__ import annotations

import streamlit as st

from explorer.errors import UserError
from explorer.features import ModelInput
from explorer.model_input import digit_to_model_image, photo_to_model_image
from explorer.playground import PLAYGROUND_MAX_SIDE
from explorer.samples import gallery, load_gallery_image
from explorer.ui import network as net
from explorer.ui import widgets
from explorer.ui.canvas import drawing_canvas
from explorer.uploads import UPLOAD_EXTENSIONS, canvas_is_blank, canvas_to_rgb, decode_image


def network_input(ctx: net.NetworkContext) -> ModelInput | None:
    """Gallery, drawing or upload → the network's 32×32 input; None (after saying why) when
    there is nothing to show yet."""
    source = st.radio(
        "Input", ["Gallery", "Draw", "Upload"], key="fm_input", horizontal=True,
        help="Gallery: exact test images the network never saw in training, with their true "
        "label.",
    )  # fmt: skip
    try:
        if source == "Gallery":
            return gallery_input(ctx)
        if source == "Draw":
            return drawn_input(ctx)
        upload = st.file_uploader(
            "An image (PNG, JPEG, WebP, BMP, GIF, TIFF)",
            type=UPLOAD_EXTENSIONS,
            key="fm_upload",
        )
        if upload is None:
            st.info("Choose an image file: it is cropped to a square and shrunk to 32×32.")
            return None
        rgb = decode_image(upload.getvalue(), max_side=PLAYGROUND_MAX_SIDE)
        return ModelInput(photo_to_model_image(rgb), f"your image {upload.name}")
    except UserError as exc:
        widgets.error(str(exc))
        return None


def gallery_input(ctx: net.NetworkContext) -> ModelInput:
    items = {item.key: item for item in gallery(ctx.dataset)}
    if st.session_state["fm_gallery"] not in items:
        st.session_state["fm_gallery"] = next(iter(items))
    key = st.selectbox(
        "Test image",
        list(items),
        format_func=lambda k: f"{items[k].label_name} — {items[k].source}",
        key="fm_gallery",
    )
    net.gallery_picker(ctx.dataset, list(items))
    item = items[key]
    image = load_gallery_image(item)
    st.image(
        net.enlarged_png(net.image_key(image), image),
        caption=f"True label: {item.label_name}",
        output_format="PNG",
        alt=f"The network's input: a {item.label_name}, 32×32, enlarged",
    )
    return ModelInput(image, item.source, item.label_name)


def gallery_choice(ctx: net.NetworkContext) -> ModelInput:
    """The chosen gallery image without its widgets (presenter mode, input section hidden)."""
    items = {item.key: item for item in gallery(ctx.dataset)}
    item = items.get(str(st.session_state.get("fm_gallery"))) or next(iter(items.values()))
    return ModelInput(load_gallery_image(item), item.source, item.label_name)


def drawn_input(ctx: net.NetworkContext) -> ModelInput | None:
    digit = ctx.preprocessing.kind == "digit"
    st.caption(
        "Draw a digit, large, in the middle. It is centred and scaled the way MNIST digits are."
        if digit
        else "Draw anything: the drawing is shrunk to 32×32 like a photo."
    )
    rgba = drawing_canvas(stroke_width=18, key="fm_canvas")
    if rgba is None or canvas_is_blank(rgba):
        st.info("Draw on the black square with the mouse (or a finger).")
        return None
    rgb = canvas_to_rgb(rgba, background=(0, 0, 0))
    if digit:
        return ModelInput(digit_to_model_image(rgb), "your drawing, prepared like MNIST")
    return ModelInput(photo_to_model_image(rgb), "your drawing")
