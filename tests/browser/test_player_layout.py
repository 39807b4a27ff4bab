"""The player never breaks its frame, and the projector layout fits one screen.

Element boxes measured in Chromium over a grid of traces (kernels 1×1 to 7×7, inputs 1×1 to
64×64, padding, stride, dilation) at a phone's, a laptop's, a projector's and a large screen's
width: the panels never overlap, nothing leaves the player's frame, the frame stays inside the
window. One server (bench/player_app.py) and one page for the whole module; the viewport is
resized, not relaunched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.bench_player import serve_player_app

PHONE = (390, 844)
PROJECTOR = (1280, 720)
LARGE = (1920, 1080)
LAPTOP = (1024, 768)  # about as wide as the playground's column at 1280 with the sidebar open

# Every kernel size from 1×1 to 7×7; inputs from 1×1 to 64×64 (the page's largest working
# size); padding, stride and dilation; small decimals, whole numbers up to 255, long decimals.
CASES = [
    "size=1&ksize=1",
    "size=1&ksize=7&padding=3",
    "size=8&ksize=2&stride=2&image=int",
    "size=8&padding=1",
    "size=6&kernel=frac&padding=1&stride=2",
    "size=12&ksize=4&padding=2&dilation=2",
    "size=16&ksize=5&padding=2&image=int",
    "size=20&ksize=6&padding=1&stride=3",
    "size=32",  # a 30×30 output (it spilled out of the frame at 1920×1080)
    "size=30&ksize=7&padding=3",  # a 7×7 kernel (its panels overlapped)
    "size=64&ksize=7&padding=3&stride=2&dilation=2&image=int",
    "size=64&padding=1",
]

# Boxes of the panels, the controls and every visible element inside the player, in CSS px.
MEASURE = """root => {
    const box = (el) => { const r = el.getBoundingClientRect();
        return {x: r.left, y: r.top, r: r.right, b: r.bottom, w: r.width, h: r.height}; };
    const q = (id) => root.querySelector(`[data-testid="${id}"]`);
    const panels = Object.fromEntries(["cp-in", "cp-calc", "cp-out", "cp-controls"]
        .map((id) => [id, box(q(id))]));
    const inside = [];
    for (const el of root.querySelectorAll("*")) {
        const style = getComputedStyle(el);
        const b = box(el);
        if (el.closest(".cp-sr") || style.display === "none" || style.visibility === "hidden"
            || b.w === 0 || b.h === 0) continue;
        inside.push({name: el.dataset.testid || el.className || el.tagName, ...b});
    }
    return {root: box(root), panels, elements: inside,
            canvases: ["in", "out"].map((p) => ({panel: box(q(`cp-${p}`)),
                                                 canvas: box(q(`cp-${p}-grid`))})),
            viewport: [window.innerWidth, window.innerHeight]};
}"""

TOLERANCE = 0.5  # px: subpixel rounding of borders


@pytest.fixture(scope="module")
def layout_page(browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with serve_player_app(tmp_path_factory.mktemp("layout") / "streamlit.log") as url:
        context = browser.new_context(viewport={"width": LARGE[0], "height": LARGE[1]})
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.player_url = url  # type: ignore[attr-defined]
        yield page
        context.close()
        assert errors == [], f"JavaScript errors: {errors}"


def open_case(page, query: str) -> None:
    page.goto(f"{page.player_url}/?{query}&start=1")
    page.wait_for_function("() => window.__playerTest?.frames > 0")


def resize(page, width: int, height: int) -> None:
    """Resize the window and wait until the player has laid itself out for the new width."""
    page.set_viewport_size({"width": width, "height": height})
    root = page.get_by_test_id("cp-root").element_handle()
    page.wait_for_function("e => e.clientWidth === window.__playerTest.layoutWidth", arg=root)
    page.wait_for_timeout(100)  # the resize observer's frame


def overlap(a: dict, b: dict) -> float:
    """Area shared by two boxes (0 when they only touch)."""
    w = min(a["r"], b["r"]) - max(a["x"], b["x"])
    h = min(a["b"], b["b"]) - max(a["y"], b["y"])
    return max(0.0, w - TOLERANCE) * max(0.0, h - TOLERANCE)


def check_frame(page, where: str) -> None:
    root = page.get_by_test_id("cp-root")
    root.evaluate("e => e.scrollIntoView({block: 'end'})")  # a phone's sticky bar at rest
    m = root.evaluate(MEASURE)
    frame, (vw, _) = m["root"], m["viewport"]
    assert frame["x"] >= -TOLERANCE and frame["r"] <= vw + TOLERANCE, f"{where}: frame {frame}"
    names = list(m["panels"])
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = overlap(m["panels"][a], m["panels"][b])
            assert shared == 0, f"{where}: {a} and {b} overlap: {m['panels']}"
    for el in m["elements"]:
        assert (
            el["x"] >= frame["x"] - TOLERANCE
            and el["r"] <= frame["r"] + TOLERANCE
            and el["y"] >= frame["y"] - TOLERANCE
            and el["b"] <= frame["b"] + TOLERANCE
        ), f"{where}: {el['name']} leaves the frame: {el} vs {frame}"
    for pair in m["canvases"]:
        assert pair["canvas"]["r"] <= pair["panel"]["r"] + TOLERANCE, f"{where}: {pair}"


@pytest.mark.parametrize("query", CASES)
def test_nothing_overlaps_or_leaves_the_frame(layout_page, query: str) -> None:
    open_case(layout_page, query)
    for width, height in (LARGE, PROJECTOR, LAPTOP, PHONE):
        resize(layout_page, width, height)
        check_frame(layout_page, f"{query} at {width}×{height}")


def test_phone_shows_the_controls_with_the_grids(layout_page) -> None:
    open_case(layout_page, "size=30&ksize=7&padding=3")
    resize(layout_page, *PHONE)
    layout_page.get_by_test_id("cp-root").evaluate("e => e.scrollIntoView({block: 'start'})")
    layout_page.wait_for_timeout(100)
    height = PHONE[1]
    grid = layout_page.get_by_test_id("cp-in-grid").bounding_box()
    controls = layout_page.get_by_test_id("cp-controls").bounding_box()
    assert grid["y"] >= 0 and grid["y"] + grid["height"] <= height
    assert controls["y"] >= 0 and controls["y"] + controls["height"] <= height  # sticky
    layout_page.get_by_test_id("cp-forward").click()  # and they work from there
    layout_page.wait_for_function("() => window.__playerTest.position === 2")


# The arithmetic's own text (the written sum, the small grids, ⊙ and =) and every other text.
FONTS = """root => {
    const arithmetic = [];
    const other = [];
    for (const el of root.querySelectorAll("*")) {
        const style = getComputedStyle(el);
        const r = el.getBoundingClientRect();
        const ownText = [...el.childNodes].some(
            (n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== "");
        if (!ownText || el.closest(".cp-sr") || style.display === "none" || r.width === 0) continue;
        const size = parseFloat(style.fontSize);
        (el.closest(".cp-written, .cp-mini, .cp-op") ? arithmetic : other)
            .push({text: el.textContent.trim().slice(0, 30), size, mini: !!el.closest(".cp-mini")});
    }
    return {arithmetic, other, canvases: window.__playerTest.fonts};
}"""

# What a projector must show at once: input, window, kernel, products, sum, output, controls.
PARTS = [
    "cp-in-grid",
    "cp-patch",
    "cp-kernel",
    "cp-products",
    "cp-written",
    "cp-out-grid",
    "cp-controls",
]


@pytest.mark.parametrize(
    "query",
    [
        "size=8&padding=1",
        "size=64",
        "size=16&kernel=frac&padding=1",
        # 5×5: two rows of 5×5 grids at 24 px would be taller than 720 px, so the small grids
        # shrink to fit; the written sum, the lesson, stays large and the largest text.
        "size=12&ksize=5&padding=2",
    ],
)
def test_presenter_fits_one_screen_with_the_arithmetic_largest(layout_page, query: str) -> None:
    open_case(layout_page, f"{query}&presenter=1")
    big_kernel = "ksize=5" in query
    for width, height in (PROJECTOR, LARGE):
        resize(layout_page, width, height)
        layout_page.evaluate("() => window.scrollTo(0, 0)")
        for part in PARTS:
            box = layout_page.get_by_test_id(part).bounding_box()
            assert box is not None, part
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{part} at {width}: {box}"
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, (
                f"{part} at {height}: {box}"
            )
        fonts = layout_page.get_by_test_id("cp-root").evaluate(FONTS)
        if big_kernel:  # the small grids may shrink; the written sum may not
            fonts["arithmetic"] = [t for t in fonts["arithmetic"] if not t["mini"]]
        smallest_arithmetic = min(t["size"] for t in fonts["arithmetic"])
        largest_other = max(t["size"] for t in fonts["other"])
        assert smallest_arithmetic >= 24, fonts["arithmetic"]
        assert smallest_arithmetic > largest_other, (fonts["arithmetic"], fonts["other"])
        assert smallest_arithmetic > max(fonts["canvases"].values()), fonts["canvases"]
        check_frame(layout_page, f"presenter {query} at {width}×{height}")


def test_the_arithmetic_is_the_largest_text_outside_presenter_mode_too(layout_page) -> None:
    open_case(layout_page, "size=8&padding=1")
    resize(layout_page, *PROJECTOR)
    fonts = layout_page.get_by_test_id("cp-root").evaluate(FONTS)
    written = layout_page.get_by_test_id("cp-written").evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert written > max(t["size"] for t in fonts["other"])
    assert written > max(fonts["canvases"].values())


@pytest.mark.parametrize("query", ["size=6&kernel=frac&padding=1", "size=12&ksize=7&padding=3"])
def test_the_player_keeps_its_height_from_window_to_window(layout_page, query: str) -> None:
    # A sum that wraps onto one line more, or a note that comes and goes, would make the page
    # under the player jump while it plays.
    open_case(layout_page, query)
    resize(layout_page, *PROJECTOR)
    root = layout_page.get_by_test_id("cp-root")
    n = layout_page.evaluate("window.__playerTest.n")
    heights = set()
    for position in sorted({1, 2, n // 3, n // 2, n - 1, n, 0}):
        layout_page.get_by_test_id("cp-scrub").evaluate(
            f"e => {{ e.value = {position}; e.dispatchEvent(new Event('input')); }}"
        )
        layout_page.wait_for_function(f"() => window.__playerTest.position === {position}")
        heights.add(round(root.bounding_box()["height"], 1))
    assert len(heights) == 1, heights
