"""The sharing lab in a real browser: a weight typed into the kernel's boxes (Enter) changes
all 1,024 outputs, text that is not a number says so, and on a phone the nine boxes stay a
3×3 grid on the screen."""

from __future__ import annotations

from tests.browser.conftest import SCRIPT_DONE, wait_for_app

METRIC = "[data-testid='stMetric']:has-text('Output values changed')"


def changed(page) -> str:
    return page.locator(METRIC).get_by_test_id("stMetricValue").inner_text()


def weight_box(page, row: int, col: int):
    return page.get_by_label(f"Weight row {row}, column {col}", exact=True)


def settle(page, metric: str) -> None:
    page.wait_for_function(
        """(want) => {
            const m = [...document.querySelectorAll('[data-testid=stMetric]')]
                .find(e => e.innerText.includes('Output values changed'));
            const v = m && m.querySelector('[data-testid=stMetricValue]');
            return v && v.innerText === want;
        }""",
        arg=metric,
        timeout=60_000,
    )
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)


def test_typing_a_weight_changes_every_output(page) -> None:
    wait_for_app(page, "why_sharing")
    settle(page, "0 of 1,024")
    box = weight_box(page, 2, 2)
    box.fill("0.5")
    box.press("Enter")
    settle(page, "1,024 of 1,024")
    assert page.get_by_text("All 1,024 output values changed").count() == 1
    assert "kedit=4%3A0.5" in page.url or "kedit=4:0.5" in page.url

    corner = weight_box(page, 1, 1)
    corner.fill("nonsense")
    corner.press("Enter")
    page.get_by_text("is not a number").wait_for(timeout=60_000)
    assert changed(page) == "1,024 of 1,024"  # the last number read still counts
    assert page.js_errors == []


def test_the_nine_boxes_are_a_grid_on_a_phone(page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    wait_for_app(page, "why_sharing")
    settle(page, "0 of 1,024")
    boxes = [[weight_box(page, r, c).bounding_box() for c in (1, 2, 3)] for r in (1, 2, 3)]
    for row in boxes:
        assert row[0] and row[1] and row[2]
        assert row[0]["y"] == row[1]["y"] == row[2]["y"]  # one row each
        assert row[0]["x"] < row[1]["x"] < row[2]["x"]
        assert row[2]["x"] + row[2]["width"] <= 390  # all on the screen
    assert boxes[0][0]["y"] < boxes[1][0]["y"] < boxes[2][0]["y"]
