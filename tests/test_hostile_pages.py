"""Hostile input through the real pages (AppTest): uploads on the playground and the feature
maps, hostile links on every page. Each must end in a sentence on the screen — never an
exception — and nothing from a link may render as markup. The exhaustive suites of the
decoders themselves are tests/test_hostile_inputs.py and tests/test_hostile_weights.py; this is
a sample of them through the screens."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.test_hostile_inputs import BOMBS, encode, noise_image

PAGES = ("convolution", "feature_maps", "network", "inside", "home")


# Markup that would render: a link or image target, or an HTML tag, not escaped by a backslash.
MARKUP = re.compile(r"(?<!\\)\]\((?:https?:|//)|(?<!\\)<(?:img|script|a|iframe)\b", re.I)
# The app's own pictures in HTML (Feature maps' stage rows): exactly this form, this server's
# media files and an alt text without markup. Removed before MARKUP looks for anything else.
OWN_PICTURE = re.compile(
    r'<img class="cnnx-(?:maps|bar)" src="(?:/mock)?/media/[0-9a-f]+\.png" alt="[^"<>]*">'
)


def open_page(name: str, query: dict[str, str] | None = None) -> AppTest:
    script = "../app.py" if name == "home" else f"../pages/{name}.py"  # home links to pages
    at = AppTest.from_file(script, default_timeout=60)
    at.query_params.update(query or {})
    return at.run()


def uploads() -> dict[str, bytes]:
    png = encode(noise_image(40), "PNG")
    return {
        "empty": b"",
        "random-bytes": np.random.default_rng(7).bytes(3000),
        "truncated-png": png[: len(png) // 2],
        "truncated-jpeg": encode(noise_image(40), "JPEG")[:300],
        "pdf-renamed": b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
        "svg-renamed": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "eps-renamed": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
        "zip-renamed": b"PK\x03\x04" + bytes(60),
        **{f"bomb-{name}": data for name, data in list(BOMBS.items())[:3]},
    }


# Each ends in ".png": the uploader itself refuses other endings before the page sees them.
HOSTILE_NAMES = [
    "![x](http://evil.example/p) .png",
    "[Log in](http://evil.example) .png",
    "<script>alert(1)</script>.png",
    ":red[big] .png",
]


@pytest.mark.parametrize("name", list(uploads()))
def test_a_hostile_upload_on_the_playground_ends_in_a_sentence(name: str) -> None:
    at = open_page("convolution", {"src": "upload"})
    at.file_uploader(key="conv_upload").set_value(("x.png", uploads()[name], "image/png")).run()
    assert not at.exception
    assert at.error and all(len(e.value) > 20 for e in at.error)


@pytest.mark.parametrize("name", list(uploads())[:6])
def test_a_hostile_upload_on_the_feature_maps_ends_in_a_sentence(name: str) -> None:
    at = open_page("feature_maps")
    at.radio(key="net_input").set_value("upload").run()
    at.file_uploader(key="net_upload").set_value(("x.png", uploads()[name], "image/png")).run()
    assert not at.exception
    assert at.error


@pytest.mark.parametrize("file_name", HOSTILE_NAMES)
def test_an_uploaded_file_name_is_shown_as_text(file_name: str) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.full((40, 40, 3), 120, np.uint8)).save(buf, "PNG")
    at = open_page("feature_maps")
    at.radio(key="net_input").set_value("upload").run()
    at.file_uploader(key="net_upload").set_value((file_name, buf.getvalue(), "image/png")).run()
    assert not at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Input:"))
    assert not MARKUP.search(caption) and ":red[" not in caption, caption


LINKS = [
    {"k": "![](//evil.example/i.png)"},
    {"w": "[Log in again](http://evil.example)"},
    {"img": "<img src=x onerror=alert(1)>"},
    {"layer": "conv9", "map": "-1", "scale": "x" * 5000},
    {"present": "1", "hide": "<b>all</b>"},
    {"kv": "9" * 1400 + "/1x"},
    {"m": "1 2;" * 2000},
    {"pad": "99999999999999999999", "stride": "nan", "dil": "inf"},
    {"src": "javascript:alert(1)", "sample": "../../etc/passwd"},
    {"rc": "%00", "out": "\u202e", "ch": "🙂" * 300},
    {"stage": "conv2", "cell": "²,①,٣", "class": "²", "channel": "①"},  # digits to isdigit()
    {"stage": "fc1", "cell": "9" * 99, "w": "upload", "in": "upload"},
]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("query", LINKS, ids=[",".join(q) for q in LINKS])
def test_a_hostile_link_never_breaks_a_page_or_renders_markup(page: str, query: dict) -> None:
    at = open_page(page, query)
    assert not at.exception
    for element in [*at.warning, *at.error, *at.markdown, *at.caption, *at.info]:
        assert not MARKUP.search(OWN_PICTURE.sub("", element.value)), element.value


# ----------------------------------------------------------------------------------------------
# Values a modified browser can send back: each is checked like a link's value, never indexed.


def test_a_forged_click_on_a_thumbnail_grid_is_ignored() -> None:
    from explorer.ui.thumbnails import read_pick

    keys = {str(i) for i in range(20)}
    assert read_pick({"key": "7", "n": 1}, keys) == "7"
    for forged in ({"key": "99"}, {"key": -1}, {"key": "a"}, {"key": ["7"]}, "7", [None], None):
        assert read_pick(forged, keys) is None, forged


def test_a_forged_click_on_the_inside_numbers_is_ignored() -> None:
    import pandas as pd

    from explorer.network_state import InsideState
    from explorer.ui.inside import as_table, clicked

    state = InsideState()
    conv = as_table(np.zeros((8, 8)), "conv3", ())
    sent = {"selection": {"cells": [[2, "5"]]}}
    assert clicked(state, sent, conv, "conv3", 8).cell == (0, 2, 5)
    flat = as_table(np.zeros(2048), "flatten", ())
    assert clicked(state, {"selection": {"cells": [[3, "+4"]]}}, flat, "flatten", 2048).cell == (
        52,
    )
    scores = as_table(np.zeros(10), "fc2", tuple("abcdefghij"))
    assert clicked(state, {"selection": {"cells": [[0, "3: d"]]}}, scores, "fc2", 10).cell == (3,)
    for forged in ([[99, "1"]], [[1, "99"]], [[-1, "1"]], [["x", "1"]], [], None):
        for table, stage in ((conv, "conv3"), (flat, "flatten")):
            assert clicked(state, {"selection": {"cells": forged}}, table, stage, 64) is None
    assert clicked(state, "garbage", pd.DataFrame(), "conv3", 1) is None
