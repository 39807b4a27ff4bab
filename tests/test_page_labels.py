"""An option's label does what it says. The page tests set widgets by value, so two swapped
labels in a registry would pass them all; here each option is chosen by the words a student
reads, and what the page then shows is checked against what those words promise."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from explorer.model import builtin_weights
from explorer.network_state import INSIDE_CHOICES, NETWORK_CHOICES
from tests.stage_figures import stage_figures

TIMEOUT = 90


def value_of(labels: dict, words: str):
    """The value whose label is exactly ``words`` (the label the student reads)."""
    (value,) = [v for v, label in labels.items() if label == words]
    return value


@pytest.fixture(scope="module")
def fm() -> AppTest:
    return AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT).run()


def test_the_widgets_show_the_registrys_labels(fm) -> None:
    for key, name in (("net_scale", "scale"), ("net_input", "input")):
        assert fm.radio(key=key).options == list(NETWORK_CHOICES[name].labels.values())
    assert fm.selectbox(key="net_layer").options == list(NETWORK_CHOICES["layer"].labels.values())


def test_each_map_on_its_own_colours_each_map_on_its_own(fm) -> None:
    labels = NETWORK_CHOICES["scale"].labels
    fm.radio(key="net_scale").set_value(value_of(labels, "Each map on its own")).run()
    assert stage_figures(fm)["conv1"].legend.startswith("Each map: white = 0")
    fm.radio(key="net_scale").set_value(value_of(labels, "Shared by the layer")).run()
    legends = [f.legend for f in stage_figures(fm).values()]
    assert not any(legend.startswith("Each map:") for legend in legends)
    assert stage_figures(fm)["conv1"].legend.startswith("blue ")  # one range for the layer


@pytest.mark.parametrize("words, widget", [("Draw", "canvas"), ("Upload", "uploader")])
def test_the_input_labels_open_their_input(words: str, widget: str) -> None:
    at = AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT).run()
    at.radio(key="net_input").set_value(value_of(NETWORK_CHOICES["input"].labels, words)).run()
    assert not at.exception
    if widget == "uploader":
        assert [u.key for u in at.get("file_uploader")] == ["net_upload"]
    else:
        assert any("Draw on the black square" in i.value for i in at.info)


@pytest.mark.parametrize("choice", builtin_weights(), ids=lambda c: c.key)
def test_the_weights_labels_name_the_weights_that_run(choice) -> None:
    at = AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT).run()
    labels = NETWORK_CHOICES["weights"].labels
    at.selectbox(key="net_weights").set_value(value_of(labels, choice.label)).run()
    answer = next(m.value for m in at.markdown if m.value.startswith("#### The network says"))
    assert answer.split("**")[1] in choice.classes
    if "MNIST" in choice.label:
        assert at.selectbox(key="net_image").value.startswith("mnist")
    if "Untrained" in choice.label:
        assert any("Random weights" in c.value for c in at.sidebar.caption)
    else:
        assert any(f"on {choice.card['dataset']}" in m.value for m in at.sidebar.markdown)


def test_the_stage_labels_explain_the_stage_they_name() -> None:
    at = AppTest.from_file("../pages/inside.py", default_timeout=TIMEOUT).run()
    labels = INSIDE_CHOICES["stage"].labels
    for words in (
        "conv3 — 128 filters of 3×3×64",
        "fc1 — fully connected, 2048 → 512",
        "pool1 — max-pool 2×2 → 16×16",
    ):
        at.selectbox(key="in_stage").set_value(value_of(labels, words)).run()
        assert not at.exception
        name = words.split(" ")[0]
        assert any(m.value.startswith(f"**{name}[") for m in at.markdown), words
