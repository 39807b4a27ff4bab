""" "Guess first" played in a real browser, as a class plays it: on a phone (390 px), a laptop or
projector (1280 px) and a large screen (1920 px) every class is a button on the screen that a
click reaches — none cut off by the column — and nothing gives the network's answer away before
the guess is in: not the verdict, not the probabilities or the scores, not the links named after
the answer, not a comparison network's answer. In presenter mode the teacher asks the room and
reveals the answer on the projected screen."""

from __future__ import annotations

import re

import pytest

from explorer.model import CIFAR10_CLASSES
from tests.browser.conftest import SCRIPT_DONE, wait_for_app

SIZES = [(390, 844), (1280, 720), (1920, 1080)]
CLASSES = ".st-key-fm_guess_classes"

# What would tell the answer: the words of the verdict, the comparison and the links, and any
# percentage or score in a bar chart (a table whose last column holds the numbers).
GIVEAWAYS = [
    "The network says",
    "Probability of each class",
    "made it say",
    "score made?",
    re.compile(r"\bsays\b"),
]
BAR_NUMBERS = """main => [...main.querySelectorAll('table tr')]
    .filter((tr) => tr.cells.length === 3 && tr.cells[1].querySelector('div > div'))
    .map((tr) => tr.innerText.trim())"""


def settle(page) -> None:
    page.wait_for_timeout(300)  # the rerun a click starts
    page.wait_for_function(SCRIPT_DONE, timeout=60_000)


def leaks(page) -> list[str]:
    """Everything on the page that tells the network's answer."""
    main = page.get_by_test_id("stMain")
    text = main.inner_text()
    found = [
        str(p) for p in GIVEAWAYS if (p.search(text) if isinstance(p, re.Pattern) else p in text)
    ]
    return found + main.evaluate(BAR_NUMBERS)


def start_guessing(page, size: tuple[int, int], path: str = "feature_maps") -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    wait_for_app(page, path)
    page.get_by_text(re.compile("what will the network say")).first.wait_for(timeout=60_000)
    assert leaks(page)  # before the game: the answer is on the page
    toggle = page.get_by_text(re.compile("what will the network say")).first
    toggle.scroll_into_view_if_needed()
    toggle.click()
    page.locator(CLASSES).wait_for(timeout=60_000)
    settle(page)


def reachable(page, button) -> None:
    """The button is wholly inside the window's width once scrolled to, and a click at its
    centre lands on it (nothing covers or clips it)."""
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, box
    hit = button.evaluate(
        """b => { const r = b.getBoundingClientRect();
            const e = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return b.contains(e); }"""
    )
    assert hit, box


@pytest.mark.parametrize("size", SIZES, ids=["390", "1280", "1920"])
def test_every_class_can_be_guessed_and_nothing_leaks_before(page, size) -> None:
    start_guessing(page, size)
    buttons = page.locator(f"{CLASSES} button")
    assert buttons.all_inner_texts() == list(CIFAR10_CLASSES)  # every class, once, in order
    for name in CIFAR10_CLASSES:
        assert leaks(page) == [], name
        button = page.locator(CLASSES).get_by_role("button", name=name, exact=True)
        reachable(page, button)
        button.click()
        page.get_by_text(re.compile(r"^You guessed")).wait_for(timeout=60_000)
        settle(page)
        line = page.get_by_text(re.compile(r"^You guessed")).inner_text()
        assert line.startswith(f"You guessed {name}:"), line
        assert page.locator("h4", has_text="The network says").is_visible()
        again = page.get_by_role("button", name="Guess again")
        again.scroll_into_view_if_needed()
        again.click()
        page.locator(CLASSES).wait_for(timeout=60_000)
        settle(page)
    assert leaks(page) == []
    assert not page.js_errors


def test_a_comparison_network_keeps_its_answer_until_the_guess(page) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    wait_for_app(page, "feature_maps")
    compare = page.get_by_test_id("stMain").get_by_role("combobox", name=re.compile("Compare"))
    compare.scroll_into_view_if_needed()
    compare.click()
    page.get_by_role("option", name="Untrained (random, seed 0)").click()
    page.get_by_text(re.compile(r"^Untrained \(random, seed 0\) says")).wait_for(timeout=60_000)
    settle(page)
    toggle = page.get_by_text(re.compile("what will the network say")).first
    toggle.scroll_into_view_if_needed()
    toggle.click()
    page.locator(CLASSES).wait_for(timeout=60_000)
    settle(page)
    assert leaks(page) == []
    assert page.get_by_text("(its answer appears once you have guessed)").count() == 2
    page.locator(CLASSES).get_by_role("button", name="ship", exact=True).click()
    page.get_by_text(re.compile(r"^Untrained \(random, seed 0\) says")).wait_for(timeout=60_000)
    assert page.get_by_text(re.compile(r"^Trained on CIFAR-10 says")).is_visible()
    assert not page.js_errors


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)], ids=["1280x720", "1920x1080"])
def test_the_teacher_asks_the_room_and_reveals_the_answer_on_the_projected_screen(
    page, size
) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    wait_for_app(page, "feature_maps?present=1&hide=input")
    page.get_by_text("Ask the room first: what will the network say?").click()
    page.locator(CLASSES).wait_for(timeout=60_000)
    settle(page)
    page.evaluate("() => window.scrollTo(0, 0)")
    assert leaks(page) == []
    # The picture, every class and the reveal button on the projected screen at once.
    for button in [
        *(page.locator(CLASSES).get_by_role("button", name=n, exact=True) for n in CIFAR10_CLASSES),
        page.get_by_role("button", name="Reveal the answer"),
        page.get_by_test_id("stMain").get_by_test_id("stImage").first,
    ]:
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= size[0], box
        assert box["y"] >= 0 and box["y"] + box["height"] <= size[1], box
    page.get_by_role("button", name="Reveal the answer").click()
    verdict = page.locator("h4", has_text="The network says").first
    verdict.wait_for(timeout=60_000)
    settle(page)
    box = verdict.bounding_box()
    assert box is not None and box["y"] + box["height"] <= size[1]  # on the same screen
    assert not page.js_errors
