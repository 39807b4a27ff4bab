"""The widgets of "Teach it your classes": the student's classes with their pictures (kept in the
session), the Train button and its live status, the held-out result, and a new picture to try.

The pictures live in the session only, as the network pages keep a drawing or an upload: a
class is an :class:`OwnClass` (an id that names its widgets, the name as typed, its pictures as
``explorer.own_images.OwnImage``). Training is a job of the server's one queue (the Train
page's, ``explorer.ui.train.job_queue``): features and fc2 are computed in a worker process,
never in a script thread. The features it computes come back and are kept in the session by
content, so training again after adding a picture computes that picture only. The finished
network becomes "Your classes (trained here)" on the network pages
(``explorer.ui.network.OWN_CLASSES_WEIGHTS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from explorer import render
from explorer.errors import UserError, literal_markdown
from explorer.own_images import (
    BASES,
    MAX_CLASSES,
    MAX_IMAGES,
    MIN_IMAGES,
    STEPS,
    OwnImage,
    class_problems,
    clean_name,
    held_out_text,
    predict,
)
from explorer.own_state import OWN_CHOICES, OwnState
from explorer.ui import content, network, widgets
from explorer.ui.canvas import drawing_canvas
from explorer.ui.state import Bound
from explorer.uploads import UPLOAD_EXTENSIONS, canvas_is_blank, canvas_to_rgb, decode_image

if TYPE_CHECKING:
    from explorer.jobs import Job

ss = st.session_state
OWN: Bound[OwnState] = Bound("own_state", "own_", OwnState, OWN_CHOICES)
CLASSES_KEY = "own_classes"  # list[OwnClass]
FEATURES_KEY = "own_features"  # image_key → 2048 float32: the features computed so far
JOB_KEY = "own_job"  # the id of the session's training job
SUBMITTED_KEY = "own_submitted"  # what that job was given: {"job", "base", "images", "labels"}
RESULT_KEY = "own_result"  # the last finished training: {"result", "images", "fingerprint"}
TRY_KEY = "own_try"  # the new picture to try the network on (an OwnImage)
NOTES_KEY = "own_notes"  # sentences about pictures that could not be added
POLL_S = 0.5  # the status's redraw period while training: the whole job takes seconds
# Pictures are decoded no larger than this (their longer side), then shrunk to 32×32: a phone's
# 12-megapixel photo costs a few MB for a moment, never 50.
DECODE_SIDE = 512
THUMB_PX = 64  # a 32×32 picture shown at twice its size, every pixel a crisp square
ADDERS = {"upload": "Upload", "draw": "Draw", "camera": "Camera"}


@dataclass(frozen=True)
class OwnClass:
    """One of the student's classes: ``id`` names its widgets (stable when another class is
    deleted), ``name`` as typed (checked by ``class_problems``), its pictures in order."""

    id: int
    name: str
    images: tuple[OwnImage, ...] = ()


# ============================================================================================
# The session's classes


def classes() -> list[OwnClass]:
    """The session's classes; two empty ones to start with, as Teachable Machine does."""
    if CLASSES_KEY not in ss:
        ss[CLASSES_KEY] = [OwnClass(1, "Class 1"), OwnClass(2, "Class 2")]
    return ss[CLASSES_KEY]


def _put(new: list[OwnClass]) -> None:
    ss[CLASSES_KEY] = new


def _change(cid: int, change: Callable[[OwnClass], OwnClass]) -> None:
    _put([change(c) if c.id == cid else c for c in classes()])


def add_class() -> None:
    made = classes()
    if len(made) >= MAX_CLASSES:
        return
    new_id = max((c.id for c in made), default=0) + 1
    _put([*made, OwnClass(new_id, f"Class {len(made) + 1}")])
    ss["own_active"] = new_id


def delete_class(cid: int) -> None:
    _put([c for c in classes() if c.id != cid])


def rename(cid: int) -> None:
    typed = ss.get(f"own_name_{cid}")
    if isinstance(typed, str):
        _change(cid, lambda c: replace(c, name=typed))


def remove_image(cid: int, image_id: str) -> None:
    _change(cid, lambda c: replace(c, images=tuple(i for i in c.images if i.id != image_id)))


def add_images(cid: int, new: list[OwnImage]) -> list[str]:
    """Add ``new`` to class ``cid``; a sentence for each picture that is not added (a picture
    already in a class: the held-out test would be a training picture; a class full)."""
    notes: list[str] = []
    where = {image.id: c for c in classes() for image in c.images}
    target = next((c for c in classes() if c.id == cid), None)
    if target is None:
        return ["That class has been deleted."]
    added: list[OwnImage] = []
    for image in new:
        label = f"{image.name}: " if image.name else ""
        if image.id in where or image.id in {i.id for i in added}:
            other = where.get(image.id, target)
            notes.append(
                f"{label}this very picture is already in “{other.name}”, so it was not added "
                "again (a copy could be both trained on and held out)."
            )
        elif len(target.images) + len(added) >= MAX_IMAGES:
            notes.append(
                f"{label}“{target.name}” already has {MAX_IMAGES} pictures, the most a class "
                "may have."
            )
        else:
            added.append(image)
    _change(cid, lambda c: replace(c, images=(*c.images, *added)))
    return notes


def _note(notes: list[str]) -> None:
    ss[NOTES_KEY] = [*ss.get(NOTES_KEY, []), *notes]


def _next_widget(name: str) -> str:
    """A fresh key for an adding widget, so that it is empty again after its picture is added."""
    ss[f"own_{name}_n"] = ss.get(f"own_{name}_n", 0) + 1
    return widget_key(name)


def widget_key(name: str) -> str:
    return f"own_{name}_{ss.get(f'own_{name}_n', 0)}"


def decoded(files: list[Any], source: str) -> tuple[list[OwnImage], list[str]]:
    """Uploaded files (or a camera picture) → pictures, and a sentence for each file that is
    not a picture (decoded under the upload limits of ``explorer.uploads``)."""
    images, notes = [], []
    for file in files:
        try:
            rgb = decode_image(file.getvalue(), max_side=DECODE_SIDE)
            name = file.name if source == "upload" else ""
            images.append(OwnImage.from_photo(rgb, source, name))
        except UserError as exc:
            notes.append(f"{file.name}: {exc}" if source == "upload" else str(exc))
    return images, notes


def _uploaded(cid: int, key: str) -> None:
    files = ss.get(key) or []
    images, notes = decoded(list(files), "upload")
    _note(notes + add_images(cid, images))
    _next_widget("upload")


def _snapped(cid: int, key: str) -> None:
    picture = ss.get(key)
    if picture is None:
        return
    images, notes = decoded([picture], "camera")
    _note(notes + add_images(cid, images))
    _next_widget("camera")


# ============================================================================================
# The classes on the screen


@st.cache_data(max_entries=2048, show_spinner=False)
def thumbnail(image: np.ndarray) -> bytes:
    """A 32×32 picture at twice its size as PNG bytes, once per content."""
    return render.png_bytes(render.enlarge(image, THUMB_PX // 32))


def class_cards(base: str, disabled: bool) -> None:
    """Every class: its name, its pictures (each with a remove button) and, for the class
    being filled, the ways to add pictures."""
    made = classes()
    if ss.get("own_active") not in {c.id for c in made}:
        ss["own_active"] = made[0].id if made else None
    for position, own in enumerate(made, start=1):
        with st.container(border=True):
            _class_card(own, position, base, disabled, len(made))
    st.button(
        "Add a class",
        key="own_add_class",
        icon=":material/add:",
        on_click=add_class,
        disabled=disabled or len(made) >= MAX_CLASSES,
        help=f"From 2 to {MAX_CLASSES} classes.",
    )
    for note in ss.pop(NOTES_KEY, []):
        widgets.warning(note)


def _class_card(own: OwnClass, position: int, base: str, disabled: bool, count: int) -> None:
    key = f"own_name_{own.id}"
    ss[key] = own.name
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.text_input(
        f"Class {position}",
        key=key,
        on_change=rename,
        args=(own.id,),
        disabled=disabled,
        max_chars=40,  # longer than a name may be, so the sentence can say so
        help="A word or two: letters, digits, spaces and simple punctuation.",
    )
    n = len(own.images)
    right.caption(
        f"{n} picture{'' if n == 1 else 's'}"
        + (f" — at least {MIN_IMAGES} needed" if n < MIN_IMAGES else "")
    )
    try:
        clean_name(own.name, position)
    except UserError as exc:
        widgets.warning(str(exc))
    if own.images:
        with st.container(horizontal=True, gap="small"):
            for image in own.images:
                with st.container(width=THUMB_PX + 8, gap=None, horizontal_alignment="center"):
                    st.image(
                        thumbnail(image.for_base(base)),
                        width=THUMB_PX,
                        output_format="PNG",
                        alt=f"A picture of class {position}, 32×32",
                    )
                    st.button(
                        "✕",
                        key=f"own_rm_{own.id}_{image.id[:16]}",
                        type="tertiary",
                        help="Remove this picture",
                        on_click=remove_image,
                        args=(own.id, image.id),
                        disabled=disabled,
                    )
    buttons = st.container(horizontal=True)
    active = ss.get("own_active") == own.id
    if not active:
        buttons.button(
            "Add pictures",
            key=f"own_open_{own.id}",
            icon=":material/add_photo_alternate:",
            on_click=lambda: ss.__setitem__("own_active", own.id),
            disabled=disabled,
        )
    buttons.button(
        "Delete this class",
        key=f"own_delete_{own.id}",
        icon=":material/delete:",
        type="tertiary",
        on_click=delete_class,
        args=(own.id,),
        disabled=disabled or count <= 1,
    )
    if active and not disabled:
        adder(own, base)


def adder(own: OwnClass, base: str) -> None:
    """Upload, draw or take pictures for ``own`` (one widget at a time: a camera is switched
    on only when asked for)."""
    source = st.radio(
        "Add pictures to this class by",
        list(ADDERS),
        format_func=ADDERS.__getitem__,
        horizontal=True,
        key="own_source",
    )
    if source == "upload":
        key = widget_key("upload")
        st.file_uploader(
            "Pictures (PNG, JPEG, WebP, BMP, GIF, TIFF), several at once",
            type=UPLOAD_EXTENSIONS,
            accept_multiple_files=True,
            key=key,
            on_change=_uploaded,
            args=(own.id, key),
        )
    elif source == "camera":
        key = widget_key("camera")
        st.camera_input(
            "Take a picture (each one is added at once)",
            key=key,
            on_change=_snapped,
            args=(own.id, key),
            help="The camera works in the browser, offline too; only the picture is sent.",
        )
    else:
        _draw(own, base)


def _draw(own: OwnClass, base: str) -> None:
    st.caption(
        "Draw in white on the black square, large and in the middle. "
        + (
            "It is centred and scaled the way MNIST digits are."
            if base == "mnist"
            else "It is shrunk to 32×32 like a photo."
        )
    )
    try:
        rgba = drawing_canvas(stroke_width=18, key=widget_key("canvas"))
    except UserError as exc:
        widgets.error(str(exc))
        return
    blank = rgba is None or canvas_is_blank(rgba)
    if st.button("Add this drawing", key="own_add_drawing", disabled=blank) and rgba is not None:
        try:
            image = OwnImage.from_drawing(canvas_to_rgb(rgba, background=(0, 0, 0)))
        except UserError as exc:
            _note([str(exc)])
        else:
            _note(add_images(own.id, [image]))
        _next_widget("canvas")
        st.rerun()


# ============================================================================================
# Training


def readiness() -> list[str]:
    """What is missing before the classes can be trained (empty: ready)."""
    made = classes()
    return class_problems([c.name for c in made], [len(c.images) for c in made])


def fingerprint(made: list[OwnClass], state: OwnState) -> tuple:
    """What a training used: the base, the split's seed, the names and every picture, in
    order."""
    return (state.base, state.seed, tuple((c.name, tuple(i.id for i in c.images)) for c in made))


def current_job() -> Job | None:
    from explorer.ui.train import job_queue

    job_id = ss.get(JOB_KEY)
    return job_queue().get(job_id) if job_id else None


def start() -> None:
    """Queue the training of the classes as they are now, with the features known so far."""
    from explorer.ui.train import job_queue, session_id

    made = classes()
    if readiness():
        return
    state = OWN.get()
    base = state.base
    images = [image for c in made for image in c.images]
    labels = [n for n, c in enumerate(made) for _ in c.images]
    known: dict[str, np.ndarray] = ss.get(FEATURES_KEY, {})
    keys = [image.key(base) for image in images]
    try:
        job = job_queue().submit(
            "explorer.own_images:own_job",
            session_id(),
            base=base,
            classes=[c.name for c in made],
            images=np.stack([image.for_base(base) for image in images]),
            labels=labels,
            cached={k: known[k] for k in keys if k in known},
            seed=state.seed,
        )
    except UserError as exc:
        ss["own_start_error"] = str(exc)
        return
    ss.pop("own_start_error", None)
    ss[JOB_KEY] = job.id
    ss[SUBMITTED_KEY] = {
        "job": job.id,
        "images": images,
        "fingerprint": fingerprint(made, state),
    }


def train_controls(job: Job | None) -> None:
    """The seed of the split, what is still missing, and the Train button."""
    problems = readiness()
    active = job is not None and job.active
    left, right = st.columns([1, 2], vertical_alignment="bottom")
    OWN.number(
        "seed",
        "Held-out split (seed)",
        0,
        9_999,
        where=left,
        disabled=active,
        help="Which pictures are held out. Another seed holds out others: see how much the "
        "held-out number moves.",
    )
    right.button(
        "Train",
        key="own_train",
        type="primary",
        icon=":material/model_training:",
        disabled=active or bool(problems),
        on_click=start,
    )
    if problems:
        st.info(
            "Before training: " + " ".join(literal_markdown(p) for p in problems),
            icon=":material/checklist:",
        )
    if "own_start_error" in ss:
        widgets.error(ss.pop("own_start_error"))


def status_panel() -> None:
    """The job as it is now: its place in the queue, the features, fc2's steps. Redrawn every
    POLL_S while it runs; once it ends the whole page is drawn again."""
    job = current_job()
    if job is None:
        return
    if not job.active and ss.get("own_polling") == job.id:
        ss.pop("own_polling")
        st.rerun()
    if job.active:
        ss["own_polling"] = job.id
    if job.status == "queued":
        st.info(
            f"Waiting: {job.position()} in the queue. The server trains one network at a time "
            "so that everyone else's pages stay fast.",
            icon=":material/hourglass:",
        )
    elif job.status == "failed":
        widgets.error(f"Training failed: {job.error}")
    elif job.status in ("running", "paused"):
        st.progress(*progress(list(job.events)))
    elif job.status == "stopped":
        st.info("Training was stopped.")


def progress(events: list[dict]) -> tuple[float, str]:
    """(fraction done, a line) from the job's events: the features first, then fc2's steps."""
    features = [e for e in events if e.get("kind") == "features"]
    steps = [e for e in events if e.get("kind") == "train"]
    if steps:
        last = steps[-1]
        return (
            0.5 + 0.5 * last["step"] / last["steps"],
            f"Training fc2: step {last['step']} of {last['steps']}, loss "
            f"{last['loss']:.3f} on the training pictures.",
        )
    if features:
        last = features[-1]
        total = last["total"]
        if total == 0:
            return 0.5, "Every picture's features were computed before: training fc2…"
        return (
            0.5 * last["done"] / total,
            f"Running the pictures through the frozen layers: {last['done']} of {total}.",
        )
    return 0.0, "Starting a worker and loading the network…"


def take_result() -> dict | None:
    """The last finished training of this session: a job that has just finished is taken in
    (its features go to the session's cache, its network to the network pages)."""
    job = current_job()
    submitted = ss.get(SUBMITTED_KEY)
    if job is not None and job.status == "done" and submitted and submitted["job"] == job.id:
        result = dict(job.result)
        computed = result.pop("features")
        known = {**ss.get(FEATURES_KEY, {}), **computed}
        keep = {image.key(b) for c in classes() for image in c.images for b in BASES}
        ss[FEATURES_KEY] = {k: v for k, v in known.items() if k in keep}
        ss[RESULT_KEY] = {
            "result": result,
            "images": submitted["images"],
            "fingerprint": submitted["fingerprint"],
        }
        ss.pop(SUBMITTED_KEY)
        publish(result)
    return ss.get(RESULT_KEY)


def weights_file(result: dict) -> network.WeightsFile:
    return network.WeightsFile.of("Your classes (trained here)", result["state_dict"])


def publish(result: dict) -> None:
    """Offer the network on the network pages as "Your classes (trained here)"."""
    ss[network.OWN_CLASSES_WEIGHTS] = network.NamedWeights(
        weights_file(result), tuple(result["classes"]), result["base"]
    )


# ============================================================================================
# Afterwards


def held_out_view(taken: dict) -> None:
    """The held-out accuracy with what it can and cannot say, and the held-out pictures with
    the network's answer (the wrong ones marked)."""
    result = taken["result"]
    if taken["fingerprint"] != fingerprint(classes(), OWN.get()):
        st.info(
            "You have changed the classes, the pictures, the base network or the held-out "
            "split (seed) since this training: press Train again to include the changes.",
            icon=":material/update:",
        )
    st.markdown(held_out_text(result))
    names = result["classes"]
    held = result["held_out"]
    with st.container(horizontal=True, gap="small"):
        for i, label, said, p in zip(
            held["indices"], held["labels"], held["predicted"], held["probability"], strict=True
        ):
            image = taken["images"][i].for_base(result["base"])
            right = said == label
            with st.container(width=THUMB_PX * 2, gap=None):
                st.image(
                    thumbnail(image),
                    width=THUMB_PX,
                    output_format="PNG",
                    alt=f"A held-out picture of {names[label]}",
                )
                st.caption(
                    f"{'✓' if right else '✗'} {literal_markdown(names[said])} {p:.0%}"
                    + ("" if right else f" (is {literal_markdown(names[label])})")
                )
    seconds = result["seconds"]
    computed = result["computed"]
    kept = len(taken["images"]) - computed  # their features came from the session's cache
    st.caption(
        f"Only fc2 learned: {len(names)}×512 weights and {len(names)} biases, {STEPS} steps, "
        f"in {seconds['train']:.2f} s after {computed} picture{'' if computed == 1 else 's'} "
        f"went through the frozen layers ({seconds['features']:.2f} s"
        + (f"; the features of the other {kept} were kept from before)." if kept else ").")
    )


def use_elsewhere(result: dict) -> None:
    """Look inside it on the network pages; download its state_dict."""
    left, right = st.columns(2)
    if left.button(
        "Look inside it on the network pages",
        key="own_use",
        type="primary",
        icon=":material/layers:",
    ):
        publish(result)
        net = network.NET
        net.put(net.get().choose("weights", "own").choose("upload_dataset", result["base"]))
        st.switch_page("pages/feature_maps.py")
    k = len(result["classes"])
    right.download_button(
        "The weights (state_dict, .pt)",
        result["state_dict"],
        file_name=f"simplecnn-{result['base']}-{k}-classes.pt",
        mime="application/octet-stream",
        key="own_download",
        icon=":material/download:",
        on_click="ignore",
    )
    order = ", ".join(f"{n} = {literal_markdown(name)}" for n, name in enumerate(result["classes"]))
    uploaded_names = (
        "the base network's class names" if k == 10 else f"“class 0” to “class {k - 1}”"
    )
    st.caption(
        "On the network pages it is “Your classes (trained here)”, with your class names. "
        f"The file loads with torch.load(path, weights_only=True) into SimpleCNN(num_classes={k}) "
        "and the pages' upload accepts it — but a file holds numbers, not names: uploaded, its "
        f"classes are called {uploaded_names} (choose “Trained on: "
        f"{'MNIST digits' if result['base'] == 'mnist' else 'CIFAR-10 photos'}”). "
        f"Their order: {order}."
    )


def try_panel(result: dict) -> None:
    """A new picture (upload, drawing or camera) and the class probabilities the network
    gives it."""
    base = result["base"]
    source = st.radio(
        "A new picture from",
        list(ADDERS),
        format_func=ADDERS.__getitem__,
        horizontal=True,
        key="own_try_source",
    )
    found = None
    try:
        found = _new_picture(source, base)
    except UserError as exc:
        widgets.error(str(exc))
    if found is not None:
        ss[TRY_KEY] = found
    image: OwnImage | None = ss.get(TRY_KEY)
    if image is None:
        st.info("Give the network a picture it has not seen: upload, draw or take one.")
        return
    answer(result, image)


def _new_picture(source: str, base: str) -> OwnImage | None:
    if source == "upload":
        file = st.file_uploader(
            "A picture (PNG, JPEG, WebP, BMP, GIF, TIFF)", type=UPLOAD_EXTENSIONS, key="own_try_up"
        )
        return decoded([file], "upload")[0][0] if file is not None else None
    if source == "camera":
        picture = st.camera_input("Take a picture", key="own_try_camera")
        if picture is None:
            return None
        images, notes = decoded([picture], "camera")
        if notes:
            raise UserError(notes[0])
        return images[0]
    rgba = drawing_canvas(stroke_width=18, key="own_try_canvas")
    if rgba is None or canvas_is_blank(rgba):
        return None
    return OwnImage.from_drawing(canvas_to_rgb(rgba, background=(0, 0, 0)))


def answer(result: dict, image: OwnImage) -> None:
    """What the network says about ``image``: every class's probability."""
    base = result["base"]
    model = network.uploaded_model(weights_file(result), "cpu")  # cached by the file's SHA-256
    probabilities = predict(model, image.for_base(base), BASES[base][1])
    names = result["classes"]
    best = int(probabilities.argmax())
    left, right = st.columns([1, 3], gap="large")
    left.image(
        content.enlarged_png(image.for_base(base)),
        caption="What the network reads: 32×32",
        output_format="PNG",
        alt="The new picture as the network reads it, 32×32, enlarged",
    )
    right.markdown(
        f"#### The network says **{literal_markdown(names[best])}** ({probabilities[best]:.1%})"
    )
    rows = tuple(sorted(zip(names, map(float, probabilities), strict=True), key=lambda r: -r[1]))
    right.markdown(content.bars_html(rows, names[best], ".1%"), unsafe_allow_html=True)
    right.caption(
        "The probabilities (softmax of fc2's scores) always add up to 100 %: the network "
        "must pick one of your classes, even for a picture of none of them."
    )


def keep_address(extra: dict[str, str]) -> None:
    network.keep_address({**OWN.get().to_query(), **extra})
