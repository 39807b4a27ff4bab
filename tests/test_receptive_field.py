"""Receptive fields, checked against gradients: a cell's gradient with respect to the input is
zero outside its field, and — over a few random images, so that every ReLU and max-pool path is
taken by one of them — non-zero on every pixel of it, the border included. A field one pixel too
small fails the first check, one pixel too large the second."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.errors import UserError
from explorer.model import SimpleCNN
from explorer.receptive_field import SPATIAL, field_steps, receptive_field


@pytest.fixture(scope="module")
def reached() -> dict:
    """For a few cells of every stage: the input pixels whose gradient is non-zero for some of
    8 random images (a generic network: seeded random weights, in float64)."""
    torch.manual_seed(0)
    net = SimpleCNN().double().eval()
    x = torch.randn(8, 3, 32, 32, dtype=torch.float64, requires_grad=True)
    s: dict[str, torch.Tensor] = {}
    h = x
    for i in (1, 2, 3):  # the forward pass, written out independently of explorer.features
        s[f"conv{i}"] = h = getattr(net, f"conv{i}")(h)
        s[f"relu{i}"] = h = torch.relu(h)
        s[f"pool{i}"] = h = net.pool(h)
    s["flatten"] = torch.flatten(h, 1)
    s["fc1"] = net.fc1(s["flatten"])
    out = {}
    for stage, value in s.items():
        if value.ndim == 4:
            side = value.shape[-1]
            picks = [(0, 0), (side // 2 - 1, side // 2), (side - 1, side - 2)]
            targets = {(1, r, c): value[:, :, r, c].sum() for r, c in picks}  # all maps at once
        elif stage == "flatten":  # position k and every other map's number at the same place
            targets = {(k,): value[:, k % 16 :: 16].sum() for k in (0, 37, 2047)}
        else:
            targets = {(k,): value[:, k].sum() for k in (0, 37, value.shape[1] - 1)}
        for cell, target in targets.items():
            (grad,) = torch.autograd.grad(target, x, retain_graph=True)
            out[stage, cell] = (grad.abs().sum(dim=1) > 0).any(dim=0).numpy()  # 32×32
    return out


def box_mask(stage: str, cell: tuple[int, ...]) -> np.ndarray:
    box = receptive_field(stage, cell)
    mask = np.zeros((32, 32), bool)
    mask[box.top : box.bottom + 1, box.left : box.right + 1] = True
    return mask


@pytest.mark.parametrize("stage", [*SPATIAL, "flatten", "fc1"])
def test_gradient_is_nonzero_exactly_on_the_receptive_field(reached, stage) -> None:
    for (name, cell), mask in reached.items():
        if name != stage:
            continue
        expected = box_mask(stage, cell)
        assert not (mask & ~expected).any(), f"{stage} {cell}: gradient outside the field"
        assert (mask == expected).all(), f"{stage} {cell}: part of the field never reached"


def test_field_sizes_grow_through_every_conv_and_pool() -> None:
    steps = field_steps()
    assert [s.stage for s in steps] == list(SPATIAL)
    assert [s.field for s in steps] == [3, 3, 4, 8, 8, 10, 18, 18, 22]
    assert [s.jump for s in steps] == [1, 1, 2, 2, 2, 4, 4, 4, 8]
    assert [s.side for s in steps] == [32, 32, 16, 16, 16, 8, 8, 8, 4]
    assert [s.start for s in steps] == [-1, -1, -1, -3, -3, -3, -7, -7, -7]


def test_the_arithmetic_is_read_from_the_layers() -> None:
    wide = SimpleCNN()
    wide.conv1 = torch.nn.Conv2d(3, 32, kernel_size=5, padding=2)
    steps = field_steps(wide)
    assert steps[0].field == 5 and steps[-1].field == 24


def test_a_box_is_clipped_to_the_image_but_keeps_its_size() -> None:
    box = receptive_field("conv3", (0, 0, 7))
    assert (box.top, box.left, box.bottom, box.right) == (0, 21, 10, 31)
    assert (box.full_top, box.full_right, box.field) == (-7, 38, 18)
    assert (box.height, box.width) == (11, 11)
    assert receptive_field("flatten", (17,)) == receptive_field("pool3", (1, 0, 1)).__class__(
        "flatten", (17,), 0, 1, 14, 22, -7, 1, 14, 22
    )


def test_the_head_sees_the_whole_image() -> None:
    for stage in ("fc1", "relu4", "dropout", "fc2", "softmax"):
        box = receptive_field(stage, (3,))
        assert (box.top, box.left, box.bottom, box.right) == (0, 0, 31, 31)


@pytest.mark.parametrize("stage, cell", [("conv9", (0, 0, 0)), ("pool2", (0, 8, 0))])
def test_a_cell_that_does_not_exist_is_a_clear_error(stage, cell) -> None:
    with pytest.raises(UserError):
        receptive_field(stage, cell)
