"""Named kernels, each with a sentence on what it does, and safe parsing of kernels users type.

All kernels here are applied as deep-learning libraries apply them: by cross-correlation, the
kernel laid on the image as written (see ``explorer.convolution``). That fixes the sign of the
edge detectors: ``sobel_x`` is positive where brightness increases to the right.

User text is parsed by ``explorer.numbers`` (a one-pass scanner, then ``float``); it is never
evaluated as Python. Kernel sizes are rows×columns.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explorer.errors import UserError
from explorer.numbers import (
    cell_name,
    check_value,
    parse_number,
    ragged_row_message,
    shown,
)


class KernelError(UserError):
    """A kernel that cannot be used, with a sentence a student understands."""


@dataclass(frozen=True, eq=False)
class NamedKernel:
    """A preset kernel: ``values`` is a read-only float64 kh×kw array."""

    key: str
    name: str
    values: np.ndarray
    description: str  # 1–2 sentences: what it does to an image, and why


def _kernel(rows: list[list[float]], scale: float = 1.0) -> np.ndarray:
    values = np.array(rows, dtype=np.float64) * scale
    values.setflags(write=False)  # presets are shared by every page and session
    return values


_BINOMIAL_3 = np.array([1.0, 2.0, 1.0])
_BINOMIAL_5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0])

_PRESETS = [
    NamedKernel(
        "identity",
        "Identity",
        _kernel([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
        "Copies each pixel unchanged: only the centre weight is 1. A useful baseline to compare "
        "the other kernels with.",
    ),
    NamedKernel(
        "box_blur_3",
        "Box blur 3×3",
        _kernel(np.ones((3, 3)).tolist(), 1 / 9),
        "Replaces each pixel by the average of its 3×3 neighbourhood, smoothing noise and fine "
        "detail; the weights sum to 1, so brightness is kept.",
    ),
    NamedKernel(
        "box_blur_5",
        "Box blur 5×5",
        _kernel(np.ones((5, 5)).tolist(), 1 / 25),
        "Averages over a 5×5 neighbourhood: a stronger blur than 3×3, because each output pixel "
        "mixes 25 input pixels.",
    ),
    NamedKernel(
        "gaussian_3",
        "Gaussian blur 3×3",
        _kernel(np.outer(_BINOMIAL_3, _BINOMIAL_3).tolist(), 1 / 16),
        "A weighted average that counts near pixels more than far ones ([1, 2, 1] ⊗ [1, 2, 1] / "
        "16), so it blurs more smoothly than a box blur, without blocky artefacts.",
    ),
    NamedKernel(
        "gaussian_5",
        "Gaussian blur 5×5",
        _kernel(np.outer(_BINOMIAL_5, _BINOMIAL_5).tolist(), 1 / 256),
        "A wider Gaussian-like blur ([1, 4, 6, 4, 1] ⊗ [1, 4, 6, 4, 1] / 256): weights fall off "
        "smoothly with distance from the centre.",
    ),
    NamedKernel(
        "sharpen",
        "Sharpen",
        _kernel([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
        "Adds to each pixel how much it differs from its four neighbours, exaggerating edges "
        "and detail; the weights sum to 1, so flat areas keep their brightness.",
    ),
    NamedKernel(
        "sobel_x",
        "Sobel x",
        _kernel([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
        "Measures change along x (right column minus left column, middle row counted twice), "
        "so it lights up vertical edges: positive where brightness increases to the right, "
        "negative where it decreases.",
    ),
    NamedKernel(
        "sobel_y",
        "Sobel y",
        _kernel([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
        "Measures change along y (bottom row minus top row), so it lights up horizontal "
        "edges: positive where brightness increases downwards.",
    ),
    NamedKernel(
        "prewitt_x",
        "Prewitt x",
        _kernel([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]),
        "Like Sobel x but with equal weights on each row: finds vertical edges (positive where "
        "brightness increases to the right), with a little less smoothing.",
    ),
    NamedKernel(
        "prewitt_y",
        "Prewitt y",
        _kernel([[-1, -1, -1], [0, 0, 0], [1, 1, 1]]),
        "Like Sobel y but with equal weights: finds horizontal edges (positive where brightness "
        "increases downwards).",
    ),
    NamedKernel(
        "scharr_x",
        "Scharr x",
        _kernel([[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]]),
        "Finds vertical edges like Sobel x, with weights tuned so that edges at every angle get "
        "a more even response; positive where brightness increases to the right.",
    ),
    NamedKernel(
        "scharr_y",
        "Scharr y",
        _kernel([[-3, -10, -3], [0, 0, 0], [3, 10, 3]]),
        "Finds horizontal edges like Sobel y, with weights tuned for a more even response at "
        "every angle; positive where brightness increases downwards.",
    ),
    NamedKernel(
        "laplacian_4",
        "Laplacian (4 neighbours)",
        _kernel([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
        "Compares each pixel with its four neighbours (a second derivative): zero on flat areas "
        "and even ramps, large on both sides of an edge, whatever its direction.",
    ),
    NamedKernel(
        "laplacian_8",
        "Laplacian (8 neighbours)",
        _kernel([[1, 1, 1], [1, -8, 1], [1, 1, 1]]),
        "Compares each pixel with all eight neighbours, diagonals included: edges in every "
        "direction show up, and flat areas become 0.",
    ),
    NamedKernel(
        "emboss",
        "Emboss",
        _kernel([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
        "Subtracts the upper-left neighbours and adds the lower-right ones, so edges look "
        "raised or sunken as if lit from one side; the weights sum to 1, so flat areas keep "
        "their brightness.",
    ),
    NamedKernel(
        "outline",
        "Outline",
        _kernel([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
        "Each pixel minus its eight neighbours: flat areas become 0 and only outlines remain "
        "(the negative of the 8-neighbour Laplacian).",
    ),
]

KERNELS: dict[str, NamedKernel] = {preset.key: preset for preset in _PRESETS}

MIN_SIZE = 1
MAX_SIZE = 7  # larger kernels make the window animation unreadable and teach nothing new
# Even a 7×7 kernel of long decimals is well under 2 000 characters; more is not a kernel.
MAX_TEXT_CHARS = 10_000


def parse_cell(value: object, row: int, col: int) -> float:
    """One kernel cell as a float. ``row`` and ``col`` are 1-based, for the error message.

    Accepts ints, floats, NumPy numbers and typed text (see ``explorer.numbers.parse_number``:
    "0.5", " -2 ", "1e-3", fractions such as "1/9" and "-2/16"). Raises KernelError for empty
    cells (None, "", or NaN, which is how pandas shows an empty cell), text that is not a
    number, booleans, infinite values, and sizes beyond ``MAX_ABS_VALUE`` or nonzero ones
    below ``MIN_ABS_VALUE`` (both in ``explorer.numbers``).
    """
    where = cell_name(row, col)
    if isinstance(value, bool | np.bool_):
        raise KernelError(f"{where}: {value} is not a number; type a number such as 0 or 1/9.")
    if value is None:
        raise KernelError(f"{where} is empty; type a number such as 0 or 1/9.")
    if isinstance(value, str):
        return parse_number(value, where, KernelError)
    if not isinstance(value, numbers.Real):
        kind = type(value).__name__
        raise KernelError(f"{where} holds a {kind}, not a number; type a number such as 0 or 1/9.")
    try:
        number = float(value)
    except OverflowError:  # a Python int too big for a float, like 10**400
        number = math.inf
    if math.isnan(number):
        raise KernelError(f"{where} is empty; type a number such as 0 or 1/9.")
    return check_value(number, shown(str(value)), where, KernelError)


def parse_kernel(cells: Sequence[Sequence[object]] | np.ndarray) -> np.ndarray:
    """A grid of cells (list of rows, or a 2-D array, object dtype allowed) → float64 kh×kw.

    Non-square kernels are fine; each side must be between ``MIN_SIZE`` and ``MAX_SIZE``
    (sizes are rows×columns). Raises KernelError for ragged rows, an empty grid, a size out of
    range, or a bad cell.
    """
    if isinstance(cells, np.ndarray):
        if cells.ndim != 2:
            raise KernelError(
                f"A kernel is a grid of rows and columns, but this has {cells.ndim} "
                f"dimension(s) (shape {cells.shape})."
            )
        if cells.shape[0] > MAX_SIZE or cells.shape[1] > MAX_SIZE:
            raise KernelError(_size_message(*cells.shape))
        rows = [list(row) for row in cells]
        n_cols = cells.shape[1]
    else:
        if isinstance(cells, str | bytes) or not isinstance(cells, Sequence):
            raise KernelError("A kernel must be a list of rows, each a list of numbers.")
        rows = []
        for r, row in enumerate(cells, start=1):
            if isinstance(row, str | bytes) or not isinstance(row, Sequence | np.ndarray):
                raise KernelError(f"Row {r} of the kernel is not a list of numbers.")
            if r > MAX_SIZE or len(row) > MAX_SIZE:  # before copying a huge grid
                raise KernelError(_size_message(len(cells), len(row)))
            rows.append(list(row))
        n_cols = len(rows[0]) if rows else 0
        for r, row in enumerate(rows, start=1):
            if len(row) != n_cols:
                raise KernelError(ragged_row_message(r, len(row), n_cols))
    if not rows or n_cols == 0:
        raise KernelError("The kernel is empty; it needs at least one row and one column.")
    if not (MIN_SIZE <= len(rows) <= MAX_SIZE and MIN_SIZE <= n_cols <= MAX_SIZE):
        raise KernelError(_size_message(len(rows), n_cols))
    return np.array(
        [
            [parse_cell(value, r, c) for c, value in enumerate(row, start=1)]
            for r, row in enumerate(rows, start=1)
        ],
        dtype=np.float64,
    )


def _size_message(n_rows: int, n_cols: int) -> str:
    return (
        f"The kernel is {n_rows}×{n_cols} (rows×columns); each side must be between {MIN_SIZE} "
        f"and {MAX_SIZE}."
    )


def _split_row(line: str) -> list[str]:
    """One row of typed text → its cells, split at whitespace, commas and semicolons."""
    return line.replace(",", " ").replace(";", " ").split()


_BRACKET = re.compile(r"[\[\]]")  # one "[" or "]": a single character, nothing to backtrack
_FILLER = " \t\r\n,"  # what may stand between rows: "[[1, 2],\n [3, 4]]"


def _bracketed_rows(text: str) -> list[str] | None:
    """The contents of each innermost ``[...]`` in ``text`` (the rows of a pasted nested list
    such as ``[[1, 2], [3, 4]]``), or None when anything but brackets, commas and whitespace
    lies outside them, the brackets do not pair up, or there are more than a kernel needs."""
    if text.count("[") > MAX_SIZE + 1:  # one per row and one around them all
        return None
    rows: list[str] = []
    depth, last, just_opened = 0, 0, False
    for match in _BRACKET.finditer(text):
        i = match.start()
        between = text[last:i]
        if text[i] == "[":
            if between.strip(_FILLER):
                return None  # numbers outside a row, or before a nested "[": "[1, [2, 3]]"
            depth, just_opened = depth + 1, True
        else:
            if depth == 0:
                return None
            if just_opened:  # the "]" right after a "[": an innermost group, one row
                rows.append(between)
            elif between.strip(_FILLER):
                return None
            depth, just_opened = depth - 1, False
        last = i + 1
    if text[last:].strip(_FILLER) or depth != 0 or not rows:
        return None
    return rows


def parse_kernel_text(text: str) -> np.ndarray:
    """Typed or pasted text → float64 kh×kw.

    One row per line, numbers separated by spaces, commas or semicolons::

        1 2 1
        0, 0, 0
        -1; -2; -1

    A pasted nested list such as ``[[1, 2], [3, 4]]`` (or NumPy's ``[[1. 2.] [3. 4.]]``) also
    works: each innermost ``[...]`` is a row.
    """
    if not isinstance(text, str):
        raise KernelError("The kernel text must be a string.")
    if len(text) > MAX_TEXT_CHARS:
        raise KernelError(
            f"The kernel text is {len(text):,} characters long; a kernel of at most "
            f"{MAX_SIZE}×{MAX_SIZE} numbers needs far fewer."
        )
    if "[" in text or "]" in text:
        row_texts = _bracketed_rows(text)
        if row_texts is None:
            raise KernelError(
                "Could not read the brackets: write a list of rows like [[1, 2], [3, 4]], "
                "or one row per line without brackets."
            )
    else:
        row_texts = [line for line in text.splitlines() if line.strip()]
    if len(row_texts) > MAX_SIZE:  # say so before splitting thousands of lines into cells
        raise KernelError(_size_message(len(row_texts), len(_split_row(row_texts[0]))))
    return parse_kernel([_split_row(line) for line in row_texts])


def keeps_brightness(kernel: np.ndarray) -> bool:
    """Do the weights sum to 1 (up to float rounding), so a flat area keeps its brightness?
    True for blurs, sharpen and the identity: their results read as pictures."""
    total = float(np.sum(np.asarray(kernel, dtype=np.float64)))
    return math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9)


def kernel_sum_note(kernel: np.ndarray) -> str:
    """A sentence on what the sum of the weights does to a flat (uniform) area of the image."""
    total = float(np.sum(np.asarray(kernel, dtype=np.float64)))
    if not math.isfinite(total):
        return "The weights do not add up to a finite number, so the result is not meaningful."
    # Presets like 1/9 repeated nine times sum to 1 only up to rounding.
    if math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9):
        return "The weights sum to 1, so it keeps overall brightness: a flat area stays the same."
    if math.isclose(total, 0.0, rel_tol=0, abs_tol=1e-9):
        return "The weights sum to 0, so flat areas become 0: it responds only to change (edges)."
    note = f"The weights sum to {total:.4g}, so it scales brightness by {total:.4g}"
    if total < 0:
        return note + " (and turns bright areas negative)."
    return note + (": the image gets brighter." if total > 1 else ": the image gets darker.")
