"""The Train page's widgets: the set-up bound to :class:`TrainState`, the run's controls, and
the live panel that redraws from the job's events every second while the run goes on.

A run is a job of the server's one queue (explorer.jobs): it trains in a worker process, never
in a script thread, so a class pressing Train together waits in a visible queue while everyone
else's clicks stay fast. The session keeps its job's id; the finished network stays in the
session as "Your network (trained here)" for the network pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer import render
from explorer.errors import UserError
from explorer.train_state import TRAIN_CHOICES, TrainState
from explorer.train_view import (
    RunView,
    confusion_rows,
    curves_figure,
    progress_line,
    run_view,
)
from explorer.ui import widgets
from explorer.ui.state import Bound

if TYPE_CHECKING:
    from explorer.jobs import Job, JobQueue

ss = st.session_state
TRAIN: Bound[TrainState] = Bound("train_state", "train_", TrainState, TRAIN_CHOICES)
JOB_KEY = "train_job"  # the id of the session's run
# One run at a time on a 2-core server: training takes a whole core; the other core serves the
# class. A larger machine can raise it (each run is one process with one torch thread).
TRAINING_SLOTS = 1
POLL_S = 1.0  # the live panel's redraw period while a run is going on


@st.cache_resource
def job_queue() -> JobQueue:
    """The server's one queue of long work, shared by every session."""
    from explorer.jobs import JobQueue

    return JobQueue(max_running=TRAINING_SLOTS, torch_threads=1)


def session_id() -> str:
    """This browser session's id (the owner of its jobs)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def current_job() -> Job | None:
    job_id = ss.get(JOB_KEY)
    return job_queue().get(job_id) if job_id else None


def read_link() -> None:
    """A link's set-up, once per new address (the page's own address changes nothing)."""
    params = st.query_params.to_dict()
    seen = ss.get("train_link_seen")
    if "train_state" not in ss or (params and params != seen):
        state, warnings = TrainState.from_query(params, ss.get("train_state"))
        ss["train_state"] = state
        TRAIN.warn(warnings)
    ss["train_link_seen"] = params


def keep_address(extra: dict[str, str]) -> None:
    params = {**TRAIN.get().to_query(), **extra}
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    ss["train_link_seen"] = params


def settings_form(disabled: bool) -> None:
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


def controls(job: Job | None) -> None:
    """Start (or queue), pause, resume, one step, stop and reset. Each acts in its button's
    callback, before the page is drawn, so the page already shows the new state."""
    active = job is not None and job.active
    paused = job is not None and (job.status == "paused" or job.held)

    def act(name: str) -> None:
        now = current_job()
        if now is not None and now.active:
            {"pause": now.pause, "resume": now.resume, "step": now.step, "stop": now.stop}[name]()

    cols = st.columns(6)
    cols[0].button(
        "Start",
        key="train_run_start",
        type="primary",
        icon=":material/play_arrow:",
        disabled=active,
        on_click=start,
    )
    cols[1].button(
        "Resume" if paused else "Pause",
        key="train_run_pause",
        disabled=not active,
        icon=":material/play_arrow:" if paused else ":material/pause:",
        on_click=act,
        args=("resume" if paused else "pause",),
    )
    cols[2].button(
        "One step",
        key="train_run_step",
        disabled=not active,
        on_click=act,
        args=("step",),
        icon=":material/skip_next:",
        help="One batch, then pause.",
    )
    cols[3].button(
        "Stop",
        key="train_run_stop",
        disabled=not active,
        icon=":material/stop:",
        on_click=act,
        args=("stop",),
    )
    cols[4].button(
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


def filters_picture(conv1: np.ndarray) -> bytes:
    from explorer.stage_pictures import filters_picture

    return render.png_bytes(filters_picture(conv1, px=36))


def show_filters(view: RunView) -> None:
    """conv1's 32 filters now, with a scrubber over the snapshots taken so far."""
    if not view.filters:
        return
    st.markdown("**conv1's 32 filters, as they change**")
    k = len(view.filters) - 1
    if len(view.filters) > 1:
        k = st.slider(
            "Snapshot",
            0,
            len(view.filters) - 1,
            len(view.filters) - 1,
            key="train_snapshot",
            format="%d",
            help="Drag back to see the filters earlier in the run.",
        )
    step, conv1 = view.filters[min(k, len(view.filters) - 1)]
    st.image(
        filters_picture(conv1),
        output_format="PNG",
        width="stretch",
        alt=f"conv1's 32 filters as colour patches at step {step}",
    )
    st.caption(
        f"At step {step:,}. Grey = weight 0, brighter = positive, darker = negative "
        "(each filter scaled by its own largest weight). Random at first; edges and "
        "colour blobs appear as the network learns."
    )


def show_strip(
    view: RunView, held_x: np.ndarray, held_y: np.ndarray, classes: tuple[str, ...]
) -> None:
    """The fixed held-out images with the network's current answer; wrong ones marked."""
    strip = view.strip
    if not strip:
        return
    st.markdown(
        f"**What it says now about {len(strip['indices'])} held-out images** "
        f"(step {strip['step']:,})"
    )
    cols = st.columns(8)
    for n, (i, p, prob) in enumerate(
        zip(strip["indices"], strip["predicted"], strip["probability"], strict=True)
    ):
        right = int(p) == int(held_y[i])
        image = held_x[i].transpose(1, 2, 0)
        if not right:  # a red frame: the wrong answers stand out
            image = image.copy()
            for edge in (np.s_[:2], np.s_[-2:], np.s_[:, :2], np.s_[:, -2:]):
                image[edge] = (220, 30, 30)
        cols[n % 8].image(
            render.png_bytes(render.enlarge(image, 3)),
            caption=f"{'✓' if right else '✗'} {classes[int(p)]} {float(prob):.0%}",
            alt=f"A held-out {classes[int(held_y[i])]}; the network says {classes[int(p)]}",
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


def live_panel(held_x: np.ndarray, held_y: np.ndarray, classes: tuple[str, ...]) -> None:
    """The run as it is now: progress, curves, filters, the strip, the last epoch."""
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
    if any(view.curves.values()):
        st.plotly_chart(curves_figure(view), width="stretch", key="train_curves")
    left, right = st.columns([1, 1], gap="large")
    with left:
        show_filters(view)
    with right:
        show_strip(view, held_x, held_y, classes)
    show_epochs(view, classes)


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
