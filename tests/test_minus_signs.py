"""Negative numbers a student reads are written with a true minus (−, U+2212), as the player
writes them: in sentences, captions, the coloured grids, the Inside page's arithmetic and the
tables of numbers. A hyphen (-) beside the player's − reads as a different sign. What is copied
(code, CSV, typed kernels, the share link) keeps "-"; these pages show none of that here."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.screen import shown

TIMEOUT = 120
# A hyphen-minus that starts a number: not inside a word ("float-32"), a name ("conv1-3") or
# after a bracket; HTML tags (styles such as "margin:-2px") are removed first.
HYPHEN_NUMBER = re.compile(r"(?<![\w.\]\)])-\d")
TAG = re.compile(r"<[^>]*>")


def read_texts(at: AppTest) -> list[str]:
    """Everything the page writes as text: markdown, captions, and the tables' cells."""
    texts = [shown(m.value) for m in at.markdown] + [shown(c.value) for c in at.caption]
    for frame in at.dataframe:
        value = frame.value
        if isinstance(value, pd.DataFrame):
            texts += [str(v) for v in value.to_numpy().ravel() if isinstance(v, str)]
    return [TAG.sub(" ", t) for t in texts]


def open_page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.run()
    at.query_params.update(params)
    at.switch_page(page)
    return at.run()


@pytest.mark.parametrize(
    ("page", "params"),
    [
        ("pages/convolution.py", {"src": "numbers", "k": "laplacian_8", "pad": "1"}),
        ("pages/feature_maps.py", {}),
        ("pages/inside.py", {}),
        ("pages/inside.py", {"stage": "fc1"}),
        ("pages/why_sharing.py", {}),
    ],
    ids=["playground", "feature_maps", "inside", "inside-fc1", "why_sharing"],
)
def test_negative_numbers_are_written_with_a_true_minus(page: str, params: dict) -> None:
    at = open_page(page, **params)
    assert not at.exception
    texts = read_texts(at)
    assert any("\u2212" in t for t in texts)  # the page does write negative numbers
    hyphens = [
        t[max(0, m.start() - 30) : m.end() + 8] for t in texts for m in HYPHEN_NUMBER.finditer(t)
    ]
    assert hyphens == []


def test_an_edited_weight_is_reported_with_a_true_minus() -> None:
    """The sharing lab's "Changed — a: 0.1 → −0.5" line, after a weight is typed over."""
    at = open_page("pages/why_sharing.py")
    at.text_input(key="share_w4").input("-0.5").run()
    assert not at.exception
    changed = next(c.value for c in at.caption if c.value.startswith("Changed —"))
    assert "\u22120.5." in changed, changed  # the typed −0.5, the last number of the line
    assert not HYPHEN_NUMBER.search(changed), changed
