"""Exports: every download's bytes read back. A slide's cells hold exactly the page's colours,
an animation's frames show the right window and the right outputs, and the generated code,
run as a script, recomputes exactly what ``conv2d`` gives for the same set-up."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import tokenize
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer import render
from explorer.convolution import ConvolutionError, ConvSettings, WindowTrace, conv2d, window_trace
from explorer.export.animation import (
    EMPTY,
    MAX_FRAME_PIXELS,
    MAX_FRAMES,
    MAX_GIF_PIXELS,
    OUTLINE,
    AnimationLayout,
    animation_frames,
    animation_gif,
    animation_layout,
    frame_windows,
)
from explorer.export.code import CODE_FILE_NAME, INPUT_FILE_NAME, code_input_png, playground_code
from explorer.export.slides import (
    SLIDE_MARGIN,
    montage_png,
    montage_slide,
    result_slide,
    result_slide_png,
)
from explorer.export.text import MAX_TITLE_CHARS, drawable_text
from explorer.export.titles import convolution_title, image_words, montage_title
from explorer.numbers import parse_matrix
from explorer.player import format_value
from explorer.playground import ConvPicture, prepare_picture
from explorer.playground_state import PlaygroundState, result_planes
from explorer.samples import load_sample, sample_matrix


def decode(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def centres(
    pixels: np.ndarray, origin: tuple[int, int], cell: int, shape: tuple[int, ...]
) -> np.ndarray:
    """The pixel at the centre of every cell of an H×W grid drawn at ``origin``."""
    x0, y0 = origin
    rows = y0 + np.arange(shape[0]) * cell + cell // 2
    cols = x0 + np.arange(shape[1]) * cell + cell // 2
    return pixels[np.ix_(rows, cols)]


# ============================================================================================
# Slides


def test_slide_cells_have_exactly_the_pages_colours() -> None:
    result = np.random.default_rng(0).normal(size=(40, 30)) * 100
    slide = result_slide(result, title="Sobel x")
    pixels = decode(result_slide_png(result, title="Sobel x"))
    np.testing.assert_array_equal(pixels, slide.pixels)  # the PNG is the slide, losslessly
    colours = render.colourise(result, "diverging")
    np.testing.assert_array_equal(
        centres(pixels, slide.picture_origin, slide.cell_px, result.shape), colours
    )
    x0, y0 = slide.picture_origin
    block = pixels[y0 : y0 + 40 * slide.cell_px, x0 : x0 + 30 * slide.cell_px]
    np.testing.assert_array_equal(block, render.enlarge(colours, slide.cell_px))  # crisp cells


@pytest.mark.parametrize("cmap", ["gray", "viridis"])
def test_slide_uses_the_colour_map_asked_for(cmap: render.ColourMap) -> None:
    result = np.arange(20.0).reshape(4, 5) - 3
    slide = result_slide(result, cmap, numbers=False)
    np.testing.assert_array_equal(
        centres(slide.pixels, slide.picture_origin, slide.cell_px, result.shape),
        render.colourise(result, cmap),
    )


@pytest.mark.parametrize(
    ("shape", "factor"),
    [
        ((5, 5), 160),
        ((3, 7), 115),
        ((62, 62), 13),
        ((33, 100), 8),
        ((400, 300), 2),
        ((800, 10), 1),
        ((1030, 1030), 1),
    ],
)
def test_slide_enlarges_by_a_whole_factor_to_800_px(shape: tuple[int, int], factor: int) -> None:
    slide = result_slide(np.zeros(shape), numbers=False)
    assert slide.cell_px == factor
    longest = max(shape)
    assert longest * factor >= 800 or factor == 1  # at least 800 px …
    assert (factor - 1) * longest < 800  # … with the smallest whole factor that does it
    height, width = slide.pixels.shape[:2]
    assert width >= shape[1] * factor and height >= shape[0] * factor


def test_colour_bar_shows_its_range_and_zero() -> None:
    result = np.array([[-3.0, 0.5], [1.25, 2.0]])
    slide = result_slide(result, numbers=False)
    x0, y0, x1, y1 = slide.bar_box
    row = slide.pixels[(y0 + y1) // 2, x0:x1]
    lo_colour, hi_colour = render.colourise(np.array([[-3.0, 3.0]]))[0]
    np.testing.assert_array_equal(row[0], lo_colour)  # symmetric about 0: −3 … 3
    np.testing.assert_array_equal(row[-1], hi_colour)
    assert [text for text, _ in slide.bar_labels] == ["-3", "0", "3"]
    positions = [x for _, x in slide.bar_labels]
    assert positions[0] == x0 and positions[2] == x1 - 1
    assert abs(positions[1] - (x0 + x1 - 1) / 2) <= 0.5  # where the ramp crosses 0
    for _, x in slide.bar_labels:  # each number is drawn under its place on the bar
        under = slide.pixels[y1 + 4 : y1 + 34, max(0, x - 30) : x + 30]
        assert (under.max(axis=2) < 100).any()


def test_gray_bar_has_no_zero_and_reads_the_data_range() -> None:
    slide = result_slide(np.array([[10.0, 20.5]]), "gray", numbers=False)
    assert [text for text, _ in slide.bar_labels] == ["10", "20.5"]


def test_small_results_have_their_numbers_in_their_cells() -> None:
    result = np.array([[-1.5, 2.0], [0.0, 1 / 3]])
    plain = result_slide(result, numbers=False)
    written = result_slide(result)  # 2×2: numbers by default, as on the page
    assert written.cell_px == plain.cell_px
    colours = render.colourise(result)
    x0, y0 = written.picture_origin
    c = written.cell_px
    for r in range(2):
        for k in range(2):
            cell = written.pixels[y0 + r * c : y0 + (r + 1) * c, x0 + k * c : x0 + (k + 1) * c]
            np.testing.assert_array_equal(cell[2, 2], colours[r, k])  # corners keep the colour
            assert (cell != colours[r, k]).any(axis=2).sum() > 50  # something is written
    assert (plain.pixels != written.pixels).any()


def test_per_channel_result_is_the_pages_colour_picture() -> None:
    result = np.random.default_rng(1).uniform(-50, 300, size=(3, 20, 25))
    slide = result_slide(result)
    assert slide.bar_box is None
    np.testing.assert_array_equal(
        centres(decode(slide.png()), slide.picture_origin, slide.cell_px, (20, 25)),
        render.channels_picture(result),
    )


def test_title_lines_are_drawable_text() -> None:
    assert drawable_text("Sobel −1 × 3\nimport os") == "Sobel -1 x 3 import os"
    assert drawable_text("blur\u202e\x00") == "blur??"
    assert len(drawable_text("x" * 500)) == MAX_TITLE_CHARS
    result = np.ones((10, 10))
    untitled = result_slide(result)
    one = result_slide(result, title="Sobel x on the cat")
    titled = result_slide(result, title="Sobel x on the cat\n(64×64)\n\n")
    assert titled.titles == ("Sobel x on the cat", "(64x64)") and untitled.titles == ()
    assert untitled.picture_origin[1] < one.picture_origin[1] < titled.picture_origin[1]
    assert titled.pixels.shape[0] > one.pixels.shape[0] > untitled.pixels.shape[0]
    for slide in (one, titled):
        band = slide.pixels[SLIDE_MARGIN : slide.picture_origin[1]]
        assert (band.max(axis=2) < 100).any()  # the title is there
    # The second line is drawn below the first, where the one-line slide has no ink.
    second = titled.pixels[one.picture_origin[1] - 8 : titled.picture_origin[1] - 8]
    assert (second.max(axis=2) < 160).any()


# ------------------------------------------------------------------ what a slide says it shows


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            ConvSettings(),
            "Sobel x 3×3, cross-correlation (kernel not flipped, as PyTorch)\n"
            "padding 0 (none) · stride 1 · dilation 1",
        ),
        (
            ConvSettings(padding=1, flip=True),
            "Sobel x 3×3, true convolution (kernel flipped 180°)\n"
            "padding 1, filled with zeros · stride 1 · dilation 1",
        ),
        (
            ConvSettings(padding=2, padding_mode="reflect", stride=2, dilation=3),
            "Sobel x 3×3, cross-correlation (kernel not flipped, as PyTorch)\n"
            "padding 2, reflect (mirror) · stride 2 · dilation 3",
        ),
        (
            ConvSettings(padding=3, padding_mode="replicate", flip=True),
            "Sobel x 3×3, true convolution (kernel flipped 180°)\n"
            "padding 3, replicate (repeat the edge) · stride 1 · dilation 1",
        ),
    ],
)
def test_a_convolution_slide_names_the_operation_kernel_padding_stride_dilation(
    settings: ConvSettings, expected: str
) -> None:
    title = convolution_title("Sobel x", (3, 3), settings)
    assert title == expected
    drawn = result_slide(np.ones((4, 4)), title=title).titles
    assert drawn == tuple(drawable_text(line) for line in expected.split("\n"))


def test_a_kernel_is_named_columns_by_rows() -> None:
    assert convolution_title("Custom kernel", (2, 5), ConvSettings()).startswith(
        "Custom kernel 5×2, "
    )


def test_a_montage_names_the_stage_the_image_and_the_weights() -> None:
    image = image_words("CIFAR-10 test_batch #3, exact pixels", "airplane")
    assert image == "airplane (CIFAR-10 test_batch #3, exact pixels)"
    assert image_words("your drawing") == "your drawing"
    title = montage_title("pool2 — max-pool 2×2 → 8×8", image, "Trained on CIFAR-10")
    assert title == (
        "pool2 — max-pool 2×2 → 8×8\n"
        "image: airplane (CIFAR-10 test_batch #3, exact pixels) · weights: Trained on CIFAR-10"
    )
    slide = montage_slide(np.ones((4, 2, 2)), "nonnegative", "layer", title)
    assert slide.titles == (
        "pool2 - max-pool 2x2 -> 8x8",
        "image: airplane (CIFAR-10 test_batch #3, exact pixels) · weights: Trained on CIFAR-10",
    )
    assert montage_title("conv1") == "conv1"
    assert montage_title("conv1", weights="w") == "conv1\nweights: w"


def test_the_playgrounds_slide_says_true_convolution_and_the_padding_mode(monkeypatch) -> None:
    """The page's own slide, from a link with a flipped kernel, reflect padding and stride 2:
    its title is drawn exactly as the title that names all of them."""
    from dataclasses import replace

    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.testing.v1 import AppTest

    deferred: dict[str, object] = {}
    add_deferred = MediaFileManager.add_deferred

    def remember(self, fn, *args, **kwargs):
        file_id = add_deferred(self, fn, *args, **kwargs)
        deferred[file_id] = fn
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", remember)
    state = replace(PlaygroundState(), flip=True, padding=2, padding_mode="reflect", stride=2)
    at = AppTest.from_file("../pages/convolution.py", default_timeout=120)
    for name, value in state.to_query().items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    button = next(
        b.proto for b in at.get("download_button") if b.proto.label == "Result for a slide (PNG)"
    )
    pixels = decode(deferred[button.deferred_file_id]())  # type: ignore[operator]
    expected = (
        "Sobel x 3×3, true convolution (kernel flipped 180°)\n"
        "padding 2, reflect (mirror) · stride 2 · dilation 1"
    )
    assert state.preset == "sobel_x"
    # The 64×64 shapes, padded by 2, every 2nd window: 33×33 results (their values aside).
    reference = result_slide(np.zeros((33, 33)), title=expected)
    band = slice(0, reference.picture_origin[1])
    assert pixels.shape[1] == reference.pixels.shape[1]
    np.testing.assert_array_equal(pixels[band], reference.pixels[band])


def test_slides_are_deterministic_and_leave_the_result_alone() -> None:
    result = np.random.default_rng(2).normal(size=(7, 9))
    before = result.copy()
    assert result_slide_png(result, title="t") == result_slide_png(result, title="t")
    np.testing.assert_array_equal(result, before)


def test_montage_png_holds_the_stage_montage_exactly() -> None:
    from explorer.stage_pictures import stage_limits, stage_montage

    maps = np.random.default_rng(3).normal(size=(16, 8, 8))
    png = montage_png(maps, "signed", "layer", title="conv2", tile_px=64)
    slide = montage_slide(maps, "signed", "layer", title="conv2", tile_px=64)
    pixels = decode(png)
    np.testing.assert_array_equal(pixels, slide.pixels)
    picture = stage_montage(maps, "signed", "layer", tile_px=64)
    x0, y0 = slide.picture_origin
    np.testing.assert_array_equal(
        pixels[y0 : y0 + picture.shape[0], x0 : x0 + picture.shape[1]], picture
    )
    lo, hi = stage_limits(maps, "signed")
    assert [t for t, _ in slide.bar_labels] == [format_value(lo), "0", format_value(hi)]
    per_map = montage_slide(np.abs(maps), "nonneg", "map")
    assert [t for t, _ in per_map.bar_labels] == ["0", "m"]


# ============================================================================================
# The animation


def expected_window_box(trace: WindowTrace, layout: AnimationLayout, window: int):
    """Where window ``window`` lies on the input panel, from the settings alone: its top-left
    cell is (out_row·stride, out_col·stride) and it spans dilation·(k − 1) + 1 cells."""
    s, (kh, kw) = trace.settings, trace.kernel.shape
    out_row, out_col = divmod(window, trace.out_shape[1])
    top, left = out_row * s.stride, out_col * s.stride
    (x, y), c = layout.input_origin, layout.cell_px
    return (
        x + left * c,
        y + top * c,
        x + (left + s.dilation * (kw - 1) + 1) * c,
        y + (top + s.dilation * (kh - 1) + 1) * c,
    )


def outline_box(frame: np.ndarray, region: tuple[int, int, int, int]) -> tuple[int, ...]:
    """The bounding box (x0, y0, x1, y1), exclusive, of the outline colour inside ``region``."""
    x0, y0, x1, y1 = region
    ys, xs = np.nonzero((frame[y0:y1, x0:x1] == OUTLINE).all(axis=2))
    return (x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1)


def grown(box: tuple[int, int, int, int], by: int) -> tuple[int, int, int, int]:
    return box[0] - by, box[1] - by, box[2] + by, box[3] + by


def check_frame(
    frame: np.ndarray,
    trace: WindowTrace,
    layout: AnimationLayout,
    k: int,
    colour_tolerance: int,
) -> None:
    """Frame k: window k's outline exactly around its cells, its output cell outlined, the
    outputs up to it in their colours, the rest not yet computed."""
    window = layout.windows[k]
    c, w = layout.cell_px, layout.outline_px
    hp, wp = trace.padded.shape
    oh, ow = trace.out_shape
    (ix, iy), (ox, oy) = layout.input_origin, layout.output_origin
    input_region = (ix - w, iy - w, ix + wp * c + w, iy + hp * c + w)
    assert outline_box(frame, input_region) == grown(expected_window_box(trace, layout, window), w)
    out_row, out_col = divmod(window, ow)
    cell_box = (ox + out_col * c, oy + out_row * c, ox + (out_col + 1) * c, oy + (out_row + 1) * c)
    output_region = (ox - w, oy - w, ox + ow * c + w, oy + oh * c + w)
    assert outline_box(frame, output_region) == grown(cell_box, w)
    # Each output cell read just inside its corner (outlines and numbers stay clear of it).
    samples = frame[np.ix_(oy + np.arange(oh) * c + w, ox + np.arange(ow) * c + w)].astype(int)
    done = (np.arange(oh * ow) <= window).reshape(oh, ow)
    expected = render.colourise(trace.sums.reshape(oh, ow)).astype(int)
    assert np.abs(samples[done] - expected[done]).max() <= colour_tolerance
    assert (samples[~done] == EMPTY).all()


@pytest.fixture(scope="module")
def small_trace() -> WindowTrace:
    image = np.random.default_rng(4).integers(0, 256, size=(12, 11)).astype(float)
    kernel = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, -1.0]])
    return window_trace(image, kernel, ConvSettings(padding=1, stride=2, dilation=2))


def test_frames_show_each_window_and_the_outputs_so_far(small_trace: WindowTrace) -> None:
    layout = animation_layout(small_trace)
    frames = list(animation_frames(small_trace))
    assert len(frames) == len(layout.windows) == small_trace.n_windows  # 5×5 = 25 windows
    for k, frame in enumerate(frames):
        assert frame.shape == (layout.size[1], layout.size[0], 3)
        check_frame(frame, small_trace, layout, k, colour_tolerance=0)  # exactly the colours


def test_frames_sample_many_windows_evenly_first_and_last_included() -> None:
    assert frame_windows(9, 120) == tuple(range(9))
    windows = frame_windows(4096, 120)
    assert len(windows) == 120 and windows[0] == 0 and windows[-1] == 4095
    assert set(np.diff(windows)) <= {34, 35}  # 4095 / 119 = 34.4: evenly spread


@pytest.mark.parametrize(
    ("n_windows", "seconds"), [(1, (1, 5)), (9, (10, 15)), (25, (10, 15)), (4096, (10, 15))]
)
def test_one_loop_lasts_ten_to_fifteen_seconds(n_windows: int, seconds: tuple[int, int]) -> None:
    trace = window_trace(np.zeros((1, n_windows)), np.ones((1, 1)))
    layout = animation_layout(trace)
    total = sum(layout.durations_ms) / 1000
    assert seconds[0] <= total <= seconds[1]
    assert all(ms % 10 == 0 for ms in layout.durations_ms)  # GIF counts in hundredths
    assert layout.durations_ms[-1] >= 2000  # the finished output stays up a moment


# A GIF holds 256 colours: a shade may be one step of the diverging map off (no more), while
# the outline and the empty cells are exact.
_RAMP = render.colourise(np.linspace(0, 1, 256)[None], "diverging", 0, 1)[0].astype(int)
GIF_TOLERANCE = int(np.abs(np.diff(_RAMP, axis=0)).max())


def gif_frames(data: bytes) -> tuple[list[np.ndarray], list[int]]:
    frames, durations = [], []
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.format == "GIF" and gif.info.get("loop") == 0  # loops for ever
        for k in range(gif.n_frames):
            gif.seek(k)
            frames.append(np.asarray(gif.convert("RGB")))
            durations.append(gif.info["duration"])
    return frames, durations


def test_gif_plays_the_frames(small_trace: WindowTrace) -> None:
    layout = animation_layout(small_trace)
    frames, durations = gif_frames(animation_gif(small_trace))
    assert len(frames) == small_trace.n_windows
    assert tuple(durations) == layout.durations_ms
    for k, frame in enumerate(frames):
        check_frame(frame, small_trace, layout, k, colour_tolerance=GIF_TOLERANCE)


def test_largest_animation_the_page_plays_stays_small() -> None:
    # The page animates at most 64×64; 7×7 with padding 3 is its largest trace, and noise
    # its hardest content to compress.
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, size=(64, 64)).astype(float)
    trace = window_trace(image, rng.normal(size=(7, 7)), ConvSettings(padding=3))
    data = animation_gif(trace)
    assert len(data) < 2_000_000
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.n_frames == MAX_FRAMES
        assert max(gif.size) <= 800
    frames, _ = gif_frames(data)
    layout = animation_layout(trace)
    for k in (0, 57, len(frames) - 1):
        check_frame(frames[k], trace, layout, k, colour_tolerance=GIF_TOLERANCE)


def test_animations_past_the_budgets_are_refused_before_a_frame_is_drawn() -> None:
    # One frame too large: a 1×1 image padded by 240 (one window) is a 481×481 plane in 3-px
    # cells, a frame of about 1,500×1,550 px.
    padded = window_trace(np.ones((1, 1)), np.ones((1, 1)), ConvSettings(padding=240, stride=481))
    width, height = animation_layout(padded).size
    assert width * height > MAX_FRAME_PIXELS
    # Frames that fit one by one, but not 120 of them: 1×2000 windows, frames of 12,064×117 px.
    long = window_trace(np.zeros((1, 2000)), np.ones((1, 1)))
    width, height = animation_layout(long).size
    assert width * height <= MAX_FRAME_PIXELS < MAX_FRAMES * width * height
    for trace, words in ((padded, "at most 2,097,152 pixels"), (long, "at most 134,217,728")):
        with pytest.raises(ConvolutionError, match=words):
            animation_frames(trace)  # at once, not at the first frame
        with pytest.raises(ConvolutionError, match=words):
            animation_gif(trace)
    # Fewer frames of the same trace fit.
    assert len(list(animation_frames(long, max_frames=2))) == 2
    # The page's largest frames (64×64 and a 1×1 kernel: 704×434 px) stay well inside both.
    page = window_trace(np.zeros((64, 64)), np.ones((1, 1)))
    width, height = animation_layout(page).size
    assert 4 * width * height <= MAX_FRAME_PIXELS
    assert 2 * MAX_FRAMES * width * height <= MAX_GIF_PIXELS


# ============================================================================================
# The code


def source_of(state: PlaygroundState, upload: np.ndarray | None = None) -> np.ndarray:
    """What the page convolves for ``state``'s source (pages/convolution.py: image_source)."""
    if state.source == "numbers":
        return parse_matrix(state.matrix_text)
    if state.source == "sample":
        matrix = sample_matrix(state.sample)
        return matrix if matrix is not None else load_sample(state.sample)
    assert upload is not None
    return upload


RNG = np.random.default_rng(6)
COLOUR = RNG.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)  # an "upload"
TYPED = "1.5 -2 1/3 0 7\n4 2.25 -1/7 8 1e-3\n0 0 5 -6 2\n3 1 1 1 -0.5\n9 8 7 6 5\n1 2 3 4 5"
CUSTOM = [["1/9", "-3/16", "0.1"], ["2", "0", "-1"]]

CODE_CASES: dict[str, tuple[PlaygroundState, np.ndarray | None]] = {
    "typed_default": (PlaygroundState(source="numbers"), None),
    "typed_fractions_zeros": (
        PlaygroundState(source="numbers", matrix_text=TYPED, padding=1).with_kernel(CUSTOM),
        None,
    ),
    "reflect": (PlaygroundState(source="numbers", padding=2, padding_mode="reflect"), None),
    "replicate": (PlaygroundState(source="numbers", padding=3, padding_mode="replicate"), None),
    "stride2_shapes": (PlaygroundState(sample="shapes", stride=2, preset="box_blur_3"), None),
    "dilation2_digit": (PlaygroundState(sample="digit", dilation=2, padding=2), None),
    "flip": (
        PlaygroundState(source="numbers", matrix_text=TYPED, flip=True, stride=2).with_kernel(
            [["1", "2", "0"], ["3", "4", "-5"]]
        ),
        None,
    ),
    "colour_gray": (PlaygroundState(source="upload", padding=1), COLOUR),
    "colour_green": (PlaygroundState(source="upload", colour="g", padding=1), COLOUR),
    "colour_per_channel": (
        PlaygroundState(
            source="upload", result_mode="per_channel", padding=1, padding_mode="reflect", stride=2
        ),
        COLOUR,
    ),
    "colour_sum_flip": (
        PlaygroundState(source="upload", result_mode="sum", flip=True, dilation=2),
        COLOUR,
    ),
    "photo_sample_per_channel": (
        PlaygroundState(sample="horse_32", result_mode="per_channel", preset="sharpen"),
        None,
    ),
}

# Runs each generated script as a script (a fresh module namespace, in the folder its picture
# was saved to) in one separate Python, and prints what it printed and computed, as JSON.
DRIVER = textwrap.dedent(
    """
    import contextlib, io, json, os, runpy, sys, traceback
    import numpy as np
    out = {}
    for case in sys.argv[1:]:
        os.chdir(case)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                names = runpy.run_path("convolution.py", run_name="__main__")
        except Exception:
            out[case] = {"error": traceback.format_exc(), "printed": printed.getvalue()}
            continue
        out[case] = {"printed": printed.getvalue(), "result": names["result"].tolist(),
                     "torch": names["torch_result"].tolist()}
    print(json.dumps(out))
    """
)


def picture_for(state: PlaygroundState, upload: np.ndarray | None) -> ConvPicture:
    return prepare_picture(source_of(state, upload), state.colour, state.res)


@pytest.fixture(scope="module")
def code_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folders = []
    for case, (state, upload) in CODE_CASES.items():
        folder = tmp_path_factory.mktemp(case)
        picture = picture_for(state, upload)
        (folder / CODE_FILE_NAME).write_text(playground_code(state, picture))
        png = code_input_png(state, picture)
        if png is not None:  # the student saves the picture the page offers beside the code
            (folder / INPUT_FILE_NAME).write_bytes(png)
        folders.append(str(folder))
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, *folders],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    by_folder = json.loads(run.stdout)
    return {case: by_folder[folder] for case, folder in zip(CODE_CASES, folders, strict=True)}


@pytest.mark.parametrize("case", CODE_CASES)
def test_code_recomputes_the_pages_result_exactly(case: str, code_runs: dict[str, dict]) -> None:
    state, upload = CODE_CASES[case]
    picture = picture_for(state, upload)
    image, channels = result_planes(picture, state.result_mode)
    expected = conv2d(image, state.kernel(), state.settings, channels)  # what section 5 shows
    run = code_runs[case]
    assert "error" not in run, run["error"]
    for name in ("result", "torch"):
        got = np.array(run[name])
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert "The loop and PyTorch differ by at most" in run["printed"]


def test_code_reads_a_picture_only_when_it_cannot_write_the_numbers() -> None:
    typed = PlaygroundState(source="numbers")
    assert code_input_png(typed, picture_for(typed, None)) is None
    small = PlaygroundState(sample="numbers")
    assert code_input_png(small, picture_for(small, None)) is None
    assert "image = np.array([" in playground_code(small, picture_for(small, None))
    upload = PlaygroundState(source="upload")
    picture = picture_for(upload, COLOUR)
    np.testing.assert_array_equal(decode(code_input_png(upload, picture)), COLOUR)
    code = playground_code(upload, picture, image_file="my photo.png")
    assert 'Image.open("my photo.png")' in code


def test_code_writes_user_text_only_into_comments() -> None:
    sneaky = "filter\nimport os; os.system('echo owned')  \u2028 x = 1"
    state = PlaygroundState(source="upload").with_kernel([["1"]], origin=sneaky)
    picture = picture_for(state, COLOUR)
    code = playground_code(state, picture, image_file="a'\nimport os #.png")
    compile(code, "convolution.py", "exec")
    names = {
        tok.string
        for tok in tokenize.generate_tokens(io.StringIO(code).readline)
        if tok.type == tokenize.NAME
    }
    assert "os" not in names and "system" not in names
    assert all(line.startswith("#") for line in code.splitlines() if "owned" in line)


@pytest.mark.parametrize("case", CODE_CASES)
def test_code_is_short_and_plain(case: str) -> None:
    state, upload = CODE_CASES[case]
    code = playground_code(state, picture_for(state, upload))
    lines = code.splitlines()
    matrix_rows = len(picture_for(state, upload).full) if "image = np.array([" in code else 0
    assert 20 <= len(lines) - matrix_rows <= 50
    assert max(len(line) for line in lines) <= 100
    assert "eval(" not in code and "exec(" not in code


def test_code_for_a_picture_matches_when_run_on_its_own(tmp_path: Path) -> None:
    """One script run exactly as a student runs it: ``python convolution.py``."""
    state, upload = CODE_CASES["colour_green"]
    picture = picture_for(state, upload)
    (tmp_path / CODE_FILE_NAME).write_text(playground_code(state, picture))
    (tmp_path / INPUT_FILE_NAME).write_bytes(code_input_png(state, picture))
    run = subprocess.run(
        [sys.executable, CODE_FILE_NAME],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "The loop and PyTorch differ by at most" in run.stdout
