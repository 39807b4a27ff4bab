"""A whole class on one server: N students speaking Streamlit's own websocket protocol at once.

    python -m bench.bench_load                        # N = 1, 10, 30, 60; the app and a trivial app
    python -m bench.bench_load --students 1,5 --pace read
    python -m bench.bench_load --minutes 10 --students 10          # soak: memory over time
    python -m bench.bench_load --option runner.postScriptGC=false  # any server flag, to compare

Each simulated student does what a browser tab does, over ``/_stcore/stream`` with the
``BackMsg``/``ForwardMsg`` protobufs of ``streamlit.proto``: it sends a ``rerun_script`` with the
page, the query string, the widget it changed and the hashes of the large messages it holds
(the server then sends references to them), reads every ``ForwardMsg`` the run produces until
``script_finished``, then fetches the run's images from ``/media`` as the browser would.
The visit is the table ``APP_VISIT`` (``TRIVIAL_VISIT`` for ``bench/trivial_app.py``, the
cheapest page Streamlit can serve, measured in the same run as the yardstick), with 1–3 s of
think time between clicks (``--pace click``) or 5–15 s (``--pace read``).

Printed per step: the latency from the ``BackMsg`` (for a page opened by a link: from opening
the websocket) to the run's ``script_finished`` — median, 95th percentile, max; the errors
(exception elements in the deltas, compile errors, failed image fetches, disconnects and
timeouts); and per N the server's CPU time per step and its peak RSS (from /proc: Linux only).
``--profile FILE`` samples the app's server with py-spy meanwhile and prints where the feature
maps page's runs spend their time. Nothing is asserted: the figures are for people and the README.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from scripts.server import Server, running_server

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
        drawing canvas whose key is ``target``, sent as the canvas component sends it.
    """

    name: str
    action: str
    target: str
    avoid: tuple[str, ...] = ()  # select: never choose an option whose label contains one


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
APPS: dict[str, tuple[str, tuple[Step, ...]]] = {
    "app": ("app.py", APP_VISIT),
    "own": ("app.py", OWN_VISIT),
    "trivial": ("bench/trivial_app.py", TRIVIAL_VISIT),
}
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
    for a rerun is followed by the rerun)."""

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

    def begin_step(self) -> None:
        """Forget the previous step's errors and images."""
        self.errors.clear()
        self.media.clear()

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
        if kind == "new_session":  # every run starts with one
            self.page_hash = msg.new_session.page_script_hash
            self.session_id = msg.new_session.initialize.session_id
            self.widgets.clear()
            self.media.clear()
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
) -> bytes:
    """A serialized ``BackMsg`` asking for a script run, as the browser sends it: the page (by
    hash, or by address on a page load), the address's query, the widgets the user set and the
    hashes of the messages the tab holds."""
    msg = BackMsg()
    msg.rerun_script.query_string = query_string
    msg.rerun_script.page_script_hash = page_hash
    msg.rerun_script.page_name = page_name
    msg.rerun_script.widget_states.widgets.extend(widgets)
    msg.rerun_script.cached_message_hashes.extend(cached)
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


class Tab:
    """One browser tab: a websocket session with the server and what it has shown.

    ``cookies``, when given, is the browser's cookie jar for the server (name → value): sent with
    the websocket's upgrade and every image fetch, and updated from their ``Set-Cookie``
    headers, as a load balancer's stickiness cookie needs (bench/bench_replicas.py)."""

    def __init__(
        self, server: Server, fetch_media: bool, cookies: dict[str, str] | None = None
    ) -> None:
        self.server = server
        self.fetch_media = fetch_media
        self.cookies = cookies
        self.ws: Any = None
        self.state = PageState()
        self.changed: dict[str, WidgetState] = {}  # widgets this student set on this page

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

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
                widget = self.state.widgets.get(step.target)
                if widget is None:
                    raise VisitError(
                        f"step {step.name!r}: no widget with key {step.target!r} on the page "
                        f"(keys: {sorted(self.state.widgets)}; errors: {self.state.errors})"
                    )
                self.changed[step.target] = selectbox_choice(widget, rng, step.avoid)
                request = rerun_message(
                    page_hash=self.state.page_hash,
                    query_string=self.state.query_string,
                    widgets=list(self.changed.values()),
                    cached=list(self.state.cache),
                )
            elif step.action == "draw":
                widget = self.state.widgets.get(step.target)
                if widget is None:
                    raise VisitError(
                        f"step {step.name!r}: no canvas with key {step.target!r} on the page "
                        f"(keys: {sorted(self.state.widgets)}; errors: {self.state.errors})"
                    )
                self.changed[step.target] = WidgetState(
                    id=widget.id, json_value=canvas_value(random_digit_png(rng))
                )
                request = rerun_message(
                    page_hash=self.state.page_hash,
                    query_string=self.state.query_string,
                    widgets=list(self.changed.values()),
                    cached=list(self.state.cache),
                )
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
        return StepResult(step.name, seconds, errors)

    def _check_landed(self, step: Step) -> None:
        """Raise VisitError when a run without errors shows another page than the step meant
        (the visit would time the wrong page without noticing)."""
        if step.action == "navigate" and self.state.page_hash != self.state.pages[step.target]:
            raise VisitError(f"step {step.name!r}: the run showed another page than {step.target}")
        if step.action == "select" and step.target not in self.state.widgets:
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


async def student(
    server: Server,
    visit: Sequence[Step],
    pace: tuple[float, float],
    rng: random.Random,
    fetch_media: bool = True,
    start_delay: float = 0.0,
) -> list[StepResult]:
    """One student's visit, thinking between clicks; the tab closes at the end."""
    await asyncio.sleep(start_delay)
    tab = Tab(server, fetch_media)
    results = []
    try:
        for i, step in enumerate(visit):
            if i:
                await asyncio.sleep(rng.uniform(*pace))
            result = await tab.do(step, rng)
            results.append(result)
            if result.seconds is None:  # the tab is broken: the student gives up
                break
    finally:
        with contextlib.suppress(Exception):
            await tab.close()
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


async def run_class(
    server: Server,
    app: str,
    visit: Sequence[Step],
    students: int,
    pace: tuple[float, float],
    seed: int = 0,
    ramp_s: float = 3.0,
    fetch_media: bool = True,
) -> LoadResult:
    """``students`` visits at once (each starting within ``ramp_s``); the server's CPU time
    and peak memory over them. Raises VisitError when the visit does not fit the app."""
    rngs = [random.Random(f"{seed}-{app}-{students}-{i}") for i in range(students)]
    peak_ok = reset_peak_rss(server.pid)
    rss_before = memory_bytes(server.pid)["VmRSS"]
    peak = rss_before
    cpu0, t0 = cpu_seconds(server.pid), time.perf_counter()
    tasks = [
        asyncio.create_task(student(server, visit, pace, rng, fetch_media, rng.uniform(0, ramp_s)))
        for rng in rngs
    ]
    while not all(t.done() for t in tasks):  # sample memory too, in case VmHWM can't be reset
        await asyncio.wait(tasks, timeout=0.25)
        peak = max(peak, memory_bytes(server.pid)["VmRSS"])
    wall, cpu = time.perf_counter() - t0, cpu_seconds(server.pid) - cpu0
    mem = memory_bytes(server.pid)
    if peak_ok:
        peak = max(peak, mem["VmHWM"])
    results = [r for t in tasks for r in t.result()]  # re-raises a VisitError
    return LoadResult(app, students, results, wall, cpu, peak, rss_before, mem["VmRSS"])


# ----------------------------------------------------------------------------- reporting


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between the sorted values."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def step_rows(result: LoadResult, visit: Sequence[Step]) -> list[dict]:
    """One row per step of the visit, then one for all steps together."""
    rows = []
    names = [s.name for s in visit]
    for name in [*names, "all steps"]:
        picked = [r for r in result.steps if name in (r.step, "all steps")]
        times = [r.seconds for r in picked if r.seconds is not None]
        expected = result.students * (len(names) if name == "all steps" else 1)
        rows.append(
            {
                "app": result.app,
                "students": result.students,
                "step": name,
                "runs": len(times),
                "median_ms": 1000 * statistics.median(times) if times else float("nan"),
                "p95_ms": 1000 * percentile(times, 95) if times else float("nan"),
                "max_ms": 1000 * max(times) if times else float("nan"),
                # every error, and each step a student never reached (its tab broke before)
                "errors": sum(len(r.errors) for r in picked) + expected - len(picked),
            }
        )
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
    print("\n| students | app | server CPU per step | CPU busy | peak RSS | RSS after |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for r in server_table:
        print(
            f"| {r['students']} | {r['app']} | {r['cpu_ms_per_step']:,.0f} ms "
            f"| {r['cpu_busy']:.0%} | {r['peak_rss_mb']:,.0f} MB | {r['rss_after_mb']:,.0f} MB |"
        )


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
    app: str, options: dict[str, str], pace: tuple[float, float], cold: bool = False
) -> Iterator[Server]:
    """The app's server after one complete visit (imports, models, caches: not measured), or
    just started when ``cold`` (the class arrives at a server nobody has visited yet).
    Raises VisitError, with the reason, when the visit does not fit the app."""
    script, visit = APPS[app]
    with running_server(script, options=options) as server:
        if cold:
            print(f"{app}: cold: the class is the server's first visitors", flush=True)
            yield server
            return
        t0 = time.perf_counter()
        steps = asyncio.run(student(server, visit, (0.0, 0.0), random.Random("warm")))
        failed = [f"{s.step}: {s.errors}" for s in steps if s.errors or s.seconds is None]
        if failed or len(steps) < len(visit):
            raise VisitError(f"the warm-up visit of {app} failed: {failed}")
        print(
            f"{app}: warm-up visit {time.perf_counter() - t0:.1f} s "
            f"({', '.join(f'{s.step} {s.seconds:.2f}' for s in steps)})",
            flush=True,
        )
        yield server


def measure(
    students: Sequence[int],
    apps: Sequence[str],
    pace: tuple[float, float],
    options: dict[str, str],
    seed: int = 0,
    fetch_media: bool = True,
    profile: Path | None = None,
    cold: bool = False,
) -> tuple[list[dict], list[dict], list[LoadResult]]:
    """Run every class size against every app; the step and server tables. With ``profile``,
    the app's server is sampled by py-spy during its runs (not the warm-up) into that file."""
    step_table, server_table, results = [], [], []
    for app in apps:
        with warm_server(app, options, pace, cold) as server:
            for n in students:
                with sampled(server.pid, profile if app != "trivial" else None):
                    result = asyncio.run(
                        run_class(server, app, APPS[app][1], n, pace, seed, fetch_media=fetch_media)
                    )
                results.append(result)
                step_table += step_rows(result, APPS[app][1])
                server_table.append(summary_row(result))
                r = server_table[-1]
                print(
                    f"{app} N={n}: {r['wall_s']:.0f} s, all steps median "
                    f"{step_table[-1]['median_ms']:.0f} ms p95 {step_table[-1]['p95_ms']:.0f} ms,"
                    f" {step_table[-1]['errors']} errors, CPU {r['cpu_ms_per_step']:.0f} ms/step,"
                    f" peak RSS {r['peak_rss_mb']:.0f} MB",
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
            done["errors"] += sum(len(s.errors) for s in steps) + len(visit) - len(steps)

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
    steps, server_rows, results = measure([1, 10], list(APPS), PACES["click"], {})
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
        "--apps", default="app,trivial", help="visits: app, own (every student draws), trivial"
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
            students, apps, pace, options, args.seed, not args.no_media, args.profile, args.cold
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
