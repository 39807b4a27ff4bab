"""Heavy work off the script thread (explorer.heavy, explorer.ui.heavy): a job gives exactly what
the direct function gives, a room asking for the same result starts one job, a stop stops it,
a failure says so, a full line says so, and work on the side gives way to a job that waits.

The logic of the shared cache is tested with a tiny job of this module (``count_items``: no
torch), run in real worker processes; the two real job functions are compared, number for
number, with the functions the pages used to call in their own thread. This module imports
nothing heavy at its top: the workers import it to find ``count_items``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from explorer.heavy import (
    EXPLAIN,
    OPTIMISE,
    Explain,
    HeavyWork,
    Network,
    Optimise,
    Progress,
)
from explorer.jobs import Control, JobQueue, JobQueueFull
from tests.screen import shown

COUNT = "tests.test_heavy:count_items"
TIMEOUT_S = 240.0  # a worker starts in seconds, more on a busy machine


def count_items(
    control: Control,
    emit: Callable[[object], None],
    items: list[int],
    steps: int = 3,
    delay: float = 0.0,
    fail_on: int | None = None,
) -> int:
    """For each item: ``steps`` checkpoints with progress, then its result ``item * 10``."""
    for index, item in enumerate(items):
        if item == fail_on:
            raise ValueError(f"Item {item} cannot be computed.")
        for step in range(1, steps + 1):
            control.checkpoint()
            emit(("progress", index, step, steps))
            time.sleep(delay)
        emit(("item", index, item * 10))
    return len(items)


class Counting(JobQueue):
    """A JobQueue that counts the jobs submitted to it."""

    submitted = 0

    def submit(self, target, owner, **kwargs):  # type: ignore[no-untyped-def]
        self.submitted += 1
        return super().submit(target, owner, **kwargs)


@pytest.fixture
def work() -> Iterator[HeavyWork]:
    queue = Counting(max_running=1, max_queued=3, stop_grace_s=2.0)
    yield HeavyWork(queue)
    queue.shutdown()


def settled(work: HeavyWork, keys: list, timeout_s: float = TIMEOUT_S) -> dict:
    states = work.wait(keys, timeout_s=timeout_s)
    assert all(s.settled for s in states.values()), states
    return states


def until(condition: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# ============================================================================================
# The real jobs give exactly the direct functions' numbers


@pytest.fixture(scope="module")
def cifar():
    from explorer.model import builtin_weights
    from explorer.weights_file import load_choice

    choice = {c.key: c for c in builtin_weights()}["simplecnn-cifar10"]
    return choice, load_choice(choice).eval()


def test_the_job_gives_exactly_the_direct_optimised_inputs(work, cifar) -> None:
    """One job, three stages: each optimised input (its pixels, its means, every step's
    objective) equals maximise_channel's in this process."""
    from explorer.attribution import maximise_channel

    choice, model = cifar
    network = Network.of("cifar@cpu", model, choice.preprocessing)
    items = [Optimise("conv1", 5, 6, 0), Optimise("conv2", 7, 6, 1), Optimise("conv3", 11, 6, 0)]
    keys = work.ask("cifar@cpu", items, "a", OPTIMISE, network=network)
    states = settled(work, keys)
    for key, item in zip(keys, items, strict=True):
        found = states[key].result
        direct = maximise_channel(
            model, choice.preprocessing, item.channel, item.steps, item.seed, stage=item.stage
        )
        assert found.stage == item.stage and found.channel == item.channel
        np.testing.assert_array_equal(found.image, direct.image)
        np.testing.assert_array_equal(found.history, direct.history)
        assert (found.mean, found.peak, found.start_mean) == (
            direct.mean,
            direct.peak,
            direct.start_mean,
        )


def test_the_job_gives_exactly_the_direct_attributions(work, cifar) -> None:
    from explorer.attribution import attribute
    from explorer.features import ModelInput, preprocess
    from explorer.samples import gallery, load_gallery_image

    choice, model = cifar
    image = load_gallery_image(gallery("cifar10")[4])
    sha = ModelInput(image, "").key
    network = Network.of("cifar@cpu", model, choice.preprocessing)
    (key,) = work.ask("cifar@cpu", [Explain(sha, 3, 8)], "a", EXPLAIN, network=network, image=image)
    found = settled(work, [key])[key].result
    direct = attribute(
        model, preprocess(image, choice.preprocessing), 3, choice.preprocessing, steps=8
    )
    for name in ("grad_cam_coarse", "grad_cam", "saliency", "integrated"):
        np.testing.assert_array_equal(getattr(found, name), getattr(direct, name), name)
    assert (found.score, found.baseline_score, found.ig_gap) == (
        direct.score,
        direct.baseline_score,
        direct.ig_gap,
    )
    assert found.identity == f"cifar@cpu|{sha}|3|ig8"  # the pictures' caches key on it


# ============================================================================================
# The shared cache


def test_a_room_asking_for_the_same_result_starts_one_job(work) -> None:
    first = work.ask("net", [1, 2], "student-a", COUNT, delay=0.05)
    again = work.ask("net", [2], "student-b", COUNT, delay=0.05)  # in flight: joins that job
    assert again == [first[1]] and work.queue.submitted == 1
    states = settled(work, first)
    assert [states[k].result for k in first] == [10, 20]
    work.ask("net", [1, 2], "student-c", COUNT)  # done: nothing to compute
    assert work.queue.submitted == 1
    assert work.result(("net", 2)) == 20 and work.result(("other-net", 2)) is None
    work.ask("other-net", [2], "student-c", COUNT)  # other weights: another result
    assert work.queue.submitted == 2


def test_the_line_says_where_each_job_is_and_refuses_when_full(work) -> None:
    (running,) = work.ask("net", [1], "a", COUNT, steps=400, delay=0.05)
    until(lambda: work.state(running).status == "running" and work.state(running).step > 0)
    second = work.ask("net", [2], "b", COUNT)
    third = work.ask("net", [3, 4], "c", COUNT)
    assert work.state(second[0]) == Progress("queued", position=1)
    assert [work.state(k).position for k in third] == [2, 2]  # one job, one place
    state = work.state(running)
    assert state.steps == 400 and 0 < state.fraction == state.step / 400 < 1
    work.ask("net", [5], "d", COUNT)
    with pytest.raises(JobQueueFull):  # max_queued=3: a sentence, not an ever longer line
        work.ask("net", [6], "e", COUNT)
    for owner, keys in (("a", [running]), ("b", second), ("c", third), ("d", [("net", 5)])):
        work.release(owner, keys)


def test_a_batch_says_how_many_come_before_each(work) -> None:
    keys = work.ask("net", [1, 2, 3], "a", COUNT, steps=200, delay=0.05)
    until(lambda: work.state(keys[0]).step > 0)
    assert work.state(keys[1]) == Progress("waiting", ahead=1)
    assert work.state(keys[2]) == Progress("waiting", ahead=2)
    work.release("a", keys)


def test_stop_stops_the_job_only_when_nobody_else_waits(work) -> None:
    (key,) = work.ask("net", [7], "a", COUNT, steps=2000, delay=0.05)
    work.ask("net", [7], "b", COUNT)
    (job,) = work.jobs()
    until(lambda: work.state(key).step > 0)
    work.release("a", [key])  # b still waits: it goes on
    assert job.status == "running"
    work.keep_only("b", [("net", 99)])  # b moved on to something else
    assert job.status == "stopped"
    assert work.state(key) == Progress("absent") and work.result(key) is None
    work.ask("net", [7], "a", COUNT)  # a later ask starts afresh
    assert work.queue.submitted == 2
    assert settled(work, [key])[key].result == 70


def test_a_failing_job_says_so_until_asked_again(work) -> None:
    keys = work.ask("net", [1, 2], "a", COUNT, fail_on=2)
    states = settled(work, keys)
    assert states[keys[0]].result == 10  # finished before the failure: kept
    assert states[keys[1]] == Progress("failed", error="Item 2 cannot be computed.")
    work.ask("net", [2], "b", COUNT, fail_on=2)  # a failure is not retried at every look
    assert work.queue.submitted == 1
    work.ask("net", [2], "b", COUNT, retry=True)
    assert work.queue.submitted == 2 and settled(work, [keys[1]])[keys[1]].result == 20


def test_work_on_the_side_gives_way_to_a_job_in_the_line(work) -> None:
    (asked,) = work.ask("net", [1], "a", COUNT, extra=[2, 3, 4], steps=200, delay=0.02)
    (job,) = work.jobs()
    until(lambda: work.result(asked) == 10)  # the asked one first
    assert job.status == "running"  # nobody waits: the side work goes on
    (other,) = work.ask("net", [9], "b", COUNT)
    assert job.status == "stopped"  # somebody waits now: the side work gives way
    assert settled(work, [other])[other].result == 90
    assert work.result(asked) == 10  # what it finished stays
    assert work.state(("net", 4)) == Progress("absent")


def test_a_failed_optimisation_says_why(work, cifar) -> None:
    """A real job's failure: the sentence of the function (a map that does not exist)."""
    choice, model = cifar
    network = Network.of("cifar@cpu", model, choice.preprocessing)
    (key,) = work.ask("cifar@cpu", [Optimise("conv1", 40, 5, 0)], "a", OPTIMISE, network=network)
    assert settled(work, [key])[key] == Progress("failed", error="conv1 has maps 0 to 31; not 40.")


# ============================================================================================
# The pages' glue (explorer.ui.heavy) in AppTest


def _glue_script() -> None:
    """A page with one heavy result: a manual slot (a button asks), waiting at most 3 s a
    run, so that the test can press Stop while the job runs."""
    import streamlit as st

    from explorer.heavy import Optimise
    from explorer.model import available_devices
    from explorer.ui import heavy
    from explorer.ui.network import builtin_context

    cpu = next(d for d in available_devices() if d.device == "cpu")
    ctx = builtin_context("simplecnn-cifar10", cpu)
    item = Optimise("conv2", int(st.query_params.get("ch", "3")), int(st.query_params["n"]), 0)
    pending = heavy.Pending()
    pending.slot(
        ctx,
        item,
        lambda best: st.markdown(f"made: mean {best.mean!r}"),
        name="t_made",
        what="Optimising conv2",
        button="Optimise",
        auto=False,
    )
    pending.settle(timeout_s=float(st.query_params.get("wait", "600")))


@pytest.fixture
def glue() -> Iterator[Callable[..., object]]:
    from streamlit.testing.v1 import AppTest

    from explorer.ui import heavy

    heavy.work().forget(lambda key: True)

    def open_glue(**params: str) -> AppTest:
        at = AppTest.from_function(_glue_script, default_timeout=TIMEOUT_S)
        at.query_params.update(params)
        return at.run()

    yield open_glue
    heavy.work().forget(lambda key: True)


def test_the_page_asks_waits_and_shows_the_result(glue, cifar) -> None:
    from explorer.ui import heavy

    at = glue(n="4")
    assert not at.exception
    key = ("simplecnn-cifar10@cpu", Optimise("conv2", 3, 4, 0))
    assert [b.label for b in at.button] == ["Optimise"]  # nothing computed before it is asked
    assert heavy.work().state(key) == Progress("absent")
    at.button(key="t_made").click().run()
    assert not at.exception
    shown = next(m.value for m in at.markdown if m.value.startswith("made: mean "))
    best = heavy.work().result(key)
    assert shown == f"made: mean {best.mean!r}" and best.steps == 4
    assert not at.button  # done: neither the ask button nor Stop
    again = glue(n="4")  # another session: shown at once, no job
    assert any(m.value == shown for m in again.markdown) and not again.button


def test_the_stop_button_stops_the_job(glue) -> None:
    from explorer.ui import heavy

    at = glue(n="5000", wait="3")
    at.button(key="t_made").click().run()
    assert not at.exception
    job = heavy.work().job_of(("simplecnn-cifar10@cpu", Optimise("conv2", 3, 5000, 0)))
    assert job is not None and job.active
    progress = at.get("progress")[0].proto.text
    assert progress.startswith("Optimising conv2: ")
    at.button(key="t_made_stop").click().run()
    assert not at.exception
    assert job.status == "stopped"
    assert [b.label for b in at.button] == ["Optimise"]  # back to asking


def test_a_failing_job_is_said_on_the_page(glue) -> None:
    at = glue(n="3", ch="64")  # conv2 has maps 0 to 63
    at.button(key="t_made").click().run()
    assert not at.exception
    (error,) = at.error
    assert "Optimising conv2 failed. conv2 has maps 0 to 63; not 64." in shown(error.value)
    assert [b.label for b in at.button] == ["Try again"]


def test_a_waiting_page_redraws_its_progress_only_when_it_changes(monkeypatch) -> None:
    """Every element a waiting page sends costs the whole server: an unchanged place in the line
    is not drawn again, and a running job's steps at most every REDRAW_S."""
    from explorer.heavy import Progress
    from explorer.ui import heavy as ui_heavy

    drawn: list[tuple[float, str]] = []

    class Place:
        def progress(self, fraction: float, text: str) -> None:
            drawn.append((fraction, text))

    now = [100.0]
    monkeypatch.setattr(ui_heavy, "_clock", lambda: now[0])
    slot = ui_heavy._Slot(
        None, ("net", 1), lambda r: None, "x", "Optimising", "", True, (), None,
        bar=Place(), stop_drawn=True,
    )  # fmt: skip
    pending = ui_heavy.Pending()
    for _ in range(8):  # two seconds of ticks, 3rd in the line throughout
        pending._progress(slot, Progress("queued", position=3))
        now[0] += ui_heavy.TICK_S
    assert len(drawn) == 1 and "3rd in the line" in drawn[0][1]
    pending._progress(slot, Progress("queued", position=2))  # moved up: drawn…
    assert "2nd in the line" in drawn[-1][1] and len(drawn) == 2
    now[0] += ui_heavy.TICK_S
    pending._progress(slot, Progress("queued", position=1))  # …but not twice within REDRAW_S
    assert len(drawn) == 2
    now[0] += ui_heavy.REDRAW_S
    pending._progress(slot, Progress("queued", position=1))
    assert "1st in the line" in drawn[-1][1] and len(drawn) == 3
    pending._progress(slot, Progress("running", fraction=0.1, step=10, steps=100))
    assert drawn[-1] == (0.1, "Optimising: step 10 of 100.") and len(drawn) == 4  # new status
    for step in range(11, 31):  # steps four times a second for 5 s: redrawn once a second
        now[0] += ui_heavy.TICK_S
        pending._progress(slot, Progress("running", fraction=step / 100, step=step, steps=100))
    assert len(drawn) == 4 + 5
