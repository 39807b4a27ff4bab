"""The ready-made pictures: the playground's samples (assets/samples) and the network page's
gallery of exact test images (assets/gallery). scripts/make_assets.py writes both.

Pictures are H×W×3 uint8 RGB; matrix-like samples also have their exact float64 values.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.assets import ASSETS_DIR
from explorer.model_input import pad_digit
from explorer.pixels import ImageError, gray_to_rgb

SAMPLES_DIR = ASSETS_DIR / "samples"
GALLERY_DIR = ASSETS_DIR / "gallery"


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
        return gray_to_rgb(values)
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
