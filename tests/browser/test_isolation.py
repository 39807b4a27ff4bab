"""Two students on one server at the same time: what one uploads never reaches the other.

Student A uploads their own weights and their own photo on the Feature maps page while student
B, in another browser context (another Streamlit session), switches between the built-in
networks, each on its gallery's first image. Each answer the page prints (top class and its
probability) is compared with the one computed here, independently, with plain PyTorch, so a
page that served B from A's weights or image, or A from the built-in ones, fails — as does any
trace of A's files on B's screen.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.features import preprocess
from explorer.model import (
    CIFAR10_CLASSES,
    CIFAR10_PREPROCESSING,
    Preprocessing,
    SimpleCNN,
    WeightsChoice,
    builtin_weights,
)
from explorer.model_input import photo_to_model_image
from explorer.samples import gallery, load_gallery_image
from explorer.uploads import decode_image
from explorer.weights_file import load_choice
from tests.browser.conftest import SCRIPT_DONE, new_page, wait_for_app

WEIGHTS_NAME = "student-a-weights.pt"
PHOTO_NAME = "student-a-photo.png"
ANSWER = re.compile(r"The network says: (.+?) \((\d+\.\d)%\)")
# Done when the run has ended and the marker text (what this run must show) is on the page.
SHOWS = f"""(marker) => ({SCRIPT_DONE})() && document.body.innerText.includes(marker)"""


def predicted(
    model: torch.nn.Module,
    image: np.ndarray,
    classes: tuple[str, ...] = CIFAR10_CLASSES,
    preprocessing: Preprocessing = CIFAR10_PREPROCESSING,
) -> tuple[str, str]:
    """The page's answer for ``image``: (class name, probability as the page prints it)."""
    with torch.no_grad():
        probs = torch.softmax(model(preprocess(image, preprocessing)), dim=1)[0]
    top = int(probs.argmax())
    return classes[top], f"{float(probs[top]) * 100:.1f}"


def builtin_answer(choice: WeightsChoice) -> tuple[str, str]:
    """A built-in network's answer for the first image of its gallery (what the page shows
    right after that network is chosen)."""
    dataset = "mnist" if choice.preprocessing.kind == "digit" else "cifar10"
    image = load_gallery_image(gallery(dataset)[0])
    return predicted(load_choice(choice), image, choice.classes, choice.preprocessing)


def answer_on(page) -> tuple[str, str]:
    """(class name, probability) from the page's 'The network says' heading."""
    text = page.locator("h4", has_text="The network says").inner_text()
    match = ANSWER.search(text)
    assert match, text
    return match.group(1), match.group(2)


def wait_until_shows(page, marker: str) -> None:
    page.wait_for_function(SHOWS, arg=marker, timeout=60_000)


def click_option(page, box_label: str, option: str) -> None:
    """Open the selectbox labelled ``box_label`` and click ``option`` (exact text); returns
    without waiting for the rerun."""
    page.get_by_test_id("stSelectbox").filter(has_text=box_label).click()
    page.keyboard.type(option.split(" — ")[0])  # the list is virtual: filter it so it is drawn
    page.get_by_role("option", name=option, exact=True).click()


@pytest.fixture
def student_a_files(tmp_path: Path) -> tuple[Path, Path]:
    """A's own weights (a seeded, untrained SimpleCNN's state_dict whose last layer is scaled
    up, so its answers are confident and unlike the built-in network's) and A's own photo."""
    torch.manual_seed(20240611)
    model = SimpleCNN()
    with torch.no_grad():
        model.fc2.weight.mul_(40)
    weights = tmp_path / WEIGHTS_NAME
    torch.save(model.state_dict(), weights)
    rng = np.random.default_rng(7)
    photo = tmp_path / PHOTO_NAME
    pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    pixels[:, :32] = (30, 160, 60)  # half a green field, half noise
    Image.fromarray(pixels).save(photo)
    return weights, photo


def expected_for_a(weights: Path, photo: Path) -> tuple[str, str]:
    model = SimpleCNN()
    model.load_state_dict(torch.load(weights, weights_only=True))
    image = photo_to_model_image(decode_image(photo.read_bytes()))
    return predicted(model.eval(), image)


def test_two_students_at_once_see_only_their_own_weights_and_images(
    browser, app_url: str, student_a_files: tuple[Path, Path]
) -> None:
    weights, photo = student_a_files
    choices = {c.key: c for c in builtin_weights()}
    cifar, mnist = choices["simplecnn-cifar10"], choices["simplecnn-mnist"]
    first_photo, first_digit = gallery("cifar10")[0], gallery("mnist")[0]

    a, b = new_page(browser, app_url), new_page(browser, app_url)
    try:
        for page in (a, b):
            wait_for_app(page, "feature_maps")
            wait_until_shows(page, f"Input: {first_photo.source}")

        # Both at once: A switches to their own weights while B switches to the MNIST network.
        click_option(a, "Weights", "Upload your own (.pt)")
        a.get_by_test_id("stSidebar").locator("input[type='file']").set_input_files(weights)
        click_option(b, "Weights", mnist.label)
        wait_until_shows(a, f"Loaded {WEIGHTS_NAME}")
        wait_until_shows(b, f"Input: {first_digit.source}")
        assert answer_on(b) == builtin_answer(mnist)

        # Both at once again: A uploads a photo while B goes back to the CIFAR-10 network.
        a.get_by_text("Upload", exact=True).click()
        a.get_by_test_id("stMain").locator("input[type='file']").set_input_files(photo)
        click_option(b, "Weights", cifar.label)
        wait_until_shows(a, f"Input: your image {PHOTO_NAME}")
        wait_until_shows(b, f"Input: {first_photo.source}")

        assert answer_on(a) == expected_for_a(weights, photo)
        assert answer_on(b) == builtin_answer(cifar)
        b_text = b.locator("body").inner_text()
        for trace in ("student-a", WEIGHTS_NAME, PHOTO_NAME, "your image", "Loaded "):
            assert trace not in b_text, f"B's page shows {trace!r}"
        assert "Test accuracy" in b.get_by_test_id("stSidebar").inner_text()  # the built-in card
        assert "True label" not in a.get_by_test_id("stMain").inner_text()
        for page in (a, b):
            assert page.get_by_test_id("stException").count() == 0
            assert page.js_errors == []
    finally:
        a.context.close()
        b.context.close()
