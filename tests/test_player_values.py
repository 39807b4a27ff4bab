"""What a browser sends back is checked before it is used: the player's reported position,
speed and "your turn" score (explorer/player.py's read_view, read_speed, read_score, used by
explorer/ui/player.py) and the custom kernel's grid edits (explorer/ui/playground.py's
edits_fit_grid). A modified browser can send any JSON there (Python's JSON reader even takes
NaN and Infinity): values of the wrong type are ignored, numbers out of range clamped, and the
page never shows a traceback. Components are opaque to AppTest, so the forged values are
injected through session state, the way the browser's would arrive."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from explorer.player import (
    MAX_PLAYER_WINDOWS,
    MAX_SCORE,
    SPEED_MAX,
    SPEED_MIN,
    ReportedView,
    decode_payload,
    read_score,
    read_speed,
    read_view,
)
from explorer.playground_state import PlaygroundState
from explorer.ui.playground import editor_key, edits_fit_grid
from tests.conftest import ROOT

TRACE = "0123456789abcdef"  # the shape of a trace_id


# ------------------------------------------------------------------ the player's view


def test_an_honest_view_is_read_as_sent() -> None:
    assert read_view({"trace": TRACE, "position": 5, "speed": 12.5}) == ReportedView(TRACE, 5, 12.5)
    assert read_view({"trace": TRACE, "position": 0, "speed": None}) == (TRACE, 0, None)


@pytest.mark.parametrize("value", [None, "view", 5, [TRACE, 5], (TRACE, 5, None)])
def test_a_view_that_is_not_a_mapping_is_ignored(value: object) -> None:
    assert read_view(value) is None


@pytest.mark.parametrize(
    "trace", [None, 5, ["x"], "", "0123", "0123456789ABCDEF", "0123456789abcdeg", TRACE * 2]
)
def test_a_view_without_a_trace_id_is_ignored(trace: object) -> None:
    assert read_view({"trace": trace, "position": 3}) is None


@pytest.mark.parametrize("position", [None, "3", 2.5, 3.0, math.nan, math.inf, True, [3]])
def test_a_view_whose_position_is_not_a_whole_number_is_ignored(position: object) -> None:
    assert read_view({"trace": TRACE, "position": position}) is None


@pytest.mark.parametrize(
    ("position", "read"),
    [
        (-1, 0),
        (-(10**30), 0),
        (MAX_PLAYER_WINDOWS + 1, MAX_PLAYER_WINDOWS),
        (10**400, MAX_PLAYER_WINDOWS),
    ],
)
def test_a_position_out_of_range_is_clamped(position: int, read: int) -> None:
    view = read_view({"trace": TRACE, "position": position})
    assert view is not None and view.position == read


def test_a_bad_speed_keeps_the_view_at_the_default_pace() -> None:
    view = read_view({"trace": TRACE, "position": 4, "speed": "fast"})
    assert view == ReportedView(TRACE, 4, None)


# ------------------------------------------------------------------ the player's speed


@pytest.mark.parametrize("speed", [None, "12", True, [12], {"speed": 12}])
def test_a_speed_that_is_not_a_number_reads_as_the_default(speed: object) -> None:
    assert read_speed(speed) is None


@pytest.mark.parametrize("speed", [math.nan, math.inf, -math.inf, 0, -3.5, 10**400])
def test_a_speed_that_is_not_finite_and_positive_reads_as_the_default(speed: object) -> None:
    assert read_speed(speed) is None


@pytest.mark.parametrize(
    ("speed", "read"), [(0.01, SPEED_MIN), (1e12, SPEED_MAX), (10**30, SPEED_MAX), (7, 7.0)]
)
def test_a_speed_out_of_the_sliders_range_is_clamped(speed: float, read: float) -> None:
    assert read_speed(speed) == read


# ------------------------------------------------------------------ the "your turn" score


def test_an_honest_score_is_read_as_sent() -> None:
    assert read_score({"right": 2, "asked": 3}) == (2, 3)
    assert read_score({}) == (0, 0)  # nothing counted yet


@pytest.mark.parametrize("score", [None, [2, 3], "2/3", 3])
def test_a_score_that_is_not_a_mapping_is_ignored(score: object) -> None:
    assert read_score(score) is None


@pytest.mark.parametrize(
    "score",
    [
        {"right": "2", "asked": 3},
        {"right": 1.5, "asked": 3},
        {"right": True, "asked": 3},
        {"right": 1, "asked": math.nan},
        {"right": 1, "asked": None},
    ],
)
def test_a_score_that_is_not_whole_numbers_is_ignored(score: object) -> None:
    assert read_score(score) is None


@pytest.mark.parametrize(
    ("score", "read"),
    [
        ({"right": 5, "asked": 3}, (3, 3)),
        ({"right": -1, "asked": -4}, (0, 0)),
        ({"right": 1, "asked": 10**40}, (1, MAX_SCORE)),
    ],
)
def test_a_score_out_of_range_is_clamped(score: dict, read: tuple[int, int]) -> None:
    assert read_score(score) == read


# ------------------------------------------------------------------ the player's wrapper

WRAPPER_PAGE = """
import streamlit as st
from bench.player_app import trace_for
from explorer.ui.player import conv_player, conv_player_score

st.session_state["returned"] = conv_player(trace_for({"size": "8"}), key="p")
st.session_state["score"] = conv_player_score("p")
"""


def sent_header(at: AppTest, key: str) -> dict:
    """The header of the payload the player under ``key`` was sent in the app's last run."""
    (element,) = [e for e in at.main if getattr(e, "key", None) == key]
    return decode_payload(element.proto.bytes)["header"]


def forged_states(trace: str) -> dict[str, object]:
    """Component states a modified browser could report for the player of ``trace``."""
    return {
        "not-a-mapping": "view",
        "view-a-string": {"view": "view", "score": None},
        "position-a-string": {"view": {"trace": trace, "position": "five"}, "score": None},
        "position-nan": {"view": {"trace": trace, "position": math.nan}, "score": None},
        "position-infinite": {"view": {"trace": trace, "position": math.inf}, "score": None},
        "position-past-the-end": {"view": {"trace": trace, "position": 10**9}, "score": None},
        "position-negative": {"view": {"trace": trace, "position": -7}, "score": None},
        "speed-a-string": {"view": {"trace": trace, "position": 3, "speed": "x"}, "score": None},
        "speed-infinite": {"view": {"trace": trace, "position": 3, "speed": math.inf}},
        "speed-huge": {"view": {"trace": trace, "position": 3, "speed": 1e12}, "score": None},
        "score-a-list": {"view": None, "score": [1, 2]},
        "score-strings": {"view": None, "score": {"right": "x", "asked": "y"}},
        "score-huge": {"view": None, "score": {"right": 10**30, "asked": 10**30}},
        "score-right-over-asked": {"view": None, "score": {"right": 5, "asked": 2}},
    }


def assert_sane(header: dict, n_windows: int) -> None:
    """What the player is sent stays within what an honest browser could have reported."""
    assert 0 <= header["start"] <= n_windows
    assert header["speed"] is None or SPEED_MIN <= header["speed"] <= SPEED_MAX
    right, asked = header["score"]
    assert 0 <= right <= asked <= MAX_SCORE


@pytest.mark.parametrize("forged", list(forged_states(TRACE)))
def test_a_forged_player_state_is_checked_by_the_wrapper(forged: str) -> None:
    at = AppTest.from_string(WRAPPER_PAGE, default_timeout=30).run()
    header = sent_header(at, "p")
    n_windows = header["out"][0] * header["out"][1]
    at.session_state["p"] = forged_states(header["trace_id"])[forged]
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert_sane(sent_header(at, "p"), n_windows)
    returned = at.session_state["returned"]
    assert returned is None or 0 <= returned <= n_windows
    right, asked = at.session_state["score"]
    assert 0 <= right <= asked <= MAX_SCORE


def test_a_position_past_the_end_opens_the_player_at_its_end() -> None:
    at = AppTest.from_string(WRAPPER_PAGE, default_timeout=30).run()
    header = sent_header(at, "p")
    n_windows = header["out"][0] * header["out"][1]
    at.session_state["p"] = forged_states(header["trace_id"])["position-past-the-end"]
    at.run()
    assert sent_header(at, "p")["start"] == n_windows == at.session_state["returned"]


# ------------------------------------------------------------------ through the playground page

PAGE = str(ROOT / "pages" / "convolution.py")


def open_playground(**fields: object) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if fields:
        at.session_state["conv_state"] = replace(PlaygroundState(), **fields)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.mark.parametrize(
    "forged",
    [
        "not-a-mapping",
        "position-a-string",
        "position-nan",
        "speed-a-string",
        "score-a-list",
        "score-strings",
    ],
)
def test_a_forged_player_state_leaves_the_playground_working(forged: str) -> None:
    at = open_playground()
    header = sent_header(at, "conv_player")
    at.session_state["conv_player"] = forged_states(header["trace_id"])[forged]
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert_sane(sent_header(at, "conv_player"), header["out"][0] * header["out"][1])


# ------------------------------------------------------------------ the custom kernel's grid


def edit(edited_rows: object = None, added: object = None, deleted: object = None) -> dict:
    """A data editor's state as the browser sends it (row positions as ints, as Streamlit
    reads them)."""
    return {
        "edited_rows": {} if edited_rows is None else edited_rows,
        "added_rows": added or [],
        "deleted_rows": deleted or [],
    }


def test_edits_of_the_grids_own_cells_fit() -> None:
    assert edits_fit_grid(edit(), 2, 3)
    assert edits_fit_grid(edit({0: {"1": "5"}, 1: {"3": "−2", "2": None}}), 2, 3)


FORGED_EDITS = {
    "not-a-mapping": [1, 2],
    "a-row-added": edit(added=[{"1": "5", "2": "6", "3": "7"}]),
    "a-row-deleted": edit(deleted=[0]),
    "rows-not-a-mapping": edit(edited_rows=[{"1": "5"}]),
    "a-row-past-the-grid": edit({2: {"1": "5"}}),
    "a-negative-row": edit({-1: {"1": "5"}}),
    "a-row-not-a-number": edit({"0": {"1": "5"}}),
    "a-row-that-is-a-bool": edit({True: {"1": "5"}}),
    "a-row-not-a-mapping": edit({0: "5"}),
    "a-column-past-the-grid": edit({0: {"4": "5"}}),
    "a-column-of-another-name": edit({0: {"_index": "5"}}),
    "a-cell-not-text": edit({0: {"1": 5}}),
    "a-cell-a-list": edit({0: {"1": ["5"]}}),
}


@pytest.mark.parametrize("forged", list(FORGED_EDITS))
def test_edits_that_do_not_fit_the_grid_are_refused(forged: str) -> None:
    assert not edits_fit_grid(FORGED_EDITS[forged], 2, 3)


@pytest.mark.parametrize(
    "forged",
    [
        "a-row-added",
        "a-row-deleted",
        "a-row-past-the-grid",
        "a-row-not-a-number",
        "a-row-not-a-mapping",
        "a-column-past-the-grid",
        "not-a-mapping",
        "a-cell-not-text",
    ],
)
def test_forged_grid_edits_leave_the_custom_kernel_as_it_was(forged: str) -> None:
    cells = (("1", "0", "-1"), ("2", "0", "-2"))
    at = open_playground(preset="custom", custom_cells=cells)
    at.session_state[editor_key(cells)] = FORGED_EDITS[forged]
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["conv_state"].custom_cells == cells


def test_honest_grid_edits_still_change_the_custom_kernel() -> None:
    cells = (("1", "0", "-1"), ("2", "0", "-2"))
    at = open_playground(preset="custom", custom_cells=cells)
    at.session_state[editor_key(cells)] = edit({1: {"2": "7"}})
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["conv_state"].custom_cells == (("1", "0", "-1"), ("2", "7", "-2"))
