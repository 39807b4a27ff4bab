"""Heavy work of the network pages, off the server's script threads and shared by every session:
an input optimised to excite a map (activation maximisation) and the attribution maps of one
class for one image (Grad-CAM, saliency, integrated gradients).

    work = HeavyWork(JobQueue(max_running=1))                  # one per server
    key = work.ask(network, [Optimise("conv3", 11, 256, 0)], owner=session, target=OPTIMISE)
    work.state(key)        # Progress: "queued" (place in line), "running" (fraction), "done"
    work.result(key)       # the MaximisedInput, for every session, once done
    work.release(session, keys)                                # the Stop button

Why jobs. Activation maximisation is hundreds of small gradient steps: seconds of CPU, most of
it Python holding the server's one GIL, so in a script thread it froze every other student's
page. Each batch of work is a job of :mod:`explorer.jobs` (a worker process, torch capped at the
queue's threads), so thirty students pressing "Optimise" wait in a visible line while everyone
else's clicks stay fast.

Why one shared cache keyed by content. A result depends only on the weights (and device:
the network's ``identity``) and the item asked for (stage, map, steps, seed; or image, class,
integration points), so it is computed once for the whole server: a room asking for the same
map gets it from one job. A second session asking for a key that is being computed joins that
job (it becomes one of its *watchers*) instead of starting another. A job nobody watches any
more is stopped (its Stop button, or a student who moved on), and what it had not finished is
forgotten, so a later ask starts afresh. A job that fails keeps its sentence for the keys that
were asked, until someone asks again with ``retry``.

Work on the side. A job may also be given ``extra`` items nobody asked for yet (the attribution
maps of the other classes of the same image, so that changing the class costs nothing). They
come after the asked ones, and give way: as soon as another job waits in the line, a job that
has only such items left is stopped, its finished results kept.

Results travel as job events, ``("item", index, result)`` as each item is done and
``("progress", index, step, steps)`` while it runs: the first answer of a batch is usable
before the batch ends. This module never imports Streamlit; explorer/ui/heavy.py is the pages'
glue (a placeholder per picture, progress, the Stop button).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.errors import UserError

if TYPE_CHECKING:
    from explorer.jobs import Control, Job, JobQueue
    from explorer.model import Preprocessing, SimpleCNN

Emit = Callable[[object], None]
OPTIMISE = "explorer.heavy:optimise_job"  # the job targets, by "module:function"
EXPLAIN = "explorer.heavy:explain_job"


# ============================================================================================
# What can be asked for


@dataclass(frozen=True)
class Optimise:
    """An input optimised for map ``channel`` of ``stage`` (conv1, conv2 or conv3), ``steps``
    gradient steps from the noise of ``seed`` (:func:`explorer.attribution.maximise_channel`)."""

    stage: str
    channel: int
    steps: int
    seed: int


@dataclass(frozen=True)
class Explain:
    """Grad-CAM, saliency and integrated gradients (``steps`` points) of class ``target`` for
    the image whose pixels' SHA-256 is ``image`` (:func:`explorer.attribution.attribute`)."""

    image: str
    target: int
    steps: int


Item = Optimise | Explain
Key = tuple[str, Hashable]  # (the network's identity, the item)


@dataclass(frozen=True, eq=False)
class Network:
    """What a worker needs to rebuild the network: its weights as NumPy arrays (pickled by
    value: a torch tensor would travel through shared memory, and moving the live model's
    storage there is nobody's business), its class count, its normalisation and the device to
    run on. ``identity`` names the weights and the device; it is part of every result's key."""

    identity: str
    state: dict[str, np.ndarray] = field(repr=False)
    num_classes: int
    preprocessing: Preprocessing
    device: str = "cpu"

    @classmethod
    def of(
        cls, identity: str, model: SimpleCNN, preprocessing: Preprocessing, device: str = "cpu"
    ) -> Network:
        state = {name: t.detach().cpu().numpy().copy() for name, t in model.state_dict().items()}
        classes = int(model.fc2.out_features)
        return cls(identity, state, classes, preprocessing, device)

    def model(self) -> SimpleCNN:
        """The network on the CPU, in eval mode (the work moves its own copy to ``device``)."""
        from collections import OrderedDict as Ordered

        import torch

        from explorer.model import build_model

        state = Ordered((name, torch.from_numpy(a)) for name, a in self.state.items())
        return build_model(state, self.num_classes)


# ============================================================================================
# The job functions (run in a worker process)


def optimise_job(control: Control, emit: Emit, network: Network, items: list[Optimise]) -> int:
    """Activation maximisation for each of ``items`` in turn, exactly as
    :func:`~explorer.attribution.maximise_channel` computes it in the page's process."""
    from explorer.attribution import maximise_channel

    model = network.model()
    for index, item in enumerate(items):
        control.checkpoint()

        def progress(step: int, steps: int, index: int = index) -> None:
            emit(("progress", index, step, steps))
            control.checkpoint()  # raises Stopped once the job is stopped

        found = maximise_channel(
            model,
            network.preprocessing,
            item.channel,
            item.steps,
            item.seed,
            device=network.device,
            progress=progress,
            stage=item.stage,
        )
        emit(("item", index, found))
    return len(items)


def explain_job(
    control: Control, emit: Emit, network: Network, image: np.ndarray, items: list[Explain]
) -> int:
    """The attributions of each of ``items``' classes for ``image`` (32×32×3 uint8), exactly as
    :func:`~explorer.attribution.attribute` computes them in the page's process. Each carries
    its identity (weights, device, image, class, points) for the pictures' caches."""
    from explorer.attribution import attribute
    from explorer.features import preprocess

    model = network.model()
    x = preprocess(image, network.preprocessing)
    for index, item in enumerate(items):
        control.checkpoint()
        emit(("progress", index, 0, 1))
        found = attribute(model, x, item.target, network.preprocessing, network.device, item.steps)
        identity = f"{network.identity}|{item.image}|{item.target}|ig{item.steps}"
        emit(("item", index, dataclasses.replace(found, identity=identity)))
    return len(items)


# ============================================================================================
# The shared cache and the jobs in flight (in the server)


@dataclass(frozen=True)
class Progress:
    """Where one key stands, for a page to show.

    ``status``: "done" (``result``), "failed" (``error``: a sentence), "queued" (``position``:
    1 = next to start), "waiting" (its job runs, ``ahead`` items of it come first), "running"
    (``fraction`` done, ``step`` of ``steps``), or "absent" (nobody asked, or its job was
    stopped)."""

    status: str
    result: Any = None
    error: str | None = None
    position: int | None = None
    ahead: int = 0
    fraction: float = 0.0
    step: int = 0
    steps: int = 0

    @property
    def settled(self) -> bool:
        """Nothing more will happen to it without a new ask."""
        return self.status in {"done", "failed", "absent"}


@dataclass(eq=False)
class _Flight:
    """One job of ours: the keys of its items in order, who waits for which of them (the keys
    nobody asked for are work on the side), how far its events were read, the latest
    progress."""

    job: Job
    keys: tuple[Key, ...]
    watchers: dict[str, set[Key]]  # owner → the keys of this job it waits for
    seen: int = 0
    harvested: set[Key] = field(default_factory=set)
    current: int = 0  # the index of the item it works on now
    step: tuple[int, int] = (0, 0)

    @property
    def asked(self) -> set[Key]:
        """The keys someone waits for."""
        return set().union(*self.watchers.values())


class HeavyWork:
    """The server's shared results (at most ``max_results``, least recently used out first)
    and the jobs computing more of them. Thread-safe: every session's thread calls it."""

    def __init__(self, queue: JobQueue, max_results: int = 512, max_failures: int = 256) -> None:
        self.queue = queue
        self.max_results = max_results
        self.max_failures = max_failures
        self._lock = threading.RLock()
        self._results: OrderedDict[Key, Any] = OrderedDict()
        self._failures: OrderedDict[Key, str] = OrderedDict()
        self._flights: dict[str, _Flight] = {}  # job id → flight
        self._by_key: dict[Key, _Flight] = {}  # unfinished keys → their flight

    # -- what pages call ---------------------------------------------------------------------

    def result(self, key: Key) -> Any | None:
        """The finished result for ``key``, or None."""
        with self._lock:
            self._harvest()
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
            return None

    def ask(
        self,
        identity: str,
        items: Sequence[Hashable],
        owner: str,
        target: str,
        *,
        extra: Sequence[Hashable] = (),
        retry: bool = False,
        **kwargs: Any,
    ) -> list[Key]:
        """Make sure every one of ``items`` (for the network ``identity``) is done or being
        computed, with ``owner`` watching the jobs that compute them: the ones neither cached nor
        in flight go into one new job ``target`` (called with ``items=[…]`` and ``kwargs``),
        followed by the ``extra`` items that are not there yet. A key whose job failed stays
        failed unless ``retry``. Returns the keys of ``items``. Raises JobQueueFull (a sentence)
        when the queue's line is full."""
        keys = [(identity, item) for item in items]
        with self._lock:
            self._harvest()
            missing: list[Key] = []
            for key in keys:
                if retry:
                    self._failures.pop(key, None)
                if key in self._results or key in self._failures:
                    continue
                flight = self._by_key.get(key)
                if flight is not None and flight.job.active:
                    flight.watchers.setdefault(owner, set()).add(key)
                elif key not in missing:
                    missing.append(key)
            if not missing:
                return keys
            more = [
                (identity, item)
                for item in extra
                if (identity, item) not in self._results
                and (identity, item) not in self._by_key
                and (identity, item) not in missing
            ]
            todo = missing + more
            job = self.queue.submit(target, owner, items=[k[1] for k in todo], **kwargs)
            flight = _Flight(job, tuple(todo), {owner: set(missing)})
            self._flights[job.id] = flight
            for key in todo:
                self._by_key[key] = flight
            self._give_way()
            return keys

    def state(self, key: Key) -> Progress:
        """Where ``key`` stands now (see :class:`Progress`)."""
        with self._lock:
            self._harvest()
            if key in self._results:
                self._results.move_to_end(key)
                return Progress("done", result=self._results[key])
            if key in self._failures:
                return Progress("failed", error=self._failures[key])
            flight = self._by_key.get(key)
            if flight is None:
                return Progress("absent")
            job = flight.job
            if job.status == "queued":
                return Progress("queued", position=job.position())
            index = flight.keys.index(key)
            if index > flight.current:
                return Progress("waiting", ahead=index - flight.current)
            step, steps = flight.step if index == flight.current else (0, 0)
            return Progress(
                "running", fraction=step / steps if steps else 0.0, step=step, steps=steps
            )

    def release(self, owner: str, keys: Iterable[Key]) -> None:
        """``owner`` no longer waits for ``keys`` (its Stop button). A job that nobody waits
        for any more is stopped: what it finished stays, the rest is forgotten."""
        dropped = set(keys)
        with self._lock:
            self._harvest()
            for flight in list(self._flights.values()):
                if owner in flight.watchers:
                    self._watch(flight, owner, flight.watchers[owner] - dropped)

    def keep_only(self, owner: str, keys: Iterable[Key]) -> None:
        """``owner`` now waits for ``keys`` and nothing else (a student who moved to another
        map or image no longer waits for the old one): as :meth:`release` for the rest."""
        wanted = set(keys)
        with self._lock:
            self._harvest()
            for flight in list(self._flights.values()):
                if owner in flight.watchers:
                    self._watch(flight, owner, flight.watchers[owner] & wanted)

    def wait(
        self,
        keys: Sequence[Key],
        on_tick: Callable[[dict[Key, Progress]], None] | None = None,
        tick_s: float = 0.1,
        timeout_s: float | None = None,
    ) -> dict[Key, Progress]:
        """Block (sleeping, the GIL free) until every one of ``keys`` is settled or
        ``timeout_s`` has passed; ``on_tick`` sees every key's progress at each tick."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            states = {key: self.state(key) for key in keys}
            if on_tick is not None:
                on_tick(states)
            if all(s.settled for s in states.values()):
                return states
            if deadline is not None and time.monotonic() >= deadline:
                return states
            time.sleep(tick_s)

    def forget(self, which: Callable[[Key], bool]) -> None:
        """Drop the finished results and failures whose key ``which`` accepts (tests, and a
        teacher who wants a fresh start)."""
        with self._lock:
            for store in (self._results, self._failures):
                for key in [k for k in store if which(k)]:
                    del store[key]

    def job_of(self, key: Key) -> Job | None:
        """The job computing ``key`` now, if any."""
        with self._lock:
            self._harvest()
            flight = self._by_key.get(key)
            return flight.job if flight is not None else None

    def jobs(self) -> list[Job]:
        """The jobs still in flight (for a page's or a test's curiosity)."""
        with self._lock:
            self._harvest()
            return [f.job for f in self._flights.values()]

    # -- under the lock ----------------------------------------------------------------------

    def _watch(self, flight: _Flight, owner: str, keys: set[Key]) -> None:
        """``owner`` now waits for ``keys`` of ``flight``; stop it when nobody waits."""
        if keys:
            flight.watchers[owner] = keys
            return
        flight.watchers.pop(owner, None)
        if not flight.watchers and flight.job.active:
            flight.job.stop()
            self._harvest()

    def _harvest(self) -> None:
        """Read every flight's new events into the cache; settle the flights that ended."""
        for job_id, flight in list(self._flights.items()):
            job = flight.job
            ended = not job.active  # before the events: once ended, every event is there
            events = job.events
            for event in events[flight.seen :]:
                self._take(flight, event)
            flight.seen = len(events)
            if ended:
                self._settle(flight)
                del self._flights[job_id]
        self._give_way()

    def _take(self, flight: _Flight, event: Any) -> None:
        if not (isinstance(event, tuple) and event and event[0] in {"item", "progress"}):
            return
        if event[0] == "progress":
            _, index, step, steps = event
            flight.current, flight.step = int(index), (int(step), int(steps))
            return
        _, index, result = event
        key = flight.keys[index]
        flight.harvested.add(key)
        flight.current, flight.step = int(index) + 1, (0, 0)
        self._results[key] = result
        self._results.move_to_end(key)
        while len(self._results) > self.max_results:
            self._results.popitem(last=False)
        if self._by_key.get(key) is flight:
            del self._by_key[key]

    def _settle(self, flight: _Flight) -> None:
        """A flight's job has ended: the keys it did not finish are forgotten, and, when it
        failed (or ended "done" without them), the asked ones keep a sentence saying so."""
        job = flight.job
        for key in flight.keys:
            if key in flight.harvested or self._by_key.get(key) is not flight:
                continue
            del self._by_key[key]
            if key in flight.asked and job.status in {"failed", "done"}:
                said = job.error if job.status == "failed" else None
                self._failures[key] = said or "The job ended without this result."
                while len(self._failures) > self.max_failures:
                    self._failures.popitem(last=False)

    def _give_way(self) -> None:
        """While another job waits in the line, stop every running job that has only work on
        the side left (its finished results stay)."""
        flights = list(self._flights.values())
        if not any(f.job.status == "queued" and not f.job.held for f in flights):
            return
        for flight in flights:
            if flight.job.status != "running":
                continue
            left = [k for k in flight.keys if k not in flight.harvested]
            if left and not flight.asked.intersection(left):
                flight.job.stop()


class HeavyFailed(UserError):
    """A result that could not be computed, with the job's sentence."""


__all__ = [
    "EXPLAIN",
    "OPTIMISE",
    "Explain",
    "HeavyFailed",
    "HeavyWork",
    "Item",
    "Key",
    "Network",
    "Optimise",
    "Progress",
    "explain_job",
    "optimise_job",
]
