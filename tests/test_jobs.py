"""The job queue: jobs run in spawned worker processes, report events in order and their result,
obey pause / step / stop, wait their turn with positions, fail with a sentence (an exception,
a killed worker), free their slot, and many threads can submit at once.

The job functions live in tests/jobs_for_tests.py, importable by name in the worker."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator

import pytest

from explorer.errors import UserError
from explorer.jobs import Control, Job, JobQueue, JobQueueFull, threads_setting
from tests import jobs_for_tests

T = "tests.jobs_for_tests:"
QUIET_S = 0.5  # a ticking job emits every 10 ms; this long without an event means it is held


def wait_until(condition: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.005)


def settled_count(job: Job, timeout: float = 10.0) -> int:
    """The number of events once ``job`` has emitted nothing for QUIET_S seconds."""
    count, since = len(job.events), time.monotonic()
    deadline = since + timeout
    while time.monotonic() - since < QUIET_S:
        if time.monotonic() > deadline:
            raise AssertionError(f"the job never came to rest ({count} events and counting)")
        time.sleep(0.01)
        if len(job.events) != count:
            count, since = len(job.events), time.monotonic()
    return count


def finished(job: Job) -> bool:
    return not job.active


@pytest.fixture
def make_queue() -> Iterator[Callable[..., JobQueue]]:
    queues: list[JobQueue] = []

    def make(**options: object) -> JobQueue:
        queue = JobQueue(**options)  # type: ignore[arg-type]
        queues.append(queue)
        return queue

    yield make
    for queue in queues:
        queue.shutdown()


def test_job_runs_to_done_with_its_events_in_order_and_its_result(make_queue):
    queue = make_queue()
    job = queue.submit(T + "count", owner="ana", n=50)
    assert job.owner == "ana" and job.kwargs == {"n": 50}
    wait_until(lambda: finished(job), "the job finished")
    assert job.status == "done"
    assert job.events == list(range(50))
    assert job.result == {"total": 50}
    assert job.error is None
    assert job.created <= job.started <= job.finished  # type: ignore[operator]
    assert job.position() is None and not job.active
    assert queue.get(job.id) is job
    assert queue.jobs("ana") == [job] and queue.jobs("bob") == []


def test_kwargs_are_pickled_at_submit_so_later_changes_do_not_reach_the_job(make_queue):
    queue = make_queue(max_running=1)
    first = queue.submit(T + "tick", owner="ana")
    settings = {"n": 2}
    job = queue.submit(T + "count", owner="ana", **settings)
    job.kwargs["n"] = 99
    first.stop()
    wait_until(lambda: finished(job), "the job finished")
    assert job.result == {"total": 2}


def test_pause_holds_a_running_job_until_resume(make_queue):
    queue = make_queue()
    job = queue.submit(T + "tick", owner="ana")
    wait_until(lambda: len(job.events) >= 3, "the job ticked")
    job.pause()
    assert job.status == "paused" and job.active
    held = settled_count(job)
    time.sleep(QUIET_S)
    assert len(job.events) == held
    job.resume()
    assert job.status == "running"
    wait_until(lambda: len(job.events) >= held + 5, "the job ticked again")
    assert [event[0] for event in job.events] == list(range(1, len(job.events) + 1))


def test_step_advances_exactly_one_checkpoint_then_holds(make_queue):
    queue = make_queue()
    job = queue.submit(T + "tick", owner="ana")
    wait_until(lambda: len(job.events) >= 2, "the job ticked")
    job.pause()
    held = settled_count(job)
    assert not any(stepping for _, stepping in job.events)

    job.step()
    assert job.status == "paused"
    assert settled_count(job) == held + 1
    assert job.events[-1] == (held + 1, True)  # one more checkpoint passed, in stepping mode

    job.step()
    job.step()  # steps asked for in a row add up
    assert settled_count(job) == held + 3

    job.resume()
    wait_until(lambda: len(job.events) >= held + 8, "the job runs freely")
    assert job.events[-1][1] is False  # stepping ends with resume

    job.step()  # on a running job: stepping mode, one checkpoint, then held
    held = settled_count(job)
    assert job.status == "paused" and job.events[-1][1] is True
    time.sleep(QUIET_S)
    assert len(job.events) == held


def test_stop_a_running_job_ends_it_and_frees_its_slot(make_queue):
    queue = make_queue(max_running=1)
    job = queue.submit(T + "tick", owner="ana")
    waiting = queue.submit(T + "count", owner="bob")
    wait_until(lambda: len(job.events) >= 2, "the job ticked")
    job.stop()
    assert job.status == "stopped" and job.finished is not None and not job.active
    wait_until(lambda: finished(waiting), "the waiting job ran")
    assert waiting.status == "done"
    count = len(job.events)
    time.sleep(QUIET_S)
    assert len(job.events) == count
    job.resume()  # control of a finished job does nothing
    assert job.status == "stopped"


def test_stop_a_paused_job_ends_it_and_frees_its_slot(make_queue):
    queue = make_queue(max_running=1)
    job = queue.submit(T + "tick", owner="ana")
    waiting = queue.submit(T + "count", owner="bob")
    wait_until(lambda: len(job.events) >= 2, "the job ticked")
    job.pause()
    held = settled_count(job)
    job.stop()
    assert job.status == "stopped"
    wait_until(lambda: finished(waiting), "the waiting job ran")
    assert waiting.status == "done" and len(job.events) == held


def test_stop_a_queued_job_removes_it_from_the_queue(make_queue):
    queue = make_queue(max_running=1)
    running = queue.submit(T + "tick", owner="ana")
    second = queue.submit(T + "count", owner="bob")
    third = queue.submit(T + "count", owner="cy")
    assert (second.position(), third.position()) == (1, 2)
    second.stop()
    assert second.status == "stopped" and second.position() is None
    assert third.position() == 1
    running.stop()
    wait_until(lambda: finished(third), "the third job ran")
    assert third.status == "done"
    assert second.started is None and second.events == [] and second.status == "stopped"


def test_jobs_beyond_max_running_wait_with_positions_one_two_three(make_queue):
    queue = make_queue(max_running=2)
    first = queue.submit(T + "tick", owner="a")
    second = queue.submit(T + "tick", owner="b")
    waiting = [queue.submit(T + "count", owner=f"w{i}") for i in range(3)]
    assert [first.status, second.status] == ["running", "running"]
    assert [job.status for job in waiting] == ["queued"] * 3
    assert [job.position() for job in (first, second, *waiting)] == [None, None, 1, 2, 3]
    assert all(job.started is None for job in waiting)

    first.stop()
    wait_until(lambda: waiting[0].status != "queued", "the first waiting job started")
    assert [job.position() for job in waiting] == [None, 1, 2]
    wait_until(lambda: all(finished(job) for job in waiting), "all waiting jobs ran")
    assert second.status == "running"  # it never gave up its slot
    assert [job.status for job in waiting] == ["done"] * 3


def test_a_paused_queued_job_keeps_its_place_but_lets_others_pass(make_queue):
    queue = make_queue(max_running=1)
    running = queue.submit(T + "tick", owner="a")
    paused = queue.submit(T + "count", owner="b")
    behind = queue.submit(T + "count", owner="c")
    paused.pause()
    assert paused.status == "queued" and paused.held
    assert (paused.position(), behind.position()) == (1, 1)
    running.stop()
    wait_until(lambda: finished(behind), "the job behind ran")
    assert paused.status == "queued" and paused.started is None
    paused.resume()
    assert not paused.held
    wait_until(lambda: finished(paused), "the resumed job ran")
    assert paused.status == "done"


def test_step_on_a_queued_job_starts_it_holding_after_one_checkpoint(make_queue):
    queue = make_queue(max_running=1)
    running = queue.submit(T + "tick", owner="a")
    stepped = queue.submit(T + "tick", owner="b")
    stepped.step()
    running.stop()
    wait_until(lambda: stepped.events, "the stepped job passed its first checkpoint")
    assert stepped.status == "paused"
    assert settled_count(stepped) == 1 and stepped.events == [(1, True)]


def test_a_failing_job_fails_with_its_message_frees_its_slot_and_the_next_starts(
    make_queue, caplog
):
    caplog.set_level(logging.ERROR, logger="explorer.jobs")
    queue = make_queue(max_running=1)
    failing = queue.submit(T + "fail", owner="ana", message="The kernel must be 3 × 3.")
    after = queue.submit(T + "count", owner="bob")
    wait_until(lambda: finished(after), "the next job ran")
    assert failing.status == "failed"
    assert failing.error == "The kernel must be 3 × 3."
    assert failing.events == ["before"] and failing.result is None
    assert after.status == "done"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Traceback" in logged and "ValueError: The kernel must be 3 × 3." in logged


@pytest.mark.parametrize("worker_jobs", [1, 5])
def test_a_killed_worker_fails_its_job_and_frees_its_slot(make_queue, worker_jobs):
    queue = make_queue(max_running=1, worker_jobs=worker_jobs)
    job = queue.submit(T + "pid_then_tick", owner="ana")
    after = queue.submit(T + "count", owner="bob")
    wait_until(lambda: len(job.events) >= 2, "the job started ticking")
    os.kill(job.events[0], signal.SIGKILL)
    wait_until(lambda: finished(after), "the next job ran")
    assert job.status == "failed"
    assert job.error == "The job ended unexpectedly: its worker process was killed (SIGKILL)."
    assert after.status == "done"


def run(queue: JobQueue, target: str, **kwargs: object) -> Job:
    job = queue.submit(T + target, owner="ana", **kwargs)
    wait_until(lambda: finished(job), f"{target} finished", 30)
    return job


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_worker_runs_worker_jobs_jobs_then_ends_and_a_new_one_takes_over(make_queue):
    queue = make_queue(max_running=1, worker_jobs=3)
    pids = [run(queue, "where").result[0] for _ in range(4)]
    assert pids[0] == pids[1] == pids[2] != pids[3]
    wait_until(lambda: gone(pids[0]), "the worker that ran three jobs ended")
    assert not gone(pids[3])  # it has jobs left: it waits


def comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as name:
        return name.read().strip()


def test_a_reused_worker_starts_each_job_free_of_the_last_ones_pause_step_or_stop(make_queue):
    queue = make_queue(max_running=1, worker_jobs=10, keep_warm=1)
    stepped = queue.submit(T + "tick", owner="ana")
    stepped.step()
    wait_until(lambda: stepped.events, "the stepping job passed its step")
    stepped.stop()
    after_step = run(queue, "count", n=20)
    assert after_step.status == "done" and after_step.events == list(range(20))
    paused = queue.submit(T + "pid_then_tick", owner="ana")
    wait_until(lambda: len(paused.events) >= 2, "the job ticked")
    paused.pause()
    paused.stop()
    after_pause = run(queue, "where")
    assert after_pause.result == (paused.events[0], False)  # same worker, running freely
    failed = run(queue, "fail", message="No.")
    assert failed.status == "failed" and run(queue, "where").result[0] == paused.events[0]
    # One worker did it all: it was the spare, and stays, so no other was started. ps tells
    # a worker waiting from one at work.
    (worker,) = queue._workers
    wait_until(lambda: comm(paused.events[0]) == "cnnx-waiting", "the worker waits")
    busy = queue.submit(T + "tick", owner="ana")
    wait_until(lambda: busy.events, "the job ticks")
    assert comm(paused.events[0]) == "cnnx-job" and len(queue._workers) == 1


def test_a_warm_spare_has_its_modules_loaded_before_the_job_and_is_replaced(
    make_queue, monkeypatch, tmp_path
):
    monkeypatch.setenv("CNNX_TEST_LOADED_DIR", str(tmp_path))
    queue = make_queue(max_running=1, keep_warm=1, preload=("tests.jobs_for_tests",))
    wait_until(lambda: len(list(tmp_path.iterdir())) == 1, "a spare loaded the module", 30)
    (spare,) = [int(path.name) for path in tmp_path.iterdir()]
    busy = queue.submit(T + "pid_then_tick", owner="ana")
    wait_until(lambda: len(busy.events) >= 3, "the job ticks")
    assert busy.events[0] == spare  # the spare took the job, loaded before it was asked
    time.sleep(0.5)
    assert len(list(tmp_path.iterdir())) == 1  # no spare starts while a job runs
    busy.stop()
    # A new spare starts once no job runs; one killed while waiting is replaced.
    wait_until(lambda: len(list(tmp_path.iterdir())) == 2, "a second spare loaded", 30)
    (second,) = [int(path.name) for path in tmp_path.iterdir() if int(path.name) != spare]
    # (Killed before it says it is ready, a spare counts as failing to start: none for a while.)
    wait_until(lambda: any(w.ready and w.idle for w in queue._workers), "the spare is ready")
    os.kill(second, signal.SIGKILL)
    wait_until(lambda: len(list(tmp_path.iterdir())) == 3, "the killed spare was replaced", 30)
    pids = [int(path.name) for path in tmp_path.iterdir()]
    (third,) = set(pids) - {spare, second}
    assert run(queue, "where").result[0] == third
    queue.shutdown()
    assert all(gone(pid) for pid in pids)  # the waiting workers end with the queue


def test_a_job_that_never_reaches_a_checkpoint_is_killed_after_the_grace_time(make_queue):
    queue = make_queue(max_running=1, stop_grace_s=0.5)
    stubborn = queue.submit(T + "never_checkpoint", owner="ana")
    after = queue.submit(T + "count", owner="bob")
    wait_until(lambda: stubborn.events == ["started"], "the stubborn job started")
    stopped_at = time.monotonic()
    stubborn.stop()
    wait_until(lambda: finished(after), "the next job ran", timeout=10)
    assert time.monotonic() - stopped_at < 8  # not the job's 60 s
    assert stubborn.status == "stopped" and after.status == "done"


def test_stop_owner_stops_that_owners_jobs_only(make_queue):
    queue = make_queue(max_running=2)
    mine = [queue.submit(T + "tick", owner="closed"), queue.submit(T + "tick", owner="closed")]
    other = queue.submit(T + "tick", owner="open")  # queued behind the two
    mine_queued = queue.submit(T + "count", owner="closed")
    queue.stop_owner("closed")
    assert [job.status for job in (*mine, mine_queued)] == ["stopped"] * 3
    wait_until(lambda: other.status == "running", "the other owner's job started")
    wait_until(lambda: len(other.events) >= 2, "the other owner's job ticks")
    assert mine_queued.started is None


def test_a_full_queue_refuses_with_a_sentence(make_queue):
    queue = make_queue(max_running=1, max_queued=2)
    queue.submit(T + "tick", owner="a")
    queue.submit(T + "count", owner="b")
    queue.submit(T + "count", owner="c")
    with pytest.raises(JobQueueFull, match="busy") as refused:
        queue.submit(T + "count", owner="d")
    assert isinstance(refused.value, UserError)
    assert str(refused.value).endswith(".") and "\n" not in str(refused.value)
    assert len(queue.jobs()) == 3


def test_submits_from_8_threads_at_once_all_run_within_the_limit(make_queue):
    queue = make_queue(max_running=2)
    barrier = threading.Barrier(8)
    submitted: list[Job] = []
    lock = threading.Lock()

    def session(i: int) -> None:
        barrier.wait()
        for k in range(2):
            job = queue.submit(T + "count", owner=f"s{i}", n=i + k)
            with lock:
                submitted.append(job)
            job.position()  # reading while others submit
            queue.jobs(f"s{i}")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({job.id for job in submitted}) == 16
    wait_until(lambda: all(finished(job) for job in submitted), "every job finished", 30)
    assert all(job.status == "done" for job in submitted)
    assert all(job.result == {"total": job.kwargs["n"]} for job in submitted)
    # Never more than two at once: at every start, at most one other job was unfinished.
    spans = [(job.started, job.finished) for job in submitted]
    for start, _ in spans:
        assert sum(s <= start < f for s, f in spans) <= 2  # type: ignore[operator]


def test_torch_in_a_worker_is_capped_at_the_queues_thread_count(make_queue):
    # Without the cap torch takes one thread per core (this job imports torch itself, lazily).
    job = make_queue(torch_threads=1).submit(T + "torch_threads", owner="ana")
    wait_until(lambda: finished(job), "the job finished", 60)
    assert job.result == 1


def test_a_worker_does_not_run_the_script_installed_as_main(make_queue, monkeypatch, tmp_path):
    """Streamlit installs the running page script as ``__main__``; spawn would run it again."""
    marker = tmp_path / "ran"
    script = tmp_path / "page.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    job = make_queue().submit(T + "count", owner="ana")
    assert sys.modules["__main__"] is page  # put back after the start
    wait_until(lambda: finished(job), "the job finished")
    assert job.status == "done" and not marker.exists()


def test_finished_jobs_are_kept_up_to_keep_finished(make_queue):
    queue = make_queue(max_running=1, keep_finished=2)  # one at a time: they finish in order
    jobs = [queue.submit(T + "count", owner="ana", n=1) for _ in range(3)]
    wait_until(lambda: all(finished(job) for job in jobs), "every job finished")
    assert queue.get(jobs[0].id) is None
    assert queue.jobs() == jobs[1:] and all(job.result == {"total": 1} for job in jobs)


def test_shutdown_stops_every_job_and_ends_the_workers(make_queue):
    queue = make_queue(max_running=1)
    running = queue.submit(T + "pid_then_tick", owner="a")
    queued = queue.submit(T + "count", owner="b")
    wait_until(lambda: len(running.events) >= 2, "the job ticked")
    queue.shutdown()
    assert (running.status, queued.status) == ("stopped", "stopped")
    assert not queue._reader.is_alive()
    with pytest.raises(ProcessLookupError):  # ended and reaped
        os.kill(running.events[0], 0)
    with pytest.raises(RuntimeError, match="shut down"):
        queue.submit(T + "count", owner="c")
    queue.shutdown()  # again: nothing to do


def test_jobs_that_cannot_load_or_send_fail_with_a_sentence(make_queue):
    queue = make_queue(max_running=2)
    unknown = queue.submit("tests.jobs_for_tests:no_such_job", owner="ana")
    unsendable = queue.submit(T + "unpicklable_event", owner="ana")
    wait_until(lambda: finished(unknown) and finished(unsendable), "both jobs finished")
    assert unknown.status == "failed"
    assert unknown.error is not None and "could not be loaded" in unknown.error
    assert unsendable.status == "failed" and unsendable.error
    assert "Traceback" not in unsendable.error


def test_submit_refuses_a_malformed_target_or_unpicklable_kwargs(make_queue):
    queue = make_queue()
    with pytest.raises(ValueError, match="module:function"):
        queue.submit("tests.jobs_for_tests.count", owner="ana")
    with pytest.raises(Exception, match="pickle"):
        queue.submit(T + "count", owner="ana", n=lambda: 3)
    assert queue.jobs() == []


def test_a_job_function_runs_without_a_queue_with_a_plain_control():
    events: list[object] = []
    assert jobs_for_tests.count(Control(), events.append, n=3) == {"total": 3}
    assert events == [0, 1, 2] and not Control().stepping


class Presence:
    """Who is still there, as the page's test of a session would say (owners in ``gone`` are
    not); counts how often each owner was asked about."""

    def __init__(self) -> None:
        self.gone: set[str] = set()
        self.asked: dict[str, int] = {}

    def __call__(self, owner: str) -> bool:
        self.asked[owner] = self.asked.get(owner, 0) + 1
        return owner not in self.gone


def test_the_jobs_of_an_owner_gone_past_the_grace_are_stopped_and_others_run_on(make_queue):
    presence = Presence()
    queue = make_queue(max_running=2, owner_alive=presence, owner_grace_s=0.6, owner_check_s=0.05)
    running = queue.submit(T + "tick", owner="closed-tab")
    other = queue.submit(T + "tick", owner="open-tab")
    queued = queue.submit(T + "count", owner="closed-tab")  # waiting behind the two
    wait_until(lambda: len(running.events) >= 2 and len(other.events) >= 2, "both tick")
    assert presence.asked.get("closed-tab", 0) >= 1  # asked about while it is there
    gone_at = time.monotonic()
    presence.gone.add("closed-tab")
    wait_until(lambda: running.status == "stopped", "the closed tab's job stopped")
    assert time.monotonic() - gone_at >= 0.6  # not before the grace
    assert queued.status == "stopped" and queued.started is None
    ticks = len(other.events)
    wait_until(lambda: len(other.events) >= ticks + 5, "the open tab's job ticks on")
    assert other.status == "running"


def test_an_owner_back_within_the_grace_keeps_its_job(make_queue):
    presence = Presence()
    queue = make_queue(owner_alive=presence, owner_grace_s=0.6, owner_check_s=0.05)
    job = queue.submit(T + "tick", owner="wifi-drop")
    wait_until(lambda: len(job.events) >= 2, "the job ticks")
    presence.gone.add("wifi-drop")
    asked = presence.asked["wifi-drop"]
    wait_until(lambda: presence.asked["wifi-drop"] >= asked + 2, "the queue saw it gone")
    presence.gone.discard("wifi-drop")  # back after at most ~0.2 s: within the grace
    time.sleep(1.5)  # well past the grace
    assert job.status == "running" and job.active
    # gone again later: the grace counts from then, not from the first absence
    presence.gone.add("wifi-drop")
    wait_until(lambda: job.status == "stopped", "the job stopped once gone for good")


def test_a_failing_owner_test_stops_nothing(make_queue, caplog):
    caplog.set_level(logging.ERROR, logger="explorer.jobs")

    def broken(owner: str) -> bool:
        raise RuntimeError("the runtime is not there")

    queue = make_queue(owner_alive=broken, owner_grace_s=0.0, owner_check_s=0.05)
    job = queue.submit(T + "tick", owner="ana")
    wait_until(lambda: len(job.events) >= 2, "the job ticks")
    time.sleep(0.5)
    assert job.status == "running"
    assert "Could not tell whether owner ana is still there" in caplog.text


def test_without_an_owner_test_owners_are_never_asked_about(make_queue):
    queue = make_queue()
    assert queue.owner_alive is None
    job = queue.submit(T + "count", owner="ana", n=3)
    wait_until(lambda: finished(job), "the job finished")
    assert job.status == "done"
    with pytest.raises(ValueError, match="owner_check_s"):
        JobQueue(owner_check_s=0)


@pytest.mark.parametrize(
    ("value", "cores", "threads"),
    [
        (None, 2, 1),
        ("", 2, 1),
        ("2", 2, 2),
        (" 1 ", 16, 1),
        ("16", 16, 16),
        ("3", 2, 1),  # more than the machine has
        ("0", 2, 1),
        ("-2", 2, 1),
        ("two", 2, 1),
        ("1.5", 2, 1),
        ("2", None, 1),  # cores unknown: one
    ],
)
def test_a_training_run_gets_the_threads_the_server_sets_or_one(value, cores, threads) -> None:
    assert threads_setting(value, cores) == threads


def test_a_process_that_exits_with_a_queue_running_ends_its_workers_quietly() -> None:
    """At the interpreter's exit (a server stopped, a test run ending) the queue shuts down
    before multiprocessing's own exit handler, which would terminate and join the children
    while the queue's reader reaps them too: tracebacks on stderr ("process object is
    closed", "Ran out of input") and a worker's death logged as unexpected."""
    import subprocess

    code = (
        "import time\n"
        "from explorer.jobs import JobQueue\n"
        "q = JobQueue(keep_warm=1, worker_jobs=5)\n"
        "while not any(w.ready for w in q._workers): time.sleep(0.05)\n"
        "job = q.submit('tests.jobs_for_tests:pid_then_tick', owner='a')\n"
        "while len(job.events) < 2: time.sleep(0.05)\n"
        "print(job.events[0], flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stderr == ""
    assert gone(int(done.stdout))
