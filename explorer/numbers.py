"""Numbers people type: one cell (``3``, ``-0.5``, ``1e-3``, ``1/9``), and a matrix of them.

Kernels (``explorer.kernels``), typed matrices (``parse_matrix``) and, through them, shared
links all read numbers here, so they accept the same things and say the same sentences when
something is wrong ("Row 2, column 3: 'abc' is not a number; …").

The scanner reads a cell once, character by character, after refusing anything longer than
``MAX_NUMBER_CHARS``: parsing costs a few microseconds whatever is typed. (Regular expressions
with nested repetition, which this replaces, took seconds to a minute of CPU on a few thousand
digits that end in a letter.) Text is never evaluated as Python.

Grids are rows×columns here ("a 3×5 matrix" has 3 rows), as in mathematics; pixel sizes
elsewhere are width×height.
"""

from __future__ import annotations

import math
import sys
from decimal import ROUND_HALF_UP, Decimal, localcontext

import numpy as np

from explorer.errors import UserError
from explorer.pixels import ImageError

# The longest number anyone types: "-0.0000123456789012345" or "-123456/789012" fit easily
# (Python's own shortest repr of a float64 is at most 24 characters).
MAX_NUMBER_CHARS = 40
# Beyond a million, an 8-bit image (values ≤ 255) turns into numbers no colour map shows
# meaningfully. With image values and weights both within this, a 7×7 kernel over three
# channels sums to at most 49·3·10¹² ≈ 1.5·10¹⁴: a convolution can never overflow.
MAX_ABS_VALUE = 1e6
# Nonzero numbers closer to zero than this are refused: their products would fall into
# float64's subnormal range (below 2.2e-308), where arithmetic loses precision and runs slowly.
MIN_ABS_VALUE = 1e-100
# A 32×32 matrix of MAX_NUMBER_CHARS-long numbers with separators is ~42 000 characters.
MAX_MATRIX_CHARS = 50_000
MAX_MATRIX_SIDE = 32

_EXAMPLES = "use numbers like 2, -0.5, 1e-3 or fractions like 1/9"
_SIGNS = {"+": "", "-": "-", "\u2212": "-", "\u2013": "-"}  # − (minus) and – (en dash) as typed
_DIGITS = frozenset("0123456789")
_NON_FINITE = {"nan": "means “not a number”", "inf": "is infinity", "infinity": "is infinity"}
_FLOAT_MAX = "about 1.8e308"  # sys.float_info.max, the largest float64


class NumberError(UserError):
    """A typed number that cannot be used, with a sentence saying why."""


def cell_name(row: int, col: int) -> str:
    """``"Row 2, column 3"``: how every message names a cell (1-based, rows first)."""
    return f"Row {row}, column {col}"


def shown(text: str, limit: int = MAX_NUMBER_CHARS) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters (``repr`` also makes line
    breaks and control characters visible instead of letting them break the sentence)."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _scan_decimal(text: str) -> tuple[str, bool] | None:
    """A plain decimal — sign? (digits [. digits?] | . digits) ([eE] sign? digits)? — as the
    ASCII text ``float()`` reads, plus whether its mantissa has a nonzero digit; None when
    ``text`` is anything else. One pass, no backtracking; ASCII digits only (``float`` would
    also take "nan", "1_000" and Arabic-Indic digits)."""
    out: list[str] = []
    i, n = 0, len(text)

    def sign() -> None:
        nonlocal i
        if i < n and text[i] in _SIGNS:
            out.append(_SIGNS[text[i]])
            i += 1

    def digits() -> tuple[int, bool]:
        nonlocal i
        start, nonzero = i, False
        while i < n and text[i] in _DIGITS:
            nonzero = nonzero or text[i] != "0"
            i += 1
        out.append(text[start:i])
        return i - start, nonzero

    sign()
    count, nonzero = digits()
    if i < n and text[i] == ".":
        out.append(".")
        i += 1
        more, more_nonzero = digits()
        count, nonzero = count + more, nonzero or more_nonzero
    if count == 0:
        return None
    if i < n and text[i] in "eE":
        out.append("e")
        i += 1
        sign()
        if digits()[0] == 0:
            return None
    if i != n:
        return None
    return "".join(out), nonzero


def parse_number(
    text: str,
    where: str | None = None,
    error: type[UserError] = NumberError,
    max_abs: float = MAX_ABS_VALUE,
) -> float:
    """One typed number → float. ``where`` (e.g. ``cell_name(2, 3)``) starts the message;
    ``error`` is the exception raised (a kernel raises KernelError, a matrix ImageError).

    Accepts ``3``, ``-0.5``, ``.5``, ``2.``, ``+1e-3``, a fraction ``1/9`` or ``-3 / 16``,
    the minus signs − and –, and whitespace around it all. Refuses, each with its own
    sentence: empty text, more than ``MAX_NUMBER_CHARS`` characters, anything else that is not
    such a number, NaN and infinity, numbers that overflow float64 (``1e309``, ``1e300/1e-300``),
    division by zero, and sizes beyond ``max_abs`` or (nonzero) below ``MIN_ABS_VALUE``.
    """
    stripped = text.strip()
    subject = f"{where}: " if where else ""
    if not stripped:
        start = where if where else "The number"
        raise error(f"{start} is empty; type a number such as 0 or 1/9.")
    if len(stripped) > MAX_NUMBER_CHARS:
        raise error(
            f"{subject}{shown(stripped, 12)} is {len(stripped):,} characters long; a number "
            f"may have at most {MAX_NUMBER_CHARS}."
        )
    numerator_text, slash, denominator_text = stripped.partition("/")
    parts = [numerator_text.strip()] + ([denominator_text.strip()] if slash else [])
    scanned = [_scan_decimal(part) for part in parts]
    decimals = [s for s in scanned if s is not None]
    allowed = _range(max_abs)
    if len(decimals) != len(parts):
        for part in parts:
            word = part.lstrip("+-\u2212\u2013").lower()
            if word in _NON_FINITE:
                raise error(
                    f"{subject}{shown(stripped)} {_NON_FINITE[word]} and cannot be used; {allowed}."
                )
        raise error(f"{subject}{shown(stripped)} is not a number; {_EXAMPLES}.")
    values = [float(ascii_text) for ascii_text, _ in decimals]
    if not all(math.isfinite(v) for v in values):
        raise error(
            f"{subject}{shown(stripped)} overflows: it is beyond the largest number a computer "
            f"stores ({_FLOAT_MAX}); {allowed}."
        )
    value = values[0]
    if slash:
        if values[1] == 0:
            raise error(f"{subject}{shown(stripped)} divides by zero.")
        value = values[0] / values[1]
        if not math.isfinite(value):
            raise error(
                f"{subject}{shown(stripped)} overflows: the division gives a number beyond the "
                f"largest a computer stores ({_FLOAT_MAX}); {allowed}."
            )
    typed_nonzero = all(nonzero for _, nonzero in decimals)
    if value == 0 and typed_nonzero:  # underflowed: 1e-400, or 1e-200/1e200
        value = math.copysign(sys.float_info.min / 2, value)  # refused just below
    return check_value(value, shown(stripped), where, error, max_abs)


def check_value(
    value: float,
    shown_as: str,
    where: str | None = None,
    error: type[UserError] = NumberError,
    max_abs: float = MAX_ABS_VALUE,
) -> float:
    """A number already parsed (typed, or given as a Python/NumPy number) → ``value``, checked
    to be finite, within ``max_abs`` and zero or at least ``MIN_ABS_VALUE`` in size;
    ``shown_as`` is how the message quotes it."""
    subject = f"{where}: " if where else ""
    if math.isnan(value):
        raise error(f"{subject}{shown_as} is not a number; {_EXAMPLES}.")
    if not math.isfinite(value) or abs(value) > max_abs:
        raise error(f"{subject}{shown_as} is too large; {_range(max_abs)}.")
    if value != 0 and abs(value) < MIN_ABS_VALUE:
        raise error(
            f"{subject}{shown_as} is too close to zero to compute with reliably; type 0, or a "
            f"number of at least {MIN_ABS_VALUE:g} in size."
        )
    return float(value)


def _range(max_abs: float) -> str:
    return f"numbers must lie between -{max_abs:,.0f} and {max_abs:,.0f}"


def ragged_row_message(row: int, count: int, first_count: int) -> str:
    """The sentence for a row whose length differs from the first row's."""
    plural = "" if count == 1 else "s"
    return (
        f"Row {row} has {count} number{plural} but row 1 has {first_count}; every row needs "
        "the same number of values."
    )


def _split_cells(line: str) -> list[str]:
    """A row of text → its cells, split at commas and whitespace (no regular expression)."""
    return [cell for cell in line.replace(",", " ").split() if cell]


def parse_matrix(text: str, max_size: int = MAX_MATRIX_SIDE) -> np.ndarray:
    """A small matrix typed by the user → float64 rows×columns.

    One row per line (or rows separated by ``;``), numbers separated by spaces and/or commas.
    Brackets are ignored, so a pasted ``[[1, 2], [3, 4]]`` works too, and a fraction such as
    ``1/9`` is read as a number. Blank lines are skipped. Nothing is ever evaluated as code.

    Raises ImageError naming the row and column (1-based) of anything that is not a usable
    number (see ``parse_number``), for rows of different lengths, more than ``max_size`` rows
    or columns, too much text, or no numbers at all.
    """
    if len(text) > MAX_MATRIX_CHARS:
        raise ImageError(
            f"That is {len(text):,} characters, far too much for a matrix; type at most "
            f"{max_size}×{max_size} numbers."
        )
    cleaned = text.replace("[", " ").replace("]", "\n").replace(";", "\n")
    rows_text = [line for line in cleaned.splitlines() if line.replace(",", " ").strip()]
    if not rows_text:
        raise ImageError("The matrix is empty; type some numbers, one row per line.")
    if len(rows_text) > max_size:
        raise ImageError(f"The matrix has {len(rows_text)} rows; at most {max_size} are allowed.")
    rows: list[list[float]] = []
    for r, line in enumerate(rows_text, start=1):
        cells = _split_cells(line)
        if len(cells) > max_size:
            raise ImageError(
                f"Row {r} has {len(cells)} numbers; at most {max_size} per row are allowed."
            )
        rows.append(
            [parse_number(cell, cell_name(r, c), ImageError) for c, cell in enumerate(cells, 1)]
        )
        if len(rows[-1]) != len(rows[0]):
            raise ImageError(ragged_row_message(r, len(rows[-1]), len(rows[0])))
    return np.array(rows, dtype=np.float64)


# ----------------------------------------------------------------------------- writing numbers


def with_minus(text: str) -> str:
    """``text`` with a true minus sign (−) for each hyphen-minus: for a number formatted any
    way (``f"{x:.3g}"``), or a line whose only hyphens are its numbers' signs (a colour
    legend), that a student reads."""
    return text.replace("-", "\u2212")


def display_value(x: float) -> str:
    """``format_value`` with a true minus sign (−, U+2212), for numbers in sentences a student
    reads — the player writes them so too. (``format_value`` keeps ``-`` for what is copied:
    code, CSV, typed kernels.)"""
    return with_minus(format_value(x))


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
