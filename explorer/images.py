"""Images in, arrays out: safe decoding of uploads and canvas drawings, resizing, the
playground's samples, and the exact preprocessing that turns a drawing or a photo into the
network's 32×32×3 input.

Everything here returns plain NumPy arrays. Images are H×W×3 uint8 RGB unless a docstring says
otherwise; grayscale "intensity" arrays are H×W float64 in 0..255 so the playground can show
whole numbers in its cells.
"""

from __future__ import annotations

import functools
import io
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from explorer.errors import UserError

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
SAMPLES_DIR = ASSETS_DIR / "samples"
GALLERY_DIR = ASSETS_DIR / "gallery"

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the same limit as Streamlit's uploader
MAX_PIXELS = 40_000_000  # ~160 MB as RGBA while decoding; checked from the header first
MAX_SIDE = 12_000
ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"}
# The file endings the upload widgets offer for those formats (decode_image checks the bytes).
UPLOAD_EXTENSIONS = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]

_UNREADABLE = "This file could not be read as an image: "
_WHITE = (255, 255, 255)


class ImageError(UserError):
    """An image or matrix the user gave us that we cannot use, with a sentence saying why."""


# ----------------------------------------------------------------------------- decoding uploads


def decode_image(data: bytes) -> np.ndarray:
    """Uploaded file bytes → H×W×3 uint8 RGB.

    The byte size, format, pixel count and side lengths are checked from the header before
    any pixel is decoded, so a "decompression bomb" costs nothing. The EXIF orientation is
    applied (phones store portraits sideways and say so in EXIF); animated GIF/WebP give their
    first frame; transparent areas are composited onto white, the colour a viewer shows them
    on. Every Pillow mode is normalised to RGB (see ``_to_rgb``).

    Raises ImageError (never a Pillow exception) for empty, oversized, corrupt, truncated or
    non-image data.
    """
    if not data:
        raise ImageError(_UNREADABLE + "the file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(
            f"This file is {len(data) / 1024 / 1024:.1f} MB; images up to "
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB can be uploaded."
        )
    try:
        # Pillow warns (and, at twice its limit, raises) for huge images; our own limit is
        # lower, but turning the warning into an error guarantees a bomb never decodes.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Restricting the formats means Pillow only runs the header parsers we trust.
            with Image.open(io.BytesIO(data), formats=sorted(ALLOWED_FORMATS)) as img:
                _check_header(img)
                img.seek(0)  # the first frame of an animation
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_rgb(img)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(
            _UNREADABLE + "it is not a PNG, JPEG, WebP, BMP, GIF or TIFF file (or it is damaged)."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_too_many_pixels_message()) from None
    except MemoryError:
        raise ImageError(_UNREADABLE + "it needs more memory than we can give it.") from None
    except Exception as exc:  # any decoder failure means a bad file, not a bug of ours
        raise ImageError(_UNREADABLE + f"the data is damaged or incomplete ({exc}).") from None


def _too_many_pixels_message() -> str:
    return (
        f"This image has too many pixels; images up to {MAX_PIXELS / 1e6:.0f} megapixels "
        f"(and {MAX_SIDE:,} px per side) can be used. Shrink it first."
    )


def _check_header(img: Image.Image) -> None:
    """Refuse from the header alone (``Image.open`` is lazy) what we will not decode."""
    # Phone cameras write JPEGs with extra pictures attached (MPO); the first one is the photo.
    if img.format not in ALLOWED_FORMATS and img.format != "MPO":
        raise ImageError(_UNREADABLE + f"{img.format} files are not supported.")
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


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode → H×W×3 uint8 RGB, transparency composited onto white."""
    mode = img.mode
    if mode.startswith("I;16"):
        # 16-bit: scale by the bit depth (65535 → 255), not by the range, so a dark 16-bit
        # photo stays dark instead of being stretched to full contrast.
        values = np.asarray(img).astype(np.float64) / 257.0
        return _gray_to_rgb(values)
    if mode in ("I", "F"):
        # 32-bit integer or float: no bit depth says what "white" is, so stretch the actual
        # range (min → 0, max → 255). A constant image keeps its value, clipped to 0..255.
        values = np.asarray(img).astype(np.float64)
        low, high = float(values.min()), float(values.max())
        values = (values - low) * (255.0 / (high - low)) if high > low else values
        return _gray_to_rgb(values)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        return _composite(np.asarray(img.convert("RGBA")), _WHITE)
    # "1" (bilevel) converts to 0/255, "P" through its palette, CMYK/YCbCr/LAB by Pillow's
    # colour conversion.
    return np.array(img.convert("RGB"), dtype=np.uint8)


def _gray_to_rgb(values: np.ndarray) -> np.ndarray:
    """H×W float → H×W×3 uint8, rounded and clipped."""
    gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def _composite(rgba: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """H×W×4 (uint8 or float in 0..255) → H×W×3 uint8: ``rgb·a + background·(1−a)``."""
    rgba = np.clip(np.asarray(rgba, dtype=np.float64), 0, 255)
    alpha = rgba[:, :, 3:4] / 255.0
    bg = np.asarray(background, dtype=np.float64).reshape(1, 1, 3)
    out = rgba[:, :, :3] * alpha + bg * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- the drawing canvas


def canvas_to_rgb(rgba: np.ndarray, background: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """The drawable canvas's ``image_data`` (H×W×4 RGBA, uint8 or float in 0..255) → H×W×3
    uint8 RGB, composited onto ``background`` (black by default, so white strokes on an
    untouched canvas give MNIST's white-on-black)."""
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ImageError(f"The drawing should be H×W×4 (RGBA), not {arr.shape}.")
    return _composite(arr, background)


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


# ----------------------------------------------------------------------------- pixels and sizes


def to_grayscale(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 RGB → H×W float64 luma in 0..255, ITU-R BT.601
    (0.299 R + 0.587 G + 0.114 B) — the weights JPEG and Pillow's "L" use.

    The result is rounded to whole numbers so the playground's cells show integers and the
    hand-computed sums a student checks come out exact. An H×W array is already gray and is
    returned as a float64 copy with its values unchanged.
    """
    arr = np.asarray(rgb)
    if arr.ndim == 2:
        return arr.astype(np.float64, copy=True)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageError(f"Expected an H×W×3 colour image, not an array of shape {arr.shape}.")
    luma = arr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.rint(luma)


def resize_max_side(img: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longer side is at most ``max_side`` px, keeping the aspect ratio; never
    enlarges (an image already small enough comes back as an unchanged copy).

    Works for H×W×3 / H×W uint8 and H×W (×C) float; the result has the input's dtype. Uses
    Pillow's Lanczos filter, which widens its support when shrinking, so it averages over the
    whole area each output pixel covers (no aliasing).
    """
    if max_side < 1:
        raise ImageError("The largest side must be at least 1 pixel.")
    arr = np.asarray(img)
    height, width = arr.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return arr.copy()
    scale = max_side / longest
    new_h = min(max_side, max(1, round(height * scale)))
    new_w = min(max_side, max(1, round(width * scale)))
    return resize_exact(arr, new_h, new_w)


def resize_exact(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """H×W(×C) → height×width(×C), the same dtype (uint8 or float), aspect ratio not kept.

    Lanczos when the image gets smaller (area-aware, no aliasing), bicubic when it gets larger
    (Lanczos rings visibly when enlarging). Float results are clipped to the input's range so
    the filter's overshoot never invents values below the minimum or above the maximum.
    """
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise ImageError(f"A size of {height}×{width} px is not possible; use 1 to {MAX_SIDE}.")
    arr = np.asarray(img)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ImageError(f"Expected an H×W or H×W×C image, not an array of shape {arr.shape}.")
    if arr.shape[:2] == (height, width):
        return arr.copy()
    shrinking = height * width < arr.shape[0] * arr.shape[1]
    method = Image.Resampling.LANCZOS if shrinking else Image.Resampling.BICUBIC
    if arr.dtype == np.uint8 and (arr.ndim == 2 or arr.shape[2] in (3, 4)):
        return np.asarray(Image.fromarray(arr).resize((width, height), method)).copy()
    # Floats (and odd channel counts) go through Pillow's 32-bit float mode one channel at a
    # time; float32 keeps ~7 significant digits, plenty for values in 0..255.
    channels = arr[:, :, None] if arr.ndim == 2 else arr
    as_float = channels.astype(np.float64)
    out = np.stack(
        [
            np.asarray(
                Image.fromarray(as_float[:, :, c].astype(np.float32)).resize(
                    (width, height), method
                )
            )
            for c in range(channels.shape[2])
        ],
        axis=2,
    ).astype(np.float64)
    out = np.clip(out, as_float.min(), as_float.max())
    if arr.ndim == 2:
        out = out[:, :, 0]
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(arr.dtype)


# ----------------------------------------------------------------------------- typed matrices

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_MAX_MATRIX_TEXT = 100_000  # far more than 32×32 numbers need; keeps parsing instant


def parse_matrix(text: str, max_size: int = 32) -> np.ndarray:
    """A small matrix typed by the user → float64 H×W.

    One row per line (or rows separated by ``;``), numbers separated by spaces and/or commas.
    Brackets are ignored, so a pasted ``[[1, 2], [3, 4]]`` works too, and a fraction such as
    ``1/9`` is read as a number (box-blur kernels are written that way). Blank lines are
    skipped. Nothing is ever evaluated as code.

    Raises ImageError naming the row and column (1-based) of anything that is not a number,
    for rows of different lengths, NaN or infinity, more than ``max_size`` rows or columns,
    or no numbers at all.
    """
    if len(text) > _MAX_MATRIX_TEXT:
        raise ImageError("That is far too much text for a matrix; type at most 32×32 numbers.")
    cleaned = text.replace("−", "-").replace("[", " ").replace("]", "\n").replace(";", "\n")
    lines = [line.strip().strip(",") for line in cleaned.splitlines()]
    rows_text = [line for line in lines if line.strip(", \t")]
    if not rows_text:
        raise ImageError("The matrix is empty; type some numbers, one row per line.")
    if len(rows_text) > max_size:
        raise ImageError(f"The matrix has {len(rows_text)} rows; at most {max_size} are allowed.")
    rows: list[list[float]] = []
    for r, line in enumerate(rows_text, start=1):
        tokens = [t for t in re.split(r"[,\s]+", line) if t]
        if len(tokens) > max_size:
            raise ImageError(
                f"Row {r} has {len(tokens)} numbers; at most {max_size} per row are allowed."
            )
        rows.append([_parse_number(token, r, c) for c, token in enumerate(tokens, start=1)])
        if len(rows[-1]) != len(rows[0]):
            raise ImageError(
                f"Row {r} has {len(rows[-1])} numbers but row 1 has {len(rows[0])}; "
                "every row needs the same number of values."
            )
    return np.array(rows, dtype=np.float64)


def _parse_number(token: str, row: int, col: int) -> float:
    """One typed number (``3``, ``-0.5``, ``1e-3``, ``1/9``) → float; ImageError otherwise."""
    where = f"Row {row}, column {col}"
    parts = token.split("/")
    if len(parts) > 2 or not all(_NUMBER.match(p) for p in parts):
        lowered = token.lower().lstrip("+-")
        if lowered in ("nan", "inf", "infinity"):
            raise ImageError(f"{where}: '{token}' is not allowed; use ordinary finite numbers.")
        raise ImageError(f"{where}: '{token}' is not a number.")
    value = float(parts[0])
    if len(parts) == 2:
        denominator = float(parts[1])
        if denominator == 0:
            raise ImageError(f"{where}: '{token}' divides by zero.")
        value /= denominator
    if not np.isfinite(value):
        raise ImageError(f"{where}: '{token}' is too large to use.")
    return value


# ----------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class Sample:
    """One of the playground's ready-made inputs; ``path`` is its PNG under assets/samples."""

    key: str
    name: str
    description: str
    path: Path | None


_CIFAR_NOTE = (
    "A real photograph from the CIFAR-10 test set (Krizhevsky, 2009; a labelled subset of the "
    "80 Million Tiny Images collection, used for research and teaching)"
)

# The CIFAR-10 photos the samples use: (key, name, test_batch index). Chosen from the first
# few of their class for strong, clear edges; scripts/make_assets.py writes them.
SAMPLE_PHOTOS: tuple[tuple[str, str, int], ...] = (
    ("ship", "Ship", 1),
    ("horse", "Horse", 13),
    ("truck", "Fire truck", 23),
    ("cat", "Cat", 0),
)
PHOTO_UPSCALED_SIDE = 128
MNIST_SAMPLE_INDEX = 0  # x_test[0], a 7


def _photo_samples() -> list[Sample]:
    upscaled = [
        Sample(
            key,
            f"{name} (photo, 128×128)",
            f"{_CIFAR_NOTE}: test_batch image #{index}, enlarged from its native 32×32 to "
            f"{PHOTO_UPSCALED_SIDE}×{PHOTO_UPSCALED_SIDE} with bicubic interpolation.",
            SAMPLES_DIR / f"{key}_128.png",
        )
        for key, name, index in SAMPLE_PHOTOS
    ]
    native = [
        Sample(
            f"{key}_32",
            f"{name} (photo, original 32×32)",
            f"{_CIFAR_NOTE}: test_batch image #{index}, its exact pixels — what the network sees.",
            SAMPLES_DIR / f"{key}_32.png",
        )
        for key, name, index in SAMPLE_PHOTOS
    ]
    return upscaled + native


SAMPLES: dict[str, Sample] = {
    s.key: s
    for s in [
        Sample(
            "numbers",
            "Numbers 1–25 (5×5)",
            "The classic 5×5 matrix of the numbers 1 to 25, small enough to check every "
            "multiplication by hand.",
            SAMPLES_DIR / "numbers.png",
        ),
        Sample(
            "shapes",
            "Square and circle (64×64)",
            "A white square and a white circle on black: clean edges in every direction, "
            "ideal for edge-detection kernels.",
            SAMPLES_DIR / "shapes.png",
        ),
        Sample(
            "checkerboard",
            "Checkerboard (64×64)",
            "Black and white squares of 8×8 px: horizontal and vertical edges only.",
            SAMPLES_DIR / "checkerboard.png",
        ),
        Sample(
            "digit",
            "Handwritten 7 (MNIST, 28×28)",
            "A real handwritten digit: MNIST test image #0 (LeCun et al.), its exact pixels.",
            SAMPLES_DIR / "digit.png",
        ),
        *_photo_samples(),
    ]
}


def sample_matrix(key: str) -> np.ndarray | None:
    """The exact float64 H×W values of a matrix-like sample (``numbers``: 1..25;
    ``checkerboard``: 0/255 squares; ``shapes``: 0/255), or None for photographs, whose
    values are simply their pixels. The PNGs in assets/samples are made from these."""
    if key == "numbers":
        return np.arange(1, 26, dtype=np.float64).reshape(5, 5)
    if key == "checkerboard":
        rows, cols = np.indices((64, 64)) // 8
        return np.where((rows + cols) % 2 == 0, 255.0, 0.0)
    if key == "shapes":
        out = np.zeros((64, 64), dtype=np.float64)
        out[10:30, 8:28] = 255.0  # a 20×20 square, upper left
        y, x = np.indices((64, 64))
        # A circle of radius 12 centred between pixels, so it is symmetric.
        out[(y - 42.5) ** 2 + (x - 42.5) ** 2 <= 12.0**2] = 255.0
        return out
    if key not in SAMPLES:
        raise ImageError(f"There is no sample called '{key}'.")
    return None


def load_sample(key: str) -> np.ndarray:
    """A sample's picture as H×W×3 uint8 RGB (for matrix-like samples, the matrix values as
    gray levels; use ``sample_matrix`` for the exact numbers)."""
    sample = SAMPLES.get(key)
    if sample is None:
        raise ImageError(f"There is no sample called '{key}'.")
    if sample.path is None:
        values = sample_matrix(key)
        assert values is not None, f"sample {key} has neither a file nor a matrix"
        return _gray_to_rgb(values)
    return _read_bundled_png(sample.path, "RGB")


def _read_bundled_png(path: Path, mode: str) -> np.ndarray:
    """One of our own asset PNGs → array in ``mode``; a missing file is a broken install."""
    try:
        with Image.open(path) as img:
            return np.array(img.convert(mode))
    except (OSError, ValueError) as exc:
        raise ImageError(
            f"A bundled image is missing or damaged ({path.name}); "
            "run scripts/make_assets.py to rebuild the assets."
        ) from exc


# ----------------------------------------------------------------------------- the network's input

MNIST_BOX = 20  # MNIST digits were scaled to fit a 20×20 box…
MNIST_SIDE = 28  # …and centred by their centre of mass in 28×28
_INK = 0.5  # darker than half a gray level counts as background


def digit_like_mnist(gray: np.ndarray) -> np.ndarray:
    """A drawn digit (H×W uint8 or float in 0..255, white strokes on black, any size; an
    H×W×3 image is converted with ``to_grayscale``) → 28×28 uint8, prepared the way the MNIST
    digits were (LeCun et al.):

    1. crop to the bounding box of the ink;
    2. scale so the longer side is 20 px, keeping the aspect ratio (anti-aliased; a box that
       is already 20 px long is kept pixel for pixel);
    3. paste into a black 28×28 image so the intensity-weighted centre of mass lands on pixel
       (14, 14), the shift rounded to whole pixels. (The shift is limited so no ink is cut off;
       only a very lopsided digit can end up slightly off-centre.)

    Raises ImageError("Draw a digit first.") when there is no ink.
    """
    arr = np.asarray(gray)
    values = to_grayscale(arr) if arr.ndim == 3 else np.asarray(arr, dtype=np.float64)
    if values.ndim != 2:
        raise ImageError(f"Expected an H×W drawing, not an array of shape {values.shape}.")
    values = np.nan_to_num(values, nan=0.0, posinf=255.0, neginf=0.0)
    ink_rows = np.flatnonzero((values > _INK).any(axis=1))
    ink_cols = np.flatnonzero((values > _INK).any(axis=0))
    if ink_rows.size == 0:
        raise ImageError("Draw a digit first.")
    box = values[ink_rows[0] : ink_rows[-1] + 1, ink_cols[0] : ink_cols[-1] + 1]

    height, width = box.shape
    scale = MNIST_BOX / max(height, width)
    new_h = min(MNIST_BOX, max(1, round(height * scale)))
    new_w = min(MNIST_BOX, max(1, round(width * scale)))
    box = np.clip(resize_exact(box, new_h, new_w), 0, 255)

    ys, xs = np.indices(box.shape)
    total = box.sum()
    if total <= 0:  # only possible if resampling erased a faint speck
        raise ImageError("Draw a digit first.")
    centre_y, centre_x = (ys * box).sum() / total, (xs * box).sum() / total
    centre = MNIST_SIDE // 2
    top = int(np.clip(np.floor(centre - centre_y + 0.5), 0, MNIST_SIDE - new_h))
    left = int(np.clip(np.floor(centre - centre_x + 0.5), 0, MNIST_SIDE - new_w))

    out = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.uint8)
    out[top : top + new_h, left : left + new_w] = np.rint(box).astype(np.uint8)
    return out


def pad_digit(digit28: np.ndarray) -> np.ndarray:
    """28×28 uint8 → 32×32×3 uint8: 2 px of black on every side, repeated on 3 channels — the
    same as the trainer's ``mnist_to_32`` (np.pad then np.repeat), so the model sees drawings
    exactly as it saw its training digits."""
    padded = np.pad(np.asarray(digit28, dtype=np.uint8), 2)
    return np.repeat(padded[:, :, None], 3, axis=2)


def digit_to_model_image(gray: np.ndarray) -> np.ndarray:
    """A drawn digit (see ``digit_like_mnist``) → the MNIST network's 32×32×3 uint8 input."""
    return pad_digit(digit_like_mnist(gray))


MODEL_SIDE = 32


def photo_to_model_image(rgb: np.ndarray) -> np.ndarray:
    """Any H×W×3 uint8 photo (or H×W gray) → the CIFAR-10 network's 32×32×3 uint8 input.

    Centre-crop to a square (the CIFAR images are square and the network must not see a
    squashed object), then resize with bicubic interpolation — Pillow's default filter for
    ``Image.resize``, which widens its support when shrinking, so it is anti-aliased.
    """
    arr = np.asarray(rgb)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"Expected an H×W×3 colour image, not an array of shape {arr.shape}.")
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    height, width = arr.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = np.ascontiguousarray(arr[top : top + side, left : left + side])
    if side == MODEL_SIDE:
        return square.copy()
    resized = Image.fromarray(square).resize((MODEL_SIDE, MODEL_SIDE), Image.Resampling.BICUBIC)
    return np.asarray(resized).copy()


# ----------------------------------------------------------------------------- the gallery

GALLERY_DATASETS = ("cifar10", "mnist")


@dataclass(frozen=True)
class GalleryItem:
    """One exact test image for the network page, e.g. ``source="CIFAR-10 test_batch #17,
    exact pixels"``; ``path`` is its PNG (32×32 RGB for cifar10, 28×28 gray for mnist)."""

    key: str
    dataset: str
    label: int
    label_name: str
    source: str
    path: Path


@functools.lru_cache(maxsize=1)
def _gallery_index() -> tuple[GalleryItem, ...]:
    try:
        entries = json.loads((GALLERY_DIR / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImageError(
            "The image gallery is missing; run scripts/make_assets.py to rebuild the assets."
        ) from exc
    return tuple(
        GalleryItem(
            key=e["key"],
            dataset=e["dataset"],
            label=int(e["label"]),
            label_name=e["label_name"],
            source=e["source"],
            path=GALLERY_DIR / e["file"],
        )
        for e in entries
    )


def gallery(dataset: str) -> list[GalleryItem]:
    """The gallery's images for ``dataset`` ("cifar10" or "mnist"), in class order."""
    if dataset not in GALLERY_DATASETS:
        raise ImageError(f"There is no gallery for '{dataset}'; choose cifar10 or mnist.")
    return [item for item in _gallery_index() if item.dataset == dataset]


def load_gallery_image(item: GalleryItem) -> np.ndarray:
    """A gallery image as the network's 32×32×3 uint8 input: the CIFAR-10 pixels exactly as
    stored, or the 28×28 MNIST digit padded and repeated like the trainer does."""
    if item.dataset == "mnist":
        return pad_digit(_read_bundled_png(item.path, "L"))
    return _read_bundled_png(item.path, "RGB")
