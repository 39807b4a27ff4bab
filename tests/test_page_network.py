"""AppTest: the network page renders from the model itself, and its controls change it."""

from __future__ import annotations

import io

import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.architecture import parameter_totals
from explorer.model import SimpleCNN, builtin_weights
from explorer.samples import gallery
from tests.screen import shown

TIMEOUT = 60


@pytest.fixture
def at() -> AppTest:
    app = AppTest.from_file("../pages/network.py", default_timeout=TIMEOUT)
    return app.run()


def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.code)


def test_page_shows_architecture_table_and_totals_without_errors(at: AppTest) -> None:
    assert not at.exception
    total, trainable = parameter_totals(SimpleCNN())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters in all"] == f"{total:,}"
    assert metrics["Trainable"] == f"{trainable:,}"
    table = at.table[0].value.reset_index()
    assert list(table["name"])[:4] == ["input", "conv1", "relu1", "pool1"]
    assert table["parameters"].str.replace(",", "").astype(int).sum() == total  # as written
    assert "conv1:** 32·3·3·3 + 32 = 896" in texts(at)
    assert "model.training = False" in texts(at)
    assert "SimpleCNN(" in texts(at)


def test_weights_choice_is_offered_and_changes_the_sidebar(at: AppTest) -> None:
    options = at.selectbox(key="net_weights").options
    assert len(options) == len(builtin_weights()) + 1
    at.selectbox(key="net_weights").set_value("upload").run()
    assert not at.exception
    assert any("Upload a weights file" in i.value for i in at.info)
    assert not at.metric  # nothing is shown until there are weights


def test_uploaded_weights_with_other_class_count_change_the_table(at: AppTest) -> None:
    at.selectbox(key="net_weights").set_value("upload").run()
    buf = io.BytesIO()
    torch.save(SimpleCNN(num_classes=3).state_dict(), buf)
    at.file_uploader(key="net_weights_file").set_value(
        ("three.pt", buf.getvalue(), "application/octet-stream")
    ).run()
    assert not at.exception
    assert list(at.table[0].value["output shape"])[-1] == "1 × 3"
    assert "fc2:** 3·512 + 3 = 1,539" in texts(at)


def test_bad_weights_upload_shows_a_message_naming_the_key(at: AppTest) -> None:
    at.selectbox(key="net_weights").set_value("upload").run()
    state = SimpleCNN().state_dict()
    state["conv1.weight"] = torch.zeros(16, 3, 3, 3)
    buf = io.BytesIO()
    torch.save(state, buf)
    at.file_uploader(key="net_weights_file").set_value(
        ("bad.pt", buf.getvalue(), "application/octet-stream")
    ).run()
    assert not at.exception
    message = " ".join(shown(e.value) for e in at.error)
    assert "conv1.weight" in message and "(16, 3, 3, 3)" in message and "(32, 3, 3, 3)" in message


def test_device_choice_lists_the_cpu(at: AppTest) -> None:
    radios = [r for r in at.radio if r.key == "net_device"]
    if radios:  # a GPU machine: the user can switch to the CPU
        radios[0].set_value("cpu").run()
        assert not at.exception
    else:
        assert any("CPU" in c.value for c in at.caption)


def test_a_link_opens_the_chosen_weights_in_presenter_mode_with_sections_hidden() -> None:
    at = AppTest.from_file("../pages/network.py", default_timeout=60)
    at.query_params.update({"w": "simplecnn-mnist", "present": "1", "hide": "table,print"})
    at.run()
    assert not at.exception
    assert at.selectbox(key="net_weights").value == "simplecnn-mnist"
    subheaders = [h.value for h in at.subheader]
    assert (
        "Layer by layer" not in subheaders and "The model, as PyTorch prints it" not in subheaders
    )
    assert "Where the parameters are" in subheaders  # its numbers need the hidden table's total
    # The session's input travels too: following the link on to Feature maps keeps the digit.
    first_digit = gallery("mnist")[0].key
    assert dict(at.query_params) == {
        "w": "simplecnn-mnist",
        "img": first_digit,
        "present": "1",
        "hide": "print,table",
    }


def test_a_bad_weights_value_in_a_link_is_ignored_with_a_sentence() -> None:
    at = AppTest.from_file("../pages/network.py", default_timeout=60)
    at.query_params["w"] = "![x](http://evil.example/p.png)"
    at.run()
    assert not at.exception
    assert at.selectbox(key="net_weights").value == builtin_weights()[0].key
    message = " ".join(shown(w.value) for w in at.warning)
    assert "Ignored the link's w=" in message and "it must be one of simplecnn-cifar10" in message
    assert all("](" not in w.value for w in at.warning)


def reference_shapes(model: SimpleCNN) -> dict[str, tuple[int, ...]]:
    """Every layer's output shape (less the batch), by running plain PyTorch step by step."""
    x = torch.zeros(1, 3, 32, 32)
    shapes = {"input": tuple(x.shape[1:])}
    with torch.no_grad():
        for block in (1, 2, 3):
            x = getattr(model, f"conv{block}")(x)
            shapes[f"conv{block}"] = tuple(x.shape[1:])
            x = torch.relu(x)
            shapes[f"relu{block}"] = tuple(x.shape[1:])
            x = torch.nn.functional.max_pool2d(x, 2)
            shapes[f"pool{block}"] = tuple(x.shape[1:])
        x = torch.flatten(x, 1)
        shapes["flatten"] = tuple(x.shape[1:])
        x = torch.relu(model.fc1(x))
        shapes["fc1"] = shapes["relu4"] = shapes["dropout"] = tuple(x.shape[1:])
        shapes["fc2"] = tuple(model.fc2(x).shape[1:])
    return shapes


def test_presenting_draws_the_whole_flow_in_blocks_with_each_layers_shape() -> None:
    import re

    at = AppTest.from_file("../pages/network.py", default_timeout=60)
    at.query_params.update({"present": "1", "hide": "table,parameters,print,dropout"})
    at.run()
    assert not at.exception
    assert not at.get("graphviz_chart")  # the tall chain is for a laptop's column
    bodies = [h.proto.body for h in at.get("html")]
    flow = next(b for b in bodies if 'data-testid="network-flow"' in b)
    blocks = re.findall(r'<div class="flow-title"[^>]*>([^<]+)</div>', flow)
    assert blocks == ["Input", "Block 1", "Block 2", "Block 3", "Classifier head"]
    drawn = dict(re.findall(r'data-layer="(\w+)".*?<span[^>]*>([^<]+)</span>', flow))
    model = SimpleCNN()
    model.load_state_dict(torch.load(builtin_weights()[0].path, weights_only=True))
    expected = reference_shapes(model)
    assert list(drawn) == list(expected)  # every layer, in forward order
    for name, shape in expected.items():
        assert drawn[name] == " × ".join(map(str, shape)), name
    assert dict(at.query_params)["present"] == "1"
