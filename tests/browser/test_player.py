"""The convolution player in a real browser: controls, keyboard, reruns, remounts, "your turn",
accessibility, and numbers that are NumPy's to the last digit. Runs bench/player_app.py (the
player alone, with its test hooks) on one server for the module; one page per test."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import expect

from bench.bench_player import serve_player_app
from bench.player_app import changed, trace_for
from explorer.player import (
    decode_payload,
    display_value,
    format_value,
    interesting_start,
    player_payload,
    window_centred_at,
    written_sum,
)
from tests.browser.conftest import SCRIPT_DONE

NBSP = "\N{NO-BREAK SPACE}"


@pytest.fixture(scope="module")
def player_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_player_app(tmp_path_factory.mktemp("player") / "streamlit.log") as url:
        yield url


@pytest.fixture
def open_player(browser, player_url: str) -> Iterator[object]:
    """open_player(query) → a page showing the player, waited until it has drawn."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []

    def open_(query: str = "", hooks: bool = True) -> object:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{player_url}/?{query}")
        if hooks:
            page.wait_for_function("() => window.__playerTest?.frames > 0")
        else:
            page.get_by_test_id("cp-counter").wait_for()
        return page

    yield open_
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def params(query: str) -> dict[str, str]:
    return dict(part.split("=") for part in query.split("&"))


def hook(page, name: str):
    return page.evaluate(f"window.__playerTest.{name}")


def wait_position(page, expected: int) -> None:
    page.wait_for_function(f"() => window.__playerTest.position === {expected}", timeout=5_000)


def set_range(page, testid: str, value: int) -> None:
    """Move a range input as a user's drag ends: input events, then change."""
    page.get_by_test_id(testid).evaluate(
        f"e => {{ e.value = {value}; e.dispatchEvent(new Event('input'));"
        " e.dispatchEvent(new Event('change')); }"
    )


def click_and_settle(page, name: str) -> None:
    """Click one of the test page's Streamlit buttons or toggles; wait for its run to end."""
    page.get_by_text(name, exact=True).click()
    page.wait_for_timeout(200)
    page.wait_for_function(SCRIPT_DONE, timeout=20_000)


def texts(page, testid: str) -> list[str]:
    return page.get_by_test_id(testid).locator("span").all_text_contents()


def shown_window(page) -> dict:
    """What the player shows of its current window, as text."""
    return {
        "patch": texts(page, "cp-patch"),
        "products": texts(page, "cp-products"),
        "written": page.get_by_test_id("cp-written").text_content(),
        "note": page.get_by_test_id("cp-note").text_content(),
        "sum": page.get_by_test_id("cp-sum").text_content(),
        "target": page.get_by_test_id("cp-target").text_content(),
    }


def expected_window(trace, k: int) -> dict:
    """The same, computed from NumPy's trace."""
    written = written_sum(trace.products[k], trace.sums[k])
    out_row, out_col = divmod(k, trace.out_shape[1])
    return {
        "patch": [display_value(v) for v in trace.patches[k].ravel()],
        "products": [display_value(v) for v in trace.products[k].ravel()],
        "written": written.text,
        "note": f"({written.note})" if written.note else "",
        "sum": display_value(trace.sums[k]),
        "target": f"output[{out_row}, {out_col}]",
    }


# ------------------------------------------------------------------ controls


def test_renders_titles_grids_and_counter(open_player) -> None:
    page = open_player("size=8&padding=1&start=0")
    assert page.get_by_test_id("cp-in-title").text_content() == "Input 8×8, padded to 10×10"
    assert page.get_by_test_id("cp-out-title").text_content() == "Output 8×8"
    assert page.get_by_test_id("cp-counter").text_content() == "window 0 of 64"
    box = page.locator("canvas[data-layer='in-static']").bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 200
    assert page.get_by_test_id("cp-sum").text_content() == "–"  # nothing computed yet


def test_opens_where_something_happens_by_default(open_player) -> None:
    query = "size=16&padding=1"
    page = open_player(query)
    start = interesting_start(trace_for(params(query)))
    assert start > 1
    assert hook(page, "position") == start


def test_test_hooks_appear_only_when_the_page_asks(open_player) -> None:
    page = open_player("size=8&hooks=0&start=0", hooks=False)
    page.get_by_test_id("cp-forward").click()
    expect(page.get_by_test_id("cp-counter")).to_have_attribute("data-position", "1")
    assert page.evaluate("() => Object.keys(window).filter(k => /player/i.test(k))") == []


def test_play_advances_pause_stops_and_python_hears_where(open_player) -> None:
    page = open_player("size=64&start=0")
    set_range(page, "cp-speed", 60)  # ~95 windows a second
    page.get_by_test_id("cp-play").click()
    page.wait_for_function("() => window.__playerTest.position > 20")
    page.get_by_test_id("cp-play").click()
    stopped = hook(page, "position")
    assert page.get_by_test_id("cp-play").get_attribute("data-state") == "paused"
    page.get_by_text(f"reported position: {stopped}").wait_for()
    page.wait_for_timeout(400)
    assert hook(page, "position") == stopped


def test_step_buttons_and_scrub(open_player) -> None:
    page = open_player("size=8&start=0")
    for _ in range(3):
        page.get_by_test_id("cp-forward").click()
    wait_position(page, 3)
    page.get_by_test_id("cp-back").click()
    wait_position(page, 2)
    assert page.get_by_test_id("cp-counter").text_content() == "window 2 of 36"
    set_range(page, "cp-scrub", 20)
    wait_position(page, 20)
    assert page.get_by_test_id("cp-target").text_content() == "output[3, 1]"  # window 19
    page.get_by_text("reported position: 20").wait_for()
    page.get_by_test_id("cp-end").click()
    wait_position(page, 36)
    page.get_by_test_id("cp-start").click()
    wait_position(page, 0)


def test_keyboard_shortcuts_when_focused(open_player) -> None:
    page = open_player("size=8&start=0")
    page.get_by_test_id("cp-root").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    wait_position(page, 2)
    page.keyboard.press("ArrowLeft")
    wait_position(page, 1)
    page.keyboard.press("End")
    wait_position(page, 36)
    page.keyboard.press("Home")
    wait_position(page, 0)
    speed = page.evaluate("window.__playerTest.snapshot().speed")
    page.keyboard.press("+")
    faster = page.evaluate("window.__playerTest.snapshot().speed")
    assert faster > speed
    page.keyboard.press("-")
    assert page.evaluate("window.__playerTest.snapshot().speed") == pytest.approx(speed)
    page.keyboard.press(" ")
    page.wait_for_function("() => window.__playerTest.position >= 1")
    assert page.get_by_test_id("cp-play").get_attribute("data-state") == "playing"
    page.keyboard.press(" ")
    assert page.get_by_test_id("cp-play").get_attribute("data-state") == "paused"


# ------------------------------------------------------------------ reruns, new traces, remounts


def test_a_rerun_with_the_same_trace_neither_rebuilds_nor_restarts(open_player) -> None:
    page = open_player("size=64&start=0")
    assert hook(page, "constructions") == 1
    set_range(page, "cp-speed", 45)  # ~30 windows a second
    page.get_by_test_id("cp-play").click()
    page.wait_for_function("() => window.__playerTest.position > 5")
    calls, layouts = hook(page, "calls"), hook(page, "layouts")
    click_and_settle(page, "Rerun, same trace")
    # still playing, on from where it was: not rebuilt, not restarted
    assert page.evaluate("window.__playerTest.snapshot().playing")
    before = hook(page, "position")
    page.wait_for_function(f"() => window.__playerTest.position > {before}")
    page.get_by_test_id("cp-play").click()
    stopped = hook(page, "position")
    page.get_by_text(f"reported position: {stopped}").wait_for()
    click_and_settle(page, "Rerun, same trace")
    assert hook(page, "position") == stopped
    assert hook(page, "calls") > calls  # the reruns did reach the player…
    assert hook(page, "constructions") == 1  # …which was never built again
    assert hook(page, "layouts") == layouts  # nor even laid out again


def test_a_new_trace_resets_position_and_pace(open_player) -> None:
    query = "size=16&padding=1"
    page = open_player(query)
    set_range(page, "cp-scrub", 100)
    page.get_by_text("reported position: 100").wait_for()
    old_speed = page.evaluate("window.__playerTest.snapshot().speed")
    click_and_settle(page, "Change the trace")
    new = trace_for(changed(params(query)))
    page.wait_for_function("() => window.__playerTest.constructions === 2")
    snapshot = page.evaluate("window.__playerTest.snapshot()")
    assert snapshot["n"] == new.n_windows
    assert snapshot["position"] == interesting_start(new) != 100
    assert snapshot["speed"] == pytest.approx(new.n_windows / 15)  # a 15 s run, as before
    assert snapshot["speed"] != pytest.approx(old_speed)
    assert not snapshot["playing"] and not snapshot["speedChosen"]


def test_a_chosen_speed_outlives_a_new_trace(open_player) -> None:
    page = open_player("size=16")
    set_range(page, "cp-speed", 30)
    chosen = page.evaluate("window.__playerTest.snapshot().speed")
    click_and_settle(page, "Change the trace")
    page.wait_for_function("() => window.__playerTest.constructions === 2")
    snapshot = page.evaluate("window.__playerTest.snapshot()")
    assert snapshot["speed"] == pytest.approx(chosen) and snapshot["speedChosen"]
    assert page.get_by_test_id("cp-speed-text").text_content() == f"{chosen:.1f} windows/s"


def test_a_remounted_player_opens_where_it_stopped(open_player) -> None:
    page = open_player("size=8&padding=1&start=0")
    set_range(page, "cp-speed", 70)
    for _ in range(7):
        page.get_by_test_id("cp-forward").click()
    page.get_by_text("reported position: 7").wait_for()
    speed = page.evaluate("window.__playerTest.snapshot().speed")
    click_and_settle(page, "Show the player")  # off: the component leaves the page
    assert page.get_by_test_id("cp-root").count() == 0
    click_and_settle(page, "Show the player")  # on: a new component, mounted afresh
    page.wait_for_function("() => window.__playerTest.constructions === 2")
    assert hook(page, "position") == 7
    assert page.evaluate("window.__playerTest.snapshot().speed") == pytest.approx(speed)


# ------------------------------------------------------------------ the numbers are NumPy's


def test_every_window_shows_numpys_arithmetic(open_player) -> None:
    # 6×6, fractional weights, padding 1, stride 2: step through all 9 windows.
    query = "size=6&kernel=frac&padding=1&stride=2&start=0"
    trace = trace_for(params(query))
    page = open_player(query)
    assert texts(page, "cp-kernel") == [display_value(v) for v in trace.kernel.ravel()]
    out = page.locator("canvas[data-layer='out-static']")
    for k in range(trace.n_windows):
        page.get_by_test_id("cp-forward").click()
        wait_position(page, k + 1)
        assert shown_window(page) == expected_window(trace, k), f"window {k}"
        cells = hook(page, "cells")
        assert cells == np.stack([trace.rows[k], trace.cols[k]], -1).reshape(-1, 2).tolist()
        # the output cell's value, as its text alternative reads it
        out_row, out_col = divmod(k, trace.out_shape[1])
        last = f"The last, output[{out_row}, {out_col}], is {display_value(trace.sums[k])}."
        page.wait_for_function(
            "([e, t]) => e.getAttribute('aria-label').endsWith(t)", arg=[out.element_handle(), last]
        )


def test_sums_over_nine_terms_are_shortened_as_python_writes_them(open_player) -> None:
    # 5×5 with padding 2: corner windows have ≤ 9 nonzero products (the zeros are left out
    # with a note), inner ones 25 (the first six and "… (25 terms in all)").
    query = "size=5&ksize=5&padding=2&start=0"
    trace = trace_for(params(query))
    page = open_player(query)
    notes, written = set(), []
    for k in range(trace.n_windows):
        set_range(page, "cp-scrub", k + 1)
        wait_position(page, k + 1)
        shown = shown_window(page)
        assert shown == expected_window(trace, k), f"window {k}"
        notes.add(bool(shown["note"]))
        written.append(shown["written"])
    assert notes == {True, False}
    assert any("(25 terms in all)" in text.replace(NBSP, " ") for text in written)


def test_shown_products_and_sum_are_numpys_with_dilation(open_player) -> None:
    query = "size=9&padding=1&stride=2&dilation=2&kernel=blur&start=6"
    trace = trace_for(params(query))
    page = open_player(query)
    assert shown_window(page) == expected_window(trace, 5)
    # The shared number formatter agrees with Python's on awkward values too.
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
        4503599627370495.5,
        *trace.products.ravel()[:50].tolist(),
    ]
    in_js = page.evaluate("vs => vs.map(v => window.__playerTest.format(v))", values)
    assert in_js == [format_value(v) for v in values]


# ------------------------------------------------------------------ hover


def test_hovering_the_input_shows_the_window_there_and_leaving_restores(open_player) -> None:
    query = "size=8&padding=1&start=3"
    trace = trace_for(params(query))
    header = decode_payload(player_payload(trace))["header"]
    page = open_player(query)
    canvas = page.locator("canvas[data-layer='in-static']")
    box = canvas.bounding_box()
    cell = box["width"] / trace.padded.shape[1]
    for row, col in [(5, 6), (0, 0), (9, 2)]:
        page.mouse.move(box["x"] + (col + 0.5) * cell, box["y"] + (row + 0.5) * cell)
        k = window_centred_at(header, row, col)
        page.wait_for_function(f"() => window.__playerTest.window === {k}")
        assert shown_window(page) == expected_window(trace, k)
        assert page.get_by_test_id("cp-calc-title").text_content() == "The window under the pointer"
        assert hook(page, "position") == 3  # the paused position is not lost
    page.mouse.move(box["x"] + box["width"] + 300, box["y"])  # away
    page.wait_for_function("() => window.__playerTest.window === 2")
    assert shown_window(page) == expected_window(trace, 2)
    # a click (a tap, on a phone) makes the window there the position
    page.mouse.click(box["x"] + 5.5 * cell, box["y"] + 4.5 * cell)
    wait_position(page, window_centred_at(header, 4, 5) + 1)


# ------------------------------------------------------------------ your turn


FOCUSED = """() => { let e = document.activeElement;
    while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;
    return e; }"""


def focused_testid(page) -> str | None:
    """The data-testid of the element with the keyboard, inside shadow roots too."""
    return page.evaluate(f"() => ({FOCUSED})()?.dataset?.testid ?? null")


def answer(page, text: str) -> str:
    page.get_by_test_id("cp-answer").fill(text)
    page.get_by_test_id("cp-check").click()
    return page.get_by_test_id("cp-verdict").text_content()


def test_your_turn_asks_checks_scores_and_reports(open_player) -> None:
    query = "size=6&kernel=frac&padding=1&stride=2&start=4"
    trace = trace_for(params(query))
    page = open_player(query)
    page.get_by_test_id("cp-quiz-toggle").click()
    assert page.get_by_test_id("cp-quiz-toggle").get_attribute("aria-pressed") == "true"
    # the window the teacher paused on (window 3), its answer hidden everywhere
    assert hook(page, "position") == 4
    assert set(texts(page, "cp-products")) == {"?"}
    assert page.get_by_test_id("cp-sum").text_content() == "?"
    assert display_value(trace.sums[3]) not in page.get_by_test_id("cp-written").text_content()
    page.wait_for_timeout(400)
    assert display_value(trace.sums[3]) not in page.get_by_test_id("cp-live").text_content()
    assert focused_testid(page) == "cp-answer"  # typing goes to the answer box
    verdict = answer(page, "123")
    assert verdict.startswith("Not quite") and display_value(trace.sums[3]) in verdict
    assert shown_window(page) == expected_window(trace, 3)  # the working, revealed
    assert page.get_by_test_id("cp-score").text_content() == "score 0 / 1"
    page.get_by_text("score: 0 of 1").wait_for()  # Python has the score

    page.get_by_test_id("cp-next").click()  # a random window (seeded by the trace)
    k = hook(page, "position") - 1
    assert page.get_by_test_id("cp-sum").text_content() == "?"
    assert answer(page, format_value(trace.sums[k])).startswith("Right")  # as displayed
    page.get_by_text("score: 1 of 2").wait_for()

    # The teacher moves to a window: that one is asked. More digits than shown count too.
    k = (k + 1) % trace.n_windows
    set_range(page, "cp-scrub", k + 1)
    wait_position(page, k + 1)
    assert page.get_by_test_id("cp-sum").text_content() == "?"
    assert answer(page, repr(float(trace.sums[k]))).startswith("Right")
    page.get_by_text("score: 2 of 3").wait_for()
    # a second answer to the same question does not count again
    page.get_by_test_id("cp-answer").fill("0")
    page.get_by_test_id("cp-check").click()
    assert page.get_by_test_id("cp-score").text_content() == "score 2 / 3"

    click_and_settle(page, "Rerun, same trace")
    assert page.get_by_test_id("cp-score").text_content() == "score 2 / 3"
    click_and_settle(page, "Show the player")
    click_and_settle(page, "Show the player")  # remounted: the session's score is kept
    page.wait_for_function("() => window.__playerTest.constructions === 2")
    assert page.get_by_test_id("cp-score").text_content() == "score 2 / 3"


# ------------------------------------------------------------------ accessibility

# Contrast of every text in the player against what is behind it (WCAG 2 formula).
CONTRAST = """root => {
    const parse = (c) => { const m = c.match(/[\\d.]+/g).map(Number);
        return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
    const over = (top, under) => ({r: top.r * top.a + under.r * (1 - top.a),
        g: top.g * top.a + under.g * (1 - top.a), b: top.b * top.a + under.b * (1 - top.a), a: 1});
    const luminance = (c) => { const f = (v) => { v /= 255;
        return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
        return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
    const background = (el) => {
        const layers = [];
        for (let e = el; e; e = e.parentElement || (e.getRootNode().host ?? null)) {
            const c = parse(getComputedStyle(e).backgroundColor);
            if (c.a > 0) layers.push(c);
            if (c.a === 1) break;
        }
        const white = {r: 255, g: 255, b: 255, a: 1};
        return layers.reverse().reduce((under, top) => over(top, under), white);
    };
    const out = [];
    for (const el of root.querySelectorAll("*")) {
        const style = getComputedStyle(el);
        const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        if (!own || el.closest(".cp-sr") || style.display === "none"
            || el.getBoundingClientRect().width === 0) continue;
        const bg = background(el);
        const fg = over(parse(style.color), bg);
        const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
        const size = parseFloat(style.fontSize);
        const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
        out.push({text: el.textContent.trim().slice(0, 20), ratio: (l1 + 0.05) / (l2 + 0.05),
                  needed: large ? 3 : 4.5});
    }
    return out;
}"""


def test_text_contrast_is_readable(open_player) -> None:
    page = open_player("size=8&padding=1&start=12")
    page.get_by_test_id("cp-quiz-toggle").click()
    answer(page, "1")
    poor = [
        t for t in page.get_by_test_id("cp-root").evaluate(CONTRAST) if t["ratio"] < t["needed"]
    ]
    assert poor == []


def test_every_control_has_a_name_a_focus_ring_and_works_by_keyboard(open_player) -> None:
    page = open_player("size=6&kernel=frac&padding=1&stride=2&start=0")
    page.get_by_test_id("cp-quiz-toggle").click()  # so the quiz's controls are there too
    page.get_by_test_id("cp-quiz-toggle").click()
    page.get_by_test_id("cp-root").focus()
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            f"""() => {{ const e = ({FOCUSED})(); const s = getComputedStyle(e);
                const label = e.getAttribute('aria-label') || e.closest('label')?.textContent
                    || e.textContent;
                return {{id: e.dataset.testid, name: (label || '').trim(),
                        ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2}}; }}"""
        )
        if not focused["id"] or not focused["id"].startswith("cp-"):
            break
        seen.append(focused["id"])
        assert focused["name"], focused
        assert focused["ring"], focused
    assert seen[:5] == ["cp-start", "cp-back", "cp-play", "cp-forward", "cp-end"]
    assert {"cp-scrub", "cp-speed", "cp-quiz-toggle"} <= set(seen)
    # the forward button, pressed with Enter, then the live region says where we are
    page.get_by_test_id("cp-start").click()
    page.get_by_test_id("cp-forward").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    trace = trace_for(params("size=6&kernel=frac&padding=1&stride=2"))
    live = page.get_by_test_id("cp-live")
    expected = f"Window 2 of 9, output row 0 column 1: sum = {display_value(trace.sums[1])}"
    page.wait_for_function("([e, t]) => e.textContent === t", arg=[live.element_handle(), expected])
    label = page.locator("canvas[data-layer='in-static']").get_attribute("aria-label")
    assert label == "The input, 6×6, padded to 8×8; the window covers rows 0 to 2, columns 2 to 4."
