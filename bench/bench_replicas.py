"""A class through HAProxy in front of one or two replicas, and a replica killed mid-lesson.

    python -m bench.bench_replicas                        # the README's figures (a few minutes)
    python -m bench.bench_replicas --students 30 --replicas 1,2
    python -m bench.bench_replicas --kill-only --students 20

The replicas are app.py served by ``scripts.server`` on this machine, as ``bench.bench_load``'s
server. The load balancer is Debian's HAProxy (``scripts/install-haproxy.sh``) running
``deploy/haproxy/haproxy.cfg``, the file compose.yaml gives the haproxy image, pointed at the
replicas by ``CNNX_LOCAL_REPLICA_1``/``_2``.

A student is ``bench.bench_load``'s ``Tab`` with a cookie jar, as a browser: it loads the page
(``GET /``: HAProxy sets its replica cookie; ``/_stcore/health``: Streamlit its XSRF cookie), opens
the playground's share link on its upload source, uploads a PNG the way the browser's uploader
does (file URLs asked on the websocket, an HTTP PUT carrying the XSRF token, the widget's state in
a rerun), then goes on with bench_load's visit: a kernel change, the feature maps, two gallery
images, fetching every picture from ``/media/``. Every request goes through HAProxy with the
cookies. Checked:

- errors, as bench_load counts them, and failed uploads;
- stickiness: a student's replica cookie never changes during a visit, and the sessions each
  replica served (its own ``/_stcore/metrics``) are the students whose cookie names it;
- that stickiness is what makes it work: each student's upload, sent straight to the other
  replica, is refused (HTTP 400, the session is not there).

``--kill``: ``--kill-after`` seconds into the run the second replica is killed (SIGKILL: a crash,
the worst case; a rolling update drains first, deploy/). Its students' websockets drop, and each
does what Streamlit's page does: asks ``/_stcore/health`` again and reopens the websocket at the
page's address — the share link — which HAProxy sends to the surviving replica. Measured for those
students: the seconds from the drop to the page shown again, whether it came back in the same
state (the address's query and the student's choices), whether their upload survived (it cannot:
it lived in the dead process), and whether anything else failed afterwards.
Nothing is asserted here (tests/test_replicas.py asserts on a small run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import http.client
import io
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from bench.bench_load import (
    PACES,
    STEP_TIMEOUT_S,
    LoadResult,
    Step,
    StepResult,
    Tab,
    VisitError,
    cookie_header,
    cpu_seconds,
    http_get_statuses,
    keep_cookies,
    memory_bytes,
    rerun_message,
    step_rows,
)
from scripts.server import ROOT, Server, free_port, start_server, stop_server

HAPROXY_CONFIG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
REPLICA_COOKIE = "cnnx_replica"  # deploy/haproxy/haproxy.cfg's `cookie` line
XSRF_COOKIE = "_streamlit_xsrf"
UPLOAD_KEY = "conv_upload"  # pages/convolution.py's file uploader
UPLOAD_SAMPLE = ROOT / "assets" / "samples" / "cat_128.png"

# bench_load's visit with an upload on the playground: the share link opens the upload source.
REPLICA_VISIT: tuple[Step, ...] = (
    Step("home", "open", ""),
    Step("share link", "open", "convolution?src=upload&k=blur_3&pad=1"),
    Step("upload", "upload", UPLOAD_KEY),
    Step("kernel change", "select", "conv_preset", avoid=("Custom",)),
    Step("feature maps", "navigate", "feature_maps"),
    Step("gallery image", "select", "net_image"),
    Step("gallery image 2", "select", "net_image"),
)
# The kill run's visit: the same, with more clicks on each page, so that the kill finds students
# on both pages (some with their upload on screen).
KILL_VISIT: tuple[Step, ...] = (
    *REPLICA_VISIT[:4],
    Step("kernel change 2", "select", "conv_preset", avoid=("Custom",)),
    Step("kernel change 3", "select", "conv_preset", avoid=("Custom",)),
    *REPLICA_VISIT[4:],
    Step("gallery image 3", "select", "net_image"),
    Step("gallery image 4", "select", "net_image"),
)
RECONNECT_TIMEOUT_S = 60.0

# ----------------------------------------------------------------------------- the proxy


def haproxy_environment(replicas: Sequence[Server], bind: str, stats_bind: str) -> dict[str, str]:
    """The environment deploy/haproxy/haproxy.cfg reads, for replicas on this machine."""
    env = {
        **os.environ,
        "HAPROXY_BIND": bind,
        "HAPROXY_STATS_BIND": stats_bind,
        "HAPROXY_COOKIE_KEY": "bench",
    }
    for i, replica in enumerate(replicas, start=1):
        env[f"CNNX_LOCAL_REPLICA_{i}"] = replica.url.removeprefix("http://")
    return env


@dataclass
class Proxy:
    """HAProxy running deploy/haproxy/haproxy.cfg: the address students open and its stats."""

    server: Server  # url: what the students open; process: haproxy
    stats_url: str

    def replicas(self) -> list[dict[str, str]]:
        """HAProxy's stats row of each replica: name (svname), cookie, status, sessions..."""
        with urllib.request.urlopen(f"{self.stats_url}/;csv", timeout=5) as response:
            text = response.read().decode().lstrip("# ")
        rows = list(csv.DictReader(io.StringIO(text)))
        return [r for r in rows if r["pxname"] == "replicas" and r["svname"] != "BACKEND"]

    def wait_until_up(self, count: int, timeout_s: float = 30.0) -> None:
        """Until ``count`` replicas pass HAProxy's health check."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if sum(r["status"] == "UP" for r in self.replicas()) >= count:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"HAProxy did not see {count} replicas up; see {self.server.log_path}")


def install_haproxy() -> None:
    """Debian's haproxy, when missing (scripts/install-haproxy.sh)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "install-haproxy.sh")], check=True)


@contextlib.contextmanager
def running_proxy(replicas: Sequence[Server]) -> Iterator[Proxy]:
    """HAProxy in front of ``replicas`` for as long as the block runs."""
    install_haproxy()
    port, stats_port = free_port(), free_port()
    log_path = Path(tempfile.mkdtemp(prefix="haproxy-")) / "haproxy.log"
    env = haproxy_environment(replicas, f"127.0.0.1:{port}", f"127.0.0.1:{stats_port}")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(HAPROXY_CONFIG)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    proxy = Proxy(
        Server(f"http://127.0.0.1:{port}", process, log_path), f"http://127.0.0.1:{stats_port}"
    )
    try:
        proxy.wait_until_up(len(replicas))
        yield proxy
    finally:
        stop_server(proxy.server)


def run_async(coroutine: Any) -> Any:
    """``asyncio.run`` in a thread of its own: a caller may already have an event loop running
    in this thread (Playwright's sync API keeps one for the browser tests' whole session), and
    asyncio.run refuses to start inside one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@contextlib.contextmanager
def running_replicas(count: int) -> Iterator[list[Server]]:
    """``count`` servers of app.py (scripts/server.py), started one after the other and warmed
    up (one visit each, as bench_load's warm-up), stopped (unless found dead) at the end."""
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(start_server("app.py"))
        for server in servers:
            warm_up(server)
        yield servers
    finally:
        for server in servers:
            if server.process.poll() is None:
                stop_server(server)


def warm_up(server: Server) -> None:
    """One complete visit straight to the replica (imports, models, caches: not measured)."""
    student = run_async(
        class_student(server, REPLICA_VISIT, (0.0, 0.0), random.Random("warm"), 0.0)
    )
    failed = [f"{s.step}: {s.errors}" for s in student.steps if s.errors or s.seconds is None]
    if failed:
        raise VisitError(f"the warm-up visit of {server.url} failed: {failed}")


def metric(server: Server, family: str, labels: str = "") -> float | None:
    """One number of a replica's own /_stcore/metrics (None when it does not answer)."""
    try:
        url = f"{server.url}/_stcore/metrics?families={family}"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    name = re.escape(family) + r"(?:_total)?" + (re.escape("{" + labels + "}") if labels else "")
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def sessions_opened(server: Server) -> int | None:
    """How many sessions the replica has opened since it started."""
    value = metric(server, "session_events", 'type="connect"')
    return None if value is None else int(value)


# ----------------------------------------------------------------------------- the uploads


def put_file(
    base_url: str, path: str, name: str, data: bytes, cookies: dict[str, str]
) -> tuple[int, str]:
    """PUT one file as Streamlit's uploader does (multipart, the XSRF cookie's value in the
    X-Xsrftoken header, the jar's cookies); (status, body). Set-Cookie goes into the jar."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    host = base_url.removeprefix("http://")
    connection = http.client.HTTPConnection(host, timeout=STEP_TIMEOUT_S)
    try:
        connection.request(
            "PUT",
            path,
            body=body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "X-Xsrftoken": cookies.get(XSRF_COOKIE, ""),
                **cookie_header(cookies),
            },
        )
        response = connection.getresponse()
        keep_cookies(cookies, response.headers.get_all("Set-Cookie") or [])
        return response.status, response.read().decode(errors="replace")[:200]
    finally:
        connection.close()


class ReplicaTab(Tab):
    """bench_load's tab, plus the uploader's protocol and what a reconnecting page does."""

    def __init__(self, server: Server, cookies: dict[str, str]) -> None:
        super().__init__(server, fetch_media=True, cookies=cookies)
        self.cookies: dict[str, str] = cookies
        self.upload_url = ""  # the last upload's address (the control sends it elsewhere)
        # The address and the choices the page showed after its last complete run, not a click
        # in flight: a drop in the middle of a move to another page finds the new page's path
        # with the old page's query and choices. The click in flight is lost with the replica
        # (counted as such); the student is back where the last run left them, and clicks again.
        self.settled: dict[str, str] = {}
        self.settled_address = ""

    async def upload(self, step: Step, data: bytes) -> StepResult:
        """Upload ``data`` into the file uploader whose key is ``step.target``; time it from
        the request for its address to the end of the run that shows it."""
        widget = self.state.widgets.get(step.target)
        if widget is None:
            raise VisitError(
                f"no file uploader {step.target!r} (keys {sorted(self.state.widgets)})"
            )
        self.state.begin_step()
        start = time.perf_counter()
        request_id = uuid.uuid4().hex
        ask = BackMsg()
        ask.file_urls_request.request_id = request_id
        ask.file_urls_request.file_names.append(UPLOAD_SAMPLE.name)
        ask.file_urls_request.session_id = self.state.session_id
        try:
            await self.ws.send(ask.SerializeToString())
            urls = await asyncio.wait_for(self._file_urls(request_id), STEP_TIMEOUT_S)
            self.upload_url = urls.upload_url
            status, body = await asyncio.to_thread(
                put_file, self.server.url, urls.upload_url, UPLOAD_SAMPLE.name, data, self.cookies
            )
            if status != 204:
                return StepResult(step.name, None, [f"upload refused: HTTP {status} {body}"])
            state = WidgetState(id=widget.id)
            info = state.file_uploader_state_value.uploaded_file_info.add()
            info.name, info.size, info.file_id = UPLOAD_SAMPLE.name, len(data), urls.file_id
            info.file_urls.CopyFrom(urls)
            self.changed[step.target] = state
            await self.ws.send(
                rerun_message(
                    page_hash=self.state.page_hash,
                    query_string=self.state.query_string,
                    widgets=list(self.changed.values()),
                    cached=list(self.state.cache),
                )
            )
            await asyncio.wait_for(self._until_finished(), STEP_TIMEOUT_S)
            seconds = time.perf_counter() - start
        except TimeoutError:
            return StepResult(step.name, None, [f"timeout after {STEP_TIMEOUT_S:.0f} s"])
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            return StepResult(step.name, None, [f"disconnected: {exc!r}"])
        errors = list(self.state.errors)
        if not self.state.media:
            errors.append("the uploaded picture is not on the page")
        errors += await self._fetch_media(self.state.media)
        return StepResult(step.name, seconds, errors)

    async def _file_urls(self, request_id: str) -> Any:
        """Read the session's messages until the answer to ``request_id``; its FileURLs."""
        while True:
            raw = await self.ws.recv()
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            if msg.WhichOneof("type") == "file_urls_response":
                answer = msg.file_urls_response
                if answer.response_id == request_id:
                    if answer.error_msg:
                        raise VisitError(f"file URLs refused: {answer.error_msg}")
                    return answer.file_urls[0]
            else:
                self.state.absorb(raw)

    def address(self) -> str:
        """The page's address as the browser's address bar shows it: path?query."""
        path = next((p for p, h in self.state.pages.items() if h == self.state.page_hash), "")
        return f"{path}?{self.state.query_string}" if self.state.query_string else path

    def choices(self) -> dict[str, str]:
        """The student's choices on this page: each selectbox it set, with its option."""
        return {
            key: w.string_value for key, w in self.changed.items() if w.HasField("string_value")
        }

    def shown(self, key: str) -> str | None:
        """The option a selectbox shows after the last run (None when it is not there)."""
        widget = self.state.widgets.get(key)
        if widget is None or not hasattr(widget, "options"):
            return None
        if widget.HasField("raw_value"):
            return widget.raw_value
        return widget.options[widget.default] if widget.HasField("default") else None


# ----------------------------------------------------------------------------- a student


@dataclass
class Recovery:
    """One reconnection of a student whose replica went away."""

    detected_s: float  # when the student's page saw the drop, from the kill (s)
    back_s: float | None  # from seeing the drop to the page shown again (None: never)
    same_address: bool  # the restored page's query string equals the one before the drop
    same_choices: bool  # every selectbox the student had set shows the same option
    upload_on_screen: bool  # the page showed the student's upload at the drop
    upload_survived: bool  # ... and shows it again after the reconnection
    errors: list[str]
    address_before: str = ""  # the two addresses compared, to say what differed
    address_after: str = ""


@dataclass
class StudentRun:
    steps: list[StepResult] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)  # the replica cookie at each step
    recoveries: list[Recovery] = field(default_factory=list)
    # The control: the status of this student's upload sent straight to another replica.
    elsewhere_status: int | None = None


async def think(tab: ReplicaTab, seconds: float) -> bool:
    """Wait ``seconds`` as a student reading the page; True as soon as the websocket drops (a
    browser's page notices at once and reconnects)."""
    if tab.ws is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(tab.ws.wait_closed(), seconds)
    except TimeoutError:
        return False
    return True


async def reconnect(tab: ReplicaTab, rng: random.Random, killed_at: float | None) -> Recovery:
    """What Streamlit's page does when its websocket drops: ask /_stcore/health until it
    answers, then reopen the websocket at the page's address (the share link)."""
    seen = time.perf_counter()
    before_address, before_choices = tab.settled_address, dict(tab.settled)
    upload_on_screen = UPLOAD_KEY in tab.changed and bool(tab.state.media)
    await tab.close()
    deadline = seen + RECONNECT_TIMEOUT_S
    errors: list[str] = []
    back_s: float | None = None
    while time.perf_counter() < deadline:
        status = (await http_get_statuses(tab.server.url, ["/_stcore/health"], tab.cookies))[0]
        if status == 200:
            result = await tab.do(Step("reconnect", "open", before_address), rng)
            if result.seconds is not None and not result.errors:
                back_s = time.perf_counter() - seen
                break
            errors += result.errors
        await asyncio.sleep(0.5)
    same_choices = all(tab.shown(k) == v for k, v in before_choices.items())
    return Recovery(
        detected_s=seen - killed_at if killed_at is not None else 0.0,
        back_s=back_s,
        same_address=tab.address() == before_address,
        same_choices=same_choices,
        upload_on_screen=upload_on_screen,
        upload_survived=upload_on_screen and bool(tab.state.media),
        errors=errors,
        address_before=before_address,
        address_after=tab.address(),
    )


def is_drop(result: StepResult) -> bool:
    return result.seconds is None and any(e.startswith("disconnected") for e in result.errors)


async def class_student(
    server: Server,
    visit: Sequence[Step],
    pace: tuple[float, float],
    rng: random.Random,
    start_delay: float,
    kill_clock: Sequence[float] = (),
    elsewhere: Callable[[str], Server | None] = lambda cookie: None,
) -> StudentRun:
    """One student's visit through ``server`` (the proxy, or a replica), thinking between
    clicks; after a drop it reconnects, and clicks again what was lost. ``elsewhere(cookie)``:
    a replica that does not hold the session, for the control (none: no control)."""
    await asyncio.sleep(start_delay)
    data = UPLOAD_SAMPLE.read_bytes()
    jar: dict[str, str] = {}
    run = StudentRun()
    tab = ReplicaTab(server, jar)
    await http_get_statuses(server.url, ["/", "/_stcore/health"], jar)  # the page's first load

    async def recover() -> bool:
        recovery = await reconnect(tab, rng, kill_clock[0] if kill_clock else None)
        run.recoveries.append(recovery)
        return recovery.back_s is not None

    async def attempt(step: Step) -> StepResult:
        if step.action != "upload":
            result = await tab.do(step, rng)
        else:
            result = await tab.upload(step, data)
            other = elsewhere(jar.get(REPLICA_COOKIE, ""))
            if result.seconds is not None and other is not None:
                run.elsewhere_status, _ = await asyncio.to_thread(
                    put_file, other.url, tab.upload_url, UPLOAD_SAMPLE.name, data, dict(jar)
                )
        if result.errors and not is_drop(result) and await think(tab, 1.0):
            # The replica died in the middle of the step (between its run and its pictures,
            # or its upload's URL and the upload): what failed was lost with it.
            return StepResult(step.name, None, [f"disconnected: {e}" for e in result.errors])
        return result

    try:
        for i, step in enumerate(visit):
            if i and await think(tab, rng.uniform(*pace)) and not await recover():
                break
            result = await attempt(step)
            if is_drop(result):
                run.steps.append(result)  # the click lost with the replica
                if not await recover():
                    break
                result = await attempt(step)  # the student clicks again
            run.steps.append(result)
            run.cookies.append(jar.get(REPLICA_COOKIE, ""))
            if result.seconds is None:
                break
            tab.settled, tab.settled_address = tab.choices(), tab.address()
    finally:
        with contextlib.suppress(Exception):
            await tab.close()
    return run


# ----------------------------------------------------------------------------- a class


@dataclass
class ClassRun:
    replicas: int
    students: int
    runs: list[StudentRun]
    load: LoadResult  # for bench_load's tables (CPU and memory summed over the replicas)
    sessions: dict[str, int]  # replica name → sessions it opened during the run
    cookie_of: dict[str, str]  # replica cookie value → replica name (HAProxy's stats)
    killed: str | None = None
    kill_s: float | None = None


def replica_of(run: StudentRun, cookie_of: dict[str, str]) -> list[str]:
    """The replicas a student's cookie named, in order, without repeats."""
    return list(dict.fromkeys(cookie_of.get(c, c or "none") for c in run.cookies))


async def run_class(
    proxy: Proxy,
    replicas: Sequence[Server],
    students: int,
    visit: Sequence[Step],
    pace: tuple[float, float],
    kill_after: float | None = None,
    seed: int = 0,
    ramp_s: float = 3.0,
) -> ClassRun:
    """``students`` visits through the proxy at once; with ``kill_after``, the last replica is
    killed that many seconds in."""
    rows = proxy.replicas()
    names = [r["svname"] for r in rows]
    # The local replicas' cookie values are their names (haproxy.cfg), which the stats show.
    cookie_of = {r.get("cookie") or r["svname"]: r["svname"] for r in rows}
    opened0 = [sessions_opened(s) or 0 for s in replicas]
    cpu0 = [cpu_seconds(s.pid) for s in replicas]
    rss0 = sum(memory_bytes(s.pid)["VmRSS"] for s in replicas)
    kill_clock: list[float] = []
    t0 = time.perf_counter()
    rngs = [random.Random(f"{seed}-{students}-{i}") for i in range(students)]
    by_cookie = {cookie: replicas[names.index(name)] for cookie, name in cookie_of.items()}

    def elsewhere(cookie: str) -> Server | None:
        """A replica other than the one the cookie names (the control's target)."""
        home = by_cookie.get(cookie)
        others = [s for s in replicas if s is not home and s.process.poll() is None]
        return others[0] if home is not None and others else None

    tasks = [
        asyncio.create_task(
            class_student(
                proxy.server, visit, pace, rng, rng.uniform(0, ramp_s), kill_clock, elsewhere
            )
        )
        for rng in rngs
    ]
    peak, cpu_dead = rss0, 0.0
    victim = replicas[-1]
    while not all(t.done() for t in tasks):
        await asyncio.wait(tasks, timeout=0.25)
        alive = [s for s in replicas if s.process.poll() is None]
        with contextlib.suppress(OSError):
            peak = max(peak, sum(memory_bytes(s.pid)["VmRSS"] for s in alive))
        if kill_after is not None and not kill_clock and time.perf_counter() - t0 >= kill_after:
            cpu_dead = cpu_seconds(victim.pid) - cpu0[-1]
            victim.process.kill()
            victim.process.wait()
            kill_clock.append(time.perf_counter())
    wall = time.perf_counter() - t0
    runs = [t.result() for t in tasks]
    alive_idx = [i for i, s in enumerate(replicas) if s.process.poll() is None]
    cpu = sum(cpu_seconds(replicas[i].pid) - cpu0[i] for i in alive_idx) + cpu_dead
    sessions = {
        names[i]: (sessions_opened(replicas[i]) or 0) - opened0[i]
        for i in range(len(replicas))
        if i in alive_idx
    }
    rss_after = sum(memory_bytes(replicas[i].pid)["VmRSS"] for i in alive_idx)
    load = LoadResult(
        "app",
        students,
        [s for r in runs for s in r.steps],
        wall,
        cpu,
        peak,
        rss0,
        rss_after,
    )
    return ClassRun(
        len(replicas),
        students,
        runs,
        load,
        sessions,
        cookie_of,
        killed=names[-1] if kill_clock else None,
        kill_s=kill_clock[0] - t0 if kill_clock else None,
    )


# ----------------------------------------------------------------------------- reporting


def stickiness(result: ClassRun) -> dict[str, Any]:
    """Per run: students per replica by their cookie, students whose cookie changed without
    a kill, and the sessions each replica says it opened."""
    per_replica: dict[str, int] = {}
    moved = 0
    for run in result.runs:
        seen = replica_of(run, result.cookie_of)
        per_replica[seen[0]] = per_replica.get(seen[0], 0) + 1
        if len(seen) > 1 and not run.recoveries:
            moved += 1
    return {"students_by_cookie": per_replica, "moved": moved, "sessions": result.sessions}


def errors_of_run(run: StudentRun, killed: bool = False) -> list[str]:
    """A student's errors, as bench_load counts them, and its reconnections' (with
    ``killed``: but the drops themselves)."""
    out = []
    for step in run.steps:
        if not (killed and is_drop(step)):
            out += [f"{step.step}: {e}" for e in step.errors]
    for recovery in run.recoveries:
        out += [f"reconnect: {e}" for e in recovery.errors]
    return out


def errors_of(result: ClassRun) -> list[str]:
    """Every student's errors (a kill's drops apart)."""
    return [e for run in result.runs for e in errors_of_run(run, killed=bool(result.killed))]


def print_class(result: ClassRun, visit: Sequence[Step]) -> dict[str, Any]:
    """The latency of all steps, errors, stickiness, and the servers' cost; the row."""
    rows = step_rows(result.load, visit)
    every = rows[-1]
    errors = errors_of(result)
    stick = stickiness(result)
    steps = max(1, sum(s.seconds is not None for s in result.load.steps))
    row = {
        "replicas": result.replicas,
        "students": result.students,
        "median_ms": every["median_ms"],
        "p95_ms": every["p95_ms"],
        "max_ms": every["max_ms"],
        "errors": len(errors),
        "cpu_ms_per_step": 1000 * result.load.cpu_s / steps,
        "peak_rss_mb": result.load.peak_rss / 2**20,
        "uploads_elsewhere": [r.elsewhere_status for r in result.runs if r.elsewhere_status],
        **stick,
    }
    print(
        f"{result.replicas} replica(s), {result.students} students: all steps median "
        f"{row['median_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms, max {row['max_ms']:.0f} ms; "
        f"{row['errors']} errors; students by cookie {stick['students_by_cookie']}; sessions "
        f"opened {stick['sessions']}; cookie changed without a kill: {stick['moved']}; server "
        f"CPU {row['cpu_ms_per_step']:.0f} ms/step; peak RSS (all replicas) "
        f"{row['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    for error in dict.fromkeys(errors[:8]):
        print(f"  error: {error}")
    if row["uploads_elsewhere"]:
        refused = sum(s == 400 for s in row["uploads_elsewhere"])
        print(
            f"  control: uploads sent straight to the replica without the session: {refused}/"
            f"{len(row['uploads_elsewhere'])} refused (HTTP 400)"
        )
    return row


def print_kill(result: ClassRun) -> dict[str, Any]:
    """What the students on the killed replica lost."""
    victims = [r for r in result.runs if r.recoveries]
    recoveries = [r.recoveries[0] for r in victims]
    back = [r.back_s for r in recoveries if r.back_s is not None]
    on_screen = [r for r in recoveries if r.upload_on_screen]
    finished = [
        r for r in victims if sum(s.seconds is not None for s in r.steps) == len(KILL_VISIT)
    ]
    row = {
        "killed_at_s": result.kill_s,
        "students_on_killed": len(victims),
        "reconnected": len(back),
        "back_median_s": statistics.median(back) if back else float("nan"),
        "back_max_s": max(back) if back else float("nan"),
        "detected_max_s": max((r.detected_s for r in recoveries), default=float("nan")),
        "same_address": sum(r.same_address for r in recoveries),
        "same_choices": sum(r.same_choices for r in recoveries),
        "clicks_lost": sum(is_drop(s) for r in victims for s in r.steps),
        "uploads_on_screen": len(on_screen),
        "uploads_survived": sum(r.upload_survived for r in on_screen),
        "finished_visit": len(finished),
        "victim_errors": [e for r in victims for e in errors_of_run(r, killed=True)],
        "other_errors": [e for r in result.runs if not r.recoveries for e in errors_of_run(r)],
    }
    print(
        f"killed {result.killed} at {row['killed_at_s']:.1f} s: {row['students_on_killed']} "
        f"students on it; {row['reconnected']} back on the other replica after "
        f"{row['back_median_s']:.2f} s median ({row['back_max_s']:.2f} s max; the last noticed "
        f"the drop {row['detected_max_s']:.2f} s after the kill); same address "
        f"{row['same_address']}/{len(recoveries)}, same choices {row['same_choices']}/"
        f"{len(recoveries)}; clicks lost {row['clicks_lost']}; uploads on screen "
        f"{row['uploads_on_screen']}, survived {row['uploads_survived']}; finished the visit "
        f"{len(finished)}/{len(victims)}; their other errors {row['victim_errors'][:4]}; errors "
        f"of the students on the surviving replica: {len(row['other_errors'])}",
        flush=True,
    )
    return row


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    print(
        "\n| replicas | students | median / p95 / max | errors | students per replica "
        "(cookie) | server CPU per step | peak memory, all replicas |"
    )
    print("| ---: | ---: | --- | ---: | --- | ---: | ---: |")
    for r in rows:
        spread = " / ".join(str(n) for n in r["students_by_cookie"].values())
        print(
            f"| {r['replicas']} | {r['students']} | {r['median_ms']:,.0f} / {r['p95_ms']:,.0f} / "
            f"{r['max_ms']:,.0f} ms | {r['errors']} | {spread} | {r['cpu_ms_per_step']:.0f} ms "
            f"| {r['peak_rss_mb']:,.0f} MB |"
        )


# ----------------------------------------------------------------------------- the runs


def measure(
    replica_counts: Sequence[int], students: Sequence[int], pace: tuple[float, float]
) -> list[dict[str, Any]]:
    rows = []
    for count in replica_counts:
        with running_replicas(count) as replicas, running_proxy(replicas) as proxy:
            for n in students:
                result = run_async(run_class(proxy, replicas, n, REPLICA_VISIT, pace))
                rows.append(print_class(result, REPLICA_VISIT))
    return rows


def measure_kill(students: int, pace: tuple[float, float], kill_after: float) -> tuple[dict, dict]:
    with running_replicas(2) as replicas, running_proxy(replicas) as proxy:
        result = run_async(
            run_class(proxy, replicas, students, KILL_VISIT, pace, kill_after=kill_after)
        )
    return print_class(result, KILL_VISIT), print_kill(result)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", default="10,30", help="class sizes, e.g. 10,30")
    parser.add_argument("--replicas", default="1,2", help="replica counts, e.g. 1,2")
    parser.add_argument("--pace", choices=PACES, default="click")
    parser.add_argument("--kill-students", type=int, default=30)
    parser.add_argument("--kill-after", type=float, default=10.0, help="seconds into the run")
    parser.add_argument("--kill-only", action="store_true")
    parser.add_argument("--no-kill", action="store_true")
    args = parser.parse_args(argv)
    pace = PACES[args.pace]
    print(f"pace {args.pace}, {os.cpu_count()} CPUs, HAProxy with {HAPROXY_CONFIG}", flush=True)
    try:
        if not args.kill_only:
            rows = measure(
                [int(n) for n in args.replicas.split(",")],
                [int(n) for n in args.students.split(",")],
                pace,
            )
            print_table(rows)
        if not args.no_kill:
            measure_kill(args.kill_students, pace, args.kill_after)
    except VisitError as exc:
        print(f"\nThe visit no longer fits the app: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
