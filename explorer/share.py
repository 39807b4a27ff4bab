"""Getting a playground set-up out of the app: its numbers as text a person would type, the
link's full address (the query itself is ``PlaygroundState.to_query``) and CSV files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np


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
