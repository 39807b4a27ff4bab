"""The convolution playground's whole set-up as one small, frozen, Streamlit-free object.

    state, warnings = PlaygroundState.from_query({"k": "blur_3", "pad": "1"})
    state = state.choose("stride", 2).with_kernel([["1", "0"], ["0", "-1"]], origin="typed")
    state.to_query()   # {"k": "custom", "pad": "1", "stride": "2", "kv": "1,0;0,-1"}

The page keeps one ``PlaygroundState`` per session and replaces it on every change; its
widgets take their options *and* their labels from :data:`CHOICES`, the one registry of the
closed choices, and so does the link validation. A link is typed, pasted and edited by people
(and may be hostile): ``from_query`` checks every value against its closed set of choices or
the number parser, keeps the default for anything else and says in a plain sentence which value
it ignored. Nothing is ever evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import numpy as np

from explorer.convolution import PADDING_MODES, ChannelMode, ConvSettings, PaddingMode
from explorer.errors import UserError
from explorer.kernels import KERNELS, KernelError, keeps_brightness, parse_cell, parse_kernel
from explorer.links import MAX_LINK_VALUE_CHARS, Choice, shown
from explorer.numbers import format_value, parse_matrix
from explorer.pixels import ImageError
from explorer.playground import ConvPicture
from explorer.samples import SAMPLES
from explorer.share import kernel_cells

CUSTOM = "custom"
MAX_KERNEL_LINK_CHARS = 1_500  # 49 cells of 30 characters
MAX_MATRIX_LINK_CHARS = 4_000  # a 32×32 matrix of 3-digit numbers fits


RESOLUTIONS = (8, 16, 32, 48, 64)

#: Every closed choice of the playground: field name → link parameter and labels. The widgets
#: show these labels in this order; the link accepts exactly these values.
CHOICES: dict[str, Choice] = {
    "source": Choice(
        "src",
        {
            "sample": ":material/image: Sample",
            "draw": ":material/draw: Draw",
            "upload": ":material/upload: Upload",
            "camera": ":material/photo_camera: Camera",
            "numbers": ":material/pin: Numbers",
        },
    ),
    "sample": Choice("sample", {key: sample.name for key, sample in SAMPLES.items()}),
    "colour": Choice("ch", {"gray": "Grayscale", "r": "Red", "g": "Green", "b": "Blue"}),
    "preset": Choice(
        "k", {**{k: v.name for k, v in KERNELS.items()}, CUSTOM: "✎ Custom: type your own"}
    ),
    "padding": Choice("pad", {n: str(n) for n in (0, 1, 2, 3)}),
    "padding_mode": Choice(
        "mode",
        dict(
            zip(
                PADDING_MODES,
                ("zeros", "reflect (mirror)", "replicate (repeat edge)"),
                strict=True,
            )
        ),
    ),
    "stride": Choice("stride", {n: str(n) for n in (1, 2, 3)}),
    "dilation": Choice("dil", {n: str(n) for n in (1, 2, 3)}),
    "flip": Choice(
        "flip",
        {
            False: "Cross-correlation (as PyTorch)",
            True: "True convolution (kernel flipped 180°)",
        },
    ),
    "res": Choice("res", {n: f"≤ {n} px" for n in RESOLUTIONS}),
    "result_colours": Choice(
        "rc",
        {
            "auto": "Automatic: gray for kernels that keep brightness, else blue–red",
            "picture": "Gray, like the picture (0 = black, 255 = white)",
            "signed": "Blue–red by sign (white = 0)",
        },
    ),
    "result_mode": Choice(
        "out",
        {
            "animated": "One plane, like the animation",
            "per_channel": "Each colour channel separately",
            "sum": "Summed over R, G, B (like Conv2d)",
        },
    ),
}

Cells = tuple[tuple[str, ...], ...]
DEFAULT_MATRIX = "\n".join(" ".join(str(5 * r + c + 1) for c in range(5)) for r in range(5))


def _cells(values: Sequence[Sequence[object]]) -> Cells:
    """Any grid of cell values → a tuple of tuples of stripped strings (None → "")."""
    return tuple(tuple("" if v is None else str(v).strip() for v in row) for row in values)


@dataclass(frozen=True)
class PlaygroundState:
    """Everything the playground shows, chosen by the user. Field defaults carry their reason."""

    source: str = "sample"
    sample: str = "shapes"  # clean edges in every direction: every kernel shows something
    matrix_text: str = DEFAULT_MATRIX  # 1..25: small enough to check every sum by hand
    colour: str = "gray"
    preset: str = "sobel_x"  # an edge detector: the result differs visibly from the input
    custom_cells: Cells = (("0", "0", "0"), ("0", "1", "0"), ("0", "0", "0"))
    kernel_origin: str = ""  # where a custom kernel came from ("conv1 filter 3 (R)"), if known
    padding: int = 0  # PyTorch's defaults, so the formula starts in its simplest form
    padding_mode: str = "zeros"
    stride: int = 1
    dilation: int = 1
    flip: bool = False
    res: int = 32  # 32×32 = 1,024 windows: large enough to see the picture, quick to play
    result_mode: str = "animated"
    result_colours: str = "auto"  # a blur looks like a picture; an edge map has a sign

    # ------------------------------------------------------------------ changes

    def choose(self, name: str, value: Any) -> PlaygroundState:
        """This state with the closed choice ``name`` set to ``value`` (ValueError if ``value``
        is not one of its choices). Choosing "custom" starts from the kernel shown so far."""
        if value not in CHOICES[name].labels:
            raise ValueError(f"{value!r} is not a choice of {name}")
        if name == "preset" and value == CUSTOM and self.preset in KERNELS:
            kernel = KERNELS[self.preset]
            return self.with_kernel(kernel_cells(kernel.values), origin=kernel.name)
        return replace(self, **{name: value})

    def with_kernel(self, cells: Sequence[Sequence[object]], origin: str = "") -> PlaygroundState:
        """A custom kernel from its cell texts (they may not parse yet: the page says why)."""
        grid = _cells(cells)
        if not grid or not grid[0]:
            raise ValueError("a kernel needs at least one cell")
        return replace(self, preset=CUSTOM, custom_cells=grid, kernel_origin=origin)

    def with_matrix(self, text: str) -> PlaygroundState:
        """Typed numbers as the input (they may not parse yet: the page says why)."""
        return replace(self, matrix_text=str(text))

    def resized(self, rows: int, cols: int) -> PlaygroundState:
        """The custom grid at ``rows``×``cols``: the typed cells that still fit are kept, new
        cells start at 0. A new size is an edit: the kernel no longer is the one it came from,
        so its provenance goes."""
        old = self.custom_cells

        def cell(r: int, c: int) -> str:
            return old[r][c] if r < len(old) and c < len(old[0]) else "0"

        grid = [[cell(r, c) for c in range(cols)] for r in range(rows)]
        same = (rows, cols) == (len(old), len(old[0]))
        return self.with_kernel(grid, origin=self.kernel_origin if same else "")

    # ------------------------------------------------------------------ what it describes

    @property
    def settings(self) -> ConvSettings:
        mode = cast(PaddingMode, self.padding_mode)  # one of CHOICES: checked on every change
        return ConvSettings(self.padding, mode, self.stride, self.dilation, self.flip)

    def kernel(self) -> np.ndarray:
        """The kernel as kh×kw float64; KernelError (naming the cell) for a bad custom cell."""
        if self.preset != CUSTOM:
            return KERNELS[self.preset].values
        return parse_kernel(self.custom_cells)

    @property
    def kernel_shape(self) -> tuple[int, int]:
        if self.preset != CUSTOM:
            return KERNELS[self.preset].values.shape
        return len(self.custom_cells), len(self.custom_cells[0])

    # ------------------------------------------------------------------ links

    def to_query(self) -> dict[str, str]:
        """The state as query parameters, leaving out whatever equals its default (so the
        page's plain address is the default set-up). A custom kernel that does not parse is
        left out: a link never carries a kernel the page would refuse."""
        default = PlaygroundState()
        params: dict[str, str] = {}
        for name, choice in CHOICES.items():
            value = getattr(self, name)
            if value != getattr(default, name):
                params[choice.param] = choice.encode(value)
        if self.preset == CUSTOM:
            try:
                self.kernel()
                params["kv"] = ";".join(",".join(row) for row in self.custom_cells)
            except KernelError:
                params.pop(CHOICES["preset"].param, None)
        if self.source == "numbers" and self.matrix_text != default.matrix_text:
            rows = [" ".join(line.split()) for line in self.matrix_text.splitlines()]
            joined = ";".join(row for row in rows if row)
            if len(joined) <= MAX_MATRIX_LINK_CHARS:
                params["m"] = joined
        return params

    @classmethod
    def from_query(cls, params: Mapping[str, object]) -> tuple[PlaygroundState, list[str]]:
        """Query parameters → (the state they describe, one sentence per value ignored).
        Unknown parameters are ignored silently (other pages and tools may add their own).
        The sentences quote the link: show them as literal text, never as Markdown."""
        changes: dict[str, Any] = {}
        warnings: list[str] = []

        def text(param: str) -> str | None:
            value = params.get(param)
            if value is None:
                return None
            if not isinstance(value, str):
                warnings.append(f"Ignored the link's {param}: it is not text.")
                return None
            return value.strip()

        for name, choice in CHOICES.items():
            value = text(choice.param)
            if value is None:
                continue
            try:
                if len(value) > MAX_LINK_VALUE_CHARS:
                    raise ValueError(value)
                changes[name] = choice.decode(value)
            except ValueError:
                allowed = ", ".join(choice.encode(v) for v in choice.labels)
                if len(allowed) > 60:
                    allowed = "the names listed on the page"
                warnings.append(
                    f"Ignored the link's {choice.param}={shown(value)}: it must be one of "
                    f"{allowed}."
                )
        state = replace(cls(), **{k: v for k, v in changes.items() if k != "preset"})
        preset = changes.get("preset", state.preset)
        kv = text("kv")
        if kv is not None:
            try:
                state = state.with_kernel(_kernel_from_link(kv))
            except KernelError as exc:
                warnings.append(f"Ignored the link's custom kernel: {exc}")
                if preset == CUSTOM:
                    preset = cls.preset
        elif preset == CUSTOM:
            warnings.append("The link asks for a custom kernel but gives no kv values.")
            preset = cls.preset
        if preset != CUSTOM:  # a custom kernel that parsed is already chosen by with_kernel
            state = replace(state, preset=preset)
        matrix = text("m")
        if matrix is not None:
            try:
                state = state.with_matrix(_matrix_from_link(matrix))
            except UserError as exc:
                warnings.append(f"Ignored the link's matrix: {exc}")
        return state, warnings


def _kernel_from_link(text: str) -> list[list[str]]:
    """``"1,0,-1;2,0,-2"`` → ``[["1", "0", "-1"], ["2", "0", "-2"]]``, each cell checked to be
    a finite number (or fraction) and the grid 1..7 a side; KernelError otherwise."""
    if len(text) > MAX_KERNEL_LINK_CHARS:
        raise KernelError(
            f"the values are {len(text):,} characters long; a 7×7 kernel needs at most "
            f"{MAX_KERNEL_LINK_CHARS:,}."
        )
    cells = [[cell.strip() for cell in row.split(",")] for row in text.split(";")]
    parse_kernel(cells)  # raises KernelError naming the bad cell
    return cells


def _matrix_from_link(text: str) -> str:
    """``"1 2;3 4"`` → the typed matrix ``"1 2\\n3 4"``, checked to parse (ImageError)."""
    if len(text) > MAX_MATRIX_LINK_CHARS:
        raise ImageError(
            f"it is {len(text):,} characters long; at most {MAX_MATRIX_LINK_CHARS:,} fit a link."
        )
    matrix = "\n".join(row.strip() for row in text.split(";"))
    parse_matrix(matrix)
    return matrix


def result_planes(picture: ConvPicture, result_mode: str) -> tuple[np.ndarray, ChannelMode]:
    """What the result convolves for ``result_mode`` (see ``CHOICES["result_mode"]``): the
    animated plane (H×W), or every channel (C×H×W) filtered separately or summed like Conv2d.
    A gray picture has one plane, so every mode is the animated one."""
    if not picture.is_colour or result_mode == "animated":
        return picture.full, "sum"
    return picture.channels, "per_channel" if result_mode == "per_channel" else "sum"


def result_cmap(result_colours: str, kernel: np.ndarray) -> Literal["gray", "diverging"]:
    """The colours of a one-plane result. "auto": a kernel whose weights sum to 1 keeps the
    picture's brightness (blurs, sharpen, identity), so its result is shown as a gray picture
    on 0..255; any other kernel gives signed values (edges), shown blue–red about 0."""
    if result_colours == "picture":
        return "gray"
    if result_colours == "signed":
        return "diverging"
    return "gray" if keeps_brightness(kernel) else "diverging"


SHOWN_CHARS = 8  # longer cell texts (a learned filter's 0.10000000149011612) are rounded


def shown_cells(cells: Cells) -> Cells:
    """The custom grid as the editor shows it: long numbers rounded the way the player writes
    numbers (0.1, −0.2385), everything else as typed. The exact values stay in the state."""

    def shown(text: str) -> str:
        if len(text) <= SHOWN_CHARS:
            return text
        try:
            return format_value(parse_cell(text, 0, 0))
        except KernelError:
            return text

    return tuple(tuple(shown(text) for text in row) for row in cells)


def with_edits(exact: Cells, shown: Cells, typed: Cells) -> Cells:
    """The grid after the student typed into the shown (rounded) grid: a cell whose text is
    still what was shown keeps its exact value; a cell the student changed takes the new text."""
    return tuple(
        tuple(e if t == s else t for e, s, t in zip(er, sr, tr, strict=True))
        for er, sr, tr in zip(exact, shown, typed, strict=True)
    )
