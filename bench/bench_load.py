"""A whole class on one server: N students speaking Streamlit's own websocket protocol at once.

    python -m bench.bench_load                        # N = 1, 10, 30, 60; the app and a trivial app
    python -m bench.bench_load --students 1,5 --pace read
    python -m bench.bench_load --minutes 10 --students 10          # soak: memory over time
    python -m bench.bench_load --option runner.postScriptGC=false  # any server flag, to compare
    python -m bench.bench_load --students 30 --apps start          # 30 Start clicks at once
    python -m bench.bench_load --students 30 --apps app --with-training
    python -m bench.bench_load --students 30 --apps optimise       # a third press Optimise

Each simulated student does what a browser tab does, over ``/_stcore/stream`` with the
``BackMsg``/``ForwardMsg`` protobufs of ``streamlit.proto``: it sends a ``rerun_script`` with the
page, the query string, the widget it changed and the hashes of the large messages it holds
(the server then sends references to them), reads every ``ForwardMsg`` the run produces until
``script_finished``, then fetches the run's images from ``/media`` as the browser would.
The visit is the table ``APP_VISIT`` (``TRIVIAL_VISIT`` for ``bench/trivial_app.py``, the
cheapest page Streamlit can serve, measured in the same run as the yardstick), with 1–3 s of
think time between clicks (``--pace click``) or 5–15 s (``--pace read``). While a student
thinks, the tab reruns every fragment the page asked to have rerun (``st.fragment(run_every=…)``:
the Train page's live panel while a run is queued or going on) as the browser's timers do; those
"auto-reruns" have a row of their own.

The jobs' classes (explorer/jobs.py: worker processes of the server):
  - ``--apps start``: every student opens the Train page with a tiny run and all press Start at
    the same moment (``Step.together``), so the runs queue in the server's training queue; then
    each looks twice at their place in the line. The tabs close, and the bench waits until every
    job's worker has ended: a closed tab's jobs are stopped by the queue once its session has
    been gone ``server.disconnectedSessionTTL`` + explorer.ui.train.OWNER_MARGIN_S seconds;
  - ``--apps optimise``: every third student opens Inside the network on a conv3 cell, picks a
    conv3 map nobody picked yet on this server (a map somebody optimised already is shown at
    once, with no button) and presses Optimise; the others do the ``app`` visit, and the
    tables show the two groups apart;
  - ``--with-training``: before each class, one more tab opens the Train page
    (``TRAINING_LINK``), presses Start and watches its run (polling its live panel) while the
    class runs; then it stops the run if it is still going and closes.

Printed per step: the latency from the ``BackMsg`` (for a page opened by a link: from opening
the websocket) to the run's ``script_finished`` — median, 95th percentile, max; the errors
(exception elements in the deltas, compile errors, failed image fetches, disconnects and
timeouts, error boxes); and per N the server's CPU time per step, its peak RSS and the peak
RSS of the server with its child processes (job workers, sampled 4 times a second: from /proc,
Linux only).
``--profile FILE`` samples the app's server with py-spy meanwhile and prints where the feature
maps page's runs spend their time. Nothing is asserted: the figures are for people and the README.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import functools
import inspect
import io
import json
import logging
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.proto.WidgetStates_pb2 import WidgetState

from scripts.server import ROOT, Server, running_server

# ----------------------------------------------------------------------------- the visit


@dataclass(frozen=True)
class Step:
    """One thing a student does.

    ``action`` is one of
      - ``open``: load ``target`` (``path?query``) in the tab: a new websocket and session, as
        when a student follows a link (the previous page's session is closed);
      - ``navigate``: click the page whose address is ``target`` in the sidebar;
      - ``select``: choose another option in the selectbox whose key is ``target``;
      - ``draw``: draw a digit of the student's own (random strokes: never seen before) on the
        drawing canvas whose key is ``target``, sent as the canvas component sends it;
      - ``click``: press the button whose key is ``target`` (a one-shot trigger, as st.button's);
      - ``number``: set the number input whose key is ``target`` to a random whole number of its
        range that no tab of this bench has chosen for that key on this server yet;
      - ``look``: run the page shown again, nothing changed (a student looking again).

    ``together``: every student of the class does this step at the same moment (each waits,
    after thinking, until all have got there or given up), as a class told "now press Start".
    """

    name: str
    action: str
    target: str
    avoid: tuple[str, ...] = ()  # select: never choose an option whose label contains one
    together: bool = False


# The scripted visit. Keep it in step with the pages: a missing page or widget key stops the
# bench with a message that names it.
APP_VISIT: tuple[Step, ...] = (
    Step("home", "open", ""),
    Step("share link", "open", "convolution?k=blur_3&pad=1"),
    Step("kernel change", "select", "conv_preset", avoid=("Custom",)),
    Step("feature maps", "navigate", "feature_maps"),
    Step("gallery image", "select", "net_image"),
    Step("gallery image 2", "select", "net_image"),
)
# The yardstick: the same number and kinds of round trips on bench/trivial_app.py.
TRIVIAL_VISIT: tuple[Step, ...] = (
    Step("home", "open", ""),
    Step("share link", "open", "?choice=2"),
    Step("kernel change", "select", "trivial_choice"),
    Step("feature maps", "select", "trivial_choice"),
    Step("gallery image", "select", "trivial_choice"),
    Step("gallery image 2", "select", "trivial_choice"),
)
# Every student draws digits of their own on Feature maps and follows one to Inside: inputs no
# cache has seen, so every run computes the network, its pictures and the arithmetic afresh.
OWN_VISIT: tuple[Step, ...] = (
    Step("home", "open", ""),
    Step("draw page", "open", "feature_maps?w=simplecnn-mnist&in=draw"),
    Step("a digit", "draw", "net_canvas"),
    Step("another digit", "draw", "net_canvas"),
    Step("a third digit", "draw", "net_canvas"),
    Step("inside", "navigate", "inside"),
)
# Every student asks for a tiny training run (pages/train.py; explorer/train_state.py: 200
# images, one epoch, batches of 64) and the class presses Start at once: the runs queue in the
# server's training queue (explorer/ui/train.py job_queue(), one run at a time); then each
# student looks at their place in the line, twice.
START_KEY = "train_run_start"  # explorer/ui/train.py controls()
STOP_KEY = "train_run_stop"
START_VISIT: tuple[Step, ...] = (
    Step("train link", "open", "train?n=200&ep=1&bs=64"),
    Step("start", "click", START_KEY, together=True),
    Step("queue place", "look", ""),
    Step("queue place later", "look", ""),
)
# An optimiser (every third student of --apps optimise): Inside the network on a conv3 cell,
# another conv3 map (explorer/ui/inside_sections.py), and Optimise: the run waits, in the
# script thread, for the heavy queue's worker (explorer/ui/heavy.py Pending.settle).
OPTIMISER_VISIT: tuple[Step, ...] = (
    Step("inside conv3", "open", "inside?stage=conv3&cell=0,3,3"),
    Step("a conv3 map", "number", "in_channel"),
    Step("optimise", "click", "in_maximise"),
)
APPS: dict[str, tuple[str, tuple[Step, ...]]] = {
    "app": ("app.py", APP_VISIT),
    "own": ("app.py", OWN_VISIT),
    "trivial": ("bench/trivial_app.py", TRIVIAL_VISIT),
    "start": ("app.py", START_VISIT),
    "optimise": ("app.py", APP_VISIT),  # the others; the optimisers: SIDE_VISITS
}
# Classes of two kinds of students: app → (the side group's name, its visit, every how many
# students one of them is: student i is in it when i % every == every - 1).
SIDE_VISITS: dict[str, tuple[str, tuple[Step, ...], int]] = {
    "optimise": ("optimisers", OPTIMISER_VISIT, 3),
}
OTHERS = "the others"  # the tables' name for a mixed class's main group
RUN_ALL_APPS = ("app", "own", "trivial")  # bench.run_all's short run: no jobs
JOB_APPS = ("start", "optimise", "own")  # the visits that start jobs (own: integrated gradients)
# --with-training: the run one more tab starts before the class and watches meanwhile (the
# default data and settings, three epochs: about 40 s on an idle 2-core server).
TRAINING_LINK = "train?ep=3"
TRAINING_HEAD_START_S = 5.0  # the run is training (not starting its worker) when the class comes
POLL_STEP = "auto-reruns"  # the row of the fragments' timed reruns
POLL_TIMEOUT_S = 30.0
PACES: dict[str, tuple[float, float]] = {"click": (1.0, 3.0), "read": (5.0, 15.0)}
STEP_TIMEOUT_S = 120.0


class VisitError(Exception):
    """The visit does not fit the app any more (a page or widget key is missing)."""


# ----------------------------------------------------------------------------- the protocol


@dataclass
class PageState:
    """What a browser tab knows from the ``ForwardMsg`` stream of its session.

    ``absorb`` takes each message; it returns True when a script run has ended for good (its
    ``script_finished`` says finished successfully or with a compile error; a run stopped early
    for a rerun is followed by the rerun). A fragment's run (its ``new_session`` names the
    fragments it runs) redraws only the fragment: the rest of the page, its widgets and page
    stay as they were, as in the browser."""

    page_hash: str = ""  # the page the last run showed: the tab asks for it on a widget change
    query_string: str = ""  # what the address bar shows after ?
    pages: dict[str, str] = field(default_factory=dict)  # url path → page_script_hash
    widgets: dict[str, Any] = field(default_factory=dict)  # user key → widget proto, last run
    errors: list[str] = field(default_factory=list)  # exceptions seen since the step began
    media: list[str] = field(default_factory=list)  # image URLs of the last run
    # Large elements the server marked cacheable, by hash: the tab tells the server which it
    # holds, and the server then sends only a reference (``ref_hash``) to them.
    cache: dict[str, bytes] = field(default_factory=dict)
    bytes_received: int = 0
    session_id: str = ""  # the server's id of this tab's session (uploads are addressed to it)
    # Fragments the page asked to have rerun every so often (st.fragment(run_every=…)): fragment
    # id → seconds. A full run forgets them (it asks again for those still wanted), as the
    # browser's timers do.
    auto_reruns: dict[str, float] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)  # info boxes (st.info) since the step began

    def begin_step(self) -> None:
        """Forget the previous step's errors, images and info boxes."""
        self.errors.clear()
        self.media.clear()
        self.said.clear()

    def absorb(self, raw: bytes) -> bool:
        """Update the state from one serialized ``ForwardMsg``; True when the run is over."""
        self.bytes_received += len(raw)
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                self.errors.append(f"a reference to a message the tab never had: {msg.ref_hash}")
                return False
            msg = ForwardMsg()
            msg.ParseFromString(cached)
            kind = msg.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self.cache[msg.hash] = raw
        if kind == "new_session" and msg.metadata.run.fragment_ids:
            pass  # a fragment's run: the rest of the page stays
        elif kind == "new_session":  # every run starts with one
            self.page_hash = msg.new_session.page_script_hash
            self.session_id = msg.new_session.initialize.session_id
            self.widgets.clear()
            self.media.clear()
            self.said.clear()
            self.auto_reruns.clear()
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                self.auto_reruns.pop(fragment_id, None)
        elif kind == "navigation":  # st.navigation says which of its pages this run shows
            self.page_hash = msg.navigation.page_script_hash or self.page_hash
            self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element)
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
            exc = msg.session_event.script_compilation_exception
            self.errors.append(f"compile error {exc.type}: {exc.message}")
        elif kind == "script_finished":
            return msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
        return False

    def _element(self, element: Any) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception" and not element.exception.is_warning:
            self.errors.append(f"{element.exception.type}: {element.exception.message}")
        elif kind == "alert" and element.alert.format == Alert.ERROR:
            self.errors.append(f"error box: {element.alert.body}")
        elif kind == "alert" and element.alert.format == Alert.INFO:
            self.said.append(element.alert.body)
        elif kind == "imgs":
            self.media += [img.url for img in element.imgs.imgs if img.url.startswith("/media/")]
        else:
            widget_id = getattr(getattr(element, kind), "id", "") if kind else ""
            if widget_id.startswith("$$ID-"):  # $$ID-<hash>-<user key>, or -None without one
                key = widget_id.split("-", 2)[2]
                if key != "None":
                    self.widgets[key] = getattr(element, kind)


def rerun_message(
    *,
    page_hash: str = "",
    page_name: str = "",
    query_string: str = "",
    widgets: Sequence[WidgetState] = (),
    cached: Sequence[str] = (),
    fragment_id: str = "",
) -> bytes:
    """A serialized ``BackMsg`` asking for a script run, as the browser sends it: the page (by
    hash, or by address on a page load), the address's query, the widgets the user set and the
    hashes of the messages the tab holds. With ``fragment_id``: that fragment's timed rerun
    (``is_auto_rerun``), as the browser's timer for ``st.fragment(run_every=…)`` sends it."""
    msg = BackMsg()
    msg.rerun_script.query_string = query_string
    msg.rerun_script.page_script_hash = page_hash
    msg.rerun_script.page_name = page_name
    msg.rerun_script.widget_states.widgets.extend(widgets)
    msg.rerun_script.cached_message_hashes.extend(cached)
    if fragment_id:
        msg.rerun_script.fragment_id = fragment_id
        msg.rerun_script.is_auto_rerun = True
    return msg.SerializeToString()


def selectbox_choice(widget: Any, rng: random.Random, avoid: Sequence[str] = ()) -> WidgetState:
    """The state of ``widget`` (a ``Selectbox`` proto) set to a random option other than the
    one it shows and than those whose label contains a string in ``avoid`` (a selectbox's
    value travels as the option's label)."""
    current = widget.raw_value if widget.HasField("raw_value") else None
    if current is None and widget.HasField("default"):
        current = widget.options[widget.default]
    choices = [o for o in widget.options if o != current and not any(a in o for a in avoid)]
    if not choices:
        raise VisitError(f"selectbox {widget.id!r} has no other option to choose")
    return WidgetState(id=widget.id, string_value=rng.choice(choices))


def number_choice(widget: Any, rng: random.Random, taken: Collection[float] = ()) -> WidgetState:
    """The state of ``widget`` (a ``NumberInput`` proto) set to a random whole number of its
    range (``min``…``max``) other than the one it shows and than those in ``taken``: an
    ``int_value`` for a whole-number input, a ``double_value`` for a decimal one, as the
    browser sends them."""
    if not (widget.has_min and widget.has_max):
        raise VisitError(f"number input {widget.id!r} has no range to choose in")
    low, high = math.ceil(widget.min), math.floor(widget.max)
    current = widget.value if widget.set_value else widget.default
    excluded = {*taken, current}
    if high - low <= 100_000:
        choices = [n for n in range(low, high + 1) if n not in excluded]
        if not choices:
            raise VisitError(
                f"number input {widget.id!r} has no whole number left to choose in {low}…{high}"
            )
        value = rng.choice(choices)
    else:  # a wide range: a few numbers excluded, so a random one is almost always free
        while (value := rng.randint(low, high)) in excluded:
            pass
    if widget.data_type == NumberInput.INT:
        return WidgetState(id=widget.id, int_value=value)
    return WidgetState(id=widget.id, double_value=float(value))


def random_digit_png(rng: random.Random, side: int = 280) -> bytes:
    """A 280×280 RGBA PNG of white strokes on black, as the canvas draws: a loop and a tail at
    random places and sizes, so no two students' drawings (or a student's two) are alike."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (side, side), (0, 0, 0, 255))
    pen = ImageDraw.Draw(img)
    cx, cy, r = rng.uniform(100, 180), rng.uniform(80, 140), rng.uniform(30, 60)
    pen.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 255, 255, 255), width=18)
    tail = [(cx + r, cy), (cx + rng.uniform(-40, 40), rng.uniform(200, 260))]
    pen.line(tail, fill=(255, 255, 255, 255), width=18)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def canvas_value(png: bytes) -> str:
    """The drawing canvas's widget state (streamlit-drawable-canvas, a v2 component: its state
    travels as JSON) for a drawing whose pixels are ``png``."""
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    empty = {"objects": [], "background": "#000000"}
    return json.dumps({"drawing": {"raw": empty, "data": url}, "backgroundFit": None})


# ----------------------------------------------------------------------------- a student


@dataclass
class StepResult:
    step: str
    seconds: float | None  # None when the step failed before its run ended
    errors: list[str]
    said: list[str] = field(default_factory=list)  # the info boxes the run showed
    group: str = ""  # the kind of student who did it, in a mixed class ("": the class's visit)


class Tab:
    """One browser tab: a websocket session with the server and what it has shown.

    ``cookies``, when given, is the browser's cookie jar for the server (name → value): sent with
    the websocket's upgrade and every image fetch, and updated from their ``Set-Cookie``
    headers, as a load balancer's stickiness cookie needs (bench/bench_replicas.py).
    ``chosen``: the numbers the tabs on this server have chosen so far, by widget key, shared
    between them (a ``number`` step picks another)."""

    def __init__(
        self,
        server: Server,
        fetch_media: bool,
        cookies: dict[str, str] | None = None,
        *,
        chosen: dict[str, set[float]] | None = None,
    ) -> None:
        self.server = server
        self.fetch_media = fetch_media
        self.cookies = cookies
        self.chosen = chosen if chosen is not None else {}
        self.ws: Any = None
        self.state = PageState()
        self.changed: dict[str, WidgetState] = {}  # widgets this student set on this page

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    def _widget(self, step: Step, what: str) -> Any:
        """The proto of the widget the step acts on, from the last run; VisitError without."""
        widget = self.state.widgets.get(step.target)
        if widget is None:
            raise VisitError(
                f"step {step.name!r}: no {what} with key {step.target!r} on the page "
                f"(keys: {sorted(self.state.widgets)}; errors: {self.state.errors})"
            )
        return widget

    def _rerun(self, change: WidgetState | None = None) -> bytes:
        """The request to run the page shown again with the widgets this student set (and
        ``change``, a one-shot trigger that is not kept)."""
        widgets = [*self.changed.values(), *([change] if change is not None else [])]
        return rerun_message(
            page_hash=self.state.page_hash,
            query_string=self.state.query_string,
            widgets=widgets,
            cached=list(self.state.cache),
        )

    async def do(self, step: Step, rng: random.Random) -> StepResult:
        """Carry out ``step``; time it from the request to the run's end."""
        self.state.begin_step()
        start = time.perf_counter()
        try:
            if step.action == "open":
                await self.close()
                self.state, self.changed = PageState(), {}
                start = time.perf_counter()  # opening the websocket is part of a page load
                self.ws = await websockets.connect(
                    self.server.ws_url,
                    subprotocols=["streamlit"],
                    max_size=None,
                    additional_headers=cookie_header(self.cookies),
                )
                if self.cookies is not None:
                    keep_cookies(self.cookies, self.ws.response.headers.get_all("Set-Cookie"))
                path, _, query = step.target.partition("?")
                self.state.query_string = query  # the address bar shows the link opened
                request = rerun_message(page_name=path, query_string=query)
            elif step.action == "navigate":
                if step.target not in self.state.pages:
                    raise VisitError(
                        f"step {step.name!r}: no page {step.target!r} in the app's navigation "
                        f"(pages: {sorted(self.state.pages)})"
                    )
                self.changed = {}
                request = rerun_message(
                    page_hash=self.state.pages[step.target], cached=list(self.state.cache)
                )
            elif step.action == "select":
                widget = self._widget(step, "widget")
                self.changed[step.target] = selectbox_choice(widget, rng, step.avoid)
                request = self._rerun()
            elif step.action == "draw":
                widget = self._widget(step, "canvas")
                self.changed[step.target] = WidgetState(
                    id=widget.id, json_value=canvas_value(random_digit_png(rng))
                )
                request = self._rerun()
            elif step.action == "number":
                widget = self._widget(step, "number input")
                taken = self.chosen.setdefault(step.target, set())
                choice = number_choice(widget, rng, taken)
                taken.add(getattr(choice, choice.WhichOneof("value") or "int_value"))
                self.changed[step.target] = choice
                request = self._rerun()
            elif step.action == "click":
                widget = self._widget(step, "button")
                if widget.disabled:
                    raise VisitError(f"step {step.name!r}: the button {step.target!r} is disabled")
                # A trigger is true for one run only (st.button): it is never sent again.
                request = self._rerun(WidgetState(id=widget.id, trigger_value=True))
            elif step.action == "look":
                request = self._rerun()
            else:
                raise VisitError(f"step {step.name!r}: unknown action {step.action!r}")
            await self.ws.send(request)
            await asyncio.wait_for(self._until_finished(), STEP_TIMEOUT_S)
            seconds = time.perf_counter() - start
        except VisitError:
            raise
        except TimeoutError:
            return StepResult(step.name, None, [f"timeout after {STEP_TIMEOUT_S:.0f} s"])
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            return StepResult(step.name, None, [f"disconnected: {exc!r}"])
        errors = list(self.state.errors)
        if not errors:
            self._check_landed(step)
        if self.fetch_media:
            errors += await self._fetch_media(self.state.media)
        return StepResult(step.name, seconds, errors, list(self.state.said))

    async def idle(self, seconds: float, until: asyncio.Event | None = None) -> list[StepResult]:
        """Think for ``seconds`` (or, with ``until``, until it is set), meanwhile rerunning each
        fragment the page asked to have rerun every so often, as the browser's timers do: one
        result (``POLL_STEP``) per rerun. A rerun's wait counts in the think time."""
        deadline = time.monotonic() + seconds
        polls: list[StepResult] = []

        def over() -> bool:
            return until.is_set() if until is not None else time.monotonic() >= deadline

        while not over():
            if self.ws is None or not self.state.auto_reruns:
                if until is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(until.wait(), 0.25)
                    continue
                await asyncio.sleep(max(0.0, deadline - time.monotonic()))
                break
            interval = min(self.state.auto_reruns.values())
            if until is None and time.monotonic() + interval >= deadline:
                await asyncio.sleep(max(0.0, deadline - time.monotonic()))
                break
            await asyncio.sleep(interval)
            if over():
                break
            for fragment_id in list(self.state.auto_reruns):
                polls.append(await self._auto_rerun(fragment_id))
                if polls[-1].seconds is None:
                    return polls  # the tab is broken
        return polls

    async def _auto_rerun(self, fragment_id: str) -> StepResult:
        """One timed rerun of a fragment, timed from the request to its run's end."""
        self.state.begin_step()
        start = time.perf_counter()
        request = rerun_message(
            page_hash=self.state.page_hash,
            query_string=self.state.query_string,
            widgets=list(self.changed.values()),
            cached=list(self.state.cache),
            fragment_id=fragment_id,
        )
        try:
            await self.ws.send(request)
            await asyncio.wait_for(self._until_finished(), POLL_TIMEOUT_S)
        except TimeoutError:
            return StepResult(
                POLL_STEP, None, [f"no answer to an auto-rerun in {POLL_TIMEOUT_S:.0f} s"]
            )
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            return StepResult(POLL_STEP, None, [f"disconnected: {exc!r}"])
        seconds = time.perf_counter() - start
        errors = list(self.state.errors)
        if self.fetch_media:
            errors += await self._fetch_media(self.state.media)
        return StepResult(POLL_STEP, seconds, errors, list(self.state.said))

    def _check_landed(self, step: Step) -> None:
        """Raise VisitError when a run without errors shows another page than the step meant
        (the visit would time the wrong page without noticing)."""
        if step.action == "navigate" and self.state.page_hash != self.state.pages[step.target]:
            raise VisitError(f"step {step.name!r}: the run showed another page than {step.target}")
        if step.action in ("select", "number") and step.target not in self.state.widgets:
            raise VisitError(
                f"step {step.name!r}: after the choice the page no longer shows {step.target!r} "
                f"(keys: {sorted(self.state.widgets)})"
            )

    async def _until_finished(self) -> None:
        while not self.state.absorb(await self.ws.recv()):
            pass

    async def _fetch_media(self, urls: Sequence[str]) -> list[str]:
        """GET each image as the browser does after the run; one error per failed fetch."""
        paths = list(dict.fromkeys(urls))
        statuses = await http_get_statuses(self.server.url, paths, self.cookies)
        return [f"GET {p}: HTTP {s}" for p, s in zip(paths, statuses, strict=True) if s != 200]


def cookie_header(cookies: dict[str, str] | None) -> dict[str, str]:
    """The ``Cookie`` request header for a jar; no header for none or an empty one."""
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}


def keep_cookies(cookies: dict[str, str], set_cookie_values: Sequence[str]) -> None:
    """Put each ``Set-Cookie`` header's name and value in the jar (attributes ignored)."""
    for header in set_cookie_values:
        name, _, rest = header.partition("=")
        cookies[name.strip()] = rest.split(";", 1)[0].strip()


async def http_get_statuses(
    base_url: str, paths: Sequence[str], cookies: dict[str, str] | None = None
) -> list[int]:
    """The status code of an HTTP/1.1 GET of each path, one after another over a kept-alive
    connection as a browser's (a new one when the server closes it); bodies are dropped. With a
    cookie jar, its cookies are sent and the responses' ``Set-Cookie`` headers kept in it."""
    host = urlsplit(base_url)
    head = f"Host: {host.netloc}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in cookie_header(cookies).items()
    )
    statuses: list[int] = []
    reader = writer = None
    try:
        for path in paths:
            if writer is None:
                reader, writer = await asyncio.open_connection(host.hostname, host.port)
            writer.write(f"GET {path} HTTP/1.1\r\n{head}\r\n".encode())
            await writer.drain()
            status, keep_alive = await _read_response(reader, cookies)
            statuses.append(status)
            if not keep_alive:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()
    return statuses


async def _read_response(
    reader: asyncio.StreamReader, cookies: dict[str, str] | None = None
) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; (its status, whether the connection stays open). Its
    ``Set-Cookie`` headers go into ``cookies`` when a jar is given."""
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if cookies is not None and name.strip().lower() == "set-cookie":
            keep_cookies(cookies, [value.strip()])
        headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)  # the chunk and its CRLF
        await reader.readline()  # the CRLF after the last, empty chunk
    else:  # the body runs to the end of the connection
        while await reader.read(65536):
            pass
        return status, False
    return status, headers.get("connection") != "close"


class Together:
    """Where the students of a class meet to do a step at the same moment: ``arrive`` returns
    once every one of them has arrived or left (a student whose tab broke before leaves, so
    nobody waits for them)."""

    def __init__(self, students: int) -> None:
        self.missing = students
        self.everyone = asyncio.Event()
        if students <= 0:
            self.everyone.set()

    def leave(self) -> None:
        self.missing -= 1
        if self.missing <= 0:
            self.everyone.set()

    async def arrive(self) -> None:
        self.leave()
        await self.everyone.wait()


async def student(
    server: Server,
    visit: Sequence[Step],
    pace: tuple[float, float],
    rng: random.Random,
    fetch_media: bool = True,
    start_delay: float = 0.0,
    *,
    chosen: dict[str, set[float]] | None = None,
    together: dict[str, Together] | None = None,
    group: str = "",
) -> list[StepResult]:
    """One student's visit, thinking between clicks; the tab closes at the end. ``together``:
    the class's meeting point of each ``Step.together`` step, by step name (none: nobody to
    wait for). Each result is marked with ``group``; the fragments' timed reruns while the
    student thinks are among the results too (``POLL_STEP``)."""
    await asyncio.sleep(start_delay)
    tab = Tab(server, fetch_media, chosen=chosen)
    meetings = dict(together or {})
    results: list[StepResult] = []
    try:
        for i, step in enumerate(visit):
            if i:
                polls = await tab.idle(rng.uniform(*pace))
                results += polls
                if polls and polls[-1].seconds is None:
                    break
            if step.together and step.name in meetings:
                await meetings.pop(step.name).arrive()
            result = await tab.do(step, rng)
            results.append(result)
            if result.seconds is None:  # the tab is broken: the student gives up
                break
    finally:
        for meeting in meetings.values():  # not met: nobody waits for this student there
            meeting.leave()
        with contextlib.suppress(Exception):
            await tab.close()
    for result in results:
        result.group = group
    return results


# ----------------------------------------------------------------------------- the server


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_bytes(pid: int) -> dict[str, int]:
    """The process's resident memory now (``VmRSS``) and at its peak (``VmHWM``), in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) * 1024
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process under it (children, their children, …), from
    /proc/PID/task/*/children; processes that end meanwhile are left out."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in task.read_text().split()]
    return found


def is_job_worker(pid: int) -> bool:
    """Whether the process is a worker of explorer.jobs at work (a child started by
    multiprocessing's "spawn", not its resource tracker, and not a worker waiting for a job:
    the queues keep one warm, named ``WAITING_NAME``)."""
    from explorer.jobs import WAITING_NAME

    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return b"spawn_main" in command and name != WAITING_NAME


def tree_memory(pid: int) -> tuple[int, int]:
    """(The resident memory of ``pid`` and every process under it, in bytes; how many of those
    are job workers at work.) Pages shared between them are counted once per process."""
    total, workers = 0, 0
    for each in process_tree(pid):
        try:
            total += memory_bytes(each).get("VmRSS", 0)
        except OSError:
            continue  # ended meanwhile
        workers += each != pid and is_job_worker(each)
    return total, workers


def job_grace_s(options: dict[str, str]) -> float:
    """How long after a tab closes the training queue stops its jobs, at the latest: the
    session's reconnect window (``server.disconnectedSessionTTL``, from ``options`` or
    .streamlit/config.toml), explorer.ui.train's margin and the queue's look every few seconds,
    and the worker's time to end after a stop."""
    import tomllib

    from explorer.jobs import JobQueue

    logging.disable(logging.WARNING)  # Streamlit's "no runtime" warnings, imported outside one
    try:
        from explorer.ui.train import OWNER_CHECK_S, OWNER_MARGIN_S
    finally:
        logging.disable(logging.NOTSET)

    ttl = options.get("server.disconnectedSessionTTL")
    if ttl is None:
        config = ROOT / ".streamlit" / "config.toml"
        server = tomllib.loads(config.read_text()).get("server", {}) if config.exists() else {}
        ttl = server.get("disconnectedSessionTTL", 120)
    stop_grace = inspect.signature(JobQueue).parameters["stop_grace_s"].default
    return float(ttl) + OWNER_MARGIN_S + OWNER_CHECK_S + stop_grace


def reset_peak_rss(pid: int) -> bool:
    """Start the process's peak RSS afresh (Linux ≥ 4.0); False when not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@dataclass
class LoadResult:
    app: str
    students: int
    steps: list[StepResult]
    wall_s: float
    cpu_s: float
    peak_rss: int
    rss_before: int
    rss_after: int
    side: int = 0  # students of SIDE_VISITS[app]'s group (the others do the app's visit)
    peak_tree_rss: int = 0  # the server and its child processes together (sampled)
    peak_workers: int = 0  # the most job workers seen at once
    # After the class: seconds from the last tab's close until no job worker was left (0: none
    # was left), None: some were still running when the bench stopped waiting.
    workers_gone_s: float | None = 0.0
    workers_left: int = 0  # job workers still running then


async def run_class(
    server: Server,
    app: str,
    visit: Sequence[Step],
    students: int,
    pace: tuple[float, float],
    seed: int = 0,
    ramp_s: float = 3.0,
    fetch_media: bool = True,
    *,
    chosen: dict[str, set[float]] | None = None,
    jobs_grace_s: float = 0.0,
    other_workers: int = 0,
) -> LoadResult:
    """``students`` visits at once (each starting within ``ramp_s``); the server's CPU time
    and peak memory over them. Raises VisitError when the visit does not fit the app. A class
    of ``SIDE_VISITS[app]`` has every n-th student do the side group's visit instead. When the
    class has left job workers running, the memory sampling goes on until they end, at most
    ``jobs_grace_s`` seconds after the class's end; ``other_workers`` are not the class's
    (the --with-training tab's run), and nobody waits for them."""
    side_name, side_visit, every = SIDE_VISITS.get(app, ("", (), 0))
    kinds = [
        (side_name, side_visit) if every and i % every == every - 1 else ("", visit)
        for i in range(students)
    ]
    meet = collections.Counter(s.name for _, steps in kinds for s in steps if s.together)
    together = {name: Together(n) for name, n in meet.items()}
    rngs = [random.Random(f"{seed}-{app}-{students}-{i}") for i in range(students)]
    peak_ok = reset_peak_rss(server.pid)
    rss_before = memory_bytes(server.pid)["VmRSS"]
    peak = rss_before
    peak_tree, peak_workers = tree_memory(server.pid)
    cpu0, t0 = cpu_seconds(server.pid), time.perf_counter()
    tasks = [
        asyncio.create_task(
            student(
                server,
                steps,
                pace,
                rng,
                fetch_media,
                rng.uniform(0, ramp_s),
                chosen=chosen,
                together={s.name: together[s.name] for s in steps if s.together},
                group=group,
            )
        )
        for rng, (group, steps) in zip(rngs, kinds, strict=True)
    ]
    while not all(t.done() for t in tasks):  # sample memory too, in case VmHWM can't be reset
        await asyncio.wait(tasks, timeout=0.25)
        peak = max(peak, memory_bytes(server.pid)["VmRSS"])
        tree, workers = tree_memory(server.pid)
        peak_tree, peak_workers = max(peak_tree, tree), max(peak_workers, workers)
    wall, cpu = time.perf_counter() - t0, cpu_seconds(server.pid) - cpu0
    mem = memory_bytes(server.pid)
    if peak_ok:
        peak = max(peak, mem["VmHWM"])
    results = [r for t in tasks for r in t.result()]  # re-raises a VisitError
    closed = time.perf_counter()
    workers_gone_s: float | None = 0.0
    while (now := tree_memory(server.pid))[1] > other_workers:
        peak_tree = max(peak_tree, now[0])
        if time.perf_counter() - closed > jobs_grace_s:
            workers_gone_s = None
            break
        await asyncio.sleep(0.25)
        workers_gone_s = time.perf_counter() - closed
    return LoadResult(
        app,
        students,
        results,
        wall,
        cpu,
        peak,
        rss_before,
        mem["VmRSS"],
        side=sum(bool(group) for group, _ in kinds),
        peak_tree_rss=peak_tree,
        peak_workers=peak_workers,
        workers_gone_s=workers_gone_s,
        workers_left=now[1] - other_workers,
    )


# ----------------------------------------------------------------------------- reporting


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between the sorted values."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def step_rows(result: LoadResult, visit: Sequence[Step], group: str = "") -> list[dict]:
    """One row per step of the visit (of ``group``'s students in a mixed class), then one for
    all its steps together, then one for the fragments' timed reruns when there were any."""
    rows = []
    names = [s.name for s in visit]
    mine = [r for r in result.steps if r.group == group]
    students = result.side if group else result.students - result.side
    label = f"{result.app} ({group or OTHERS})" if result.side else result.app
    polls = [r for r in mine if r.step == POLL_STEP]
    for name in [*names, "all steps", *([POLL_STEP] if polls else [])]:
        if name == "all steps":
            picked = [r for r in mine if r.step != POLL_STEP]
        else:
            picked = [r for r in mine if r.step == name]
        times = [r.seconds for r in picked if r.seconds is not None]
        expected = students * (len(names) if name == "all steps" else 1)
        # every error, and each step a student never reached (its tab broke before)
        unreached = 0 if name == POLL_STEP else expected - len(picked)
        rows.append(
            {
                "app": label,
                "students": result.students,
                "step": name,
                "runs": len(times),
                "median_ms": 1000 * statistics.median(times) if times else float("nan"),
                "p95_ms": 1000 * percentile(times, 95) if times else float("nan"),
                "max_ms": 1000 * max(times) if times else float("nan"),
                "errors": sum(len(r.errors) for r in picked) + unreached,
            }
        )
    return rows


def class_rows(result: LoadResult) -> list[dict]:
    """The step rows of a class: its visit's, then (a mixed class) the side group's."""
    rows = step_rows(result, APPS[result.app][1])
    if result.side:
        side_name, side_visit, _ = SIDE_VISITS[result.app]
        rows += step_rows(result, side_visit, side_name)
    return rows


def summary_row(result: LoadResult) -> dict:
    """The server's side of one run: CPU per step and memory."""
    steps = max(1, sum(r.seconds is not None for r in result.steps))
    return {
        "app": result.app,
        "students": result.students,
        "steps": steps,
        "cpu_ms_per_step": 1000 * result.cpu_s / steps,
        "cpu_busy": result.cpu_s / result.wall_s,
        "peak_rss_mb": result.peak_rss / 2**20,
        "rss_before_mb": result.rss_before / 2**20,
        "rss_after_mb": result.rss_after / 2**20,
        "wall_s": result.wall_s,
        "peak_tree_rss_mb": result.peak_tree_rss / 2**20,
        "peak_workers": result.peak_workers,
        "workers_gone_s": result.workers_gone_s,
        "workers_left": result.workers_left,
    }


def print_markdown(step_table: list[dict], server_table: list[dict]) -> None:
    """The README's tables: latency per step, then the server's cost per run."""
    print(
        "\n| students | step | app median / p95 / max (ms) | trivial median / p95 / max (ms) "
        "| errors app / trivial |"
    )
    print("| ---: | --- | --- | --- | --- |")
    by_key = {(r["app"], r["students"], r["step"]): r for r in step_table}
    fmt = "{median_ms:,.0f} / {p95_ms:,.0f} / {max_ms:,.0f}".format
    visits = [r for r in step_table if r["app"] != "trivial"] or step_table
    for app, n, step in dict.fromkeys((r["app"], r["students"], r["step"]) for r in visits):
        a, t = by_key.get((app, n, step)), by_key.get(("trivial", n, step))
        label = step if app in ("app", "trivial") else f"{app}: {step}"
        print(
            f"| {n} | {label} | {fmt(**a) if a else '—'} | {fmt(**t) if t else '—'} "
            f"| {a['errors'] if a else '—'} / {t['errors'] if t else '—'} |"
        )
    print(
        "\n| students | app | server CPU per step | CPU busy | peak RSS | RSS after "
        "| peak RSS with workers | workers at once |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in server_table:
        print(
            f"| {r['students']} | {r['app']} | {r['cpu_ms_per_step']:,.0f} ms "
            f"| {r['cpu_busy']:.0%} | {r['peak_rss_mb']:,.0f} MB | {r['rss_after_mb']:,.0f} MB "
            f"| {r['peak_tree_rss_mb']:,.0f} MB | {r['peak_workers']} |"
        )


def jobs_line(result: LoadResult, grace_s: float) -> str:
    """What became of the job workers after the class: gone (when), or still running."""
    head = f"{result.app} N={result.students}: job workers"
    if result.workers_gone_s is None:
        return (
            f"{head}: {result.workers_left} still running {grace_s:.0f} s after the class's "
            "tabs closed (the queue should have stopped their jobs by then)"
        )
    if result.peak_workers == 0 and result.workers_gone_s == 0:
        return f"{head}: none"
    return (
        f"{head}: at most {result.peak_workers} at once; none left "
        f"{result.workers_gone_s:.0f} s after the class's tabs closed (a closed tab's jobs are "
        f"stopped within {grace_s:.0f} s)"
    )


QUEUE_PLACE = re.compile(r"Waiting: (\d[\d,]*)")  # explorer/ui/train.py status_line()


def queue_places(result: LoadResult) -> dict[str, list[int]]:
    """The places in the training queue that each step's runs showed (by step name): from the
    status line's info box, "Waiting: N in the queue"."""
    places: dict[str, list[int]] = {}
    for step in result.steps:
        for text in step.said:
            if found := QUEUE_PLACE.search(text):
                places.setdefault(step.step, []).append(int(found[1].replace(",", "")))
    return places


def print_errors(results: Sequence[LoadResult], limit: int = 8) -> None:
    """The distinct error messages, most frequent first."""
    counts: dict[str, int] = {}
    for result in results:
        for step in result.steps:
            for error in step.errors:
                key = f"{result.app} / {step.step}: {error[:200]}"
                counts[key] = counts.get(key, 0) + 1
    if counts:
        print("\nErrors:")
        for text, n in sorted(counts.items(), key=lambda kv: -kv[1])[:limit]:
            print(f"  {n}× {text}")


# ----------------------------------------------------------------------------- profiling


@contextlib.contextmanager
def sampled(pid: int, output: Path | None, rate: int = 50) -> Iterator[None]:
    """While the block runs, sample the process's Python stacks with py-spy (every thread that
    is running, without pausing it) into ``output`` as collapsed stacks; nothing when None."""
    if output is None:
        yield
        return
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install -r requirements-dev.txt)")
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw"]
    process = subprocess.Popen(
        [*command, "--nonblocking", "--nolineno", "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        _, err = process.communicate(timeout=60)
        if not output.exists():
            raise RuntimeError(f"py-spy wrote no profile: {err.decode(errors='replace')}")


def top_costs(collapsed: str, within: str, limit: int = 20) -> list[tuple[str, int, int]]:
    """From py-spy's collapsed stacks (``frame;frame;… count`` a line), what the code under
    the first frame containing ``within`` spent its samples on (every frame when ``within`` is
    ""): (function, samples in it or below, samples in it alone), most first. The frame that
    contains ``within`` itself comes first, with the total."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        start = next((i for i, f in enumerate(frames) if within in f), None)
        if not count.isdigit() or start is None:
            continue
        for frame in set(frames[start:]):
            inclusive[frame] = inclusive.get(frame, 0) + int(count)
        own[frames[-1]] = own.get(frames[-1], 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:limit]
    return [(frame, n, own.get(frame, 0)) for frame, n in ranked]


def print_profile(path: Path, within: str, runs: int) -> None:
    """The top costs of the runs of ``within`` (a page's file name) in the profile at path,
    then what the whole server spent its samples on (its own frames: the event loop's sending
    and the media server's too)."""
    collapsed = path.read_text()
    rows = top_costs(collapsed, within)
    if not rows:
        print(f"\nNo samples passed through {within} in {path}")
        return
    total = rows[0][1]
    print(
        f"\nWhere the time of {within}'s runs goes ({total} samples, {runs} runs; {path}):\n"
        "  share   own   function (file)"
    )
    for frame, n, alone in rows:
        print(f"  {n / total:5.0%} {alone / total:5.0%}   {frame}")
    everything = top_costs(collapsed, "", limit=10**9)
    whole = sum(alone for _, _, alone in everything)
    print(f"\nThe whole server's own costs ({whole} samples of running threads):")
    for frame, _, alone in sorted(everything, key=lambda row: -row[2])[:12]:
        print(f"  {alone / whole:5.0%}   {frame}")


# ----------------------------------------------------------------------------- the runs


@contextlib.contextmanager
def warm_server(
    app: str,
    options: dict[str, str],
    pace: tuple[float, float],
    cold: bool = False,
    chosen: dict[str, set[float]] | None = None,
) -> Iterator[Server]:
    """The app's server after one complete visit of each kind of student (imports, models,
    caches: not measured; the jobs a visit started ended; the server at rest again), or just
    started when ``cold`` (the class arrives at a server nobody has visited yet). ``chosen``:
    the numbers the warm-up's tabs chose (the class picks others). Raises VisitError, with the
    reason, when a visit does not fit the app."""
    script, visit = APPS[app]
    visits = [visit, *([SIDE_VISITS[app][1]] if app in SIDE_VISITS else [])]
    # The app as `make run` and the image start it: torch imported before the port opens.
    with running_server(script, options=options, warm=script == "app.py") as server:
        if cold:
            print(f"{app}: cold: the class is the server's first visitors", flush=True)
            yield server
            return
        for each in visits:
            t0 = time.perf_counter()
            steps = asyncio.run(
                student(server, each, (0.0, 0.0), random.Random("warm"), chosen=chosen)
            )
            done = [s for s in steps if s.step != POLL_STEP]
            failed = [f"{s.step}: {s.errors}" for s in steps if s.errors or s.seconds is None]
            if failed or len(done) < len(each):
                raise VisitError(f"the warm-up visit of {app} failed: {failed}")
            print(
                f"{app}: warm-up visit {time.perf_counter() - t0:.1f} s "
                f"({', '.join(f'{s.step} {s.seconds:.2f}' for s in done)})",
                flush=True,
            )
        wait_for_workers(server.pid, job_grace_s(options) if tree_memory(server.pid)[1] else 0)
        settled = wait_until_quiet(server.pid)
        print(f"{app}: server quiet after {settled:.1f} s (its start-up work done)", flush=True)
        yield server


QUIET_CPU = 0.05  # the server is at rest below this share of a core …
QUIET_S = 1.0  # … over this long


def wait_until_quiet(pid: int, longest_s: float = 60.0) -> float:
    """Wait until the server uses under QUIET_CPU of a core over QUIET_S (the gallery's
    pictures it warms after its first visit, explorer/ui/warm.py, are done: a class arrives
    minutes after the server starts, not seconds), at most ``longest_s``; the seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < longest_s:
        cpu0 = cpu_seconds(pid)
        time.sleep(QUIET_S)
        if cpu_seconds(pid) - cpu0 < QUIET_CPU * QUIET_S:
            break
    return time.monotonic() - began


def wait_for_workers(pid: int, longest_s: float) -> bool:
    """Wait until the server has no job worker left, at most ``longest_s`` seconds; whether
    none is left."""
    deadline = time.monotonic() + longest_s
    while tree_memory(pid)[1]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


@dataclass
class Training:
    """The --with-training tab's story: its steps, its live panel's timed reruns, and whether
    its run was still going when the class ended."""

    steps: list[StepResult] = field(default_factory=list)
    polls: list[StepResult] = field(default_factory=list)
    running_at_end: bool = False
    worker_ended: bool = True  # its worker was gone soon after (stopped, or done before)

    def line(self) -> str:
        ok = [p.seconds for p in self.polls if p.seconds is not None]
        errors = sum(len(s.errors) for s in [*self.steps, *self.polls])
        steps = ", ".join(
            f"{s.step} {s.seconds:.2f} s" if s.seconds is not None else f"{s.step} failed"
            for s in self.steps
        )
        polls = (
            f"{len(ok)} live-panel reruns, median {1000 * statistics.median(ok):.0f} ms, "
            f"p95 {1000 * percentile(ok, 95):.0f} ms"
            if ok
            else "no live-panel reruns"
        )
        end = (
            "still training at the class's end (stopped then)"
            if self.running_at_end
            else "its run had ended before the class did"
        )
        if not self.worker_ended:
            end += "; ITS WORKER WAS STILL RUNNING afterwards"
        return f"training tab ({TRAINING_LINK}): {steps}; {polls}; {errors} errors; {end}"


async def beside_training(
    server: Server, fetch_media: bool, class_run: Callable[..., Awaitable[LoadResult]]
) -> tuple[LoadResult, Training]:
    """``class_run`` while one more tab trains a network: it opens ``TRAINING_LINK``, presses
    Start and watches the run (its live panel reruns every second) from
    ``TRAINING_HEAD_START_S`` before the class until the class ends; then it stops the run if
    it is still going, and closes. ``class_run`` is told how many job workers are the
    training tab's (``other_workers``), so that it does not wait for them."""
    tab, rng, story = Tab(server, fetch_media), random.Random("training"), Training()
    try:
        for step in (Step("train page", "open", TRAINING_LINK), Step("start", "click", START_KEY)):
            story.steps.append(await tab.do(step, rng))
            if story.steps[-1].seconds is None:
                raise VisitError(f"the training tab could not start its run: {story.steps}")
        story.polls += await tab.idle(TRAINING_HEAD_START_S)
        ended = asyncio.Event()
        watching = asyncio.create_task(tab.idle(math.inf, until=ended))
        try:
            result = await class_run(other_workers=min(1, tree_memory(server.pid)[1]))
        finally:
            ended.set()
            story.polls += await watching
        story.steps.append(await tab.do(Step("at the class's end", "look", ""), rng))
        stop = tab.state.widgets.get(STOP_KEY)
        story.running_at_end = stop is not None and not stop.disabled
        if story.running_at_end:
            story.steps.append(await tab.do(Step("stop", "click", STOP_KEY), rng))
    finally:
        with contextlib.suppress(Exception):
            await tab.close()
    return result, story


def measure(
    students: Sequence[int],
    apps: Sequence[str],
    pace: tuple[float, float],
    options: dict[str, str],
    seed: int = 0,
    fetch_media: bool = True,
    profile: Path | None = None,
    cold: bool = False,
    with_training: bool = False,
) -> tuple[list[dict], list[dict], list[LoadResult]]:
    """Run every class size against every app; the step and server tables. With ``profile``,
    the app's server is sampled by py-spy during its runs (not the warm-up) into that file.
    ``with_training``: one more tab trains a network during each class of app.py
    (:func:`beside_training`). After each class the bench waits until the jobs it left have
    ended (for as long as the queue takes to stop a closed tab's jobs, at most)."""
    step_table, server_table, results = [], [], []
    grace = job_grace_s(options) if with_training or set(apps) & set(JOB_APPS) else 0.0
    for app in apps:
        chosen: dict[str, set[float]] = {}  # the numbers chosen on this app's server
        with warm_server(app, options, pace, cold, chosen) as server:
            for n in students:
                a_class = functools.partial(
                    run_class,
                    server,
                    app,
                    APPS[app][1],
                    n,
                    pace,
                    seed,
                    fetch_media=fetch_media,
                    chosen=chosen,
                    jobs_grace_s=grace,
                )
                training = with_training and APPS[app][0] == "app.py"
                with sampled(server.pid, profile if app != "trivial" else None):
                    if training:
                        result, story = asyncio.run(beside_training(server, fetch_media, a_class))
                        story.worker_ended = wait_for_workers(server.pid, grace)
                    else:
                        result = asyncio.run(a_class())
                results.append(result)
                rows = class_rows(result)
                step_table += rows
                server_table.append(summary_row(result))
                r = server_table[-1]
                every = next(row for row in rows if row["step"] == "all steps")
                print(
                    f"{app} N={n}: {r['wall_s']:.0f} s, all steps median "
                    f"{every['median_ms']:.0f} ms p95 {every['p95_ms']:.0f} ms,"
                    f" {every['errors']} errors, CPU {r['cpu_ms_per_step']:.0f} ms/step,"
                    f" peak RSS {r['peak_rss_mb']:.0f} MB (with workers "
                    f"{r['peak_tree_rss_mb']:.0f} MB)",
                    flush=True,
                )
                if training:
                    print(story.line(), flush=True)
                if result.peak_workers or result.workers_gone_s != 0:
                    mine = " (the training tab's among them, not waited for)" if training else ""
                    print(jobs_line(result, grace) + mine, flush=True)
                for step, places in queue_places(result).items():
                    print(
                        f"{app} N={n}: {step}: {len(places)} runs showed a place in the queue "
                        f"({min(places)}–{max(places)})",
                        flush=True,
                    )
    return step_table, server_table, results


async def soak(
    server: Server,
    app: str,
    students: int,
    minutes: float,
    pace: tuple[float, float],
    every_s: float = 30.0,
    report: Callable[[str], None] | None = None,
) -> list[dict]:
    """``students`` students repeating the visit (a new session each time) for ``minutes``;
    report the server's memory every ``every_s`` seconds. One row per report."""
    report = report or functools.partial(print, flush=True)
    visit = APPS[app][1]
    deadline = time.monotonic() + 60 * minutes
    done = {"visits": 0, "errors": 0}

    async def loop(i: int) -> None:
        rng = random.Random(f"soak-{i}")
        while time.monotonic() < deadline:
            steps = await student(server, visit, pace, rng, start_delay=rng.uniform(0, 3))
            done["visits"] += 1
            reached = sum(s.step != POLL_STEP for s in steps)
            done["errors"] += sum(len(s.errors) for s in steps) + len(visit) - reached

    rows: list[dict] = []
    t0, cpu0 = time.monotonic(), cpu_seconds(server.pid)
    tasks = [asyncio.create_task(loop(i)) for i in range(students)]
    report("minutes  visits  errors  RSS (MB)  CPU busy")
    while not all(t.done() for t in tasks):
        await asyncio.wait(tasks, timeout=every_s)
        elapsed = time.monotonic() - t0
        row = {
            "minutes": elapsed / 60,
            **done,
            "rss_mb": memory_bytes(server.pid)["VmRSS"] / 2**20,
            "cpu_busy": (cpu_seconds(server.pid) - cpu0) / elapsed,
        }
        rows.append(row)
        report(
            f"{row['minutes']:7.1f} {row['visits']:7d} {row['errors']:7d} {row['rss_mb']:9.0f}"
            f" {row['cpu_busy']:9.0%}"
        )
    for task in tasks:
        task.result()
    return rows


def run() -> list[dict]:
    """Measure N = 1 and 10 at click pace (for bench.run_all: a short run), print the tables
    and return their rows."""
    steps, server_rows, results = measure([1, 10], list(RUN_ALL_APPS), PACES["click"], {})
    print_markdown(steps, server_rows)
    print_errors(results)
    return steps + server_rows


def parse_options(pairs: Sequence[str]) -> dict[str, str]:
    """``section.name=value`` pairs → server flags."""
    options = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--option wants section.name=value, not {pair!r}")
        options[name] = value
    return options


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", default="1,10,30,60", help="class sizes, e.g. 1,10,30")
    parser.add_argument(
        "--apps",
        default="app,trivial",
        help="visits: app, own (every student draws), trivial, start (every student presses "
        "Start on the Train page at once), optimise (every third student optimises an input "
        "for a conv3 map on Inside the network; the others do the app visit)",
    )
    parser.add_argument(
        "--with-training",
        action="store_true",
        help=f"one more tab trains a network ({TRAINING_LINK}) during each class of app.py",
    )
    parser.add_argument("--pace", choices=PACES, default="click")
    parser.add_argument("--minutes", type=float, help="soak: repeat visits this long")
    parser.add_argument("--option", action="append", default=[], help="server flag name=value")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-media", action="store_true", help="don't fetch /media images")
    parser.add_argument(
        "--cold", action="store_true", help="no warm-up visit: the class meets a new server"
    )
    parser.add_argument(
        "--profile", type=Path, help="py-spy the app's server into this file (collapsed stacks)"
    )
    args = parser.parse_args(argv)
    students = [int(n) for n in args.students.split(",")]
    apps = args.apps.split(",")
    unknown = [app for app in apps if app not in APPS]
    if unknown:
        parser.error(f"no visit called {', '.join(unknown)} (visits: {', '.join(APPS)})")
    options = parse_options(args.option)
    pace = PACES[args.pace]
    print(
        f"pace {args.pace} ({pace[0]:g}–{pace[1]:g} s between clicks), server options "
        f"{options or 'from .streamlit/config.toml'}, {os.cpu_count()} CPUs",
        flush=True,
    )
    try:
        if args.minutes:
            with warm_server(apps[0], options, pace) as server:
                rows = asyncio.run(soak(server, apps[0], students[0], args.minutes, pace))
            first, last = rows[0]["rss_mb"], rows[-1]["rss_mb"]
            print(
                f"RSS {first:.0f} MB after {rows[0]['minutes']:.1f} min → {last:.0f} MB after "
                f"{rows[-1]['minutes']:.1f} min (max {max(r['rss_mb'] for r in rows):.0f})"
            )
            return 0
        steps, server_rows, results = measure(
            students,
            apps,
            pace,
            options,
            args.seed,
            not args.no_media,
            args.profile,
            args.cold,
            args.with_training,
        )
    except VisitError as exc:
        print(f"\nThe visit no longer fits the app: {exc}", file=sys.stderr)
        return 1
    print_markdown(steps, server_rows)
    print_errors(results)
    if args.profile:
        runs = sum(
            s["runs"] for s in steps if s["app"] == "app" and s["step"].startswith("gallery")
        )
        print_profile(args.profile, "feature_maps.py", runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
