"""Write the playground's samples (assets/samples/) and the network page's gallery
(assets/gallery/ + index.json) from the training data, once.

    python -m scripts.make_assets --data ../shared/data

The app never reads the training data at run time; it reads only what this script writes.
The output is deterministic (same data → same bytes), a few hundred KB in all.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.model import CIFAR10_CLASSES
from explorer.samples import (
    GALLERY_DIR,
    MNIST_SAMPLE_INDEX,
    PHOTO_UPSCALED_SIDE,
    SAMPLE_PHOTOS,
    SAMPLES_DIR,
    sample_matrix,
)
from explorer.train import read_cifar_batch

PER_CLASS = 2


def load_cifar_test(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """The exact CIFAR-10 test_batch → (N×32×32×3 uint8, N labels)."""
    batch = read_cifar_batch(data / "cifar10-subset" / "test_batch")
    images = (
        np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    )  # N×3×32×32 → N×32×32×3
    labels = np.asarray(batch["labels"][: len(images)], dtype=np.int64)
    return np.ascontiguousarray(images), labels


def load_mnist_test(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """The official MNIST test set → (10000×28×28 uint8, 10000 labels)."""
    with np.load(data / "mnist_full.npz", allow_pickle=False) as npz:
        return npz["x_test"], npz["y_test"]


def save_png(array: np.ndarray, path: Path) -> None:
    """Lossless PNG, without timestamps or other metadata, so reruns give the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG", optimize=True)


def make_samples(cifar: tuple[np.ndarray, np.ndarray], mnist: tuple[np.ndarray, np.ndarray]):
    for key in ("numbers", "shapes", "checkerboard"):
        values = sample_matrix(key)
        save_png(values.astype(np.uint8), SAMPLES_DIR / f"{key}.png")
    save_png(mnist[0][MNIST_SAMPLE_INDEX], SAMPLES_DIR / "digit.png")
    images, _ = cifar
    for key, _, index in SAMPLE_PHOTOS:
        save_png(images[index], SAMPLES_DIR / f"{key}_32.png")
        side = PHOTO_UPSCALED_SIDE
        big = Image.fromarray(images[index]).resize((side, side), Image.Resampling.BICUBIC)
        save_png(np.asarray(big), SAMPLES_DIR / f"{key}_128.png")


def make_gallery(cifar: tuple[np.ndarray, np.ndarray], mnist: tuple[np.ndarray, np.ndarray]):
    """The first PER_CLASS images of each class, in file order, for both datasets."""
    entries = []
    for dataset, (images, labels), names, source in (
        ("cifar10", cifar, CIFAR10_CLASSES, "CIFAR-10 test_batch"),
        ("mnist", mnist, tuple(str(d) for d in range(10)), "MNIST test set (t10k) x_test"),
    ):
        for label, name in enumerate(names):
            for index in np.flatnonzero(labels == label)[:PER_CLASS]:
                key = f"{dataset}-{name}-{index}"
                file = f"{dataset}/{key}.png"
                save_png(images[index], GALLERY_DIR / file)
                entries.append(
                    {
                        "key": key,
                        "dataset": dataset,
                        "label": label,
                        "label_name": name,
                        "source": f"{source} #{int(index)}, exact pixels",
                        "file": file,
                    }
                )
    (GALLERY_DIR / "index.json").write_text(json.dumps(entries, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="the shared data folder (e.g. ../shared/data)"
    )
    args = parser.parse_args()
    cifar = load_cifar_test(args.data)
    mnist = load_mnist_test(args.data)
    make_samples(cifar, mnist)
    make_gallery(cifar, mnist)
    total = sum(p.stat().st_size for d in (SAMPLES_DIR, GALLERY_DIR) for p in d.rglob("*"))
    print(f"Wrote {SAMPLES_DIR} and {GALLERY_DIR}: {total / 1024:.0f} KB")


if __name__ == "__main__":
    main()
