"""explorer.convolution, checked the micrograd way: every result against PyTorch (and SciPy)."""

from __future__ import annotations

import tracemalloc
from unittest import mock

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer import convolution
from explorer.convolution import (
    ConvolutionError,
    ConvSettings,
    conv2d,
    conv2d_loop,
    convolve2d,
    effective_kernel,
    output_size,
    output_size_steps,
    pad,
    window_trace,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}

# The textbook example: the 5×5 matrix of 1 … 25, row by row.
ONE_TO_25 = np.arange(1, 26, dtype=np.float64).reshape(5, 5)


def torch_conv(
    image: np.ndarray,
    kernel: np.ndarray,
    conv: ConvSettings | None = None,
    channels: str = "sum",
) -> np.ndarray:
    """The same convolution computed by torch.nn.functional.conv2d in float64."""
    conv = conv or ConvSettings()
    x = torch.from_numpy(np.asarray(image, dtype=np.float64))
    x = (x[None] if x.ndim == 2 else x)[None]  # 1×C×H×W
    n_channels = x.shape[1]
    w = torch.from_numpy(np.asarray(kernel, dtype=np.float64))
    if conv.flip:  # true convolution = cross-correlation with the kernel rotated 180°
        w = torch.flip(w, dims=(-2, -1))
    if w.ndim == 2:
        w = w.expand(n_channels, *w.shape)
    padding = conv.padding
    if padding and conv.padding_mode != "zeros":
        x = F.pad(x, (padding,) * 4, mode=conv.padding_mode)
        padding = 0
    options = {"stride": conv.stride, "padding": padding, "dilation": conv.dilation}
    if channels == "sum" or np.ndim(image) == 2:
        return F.conv2d(x, w[None], **options)[0, 0].numpy()  # weight 1×C×kh×kw
    return F.conv2d(x, w[:, None], groups=n_channels, **options)[0].numpy()  # weight C×1×kh×kw


@st.composite
def conv_cases(draw: st.DrawFn, max_channels: int = 1) -> tuple:
    """(image, kernel, settings) where the kernel fits: images 1–14 a side, kernels 1–7."""
    kh, kw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    padding = draw(st.integers(0, 3))
    dilation = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate"]))
    # Smallest side on which the dilated kernel fits; reflect also needs padding < side.
    least_h = max(1, dilation * (kh - 1) + 1 - 2 * padding, padding + 1 if mode == "reflect" else 1)
    least_w = max(1, dilation * (kw - 1) + 1 - 2 * padding, padding + 1 if mode == "reflect" else 1)
    height = draw(st.integers(least_h, least_h + 8))
    width = draw(st.integers(least_w, least_w + 8))
    n_channels = draw(st.integers(1, max_channels))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = (height, width) if max_channels == 1 else (n_channels, height, width)
    image = rng.uniform(-1, 1, size=shape)
    kernel = rng.uniform(-1, 1, size=(kh, kw))
    conv = ConvSettings(
        padding=padding,
        padding_mode=mode,
        stride=draw(st.integers(1, 3)),
        dilation=dilation,
        flip=draw(st.booleans()),
    )
    return image, kernel, conv


# --------------------------------------------------------------------------- the textbook loop


def test_textbook_example_one_to_25_with_a_box_kernel():
    # Valid 3×3 windows of 1 … 25 summed by a kernel of ones: 9 × the centre cell,
    # centres 7 8 9 / 12 13 14 / 17 18 19.
    expected = np.array([[63, 72, 81], [108, 117, 126], [153, 162, 171]], dtype=np.float64)
    kernel = np.ones((3, 3))
    np.testing.assert_array_equal(convolve2d(ONE_TO_25, kernel), expected)
    np.testing.assert_array_equal(conv2d_loop(ONE_TO_25, kernel), expected)
    np.testing.assert_array_equal(conv2d(ONE_TO_25, kernel), expected)


def test_textbook_example_with_zero_padding_sums_only_real_cells():
    # Padding 1 adds a ring of zeros: the corner window covers 1 2 / 6 7 → 16; the top middle
    # covers 2 3 4 / 7 8 9 → 33; the bottom-right corner 19 20 / 24 25 → 88.
    expected = np.array(
        [
            [16, 27, 33, 39, 28],  # 1+2+6+7, 1+2+3+6+7+8, 2+3+4+7+8+9, 3+4+5+8+9+10, 4+5+9+10
            [39, 63, 72, 81, 57],  # 1+2+6+7+11+12, 9·7, 9·8, 9·9, 4+5+9+10+14+15
            [69, 108, 117, 126, 87],  # 6+7+11+12+16+17, 9·12, 9·13, 9·14, 9+10+14+15+19+20
            [99, 153, 162, 171, 117],  # 11+12+16+17+21+22, 9·17, 9·18, 9·19, 14+15+19+20+24+25
            [76, 117, 123, 129, 88],  # 16+17+21+22, 16+17+18+21+22+23, …, 19+20+24+25
        ],
        dtype=np.float64,
    )
    padded_once = ConvSettings(padding=1)
    np.testing.assert_array_equal(conv2d(ONE_TO_25, np.ones((3, 3)), padded_once), expected)
    np.testing.assert_array_equal(conv2d_loop(ONE_TO_25, np.ones((3, 3)), padded_once), expected)


def test_textbook_example_stride_two_keeps_every_other_output():
    # Windows start at rows/columns 0 and 2: centres 7, 9, 17, 19 → 63, 81, 153, 171.
    expected = np.array([[63, 81], [153, 171]], dtype=np.float64)
    np.testing.assert_array_equal(
        conv2d(ONE_TO_25, np.ones((3, 3)), ConvSettings(stride=2)), expected
    )


def test_flip_decides_the_sign_of_an_asymmetric_kernel():
    # Kernel: +1 top-left, −1 bottom-right. Cross-correlation: A[r, c] − A[r+2, c+2] = −(2·5 + 2)
    # = −12 everywhere. True convolution rotates the kernel, so it gives A[r+2, c+2] − A[r, c] = 12.
    kernel = np.array([[1, 0, 0], [0, 0, 0], [0, 0, -1]], dtype=np.float64)
    np.testing.assert_array_equal(conv2d(ONE_TO_25, kernel), np.full((3, 3), -12.0))
    np.testing.assert_array_equal(
        conv2d(ONE_TO_25, kernel, ConvSettings(flip=True)), np.full((3, 3), 12.0)
    )


@given(case=conv_cases())
@settings(max_examples=40, deadline=None)
def test_convolve2d_matches_torch_and_scipy_correlate(case):
    image, kernel, _ = case
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        with pytest.raises(ConvolutionError, match="does not fit"):
            convolve2d(image, kernel)
        return
    result = convolve2d(image, kernel)
    np.testing.assert_allclose(result, torch_conv(image, kernel), **TOL)
    np.testing.assert_allclose(result, scipy.signal.correlate2d(image, kernel, mode="valid"), **TOL)


# --------------------------------------------------------------------------- generalised + fast


@given(case=conv_cases())
@settings(max_examples=60, deadline=None)
def test_conv2d_loop_matches_torch(case):
    image, kernel, conv = case
    np.testing.assert_allclose(
        conv2d_loop(image, kernel, conv), torch_conv(image, kernel, conv), **TOL
    )


@given(case=conv_cases())
@settings(max_examples=60, deadline=None)
def test_conv2d_matches_torch_on_single_channel_images(case):
    image, kernel, conv = case
    result = conv2d(image, kernel, conv)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, torch_conv(image, kernel, conv), **TOL)


@given(case=conv_cases(max_channels=4), data=st.data())
@settings(max_examples=60, deadline=None)
def test_conv2d_sums_channels_like_torch_conv2d_with_one_output(case, data):
    image, kernel_2d, conv = case
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    kernel = rng.uniform(-1, 1, size=(image.shape[0], *kernel_2d.shape))  # C×kh×kw
    np.testing.assert_allclose(conv2d(image, kernel, conv), torch_conv(image, kernel, conv), **TOL)


@given(case=conv_cases(max_channels=4), one_kernel_per_channel=st.booleans())
@settings(max_examples=60, deadline=None)
def test_conv2d_per_channel_matches_torch_depthwise(case, one_kernel_per_channel):
    image, kernel, conv = case
    if one_kernel_per_channel:
        kernel = np.stack([kernel * (c + 1) for c in range(image.shape[0])])
    result = conv2d(image, kernel, conv, channels="per_channel")
    expected = torch_conv(image, kernel, conv, channels="per_channel")
    assert result.shape == expected.shape == (image.shape[0], *expected.shape[1:])
    np.testing.assert_allclose(result, expected, **TOL)


@given(case=conv_cases())
@settings(max_examples=30, deadline=None)
def test_conv2d_matches_torch_when_the_output_spans_many_blocks(case):
    image, kernel, conv = case
    # Tiny blocks (a row or so at a time) exercise the block edges with every stride/dilation.
    with mock.patch.object(convolution, "_BLOCK_CELLS", 5):
        result = conv2d(image, kernel, conv)
    np.testing.assert_allclose(result, torch_conv(image, kernel, conv), **TOL)


@pytest.mark.parametrize(
    ("image_shape", "kernel_shape", "padding", "stride", "dilation"),
    [
        ((1, 9), (1, 3), 0, 1, 1),  # a single row
        ((9, 1), (3, 1), 0, 2, 1),  # a single column
        ((1, 1), (3, 3), 1, 1, 1),  # one pixel, padded
        ((7, 11), (2, 5), 2, 2, 1),  # non-square image and kernel
        ((12, 12), (3, 3), 0, 1, 4),  # dilation spreads a 3×3 over 9×9
        ((300, 500), (7, 7), 3, 3, 2),  # several blocks at the real block size
    ],
)
def test_conv2d_matches_torch_on_awkward_shapes(
    image_shape, kernel_shape, padding, stride, dilation
):
    rng = np.random.default_rng(0)
    image, kernel = rng.normal(size=image_shape), rng.normal(size=kernel_shape)
    conv = ConvSettings(padding=padding, stride=stride, dilation=dilation)
    np.testing.assert_allclose(conv2d(image, kernel, conv), torch_conv(image, kernel, conv), **TOL)


@given(case=conv_cases())
@settings(max_examples=40, deadline=None)
def test_flip_is_true_convolution_as_scipy_computes_it(case):
    image, kernel, _ = case
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        return
    expected = scipy.signal.convolve2d(image, kernel, mode="valid")
    np.testing.assert_allclose(conv2d(image, kernel, ConvSettings(flip=True)), expected, **TOL)
    np.testing.assert_allclose(conv2d_loop(image, kernel, ConvSettings(flip=True)), expected, **TOL)


def test_per_channel_output_equals_each_channel_convolved_alone_exactly():
    rng = np.random.default_rng(3)
    image, kernels = rng.normal(size=(3, 10, 9)), rng.normal(size=(3, 3, 2))
    conv = ConvSettings(padding=1, padding_mode="reflect", stride=2)
    per_channel = conv2d(image, kernels, conv, channels="per_channel")
    for c in range(3):
        np.testing.assert_array_equal(per_channel[c], conv2d(image[c], kernels[c], conv))
    np.testing.assert_allclose(per_channel.sum(axis=0), conv2d(image, kernels, conv), **TOL)


def test_a_2d_kernel_is_used_for_every_channel():
    rng = np.random.default_rng(4)
    image, kernel = rng.normal(size=(3, 8, 8)), rng.normal(size=(3, 3))
    stacked = np.stack([kernel] * 3)
    np.testing.assert_array_equal(conv2d(image, kernel), conv2d(image, stacked))
    np.testing.assert_array_equal(
        conv2d(image, kernel, channels="per_channel"),
        conv2d(image, stacked, channels="per_channel"),
    )


def test_integer_images_are_converted_to_float_without_wrapping():
    image = np.full((4, 4), 255, dtype=np.uint8)  # 9·255 would wrap around in uint8
    result = conv2d(image, np.ones((3, 3), dtype=np.int64))
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, np.full((2, 2), 9 * 255.0))


def test_nan_in_the_kernel_gives_nan_instead_of_hanging():
    kernel = np.array([[np.nan, 0], [0, 1]])
    assert np.isnan(conv2d(np.ones((50, 50)), kernel)).all()
    assert np.isnan(window_trace(np.ones((5, 5)), kernel).sums).all()


# --------------------------------------------------------------------------- output size


@given(
    n=st.integers(1, 40),
    k=st.integers(1, 9),
    padding=st.integers(0, 4),
    stride=st.integers(1, 4),
    dilation=st.integers(1, 4),
)
@settings(max_examples=60, deadline=None)
def test_output_size_equals_the_shape_torch_returns(n, k, padding, stride, dilation):
    x, w = torch.zeros(1, 1, n, 1), torch.zeros(1, 1, k, 1)
    options = {"padding": (padding, 0), "stride": stride, "dilation": dilation}
    if dilation * (k - 1) + 1 > n + 2 * padding:
        with pytest.raises(RuntimeError):
            F.conv2d(x, w, **options)
        with pytest.raises(ConvolutionError, match="does not fit"):
            output_size(n, k, padding, stride, dilation)
        assert "does not fit" in output_size_steps(n, k, padding, stride, dilation)[-1]
        return
    expected = F.conv2d(x, w, **options).shape[2]
    assert output_size(n, k, padding, stride, dilation) == expected
    assert output_size_steps(n, k, padding, stride, dilation)[-1].endswith(f"= {expected}")


def test_output_size_steps_show_the_formula_with_the_numbers():
    steps = output_size_steps(64, 3, 1, 1, 1)
    assert steps[0] == "output = ⌊(n + 2·p − d·(k − 1) − 1) / s⌋ + 1"
    assert "(64 + 2·1 − 1·(3 − 1) − 1) / 1" in steps[1]
    assert steps[-1].strip() == "= 64"


def test_output_size_steps_floor_when_stride_does_not_divide():
    # (32 + 0 − 2 − 1) / 2 = 29 / 2 = 14.5 → 14, + 1 = 15
    steps = output_size_steps(32, 3, 0, 2, 1)
    assert any("⌊29 / 2⌋" in line for line in steps)
    assert steps[-1].strip() == "= 15"
    assert output_size(32, 3, 0, 2, 1) == 15


@pytest.mark.parametrize(
    ("n", "k", "padding", "stride", "dilation"),
    [
        (5, 0, 0, 1, 1),
        (0, 3, 0, 1, 1),
        (5, 3, -1, 1, 1),
        (5, 3, 0, 0, 1),
        (5, 3, 0, 1, 0),
        (5, 3, 0, 1.5, 1),
    ],
)
def test_output_size_rejects_impossible_arguments(n, k, padding, stride, dilation):
    with pytest.raises(ConvolutionError):
        output_size(n, k, padding, stride, dilation)
    with pytest.raises(ConvolutionError):
        output_size_steps(n, k, padding, stride, dilation)


# --------------------------------------------------------------------------- settings & padding


@pytest.mark.parametrize(
    "bad",
    [
        {"padding": -1},
        {"padding": True},
        {"padding": 1.0},
        {"stride": 0},
        {"dilation": 0},
        {"padding_mode": "circular"},
        {"flip": "yes"},
    ],
)
def test_settings_reject_values_that_make_no_sense(bad):
    with pytest.raises(ConvolutionError):
        ConvSettings(**bad)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate"])
@given(data=st.data())
@settings(max_examples=20, deadline=None)
def test_pad_matches_torch_padding_modes(mode, data):
    channels = data.draw(st.integers(1, 3))
    height, width = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 8))
    padding = data.draw(st.integers(0, min(height, width) - 1 if mode == "reflect" else 4))
    image = np.random.default_rng(data.draw(st.integers(0, 99))).normal(
        size=(channels, height, width)
    )
    torch_mode = "constant" if mode == "zeros" else mode
    expected = F.pad(torch.from_numpy(image)[None], (padding,) * 4, mode=torch_mode)[0].numpy()
    np.testing.assert_array_equal(pad(image, padding, mode), expected)
    np.testing.assert_array_equal(pad(image[0], padding, mode), expected[0])


def test_reflect_mirrors_without_repeating_the_edge():
    np.testing.assert_array_equal(
        pad(np.array([[1, 2, 3]] * 3), 2, "reflect")[2], [3, 2, 1, 2, 3, 2, 1]
    )
    np.testing.assert_array_equal(
        pad(np.array([[1, 2, 3]] * 3), 2, "replicate")[2], [1, 1, 1, 2, 3, 3, 3]
    )


def test_reflect_padding_as_large_as_the_image_is_refused():
    with pytest.raises(ConvolutionError, match="Reflect padding of 3"):
        pad(np.ones((3, 5)), 3, "reflect")
    with pytest.raises(ConvolutionError):
        conv2d(np.ones((3, 5)), np.ones((3, 3)), ConvSettings(padding=3, padding_mode="reflect"))


HUGE = ConvSettings(padding=10**6, stride=10**6)  # a few windows over a 2,000,001² plane


@pytest.mark.parametrize(
    "call",
    [
        lambda: pad(np.ones((1, 1)), 10**6),
        lambda: pad(np.ones((3, 1, 1)), 10**6, "replicate"),
        lambda: conv2d(np.ones((1, 1)), np.ones((3, 3)), HUGE),
        lambda: conv2d(np.ones((3, 1, 1)), np.ones((3, 3)), HUGE, "per_channel"),
        lambda: conv2d_loop(np.ones((1, 1)), np.ones((3, 3)), HUGE),
        lambda: window_trace(np.ones((1, 1)), np.ones((3, 3)), HUGE),
    ],
)
def test_padding_in_the_millions_is_refused_with_a_sentence(call):
    with pytest.raises(ConvolutionError, match="Padding of 1,000,000 would make the 1×1 image"):
        call()


def test_padding_just_past_the_budget_is_refused_before_anything_is_allocated():
    assert convolution.MAX_PADDED_CELLS == 4096 * 4096
    tracemalloc.start()
    try:
        with pytest.raises(ConvolutionError, match="4,097×4,097 cells; .* at most 16,777,216"):
            pad(np.ones((1, 1)), 2048)  # 4,097² cells: 134 MB of float64
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_effective_kernel_rotates_by_180_degrees_only_when_flipping():
    kernel = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(effective_kernel(kernel, ConvSettings()), kernel)
    np.testing.assert_array_equal(
        effective_kernel(kernel, ConvSettings(flip=True)), [[6, 5, 4], [3, 2, 1]]
    )
    np.testing.assert_array_equal(
        effective_kernel(np.stack([kernel, -kernel]), ConvSettings(flip=True))[1],
        [[-6, -5, -4], [-3, -2, -1]],
    )


# --------------------------------------------------------------------------- bad inputs


def test_kernel_larger_than_the_image_is_explained():
    with pytest.raises(ConvolutionError, match="does not fit.*add padding"):
        conv2d(np.ones((2, 2)), np.ones((3, 3)))


def test_dilated_kernel_larger_than_the_padded_image_is_explained():
    with pytest.raises(ConvolutionError, match="spans 5 cells"):
        conv2d(np.ones((4, 4)), np.ones((3, 3)), ConvSettings(dilation=2))


def test_channel_count_mismatch_is_explained():
    with pytest.raises(ConvolutionError, match="3 channels but the kernel has 2"):
        conv2d(np.ones((3, 5, 5)), np.ones((2, 3, 3)))


@pytest.mark.parametrize(
    ("function", "image", "kernel"),
    [
        (conv2d, np.ones(5), np.ones((3, 3))),  # 1-D image
        (conv2d, np.ones((1, 2, 5, 5)), np.ones((3, 3))),  # a batch, not an image
        (conv2d, np.ones((5, 5)), np.ones((1, 3, 3))),  # 3-D kernel for a 2-D image
        (conv2d, np.ones((5, 5)), np.ones(3)),  # 1-D kernel
        (conv2d, np.ones((0, 5)), np.ones((1, 1))),  # empty image
        (conv2d, np.array([["a", "b"]]), np.ones((1, 1))),  # text
        (conv2d_loop, np.ones((2, 5, 5)), np.ones((3, 3))),  # the loop is 2-D only
        (convolve2d, np.ones((5, 5)), np.ones((2, 3, 3))),
        (window_trace, np.ones((2, 5, 5)), np.ones((3, 3))),
    ],
)
def test_wrong_shapes_and_types_raise_a_convolution_error(function, image, kernel):
    with pytest.raises(ConvolutionError):
        function(image, kernel)


def test_unknown_channel_mode_is_refused():
    with pytest.raises(ConvolutionError, match="per_channel"):
        conv2d(np.ones((3, 5, 5)), np.ones((3, 3)), channels="average")


def test_functions_do_not_change_their_inputs():
    rng = np.random.default_rng(5)
    image, kernel = rng.normal(size=(2, 6, 7)), rng.normal(size=(2, 3, 3))
    image_before, kernel_before = image.copy(), kernel.copy()
    conv = ConvSettings(padding=1, padding_mode="replicate", flip=True)
    conv2d(image, kernel, conv)
    conv2d(image, kernel, conv, channels="per_channel")
    conv2d(image[0], kernel[0], conv)
    conv2d_loop(image[0], kernel[0], conv)
    convolve2d(image[0], kernel[0])
    pad(image, 2, "reflect")
    effective_kernel(kernel, conv)
    trace = window_trace(image[0], kernel[0], conv)
    trace.window(0)["patch"][:] = 99.0  # a window record is a copy, too
    np.testing.assert_array_equal(image, image_before)
    np.testing.assert_array_equal(kernel, kernel_before)
    assert trace.patches[0].max() < 99.0


# --------------------------------------------------------------------------- window trace


@given(case=conv_cases())
@settings(max_examples=60, deadline=None)
def test_window_trace_rebuilds_conv2d_output_exactly(case):
    image, kernel, conv = case
    trace = window_trace(image, kernel, conv)
    result = conv2d(image, kernel, conv)
    assert trace.output().dtype == result.dtype
    np.testing.assert_array_equal(trace.output(), result)  # bit for bit, not approximately
    assert trace.n_windows == result.size
    # Every recorded cell really is in the padded image, and the products are patch × kernel.
    np.testing.assert_array_equal(trace.padded[trace.rows, trace.cols], trace.patches)
    np.testing.assert_array_equal(trace.products, trace.patches * trace.kernel)
    np.testing.assert_array_equal(trace.kernel, effective_kernel(kernel, conv))
    np.testing.assert_array_equal(trace.padded, pad(image, conv.padding, conv.padding_mode))


def test_window_trace_rebuilds_output_exactly_across_blocks():
    # 70×600 needs two blocks of rows in conv2d; the trace must still agree to the last bit.
    image = np.random.default_rng(6).normal(size=(70, 600))
    kernel = np.random.default_rng(7).normal(size=(3, 3))
    np.testing.assert_array_equal(window_trace(image, kernel).output(), conv2d(image, kernel))


def test_window_trace_is_in_row_major_output_order():
    trace = window_trace(np.arange(30.0).reshape(5, 6), np.ones((2, 2)))
    assert trace.out_shape == (4, 5)
    records = [trace.window(i) for i in range(trace.n_windows)]
    assert [(w["out_row"], w["out_col"]) for w in records] == [
        (r, c) for r in range(4) for c in range(5)
    ]
    # Each window's top-left cell is its output position (stride 1, no padding).
    assert all((w["rows"][0, 0], w["cols"][0, 0]) == (w["out_row"], w["out_col"]) for w in records)


def test_stride_two_skips_every_other_window():
    trace = window_trace(np.zeros((7, 7)), np.ones((3, 3)), ConvSettings(stride=2))
    assert trace.out_shape == (3, 3)
    top_left_rows = trace.rows[:, 0, 0].reshape(3, 3)
    top_left_cols = trace.cols[:, 0, 0].reshape(3, 3)
    np.testing.assert_array_equal(top_left_rows, [[0, 0, 0], [2, 2, 2], [4, 4, 4]])
    np.testing.assert_array_equal(top_left_cols, [[0, 2, 4]] * 3)


def test_dilation_spreads_the_window():
    trace = window_trace(np.zeros((9, 9)), np.ones((3, 3)), ConvSettings(dilation=2))
    first = trace.window(0)
    np.testing.assert_array_equal(first["rows"], [[0, 0, 0], [2, 2, 2], [4, 4, 4]])
    np.testing.assert_array_equal(first["cols"], [[0, 2, 4]] * 3)
    assert trace.out_shape == (5, 5)  # 9 − 2·(3 − 1) = 5


def test_window_record_holds_patch_products_and_sum():
    trace = window_trace(ONE_TO_25, np.ones((3, 3)), ConvSettings(padding=1))
    corner = trace.window(0)
    np.testing.assert_array_equal(corner["patch"], [[0, 0, 0], [0, 1, 2], [0, 6, 7]])
    np.testing.assert_array_equal(corner["products"], corner["patch"])
    assert corner["sum"] == 16.0
    assert (corner["out_row"], corner["out_col"]) == (0, 0)


def test_window_index_out_of_range_is_explained():
    trace = window_trace(np.ones((4, 4)), np.ones((3, 3)))
    with pytest.raises(ConvolutionError, match="between 0 and 3"):
        trace.window(4)
    with pytest.raises(ConvolutionError):
        trace.window(-1)


def test_window_trace_arrays_are_read_only():
    trace = window_trace(np.ones((4, 4)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="read-only"):
        trace.sums[0] = 5.0


def test_window_trace_refuses_images_too_large_to_animate():
    with pytest.raises(ConvolutionError, match="too much to animate"):
        window_trace(np.zeros((1000, 1000)), np.ones((7, 7)))
