"""The convolution playground in AppTest: every control changes what is rendered, and no input
a user can give (bad files, bad cells, hostile links, impossible settings) raises.

The canvas and the player are components AppTest cannot drive; the canvas's value is injected
through session state, the way the browser would send it."""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.playground_state import PlaygroundState
from tests.conftest import ROOT
from tests.screen import shown

PAGE = str(ROOT / "pages" / "convolution.py")


def run(query: dict[str, str] | None = None, hover: bool = False, **fields: object) -> AppTest:
    """The page opened with ``query`` as its link, or with a set-up whose ``fields`` differ
    from the defaults (as if chosen before), and the interactive heatmap on or off."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if fields:
        at.session_state["conv_state"] = replace(PlaygroundState(), **fields)
    at.session_state["conv_hover"] = hover
    return at.run()


def cells(at: AppTest) -> tuple[tuple[str, ...], ...]:
    return at.session_state["conv_state"].custom_cells


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.message for e in at.exception]
    return at


def result_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "result**" in m.value)


def heatmap(at: AppTest) -> np.ndarray:
    """The result's values as the page shows them: written in the cells of a small result's
    grid, or in the interactive Plotly heatmap (``conv_hover``) of a larger one."""
    charts = at.get("plotly_chart")
    if not charts:
        grid = [m.value for m in at.markdown if m.value.startswith("<table")][-1]
        rows = re.findall(r"<tr>(.*?)</tr>", grid)
        return np.array([[float(v) for v in re.findall(r">([^<>]*)</td>", r)] for r in rows])
    z = json.loads(charts[0].proto.spec)["data"][0]["z"]
    if isinstance(z, dict):  # Plotly ≥ 6 sends arrays as base64 typed arrays
        flat = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"])
        return flat.reshape([int(n) for n in str(z["shape"]).split(",")])
    return np.asarray(z, dtype=np.float64)


def formula(at: AppTest) -> str:
    return "\n".join(c.value for c in at.code if "output = " in c.value)


def errors(at: AppTest) -> str:
    return " ".join(shown(e.value) for e in at.error)


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def default_page() -> AppTest:
    return ok(run())


def test_page_renders_title_sections_and_the_pytorch_check(default_page: AppTest) -> None:
    at = default_page
    assert at.title[0].value == "Convolution playground"
    assert [h.value for h in at.header][:5] == [
        "1 · The image",
        "2 · The kernel",
        "3 · How it slides",
        "4 · Watch it slide",
        "5 · The result",
    ]
    assert "62×62 result" in result_line(at)
    check = at.success[0].value
    assert "Checked against PyTorch" in check and "torch.nn.functional.conv2d" in check
    assert any("def convolve2d" in c.value for c in at.code)
    assert not at.error


def test_preset_changes_the_result_numbers(default_page: AppTest) -> None:
    assert not default_page.get("plotly_chart")  # a picture by default: fast to re-render
    at = ok(run(hover=True))
    sobel = heatmap(at)
    at.selectbox(key="conv_preset").set_value("box_blur_3").run()
    blurred = heatmap(ok(at))
    assert sobel.shape == blurred.shape == (62, 62)
    assert sobel.min() == -1020 and blurred.min() == 0
    assert not np.array_equal(sobel, blurred)
    assert "weights sum to 1" in " ".join(c.value for c in at.caption)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [("conv_padding", 1, "= 32"), ("conv_stride", 2, "= 15"), ("conv_dilation", 3, "= 26")],
)
def test_padding_stride_dilation_change_the_output_size(key: str, value: int, expected: str):
    at = ok(run())
    assert formula(at).endswith("= 30")
    at.select_slider(key=key).set_value(value).run()
    assert ok(at) and formula(at).endswith(expected)


def test_flip_changes_the_result_for_an_asymmetric_kernel() -> None:
    at = ok(run(hover=True))
    before = heatmap(at)
    at.radio(key="conv_flip").set_value(True).run()
    after = heatmap(ok(at))
    np.testing.assert_array_equal(after, -before)  # Sobel x rotated 180° is −Sobel x


def test_switching_to_typed_numbers_uses_the_exact_matrix() -> None:
    at = ok(run())
    at.segmented_control(key="conv_source").set_value("numbers").run()
    ok(at)
    assert "3×3 result" in result_line(at)
    np.testing.assert_array_equal(heatmap(at), np.full((3, 3), 8.0))  # 1..25 under Sobel x
    assert "&gt;25<" not in "".join(m.value for m in at.markdown)
    assert ">25</td>" in "".join(m.value for m in at.markdown)  # the numbers are shown


def test_working_resolution_changes_the_animation_image() -> None:
    at = ok(run())
    assert any("32×32 numbers" in c.value for c in at.caption)
    at.select_slider(key="conv_res").set_value(16).run()
    ok(at)
    assert any("16×16 numbers" in c.value for c in at.caption)
    assert formula(at).endswith("= 14")
    assert "62×62 result" in result_line(at)  # the result keeps the full resolution


@pytest.mark.parametrize(
    "upload",
    [
        ("noise.png", np.random.default_rng(0).bytes(2000), "image/png"),
        ("notes.png", b"these are my notes, not a picture\n", "image/png"),
        ("empty.png", b"", "image/png"),
    ],
    ids=["random-bytes", "text-renamed-png", "empty"],
)
def test_bad_upload_shows_an_error_not_a_traceback(upload: tuple[str, bytes, str]) -> None:
    at = ok(run(source="upload"))
    at.get("file_uploader")[0].set_value(upload).run()
    ok(at)
    assert "could not be read as an image" in errors(at)
    assert any("animation appears" in i.value for i in at.info)


def test_good_upload_is_used() -> None:
    rgb = np.zeros((40, 50, 3), np.uint8)
    rgb[10:30, 20:40] = (200, 30, 30)
    at = ok(run(source="upload"))
    at.get("file_uploader")[0].set_value(("red.png", png(rgb), "image/png")).run()
    ok(at)
    assert "48×38 result" in result_line(at)
    assert at.radio(key="conv_colour").value == "gray"  # a colour image offers its channels
    at.radio(key="conv_result_mode").set_value("per_channel").run()
    ok(at)
    assert any("clipped for display" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("abc", "'abc'"),
        ("", "empty"),
        ("nan", "'nan'"),
        ("inf", "'inf'"),
        ("1/0", "zero"),
    ],
)
def test_bad_custom_cell_is_named_and_nothing_breaks(cell: str, message: str) -> None:
    grid = (("1", "0", "-1"), ("2", "0", cell), ("1", "0", "-1"))
    at = ok(run(preset="custom", custom_cells=grid))
    assert "row 2, column 3" in errors(at).lower() and message in errors(at)
    assert any("animation appears" in i.value for i in at.info)
    assert "kv" not in at.query_params  # a kernel that does not parse never goes into a link
    assert any("last working kernel" in c.value for c in at.caption)


def test_custom_kernel_with_fractions_is_used() -> None:
    at = ok(run(preset="custom", custom_cells=(("1/9",) * 3,) * 3))
    at.segmented_control(key="conv_source").set_value("numbers").run()
    np.testing.assert_allclose(heatmap(ok(at)), [[7, 8, 9], [12, 13, 14], [17, 18, 19]])


def test_choosing_custom_copies_the_current_preset() -> None:
    at = ok(run())
    at.selectbox(key="conv_preset").set_value("gaussian_3").run()
    at.selectbox(key="conv_preset").set_value("custom").run()
    ok(at)
    assert cells(at)[0] == ("1/16", "1/8", "1/16")
    assert any("Kernel from: Gaussian blur 3×3" in c.value for c in at.caption)
    # resized, it is no longer the Gaussian blur: the provenance goes
    at.selectbox(key="conv_cols").set_value(5).run()
    ok(at)
    assert not any("Kernel from" in c.value for c in at.caption)


def test_custom_size_selectors_resize_the_grid() -> None:
    at = ok(run(preset="custom"))
    at.selectbox(key="conv_cols").set_value(5).run()
    ok(at)
    assert cells(at) == (("0",) * 5, ("0", "1", "0", "0", "0"), ("0",) * 5)
    assert "60×62 result" in result_line(at)


def shown_kernel(at: AppTest) -> np.ndarray:
    """The kernel as the playground's kernel section shows it: its grid of numbers, the first
    number grid below the "2 · The kernel" header."""
    grids = [m.value for m in at.markdown if m.value.startswith("<table")]
    rows = re.findall(r"<tr>(.*?)</tr>", grids[0])
    return np.array(
        [[float(v.replace("−", "-")) for v in re.findall(r">([^<>]*)</td>", r)] for r in rows]
    )


def test_a_filter_sent_from_the_feature_maps_page_arrives_in_the_playground(
    navigation_has_run,
) -> None:
    """The real path: the app opened, the Feature maps page chosen, a conv1 filter and channel
    picked there and "Use this filter in the playground" pressed. The playground opens with that
    filter's numbers, read here from the weights file by plain PyTorch."""
    import torch

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.switch_page("pages/feature_maps.py").run()
    assert ok(at).title[0].value == "Feature maps"
    at.number_input(key="fm_pg_filter").set_value(5).run()
    at.radio(key="fm_pg_channel").set_value("B").run()
    at.button(key="fm_pg_send").click().run()
    ok(at)
    assert at.title[0].value == "Convolution playground"  # the button switched pages

    state = torch.load(ROOT / "assets" / "weights" / "simplecnn-cifar10.pt", weights_only=True)
    expected = state["conv1.weight"][5, 2].double().numpy()  # filter 5, blue channel
    assert expected.shape == (3, 3) and np.ptp(expected) > 0
    assert at.selectbox(key="conv_preset").value == "custom"
    assert any("Kernel from: conv1 filter 5 (B)" in c.value for c in at.caption)
    # The numbers the student reads (rounded for display) and the ones the page computes with.
    np.testing.assert_allclose(shown_kernel(at), expected, rtol=1e-3, atol=5e-5)
    np.testing.assert_array_equal(at.session_state["conv_state"].kernel(), expected)
    assert "62×62 result" in result_line(at)  # the 64×64 sample under a 3×3 kernel
    assert "Checked against PyTorch" in at.success[0].value


def test_share_link_round_trip() -> None:
    at = ok(run())
    at.selectbox(key="conv_preset").set_value("laplacian_4").run()
    at.select_slider(key="conv_padding").set_value(2).run()
    at.selectbox(key="conv_padding_mode").set_value("reflect").run()
    at.radio(key="conv_flip").set_value(True).run()
    ok(at)
    params = dict(at.query_params)
    assert params == {"k": "laplacian_4", "pad": "2", "mode": "reflect", "flip": "1"}
    link = at.code[-1].value
    assert link.startswith("?") and all(f"{k}={v}" in link for k, v in params.items())
    fresh = ok(run(query=params))
    assert fresh.selectbox(key="conv_preset").value == "laplacian_4"
    assert fresh.select_slider(key="conv_padding").value == 2
    assert fresh.selectbox(key="conv_padding_mode").value == "reflect"
    assert fresh.radio(key="conv_flip").value is True
    assert not fresh.warning


def test_custom_kernel_travels_in_the_link() -> None:
    at = ok(run(query={"k": "custom", "kv": "1/9,1/9;1,2", "src": "numbers"}))
    assert cells(at) == (("1/9", "1/9"), ("1", "2"))
    assert "4×4 result" in result_line(at)
    assert dict(at.query_params) == {"src": "numbers", "k": "custom", "kv": "1/9,1/9;1,2"}


@pytest.mark.parametrize(
    "query",
    [
        {"pad": "-1", "stride": "9999999999999", "dil": "2.5", "res": "0x10"},
        {"k": "__import__('os').system('id')", "sample": "../../etc/passwd", "flip": "yes"},
        {"k": "custom", "kv": "1,2;3"},
        {"kv": "nan,1;1,1"},
        {"kv": ";".join([",".join(["1"] * 9)] * 9)},
        {"src": "numbers", "m": "1 2;3"},
        {"m": "x" * 100_000},
        {"mode": "wrap", "ch": "alpha", "out": "🙂" * 500},
    ],
)
def test_hostile_links_fall_back_to_defaults_with_a_warning(query: dict[str, str]) -> None:
    at = ok(run(query=query))
    assert at.warning and all("link" in w.value for w in at.warning)
    assert at.selectbox(key="conv_preset").value == "sobel_x"
    assert at.success and "Checked against PyTorch" in at.success[0].value


def test_drawing_on_the_canvas_is_convolved() -> None:
    at = ok(run(source="draw"))
    assert any("Draw something" in i.value for i in at.info)  # a blank canvas: a hint
    assert not at.error
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[100:120, 40:240, :3] = 255  # a white bar
    data_url = "data:image/png;base64," + base64.b64encode(png(rgba)).decode()
    at.session_state["conv_canvas"] = {
        "drawing": {"raw": {"objects": [{"type": "path"}]}, "data": data_url},
        "backgroundFit": None,
    }
    at.run()
    ok(at)
    assert "278×278 result" in result_line(at)
    assert any("32×32 numbers" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("matrix", "settings", "message"),
    [
        ("1 2\n3 4", {}, "does not fit"),
        ("1 2\n3 4", {"padding": 2, "padding_mode": "reflect"}, "Reflect padding"),
        ("1 2 3\n4 5 6\n7 8 9", {"dilation": 2}, "does not fit"),
    ],
)
def test_impossible_settings_say_why(matrix: str, settings: dict, message: str) -> None:
    at = ok(run(source="numbers", matrix_text=matrix, **settings))
    assert message in errors(at)
    assert any("animation appears" in i.value for i in at.info)


def test_bad_typed_numbers_show_the_cell() -> None:
    at = ok(run(source="numbers", matrix_text="1 2 3\n4 x 6"))
    assert "row 2, column 2" in errors(at).lower() and "'x'" in errors(at)


def test_colour_sample_offers_channels_and_summing() -> None:
    at = ok(run(sample="ship", hover=True))
    assert "126×126 result" in result_line(at)
    grey = heatmap(at)
    at.radio(key="conv_colour").set_value("r").run()
    red = heatmap(ok(at))
    assert not np.array_equal(grey, red)
    at.radio(key="conv_result_mode").set_value("sum").run()
    summed = heatmap(ok(at))
    assert summed.shape == (126, 126) and np.abs(summed).max() > np.abs(red).max()
    assert "Checked against PyTorch" in at.success[0].value


@pytest.fixture
def download_bytes(monkeypatch: pytest.MonkeyPatch):
    """Read what a download button would give the student: its bytes, by its label. The
    media manager is wrapped to remember each file's data (or its deferred callable)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    stored: dict[str, object] = {}
    add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def remember(self, data, *args, **kwargs):
        url = add(self, data, *args, **kwargs)
        stored[url] = data
        return url

    def remember_deferred(self, fn, *args, **kwargs):
        file_id = add_deferred(self, fn, *args, **kwargs)
        stored[file_id] = fn
        return file_id

    monkeypatch.setattr(MediaFileManager, "add", remember)
    monkeypatch.setattr(MediaFileManager, "add_deferred", remember_deferred)

    def read(at: AppTest, label: str) -> bytes:
        proto = next(b.proto for b in at.get("download_button") if b.proto.label == label)
        data = stored[proto.deferred_file_id or proto.url]
        return data() if callable(data) else data

    return read


def test_each_download_holds_what_its_label_says(download_bytes) -> None:
    from scipy.signal import correlate2d

    from explorer.kernels import KERNELS

    at = ok(run(query={"src": "numbers", "k": "laplacian_8", "pad": "1"}))
    matrix = np.arange(1.0, 26.0).reshape(5, 5)
    expected = correlate2d(np.pad(matrix, 1), KERNELS["laplacian_8"].values, mode="valid")
    csv = download_bytes(at, "Result as CSV").decode()
    np.testing.assert_array_equal(np.loadtxt(csv.splitlines(), delimiter=","), expected)
    kernel = download_bytes(at, "Kernel as CSV").decode()
    np.testing.assert_array_equal(
        np.loadtxt(kernel.splitlines(), delimiter=","), KERNELS["laplacian_8"].values
    )
    picture = Image.open(io.BytesIO(download_bytes(at, "Result as PNG")))
    assert picture.format == "PNG" and picture.size[0] >= 5 and picture.size[0] == picture.size[1]


def test_the_pytorch_check_shows_a_cross_when_the_two_disagree(monkeypatch) -> None:
    from explorer import reference
    from explorer.ui import playground

    real = reference.torch_reference
    monkeypatch.setattr(reference, "torch_reference", lambda *a, **k: real(*a, **k) + 0.5)
    playground.conv_torch_check.clear()
    try:
        at = ok(run(query={"src": "numbers"}))
    finally:
        playground.conv_torch_check.clear()
    assert not at.success
    assert "differs from this result by up to 0.5" in errors(at)


def test_a_link_cannot_put_markup_on_the_page() -> None:
    at = ok(
        run(query={"k": "![](//evil.example/i.png)", "ch": "[Log in again](http://evil.example)"})
    )
    texts = [w.value for w in at.warning]
    assert len(texts) == 2
    assert all("![" not in t and "](" not in t for t in texts)  # escaped: neither image nor link
    assert any("'![](//evil.example/i.png)'" in shown(t) for t in texts)


def test_presenter_link_hides_the_chosen_sections_and_keeps_the_flags() -> None:
    at = ok(run(query={"present": "1", "hide": "kernel,settings,nonsense", "k": "emboss"}))
    headers = [h.value for h in at.header]
    assert "2 · The kernel" not in headers and "3 · How it slides" not in headers
    assert "1 · The image" in headers and "5 · The result" in headers
    assert "4 · Watch it slide" not in headers  # the player comes first, untitled
    assert not any("slides a small grid" in m.value for m in at.markdown)  # the intro goes
    assert dict(at.query_params) == {"k": "emboss", "present": "1", "hide": "kernel,settings"}
    assert at.toggle(key="present_switch").value is True
    assert at.multiselect(key="present_hidden_convolution").value == ["kernel", "settings"]
    assert "Checked against PyTorch" in at.success[0].value  # the kernel still applies


def test_presenter_switch_turns_it_on_and_off() -> None:
    at = ok(run())
    assert "present" not in at.query_params
    at.toggle(key="present_switch").set_value(True).run()
    assert ok(at).query_params["present"] == "1"
    at.multiselect(key="present_hidden_convolution").set_value(["image", "result"]).run()
    headers = [h.value for h in ok(at).header]
    assert "1 · The image" not in headers and "5 · The result" not in headers
    assert at.query_params["hide"] == "image,result"
    at.toggle(key="present_switch").set_value(False).run()
    assert "present" not in ok(at).query_params
    assert "1 · The image" in [h.value for h in at.header]


def test_presenting_a_drawing_keeps_its_image_section() -> None:
    at = ok(run(query={"present": "1", "hide": "image", "src": "draw"}))
    assert "1 · The image" in [h.value for h in at.header]


def test_the_result_line_gives_the_result_range() -> None:
    from scipy.signal import correlate2d

    from explorer.kernels import KERNELS

    at = ok(run(query={"src": "numbers", "k": "emboss", "pad": "1"}))
    matrix = np.arange(1.0, 26.0).reshape(5, 5)
    expected = correlate2d(np.pad(matrix, 1), KERNELS["emboss"].values, mode="valid")
    line = result_line(at)
    low, high = (f"{v:g}".replace("-", "\u2212") for v in (expected.min(), expected.max()))
    assert expected.min() < 0 and f"values from **{low}** to **{high}**" in line  # a real minus
    assert "5×5 result" in line


@pytest.mark.parametrize(
    ("query", "bar"),
    [
        ({"k": "box_blur_3"}, "white = 255 or more"),  # keeps brightness: a gray picture
        ({"k": "sobel_x"}, "blue = negative"),  # signed: blue–red about 0
        ({"k": "box_blur_3", "rc": "signed"}, "blue = negative"),  # the student's choice wins
        ({"k": "sobel_x", "rc": "picture"}, "white = 255 or more"),
    ],
)
def test_the_result_is_shown_in_the_pictures_own_terms(query: dict, bar: str) -> None:
    at = ok(run(query=query))
    bars = [m.value for m in at.markdown if "linear-gradient" in m.value]
    assert len(bars) == 1 and bar in bars[0]
    assert at.radio(key="conv_result_colours").value == query.get("rc", "auto")


def test_the_exports_hold_a_slide_an_animation_and_code_that_reproduces_the_result(
    download_bytes, tmp_path
) -> None:
    import subprocess
    import sys

    at = ok(run(query={"src": "numbers", "k": "laplacian_8", "pad": "1", "stride": "2"}))
    slide = Image.open(io.BytesIO(download_bytes(at, "Result for a slide (PNG)")))
    assert slide.format == "PNG" and max(slide.size) >= 800  # scaled up for a slide
    gif = Image.open(io.BytesIO(download_bytes(at, "Animation as GIF")))
    assert gif.format == "GIF" and gif.n_frames == 9  # one frame per window of the 3×3 output
    code = download_bytes(at, "The code (.py)").decode()
    assert any(code.strip() == c.value.strip() for c in at.code)  # the file is the code shown
    script = tmp_path / "convolution.py"
    script.write_text(code + "\nnp.savetxt('out.csv', result, delimiter=',')\n")
    subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, check=True, timeout=120, capture_output=True
    )
    ours = download_bytes(at, "Result as CSV").decode()
    np.testing.assert_allclose(
        np.loadtxt(tmp_path / "out.csv", delimiter=",", ndmin=2),
        np.loadtxt(ours.splitlines(), delimiter=",", ndmin=2),
        rtol=0,
        atol=1e-9,
    )


def test_the_first_sentence_says_the_player_uses_a_smaller_copy() -> None:
    """The default image is 64×64 and the player animates at most 32×32 of it: the page's
    first paragraph says so, with the set-up's own size, before a beginner wonders why the
    player's grid and the result differ."""
    at = ok(run())
    intro = next(m.value for m in at.markdown if "window by window" in m.value)
    assert "at most 32×32 pixels" in intro and "result at the end uses the whole image" in intro
    assert "62×62 result** from the full 64×64 image" in result_line(at)
    at = ok(run({"res": "16"}))
    intro = next(m.value for m in at.markdown if "window by window" in m.value)
    assert "at most 16×16 pixels" in intro
