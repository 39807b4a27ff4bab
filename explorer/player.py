"""What the browser's convolution player receives: a window trace packed into a few KB of bytes.

The player (``explorer/components/player.js``) only *plays* a convolution NumPy computed; this
module decides what it is sent. Sending every window's products (N×kh×kw float64, ~280 KB for a
64×64 image and a 3×3 kernel) is over our 200 KB budget, so the payload carries only the padded
input, the kernel and the N sums. The browser derives each window's cells from the stride and
dilation and shows each product as ``value * weight``: IEEE-754 multiplication of two doubles is
correctly rounded in NumPy and in JavaScript alike, so those products equal ``trace.products``
bit for bit (tests/test_player.py and tests/browser/test_player.py check both halves). The sums
are *not* recomputed in the browser: adding in another order could change the last bit.

Payload format (all numbers little-endian)::

    offset 0   4 bytes   magic b"CNP1" (format version 1)
    offset 4   uint32    L, the length of the header
    offset 8   L bytes   UTF-8 JSON header, padded with spaces so the arrays start 8-aligned:
                         {"padded": [Hp, Wp], "kernel": [kh, kw], "out": [oh, ow],
                          "padding": p, "padding_mode": "zeros", "stride": s, "dilation": d,
                          "flip": false, "show_numbers": true, "start": 0,
                          "diverging": [[r, g, b], …]}   (the colour map's anchors)
    then       float64   padded, Hp·Wp values, row-major
               float64   kernel, kh·kw values, row-major (as applied: already flipped)
               float64   sums, oh·ow values, row-major = the output

64×64 with a 3×3 kernel is 63.9 KB (valid) and 68.0 KB (same padding). The same numbers as
JSON take 163 KB (17-digit decimals); as two Arrow tables (a dict of DataFrames) 94 KB, plus an
Arrow decoder in the browser — raw bytes are both the smallest and the simplest.
"""

from __future__ import annotations

import json
import struct
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import numpy as np

from explorer.convolution import ConvolutionError, WindowTrace
from explorer.errors import UserError
from explorer.render import _ANCHORS

MAGIC = b"CNP1"

# Past this many windows the animation is unwatchable (40,000 windows at 2,000 a second still
# take 20 s) and the payload passes half a megabyte; 200×200 is the largest image that fits.
MAX_PLAYER_WINDOWS = 40_000

# Grids up to this many cells a side get numbers written in their cells (automatic mode): above
# it the cells are too small to read on a projector.
NUMBERS_MAX_SIDE = 16


class PlayerError(ConvolutionError, UserError):
    """A trace the player cannot show, in a sentence for the student."""


def player_payload(
    trace: WindowTrace, *, show_numbers: bool | None = None, start: int = 0
) -> bytes:
    """Pack ``trace`` for the browser player (format in the module docstring).

    ``show_numbers``: write values into the grid cells; None decides by size (both sides of
    the padded input ≤ ``NUMBERS_MAX_SIDE``). ``start``: the position (windows done, 0…N) a
    freshly mounted player opens at. Raises PlayerError past ``MAX_PLAYER_WINDOWS`` windows.
    """
    n = trace.n_windows
    if n > MAX_PLAYER_WINDOWS:
        raise PlayerError(
            f"This convolution has {n:,} windows, too many to animate one by one (the limit is "
            f"{MAX_PLAYER_WINDOWS:,}). Lower the working resolution, or use a larger stride."
        )
    hp, wp = trace.padded.shape
    if show_numbers is None:
        show_numbers = max(hp, wp) <= NUMBERS_MAX_SIDE
    s = trace.settings
    header = {
        "padded": [hp, wp],
        "kernel": list(trace.kernel.shape),
        "out": list(trace.out_shape),
        "padding": s.padding,
        "padding_mode": s.padding_mode,
        "stride": s.stride,
        "dilation": s.dilation,
        "flip": bool(s.flip),
        "show_numbers": bool(show_numbers),
        "start": int(min(max(start, 0), n)),
        "diverging": [list(rgb) for rgb in _ANCHORS["diverging"]],
    }
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)  # JSON allows trailing spaces; arrays start 8-aligned
    body = np.concatenate([trace.padded.ravel(), trace.kernel.ravel(), trace.sums.ravel()])
    return MAGIC + struct.pack("<I", len(text)) + text + body.astype("<f8").tobytes()


def decode_payload(payload: bytes) -> dict[str, Any]:
    """The inverse of ``player_payload``, as the browser reads it: ``{"header": the JSON
    header, "padded": Hp×Wp, "kernel": kh×kw, "sums": N}`` (float64 arrays)."""
    if payload[:4] != MAGIC:
        raise ValueError("Not a convolution-player payload.")
    (length,) = struct.unpack_from("<I", payload, 4)
    header = json.loads(payload[8 : 8 + length])
    values = np.frombuffer(payload, dtype="<f8", offset=8 + length)
    hp, wp = header["padded"]
    kh, kw = header["kernel"]
    oh, ow = header["out"]
    sizes = [hp * wp, kh * kw, oh * ow]
    if len(values) != sum(sizes):
        raise ValueError("The payload's arrays do not match its header's shapes.")
    padded, kernel, sums = np.split(values, np.cumsum(sizes)[:2])
    return {
        "header": header,
        "padded": padded.reshape(hp, wp),
        "kernel": kernel.reshape(kh, kw),
        "sums": sums,
    }


def window_cells(header: dict[str, Any], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns (kh×kw ints into the padded input) of window ``k``, derived the way
    player.js derives them: top-left (out_row·stride, out_col·stride), tap (i, j) a further
    dilation·(i, j)."""
    kh, kw = header["kernel"]
    out_row, out_col = divmod(k, header["out"][1])
    s, d = header["stride"], header["dilation"]
    rows = out_row * s + d * np.arange(kh)[:, None] + np.zeros(kw, dtype=int)[None, :]
    cols = out_col * s + d * np.arange(kw)[None, :] + np.zeros(kh, dtype=int)[:, None]
    return rows, cols


def payload_size(payload: bytes | dict) -> int:
    """Bytes the payload takes on the wire before compression: its length for bytes, the
    length of its JSON text for a dict."""
    if isinstance(payload, bytes | bytearray):
        return len(payload)
    return len(json.dumps(payload, separators=(",", ":")).encode())


def format_value(x: float) -> str:
    """A number as the player writes it; player.js's ``formatValue`` follows the same rule.

    Integers as integers (``3``, ``-12``); others rounded to 4 decimals with trailing zeros
    dropped (``0.3333``, ``2.5``); non-zero values under 0.0001 (and non-integers of 10¹⁵ or
    more) as 4 significant digits in exponent form (``1.235e-5``). Ties round away from zero on
    the exact binary value, which is what JavaScript's ``toFixed``/``toExponential`` do
    (Python's ``format`` would round half to even), so both sides agree digit for digit.
    """
    x = float(x)
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "∞" if x > 0 else "−∞"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    exact = Decimal(x)
    if 1e-4 <= abs(x) < 1e15:
        text = format(exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), "f")
        return text.rstrip("0").rstrip(".")
    exponent = exact.adjusted()  # floor(log10(|x|)), exact
    with localcontext(prec=1100):  # room for every digit of a double: scaling stays exact
        mantissa = exact.scaleb(-exponent).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
        if abs(mantissa) >= 10:  # 9.9996e-5 rounds up to 10.000e-5 = 1.000e-4
            exponent += 1
            mantissa = exact.scaleb(-exponent).quantize(Decimal("0.001"), ROUND_HALF_UP)
    digits = format(mantissa, "f").rstrip("0").rstrip(".")
    return f"{digits}e{exponent}"
