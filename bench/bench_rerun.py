"""How fast does the playground re-render when the kernel changes, compared with a trivial page?

Run ``python -m bench.bench_rerun``. Starts the real app (``scripts.server.serve``)
and ``bench/trivial_app.py`` (a selectbox and a line of text), opens each in headless Chromium
with the browser tests' arguments, and times ``CHANGES`` selections of a new option in the
selectbox: from the click on the option to the page finished re-rendering — the changed text
is on screen and Streamlit reports the script as no longer running (the status widget gone).
The playground gets a kernel it has not computed yet each time, so every change does the real
work (trace, full-resolution result, PyTorch check); its first load, which imports torch, is
not counted.

Goal: the playground's median ≤ 1.3 × the trivial page's median. Figures, never asserted.
"""

from __future__ import annotations

import re
import statistics
import time

from scripts.chromium import launch_chromium
from scripts.server import serve

CHANGES = 10
GOAL_RATIO = 1.3
# Presets in an order where each differs from the one before in its description; none is
# the page's default (sobel_x), so the first change is already uncached work.
PLAYGROUND_OPTIONS = [
    "Box blur 3×3",
    "Sharpen",
    "Sobel y",
    "Gaussian blur 3×3",
    "Laplacian (4 neighbours)",
    "Emboss",
    "Outline",
    "Prewitt x",
    "Identity",
    "Box blur 5×5",
    "Scharr x",
    "Prewitt y",
]
TRIVIAL_OPTIONS = [f"Option {i}" for i in range(1, 13)]

# Done when the script has stopped and the marker differs from its text before the click.
_DONE = """([selector, before]) => {
    const app = document.querySelector('[data-testid="stApp"]');
    const marker = document.querySelector(selector);
    return app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidget"]')
        && marker && marker.innerText !== before;
}"""


def _time_changes(page, options: list[str], marker: str) -> list[float]:
    """Seconds from clicking each option to the page re-rendered, one per option."""
    times = []
    for option in options:
        before = page.locator(marker).first.inner_text()
        box = page.get_by_role("combobox", name=re.compile("Kernel")).first
        box.click()
        box.press_sequentially(option)  # filters the list: long lists are virtualised
        target = page.get_by_role("option", name=option, exact=True)
        target.wait_for()
        start = time.perf_counter()
        target.click()
        page.wait_for_function(_DONE, arg=[marker, before], polling="raf", timeout=60_000)
        times.append(time.perf_counter() - start)
        page.wait_for_timeout(300)  # let the page idle between changes, as a person would
    return times


def measure() -> list[dict]:
    from playwright.sync_api import sync_playwright

    cases = [
        # name, script, path, what to wait for first, options, marker of a finished change
        (
            "trivial page",
            "bench/trivial_app.py",
            "",
            "text=You chose",
            TRIVIAL_OPTIONS,
            "[data-testid='stMarkdown'] p",
        ),
        # The kernel's grid of numbers: the first thing that differs for every preset.
        (
            "playground",
            "app.py",
            "convolution",
            "text=Checked against PyTorch",
            PLAYGROUND_OPTIONS,
            "[data-testid='stMarkdown'] table",
        ),
    ]
    rows = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            for name, script, path, ready, options, marker in cases:
                with serve(script) as url:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.goto(f"{url}/{path}")
                    page.wait_for_selector(ready, timeout=120_000)
                    page.wait_for_function(_DONE, arg=[marker, None], timeout=60_000)
                    _time_changes(page, options[-1:], marker)  # warm-up, not counted
                    times = _time_changes(page, options[:CHANGES], marker)
                    page.close()
                rows.append(
                    {
                        "name": name,
                        "median_ms": 1000 * statistics.median(times),
                        "min_ms": 1000 * min(times),
                        "max_ms": 1000 * max(times),
                        "changes": len(times),
                    }
                )
        finally:
            browser.close()
    ratio = rows[1]["median_ms"] / rows[0]["median_ms"]
    rows.append({"name": "ratio playground / trivial", "ratio": ratio, "goal": GOAL_RATIO})
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"{'page':<14} {'median':>9} {'min':>9} {'max':>9}  (kernel change → re-rendered)")
    for r in rows[:2]:
        print(
            f"{r['name']:<14} {r['median_ms']:>7.0f}ms {r['min_ms']:>7.0f}ms {r['max_ms']:>7.0f}ms"
        )
    ratio = rows[2]["ratio"]
    verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
    print(f"ratio {ratio:.2f} (goal ≤ {GOAL_RATIO}): {verdict}")


def run() -> list[dict]:
    """Measure, print the table, and return its rows (for bench.run_all)."""
    rows = measure()
    print_table(rows)
    return rows


if __name__ == "__main__":
    run()
