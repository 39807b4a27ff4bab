"""Bad input ends in a sentence, never a traceback, a hang or a memory blow-up.

Every file, text and data URL here is generated in code. Each case must either be used
correctly or raise the module's UserError subclass (ImageError, KernelError) whose message
says what is wrong, within a time budget measured against honest input on this machine, and
with bounded NumPy memory (tracemalloc; Pillow's own memory is bounded by the header checks
that refuse bombs before decoding, and measured in tests/test_uploads.py).
"""

from __future__ import annotations

import base64
import io
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from explorer.kernels import KernelError, parse_cell, parse_kernel, parse_kernel_text
from explorer.numbers import parse_matrix
from explorer.pixels import ImageError
from explorer.uploads import CANVAS_DATA_PREFIX, decode_canvas, decode_image, decode_upload

FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
MAX_TRACED = 32 * 2**20  # NumPy memory any single hostile case may use


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def noise_image(side: int = 48, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).convert(mode)


def sample_file(fmt: str) -> bytes:
    return encode(noise_image(), fmt, **({"quality": 90} if fmt == "JPEG" else {}))


def is_sentence(message: str) -> bool:
    """One or a few plain sentences: a capital first, a full stop last, no traceback."""
    return (
        message[:1].isupper()
        and message.rstrip().endswith((".", ".)"))
        and "Traceback" not in message
        and len(message) < 400
    )


def measured(call: Callable[[], object]) -> tuple[object, float, int]:
    """(result or raised UserError, CPU seconds, peak traced bytes) of ``call()``."""
    tracemalloc.start()
    start = time.process_time()
    try:
        result: object = call()
    except (ImageError, KernelError) as exc:
        result = exc
    finally:
        seconds = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, seconds, peak


@pytest.fixture(scope="module")
def upload_budget() -> float:
    """CPU seconds to decode an honest 1000×1000 photo-like PNG, the fastest of three: no
    hostile file here may cost more."""
    data = encode(noise_image(1000), "PNG")
    return min(measured(lambda: decode_image(data))[1] for _ in range(3))


def refused_upload(data: bytes, budget: float, *words: str) -> str:
    result, seconds, peak = measured(lambda: decode_image(data))
    assert isinstance(result, ImageError), f"decoded instead of refused: {type(result)}"
    message = str(result)
    assert is_sentence(message), message
    for word in words:
        assert word in message
    assert seconds <= budget and peak <= MAX_TRACED
    return message


def used_or_refused(data: bytes, budget: float) -> None:
    """A damaged file that may still decode (a lost trailer byte): either way, no surprise."""
    result, seconds, peak = measured(lambda: decode_image(data))
    if isinstance(result, ImageError):
        assert is_sentence(str(result)) and "could not be read" in str(result)
    else:
        assert isinstance(result, np.ndarray) and result.dtype == np.uint8
        assert result.ndim == 3 and result.shape[2] == 3
    assert seconds <= budget and peak <= MAX_TRACED


# ============================================================================ uploads


def test_zero_bytes(upload_budget):
    refused_upload(b"", upload_budget, "could not be read as an image", "empty")


@pytest.mark.parametrize("size", [1, 2, 3, 8, 16, 100, 1000, 65_536])
@pytest.mark.parametrize("seed", range(4))
def test_random_bytes(upload_budget, size, seed):
    data = np.random.default_rng(seed).bytes(size)
    refused_upload(data, upload_budget, "could not be read as an image")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("keep", [1, 4, 8, 16, 40, 0.25, 0.5])
def test_truncated_files_of_every_format(upload_budget, fmt, keep):
    data = sample_file(fmt)
    cut = data[: keep if isinstance(keep, int) else int(len(data) * keep)]
    refused_upload(cut, upload_budget, "could not be read as an image")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("keep", [0.75, 0.9, 0.99, -1])
def test_nearly_complete_files_of_every_format(upload_budget, fmt, keep):
    data = sample_file(fmt)
    used_or_refused(data[: keep if keep == -1 else int(len(data) * keep)], upload_budget)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("where", [0.1, 0.3, 0.5, 0.7, 0.95])
def test_files_with_damaged_bytes(upload_budget, fmt, where):
    data = bytearray(sample_file(fmt))
    at = int(len(data) * where)
    data[at : at + 16] = np.random.default_rng(at).bytes(16)
    used_or_refused(bytes(data), upload_budget)


def patched(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


def png_claiming(width: int, height: int) -> bytes:
    data = bytearray(patched(encode(Image.new("RGB", (1, 1)), "PNG"), 16, ">II", width, height))
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    data = encode(Image.new("RGB", (8, 8)), "JPEG")
    sof = data.index(b"\xff\xc0")
    return patched(data, sof + 5, ">HH", height, width)


def gif_claiming(width: int, height: int) -> bytes:
    data = encode(Image.new("P", (1, 1)), "GIF")
    data = patched(data, 6, "<HH", width, height)  # the logical screen
    descriptor = data.index(b"\x2c")
    return patched(data, descriptor + 5, "<HH", width, height)


def bmp_claiming(width: int, height: int) -> bytes:
    return patched(encode(Image.new("RGB", (1, 1)), "BMP"), 18, "<ii", width, height)


def webp_claiming(width: int, height: int) -> bytes:
    data = encode(Image.new("RGB", (1, 1)), "WEBP", lossless=True)
    chunk = data.index(b"VP8L")
    bits = (width - 1) | ((height - 1) << 14)  # 14 bits each, after the signature byte 0x2f
    return patched(
        data,
        chunk + 9,
        "<I",
        bits | (struct.unpack_from("<I", data, chunk + 9)[0] & ~((1 << 28) - 1)),
    )


def tiff_claiming(width: int, height: int) -> bytes:
    img = Image.new("L", (1, 1))
    info = {256: width, 257: height}
    data = bytearray(encode(img, "TIFF"))
    # Patch the ImageWidth (256) and ImageLength (257) entries of the first IFD in place.
    ifd = struct.unpack_from("<I", data, 4)[0]
    for n in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * n
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in info:
            struct.pack_into("<I" if kind == 4 else "<H", data, entry + 8, info[tag])
    return bytes(data)


BOMBS = {
    "png-60000²": png_claiming(60_000, 60_000),
    "png-20000×10": png_claiming(20_000, 10),
    "png-8000²": png_claiming(8_000, 8_000),
    "png-4G×4G": png_claiming(2**31 - 1, 2**31 - 1),
    "jpeg-65535²": jpeg_claiming(65_535, 65_535),
    "jpeg-65535×1": jpeg_claiming(65_535, 1),
    "gif-65535²": gif_claiming(65_535, 65_535),
    "bmp-100000²": bmp_claiming(100_000, 100_000),
    "bmp-negative": bmp_claiming(-50_000, 50_000),
    "webp-16384²": webp_claiming(16_384, 16_384),
    "tiff-50000²": tiff_claiming(50_000, 50_000),
}


@pytest.mark.parametrize("data", BOMBS.values(), ids=BOMBS.keys())
def test_decompression_bombs_are_refused_from_the_header(upload_budget, data):
    message = refused_upload(data, upload_budget)
    assert any(w in message for w in ("megapixels", "px per side", "could not be read"))


@pytest.mark.parametrize(("width", "height"), [(1, 20_000), (20_000, 1), (12_001, 1)])
def test_too_long_a_side_is_refused_naming_the_size(upload_budget, width, height):
    data = encode(Image.new("L", (width, height), 200), "PNG")
    refused_upload(data, upload_budget, f"{width:,}×{height:,} px", "at most 12,000 px")


@pytest.mark.parametrize(("width", "height"), [(1, 12_000), (12_000, 1), (2, 9_000)])
def test_extreme_aspect_ratios_within_the_limits_decode(upload_budget, width, height):
    data = encode(Image.new("L", (width, height), 200), "PNG")
    result, seconds, peak = measured(lambda: decode_upload(data, max_side=1024))
    assert result.original_size == (width, height)
    assert max(result.pixels.shape[:2]) == 1024 and min(result.pixels.shape[:2]) >= 1
    assert seconds <= upload_budget and peak <= MAX_TRACED


MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I"]
MODES += ["I;16", "I;16B", "F", "RGBX", "RGBa"]


def saveable(mode: str, fmt: str) -> bytes | None:
    try:
        return encode(noise_image(16, "RGB", seed=3).convert("RGBA").convert(mode), fmt)
    except (OSError, ValueError, KeyError):
        return None


MODE_FILES = {
    f"{mode}-{fmt}": data
    for mode in MODES
    for fmt in FORMATS
    if (data := saveable(mode, fmt)) is not None
}


@pytest.mark.parametrize("data", MODE_FILES.values(), ids=MODE_FILES.keys())
def test_every_pillow_mode_in_every_format_that_stores_it_decodes_to_rgb(upload_budget, data):
    result, seconds, peak = measured(lambda: decode_image(data))
    assert isinstance(result, np.ndarray) and result.dtype == np.uint8
    assert result.shape == (16, 16, 3)
    assert seconds <= upload_budget and peak <= MAX_TRACED


def test_the_mode_cases_cover_what_the_issue_lists():
    stored = {key.rsplit("-", 1)[0] for key in MODE_FILES}
    assert {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "I", "F"} <= stored
    assert {"I;16", "I;16B"} <= stored


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:])


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "TIFF", "PNG"])
def test_animations_and_multi_page_files_give_their_first_frame(upload_budget, fmt):
    data = animated(fmt)
    result, seconds, _ = measured(lambda: decode_image(data))
    assert result[..., 0].min() > 240 and result[..., 2].max() < 15
    assert seconds <= upload_budget


def broken_exif(kind: str) -> bytes:
    if kind == "random":
        return b"Exif\x00\x00" + np.random.default_rng(1).bytes(200)
    if kind == "truncated":
        exif = Image.Exif()
        exif[0x0112] = 6
        return exif.tobytes()[:12]
    if kind == "loop":  # an IFD whose next-IFD offset points back at itself
        header = b"Exif\x00\x00II*\x00\x08\x00\x00\x00"
        orientation = b"\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00\x00\x00"
        return header + orientation + b"\x08\x00\x00\x00"
    if kind == "huge-count":
        return b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + bytes(64)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = bytearray(exif.tobytes())
    struct.pack_into("<H", data, 18, 12)  # orientation stored as a double
    return bytes(data)


@pytest.mark.parametrize("kind", ["random", "truncated", "loop", "huge-count", "wrong-type"])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_broken_exif_never_costs_the_picture(upload_budget, fmt, kind):
    try:
        data = encode(noise_image(16), fmt, exif=broken_exif(kind))
    except Exception:  # pragma: no cover — Pillow refusing to write it is fine too
        pytest.skip(f"Pillow cannot write {kind} EXIF into {fmt}")
    result, seconds, _ = measured(lambda: decode_image(data))
    assert isinstance(result, np.ndarray) and result.shape[2] == 3
    assert sorted(result.shape[:2]) == [16, 16]
    assert seconds <= upload_budget


def pillow_file(fmt: str) -> bytes:
    return encode(Image.new("RGB", (16, 16), (10, 20, 30)), fmt)


OTHER_FILES = {
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "a PDF document"),
    "pdf-pillow": (pillow_file("PDF"), "a PDF document"),
    "eps": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "an EPS/PostScript file"),
    "eps-pillow": (pillow_file("EPS"), "an EPS/PostScript file"),
    "eps-binary": (b"\xc5\xd0\xd3\xc6" + bytes(28), "an EPS/PostScript file"),
    "zip": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40), "a ZIP archive"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "an SVG drawing"),
    "svg-xml": (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "an SVG"),
    "svg-bom": (b"\xef\xbb\xbf  <svg></svg>", "an SVG drawing"),
    "ico": (pillow_file("ICO"), "an ICO icon"),
    "psd": (b"8BPS\x00\x01" + bytes(20), "a Photoshop (PSD) file"),
    "heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "a HEIC photo"),
    "avif": (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", "an AVIF image"),
    "ppm": (pillow_file("PPM"), "a PPM/PGM (Netpbm) image"),
    "jpeg2000": (pillow_file("JPEG2000"), "a JPEG 2000 image"),
    "qoi": (pillow_file("QOI"), "a QOI image"),
    "dds": (pillow_file("DDS"), "a DDS texture"),
    "sgi": (pillow_file("SGI"), "an SGI image"),
    "gzip": (zlib.compress(b"x") and b"\x1f\x8b\x08\x00" + bytes(20), "a gzip archive"),
    "html": (b"<!DOCTYPE html><html><body>hi</body></html>", "a web page (HTML)"),
    "text": (b"these are my notes, not a picture\n" * 5, "a text file"),
    "csv": (b"1,2,3\n4,5,6\n", "a text file"),
    "elf": (b"\x7fELF\x02\x01\x01" + bytes(40), "a program"),
    "exe": (b"MZ\x90\x00" + bytes(60), "a Windows program"),
}


@pytest.mark.parametrize(("data", "what"), OTHER_FILES.values(), ids=OTHER_FILES.keys())
def test_other_file_types_are_named(upload_budget, data, what):
    message = refused_upload(data, upload_budget, what, "not accepted")
    assert "upload a PNG, JPEG, WebP, BMP, GIF or TIFF image" in message


@pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning")
@pytest.mark.parametrize("fmt", ["TGA", "PCX", "IM", "SPIDER"])
def test_formats_pillow_could_read_are_never_handed_to_their_plugins(upload_budget, fmt):
    refused_upload(pillow_file(fmt), upload_budget, "could not be read as an image")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_content_decides_not_the_file_name(fmt):
    # decode_image never sees a name: a JPEG called photo.png is read as the JPEG it is.
    assert decode_upload(sample_file(fmt)).format == fmt


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_byte_like_uploads_are_accepted(kind):
    assert decode_image(kind(sample_file("PNG"))).shape == (48, 48, 3)


@pytest.mark.parametrize("value", [None, "a string", 42, ["list"]])
def test_uploads_that_are_not_bytes_are_refused(upload_budget, value):
    refused_upload(value, upload_budget, "no file data arrived")  # type: ignore[arg-type]


# ============================================================================ kernels


@pytest.fixture(scope="module")
def kernel_budget() -> float:
    """CPU seconds to parse an honest 7×7 kernel of fractions, the fastest of five."""
    cells = [["-3/16"] * 7] * 7
    return min(measured(lambda: parse_kernel(cells))[1] for _ in range(5))


def refused_kernel(call: Callable[[], object], budget: float, *words: str) -> str:
    result, seconds, peak = measured(call)
    assert isinstance(result, KernelError), f"accepted instead of refused: {result!r}"
    message = str(result)
    assert is_sentence(message), message
    for word in words:
        assert word in message, message
    # 20× leaves room for a busy machine; the old parser took seconds (10⁴–10⁶×).
    assert seconds <= 20 * budget + 0.005 and peak <= MAX_TRACED
    return message


BAD_CELLS = {
    # text that is not a number
    "word": ("abc", "'abc' is not a number"),
    "python": ("__import__('os')", "is not a number"),
    "power": ("2**3", "is not a number"),
    "underscore": ("1_000", "is not a number"),
    "hex": ("0x1F", "is not a number"),
    "comma-decimal": ("1,5", "is not a number"),
    "half": ("½", "is not a number"),
    "arabic": ("٣", "is not a number"),
    "fullwidth": ("１", "is not a number"),
    "two-dots": ("1.2.3", "is not a number"),
    "two-slashes": ("1/2/3", "is not a number"),
    "lonely-e": ("e", "is not a number"),
    "lonely-sign": ("-", "is not a number"),
    "double-sign": ("+-1", "is not a number"),
    "newline": ("1\n2", "is not a number"),
    "nul": ("1\x00", "is not a number"),
    "emoji": ("🙂", "is not a number"),
    "percent": ("50%", "is not a number"),
    "empty-fraction": ("1/", "is not a number"),
    # NaN and infinity
    "nan": ("nan", "cannot be used"),
    "NaN": ("NaN", "cannot be used"),
    "-nan": ("-nan", "cannot be used"),
    "inf": ("inf", "infinity"),
    "+inf": ("+inf", "infinity"),
    "Infinity": ("Infinity", "infinity"),
    "-Infinity": ("−Infinity", "infinity"),
    "fraction-nan": ("nan/2", "cannot be used"),
    "float-nan": (float("nan"), "is empty"),
    "np-nan": (np.float32("nan"), "is empty"),
    "float-inf": (float("inf"), "too large"),
    "np-inf": (np.float32("-inf"), "too large"),
    "decimal-nan": (Decimal("NaN"), "holds a Decimal"),
    # overflow and range
    "1e309": ("1e309", "overflows"),
    "-1e309": ("-1e309", "overflows"),
    "39-nines": ("9" * 39, "too large"),
    "fraction-overflow": ("1e300/1e-300", "overflows"),
    "big-int": (10**400, "too large"),
    "1e7": (1e7, "too large"),
    "-1e6-and-a-bit": ("-1000000.5", "too large"),
    # subnormals and underflow
    "smallest-subnormal": ("5e-324", "too close to zero"),
    "subnormal": ("2e-310", "too close to zero"),
    "np-subnormal": (np.float64(5e-324), "too close to zero"),
    "float64-subnormal": (np.float64(1e-310), "too close to zero"),
    "underflow": ("1e-400", "too close to zero"),
    "fraction-underflow": ("1/1e300", "too close to zero"),
    # division by zero
    "1/0": ("1/0", "divides by zero"),
    "0/0": ("0/0", "divides by zero"),
    "1/0.0e5": ("1/0.0e5", "divides by zero"),
    # huge cells
    "3000-chars": ("1" * 1500 + "/" + "1" * 1498 + "x", "3,000 characters long"),
    "100k-digits": ("1" * 100_000 + "e", "100,001 characters long"),
    "41-chars": ("1" * 41, "at most 40"),
    # empty cells and wrong types
    "empty": ("", "is empty"),
    "spaces": ("   \t", "is empty"),
    "none": (None, "is empty"),
    "true": (True, "True is not a number"),
    "np-bool": (np.bool_(True), "True is not a number"),
    "bytes": (b"1", "holds a bytes"),
    "list": ([1], "holds a list"),
    "dict": ({"a": 1}, "holds a dict"),
    "complex": (1 + 2j, "holds a complex"),
    "object": (object(), "holds a object"),
}


@pytest.mark.parametrize(("cell", "words"), BAD_CELLS.values(), ids=BAD_CELLS.keys())
def test_bad_kernel_cells(kernel_budget, cell, words):
    refused_kernel(lambda: parse_cell(cell, 4, 5), kernel_budget, "Row 4, column 5", words)
    grid = [["0", "0"], ["0", cell]]
    refused_kernel(lambda: parse_kernel(grid), kernel_budget, "Row 2, column 2", words)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Fraction(1, 4), 0.25), (np.float16(0.5), 0.5), (np.uint8(200), 200.0), ("1e6", 1e6)],
)
def test_unusual_but_fine_cells_are_accepted(value, expected):
    assert parse_cell(value, 1, 1) == expected


BAD_GRIDS = {
    "0×0": ([], "empty"),
    "1×0": ([[]], "empty"),
    "0×0-array": (np.zeros((0, 0)), "empty"),
    "3×0-array": (np.zeros((3, 0)), "empty"),
    "ragged": ([[1, 2, 3], [1, 2]], "Row 2 has 2 numbers but row 1 has 3"),
    "ragged-longer": ([[1], [1, 2]], "Row 2 has 2 numbers but row 1 has 1"),
    "8×8": (np.ones((8, 8)), "8×8"),
    "8×8-list": ([[1] * 8] * 8, "8×8"),
    "1000×1000": (np.ones((1000, 1000)), "1000×1000"),
    "1000×1000-list": ([[1] * 1000] * 1000, "1000×1000"),
    "1×100000": ([[0] * 100_000], "1×100000"),
    "100000×1": ([[0]] * 100_000, "100000×1"),
    "3-d": (np.ones((3, 3, 3)), "3 dimension(s)"),
    "1-d": (np.ones(3), "1 dimension(s)"),
    "0-d": (np.float64(1.0), "list of rows"),
    "string": ("1 2 3", "list of rows"),
    "bytes": (b"\x01\x02", "list of rows"),
    "flat-list": ([1, 2, 3], "Row 1 of the kernel is not a list of numbers"),
    "row-string": (["123"], "Row 1 of the kernel is not a list"),
    "none": (None, "list of rows"),
    "dict": ({"a": [1]}, "list of rows"),
    "nan-array": (np.array([[1.0, np.nan]]), "Row 1, column 2 is empty"),
    "inf-array": (np.array([[np.inf]]), "too large"),
    "complex-array": (np.array([[1j]]), "holds a complex"),
    "object-array": (np.array([[None, 1]], dtype=object), "Row 1, column 1 is empty"),
}


@pytest.mark.parametrize(("grid", "words"), BAD_GRIDS.values(), ids=BAD_GRIDS.keys())
def test_bad_kernel_grids(kernel_budget, grid, words):
    refused_kernel(lambda: parse_kernel(grid), kernel_budget, words)


BAD_TEXTS = {
    "empty": ("", "empty"),
    "blank": ("  \n\t\n ", "empty"),
    "words": ("one two\nthree four", "Row 1, column 1: 'one' is not a number"),
    "ragged": ("1 2\n3", "Row 2 has 1 number but row 1 has 2"),
    "8×8": ("\n".join(["1 " * 8] * 8), "8×8"),
    "1000×1000": ("\n".join(["1"] * 1000), "1000×1"),
    "too-long": ("1 " * 50_000, "characters long"),
    "nan": ("1 nan", "'nan' means"),
    "inf": ("inf 1", "infinity"),
    "overflow": ("1e309", "overflows"),
    "subnormal": ("1e-310 1", "too close to zero"),
    "huge-cell": ("1" * 5000 + "x", "5,001 characters long"),
    "unclosed": ("[[1, 2], [3, 4]", "brackets"),
    "unopened": ("1, 2]]", "brackets"),
    "outside": ("[[1,2]] + 1", "brackets"),
    "numpy-call": ("np.array([[1, 2]])", "brackets"),
    "nested-number": ("[1, [2, 3]]", "brackets"),
    "many-brackets": ("[" * 5000 + "]" * 5000, "brackets"),
    "only-open": ("[" * 9999, "brackets"),
    "empty-brackets": ("[[]]", "empty"),
    "code": ("__import__('os').system('ls')", "is not a number"),
    "lambda": ("(lambda: 1)()", "is not a number"),
    "not-text": (b"1 2", "must be a string"),
}


@pytest.mark.parametrize(("text", "words"), BAD_TEXTS.values(), ids=BAD_TEXTS.keys())
def test_bad_kernel_texts(kernel_budget, text, words):
    refused_kernel(lambda: parse_kernel_text(text), kernel_budget, words)


# ============================================================================ typed matrices


@pytest.fixture(scope="module")
def matrix_budget() -> float:
    """CPU seconds to parse an honest 32×32 matrix of fractions, the fastest of three."""
    text = "\n".join(" ".join(["-3/16"] * 32) for _ in range(32))
    return min(measured(lambda: parse_matrix(text))[1] for _ in range(3))


def refused_matrix(text: str, budget: float, *words: str) -> None:
    result, seconds, peak = measured(lambda: parse_matrix(text))
    assert isinstance(result, ImageError), f"accepted instead of refused: {result!r}"
    assert is_sentence(str(result)), str(result)
    for word in words:
        assert word in str(result), str(result)
    assert seconds <= 2 * budget + 0.005 and peak <= MAX_TRACED


TEXT_CELLS = {
    k: v for k, v in BAD_CELLS.items() if isinstance(v[0], str) and 0 < len(v[0].strip()) < 5000
}
TEXT_CELLS = {k: v for k, v in TEXT_CELLS.items() if not ({",", "\n"} & set(v[0]))}


@pytest.mark.parametrize(("cell", "words"), TEXT_CELLS.values(), ids=TEXT_CELLS.keys())
def test_bad_cells_in_a_typed_matrix(matrix_budget, cell, words):
    refused_matrix(f"1 2 3\n4 5 {cell}", matrix_budget, "Row 2, column 3", words)


BAD_MATRICES = {
    "empty": ("", "The matrix is empty"),
    "separators-only": (",;,;\n[]", "The matrix is empty"),
    "ragged": ("1 2 3\n4 5", "Row 2 has 2 numbers but row 1 has 3"),
    "33-rows": ("\n".join(["1"] * 33), "33 rows; at most 32"),
    "33-columns": (" ".join(["1"] * 33), "Row 1 has 33 numbers; at most 32"),
    "1000×1000": ("\n".join([" ".join(["1"] * 1000)] * 1000), "far too much for a matrix"),
    "100k-digits": ("1" * 100_000 + "e", "far too much"),
    "semicolon-rows-ragged": ("1 2; 3", "Row 2 has 1 number but row 1 has 2"),
    "1e308-overflows-conv": ("1e308 1\n1 1", "'1e308' is too large"),
}


@pytest.mark.parametrize(("text", "words"), BAD_MATRICES.values(), ids=BAD_MATRICES.keys())
def test_bad_typed_matrices(matrix_budget, text, words):
    refused_matrix(text, matrix_budget, words)


def test_a_decimal_comma_reads_as_two_numbers_not_an_error():
    assert parse_matrix("1,5 2,5").tolist() == [[1, 5, 2, 5]]


# ============================================================================ canvas data


def png_url(img: Image.Image) -> str:
    return CANVAS_DATA_PREFIX + base64.b64encode(encode(img, "PNG")).decode()


def url_of(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


BIG_BLACK_PNG = encode(Image.new("RGB", (6000, 6000)), "PNG")  # ~100 KB, 1 GB to decode naively
VALID = png_url(Image.new("RGBA", (4, 4), (255, 255, 255, 255)))

BAD_CANVAS = {
    "eps": (url_of(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n"), "an EPS/PostScript"),
    "eps-mime": (url_of(pillow_file("EPS"), "application/postscript"), "not 'data:application"),
    "jpeg": (url_of(pillow_file("JPEG")), "not a PNG picture"),
    "jpeg-mime": (url_of(pillow_file("JPEG"), "image/jpeg"), "not 'data:image/jpeg;base64'"),
    "gif": (url_of(pillow_file("GIF")), "not a PNG picture"),
    "webp": (url_of(pillow_file("WEBP")), "not a PNG picture"),
    "bmp": (url_of(pillow_file("BMP")), "not a PNG picture"),
    "tiff": (url_of(pillow_file("TIFF")), "not a PNG picture"),
    "svg": (url_of(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), "an SVG drawing"),
    "svg-mime": (url_of(b"<svg/>", "image/svg+xml"), "not 'data:image/svg+xml;base64'"),
    "pdf": (url_of(b"%PDF-1.4\n"), "a PDF document"),
    "6000²-png": (url_of(BIG_BLACK_PNG), "6,000×6,000 px, larger than the 280×280 px canvas"),
    "281-wide": (png_url(Image.new("RGBA", (281, 10))), "281×10 px, larger than"),
    "281-tall": (png_url(Image.new("RGBA", (10, 281))), "10×281 px, larger than"),
    "claims-60000²": (url_of(png_claiming(60_000, 60_000)), "60,000×60,000 px"),
    "claims-4G": (url_of(png_claiming(2**31 - 1, 1)), "larger than"),
    "garbage-base64": (CANVAS_DATA_PREFIX + "!!!not base64!!!", "not valid base64"),
    "bad-padding": (CANVAS_DATA_PREFIX + "abc", "not valid base64"),
    "whitespace": (CANVAS_DATA_PREFIX + "iVBO Rw0K", "not valid base64"),
    "non-ascii": (CANVAS_DATA_PREFIX + "ÿÿÿÿ", "not valid base64"),
    "empty-payload": (CANVAS_DATA_PREFIX, "not a PNG picture"),
    "random-bytes": (url_of(np.random.default_rng(0).bytes(3000)), "not a PNG picture"),
    "png-signature-only": (url_of(b"\x89PNG\r\n\x1a\n"), "the PNG is damaged"),
    "truncated-png": (url_of(base64.b64decode(VALID[22:])[:40]), "the PNG is damaged"),
    "header-only": (url_of(base64.b64decode(VALID[22:])[:20]), "it has no header"),
    "bad-crc": (
        url_of(bytes(b ^ (i == 30) for i, b in enumerate(base64.b64decode(VALID[22:])))),
        "the PNG is damaged",
    ),
    "huge-string": (CANVAS_DATA_PREFIX + "A" * 10_000_000, "characters long, more than"),
    "huge-other": ("x" * 10_000_000, "characters long"),
    "no-base64": ("data:image/png,rawbytes", "should be a PNG picture"),
    "uppercase": ("DATA:IMAGE/PNG;BASE64," + VALID[22:], "should be a PNG picture"),
    "http-url": ("https://example.com/x.png", "should be a PNG picture"),
    "javascript": ("javascript:alert(1)", "should be a PNG picture"),
    "file-url": ("file:///etc/passwd", "should be a PNG picture"),
    "empty-string": ("", "should be a PNG picture"),
    "bytes": (b"data:image/png;base64,", "arrived as bytes, not as text"),
    "number": (42, "arrived as int"),
    "list": ([VALID], "arrived as list"),
    "dict": ({"data": VALID}, "arrived as dict"),
}


@pytest.mark.parametrize(("url", "words"), BAD_CANVAS.values(), ids=BAD_CANVAS.keys())
def test_forged_canvas_data(url, words):
    honest = png_url(
        Image.fromarray(
            np.random.default_rng(1).integers(0, 256, (280, 280, 4), dtype=np.uint8), "RGBA"
        )
    )
    budget = min(measured(lambda: decode_canvas(honest, 280, 280))[1] for _ in range(3))
    result, seconds, peak = measured(lambda: decode_canvas(url, 280, 280))
    assert isinstance(result, ImageError), f"accepted: {type(result)}"
    message = str(result)
    assert message.startswith("The drawing could not be read: ") and is_sentence(message)
    assert words in message, message
    assert seconds <= 5 * budget + 0.01 and peak <= MAX_TRACED


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "LA", "P", "1", "I;16"])
def test_canvas_pngs_of_any_mode_within_the_size_are_used(mode):
    url = png_url(Image.new("RGBA", (30, 20), (200, 100, 50, 255)).convert(mode))
    out = decode_canvas(url, 280, 280)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 4)
