"""The replay of a shipped network's own training: an epoch scrubber over the recorded run
(explorer.replay), with the curves up to that epoch, conv1's filters and the gallery's answers
at that epoch. Everything is in the record, so a whole class scrubs at once without a single
training job; each epoch's pictures are made once per record (keyed by the file's SHA-256) and
shared by every session.

    show_replay("mnist")    # on the Train page; its address keeps ``replay_query()``
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import streamlit as st

from explorer import render
from explorer.assets import read_card
from explorer.numbers import format_value
from explorer.replay import REPLAY_PARAM, Replay, ReplayState, gallery_items, parse_replay
from explorer.replay import replay_bytes as read_replay_file
from explorer.train_view import Curve, loss_accuracy_figure
from explorer.ui import widgets
from explorer.ui.state import Bound

ss = st.session_state
REPLAY: Bound[ReplayState] = Bound("replay_state", "replay_", ReplayState, {})
SLIDER_KEY = "replay_epoch"
SEEN_KEY = "replay_link_seen"  # the link's epoch last applied (only this page's own parameter)
GALLERY_PX = 96  # a gallery image on the screen (×3, as drawn: never rescaled per run)
WRONG_RED = (220, 30, 30)


# ============================================================================================
# The record and its pictures, once per file content


@st.cache_resource(max_entries=4, show_spinner=False)
def _replay(dataset: str, digest: str, _data: bytes) -> Replay:
    """The parsed record, shared by every session (its arrays are read-only)."""
    return parse_replay(dataset, _data)


def replay_of(dataset: str) -> Replay:
    """The shipped record of ``dataset``'s network, parsed once per file content."""
    data = read_replay_file(dataset)
    return _replay(dataset, hashlib.sha256(data).hexdigest(), data)


@st.cache_data(max_entries=128, show_spinner=False)
def filters_png(digest: str, epoch: int, _replay: Replay) -> bytes:
    """conv1's filters at ``epoch`` as the Train page draws a snapshot's."""
    from explorer.stage_pictures import filters_picture

    return render.png_bytes(filters_picture(_replay.conv1[epoch], px=36))


@st.cache_data(max_entries=8, show_spinner=False)
def gallery_pictures(digest: str, _replay: Replay) -> list[np.ndarray]:
    """The recorded gallery images as the network saw them, enlarged ×3."""
    from explorer.samples import load_gallery_image

    return [render.enlarge(load_gallery_image(i), 3) for i in gallery_items(_replay)]


@st.cache_data(max_entries=128, show_spinner=False)
def gallery_pngs(digest: str, epoch: int, _replay: Replay) -> list[bytes]:
    """The gallery at ``epoch``: each image as a PNG, framed in red where the answer is wrong."""
    view = _replay.at(epoch)
    pngs = []
    for picture, right in zip(gallery_pictures(digest, _replay), view.correct, strict=True):
        if not right:
            picture = picture.copy()
            for edge in (np.s_[:3], np.s_[-3:], np.s_[:, :3], np.s_[:, -3:]):
                picture[edge] = WRONG_RED
        pngs.append(render.png_bytes(picture))
    return pngs


@st.cache_data(max_entries=128, show_spinner=False)
def curves_figure(digest: str, epoch: int, _replay: Replay) -> dict[str, Any]:
    """Loss and accuracy per epoch up to ``epoch`` (training: measured during each epoch;
    held-out: after it), on axes fixed to the whole run so that scrubbing moves only the lines,
    with ``epoch`` marked. A Plotly figure as a dict."""
    view = _replay.at(epoch)
    train_loss, train_accuracy = (np.asarray(a, dtype=float).tolist() for a in view.train_curve)
    held_loss, held_accuracy = (np.asarray(a, dtype=float).tolist() for a in view.heldout_curve)
    curves = [
        Curve("training images", "train", list(range(1, epoch + 1)), train_loss, train_accuracy),
        Curve("held-out images", "held_out", list(range(0, epoch + 1)), held_loss, held_accuracy),
    ]
    all_loss = np.concatenate([_replay.heldout_loss, _replay.curves["loss"]])
    fig = loss_accuracy_figure(
        curves,
        "epoch",
        height=280,
        marker_size=5,
        x_range=(-0.5, _replay.last_epoch + 0.5),
        loss_top=float(np.nanmax(all_loss)) * 1.05,
        mark_x=epoch,
    )
    return fig.to_dict()


# ============================================================================================
# The link and the scrubber


def replay_query() -> dict[str, str]:
    """The replay's part of the page's address (add it to the address the page writes)."""
    return REPLAY.get().to_query()


def _read_link(last_epoch: int) -> None:
    """A link's epoch, once per new value of this page's own parameter (the page's own writes
    of the address change nothing)."""
    value = st.query_params.get(REPLAY_PARAM)
    if "replay_state" not in ss or value != ss.get(SEEN_KEY):
        state, warnings = ReplayState.from_query(
            {REPLAY_PARAM: value} if value is not None else {}, last_epoch, ss.get("replay_state")
        )
        ss["replay_state"] = state
        REPLAY.warn(warnings)
    ss[SEEN_KEY] = value


def _write_link() -> None:
    value = replay_query().get(REPLAY_PARAM)
    if st.query_params.get(REPLAY_PARAM) != value:
        if value is None:
            del st.query_params[REPLAY_PARAM]
        else:
            st.query_params[REPLAY_PARAM] = value
    ss[SEEN_KEY] = value


def _go(epoch: int) -> None:
    REPLAY.put(REPLAY.get().choose("epoch", epoch))


def scrubber(last_epoch: int) -> int:
    """A slider over epochs 0…last with a step button either side; the epoch shown."""
    epoch = REPLAY.get().shown_epoch(last_epoch)
    ss[SLIDER_KEY] = epoch

    def on_slide() -> None:
        value = ss.get(SLIDER_KEY)
        if isinstance(value, int) and 0 <= value <= last_epoch:
            _go(value)

    # One row: the buttons as wide as their labels ("Back" and "Next" whole at every width,
    # where fixed columns cut them to "B…"), the slider the rest.
    row = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
    row.button(
        "Back",
        key="replay_back",
        icon=":material/chevron_left:",
        help="One epoch earlier",
        disabled=epoch == 0,
        on_click=_go,
        args=(max(epoch - 1, 0),),
        width="content",
    )
    row.slider(
        "Epoch",
        0,
        last_epoch,
        key=SLIDER_KEY,
        on_change=on_slide,
        help="Drag through the training: epoch 0 is the random start, each epoch is one pass "
        "over every training image.",
        width="stretch",
    )
    row.button(
        "Next",
        key="replay_next",
        icon=":material/chevron_right:",
        help="One epoch later",
        disabled=epoch == last_epoch,
        on_click=_go,
        args=(min(epoch + 1, last_epoch),),
        width="content",
    )
    return epoch


# ============================================================================================
# The section


def percent(fraction: float) -> str:
    """An accuracy as the replay writes it: ``99.64%``."""
    return f"{fraction * 100:.2f}%"


def about(replay: Replay) -> str:
    """How the recorded run was made, from the record's own card fields, and how it relates to
    the shipped weights (the same run, or a re-run of the same recipe)."""
    meta = replay.meta
    training = meta.get("training", {})
    name = {"mnist": "MNIST digit", "cifar10": "CIFAR-10 photo"}.get(replay.dataset, "")
    last = replay.at(replay.last_epoch)
    run = (
        f"{replay.last_epoch} epochs over {meta.get('train_images', 0):,} training images "
        f"(batch {training.get('batch_size')}, seed {training.get('seed')}), ending at "
        f"{percent(last.heldout_accuracy)} on {len(replay.heldout_labels):,} held-out images."
    )
    card = read_card(f"simplecnn-{replay.dataset}")
    shipped = card.get("weights_sha256")
    if shipped is not None and shipped == meta.get("weights_sha256"):
        head = f"The shipped {name} network's own training, recorded epoch by epoch: {run}"
    else:
        theirs, ours = card.get("test_accuracy"), meta.get("test_accuracy")
        head = (
            f"A recorded run of the shipped {name} network's recipe (the same data, settings "
            f"and seed), epoch by epoch: {run}"
        )
        if theirs is not None and ours is not None:
            head += (
                f" The shipped weights come from an earlier run of that recipe: on the weights "
                f"card's test ({card.get('test_images_exact', 0):,} images) this run's final "
                f"weights score {percent(float(ours))}, the shipped ones "
                f"{percent(float(theirs))} — training on a CPU's threads does not repeat bit "
                "for bit."
            )
    return head + " Nothing trains now: every student scrubs through the same record."


def figures(replay: Replay, epoch: int) -> None:
    """The numbers at ``epoch``: held-out (after the epoch) and training (during it)."""
    view = replay.at(epoch)
    cols = st.columns(4)
    n_held = len(replay.heldout_labels)
    cols[0].metric(
        "Held-out accuracy",
        percent(view.heldout_accuracy),
        help=f"On the {n_held:,} held-out images, never trained on, after this epoch.",
    )
    cols[1].metric("Held-out loss", format_value(view.heldout_loss))
    trained = view.train_accuracy is not None and view.train_loss is not None
    cols[2].metric(
        "Training accuracy",
        percent(view.train_accuracy) if view.train_accuracy is not None else "—",
        help="On the training images while this epoch trained them (shifted copies, dropout "
        "on), so it can lag the held-out figure.",
    )
    cols[3].metric(
        "Training loss", format_value(view.train_loss) if view.train_loss is not None else "—"
    )
    if not trained:
        st.caption("Epoch 0 is the seeded random start: nothing trained yet, so guesses.")


def gallery_grid(replay: Replay, epoch: int) -> None:
    """The gallery's images with the answer at ``epoch``; a red frame and ✗ where it is wrong."""
    view = replay.at(epoch)
    pngs = gallery_pngs(replay.digest, epoch, replay)
    wrong = int((~view.correct).sum())
    st.markdown(
        f"**What it says about the {len(pngs)} gallery images at epoch {epoch}** ({wrong} wrong)"
    )
    grid = st.container(horizontal=True, wrap=True, gap="small")  # wraps on a phone
    for n, png in enumerate(pngs):
        said = replay.classes[int(view.predicted[n])]
        truth = replay.classes[int(replay.gallery_labels[n])]
        right = bool(view.correct[n])
        grid.image(
            png,
            caption=f"{'✓' if right else '✗'} {said} {percent(float(view.confidence[n]))}",
            alt=f"A {truth}; at epoch {epoch} the network says {said}",
            output_format="PNG",
            width=GALLERY_PX,
        )


def show_replay(dataset: str) -> None:
    """The replay of the shipped ``dataset`` network's training, at the epoch in the link."""
    st.header("Replay: how the shipped network learned")
    replay = widgets.guarded(lambda: replay_of(dataset))
    if replay is None:
        return
    _read_link(replay.last_epoch)
    for warning in REPLAY.warnings():
        widgets.warning(warning, icon=":material/link:")
    st.markdown(about(replay))
    epoch = scrubber(replay.last_epoch)
    _write_link()
    figures(replay, epoch)
    st.plotly_chart(
        curves_figure(replay.digest, epoch, replay), width="stretch", key="replay_curves"
    )
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.markdown(f"**conv1's 32 filters at epoch {epoch}**")
        st.image(
            filters_png(replay.digest, epoch, replay),
            output_format="PNG",
            width="stretch",
            alt=f"conv1's 32 filters as colour patches at epoch {epoch}",
        )
        st.caption(
            "Grey = weight 0, brighter = positive, darker = negative (each filter scaled by "
            "its own largest weight)."
        )
    with right:
        widgets.guarded(lambda: gallery_grid(replay, epoch))
