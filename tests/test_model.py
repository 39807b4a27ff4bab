"""SimpleCNN's architecture, parameter arithmetic, layer table, devices and safe weights loading."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from explorer.architecture import (
    conv_params,
    layer_table,
    linear_params,
    parameter_arithmetic,
    parameter_totals,
)
from explorer.model import (
    MAX_CLASSES,
    WEIGHTS_DIR,
    SimpleCNN,
    WeightsError,
    available_devices,
    build_model,
    builtin_weights,
    expected_shapes,
)
from explorer.weights_file import load_choice, load_state_dict_bytes, validate_state_dict


def saved(state: object) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


class TextbookNet(nn.Module):
    """The tutorial's definition, written independently of ours."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(128 * 4 * 4, 512)
        self.fc2 = nn.Linear(512, 10)
        self.dropout = nn.Dropout(0.5)


def test_architecture_attributes_types_and_shapes() -> None:
    m = SimpleCNN()
    expected = {
        "conv1": (nn.Conv2d, (32, 3, 3, 3)),
        "conv2": (nn.Conv2d, (64, 32, 3, 3)),
        "conv3": (nn.Conv2d, (128, 64, 3, 3)),
        "fc1": (nn.Linear, (512, 2048)),
        "fc2": (nn.Linear, (10, 512)),
    }
    for name, (cls, shape) in expected.items():
        layer = getattr(m, name)
        assert isinstance(layer, cls) and tuple(layer.weight.shape) == shape
    assert m.conv1.padding == (1, 1) and m.pool.kernel_size == 2 and m.dropout.p == 0.5


def test_a_textbook_state_dict_loads_unchanged() -> None:
    state = TextbookNet().state_dict()
    clean, classes = load_state_dict_bytes(saved(state))
    assert classes == 10 and list(clean) == list(state)
    m = build_model(clean)
    for k, v in m.state_dict().items():
        assert torch.equal(v, state[k])


def test_parameter_total_is_the_sum_of_each_layers_dimensions() -> None:
    total, trainable = parameter_totals(SimpleCNN())
    by_hand = (
        conv_params(3, 32, 3)
        + conv_params(32, 64, 3)
        + conv_params(64, 128, 3)
        + linear_params(2048, 512)
        + linear_params(512, 10)
    )
    assert total == trainable == by_hand == 1_147_466
    assert conv_params(3, 32, 3) == 32 * 3 * 3 * 3 + 32 == 896


def test_parameter_arithmetic_matches_the_layer_table() -> None:
    m = SimpleCNN()
    rows = {r.name: r for r in layer_table(m)}
    arithmetic = parameter_arithmetic(m)
    assert arithmetic[0] == ("conv1", "32·3·3·3 + 32 = 896", 896)
    for name, _, count in arithmetic:
        assert rows[name].params == count
    assert sum(c for *_, c in arithmetic) == parameter_totals(m)[0]


def test_layer_table_shapes_halve_32_16_8_4() -> None:
    rows = {r.name: r for r in layer_table(SimpleCNN())}
    assert rows["conv1"].output_shape == (1, 32, 32, 32)
    assert [rows[f"pool{i}"].output_shape[-1] for i in (1, 2, 3)] == [16, 8, 4]
    assert rows["conv3"].output_shape == (1, 128, 8, 8)
    assert rows["flatten"].output_shape == (1, 2048)
    assert rows["fc1"].output_shape == (1, 512) and rows["fc2"].output_shape == (1, 10)
    assert rows["conv2"].weight_shape == (64, 32, 3, 3) and rows["conv2"].bias_shape == (64,)
    assert rows["relu1"].params == 0 and rows["dropout"].weight_shape is None


def test_layer_table_only_reads_the_model(monkeypatch) -> None:
    """The app shares one model between all sessions: the table may not switch its mode, not
    even for a moment (a capture in another session would see it), nor run dropout in training
    mode (it would draw from torch's global random generator)."""
    m = SimpleCNN().train()
    values = {k: v.clone() for k, v in m.state_dict().items()}
    rng = torch.random.get_rng_state()

    def switch(*_args, **_kwargs):
        raise AssertionError("layer_table switched the model's mode")

    monkeypatch.setattr(nn.Module, "train", switch)
    monkeypatch.setattr(nn.Module, "eval", switch)
    rows = layer_table(m)
    assert rows[-1].output_shape == (1, 10)
    assert all(sub.training for sub in m.modules())
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert all(torch.equal(v, values[k]) for k, v in m.state_dict().items())


def test_build_model_bounds_the_classes_and_shares_nothing_with_the_state() -> None:
    with pytest.raises(WeightsError, match="1 to 1,000 classes"):
        build_model(None, MAX_CLASSES + 1)
    state = SimpleCNN().state_dict()
    before = {k: v.clone() for k, v in state.items()}
    rng = torch.random.get_rng_state()
    m = build_model(state)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)
    assert all(torch.equal(v, before[k]) for k, v in state.items())
    assert torch.equal(torch.random.get_rng_state(), rng)  # no initialisation drew from it
    untrained = build_model(seed=4)
    assert torch.equal(torch.random.get_rng_state(), rng)  # seeded, then put back
    assert torch.equal(untrained.fc2.bias, build_model(seed=4).fc2.bias)


def test_expected_shapes_of_a_million_classes_allocate_nothing() -> None:
    """The old expected_shapes built SimpleCNN(1_000_000): 2 GB and seconds of initialisation
    before the file was even refused."""
    start = time.process_time()
    shapes = expected_shapes(1_000_000)
    assert shapes["fc2.weight"] == (1_000_000, 512) and shapes["conv1.weight"] == (32, 3, 3, 3)
    assert time.process_time() - start < 0.5


def test_validate_state_dict_leaves_its_input_alone_and_returns_copies() -> None:
    state = SimpleCNN().state_dict()
    wrapped = {"state_dict": state, "epoch": 3}
    before = {k: (v, v.clone()) for k, v in state.items()}
    clean, classes = validate_state_dict(wrapped)
    assert classes == 10 and set(wrapped) == {"state_dict", "epoch"}
    for k, (tensor, values) in before.items():
        assert state[k] is tensor and torch.equal(tensor, values)
        assert not np.shares_memory(clean[k].numpy(), tensor.numpy())


def test_devices_end_with_the_cpu() -> None:
    devices = available_devices()
    assert devices[-1].device == "cpu" and not devices[-1].is_gpu
    assert all(d.is_gpu for d in devices[:-1])


def test_untrained_model_is_seeded_and_in_eval_mode() -> None:
    a, b = build_model(), build_model()
    assert not a.training
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


def test_builtin_weights_always_offer_the_untrained_network() -> None:
    choices = builtin_weights()
    assert choices[-1].key == "untrained" and choices[-1].path is None
    for choice in choices:
        assert not load_choice(choice).training


@pytest.mark.parametrize("name", ["simplecnn-cifar10.pt", "simplecnn-mnist.pt"])
def test_our_own_weights_file_loads(name: str) -> None:
    # The shipped weights are part of the app: a missing file is a failure, never replaced.
    path = WEIGHTS_DIR / name
    assert path.is_file(), f"the shipped weights {path} are missing"
    data = path.read_bytes()
    card = json.loads(path.with_suffix(".json").read_text())
    assert hashlib.sha256(data).hexdigest() == card["weights_sha256"]  # the file its card describes
    state, classes = load_state_dict_bytes(data)
    assert classes == 10 and set(state) == set(SimpleCNN().state_dict())


def test_wrong_shape_names_key_expected_and_found() -> None:
    state = SimpleCNN().state_dict()
    state["conv2.weight"] = torch.zeros(64, 16, 3, 3)
    with pytest.raises(WeightsError) as err:
        load_state_dict_bytes(saved(state))
    msg = str(err.value)
    assert "conv2.weight" in msg and "(64, 16, 3, 3)" in msg and "(64, 32, 3, 3)" in msg


def test_missing_and_unexpected_keys_are_named() -> None:
    state = SimpleCNN().state_dict()
    del state["fc1.bias"]
    with pytest.raises(WeightsError, match="fc1.bias"):
        load_state_dict_bytes(saved(state))
    state = SimpleCNN().state_dict()
    state["bn1.weight"] = torch.ones(32)
    with pytest.raises(WeightsError, match="bn1.weight"):
        load_state_dict_bytes(saved(state))


def test_truncated_and_empty_files_are_refused() -> None:
    data = saved(SimpleCNN().state_dict())
    with pytest.raises(WeightsError, match="cut short or damaged"):
        load_state_dict_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="empty"):
        load_state_dict_bytes(b"")
    with pytest.raises(WeightsError):
        load_state_dict_bytes(b"hello, I am not a weights file")


def test_non_tensor_values_and_nan_are_refused() -> None:
    state = OrderedDict(SimpleCNN().state_dict())
    state["fc2.bias"] = [0.0] * 10
    with pytest.raises(WeightsError, match="fc2.bias.*not a tensor"):
        load_state_dict_bytes(saved(state))
    state = SimpleCNN().state_dict()
    state["conv1.bias"][3] = float("nan")
    with pytest.raises(WeightsError, match="conv1.bias.*NaN"):
        load_state_dict_bytes(saved(state))
    with pytest.raises(WeightsError, match="not a state_dict"):
        load_state_dict_bytes(saved([1, 2, 3]))


class Malicious:
    """Unpickling this would run a shell command that creates a marker file."""

    marker = ""

    def __reduce__(self):  # noqa: ANN204
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_malicious_pickle_is_refused_and_does_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    Malicious.marker = str(marker)
    state = dict(SimpleCNN().state_dict())
    state["conv1.weight"] = Malicious()
    for data in (saved(state), pickle.dumps(Malicious())):
        with pytest.raises(WeightsError):
            load_state_dict_bytes(data)
    assert not marker.exists()
    pickle.loads(pickle.dumps(Malicious()))  # control: plain pickle *would* run it
    assert marker.exists()


def test_module_prefix_from_data_parallel_is_removed() -> None:
    state = {f"module.{k}": v for k, v in SimpleCNN().state_dict().items()}
    clean, _ = load_state_dict_bytes(saved(state))
    assert all(not k.startswith("module.") for k in clean)


def test_other_class_counts_load() -> None:
    clean, classes = load_state_dict_bytes(saved(SimpleCNN(num_classes=2).state_dict()))
    assert classes == 2 and build_model(clean, classes).fc2.out_features == 2
