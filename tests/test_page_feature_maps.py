"""AppTest: the feature-map page shows every stage for the default input, and each control
changes what is rendered."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.model import SimpleCNN, builtin_weights
from explorer.samples import gallery
from tests.screen import shown

TIMEOUT = 60


@pytest.fixture
def at() -> AppTest:
    app = AppTest.from_file("../pages/feature_maps.py", default_timeout=TIMEOUT)
    return app.run()


def images(at: AppTest) -> list:
    return list(at.get("image"))


def heading(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("#### The network says"))


def figure(at: AppTest, key: str) -> dict:
    import json

    chart = next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id)
    return json.loads(chart.proto.spec)


def test_default_page_shows_a_gallery_image_every_stage_and_a_prediction(at: AppTest) -> None:
    assert not at.exception
    assert at.radio(key="fm_input").value == "Gallery"
    assert at.selectbox(key="fm_gallery").value is not None
    assert heading(at)
    titles = " ".join(m.value for m in at.markdown)
    for stage in ("conv1", "pool1", "conv2", "conv3", "pool3", "flatten", "fc1"):
        assert stage in titles
    assert len(images(at)) >= 12  # input, 3 channels, 9 montages, 3 strips, legends, filters
    assert any("evaluation mode" in c.value for c in at.caption)
    assert any("ms** on" in c.value for c in at.caption)


def test_another_gallery_sample_changes_the_input_and_its_true_label(at: AppTest) -> None:
    box = at.selectbox(key="fm_gallery")
    first = box.value
    other = next(i.key for i in gallery("cifar10") if i.label_name not in first)
    before = [c.value for c in at.caption if c.value.startswith("Input:")]
    box.set_value(other).run()
    assert not at.exception
    after = [c.value for c in at.caption if c.value.startswith("Input:")]
    assert before != after


def test_layer_and_map_choice_change_the_enlarged_map(at: AppTest) -> None:
    at.selectbox(key="fm_layer").set_value("conv2").run()
    at.number_input(key="fm_map").set_value(5).run()
    assert not at.exception
    assert any("conv2 filter 5" in m.value for m in at.markdown)
    at.selectbox(key="fm_layer").set_value("pool3").run()
    assert not at.exception
    assert any("conv3 filter 5" in m.value for m in at.markdown)


def test_map_index_is_reset_when_the_layer_has_fewer_maps(at: AppTest) -> None:
    at.selectbox(key="fm_layer").set_value("conv3").run()
    at.number_input(key="fm_map").set_value(100).run()
    at.selectbox(key="fm_layer").set_value("conv1").run()
    assert not at.exception
    assert at.number_input(key="fm_map").value == 0


def test_colour_scale_choice_changes_the_legends(at: AppTest) -> None:
    shared = [c.value for c in at.caption if c.value.startswith(("blue", "dark"))]
    assert shared
    at.radio(key="fm_scale").set_value("Each map on its own").run()
    assert not at.exception
    assert any(c.value.startswith("Each map:") for c in at.caption)


def test_weights_choice_changes_the_prediction_classes(at: AppTest) -> None:
    for choice in builtin_weights():
        at.selectbox(key="net_weights").set_value(choice.key).run()
        assert not at.exception
        answer = heading(at).split("**")[1]
        assert answer in choice.classes
        expected = "mnist" if choice.preprocessing.kind == "digit" else "cifar10"
        assert at.selectbox(key="fm_gallery").value.startswith(expected)


def test_device_cpu_can_be_chosen(at: AppTest) -> None:
    radios = [r for r in at.radio if r.key == "net_device"]
    if radios:
        radios[0].set_value("cpu").run()
    assert not at.exception
    assert any("on **CPU**" in c.value for c in at.caption)


def test_a_bad_image_upload_shows_a_message(at: AppTest) -> None:
    at.radio(key="fm_input").set_value("Upload").run()
    at.file_uploader(key="fm_upload").set_value(("x.png", b"not an image", "image/png")).run()
    assert not at.exception
    assert any("could not be read" in e.value for e in at.error)


def test_an_image_upload_is_classified(at: AppTest) -> None:
    at.radio(key="fm_input").set_value("Upload").run()
    buf = io.BytesIO()
    Image.fromarray(np.full((50, 80, 3), (200, 30, 30), np.uint8)).save(buf, "PNG")
    at.file_uploader(key="fm_upload").set_value(("red.png", buf.getvalue(), "image/png")).run()
    assert not at.exception
    assert heading(at)
    assert any(r"your image red\.png" in c.value for c in at.caption)  # shown as literal text


def test_a_bad_weights_upload_shows_a_message(at: AppTest) -> None:
    at.selectbox(key="net_weights").set_value("upload").run()
    state = SimpleCNN().state_dict()
    state["fc1.weight"] = torch.zeros(512, 100)
    buf = io.BytesIO()
    torch.save(state, buf)
    at.file_uploader(key="net_weights_file").set_value(("bad.pt", buf.getvalue(), "x")).run()
    assert not at.exception
    assert any("fc1.weight" in shown(e.value) for e in at.error)


def test_drawing_is_classified(at: AppTest) -> None:
    at.radio(key="fm_input").set_value("Draw").run()
    assert any("Draw on the black square" in i.value for i in at.info)
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[:, :, 3] = 255
    canvas[40:240, 130:150, :3] = 255  # a "1"
    buf = io.BytesIO()
    Image.fromarray(canvas, "RGBA").save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    at.session_state["fm_canvas"] = {"drawing": {"raw": {"objects": []}, "data": url}}
    at.run()
    assert not at.exception
    assert heading(at)
    assert any("your drawing" in c.value for c in at.caption)


def test_use_this_filter_sets_the_playground_kernel(at: AppTest) -> None:
    at.number_input(key="fm_pg_filter").set_value(3).run()
    at.radio(key="fm_pg_channel").set_value("G").run()
    at.button(key="fm_pg_send").click().run()
    state = at.session_state["conv_state"]  # the playground's set-up, ready when it opens
    assert state.preset == "custom" and state.kernel_origin == "conv1 filter 3 (G)"
    weights = torch.load(builtin_weights()[0].path, weights_only=True)["conv1.weight"]
    np.testing.assert_array_equal(state.kernel(), weights[3, 1].double().numpy())


def test_gallery_matches_the_dataset_of_the_weights() -> None:
    assert gallery("cifar10") and gallery("mnist")


def test_uploaded_weights_read_as_another_dataset_are_recomputed(at: AppTest) -> None:
    """The same file read as MNIST weights normalises the same input differently, so the maps
    computed for it as CIFAR-10 weights must not be served from the caches."""
    buf = io.BytesIO()
    torch.manual_seed(1)
    torch.save(SimpleCNN().state_dict(), buf)
    photo = io.BytesIO()
    Image.fromarray(np.full((40, 40, 3), (200, 120, 40), np.uint8)).save(photo, format="PNG")
    at.selectbox(key="net_weights").set_value("upload").run()
    at.file_uploader(key="net_weights_file").set_value(("mine.pt", buf.getvalue(), "x")).run()
    at.radio(key="fm_input").set_value("Upload").run()
    at.file_uploader(key="fm_upload").set_value(("p.png", photo.getvalue(), "image/png")).run()

    def statistics() -> str:
        return next(m.value for m in at.markdown if m.value.startswith("min **"))

    as_cifar = statistics()
    at.radio(key="net_upload_dataset").set_value("mnist").run()
    assert not at.exception
    assert statistics() != as_cifar  # conv1 of the same photo, normalised as MNIST digits
