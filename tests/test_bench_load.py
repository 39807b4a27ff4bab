"""The load bench's protocol client reads Streamlit's ForwardMsgs as a browser does: a step ends
at its run's real end, widgets are found by their user key, exceptions count as errors, and a
visit that no longer fits the app stops with a message naming what is missing."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.proto.WidgetStates_pb2 import WidgetState

from bench.bench_load import (
    POLL_STEP,
    LoadResult,
    PageState,
    Step,
    StepResult,
    Tab,
    Together,
    VisitError,
    _read_response,
    number_choice,
    percentile,
    queue_places,
    rerun_message,
    selectbox_choice,
)

KERNELS = ["Box blur 3×3", "Sharpen", "Sobel x", "✎ Custom: type your own"]
T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: the browser tests' Playwright keeps an event
    loop running in the main thread for the whole session."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def new_session(page_hash: str) -> bytes:
    msg = ForwardMsg()
    msg.new_session.page_script_hash = page_hash
    return msg.SerializeToString()


def selectbox(widget_id: str, options: list[str], default: int = 0) -> bytes:
    msg = ForwardMsg()
    box = msg.delta.new_element.selectbox
    box.id, box.default = widget_id, default
    box.options.extend(options)
    return msg.SerializeToString()


def exception(message: str, is_warning: bool = False) -> bytes:
    msg = ForwardMsg()
    exc = msg.delta.new_element.exception
    exc.type, exc.message, exc.is_warning = "RuntimeError", message, is_warning
    return msg.SerializeToString()


def finished(status: int = ForwardMsg.FINISHED_SUCCESSFULLY) -> bytes:
    msg = ForwardMsg()
    msg.script_finished = status
    return msg.SerializeToString()


def absorb_all(state: PageState, messages: list[bytes]) -> list[bool]:
    return [state.absorb(raw) for raw in messages]


def test_a_run_stopped_for_a_rerun_is_not_the_end_of_the_step() -> None:
    state = PageState()
    ends = absorb_all(
        state,
        [new_session("page1"), finished(ForwardMsg.FINISHED_EARLY_FOR_RERUN), new_session("p2")]
        + [finished()],
    )
    assert ends == [False, False, False, True]
    assert state.page_hash == "p2"


def test_widgets_are_found_by_their_user_key_and_forgotten_by_the_next_run() -> None:
    state = PageState()
    absorb_all(
        state,
        [
            new_session("p"),
            selectbox("$$ID-0123abcd-conv_preset", KERNELS),
            selectbox("$$ID-4567ef01-a-key-with-dashes", ["x", "y"]),
            selectbox("$$ID-89ab2345-None", ["no", "key"]),  # a widget without a user key
        ],
    )
    assert set(state.widgets) == {"conv_preset", "a-key-with-dashes"}
    assert state.widgets["conv_preset"].id == "$$ID-0123abcd-conv_preset"
    state.absorb(new_session("p"))
    assert state.widgets == {}


def test_exceptions_count_as_errors_but_deprecation_warnings_do_not() -> None:
    state = PageState()
    compile_error = ForwardMsg()
    compile_error.session_event.script_compilation_exception.type = "SyntaxError"
    absorb_all(
        state,
        [
            exception("expected 3 pooling calls, saw 6"),
            exception("use_container_width is deprecated", is_warning=True),
            compile_error.SerializeToString(),
        ],
    )
    assert state.errors == [
        "RuntimeError: expected 3 pooling calls, saw 6",
        "compile error SyntaxError: ",
    ]
    state.begin_step()
    assert state.errors == []


def test_the_page_shown_its_address_bar_and_images_are_remembered() -> None:
    nav, info, imgs = ForwardMsg(), ForwardMsg(), ForwardMsg()
    page = nav.navigation.app_pages.add()
    page.url_pathname, page.page_script_hash = "feature_maps", "fm-hash"
    nav.navigation.page_script_hash = "fm-hash"  # the page this run shows
    info.page_info_changed.query_string = "k=blur_3&pad=1"
    imgs.delta.new_element.imgs.imgs.add(url="/media/abc.png")
    imgs.delta.new_element.imgs.imgs.add(url="data:image/png;base64,AAAA")  # inline: no fetch
    state = PageState()
    state.absorb(new_session("app-hash"))  # with st.navigation: the main script's hash
    absorb_all(state, [m.SerializeToString() for m in (nav, info, imgs)])
    assert state.pages == {"feature_maps": "fm-hash"}
    assert state.page_hash == "fm-hash"  # so a widget change reruns this page, not home
    assert state.query_string == "k=blur_3&pad=1"
    assert state.media == ["/media/abc.png"]


def test_rerun_message_is_the_back_message_a_browser_sends() -> None:
    state = PageState()
    state.absorb(selectbox("$$ID-0123abcd-conv_preset", KERNELS, default=2))
    widget = selectbox_choice(state.widgets["conv_preset"], random.Random(0))
    msg = BackMsg()
    msg.ParseFromString(
        rerun_message(page_hash="h", query_string="k=blur_3", widgets=[widget]),
    )
    assert msg.WhichOneof("type") == "rerun_script"
    assert (msg.rerun_script.page_script_hash, msg.rerun_script.query_string) == ("h", "k=blur_3")
    (sent,) = msg.rerun_script.widget_states.widgets
    assert sent.id == "$$ID-0123abcd-conv_preset"
    assert sent.WhichOneof("value") == "string_value"  # a selectbox sends its option's label


def test_a_selectbox_choice_is_always_another_option_and_never_an_avoided_one() -> None:
    state = PageState()
    state.absorb(selectbox("$$ID-0123abcd-conv_preset", KERNELS, default=2))
    box = state.widgets["conv_preset"]
    rng = random.Random(1)
    chosen = {selectbox_choice(box, rng, avoid=("Custom",)).string_value for _ in range(50)}
    assert chosen == {"Box blur 3×3", "Sharpen"}
    with pytest.raises(VisitError, match="no other option"):
        selectbox_choice(box, rng, avoid=("Box", "Sharpen", "Custom"))


def test_a_step_whose_widget_key_is_gone_stops_the_visit_with_the_keys_it_saw() -> None:
    tab = Tab(server=None, fetch_media=False)  # type: ignore[arg-type]  # never reaches it
    tab.state.absorb(selectbox("$$ID-0123abcd-conv_kernel", KERNELS))
    step = Step("kernel change", "select", "conv_preset")
    with pytest.raises(VisitError, match=r"'conv_preset'.*\['conv_kernel'\]"):
        run(tab.do(step, random.Random(0)))
    with pytest.raises(VisitError, match="no page 'feature_maps'"):
        run(tab.do(Step("feature maps", "navigate", "feature_maps"), random.Random(0)))


def test_percentile_interpolates_between_sorted_values() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 95) == pytest.approx(1.95)
    assert percentile([5.0], 95) == 5.0


def test_a_reference_to_a_cached_message_is_read_as_that_message() -> None:
    msg = ForwardMsg()
    msg.ParseFromString(selectbox("$$ID-0123abcd-net_image", ["cat", "ship"]))
    msg.hash, msg.metadata.cacheable = "h1", True
    state = PageState()
    state.absorb(msg.SerializeToString())
    assert list(state.cache) == ["h1"]
    state.absorb(new_session("p"))  # the next run sends only a reference to it
    ref = ForwardMsg(ref_hash="h1")
    state.absorb(ref.SerializeToString())
    assert set(state.widgets) == {"net_image"}
    state.absorb(ForwardMsg(ref_hash="unknown").SerializeToString())
    assert state.errors == ["a reference to a message the tab never had: unknown"]


@pytest.mark.parametrize(
    ("response", "keep_alive"),  # whatever follows the response is left unread, or nothing
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", True),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
            True,
        ),
        (b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\n\r\nbody to the end", False),
    ],
)
def test_http_responses_are_read_to_their_end(response: bytes, keep_alive: bool) -> None:
    async def read() -> tuple[tuple[int, bool], bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(response + b"NEXT")
        reader.feed_eof()
        return await _read_response(reader), await reader.read()

    (status, alive), rest = run(read())
    assert status == int(response.split()[1])
    assert alive == keep_alive
    assert rest == (b"" if response.endswith(b"to the end") else b"NEXT")


class FakeSocket:
    """Plays back the server's messages for one run; keeps what the tab sent."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies, self.sent = list(replies), []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    async def recv(self) -> bytes:
        return self.replies.pop(0)


def page_run(page_hash: str, widget_key: str) -> list[bytes]:
    nav = ForwardMsg()
    nav.navigation.page_script_hash = page_hash
    return [
        new_session("app-hash"),
        nav.SerializeToString(),
        selectbox(f"$$ID-0123abcd-{widget_key}", KERNELS),
        finished(),
    ]


def test_a_choice_reruns_the_page_shown_and_a_run_of_another_page_stops_the_visit() -> None:
    tab = Tab(server=None, fetch_media=False)  # type: ignore[arg-type]
    for raw in page_run("playground-hash", "conv_preset"):
        tab.state.absorb(raw)
    step = Step("kernel change", "select", "conv_preset")
    tab.ws = FakeSocket(page_run("playground-hash", "conv_preset"))
    result = run(tab.do(step, random.Random(0)))
    assert result.errors == [] and result.seconds is not None
    sent = BackMsg()
    sent.ParseFromString(tab.ws.sent[0])
    assert sent.rerun_script.page_script_hash == "playground-hash"

    tab.ws = FakeSocket(page_run("home-hash", "home_link"))  # the server showed home instead
    with pytest.raises(VisitError, match="no longer shows 'conv_preset'"):
        run(tab.do(step, random.Random(0)))


def test_a_students_drawing_is_what_the_canvas_sends_and_never_the_same_twice() -> None:
    """The "own" visit's digits pass the app's own canvas decoder as a browser's would, differ
    between students and between a student's drawings, and are white strokes on black."""
    import json

    from bench.bench_load import canvas_value, random_digit_png
    from explorer.uploads import canvas_is_blank, decode_canvas

    rng = random.Random(1)
    drawings = [json.loads(canvas_value(random_digit_png(rng)))["drawing"] for _ in range(3)]
    pixels = [decode_canvas(d["data"], 280, 280) for d in drawings]
    assert all(p is not None and p.shape == (280, 280, 4) for p in pixels)
    assert not any(canvas_is_blank(p) for p in pixels)
    assert len({p.tobytes() for p in pixels}) == 3
    assert (pixels[0][..., :3] == 255).all(axis=-1).any()  # white strokes
    assert pixels[0][0, 0, :3].tolist() == [0, 0, 0]


# ----------------------------------------------------------------------------- the jobs' classes


def button(widget_id: str, disabled: bool = False) -> bytes:
    msg = ForwardMsg()
    msg.delta.new_element.button.id = widget_id
    msg.delta.new_element.button.disabled = disabled
    return msg.SerializeToString()


def number_input(
    widget_id: str, low: float, high: float, value: float = 0, decimal: bool = False
) -> bytes:
    msg = ForwardMsg()
    box = msg.delta.new_element.number_input
    box.id, box.has_min, box.has_max, box.min, box.max = widget_id, True, True, low, high
    box.default = value
    box.data_type = NumberInput.FLOAT if decimal else NumberInput.INT
    return msg.SerializeToString()


def fragment_run(fragment_id: str, *elements: bytes) -> list[bytes]:
    """A fragment's timed rerun as the server answers it."""
    start, end = ForwardMsg(), ForwardMsg()
    start.new_session.page_script_hash = "app-hash"
    start.metadata.run.fragment_ids.append(fragment_id)
    end.script_finished = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
    return [start.SerializeToString(), *elements, end.SerializeToString()]


def auto_rerun(fragment_id: str, interval: float) -> bytes:
    msg = ForwardMsg()
    msg.auto_rerun.fragment_id, msg.auto_rerun.interval = fragment_id, interval
    return msg.SerializeToString()


def train_page() -> list[bytes]:
    """A run of the Train page: its navigation, a selectbox, Start and Stop, the live panel's
    request to be rerun every second."""
    nav = ForwardMsg()
    nav.navigation.page_script_hash = "train-hash"
    return [
        new_session("app-hash"),
        nav.SerializeToString(),
        selectbox("$$ID-0123abcd-train_epochs", ["1", "3"]),
        button("$$ID-4567ef01-train_run_start"),
        button("$$ID-89ab2345-train_run_stop", disabled=True),
        auto_rerun("live-panel", 0.015625),
        finished(),
    ]


def sent_widgets(raw: bytes) -> dict[str, WidgetState]:
    msg = BackMsg()
    msg.ParseFromString(raw)
    return {w.id: w for w in msg.rerun_script.widget_states.widgets}


def test_a_click_is_sent_once_as_a_trigger_and_the_next_run_does_not_press_again() -> None:
    """A button's press is true for one run only (st.button): the look after a Start click
    must not press Start again (30 students would queue 60 runs)."""
    tab = Tab(server=None, fetch_media=False)  # type: ignore[arg-type]
    for raw in train_page():
        tab.state.absorb(raw)
    tab.ws = FakeSocket(train_page() + train_page() + train_page())
    run(tab.do(Step("epochs", "select", "train_epochs"), random.Random(0)))
    run(tab.do(Step("start", "click", "train_run_start"), random.Random(0)))
    run(tab.do(Step("queue place", "look", ""), random.Random(0)))
    _, click, look = (sent_widgets(raw) for raw in tab.ws.sent)
    assert click["$$ID-4567ef01-train_run_start"].trigger_value is True
    assert "$$ID-0123abcd-train_epochs" in click  # the widgets set before travel with it
    assert set(look) == {"$$ID-0123abcd-train_epochs"}  # the press is not sent again
    sent = BackMsg()
    sent.ParseFromString(tab.ws.sent[-1])
    assert sent.rerun_script.page_script_hash == "train-hash"  # a look reruns the page shown


def test_a_disabled_or_missing_button_stops_the_visit() -> None:
    tab = Tab(server=None, fetch_media=False)  # type: ignore[arg-type]
    for raw in train_page():
        tab.state.absorb(raw)
    with pytest.raises(VisitError, match="'train_run_stop' is disabled"):
        run(tab.do(Step("stop", "click", "train_run_stop"), random.Random(0)))
    with pytest.raises(VisitError, match=r"no button with key 'in_maximise'.*train_run_start"):
        run(tab.do(Step("optimise", "click", "in_maximise"), random.Random(0)))


def test_a_number_is_a_whole_number_of_the_range_sent_as_its_data_type_requires() -> None:
    state = PageState()
    state.absorb(number_input("$$ID-0123abcd-in_channel", 0, 127, value=5))
    state.absorb(number_input("$$ID-4567ef01-in_scale", 0.5, 4.5, value=1.0, decimal=True))
    rng = random.Random(0)
    whole = [number_choice(state.widgets["in_channel"], rng, taken={0, 1}) for _ in range(1500)]
    assert all(w.WhichOneof("value") == "int_value" for w in whole)
    assert {w.int_value for w in whole} == set(range(2, 128)) - {5}  # never shown nor taken
    decimals = {number_choice(state.widgets["in_scale"], rng).double_value for _ in range(100)}
    assert decimals == {2.0, 3.0, 4.0}  # whole numbers inside 0.5…4.5, not the 1 shown
    with pytest.raises(VisitError, match="no whole number left"):
        number_choice(state.widgets["in_scale"], rng, taken={2, 3, 4})
    unbounded = NumberInput(id="$$ID-89ab2345-free")
    with pytest.raises(VisitError, match="no range"):
        number_choice(unbounded, rng)


def test_tabs_sharing_a_server_never_choose_the_same_number() -> None:
    """A conv3 map somebody optimised already shows its picture at once and no button: the
    optimisers pick maps nobody picked, and remember the ones they did."""
    chosen: dict[str, set[float]] = {}
    picks = []
    for _ in range(4):
        tab = Tab(server=None, fetch_media=False, chosen=chosen)  # type: ignore[arg-type]
        page = [new_session("p"), number_input("$$ID-0123abcd-in_channel", 0, 4), finished()]
        for raw in page:
            tab.state.absorb(raw)
        tab.ws = FakeSocket(page)
        run(tab.do(Step("a conv3 map", "number", "in_channel"), random.Random(0)))
        picks.append(sent_widgets(tab.ws.sent[0])["$$ID-0123abcd-in_channel"].int_value)
    assert sorted(picks) == [1, 2, 3, 4]  # 0 is shown; the same seed, yet four different maps
    assert chosen == {"in_channel": {1, 2, 3, 4}}


def test_a_fragments_run_keeps_the_page_and_a_full_run_forgets_its_timers() -> None:
    state = PageState()
    absorb_all(state, train_page())
    assert state.auto_reruns == {"live-panel": 0.015625}
    absorb_all(state, fragment_run("live-panel", exception("the panel broke")))
    assert state.page_hash == "train-hash"  # not the main script's: a fragment run has no nav
    assert {"train_run_start", "train_run_stop"} <= set(state.widgets)
    assert state.auto_reruns == {"live-panel": 0.015625}
    assert state.errors == ["RuntimeError: the panel broke"]
    stop = ForwardMsg()
    stop.stop_auto_rerun.fragment_ids.append("live-panel")
    state.absorb(stop.SerializeToString())
    assert state.auto_reruns == {}
    state.absorb(auto_rerun("live-panel", 1.0))
    state.absorb(new_session("app-hash"))  # a full run: it asks again if the panel still polls
    assert state.auto_reruns == {} and state.widgets == {}


def test_a_thinking_student_reruns_the_fragments_as_the_browsers_timer_does() -> None:
    class Server:
        url = "http://127.0.0.1:1"

    tab = Tab(server=Server(), fetch_media=False)  # type: ignore[arg-type]
    absorb_all(tab.state, train_page())
    tab.ws = FakeSocket([raw for _ in range(200) for raw in fragment_run("live-panel")])
    polls = run(tab.idle(0.2))
    assert 3 <= len(polls) <= 20
    assert all(p.step == POLL_STEP and p.seconds is not None and not p.errors for p in polls)
    sent = BackMsg()
    sent.ParseFromString(tab.ws.sent[0])
    assert sent.rerun_script.fragment_id == "live-panel"
    assert sent.rerun_script.is_auto_rerun
    assert sent.rerun_script.page_script_hash == "train-hash"
    tab.state.auto_reruns.clear()  # a page without timed fragments: the student only thinks
    tab.ws.sent.clear()
    assert run(tab.idle(0.05)) == [] and tab.ws.sent == []


def test_error_boxes_count_as_errors_and_queue_places_are_read_from_info_boxes() -> None:
    def alert(body: str, kind: int) -> bytes:
        msg = ForwardMsg()
        msg.delta.new_element.alert.body, msg.delta.new_element.alert.format = body, kind
        return msg.SerializeToString()

    state = PageState()
    absorb_all(
        state,
        [
            alert("The run failed: out of memory", Alert.ERROR),
            alert("Waiting: 12 in the queue. The server trains one network at a time", Alert.INFO),
            alert("Mind the gap", Alert.WARNING),
        ],
    )
    assert state.errors == ["error box: The run failed: out of memory"]
    assert state.said == ["Waiting: 12 in the queue. The server trains one network at a time"]
    result = LoadResult("start", 2, [], 1.0, 1.0, 0, 0, 0)
    result.steps = [
        StepResult("queue place", 0.1, [], said=list(state.said)),
        StepResult("queue place", 0.1, [], said=["Waiting: 1,234 in the queue"]),
        StepResult("start", 0.1, [], said=["Something else"]),
    ]
    assert queue_places(result) == {"queue place": [12, 1234]}


def test_a_class_meets_for_a_together_step_and_nobody_waits_for_a_student_who_left() -> None:
    async def meet() -> list[str]:
        point, order = Together(3), []

        async def one(name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            await point.arrive()
            order.append(name)

        first = asyncio.create_task(one("a", 0))
        second = asyncio.create_task(one("b", 0.01))
        await asyncio.sleep(0.05)
        assert not first.done() and not second.done()  # the third has not come yet
        order.append("c left")
        point.leave()  # the third student's tab broke before this step
        await asyncio.gather(first, second)
        return order

    assert run(meet()) == ["c left", "a", "b"]


def test_a_mixed_class_has_a_table_per_group_and_polls_a_row_of_their_own() -> None:
    from bench.bench_load import APP_VISIT, OPTIMISER_VISIT, class_rows

    ok = dict.fromkeys(s.name for s in APP_VISIT)
    steps = [StepResult(name, 0.1 * (i + 1), []) for i, name in enumerate(ok)] * 2
    steps += [StepResult(POLL_STEP, 5.0, ["a poll's error"])]  # never in "all steps"
    steps += [
        StepResult("inside conv3", 1.0, [], group="optimisers"),
        StepResult("a conv3 map", None, ["timeout"], group="optimisers"),  # then gave up
    ]
    result = LoadResult("optimise", 3, steps, 1.0, 1.0, 0, 0, 0, side=1)
    rows = {(r["app"], r["step"]): r for r in class_rows(result)}
    others = rows[("optimise (the others)", "all steps")]
    assert (others["runs"], others["errors"], others["max_ms"]) == (12, 0, pytest.approx(600))
    assert rows[("optimise (the others)", POLL_STEP)]["errors"] == 1
    optimisers = rows[("optimise (optimisers)", "all steps")]
    # one timeout, one step never reached: 2 errors; 1 run timed of the 3 steps of 1 student
    assert (optimisers["runs"], optimisers["errors"]) == (1, 2)
    assert rows[("optimise (optimisers)", "optimise")]["errors"] == 1
    assert len([k for k in rows if k[0] == "optimise (optimisers)"]) == len(OPTIMISER_VISIT) + 1


def test_the_memory_of_a_process_tree_counts_its_children_and_knows_a_job_worker() -> None:
    import multiprocessing
    import os
    import signal
    import subprocess
    import sys
    import time

    from bench.bench_load import is_job_worker, memory_bytes, process_tree, tree_memory

    # a plain child with a child of its own (a grandchild of this process), and a spawned one
    code = (
        "import subprocess, time; c = subprocess.Popen(['sleep', '30']); "
        "print(c.pid, flush=True); time.sleep(30)"
    )
    plain = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert plain.stdout is not None
    grandchild = int(plain.stdout.readline())
    worker = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(30,))
    worker.start()
    assert worker.pid is not None
    try:
        deadline = time.monotonic() + 10  # the child shows its command once it has exec'd
        while not is_job_worker(worker.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        tree = process_tree(os.getpid())
        assert {os.getpid(), plain.pid, grandchild, worker.pid} <= set(tree)
        assert is_job_worker(worker.pid)
        assert not is_job_worker(plain.pid) and not is_job_worker(os.getpid())
        total, workers = tree_memory(os.getpid())
        assert workers == 1
        assert total > memory_bytes(os.getpid())["VmRSS"] + memory_bytes(plain.pid)["VmRSS"]
    finally:
        os.kill(grandchild, signal.SIGKILL)
        plain.kill()
        worker.kill()
        plain.wait()
    # A queue's spare, waiting for a job, is not at work: a class that has left leaves it.
    from explorer.jobs import JobQueue

    queue = JobQueue(keep_warm=1)
    try:
        deadline = time.monotonic() + 30
        while not any(w.ready and w.idle for w in queue._workers):
            assert time.monotonic() < deadline, "the spare never became ready"
            time.sleep(0.01)
        (spare,) = queue._workers
        assert not is_job_worker(spare.process.pid)  # type: ignore[arg-type]
        assert tree_memory(os.getpid())[1] == 0
    finally:
        queue.shutdown()
        worker.join()


def test_the_jobs_grace_follows_the_servers_reconnect_window() -> None:
    from bench.bench_load import job_grace_s
    from explorer.ui.train import OWNER_MARGIN_S

    short, long = (
        job_grace_s({"server.disconnectedSessionTTL": "10"}),
        job_grace_s({"server.disconnectedSessionTTL": "70"}),
    )
    assert long - short == 60
    assert short > 10 + OWNER_MARGIN_S  # and the queue's look, and the worker's time to end


def test_jobs_line_says_when_workers_outlived_the_class() -> None:
    from bench.bench_load import jobs_line

    result = LoadResult("start", 30, [], 1.0, 1.0, 0, 0, 0, peak_workers=1)
    result.workers_gone_s = 81.0
    assert "none left 81 s after" in jobs_line(result, 85)
    result.workers_gone_s, result.workers_left = None, 2
    assert "2 still running 85 s after" in jobs_line(result, 85)


def test_an_unknown_visit_is_refused_with_the_known_ones() -> None:
    from bench.bench_load import main

    with pytest.raises(SystemExit):
        main(["--apps", "app,starts"])


def test_the_bench_waits_for_the_server_to_come_to_rest_before_a_class() -> None:
    """A server still warming its gallery is not measured: the wait lasts while it works."""
    import subprocess
    import sys

    from bench.bench_load import wait_until_quiet

    code = "import time; end = time.time() + 2\nwhile time.time() < end: pass\ntime.sleep(30)"
    busy = subprocess.Popen([sys.executable, "-c", code])
    try:
        waited = wait_until_quiet(busy.pid, longest_s=20)
        assert 2 <= waited < 8
        assert wait_until_quiet(busy.pid, longest_s=20) < 1.5  # at rest: one look
    finally:
        busy.kill()
        busy.wait()
