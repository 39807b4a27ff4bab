"""The sharing lab's numbers against independent references: the parameter counts against
hand formulas and against ``sum(p.numel())`` of locally connected and dense modules built
here (really allocated where that fits in memory, on PyTorch's ``meta`` device where it would
not), the shapes against the model's own forward pass, and the edited kernel's outputs against
``torch.nn.functional.conv2d``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer.links import LINK_PARAMS
from explorer.model import CIFAR10_PREPROCESSING, SimpleCNN, build_model
from explorer.numbers import NumberError
from explorer.sharing import (
    OUTLINED,
    channel_input,
    conv1_map_gap,
    conv1_padding,
    conv_shapes,
    head_counts,
    in_words,
    kernel_lab,
    layer_counts,
    learned_kernel,
    network_total,
    times,
    where_parameters,
)
from explorer.sharing_pictures import (
    HATCH_BACK,
    OUTLINE_DARK,
    OUTLINE_LIGHT,
    counts_figure,
    input_picture,
    output_picture,
)
from explorer.sharing_state import SHARING_CHOICES, SharingState


@pytest.fixture(scope="module")
def model() -> SimpleCNN:
    return build_model(seed=3)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (32, 32, 3), dtype=np.uint8)


# ============================================================================================
# Independent modules: a convolution without sharing, and as a dense layer


class LocallyConnected2d(nn.Module):
    """A convolution whose weights are not shared: its own out×in×k×k kernel and out biases
    at every one of the H'×W' output positions (stride 1, zero padding ``padding``)."""

    def __init__(
        self, in_ch: int, out_ch: int, k: int, out_side: tuple[int, int], padding: int
    ) -> None:
        super().__init__()
        h, w = out_side
        self.k, self.padding, self.out_side = k, padding, out_side
        self.weight = nn.Parameter(torch.zeros(h * w, out_ch, in_ch * k * k))
        self.bias = nn.Parameter(torch.zeros(out_ch, h, w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = F.unfold(x, self.k, padding=self.padding)  # N×(in·k·k)×(H'·W')
        out = torch.einsum("npl,lop->nol", patches, self.weight)  # N×out×(H'·W')
        return out.reshape(x.shape[0], -1, *self.out_side) + self.bias


def numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv_as_dense(conv: nn.Conv2d, side: int) -> nn.Linear:
    """The dense layer that computes ``conv`` on side×side maps: its weight matrix read off
    by putting each basis image through the convolution (a column per input number)."""
    n_in = conv.in_channels * side * side
    basis = torch.eye(n_in, dtype=torch.float64).reshape(n_in, conv.in_channels, side, side)
    with torch.no_grad():
        columns = F.conv2d(basis, conv.weight.double(), None, conv.stride, conv.padding)
        dense = nn.Linear(n_in, columns[0].numel(), dtype=torch.float64)
        dense.weight.copy_(columns.reshape(n_in, -1).T)
        dense.bias.copy_(conv.bias.double().repeat_interleave(columns[0, 0].numel()))
    return dense


# ============================================================================================
# The counts


def test_counts_at_32_are_the_hand_formulas(model: SimpleCNN) -> None:
    rows = {r.shape.name: r for r in layer_counts(model, 32)}
    # conv1: 3→32 maps, 32×32 → 32×32; conv2: 32→64, 16×16; conv3: 64→128, 8×8 (pooling halves)
    layers = (("conv1", 3, 32, 32), ("conv2", 32, 64, 16), ("conv3", 64, 128, 8))
    for name, cin, cout, side in layers:
        shared = cout * cin * 3 * 3 + cout
        assert rows[name].shared == shared
        assert rows[name].local == side * side * shared
        assert rows[name].dense == (cin * side * side) * (cout * side * side) + cout * side * side
    # The "about 93 thousand, 10 million and 268 million", worked out by hand.
    assert sum(r.shared for r in rows.values()) == 896 + 18_496 + 73_856 == 93_248
    assert sum(r.local for r in rows.values()) == 917_504 + 4_734_976 + 4_726_784 == 10_379_264
    assert sum(r.dense for r in rows.values()) == 100_696_064 + 134_234_112 + 33_562_624
    assert sum(r.dense for r in rows.values()) == 268_492_800


@pytest.mark.parametrize("side", [8, 32, 64])
def test_shapes_follow_the_models_own_forward_pass(model: SimpleCNN, side: int) -> None:
    shapes, flat = conv_shapes(model, side)
    x = torch.zeros(1, 3, side, side)
    with torch.no_grad():
        for shape in shapes:
            assert tuple(x.shape[1:]) == (shape.in_channels, *shape.in_side)
            x = getattr(model, shape.name)(x)
            assert tuple(x.shape[1:]) == (shape.out_channels, *shape.out_side)
            x = model.pool(torch.relu(x))
    assert flat == torch.flatten(x, 1).shape[1]


def test_shared_counts_are_the_models_own_convolutions(model: SimpleCNN) -> None:
    for side in (32, 64, 224):
        for row in layer_counts(model, side):
            assert row.shared == numel(getattr(model, row.shape.name)), (side, row.shape.name)


def test_locally_connected_counts_match_built_modules(model: SimpleCNN) -> None:
    """Allocated for real at 32×32 (at most 4.7 million numbers, 19 MB), on the meta device
    (shapes only) at 224×224."""
    for row in layer_counts(model, 32):
        s = row.shape
        local = LocallyConnected2d(s.in_channels, s.out_channels, s.kernel, s.out_side, 1)
        assert numel(local) == row.local, s.name
    with torch.device("meta"):
        for row in layer_counts(model, 224):
            s = row.shape
            local = LocallyConnected2d(s.in_channels, s.out_channels, s.kernel, s.out_side, 1)
            assert numel(local) == row.local, s.name


def test_a_locally_connected_layer_with_one_kernel_everywhere_is_the_convolution(
    model: SimpleCNN,
) -> None:
    """The module counted above really is a convolution without sharing: given the same
    kernel at every position it computes the convolution."""
    (row, *_), _ = layer_counts(model, 8), None
    s = row.shape
    local = LocallyConnected2d(s.in_channels, s.out_channels, s.kernel, s.out_side, 1).double()
    with torch.no_grad():
        kernel = model.conv1.weight.double().reshape(s.out_channels, -1)  # out×(in·k·k)
        local.weight.copy_(kernel.expand(row.positions, -1, -1))
        local.bias.copy_(model.conv1.bias.double()[:, None, None].expand(-1, *s.out_side))
        x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
        expected = F.conv2d(x, model.conv1.weight.double(), model.conv1.bias.double(), padding=1)
        torch.testing.assert_close(local(x), expected)


def test_dense_counts_match_built_linear_layers(model: SimpleCNN) -> None:
    """nn.Linear from every input number to every output number: allocated at 8×8 (at most
    0.5 million numbers), on the meta device at 32×32, where conv1's alone would be 100
    million numbers (400 MB)."""
    for side, device in ((8, "cpu"), (32, "meta")):
        with torch.device(device):
            for row in layer_counts(model, side):
                s = row.shape
                dense = nn.Linear(
                    s.in_channels * s.in_side[0] * s.in_side[1],
                    s.out_channels * s.out_side[0] * s.out_side[1],
                )
                assert numel(dense) == row.dense, (side, s.name)


def test_the_dense_layer_maps_the_same_maps_to_the_same_maps(model: SimpleCNN) -> None:
    """At 8×8, conv1 written as the dense layer counted above computes conv1 exactly."""
    (row, *_) = layer_counts(model, 8)
    dense = conv_as_dense(model.conv1, 8)
    assert numel(dense) == row.dense
    x = torch.randn(3, 3, 8, 8, dtype=torch.float64)
    conv = F.conv2d(x, model.conv1.weight.double(), model.conv1.bias.double(), padding=1)
    torch.testing.assert_close(dense(x.reshape(3, -1)).reshape(conv.shape), conv)


def test_head_and_total_follow_the_input_size(model: SimpleCNN) -> None:
    at32 = head_counts(model, 32)
    assert [h.params for h in at32] == [numel(model.fc1), numel(model.fc2)]
    assert network_total(model, 32) == numel(model) == 1_147_466
    for side in (64, 224):
        fc1 = head_counts(model, side)[0]
        assert fc1.in_features == 128 * (side // 8) ** 2
        with torch.device("meta"):
            assert fc1.params == numel(nn.Linear(fc1.in_features, 512))
        convs = sum(numel(getattr(model, f"conv{i}")) for i in (1, 2, 3))
        assert network_total(model, side) == convs + fc1.params + numel(model.fc2)
    assert head_counts(model, 224)[0].params == 51_380_736


def test_other_class_counts_change_only_fc2() -> None:
    three = build_model(num_classes=3)
    assert [h.params for h in head_counts(three, 32)][-1] == 512 * 3 + 3
    assert network_total(three, 32) == numel(three)


def test_where_the_parameters_are(model: SimpleCNN) -> None:
    found = where_parameters(model)
    assert [name for name, *_ in found] == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    counts = dict((name, n) for name, n, _ in found)
    assert counts == {name: numel(getattr(model, name)) for name in counts}
    assert sum(share for *_, share in found) == pytest.approx(1.0)
    fc1 = next(share for name, _, share in found if name == "fc1")
    assert fc1 == pytest.approx(1_049_088 / 1_147_466) and round(fc1 * 100) == 91


def test_in_words_and_times() -> None:
    assert in_words(93_248) == "93.2 thousand"
    assert in_words(10_379_264) == "10.4 million"
    assert in_words(268_492_800) == "268 million"
    assert in_words(644_516_339_712) == "645 billion"
    assert in_words(999_999) == "1 million"  # rounded before the word is chosen
    assert in_words(999) == "999"
    assert times(10_379_264, 93_248) == "111×"
    assert times(268_492_800, 93_248) == "2,879×"
    assert times(3, 2) == "1.5×"


def test_too_small_an_image_is_refused_in_words(model: SimpleCNN) -> None:
    from explorer.errors import UserError

    with pytest.raises(UserError, match="does not fit"):
        conv_shapes(model, 4)


# ============================================================================================
# The kernel lab


def torch_conv(channel: np.ndarray, kernel: np.ndarray, padding: int) -> np.ndarray:
    x = torch.from_numpy(channel)[None, None]
    w = torch.from_numpy(np.asarray(kernel, dtype=np.float64))[None, None]
    return F.conv2d(x, w, padding=padding)[0, 0].numpy()


def test_channel_and_kernel_are_what_conv1_reads(model: SimpleCNN, image: np.ndarray) -> None:
    for i, ch in enumerate("RGB"):
        expected = (image[..., i] / 255.0 - CIFAR10_PREPROCESSING.mean[i]) / (
            CIFAR10_PREPROCESSING.std[i]
        )
        np.testing.assert_allclose(
            channel_input(image, CIFAR10_PREPROCESSING, ch), expected, atol=1e-6
        )
        np.testing.assert_array_equal(
            learned_kernel(model, 5, ch), model.conv1.weight[5, i].detach().double().numpy()
        )
    assert conv1_padding(model) == 1


@pytest.mark.parametrize("cell", [(1, 1), (0, 0), (2, 1)])
def test_an_edited_weight_against_torch(model: SimpleCNN, image: np.ndarray, cell) -> None:
    channel = channel_input(image, CIFAR10_PREPROCESSING, "G")
    before = learned_kernel(model, 0, "G")
    after = before.copy()
    after[cell] += 0.75
    found = kernel_lab(channel, before, after, 1)
    np.testing.assert_allclose(found.out_before, torch_conv(channel, before, 1), atol=1e-12)
    np.testing.assert_allclose(found.out_after, torch_conv(channel, after, 1), atol=1e-12)
    # The change is 0.75 × the input shifted by the weight's place (zero padding around it).
    shifted = np.pad(channel, 1)[cell[0] : cell[0] + 32, cell[1] : cell[1] + 32]
    np.testing.assert_allclose(found.difference, 0.75 * shifted, atol=1e-12)
    assert found.edited_cells == [cell]
    # Counted independently: every output where the weight lies on a pixel (not the padding).
    on_pixels = np.count_nonzero(np.pad(np.ones((32, 32)), 1)[cell[0] :, cell[1] :][:32, :32])
    assert found.n_changed == on_pixels and found.n_outputs == 1024
    assert found.unchanged_reasons() == {"padding": 1024 - on_pixels, "zero": 0, "rounding": 0}
    if cell == (1, 1):
        assert found.n_changed == 1024
    if cell == (0, 0):
        assert found.n_changed == 961  # row 0 and column 0 read the padding there


def test_positions_show_the_same_weights_at_work(model: SimpleCNN, image: np.ndarray) -> None:
    channel = channel_input(image, CIFAR10_PREPROCESSING, "R")
    before = learned_kernel(model, 2, "R")
    after = before.copy()
    after[0, 2] = -1.0
    after[2, 0] = 0.25
    found = kernel_lab(channel, before, after, 1)
    reference = torch_conv(channel, after, 1)
    padded = np.pad(channel, 1)
    for row, (letter, r, c) in zip(found.positions(), OUTLINED, strict=True):
        assert (row.letter, row.row, row.col) == (letter, r, c)
        np.testing.assert_array_equal(row.patch, padded[r : r + 3, c : c + 3])
        assert row.after == pytest.approx(reference[r, c], abs=1e-12)
        by_hand = (-1.0 - before[0, 2]) * padded[r, c + 2] + (0.25 - before[2, 0]) * padded[
            r + 2, c
        ]
        assert row.expected_change == pytest.approx(by_hand, abs=1e-12)
        assert row.change == pytest.approx(row.expected_change, abs=1e-12)


def test_why_outputs_did_not_change() -> None:
    channel = np.ones((8, 8))
    channel[:, 4:] = 0.0  # a black right half
    before = np.zeros((3, 3))
    after = before.copy()
    after[1, 2] = 2.0  # reads the pixel to the right
    found = kernel_lab(channel, before, after, 1)
    # Columns 3…6 read black pixels; column 7 reads the padding.
    assert found.unchanged_reasons() == {"padding": 8, "zero": 32, "rounding": 0}
    assert found.n_changed == 64 - 40
    ones = np.ones((3, 3))
    ones[1, 1] = 0.0
    tiny = ones.copy()
    tiny[1, 1] = 1e-30  # a change, but 3e-30 is lost when added to sums of 3 or more
    found = kernel_lab(np.full((4, 4), 3.0), ones, tiny, 1)
    assert found.edited_cells == [(1, 1)]
    assert found.unchanged_reasons()["rounding"] == 16 and found.n_changed == 0
    assert kernel_lab(channel, before, before, 1).unchanged_reasons() == {
        "padding": 0,
        "zero": 0,
        "rounding": 0,
    }


def test_three_channels_and_the_bias_make_conv1s_map(model: SimpleCNN, image: np.ndarray) -> None:
    gap = conv1_map_gap(model, image, CIFAR10_PREPROCESSING, 4)
    assert gap < 1e-5
    # Independently: the same sum with torch in float64 is the network's map to float32 rounding.
    x = torch.from_numpy(
        np.stack([channel_input(image, CIFAR10_PREPROCESSING, ch) for ch in "RGB"])
    )[None]
    w, b = model.conv1.weight[4:5].double(), model.conv1.bias[4:5].double()
    with torch.no_grad():
        network = model.conv1(x.float())[0, 4].double()
        by_torch = float((F.conv2d(x, w, b, padding=1)[0, 0] - network).abs().max())
    assert by_torch == pytest.approx(gap, abs=2e-6)


# ============================================================================================
# Pictures


def test_input_picture_outlines_the_kernel_and_hatches_the_padding() -> None:
    padded = np.pad(np.linspace(-1, 1, 64).reshape(8, 8), 1)
    img = input_picture(padded, 1, 3, [("A", 2, 3)], factor=10)
    assert img.shape == (100, 100, 3)
    assert tuple(img[20, 45]) == OUTLINE_LIGHT  # the box's top edge: row 2, columns 3…5
    assert tuple(img[22, 45]) == OUTLINE_DARK
    assert tuple(img[35, 30]) == OUTLINE_LIGHT  # its left edge, column 3 (x = 30…)
    assert tuple(img[35, 32]) == OUTLINE_DARK  # and the dark line inside the yellow
    assert tuple(img[51, 31]) == OUTLINE_LIGHT  # the letter tag, below the box (no room above)
    ring = img[:10, 50:60].reshape(-1, 3)
    assert {tuple(p) for p in ring} <= {HATCH_BACK, (160, 160, 160)}  # the padding, hatched
    assert tuple(img[15, 15]) not in (HATCH_BACK, OUTLINE_LIGHT)  # the image's first pixel


def test_output_picture_hatches_what_did_not_change() -> None:
    values = np.arange(16.0).reshape(4, 4) - 8
    mask = np.zeros((4, 4), bool)
    mask[3, 3] = True
    img = output_picture(values, -8, 8, [], hatched=mask, factor=10)
    assert img.shape == (40, 40, 3)
    assert {tuple(p) for p in img[30:40, 30:40].reshape(-1, 3)} <= {HATCH_BACK, (160, 160, 160)}
    assert tuple(img[5, 5]) not in (HATCH_BACK, (160, 160, 160))


def test_counts_figure_has_a_line_per_count_on_a_log_scale() -> None:
    fig = counts_figure((32, 64), [("a", [10, 10]), ("b", [100, 400])], 64)
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[1].y) == [100, 400] and fig.layout.yaxis.type == "log"


# ============================================================================================
# The page state and its links


def test_state_round_trips_through_a_link() -> None:
    state = (
        SharingState()
        .choose("filter", 7)
        .choose("channel", "B")
        .choose("side", 224)
        .edit(4, "1/9")
        .edit(0, " −0.5 ")
    )
    params = state.to_query()
    assert params == {"kfilter": "7", "kchan": "B", "inpx": "224", "kedit": "0:−0.5,4:1/9"}
    again, warnings = SharingState.from_query(params)
    assert again == state and warnings == []
    assert SharingState().to_query() == {}
    for param in params:
        assert LINK_PARAMS[param] == "sharing", param
    for choice in SHARING_CHOICES.values():
        assert LINK_PARAMS[choice.param] == "sharing"


def test_kernel_applies_the_typed_weights() -> None:
    learned = np.arange(9.0).reshape(3, 3)
    kernel = SharingState().edit(8, "1e-3").edit(3, "-3 / 16").kernel(learned)
    expected = learned.copy()
    expected[2, 2], expected[1, 0] = 1e-3, -3 / 16
    np.testing.assert_array_equal(kernel, expected)
    assert learned[2, 2] == 8.0  # not changed in place
    state = SharingState().edit(8, "2").unedit(8)
    assert state.edits == () and state.typed(8) is None


def test_another_filter_or_channel_starts_from_its_learned_weights() -> None:
    edited = SharingState().edit(1, "3")
    assert edited.choose("filter", 1).edits == ()
    assert edited.choose("channel", "G").edits == ()
    assert edited.choose("filter", 0).edits == edited.edits  # the same filter: kept
    assert edited.choose("side", 64).edits == edited.edits


@pytest.mark.parametrize(
    ("name", "value"),
    [("filter", 32), ("filter", -1), ("filter", True), ("channel", "X"), ("side", 33), ("x", 1)],
)
def test_choices_not_offered_are_refused(name: str, value: object) -> None:
    with pytest.raises(ValueError):
        SharingState().choose(name, value)


def test_bad_typed_weights_say_what_is_wrong() -> None:
    with pytest.raises(NumberError, match=r"Row 2, column 3: 'abc' is not a number"):
        SharingState().edit(5, "abc")
    with pytest.raises(NumberError, match="Row 1, column 1 is empty"):
        SharingState().edit(0, "  ")
    with pytest.raises(NumberError, match="too large"):
        SharingState().edit(0, "1e9")


def test_a_bad_link_keeps_the_defaults_and_says_why() -> None:
    state, warnings = SharingState.from_query(
        {"kfilter": "99", "kchan": "purple", "inpx": "100", "kedit": "4:abc,12:1,x,0:2"}
    )
    assert state == SharingState().edit(0, "2")
    said = " ".join(warnings)
    assert "kfilter='99'" in said and "from 0 to 31" in said
    assert "kchan='purple'" in said and "inpx='100'" in said
    assert "'4:abc'" in said and "is not a number" in said
    assert "'12:1'" in said and "'x'" in said
    long_state, long_warnings = SharingState.from_query({"kedit": "4:" + "1" * 500})
    assert long_state == SharingState() and "characters long" in long_warnings[0]
