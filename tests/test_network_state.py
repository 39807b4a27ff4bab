"""The network pages' set-up and their links (explorer.network_state, explorer.links), without
Streamlit: every value of every choice travels, bad values keep the current one and say so,
a page never reads another page's parameters, and the weights travel with every link."""

from __future__ import annotations

import pytest

from explorer.links import LINK_PARAMS, Choice, LinkReader, params_of, parse_whole
from explorer.network_state import (
    INSIDE_CHOICES,
    NETWORK_CHOICES,
    UPLOAD,
    InsideState,
    NetworkState,
)
from explorer.playground_state import CHOICES as PLAYGROUND_CHOICES
from explorer.samples import gallery

MNIST_IMAGE = gallery("mnist")[3].key
CIFAR_SHIP = next(item.key for item in gallery("cifar10") if item.label_name == "ship")


# --------------------------------------------------------------------- the link table


def test_every_choice_of_every_page_has_one_owned_parameter() -> None:
    owners = {
        "playground": PLAYGROUND_CHOICES.values(),
        "session": [NETWORK_CHOICES[n] for n in ("weights", "upload_dataset", "input")],
        "feature_maps": [NETWORK_CHOICES[n] for n in ("layer", "scale")],
        "inside": INSIDE_CHOICES.values(),
    }
    for owner, choices in owners.items():
        for choice in choices:
            assert LINK_PARAMS[choice.param] == owner, choice.param


def test_no_parameter_means_two_things() -> None:
    # The table is a dict, so a name appears once; the pages' own parameters are disjoint.
    pages = ("playground", "session", "feature_maps", "inside", "presenter")
    for i, a in enumerate(pages):
        for b in pages[i + 1 :]:
            assert not params_of(a) & params_of(b)
    assert {"w", "img", "in"} <= params_of("session")
    assert {"stage", "cell", "class", "channel"} == params_of("inside")


@pytest.mark.parametrize("text", ["²", "①", "٣", "-3", "3.0", " ", "1e3", "0x10", "9" * 12])
def test_only_ascii_whole_numbers_are_numbers(text: str) -> None:
    assert parse_whole(text, 0, 10**12) is None


def test_whole_numbers_within_their_range() -> None:
    assert parse_whole("0", 0, 5) == 0 and parse_whole("5", 0, 5) == 5
    assert parse_whole("6", 0, 5) is None


def test_reader_names_the_value_and_the_rule() -> None:
    read = LinkReader({"x": "②", "c": "nope", "long": "a" * 101, "list": ["1"]})
    assert read.whole("x", 0, 9, "a digit") is None
    assert read.choice(Choice("c", {"yes": "Yes"})) is None
    assert read.text("long") is None and read.text("list") is None
    assert read.warnings == [
        "Ignored the link's x='②': it must be a digit from 0 to 9.",
        "Ignored the link's c='nope': it must be one of yes.",
        "Ignored the link's long: it is 101 characters long, more than the 100 it may have.",
        "Ignored the link's list: it is not text.",
    ]


# --------------------------------------------------------------------- NetworkState


def test_every_choice_round_trips_through_a_link() -> None:
    for name, choice in NETWORK_CHOICES.items():
        for value in choice.labels:
            start = (
                NetworkState().choose("weights", UPLOAD)
                if name == "upload_dataset"
                else NetworkState()
            )
            state = start.choose(name, value)
            back, warnings = NetworkState.from_query(state.to_query("feature_maps"))
            assert warnings == [] and getattr(back, name) == value, (name, value)


def test_the_weights_and_image_are_always_in_the_link() -> None:
    params = NetworkState().to_query("session")
    assert params["w"] == "simplecnn-cifar10" and params["img"] == gallery("cifar10")[0].key
    assert "layer" not in params  # the feature maps' own set-up stays on that page


def test_a_link_with_mnist_weights_keeps_its_mnist_image() -> None:
    state, warnings = NetworkState.from_query({"w": "simplecnn-mnist", "img": MNIST_IMAGE})
    assert warnings == []
    assert state.dataset == "mnist" and state.gallery_item().key == MNIST_IMAGE


def test_an_image_of_another_gallery_is_refused_aloud() -> None:
    state, warnings = NetworkState.from_query({"img": MNIST_IMAGE})  # CIFAR-10 weights
    assert state.gallery_item().key == gallery("cifar10")[0].key
    assert warnings == [
        f"Ignored the link's img='{MNIST_IMAGE}': it is not an image of the CIFAR-10 photos "
        "gallery these weights use, so the first of that gallery is shown."
    ]


def test_a_link_sets_only_what_it_names() -> None:
    base = NetworkState().choose("layer", "conv3").choose("map", 40)
    state, _ = NetworkState.from_query({"w": "simplecnn-cifar10", "img": CIFAR_SHIP}, base)
    assert (state.layer, state.map, state.image) == ("conv3", 40, CIFAR_SHIP)


def test_feature_maps_never_warn_about_the_inside_pages_parameters() -> None:
    inside_link = {"w": "simplecnn-cifar10", "stage": "fc1", "cell": "7", "class": "3"}
    _, warnings = NetworkState.from_query(inside_link)
    assert warnings == []


def test_other_weights_of_another_dataset_start_from_their_gallery() -> None:
    state = NetworkState().choose("image", CIFAR_SHIP).choose("weights", "simplecnn-mnist")
    assert state.image is None and state.gallery_item().dataset == "mnist"
    same = NetworkState().choose("image", CIFAR_SHIP).choose("weights", "untrained")
    assert same.image == CIFAR_SHIP  # the untrained network uses the CIFAR-10 gallery too


def test_uploaded_weights_and_drawings_say_they_cannot_travel() -> None:
    state = NetworkState().choose("weights", UPLOAD).choose("input", "draw")
    assert state.to_query("session") == {"w": UPLOAD, "wdata": "cifar10", "in": "draw"}
    assert state.cannot_travel() == (
        "A link cannot carry uploaded weights or a drawing: whoever opens it adds their own."
    )
    assert NetworkState().cannot_travel() is None
    photo = NetworkState().choose("input", "camera")
    assert photo.to_query("session")["in"] == "camera"
    assert photo.cannot_travel() == (
        "A link cannot carry a camera photo: whoever opens it adds their own."
    )


@pytest.mark.parametrize(
    "params, words",
    [
        ({"w": "resnet"}, "Ignored the link's w='resnet': it must be one of"),
        ({"map": "²"}, "Ignored the link's map='²': it must be a map number from 0 to 127."),
        ({"map": "128"}, "Ignored the link's map='128'"),
        ({"layer": "fc1"}, "Ignored the link's layer='fc1': it must be one of conv1,"),
        ({"scale": "<b>"}, "Ignored the link's scale='<b>'"),
        ({"in": "webcam"}, "Ignored the link's in='webcam'"),
    ],
)
def test_bad_values_keep_the_current_one_and_say_so(params: dict, words: str) -> None:
    state, warnings = NetworkState.from_query(params)
    assert state == NetworkState()
    assert len(warnings) == 1 and warnings[0].startswith(words), warnings


def test_choose_refuses_what_a_browser_could_forge() -> None:
    for name, value in [
        ("weights", "x"),
        ("map", 128),
        ("map", -1),
        ("map", True),
        ("image", MNIST_IMAGE),
        ("layer", "fc1"),
    ]:
        with pytest.raises(ValueError):
            NetworkState().choose(name, value)


# --------------------------------------------------------------------- InsideState


def test_a_cell_of_every_kind_round_trips() -> None:
    for stage, cell in [
        ("conv2", (5, 3, 4)),
        ("fc1", (7,)),
        ("softmax", (9,)),
        ("pool3", (127, 3, 3)),
    ]:
        state = InsideState(target=2, channel=12).at(stage, cell)
        back, warnings = InsideState.from_query(state.to_query())
        assert warnings == [] and back == state and back.cell == cell


def test_a_vector_stage_keeps_the_map_cell_for_later() -> None:
    state = InsideState().at("conv1", (3, 2, 1)).at("fc1", (7,))
    assert state.cell == (7,) and state.choose("stage", "conv1").cell == (3, 2, 1)


@pytest.mark.parametrize(
    "params, words",
    [
        ({"stage": "conv2", "cell": "²,1,1"}, "Ignored the link's cell='²,1,1': for conv2 it must"),
        ({"stage": "fc1", "cell": "①"}, "Ignored the link's cell='①': for fc1 it must be one"),
        ({"stage": "fc1", "cell": "1,2,3"}, "Ignored the link's cell='1,2,3'"),
        ({"cell": "200,1,1"}, "Ignored the link's cell='200,1,1'"),
        ({"class": "٣"}, "Ignored the link's class='٣': it must be a class number from 0"),
        ({"channel": "128"}, "Ignored the link's channel='128'"),
        ({"stage": "<script>"}, "Ignored the link's stage='<script>'"),
    ],
)
def test_bad_inside_values_are_refused_with_a_sentence(params: dict, words: str) -> None:
    state, warnings = InsideState.from_query(params)
    assert state.cell == InsideState(stage=state.stage).cell  # the cell was not changed
    assert len(warnings) == 1 and warnings[0].startswith(words), warnings


def test_the_inside_page_ignores_the_feature_maps_parameters() -> None:
    state, warnings = InsideState.from_query({"layer": "conv3", "map": "5", "scale": "map"})
    assert state == InsideState() and warnings == []


def test_a_cell_is_fitted_inside_its_stage() -> None:
    state = InsideState().at("conv1", (40, 31, 31)).choose("stage", "pool3")
    assert state.fitted((128, 4, 4)).cell == (40, 3, 3)
    assert InsideState().at("fc2", (900,)).fitted((10,)).cell == (9,)
