"""The Train page's widgets: the run's controls, the set-up bound to :class:`TrainState`, and
the live panel that redraws from the job's events every second while the run goes on.

A run is a job of the server's one queue (explorer.jobs): it trains in a worker process, never
in a script thread, so a class pressing Train together waits in a visible queue while everyone
else's clicks stay fast. The session keeps its job's id; the finished network stays in the
session as "Your network (trained here)" for the network pages. A session that ends (its tab
closed) has its job stopped by the queue (:func:`session_connected`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer import render
from explorer.errors import UserError
from explorer.features import ModelInput
from explorer.model import Preprocessing
from explorer.network_view import legend_text
from explorer.train_state import TRAIN_CHOICES, TrainState
from explorer.train_view import (
    RunView,
    Snapshot,
    confusion_rows,
    conv1_maps,
    curves_figure,
    progress_line,
    run_view,
)
from explorer.training_data import HeldOutSet, full_sets, load_held_out
from explorer.ui import network, widgets
from explorer.ui.state import Bound

if TYPE_CHECKING:
    from explorer.jobs import Job, JobQueue

ss = st.session_state
TRAIN: Bound[TrainState] = Bound("train_state", "train_", TrainState, TRAIN_CHOICES)
JOB_KEY = "train_job"  # the id of the session's run
WATCH_KEY = "train_watch"  # the image whose conv1 maps the page shows: "held:<i>" or "session"
# One run at a time on a 2-core server: training takes a whole core; the other core serves the
# class. A larger machine can raise it (each run is one process with one torch thread).
TRAINING_SLOTS = 1
# What a spare worker imports before it is asked (2.6 s for torch and the app, 1.3 s more for
# torch._dynamo, which making the first optimiser in a process imports): a run starts at once.
TRAINING_PRELOAD = ("explorer.live_training", "explorer.own_images", "torch._dynamo")
POLL_S = 1.0  # the live panel's redraw period while a run is going on
# How long a session's run outlives the session's websocket. Streamlit keeps a disconnected
# session server.disconnectedSessionTTL seconds (60 here) for its tab to reconnect, and a tab
# that comes back within that time is the same session: its run must still be there. Past that
# the session is gone for good; the margin covers the queue's look every few seconds.
OWNER_MARGIN_S = 15.0
OWNER_CHECK_S = 5.0


# ============================================================================================
# The queue, the session and its run


def session_connected(owner: str) -> bool:
    """Whether the browser session ``owner`` is connected now. The queue stops the jobs of a
    session that stays away longer than the grace (explorer.jobs, "Owners that have gone").

    Why the websocket and not a heartbeat from the live panel's polling: browsers slow the
    timers of a hidden tab (Chrome: to once a minute after 5 minutes hidden) and may freeze it,
    so a student who looks at another tab while the network trains would lose the run. The
    websocket stays connected while the tab is open, hidden or not (Streamlit pings it every
    30 s), and closes with the tab. Streamlit's runtime knows which sessions are connected
    (``Runtime.is_active_session``, safe from any thread). Without a runtime (AppTest, a
    script) nothing can be known, and nothing is stopped."""
    from streamlit.runtime import Runtime

    return not Runtime.exists() or Runtime.instance().is_active_session(owner)


def owner_grace_s() -> float:
    """Seconds a session may be away before its run stops: Streamlit's reconnect window plus
    a margin."""
    return float(st.get_option("server.disconnectedSessionTTL")) + OWNER_MARGIN_S


@st.cache_resource
def job_queue() -> JobQueue:
    """The server's one queue of long work, shared by every session."""
    from explorer.jobs import TRAIN_THREADS_ENV, JobQueue, threads_setting

    return JobQueue(
        max_running=TRAINING_SLOTS,
        torch_threads=threads_setting(os.environ.get(TRAIN_THREADS_ENV), os.cpu_count()),
        owner_alive=session_connected,
        owner_grace_s=owner_grace_s(),
        owner_check_s=OWNER_CHECK_S,
        # Each run has a fresh process (all its memory given back when it ends), started
        # ahead with torch and the training code imported: "Train" answers at once.
        keep_warm=1,
        preload=TRAINING_PRELOAD,
    )


def session_id() -> str:
    """This browser session's id (the owner of its jobs)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def current_job() -> Job | None:
    job_id = ss.get(JOB_KEY)
    return job_queue().get(job_id) if job_id else None


# ============================================================================================
# The link


def read_link() -> None:
    """A link's set-up, once per new address: the network pages' one mechanism
    (``network.read_link``, which reads only the parameters each state owns), then the set-up
    fitted to this server."""
    network.read_link(TRAIN)
    fit_to_server()


def fit_to_server() -> None:
    """A set-up asking for a full data set this server does not have uses the shipped subset,
    and says so."""
    state = TRAIN.get()
    if state.full_data and state.dataset not in full_sets():
        said = TRAIN.warnings()
        what = TRAIN_CHOICES["dataset"].labels[state.dataset]
        TRAIN.put(state.choose("full_data", False))
        TRAIN.warn(
            [
                *said,
                f"This server has no full copy of the {what}: the run uses the subset shipped "
                "with the app.",
            ]
        )


def keep_address(extra: dict[str, str]) -> None:
    """The address bar: this run's set-up (and ``extra``, such as presenter mode)."""
    network.keep_address({**TRAIN.get().to_query(), **extra})


# ============================================================================================
# The controls and the set-up


def controls(job: Job | None) -> None:
    """Start (or queue), pause, resume, one step, stop and reset, in one row that wraps on a
    phone (first on the page: reachable without scrolling past the settings). Each acts in its
    button's callback, before the page is drawn, so the page already shows the new state."""
    active = job is not None and job.active
    paused = job is not None and (job.status == "paused" or job.held)

    def act(name: str) -> None:
        now = current_job()
        if now is not None and now.active:
            {"pause": now.pause, "resume": now.resume, "step": now.step, "stop": now.stop}[name]()

    row = st.container(horizontal=True, gap="small")
    row.button(
        "Start",
        key="train_run_start",
        type="primary",
        icon=":material/play_arrow:",
        disabled=active,
        on_click=start,
    )
    row.button(
        "Resume" if paused else "Pause",
        key="train_run_pause",
        disabled=not active,
        icon=":material/play_arrow:" if paused else ":material/pause:",
        on_click=act,
        args=("resume" if paused else "pause",),
    )
    row.button(
        "One step",
        key="train_run_step",
        disabled=not active,
        on_click=act,
        args=("step",),
        icon=":material/skip_next:",
        help="One batch, then pause.",
    )
    row.button(
        "Stop",
        key="train_run_stop",
        disabled=not active,
        icon=":material/stop:",
        on_click=act,
        args=("stop",),
    )
    row.button(
        "Reset",
        key="train_run_reset",
        disabled=job is None or active,
        icon=":material/restart_alt:",
        help="Forget this run.",
        on_click=lambda: ss.pop(JOB_KEY, None),
    )


def start() -> None:
    """Queue a run with the set-up shown; the session's previous run is forgotten."""
    try:
        job = job_queue().submit(
            "explorer.live_training:train_job", session_id(), settings=TRAIN.get().settings()
        )
    except UserError as exc:
        ss["train_start_error"] = str(exc)
        return
    ss.pop("train_start_error", None)
    ss[JOB_KEY] = job.id


def set_up(data: HeldOutSet, disabled: bool) -> None:
    """The run in one line with the data it uses, and every setting in an expander: folded, so
    that on a phone the controls and the run come first."""
    state = TRAIN.get()
    st.markdown(f"**This run:** {state.summary(data.train_count)}")
    st.caption(f"Data: {data.source}")
    with st.expander("Settings", icon=":material/tune:"):
        settings_form(disabled, full_offered=state.dataset in full_sets())


def settings_form(disabled: bool, full_offered: bool) -> None:
    """Every choice of the run, bound to the state (so the address reproduces the run)."""
    c1, c2, c3, c4 = st.columns(4)
    TRAIN.choice(
        c1.selectbox,
        "dataset",
        "Data",
        disabled=disabled,
        help="Digits learn in a minute; photos are harder.",
    )
    TRAIN.choice(
        c2.selectbox,
        "images",
        "Training images",
        disabled=disabled,
        help="Few images: the network memorises them, and the training and held-out "
        "curves split apart (overfitting).",
    )
    TRAIN.choice(
        c3.selectbox,
        "epochs",
        "Epochs",
        disabled=disabled,
        help="How many times every training image is seen.",
    )
    TRAIN.choice(
        c4.selectbox,
        "batch",
        "Batch size",
        disabled=disabled,
        help="Images per step: the weights change once per batch.",
    )
    c1, c2, c3, c4 = st.columns(4)
    TRAIN.choice(c1.selectbox, "optimiser", "Optimiser", disabled=disabled)
    TRAIN.choice(
        c2.selectbox,
        "lr",
        "Learning rate",
        disabled=disabled,
        help="How big a step the weights take. Too large and the loss jumps about; "
        "too small and nothing seems to happen.",
    )
    TRAIN.choice(c3.selectbox, "schedule", "Schedule", disabled=disabled)
    TRAIN.choice(
        c4.selectbox,
        "weight_decay",
        "Weight decay",
        disabled=disabled,
        help="Pulls every weight a little towards 0 at each step.",
    )
    c1, c2, c3 = st.columns([2, 2, 1])
    TRAIN.choice(c1.radio, "augment", "Augmentation", horizontal=True, disabled=disabled)
    TRAIN.choice(c2.radio, "start", "Start from", horizontal=True, disabled=disabled)
    TRAIN.number(
        "seed",
        "Seed",
        0,
        9_999,
        where=c3,
        disabled=disabled,
        help="The same seed and settings give the same run, number for number.",
    )
    if full_offered:
        TRAIN.choice(
            st.radio,
            "full_data",
            "Images from",
            horizontal=True,
            disabled=disabled,
            help="This server also has the full data set. A link that uses it trains on the "
            "subset shipped with the app on a server without it.",
        )


# ============================================================================================
# The live panel


def status_line(job: Job, view: RunView) -> None:
    """Where the run is: queued (with its place), running, paused, finished, stopped, failed."""
    if job.status == "queued":
        if job.held:
            st.info(
                "Paused while waiting in the queue: press Resume to keep its place.",
                icon=":material/pause:",
            )
            return
        st.info(
            f"Waiting: {job.position()} in the queue. The server trains one network at a "
            "time so that everyone else's pages stay fast.",
            icon=":material/hourglass:",
        )
        return
    if job.status == "failed":
        widgets.error(f"The run failed: {job.error}")
        return
    words = {"running": "Training", "paused": "Paused", "done": "Finished", "stopped": "Stopped"}[
        job.status
    ]
    st.progress(view.fraction, text=f"{words}. {progress_line(view, job.status)}")


@st.cache_data(max_entries=64, show_spinner=False)
def filters_png(conv1: np.ndarray) -> bytes:
    """A snapshot's conv1 filters as colour patches (Feature maps' picture), once per snapshot."""
    from explorer.stage_pictures import filters_picture

    return render.png_bytes(filters_picture(conv1, px=36))


@st.cache_data(
    max_entries=64,
    show_spinner=False,
    hash_funcs={Preprocessing: lambda p: (p.mean, p.std, p.kind)},
)
def maps_png(
    conv1: np.ndarray, bias: np.ndarray, image: np.ndarray, pre: Preprocessing
) -> tuple[bytes, float, float]:
    """conv1's maps of one image at one snapshot as Feature maps' montage (one colour range for
    the 32 maps), and that range."""
    from explorer.stage_pictures import stage_limits, stage_montage
    from explorer.ui.content import MAP_TILE_PX

    maps = conv1_maps(Snapshot(0, conv1, bias), image, pre)
    lo, hi = stage_limits(maps, "signed")
    return render.png_bytes(stage_montage(maps, "signed", "layer", MAP_TILE_PX)), lo, hi


def session_input(dataset: str) -> ModelInput | None:
    """The input chosen on the network pages (a gallery image, a drawing, an upload, a photo),
    when it belongs to ``dataset`` (a digit for a digit network), else None."""
    from explorer.samples import load_gallery_image
    from explorer.ui.network_input import KEPT, prepared_drawing

    state = network.NET.get()
    if state.dataset != dataset:
        return None
    if state.input == "gallery":
        item = state.gallery_item()
        return ModelInput(load_gallery_image(item), item.source, item.label_name)
    kept = ss.get(KEPT.get(state.input, ""))
    if kept is None or state.input != "draw":
        return kept
    return prepared_drawing(kept, dataset == "mnist")


def watched_image(view: RunView, data: HeldOutSet) -> tuple[np.ndarray, str] | None:
    """The image whose maps are shown — one of the strip's held-out images, or the session's
    own input — chosen in a select box; (its pixels, what it is)."""
    if not view.strip:
        return None
    options = {
        f"held:{i}": f"held-out image #{i}: a {data.classes[int(data.held_y[i])]}"
        for i in view.strip["indices"]
    }
    mine = session_input(data.name)
    if mine is not None:
        options["session"] = f"your input on the network pages: {mine.description}"
    if ss.get(WATCH_KEY) not in options:
        ss[WATCH_KEY] = next(iter(options))
    chosen = st.selectbox(
        "Image to watch",
        list(options),
        key=WATCH_KEY,
        format_func=options.__getitem__,
        help="One of the held-out images below, or the input you chose on The network, "
        "Feature maps or Inside the network (when it is one of this data set's).",
    )
    if chosen == "session" and mine is not None:
        return mine.image, options["session"]
    index = int(str(chosen).removeprefix("held:"))
    return data.held_x[index], options[str(chosen)]


def show_conv1(view: RunView, data: HeldOutSet) -> None:
    """conv1 at one snapshot (the latest, or one the scrubber goes back to): its 32 filters, and
    the 32 maps it makes of one chosen image."""
    if not view.filters:
        return
    last = len(view.filters) - 1
    k = last
    if last > 0:
        k = st.slider(
            "Snapshot",
            0,
            last,
            last,
            key="train_snapshot",
            format="%d",
            help="Drag back to see the filters and the maps earlier in the run.",
        )
    snap = view.filters[min(k, last)]
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown(f"**conv1's 32 filters at step {snap.step:,}**")
        st.image(
            filters_png(snap.conv1),
            output_format="PNG",
            width="stretch",
            alt=f"conv1's 32 filters as colour patches at step {snap.step}",
        )
        st.caption(
            "Grey = weight 0, brighter = positive, darker = negative (each filter scaled by "
            "its own largest weight). Random at first; edges and colour blobs appear as the "
            "network learns."
        )
    with right:
        st.markdown(f"**The maps they make of one image at step {snap.step:,}**")
        watched = watched_image(view, data)
        if watched is None:
            return
        image, what = watched
        picture, lo, hi = maps_png(snap.conv1, snap.bias, image, data.preprocessing)
        small, big = st.columns([1, 4])
        pixels = image.transpose(1, 2, 0) if image.shape == (3, 32, 32) else image
        small.image(render.png_bytes(render.enlarge(pixels, 3)), output_format="PNG", alt=what)
        big.image(
            picture,
            output_format="PNG",
            width="stretch",
            alt=f"conv1's 32 maps of {what} at step {snap.step}",
        )
        st.caption(
            f"Map i is filter i slid over the image (before the ReLU): "
            f"{legend_text('signed', lo, hi, False)}, one range for all 32."
        )


def show_strip(view: RunView, data: HeldOutSet) -> None:
    """The fixed held-out images with the network's current answer; wrong ones marked."""
    strip = view.strip
    if not strip:
        return
    st.markdown(
        f"**What it says now about {len(strip['indices'])} held-out images** "
        f"(step {strip['step']:,})"
    )
    cols = st.columns(8)
    classes = data.classes
    for n, (i, p, prob) in enumerate(
        zip(strip["indices"], strip["predicted"], strip["probability"], strict=True)
    ):
        right = int(p) == int(data.held_y[i])
        image = data.held_x[i].transpose(1, 2, 0)
        if not right:  # a red frame: the wrong answers stand out
            image = image.copy()
            for edge in (np.s_[:2], np.s_[-2:], np.s_[:, :2], np.s_[:, -2:]):
                image[edge] = (220, 30, 30)
        cols[n % 8].image(
            render.png_bytes(render.enlarge(image, 3)),
            caption=f"{'✓' if right else '✗'} {classes[int(p)]} {float(prob):.0%}",
            alt=f"A held-out {classes[int(data.held_y[i])]}; the network says {classes[int(p)]}",
            output_format="PNG",
        )


def show_epochs(view: RunView, classes: tuple[str, ...]) -> None:
    """The last finished epoch's accuracy per class and its confusion matrix."""
    if not view.epochs:
        return
    last = view.epochs[-1]
    st.markdown(
        f"**After epoch {last['epoch']}: held-out accuracy per class, and what each "
        "class was taken for**"
    )
    left, right = st.columns([1, 2])
    left.dataframe(
        {"class": list(classes), "accuracy": [f"{a:.1%}" for a in last["per_class"]]},
        hide_index=True,
    )
    right.dataframe(confusion_rows(last["confusion"], classes), hide_index=True)
    right.caption(
        "A row is the true class, a column what the network said: the diagonal is "
        "right, everything else a mistake."
    )


def run_data(job: Job) -> HeldOutSet:
    """The held-out images of the run's own data set (the set-up may have changed since)."""
    settings = job.kwargs["settings"]
    return load_held_out(settings["dataset"], settings["full_data"])


def live_panel() -> None:
    """The run as it is now: progress, curves, conv1's filters and maps, the strip, the last
    epoch."""
    job = current_job()
    if job is None:
        return
    if not job.active and ss.get("train_polling") == job.id:
        ss.pop("train_polling")
        st.rerun()  # the run has ended: the whole page shows what comes after (and stops polling)
    if job.active:
        ss["train_polling"] = job.id
    view = run_view(list(job.events))
    status_line(job, view)
    data = widgets.guarded(lambda: run_data(job))
    if data is None:
        return
    if any(view.curves.values()):
        st.plotly_chart(curves_figure(view), width="stretch", key="train_curves")
    show_conv1(view, data)
    show_strip(view, data)
    show_epochs(view, data.classes)


# ============================================================================================
# Afterwards


def use_trained(job: Job) -> None:
    """The finished network: to the network pages as "Your network (trained here)", and as a
    ``state_dict`` file that the upload on those pages accepts."""
    from explorer.ui.network import NET, TRAINED_WEIGHTS, WeightsFile

    result = job.result
    file = WeightsFile.of("Your network (trained here)", result["state_dict"])
    st.markdown(
        f"Held-out accuracy: **{result['held_out_accuracy']:.1%}** after {result['steps']:,} "
        f"steps in {result['seconds']:.0f} s."
    )
    left, right = st.columns(2)
    if left.button(
        "Look inside it on the network pages",
        key="train_use",
        type="primary",
        icon=":material/layers:",
    ):
        ss[TRAINED_WEIGHTS] = file
        NET.put(NET.get().choose("weights", "trained").choose("upload_dataset", result["dataset"]))
        st.switch_page("pages/feature_maps.py")
    right.download_button(
        "The weights (state_dict, .pt)",
        result["state_dict"],
        file_name=f"simplecnn-{result['dataset']}-trained.pt",
        mime="application/octet-stream",
        key="train_download",
        icon=":material/download:",
        on_click="ignore",
    )
    st.caption(
        "Chosen there as “Your network (trained here)”, beside the shipped networks "
        "(compare them on Feature maps). The file loads with "
        "torch.load(path, weights_only=True) into SimpleCNN, and the pages' upload "
        "accepts it."
    )
