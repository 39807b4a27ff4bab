"""The code: the playground's result recomputed in a short NumPy + PyTorch script.

``playground_code`` writes the script (the textbook double loop and ``F.conv2d`` side by side,
checked to agree); ``code_input_png`` is the picture file it reads, when it does not write the
input's numbers inline. Everything that comes from the user is a number or a comment.
"""

from __future__ import annotations

import textwrap

import numpy as np

from explorer import render
from explorer.kernels import KERNELS
from explorer.playground import ConvPicture
from explorer.playground_state import CUSTOM, PlaygroundState, result_planes
from explorer.samples import SAMPLES
from explorer.share import format_weight

INPUT_FILE_NAME = "convolution_input.png"
CODE_FILE_NAME = "convolution.py"
INLINE_MAX_SIDE = 16  # gray pictures up to this size have their numbers written in the code
_NUMPY_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}


def _comment(text: str, limit: int = 80) -> str:
    """Text for a ``#`` comment: printable characters only, on one line (a line break inside
    a comment would turn the rest of it into code)."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _comment_lines(text: str) -> list[str]:
    """``text`` as ``#`` comment lines of at most 96 characters."""
    return ["# " + line for line in textwrap.wrap(_comment(text, 1000), 94)]


def _python_string(text: str) -> str:
    """``text`` as a Python string literal (double quotes where it has no quotes itself);
    whatever it holds, it stays one string: ``repr`` escapes line breaks and quotes."""
    literal = repr(str(text))
    if "'" in text or '"' in text:
        return literal
    return '"' + literal[1:-1] + '"'


def _writes_numbers(state: PlaygroundState, picture: ConvPicture) -> bool:
    """Whether the code writes the input's numbers inline (typed numbers, small gray
    pictures, and anything a PNG cannot hold exactly) instead of reading a picture file."""
    full = picture.full
    whole_bytes = bool(np.all(full == np.rint(full)) and full.min() >= 0 and full.max() <= 255)
    small_gray = not picture.is_colour and max(full.shape) <= INLINE_MAX_SIDE
    return state.source == "numbers" or small_gray or not whole_bytes


def code_input_png(state: PlaygroundState, picture: ConvPicture) -> bytes | None:
    """The picture file :func:`playground_code` reads, as PNG bytes: the input exactly as the
    app read it (an RGB PNG for a colour picture, a grayscale one otherwise; after any
    shrinking to 1024 px a side). None when the code writes the numbers inline instead."""
    if _writes_numbers(state, picture):
        return None
    if picture.is_colour:
        return render.png_bytes(np.moveaxis(picture.channels, 0, 2).astype(np.uint8))
    return render.png_bytes(picture.full.astype(np.uint8))


def _matrix_lines(name: str, values: np.ndarray) -> list[str]:
    """``name = np.array([...], dtype=np.float64)`` with one row a line, columns aligned;
    each number as a person types it (``1/9``) and exactly the float64 it was."""
    cells = [[format_weight(v) for v in row] for row in np.asarray(values, dtype=np.float64)]
    width = max(len(cell) for row in cells for cell in row)
    rows = ["    [" + ", ".join(cell.rjust(width) for cell in row) + "]," for row in cells]
    return [f"{name} = np.array([", *rows, "], dtype=np.float64)"]


def _input_lines(
    state: PlaygroundState, picture: ConvPicture, mode: str, image_file: str
) -> list[str]:
    """The lines that make ``image``: H×W (mode "plane") or 3×H×W ("sum", "per_channel")."""
    if state.source == "numbers":
        what = "the numbers you typed"
    elif state.source == "sample" and state.sample in SAMPLES:
        what = f'the sample "{_comment(SAMPLES[state.sample].name)}"'
    else:
        what = {"draw": "your drawing", "upload": "your picture"}.get(state.source, "the picture")
    height, width = picture.full.shape
    if _writes_numbers(state, picture):
        return [f"# The input: {what} ({height}×{width}).", *_matrix_lines("image", picture.full)]
    shrunk = ", shrunk to 1024 px a side" if picture.capped else ""
    lines = _comment_lines(
        f"The input: {what}, {width}×{height} px. Save it with the download button beside this "
        f"code as {_comment(image_file)}, next to this file: the picture exactly as the app "
        f"read it{shrunk}."
    )
    path = _python_string(image_file)
    if not picture.is_colour:
        return [
            *lines,
            f'image = np.asarray(Image.open({path}).convert("L"), dtype=np.float64)  # H×W',
        ]
    lines.append(f'rgb = np.asarray(Image.open({path}).convert("RGB"), dtype=np.float64)  # H×W×3')
    if mode != "plane":
        return [*lines, "image = rgb.transpose(2, 0, 1)  # 3×H×W: the red, green and blue planes"]
    if state.colour in ("r", "g", "b"):
        name = {"r": "red", "g": "green", "b": "blue"}[state.colour]
        index = "rgb".index(state.colour)
        return [*lines, f"image = rgb[:, :, {index}]  # the {name} plane, H×W"]
    return [
        *lines,
        "# Gray as the app makes it: ITU-R BT.601 luma, rounded to whole numbers.",
        "image = np.rint(rgb @ np.array([0.299, 0.587, 0.114]))  # H×W",
    ]


def playground_code(
    state: PlaygroundState, picture: ConvPicture, image_file: str = INPUT_FILE_NAME
) -> str:
    """A short Python script (NumPy + PyTorch) that recomputes the playground's result, the
    numbers of its section 5, exactly: from the full input ``picture`` (the playground's
    ``prepare_picture(...)`` of the current source), with ``state``'s kernel, padding, stride,
    dilation, flip and, for a colour picture, its plane or ``result_mode``.

    The input's numbers are written inline for typed numbers and small gray pictures; other
    pictures are read from ``image_file`` (save :func:`code_input_png` there), converted as
    the app converts them. The script computes the result twice, with ``F.conv2d`` and with
    the textbook double loop, prints how far apart they are, asserts that they agree and
    prints the result; its variables ``result`` (the loop's) and ``torch_result`` hold the
    two. Everything that comes from the user is a number or a comment; nothing is evaluated.
    Raises ``KernelError`` when the custom kernel does not parse.
    """
    kernel = state.kernel()
    s = state.settings
    image, channels = result_planes(picture, state.result_mode)
    mode = "plane" if image.ndim == 2 else channels
    if state.preset == CUSTOM:
        origin = f" ({_comment(state.kernel_origin)})" if state.kernel_origin else ""
        kernel_name = f"your own{origin}"
    else:
        kernel_name = _comment(KERNELS[state.preset].name)
    padding = s.padding
    pad_mode = s.padding_mode if padding else "zeros"
    operation = (
        "a true convolution (the kernel rotated 180° first)"
        if s.flip
        else "cross-correlation, as in PyTorch (the kernel not flipped)"
    )
    reads_file = not _writes_numbers(state, picture)
    kh, kw = kernel.shape
    padding_text = f"padding {padding} ({pad_mode})" if padding else "no padding"
    lines = [
        "# CNN Explorer, convolution playground: this set-up in NumPy and PyTorch.",
        *_comment_lines(
            f"Kernel: {kernel_name} ({kh}×{kw}); {padding_text}, stride {s.stride}, "
            f"dilation {s.dilation}; {operation}."
        ),
        f"# Needs: pip install numpy torch{' pillow' if reads_file else ''}",
        "import numpy as np",
        "import torch",
        "import torch.nn.functional as F",
    ]
    if reads_file:
        lines.append("from PIL import Image")
    lines += ["", *_input_lines(state, picture, mode, image_file), ""]
    lines += _matrix_lines("kernel", kernel)
    lines.append(f"padding, stride, dilation = {padding}, {s.stride}, {s.dilation}")

    # PyTorch
    lines += ["", "# 1. PyTorch: tensors are batch × channels × height × width."]
    if mode == "plane":
        lines += [
            "x = torch.tensor(image)[None, None]  # 1×1×H×W",
            "weight = torch.tensor(kernel)[None, None]  # 1×1×kh×kw",
        ]
    elif mode == "sum":
        lines += [
            "x = torch.tensor(image)[None]  # 1×3×H×W",
            "weight = torch.tensor(kernel).repeat(1, 3, 1, 1)  # 1×3×kh×kw: "
            "the kernel on each plane, summed",
        ]
    else:
        lines += [
            "x = torch.tensor(image)[None]  # 1×3×H×W",
            "weight = torch.tensor(kernel).repeat(3, 1, 1, 1)  # 3×1×kh×kw: "
            "one copy per plane (groups=3)",
        ]
    if s.flip:
        lines.append("weight = torch.flip(weight, dims=(2, 3))  # true convolution: rotate 180°")
    conv_args = "stride=stride, dilation=dilation"
    if pad_mode == "zeros":
        conv_args = "stride=stride, padding=padding, dilation=dilation"
    else:
        lines.append(f'x = F.pad(x, (padding, padding, padding, padding), mode="{pad_mode}")')
    if mode == "per_channel":
        conv_args += ", groups=3"
    lines.append(f"out = F.conv2d(x, weight, {conv_args})")
    if mode == "per_channel":
        lines.append("torch_result = out[0].numpy()  # 3×H'×W': the batch's only picture")
    else:
        lines.append("torch_result = out[0, 0].numpy()  # H'×W': its only picture and channel")

    # The loop
    numpy_mode = _NUMPY_PAD_MODES[pad_mode]
    widths = "padding" if mode == "plane" else "((0, 0), (padding, padding), (padding, padding))"
    mode_arg = "" if numpy_mode == "constant" else f', mode="{numpy_mode}"'
    k = "kernel"
    lines += ["", "# 2. The same by hand: slide the window, multiply, add up."]
    if s.flip:
        lines.append("flipped = np.flip(kernel)  # rotated 180°, as for PyTorch above")
        k = "flipped"
    lines += [
        f"padded = np.pad(image, {widths}{mode_arg})",
        f"span_h = dilation * ({k}.shape[0] - 1) + 1  # rows the window covers",
        f"span_w = dilation * ({k}.shape[1] - 1) + 1  # columns",
        "out_h = (padded.shape[-2] - span_h) // stride + 1",
        "out_w = (padded.shape[-1] - span_w) // stride + 1",
        "result = np.zeros((3, out_h, out_w))"
        if mode == "per_channel"
        else "result = np.zeros((out_h, out_w))",
    ]
    if picture.full.size > 250_000:
        lines.append(
            "# The loop visits every output cell: on a picture this large, that takes a while."
        )
    planes = "" if mode == "plane" else ":, "
    lines += [
        "for r in range(out_h):",
        "    for c in range(out_w):",
        "        top, left = r * stride, c * stride",
        f"        window = padded[{planes}top : top + span_h : dilation, "
        "left : left + span_w : dilation]",
    ]
    if mode == "per_channel":
        lines.append(
            f"        result[:, r, c] = np.sum(window * {k}, axis=(1, 2))  # one per plane"
        )
    elif mode == "sum":
        lines.append(f"        result[r, c] = np.sum(window * {k})  # all three planes added up")
    else:
        lines.append(f"        result[r, c] = np.sum(window * {k})")
    lines += [
        "",
        "difference = np.abs(result - torch_result).max()",
        'print(f"The loop and PyTorch differ by at most {difference:.1e}.")',
        "assert difference <= 1e-9 * max(1.0, np.abs(result).max())",
        "np.set_printoptions(precision=4, suppress=True, linewidth=120)",
        'print(f"The result, {result.shape}:")',
        "print(result)",
    ]
    return "\n".join(lines) + "\n"
