"""AppTest of "Why CNNs: shifts": a link with a shift sets the controls, the step buttons move
it, and the numbers a student reads — the table of largest differences, the answers, the curve's
count and the measured summary — are those plain PyTorch gives (tests/test_shift_lab.py's
reference, written without the app's code)."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.model import CIFAR10_CLASSES, SimpleCNN, builtin_weights
from explorer.numbers import format_value
from explorer.samples import gallery, load_gallery_image
from explorer.shift_lab import SHIFTS, summary_images
from tests.screen import shown
from tests.test_shift_lab import (
    interior_difference,
    normalised,
    padded_shift,
    plain_stages,
    summary_by_hand,
)

TIMEOUT = 120
CIFAR = next(c for c in builtin_weights() if c.key == "simplecnn-cifar10")
IMAGE = gallery("cifar10")[0]  # the page's first gallery image


@pytest.fixture(autouse=True)
def small_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """The summary over the 20 gallery images and 1 held-out image a class, 1 pair each: the
    same code as the page's 300-image measurement, in a second rather than a minute."""
    from explorer.ui import shift_lab

    monkeypatch.setattr(shift_lab, "HELD_PER_CLASS", 1)
    monkeypatch.setattr(shift_lab, "PAIRS_PER_IMAGE", 1)


@pytest.fixture(scope="module")
def model() -> SimpleCNN:
    net = SimpleCNN()
    net.load_state_dict(torch.load(CIFAR.path, weights_only=True))
    return net.eval()


def open_lab(**params: str) -> AppTest:
    at = AppTest.from_file("../pages/why_translation.py", default_timeout=TIMEOUT)
    at.query_params.update(params)
    return at.run()


def table(at: AppTest) -> dict[str, tuple[str, str, str]]:
    """The glance table: stage → (shift in cells, largest |difference| inside, on the border)."""
    text = next(m.value for m in at.markdown if m.value.startswith("| stage"))
    rows = {}
    for line in text.splitlines()[2:]:
        stage, cells, inside, border = (c.strip() for c in line.strip("|").split("|"))
        rows[stage] = (cells, inside.strip("*"), border)
    return rows


def num(value: float) -> str:
    return format_value(value).replace("-", "\u2212")


def expected_table(model: SimpleCNN, dx: int, dy: int) -> dict[str, tuple[str, str]]:
    """Each stage's cells and largest interior difference, from plain torch: the best of the
    whole cell shifts around the input's shift."""
    x = normalised(load_gallery_image(IMAGE))
    orig, moved = plain_stages(model, x), plain_stages(model, padded_shift(x, dx, dy))
    found = {}
    for stage, stride in (("conv1", 1), ("pool1", 2), ("pool2", 4), ("pool3", 8)):
        best = min(
            interior_difference(stage, orig[stage], moved[stage], dx, dy, cx, cy)
            for cx in {dx // stride, -(-dx // stride)}
            for cy in {dy // stride, -(-dy // stride)}
        )

        def cells(d: int, stride: int = stride) -> str:
            if d % stride == 0:
                return num(d // stride)
            whole = np.gcd(abs(d), stride)
            return f"{num(d // whole)}/{stride // whole}"

        found[stage] = (f"{cells(dx)}, {cells(dy)}", num(best) if best > 1e-5 else "0")
    return found


def answers(model: SimpleCNN, dx: int, dy: int) -> tuple[str, float]:
    x = padded_shift(normalised(load_gallery_image(IMAGE)), dx, dy)
    with torch.no_grad():
        p = torch.softmax(model(x), dim=1)[0]
    return CIFAR10_CLASSES[int(p.argmax())], float(p.max())


def test_a_link_sets_the_shift_and_the_numbers_are_plain_torchs(model) -> None:
    at = open_lab(dx="3", dy="-2", axis="y", smap="5")
    assert not at.exception
    assert at.slider(key="shift_dx").value == 3 and at.slider(key="shift_dy").value == -2
    assert at.radio(key="shift_axis").value == "y"
    assert at.number_input(key="shift_map").value == 5
    expected = expected_table(model, 3, -2)
    assert {stage: row[:2] for stage, row in table(at).items()} == expected
    assert expected["conv1"][1] == "0" and expected["pool1"][1] != "0"  # equal, then not
    before, after = answers(model, 0, 0), answers(model, 3, -2)
    line = next(m.value for m in at.markdown if m.value.startswith("The network says"))
    assert (
        f"**{before[0]}** ({before[1]:.1%})" in line and f"**{after[0]}** ({after[1]:.1%})" in line
    )
    assert any(m.value == "### pool2, map 5" for m in at.markdown)
    # The curve along y (dx kept at 3): its count of answer changes, from plain torch.
    along = [answers(model, 3, d)[0] for d in SHIFTS]
    changes = sum(a != b for a, b in zip(along, along[1:], strict=False))
    curve = next(m.value for m in at.markdown if m.value.startswith("Along y"))
    assert f"changes **{changes}** time" in curve and "kept at 3 px" in curve
    assert at.query_params["dx"] in ("3", ["3"]) and at.query_params["dy"] in ("-2", ["-2"])


def test_the_step_buttons_move_the_shift_and_the_numbers_follow(model, navigation_has_run) -> None:
    at = open_lab(dx="3", dy="-2")
    at.button(key="shift_x_plus").click().run()
    assert not at.exception
    assert at.slider(key="shift_dx").value == 4
    assert {stage: row[:2] for stage, row in table(at).items()} == expected_table(model, 4, -2)
    assert table(at)["pool1"][1] == "0"  # 4 px right, 2 up: whole pool1 cells
    at.button(key="shift_y_minus").click().run()
    assert at.slider(key="shift_dy").value == -3
    assert at.radio(key="shift_axis").value == "y"  # the curve follows what moved
    assert table(at)["pool1"][0] == "2, \u22123/2" and table(at)["pool1"][1] != "0"
    assert at.query_params["dy"] in ("-3", ["-3"])
    for _ in range(5):
        at.button(key="shift_y_minus").click().run()
    assert at.slider(key="shift_dy").value == -8
    assert at.button(key="shift_y_minus").disabled  # the limit


def test_bad_link_values_say_so_and_keep_the_default() -> None:
    at = open_lab(dx="12", dy="abc", smap="99")
    assert not at.exception
    said = " ".join(shown(w.value) for w in at.warning)
    assert "Ignored the link's dx='12'" in said and "Ignored the link's dy='abc'" in said
    assert "smap='99'" in said
    assert at.slider(key="shift_dx").value == 0 and at.number_input(key="shift_map").value == 0


def test_the_measured_summary_is_plain_torchs(model) -> None:
    at = open_lab()
    deadline = time.monotonic() + 150
    while not at.metric and time.monotonic() < deadline:
        time.sleep(1.0)
        at.run()
        assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    images, _, _ = summary_images("cifar10", 1)
    flips, flip_pairs, agree, pairs = summary_by_hand(model, images, 4, 1, 0)
    assert metrics["A one-pixel shift changes the answer"] == f"{flips / flip_pairs:.1%}"
    assert metrics["Two random shifts agree (consistency)"] == f"{agree / pairs:.1%}"
    caption = next(c.value for c in at.caption if c.value.startswith("Measured by the app"))
    assert "on 30 images: the 20 gallery images and 10 held-out images" in caption
    assert f"{flips:,} of {flip_pairs:,}" in caption and f"{pairs:,} pairs in all" in caption
    claim = next(m.value for m in at.markdown if m.value.startswith("For this network"))
    assert f"**{flips / flip_pairs:.1%}**" in claim
    assert re.search(r"−4…\+4", caption)
