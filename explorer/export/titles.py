"""What a slide says it shows: its title, written from the set-up that made the picture.

A slide leaves the app: on a projector, in a handout, weeks later. Its title must be enough to
read the picture right — a true convolution's slide that did not say the kernel was flipped
would look wrong beside a PyTorch result, and a montage that did not name its image and weights
could be any network's. Titles are plain text; a line break separates the title (drawn large)
from its second line (drawn smaller), as ``slides._compose`` draws them.
"""

from __future__ import annotations

from explorer.convolution import ConvSettings

OPERATION_WORDS = {
    False: "cross-correlation (kernel not flipped, as PyTorch)",
    True: "true convolution (kernel flipped 180°)",
}
PADDING_MODE_WORDS = {
    "zeros": "filled with zeros",
    "reflect": "reflect (mirror)",
    "replicate": "replicate (repeat the edge)",
}


def convolution_title(kernel: str, kernel_shape: tuple[int, int], settings: ConvSettings) -> str:
    """A convolution result's title: the operation and the kernel (``kernel`` its name, the
    shape rows × columns, written columns×rows as the page writes sizes), then how it slid:
    padding with its mode, stride and dilation."""
    rows, cols = kernel_shape
    operation = OPERATION_WORDS[bool(settings.flip)]
    if settings.padding:
        padding = f"padding {settings.padding}, {PADDING_MODE_WORDS[settings.padding_mode]}"
    else:
        padding = "padding 0 (none)"
    return (
        f"{kernel} {cols}×{rows}, {operation}\n"
        f"{padding} · stride {settings.stride} · dilation {settings.dilation}"
    )


def image_words(description: str, true_label: str | None = None) -> str:
    """The network's input as a title names it: its true class first when it is known."""
    return f"{true_label} ({description})" if true_label else description


def montage_title(stage_title: str, image: str = "", weights: str = "") -> str:
    """A stage's montage's title: the stage, then the image it was computed from and the
    weights that computed it (each left out when not given)."""
    about = " · ".join(
        part for part in (image and f"image: {image}", weights and f"weights: {weights}") if part
    )
    return f"{stage_title}\n{about}" if about else stage_title
