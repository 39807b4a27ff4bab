"""AppTest: "Inside the network" shows, for the numbers a student reads, the values PyTorch
computes — every stage's headline number, the softmax table, the clickable numbers, the scores
the attributions explain, the gallery's conv3 peaks — and each control changes them."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from explorer import attribution
from explorer.inside import EXPLAINED_STAGES
from explorer.model import SimpleCNN, builtin_weights
from explorer.player import format_value
from explorer.samples import gallery, load_gallery_image
from tests.screen import shown

TIMEOUT = 90
CIFAR = {c.key: c for c in builtin_weights()}["simplecnn-cifar10"]


@pytest.fixture
def at() -> AppTest:
    return AppTest.from_file("../pages/inside.py", default_timeout=TIMEOUT).run()


@pytest.fixture(scope="module")
def reference_model() -> SimpleCNN:
    model = SimpleCNN()
    model.load_state_dict(torch.load(CIFAR.path, weights_only=True))
    return model.eval()


def reference_stages(model: SimpleCNN, key: str) -> dict[str, np.ndarray]:
    """Every stage by plain PyTorch for gallery image ``key``, normalised by hand."""
    item = {i.key: i for i in gallery("cifar10")}[key]
    image = torch.from_numpy(load_gallery_image(item).astype(np.float32) / 255).permute(2, 0, 1)
    mean = torch.tensor(CIFAR.preprocessing.mean).view(3, 1, 1)
    std = torch.tensor(CIFAR.preprocessing.std).view(3, 1, 1)
    x = ((image - mean) / std)[None]
    s = {}
    with torch.no_grad():
        h = x
        for i in (1, 2, 3):
            s[f"conv{i}"] = h = getattr(model, f"conv{i}")(h)
            s[f"relu{i}"] = h = torch.relu(h)
            s[f"pool{i}"] = h = torch.nn.functional.max_pool2d(h, 2)
        s["flatten"] = h = h.reshape(1, -1)
        s["fc1"] = h = model.fc1(h)
        s["relu4"] = s["dropout"] = h = torch.relu(h)
        s["fc2"] = h = model.fc2(h)
        s["softmax"] = torch.softmax(h, dim=1)
    return {k: v[0].numpy() for k, v in s.items()}


# "**relu1[3, 4, 4] = max(0, conv1[3, 4, 4]) = max(0, −0.3298) = 0**": the value ends the bold
# (written with a true minus, −; an exponent keeps its own: 1.235e−5).
HEADLINE = re.compile(r"^\*\*(\w+)\[([\d, ]+)\] = (?:[^*]* = )?(−?[\d.e+−]+)\*\*")


def headline(at: AppTest) -> tuple[str, tuple[int, ...], float]:
    """The stage, cell and value the arithmetic starts with, as the student reads them."""
    for m in at.markdown:
        found = HEADLINE.match(m.value)
        if found:
            cell = tuple(int(v) for v in found.group(2).split(","))
            return found.group(1), cell, float(found.group(3).replace("−", "-"))
    raise AssertionError("no arithmetic on the page")


def numbers_table(at: AppTest):
    return next(d for d in at.dataframe if d.key == "in_table").value


def captions(at: AppTest) -> list[str]:
    return [i.proto.imgs[0].caption for i in at.get("image")]


def float64_line(at: AppTest) -> float:
    text = next(m.value for m in at.markdown if m.value.startswith("In float64 this is"))
    return float(re.search(r"\*\*(-?[\d.e+-]+)\*\*", text.replace("−", "-")).group(1))


def test_default_page_explains_a_conv2_number_that_is_pytorchs(at, reference_model) -> None:
    assert not at.exception
    assert any(m.value.startswith("#### The network says") for m in at.markdown)
    stage, cell, value = headline(at)
    assert stage == "conv2" and cell == (0, 4, 4)
    expected = reference_stages(reference_model, at.selectbox(key="net_image").value)
    assert format_value(value) == format_value(expected["conv2"][cell])
    assert float64_line(at) == pytest.approx(float(expected["conv2"][cell]), rel=1e-6, abs=1e-6)
    assert any("equal to float32 precision" in m.value for m in at.markdown)
    assert any("the other 28 channels, summed" in m.value for m in at.markdown)


def test_every_stage_shows_its_own_number(at, reference_model) -> None:
    expected = reference_stages(reference_model, at.selectbox(key="net_image").value)
    at.number_input(key="in_map").set_value(3).run()
    for name in EXPLAINED_STAGES:
        at.selectbox(key="in_stage").set_value(name).run()
        assert not at.exception, name
        stage, cell, value = headline(at)
        assert stage == name
        want = expected[name][cell]
        assert value == pytest.approx(float(want), abs=6e-5, rel=1e-4), (name, cell)
        assert any(m.value.startswith(("In float64", "PyTorch's value")) for m in at.markdown)


def test_the_clickable_numbers_are_the_maps_numbers(at, reference_model) -> None:
    expected = reference_stages(reference_model, at.selectbox(key="net_image").value)
    at.number_input(key="in_map").set_value(9).run()
    table = numbers_table(at)
    np.testing.assert_allclose(table.to_numpy(), expected["conv2"][9], rtol=1e-5, atol=1e-6)
    at.selectbox(key="in_stage").set_value("flatten").run()
    table = numbers_table(at)  # 128 rows of 16: one pool3 map a row
    np.testing.assert_allclose(table.to_numpy()[5], expected["pool3"][5].ravel(), rtol=1e-6)


def test_softmax_table_is_torch_softmax(at, reference_model) -> None:
    expected = reference_stages(reference_model, at.selectbox(key="net_image").value)
    at.selectbox(key="in_stage").set_value("softmax").run()
    table = next(m.value for m in at.markdown if m.value.startswith("| class | score")).replace(
        "−", "-"
    )
    rows = re.findall(
        r"^\| \**(\d+): (\w+)\** \| ([^|]+) \| ([^|]+) \| \**([\d.]+)\**", table, re.M
    )
    assert len(rows) == 10
    z = expected["fc2"].astype(np.float64)
    exps = np.exp(z - z.max())  # the table's middle column, by NumPy from PyTorch's logits
    for k, name, logit, e, p in rows:
        assert name == CIFAR.classes[int(k)]
        assert float(logit) == pytest.approx(float(expected["fc2"][int(k)]), abs=6e-5)
        assert float(e) == pytest.approx(exps[int(k)], rel=1e-5, abs=1e-6)
        assert float(p) == pytest.approx(float(expected["softmax"][int(k)]), abs=6e-7)
    # The sum row: the sum of every exp (the divisor), and the probabilities adding up to 1.
    sum_row = re.compile(r"^\| \*\*sum\*\* \| \| \*\*([\d.e+-]+)\*\* \| ([\d.]+) \|$", re.M)
    total, ones = sum_row.search(table).groups()
    assert float(total) == pytest.approx(exps.sum(), rel=1e-5)
    assert float(ones) == pytest.approx(1.0, abs=1e-6)


def test_the_conv_table_lists_pytorchs_channel_sums_and_adds_up(at, reference_model) -> None:
    """conv2[0, 4, 4]'s table: the four input channels with the largest sums, each equal to
    its 3×3 window of pool1 times filter 0's slice (by PyTorch), then the other channels, the
    bias, and the total — which the rows, as written, add up to."""
    expected = reference_stages(reference_model, at.selectbox(key="net_image").value)
    window = F.pad(torch.from_numpy(expected["pool1"]), (1, 1, 1, 1))[:, 4:7, 4:7]  # 32×3×3
    with torch.no_grad():
        sums = (window * reference_model.conv2.weight[0]).sum(dim=(1, 2)).double().numpy()
        bias = float(reference_model.conv2.bias[0])
    table = next(m.value for m in at.markdown if m.value.startswith("| one sum per input")).replace(
        "−", "-"
    )
    rows = dict(re.findall(r"^\| (.+?) \| \**(-?[\d.e+-]+)\** \|$", table, re.M))
    listed = {
        int(name.removeprefix("pool1 channel ")): float(value)
        for name, value in rows.items()
        if name.startswith("pool1 channel ")
    }
    largest = sorted(range(32), key=lambda i: -abs(sums[i]))[:4]
    assert sorted(listed) == sorted(largest)
    for channel, value in listed.items():
        assert value == pytest.approx(sums[channel], abs=6e-5), channel
    rest = float(rows["the other 28 channels, summed"])
    assert rest == pytest.approx(sums.sum() - sums[largest].sum(), abs=6e-5)
    assert float(rows["bias of filter 0"]) == pytest.approx(bias, abs=6e-5)
    total = float(rows["**= conv2[0, 4, 4]**"])
    assert total == pytest.approx(float(expected["conv2"][0, 4, 4]), abs=6e-5)
    assert sum(listed.values()) + rest + float(rows["bias of filter 0"]) == pytest.approx(
        total, abs=3e-4
    )  # six numbers each written to 4 decimals


def test_receptive_field_of_a_conv3_cell(at) -> None:
    at.selectbox(key="in_stage").set_value("conv3").run()
    at.number_input(key="in_row").set_value(2).run()
    at.number_input(key="in_col").set_value(5).run()
    assert not at.exception
    sentence = next(m.value for m in at.markdown if "can be influenced" in m.value)
    assert "input rows 1–18 and columns 13–30" in sentence and "an 18×18 field" in sentence
    at.selectbox(key="in_stage").set_value("fc1").run()
    assert any("every pixel of the input" in m.value for m in at.markdown)


def test_the_pool_stepper_walks_the_windows(at, reference_model) -> None:
    expected = reference_stages(reference_model, at.selectbox(key="net_image").value)
    at.selectbox(key="in_stage").set_value("pool1").run()
    at.number_input(key="in_map").set_value(2).run()
    at.number_input(key="in_row").set_value(3).run()
    at.number_input(key="in_col").set_value(4).run()
    assert at.slider(key="in_pool_step").value == 3 * 16 + 4 + 1  # the picked cell's window
    at.slider(key="in_pool_step").set_value(18).run()
    caption = next(c.value for c in at.caption if c.value.startswith("Window 18 of 256"))
    value = float(re.search(r"= (-?[\d.]+)", caption).group(1))
    assert "rows 2–3, columns 2–3" in caption
    assert value == pytest.approx(float(expected["pool1"][2, 1, 1]), abs=6e-5)


def test_the_attributions_explain_the_chosen_class(at, reference_model) -> None:
    expected = reference_stages(reference_model, at.selectbox(key="net_image").value)
    predicted = int(expected["fc2"].argmax())
    assert at.selectbox(key="in_target").value == predicted
    other = (predicted + 1) % 10
    at.selectbox(key="in_target").set_value(other).run()
    assert not at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Score (logit) of"))
    assert caption.startswith(f"Score (logit) of {CIFAR.classes[other]}: ")
    score = float(re.search(r"\*\*(-?[\d.]+)\*\*", caption).group(1))
    assert score == pytest.approx(float(expected["fc2"][other]), abs=6e-5)
    assert sum("Misleads:" in c.value for c in at.caption) == 3


def test_the_gallery_images_that_excite_a_conv3_map_most(at, reference_model) -> None:
    at.number_input(key="in_channel").set_value(40).run()
    assert not at.exception
    peaks = {
        item.key: reference_stages(reference_model, item.key)["conv3"][40].max()
        for item in gallery("cifar10")
    }
    best = sorted(peaks.values(), reverse=True)[:5]
    found = [re.search(r": (-?[\d.]+) at \(", c) for c in captions(at)]
    assert [float(f.group(1)) for f in found if f] == pytest.approx(best, abs=6e-5)


def test_optimising_an_input_shows_it(monkeypatch) -> None:
    from explorer.ui import inside_sections

    monkeypatch.setattr(attribution, "MAXIMISE_STEPS", 6)
    inside_sections._MAXIMISED.clear()
    at = AppTest.from_file("../pages/inside.py", default_timeout=TIMEOUT).run()
    at.number_input(key="in_channel").set_value(11).run()
    at.button(key="in_maximise").click().run()
    assert not at.exception
    assert "An input made for conv3 map 11" in captions(at)
    words = next(m.value for m in at.markdown if "small steps" in m.value)
    assert re.search(r"\b6 small steps", words) and "mean of conv3 map 11" in words
    # One statistic to a sentence: the mean's rise, then the gallery's best mean (a mean
    # compared with a mean), the largest cell on its own.
    sentences = re.split(r"(?<=\.) ", words)
    assert sum("rose from" in x for x in sentences) == 1
    assert any(
        x.startswith("For comparison, the gallery image with the highest mean") for x in sentences
    )
    assert "−" in words or "-" not in re.sub(
        r"[a-z]-[a-z]", "", words
    )  # minus signs are true minuses
    assert not any(b.key == "in_maximise" for b in at.button)  # the result took its place
    at.run()  # computed once, for every session: shown again without the button
    assert not any(b.key == "in_maximise" for b in at.button)
    assert "An input made for conv3 map 11" in captions(at)
    inside_sections._MAXIMISED.clear()


def test_a_link_opens_the_cell_it_names() -> None:
    at = AppTest.from_file("../pages/inside.py", default_timeout=TIMEOUT)
    at.query_params.update(stage="fc1", cell="7", channel="12")
    at.run()
    assert not at.exception
    assert headline(at)[:2] == ("fc1", (7,))
    assert at.number_input(key="in_channel").value == 12


def test_a_link_names_the_image_and_the_class(reference_model) -> None:
    ship = next(i.key for i in gallery("cifar10") if i.label_name == "ship")
    at = AppTest.from_file("../pages/inside.py", default_timeout=TIMEOUT)
    at.query_params.update(stage="softmax", cell="8", img=ship, **{"class": "2"})
    at.run()
    assert not at.exception
    assert at.selectbox(key="net_image").value == ship
    assert at.selectbox(key="in_target").value == 2  # the link's class, not the answer
    stage, cell, value = headline(at)
    assert (stage, cell) == ("softmax", (8,))
    assert value == pytest.approx(
        float(reference_stages(reference_model, ship)["softmax"][8]), abs=6e-5
    )


def test_a_new_image_explains_its_own_answer(at, reference_model) -> None:
    other = next(i for i in gallery("cifar10") if i.label_name == "frog")
    predicted = int(reference_stages(reference_model, other.key)["fc2"].argmax())
    at.selectbox(key="in_target").set_value((predicted + 1) % 10).run()
    at.selectbox(key="net_image").set_value(other.key).run()
    assert at.selectbox(key="in_target").value == predicted


def test_a_link_with_nonsense_is_ignored() -> None:
    at = AppTest.from_file("../pages/inside.py", default_timeout=TIMEOUT)
    at.query_params.update(
        stage="<b>evil</b>", cell="abc,²,-3", img="../../etc/passwd", channel="①", **{"class": "x"}
    )
    at.run()
    assert not at.exception
    stage, cell, _ = headline(at)
    assert stage == "conv2" and cell == (0, 4, 4)
    said = [shown(w.value) for w in at.warning]
    for param in ("stage", "cell", "img", "channel", "class"):  # each named in a sentence
        assert any(f"Ignored the link's {param}=" in w for w in said), param


def test_a_failed_gpu_is_said(monkeypatch) -> None:
    """The attribution maps are computed in a worker process (explorer.heavy), where no
    monkeypatch reaches: a device that always fails ("meta", shapes without numbers) stands in
    for a GPU there, and the worker's fallback to the CPU is said on the page. (Section 4 is
    hidden: its gallery scores have no fallback.)"""
    from explorer import model
    from explorer.model import DeviceInfo

    real = model.available_devices
    failing = DeviceInfo("meta", "a GPU that fails", True)
    monkeypatch.setattr(model, "available_devices", lambda: [failing, *real()])
    at = AppTest.from_file("../pages/inside.py", default_timeout=TIMEOUT)
    at.query_params.update(present="1", hide="filter")
    at.run()
    assert not at.exception
    said = [shown(w.value) for w in at.warning]
    assert any(w.startswith("The GPU failed (") and "meta" in w for w in said), said


@pytest.mark.parametrize("weights", ["simplecnn-mnist", "untrained"])
def test_other_weights_are_explained_too(at, weights) -> None:
    at.selectbox(key="net_weights").set_value(weights).run()
    at.selectbox(key="in_stage").set_value("fc2").run()
    assert not at.exception
    assert headline(at)[0] == "fc2"


def test_the_link_other_pages_send_names_the_weights_image_cell_and_class() -> None:
    def script() -> None:
        import streamlit as st

        from explorer.ui import inside_links
        from explorer.ui.network import NET

        NET.put(NET.get().choose("weights", "simplecnn-mnist").choose("image", "mnist-0-10"))
        st.json(inside_links.link_params("conv2", (5, 3, 4)))
        st.json(inside_links.link_params("softmax", (3,), target=3))
        NET.put(NET.get().choose("input", "draw"))  # a drawing cannot travel in a link
        st.json(inside_links.link_params("fc1", (7,)))

    import json

    at = AppTest.from_function(script).run()
    sent = [json.loads(j.value) for j in at.json]
    mnist = {"w": "simplecnn-mnist"}
    assert sent == [
        {**mnist, "img": "mnist-0-10", "stage": "conv2", "cell": "5,3,4"},
        {**mnist, "img": "mnist-0-10", "stage": "softmax", "cell": "3", "class": "3"},
        {**mnist, "in": "draw", "stage": "fc1", "cell": "7"},
    ]


def test_uploaded_weights_with_many_classes(at) -> None:
    import io

    torch.manual_seed(5)
    buf = io.BytesIO()
    torch.save(SimpleCNN(num_classes=300).state_dict(), buf)
    at.selectbox(key="net_weights").set_value("upload").run()
    at.file_uploader(key="net_weights_file").set_value(("big.pt", buf.getvalue(), "x")).run()
    at.selectbox(key="in_stage").set_value("softmax").run()
    at.selectbox(key="in_unit").set_value(250).run()
    assert not at.exception
    table = next(m.value for m in at.markdown if m.value.startswith("| class | score")).replace(
        "−", "-"
    )
    assert "**250: class 250**" in table and "| the other 289 classes |" in table
    assert at.selectbox(key="in_target").value < 300
