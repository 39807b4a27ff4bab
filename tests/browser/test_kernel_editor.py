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

from explorer.numbers import format_value
from tests.browser.conftest import SCRIPT_DONE, wait_for_app

MATRIX = np.arange(1.0, 26.0).reshape(5, 5)  # the playground's default typed numbers
ROW_PX = 35  # Streamlit's data editor: header and rows are 35 px high


def typed_value(r: int, c: int, n: int) -> str:
    """A distinct value for cell (r, c), cycling through the forms a student types."""
    k = r * n + c
    return ["3", "0.5", "1/9", "-2", "-1/4", "2.25"][k % 6] if k < 6 else f"{k + 1}/{k % 5 + 2}"


def number(text: str) -> float:
    return float(Fraction(text))


def kernel_tables(page) -> list[list[list[str]]]:
    """Every HTML number grid on the page, as cell texts (kernel first, result last)."""
    tables = page.locator("[data-testid='stMarkdownContainer'] table").all()
    return [
        [[td.inner_text() for td in tr.locator("td").all()] for tr in t.locator("tr").all()]
        for t in tables
    ]


def wait_for_cell(page, r: int, c: int, text: str, timeout_s: float) -> bool:
    """True once the address's kernel (the share link) holds ``text`` at (r, c)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        kv = parse_qs(urlsplit(page.url).query).get("kv", [""])[0]
        cells = [row.split(",") for row in kv.split(";")]
        if r < len(cells) and c < len(cells[r]) and cells[r][c] == text:
            return True
        time.sleep(0.1)
    return False


def type_into(page, grid_box: dict, n: int, r: int, c: int, text: str) -> None:
    """Click cell (r, c) of the n-column editor, type ``text`` (typing into a selected cell
    replaces it), press Enter, click a cell again (the grid sends its edits to the app when
    the student moves on, as a student does) and wait for the run that starts."""
    col_px = grid_box["width"] / n  # the columns share the grid's width
    page.mouse.click(grid_box["x"] + col_px * (c + 0.5), grid_box["y"] + ROW_PX * (r + 1.5))
    time.sleep(0.3)
    page.keyboard.type(text, delay=30)
    page.keyboard.press("Enter")
    for _attempt in range(10):  # the grid sends its edit once the student clicks on
        time.sleep(0.5)
        page.mouse.click(grid_box["x"] + col_px * 0.5, grid_box["y"] + ROW_PX * 1.5)
        if wait_for_cell(page, r, c, text, timeout_s=3.0):
            break
    else:
        raise AssertionError(f"cell ({r}, {c}) never became {text}: {page.url}")
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)


@pytest.mark.parametrize("n", [1, 3, 7])
def test_typing_into_every_cell_lands_in_that_cell(page, n: int) -> None:
    zeros = ";".join(",".join("0" for _ in range(n)) for _ in range(n))
    wait_for_app(page, f"convolution?src=numbers&k=custom&pad={n // 2}&kv={zeros}")
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.evaluate("e => e.scrollIntoView({block: 'center'})")  # room for the cell editor
    time.sleep(1.0)
    box = grid.bounding_box()
    assert box is not None
    typed = [[typed_value(r, c, n) for c in range(n)] for r in range(n)]
    for r in range(n):
        for c in range(n):
            type_into(page, box, n, r, c, typed[r][c])

    kernel = np.array([[number(t) for t in row] for row in typed])
    # The share link holds exactly what was typed, cell by cell.
    kv = parse_qs(urlsplit(page.url).query)["kv"][0]
    assert [row.split(",") for row in kv.split(";")] == typed
    # The kernel grid shown beside the editor holds the parsed values in the same places.
    tables = kernel_tables(page)
    shown_kernel = next(t for t in tables if len(t) == n and len(t[0]) == n)
    assert shown_kernel == [[format_value(v) for v in row] for row in kernel]
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
