"""The network pages' input: a gallery test image, a drawing, an upload or a camera photo →
the network's 32×32×3 input (``features.ModelInput``). Shared by every page that runs the
network; the choice is the session's (``NetworkState.input``), and a drawing, an uploaded image
or a photo stays in the session too, so the next page runs the network on the same input."""

from __future__ import annotations

import streamlit as st

from explorer.errors import UserError
from explorer.features import ModelInput
from explorer.model_input import digit_to_model_image, photo_to_model_image
from explorer.network_state import NetworkState
from explorer.playground import PLAYGROUND_MAX_SIDE
from explorer.samples import gallery, load_gallery_image
from explorer.ui import content, widgets
from explorer.ui.canvas import drawing_canvas
from explorer.ui.network import NET, NetworkContext
from explorer.ui.thumbnails import gallery_picker
from explorer.uploads import UPLOAD_EXTENSIONS, canvas_is_blank, canvas_to_rgb, decode_image

ss = st.session_state
# source → the session's last input of that kind
KEPT = {"draw": "net_drawn", "upload": "net_uploaded", "camera": "net_photo"}


def network_input(ctx: NetworkContext) -> ModelInput | None:
    """Gallery, drawing, upload or camera → the network's 32×32 input; None (after saying why) when
    there is nothing to show yet."""
    NET.choice(
        st.radio,
        "input",
        "Input",
        horizontal=True,
        help=(
            "Gallery: exact test images the network never saw in training, with their true "
            "label. Camera: a photo from this device's camera (it stays in your browser and "
            "this server; nothing goes elsewhere)."
        ),
    )
    state = NET.get()
    try:
        if state.input == "gallery":
            return gallery_input(state)
        if state.input == "draw":
            return drawn_input(ctx)
        if state.input == "camera":
            return camera_input()
        return uploaded_input()
    except UserError as exc:
        widgets.error(str(exc))
        return None


def _kept(source: str, found: ModelInput | None, cleared: bool, what: str) -> ModelInput | None:
    """The input just made (kept for the session's other pages), or the one kept from before
    when this page's widget has none yet (with a note), or None after a clear."""
    if found is not None:
        ss[KEPT[source]] = found
        return found
    if cleared:
        ss.pop(KEPT[source], None)
        return None
    kept = ss.get(KEPT[source])
    if kept is not None:
        st.caption(f"Using {what} from before ({kept.description}); replace it here.")
    return kept


def uploaded_input() -> ModelInput | None:
    upload = st.file_uploader(
        "An image (PNG, JPEG, WebP, BMP, GIF, TIFF)", type=UPLOAD_EXTENSIONS, key="net_upload"
    )
    found = None
    if upload is not None:
        rgb = decode_image(upload.getvalue(), max_side=PLAYGROUND_MAX_SIDE)
        found = ModelInput(photo_to_model_image(rgb), f"your image {upload.name}")
    inp = _kept("upload", found, False, "your image")
    if inp is None:
        st.info(
            "Choose an image file: it is cropped to a square and shrunk to 32×32. (A link "
            "cannot carry an uploaded image.)"
        )
    return inp


def camera_input() -> ModelInput | None:
    """A photo from the browser's camera (``st.camera_input``: the browser takes it, this server
    receives it; no other request), decoded under the same limits as an upload."""
    photo = st.camera_input("Take a photo", key="net_camera")
    found = None
    if photo is not None:
        rgb = decode_image(photo.getvalue(), max_side=PLAYGROUND_MAX_SIDE)
        found = ModelInput(photo_to_model_image(rgb), "your camera photo")
    inp = _kept("camera", found, False, "your camera photo")
    if inp is None:
        st.info(
            "Allow the camera, then press Take Photo: the photo is cropped to a square and "
            "shrunk to 32×32. (A link cannot carry a photo.)"
        )
    return inp


def gallery_input(state: NetworkState) -> ModelInput:
    items = {item.key: item for item in gallery(state.dataset)}
    item = state.gallery_item()
    NET.put(state.choose("image", item.key))  # the list below shows what is used

    def chose() -> None:
        if ss.get("net_image") in items:
            NET.put(NET.get().choose("image", ss["net_image"]))

    ss["net_image"] = item.key
    st.selectbox(
        "Test image",
        list(items),
        format_func=lambda k: f"{items[k].label_name} — {items[k].source}",
        key="net_image",
        on_change=chose,
    )
    gallery_picker(NET.get())
    image = load_gallery_image(item)
    st.image(
        content.enlarged_png(image),
        caption=f"True label: {item.label_name}",
        output_format="PNG",
        alt=f"The network's input: a {item.label_name}, 32×32, enlarged",
    )
    return ModelInput(image, item.source, item.label_name)


def current_input(ctx: NetworkContext, state: NetworkState) -> ModelInput | None:
    """The session's input without its widgets (presenter mode, input section hidden)."""
    if state.input == "gallery":
        item = state.gallery_item()
        return ModelInput(load_gallery_image(item), item.source, item.label_name)
    kept = ss.get(KEPT[state.input])
    if kept is None or state.input in ("upload", "camera"):
        return kept
    return prepared_drawing(kept, ctx.preprocessing.kind == "digit")


def drawn_input(ctx: NetworkContext) -> ModelInput | None:
    digit = ctx.preprocessing.kind == "digit"
    st.caption(
        "Draw a digit, large, in the middle. It is centred and scaled the way MNIST digits are."
        if digit
        else "Draw anything: the drawing is shrunk to 32×32 like a photo."
    )
    rgba = drawing_canvas(stroke_width=18, key="net_canvas")
    found = None
    if rgba is not None and not canvas_is_blank(rgba):
        # The drawing itself is kept: each network prepares it its own way.
        found = ModelInput(canvas_to_rgb(rgba, background=(0, 0, 0)), "your drawing")
    drawing = _kept("draw", found, rgba is not None and found is None, "your drawing")
    if drawing is None:
        st.info(
            "Draw on the black square with the mouse (or a finger). (A link cannot carry a "
            "drawing.)"
        )
        return None
    return prepared_drawing(drawing, digit)


def prepared_drawing(drawing: ModelInput, digit: bool) -> ModelInput:
    """The canvas's pixels as this network's input: centred and scaled like MNIST for digit
    weights, shrunk like a photo otherwise."""
    if digit:
        return ModelInput(digit_to_model_image(drawing.image), "your drawing, prepared like MNIST")
    return ModelInput(photo_to_model_image(drawing.image), "your drawing")
