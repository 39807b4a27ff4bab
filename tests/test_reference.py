"""PyTorch's conv2d, called through explorer.reference, agrees with our own conv2d."""

import numpy as np
import pytest

from explorer.convolution import ConvSettings, conv2d
from explorer.reference import max_abs_difference, torch_reference

RNG = np.random.default_rng(7)
IMAGE = RNG.integers(0, 256, size=(11, 9)).astype(np.float64)
RGB = RNG.integers(0, 256, size=(3, 8, 10)).astype(np.float64)
ASYMMETRIC = np.array([[1.0, 2.0, 0.0], [-1.0, 0.5, 3.0]])  # 2×3: flipping changes it


@pytest.mark.parametrize(
    "settings",
    [
        ConvSettings(),
        ConvSettings(padding=1),
        ConvSettings(padding=2, padding_mode="reflect"),
        ConvSettings(padding=3, padding_mode="replicate"),
        ConvSettings(stride=2),
        ConvSettings(dilation=2, padding=1),
        ConvSettings(flip=True),
        ConvSettings(padding=1, padding_mode="reflect", stride=3, dilation=2, flip=True),
    ],
    ids=repr,
)
def test_reference_equals_conv2d_on_a_gray_image(settings: ConvSettings) -> None:
    ours = conv2d(IMAGE, ASYMMETRIC, settings)
    theirs = torch_reference(IMAGE, ASYMMETRIC, settings)
    assert theirs.shape == ours.shape
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-9)
    assert max_abs_difference(IMAGE, ASYMMETRIC, settings) <= 1e-9


@pytest.mark.parametrize("channels", ["sum", "per_channel"])
def test_reference_equals_conv2d_on_three_channels(channels: str) -> None:
    settings = ConvSettings(padding=1, stride=2, flip=True)
    ours = conv2d(RGB, ASYMMETRIC, settings, channels)
    theirs = torch_reference(RGB, ASYMMETRIC, settings, channels)
    assert theirs.shape == ours.shape == ((3, 5, 5) if channels == "per_channel" else (5, 5))
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-9)


def test_flip_is_a_true_convolution() -> None:
    flipped = torch_reference(IMAGE, ASYMMETRIC, ConvSettings(flip=True))
    rotated = torch_reference(IMAGE, ASYMMETRIC[::-1, ::-1].copy(), ConvSettings())
    np.testing.assert_array_equal(flipped, rotated)


def test_a_wrong_result_is_reported_as_a_difference() -> None:
    ours = conv2d(IMAGE, ASYMMETRIC) + 0.5
    assert max_abs_difference(IMAGE, ASYMMETRIC, ours=ours) == pytest.approx(0.5)
    assert max_abs_difference(IMAGE, ASYMMETRIC, ours=ours[:-1]) == float("inf")


def test_inputs_are_not_modified() -> None:
    image, kernel = IMAGE.copy(), ASYMMETRIC.copy()
    torch_reference(image, kernel, ConvSettings(padding=1, flip=True))
    np.testing.assert_array_equal(image, IMAGE)
    np.testing.assert_array_equal(kernel, ASYMMETRIC)
