"""The network pages' pictures against references written here: Grad-CAM by plain autograd, the
receptive-field outline drawn by hand from the layer arithmetic, the colour bars' ends against
the published ends of the colour maps (ColorBrewer's RdBu, matplotlib's viridis), a montage's
tiles where its documented layout puts them. The page-level checks (what AppTest receives) are
in test_page_pictures.py."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from explorer import render
from explorer.features import ModelInput
from explorer.model import SimpleCNN, available_devices, builtin_weights
from explorer.receptive_field import receptive_field
from explorer.samples import gallery, load_gallery_image
from explorer.stage_pictures import (
    MAP_GAP_FILL,
    colour_bar,
    stage_cmap,
    stage_limits,
    stage_montage,
)
from explorer.ui import content
from explorer.ui.network import builtin_context

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # caches without a runtime
CPU = next(d for d in available_devices() if d.device == "cpu")
CIFAR = {c.key: c for c in builtin_weights()}["simplecnn-cifar10"]

# The ends (and middle) of the two colour maps, as published: ColorBrewer's 11-class RdBu read
# from blue to red, and matplotlib's viridis at 0 and 1 (×255, rounded).
BLUE_END, WHITE, RED_END = (5, 48, 97), (247, 247, 247), (103, 0, 31)
DARK_END, YELLOW_END = (68, 1, 84), (253, 231, 37)
YELLOW, DARK_LINE = (255, 214, 0), (20, 20, 20)  # the field's outline (outline_field's doc)


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int64)


@pytest.fixture(scope="module")
def model() -> SimpleCNN:
    net = SimpleCNN()
    net.load_state_dict(torch.load(CIFAR.path, weights_only=True))
    return net.eval()


def normalised(image: np.ndarray) -> torch.Tensor:
    """32×32×3 uint8 → 1×3×32×32, (pixel/255 − mean)/std with the model card's numbers."""
    x = torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)
    mean = torch.tensor(CIFAR.preprocessing.mean).view(3, 1, 1)
    std = torch.tensor(CIFAR.preprocessing.std).view(3, 1, 1)
    return ((x - mean) / std)[None]


def grad_cam_by_hand(model: SimpleCNN, x: torch.Tensor, target: int) -> np.ndarray:
    """Grad-CAM on conv3, written out: A = conv3's 128 maps, w_c = the spatial mean of
    ∂score/∂A_c, Grad-CAM = ReLU(Σ_c w_c·A_c), 8×8."""
    with torch.enable_grad():
        h = model.pool(torch.relu(model.conv1(x)))
        h = model.pool(torch.relu(model.conv2(h)))
        a = model.conv3(h).detach().requires_grad_(True)
        h = torch.flatten(model.pool(torch.relu(a)), 1)
        score = model.fc2(torch.relu(model.fc1(h)))[0, target]
        (grad,) = torch.autograd.grad(score, a)
    weights = grad.mean(dim=(2, 3), keepdim=True)  # one number per map
    return torch.relu((weights * a.detach()).sum(dim=1))[0].double().numpy()


@pytest.fixture(scope="module")
def airplane() -> ModelInput:
    item = gallery("cifar10")[0]
    return ModelInput(load_gallery_image(item), item.source, item.label_name)


# ------------------------------------------------------------------------------ Grad-CAM


@pytest.mark.parametrize("choose", ["answer", "another class"])
def test_grad_cam_is_the_relu_of_the_gradient_weighted_conv3_maps(model, airplane, choose):
    x = normalised(airplane.image)
    with torch.no_grad():
        answer = int(model(x).argmax())
    target = answer if choose == "answer" else (answer + 3) % 10
    coarse = grad_cam_by_hand(model, x, target)
    found = content.attributions(builtin_context(CIFAR.key, CPU), airplane, target)
    assert found.target == target and found.grad_cam_coarse.shape == (8, 8)
    scale = float(np.abs(coarse).max()) or 1.0
    np.testing.assert_allclose(found.grad_cam_coarse, coarse, atol=1e-5 * scale, rtol=1e-4)
    # The 32×32 map is the 8×8 one stretched bilinearly (PyTorch's own interpolation).
    fine = F.interpolate(torch.from_numpy(coarse)[None, None], (32, 32), mode="bilinear")[0, 0]
    np.testing.assert_allclose(found.grad_cam, fine.numpy(), atol=1e-5 * scale, rtol=1e-4)


def legend_parts(legend: str) -> tuple[float, float, list[tuple[int, ...]]]:
    """(low number, high number, gradient stops left to right) of a legend's HTML."""
    numbers = re.findall(r"tabular-nums;font-size:[\d.]+rem\">([^<]*)</span>", legend)
    gradient = re.search(r"linear-gradient\(to right, (.*?)\)\"", legend).group(1)
    stops = [tuple(map(int, s)) for s in re.findall(r"rgb\((\d+),(\d+),(\d+)\)", gradient)]
    low, high = (float(n.replace("−", "-")) for n in numbers[:2])  # written with a true minus
    return low, high, stops


def test_the_overlays_colours_follow_their_legends(model, airplane) -> None:
    """The pixel with the largest heat wears the legend's top-end colour (at the overlay's
    documented 85% opacity over the grey image), a pixel with no heat the bottom end (15%);
    the signed map's most negative pixel the blue end, its most positive the red end."""
    x = normalised(airplane.image)
    target = int(model(x).argmax())
    found = content.attributions(builtin_context(CIFAR.key, CPU), airplane, target)
    pngs = content.attribution_pngs(found, airplane.image)
    grey = airplane.image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])  # ITU-R 601 luma

    def mixed(r: int, c: int, colour: tuple[int, ...], alpha: float) -> np.ndarray:
        return np.rint((1 - alpha) * grey[r, c] + alpha * np.asarray(colour, np.float64))

    coarse = grad_cam_by_hand(model, x, target)
    heat = F.interpolate(torch.from_numpy(coarse)[None, None], (32, 32), mode="bilinear")[0, 0]
    heat = heat.numpy()
    png, legend = pngs["grad_cam"]
    low, high, stops = legend_parts(legend)
    assert low == 0 and high == pytest.approx(heat.max(), abs=6e-5)
    assert stops[0] == DARK_END and stops[-1] == YELLOW_END
    picture = decode(png)[4::8, 4::8]  # one pixel of each enlarged 8×8 square
    hot = np.unravel_index(np.argmax(heat), heat.shape)
    np.testing.assert_allclose(picture[hot], mixed(*hot, stops[-1], 0.85), atol=1)
    cold = np.argwhere(heat == 0)
    assert len(cold) > 0
    for r, c in cold[:: max(1, len(cold) // 40)]:
        np.testing.assert_allclose(picture[r, c], mixed(r, c, stops[0], 0.15), atol=1)

    png, legend = pngs["integrated"]
    low, high, stops = legend_parts(legend)
    share = found.integrated
    assert high == pytest.approx(np.abs(share).max(), abs=6e-5) and low == -high  # 0 in the middle
    assert stops[0] == BLUE_END and stops[-1] == RED_END
    assert np.abs(np.asarray(stops[5]) - WHITE).max() <= 1  # the middle stop: white
    picture = decode(png)[4::8, 4::8]
    top = float(np.abs(share).max())
    r, c = np.unravel_index(np.argmax(np.abs(share)), share.shape)  # at an end of the legend
    end = stops[-1] if share[r, c] > 0 else stops[0]
    np.testing.assert_allclose(picture[r, c], mixed(r, c, end, 0.85), atol=1)
    for where in (np.argmax(share), np.argmin(share)):  # each sign on its own side of white
        r, c = np.unravel_index(where, share.shape)
        alpha = max(0.85 * abs(share[r, c]) / top, 0.15)
        red, _, blue = (picture[r, c] - (1 - alpha) * grey[r, c]) / alpha  # the colour laid on
        assert (red > blue + 30) if share[r, c] > 0 else (blue > red + 30), (share[r, c], red, blue)


# ------------------------------------------------------------------------ receptive field

# The layer arithmetic, by hand (kernel k, stride s, padding p; field r, jump j, start a):
#   r_out = r_in + (k − 1)·j_in,  j_out = j_in·s,  a_out = a_in − p·j_in,  from r = j = 1, a = 0
#   conv1 (3, 1, 1): r = 1 + 2·1 = 3,  j = 1, a = 0 − 1 = −1     relu1: the same
#   pool1 (2, 2, 0): r = 3 + 1·1 = 4,  j = 2, a = −1
#   conv2 (3, 1, 1): r = 4 + 2·2 = 8,  j = 2, a = −1 − 2 = −3     relu2: the same
#   pool2 (2, 2, 0): r = 8 + 1·2 = 10, j = 4, a = −3
#   conv3 (3, 1, 1): r = 10 + 2·4 = 18, j = 4, a = −3 − 4 = −7    relu3: the same
#   pool3 (2, 2, 0): r = 18 + 1·4 = 22, j = 8, a = −7
# Row i sees input rows a + i·j … a + i·j + r − 1, cut to 0…31 (the same for columns).
FIELD = {
    "conv1": (3, 1, -1),
    "relu1": (3, 1, -1),
    "pool1": (4, 2, -1),
    "conv2": (8, 2, -3),
    "relu2": (8, 2, -3),
    "pool2": (10, 4, -3),
    "conv3": (18, 4, -7),
    "relu3": (18, 4, -7),
    "pool3": (22, 8, -7),
}


def field_by_hand(stage: str, row: int, col: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the input pixels the cell can see, ends included."""
    r, j, a = FIELD[stage]
    top, left = a + row * j, a + col * j
    return max(top, 0), max(left, 0), min(top + r - 1, 31), min(left + r - 1, 31)


def outlined_by_hand(image: np.ndarray, top: int, left: int, bottom: int, right: int) -> np.ndarray:
    """What outline_field documents, drawn here: the input 8× enlarged, every pixel outside the
    field dimmed to 35% plus 10% of white, the field's pixels unchanged, and its edge outlined
    in yellow (2 px) with a dark line inside it (the third pixel)."""
    big = np.repeat(np.repeat(image.astype(np.float64), 8, axis=0), 8, axis=1)
    out = np.rint(big * 0.35 + 25.5)
    t, lft, b, r = 8 * top, 8 * left, 8 * (bottom + 1), 8 * (right + 1)  # [t, b) × [lft, r)
    out[t:b, lft:r] = big[t:b, lft:r]
    for rows, cols in (
        ((t, t + 3), (lft, r)),
        ((b - 3, b), (lft, r)),
        ((t, b), (lft, lft + 3)),
        ((t, b), (r - 3, r)),
    ):
        out[slice(*rows), slice(*cols)] = DARK_LINE
    for rows, cols in (
        ((t, t + 2), (lft, r)),
        ((b - 2, b), (lft, r)),
        ((t, b), (lft, lft + 2)),
        ((t, b), (r - 2, r)),
    ):
        out[slice(*rows), slice(*cols)] = YELLOW
    return out.astype(np.int64)


@pytest.mark.parametrize(
    ("stage", "cell"),
    [
        ("conv2", (0, 4, 4)),
        ("conv3", (5, 2, 5)),
        ("conv3", (0, 0, 0)),
        ("pool1", (3, 15, 0)),
        ("conv1", (0, 31, 7)),
        ("pool3", (9, 3, 1)),
    ],
)
def test_the_field_picture_outlines_the_field_computed_by_hand(airplane, stage, cell) -> None:
    _, row, col = cell
    box = field_by_hand(stage, row, col)
    picture = decode(content.field_png(airplane.image, receptive_field(stage, cell)))
    expected = outlined_by_hand(airplane.image, *box)
    bad = np.argwhere((picture != expected).any(axis=2))
    assert not len(bad), f"{len(bad)} pixels differ, first at {bad[:3].tolist()}"


# --------------------------------------------------------------------------- colour bars


def test_a_legend_bar_runs_from_the_lowest_colour_on_the_left_to_the_highest_on_the_right():
    for cmap, (left, right) in {
        "diverging": (BLUE_END, RED_END),
        "viridis": (DARK_END, YELLOW_END),
    }.items():
        bar = decode(render.colour_bar_png(cmap))
        assert bar.shape == (14, 256, 3)
        assert (bar[:, 0] == left).all() and (bar[:, -1] == right).all(), cmap
    bar = decode(render.colour_bar_png("diverging"))[0]
    assert np.abs(bar[127:129] - WHITE).max() <= 1  # white in the middle, between 127 and 128
    assert (np.abs(bar[100] - WHITE).max() > 20) and (np.abs(bar[155] - WHITE).max() > 20)


def test_white_is_zero_on_a_signed_bar_and_zero_is_dark_on_a_nonnegative_one() -> None:
    signed = colour_bar("signed", -2.5, 2.5, width=257)[0].astype(np.int64)
    assert tuple(signed[0]) == BLUE_END and tuple(signed[-1]) == RED_END
    assert np.abs(signed[128] - WHITE).max() <= 1  # column 128 of 257 stands for 0
    nonnegative = colour_bar("nonnegative", 0.0, 3.0, width=257)[0]
    assert tuple(nonnegative[0]) == DARK_END and tuple(nonnegative[-1]) == YELLOW_END


def test_a_stage_colour_range_is_symmetric_for_signed_maps_and_starts_at_zero_otherwise():
    arr = np.array([[[-3.0, 0.0], [1.0, 0.5]]], np.float32)
    assert stage_cmap("signed") == "diverging"
    assert stage_cmap("nonnegative") == stage_cmap("probability") == "viridis"
    assert stage_limits(arr, "signed") == (-3.0, 3.0)  # max |value| = 3 on both sides
    relu = np.maximum(arr, 0)
    assert stage_limits(relu, "nonnegative") == (0.0, 1.0)
    assert stage_limits(relu + 1, "nonnegative") == (0.0, 2.0)  # from 0, not from the minimum
    lo, hi = stage_limits(relu, "nonnegative")
    assert tuple(render.colourise(np.zeros((1, 1)), stage_cmap("nonnegative"), lo, hi)[0, 0]) == (
        DARK_END
    )  # 0 of a ReLU map is the dark end, not white
    lo, hi = stage_limits(arr, "signed")
    zero = render.colourise(np.zeros((1, 1)), stage_cmap("signed"), lo, hi)[0, 0]
    assert np.abs(zero.astype(np.int64) - WHITE).max() <= 1


@pytest.mark.parametrize(("maps", "cols"), [(20, 8), (64, 8), (128, 16)])
def test_a_montage_puts_map_k_at_row_k_div_cols_column_k_mod_cols(maps, cols) -> None:
    """Maps of 4×4, each zero but for one cell whose place and value identify the map: its
    tile, cut where the documented layout says (tiles of round(tile_px / side) px, 2 px
    apart, 8 a row up to 64 maps and 16 beyond), shows exactly that cell in red."""
    arr = np.zeros((maps, 4, 4), np.float32)
    for k in range(maps):
        arr[k, k % 4, (k // 4) % 4] = 1.0
    montage = stage_montage(arr, "signed", "layer", tile_px=32).astype(np.int64)
    size, gap = 32 // 4 * 4, 2
    rows = -(-maps // cols)
    assert montage.shape == (rows * size + (rows - 1) * gap, cols * size + (cols - 1) * gap, 3)
    for k in range(maps):
        r, c = divmod(k, cols)
        tile = montage[
            r * (size + gap) : r * (size + gap) + size, c * (size + gap) : c * (size + gap) + size
        ]
        cells = tile[4::8, 4::8]  # one pixel per 8×8 square
        assert (cells[k % 4, (k // 4) % 4] == RED_END).all(), k  # +max: the red end
        others = np.ones((4, 4), bool)
        others[k % 4, (k // 4) % 4] = False
        assert np.abs(cells[others] - WHITE).max() <= 1, k  # 0: white


@pytest.mark.parametrize(
    ("side", "tile_px", "tile", "gap"), [(8, 8, 8, 1), (4, 8, 8, 1), (8, 16, 16, 2)]
)
def test_small_tiles_are_one_pixel_apart(side, tile_px, tile, gap) -> None:
    """The page's montages send each map at its own size (conv3's 8×8): 1 px between tiles
    under 16 px, else 2; the gap is the gap colour, and every map is whole."""
    arr = np.ones((128, side, side), np.float32)
    montage = stage_montage(arr, "nonnegative", "layer", tile_px=tile_px)
    assert montage.shape == (8 * tile + 7 * gap, 16 * tile + 15 * gap, 3)
    assert (montage[tile : tile + gap] == MAP_GAP_FILL).all()
    assert (montage[:tile, :tile] == YELLOW_END).all()


def test_a_nonnegative_montage_is_coloured_from_zero_even_where_no_value_is_zero() -> None:
    """ReLU/pool maps are coloured on 0…max: the largest value yellow, a quarter of it
    matplotlib's viridis(0.25) — also for a stage whose smallest value is not 0."""
    arr = np.full((3, 4, 4), 1.75, np.float32)
    arr[1, 2, 3] = 7.0
    montage = stage_montage(arr, "nonnegative", "layer", tile_px=16).astype(np.int64)
    tile = montage[:16, 18:34]  # map 1
    assert (tile[8:12, 12:16] == YELLOW_END).all()
    viridis_quarter = (59, 82, 139)  # matplotlib: viridis(0.25) = (0.2297, 0.3224, 0.5457)
    assert np.abs(montage[:16, :16] - viridis_quarter).max() <= 2  # map 0: 1.75 of 0…7
    arr[0] = 0.0
    montage = stage_montage(arr, "nonnegative", "layer", tile_px=16).astype(np.int64)
    assert (montage[:16, :16] == DARK_END).all()  # 0: the dark end


def test_the_enlarged_map_is_the_maps_values_on_the_stages_colour_range(model, airplane) -> None:
    """content.map_figure: z is the map, by plain PyTorch; the shared colour range is ±max|conv|
    for a signed stage (its middle, 0, white) and 0…max for ReLU."""
    acts = content.capture(builtin_context(CIFAR.key, CPU), airplane)
    with torch.no_grad():
        h = model.pool(torch.relu(model.conv1(normalised(airplane.image))))
        conv2 = model.conv2(h)[0].numpy()
    fig = content.map_figure(acts, "conv2", 11, False).data[0]
    np.testing.assert_allclose(np.asarray(fig.z), conv2[11], rtol=1e-5, atol=1e-5)
    bound = float(np.abs(conv2).max())
    assert fig.zmin == pytest.approx(-bound, rel=1e-5) and fig.zmax == -fig.zmin
    scale = [(p, tuple(map(int, re.findall(r"\d+", c)))) for p, c in fig.colorscale]
    assert scale[0] == (0.0, BLUE_END) and scale[-1] == (1.0, RED_END)
    assert (0.5, WHITE) in scale
    fig = content.map_figure(acts, "relu2", 11, False).data[0]
    np.testing.assert_allclose(np.asarray(fig.z), np.maximum(conv2[11], 0), rtol=1e-5, atol=1e-5)
    assert fig.zmin == 0 and fig.zmax == pytest.approx(float(np.maximum(conv2, 0).max()))
    first, last = fig.colorscale[0][1].lower(), fig.colorscale[-1][1].lower()
    assert first in ("#440154", "rgb(68,1,84)") and last in ("#fde725", "rgb(253,231,37)")
