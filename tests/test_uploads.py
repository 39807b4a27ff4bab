"""explorer.uploads: decoding every mode and format, shrinking while decoding, memory bounds,
the canvas's data URL, and canvas pixels."""

from __future__ import annotations

import base64
import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from explorer import uploads
from explorer.pixels import ImageError, resize_max_side
from explorer.uploads import (
    CANVAS_DATA_PREFIX,
    MAX_UPLOAD_BYTES,
    canvas_is_blank,
    canvas_to_rgb,
    decode_canvas,
    decode_image,
    decode_upload,
    max_canvas_data_chars,
)

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255,) * 3, (0,) * 3
ROOT = Path(__file__).resolve().parent.parent


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


def noise(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


# ----------------------------------------------------------------------------- modes


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


def test_rgba_matches_pillows_own_compositing_onto_white():
    rgba = Image.fromarray(noise(40, 50, 4, seed=4), "RGBA")
    expected = Image.alpha_composite(Image.new("RGBA", rgba.size, WHITE + (255,)), rgba)
    out = decode_image(encode(rgba, "PNG"))
    diff = np.abs(out.astype(int) - np.asarray(expected.convert("RGB"), dtype=int))
    assert diff.max() <= 1  # Pillow rounds its own way; never more than one level apart


def test_cmyk_converts_to_rgb():
    cmyk = Image.new("CMYK", (2, 1))
    cmyk.putpixel((0, 0), (255, 0, 0, 0))  # pure cyan
    cmyk.putpixel((1, 0), (0, 0, 0, 255))  # pure black
    out = decode_image(encode(cmyk, "TIFF"))
    assert tuple(out[0, 0]) == (0, 255, 255) and tuple(out[0, 1]) == BLACK


def test_16_bit_gray_is_scaled_by_bit_depth_not_stretched():
    values = np.array([[0, 257 * 100, 65535, 257 * 7 + 128, 257 * 7 + 129]], dtype=np.uint16)
    out = decode_image(encode(Image.fromarray(values), "PNG"))
    np.testing.assert_array_equal(out[0, :, 0], np.rint(values[0] / 257))
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


def test_float_image_with_nan_and_infinity_stretches_its_finite_values():
    values = np.array([[np.nan, 1.0, 3.0, np.inf, -np.inf]], dtype=np.float32)
    out = decode_image(encode(Image.fromarray(values), "TIFF"))
    np.testing.assert_array_equal(out[0, :, 0], [0, 0, 255, 255, 0])


def test_bilevel_mode_1_gives_black_and_white():
    img = Image.new("1", (2, 1))
    img.putpixel((1, 0), 1)
    out = decode_image(encode(img, "PNG"))
    assert tuple(out[0, 0]) == BLACK and tuple(out[0, 1]) == WHITE


# ----------------------------------------------------------------------------- formats


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
    decoded = decode_upload(encode(img, fmt, **params))
    out = decoded.pixels
    assert out.shape == (8, 16, 3) and out.dtype == np.uint8
    assert decoded.format == fmt and decoded.original_size == (16, 8)
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
    decoded = decode_upload(data)
    assert decoded.pixels.shape == (16, 8, 3) and decoded.original_size == (8, 16)
    out = decoded.pixels
    # Rotating clockwise moves the red left half to the top.
    assert out[2, 4, 0] > 200 and out[2, 4, 2] < 50
    assert out[13, 4, 2] > 200 and out[13, 4, 0] < 50


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillows_exif_transpose(orientation):
    img = Image.fromarray(noise(5, 7, seed=orientation))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(img, "PNG", exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    np.testing.assert_array_equal(decode_image(data), expected)


@pytest.mark.parametrize("value", [0, 9, 65535])
def test_a_nonsense_orientation_is_ignored(value):
    img = Image.fromarray(noise(5, 7))
    exif = Image.Exif()
    exif[0x0112] = value
    np.testing.assert_array_equal(decode_image(encode(img, "PNG", exif=exif.tobytes())), img)


# ----------------------------------------------------------------------------- shrinking


@pytest.mark.parametrize(("fmt", "tolerance"), [("PNG", 1.0), ("JPEG", 4.0)])
def test_shrinking_while_decoding_is_close_to_decoding_then_shrinking(fmt, tolerance):
    # A smooth gradient with a diagonal edge: what a photo has, with no noise to alias.
    y, x = np.mgrid[0:900, 0:1300]
    rgb = np.stack([x * 255 // 1300, y * 255 // 900, np.where(x > y, 200, 40)], axis=2)
    data = encode(
        Image.fromarray(rgb.astype(np.uint8)), fmt, **({"quality": 95} if fmt == "JPEG" else {})
    )
    decoded = decode_upload(data, max_side=200)
    assert decoded.pixels.shape == (138, 200, 3) and decoded.original_size == (1300, 900)
    assert decoded.original_text == "1,300×900 px"
    reference = resize_max_side(decode_image(data), 200)
    assert np.abs(decoded.pixels.astype(int) - reference.astype(int)).mean() <= tolerance


def test_shrinking_keeps_small_pictures_as_they_are():
    img = two_colour_image(30, 20)
    np.testing.assert_array_equal(decode_image(encode(img, "PNG"), max_side=64), img)


@pytest.mark.parametrize("max_side", [None, 5])
def test_band_boundaries_do_not_show(monkeypatch, max_side):
    rgba = noise(101, 37, 4, seed=9)
    data = encode(Image.fromarray(rgba, "RGBA"), "PNG")
    whole = decode_image(data, max_side)
    monkeypatch.setattr(uploads, "_BAND_PIXELS", 37 * 3)  # three-row bands, the last partial
    np.testing.assert_array_equal(decode_image(data, max_side), whole)


def test_max_side_must_be_positive():
    with pytest.raises(ValueError):
        decode_image(encode(two_colour_image(), "PNG"), max_side=0)


# ----------------------------------------------------------------------------- refusals


def test_empty_bytes_are_refused():
    with pytest.raises(ImageError, match="could not be read as an image: the file is empty"):
        decode_image(b"")


def test_text_file_is_named():
    with pytest.raises(ImageError, match="could not be read as an image: it is a text file"):
        decode_image(b"hello, this is not a picture\n" * 10)


def test_truncated_png_is_refused():
    data = encode(Image.fromarray(noise(64, 64)), "PNG")
    with pytest.raises(ImageError, match="damaged or incomplete"):
        decode_image(data[: len(data) // 2])


def test_corrupt_png_is_refused():
    data = bytearray(encode(two_colour_image(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 6 : idat + 10] = b"\xff\x00\xff\x00"
    with pytest.raises(ImageError, match="could not be read as an image"):
        decode_image(bytes(data))


def test_a_format_pillow_reads_but_we_do_not_accept_is_named():
    with pytest.raises(ImageError, match="it is a PPM/PGM .* not accepted; upload a PNG, JPEG"):
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


def test_sizes_in_messages_are_width_by_height():
    with pytest.raises(ImageError, match="This image is 13,000×10 px"):
        decode_image(png_claiming_size(13_000, 10))


# ----------------------------------------------------------------------------- memory

# Decodes in a fresh interpreter and reports how much its peak resident memory (Pillow's C
# memory included) and NumPy's traced allocations grew during the decode, in bytes. The peak
# is the address space's high-water mark, VmHWM: unlike getrusage's ru_maxrss, which Linux
# carries over from the parent across fork and exec, it starts afresh in the new program.
_MEASURE = """
import json, sys, tracemalloc
from explorer.uploads import decode_image

def high_water_mark():
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024

decode_image(open(sys.argv[3], "rb").read())  # warm up: lazy imports, plugin registration
data = open(sys.argv[1], "rb").read()
max_side = None if sys.argv[2] == "-" else int(sys.argv[2])
before = high_water_mark()
tracemalloc.start()
decode_image(data, max_side)
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"rss": high_water_mark() - before, "traced": traced}))
"""


def decode_peak(tmp_path: Path, image: Image.Image, fmt: str, max_side: int | None) -> dict:
    if not Path("/proc/self/status").exists():
        pytest.skip("measures resident memory through Linux's /proc")
    path, warm = tmp_path / f"big.{fmt}", tmp_path / "small.png"
    image.save(path, fmt)
    Image.new("RGB", (4, 4)).save(warm)
    arg = "-" if max_side is None else str(max_side)
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), arg, str(warm)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


SIDE = 6000  # 36 megapixels, under every limit
PIXELS = SIDE * SIDE


@pytest.mark.parametrize(
    ("colour", "max_side"),
    [
        ((0, 0, 0, 0), None),  # transparent: 136 KB; once 5 GB of float temporaries
        ((0, 0, 0, 0), 1024),
        ((0, 0, 0), None),  # black: 102 KB; once ~0.5 GB
        ((0, 0, 0), 1024),
    ],
    ids=["transparent", "transparent-shrunk", "black", "black-shrunk"],
)
def test_a_large_png_needs_at_most_8_bytes_a_pixel(tmp_path, colour, max_side):
    mode = "RGBA" if len(colour) == 4 else "RGB"
    peak = decode_peak(tmp_path, Image.new(mode, (SIDE, SIDE), colour), "PNG", max_side)
    assert peak["rss"] <= 8 * PIXELS
    # NumPy's part is the 3-byte result (or its shrunk copy) plus one band's temporaries.
    assert peak["traced"] <= (3 if max_side is None else 1) * PIXELS + 32 * 2**20


def test_a_large_jpeg_shrunk_while_decoding_is_never_decoded_at_full_size(tmp_path):
    image = Image.new("RGB", (SIDE, SIDE), (30, 60, 90))
    peak = decode_peak(tmp_path, image, "JPEG", 64)
    assert peak["rss"] <= PIXELS // 4  # full size would be 4 bytes a pixel in Pillow alone


# ----------------------------------------------------------------------------- canvas data


def data_url(img: Image.Image, fmt: str = "PNG", mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(encode(img, fmt)).decode()


def test_canvas_png_is_decoded_to_rgba():
    rgba = noise(20, 30, 4)
    out = decode_canvas(data_url(Image.fromarray(rgba, "RGBA")), width=30, height=20)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 4)
    np.testing.assert_array_equal(out, rgba)


def test_canvas_without_a_drawing_gives_none():
    assert decode_canvas(None, 280, 280) is None


def test_canvas_png_of_other_modes_becomes_rgba():
    out = decode_canvas(data_url(Image.new("L", (5, 4), 77)), width=5, height=4)
    assert out.shape == (4, 5, 4) and (out[..., :3] == 77).all() and (out[..., 3] == 255).all()


def test_canvas_png_larger_than_the_canvas_is_refused_from_its_header():
    url = CANVAS_DATA_PREFIX + base64.b64encode(png_claiming_size(6000, 6000)).decode()
    with pytest.raises(ImageError, match="6,000×6,000 px, larger than the 280×280 px canvas"):
        decode_canvas(url, width=280, height=280)


def test_canvas_data_longer_than_the_canvas_can_send_is_refused_unread():
    limit = max_canvas_data_chars(280, 280)
    assert limit < 600_000  # a 280×280 canvas sends a few hundred KB at most
    with pytest.raises(ImageError, match="characters long, more than a 280×280 px canvas"):
        decode_canvas(CANVAS_DATA_PREFIX + "A" * limit, 280, 280)


def test_the_worst_honest_canvas_png_fits_the_limit():
    # Noise does not compress: the largest PNG a 280×280 canvas can produce.
    url = data_url(Image.fromarray(noise(280, 280, 4, seed=2), "RGBA"))
    assert len(url) <= max_canvas_data_chars(280, 280)
    assert decode_canvas(url, 280, 280).shape == (280, 280, 4)


def test_canvas_size_itself_is_bounded():
    with pytest.raises(ValueError):
        decode_canvas(None, 0, 280)
    with pytest.raises(ValueError):
        decode_canvas(None, 280, uploads.MAX_CANVAS_SIDE + 1)


# ----------------------------------------------------------------------------- canvas pixels


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
    with pytest.raises(ImageError, match="H×W×4"):
        canvas_to_rgb(np.zeros((4, 4, 3)))


def test_canvas_is_blank_until_something_is_drawn():
    assert canvas_is_blank(None)
    assert canvas_is_blank(np.zeros((10, 10, 4), dtype=np.uint8))
    filled = np.full((10, 10, 4), 255, dtype=np.uint8)
    filled[..., :3] = 0  # opaque black background, nothing drawn: uniform
    assert canvas_is_blank(filled)
    filled[3, 4, :3] = 255
    assert not canvas_is_blank(filled)


def test_canvas_functions_do_not_mutate_their_inputs():
    rgba = noise(20, 20, 4)
    rgba.flags.writeable = False
    copy = rgba.copy()
    canvas_to_rgb(rgba)
    canvas_is_blank(rgba)
    np.testing.assert_array_equal(rgba, copy)
