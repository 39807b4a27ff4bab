"""How long does one step of the shift lab's slider take on the server, and where does it go?

    python -m bench.bench_shift_lab [--steps 10] [--threads 1]

Goal (the shift lab's issue): a slider step re-renders its panels within 300 ms of server time
on 2 cores. A few forward passes are about 1 ms each; the rest is drawing. Figures, never
asserted; the shipped CIFAR-10 weights and the first CIFAR-10 gallery image (the page's
default), every figure the median (and 90th percentile) of ``--steps`` steps, each to a shift
the lab has not computed before in this run (its caches are emptied first, so they hide no
work):

1. **the page**: ``pages/why_translation.py`` in Streamlit's AppTest, the ``shift_dx`` slider set
   to a new value and ``at.run()`` timed — the script's whole rerun with its callbacks, caches,
   pictures and chart, as the server runs it once ``st.navigation`` has run (the test suite's
   ``navigation_has_run``). The same steps again, to shifts already computed, show what the
   rerun costs when the cache answers;
2. **the baseline**: ``bench/trivial_app.py`` (a selectbox and a line of text) in AppTest, its
   selectbox set to a new option: the cheapest rerun, measured in the same run, so every figure
   is also a ratio to it;
3. **without Streamlit**: ``explorer.shift_lab.shift_view`` (the batched forward pass of 19
   inputs and the four stages' comparisons; its forward pass alone as it times it), the
   panels the page draws (each stage's three pictures and the two inputs as PNGs) and the
   probability curve (the plotly figure and the JSON ``st.plotly_chart`` sends).

The measured summary at the page's foot runs once per set of weights in a worker process; it
is measured first (on a small sample: 1 held-out image a class, 1 pair each, as the page test
does — only its size differs, not what the page shows for it) and waited for, so the timed
steps see the finished summary as every visitor after the first does. torch runs with one
thread, as the app sets it (``--threads`` to change). The CPU's figures depend on what else the
machine runs: the header prints the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

GOAL_MS = 300.0
STEPS = 10
WEIGHTS = "simplecnn-cifar10"
# Every whole shift but 0 (the page's default), in an order that jumps about: the first is the
# warm-up, the rest are the timed steps (so at most 15).
NEW_DX = (-8, 3, -5, 7, -2, 1, 6, -7, 4, -1, 8, -4, 2, -6, 5, -3)
SUMMARY_WAIT_S = 180.0
# The server's torch threads: app.py sets OMP_NUM_THREADS=1 (and the Dockerfile too), as every
# session is a thread of one process. torch's default, one thread per core, is far slower on a
# busy 2-core machine (the threads wait for each other): ``--threads 2`` shows it.
SERVED_THREADS = 1


def percentile_ms(times: list[float], q: float) -> float:
    return float(np.percentile(times, q))


def _row(what: str, times_ms: list[float]) -> dict:
    return {
        "what": what,
        "median_ms": statistics.median(times_ms),
        "p90_ms": percentile_ms(times_ms, 90),
        "n": len(times_ms),
    }


def timed_ms(action: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    action()
    return (time.perf_counter() - t0) * 1000.0


# ============================================================================================
# Through Streamlit: AppTest of the page and of the trivial page


@contextmanager
def page_as_served() -> Iterator[None]:
    """Run AppTest as the server runs a page once ``st.navigation`` has run: AppTest resets the
    process-wide "legacy pages/ folder" flag before each run, and the page's
    ``use_app_navigation`` would then rerun every step through app.py (tests/conftest.py,
    ``navigation_has_run``). Also the measured summary's small sample. Both undone on exit."""
    from streamlit.runtime.pages_manager import PagesManager

    from explorer.ui import shift_lab

    init = PagesManager.__init__
    sizes = shift_lab.HELD_PER_CLASS, shift_lab.PAIRS_PER_IMAGE

    def after_navigation(self, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = after_navigation  # type: ignore[method-assign]
    shift_lab.HELD_PER_CLASS, shift_lab.PAIRS_PER_IMAGE = 1, 1
    try:
        yield
    finally:
        PagesManager.__init__ = init  # type: ignore[method-assign]
        shift_lab.HELD_PER_CLASS, shift_lab.PAIRS_PER_IMAGE = sizes


def _check(at) -> None:  # noqa: ANN001
    if at.exception:
        raise RuntimeError(f"the page raised: {at.exception[0].value}")


def bench_trivial(steps: int) -> list[float]:
    """ms per rerun of the trivial page after choosing a new option (one warm-up first)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("trivial_app.py", default_timeout=60).run()
    _check(at)
    times = []
    for i in range(steps + 1):
        at.selectbox(key="trivial_choice").set_value(f"Option {i + 1}")
        elapsed = timed_ms(at.run)
        _check(at)
        if i:
            times.append(elapsed)
    return times


def bench_page(steps: int) -> tuple[list[float], list[float]]:
    """(ms per slider step to a new shift, ms per step back to a shift already computed)."""
    from streamlit.testing.v1 import AppTest

    from explorer.ui import shift_lab

    shifts = NEW_DX[: steps + 1]
    with page_as_served():
        at = AppTest.from_file("../pages/why_translation.py", default_timeout=120)
        at.query_params.update({"w": WEIGHTS})
        at.run()
        _check(at)
        deadline = time.monotonic() + SUMMARY_WAIT_S
        while not at.metric:  # the summary, measured once in a worker process
            if time.monotonic() > deadline:
                raise RuntimeError("the measured summary did not arrive in time")
            time.sleep(0.5)
            at.run()
            _check(at)
        at.run()  # settled: no more polling
        shift_lab.lab_screen.clear()
        shift_lab.curve_figure.clear()

        def step(dx: int) -> float:
            at.slider(key="shift_dx").set_value(dx)
            elapsed = timed_ms(at.run)
            _check(at)
            if at.slider(key="shift_dx").value != dx:
                raise RuntimeError(f"the slider did not move to {dx}")
            return elapsed

        fresh = [step(dx) for dx in shifts][1:]  # the first: warm-up
        cached = [step(dx) for dx in shifts[1:]]
    return fresh, cached


# ============================================================================================
# Without Streamlit: the computation, the panels and the curve


def bench_bare(steps: int) -> dict[str, list[float]]:
    """ms of each part of one step as explorer/ui/shift_lab.py's cached functions do it."""
    import plotly.io

    from explorer import render
    from explorer.model import builtin_weights
    from explorer.samples import gallery, load_gallery_image
    from explorer.shift_lab import curve_figure, input_panel, shift_view, stage_panels
    from explorer.weights_file import load_choice

    choice = next(c for c in builtin_weights() if c.key == WEIGHTS)
    model = load_choice(choice).eval()
    image = load_gallery_image(gallery("cifar10")[0])
    pre, classes = choice.preprocessing, choice.classes
    parts: dict[str, list[float]] = {"view": [], "forward": [], "panels": [], "curve": []}
    for i, dx in enumerate(NEW_DX[: steps + 1]):
        t0 = time.perf_counter()
        view = shift_view(model, image, pre, dx, 0, "x")
        t1 = time.perf_counter()
        for c in view.stages.values():
            for picture in stage_panels(c, 0):
                render.png_bytes(picture)
        for picture in (view.original_image, view.shifted_image):
            render.png_bytes(input_panel(picture))
        t2 = time.perf_counter()
        plotly.io.to_json(curve_figure(view, classes), validate=False)
        t3 = time.perf_counter()
        if i:  # the first: warm-up
            parts["view"].append((t1 - t0) * 1000)
            parts["forward"].append(view.forward_ms)
            parts["panels"].append((t2 - t1) * 1000)
            parts["curve"].append((t3 - t2) * 1000)
    return parts


# ============================================================================================
# The table


def measure(steps: int = STEPS) -> list[dict]:
    steps = max(1, min(steps, len(NEW_DX) - 1))
    trivial = bench_trivial(steps)
    fresh, cached = bench_page(steps)
    bare = bench_bare(steps)
    total = [sum(parts) for parts in zip(bare["view"], bare["panels"], bare["curve"], strict=True)]
    rows = [
        _row("baseline: trivial page rerun (new option)", trivial),
        _row("shift lab: slider step to a new shift", fresh),
        _row("shift lab: slider step to a shift computed before", cached),
        _row("  shift_view (19 inputs, 4 stages compared)", bare["view"]),
        _row("    of which the batched forward pass", bare["forward"]),
        _row("  panels: 4 stages × 3 + 2 inputs as PNG", bare["panels"]),
        _row("  curve: plotly figure + its JSON", bare["curve"]),
        _row("  all three, without Streamlit", total),
    ]
    base = rows[0]["median_ms"]
    for row in rows:
        row["ratio"] = row["median_ms"] / base
    rows[1]["goal_ms"] = GOAL_MS
    rows[1]["goal_met"] = rows[1]["median_ms"] <= GOAL_MS
    return rows


def print_table(rows: list[dict]) -> None:
    print("| what | median ms | p90 ms | × trivial rerun | ≤ 300 ms goal |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        goal = ("met" if r["goal_met"] else "MISSED") if "goal_met" in r else "—"
        print(
            f"| {r['what'].strip()} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | "
            f"{r['ratio']:.1f}× | {goal} |"
        )
    step = rows[1]
    verdict = "met" if step["goal_met"] else "MISSED"
    print(
        f"\nA slider step to a new shift: median {step['median_ms']:.0f} ms of server time over "
        f"{step['n']} step{'s' if step['n'] != 1 else ''} (goal ≤ {GOAL_MS:.0f} ms): {verdict}."
    )


def run(steps: int = STEPS, threads: int = SERVED_THREADS) -> list[dict]:
    """Measure with ``threads`` torch threads, print the table and return its rows (for
    bench.run_all); torch's thread count is restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s) for torch, "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        rows = measure(steps)
    finally:
        torch.set_num_threads(before)
    print_table(rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS, help=f"at most {len(NEW_DX) - 1}")
    parser.add_argument(
        "--threads", type=int, default=SERVED_THREADS, help="torch threads (the app's: 1)"
    )
    args = parser.parse_args()
    run(args.steps, args.threads)


if __name__ == "__main__":
    main()
