"""The keys a presenting player hears from anywhere on the page (player_state.js's
``pageKeyAction``, run under Node): a clicker's keys step, play and jump; the page's own
controls keep theirs — typing is typing, a slider keeps its arrows, a button its Space."""

from __future__ import annotations

from tests.test_player import needs_node, node, run_js

__all__ = ["node"]  # the fixture, so that needs_node finds it here

BODY = {"tag": "BODY"}
CASES = [
    # a presenter's clicker, and the keyboard's own keys for the same
    ["PageDown", BODY, False, "forward"],
    ["PageUp", BODY, False, "back"],
    ["ArrowRight", BODY, False, "forward"],
    ["ArrowLeft", BODY, False, "back"],
    [" ", BODY, False, "toggle"],
    ["Home", BODY, False, "start"],
    ["End", BODY, False, "end"],
    ["ArrowRight", {"tag": "DIV"}, False, "forward"],
    # keys it does not take from the page, and shortcuts of the browser
    ["+", BODY, False, None],
    ["Enter", BODY, False, None],
    ["x", BODY, False, None],
    ["ArrowRight", BODY, True, None],  # Alt+→: the browser's "forward"
    # typing anywhere: a text or number box, a text area, a select, an editable area
    ["ArrowRight", {"tag": "INPUT", "type": "text"}, False, None],
    [" ", {"tag": "INPUT", "type": "number"}, False, None],
    ["Home", {"tag": "INPUT", "type": "search"}, False, None],
    ["PageDown", {"tag": "TEXTAREA"}, False, None],
    ["ArrowLeft", {"tag": "SELECT"}, False, None],
    [" ", {"tag": "DIV", "editable": True}, False, None],
    # controls that read keys themselves (Streamlit's select boxes, radios, tabs, tables)
    ["ArrowRight", {"tag": "INPUT", "type": "text", "role": "combobox"}, False, None],
    ["ArrowRight", {"tag": "DIV", "role": "radiogroup"}, False, None],
    ["ArrowRight", {"tag": "INPUT", "type": "radio"}, False, None],
    ["ArrowRight", {"tag": "BUTTON", "role": "tab"}, False, None],
    ["PageDown", {"tag": "DIV", "role": "grid"}, False, None],
    # a slider keeps its arrows, Home/End and PageUp/PageDown; Space still plays
    ["ArrowRight", {"tag": "DIV", "role": "slider"}, False, None],
    ["PageUp", {"tag": "INPUT", "type": "range"}, False, None],
    [" ", {"tag": "DIV", "role": "slider"}, False, "toggle"],
    # a button, a link or a switch keeps Space (it presses itself); the arrows step
    [" ", {"tag": "BUTTON"}, False, None],
    [" ", {"tag": "A"}, False, None],
    [" ", {"tag": "INPUT", "type": "checkbox", "role": "switch"}, False, None],
    ["PageDown", {"tag": "BUTTON"}, False, "forward"],
    ["ArrowRight", {"tag": "INPUT", "type": "checkbox"}, False, "forward"],
]


@needs_node
def test_a_presenting_player_takes_a_clickers_keys_and_leaves_the_pages_own_alone() -> None:
    got = run_js(
        "return cases.map(([key, target, mods]) => pageKeyAction(key, target, mods));",
        cases=[case[:3] for case in CASES],
    )
    assert got == [case[3] for case in CASES]


@needs_node
def test_a_focused_player_steps_with_page_up_and_page_down_too() -> None:
    got = run_js('return ["PageDown", "PageUp"].map((key) => keyAction(key, { tag: "DIV" }));')
    assert got == ["forward", "back"]
