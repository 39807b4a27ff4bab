"""The shift lab's numbers (explorer.shift_lab, explorer.shift_state) against plain PyTorch
written out here: the shift itself, conv1's equivariance (0 in the interior for every shift),
the pooled stages (0 only for whole cells, nonzero for odd shifts), the probability curve, and
the measured summary — the flip rate and Zhang's consistency — recomputed independently."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer import render
from explorer.jobs import Control
from explorer.links import LINK_PARAMS, params_of
from explorer.model import SimpleCNN, builtin_weights
from explorer.samples import gallery, load_gallery_image
from explorer.shift_lab import (
    ROUNDING,
    SHIFT_LIMIT,
    SHIFTS,
    ShiftSummary,
    claim_sentence,
    compare_stage,
    measure_summary,
    shift_images,
    shift_view,
    stage_panels,
    summary_images,
    summary_job,
)
from explorer.shift_state import ShiftState, parse_shift
from explorer.training_data import load_training_set

CIFAR = next(c for c in builtin_weights() if c.key == "simplecnn-cifar10")
PRE = CIFAR.preprocessing


@pytest.fixture(scope="module")
def model() -> SimpleCNN:
    net = SimpleCNN()
    net.load_state_dict(torch.load(CIFAR.path, weights_only=True))
    return net.eval()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return load_gallery_image(gallery("cifar10")[3])


# ------------------------------------------------------------------ the reference, by hand


def normalised(img: np.ndarray) -> torch.Tensor:
    """32×32×3 uint8 → 1×3×32×32, (x/255 − mean)/std written out."""
    x = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)
    mean = torch.tensor(PRE.mean).view(3, 1, 1)
    std = torch.tensor(PRE.std).view(3, 1, 1)
    return ((x - mean) / std)[None]


def padded_shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """The shift by F.pad: pad on one side, crop the other (a negative pad crops)."""
    return F.pad(x, (dx, -dx, dy, -dy))


def plain_stages(model: SimpleCNN, x: torch.Tensor) -> dict[str, np.ndarray]:
    with torch.no_grad():
        conv1 = F.conv2d(x, model.conv1.weight, model.conv1.bias, padding=1)
        pool1 = F.max_pool2d(torch.relu(conv1), 2)
        pool2 = F.max_pool2d(torch.relu(model.conv2(pool1)), 2)
        pool3 = F.max_pool2d(torch.relu(model.conv3(pool2)), 2)
        probs = torch.softmax(model(x), dim=1)
    return {
        "conv1": conv1[0].numpy(),
        "pool1": pool1[0].numpy(),
        "pool2": pool2[0].numpy(),
        "pool3": pool3[0].numpy(),
        "softmax": probs[0].numpy(),
    }


# The receptive field of a cell q at each stage, in input pixels, by hand: conv1 3×3 (q−1…q+1),
# pool1 covers conv1 cells 2q, 2q+1 (2q−1…2q+2), pool2 covers conv2 cells over pool1 (4q−3…4q+6),
# pool3 (8q−7…8q+14).
FIELDS = {"conv1": (1, -1, 3), "pool1": (2, -1, 4), "pool2": (4, -3, 10), "pool3": (8, -7, 22)}


def interior_by_hand(stage: str, d: int, c: int) -> list[int]:
    """Cells q whose field lies in the picture, at q + c in the shifted input, and on pixels
    that were in the original (q's field moved by c·stride − d)."""
    stride, start, size = FIELDS[stage]
    side = 32 // stride
    found = []
    for q in range(side):
        if not 0 <= q + c < side:
            continue
        lo = start + q * stride
        if all(lo + o >= 0 and lo + o + size - 1 <= 31 for o in (0, c * stride, c * stride - d)):
            found.append(q)
    return found


def interior_difference(
    stage: str, orig: np.ndarray, moved: np.ndarray, dx: int, dy: int, cx: int, cy: int
) -> float:
    rows, cols = interior_by_hand(stage, dy, cy), interior_by_hand(stage, dx, cx)
    worst = 0.0
    for r in rows:
        for c in cols:
            diff = moved[:, r + cy, c + cx].astype(np.float64) - orig[:, r, c]
            worst = max(worst, float(np.abs(diff).max()))
    return worst


# ------------------------------------------------------------------ the shift


@pytest.mark.parametrize("dx, dy", [(d, 0) for d in SHIFTS] + [(0, d) for d in SHIFTS] + [(3, -5)])
def test_the_shift_moves_the_picture_and_fills_with_zero(dx: int, dy: int) -> None:
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(shift_images(x, dx, dy), padded_shift(x, dx, dy))


def test_the_shifted_picture_shows_the_fill_in_the_mean_colour(model, image) -> None:
    view = shift_view(model, image, PRE, 4, 0, "x")
    mean = np.rint(np.asarray(PRE.mean) * 255)
    assert np.array_equal(view.shifted_image[:, :4], np.broadcast_to(mean, (32, 4, 3)))
    assert np.array_equal(view.shifted_image[:, 4:], image[:, :-4])


# ------------------------------------------------------------------ equivariance and pooling


@pytest.mark.parametrize("axis", ["x", "y"])
def test_conv1_is_equivariant_in_the_interior_for_every_shift(model, image, axis) -> None:
    x = normalised(image)
    orig = plain_stages(model, x)
    for d in SHIFTS:
        dx, dy = (d, 0) if axis == "x" else (0, d)
        view = shift_view(model, image, PRE, dx, dy, axis)
        conv1 = view.stages["conv1"]
        moved = plain_stages(model, padded_shift(x, dx, dy))
        assert conv1.whole and conv1.shift == (dx, dy)
        assert conv1.interior_max is not None and conv1.interior_max <= ROUNDING, d
        assert interior_difference("conv1", orig["conv1"], moved["conv1"], dx, dy, dx, dy) < 1e-5
        # The interior is the one worked out by hand: 30 − |d| rows (or columns) of 32.
        assert conv1.interior.sum() == 30 * (30 - abs(d))
        if d:  # what leaves the picture shows up on the border band
            assert conv1.border_max is not None and conv1.border_max > 0.01


@pytest.mark.parametrize("axis", ["x", "y"])
def test_pooling_keeps_the_shift_only_for_whole_cells(model, image, axis) -> None:
    x = normalised(image)
    orig = plain_stages(model, x)
    for d in SHIFTS:
        dx, dy = (d, 0) if axis == "x" else (0, d)
        view = shift_view(model, image, PRE, dx, dy, axis)
        moved = plain_stages(model, padded_shift(x, dx, dy))
        for stage, stride in (("pool1", 2), ("pool2", 4), ("pool3", 8)):
            c = view.stages[stage]
            assert c.whole == (d % stride == 0), (stage, d)
            assert c.interior_max is not None, (stage, d)
            # The same number from plain torch, at the alignment the app chose…
            cx, cy = c.shift
            expected = interior_difference(stage, orig[stage], moved[stage], dx, dy, cx, cy)
            assert c.interior_max == pytest.approx(expected, abs=1e-5), (stage, d)
            # …which is the best of the whole cell shifts around d/stride.
            for other in {d // stride, -(-d // stride)}:
                ox, oy = (other, 0) if axis == "x" else (0, other)
                alt = interior_difference(stage, orig[stage], moved[stage], dx, dy, ox, oy)
                assert c.interior_max <= alt + 1e-5
            if d % stride == 0:
                assert c.interior_max <= ROUNDING, (stage, d)
        if d % 2:  # an odd shift is no shift of pool1's maps: they differ inside the picture
            assert view.stages["pool1"].interior_max > 0.01, d


def test_a_diagonal_shift_compares_both_axes() -> None:
    rng = np.random.default_rng(1)
    orig = rng.normal(size=(2, 16, 16))
    moved = np.zeros_like(orig)
    moved[:, 1:, :14] = orig[:, :15, 2:]  # the maps moved 2 cells left, 1 down: (−4, 2) px
    c = compare_stage("pool1", orig, moved, -4, 2)
    assert c.whole and c.shift == (-2, 1)
    assert c.interior_max == 0.0
    assert np.isnan(c.difference[:, -1, :]).all() and np.isnan(c.difference[:, :, :2]).all()
    rows, cols = interior_by_hand("pool1", 2, 1), interior_by_hand("pool1", -4, -2)
    assert np.array_equal(np.argwhere(c.interior), [[r, k] for r in rows for k in cols])


def test_the_difference_picture_is_white_where_equal_and_outlines_the_interior(
    model, image
) -> None:
    c = shift_view(model, image, PRE, 2, 0, "x").stages["conv1"]
    original, shifted, diff = stage_panels(c, 0)
    assert original.shape == shifted.shape == diff.shape == (160, 160, 3)
    top, left, bottom, right = c.interior_box()
    assert (top, left, bottom, right) == (1, 1, 30, 28)
    inside = diff[(top + 1) * 5 : bottom * 5, (left + 1) * 5 : right * 5]
    zero = render.colourise(np.zeros((1, 1)), "diverging", -1, 1)[0, 0]
    assert (inside == zero).all()  # the diverging map's white: exactly 0
    assert (diff[top * 5, left * 5 : right * 5] == (20, 20, 20)).all()  # the outline
    assert (diff[:, -10:] == 128).all()  # the last 2 columns: nothing to compare (grey)


# ------------------------------------------------------------------ the answer


def test_the_curve_is_the_plain_softmax_along_the_axis(model, image) -> None:
    x = normalised(image)
    view = shift_view(model, image, PRE, 3, -2, "y")
    assert view.current == -2
    for i, d in enumerate(SHIFTS):
        expected = plain_stages(model, padded_shift(x, 3, d))["softmax"]
        np.testing.assert_allclose(view.curve[i], expected, atol=1e-6)
    np.testing.assert_allclose(view.probabilities, plain_stages(model, x)["softmax"], atol=1e-6)
    answers = [int(p.argmax()) for p in view.curve]
    assert view.curve_changes() == sum(a != b for a, b in zip(answers, answers[1:], strict=False))


# ------------------------------------------------------------------ the measured summary


def summary_by_hand(model: SimpleCNN, images: np.ndarray, limit: int, pairs: int, seed: int):
    """Flips and agreements, one image and one shift at a time, in plain torch."""

    def top1(img: np.ndarray, shifts: list[tuple[int, int]]) -> list[int]:
        """The answers for one image under each shift (one batch per image)."""
        x = normalised(img.transpose(1, 2, 0))
        with torch.no_grad():
            batch = torch.cat([padded_shift(x, int(dx), int(dy)) for dx, dy in shifts])
            return model(batch).argmax(dim=1).tolist()

    offsets = np.random.default_rng(seed).integers(-limit, limit + 1, (len(images), pairs, 2, 2))
    span = range(-limit, limit + 1)
    flips = flip_pairs = agree = 0
    for n, img in enumerate(images):
        across = top1(img, [(d, 0) for d in span])
        down = top1(img, [(0, d) for d in span])
        for line in (across, down):
            flips += sum(a != b for a, b in zip(line, line[1:], strict=False))
            flip_pairs += len(line) - 1
        firsts = top1(img, [tuple(pair[0]) for pair in offsets[n]])
        seconds = top1(img, [tuple(pair[1]) for pair in offsets[n]])
        agree += sum(a == b for a, b in zip(firsts, seconds, strict=True))
    return flips, flip_pairs, agree, len(images) * pairs


def test_flip_rate_and_consistency_match_a_computation_by_hand(model) -> None:
    images = np.stack([load_gallery_image(i).transpose(2, 0, 1) for i in gallery("cifar10")])
    flips, flip_pairs, agree, pairs, passes = measure_summary(
        model, images, PRE, limit=4, pairs_per_image=3, seed=7, batch=50
    )
    expected = summary_by_hand(model, images, 4, 3, 7)
    assert (flips, flip_pairs, agree, pairs) == expected
    assert flip_pairs == 20 * 16 and pairs == 60
    assert 0 < flips < flip_pairs and 0 < agree < pairs  # neither trivially 0 nor all
    assert passes == 20 * (17 + 6)


def test_the_summary_images_are_the_gallery_then_the_first_held_out_of_each_class() -> None:
    images, shown, held = summary_images("cifar10", 2)
    data = load_training_set("cifar10")
    assert (shown, held) == (20, 20)
    first = sorted(i for k in range(10) for i in np.flatnonzero(data.held_y == k)[:2].tolist())
    assert np.array_equal(images[20:], data.held_x[first])
    assert np.array_equal(images[0], load_gallery_image(gallery("cifar10")[0]).transpose(2, 0, 1))


def test_the_job_measures_the_same_from_a_key_or_from_file_bytes(model) -> None:
    import io

    events: list[object] = []
    common = {"preprocessing": PRE, "dataset": "cifar10", "per_class": 1, "pairs_per_image": 2}
    by_key = summary_job(Control(), events.append, weights_key=CIFAR.key, **common)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    by_bytes = summary_job(Control(), lambda _e: None, weights_bytes=buffer.getvalue(), **common)
    assert by_key.images == 30 and by_key.per_class == 1 and by_key.limit == 4
    numbers = ("flips", "flip_pairs", "agreements", "consistency_pairs", "forward_passes")
    assert [getattr(by_key, n) for n in numbers] == [getattr(by_bytes, n) for n in numbers]
    assert events[-1] == {"done": by_key.forward_passes, "total": by_key.forward_passes}
    images, _, _ = summary_images("cifar10", 1)
    flips, flip_pairs, agree, pairs, _ = measure_summary(model, images, PRE, pairs_per_image=2)
    assert by_key.flip_rate == flips / flip_pairs and by_key.consistency == agree / pairs


def _summary(flips: int, agreements: int) -> ShiftSummary:
    return ShiftSummary("cifar10", 20, 300, 30, 4, 1000, flips, 1000, agreements, 4, 0, 1, 1.0)


@pytest.mark.parametrize(
    "flips, agreements, word",
    [(5, 995, "holds"), (74, 881, "approximately"), (300, 600, "**not** true")],
)
def test_the_claims_wording_follows_the_numbers(flips: int, agreements: int, word: str) -> None:
    sentence = claim_sentence(_summary(flips, agreements))
    assert word in sentence
    assert f"**{flips / 1000:.1%}**" in sentence and f"**{agreements / 1000:.1%}**" in sentence


# ------------------------------------------------------------------ the page's state and link


def test_the_link_round_trips_and_is_registered() -> None:
    state = ShiftState(dx=-3, dy=8, axis="y", map=5)
    assert ShiftState.from_query(state.to_query()) == (state, [])
    assert set(state.to_query()) == params_of("shifts")
    assert all(LINK_PARAMS[p] == "shifts" for p in state.to_query())


def test_bad_link_values_keep_the_default_and_say_so() -> None:
    state, warnings = ShiftState.from_query(
        {"dx": "9", "dy": "−4", "axis": "z", "smap": "32", "map": "7"}
    )
    assert state == ShiftState(dy=-4)
    assert len(warnings) == 3
    assert any("dx='9'" in w and "−8 to 8" not in w and "-8 to 8" in w for w in warnings)


@pytest.mark.parametrize(
    "text, value",
    [("0", 0), ("8", 8), ("-8", -8), ("\u22123", -3), ("+2", 2), ("9", None), ("-", None),
     ("3.0", None), ("--1", None), ("²", None)],
)  # fmt: skip
def test_a_shift_is_a_signed_whole_number_within_the_limit(text: str, value: int | None) -> None:
    assert parse_shift(text) == value


def test_steps_stay_within_the_limit_and_pick_the_curves_axis() -> None:
    state = ShiftState(dx=SHIFT_LIMIT - 1)
    assert state.step("x", 1).step("x", 1).dx == SHIFT_LIMIT
    assert state.step("y", -1) == ShiftState(dx=SHIFT_LIMIT - 1, dy=-1, axis="y")
    with pytest.raises(ValueError):
        state.choose("dx", 9)
    with pytest.raises(ValueError):
        state.choose("map", 32)


# ------------------------------------------------------------ the shipped network's summary


@pytest.mark.parametrize("dataset", ["cifar10", "mnist"])
def test_the_shipped_summary_is_what_the_shipped_weights_measure(dataset: str) -> None:
    """The home page quotes the file: it must be these weights' measurement, counted again."""
    from explorer.model import builtin_weights
    from explorer.shift_lab import shipped_summary, summarise
    from explorer.weights_file import load_choice

    shipped = shipped_summary(dataset)
    assert shipped is not None, "run python -m scripts.measure_shifts"
    choice = {c.key: c for c in builtin_weights()}[f"simplecnn-{dataset}"]
    again = summarise(load_choice(choice), choice.preprocessing, dataset)
    assert (again.flips, again.flip_pairs, again.agreements, again.consistency_pairs) == (
        shipped.flips,
        shipped.flip_pairs,
        shipped.agreements,
        shipped.consistency_pairs,
    )
    assert again.images == shipped.images == 320


def test_a_summary_of_other_weights_is_not_quoted(tmp_path, monkeypatch) -> None:
    import json

    import explorer.shift_summary as lab

    monkeypatch.setattr(lab, "WEIGHTS_DIR", tmp_path)
    (tmp_path / "simplecnn-cifar10.json").write_text(json.dumps({"weights_sha256": "new"}))
    assert lab.shipped_summary("cifar10") is None  # no file yet
    lab.save_shipped_summary(_summary(73, 881), "old")
    assert lab.shipped_summary("cifar10") is None  # measured on other weights
    lab.save_shipped_summary(_summary(73, 881), "new")
    assert lab.shipped_summary("cifar10") == _summary(73, 881)
    sentence = lab.home_sentence(_summary(73, 881))
    assert "**7.3%**" in sentence and "**88.1%**" in sentence and "only approximately" in sentence


def test_the_home_pages_summary_module_is_light() -> None:
    """Home quotes the summary on every visit: its module imports neither torch nor plotly
    (explorer.shift_lab, which measures it, imports both)."""
    import subprocess
    import sys

    code = (
        "import sys; import explorer.shift_summary; "
        "print(sorted(m for m in ('torch', 'plotly', 'explorer.shift_lab') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
