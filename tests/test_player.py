"""The player's payload: what the browser gets must rebuild the trace exactly, within budget."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from explorer.convolution import ConvolutionError, ConvSettings, window_trace
from explorer.errors import UserError
from explorer.player import (
    MAX_PLAYER_WINDOWS,
    PlayerError,
    decode_payload,
    format_value,
    payload_size,
    player_payload,
    window_cells,
)

BUDGET = 200_000  # bytes sent to the browser for a 64×64 image and a 3×3 kernel
SOBEL = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def image(size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((size, size))


def test_payload_round_trips_the_trace_exactly() -> None:
    kernel = np.random.default_rng(1).normal(size=(3, 3))
    trace = window_trace(image(10), kernel, ConvSettings(padding=1, stride=2, flip=True))
    decoded = decode_payload(player_payload(trace))
    # tobytes: equal bit for bit, not just to within a tolerance
    assert decoded["padded"].tobytes() == trace.padded.tobytes()
    assert decoded["kernel"].tobytes() == trace.kernel.tobytes()
    assert decoded["sums"].tobytes() == trace.sums.tobytes()
    header = decoded["header"]
    assert header["out"] == list(trace.out_shape)
    assert (header["stride"], header["padding"], header["flip"]) == (2, 1, True)
    assert header["padding_mode"] == "zeros"


def test_arrays_start_eight_byte_aligned() -> None:
    payload = player_payload(window_trace(image(7), SOBEL))
    (length,) = struct.unpack_from("<I", payload, 4)
    assert (8 + length) % 8 == 0
    json.loads(payload[8 : 8 + length])  # the space padding keeps it valid JSON


@pytest.mark.parametrize("padding", [0, 1], ids=["valid", "same"])
def test_64_by_64_with_3_by_3_kernel_fits_the_budget(padding: int) -> None:
    payload = player_payload(window_trace(image(64), SOBEL, ConvSettings(padding=padding)))
    assert payload_size(payload) <= BUDGET
    # the same numbers as JSON are much larger: bytes were the right choice
    as_json = {"values": decode_payload(payload)["padded"].ravel().tolist()}
    assert payload_size(payload) < 3 * payload_size(as_json)


def test_show_numbers_defaults_by_size_and_can_be_forced() -> None:
    small = window_trace(image(8), SOBEL, ConvSettings(padding=1))
    large = window_trace(image(32), SOBEL)
    assert decode_payload(player_payload(small))["header"]["show_numbers"] is True
    assert decode_payload(player_payload(large))["header"]["show_numbers"] is False
    assert (
        decode_payload(player_payload(large, show_numbers=True))["header"]["show_numbers"] is True
    )


def test_start_position_is_clamped_to_the_windows() -> None:
    trace = window_trace(image(5), SOBEL)  # 9 windows
    assert decode_payload(player_payload(trace, start=4))["header"]["start"] == 4
    assert decode_payload(player_payload(trace, start=99))["header"]["start"] == 9
    assert decode_payload(player_payload(trace, start=-3))["header"]["start"] == 0


def test_refuses_traces_with_too_many_windows() -> None:
    trace = window_trace(image(203), np.ones((1, 1)))  # 41,209 windows
    assert trace.n_windows > MAX_PLAYER_WINDOWS
    with pytest.raises(PlayerError, match="working resolution") as info:
        player_payload(trace)
    assert isinstance(info.value, UserError) and isinstance(info.value, ConvolutionError)


@pytest.mark.parametrize(
    "settings",
    [
        ConvSettings(),
        ConvSettings(padding=1),
        ConvSettings(stride=2),
        ConvSettings(dilation=2),
        ConvSettings(padding=2, stride=3, dilation=2, padding_mode="reflect"),
        ConvSettings(padding=1, stride=2, dilation=3, flip=True),
    ],
)
def test_derived_window_cells_equal_the_traced_cells(settings: ConvSettings) -> None:
    trace = window_trace(image(11), np.arange(6.0).reshape(2, 3), settings)
    header = decode_payload(player_payload(trace))["header"]
    for k in range(trace.n_windows):
        rows, cols = window_cells(header, k)
        np.testing.assert_array_equal(rows, trace.rows[k])
        np.testing.assert_array_equal(cols, trace.cols[k])


def test_products_are_one_multiplication_each_so_the_browser_can_redo_them() -> None:
    # The browser shows value * weight; that is exact only if the trace's products are the
    # single correctly rounded multiplication too (and not, say, a fused or reordered one).
    rng = np.random.default_rng(2)
    trace = window_trace(rng.random((16, 16)), rng.normal(size=(3, 3)) / 7, ConvSettings(1))
    decoded = decode_payload(player_payload(trace))
    header, padded, kernel = decoded["header"], decoded["padded"], decoded["kernel"]
    assert np.array_equal(trace.products, trace.patches * trace.kernel)
    for k in (0, 17, trace.n_windows - 1):
        rows, cols = window_cells(header, k)
        redone = [
            padded[r, c] * w
            for r, c, w in zip(rows.ravel(), cols.ravel(), kernel.ravel(), strict=True)
        ]
        assert np.array(redone).tobytes() == trace.products[k].ravel().tobytes()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (-12.0, "-12"),
        (0.0, "0"),
        (-0.0, "0"),
        (1 / 3, "0.3333"),
        (-2 / 3, "-0.6667"),
        (2.5, "2.5"),
        (0.1 + 0.2, "0.3"),
        (0.03125, "0.0313"),  # a tie: away from zero, as JavaScript's toFixed
        (-0.03125, "-0.0313"),
        (1.00001, "1"),
        (123.45678, "123.4568"),
        (1e-5, "1e-5"),
        (-1.23456e-7, "-1.235e-7"),
        (9.99996e-5, "1e-4"),
        (1e300, "1e300"),
        (float("nan"), "NaN"),
        (float("-inf"), "−∞"),
    ],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_payload_size_counts_bytes_or_json_text() -> None:
    assert payload_size(b"12345") == 5
    assert payload_size({"a": [1, 2]}) == len('{"a":[1,2]}')
