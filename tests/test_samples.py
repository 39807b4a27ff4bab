"""explorer.samples: the playground's samples and the network page's gallery."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from explorer.assets import ASSETS_DIR
from explorer.pixels import ImageError
from explorer.samples import (
    GALLERY_DIR,
    SAMPLES,
    SAMPLES_DIR,
    gallery,
    load_gallery_image,
    load_sample,
    sample_matrix,
)


def test_every_asset_path_lives_under_the_one_assets_root():
    assert SAMPLES_DIR.parent == ASSETS_DIR and GALLERY_DIR.parent == ASSETS_DIR
    assert all(s.path is None or s.path.parent == SAMPLES_DIR for s in SAMPLES.values())


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
    assert load_sample("ship").shape == (128, 128, 3)
    assert load_sample("ship_32").shape == (32, 32, 3)


def test_unknown_sample_is_refused():
    with pytest.raises(ImageError, match="no sample"):
        load_sample("unicorn")
    with pytest.raises(ImageError, match="no sample"):
        sample_matrix("unicorn")


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


@pytest.mark.parametrize(
    "module",
    [
        "explorer.assets",
        "explorer.pixels",
        "explorer.uploads",
        "explorer.samples",
        "explorer.model_input",
        "explorer.numbers",
    ],
)
def test_image_modules_do_not_import_streamlit(module):
    code = f"import sys, {module}; sys.exit('streamlit' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ASSETS_DIR.parent).returncode == 0
