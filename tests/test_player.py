"""The player's Python side: the payload rebuilds the trace exactly, within budget; the sum written
out, the start window, the hover window; the wrapper's memory; and the pure JavaScript part
(player_state.js) run under Node with scripted ticks and keys."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from typing import Any

import numpy as np
import pytest

from explorer.components import PLAYER_STATE_JS
from explorer.convolution import ConvolutionError, ConvSettings, window_trace
from explorer.errors import UserError
from explorer.player import (
    MAX_PLAYER_WINDOWS,
    PlayerError,
    decode_payload,
    display_value,
    format_value,
    interesting_start,
    payload_size,
    player_payload,
    trace_id,
    window_cells,
    window_centred_at,
    written_sum,
)

BUDGET = 200_000  # bytes sent to the browser for a 64×64 image and a 3×3 kernel
SOBEL = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
NBSP = "\N{NO-BREAK SPACE}"


def image(size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((size, size))


def test_payload_round_trips_the_trace_exactly() -> None:
    kernel = np.random.default_rng(1).normal(size=(3, 3))
    trace = window_trace(image(10), kernel, ConvSettings(padding=1, stride=2, flip=True))
    decoded = decode_payload(player_payload(trace))
    # tobytes: equal bit for bit, not just to within a tolerance
    assert decoded["padded"].tobytes() == trace.padded.tobytes()
    assert decoded["kernel"].tobytes() == trace.kernel.tobytes()
    assert decoded["sums"].tobytes() == trace.sums.tobytes()
    header = decoded["header"]
    assert header["out"] == list(trace.out_shape)
    assert (header["stride"], header["padding"], header["flip"]) == (2, 1, True)
    assert header["padding_mode"] == "zeros"


def test_arrays_start_eight_byte_aligned() -> None:
    payload = player_payload(window_trace(image(7), SOBEL))
    (length,) = struct.unpack_from("<I", payload, 4)
    assert (8 + length) % 8 == 0
    json.loads(payload[8 : 8 + length])  # the space padding keeps it valid JSON


@pytest.mark.parametrize("padding", [0, 1], ids=["valid", "same"])
def test_64_by_64_with_3_by_3_kernel_fits_the_budget_and_is_much_smaller_than_json(
    padding: int,
) -> None:
    payload = player_payload(window_trace(image(64), SOBEL, ConvSettings(padding=padding)))
    assert payload_size(payload) <= BUDGET
    # The same numbers as JSON are much larger: bytes were the right choice. A float64 is 8
    # bytes; the shortest JSON text that gives back the same random double in [0, 1) is about 19
    # characters and a comma, so all of the payload's numbers as JSON take about 2.4 times its
    # bytes (2.36 and 2.42 for these two). At least twice: a payload that sends anything twice,
    # or pads itself out, fails.
    decoded = decode_payload(payload)
    as_json = {
        "header": decoded["header"],
        **{name: decoded[name].ravel().tolist() for name in ("padded", "kernel", "sums")},
    }
    assert payload_size(as_json) >= 2 * payload_size(payload)


def test_show_numbers_defaults_by_size_and_can_be_forced() -> None:
    small = window_trace(image(8), SOBEL, ConvSettings(padding=1))
    large = window_trace(image(32), SOBEL)
    assert decode_payload(player_payload(small))["header"]["show_numbers"] is True
    assert decode_payload(player_payload(large))["header"]["show_numbers"] is False
    assert (
        decode_payload(player_payload(large, show_numbers=True))["header"]["show_numbers"] is True
    )


def test_start_position_is_clamped_to_the_windows() -> None:
    trace = window_trace(image(5), SOBEL)  # 9 windows
    assert decode_payload(player_payload(trace, start=4))["header"]["start"] == 4
    assert decode_payload(player_payload(trace, start=99))["header"]["start"] == 9
    assert decode_payload(player_payload(trace, start=-3))["header"]["start"] == 0


def test_refuses_traces_with_too_many_windows() -> None:
    trace = window_trace(image(203), np.ones((1, 1)))  # 41,209 windows
    assert trace.n_windows > MAX_PLAYER_WINDOWS
    with pytest.raises(PlayerError, match="working resolution") as info:
        player_payload(trace)
    assert isinstance(info.value, UserError) and isinstance(info.value, ConvolutionError)


@pytest.mark.parametrize(
    "settings",
    [
        ConvSettings(),
        ConvSettings(padding=1),
        ConvSettings(stride=2),
        ConvSettings(dilation=2),
        ConvSettings(padding=2, stride=3, dilation=2, padding_mode="reflect"),
        ConvSettings(padding=1, stride=2, dilation=3, flip=True),
    ],
)
def test_derived_window_cells_equal_the_traced_cells(settings: ConvSettings) -> None:
    trace = window_trace(image(11), np.arange(6.0).reshape(2, 3), settings)
    header = decode_payload(player_payload(trace))["header"]
    for k in range(trace.n_windows):
        rows, cols = window_cells(header, k)
        np.testing.assert_array_equal(rows, trace.rows[k])
        np.testing.assert_array_equal(cols, trace.cols[k])


def test_products_are_one_multiplication_each_so_the_browser_can_redo_them() -> None:
    # The browser shows value * weight; that is exact only if the trace's products are the
    # single correctly rounded multiplication too (and not, say, a fused or reordered one).
    rng = np.random.default_rng(2)
    trace = window_trace(rng.random((16, 16)), rng.normal(size=(3, 3)) / 7, ConvSettings(1))
    decoded = decode_payload(player_payload(trace))
    header, padded, kernel = decoded["header"], decoded["padded"], decoded["kernel"]
    assert np.array_equal(trace.products, trace.patches * trace.kernel)
    for k in (0, 17, trace.n_windows - 1):
        rows, cols = window_cells(header, k)
        redone = [
            padded[r, c] * w
            for r, c, w in zip(rows.ravel(), cols.ravel(), kernel.ravel(), strict=True)
        ]
        assert np.array(redone).tobytes() == trace.products[k].ravel().tobytes()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (-12.0, "-12"),
        (0.0, "0"),
        (-0.0, "0"),
        (1 / 3, "0.3333"),
        (-2 / 3, "-0.6667"),
        (2.5, "2.5"),
        (0.1 + 0.2, "0.3"),
        (0.03125, "0.0313"),  # a tie: away from zero, as JavaScript's toFixed
        (-0.03125, "-0.0313"),
        (1.00001, "1"),
        (123.45678, "123.4568"),
        (1e-5, "1e-5"),
        (-1.23456e-7, "-1.235e-7"),
        (9.99996e-5, "1e-4"),
        (1e300, "1e300"),
        (float("nan"), "NaN"),
        (float("-inf"), "−∞"),
    ],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_payload_size_counts_bytes_or_json_text() -> None:
    assert payload_size(b"12345") == 5
    assert payload_size({"a": [1, 2]}) == len('{"a":[1,2]}')


# ------------------------------------------------------------------ view options and trace ids


def test_header_carries_the_view_options() -> None:
    trace = window_trace(image(6), SOBEL)
    header = decode_payload(
        player_payload(trace, presenter=True, test_hooks=True, speed=12.5, score=(2, 3))
    )["header"]
    assert (header["presenter"], header["test_hooks"]) == (True, True)
    assert (header["speed"], header["score"]) == (12.5, [2, 3])
    plain = decode_payload(player_payload(trace))["header"]
    assert (plain["presenter"], plain["test_hooks"], plain["speed"]) == (False, False, None)
    assert plain["trace_id"] == header["trace_id"] == trace_id(trace)  # view options aside


def test_trace_id_changes_with_any_number_or_setting() -> None:
    base = image(7)
    first = trace_id(window_trace(base, SOBEL))
    assert trace_id(window_trace(base.copy(), SOBEL.copy())) == first
    nudged = base.copy()
    nudged[3, 4] += 1e-12
    others = [
        window_trace(nudged, SOBEL),
        window_trace(base, SOBEL * 2),
        window_trace(base, SOBEL, ConvSettings(stride=2)),
        window_trace(base, SOBEL, ConvSettings(padding=1)),
        window_trace(base, SOBEL, ConvSettings(padding=1, padding_mode="reflect")),
        window_trace(base, SOBEL, ConvSettings(flip=True)),
    ]
    ids = {trace_id(t) for t in others}
    assert first not in ids and len(ids) == len(others)


# ------------------------------------------------------------------ the sum, written out


def test_display_value_uses_a_real_minus_sign() -> None:
    assert display_value(-12.0) == "−12"
    assert display_value(-1.23456e-7) == "−1.235e−7"
    assert display_value(3.5) == "3.5"


def test_written_sum_writes_subtraction_as_subtraction() -> None:
    products = np.array([-1.0, 0.0, 3.0, -12.0, 0.0, 16.0, -11.0, 0.0, 13.0])
    written = written_sum(products, 8.0)
    assert written.text.replace(NBSP, " ") == "−1 + 0 + 3 − 12 + 0 + 16 − 11 + 0 + 13 = 8"
    assert "+ −" not in written.text.replace(NBSP, " ") and written.note == ""
    # an operator sticks to its number, and "= 8" to the last term: lines break between terms
    assert "−" + NBSP + "12" in written.text and written.text.endswith(f"13{NBSP}={NBSP}8")
    assert written_sum(np.array([-0.0, 2.0]), 2.0).text.startswith("0 +")


def test_written_sum_says_approximately_when_a_term_is_rounded() -> None:
    third = written_sum(np.full(3, 1 / 3), 1.0).text.replace(NBSP, " ")
    assert third == "0.3333 + 0.3333 + 0.3333 ≈ 1"
    # 0.1 + 0.2 is 0.30000000000000004 in binary: written 0.3 and still "=" (1e-9 relative)
    assert written_sum(np.array([0.1, 0.2]), 0.1 + 0.2).text.replace(NBSP, " ") == "0.1 + 0.2 = 0.3"


def test_written_sum_over_nine_terms_is_shortened() -> None:
    # Few nonzero products: those, and a note for the zeros.
    few = np.zeros(25)
    few[[3, 7, 20]] = [2.0, -0.5, 1.25]
    written = written_sum(few, 2.75)
    assert written.text.replace(NBSP, " ") == "2 − 0.5 + 1.25 = 2.75"
    assert written.note == "the 22 zero products left out"
    # Many: the first six nonzero ones, then how many terms there are in all.
    many = np.arange(1.0, 50.0)
    text = written_sum(many, float(many.sum())).text.replace(NBSP, " ")
    assert text == "1 + 2 + 3 + 4 + 5 + 6 + … (49 terms in all) = 1225"
    assert written_sum(np.zeros(49), 0.0).text.replace(NBSP, " ").endswith("(49 terms in all) = 0")


# ------------------------------------------------------------------ where the player opens


def test_interesting_start_is_the_first_varied_strong_window() -> None:
    picture = np.zeros((12, 12))
    picture[4:8, 6:10] = 9.0  # a bright square: edges to the right of an empty corner
    trace = window_trace(picture, SOBEL)
    start = interesting_start(trace)
    k = start - 1
    strong = np.abs(trace.sums) >= 0.75 * np.abs(trace.sums).max()
    varied = np.ptp(trace.patches.reshape(trace.n_windows, -1), axis=1) > 0
    assert strong[k] and varied[k]
    assert not (strong[:k] & varied[:k]).any()  # the first such window
    assert k > 0 and trace.sums[0] == 0  # not the blank top-left corner


def test_interesting_start_falls_back_gracefully() -> None:
    assert interesting_start(window_trace(np.full((6, 6), 3.0), SOBEL)) == 1  # nothing happens
    ramp = np.arange(36.0).reshape(6, 6)  # 1×1 kernel: one number a window, never "varied"
    assert interesting_start(window_trace(ramp, np.ones((1, 1)))) == 28  # |sum| ≥ 26.25
    blur = window_trace(np.full((6, 6), 5.0), np.ones((3, 3)), ConvSettings(padding=1))
    assert interesting_start(blur) == 1  # the padded corner is the first varied window


def test_window_centred_at_finds_the_window_around_a_cell() -> None:
    trace = window_trace(image(9), SOBEL, ConvSettings(padding=1))
    header = decode_payload(player_payload(trace))["header"]
    for k in range(trace.n_windows):
        centre_row, centre_col = trace.rows[k][1, 1], trace.cols[k][1, 1]
        assert window_centred_at(header, centre_row, centre_col) == k
    assert window_centred_at(header, 0, 0) == 0  # a padding corner: the nearest window
    assert window_centred_at(header, 10, 10) == trace.n_windows - 1


# ------------------------------------------------------------------ the wrapper's memory

# Components are opaque to AppTest: the state the browser would report is injected into
# session_state, and the payload the wrapper sent is read back from the element's proto.
WRAPPER_PAGE = """
import streamlit as st
from bench.player_app import trace_for
from explorer.ui.player import conv_player

trace = trace_for({"size": str(st.session_state.get("size", 8))})
if st.session_state.get("show", True):
    st.session_state["returned"] = conv_player(trace, key="p")
"""


def sent_header(at) -> dict:
    """The header of the payload the wrapper sent in the app's last run."""
    (element,) = [e for e in at.main if getattr(e, "key", None) == "p"]
    return decode_payload(element.proto.bytes)["header"]


def test_wrapper_opens_new_traces_at_an_interesting_window_and_remembers_reports() -> None:
    from streamlit.testing.v1 import AppTest

    from bench.player_app import trace_for

    trace = trace_for({"size": "8"})
    at = AppTest.from_string(WRAPPER_PAGE).run()
    assert not at.exception
    assert sent_header(at)["start"] == interesting_start(trace)
    assert at.session_state["returned"] is None
    view = {"trace": trace_id(trace), "position": 5, "speed": 12.0}
    at.session_state["p"] = {"view": view, "score": {"right": 2, "asked": 3}}
    at.run()
    header = sent_header(at)
    assert (header["start"], header["speed"], header["score"]) == (5, 12.0, [2, 3])
    assert at.session_state["returned"] == 5
    # Away from the page (the player not drawn) and back: still there.
    at.session_state["show"] = False
    at.run()
    at.session_state["show"] = True
    at.run()
    assert sent_header(at)["start"] == 5
    # Another trace: the remembered position belongs to the old one; the chosen pace stays.
    at.session_state["size"] = 9
    at.run()
    header = sent_header(at)
    assert header["start"] == interesting_start(trace_for({"size": "9"}))
    assert header["speed"] == 12.0 and at.session_state["returned"] is None


# ------------------------------------------------------------------ the pure part, under Node

NODE = shutil.which("node")


@pytest.fixture
def node() -> str:
    """The Node.js that runs the pure part. ``make test`` installs it (scripts/install-node.sh);
    on a machine without it these tests fail, saying so, instead of skipping unnoticed."""
    if NODE is None:
        pytest.fail(
            "Node.js is not installed, so the player's pure part (player_state.js) is untested: "
            "run `bash scripts/install-node.sh` (`make test` does)",
            pytrace=False,
        )
    return NODE


needs_node = pytest.mark.usefixtures("node")

# Loads player_state.js alone into an empty context (no window, no document: were the file to
# touch the DOM, it would throw), then runs a scenario's body and prints its JSON result.
NODE_RUNNER = """
const vm = require("vm");
const fs = require("fs");
const [stateJs, scenario] = JSON.parse(fs.readFileSync(0, "utf8"));
const context = vm.createContext({});
vm.runInContext(stateJs, context, { filename: "player_state.js" });
const result = vm.runInContext(`(() => { ${scenario} })()`, context);
process.stdout.write(JSON.stringify(result));
"""


def run_js(scenario: str, **values: object) -> Any:
    """Run ``scenario`` (a function body that returns JSON-able data) after player_state.js,
    with ``values`` defined as constants; return what it returned."""
    prelude = "".join(f"const {k} = {json.dumps(v)};\n" for k, v in values.items())
    assert NODE is not None  # the tests that call this use the ``node`` fixture
    done = subprocess.run(
        [NODE, "-e", NODE_RUNNER],
        input=json.dumps([PLAYER_STATE_JS, prelude + scenario]),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_pure_part_has_no_dom() -> None:
    code = re.sub(r"//.*|/\*[\s\S]*?\*/", "", PLAYER_STATE_JS)  # prose may say "window"
    browser_only = (
        r"\bdocument\b|(?<!\.)\bwindow\.|\b(requestAnimationFrame|setTimeout|performance)\b"
    )
    assert not re.search(browser_only, code)


@needs_node
def test_a_default_run_lasts_ten_to_twenty_seconds_whatever_its_size() -> None:
    # Scripted ticks at 60 frames a second, from play to the end.
    seconds = run_js(
        """return sizes.map((n) => {
            const s = createPlayerState({ n });
            s.play();
            let t = 0;
            while (s.playing) { s.tick(1 / 60); t += 1 / 60; }
            return [s.position, t];
        });""",
        sizes=[9, 64, 900, 3_844, 10_000, 40_000],
    )
    for n, (position, t) in zip([9, 64, 900, 3_844, 10_000, 40_000], seconds, strict=True):
        assert position == n
        assert 10 <= t <= 20, (n, t)


@needs_node
def test_ticks_keys_and_hover() -> None:
    result = run_js(
        """
        const log = [];
        const s = createPlayerState({ n: 100 });
        log.push(["default pace", s.speed, s.speedChosen]);
        s.play(); s.tick(0);
        log.push(["first tick shows a window at once", s.position]);
        s.tick(0.3); // a frame gap longer than a background tab's cap (0.25 s)
        log.push(["long gaps are capped", s.position]);
        log.push(["hover ignored while playing", s.hover(10), s.shownWindow()]);
        s.act(keyAction(" ", {}));
        log.push(["space pauses", s.playing]);
        s.hover(40);
        log.push(["hover shows window", s.shownWindow(), s.position]);
        s.hover(null);
        log.push(["leaving restores", s.shownWindow()]);
        s.act(keyAction("ArrowRight", { tag: "DIV" }));
        s.act(keyAction("ArrowLeft", { tag: "div" }));
        s.act(keyAction("ArrowLeft", { tag: "div" }));
        log.push(["arrows step", s.position]);
        s.act(keyAction("End", {}));
        log.push(["end", s.position]);
        s.play(); s.tick(0);
        log.push(["play at the end starts again", s.position, s.playing]);
        s.jump(-5); const low = s.position; s.jump(1e9);
        log.push(["jumps clamp", low, s.position]);
        const before = s.speed; s.act(keyAction("+", {}));
        log.push(["+ is faster and chosen", s.speed > before, s.speedChosen]);
        const chosen = createPlayerState({ n: 100, speed: 42 });
        log.push(["a chosen pace is kept", chosen.speed, chosen.speedChosen]);
        return log;
        """
    )
    assert result == [
        ["default pace", 100 / 15, False],
        ["first tick shows a window at once", 1],
        ["long gaps are capped", 2],  # 1 + floor(0.25 · 6.67) = 2
        ["hover ignored while playing", False, 1],
        ["space pauses", False],
        ["hover shows window", 40, 2],
        ["leaving restores", 1],
        ["arrows step", 1],
        ["end", 100],
        ["play at the end starts again", 1, True],
        ["jumps clamp", 0, 100],
        ["+ is faster and chosen", True, True],
        ["a chosen pace is kept", 42, True],
    ]


@needs_node
def test_key_mapping_leaves_typing_and_native_controls_alone() -> None:
    cases = [
        [" ", {"tag": "DIV"}, "toggle"],
        [" ", {"tag": "INPUT", "type": "range"}, "toggle"],  # space on a slider: play
        ["ArrowLeft", {"tag": "INPUT", "type": "range"}, None],  # the slider moves itself
        ["Home", {"tag": "INPUT", "type": "range"}, None],
        ["ArrowLeft", {"tag": "INPUT", "type": "number"}, None],  # typing an answer
        ["-", {"tag": "INPUT", "type": "number"}, None],
        [" ", {"tag": "BUTTON"}, None],  # a focused button presses itself
        ["Enter", {"tag": "BUTTON"}, None],
        ["ArrowRight", {"tag": "BUTTON"}, "forward"],
        ["End", {}, "end"],
        ["x", {}, None],
    ]
    got = run_js("return cases.map(([key, target]) => keyAction(key, target));", cases=cases)
    assert got == [expected for _, _, expected in cases]


@needs_node
def test_js_formats_and_writes_sums_as_python_does() -> None:
    rng = np.random.default_rng(5)
    values = [
        3.0,
        -12.0,
        -0.0,
        1 / 3,
        -2 / 3,
        2.5,
        0.1 + 0.2,
        0.03125,
        -0.03125,
        1.00001,
        123.45678,
        1e-5,
        -1.23456e-7,
        9.99996e-5,
        1e300,
        1e15 + 0.5,
        *rng.normal(size=40).tolist(),
        *(rng.normal(size=20) * 1e-5).tolist(),
    ]
    cases = []
    for size in (1, 4, 9, 16, 25, 49):
        for zeros in (0.0, 0.5, 0.9):
            products = np.round(rng.normal(size=size) * 3, int(rng.integers(0, 6)))
            products[rng.random(size) < zeros] = 0.0
            cases.append(products.tolist())
    got = run_js(
        """return [values.map(formatValue), values.map(displayValue),
                   cases.map((p) => { const w = writtenSum(p, p.reduce((a, b) => a + b, 0));
                       return [[w.terms, w.relation, w.total].join(GLUE), w.note]; })];""",
        values=values,
        cases=cases,
    )
    assert got[0] == [format_value(v) for v in values]
    assert got[1] == [display_value(v) for v in values]
    expected = []
    for products in cases:
        total = 0.0
        for p in products:  # left to right, as the JavaScript reduce adds
            total += p
        expected.append(list(written_sum(np.array(products), total)))
    assert got[2] == expected


@needs_node
def test_js_finds_the_window_under_a_cell_as_python_does() -> None:
    headers = []
    for settings, kernel in [
        (ConvSettings(), np.ones((3, 3))),
        (ConvSettings(padding=2, stride=2), np.ones((5, 5))),
        (ConvSettings(padding=1, stride=3, dilation=2), np.ones((2, 3))),
    ]:
        headers.append(
            decode_payload(player_payload(window_trace(image(10), kernel, settings)))["header"]
        )
    cells = [[r, c] for r in range(14) for c in range(14)]
    got = run_js(
        "return headers.map((h) => cells.map(([r, c]) => windowCentredAt(h, r, c)));",
        headers=headers,
        cells=cells,
    )
    assert got == [[window_centred_at(h, r, c) for r, c in cells] for h in headers]


@needs_node
def test_your_turn_checks_answers_as_displayed_and_counts_each_question_once() -> None:
    result = run_js(
        """
        const sum = 25 / 3; // shown as 8.3333
        const check = (t) => answerIsRight(parseAnswer(t), sum);
        const right = ["8.3333", "8.33333333", " 8.3333 ", "8,3333"].map(check);
        const wrong = ["8.33", "8", "8.3334", "eight", ""].map(check);
        const negative = answerIsRight(parseAnswer("−2.5"), -2.5);
        const q = createQuiz({ n: 50, seedText: "abc", right: 1, asked: 1 });
        q.on = true;
        q.ask(7);
        const first = q.answer("12", 8);
        const again = q.answer("8", 8); // already answered: not counted
        q.ask(9);
        const second = q.answer("8", 8);
        q.ask(10);
        q.giveUp();
        const sequence = (seed) => { const z = createQuiz({ n: 1000, seedText: seed });
            return [1, 2, 3, 4, 5].map(() => {
                const k = z.randomWindow(); z.ask(k); return k; }); };
        return { right, wrong, negative, first, again, second, score: [q.right, q.asked],
                 same: sequence("abc").join() === sequence("abc").join(),
                 differs: sequence("abc").join() !== sequence("abd").join(),
                 inRange: sequence("x").every((k) => k >= 0 && k < 1000) };
        """
    )
    assert result["right"] == [True] * 4
    assert result["wrong"] == [False] * 5
    assert result["negative"] is True
    assert result["first"] == {"right": False, "answer": 12}
    assert result["again"] is None
    assert result["second"] == {"right": True, "answer": 8}
    assert result["score"] == [2, 4]  # 1 of 1 before, then a wrong, a right, a "show me"
    assert result["same"] and result["differs"] and result["inRange"]
