"""2-D convolution, from the textbook loop to the fast path the app runs.

Read it top to bottom:

1. ``convolve2d`` — the plain double loop: slide a kh×kw kernel over an H×W image, and at each
   position multiply the numbers under it by the kernel's weights and add them up.
2. ``output_size`` — how many positions fit, once padding, stride and dilation come in.
3. ``pad`` and ``effective_kernel`` — the two things done to the inputs before sliding.
4. ``conv2d_loop`` — the same loop, generalised to padding, stride, dilation and flipping.
5. ``conv2d`` — the same arithmetic, vectorised: one array operation per kernel weight instead
   of one Python step per output pixel. This is what the app runs on full images.
6. ``window_trace`` — every window of a convolution recorded (where it sits, what it covers,
   the products, the sum), for the animation to play back.

Like deep-learning libraries (PyTorch's ``Conv2d``), everything here computes
*cross-correlation* unless ``ConvSettings.flip`` is set: the kernel is laid on the image as
written. A mathematician's convolution rotates the kernel by 180° first; for a symmetric kernel
(a blur) the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from explorer.errors import UserError
from explorer.numbers import MAX_ABS_VALUE


class ConvolutionError(UserError):
    """Settings or inputs that make a convolution impossible, in words a student understands."""


PaddingMode = Literal["zeros", "reflect", "replicate"]
PADDING_MODES: tuple[str, ...] = get_args(PaddingMode)
ChannelMode = Literal["sum", "per_channel"]

# A window trace stores five numbers per covered cell (row, column, value, product, and the
# window's sum); past ~4 million cells it would take over 100 MB of server memory for an
# animation nobody can watch to the end. 256×256 with a 7×7 kernel (3.2 M cells) still fits.
MAX_TRACE_CELLS = 2**22
# Padding makes a new, larger plane (and the output grows with it): padding in the millions
# would ask for terabytes before a single sum. A padded plane may have at most 16.8 M cells
# (4096×4096, 128 MB of float64 per channel); the playground's largest is 1030×1030 (1024 px
# and padding 3). Padding 0 adds nothing and is never refused: the budget is on what padding
# makes, not on the image the caller already holds.
MAX_PADDED_CELLS = 2**24


def _is_count(value: object) -> bool:
    # bool is a subclass of int, but "padding=True" is a mistake, not a number.
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


@dataclass(frozen=True)
class ConvSettings:
    """How the kernel slides over the image. The defaults are PyTorch's ``Conv2d`` defaults."""

    padding: int = 0  # cells added on all four sides; 0 = "valid" (output shrinks)
    padding_mode: PaddingMode = "zeros"  # what the added cells contain
    stride: int = 1  # step between windows; 2 halves the output size
    dilation: int = 1  # gap between kernel taps; 2 covers a 5×5 area with a 3×3 kernel
    flip: bool = False  # True: true convolution (kernel rotated 180°); False: cross-correlation

    def __post_init__(self) -> None:
        if not _is_count(self.padding) or self.padding < 0:
            raise ConvolutionError(
                f"Padding must be a whole number 0 or more, not {self.padding!r}."
            )
        if not _is_count(self.stride) or self.stride < 1:
            raise ConvolutionError(
                f"Stride must be a whole number 1 or more (the step between windows), "
                f"not {self.stride!r}."
            )
        if not _is_count(self.dilation) or self.dilation < 1:
            raise ConvolutionError(
                f"Dilation must be a whole number 1 or more (1 means no gaps), "
                f"not {self.dilation!r}."
            )
        if self.padding_mode not in PADDING_MODES:
            raise ConvolutionError(
                f"Padding mode must be one of {', '.join(PADDING_MODES)}, "
                f"not {self.padding_mode!r}."
            )
        if not isinstance(self.flip, bool | np.bool_):
            raise ConvolutionError(f"Flip must be True or False, not {self.flip!r}.")


_SHAPE_NAMES = {
    ("image", 2): "H×W",
    ("image", 3): "C×H×W",
    ("kernel", 2): "kh×kw",
    ("kernel", 3): "C×kh×kw",
}


def _as_array(values: np.ndarray, what: str, ndims: tuple[int, ...]) -> np.ndarray:
    """``values`` (the "image" or the "kernel") as float64, checked to have ``ndims`` axes."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise ConvolutionError(f"The {what} must contain plain numbers, not {array.dtype} values.")
    if array.ndim not in ndims:
        wanted = " or ".join(_SHAPE_NAMES[what, n] for n in ndims)
        raise ConvolutionError(
            f"The {what} must be a {wanted} array, but it has {array.ndim} dimension(s) "
            f"(shape {array.shape})."
        )
    if array.size == 0:
        raise ConvolutionError(f"The {what} is empty (shape {array.shape}).")
    return array.astype(np.float64, copy=False)


# --------------------------------------------------------------------------- 1. the textbook


def convolve2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Slide ``kernel`` (kh×kw) over ``image`` (H×W); return the (H−kh+1)×(W−kw+1) result.

    No padding, stride 1, kernel not flipped (cross-correlation, as in deep learning).
    """
    image = _as_array(image, "image", (2,))
    kernel = _as_array(kernel, "kernel", (2,))
    kh, kw = kernel.shape
    oh = output_size(image.shape[0], kh)
    ow = output_size(image.shape[1], kw)
    out = np.zeros((oh, ow))
    for r in range(oh):
        for c in range(ow):
            window = image[r : r + kh, c : c + kw]  # the kh×kw patch under the kernel
            out[r, c] = np.sum(window * kernel)  # multiply cell by cell, add it all up
    return out


# --------------------------------------------------------------------------- 2. output size


def _check_size_arguments(n: int, k: int, padding: int, stride: int, dilation: int) -> None:
    for name, value, least in (("Image size", n, 1), ("Kernel size", k, 1)):
        if not _is_count(value) or value < least:
            raise ConvolutionError(f"{name} must be a whole number {least} or more, not {value!r}.")
    ConvSettings(padding=padding, stride=stride, dilation=dilation)  # validates the rest


def output_size(n: int, k: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """Number of kernel positions along one side: ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1.

    ``d·(k − 1) + 1`` is the span the dilated kernel covers; it must fit in the padded side
    ``n + 2p``. Raises ConvolutionError when it does not.
    """
    _check_size_arguments(n, k, padding, stride, dilation)
    span = dilation * (k - 1) + 1
    if span > n + 2 * padding:
        raise ConvolutionError(
            f"The kernel does not fit: it spans {span} cells "
            f"({k} taps{f' spread {dilation} apart' if dilation > 1 else ''}), but the "
            f"{'padded ' if padding else ''}image side is only {n + 2 * padding} cells. "
            "Use a smaller kernel or dilation, or add padding."
        )
    return (n + 2 * padding - span) // stride + 1


def output_size_steps(n: int, k: int, padding: int, stride: int, dilation: int) -> list[str]:
    """The output-size formula worked out with these numbers, one plain-text line per step.

    Example for n=64, k=3, p=1, s=1, d=1::

        output = ⌊(n + 2·p − d·(k − 1) − 1) / s⌋ + 1
               = ⌊(64 + 2·1 − 1·(3 − 1) − 1) / 1⌋ + 1
               = ⌊63 / 1⌋ + 1
               = 63 + 1
               = 64

    When the kernel does not fit, the last line says so instead of raising, so a page can show
    *why*; arguments that are not counts (stride 0, negative padding) still raise.
    """
    _check_size_arguments(n, k, padding, stride, dilation)
    numerator = n + 2 * padding - dilation * (k - 1) - 1
    lines = [
        "output = ⌊(n + 2·p − d·(k − 1) − 1) / s⌋ + 1",
        f"       = ⌊({n} + 2·{padding} − {dilation}·({k} − 1) − 1) / {stride}⌋ + 1",
        f"       = ⌊{numerator} / {stride}⌋ + 1",
    ]
    if numerator < 0:
        lines.append(
            f"The kernel spans {dilation * (k - 1) + 1} cells but the padded side has only "
            f"{n + 2 * padding}: it does not fit, so there is no output."
        )
        return lines
    quotient = numerator // stride
    lines.append(f"       = {quotient} + 1")
    lines.append(f"       = {quotient + 1}")
    return lines


# --------------------------------------------------------------------------- 3. the inputs


_NUMPY_PAD_MODES: dict[str, Literal["constant", "reflect", "edge"]] = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
}


def pad(image: np.ndarray, padding: int, mode: PaddingMode = "zeros") -> np.ndarray:
    """Add ``padding`` cells on all four sides of an H×W or C×H×W array (channels untouched).

    ``zeros`` adds 0s; ``reflect`` mirrors without repeating the edge (``1 2 3`` → ``3 2 1 2 3
    2 1``, PyTorch's "reflect"); ``replicate`` repeats the edge (``1 1 1 2 3 3 3``). Returns a new
    (H+2p)×(W+2p) array of the same dtype. Raises ConvolutionError when padding would make a
    plane of more than ``MAX_PADDED_CELLS`` cells (checked before anything is allocated).
    """
    ConvSettings(padding=padding, padding_mode=mode)  # validates padding and mode
    array = np.asarray(image)
    if array.ndim not in (2, 3):
        raise ConvolutionError(f"Only H×W or C×H×W arrays can be padded, not shape {array.shape}.")
    height, width = array.shape[-2:]
    if mode == "reflect" and padding >= min(height, width):
        # A mirror needs `padding` cells beyond the edge to reflect; PyTorch refuses too.
        raise ConvolutionError(
            f"Reflect padding of {padding} needs an image larger than {padding} on each side, "
            f"but this one is {height}×{width}. Use less padding or another mode."
        )
    padded_height, padded_width = height + 2 * padding, width + 2 * padding
    if padding and padded_height * padded_width > MAX_PADDED_CELLS:
        raise ConvolutionError(
            f"Padding of {padding:,} would make the {height}×{width} image "
            f"{padded_height:,}×{padded_width:,} cells; a padded image may have at most "
            f"{MAX_PADDED_CELLS:,} cells (4096×4096). Use less padding or a smaller image."
        )
    widths = [(0, 0)] * (array.ndim - 2) + [(padding, padding)] * 2
    numpy_mode = _NUMPY_PAD_MODES[mode]
    return np.pad(array, widths, mode=numpy_mode)


def effective_kernel(kernel: np.ndarray, settings: ConvSettings = ConvSettings()) -> np.ndarray:
    """The kernel as it is laid on the image: rotated 180° when ``settings.flip`` (true
    convolution), as written otherwise. kh×kw → kh×kw (or C×kh×kw → C×kh×kw), float64 copy."""
    kernel = _as_array(kernel, "kernel", (2, 3))
    return kernel[..., ::-1, ::-1].copy() if settings.flip else kernel.copy()


# --------------------------------------------------------------------------- 4. generalised loop


def conv2d_loop(
    image: np.ndarray, kernel: np.ndarray, settings: ConvSettings = ConvSettings()
) -> np.ndarray:
    """``convolve2d`` with padding, stride, dilation and flip: H×W, kh×kw → H'×W'.

    Slow (one Python step per output pixel) and kept for reading; ``conv2d`` is the fast one.
    """
    image = _as_array(image, "image", (2,))
    kernel = effective_kernel(_as_array(kernel, "kernel", (2,)), settings)
    kh, kw = kernel.shape
    s, d = settings.stride, settings.dilation
    oh = output_size(image.shape[0], kh, settings.padding, s, d)
    ow = output_size(image.shape[1], kw, settings.padding, s, d)
    padded = pad(image, settings.padding, settings.padding_mode)
    out = np.zeros((oh, ow))
    for r in range(oh):
        for c in range(ow):
            # The window's top-left cell is (r·s, c·s); it takes every d-th cell from there.
            window = padded[
                r * s : r * s + d * (kh - 1) + 1 : d, c * s : c * s + d * (kw - 1) + 1 : d
            ]
            out[r, c] = np.sum(window * kernel)
    return out


# --------------------------------------------------------------------------- 5. fast path

# Output cells computed per block (256 KB of float64). Working block by block keeps the
# accumulator and its temporary in the CPU cache; one pass over a whole 1024×1024 image per
# weight is up to ~1.8× slower for 5×5 and 7×7 kernels (see bench/bench_convolution.py).
_BLOCK_CELLS = 2**15


def _accumulate(
    padded: np.ndarray,
    kernel: np.ndarray,
    stride: int,
    dilation: int,
    out_shape: tuple[int, int],
    sum_channels: bool,
) -> np.ndarray:
    """Weighted sum of shifted views: padded C×Hp×Wp, kernel C×kh×kw → oh×ow (sum_channels)
    or C×oh×ow.

    Instead of visiting each output pixel and summing kh·kw products, visit each kernel weight
    w[i, j] and add ``w[i, j] × (the image shifted by i, j)`` to the whole output at once: the
    same multiplications and additions, in the same order for every pixel, as
    ``window_trace`` (so a trace rebuilds this result bit for bit).
    """
    channels, kh, kw = kernel.shape
    oh, ow = out_shape
    out = np.zeros((oh, ow) if sum_channels else (channels, oh, ow))
    cells_per_row = ow if sum_channels else channels * ow
    rows_per_block = max(1, _BLOCK_CELLS // cells_per_row)
    term_buffer = np.empty(out[..., :rows_per_block, :].shape)
    for top in range(0, oh, rows_per_block):
        n = min(rows_per_block, oh - top)
        acc, term = out[..., top : top + n, :], term_buffer[..., :n, :]
        for i in range(kh):
            # Output rows top … top+n−1 read padded rows (top + t)·s + i·d, t = 0 … n−1.
            first_row = top * stride + i * dilation
            rows = slice(first_row, first_row + stride * (n - 1) + 1, stride)
            for j in range(kw):
                cols = slice(j * dilation, j * dilation + stride * (ow - 1) + 1, stride)
                if sum_channels:
                    for c in range(channels):
                        np.multiply(padded[c, rows, cols], kernel[c, i, j], out=term)
                        acc += term
                else:
                    # kernel[:, i, j] as C×1×1: one weight per channel, broadcast over its slice.
                    np.multiply(padded[:, rows, cols], kernel[:, i, j, None, None], out=term)
                    acc += term
    return out


def conv2d(
    image: np.ndarray,
    kernel: np.ndarray,
    settings: ConvSettings = ConvSettings(),
    channels: ChannelMode = "sum",
) -> np.ndarray:
    """The fast, vectorised convolution; float64 in, float64 out (any numeric input is converted).

    Shapes (H', W' from ``output_size``):

    - image H×W, kernel kh×kw → H'×W'.
    - image C×H×W, ``channels="sum"`` (like ``torch.nn.Conv2d(C, 1)``): kernel C×kh×kw, or a
      kh×kw kernel used for every channel → H'×W', the channels' results added up.
    - image C×H×W, ``channels="per_channel"`` (like a depthwise conv, ``groups=C``): a kh×kw
      kernel applied to every channel, or a C×kh×kw kernel, one per channel → C×H'×W'.

    Each channel of ``per_channel`` equals ``conv2d(image[c], kernel[c])`` exactly.
    """
    if channels not in get_args(ChannelMode):
        raise ConvolutionError(f'Channels must be "sum" or "per_channel", not {channels!r}.')
    image = _as_array(image, "image", (2, 3))
    kernel = effective_kernel(kernel, settings)
    two_d = image.ndim == 2
    if two_d and kernel.ndim == 3:
        raise ConvolutionError(
            f"A one-channel H×W image needs a kh×kw kernel, not one with {kernel.shape[0]} "
            f"channels (shape {kernel.shape})."
        )
    image3 = image[None] if two_d else image  # 1×H×W: one code path for both
    n_channels = image3.shape[0]
    if kernel.ndim == 2:
        kernel = np.broadcast_to(kernel, (n_channels, *kernel.shape))
    elif kernel.shape[0] != n_channels:
        raise ConvolutionError(
            f"The image has {n_channels} channels but the kernel has {kernel.shape[0]}; "
            "they must match (or use a kh×kw kernel for every channel)."
        )
    kh, kw = kernel.shape[-2:]
    s, d, p = settings.stride, settings.dilation, settings.padding
    out_shape = (
        output_size(image3.shape[1], kh, p, s, d),
        output_size(image3.shape[2], kw, p, s, d),
    )
    padded = pad(image3, p, settings.padding_mode)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported just below
        out = _accumulate(padded, kernel, s, d, out_shape, sum_channels=two_d or channels == "sum")
    return _refuse_overflow(out, image, kernel)


def _refuse_overflow(result: np.ndarray, image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``result`` as it is, unless finite inputs gave sums beyond float64 (inf, or NaN from
    inf − inf): then a ConvolutionError that says so, instead of a picture of NaN. (NaN in
    the inputs still gives NaN: that is what was asked for.)"""
    if np.isfinite(result).all() or not (np.isfinite(image).all() and np.isfinite(kernel).all()):
        return result
    raise ConvolutionError(
        "The values overflowed: some sums are beyond the largest number a computer stores "
        f"(about 1.8e308). Keep image values and kernel weights between -{MAX_ABS_VALUE:,.0f} "
        f"and {MAX_ABS_VALUE:,.0f}, as typed numbers are."
    )


# --------------------------------------------------------------------------- 6. window trace


@dataclass(frozen=True, eq=False)
class WindowTrace:
    """Every window of a 2-D convolution, in output order (row-major), computed once.

    N = oh·ow windows. Window n produces output pixel (n // ow, n % ow). All arrays are
    read-only, so a cached trace cannot be changed by accident.
    """

    padded: np.ndarray  # Hp×Wp the padded input the window slides over (float64)
    kernel: np.ndarray  # kh×kw as applied (already rotated when settings.flip)
    settings: ConvSettings
    rows: np.ndarray  # N×kh×kw row in `padded` of each covered cell (dilation spreads them)
    cols: np.ndarray  # N×kh×kw column in `padded` of each covered cell
    patches: np.ndarray  # N×kh×kw the values under the window: padded[rows, cols]
    products: np.ndarray  # N×kh×kw patches × kernel
    sums: np.ndarray  # N products added up = the output value
    out_shape: tuple[int, int]  # (oh, ow)

    @property
    def n_windows(self) -> int:
        """N, the number of windows (= output pixels)."""
        return len(self.sums)

    def output(self) -> np.ndarray:
        """The oh×ow output rebuilt from the windows' sums; equal to ``conv2d``'s bit for bit."""
        return self.sums.reshape(self.out_shape).copy()

    def window(self, i: int) -> dict:
        """Window ``i``'s record for display.

        Keys: out_row, out_col (ints); rows, cols (kh×kw ints into ``padded``); patch,
        products (kh×kw floats); sum (float).
        """
        if not _is_count(i) or not 0 <= i < self.n_windows:
            raise ConvolutionError(
                f"Window number must be between 0 and {self.n_windows - 1}, not {i!r}."
            )
        out_row, out_col = divmod(int(i), self.out_shape[1])
        return {
            "out_row": out_row,
            "out_col": out_col,
            "rows": self.rows[i].copy(),
            "cols": self.cols[i].copy(),
            "patch": self.patches[i].copy(),
            "products": self.products[i].copy(),
            "sum": float(self.sums[i]),
        }


def window_trace(
    image: np.ndarray, kernel: np.ndarray, settings: ConvSettings = ConvSettings()
) -> WindowTrace:
    """Record every window of the convolution of an H×W image with a kh×kw kernel.

    Vectorised: the covered cells of all N windows are computed as index arrays at once, then
    gathered with one fancy-indexing step. Raises ConvolutionError past ``MAX_TRACE_CELLS``.
    """
    image = _as_array(image, "image", (2,))
    kernel = effective_kernel(_as_array(kernel, "kernel", (2,)), settings)
    kh, kw = kernel.shape
    s, d, p = settings.stride, settings.dilation, settings.padding
    oh = output_size(image.shape[0], kh, p, s, d)
    ow = output_size(image.shape[1], kw, p, s, d)
    n_windows = oh * ow
    if n_windows * kh * kw > MAX_TRACE_CELLS:
        raise ConvolutionError(
            f"Tracing {n_windows} windows of {kh}×{kw} cells is too much to animate; "
            "use a smaller image or a larger stride."
        )
    padded = pad(image, p, settings.padding_mode)
    # Window n's top-left cell is (out_row·s, out_col·s); tap (i, j) sits i·d, j·d further.
    out_row, out_col = np.divmod(np.arange(n_windows), ow)  # N each
    rows = out_row[:, None, None] * s + np.arange(kh)[None, :, None] * d  # N×kh×1
    cols = out_col[:, None, None] * s + np.arange(kw)[None, None, :] * d  # N×1×kw
    rows, cols = np.broadcast_arrays(rows, cols)  # N×kh×kw each
    rows, cols = rows.copy(), cols.copy()  # broadcast views share memory; own it instead
    patches = padded[rows, cols]  # N×kh×kw
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported just below
        products = patches * kernel  # N×kh×kw
        # Added one weight at a time in row-major order, exactly as conv2d does; np.sum would
        # add in a different order and could differ in the last bit.
        sums = np.zeros(n_windows)
        for i in range(kh):
            for j in range(kw):
                sums += products[:, i, j]
    _refuse_overflow(sums, padded, kernel)
    for array in (padded, kernel, rows, cols, patches, products, sums):
        array.setflags(write=False)
    return WindowTrace(
        padded=padded,
        kernel=kernel,
        settings=settings,
        rows=rows,
        cols=cols,
        patches=patches,
        products=products,
        sums=sums,
        out_shape=(oh, ow),
    )
