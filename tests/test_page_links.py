"""The network pages as one session (AppTest through app.py's navigation): the weights and the
input chosen on one page are the ones on the next, a link from one page to another explains the
number it was made for, and no page warns about another page's parameters. Each number is
compared with plain PyTorch."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.model import SimpleCNN, builtin_weights
from explorer.samples import gallery, load_gallery_image
from tests.screen import shown

TIMEOUT = 120
WEIGHTS = {c.key: c for c in builtin_weights()}
DIGIT = gallery("mnist")[5]


def reference(key: str, image_key: str, stage: str) -> np.ndarray:
    """Stage ``stage`` of the shipped weights ``key`` for a gallery image, by plain PyTorch."""
    choice = WEIGHTS[key]
    model = SimpleCNN()
    model.load_state_dict(torch.load(choice.path, weights_only=True))
    model.eval()
    dataset = "mnist" if choice.preprocessing.kind == "digit" else "cifar10"
    item = {i.key: i for i in gallery(dataset)}[image_key]
    x = torch.from_numpy(load_gallery_image(item).astype(np.float32) / 255).permute(2, 0, 1)
    mean = torch.tensor(choice.preprocessing.mean).view(3, 1, 1)
    std = torch.tensor(choice.preprocessing.std).view(3, 1, 1)
    h = ((x - mean) / std)[None]
    with torch.no_grad():
        for i in (1, 2, 3):
            h = getattr(model, f"conv{i}")(h)
            if stage == f"conv{i}":
                return h[0].numpy()
            h = torch.nn.functional.max_pool2d(torch.relu(h), 2)
    raise ValueError(stage)


def app(page: str, **params: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.run()  # Home first, as AppTest opens the app; then the link's page at the link's address
    at.query_params.update(params)
    at.switch_page(page)
    return at.run()


def headline_value(at: AppTest) -> tuple[str, float]:
    for m in at.markdown:
        found = re.match(r"^\*\*(\w+\[[\d, ]+\]) = (-?[\d.e+-]+)\*\*", m.value.replace("−", "-"))
        if found:
            return found.group(1), float(found.group(2))
    raise AssertionError("no arithmetic on the page")


def link_warnings(at: AppTest) -> list[str]:
    return [shown(w.value) for w in at.warning if "link" in shown(w.value)]


def test_the_weights_survive_a_page_switch() -> None:
    at = app("pages/feature_maps.py")
    at.selectbox(key="net_weights").set_value("simplecnn-mnist").run()
    digit = at.selectbox(key="net_image").value
    for page in ("pages/network.py", "pages/feature_maps.py", "pages/inside.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert at.selectbox(key="net_weights").value == "simplecnn-mnist", page
        assert at.query_params["w"] in ("simplecnn-mnist", ["simplecnn-mnist"]), page
    assert at.selectbox(key="net_image").value == digit  # the input too


def test_a_shared_inside_link_with_mnist_explains_the_mnist_number() -> None:
    at = app("pages/inside.py", w="simplecnn-mnist", img=DIGIT.key, stage="conv3", cell="12,4,4")
    assert not at.exception and link_warnings(at) == []
    name, value = headline_value(at)
    expected = reference("simplecnn-mnist", DIGIT.key, "conv3")[12, 4, 4]
    assert name == "conv3[12, 4, 4]" and value == pytest.approx(float(expected), abs=6e-5)


def test_the_feature_maps_link_to_inside_explains_the_same_number() -> None:
    fm = app("pages/feature_maps.py", w="simplecnn-mnist", img=DIGIT.key)
    link = next(e.proto for e in fm.get("page_link") if "largest value" in e.proto.label)
    assert link.page == "inside"
    params = dict(parse_qsl(link.query_string))
    assert params["w"] == "simplecnn-mnist" and params["img"] == DIGIT.key
    conv1 = reference("simplecnn-mnist", DIGIT.key, "conv1")
    m, r, c = (int(v) for v in params["cell"].split(","))
    assert conv1[m, r, c] == conv1[m].max()  # the cell named is the map's largest value
    inside = app("pages/inside.py", **params)
    assert not inside.exception and link_warnings(inside) == []
    name, value = headline_value(inside)
    assert name == f"conv1[{m}, {r}, {c}]"
    assert value == pytest.approx(float(conv1[m, r, c]), abs=6e-5)


def test_a_teachers_inside_link_leaves_the_feature_maps_page_quiet() -> None:
    at = app("pages/inside.py", stage="fc1", cell="7")
    assert not at.exception and link_warnings(at) == []
    at.switch_page("pages/feature_maps.py").run()
    assert not at.exception and link_warnings(at) == []
    assert at.selectbox(key="net_layer").value == "conv1"  # its own default, not fc1


def test_a_link_whose_image_is_not_in_the_gallery_says_so() -> None:
    at = app("pages/inside.py", w="simplecnn-cifar10", img=DIGIT.key)
    said = link_warnings(at)
    assert any(f"Ignored the link's img='{DIGIT.key}'" in w for w in said), said


def test_a_link_made_with_a_drawing_says_what_cannot_travel() -> None:
    at = app("pages/feature_maps.py", w="simplecnn-mnist", **{"in": "draw"})
    assert not at.exception
    assert at.radio(key="net_input").value == "draw"
    assert any("A link cannot carry a drawing" in i.value for i in at.info)
