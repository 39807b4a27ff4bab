"""The pages' side of heavy work (explorer.heavy): each result has its place on the page, drawn
at once when the server already has it, else filled at the end of the page's run while a worker
process computes it — with its place in the line or its progress, a Stop button, and the
sentence of a job that failed.

    pending = Pending()
    pending.slot(ctx, Optimise("conv3", 11, 256, 0), draw, name="in_maximise",
                 what="Optimising an input for conv3 map 11", button="Optimise …", auto=False)
    …                                    # the rest of the page
    pending.settle()                     # last: waits, filling each place as its result comes

Why the wait is at the end of the run, in the script thread. Everything else on the page is
already drawn; the thread only sleeps (the GIL free) and looks at the shared results four times a
second, so a waiting student costs the server next to nothing — while the work itself runs in a
worker process. A click anywhere (the Stop button included) interrupts the wait at once:
Streamlit reruns the page, the Stop button's callback releases the job, and a page that still
wants the result simply waits again. A student who moves to another map or image releases the
job they no longer look at (``keep_only``): nobody's abandoned work holds up the line.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from explorer.errors import UserError
from explorer.heavy import EXPLAIN, OPTIMISE, Explain, HeavyWork, Key, Network, Progress
from explorer.ui import widgets

if TYPE_CHECKING:
    from explorer.ui.network import NetworkContext

ss = st.session_state
TICK_S = 0.25  # how often a waiting page looks at its results
REDRAW_S = 1.0  # a running job's progress is redrawn at most this often
_clock = time.monotonic  # the redraws' clock (a test replaces it, not the time module's)
# One job at a time on a 2-core server (a job takes a whole core; the other serves the class).
# Training runs have their own line (explorer.ui.train): a minute-long run must not hold up a
# two-second optimisation, nor the other way round.
HEAVY_SLOTS = 1
HEAVY_QUEUE = 64  # more waiting than this: "the server is busy", not an ever longer line
# A heavy job is tens of milliseconds of work once torch is imported (2.6 s here) and a worker
# started: a worker runs many of them, a spare waits with the modules loaded, and a worker is
# replaced after this many jobs so that nothing a job leaves behind can grow for ever.
HEAVY_WORKER_JOBS = 200
HEAVY_PRELOAD = ("explorer.heavy", "explorer.attribution", "explorer.features")
ASKED = "heavy_asked"  # keys this session asked for with a button
DECLINED = "heavy_declined"  # keys this session stopped: not asked again until it presses
RETRY = "heavy_retry"  # failed keys whose "Try again" was pressed


@st.cache_resource
def work() -> HeavyWork:
    """The server's one cache of heavy results and its line of jobs, shared by every session."""
    from explorer.jobs import JobQueue

    queue = JobQueue(
        max_running=HEAVY_SLOTS,
        max_queued=HEAVY_QUEUE,
        torch_threads=1,
        worker_jobs=HEAVY_WORKER_JOBS,
        keep_warm=1,
        preload=HEAVY_PRELOAD,
    )
    return HeavyWork(queue)


def session_id() -> str:
    """This browser session's id (the owner of its jobs, a watcher of shared ones)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def network(ctx: NetworkContext) -> Network:
    """What a worker needs to rebuild ``ctx``'s network (its CPU weights: always real numbers)."""
    return Network.of(ctx.identity, ctx.cpu_model, ctx.preprocessing, ctx.device.device)


def _session_set(name: str) -> set[Key]:
    found: set[Key] = ss.setdefault(name, set())
    return found


@dataclass(eq=False)
class _Slot:
    """One result's place on the page, and how to ask for it."""

    ctx: NetworkContext
    key: Key
    draw: Callable[[Any], None]
    name: str
    what: str
    button: str
    auto: bool
    extra: tuple[Hashable, ...]
    image: np.ndarray | None
    # Three single-element places, one under the other: the progress bar, the button (Ask,
    # Stop or Try again) and the result (or the failure). A place that held a container is not
    # reliably emptied by the next container drawn into it (the old children can outlive the
    # new), so each place holds one element, or one container drawn once.
    bar: Any = None
    controls: Any = None
    body: Any = None
    stop_drawn: bool = False
    result: Any = None
    shown: tuple[str, float, str] | None = None  # the progress drawn last: status, fraction, words
    shown_at: float = -math.inf

    @property
    def wanted(self) -> bool:
        if self.auto:
            return self.key not in _session_set(DECLINED)
        return self.key in _session_set(ASKED)

    def group(self) -> tuple[Any, ...]:
        """Slots with the same group are asked for in one job."""
        target = EXPLAIN if isinstance(self.key[1], Explain) else OPTIMISE
        image = self.key[1].image if isinstance(self.key[1], Explain) else None
        return (self.ctx.identity, target, image)


class Pending:
    """The heavy results one run of a page shows: :meth:`slot` for each, :meth:`settle` last."""

    def __init__(self) -> None:
        self.slots: list[_Slot] = []

    def slot(
        self,
        ctx: NetworkContext,
        item: Hashable,
        draw: Callable[[Any], None],
        *,
        name: str,
        what: str,
        button: str,
        auto: bool,
        extra: Sequence[Hashable] = (),
        image: np.ndarray | None = None,
    ) -> Any | None:
        """The place of ``item``'s result (for ``ctx``'s network), here on the page: drawn with
        ``draw(result)`` now when the server has it (and returned), else when it comes. ``auto``:
        computed without being asked (until the student stops it); else a button labelled
        ``button`` asks. ``name``: the prefix of its widgets' keys; ``what``: the progress
        line's words. ``extra``: items to compute on the side in the same job; ``image``: the
        pixels an :class:`Explain` item is about."""
        key: Key = (ctx.identity, item)
        one = _Slot(ctx, key, draw, name, what, button, auto, tuple(extra), image)
        self.slots.append(one)
        found = work().result(key)
        if found is not None:
            one.result = found
            draw(found)
            return found
        box = st.container()
        one.bar, one.controls, one.body = box.empty(), box.empty(), box.empty()
        if one.wanted:
            self._progress(one, Progress("queued", position=None))
        else:
            one.controls.button(
                button,
                key=name,
                icon=":material/auto_awesome:",
                on_click=_ask,
                args=(key,),
            )
        return None

    def settle(self, timeout_s: float | None = None) -> None:
        """Ask for every wanted result that is not there yet (one job per network and kind),
        release the jobs this session no longer looks at, then wait, filling each place as its
        result arrives. Call it last: the rest of the page is drawn already. ``timeout_s``:
        stop waiting after that long, the progress left on the screen (the next run waits
        again); None: until every result is settled."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        owner = session_id()
        wanted = [s for s in self.slots if s.wanted]
        work().keep_only(owner, [s.key for s in wanted])
        waiting = [s for s in wanted if s.result is None]
        retry = _session_set(RETRY)
        groups: dict[tuple[Any, ...], list[_Slot]] = {}
        for s in waiting:
            groups.setdefault(s.group(), []).append(s)
        for (_, target, _), members in groups.items():
            first = members[0]
            kwargs: dict[str, Any] = {"network": network(first.ctx)}
            if target == EXPLAIN:
                kwargs["image"] = first.image
            try:
                work().ask(
                    first.ctx.identity,
                    [s.key[1] for s in members],
                    owner,
                    target,
                    extra=[e for s in members for e in s.extra],
                    retry=any(s.key in retry for s in members),
                    **kwargs,
                )
            except UserError as exc:
                for s in members:
                    self._failed(s, str(exc))
                waiting = [s for s in waiting if s not in members]
        retry.clear()
        asked_again: set[Key] = set()
        while waiting:
            still = []
            for s in waiting:
                state = work().state(s.key)
                if state.status == "done":
                    s.result = state.result
                    s.bar.empty()
                    s.controls.empty()
                    with s.body.container():
                        s.draw(state.result)
                elif state.status == "failed":
                    self._failed(s, state.error or "")
                elif state.status == "absent" and s.key in asked_again:
                    self._failed(s, "The work was stopped.", retry=False)
                else:
                    if state.status == "absent":  # its job was stopped under it: ask again
                        asked_again.add(s.key)
                        self._ask_again(s, owner)
                    self._progress(s, state)
                    still.append(s)
            waiting = still
            if waiting and deadline is not None and time.monotonic() >= deadline:
                return
            if waiting:
                time.sleep(TICK_S)

    # -- drawing -------------------------------------------------------------------------------

    def _progress(self, s: _Slot, state: Progress) -> None:
        """The progress line (its first drawing puts the Stop button beside it)."""
        if not s.stop_drawn:
            s.stop_drawn = True
            s.controls.button(
                "Stop",
                key=f"{s.name}_stop",
                icon=":material/stop:",
                on_click=_stop,
                args=(s.key, s.auto),
                help="Stop waiting for it (the work stops too unless someone else waits "
                "for the same result).",
            )
        now = _clock()
        drawn = (state.status, state.fraction, progress_line(s.what, state))
        # Draw only what changed, and a running job's steps at most every REDRAW_S: every
        # element sent costs the whole server a hand-over of the GIL, and a class waiting in
        # the line redrew its unchanged bars four times a second (the own-drawing class of 30
        # waited 2.7 s for a digit's maps behind them).
        if drawn == s.shown or (
            s.shown is not None and s.shown[0] == state.status and now - s.shown_at < REDRAW_S
        ):
            return
        s.shown, s.shown_at = drawn, now
        s.bar.progress(state.fraction, text=drawn[2])

    def _failed(self, s: _Slot, sentence: str, retry: bool = True) -> None:
        s.bar.empty()
        s.controls.empty()
        with s.body.container():
            widgets.error(f"{s.what} failed. {sentence}")
            if retry:
                st.button("Try again", key=f"{s.name}_retry", on_click=_retry, args=(s.key, s.auto))

    def _ask_again(self, s: _Slot, owner: str) -> None:
        kwargs: dict[str, Any] = {"network": network(s.ctx)}
        target = OPTIMISE
        if isinstance(s.key[1], Explain):
            target, kwargs["image"] = EXPLAIN, s.image
        with contextlib.suppress(UserError):  # said at the next look: it stays absent
            work().ask(s.ctx.identity, [s.key[1]], owner, target, **kwargs)


def progress_line(what: str, state: Progress) -> str:
    """The words beside a progress bar: the place in the line, or how far the work is."""
    if state.status == "queued":
        if state.position is None:
            return f"{what}: asking the server…"
        return (
            f"{what}: waiting, {_ordinal(state.position)} in the line. The server computes "
            "one of these at a time, so that everyone's pages stay fast."
        )
    if state.status == "waiting":
        return f"{what}: waiting for {state.ahead} more before it in the same job."
    if state.steps:
        return f"{what}: step {state.step:,} of {state.steps:,}."
    return f"{what}: started."


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


# -- the buttons' callbacks (before the page's run) ------------------------------------------------


def _ask(key: Key) -> None:
    _session_set(ASKED).add(key)
    _session_set(DECLINED).discard(key)


def _stop(key: Key, auto: bool) -> None:
    """Stop waiting for ``key``: the job stops too when nobody else waits for it."""
    work().release(session_id(), [key])
    if auto:
        _session_set(DECLINED).add(key)
    else:
        _session_set(ASKED).discard(key)


def _retry(key: Key, auto: bool) -> None:
    _session_set(RETRY).add(key)
    _ask(key)


__all__ = ["HEAVY_QUEUE", "HEAVY_SLOTS", "Pending", "network", "progress_line", "work"]
