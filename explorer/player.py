"""What the browser's convolution player receives: a window trace packed into a few KB of bytes.

The player (``explorer/components/``, its files joined into one module) only *plays* a
convolution NumPy computed; this module decides what it is sent. Sending every window's products
(N×kh×kw float64, ~280 KB for a 64×64 image and a 3×3 kernel) is over our 200 KB budget, so the
payload carries only the padded input, the kernel and the N sums. The browser derives each
window's cells from the stride and dilation and shows each product as ``value * weight``:
IEEE-754 multiplication of two doubles is correctly rounded in NumPy and in JavaScript alike, so
those products equal ``trace.products`` bit for bit (tests/test_player.py and
tests/browser/test_player.py check both halves). The sums are *not* recomputed in the browser:
adding in another order could change the last bit.

Payload format (all numbers little-endian)::

    offset 0   4 bytes   magic b"CNP1" (format version 1)
    offset 4   uint32    L, the length of the header
    offset 8   L bytes   UTF-8 JSON header, padded with spaces so the arrays start 8-aligned:
                         {"padded": [Hp, Wp], "kernel": [kh, kw], "out": [oh, ow],
                          "padding": p, "padding_mode": "zeros", "stride": s, "dilation": d,
                          "flip": false, "trace_id": "…",   (what is played; see trace_id)
                          "diverging": [[r, g, b], …],     (the colour map's anchors)
                          "show_numbers": true, "start": 0, (how it is shown: view options)
                          "presenter": false, "test_hooks": false,
                          "speed": null, "score": [right, asked]}
    then       float64   padded, Hp·Wp values, row-major
               float64   kernel, kh·kw values, row-major (as applied: already flipped)
               float64   sums, oh·ow values, row-major = the output

64×64 with a 3×3 kernel is 63.9 KB (valid) and 68.0 KB (same padding). The same numbers as
JSON take 163 KB (17-digit decimals); as two Arrow tables (a dict of DataFrames) 94 KB, plus an
Arrow decoder in the browser — raw bytes are both the smallest and the simplest.

The browser keeps a running player when only the view options change (same ``trace_id``): a
rerun that resends the same trace neither rebuilds nor restarts it.

What the browser reports back (two entries of the component's state: the view once the player
settles, never while it plays; the score after each answer)::

    "view":  {"trace": "…" (the trace_id), "position": 0…N, "speed": windows/s or null}
    "score": {"right": r, "asked": a}         ("your turn": answers right, questions asked)

A modified browser can send anything in their place, and Python's JSON reader also accepts
NaN and Infinity. So they are read only through ``read_view`` and ``read_score``, checked the
way a link is (type, range, shape): a value of the wrong type is ignored, a number out of
range is clamped.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from explorer.convolution import ConvolutionError, WindowTrace
from explorer.errors import UserError
from explorer.numbers import format_value
from explorer.render import COLOUR_ANCHORS

MAGIC = b"CNP1"

# Past this many windows the animation is unwatchable (40,000 windows at 2,000 a second still
# take 20 s) and the payload passes half a megabyte; 200×200 is the largest image that fits.
MAX_PLAYER_WINDOWS = 40_000

# Grids up to this many cells a side get numbers written in their cells (automatic mode): above
# it the cells are too small to read on a projector.
NUMBERS_MAX_SIDE = 16


class PlayerError(ConvolutionError, UserError):
    """A trace the player cannot show, in a sentence for the student."""


def trace_id(trace: WindowTrace) -> str:
    """A short fingerprint of what the player plays (the padded input, the kernel, the sums and
    the settings): equal for equal traces, different when any number or setting differs. The
    browser compares it to tell a rerun with the same trace from a new one; the Python wrapper
    compares it to know whether a remembered position belongs to this trace."""
    s = trace.settings
    digest = hashlib.blake2b(digest_size=8)
    shape = (trace.padded.shape, trace.kernel.shape, trace.out_shape)
    digest.update(repr((shape, s.padding, s.padding_mode, s.stride, s.dilation, s.flip)).encode())
    for array in (trace.padded, trace.kernel, trace.sums):
        digest.update(np.ascontiguousarray(array, dtype="<f8").tobytes())
    return digest.hexdigest()


def player_payload(
    trace: WindowTrace,
    *,
    show_numbers: bool | None = None,
    start: int = 0,
    presenter: bool = False,
    test_hooks: bool = False,
    speed: float | None = None,
    score: tuple[int, int] = (0, 0),
) -> bytes:
    """Pack ``trace`` for the browser player (format in the module docstring).

    ``show_numbers``: write values into the grid cells; None decides by size (both sides of
    the padded input ≤ ``NUMBERS_MAX_SIDE``). ``start``: the position (windows done, 0…N) a
    freshly built player opens at. ``presenter``: the projector layout (the arithmetic at least
    24 px, the whole player on one screen). ``test_hooks``: expose ``window.__playerTest`` for
    the browser tests and the bench. ``speed``: a pace the user chose (windows per second), or
    None for the default (a whole run in about 15 s). ``score``: the "your turn" running score
    (right, asked). Raises PlayerError past ``MAX_PLAYER_WINDOWS`` windows.
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
        "trace_id": trace_id(trace),
        "diverging": [list(rgb) for rgb in COLOUR_ANCHORS["diverging"]],
        "show_numbers": bool(show_numbers),
        "start": int(min(max(start, 0), n)),
        "presenter": bool(presenter),
        "test_hooks": bool(test_hooks),
        "speed": float(speed) if speed is not None and speed > 0 else None,
        "score": [int(score[0]), int(score[1])],
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
    player_state.js's windowOrigin derives them: top-left (out_row·stride, out_col·stride),
    tap (i, j) a further dilation·(i, j)."""
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


# ------------------------------------------------------------------ what the browser reports

SPEED_MIN = 0.5  # windows per second: player_state.js's SPEED_MIN and SPEED_MAX, the speed
SPEED_MAX = 3000.0  # slider's ends (a pace beyond them cannot be chosen there)
MAX_SCORE = 1_000_000  # questions asked: far more than a course asks; a larger count is forged
_TRACE_ID = re.compile(r"[0-9a-f]{16}")  # what trace_id returns


class ReportedView(NamedTuple):
    """Where the browser's player stopped, as reported and checked (see ``read_view``)."""

    trace: str  # the trace_id of the trace it played
    position: int  # windows done, 0…MAX_PLAYER_WINDOWS (clamp to the trace's N before use)
    speed: float | None  # a pace the user chose, SPEED_MIN…SPEED_MAX; None: the default


def _whole_number(value: object) -> int | None:
    """``value`` when it is a JSON integer (a bool is not one), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_speed(value: object) -> float | None:
    """A reported pace (windows per second) clamped to the speed slider's range; None for
    anything but a finite positive number (the player then takes its default pace)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        speed = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    if not math.isfinite(speed) or speed <= 0:
        return None
    return min(max(speed, SPEED_MIN), SPEED_MAX)


def read_view(value: object) -> ReportedView | None:
    """The component's reported ``view`` (``{"trace", "position", "speed"}``) checked: None
    unless it is a mapping with a trace id and a whole-number position; a position below 0 or
    past ``MAX_PLAYER_WINDOWS`` is clamped, a bad speed reads as None (see ``read_speed``)."""
    if not isinstance(value, Mapping):
        return None
    trace, position = value.get("trace"), _whole_number(value.get("position"))
    if not isinstance(trace, str) or not _TRACE_ID.fullmatch(trace) or position is None:
        return None
    position = min(max(position, 0), MAX_PLAYER_WINDOWS)
    return ReportedView(trace, position, read_speed(value.get("speed")))


def read_score(value: object) -> tuple[int, int] | None:
    """The component's reported ``score`` (``{"right", "asked"}``) checked: (right, asked)
    with 0 ≤ right ≤ asked ≤ ``MAX_SCORE`` (out-of-range counts clamped, a missing one 0), or
    None unless it is a mapping of whole numbers."""
    if not isinstance(value, Mapping):
        return None
    right, asked = (_whole_number(value.get(name, 0)) for name in ("right", "asked"))
    if right is None or asked is None:
        return None
    asked = min(max(asked, 0), MAX_SCORE)
    return min(max(right, 0), asked), asked


def display_value(x: float) -> str:
    """``format_value`` with a real minus sign (U+2212), as the player shows every number:
    ``−12``, ``−0.6667``, ``1e−5``."""
    return format_value(x).replace("-", "\N{MINUS SIGN}")


# Sums of more products than this are shortened (kernels over 3×3): the nonzero terms only
# when there are few enough, else the first SHORT_TERMS nonzero ones and a count.
MAX_WRITTEN_TERMS = 9
SHORT_TERMS = 6
_GLUE = "\N{NO-BREAK SPACE}"  # an operator stays on the line of the number it belongs to


class WrittenSum(NamedTuple):
    """A window's sum written out term by term, as the player shows it."""

    text: str  # "−1 + 0 + 3 − 12 + 0 + 16 − 11 + 0 + 13 = 8" (no-break spaces around "=")
    note: str  # what was left out of ``text``, or ""


def _written_exactly(x: float) -> bool:
    """Does ``format_value(x)`` read back as x (to 1e-9 relative)? Then "=" is honest."""
    if not np.isfinite(x):
        return True
    return abs(float(format_value(x)) - x) <= 1e-9 * abs(x)


def written_sum(products: np.ndarray, total: float) -> WrittenSum:
    """The sum of ``products`` (a window's kh×kw products, row-major) written out, ending with
    ``total`` (NumPy's sum, never re-added here); player_state.js's ``writtenSum`` follows the
    same rule. Subtraction is written as "− 12", not "+ −12". Up to ``MAX_WRITTEN_TERMS`` terms
    are all written; more are shortened to the nonzero ones (with a note saying how many zeros
    were left out) or, when those are too many still, to the first ``SHORT_TERMS`` nonzero
    terms and "+ … (49 terms in all)". The relation is "≈" when a shown number is rounded.
    """
    values = [float(v) for v in np.ravel(products)]
    count = len(values)
    shown, note, tail = values, "", ""
    if count > MAX_WRITTEN_TERMS:
        nonzero = [v for v in values if v != 0]
        if 0 < len(nonzero) <= MAX_WRITTEN_TERMS:
            shown = nonzero
            zeros = count - len(nonzero)
            note = f"the {zeros} zero product{'s' if zeros > 1 else ''} left out"
        else:
            shown = (nonzero or values)[:SHORT_TERMS]
            # unbreakable: the count stays in one piece (player_state.js's termsInAll)
            tail = " " + f"+ … ({count} terms in all)".replace(" ", _GLUE)
    parts = [display_value(shown[0])]
    for v in shown[1:]:
        parts.append(f"{'−' if v < 0 else '+'}{_GLUE}{display_value(abs(v))}")
    exact = all(_written_exactly(v) for v in values) and _written_exactly(float(total))
    relation = "=" if exact else "≈"
    # "= 8" stays on the line of the last term: the result never starts a line alone.
    text = f"{' '.join(parts)}{tail}{_GLUE}{relation}{_GLUE}{display_value(total)}"
    return WrittenSum(text, note)


def interesting_start(trace: WindowTrace) -> int:
    """The position (windows done, 0…N) a player opens at when it has nothing to remember.

    The window it then shows (number position − 1) is the first where something visible
    happens: the numbers under it are not all equal (for kernels over 1×1) and its output's
    magnitude lies in the top quarter of the range of the output's magnitudes. Falls back to
    the first window whose numbers are not all equal, then to the first window; 0 for a trace
    without windows.
    """
    n = trace.n_windows
    if n == 0:
        return 0
    patches = trace.patches.reshape(n, -1)
    varied = patches.max(axis=1) > patches.min(axis=1)
    if patches.shape[1] == 1:  # a 1×1 kernel's window is one number: never "varied"
        varied = np.ones(n, dtype=bool)
    magnitude = np.abs(trace.sums)
    lo, hi = float(magnitude.min()), float(magnitude.max())
    strong = magnitude >= lo + 0.75 * (hi - lo)
    for candidates in (strong & varied, varied):
        if candidates.any():
            return int(np.argmax(candidates)) + 1
    return 1


def window_centred_at(header: dict[str, Any], row: int, col: int) -> int:
    """The window (0…N−1) whose centre is nearest cell (row, col) of the padded input, as
    player_state.js's windowCentredAt picks the window shown while the pointer is over it."""
    kh, kw = header["kernel"]
    oh, ow = header["out"]
    s, d = header["stride"], header["dilation"]

    def nearest(cell: int, taps: int, count: int) -> int:
        # floor(x + 0.5), as JavaScript's Math.round (Python's round() would round half to even)
        return min(max(int(np.floor((cell - d * (taps - 1) / 2) / s + 0.5)), 0), count - 1)

    return nearest(row, kh, oh) * ow + nearest(col, kw, ow)
