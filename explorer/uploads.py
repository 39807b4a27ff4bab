"""Pictures from outside: uploaded files and the drawing canvas's data, decoded safely.

Both come from the browser and may be hostile: anything can be renamed ``.png``, and a
modified client can send the canvas component any data at all. So the byte size, the format
and the pixel size are checked from the header before a pixel is decoded; only the formats
we trust reach Pillow's parsers; and decoding works a band of rows at a time in 8-bit
integers, so memory stays within about 8 bytes per pixel of the file (a 140 KB PNG of
6000×6000 transparent pixels once needed 5 GB of float temporaries).

Results are H×W×3 uint8 RGB (the canvas: H×W×4 RGBA). Sizes in messages are width×height px.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from explorer.pixels import MAX_SIDE, WHITE, ImageError, composite, resize_max_side

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the same limit as Streamlit's uploader
MAX_PIXELS = 40_000_000  # ≤ 160 MB decoded (4 bytes a pixel); checked from the header first
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
# The file endings the upload widgets offer for those formats (decode_image checks the bytes).
UPLOAD_EXTENSIONS = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
# The canvas sends a PNG of the size it was asked for; no page asks for more than this.
MAX_CANVAS_SIDE = 2048
CANVAS_DATA_PREFIX = "data:image/png;base64,"

_UNREADABLE = "This file could not be read as an image: "
_UPLOAD_THESE = "upload a PNG, JPEG, WebP, BMP, GIF or TIFF image instead."
# Pixels converted per band: the band's temporaries (a crop, its 8-bit conversion, 16-bit
# compositing) stay around 10 MB, a few percent of a large picture.
_BAND_PIXELS = 1 << 18
# Shrink by whole-pixel averaging (cheap, exact) to about twice the target, then Lanczos the
# rest of the way: the same "reducing gap" Pillow's thumbnail uses.
_REDUCING_GAP = 2
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# EXIF orientation → the NumPy steps that show the picture upright (the same as
# PIL.ImageOps.exif_transpose: 6 = "rotate 90° clockwise to display", as phones write
# portraits).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """An upload decoded: ``pixels`` is H×W×3 uint8 RGB (shrunk when asked to), upright;
    ``original_size`` is the picture's (width, height) before shrinking, upright too."""

    pixels: np.ndarray
    original_size: tuple[int, int]
    format: str  # as Pillow names it: "PNG", "JPEG", …

    @property
    def original_text(self) -> str:
        """``"4000×3000 px"``: the original size, width first."""
        width, height = self.original_size
        return f"{width:,}×{height:,} px"


# ----------------------------------------------------------------------------- uploads


def decode_image(data: bytes, max_side: int | None = None) -> np.ndarray:
    """Uploaded file bytes → H×W×3 uint8 RGB, upright; see ``decode_upload``."""
    return decode_upload(data, max_side).pixels


def decode_upload(data: bytes, max_side: int | None = None) -> DecodedImage:
    """Uploaded file bytes → the picture as H×W×3 uint8 RGB, with its original size.

    ``max_side``: shrink so the longer side is at most this many px (aspect ratio kept), and
    do it while decoding — JPEGs decode at 1/2, 1/4 or 1/8 scale directly — which is cheaper
    than decoding everything and shrinking afterwards. None keeps the full size.

    The byte size, format, pixel count and side lengths are checked from the header before
    any pixel is decoded, so a "decompression bomb" costs nothing. The EXIF orientation is
    applied (phones store portraits sideways and say so in EXIF); animated GIF/WebP and
    multi-page TIFF give their first frame; transparent areas are composited onto white, the
    colour a viewer shows them on; 16-bit gray is scaled by its bit depth, 32-bit and float
    gray stretched over their range. Peak memory is at most ~8 bytes per pixel of the file.

    Raises ImageError (never a Pillow exception) for empty, oversized, corrupt, truncated or
    non-image data, naming the kind of file where it can tell (a PDF, an SVG, …).
    """
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be at least 1, not {max_side}")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageError(_UNREADABLE + "no file data arrived.")
    nbytes = memoryview(data).nbytes
    if nbytes == 0:
        raise ImageError(_UNREADABLE + "the file is empty.")
    if nbytes > MAX_UPLOAD_BYTES:
        raise ImageError(
            f"This file is {nbytes / 1024 / 1024:.1f} MB; images up to "
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB can be uploaded."
        )
    data = bytes(data)
    try:
        # Pillow warns (and, at twice its limit, raises) for huge images; our own limit is
        # lower, but turning the warning into an error guarantees a bomb never decodes.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Pillow also warns about damaged metadata (corrupt EXIF), which costs nothing
            # here: the orientation is read defensively.
            warnings.simplefilter("ignore", UserWarning)
            # Restricting the formats means Pillow runs only the header parsers we trust.
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
                _check_header(img)
                fmt = str(img.format)
                pixels, size, orientation = _decode(img, max_side)
    except ImageError:
        raise
    except UnidentifiedImageError:
        what = _what_file_is(data)
        if what:
            message = f"it is {what}, which is not accepted; {_UPLOAD_THESE}"
            raise ImageError(_UNREADABLE + message) from None
        raise ImageError(
            _UNREADABLE + "it is not a PNG, JPEG, WebP, BMP, GIF or TIFF file (or it is damaged)."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_too_many_pixels_message()) from None
    except MemoryError:
        raise ImageError(_UNREADABLE + "it needs more memory than we can give it.") from None
    except Exception as exc:  # any decoder failure means a bad file, not a bug of ours
        raise ImageError(
            _UNREADABLE + f"the data is damaged or incomplete ({_short(exc)})."
        ) from None
    # The Pillow image is closed (its memory freed) before the upright copy is made.
    if orientation in _ORIENT:
        pixels = np.ascontiguousarray(_ORIENT[orientation](pixels))
        if orientation >= 5:
            size = (size[1], size[0])
    return DecodedImage(pixels, size, fmt)


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 80 else text[:80] + "…"


def _too_many_pixels_message() -> str:
    return (
        f"This image has too many pixels; images up to {MAX_PIXELS / 1e6:.0f} megapixels "
        f"(and {MAX_SIDE:,} px per side) can be used. Shrink it first."
    )


def _check_header(img: Image.Image) -> None:
    """Refuse from the header alone (``Image.open`` is lazy) what we will not decode."""
    # Phone cameras write JPEGs with extra pictures attached (MPO); the first one is the photo.
    if img.format not in ALLOWED_FORMATS and img.format != "MPO":
        raise ImageError(_UNREADABLE + f"{img.format} files are not accepted; {_UPLOAD_THESE}")
    width, height = img.size
    if width <= 0 or height <= 0:
        raise ImageError(_UNREADABLE + "it says it has no pixels.")
    if max(width, height) > MAX_SIDE:
        raise ImageError(
            f"This image is {width:,}×{height:,} px; at most {MAX_SIDE:,} px per side can be "
            "used. Shrink it first."
        )
    if width * height > MAX_PIXELS:
        raise ImageError(_too_many_pixels_message())


def _decode(img: Image.Image, max_side: int | None) -> tuple[np.ndarray, tuple[int, int], int]:
    """An opened, checked image → (H×W×3 uint8, its (width, height), its EXIF orientation)."""
    size = img.size
    if max_side is not None and img.format in ("JPEG", "MPO"):
        # JPEG can decode at 1/2, 1/4 or 1/8 scale; ask for at least twice the final size.
        height, width = _target(size, max_side * _REDUCING_GAP)
        img.draft(None, (width, height))
    img.load()
    orientation = _orientation(img)
    factor = 1
    if max_side is not None:
        factor = max(1, max(img.size) // (max_side * _REDUCING_GAP))
    pixels = _to_rgb(img, factor)
    if max_side is not None:
        pixels = resize_max_side(pixels, max_side)
    return pixels, size, orientation


def _target(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation 1..8; 1 (as stored) when there is none or it is broken."""
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block should not cost the picture
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_rgb(img: Image.Image, factor: int) -> np.ndarray:
    """A loaded image of any Pillow mode → H×W×3 uint8 RGB, averaged over ``factor``×``factor``
    blocks (1: full size). Works one band of rows at a time, so besides the decoded image and
    the result only one band's temporaries exist."""
    width, height = img.size
    out = np.empty((math.ceil(height / factor), math.ceil(width / factor), 3), dtype=np.uint8)
    to_8bit = _eight_bit_converter(img)
    band_rows = max(factor, _BAND_PIXELS // width // factor * factor)
    for top in range(0, height, band_rows):
        band = to_8bit(img.crop((0, top, width, min(height, top + band_rows))))
        if factor > 1:
            band = band.reduce(factor)  # premultiplies alpha for RGBA, as it should
        arr = np.asarray(band)
        first = top // factor
        if band.mode == "RGBA":
            out[first : first + arr.shape[0]] = composite(arr, WHITE)
        elif band.mode == "L":
            out[first : first + arr.shape[0]] = arr[:, :, None]
        else:
            out[first : first + arr.shape[0]] = arr
    return out


def _eight_bit_converter(img: Image.Image) -> Callable[[Image.Image], Image.Image]:
    """How to turn a band of ``img`` into 8-bit "L", "RGB" or "RGBA" (Pillow image)."""
    mode = img.mode
    if mode.startswith("I;16"):
        # 16-bit: scale by the bit depth (65535 → 255), not by the range, so a dark 16-bit
        # photo stays dark instead of being stretched to full contrast. (v + 128) // 257 is
        # v / 257 rounded (no ties: 257 is odd).
        def sixteen(band: Image.Image) -> Image.Image:
            values = np.asarray(band).astype(np.uint32)
            return Image.fromarray(((values + 128) // 257).astype(np.uint8), "L")

        return sixteen
    if mode in ("I", "F"):
        # 32-bit integer or float: no bit depth says what "white" is, so stretch the actual
        # range (min → 0, max → 255). A constant image keeps its value, clipped to 0..255.
        # NaN shows black, ±infinity as the ends of the range.
        low, high = _finite_range(img)
        scale = 255.0 / (high - low) if high > low else 1.0
        offset = low if high > low else 0.0

        def stretch(band: Image.Image) -> Image.Image:
            values = np.asarray(band).astype(np.float64)
            values = np.nan_to_num(values, nan=offset, posinf=high, neginf=low)
            values = np.clip(np.rint((values - offset) * scale), 0, 255)
            return Image.fromarray(values.astype(np.uint8), "L")

        return stretch
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        return lambda band: band.convert("RGBA")
    if mode == "L":
        return lambda band: band
    # "1" (bilevel) converts to 0/255, "P" through its palette, CMYK/YCbCr/LAB/HSV by Pillow's
    # colour conversion.
    if mode == "1":
        return lambda band: band.convert("L")
    return lambda band: band.convert("RGB")


def _finite_range(img: Image.Image) -> tuple[float, float]:
    """The smallest and largest finite values of a 32-bit image, band by band; (0, 0) if none."""
    width, height = img.size
    rows = max(1, _BAND_PIXELS // width)
    low, high = math.inf, -math.inf
    for top in range(0, height, rows):
        values = np.asarray(img.crop((0, top, width, min(height, top + rows))))
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values.ravel()
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    return (low, high) if low <= high else (0.0, 0.0)


# Magic bytes of files people upload by mistake, so the message can say what it was.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"%!PS", "an EPS/PostScript file"),
    (b"\xc5\xd0\xd3\xc6", "an EPS/PostScript file"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"8BPS", "a Photoshop (PSD) file"),
    (b"\x01\xda", "an SGI image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
    (b"qoif", "a QOI image"),
    (b"DDS ", "a DDS texture"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 image"),
    (b"\x76\x2f\x31\x01", "an OpenEXR image"),
    (b"#?RADIANCE", "an HDR image"),
)
_ISO_BRANDS = {  # an ISO media file's brand, at bytes 8..12 after "ftyp"
    b"heic": "a HEIC photo (as iPhones save them; export it as JPEG)",
    b"heix": "a HEIC photo (as iPhones save them; export it as JPEG)",
    b"mif1": "a HEIF photo",
    b"avif": "an AVIF image",
    b"isom": "an MP4 video",
    b"qt  ": "a QuickTime video",
}


def _what_file_is(data: bytes) -> str | None:
    """What kind of (non-image, or not accepted) file ``data`` is, from its first bytes;
    None when it cannot tell. Only looks at bytes: no parser runs on them."""
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            return what
    if data.startswith(b"\x00\x00\x01\x00") and data[4:6] != b"\x00\x00":  # icon count ≥ 1
        return "an ICO icon"
    if data[4:8] == b"ftyp" and data[8:12] in _ISO_BRANDS:
        return _ISO_BRANDS[data[8:12]]
    if data[:1] == b"P" and data[1:2] in b"123456" and data[2:3].isspace():
        return "a PPM/PGM (Netpbm) image"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "an SVG drawing"
    if head.startswith((b"<!doctype html", b"<html")):
        return "a web page (HTML)"
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text and all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return "a text file"
    return None


# ----------------------------------------------------------------------------- the canvas


def max_canvas_data_chars(width: int, height: int) -> int:
    """The longest data URL a ``width``×``height`` canvas can honestly send: its PNG can be at
    most the raw RGBA rows (plus a filter byte each and zlib's stored-block overhead) and a
    few KB of chunks, base64-encoded (4 characters per 3 bytes)."""
    raw = height * (width * 4 + 1)
    png_max = raw + raw // 16_000 * 5 + 64 * 1024
    return len(CANVAS_DATA_PREFIX) + 4 * math.ceil(png_max / 3)


def decode_canvas(data_url: object, width: int, height: int) -> np.ndarray | None:
    """The drawing canvas's data URL → H×W×4 uint8 RGBA; None when nothing was drawn yet.

    ``width`` and ``height`` are the canvas size the page asked for. The data comes from the
    browser and is untrusted: only ``data:image/png;base64,`` is accepted, at most
    ``max_canvas_data_chars`` long; the PNG's header must say it is no larger than the canvas
    before any pixel is decoded. Anything else raises ImageError with a sentence.
    """
    if not (1 <= width <= MAX_CANVAS_SIDE and 1 <= height <= MAX_CANVAS_SIDE):
        raise ValueError(f"a canvas is 1 to {MAX_CANVAS_SIDE} px a side, not {width}×{height}")
    if data_url is None:
        return None
    unreadable = "The drawing could not be read: "
    if not isinstance(data_url, str):
        raise ImageError(unreadable + f"it arrived as {type(data_url).__name__}, not as text.")
    limit = max_canvas_data_chars(width, height)
    if len(data_url) > limit:
        raise ImageError(
            unreadable + f"it is {len(data_url):,} characters long, more than a "
            f"{width}×{height} px canvas can send ({limit:,})."
        )
    if not data_url.startswith(CANVAS_DATA_PREFIX):
        kind = data_url.partition(",")[0][:40]
        raise ImageError(
            unreadable + f"it should be a PNG picture ({CANVAS_DATA_PREFIX}…), not {kind!r}."
        )
    try:
        raw = base64.b64decode(data_url[len(CANVAS_DATA_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ImageError(unreadable + "its data is not valid base64.") from None
    if not raw.startswith(_PNG_SIGNATURE):
        what = _what_file_is(raw) or "not a PNG picture"
        raise ImageError(unreadable + f"it says PNG but the data is {what}.")
    # A PNG starts with its IHDR chunk: length, "IHDR", width and height (big-endian). Read
    # the size here, before Pillow sees the data at all.
    if len(raw) < 24 or raw[12:16] != b"IHDR":
        raise ImageError(unreadable + "the PNG is damaged (it has no header).")
    png_width, png_height = struct.unpack(">II", raw[16:24])
    if png_width > width or png_height > height:
        raise ImageError(
            unreadable + f"it is {png_width:,}×{png_height:,} px, larger than the "
            f"{width}×{height} px canvas."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=["PNG"]) as img:
                if img.width > width or img.height > height:  # never, after the check above
                    raise ImageError(unreadable + "its size does not match its header.")
                img.load()
                return np.array(img.convert("RGBA"), dtype=np.uint8)
    except ImageError:
        raise
    except Exception as exc:  # a broken PNG is bad data, not a bug of ours
        raise ImageError(unreadable + f"the PNG is damaged ({_short(exc)}).") from None


def canvas_to_rgb(rgba: np.ndarray, background: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """The canvas's H×W×4 RGBA (uint8, or float in 0..255) → H×W×3 uint8 RGB, composited onto
    ``background`` (black by default, so white strokes on an untouched canvas give MNIST's
    white-on-black)."""
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ImageError(f"The drawing should be H×W×4 (RGBA), not {arr.shape}.")
    return composite(arr, background)


def canvas_is_blank(rgba: np.ndarray | None) -> bool:
    """True when nothing was drawn: no data (the canvas returns None before the first stroke),
    every pixel fully transparent, or every pixel the same colour."""
    if rgba is None:
        return True
    arr = np.asarray(rgba)
    if arr.size == 0:
        return True
    if arr.ndim == 3 and arr.shape[2] == 4 and not np.any(arr[:, :, 3]):
        return True
    return bool(np.all(arr == arr.reshape(-1, *arr.shape[2:])[0]))
