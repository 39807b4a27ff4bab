"""The gallery's Feature maps pictures, computed once in the background when the server starts.

A class opens Feature maps on the gallery's images: the same few dozen pictures through the
same shipped networks, for every student. Each is about 60 ms of server CPU the first time
(the forward pass 4.5 ms, the stage montages 31, the map picker's sheet 7, the enlarged map's
figure 13, the input's channels 3), and a class meeting a fresh server paid them all at once
while it clicked: the gallery step was the slowest of the class's visit (1.1 s median, 2.5 s
p95, ``bench_load``). The pages' caches (explorer/ui/content.py) are keyed by content and
shared by every session, so computing the gallery's pictures once, in a thread of the server
started by the first page run, turns those misses into hits: about 3 s of CPU for both shipped
networks' galleries, while the teacher is still talking.

The thread calls the very cached functions the page calls, with the page's default set-up
(``NetworkState``'s layer, map and shared colour scale, the best device), so the keys are the
page's own. It runs with one torch thread (app.py caps it) and a pause between images, so a
class that arrives during it is served in between.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import streamlit as st

log = logging.getLogger(__name__)

PAUSE_S = 0.01  # between two images: the server's sessions run in between


def warm_gallery(datasets: Iterable[str] | None = None, limit: int | None = None) -> int:
    """Compute the Feature maps pictures of the gallery's images (``limit`` per dataset) for
    every shipped trained network whose dataset is in ``datasets`` (all by default); the
    number of images warmed."""
    from explorer.features import ModelInput
    from explorer.model import best_device, builtin_weights
    from explorer.network_state import NetworkState
    from explorer.samples import gallery, load_gallery_image
    from explorer.ui import content
    from explorer.ui.network import builtin_context

    default = NetworkState()
    per_map = default.scale == "map"
    device = best_device()
    warmed = 0
    for choice in builtin_weights():
        if choice.key == "untrained":
            continue
        ctx = builtin_context(choice.key, device)
        if datasets is not None and ctx.dataset not in datasets:
            continue
        for item in gallery(ctx.dataset)[:limit]:
            inp = ModelInput(load_gallery_image(item), item.source, item.label_name)
            acts = content.capture(ctx, inp)
            content.stage_pictures(acts, per_map)
            content.input_pictures(inp, ctx.preprocessing)
            content.enlarged_png(inp.image)
            content.map_thumbnails(acts, default.layer, per_map)
            content.map_figure(acts, default.layer, default.map, per_map)
            warmed += 1
            time.sleep(PAUSE_S)
    return warmed


def _run() -> None:
    began = time.perf_counter()
    try:
        count = warm_gallery()
    except Exception:  # a warm-up that fails must not take anything down: pages compute
        log.exception("Warming the gallery's pictures failed; pages compute them as asked")
        return
    log.info("Warmed %d gallery images' pictures in %.1f s", count, time.perf_counter() - began)


def start_warming() -> None:
    """Start the warm-up once per server process (app.py calls this on every run; only the
    first starts it). Not without a server (AppTest, a script): nobody would be served."""
    from streamlit.runtime import Runtime

    if Runtime.exists():
        _started()


THREAD_NAME = "warm-gallery"


@st.cache_resource(show_spinner=False)
def _started() -> threading.Thread:
    thread = warming_thread()
    thread.start()
    return thread


def warming_thread(target: Callable[[], None] = _run) -> threading.Thread:
    """The warm-up's thread (not started), with no script context, whichever run starts it. A
    cache miss's spinner goes wherever the thread's context sends: given the first student's,
    the network's "Loading the network…" landed in that student's page after their run had
    ended, stayed there and covered what they clicked next (the Train page's Start button).
    Without one it goes nowhere; Streamlit's caches only warn, and those warnings (one a call)
    are dropped for this thread."""
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        _not_from_the_warm_up
    )
    return threading.Thread(target=target, name=THREAD_NAME, daemon=True)


def _not_from_the_warm_up(record: logging.LogRecord) -> bool:
    return record.threadName != THREAD_NAME
