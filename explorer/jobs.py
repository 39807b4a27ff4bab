"""The server-wide queue for long work (training a network, activation maximisation).

    queue = JobQueue(max_running=1, max_queued=64, torch_threads=1,  # one per server
                     worker_jobs=200, keep_warm=1, preload=("torch",))
    job = queue.submit("explorer.some_module:some_function", owner=session_id, epochs=3)
    job.status, job.position(), job.events, job.result, job.error     # what a page shows
    job.pause(); job.step(); job.resume(); job.stop()                  # what its buttons do

A job function, importable by its ``"module:function"`` name, runs in a worker process:

    def some_function(control: Control, emit: Callable[[object], None], **kwargs) -> object:
        for batch in batches:
            control.checkpoint()        # returns at once while running; blocks while paused;
            ...                         # raises Stopped once the job is stopped
            emit({"loss": loss})        # any picklable event, on its way to job.events at once
        return result                   # picklable; becomes job.result

Why processes. Every browser session of a Streamlit server is a thread of one process, and they
share one GIL. Work of more than a fraction of a second in a script thread makes every other
student's page wait (DESIGN.md section 10), so long work runs in worker processes. A job that
crashes its worker (segfault, out of memory, killed) takes nothing else with it: its job becomes
"failed" with a sentence and its slot frees.

Workers kept warm. Starting a worker costs more than many jobs: 2.6 s here to import torch and the
app's code, next to 65 ms of integrated gradients. So a worker may run ``worker_jobs`` jobs one
after another (then it ends and a new one takes over, so that nothing a job leaves behind grows for
ever), and ``keep_warm`` workers are started ahead of need, importing ``preload`` before they are
asked: a job starts on one at once. Spares are started only while no job runs (a spare's start is
seconds of CPU: it must not compete with a job, nor with a class pressing Start together); while
jobs run, a job that finds no waiting worker starts its own. With ``worker_jobs=1`` (training: a
fresh process per run gives back all of a run's memory when it ends) the next spare is started when
the queue falls idle. A worker starting is named ``STARTING_NAME`` in ps, one waiting for a job
``WAITING_NAME`` (and ``WORKING_NAME`` while it works). Each job starts with a clean control state;
a stopped job that does not end in time still has its worker killed. A spare that dies before it is
ready (a preload that crashes the interpreter) stops spares for ``SPARE_PAUSE_S``: the next job
starts its own worker rather than the queue starting one after another.

Why "spawn". The server process has many threads (Tornado, every session's script run, this module's
reader). "fork" copies the process with only the forking thread alive: locks held by the others at
that instant (the logging module's, torch's thread pool, the allocator's) stay locked forever in the
child, which hangs at random (an OpenMP thread pool used before the fork, as torch's is, is a known
way to hang the child). "spawn" starts a clean interpreter that imports only what the jobs need (and
is started ahead, see above). One trap: "spawn" makes the child run the parent's ``__main__`` module
again, and while a Streamlit script runs, ``sys.modules["__main__"]`` *is* that page script
(Streamlit installs it there), so every worker would run the page. A job is found by its
"module:function" name and never needs the parent's main, so while a worker starts, spawn is shown
an empty ``__main__`` (``_neutral_main``).

Why torch's threads are capped (``torch_threads``, 1 by default). torch starts one intra-op thread
per core in every process. On the class server (2 shared cores) two jobs, or one job next to the
Streamlit process, with 2 threads each oversubscribe the cores (OpenMP threads spin while they
wait for each other): one activation maximisation measured 63.5 s with torch's default 2
threads on a busy server and 2.3 s with 1 thread. The worker sets OMP_NUM_THREADS,
MKL_NUM_THREADS and OPENBLAS_NUM_THREADS before anything imports torch or NumPy (so a job that
imports torch lazily gets the cap too), and calls ``torch.set_num_threads`` as well when torch is
already loaded. A job that wants more threads on a bigger machine gets them from the queue's
setting, not its own (torch reads OMP_NUM_THREADS as at most one thread per core: a cap, which
is what it is for).

How it travels. Each worker has a one-way Pipe to the server. ``emit`` pickles the event at once
(so later changes to a NumPy array do not change what was sent) and hands the bytes to a sender
thread in the worker, so the job never waits on the server. In the server one daemon thread reads
every worker's pipe, and watches every worker's process sentinel, with
``multiprocessing.connection.wait``: it sleeps until something arrives; nothing polls, and the
script threads only read ``Job`` fields. Control goes the other way through
shared memory: a small array holding the mode (running / paused / stopped), the steps granted
and the steps spent, each written by one side only, so no lock is shared with a process that may
be killed at any instant (a worker killed inside a shared lock would freeze the server). A paused
worker blocks on a "doorbell" pipe that the server rings (one byte, never blocking) after every
change: ``checkpoint`` sleeps while paused instead of spinning.

Slots. At most ``max_running`` workers hold a slot (the waiting ones hold none); a job frees its
slot the moment its result, failure or stop arrives (or its process dies), and the next queued job
starts then. A stop is cooperative (the next ``checkpoint`` raises ``Stopped``); a worker that has
not ended ``stop_grace_s`` seconds after a stop is killed. A paused job keeps its slot (its process
holds the network it is working on), so a page should not let a paused job sit forever. A paused
*queued* job keeps its place in the line but is passed over until resumed, so it holds nobody up.

Finished jobs are kept (the last ``keep_finished``) so a page can still show their results.

Owners that have gone. A job belongs to an owner (a browser session); a session that ends
(its tab closed) must not leave its job training for nobody, holding a slot that a class is
queuing for. Given ``owner_alive`` (owner → still there?), the reader thread asks it about the
owners of active jobs every ``owner_check_s`` seconds and stops every job of an owner that has
been gone for ``owner_grace_s`` seconds in a row (:meth:`JobQueue.stop_owner`); an owner that
comes back within the grace keeps its jobs. The queue does not know what a session is: the page
passes the test (for Streamlit, whether the session's websocket is connected), so the queue is
tested with a plain function. A failing ``owner_alive`` counts as "still there" (and is logged):
a bug there must not stop everyone's jobs.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import os
import queue
import secrets
import signal
import sys
import threading
import time
import traceback
import types
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing import connection, get_context
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Any

from explorer.errors import UserError

log = logging.getLogger(__name__)

_SPAWN = get_context("spawn")

# A started job's control state, shared with its worker: _MODE, _GRANTED and _STEPPING are
# written by the server only, _USED by the worker only (so nothing needs a lock).
_MODE, _GRANTED, _USED, _STEPPING = range(4)
_RUNNING, _PAUSED, _STOPPED = 0, 1, 2

ACTIVE_STATUSES = frozenset({"queued", "running", "paused"})
# A worker's name in ps and /proc/<pid>/comm while it starts (imports ``preload``), while it waits
# for a job and while it runs one.
STARTING_NAME, WAITING_NAME, WORKING_NAME = "cnnx-starting", "cnnx-waiting", "cnnx-job"
SPARE_PAUSE_S = 60.0  # no spare worker is started for this long after one failed to start
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# A server given over to training (a teacher's own machine, a training replica) may let a run
# use more than one torch thread: full CIFAR-10 trains twice as fast on two idle cores (29 vs
# 59 s an epoch here, bench/bench_training.py --full-cifar), at the cost of the pages' speed.
TRAIN_THREADS_ENV = "CNNX_TRAIN_THREADS"


def threads_setting(value: str | None, cores: int | None) -> int:
    """The torch threads a training run gets: ``value`` (the environment's ``CNNX_TRAIN_THREADS``)
    when it is a whole number from 1 to the machine's cores, else 1, the default. A value
    that is set but wrong is logged, never fatal: the server still starts."""
    if value is None or not value.strip():
        return 1
    most = max(1, cores or 1)
    try:
        threads = int(value.strip())
    except ValueError:
        threads = 0
    if 1 <= threads <= most:
        return threads
    log.warning(
        "%s=%r is not a whole number from 1 to %d (this machine's cores): using 1 thread",
        TRAIN_THREADS_ENV,
        value,
        most,
    )
    return 1


class Stopped(Exception):
    """Raised by ``Control.checkpoint()`` in the worker once the job has been stopped."""


class JobQueueFull(UserError):
    """The server's queue of waiting jobs is full; the sentence asks the student to wait."""


class Control:
    """What a job function gets to obey pause, step and stop: call ``checkpoint()`` between units
    of work (each training batch, each optimisation step).

    ``Control()`` with no arguments never pauses nor stops: handy to call a job function directly
    (in its own tests, say) without a queue."""

    def __init__(
        self, shared: Any = None, bell: connection.Connection | None = None, parent_pid: int = 0
    ) -> None:
        self._shared = shared  # RawArray("q", 4): _MODE, _GRANTED, _USED, _STEPPING
        self._bell = bell  # the read end of the server's doorbell
        self._parent_pid = parent_pid

    def checkpoint(self) -> None:
        """Return at once while running; block while paused (until resumed, or for one step:
        return once, then block at the next call); raise ``Stopped`` once stopped, or once the
        server that started this worker is gone."""
        if self._shared is None or self._bell is None:
            return
        while True:
            if self._may_go_on():
                return
            # Empty the doorbell, look again, and only then sleep: a change made after this
            # look rings the bell again, so no wake-up is lost.
            try:
                while self._bell.poll():
                    self._bell.recv_bytes()
            except EOFError:
                raise Stopped("the server that started this job has gone") from None
            if self._may_go_on():
                return
            self._bell.poll(None)

    def _may_go_on(self) -> bool:
        """True when running or a step is granted (spending it); raise Stopped when stopped."""
        shared = self._shared
        if self._parent_pid and os.getppid() != self._parent_pid:
            raise Stopped("the server that started this job has gone")
        mode = shared[_MODE]
        if mode == _RUNNING:
            return True
        if mode == _STOPPED:
            raise Stopped("the job was stopped")
        if shared[_GRANTED] > shared[_USED]:
            shared[_USED] += 1
            return True
        return False

    @property
    def stepping(self) -> bool:
        """True while the job advances one step at a time (after ``step()``, until ``resume()``):
        a job may emit more detail then."""
        return self._shared is not None and bool(self._shared[_STEPPING])


@dataclass(eq=False)
class Job:
    """One unit of long work and everything a page shows about it. The queue's threads update
    the fields; pages only read them and call the control methods."""

    id: str
    owner: str
    target: str  # "module:function"
    kwargs: dict[str, Any]
    status: str = "queued"  # "queued" | "running" | "paused" | "done" | "failed" | "stopped"
    events: list[Any] = field(default_factory=list, repr=False)  # every event so far, in order
    result: Any = None  # once done
    error: str | None = None  # a sentence (no traceback) once failed
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    _queue: JobQueue | None = field(default=None, repr=False)
    _payload: bytes = field(default=b"", repr=False)  # the pickled kwargs, as submitted
    _held: bool = field(default=False, repr=False)  # paused while queued: passed over
    _steps: int = field(default=0, repr=False)  # steps granted while queued
    _stepping: bool = field(default=False, repr=False)  # step() while queued
    _worker: _Worker | None = field(default=None, repr=False)

    def position(self) -> int | None:
        """1 = next to run, 2 = after that, …; None when not queued. A paused queued job shows
        the place it would take if resumed now."""
        return self._owner_queue()._position(self)

    def pause(self) -> None:
        """Hold the job at its next checkpoint (a queued job stays queued and is passed over)."""
        self._owner_queue()._act(self, "pause")

    def resume(self) -> None:
        """Let a paused or stepping job run freely again."""
        self._owner_queue()._act(self, "resume")

    def step(self) -> None:
        """Let the job pass exactly one more checkpoint, then hold it (stepping mode)."""
        self._owner_queue()._act(self, "step")

    def stop(self) -> None:
        """End the job: a queued one leaves the queue, a started one ends at its next checkpoint
        (or is killed after the queue's grace time). Its status is "stopped" at once."""
        self._owner_queue()._act(self, "stop")

    @property
    def active(self) -> bool:
        """Queued, running or paused: not finished in any way."""
        return self.status in ACTIVE_STATUSES

    @property
    def held(self) -> bool:
        """A queued job that was paused: it keeps its place but is passed over until resumed."""
        return self.status == "queued" and self._held

    def _owner_queue(self) -> JobQueue:
        if self._queue is None:
            raise RuntimeError("this job does not belong to a JobQueue")
        return self._queue


@dataclass(eq=False)
class _Worker:
    """A worker process (server side): its pipes, its shared control state and the job it runs,
    ``None`` while it waits for the next one."""

    process: BaseProcess
    conn: connection.Connection | None  # messages from the worker; None once it closed its end
    orders: _Orders  # jobs to the worker
    bell: connection.Connection  # the doorbell's write end (non-blocking)
    shared: Any  # RawArray("q", 4)
    job: Job | None = None
    holds_slot: bool = False  # from its job's start until the job's last word
    jobs_run: int = 0
    ready: bool = False  # it said it has imported the queue's preload and waits for jobs
    retiring: bool = False  # told to end (or found ended): never given another job
    kill_at: float | None = None  # when it must have exited (after a stop, or once retired)

    @property
    def idle(self) -> bool:
        """Started (or starting) and waiting for a job."""
        return self.job is None and not self.retiring

    def pause(self) -> None:
        self.shared[_GRANTED] = self.shared[_USED]  # forget steps not yet spent
        self.shared[_MODE] = _PAUSED
        self.ring()

    def resume(self) -> None:
        self.shared[_STEPPING] = 0
        self.shared[_MODE] = _RUNNING
        self.ring()

    def step(self) -> None:
        shared = self.shared
        if shared[_MODE] == _STOPPED:
            return
        base = max(shared[_GRANTED], shared[_USED]) if shared[_MODE] == _PAUSED else shared[_USED]
        shared[_GRANTED] = base + 1  # before the mode: the worker reads the mode first
        shared[_STEPPING] = 1
        shared[_MODE] = _PAUSED
        self.ring()

    def stop(self) -> None:
        self.shared[_MODE] = _STOPPED
        self.ring()

    def ring(self) -> None:
        # Full (the worker has wake-ups waiting anyway) or the worker is gone: nothing to do.
        with contextlib.suppress(OSError):
            self.bell.send_bytes(b"!")


class JobQueue:
    """The server-wide queue: at most ``max_running`` jobs run at once, each in its own worker
    process with torch capped at ``torch_threads`` threads; at most ``max_queued`` wait.
    Thread-safe: every method may be called from any session's thread at once."""

    def __init__(
        self,
        max_running: int = 1,
        max_queued: int = 64,
        torch_threads: int = 1,
        *,
        keep_finished: int = 200,
        stop_grace_s: float = 5.0,
        owner_alive: Callable[[str], bool] | None = None,
        owner_grace_s: float = 90.0,
        owner_check_s: float = 5.0,
        worker_jobs: int = 1,
        keep_warm: int = 0,
        preload: tuple[str, ...] = (),
    ) -> None:
        if max_running < 1 or max_queued < 0 or torch_threads < 1 or keep_finished < 0:
            raise ValueError("max_running and torch_threads must be ≥ 1, the others ≥ 0")
        if worker_jobs < 1 or keep_warm < 0:
            raise ValueError("worker_jobs must be ≥ 1 and keep_warm ≥ 0")
        if owner_grace_s < 0 or owner_check_s <= 0:
            raise ValueError("owner_grace_s must be ≥ 0 and owner_check_s > 0")
        self.max_running = max_running
        self.max_queued = max_queued
        self.torch_threads = torch_threads
        self.keep_finished = keep_finished
        self.stop_grace_s = stop_grace_s
        self.owner_alive = owner_alive
        self.owner_grace_s = owner_grace_s
        self.owner_check_s = owner_check_s
        self.worker_jobs = worker_jobs
        self.keep_warm = keep_warm
        self.preload = tuple(preload)
        self._spares_after = 0.0  # time.monotonic() before which no spare is started
        self._owner_gone: dict[str, float] = {}  # owner → when it was first found gone
        self._next_owner_check = 0.0  # time.monotonic() of the next look (reader thread only)
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}  # submission order
        self._queued: list[Job] = []  # the line, first = oldest
        self._workers: list[_Worker] = []  # started processes not yet reaped
        self._finished: deque[str] = deque()  # ids of finished jobs, oldest first
        self._closed = False
        self._wake_reader_r, self._wake_reader_w = _SPAWN.Pipe(duplex=False)
        self._reader_woken = False
        self._reader = threading.Thread(target=self._read_loop, name="job-reader", daemon=True)
        self._reader.start()
        # Before multiprocessing's own exit handler (atexit runs the last registered first):
        # that one terminates and joins every child while this queue's reader would be reaping
        # them too ("process object is closed"). Shut down here, the workers end in order.
        atexit.register(_shutdown_at_exit, weakref.ref(self))
        with self._lock:
            self._keep_spares()

    # -- what pages call ---------------------------------------------------------------------

    def submit(self, target: str, owner: str, **kwargs: Any) -> Job:
        """Queue ``target`` ("module:function") for ``owner`` (a session id) with ``kwargs``
        (picklable; pickled now, so later changes do not reach the job). It starts at once
        when a slot is free. Raises JobQueueFull when ``max_queued`` jobs already wait."""
        module, _, function = target.partition(":")
        if not module or not function:
            raise ValueError(f"a job target is 'module:function', not {target!r}")
        payload = bytes(ForkingPickler.dumps(kwargs))
        with self._lock:
            if self._closed:
                raise RuntimeError("the job queue has been shut down")
            if len(self._queued) >= self.max_queued:
                raise JobQueueFull(
                    f"The server is busy: {len(self._queued)} jobs are already waiting. "
                    "Please try again in a few minutes."
                )
            job = Job(id=secrets.token_hex(8), owner=owner, target=target, kwargs=kwargs)
            job._queue = self
            job._payload = payload
            self._jobs[job.id] = job
            self._queued.append(job)
            self._schedule()
            if self.owner_alive is not None:
                self._wake_reader()  # its owner is watched from now on, even while it waits
        return job

    def jobs(self, owner: str | None = None) -> list[Job]:
        """Every job kept (active, and the last finished ones), oldest first; ``owner``'s only
        when given."""
        with self._lock:
            return [j for j in self._jobs.values() if owner is None or j.owner == owner]

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None (unknown, or finished long enough ago to be dropped)."""
        with self._lock:
            return self._jobs.get(job_id)

    def stop_owner(self, owner: str) -> None:
        """Stop every active job of ``owner`` (a closed session, say)."""
        with self._lock:
            for job in [j for j in self._jobs.values() if j.owner == owner and j.active]:
                self._act(job, "stop")

    def shutdown(self) -> None:
        """Stop every job, wait for the workers to end (killing those that do not within the
        grace time) and end the reader thread. Idempotent."""
        with self._lock:
            if self._closed and not self._reader.is_alive():
                return
            self._closed = True
            for job in [j for j in self._jobs.values() if j.active]:
                self._act(job, "stop")
            for worker in [w for w in self._workers if w.idle]:
                self._retire(worker)
            self._wake_reader()
        self._reader.join(timeout=self.stop_grace_s + 10)
        with self._lock:
            for worker in self._workers:  # only if the reader failed to reap them
                worker.process.kill()
                worker.process.join(timeout=5)
            if not self._reader.is_alive():
                self._wake_reader_r.close()
                self._wake_reader_w.close()

    # -- job methods land here -----------------------------------------------------------------

    def _position(self, job: Job) -> int | None:
        with self._lock:
            if job.status != "queued":
                return None
            ahead = 0
            for other in self._queued:
                if other is job:
                    return ahead + 1
                if not other._held:
                    ahead += 1
            return None

    def _act(self, job: Job, action: str) -> None:
        with self._lock:
            if not job.active:
                return
            worker = job._worker
            if worker is None:  # queued
                if action == "pause":
                    job._held = True
                elif action == "resume":
                    job._held, job._steps, job._stepping = False, 0, False
                elif action == "step":
                    job._held, job._stepping = False, True
                    job._steps += 1
                elif action == "stop":
                    self._queued.remove(job)
                    self._finish(job, "stopped")
                self._schedule()
            elif action == "pause":
                worker.pause()
                job.status = "paused"
            elif action == "resume":
                worker.resume()
                job.status = "running"
            elif action == "step":
                worker.step()
                job.status = "paused"
            elif action == "stop":
                worker.stop()
                self._finish(job, "stopped")
                worker.kill_at = time.monotonic() + self.stop_grace_s
                self._wake_reader()

    # -- scheduling (under the lock) -------------------------------------------------------------

    def _schedule(self) -> None:
        """Start queued jobs (oldest first, passing over held ones) while slots are free, each
        on a waiting worker when there is one, else on a new one; then top up the spares."""
        while not self._closed:
            if sum(w.holds_slot for w in self._workers) >= self.max_running:
                break
            job = next((j for j in self._queued if not j._held), None)
            if job is None:
                break
            self._queued.remove(job)
            worker = next((w for w in self._workers if w.idle), None)
            if worker is None:
                try:
                    worker = self._spawn()
                except Exception as exc:
                    log.exception("Could not start a worker for job %s (%s)", job.id, job.target)
                    job._payload = b""
                    job.error = f"The server could not start this job: {exc}"
                    self._finish(job, "failed")
                    continue
            self._dispatch(worker, job)
        self._keep_spares()

    def _keep_spares(self) -> None:
        """Start workers until ``keep_warm`` of them wait for a job (importing ``preload``), but
        only while no job runs: a spare's start (seconds of CPU) must not compete with a job, nor
        with a class pressing Start together (while jobs run, a job that finds no waiting worker
        starts its own, as without spares)."""
        if self._closed or time.monotonic() < self._spares_after:
            return
        if any(w.holds_slot for w in self._workers):
            return
        while sum(self._stays(w) for w in self._workers) < self.keep_warm:
            try:
                self._spawn()
            except Exception:
                log.exception("Could not start a spare worker; the next job starts its own")
                self._spares_after = time.monotonic() + SPARE_PAUSE_S
                return

    def _stays(self, worker: _Worker) -> bool:
        """Whether ``worker`` is waiting for a job, or will be once its job ends."""
        if worker.retiring:
            return False
        return worker.job is None or worker.jobs_run + 1 < self.worker_jobs

    def _spawn(self) -> _Worker:
        """Start a worker process; it waits for jobs on its orders pipe."""
        shared = _SPAWN.RawArray("q", 4)
        reader, writer = _SPAWN.Pipe(duplex=False)
        orders_reader, orders = _SPAWN.Pipe(duplex=False)
        bell_reader, bell = _SPAWN.Pipe(duplex=False)
        os.set_blocking(bell.fileno(), False)
        ends = (reader, writer, orders_reader, orders, bell_reader, bell)
        process = _SPAWN.Process(
            target=_worker_main,
            args=(writer, orders_reader, shared, bell_reader, os.getpid()),
            kwargs={"torch_threads": self.torch_threads, "preload": self.preload},
            name="job-worker",
            daemon=True,
        )
        try:
            with _neutral_main():
                process.start()
        except BaseException:
            for end in ends:
                end.close()
            raise
        # The child has its own copies; ours would keep the pipes from ever ending.
        for end in (writer, orders_reader, bell_reader):
            end.close()
        worker = _Worker(process, reader, _Orders(orders), bell, shared)
        self._workers.append(worker)
        self._wake_reader()
        return worker

    def _dispatch(self, worker: _Worker, job: Job) -> None:
        """Give ``job`` to ``worker`` (waiting, so nothing else writes its control state)."""
        shared = worker.shared
        shared[_MODE], shared[_GRANTED], shared[_USED], shared[_STEPPING] = _RUNNING, 0, 0, 0
        if job._stepping:  # step() while queued: it starts paused with those steps granted
            shared[_GRANTED], shared[_STEPPING] = job._steps, 1
            shared[_MODE] = _PAUSED
        worker.orders.send(bytes(ForkingPickler.dumps((job.target, job._payload))))
        job._payload = b""
        worker.job, worker.holds_slot, worker.kill_at = job, True, None
        job._worker = worker
        job.started = time.time()
        job.status = "paused" if job._stepping else "running"

    def _settle(self, worker: _Worker) -> None:
        """``worker``'s job has said its last word: its slot frees, and the worker waits for the
        next job, or ends once it has run ``worker_jobs`` jobs."""
        job = worker.job
        if job is not None:
            job._worker = None
        worker.job, worker.holds_slot = None, False
        worker.jobs_run += 1
        if self._closed or worker.retiring or worker.jobs_run >= self.worker_jobs:
            self._retire(worker)
        else:
            worker.kill_at = None  # a stopped job that ended in time: the worker goes on
        self._schedule()

    def _retire(self, worker: _Worker) -> None:
        """Tell ``worker`` to end (it reads the end of its orders); killed if it has not soon."""
        if not worker.retiring:
            worker.retiring = True
            worker.orders.close()
        if worker.kill_at is None:
            worker.kill_at = time.monotonic() + self.stop_grace_s

    def _finish(self, job: Job, status: str) -> None:
        """Mark ``job`` finished with ``status`` and forget the oldest finished jobs."""
        job.status = status
        job.finished = time.time()
        self._finished.append(job.id)
        while len(self._finished) > self.keep_finished:
            self._jobs.pop(self._finished.popleft(), None)

    def _wake_reader(self) -> None:
        """Make the reader look again at its workers and deadlines (one byte, never more than
        one pending, so this never blocks)."""
        if not self._reader_woken:
            self._reader_woken = True
            self._wake_reader_w.send_bytes(b"!")

    # -- the reader thread -----------------------------------------------------------------------

    def _read_loop(self) -> None:
        while True:
            try:
                if not self._read_once():
                    return
            except Exception:  # a bug here must not freeze every job of the server
                log.exception("The job reader hit an error; it carries on")
                time.sleep(0.1)

    def _read_once(self) -> bool:
        """Wait for anything (an event, a process ending, a deadline, a wake-up) and handle it.
        False once the queue is shut down and every worker reaped."""
        with self._lock:
            if self._closed and not self._workers:
                return False
            waiting: dict[Any, tuple[str, _Worker | None]] = {self._wake_reader_r: ("wake", None)}
            for worker in self._workers:
                if worker.conn is not None:
                    waiting[worker.conn] = ("conn", worker)
                waiting[worker.process.sentinel] = ("ended", worker)
            deadlines = [w.kill_at for w in self._workers if w.kill_at is not None]
            if self.owner_alive is not None and any(j.active for j in self._jobs.values()):
                deadlines.append(self._next_owner_check)
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        ended: list[_Worker] = []
        for ready in connection.wait(list(waiting), timeout):
            kind, who = waiting[ready]
            if kind == "wake":
                with self._lock:
                    while self._wake_reader_r.poll():
                        self._wake_reader_r.recv_bytes()
                    self._reader_woken = False
            elif kind == "conn" and who is not None:
                self._receive(who)
            elif kind == "ended" and who is not None:
                ended.append(who)
        for gone in ended:  # after the messages above: _reap reads whatever is left
            self._reap(gone)
        self._enforce_deadlines()
        self._check_owners()
        return True

    def _receive(self, worker: _Worker) -> None:
        """Read one message from ``worker`` (outside the lock: unpickling may take a while)."""
        conn = worker.conn
        if conn is None:
            return
        try:
            message = conn.recv()
        except EOFError:
            with self._lock:
                conn.close()
                worker.conn = None
            return
        except Exception as exc:  # unpicklable here (a class the server cannot import, …)
            job = worker.job
            log.exception("Could not read a message from job %s", job.id if job else "(none)")
            message = ("failed", f"The server could not read what the job sent: {exc}", "")
            with self._lock:
                worker.stop()
                worker.retiring = True  # it may still be at work: it gets no other job
        self._handle(worker, message)

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        with self._lock:
            job = worker.job
            if message[0] == "ready":
                worker.ready = True
                return
            if job is None:  # a waiting worker, or one retired mid-job: nobody listens
                if not worker.retiring:
                    log.warning("A waiting job worker sent %r; ignored", message[0])
                return
            kind = message[0]
            if kind == "event":
                job.events.append(message[1])
                return
            # The job's last word: its slot frees now, its process should end in a moment.
            if kind == "done" and job.active:
                job.result = message[1]
                self._finish(job, "done")
            elif kind == "failed":
                sentence, trace = message[1], message[2]
                log.error("Job %s (%s, owner %s) failed: %s\n%s", job.id, job.target,
                          job.owner, sentence, trace)  # fmt: skip
                if job.active:
                    job.error = sentence
                    self._finish(job, "failed")
            elif kind == "stopped" and job.active:
                self._finish(job, "stopped")
            self._settle(worker)

    def _reap(self, worker: _Worker) -> None:
        """``worker``'s process has ended: read what it left in the pipe, then settle its job."""
        with self._lock:
            was_retiring, worker.retiring = worker.retiring, True  # no job for the dead
        while worker.conn is not None and worker.conn.poll():
            self._receive(worker)
        with self._lock:
            if worker.conn is not None:
                worker.conn.close()
                worker.conn = None
            worker.process.join()
            job = worker.job
            if job is not None:
                if job.active:  # it ended without a last word: killed, crashed, exited
                    job.error = _death_sentence(worker.process.exitcode)
                    log.warning("Job %s (%s) ended unexpectedly: %s", job.id, job.target, job.error)
                    self._finish(job, "failed")
                job._worker = None
            elif not was_retiring:
                log.warning(
                    "A waiting job worker ended unexpectedly: %s",
                    _death_sentence(worker.process.exitcode),
                )
                if not worker.ready:  # a spare that dies starting: not again for a while
                    self._spares_after = time.monotonic() + SPARE_PAUSE_S
            worker.job, worker.holds_slot = None, False
            worker.orders.close()
            worker.process.close()
            worker.bell.close()
            self._workers.remove(worker)
            self._schedule()

    def _check_owners(self) -> None:
        """Every ``owner_check_s``: stop the jobs of owners gone for ``owner_grace_s``."""
        now = time.monotonic()
        if self.owner_alive is None or now < self._next_owner_check:
            return
        self._next_owner_check = now + self.owner_check_s
        with self._lock:
            owners = {j.owner for j in self._jobs.values() if j.active}
        for owner in list(self._owner_gone):
            if owner not in owners:  # nothing left to stop: forget it
                del self._owner_gone[owner]
        for owner in owners:  # outside the lock: the test may take locks of its own
            try:
                alive = bool(self.owner_alive(owner))
            except Exception:  # noqa: BLE001 — a broken test must not stop everyone's jobs
                log.exception("Could not tell whether owner %s is still there", owner)
                alive = True
            if alive:
                self._owner_gone.pop(owner, None)
                continue
            gone_since = self._owner_gone.setdefault(owner, now)
            if now - gone_since >= self.owner_grace_s:
                log.info("Stopping the jobs of %s: gone for %.0f s", owner, now - gone_since)
                self.stop_owner(owner)
                del self._owner_gone[owner]

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        with self._lock:
            for worker in self._workers:
                if worker.kill_at is not None and worker.kill_at <= now:
                    what = f"Job {worker.job.id}" if worker.job else "A retired worker"
                    log.warning("%s did not end in time; killing its worker", what)
                    worker.process.kill()
                    worker.kill_at = None  # its sentinel reports the end


_MAIN_SWAP = threading.Lock()


@contextlib.contextmanager
def _neutral_main() -> Iterator[None]:
    """While a worker starts, an empty ``__main__`` (no ``__file__``, no ``__spec__``), so the
    spawned child runs no main module. ``sys.modules["__main__"]`` is process-wide and Streamlit
    itself rewrites it at every script run; it is put back only if nobody replaced it meanwhile."""
    with _MAIN_SWAP:
        original = sys.modules.get("__main__")
        neutral = types.ModuleType("__main__")
        sys.modules["__main__"] = neutral
        try:
            yield
        finally:
            if sys.modules.get("__main__") is neutral and original is not None:
                sys.modules["__main__"] = original


def _shutdown_at_exit(queue_ref: weakref.ref[JobQueue]) -> None:
    queue = queue_ref()
    if queue is not None:
        queue.shutdown()


def _death_sentence(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"The job ended unexpectedly: its worker process was killed ({name})."
    return f"The job ended unexpectedly: its worker process exited with code {exitcode}."


# -- the worker process ------------------------------------------------------------------------


def _worker_main(
    conn: connection.Connection,
    orders: connection.Connection,
    shared: Any,
    bell: connection.Connection,
    parent_pid: int,
    *,
    torch_threads: int,
    preload: tuple[str, ...] = (),
) -> None:
    """The worker process: import ``preload``, then run each job the server sends over
    ``orders`` until that pipe ends, sending each job's events and its last word ("done" +
    result, "failed" + sentence + traceback, or "stopped") over ``conn``."""
    _name_process(STARTING_NAME)  # "waiting" only once ready: a job may be on its way already
    _cap_threads(torch_threads)  # before anything can import torch or NumPy
    sender = _Sender(conn)
    for name in preload:
        with contextlib.suppress(Exception):  # a job that needs it says why it cannot load
            importlib.import_module(name)
    _cap_threads(torch_threads)  # in case a preloaded module loaded torch
    sender.send(("ready",))
    while True:
        _name_process(WAITING_NAME)
        try:
            order = orders.recv_bytes()
        except (EOFError, OSError, KeyboardInterrupt):  # the server is done with this worker
            break
        _name_process(WORKING_NAME)
        target, payload = ForkingPickler.loads(order)
        control = Control(shared, bell, parent_pid)
        sender.send(_run(target, payload, control, sender.emit, torch_threads))
    sender.close()


def _run(
    target: str, payload: bytes, control: Control, emit: Callable[[object], None], threads: int
) -> tuple[Any, ...]:
    """Run one job: its last word."""
    try:
        try:
            module_name, _, function_name = target.partition(":")
            function = getattr(importlib.import_module(module_name), function_name)
        except Exception as exc:
            raise RuntimeError(f"The job {target!r} could not be loaded: {exc}") from exc
        _cap_threads(threads)  # in case importing the module loaded torch just now
        kwargs = ForkingPickler.loads(payload)
        return ("done", function(control, emit, **kwargs))
    except Stopped:
        return ("stopped",)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes the job's sentence
        return ("failed", _sentence(exc), traceback.format_exc())


def _name_process(name: str) -> None:
    """Show ``name`` for this process in ps and /proc/<pid>/comm (Linux; elsewhere nothing)."""
    with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
        comm.write(name)


def _sentence(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text else f"The job failed ({type(exc).__name__})."


def _cap_threads(threads: int) -> None:
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


class _Sender:
    """The worker's way out: ``emit`` pickles at once and queues the bytes; a thread writes them
    to the pipe, so the job never waits for the server to read."""

    def __init__(self, conn: connection.Connection) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._send_all, name="job-sender", daemon=True)
        self._thread.start()

    def emit(self, event: object) -> None:
        self._queue.put(bytes(ForkingPickler.dumps(("event", event))))

    def send(self, last: tuple[Any, ...]) -> None:
        """Send a job's last word (or the worker's "ready") after every event emitted so far."""
        try:
            data = bytes(ForkingPickler.dumps(last))
        except Exception as exc:
            sentence = f"The job's result could not be sent back: {exc}"
            data = bytes(ForkingPickler.dumps(("failed", sentence, traceback.format_exc())))
        self._queue.put(data)

    def close(self) -> None:
        """Send everything still queued, then close the pipe."""
        self._queue.put(None)
        self._thread.join()
        self._conn.close()

    def _send_all(self) -> None:
        while (data := self._queue.get()) is not None:
            try:
                self._conn.send_bytes(data)
            except OSError:  # the server has gone; nobody is listening
                return


class _Orders:
    """The server's way to a worker: jobs are written by a thread of their own, so giving a job
    to a worker that is still starting (importing torch) never blocks the page that asked."""

    def __init__(self, conn: connection.Connection) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._send_all, name="job-orders", daemon=True)
        self._thread.start()

    def send(self, data: bytes) -> None:
        self._queue.put(data)

    def close(self) -> None:
        """After what is queued, end the pipe: the worker reads the end and exits."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)

    def _send_all(self) -> None:
        try:
            while (data := self._queue.get()) is not None:
                self._conn.send_bytes(data)
        except OSError:  # the worker has gone; its end is reported by its process
            pass
        finally:
            self._conn.close()
