"""The custom-kernel editor in a real browser: a distinct value typed into every cell of a 1×1,
a 3×3 and a 7×7 grid — integers, decimals, fractions, negatives — lands in that cell, and the
kernel shown, the share link and the result all follow, checked against NumPy.

(The editor's old bug: a value typed into column c landed in column c+1, and typing into the
last column replaced the page with an IndexError.)"""

from __future__ import annotations

import re
import time
from fractions import Fraction
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from scipy.signal import correlate2d

from explorer.numbers import display_value
from tests.browser.conftest import SCRIPT_DONE, wait_for_app

MATRIX = np.arange(1.0, 26.0).reshape(5, 5)  # the playground's default typed numbers
ROW_PX = 35  # Streamlit's data editor: header and rows are 35 px high


def typed_value(r: int, c: int, n: int) -> str:
    """A distinct value for cell (r, c), cycling through the forms a student types."""
    k = r * n + c
    return ["3", "0.5", "1/9", "-2", "-1/4", "2.25"][k % 6] if k < 6 else f"{k + 1}/{k % 5 + 2}"


def number(text: str) -> float:
    return float(Fraction(text))


# Generous limits: a loaded 2-core CI machine can take many seconds for one run of the page.
RUN_TIMEOUT_MS = 120_000  # one run of the page, start to finish
CELL_TIMEOUT_S = 120.0  # one typed value, from the click to the address holding it
REACT_S = 15.0  # the grid answering a click or a key (selecting, opening its editor)
NUDGE_S = 2.0  # how long to wait for the edit to arrive before clicking on once more


def kernel_tables(page) -> list[list[list[str]]]:
    """Every HTML number grid on the page, as cell texts (kernel first, result last)."""
    tables = page.locator("[data-testid='stMarkdownContainer'] table").all()
    return [
        [[td.inner_text() for td in tr.locator("td").all()] for tr in t.locator("tr").all()]
        for t in tables
    ]


def link_cells(page) -> list[list[str]]:
    """The kernel the address (the share link) holds, as cell texts."""
    kv = parse_qs(urlsplit(page.url).query).get("kv", [""])[0]
    return [row.split(",") for row in kv.split(";")]


def link_has(page, r: int, c: int, text: str) -> bool:
    cells = link_cells(page)
    return r < len(cells) and c < len(cells[r]) and cells[r][c] == text


def wait_until(condition, timeout_s: float) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout_s`` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def editor_box(page) -> dict:
    """The editor's place on the screen now: a run can move it (the content above it can
    change height), so it is measured again before every click."""
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.evaluate("e => e.scrollIntoView({block: 'center'})")  # room for the cell editor
    boxes = [grid.bounding_box()]
    while not wait_until(lambda: grid.bounding_box() == boxes[-1], 0.3):  # stopped moving
        boxes.append(grid.bounding_box())
    assert boxes[-1] is not None
    return boxes[-1]


def click_cell(page, n: int, r: int, c: int) -> bool:
    """Click cell (r, c) of the n-column editor; True once the grid has selected it (the grid
    keeps an accessible table of its cells beside its canvas), False if the click went nowhere
    (the page was being re-drawn)."""
    box = editor_box(page)
    col_px = box["width"] / n  # the columns share the grid's width
    page.mouse.click(box["x"] + col_px * (c + 0.5), box["y"] + ROW_PX * (r + 1.5))
    selected = page.locator(f"[data-testid='glide-cell-{c}-{r}'][aria-selected='true']")
    return wait_until(lambda: selected.count() > 0, REACT_S)


def editor_holds(page, text: str) -> bool:
    """True while the grid's cell editor (its overlay text box) holds ``text``."""
    return page.evaluate(
        "text => [...document.querySelectorAll('textarea.gdg-input')].some(e => e.value === text)",
        text,
    )


def type_into(page, n: int, r: int, c: int, text: str) -> None:
    """Select cell (r, c), type ``text`` (typing into a selected cell replaces it) and wait
    until the cell editor holds it, press Enter, click on (the grid sends its edit to the app
    when the student moves on; now and then a click must be repeated) and wait for the address
    to hold it. A try whose click or keys went nowhere (the page was re-drawn under them) is
    cancelled and typed again. Every wait ends on what arrives, within generous limits, not
    after a fixed time."""
    deadline = time.monotonic() + CELL_TIMEOUT_S
    while time.monotonic() < deadline:
        page.wait_for_function(SCRIPT_DONE, timeout=RUN_TIMEOUT_MS)
        if link_has(page, r, c, text):  # a slow run of an earlier try has brought it
            return
        if not click_cell(page, n, r, c):
            continue
        page.keyboard.type(text, delay=30)
        if not wait_until(lambda: editor_holds(page, text), REACT_S):
            page.keyboard.press("Escape")  # a half-typed editor: cancel it and start again
            continue
        page.keyboard.press("Enter")
        wait_until(lambda: not editor_holds(page, text), REACT_S)  # the grid has taken it
        for _nudge in range(5):
            click_cell(page, n, 0, 0)  # moving on sends the edit
            if wait_until(lambda: link_has(page, r, c, text), NUDGE_S):
                page.wait_for_function(SCRIPT_DONE, timeout=RUN_TIMEOUT_MS)
                return
            page.wait_for_function(SCRIPT_DONE, timeout=RUN_TIMEOUT_MS)
    raise AssertionError(f"cell ({r}, {c}) never became {text}: {page.url}")


@pytest.mark.parametrize("n", [1, 3, 7])
def test_typing_into_every_cell_lands_in_that_cell(page, n: int) -> None:
    zeros = ";".join(",".join("0" for _ in range(n)) for _ in range(n))
    wait_for_app(page, f"convolution?src=numbers&k=custom&pad={n // 2}&kv={zeros}")
    page.wait_for_selector("text=Checked against PyTorch", timeout=RUN_TIMEOUT_MS)
    # Every cell of the 1×1 and 3×3 editors; of the 7×7, every third cell along the diagonals
    # ((r + c) % 3 == 0: 17 cells, at least two in every row and every column, the corners
    # included) — the other 32 cells stay 0 and are checked as such below. (All 49 took 48 s.)
    chosen = [(r, c) for r in range(n) for c in range(n) if n <= 3 or (r + c) % 3 == 0]
    typed = [["0"] * n for _ in range(n)]
    for r, c in chosen:
        typed[r][c] = typed_value(r, c, n)
        type_into(page, n, r, c, typed[r][c])

    kernel = np.array([[number(t) for t in row] for row in typed])
    # The share link holds exactly what was typed, cell by cell.
    assert link_cells(page) == typed
    # The kernel grid shown beside the editor holds the parsed values in the same places; the
    # page is re-drawn by the last run, so wait for the grid rather than read it at once.
    shown = [[display_value(v) for v in row] for row in kernel]  # a true minus, as the page
    wait_until(lambda: shown in kernel_tables(page), CELL_TIMEOUT_S)
    tables = kernel_tables(page)
    shown_kernel = next(t for t in tables if len(t) == n and len(t[0]) == n)
    assert shown_kernel == shown
    # The result is NumPy's cross-correlation of the zero-padded matrix with that kernel.
    expected = correlate2d(np.pad(MATRIX, n // 2), kernel, mode="valid")
    result = tables[-1]
    assert len(result) == 5 and len(result[0]) == 5
    np.testing.assert_allclose(
        [[float(re.sub("[−]", "-", v)) for v in row] for row in result], expected, rtol=1e-4
    )
    assert page.get_by_text("Checked against PyTorch").count() == 1
    assert page.locator("[data-testid='stException']").count() == 0
    assert not page.js_errors
