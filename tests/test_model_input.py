"""explorer.model_input: drawn digits prepared like MNIST, photos like CIFAR-10, and the one
digit padding the trainer shares."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.model_input import (
    MODEL_SIDE,
    digit_like_mnist,
    digit_to_model_image,
    pad_digit,
    pad_digits,
    photo_to_model_image,
)
from explorer.pixels import ImageError
from explorer.samples import gallery, load_gallery_image, load_sample

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(img.shape)
    total = img.astype(float).sum()
    return (ys * img).sum() / total, (xs * img).sum() / total


def ink_box(img: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def mnist_digits() -> list[np.ndarray]:
    return [load_gallery_image(item)[2:30, 2:30, 0] for item in gallery("mnist")]


def test_real_mnist_digits_come_back_as_themselves_shifted_at_most_one_pixel():
    for digit in mnist_digits():
        out = digit_like_mnist(digit)
        assert out.shape == (28, 28) and out.dtype == np.uint8
        assert max(ink_box(out)) == 20 == max(ink_box(digit))
        cy, cx = centre_of_mass(out)
        assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
        shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        assert any(np.array_equal(np.roll(digit, s, axis=(0, 1)), out) for s in shifts)


def test_small_off_centre_stroke_is_scaled_to_20_px_and_centred():
    canvas = np.zeros((280, 280), dtype=np.uint8)
    canvas[10:60, 200:208] = 255  # a short vertical bar near the top-right corner
    out = digit_like_mnist(canvas)
    height, width = ink_box(out)
    assert height == 20 and width <= 5
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_digit_accepts_a_colour_canvas():
    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    rgb[20:80, 45:55] = 255
    assert digit_like_mnist(rgb).max() > 200


@pytest.mark.parametrize("blank", [np.zeros((50, 50)), np.zeros((28, 28), dtype=np.uint8)])
def test_blank_drawing_asks_for_a_digit(blank):
    with pytest.raises(ImageError, match="Draw a digit first"):
        digit_like_mnist(blank)


def test_digit_model_image_is_two_pixels_of_black_around_on_three_channels():
    digit = mnist_digits()[0]
    out = digit_to_model_image(digit)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    expected = np.zeros((32, 32), np.uint8)
    expected[2:30, 2:30] = digit_like_mnist(digit)
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], expected)


def test_the_trainer_pads_digits_with_the_same_function_as_the_app():
    from explorer import train  # imports torch: a second or two

    digits = np.stack([d for d in mnist_digits()[:3]])  # N×28×28
    batch = train.mnist_to_32(digits)  # N×3×32×32
    assert batch.shape == (3, 3, MODEL_SIDE, MODEL_SIDE) and batch.dtype == np.uint8
    for n, digit in enumerate(digits):
        np.testing.assert_array_equal(batch[n].transpose(1, 2, 0), pad_digit(digit))
    np.testing.assert_array_equal(batch, pad_digits(digits, channel_axis=1))


def test_pad_digits_refuses_other_sizes():
    with pytest.raises(ImageError, match="28×28"):
        pad_digits(np.zeros((32, 32), np.uint8), channel_axis=-1)


def test_photo_is_centre_cropped_then_resized_to_32():
    wide = np.zeros((64, 128, 3), dtype=np.uint8)
    wide[:, :32] = RED
    wide[:, 32:96] = GREEN  # the centre square
    wide[:, 96:] = BLUE
    out = photo_to_model_image(wide)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert np.all(out == GREEN)


def test_photo_already_32_is_kept_exactly():
    img = load_sample("cat_32")
    np.testing.assert_array_equal(photo_to_model_image(img), img)


def test_functions_do_not_mutate_their_inputs():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    gray = rng.random((50, 30)) * 255
    for arr in (rgb, gray):
        arr.flags.writeable = False
    copies = [rgb.copy(), gray.copy()]
    digit_like_mnist(gray)
    digit_to_model_image(rgb)
    photo_to_model_image(rgb)
    np.testing.assert_array_equal(copies[0], rgb)
    np.testing.assert_array_equal(copies[1], gray)
