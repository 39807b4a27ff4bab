"""How smooth is the convolution player, and how much does it send to the browser?

Run ``python -m bench.bench_player``. Serves ``bench/player_app.py`` (a 64×64 image; 3×3 and
7×7 kernels; the presenter layout) and opens it in headless Chromium with the browser tests'
arguments. For each case it reports:

- the payload size computed in Python (``explorer.player.payload_size``);
- the bytes the browser received over the websocket while the page mounted the player: the
  frame that carries the player's data, and all frames together (page, component code, data);
- frames drawn per second while playing at a speed where every frame advances, counted by the
  player's test hooks (``window.__playerTest.frames``; bench/player_app.py turns them on) over
  ``SECONDS`` seconds, and the mean time one frame's drawing takes in JavaScript.

Goals: ≥ 50 frames/s and ≤ 200 KB. Figures, never asserted in tests.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.player_app import trace_for
from explorer.player import payload_size, player_payload
from scripts.chromium import launch_chromium
from scripts.server import serve

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 3.0
SPEED_SLIDER = 75  # 0.5·6000^0.75 ≈ 340 windows/s: ~6 per frame at 60 Hz, every frame advances
GOAL_FPS = 50
GOAL_BYTES = 200_000
CASES = {
    "64×64 valid": "size=64&padding=0&start=0",
    "64×64 same": "size=64&padding=1&start=0",
    "64×64 7×7": "size=64&ksize=7&padding=3&start=0",
    "64×64 presenter": "size=64&padding=1&presenter=1&start=0",
}


@contextlib.contextmanager
def serve_player_app(log_path: Path | None = None) -> Iterator[str]:
    """Run ``streamlit run bench/player_app.py`` on a free local port; yield its URL."""
    with serve("bench/player_app.py", log_path) as url:
        yield url


def _measure_case(browser, url: str, query: str) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    frames: list[bytes | str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(f)))
    page.goto(f"{url}/?{query}")
    page.get_by_test_id("cp-counter").wait_for()
    page.wait_for_function("() => window.__playerTest && window.__playerTest.frames > 0")
    sizes = [len(f.encode() if isinstance(f, str) else f) for f in frames]
    player_frames = [n for f, n in zip(frames, sizes, strict=True) if b"CNP1" in _as_bytes(f)]

    page.get_by_test_id("cp-speed").evaluate(
        f"e => {{ e.value = {SPEED_SLIDER}; e.dispatchEvent(new Event('input')); }}"
    )
    speed = page.get_by_test_id("cp-speed-text").text_content()
    page.get_by_test_id("cp-play").click()
    page.wait_for_function("() => window.__playerTest.position > 10")
    counters = "() => [performance.now(), JSON.parse(JSON.stringify(window.__playerTest))]"
    start = page.evaluate(counters)
    page.wait_for_timeout(SECONDS * 1000)
    end = page.evaluate(counters)
    page.get_by_test_id("cp-play").click()
    page.close()

    seconds = (end[0] - start[0]) / 1000
    drawn = end[1]["frames"] - start[1]["frames"]
    draw_ms = (end[1]["renderMs"] - start[1]["renderMs"]) / max(1, drawn)
    return {
        "case": query,
        "python_payload_bytes": payload_size(player_payload(trace_for(_params(query)))),
        "ws_player_frame_bytes": max(player_frames, default=0),
        "ws_total_bytes_mount": sum(sizes),
        "speed": speed,
        "frames_per_s": drawn / seconds,
        "windows_per_s": (end[1]["position"] - start[1]["position"]) / seconds,
        "draw_ms_per_frame": draw_ms,
    }


def _as_bytes(frame: bytes | str) -> bytes:
    return frame.encode() if isinstance(frame, str) else frame


def _params(query: str) -> dict[str, str]:
    return dict(part.split("=") for part in query.split("&"))


def measure() -> list[dict]:
    from playwright.sync_api import sync_playwright

    rows = []
    with serve_player_app() as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            for name, query in CASES.items():
                rows.append({"name": name, **_measure_case(browser, url, query)})
        finally:
            browser.close()
    return rows


def print_table(rows: list[dict]) -> None:
    print(
        f"{'case':<16} {'payload':>9} {'ws data':>9} {'ws all':>9} {'frames/s':>9} "
        f"{'windows/s':>10} {'draw ms':>8}  goals (≥{GOAL_FPS} fps, ≤{GOAL_BYTES // 1000} KB)"
    )
    for r in rows:
        ok = r["frames_per_s"] >= GOAL_FPS and r["ws_player_frame_bytes"] <= GOAL_BYTES
        print(
            f"{r['name']:<16} {r['python_payload_bytes'] / 1e3:>7.1f}KB "
            f"{r['ws_player_frame_bytes'] / 1e3:>7.1f}KB {r['ws_total_bytes_mount'] / 1e3:>7.1f}KB "
            f"{r['frames_per_s']:>9.1f} {r['windows_per_s']:>10.0f} {r['draw_ms_per_frame']:>8.2f}"
            f"  {'met' if ok else 'MISSED'}"
        )


SHOTS = {  # name: (query, position to pause at)
    "player_8x8_same": ("size=8&padding=1", 27),
    "player_8x8_dilated": ("size=8&padding=2&dilation=2&stride=2&kernel=blur", 5),
    "player_64x64_same": ("size=64&padding=1", 2100),
}


def screenshots(out_dir: Path = ROOT / "out" / "screenshots", width: int = 1400) -> list[Path]:
    """PNG pictures of the player paused mid-way, for people (and the README) to look at."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with serve_player_app() as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": width, "height": 1000})
        for name, (query, stop) in SHOTS.items():
            page.goto(f"{url}/?{query}")
            page.wait_for_function("() => window.__playerTest?.frames > 0")
            page.get_by_test_id("cp-scrub").evaluate(
                f"e => {{ e.value = {stop}; e.dispatchEvent(new Event('input')); }}"
            )
            page.wait_for_function(f"() => window.__playerTest.position === {stop}")
            path = out_dir / f"{name}_{width}.png"
            page.get_by_test_id("cp-root").screenshot(path=path)
            paths.append(path)
        browser.close()
    return paths


def run() -> list[dict]:
    """Measure, print the table, and return its rows (for bench.run_all)."""
    rows = measure()
    print_table(rows)
    return rows


if __name__ == "__main__":
    if "--screenshots" in sys.argv:  # python -m bench.bench_player --screenshots [WIDTH]
        widths = [int(a) for a in sys.argv[1:] if a.isdigit()] or [1400]
        for w in widths:
            print("\n".join(str(p) for p in screenshots(width=w)))
    else:
        run()
