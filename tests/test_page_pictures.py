"""AppTest: the pictures and the written arithmetic of the network pages, as the browser receives
them, against references computed here — plain PyTorch on the shipped weights, Grad-CAM by
autograd, the receptive field's outline drawn by hand from the layer arithmetic, each picture's
colours read back through the page's own colour bar and the numbers printed beside it.

Pictures are read as the page sends them: the bytes ``st.image`` hands Streamlit's media file
manager, looked up by the URL in the image element. A click on a grid of pictures (the gallery,
a layer's maps) is sent as the browser sends it: the thumbnail grid's trigger
(tests/thumbnail_clicks.py); its pictures are read from the sheet it was given.
"""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer import render
from explorer.model import SimpleCNN, builtin_weights
from explorer.samples import gallery, load_gallery_image
from explorer.stages import SPATIAL_STAGES, STRIP_STAGES
from explorer.ui.content import MAP_TILE_PX
from tests.stage_figures import stage_figures
from tests.test_pictures_reference import (
    BLUE_END,
    DARK_END,
    RED_END,
    WHITE,
    YELLOW,
    YELLOW_END,
    field_by_hand,
    grad_cam_by_hand,
    outlined_by_hand,
)
from tests.thumbnail_clicks import click_thumbnail, grid_data

TIMEOUT = 90
# A conv1 map's tile in the montages, in pixels: maps are enlarged by the whole factor nearest
# MAP_TILE_PX / side, never shrunk (explorer.stage_pictures.stage_montage).
TILE = 32 * max(1, round(MAP_TILE_PX / 32))
CIFAR = {c.key: c for c in builtin_weights()}["simplecnn-cifar10"]
SIGNED = {"conv1", "conv2", "conv3", "fc1"}  # stages that can be negative: blue–white–red


# ------------------------------------------------------------------------------ helpers


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int64)


def images(at: AppTest) -> list:
    return [i.proto.imgs[0] for i in at.get("image")]


def picture(at: AppTest, media: dict[str, bytes], *, caption: str = "", alt: str = "") -> tuple:
    """(url, H×W×3 pixels) of the image whose caption (or alt text) starts with the words: an
    st.image, or a stage's maps in the Feature maps page's HTML rows."""
    found = [
        (i.url, i.caption or i.alt)
        for i in images(at)
        if (caption and i.caption.startswith(caption)) or (alt and i.alt.startswith(alt))
    ]
    found += [
        (f.maps_url, f.alt) for f in stage_figures(at).values() if alt and f.alt.startswith(alt)
    ]
    assert len(found) == 1, (caption, alt, [i.caption or i.alt for i in images(at)])
    return found[0][0], decode(media[found[0][0]])


def picture_after(at: AppTest, media: dict[str, bytes], alt: str) -> np.ndarray:
    """The colour bar drawn under the stage picture whose alt text starts with ``alt``."""
    (shown,) = [f for f in stage_figures(at).values() if f.alt.startswith(alt)]
    return decode(media[shown.bar_url])


@pytest.fixture(scope="module")
def model() -> SimpleCNN:
    net = SimpleCNN()
    net.load_state_dict(torch.load(CIFAR.path, weights_only=True))
    return net.eval()


def gallery_image(key: str) -> np.ndarray:
    return load_gallery_image({i.key: i for i in gallery("cifar10")}[key])


def normalised(key: str) -> torch.Tensor:
    x = torch.from_numpy(gallery_image(key).astype(np.float32) / 255).permute(2, 0, 1)
    mean = torch.tensor(CIFAR.preprocessing.mean).view(3, 1, 1)
    std = torch.tensor(CIFAR.preprocessing.std).view(3, 1, 1)
    return ((x - mean) / std)[None]


def stages(model: SimpleCNN, key: str) -> dict[str, np.ndarray]:
    """Every stage by plain PyTorch for gallery image ``key``."""
    s = {"input": normalised(key)}
    with torch.no_grad():
        h = s["input"]
        for i in (1, 2, 3):
            s[f"conv{i}"] = h = getattr(model, f"conv{i}")(h)
            s[f"relu{i}"] = h = torch.relu(h)
            s[f"pool{i}"] = h = F.max_pool2d(h, 2)
        s["flatten"] = h = torch.flatten(h, 1)
        s["fc1"] = h = model.fc1(h)
        s["relu4"] = h = torch.relu(h)
        s["fc2"] = h = model.fc2(h)
        s["softmax"] = torch.softmax(h, dim=1)
    return {k: v[0].numpy().astype(np.float64) for k, v in s.items()}


def inside(**params: str) -> AppTest:
    at = AppTest.from_file("../pages/inside.py", default_timeout=TIMEOUT)
    at.query_params.update(params)
    return at.run()


def feature_maps() -> AppTest:
    return AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT).run()


def pick_cell(at: AppTest, stage: str, cell: tuple[int, int, int]) -> None:
    """Choose a stage of maps, then the cell's map, row and column in their boxes."""
    at.selectbox(key="in_stage").set_value(stage).run()
    for name, value in zip(("in_map", "in_row", "in_col"), cell, strict=True):
        at.number_input(key=name).set_value(value).run()
    assert not at.exception


def headline(at: AppTest) -> tuple[str, float]:
    """("conv2[0, 4, 4]", its value) as the arithmetic starts."""
    for m in at.markdown:
        found = re.match(
            r"^\*\*(\w+\[[\d, ]+\]) = (?:[^*]* = )?(-?[\d.e+-]+)\*\*", m.value.replace("−", "-")
        )
        if found:
            return found.group(1), float(found.group(2))
    raise AssertionError("no arithmetic on the page")


def table(at: AppTest, header: str) -> list[list[str]]:
    """The cells of the markdown table that starts with ``header``, row by row (no header)."""
    text = next(m.value for m in at.markdown if m.value.startswith(header))
    lines = text.splitlines()[2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def number(text: str) -> float:
    return float(text.strip("*").replace("=", "").strip().replace("−", "-"))  # true minus


def read_back(pixels: np.ndarray, bar: np.ndarray, low: float, high: float) -> np.ndarray:
    """The numbers ``pixels`` (…×3) stand for on a colour bar (one row of it, low end left,
    printed ends ``low`` and ``high``): each pixel's nearest colour on the bar, by position."""
    flat = pixels.reshape(-1, 1, 3)
    nearest = ((flat - bar[None, :, :]) ** 2).sum(axis=-1).argmin(axis=-1)
    return (low + nearest / (len(bar) - 1) * (high - low)).reshape(pixels.shape[:-1])


def legends(at: AppTest) -> list[tuple[float, float]]:
    """(low, high) printed under each stage's colour bar, in the page's order."""
    out = []
    for f in stage_figures(at).values():
        found = re.fullmatch(
            r"(?:blue|dark) (-?[\d.e+-]+) · (?:white 0 · red|yellow) "
            r"(-?[\d.e+-]+)",
            f.legend.replace("−", "-"),  # written with a true minus
        )
        if found:
            out.append((float(found.group(1)), float(found.group(2))))
    return out


# ------------------------------------------------------------------ Inside: the pictures


def test_the_receptive_field_picture_outlines_the_field_computed_by_hand(media, model) -> None:
    """conv2[0, 4, 4] (the page's first cell), then conv3[0, 2, 5], then conv3[0, 0, 0], whose
    field hangs over the corner: each time the headline is PyTorch's number and the picture
    the page sends is the input with that field outlined and the rest dimmed (as a JPEG, see
    the next test: compared to JPEG's precision, and the outline found where it belongs)."""
    at = inside()
    key = at.selectbox(key="net_image").value
    expected_stages = stages(model, key)
    image = gallery_image(key)
    for step, (stage, cell) in enumerate(
        [("conv2", (0, 4, 4)), ("conv3", (0, 2, 5)), ("conv3", (0, 0, 0))]
    ):
        if step:
            pick_cell(at, stage, cell)
        name, value = headline(at)
        assert name == f"{stage}[{', '.join(map(str, cell))}]"
        assert value == pytest.approx(expected_stages[stage][cell], abs=6e-5)
        top, left, bottom, right = field_by_hand(stage, *cell[1:])
        words = next(m.value for m in at.markdown if "can be influenced by" in m.value)
        assert f"input rows {top}–{bottom} and columns {left}–{right}" in words
        _, shown = picture(at, media, caption=f"Outlined: the pixels {name} can see")
        expected = outlined_by_hand(image, top, left, bottom, right)
        error = np.abs(shown - expected)
        assert error.mean() < 2.5 and np.percentile(error, 99) < 30, (name, error.mean())
        # The yellow outline along each edge's middle, exactly on the field's border.
        t, lft, b, r = 8 * top, 8 * left, 8 * bottom + 7, 8 * right + 7
        mid_row, mid_col = (t + b) // 2, (lft + r) // 2
        for y, x in ((t, mid_col), (b, mid_col), (mid_row, lft), (mid_row, r)):
            assert np.abs(shown[y, x] - YELLOW).max() < 60, (name, y, x, shown[y, x])


def test_the_receptive_field_picture_reaches_the_browser_pixel_for_pixel(media) -> None:
    at = inside()
    image = gallery_image(at.selectbox(key="net_image").value)
    url, shown = picture(at, media, caption="Outlined: the pixels conv2[0, 4, 4] can see")
    assert url.endswith(".png")
    np.testing.assert_array_equal(shown, outlined_by_hand(image, *field_by_hand("conv2", 4, 4)))


def ramp(stops: list[tuple[int, ...]], t: np.ndarray) -> np.ndarray:
    """The legend's gradient at ``t`` (0…1): its stops, evenly spaced, linearly between them."""
    stops_arr = np.asarray(stops, np.float64)
    where = np.linspace(0, 1, len(stops))
    return np.stack([np.interp(t, where, stops_arr[:, c]) for c in range(3)], axis=-1)


def test_the_grad_cam_picture_is_grad_cam_by_hand_in_its_legends_colours(media, model) -> None:
    """For the network's answer, then for another class: the legend runs from 0 to the largest
    heat of Grad-CAM by hand, the hottest pixel wears the legend's top colour, a pixel without
    heat its bottom colour, and every pixel the legend's colour for its heat laid over the
    grey input as the overlay documents (85% opaque at the top, 15% at 0)."""
    at = inside()
    key = at.selectbox(key="net_image").value
    x = normalised(key)
    grey = gallery_image(key).astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    with torch.no_grad():
        answer = int(model(x).argmax())
    assert at.selectbox(key="in_target").value == answer
    for target in (answer, (answer + 4) % 10):
        if target != answer:
            at.selectbox(key="in_target").set_value(target).run()
        coarse = torch.from_numpy(grad_cam_by_hand(model, x, target))
        heat = F.interpolate(coarse[None, None], (32, 32), mode="bilinear")[0, 0].numpy()
        name = CIFAR.classes[target]
        url, shown = picture(at, media, caption=f"Grad-CAM on conv3 for {name}")
        assert url.endswith(".png") and shown.shape == (256, 256, 3)
        assert (shown == np.repeat(np.repeat(shown[::8, ::8], 8, 0), 8, 1)).all()  # crisp
        shown = shown[::8, ::8]
        legend = next(m.value for m in at.markdown if "linear-gradient" in m.value)
        low, high = (float(v) for v in re.findall(r"rem\">(-?[\d.e+-]+)</span>", legend))
        stops = [tuple(map(int, s)) for s in re.findall(r"rgb\((\d+),(\d+),(\d+)\)", legend)]
        assert low == 0 and high == pytest.approx(heat.max(), abs=6e-5), name
        assert stops[0] == DARK_END and stops[-1] == YELLOW_END
        alpha = np.maximum(0.85 * heat / heat.max(), 0.15)[..., None]
        expected = (1 - alpha) * grey[..., None] + alpha * ramp(stops, heat / heat.max())
        hot = np.unravel_index(np.argmax(heat), heat.shape)
        np.testing.assert_allclose(shown[hot], np.rint(expected[hot]), atol=1)
        cold = heat == 0
        assert cold.any()
        np.testing.assert_allclose(shown[cold], np.rint(expected[cold]), atol=1)
        np.testing.assert_allclose(shown, expected, atol=6)  # the legend's 11 stops: ±6 apart


# ---------------------------------------------------------- Inside: the written arithmetic


@pytest.mark.parametrize(
    ("stage", "cell"), [("conv1", (3, 4, 4)), ("conv2", (0, 4, 4)), ("conv3", (7, 2, 5))]
)
def test_a_convolutions_rows_add_up_to_the_total_it_shows(model, stage, cell) -> None:
    """Each channel's sum is PyTorch's (that channel's 3×3 slice of the filter on its
    window), the bias is the filter's, the rest is the other channels', and the rows add up
    to the bold total — PyTorch's number — to the rounding of the printed digits."""
    at = inside(stage=stage, cell=",".join(map(str, cell)))
    key = at.selectbox(key="net_image").value
    s = stages(model, key)
    m, r, c = cell
    conv = getattr(model, stage)
    source = s[{"conv1": "input", "conv2": "pool1", "conv3": "pool2"}[stage]]
    with torch.no_grad():  # one input channel at a time: channel i's share of the sum
        each = (
            torch.stack(
                [
                    F.conv2d(
                        torch.from_numpy(source[i])[None, None].float(),
                        conv.weight[m : m + 1, i : i + 1],
                        padding=1,
                    )[0, 0, r, c]
                    for i in range(len(source))
                ]
            )
            .double()
            .numpy()
        )
    bias = float(conv.bias[m].detach())
    rows = table(at, "| one sum per input channel | value |")
    *parts, total_row = rows
    assert total_row[0] == f"**= {stage}[{m}, {r}, {c}]**"
    total = number(total_row[1])
    assert total == pytest.approx(s[stage][cell], abs=6e-5)
    listed = set()
    for label, value in parts:
        if label.startswith(("input ", "pool")):
            i = "RGB".index(label[-1]) if label.startswith("input") else int(label.split()[-1])
            listed.add(i)
            assert number(value) == pytest.approx(each[i], abs=6e-5), label
        elif label.startswith("the other"):
            others = int(re.search(r"the other (\d+) channels", label).group(1))
            rest = sum(v for i, v in enumerate(each) if i not in listed)
            assert others == len(each) - len(listed)
            assert number(value) == pytest.approx(rest, abs=6e-5)
        else:
            assert label == f"bias of filter {m}" and number(value) == pytest.approx(bias, abs=6e-5)
    assert sum(number(v) for _, v in parts) == pytest.approx(total, abs=5e-5 * len(rows))
    if stage == "conv1":
        assert listed == {0, 1, 2} and len(parts) == 4  # three colour channels and the bias


def test_a_fully_connected_units_rows_add_up_to_the_total_it_shows(model) -> None:
    at = inside(stage="fc1", cell="7")
    s = stages(model, at.selectbox(key="net_image").value)
    weights = model.fc1.weight[7].detach().double().numpy()
    rows = table(at, "| input | value | × weight | = product |")
    *listed, other, bias, total = rows
    assert total[0] == "**= fc1[7]**" and number(total[3]) == pytest.approx(s["fc1"][7], abs=6e-5)
    shown = []
    for label, value, weight, product in listed:
        k, ch, i, j = (
            int(v)
            for v in re.fullmatch(
                r"flatten\[(\d+)\] = pool3\[(\d+), (\d+), (\d+)\]", label
            ).groups()
        )
        assert k == (ch * 4 + i) * 4 + j  # channel-major, 4×4 maps
        assert number(value) == pytest.approx(s["pool3"][ch, i, j], abs=6e-5)
        assert number(value) == pytest.approx(s["flatten"][k], abs=6e-5)
        assert number(weight) == pytest.approx(weights[k], abs=6e-5)
        assert number(product) == pytest.approx(s["flatten"][k] * weights[k], abs=6e-5)
        shown.append(k)
    products = s["flatten"] * weights
    assert sorted(np.abs(products[shown]), reverse=True) == list(np.abs(products[shown]))
    assert np.abs(products[shown]).min() >= np.delete(np.abs(products), shown).max()
    assert other[0] == f"the other {2048 - len(shown):,} products, summed"
    assert number(other[3]) == pytest.approx(np.delete(products, shown).sum(), abs=6e-5)
    assert bias[0] == "bias" and number(bias[3]) == pytest.approx(
        float(model.fc1.bias[7].detach()), abs=6e-5
    )
    added = sum(number(r[3]) for r in rows[:-1])
    assert added == pytest.approx(number(total[3]), abs=5e-5 * len(rows))


def test_softmax_exps_add_up_to_the_sum_and_each_probability_is_exp_over_the_sum(model) -> None:
    at = inside(stage="softmax", cell="3")
    s = stages(model, at.selectbox(key="net_image").value)
    rows = table(at, "| class | score (fc2) | exp(score − largest) | exp ÷ sum = probability |")
    *classes, total = rows
    assert total[0] == "**sum**" and len(classes) == 10
    the_sum = number(total[2])
    exps = [number(e) for _, _, e, _ in classes]
    assert sum(exps) == pytest.approx(the_sum, rel=1e-5)  # each printed to 6 digits
    logits = s["fc2"]
    assert the_sum == pytest.approx(np.exp(logits - logits.max()).sum(), rel=1e-5)
    for (label, score, e, p), k in zip(classes, range(10), strict=True):
        assert label.strip("*") == f"{k}: {CIFAR.classes[k]}"
        assert number(score) == pytest.approx(logits[k], abs=6e-5)
        assert number(e) == pytest.approx(np.exp(logits[k] - logits.max()), rel=1e-5)
        assert number(p) == pytest.approx(number(e) / the_sum, abs=1e-6, rel=1e-5)
        assert number(p) == pytest.approx(s["softmax"][k], abs=6e-7)
    assert number(total[3]) == 1
    assert headline(at) == ("softmax[3]", pytest.approx(s["softmax"][3], abs=6e-5))


# ------------------------------------------------------------------- Feature maps: legends


def test_each_legend_is_its_stages_range_and_its_bar_runs_from_low_to_high(media, model) -> None:
    """The numbers under every colour bar are the stage's range by plain PyTorch (±max|value|
    for a signed stage, 0…max for ReLU and pooling), and the bar beside them runs from the
    low end's colour on the left to the high end's on the right, white in the middle of a
    signed one, dark (not white) at the 0 of a one-signed one."""
    at = feature_maps()
    s = stages(model, at.selectbox(key="net_image").value)
    names = [*SPATIAL_STAGES, *STRIP_STAGES]
    ranges = legends(at)
    assert len(ranges) == len(names)
    for name, (low, high) in zip(names, ranges, strict=True):
        if name in SIGNED:
            bound = np.abs(s[name]).max()
            assert low == -high and high == pytest.approx(bound, rel=5e-3), name
        else:
            assert s[name].min() >= 0
            assert low == 0 and high == pytest.approx(s[name].max(), rel=5e-3), name
        arr = s[name]
        alt = f"All {arr.shape[0]} {'maps' if arr.ndim == 3 else 'numbers'} of {name}"
        bar = picture_after(at, media, alt)[4]  # a row of the bar as the page shows it
        left, right = (BLUE_END, RED_END) if name in SIGNED else (DARK_END, YELLOW_END)
        assert np.abs(bar[0] - left).max() <= 4 and np.abs(bar[-1] - right).max() <= 4, name
        middle = bar[len(bar) // 2 - 1 : len(bar) // 2 + 1]
        if name in SIGNED:
            assert np.abs(middle - WHITE).max() <= 4, name
        else:
            assert np.abs(bar[0] - WHITE).max() > 150, name


# ------------------------------------------------------------- Feature maps: the montage


def tiles(montage: np.ndarray, count: int, side: int, per_row: int, tile: int) -> np.ndarray:
    """The maps of a montage as count×side×side×3, by the documented layout: map 0 top left,
    ``per_row`` a row, tiles of ``tile`` px (each map cell a tile/side square), 2 px apart."""
    out = []
    for k in range(count):
        r, c = divmod(k, per_row)
        t = montage[r * (tile + 2) : r * (tile + 2) + tile, c * (tile + 2) : c * (tile + 2) + tile]
        step = tile // side
        cells = t[::step, ::step]
        assert (np.repeat(np.repeat(cells, step, 0), step, 1) == t).all(), k  # crisp squares
        out.append(cells)
    return np.stack(out)


def test_the_conv1_montage_read_back_through_its_legend_is_pytorchs_conv1(media, model) -> None:
    """Every conv1 tile, its colours read back on the page's own colour bar and the numbers
    printed under it, is that map by plain PyTorch; in relu1's tiles (dark to yellow) the
    brightest cell is where the map is largest."""
    at = feature_maps()
    s = stages(model, at.selectbox(key="net_image").value)
    _, montage = picture(at, media, alt="All 32 maps of conv1, 32×32 each")
    assert montage.shape == (4 * TILE + 3 * 2, 8 * TILE + 7 * 2, 3)  # 8 a row, TILE-px tiles
    maps = tiles(montage, 32, 32, 8, TILE)
    bar = picture_after(at, media, "All 32 maps of conv1")[4]
    low, high = legends(at)[0]
    values = read_back(maps, bar, low, high)
    np.testing.assert_allclose(values, s["conv1"], atol=0.015 * (high - low))

    _, montage = picture(at, media, alt="All 32 maps of relu1, 32×32 each")
    brightness = tiles(montage, 32, 32, 8, TILE) @ np.array([0.299, 0.587, 0.114])
    for k in range(32):
        if s["relu1"][k].max() > 0:
            where = np.unravel_index(np.argmax(s["relu1"][k]), (32, 32))
            assert brightness[k][where] == brightness[k].max(), k


def test_a_second_gallery_image_after_the_first(media, model) -> None:
    """The answer and the conv1 maps of the first image, then of the image clicked in the
    gallery: each the network's by plain PyTorch, the second not left over from the first."""
    at = feature_maps()
    first = at.selectbox(key="net_image").value
    second = gallery("cifar10")[7].key  # the gallery's 8th thumbnail
    for step, key in enumerate((first, second)):
        if step:
            click_thumbnail(at, "net_gallery_grid", key)
        assert not at.exception and at.selectbox(key="net_image").value == key
        s = stages(model, key)
        said = next(m.value for m in at.markdown if m.value.startswith("#### The network says"))
        answer, percent = re.search(r"\*\*(\w+)\*\* \(([\d.]+)%\)", said).groups()
        assert answer == CIFAR.classes[int(s["softmax"].argmax())]
        assert float(percent) == pytest.approx(100 * s["softmax"].max(), abs=0.051)
        _, montage = picture(at, media, alt="All 32 maps of conv1")
        low, high = legends(at)[0]
        assert high == pytest.approx(np.abs(s["conv1"]).max(), rel=5e-3)
        bar = picture_after(at, media, "All 32 maps of conv1")[4]
        values = read_back(tiles(montage, 32, 32, 8, TILE)[:4], bar, low, high)
        np.testing.assert_allclose(values, s["conv1"][:4], atol=0.015 * (high - low))
    assert first != second


def figure_z(at: AppTest) -> tuple[str, np.ndarray]:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and "fm_heatmap" in c.proto.id)
    spec = json.loads(chart.proto.spec)
    z = spec["data"][0]["z"]
    if isinstance(z, dict):  # Plotly's typed-array form
        shape = [int(n) for n in str(z["shape"]).split(",")]
        z = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    return spec["layout"]["title"]["text"], np.asarray(z, dtype=np.float64)


def test_the_enlarged_map_after_a_layer_switch_and_two_clicks(media, model) -> None:
    """conv3, click map 17, click map 40, then relu3 (the map kept): each time the enlarged
    map is that map by plain PyTorch, and the thumbnail clicked shows it in the layer's
    colours (read back on the colour bar of the stage: ±max|conv3|, 0…max relu3)."""
    at = feature_maps()
    s = stages(model, at.selectbox(key="net_image").value)
    at.selectbox(key="net_layer").set_value("conv3").run()
    for layer, clicked, index in (("conv3", True, 17), ("conv3", True, 40), ("relu3", False, 40)):
        if clicked:
            click_thumbnail(at, "net_map_grid", str(index), n=index)
        else:
            at.selectbox(key="net_layer").set_value(layer).run()
        assert not at.exception and at.number_input(key="net_map").value == index
        title, z = figure_z(at)
        assert title == f"{layer}, map {index} (8×8)"
        np.testing.assert_allclose(z, s[layer][index], rtol=1e-5, atol=1e-5)
        stats = next(m.value for m in at.markdown if m.value.startswith("min **"))
        assert f"max **{s[layer][index].max():.4g}**" in stats
        grid = grid_data(at, "net_map_grid")
        assert grid["selected"] == str(index) and grid["items"][index][1] == f"map {index}"
        sheet = decode(media[grid["sheet"]])
        assert sheet.shape == (grid["rows"] * 8, grid["columns"] * 8, 3)  # 8×8 a map
        r, c = divmod(index, grid["columns"])
        cells = sheet[r * 8 : r * 8 + 8, c * 8 : c * 8 + 8]  # one pixel a value
        bound = np.abs(s["conv3"]).max()
        low, high = (-bound, bound) if layer == "conv3" else (0.0, s["relu3"].max())
        cmap = "diverging" if layer == "conv3" else "viridis"
        bar = render.colourise(np.linspace(0, 1, 256)[None], cmap, 0.0, 1.0)[0].astype(np.int64)
        np.testing.assert_allclose(
            read_back(cells, bar, low, high), s[layer][index], atol=0.006 * (high - low)
        )


# --------------------------------------------- bugs these tests found (fixed since)


def test_each_map_on_its_own_shows_its_largest_size_deepest_and_zero_white(media, model):
    """What the legend says of a signed stage with "Each map on its own" is what is drawn: each
    map's largest |value| is the deepest colour of its sign (0 stays white)."""
    at = feature_maps()
    at.radio(key="net_scale").set_value("map").run()
    s = stages(model, at.selectbox(key="net_image").value)
    said = [f.legend for f in stage_figures(at).values() if f.legend.startswith("Each map:")]
    assert said[0].startswith("Each map: white = 0; its own largest size")
    _, montage = picture(at, media, alt="All 32 maps of conv1")
    maps = tiles(montage, 32, 32, 8, TILE)
    for k in range(32):
        m = s["conv1"][k]
        at_max = np.unravel_index(np.argmax(np.abs(m)), (32, 32))
        end = RED_END if m[at_max] > 0 else BLUE_END
        assert tuple(maps[k][at_max]) == end, k


def test_the_strips_alt_text_describes_numbers_not_maps() -> None:
    at = feature_maps()
    alts = [f.alt for f in stage_figures(at).values()]
    for name in STRIP_STAGES:
        alt = next(a for a in alts if f" of {name}" in a)
        assert "maps" not in alt and "  " not in alt and not alt.endswith(" each"), alt
