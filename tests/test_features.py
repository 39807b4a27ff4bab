"""capture_activations and friends: exact equality with the model's own forward pass, shapes,
nothing registered on or changed in the (shared) model, read-only results, hand-checked
numbers, overflowing weights, and the GPU fallback."""

from __future__ import annotations

import copy
import dataclasses
import gc
import tracemalloc

import numpy as np
import pytest
import torch

from explorer import features, stage_pictures
from explorer.features import (
    capture_activations,
    conv1_filters_rgb,
    filters,
    map_statistics,
    playground_kernel,
    predictions,
    preprocess,
    run_with_fallback,
    unpreprocess,
)
from explorer.model import (
    CIFAR10_PREPROCESSING,
    MNIST_PREPROCESSING,
    WEIGHTS_DIR,
    SimpleCNN,
    WeightsError,
    build_model,
)
from explorer.train import normalise
from explorer.weights_file import load_weights_file

EXPECTED_SHAPES = {
    "conv1": (32, 32, 32),
    "relu1": (32, 32, 32),
    "pool1": (32, 16, 16),
    "conv2": (64, 16, 16),
    "relu2": (64, 16, 16),
    "pool2": (64, 8, 8),
    "conv3": (128, 8, 8),
    "relu3": (128, 8, 8),
    "pool3": (128, 4, 4),
    "flatten": (2048,),
    "fc1": (512,),
    "relu4": (512,),
    "dropout": (512,),
    "fc2": (10,),
    "softmax": (10,),
}


@pytest.fixture(scope="module")
def model() -> SimpleCNN:
    return build_model(seed=3)


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def all_hooks(model: torch.nn.Module) -> list:
    return [h for m in model.modules() for h in (*m._forward_hooks, *m._forward_pre_hooks)]


class HookedReference:
    """An independent reference: every stage as ``model.forward`` itself computes it, taken
    with hooks on a private copy of the model (hooks are fine on a module no one else uses)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.own = copy.deepcopy(model)
        self.seen: dict[str, torch.Tensor] = {}
        self.pools: list[tuple[torch.Tensor, torch.Tensor]] = []
        for name in ("conv1", "conv2", "conv3", "fc1", "dropout", "fc2"):
            getattr(self.own, name).register_forward_hook(self._output_of(name))
        self.own.fc1.register_forward_hook(self._input_of("flatten"))
        self.own.dropout.register_forward_hook(self._input_of("relu4"))
        self.own.pool.register_forward_hook(lambda _m, i, out: self.pools.append((i[0], out)))

    def _output_of(self, name: str):
        return lambda _m, _i, out: self.seen.__setitem__(name, out)

    def _input_of(self, name: str):
        return lambda _m, i, _o: self.seen.__setitem__(name, i[0])

    def __call__(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        self.seen.clear()
        self.pools.clear()
        with torch.no_grad():
            self.seen["softmax"] = torch.softmax(self.own(x), dim=1)
        for i, (before, after) in enumerate(self.pools, start=1):
            self.seen[f"relu{i}"], self.seen[f"pool{i}"] = before, after
        return {k: v[0].numpy() for k, v in self.seen.items()}


def test_captured_logits_equal_the_plain_forward_exactly(model, x) -> None:
    acts = capture_activations(model, x)
    with torch.no_grad():
        expected = model(x)[0].numpy()
    np.testing.assert_array_equal(acts.logits, expected)
    np.testing.assert_array_equal(acts.stages["relu1"], torch.relu(model.conv1(x))[0].detach())


@pytest.mark.parametrize("weights", ["seeded", "simplecnn-cifar10", "simplecnn-mnist"])
def test_every_stage_equals_what_model_forward_computes_bit_for_bit(weights) -> None:
    """The explicit stage-by-stage pass against SimpleCNN.forward itself (seen through hooks on
    a private copy), on 24 random inputs of several scales and on the shipped weights."""
    path = WEIGHTS_DIR / f"{weights}.pt"
    if weights == "seeded":
        m = build_model(seed=7)
    elif path.exists():
        m = build_model(*load_weights_file(path))
    else:
        pytest.skip(f"{path.name} is not shipped in this checkout")
    reference_of = HookedReference(m)
    g = torch.Generator().manual_seed(2)
    for i in range(24):
        x = torch.randn(1, 3, 32, 32, generator=g) * (0.1, 1.0, 3.0, 10.0)[i % 4]
        acts = capture_activations(m, x)
        reference = reference_of(x)
        assert set(reference) == set(acts.stages)
        for name, arr in acts.stages.items():
            np.testing.assert_array_equal(arr, reference[name], err_msg=f"{name}, input {i}")


def test_the_capture_registers_nothing_on_the_model(model, x, monkeypatch) -> None:
    """No hooks at all, not even briefly: any hook on the shared model fires for every
    session's forward pass (see test_concurrency.py)."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("capture_activations registered a hook")

    for name in (
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
    ):
        monkeypatch.setattr(torch.nn.Module, name, refuse)
    monkeypatch.setattr(torch.nn.modules.module, "register_module_forward_hook", refuse)
    acts = capture_activations(model, x)
    assert acts.logits.shape == (10,) and all_hooks(model) == []


def test_every_stage_has_its_documented_shape(model, x) -> None:
    acts = capture_activations(model, x)
    assert {k: v.shape for k, v in acts.stages.items()} == EXPECTED_SHAPES
    assert list(acts.stages) == [
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "pool3",
        "flatten", "fc1", "relu4", "dropout", "fc2", "softmax",
    ]  # fmt: skip
    assert all(a.dtype == np.float32 for a in acts.stages.values())
    assert acts.device == "cpu" and acts.forward_ms > 0 and acts.fallback_reason is None


def test_relu_and_pool_stages_follow_from_the_previous_stage(model, x) -> None:
    s = capture_activations(model, x).stages
    np.testing.assert_array_equal(s["relu2"], np.maximum(s["conv2"], 0))
    pooled = s["relu3"].reshape(128, 4, 2, 4, 2).max(axis=(2, 4))
    np.testing.assert_array_equal(s["pool3"], pooled)
    np.testing.assert_array_equal(s["flatten"], s["pool3"].reshape(-1))  # channel-major
    np.testing.assert_array_equal(s["dropout"], s["relu4"])  # eval mode: dropout is off


def test_softmax_sums_to_one_and_predictions_are_sorted(model, x) -> None:
    probs = capture_activations(model, x).probabilities
    assert probs.sum() == pytest.approx(1.0, abs=1e-6)
    ranked = predictions(probs, [str(i) for i in range(10)])
    assert [p for _, p in ranked] == sorted(probs.tolist(), reverse=True)
    assert ranked[0][0] == str(int(np.argmax(probs)))


def test_a_failing_forward_leaves_the_model_as_it_was(model) -> None:
    wrong = torch.zeros(1, 5, 32, 32)  # 5 channels: conv1 raises
    with pytest.raises(RuntimeError):
        capture_activations(model, wrong)
    assert all_hooks(model) == [] and not model.training


def test_a_training_mode_model_is_refused_and_not_switched(x) -> None:
    m = SimpleCNN().train()
    with pytest.raises(ValueError, match="eval"):
        capture_activations(m, x)
    assert m.training
    m.eval().dropout.train()  # only dropout left on: its output would be random
    with pytest.raises(ValueError, match="eval"):
        capture_activations(m, x)
    assert m.dropout.training and not m.training


def test_nothing_is_kept_between_calls_and_results_are_read_only(model, x) -> None:
    before = dict(vars(model))
    a = capture_activations(model, x)
    b = capture_activations(model, x)
    assert vars(model).keys() == before.keys()
    assert a.stages["conv1"] is not b.stages["conv1"]
    for name, arr in a.stages.items():  # a cache hands these to every session: none may write
        assert not arr.flags.writeable, name
        with pytest.raises(ValueError, match="read-only"):
            arr[...] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.device = "cuda"  # type: ignore[misc]
    assert not np.shares_memory(a.stages["conv1"], b.stages["conv1"])
    assert not np.shares_memory(b.stages["dropout"], b.stages["relu4"])


def test_memory_stays_flat_over_100_calls(model, x) -> None:
    for _ in range(5):
        capture_activations(model, x)
    gc.collect()
    tracemalloc.start()
    first = None
    for i in range(100):
        capture_activations(model, x)
        if i == 9:
            gc.collect()
            first = tracemalloc.get_traced_memory()[0]
    gc.collect()
    last = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert last - first < 64 * 1024, f"grew by {last - first} bytes"


def model_fingerprint(m: torch.nn.Module) -> dict:
    """Everything a caller could have changed on a model: values, tensor identities and
    storage, devices, requires_grad, modes, hooks and attributes."""
    return {
        "values": {k: v.clone() for k, v in m.state_dict().items()},
        "tensors": [(id(p), p.data_ptr(), p.device, p.requires_grad) for p in m.parameters()],
        "modes": [sub.training for sub in m.modules()],
        "hooks": all_hooks(m),
        "attributes": {k: id(v) for k, v in vars(m).items()},
    }


def assert_same_model(m: torch.nn.Module, fingerprint: dict) -> None:
    now = model_fingerprint(m)
    for k, v in fingerprint["values"].items():
        assert torch.equal(now["values"][k], v), k
    assert {k: v for k, v in now.items() if k != "values"} == {
        k: v for k, v in fingerprint.items() if k != "values"
    }


def test_no_function_mutates_its_inputs(model, x) -> None:
    x_copy = x.clone()
    img = np.arange(32 * 32 * 3, dtype=np.uint8).reshape(32, 32, 3)
    img_copy = img.copy()
    fingerprint = model_fingerprint(model)
    rng = torch.random.get_rng_state()
    acts = capture_activations(model, preprocess(img, CIFAR10_PREPROCESSING))
    capture_activations(model, x)
    run_with_fallback(model, x, "cpu")
    features._model_on(model, "meta")  # a moved *copy*; the model stays on the CPU
    filters(model, "conv2")
    conv1_filters_rgb(model)
    playground_kernel(model, 3, "sum")
    predictions(acts.probabilities, [str(i) for i in range(10)])
    map_statistics(acts.stages["conv1"])
    assert torch.equal(x, x_copy) and x.device.type == "cpu"
    np.testing.assert_array_equal(img, img_copy)
    assert_same_model(model, fingerprint)
    assert torch.equal(torch.random.get_rng_state(), rng)  # the global generator untouched
    assert not model.training


def test_model_on_the_same_device_is_the_model_and_elsewhere_a_copy(model) -> None:
    assert features._model_on(model, "cpu") is model
    moved = features._model_on(model, "meta")
    assert moved is not model and next(moved.parameters()).device.type == "meta"
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_weights_that_overflow_float32_raise_a_sentence_not_nan(x) -> None:
    """1e6 everywhere: every layer multiplies by hundreds of thousands and the scores reach
    inf; the page used to show "airplane (nan%)"."""
    m = SimpleCNN().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(1e6)
    with pytest.raises(WeightsError, match=r"overflow \(inf/NaN\).*at fc2\."):
        capture_activations(m, x)
    with pytest.raises(WeightsError, match="overflow"):  # a GPU would not fix it: no fallback
        run_with_fallback(m, x, "cuda", cpu_model=m)


def test_hand_set_weights_give_hand_computed_activations() -> None:
    """conv1 filter 0 = the centre pixel of the red channel, bias 0.5: a red value of 2 at
    (5, 7) gives 2.5 there and 0.5 elsewhere; filter 1 = −(green centre), so ReLU zeroes it."""
    m = SimpleCNN().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.conv1.weight[0, 0, 1, 1] = 1.0
        m.conv1.bias[0] = 0.5
        m.conv1.weight[1, 1, 1, 1] = -1.0
        m.fc2.bias.copy_(torch.arange(10.0))
    x = torch.zeros(1, 3, 32, 32)
    x[0, 0, 5, 7] = 2.0
    x[0, 1, 3, 3] = 4.0
    s = capture_activations(m, x).stages
    assert s["conv1"][0, 5, 7] == 2.5
    assert s["conv1"][0, 0, 0] == 0.5
    assert s["conv1"][1, 3, 3] == -4.0
    assert s["relu1"][1, 3, 3] == 0.0
    assert s["pool1"][0, 2, 3] == 2.5  # the 2×2 block of rows 4–5, columns 6–7
    assert s["pool1"][0, 0, 0] == 0.5
    np.testing.assert_array_equal(s["fc2"], np.arange(10.0))  # every weight 0: logits = bias
    expected = np.exp(np.arange(10.0)) / np.exp(np.arange(10.0)).sum()
    np.testing.assert_allclose(s["softmax"], expected, rtol=1e-6)


def test_preprocess_matches_the_trainer_bit_for_bit_and_inverts() -> None:
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for pre in (CIFAR10_PREPROCESSING, MNIST_PREPROCESSING):
        x = preprocess(img, pre)
        assert x.shape == (1, 3, 32, 32) and x.dtype == torch.float32
        trainer = normalise(torch.from_numpy(img.transpose(2, 0, 1).copy())[None], pre)
        assert torch.equal(x, trainer)
        np.testing.assert_array_equal(unpreprocess(x, pre), img)
    with pytest.raises(ValueError):
        preprocess(np.zeros((28, 28, 3), np.uint8), CIFAR10_PREPROCESSING)


def test_gpu_failure_falls_back_to_the_cpu_and_says_why(model, x, monkeypatch) -> None:
    real = features.capture_activations

    def failing(m, xx, device="cpu"):
        if device != "cpu":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return real(m, xx, device)

    monkeypatch.setattr(features, "capture_activations", failing)
    acts = run_with_fallback(model, x, "cuda", cpu_model=model)
    assert acts.device == "cpu"
    assert "out of memory" in acts.fallback_reason
    np.testing.assert_array_equal(acts.logits, real(model, x).logits)


def test_unavailable_gpu_device_falls_back_without_a_fake() -> None:
    if torch.cuda.is_available():
        pytest.skip("a real GPU is present")
    m = build_model()
    acts = run_with_fallback(m, torch.zeros(1, 3, 32, 32), "cuda")
    assert acts.device == "cpu" and acts.fallback_reason


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_capture_matches_the_cpu_closely(model, x) -> None:
    cpu = capture_activations(model, x)
    gpu = capture_activations(model, x, "cuda")
    assert gpu.device == "cuda"
    for name, arr in cpu.stages.items():
        np.testing.assert_allclose(gpu.stages[name], arr, atol=1e-3, rtol=1e-3)


def test_conv1_filters_rgb_maps_zero_to_mid_grey() -> None:
    m = SimpleCNN().eval()
    with torch.no_grad():
        m.conv1.weight.zero_()
        m.conv1.weight[0, 0, 0, 0] = 2.0  # red, top left
        m.conv1.weight[0, 2, 2, 2] = -1.0  # blue, bottom right
    rgb = conv1_filters_rgb(m)
    assert rgb.shape == (32, 3, 3, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0, 0]) == (255, 128, 128)
    assert tuple(rgb[0, 2, 2]) == (128, 128, 64)  # 128 − 127/2 rounded
    assert tuple(rgb[0, 1, 1]) == (128, 128, 128)
    assert (rgb[1] == 128).all()  # an all-zero filter is grey


def test_map_statistics() -> None:
    stats = map_statistics(np.array([[0.0, 0.0], [1.0, 3.0]]))
    assert stats == {"min": 0.0, "max": 3.0, "mean": 1.0, "std": pytest.approx(np.sqrt(1.5)),
                     "fraction_zero": 0.5}  # fmt: skip


def test_playground_kernel_is_one_channel_or_the_sum(model) -> None:
    w = model.conv1.weight.detach().numpy()[4].astype(np.float64)
    assert playground_kernel(model, 4, "G")["values"] == w[1].tolist()
    summed = playground_kernel(model, 4, "sum")
    np.testing.assert_allclose(summed["values"], w.sum(axis=0))
    assert summed["name"] == "conv1 filter 4 (R+G+B)"


def test_stage_montage_has_one_tile_per_map(model, x) -> None:
    s = capture_activations(model, x).stages
    img = stage_pictures.stage_montage(s["conv1"], "signed", "layer", tile_px=64)
    assert img.shape == (4 * 64 + 3 * 2, 8 * 64 + 7 * 2, 3)
    img3 = stage_pictures.stage_montage(s["pool3"], "nonnegative", "map", tile_px=64)
    assert img3.shape == (8 * 64 + 7 * 2, 16 * 64 + 15 * 2, 3)
    assert stage_pictures.vector_strip(s["flatten"], "nonnegative", cell_px=8).shape == (
        256,
        512,
        3,
    )
