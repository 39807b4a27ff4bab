"""The thumbnail grid: its pure part under Node (keys, rows, where a tile sits on its sheet,
what a click reports, which thumbnail shows as chosen), its sprite sheets read back tile by
tile, the values a browser can send back, and the three grids as the pages declare them — the
gallery, a layer's maps, the playground's samples — with clicks sent as the browser sends
them. The grids in a real browser: tests/browser/test_thumbnails.py."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from typing import Any

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer import render
from explorer.components import THUMBNAILS_JS, THUMBNAILS_STATE_JS
from explorer.samples import SAMPLES, gallery, load_gallery_image, load_sample, sample_matrix
from explorer.thumbnail_sheet import (
    SHEET_COLUMNS,
    numbers_tile,
    sheet_tile,
    square_thumbnail,
    thumbnail_sheet,
)
from tests.thumbnail_clicks import click_thumbnail, grid_data

TIMEOUT = 90

# ------------------------------------------------------------------ the pure part, under Node

NODE = shutil.which("node")

# Loads thumbnails_state.js alone into an empty context (no window, no document: were the file
# to touch the DOM, it would throw), then runs a scenario's body and prints its JSON result.
NODE_RUNNER = """
const vm = require("vm");
const fs = require("fs");
const [stateJs, scenario] = JSON.parse(fs.readFileSync(0, "utf8"));
const context = vm.createContext({});
vm.runInContext(stateJs, context, { filename: "thumbnails_state.js" });
const result = vm.runInContext(`(() => { ${scenario} })()`, context);
process.stdout.write(JSON.stringify(result));
"""


@pytest.fixture
def node() -> str:
    """The Node.js that runs the pure part (``make test`` installs it); without it these tests
    fail, saying so, instead of skipping unnoticed."""
    if NODE is None:
        pytest.fail("Node.js is not installed: run `bash scripts/install-node.sh`", pytrace=False)
    return NODE


def run_js(node: str, scenario: str, **values: object) -> Any:
    prelude = "".join(f"const {k} = {json.dumps(v)};\n" for k, v in values.items())
    done = subprocess.run(
        [node, "-e", NODE_RUNNER],
        input=json.dumps([THUMBNAILS_STATE_JS, prelude + scenario]),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_pure_part_has_no_dom_and_comes_first() -> None:
    code = re.sub(r"//.*|/\*[\s\S]*?\*/", "", THUMBNAILS_STATE_JS)
    assert not re.search(r"\bdocument\b|(?<!\.)\bwindow\.|\bsetTimeout\b|\bDate\.now\b", code)
    assert THUMBNAILS_JS.startswith(THUMBNAILS_STATE_JS)
    assert "export default function" in THUMBNAILS_JS


def test_arrow_keys_move_by_one_and_by_a_row_home_and_end_to_the_ends(node: str) -> None:
    # 10 thumbnails, 4 a row:  0 1 2 3 / 4 5 6 7 / 8 9
    moves = run_js(
        node,
        """return cases.map(([i, key]) => moveIndex(i, key, 10, 4));""",
        cases=[
            [5, "ArrowRight"],
            [5, "ArrowLeft"],
            [5, "ArrowDown"],
            [5, "ArrowUp"],
            [9, "ArrowRight"],  # the last stays
            [0, "ArrowLeft"],  # the first stays
            [1, "ArrowUp"],  # the first row: stays
            [7, "ArrowDown"],  # nothing under 7 (the last row is short): stays
            [6, "ArrowDown"],  # 10 is past the end: stays
            [5, "Home"],
            [5, "End"],
            [5, "Enter"],  # not a move: Enter and Space click the button itself
            [5, "a"],
        ],
    )
    assert moves == [6, 4, 9, 1, 9, 0, 1, 7, 6, 0, 9, -1, -1]
    assert run_js(node, "return [moveIndex(0, 'ArrowRight', 0, 4), moveIndex(3, 'End', 1, 0)]") == [
        -1,
        0,
    ]


def test_a_row_is_the_thumbnails_at_the_first_ones_top(node: str) -> None:
    found = run_js(
        node,
        "return cases.map(rowLength);",
        cases=[[0, 0, 0, 60, 60, 120], [10, 10.4, 10, 10], [5], [], [0, 70, 140]],
    )
    assert found == [3, 4, 1, 1, 1]


@pytest.mark.parametrize(("count", "columns"), [(128, 16), (20, 16), (12, 12), (1, 1), (37, 16)])
def test_each_tile_is_cut_out_of_its_row_and_column(node: str, count: int, columns: int) -> None:
    """With the sheet scaled to columns × rows thumbnails, background-position x% moves it by
    x% of (sheet − thumbnail): tile i's offset must be its column and row times the thumbnail."""
    rows = -(-count // columns)
    positions = run_js(
        node,
        "return Array.from({length: n}, (_, i) => sheetPosition(i, c, r));",
        n=count,
        c=columns,
        r=rows,
    )
    side = 50.0  # any thumbnail size
    for i, text in enumerate(positions):
        x, y = (float(p.rstrip("%")) for p in text.split())
        offset_x = x / 100 * (columns * side - side)
        offset_y = y / 100 * (rows * side - side)
        assert offset_x == pytest.approx((i % columns) * side)
        assert offset_y == pytest.approx((i // columns) * side)


def test_items_clicks_and_the_choice_shown(node: str) -> None:
    found = run_js(
        node,
        """return {
            items: readItems({items: [["a", "A", "cap"], ["b", "B"], [1, "x"], "junk", ["c"]]}),
            none: readItems(null),
            pick: [pickValue("19", 1), pickValue(7, 2)],
            server: shownChoice("3", null, 100),
            waiting: shownChoice("3", {key: "9", until: 200}, 100),
            caught_up: shownChoice("9", {key: "9", until: 200}, 100),
            expired: shownChoice("3", {key: "9", until: 200}, 300),
        };""",
    )
    assert found["items"] == [
        {"key": "a", "name": "A", "caption": "cap"},
        {"key": "b", "name": "B", "caption": ""},
    ]
    assert found["none"] == []
    assert found["pick"] == [{"key": "19", "n": 1}, {"key": "7", "n": 2}]  # each click its number
    assert found["server"] == {"chosen": "3", "pending": None}
    assert found["waiting"] == {"chosen": "9", "pending": {"key": "9", "until": 200}}
    assert found["caught_up"] == {"chosen": "9", "pending": None}
    assert found["expired"] == {"chosen": "3", "pending": None}


# ------------------------------------------------------------------ sheets


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_a_sheet_holds_every_tile_exactly_where_the_browser_cuts_it() -> None:
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 256, size=(37, 6, 5, 3), dtype=np.uint8)
    sheet = thumbnail_sheet(list(tiles))
    assert (sheet.count, sheet.columns, sheet.rows, sheet.tile) == (37, SHEET_COLUMNS, 3, (6, 5))
    assert decode(sheet.png).shape == (3 * 6, SHEET_COLUMNS * 5, 3)
    for i, tile in enumerate(tiles):
        np.testing.assert_array_equal(sheet_tile(sheet, i), tile)
    gray = thumbnail_sheet([np.full((2, 2), 9, np.uint8)])
    assert (gray.columns, gray.rows) == (1, 1)
    assert (sheet_tile(gray, 0) == 9).all()
    with pytest.raises(IndexError):
        sheet_tile(sheet, 37)
    with pytest.raises(ValueError):
        thumbnail_sheet([])
    with pytest.raises(ValueError):
        thumbnail_sheet([np.zeros((2, 2), np.float64)])


def test_a_thumbnail_keeps_the_pictures_shape_and_small_ones_stay_crisp() -> None:
    small = np.arange(25, dtype=np.uint8).reshape(5, 5) * 10
    tile = square_thumbnail(small, 80)
    assert tile.shape == (80, 80, 3)
    inner = tile[:80, :80]
    np.testing.assert_array_equal(inner[::16, ::16, 0], small)  # 16 px a cell, whole squares
    assert (inner[:80, :80, 0] == np.repeat(np.repeat(small, 16, 0), 16, 1)).all()
    wide = np.zeros((28, 56, 3), np.uint8)
    fitted = square_thumbnail(wide, 80)
    assert (fitted[26:54, 12:68] == 0).all()  # 80 // 56: not enlarged, centred
    assert (fitted[:26] == 255).all() and (fitted[54:] == 255).all()  # the fill around it
    assert (fitted[:, :12] == 255).all() and (fitted[:, 68:] == 255).all()
    photo = load_sample("ship")
    assert square_thumbnail(photo, 80).shape == (80, 80, 3)  # 128 px shrunk to 80


def test_the_numbers_sample_is_drawn_as_its_numbers_in_gray_cells() -> None:
    values = sample_matrix("numbers")
    tile = numbers_tile(values, 80)
    gray = render.colourise(values, "gray")
    # Each cell's corner has the page's gray; the middle of the cell holds the written number.
    np.testing.assert_array_equal(tile[::16, ::16], gray)
    for (r, c), corner in np.ndenumerate(gray[:, :, 0]):
        inside = tile[r * 16 + 2 : r * 16 + 14, c * 16 + 2 : c * 16 + 14, 0]
        assert (inside != corner).any(), (r, c)  # the number is written in every cell


# ------------------------------------------------------------------ what a browser sends back


def test_a_forged_click_is_ignored() -> None:
    from explorer.ui.thumbnails import read_pick

    keys = {"0", "1", "19"}
    assert read_pick({"key": "19", "n": 3}, keys) == "19"
    assert read_pick({"key": "19"}, keys) == "19"
    for forged in (
        {"key": "20", "n": 1},
        {"key": 19, "n": 1},
        {"key": ["19"]},
        {"n": 1},
        "19",
        None,
        ["19"],
        {"key": None},
    ):
        assert read_pick(forged, keys) is None, forged


def test_a_payload_needs_one_item_per_picture() -> None:
    from explorer.ui.thumbnails import Thumbnail, thumbnail_payload

    sheet = thumbnail_sheet([np.zeros((2, 2, 3), np.uint8)] * 3)
    items = [Thumbnail(str(i), f"map {i}") for i in range(3)]
    payload = thumbnail_payload("/media/x.png", sheet, items, "1", "Maps", 48, True)
    assert payload["items"] == [["0", "map 0", ""], ["1", "map 1", ""], ["2", "map 2", ""]]
    assert (payload["columns"], payload["rows"], payload["selected"]) == (3, 1, "1")
    with pytest.raises(ValueError):
        thumbnail_payload("/media/x.png", sheet, items[:2], None, "Maps", 48, True)


# ------------------------------------------------------------------ the pages' grids


def sheet_of(data: dict, media: dict[str, bytes]) -> np.ndarray:
    return decode(media[data["sheet"]])


def tile(pixels: np.ndarray, data: dict, index: int) -> np.ndarray:
    h, w = pixels.shape[0] // data["rows"], pixels.shape[1] // data["columns"]
    r, c = divmod(index, data["columns"])
    return pixels[r * h : (r + 1) * h, c * w : (c + 1) * w]


@pytest.fixture
def fm() -> AppTest:
    return AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT).run()


def test_the_gallery_grid_names_each_image_and_shows_its_exact_pixels(media) -> None:
    at = AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT).run()
    assert not at.exception
    data = grid_data(at, "net_gallery_grid")
    items = gallery("cifar10")
    assert data["label"] == "Gallery: test images with their true labels"
    assert data["items"] == [
        [item.key, f"{item.label_name}, gallery image {i + 1}", item.label_name]
        for i, item in enumerate(items)
    ]
    assert data["selected"] == at.selectbox(key="net_image").value == items[0].key
    pixels = sheet_of(data, media)
    for i, item in enumerate(items):
        np.testing.assert_array_equal(tile(pixels, data, i), load_gallery_image(item))
    # A click picks the image: the list above, the true label and the grid follow.
    click_thumbnail(at, "net_gallery_grid", items[7].key)
    assert not at.exception
    assert at.selectbox(key="net_image").value == items[7].key
    assert grid_data(at, "net_gallery_grid")["selected"] == items[7].key
    assert any(f"True label: {items[7].label_name}" in c for c in captions(at))


def captions(at: AppTest) -> list[str]:
    return [i.proto.imgs[0].caption for i in at.get("image")] + [c.value for c in at.caption]


def test_the_map_grid_names_each_map_and_follows_the_layer(fm: AppTest) -> None:
    data = grid_data(fm, "net_map_grid")
    assert data["label"] == "The 32 maps of conv1"
    assert data["items"] == [[str(i), f"map {i}", ""] for i in range(32)]
    assert data["selected"] == "0" and data["crisp"] is True
    fm.selectbox(key="net_layer").set_value("conv3").run()
    data = grid_data(fm, "net_map_grid")
    assert data["label"] == "The 128 maps of conv3" and len(data["items"]) == 128
    assert data["rows"] * data["columns"] >= 128


def test_every_click_registers_a_repeat_and_one_after_a_layer_switch(fm: AppTest) -> None:
    click_thumbnail(fm, "net_map_grid", "19", n=1)
    assert fm.number_input(key="net_map").value == 19
    assert grid_data(fm, "net_map_grid")["selected"] == "19"
    fm.number_input(key="net_map").set_value(5).run()
    click_thumbnail(fm, "net_map_grid", "19", n=2)  # the same thumbnail again: counted
    assert fm.number_input(key="net_map").value == 19
    fm.number_input(key="net_map").set_value(5).run()
    fm.run()  # a rerun without a click does not replay the last one
    assert fm.number_input(key="net_map").value == 5
    # The layer switched, and a map clicked before the new grid arrived: both count.
    fm.selectbox(key="net_layer").set_value("conv3")
    fm._run(click_thumbnail(fm, "net_map_grid", "23", n=3, run=False))  # type: ignore[arg-type]
    assert not fm.exception
    assert fm.selectbox(key="net_layer").value == "conv3"
    assert fm.number_input(key="net_map").value == 23
    # Right after the switch, a map that only conv3 has.
    click_thumbnail(fm, "net_map_grid", "100", n=4)
    assert fm.number_input(key="net_map").value == 100
    assert any("conv3 filter 100" in m.value for m in fm.markdown)


def test_a_forged_map_click_changes_nothing(fm: AppTest) -> None:
    for n, forged in enumerate(("32", "-1", "abc", "1e3", ""), start=1):
        click_thumbnail(fm, "net_map_grid", forged, n=n)
        assert not fm.exception
        assert fm.number_input(key="net_map").value == 0


def test_the_samples_are_pictures_that_pick_the_playgrounds_image(media) -> None:
    at = AppTest.from_file("../pages/convolution.py", default_timeout=TIMEOUT).run()
    assert not at.exception
    data = grid_data(at, "conv_sample_grid")
    assert data["label"] == "Sample" and data["crisp"] is False
    assert data["items"] == [[k, s.name, s.name] for k, s in SAMPLES.items()]
    assert data["selected"] == "shapes"
    assert not [s for s in at.selectbox if s.label == "Sample"]  # no text list any more
    pixels = sheet_of(data, media)
    for i, key in enumerate(SAMPLES):
        expected = (
            numbers_tile(sample_matrix("numbers"), 80)
            if key == "numbers"
            else square_thumbnail(load_sample(key), 80)
        )
        np.testing.assert_array_equal(tile(pixels, data, i), expected, err_msg=key)
    click_thumbnail(at, "conv_sample_grid", "ship")
    assert not at.exception
    assert grid_data(at, "conv_sample_grid")["selected"] == "ship"
    assert SAMPLES["ship"].description in [c.value for c in at.caption]
    assert any("from 128×128" in c.value for c in at.caption)  # the ship is the input now
    click_thumbnail(at, "conv_sample_grid", "../../etc/passwd", n=2)  # forged: ignored
    assert grid_data(at, "conv_sample_grid")["selected"] == "ship"
