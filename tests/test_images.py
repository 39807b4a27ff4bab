"""explorer.images: decoding every mode and format safely, the canvas, sizes, typed matrices,
the samples and gallery, and the MNIST-style digit preparation."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from explorer import images
from explorer.errors import UserError
from explorer.images import (
    MAX_UPLOAD_BYTES,
    SAMPLES,
    ImageError,
    canvas_is_blank,
    canvas_to_rgb,
    decode_image,
    digit_like_mnist,
    digit_to_model_image,
    gallery,
    load_gallery_image,
    load_sample,
    parse_matrix,
    photo_to_model_image,
    resize_exact,
    resize_max_side,
    sample_matrix,
    to_grayscale,
)

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255,) * 3, (0,) * 3


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def two_colour_image(height: int = 8, width: int = 16) -> Image.Image:
    """Left half red, right half blue."""
    arr = np.zeros((height, width, 3), dtype=np.uint8)
    arr[:, : width // 2] = RED
    arr[:, width // 2 :] = BLUE
    return Image.fromarray(arr)


def png_claiming_size(width: int, height: int) -> bytes:
    """A valid 1×1 PNG whose IHDR is patched (with a correct CRC) to claim width×height."""
    data = bytearray(encode(Image.new("RGB", (1, 1)), "PNG"))
    # Signature (8) + IHDR length (4) + "IHDR" (4), then width and height, big-endian.
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


# ----------------------------------------------------------------------------- decode: modes


def test_gray_l_becomes_equal_rgb_channels():
    gray = np.array([[0, 100, 255]], dtype=np.uint8)
    out = decode_image(encode(Image.fromarray(gray, "L"), "PNG"))
    assert out.dtype == np.uint8 and out.shape == (1, 3, 3)
    np.testing.assert_array_equal(out, np.repeat(gray[:, :, None], 3, axis=2))


def test_la_transparent_becomes_white_and_half_alpha_blends_with_white():
    la = np.array([[[100, 0], [100, 255], [100, 128]]], dtype=np.uint8)
    out = decode_image(encode(Image.fromarray(la, "LA"), "PNG"))
    half = round(100 * 128 / 255 + 255 * 127 / 255)
    np.testing.assert_array_equal(out[0, :, 0], [255, 100, half])


def test_palette_with_transparency_composites_transparent_index_on_white():
    img = Image.new("P", (2, 1))
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putpixel((0, 0), 0)
    img.putpixel((1, 0), 1)
    out = decode_image(encode(img, "PNG", transparency=0))
    assert tuple(out[0, 0]) == WHITE and tuple(out[0, 1]) == RED


def test_rgba_transparent_pixels_become_white():
    rgba = np.array([[[0, 255, 0, 255], [0, 255, 0, 0]]], dtype=np.uint8)
    out = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(out[0, 0]) == GREEN and tuple(out[0, 1]) == WHITE


def test_cmyk_converts_to_rgb():
    cmyk = Image.new("CMYK", (2, 1))
    cmyk.putpixel((0, 0), (255, 0, 0, 0))  # pure cyan
    cmyk.putpixel((1, 0), (0, 0, 0, 255))  # pure black
    out = decode_image(encode(cmyk, "TIFF"))
    assert tuple(out[0, 0]) == (0, 255, 255) and tuple(out[0, 1]) == BLACK


def test_16_bit_gray_is_scaled_by_bit_depth_not_stretched():
    values = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    out = decode_image(encode(Image.fromarray(values), "PNG"))
    np.testing.assert_array_equal(out[0, :, 0], [0, 100, 255])
    # A dark 16-bit image stays dark: no contrast stretch.
    dark = np.array([[0, 257 * 50]], dtype=np.uint16)
    np.testing.assert_array_equal(
        decode_image(encode(Image.fromarray(dark), "TIFF"))[0, :, 0], [0, 50]
    )


def test_float_and_32_bit_images_are_stretched_over_their_range():
    floats = Image.fromarray(np.array([[0.25, 0.5, 0.75]], dtype=np.float32))
    np.testing.assert_array_equal(decode_image(encode(floats, "TIFF"))[0, :, 0], [0, 128, 255])
    ints = Image.fromarray(np.array([[-1000, 1000]], dtype=np.int32))
    np.testing.assert_array_equal(decode_image(encode(ints, "TIFF"))[0, :, 1], [0, 255])


def test_bilevel_mode_1_gives_black_and_white():
    img = Image.new("1", (2, 1))
    img.putpixel((1, 0), 1)
    out = decode_image(encode(img, "PNG"))
    assert tuple(out[0, 0]) == BLACK and tuple(out[0, 1]) == WHITE


# ----------------------------------------------------------------------------- decode: formats


@pytest.mark.parametrize(
    ("fmt", "params", "tolerance"),
    [
        ("PNG", {}, 0),
        ("BMP", {}, 0),
        ("TIFF", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("GIF", {}, 0),
        ("JPEG", {"quality": 95}, 40),  # lossy: colours near the red/blue border bleed
    ],
)
def test_every_format_round_trips_to_the_same_rgb(fmt, params, tolerance):
    img = two_colour_image()
    out = decode_image(encode(img, fmt, **params))
    assert out.shape == (8, 16, 3) and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - np.asarray(img, dtype=int))
    assert diff[:, 1:7].max() <= tolerance and diff[:, 9:15].max() <= tolerance


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (4, 4), RED), Image.new("RGB", (4, 4), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert np.all(decode_image(data) == RED)


def test_phone_jpeg_with_attached_pictures_mpo_gives_the_main_photo():
    main, attached = Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), BLUE)
    data = encode(main, "MPO", save_all=True, append_images=[attached])
    out = decode_image(data)
    assert out[..., 0].min() > 240 and out[..., 2].max() < 15


def test_exif_orientation_6_rotates_a_portrait_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = encode(two_colour_image(8, 16), "JPEG", quality=95, exif=exif.tobytes())
    out = decode_image(data)
    assert out.shape == (16, 8, 3)
    # Rotating clockwise moves the red left half to the top.
    assert out[2, 4, 0] > 200 and out[2, 4, 2] < 50
    assert out[13, 4, 2] > 200 and out[13, 4, 0] < 50


# ----------------------------------------------------------------------------- decode: refusals


def test_empty_bytes_are_refused():
    with pytest.raises(ImageError, match="could not be read as an image"):
        decode_image(b"")


def test_text_file_is_refused():
    with pytest.raises(ImageError, match="could not be read as an image"):
        decode_image(b"hello, this is not a picture\n" * 10)


def test_truncated_png_is_refused():
    data = encode(
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), "u1")), "PNG"
    )
    with pytest.raises(ImageError, match="could not be read as an image"):
        decode_image(data[: len(data) // 2])


def test_corrupt_png_is_refused():
    data = bytearray(encode(two_colour_image(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 6 : idat + 10] = b"\xff\x00\xff\x00"
    with pytest.raises(ImageError, match="could not be read as an image"):
        decode_image(bytes(data))


def test_unsupported_format_is_refused():
    with pytest.raises(ImageError, match="not a PNG, JPEG"):
        decode_image(encode(two_colour_image(), "PPM"))


def test_file_over_the_upload_limit_is_refused_by_size():
    with pytest.raises(ImageError, match="MB"):
        decode_image(b"\x89PNG" + bytes(MAX_UPLOAD_BYTES))


def test_png_claiming_20000_px_is_refused_before_decoding():
    # If decoding were attempted, the single pixel of data would give "damaged" instead.
    with pytest.raises(ImageError, match="px per side|megapixels") as caught:
        decode_image(png_claiming_size(20_000, 20_000))
    assert "damaged" not in str(caught.value)


@pytest.mark.parametrize(("width", "height"), [(20_000, 10), (8_000, 8_000), (60_000, 60_000)])
def test_too_many_pixels_or_too_long_a_side_is_refused(width, height):
    with pytest.raises(ImageError, match="px per side|megapixels"):
        decode_image(png_claiming_size(width, height))


def test_image_error_is_a_user_error():
    assert issubclass(ImageError, UserError) and issubclass(ImageError, ValueError)


# ----------------------------------------------------------------------------- canvas


def test_canvas_composites_strokes_over_the_background():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 255, 255, 255)  # an opaque white stroke
    rgba[0, 1] = (255, 255, 255, 51)  # a faint, anti-aliased edge
    out = canvas_to_rgb(rgba)
    assert tuple(out[0, 0]) == WHITE and tuple(out[0, 1]) == (51, 51, 51)
    assert tuple(out[1, 1]) == BLACK
    assert tuple(canvas_to_rgb(rgba, background=(10, 20, 30))[1, 1]) == (10, 20, 30)


def test_canvas_accepts_float_image_data():
    rgba = np.zeros((1, 2, 4), dtype=np.float64)
    rgba[0, 0] = (255.0, 0.0, 0.0, 255.0)
    out = canvas_to_rgb(rgba)
    assert out.dtype == np.uint8 and tuple(out[0, 0]) == RED and tuple(out[0, 1]) == BLACK


def test_canvas_of_the_wrong_shape_is_refused():
    with pytest.raises(ImageError):
        canvas_to_rgb(np.zeros((4, 4, 3)))


def test_canvas_is_blank_until_something_is_drawn():
    assert canvas_is_blank(None)
    assert canvas_is_blank(np.zeros((10, 10, 4), dtype=np.uint8))
    filled = np.full((10, 10, 4), 255, dtype=np.uint8)
    filled[..., :3] = 0  # opaque black background, nothing drawn: uniform
    assert canvas_is_blank(filled)
    filled[3, 4, :3] = 255
    assert not canvas_is_blank(filled)


# ----------------------------------------------------------------------------- pixels and sizes


def test_grayscale_uses_bt601_luma_rounded_to_integers():
    rgb = np.array([[RED, GREEN, BLUE, WHITE, BLACK]], dtype=np.uint8)
    gray = to_grayscale(rgb)
    assert gray.dtype == np.float64
    np.testing.assert_array_equal(gray, [[76, 150, 29, 255, 0]])


def test_grayscale_returns_gray_input_unchanged_as_float():
    gray = np.array([[1.5, 200.0]], dtype=np.float32)
    out = to_grayscale(gray)
    assert out.dtype == np.float64 and out is not gray
    np.testing.assert_array_equal(out, gray)


def test_resize_never_enlarges():
    small = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = resize_max_side(small, 100)
    np.testing.assert_array_equal(out, small)
    assert out is not small


def test_resize_shrinks_keeping_aspect_ratio_and_dtype():
    rgb = np.zeros((300, 600, 3), dtype=np.uint8)
    assert resize_max_side(rgb, 100).shape == (50, 100, 3)
    gray = np.full((600, 300), 7.25)
    out = resize_max_side(gray, 60)
    assert out.shape == (60, 30) and out.dtype == np.float64
    np.testing.assert_allclose(out, 7.25, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    height=st.integers(1, 80),
    width=st.integers(1, 80),
    max_side=st.integers(1, 80),
)
def test_resize_max_side_bounds_the_longer_side(height, width, max_side):
    out = resize_max_side(np.zeros((height, width, 3), dtype=np.uint8), max_side)
    assert max(out.shape[:2]) == min(max(height, width), max_side)
    assert min(out.shape[:2]) >= 1


def test_resize_exact_keeps_float_values_within_the_input_range():
    edge = np.zeros((8, 8))
    edge[:, 4:] = 255.0
    out = resize_exact(edge, 20, 20)  # enlarging with bicubic overshoots at the edge
    assert out.shape == (20, 20) and out.min() >= 0.0 and out.max() <= 255.0


# ----------------------------------------------------------------------------- typed matrices


def test_parse_matrix_reads_spaces_commas_brackets_and_fractions():
    np.testing.assert_array_equal(parse_matrix("1 2 3\n4,5,6\n"), [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(parse_matrix("[[1, -2], [3.5, 1e1]]"), [[1, -2], [3.5, 10]])
    np.testing.assert_allclose(parse_matrix("1/9 1/9\n\n1/9 −1"), [[1 / 9, 1 / 9], [1 / 9, -1]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("  \n \n", "empty"),
        ("1 2\n3", "Row 2 has 1 numbers but row 1 has 2"),
        ("1 2 3\n4 5 x", "Row 2, column 3: 'x' is not a number"),
        ("1 nan", "Row 1, column 2: 'nan' is not allowed"),
        ("inf 1", "Row 1, column 1: 'inf' is not allowed"),
        ("1 1e999", "too large"),
        ("1/0", "divides by zero"),
        ("__import__('os').system('true')", "is not a number"),
        ("\n".join(["1"] * 33), "33 rows"),
        (" ".join(["1"] * 33), "33 numbers"),
    ],
)
def test_parse_matrix_explains_what_is_wrong(text, message):
    with pytest.raises(ImageError, match=message.replace("(", r"\(")):
        parse_matrix(text)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(-999, 999), min_size=3, max_size=3), min_size=1, max_size=5))
def test_parse_matrix_round_trips_printed_integers(rows):
    text = "\n".join(", ".join(str(v) for v in row) for row in rows)
    np.testing.assert_array_equal(parse_matrix(text), np.array(rows, dtype=np.float64))


# ----------------------------------------------------------------------------- samples


@pytest.mark.parametrize("key", list(SAMPLES))
def test_every_sample_loads_as_rgb_uint8(key):
    img = load_sample(key)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert SAMPLES[key].description


@pytest.mark.parametrize("key", ["numbers", "checkerboard", "shapes"])
def test_matrix_samples_match_their_exact_values(key):
    values = sample_matrix(key)
    np.testing.assert_array_equal(load_sample(key)[:, :, 0], values)


def test_numbers_sample_is_one_to_twenty_five_and_photos_have_no_matrix():
    np.testing.assert_array_equal(sample_matrix("numbers").ravel(), np.arange(1, 26))
    assert sample_matrix("ship") is None
    assert load_sample("ship").shape == (128, 128, 3) and load_sample("ship_32").shape == (
        32,
        32,
        3,
    )


def test_unknown_sample_is_refused():
    with pytest.raises(ImageError, match="no sample"):
        load_sample("unicorn")


# ----------------------------------------------------------------------------- digits


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(img.shape)
    total = img.astype(float).sum()
    return (ys * img).sum() / total, (xs * img).sum() / total


def ink_box(img: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def mnist_digits() -> list[np.ndarray]:
    items = gallery("mnist")
    return [load_gallery_image(item)[2:30, 2:30, 0] for item in items]


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


def test_digit_model_image_is_the_trainer_padding_on_three_channels():
    digit = mnist_digits()[0]
    out = digit_to_model_image(digit)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    expected = np.pad(digit_like_mnist(digit), 2)
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], expected)


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


# ----------------------------------------------------------------------------- gallery


@pytest.mark.parametrize(("dataset", "side"), [("cifar10", 32), ("mnist", 28)])
def test_gallery_has_two_exact_images_per_class(dataset, side):
    items = gallery(dataset)
    assert len(items) == 20
    assert sorted(item.label for item in items) == sorted(list(range(10)) * 2)
    for item in items:
        assert item.path.is_file() and item.dataset == dataset
        assert "exact pixels" in item.source and item.label_name
        stored = np.asarray(Image.open(item.path))
        assert stored.shape[:2] == (side, side)
        loaded = load_gallery_image(item)
        assert loaded.shape == (32, 32, 3) and loaded.dtype == np.uint8
        if dataset == "cifar10":
            np.testing.assert_array_equal(loaded, stored)
        else:
            np.testing.assert_array_equal(loaded[2:30, 2:30, 1], stored)
            assert item.label_name == str(item.label)


def test_gallery_cifar_names_match_labels():
    names = {item.label: item.label_name for item in gallery("cifar10")}
    assert names[0] == "airplane" and names[3] == "cat" and names[9] == "truck"


def test_unknown_gallery_is_refused():
    with pytest.raises(ImageError):
        gallery("imagenet")


# ----------------------------------------------------------------------------- hygiene


def read_only(arr: np.ndarray) -> np.ndarray:
    arr = arr.copy()
    arr.flags.writeable = False
    return arr


def test_functions_do_not_mutate_their_inputs():
    rng = np.random.default_rng(1)
    rgb = read_only(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
    rgba = read_only(rng.integers(0, 256, (20, 20, 4), dtype=np.uint8))
    gray = read_only(rng.random((50, 30)) * 255)
    copies = [a.copy() for a in (rgb, rgba, gray)]
    to_grayscale(rgb)
    to_grayscale(gray)
    resize_max_side(rgb, 10)
    resize_exact(gray, 7, 9)
    canvas_to_rgb(rgba)
    canvas_is_blank(rgba)
    digit_like_mnist(gray)
    digit_to_model_image(rgb)
    photo_to_model_image(rgb)
    for before, after in zip(copies, (rgb, rgba, gray), strict=True):
        np.testing.assert_array_equal(before, after)


def test_images_module_does_not_import_streamlit():
    code = "import sys, explorer.images; sys.exit('streamlit' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=images.ASSETS_DIR.parent)
    assert result.returncode == 0
