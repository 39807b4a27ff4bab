"""The arithmetic behind one cell (explorer.inside): literal numbers on hand-set weights, every
stage equal to the captured activation (exactly where the arithmetic is exact, to float32
precision on the shipped weights), and every intermediate number checked against PyTorch.

About the tolerance. The explanation adds the products in float64 (53 bits); PyTorch added the
same float32 terms in float32 (24 bits), in an order of its own. Each float32 addition may
round by up to 2⁻²⁴ of the running sum, so the two results may differ by up to
n × 2⁻²⁴ × Σ|terms| for n terms (577 for a conv3 cell, 2,049 for fc1) in the worst case; the
blocked sums of PyTorch's kernels do far better, and on the shipped weights the difference is at
most 6.6 × 2⁻²⁴ × Σ|terms|. We assert 16 × 2⁻²⁴ × Σ|terms| (``SUM_ROUNDING_UNITS``): a few
times what is seen, far below what any wrong term would cause — a dropped bias, a window one
cell off or a wrong weight moves the sum by orders of magnitude more. Softmax: see
``SoftmaxCell.bound``. Stages that only choose a number (ReLU, max-pool, flatten, dropout) must
be equal bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.features import capture_activations, preprocess
from explorer.inside import (
    EXPLAINED_STAGES,
    FLOAT32_UNIT_ROUNDOFF,
    SUM_ROUNDING_UNITS,
    TF32_UNIT_ROUNDOFF,
    CellError,
    ConvCell,
    DropoutCell,
    FlattenCell,
    LinearCell,
    PoolCell,
    ReluCell,
    SoftmaxCell,
    conv_roundoff,
    explain,
    flatten_index,
    pool_trace,
    unflatten_index,
)
from explorer.model import SimpleCNN, builtin_weights
from explorer.samples import gallery, load_gallery_image
from explorer.weights_file import load_choice

# --------------------------------------------------------------------- literal numbers


def literal_model() -> SimpleCNN:
    """Every weight 0 but a few set by hand, so each stage's numbers can be worked out on paper.

    conv1 filter 0 reads channel 0 through [[1,0,0],[0,2,0],[0,0,−1]], bias 0.5; conv2 and conv3
    have only biases (1 and 2), so pool3 is 2 everywhere; fc1 unit 0 = 2·flatten[57] −
    flatten[5] + 0.25; fc2 class 3 = 4·relu4[0] − 1, every other class 0."""
    model = SimpleCNN()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.conv1.weight[0, 0] = torch.tensor([[1.0, 0, 0], [0, 2, 0], [0, 0, -1]])
        model.conv1.bias[0] = 0.5
        model.conv2.bias.fill_(1.0)
        model.conv3.bias.fill_(2.0)
        model.fc1.weight[0, 57] = 2.0
        model.fc1.weight[0, 5] = -1.0
        model.fc1.bias[0] = 0.25
        model.fc2.weight[3, 0] = 4.0
        model.fc2.bias[3] = -1.0
    return model.eval()


def literal_input() -> torch.Tensor:
    """Channel 0: ((row + col) mod 4) − 1, so −1, 0, 1, 2 along every diagonal; the rest 0."""
    r, c = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    x = torch.zeros(1, 3, 32, 32)
    x[0, 0] = ((r + c) % 4 - 1).float()
    return x


@pytest.fixture(scope="module")
def literal() -> tuple[SimpleCNN, torch.Tensor, object]:
    model, x = literal_model(), literal_input()
    return model, x, capture_activations(model, x)


def test_conv1_cell_by_hand(literal) -> None:
    model, x, acts = literal
    how = explain(model, x, acts, "conv1", (0, 5, 7))
    assert isinstance(how, ConvCell) and how.source == "input"
    # window rows 4–6, cols 6–8 of channel 0: [[1,2,−1],[2,−1,0],[−1,0,1]]
    np.testing.assert_array_equal(how.window[0], [[1, 2, -1], [2, -1, 0], [-1, 0, 1]])
    np.testing.assert_array_equal(how.products[0], [[1, 0, 0], [0, -2, 0], [0, 0, -1]])
    assert how.channel_sums.tolist() == [-2.0, 0.0, 0.0]
    assert how.bias == 0.5 and how.value == -1.5 and how.captured == -1.5
    assert how.shown == (0, 1, 2) and how.rest == 0.0  # three channels: all listed


def test_the_inputs_channels_are_listed_r_g_b_whatever_their_sums(literal) -> None:
    """All three colour channels fit: they are listed R, G, B, not by the size of their sums
    (a student reads "input G, input R, input B" as a mistake)."""
    model, x, _ = literal
    model, x = literal_model(), x.clone()
    with torch.no_grad():
        model.conv1.weight[0, 2] = 3.0  # blue's slice: 3 everywhere
    x[0, 2] = 1.0  # blue's sum (27) now dwarfs red's (−2) and green's (0)
    acts = capture_activations(model, x)
    how = explain(model, x, acts, "conv1", (0, 5, 7))
    assert abs(how.channel_sums[2]) > abs(how.channel_sums[0])
    assert how.shown == (0, 1, 2)


def test_conv1_corner_window_hangs_over_the_padding(literal) -> None:
    model, x, acts = literal
    how = explain(model, x, acts, "conv1", (0, 0, 0))
    np.testing.assert_array_equal(how.inside, [[0, 0, 0], [0, 1, 1], [0, 1, 1]])
    np.testing.assert_array_equal(how.window[0], [[0, 0, 0], [0, -1, 0], [0, 0, 1]])
    assert how.value == how.captured == 2 * -1 + -1 * 1 + 0.5  # = −2.5


def test_relu_pool_flatten_fc_softmax_by_hand(literal) -> None:
    model, x, acts = literal
    relu = explain(model, x, acts, "relu1", (0, 5, 7))
    assert isinstance(relu, ReluCell) and (relu.before, relu.value, relu.captured) == (-1.5, 0, 0)
    assert explain(model, x, acts, "relu1", (0, 5, 5)).value == 2.5
    # pool1[0, 2, 3]: relu1 rows 4–5, cols 6–7 = [[2.5, 4.5], [4.5, 0]]: a tie of two 4.5s
    pool = explain(model, x, acts, "pool1", (0, 2, 3))
    assert isinstance(pool, PoolCell)
    np.testing.assert_array_equal(pool.window, [[2.5, 4.5], [4.5, 0]])
    assert (pool.value, pool.winner, pool.source_cell, pool.ties) == (4.5, (0, 1), (4, 7), 2)
    flat = explain(model, x, acts, "flatten", (57,))
    assert isinstance(flat, FlattenCell)
    assert (flat.channel, flat.row, flat.col, flat.value) == (3, 2, 1, 2.0)
    fc1 = explain(model, x, acts, "fc1", (0,))
    assert isinstance(fc1, LinearCell) and fc1.value == fc1.captured == 2 * 2 - 2 + 0.25
    assert fc1.shown[:2] == (57, 5) and fc1.products[:2].tolist() == [4.0, -2.0]
    drop = explain(model, x, acts, "dropout", (0,))
    assert isinstance(drop, DropoutCell) and drop.value == drop.captured == 2.25
    fc2 = explain(model, x, acts, "fc2", (3,))
    assert fc2.value == fc2.captured == 4 * 2.25 - 1  # = 8
    soft = explain(model, x, acts, "softmax", (3,))
    assert isinstance(soft, SoftmaxCell)
    assert soft.value == pytest.approx(math.exp(8) / (math.exp(8) + 9), rel=1e-15)
    assert soft.shift == 8.0  # the largest score is subtracted first
    assert soft.total == pytest.approx(1 + 9 * math.exp(-8), rel=1e-15)
    assert soft.agrees


# --------------------------------------------------------------------- every stage, exactly


def exact_model() -> SimpleCNN:
    """Random weights that are multiples of 1/4 (fc2: of 1/256), 30% of them non-zero, and an
    input of small integers: every sum in the network is exact in float32, so the explanation
    must equal the captured value exactly at every stage but softmax."""
    g = torch.Generator().manual_seed(7)
    model = SimpleCNN()
    with torch.no_grad():
        for name, p in model.named_parameters():
            steps = torch.randint(-2, 3, p.shape, generator=g).float()
            keep = torch.rand(p.shape, generator=g) < (0.3 if p.ndim > 1 else 1.0)
            p.copy_(steps * keep / (256 if name.startswith("fc2") else 4))
    return model.eval()


def cells(shape: tuple[int, ...], count: int, seed: int) -> list[tuple[int, ...]]:
    """The corners and ``count`` random cells of a stage."""
    rng = np.random.default_rng(seed)
    out = [tuple(0 for _ in shape), tuple(s - 1 for s in shape)]
    out += [tuple(int(rng.integers(0, s)) for s in shape) for _ in range(count)]
    return out


def test_every_stage_equals_the_capture_exactly_on_exact_weights() -> None:
    model = exact_model()
    x = torch.randint(-2, 3, (1, 3, 32, 32), generator=torch.Generator().manual_seed(8)).float()
    acts = capture_activations(model, x)
    assert np.sort(acts.stages["softmax"])[-2] > 1e-3  # softmax is not saturated: 2 classes count
    for stage in EXPLAINED_STAGES:
        for cell in cells(acts.stages[stage].shape, 40, seed=len(stage)):
            how = explain(model, x, acts, stage, cell)
            if stage == "softmax":
                assert how.agrees, (stage, cell, how.value, how.captured)
            else:
                assert how.value == how.captured, (stage, cell, how.value, how.captured)


# --------------------------------------------------------------------- the shipped weights


def float64_stages(model: SimpleCNN, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Every stage recomputed in float64 by PyTorch from the float32 inputs each stage got, an
    independent reference for the explanation's arithmetic (not for PyTorch's rounding)."""
    acts = capture_activations(model, x)
    s = {k: torch.from_numpy(v.astype(np.float64)) for k, v in acts.stages.items()}
    p = {k: v.detach().double() for k, v in model.state_dict().items()}
    ref = {
        "conv1": F.conv2d(x.double(), p["conv1.weight"], p["conv1.bias"], padding=1)[0],
        "conv2": F.conv2d(s["pool1"][None], p["conv2.weight"], p["conv2.bias"], padding=1)[0],
        "conv3": F.conv2d(s["pool2"][None], p["conv3.weight"], p["conv3.bias"], padding=1)[0],
        "fc1": F.linear(s["flatten"], p["fc1.weight"], p["fc1.bias"]),
        "fc2": F.linear(s["dropout"], p["fc2.weight"], p["fc2.bias"]),
        "softmax": torch.softmax(s["fc2"], dim=0),
    }
    return {k: v.numpy() for k, v in ref.items()}


SHIPPED = [c for c in builtin_weights() if c.path is not None]


@pytest.mark.parametrize("choice", SHIPPED, ids=lambda c: c.key)
def test_shipped_weights_every_stage_matches_pytorch(choice) -> None:
    model = load_choice(choice)
    dataset = "mnist" if choice.preprocessing.kind == "digit" else "cifar10"
    for item in gallery(dataset)[::7]:
        x = preprocess(load_gallery_image(item), choice.preprocessing)
        acts = capture_activations(model, x)
        ref = float64_stages(model, x)
        for stage in EXPLAINED_STAGES:
            for cell in cells(acts.stages[stage].shape, 12, seed=len(stage)):
                how = explain(model, x, acts, stage, cell)
                assert how.agrees, (stage, cell, how.value, how.captured, how.bound)
                if stage in ref:  # the same arithmetic, done by PyTorch in float64
                    assert how.value == pytest.approx(ref[stage][cell], rel=1e-12, abs=1e-12)
                else:
                    assert how.value == how.captured  # a choice, not a sum: bit for bit


def test_the_tolerance_is_sixteen_roundings_of_the_terms(literal) -> None:
    model, x, acts = literal
    how = explain(model, x, acts, "conv2", (1, 3, 4))
    assert SUM_ROUNDING_UNITS == 16
    assert how.bound == 16 * 2.0**-24 * (np.abs(how.products).sum() + abs(how.bias))
    assert how.terms == 32 * 9 + 1


def test_a_wrong_window_would_be_caught() -> None:
    """The tolerance is tight enough to see a window one column off."""
    choice = SHIPPED[0]
    model = load_choice(choice)
    x = preprocess(load_gallery_image(gallery("cifar10")[0]), choice.preprocessing)
    acts = capture_activations(model, x)
    how = explain(model, x, acts, "conv2", (3, 5, 6))
    off = explain(model, x, acts, "conv2", (3, 5, 7))
    wrong = float(off.window.ravel() @ how.weights.ravel() + how.bias)
    assert abs(wrong - how.captured) > 100 * how.bound


# --------------------------------------------------------------------- the parts of a record


@pytest.fixture(scope="module")
def cifar() -> tuple[SimpleCNN, torch.Tensor, object]:
    choice = SHIPPED[0]
    model = load_choice(choice)
    x = preprocess(load_gallery_image(gallery("cifar10")[4]), choice.preprocessing)
    return model, x, capture_activations(model, x)


def test_conv_channel_sums_and_the_rest_add_up(cifar) -> None:
    model, x, acts = cifar
    how = explain(model, x, acts, "conv3", (17, 3, 4), top=5)
    weights = model.conv3.weight[17].detach().double().numpy()
    np.testing.assert_array_equal(how.weights, weights)
    np.testing.assert_array_equal(how.window, acts.stages["pool2"][:, 2:5, 3:6])
    assert len(how.shown) == 5 and len(set(how.shown)) == 5
    sums = np.abs(how.channel_sums)
    assert min(sums[list(how.shown)]) >= max(np.delete(sums, list(how.shown)))
    shown = sum(how.channel_sums[i] for i in how.shown)
    assert shown + how.rest + how.bias == pytest.approx(how.value, abs=1e-12)


def test_linear_shows_the_largest_products(cifar) -> None:
    model, x, acts = cifar
    how = explain(model, x, acts, "fc1", (100,), top=3)  # fully connected: 2 × top listed
    inputs = acts.stages["flatten"].astype(np.float64)
    products = inputs * model.fc1.weight[100].detach().double().numpy()
    expected = np.argsort(-np.abs(products), kind="stable")[:6]
    assert how.shown == tuple(int(i) for i in expected)
    np.testing.assert_array_equal(how.products, products[expected])
    assert how.zero_inputs == int(np.sum(inputs == 0)) > 0
    total = how.products.sum() + how.rest + how.bias
    assert total == pytest.approx(how.value, abs=1e-12)


def test_pool_winner_is_the_one_pytorch_reports(cifar) -> None:
    model, x, acts = cifar
    relu = torch.from_numpy(acts.stages["relu2"].copy())[None]
    _, indices = F.max_pool2d(relu, 2, 2, return_indices=True)  # flat index into 16×16
    for cell in cells((64, 8, 8), 60, seed=3):
        how = explain(model, x, acts, "pool2", cell)
        assert how.source_cell == divmod(int(indices[0][cell]), 16), cell


def test_pool_trace_is_max_pool_window_by_window(cifar) -> None:
    _, _, acts = cifar
    source = acts.stages["relu1"][5]
    trace = pool_trace(source)
    pooled, indices = F.max_pool2d(torch.from_numpy(source.copy())[None], 2, 2, return_indices=True)
    np.testing.assert_array_equal(trace.output, pooled[0].numpy())
    assert trace.steps == 256 and trace.position(17) == (1, 1)
    for step in (0, 17, 255):
        i, j = trace.position(step)
        r, c = divmod(int(trace.winners[step]), 2)
        np.testing.assert_array_equal(
            trace.windows[step], source[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
        )
        assert (2 * i + r) * 32 + (2 * j + c) == int(indices[0, i, j])


def test_flatten_index_is_torch_flatten_order() -> None:
    order = torch.flatten(torch.arange(2048).reshape(1, 128, 4, 4), 1)[0].numpy()
    positions = np.arange(2048).reshape(128, 4, 4)
    for k in range(2048):
        c, i, j = unflatten_index(k, (128, 4, 4))
        assert order[k] == positions[c, i, j] == flatten_index(c, i, j, (128, 4, 4)) == k


def test_softmax_matches_torch(cifar) -> None:
    model, x, acts = cifar
    how = explain(model, x, acts, "softmax", (2,))
    expected = torch.softmax(torch.from_numpy(acts.stages["fc2"].astype(np.float64)), 0)
    np.testing.assert_allclose(how.probabilities, expected.numpy(), rtol=1e-14)
    np.testing.assert_allclose(how.exps / how.total, how.probabilities, rtol=1e-15)
    assert how.shift == float(acts.stages["fc2"].max())


def test_huge_logits_are_shifted_before_exp() -> None:
    model = literal_model()
    with torch.no_grad():
        model.fc2.bias[3] = 800.0  # 4 × 2.25 + 800 = 809: exp(809) overflows float64
    x = literal_input()
    acts = capture_activations(model, x)
    how = explain(model, x, acts, "softmax", (3,))
    assert how.shift == 809.0 and np.isfinite(how.exps).all()
    assert how.value == 1.0 and how.agrees


def test_large_negative_logits_give_numbers_not_nan() -> None:
    """Every logit below −745: exp of each rounds to 0 in float64 unless the largest is
    subtracted first (0/0 = NaN); PyTorch gives numbers."""
    model = literal_model()
    with torch.no_grad():
        model.fc2.bias[:] = -2000.0
        model.fc2.bias[1] = -1999.0
    x = literal_input()
    acts = capture_activations(model, x)
    expected = torch.softmax(torch.from_numpy(acts.stages["fc2"].astype(np.float64)), 0)
    for k in range(len(expected)):
        how = explain(model, x, acts, "softmax", (k,))
        assert np.isfinite(how.probabilities).all()
        np.testing.assert_allclose(how.probabilities, expected.numpy(), rtol=1e-12)
        assert how.agrees


# --------------------------------------------------------------------- mistakes


@pytest.mark.parametrize(
    "stage, cell, words",
    [
        ("conv3", (0, 8, 0), "rows 0 to 7"),
        ("conv1", (32, 0, 0), "maps 0 to 31"),
        ("fc1", (512,), "units 0 to 511"),
        ("fc1", (1, 2), "1 coordinate"),
        ("pool9", (0, 0, 0), "no stage called"),
        ("pool1", (0, -1, 0), "rows 0 to 15"),
    ],
)
def test_a_cell_that_does_not_exist_is_a_clear_error(literal, stage, cell, words) -> None:
    model, x, acts = literal
    with pytest.raises(CellError, match=words):
        explain(model, x, acts, stage, cell)


def test_tf32_convolutions_on_cuda_get_a_wider_tolerance(monkeypatch) -> None:
    assert conv_roundoff("cpu") == conv_roundoff("mps") == FLOAT32_UNIT_ROUNDOFF
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    assert conv_roundoff("cuda") == conv_roundoff("cuda:1") == TF32_UNIT_ROUNDOFF
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    assert conv_roundoff("cuda") == FLOAT32_UNIT_ROUNDOFF


def test_explaining_changes_nothing(cifar) -> None:
    model, x, acts = cifar
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x_before = x.clone()
    for stage in EXPLAINED_STAGES:
        explain(model, x, acts, stage, tuple(0 for _ in acts.stages[stage].shape))
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    assert torch.equal(x, x_before) and not any(a.flags.writeable for a in acts.stages.values())
