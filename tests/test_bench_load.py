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
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.bench_load import (
    PageState,
    Step,
    Tab,
    VisitError,
    _read_response,
    percentile,
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
