"""Getting a playground set-up out of the app: as a link's query parameters (so a teacher can
share it) and its numbers as CSV files.

``encode`` turns the playground's state (a plain dict keyed like its session state) into
short query parameters; ``decode`` reads them back. Links are typed, pasted and edited by
people (and may be hostile), so ``decode`` checks every value against a closed set of choices
or a strict number pattern, keeps the default for anything else and says which value it
ignored. Nothing is ever evaluated.

Example: ``?sample=shapes&k=sobel_x&pad=1`` or, for a custom kernel,
``?k=custom&kv=1/9,1/9,1/9;1/9,1/9,1/9;1/9,1/9,1/9``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np

from explorer.convolution import PADDING_MODES
from explorer.images import SAMPLES, ImageError, parse_matrix
from explorer.kernels import KERNELS, KernelError, parse_kernel

SOURCES = ("draw", "upload", "sample", "numbers")
COLOURS = ("gray", "r", "g", "b")
RESULT_MODES = ("animated", "per_channel", "sum")
RESOLUTIONS = (8, 16, 32, 48, 64)
CUSTOM = "custom"
MAX_MATRIX_CHARS = 4_000  # a 32×32 matrix of 3-digit numbers fits; a link should not be longer

# Everything the playground keeps between reruns and puts in a link, with its default. The
# keys are the page's session-state keys.
DEFAULTS: dict[str, Any] = {
    "conv_source": "sample",
    "conv_sample": "shapes",  # clean edges in every direction: every kernel shows something
    "conv_matrix_text": "\n".join(
        " ".join(str(5 * r + c + 1) for c in range(5)) for r in range(5)
    ),  # the 5×5 of 1..25, small enough to check every sum by hand
    "conv_colour": "gray",
    "conv_preset": "sobel_x",  # an edge detector: the result differs visibly from the input
    "conv_custom_cells": [["0", "0", "0"], ["0", "1", "0"], ["0", "0", "0"]],
    "conv_padding": 0,  # PyTorch's defaults, so the formula starts in its simplest form
    "conv_padding_mode": "zeros",
    "conv_stride": 1,
    "conv_dilation": 1,
    "conv_flip": False,
    "conv_res": 32,  # 32×32 = 1 024 windows: the animation still plays through in under a minute
    "conv_result_mode": "animated",
}

# Query parameter ← session key, for the simple "one of these choices" values.
_CHOICES: dict[str, tuple[str, Sequence[Any]]] = {
    "src": ("conv_source", SOURCES),
    "sample": ("conv_sample", tuple(SAMPLES)),
    "k": ("conv_preset", (*KERNELS, CUSTOM)),
    "mode": ("conv_padding_mode", PADDING_MODES),
    "ch": ("conv_colour", COLOURS),
    "out": ("conv_result_mode", RESULT_MODES),
}
_COUNTS: dict[str, tuple[str, Sequence[int]]] = {
    "pad": ("conv_padding", (0, 1, 2, 3)),
    "stride": ("conv_stride", (1, 2, 3)),
    "dil": ("conv_dilation", (1, 2, 3)),
    "res": ("conv_res", RESOLUTIONS),
}
MAX_VALUE_CHARS = 100  # for every parameter but the two grids


def format_weight(value: float) -> str:
    """A kernel weight as a person would type it: ``1``, ``-0.5``, ``1/9``, ``3/16``.

    A fraction is used only when it is *exactly* the float (1/9 is, up to float rounding,
    what 1/9 parses back to); anything else is the shortest decimal that reads back to the
    same float, so nothing is lost."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    fraction = Fraction(value).limit_denominator(256)
    exact = fraction.denominator > 1 and fraction.numerator / fraction.denominator == value
    if exact and abs(fraction.numerator) < 1000 and len(str(fraction)) < len(repr(value)):
        return str(fraction)
    return repr(value)


def kernel_cells(values: np.ndarray | Sequence[Sequence[float]]) -> list[list[str]]:
    """kh×kw numbers → the custom-kernel grid's cell texts (see ``format_weight``)."""
    return [[format_weight(v) for v in row] for row in np.asarray(values, dtype=np.float64)]


def _cells_to_param(cells: Sequence[Sequence[str]]) -> str:
    return ";".join(",".join(str(c).strip() for c in row) for row in cells)


def encode(state: Mapping[str, Any]) -> dict[str, str]:
    """The playground's state → query parameters, leaving out whatever equals its default
    (so the plain page address means the default set-up)."""
    params: dict[str, str] = {}
    for name, (key, _) in _CHOICES.items():
        if state.get(key, DEFAULTS[key]) != DEFAULTS[key]:
            params[name] = str(state[key])
    for name, (key, _) in _COUNTS.items():
        if state.get(key, DEFAULTS[key]) != DEFAULTS[key]:
            params[name] = str(int(state[key]))
    if state.get("conv_flip", False):
        params["flip"] = "1"
    if state.get("conv_preset") == CUSTOM:
        params["kv"] = _cells_to_param(
            state.get("conv_custom_cells", DEFAULTS["conv_custom_cells"])
        )
    if state.get("conv_source") == "numbers":
        text = str(state.get("conv_matrix_text", ""))
        if text != DEFAULTS["conv_matrix_text"] and len(text) <= MAX_MATRIX_CHARS:
            rows = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
            params["m"] = ";".join(rows)
    return params


def _shown(value: str) -> str:
    return repr(value if len(value) <= 30 else value[:30] + "…")


def decode(params: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Query parameters → (the state they describe, on top of ``DEFAULTS``; one sentence per
    value that was ignored). Unknown parameters are ignored silently (other pages and tools
    may add their own)."""
    state = {
        k: (v if not isinstance(v, list) else [list(r) for r in v]) for k, v in DEFAULTS.items()
    }
    warnings: list[str] = []

    def get(name: str) -> str | None:
        value = params.get(name)
        if value is None:
            return None
        if not isinstance(value, str):  # st.query_params only gives strings; be sure anyway
            warnings.append(f"Ignored the link's {name}: it is not text.")
            return None
        return value.strip()

    for name, (key, options) in _CHOICES.items():
        value = get(name)
        if value is None:
            continue
        if len(value) <= MAX_VALUE_CHARS and value in options:
            state[key] = value
        else:
            warnings.append(
                f"Ignored the link's {name}={_shown(value)}: it is not one of the choices."
            )
    for name, (key, options) in _COUNTS.items():
        value = get(name)
        if value is None:
            continue
        if value.isascii() and value.isdigit() and len(value) <= 3 and int(value) in options:
            state[key] = int(value)
        else:
            allowed = ", ".join(str(o) for o in options)
            warnings.append(
                f"Ignored the link's {name}={_shown(value)}: it must be one of {allowed}."
            )
    flip = get("flip")
    if flip is not None:
        if flip in ("0", "1"):
            state["conv_flip"] = flip == "1"
        else:
            warnings.append(f"Ignored the link's flip={_shown(flip)}: it must be 0 or 1.")

    kv = get("kv")
    if kv is not None:
        try:
            state["conv_custom_cells"] = _param_to_cells(kv)
            state["conv_preset"] = CUSTOM
        except KernelError as exc:
            warnings.append(f"Ignored the link's custom kernel: {exc}")
            if state["conv_preset"] == CUSTOM:
                state["conv_preset"] = DEFAULTS["conv_preset"]
    elif state["conv_preset"] == CUSTOM:
        warnings.append("The link asks for a custom kernel but gives no kv values.")
        state["conv_preset"] = DEFAULTS["conv_preset"]

    matrix = get("m")
    if matrix is not None:
        text = "\n".join(r.strip() for r in matrix.split(";"))
        try:
            if len(matrix) > MAX_MATRIX_CHARS:
                raise ImageError("it is too long.")
            parse_matrix(text)
            state["conv_matrix_text"] = text
        except ImageError as exc:
            warnings.append(f"Ignored the link's matrix: {exc}")
    return state, warnings


def _param_to_cells(text: str) -> list[list[str]]:
    """``"1,0,-1;2,0,-2"`` → ``[["1", "0", "-1"], ["2", "0", "-2"]]``, each cell checked to be
    a finite number (or fraction) and the grid 1..7 per side; KernelError otherwise."""
    if len(text) > 1_500:  # 49 cells of 30 characters
        raise KernelError("the values are far too long for a 7×7 kernel.")
    cells = [[cell.strip() for cell in row.split(",")] for row in text.split(";")]
    parse_kernel(cells)  # raises KernelError naming the bad cell
    return cells


PAGE_PATH = "convolution"  # the playground's address under the app, set by st.navigation


def link(app_url: str | None, params: Mapping[str, str]) -> str:
    """The playground's full address with ``params``, given the address the browser shows
    (any page of the app: its last path segment is replaced by the playground's). Without an
    address (tests, some proxies) only the ``?query`` part is returned."""
    query = urlencode(params, safe="/,;")
    if not app_url:
        return f"?{query}" if query else "(the page's plain address: everything is at its default)"
    scheme, netloc, path, _, _ = urlsplit(app_url)
    base = path.rsplit("/", 1)[0] if "/" in path else ""
    return urlunsplit((scheme, netloc, f"{base}/{PAGE_PATH}", query, ""))


def result_csv(values: np.ndarray) -> bytes:
    """A result (H×W, one CSV row per image row) or a per-channel result (C×H×W: one row per
    pixel, ``row,column,channel 1,…``) as CSV text. Every number is written as Python's
    ``repr``: the shortest decimal that reads back to exactly the same float64."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 3:
        c, h, w = values.shape
        names = ["red", "green", "blue"] if c == 3 else [f"channel {i + 1}" for i in range(c)]
        lines = [",".join(["row", "column", *names])]
        pixels = values.reshape(c, -1).T.tolist()
        lines += [f"{i // w},{i % w}," + ",".join(map(repr, p)) for i, p in enumerate(pixels)]
    else:
        lines = [",".join(map(repr, row)) for row in np.atleast_2d(values).tolist()]
    return ("\n".join(lines) + "\n").encode()
