"""Performance figures for the network pages (printed, never asserted).

    python -m bench.bench_network [--no-browser] [--train-steps 200]

1. capture_activations for one image on the CPU (median of 50), and on CUDA when there is one,
   with the largest difference of every stage from the CPU's (needs only explorer/ + torch);
2. training throughput of explorer.train.train in images/s (batch 128, random data, CPU);
3. the Feature maps page in headless Chromium: time from choosing another gallery sample to
   every map shown (median of 5; target ≤ 1.0 s) and the bytes that takes — websocket frames
   plus the PNGs fetched from the media endpoint (target ≤ 1.5 MB).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from explorer.features import capture_activations, preprocess
from explorer.model import available_devices, builtin_weights
from explorer.weights_file import load_choice
from scripts.chromium import launch_chromium
from scripts.server import serve


def bench_capture(repeats: int = 50) -> list[dict]:
    choice = builtin_weights()[0]
    model = load_choice(choice)
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    x = preprocess(img, choice.preprocessing)
    rows = []
    cpu = None
    # The CPU first: every GPU's maps are compared with the CPU's.
    for dev in sorted(available_devices(), key=lambda d: d.device != "cpu"):
        if dev.device == "mps":
            continue
        on_dev = model if dev.device == "cpu" else load_choice(choice).to(dev.device).eval()
        capture_activations(on_dev, x, dev.device)  # warm-up
        times, forward = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            acts = capture_activations(on_dev, x, dev.device)
            times.append((time.perf_counter() - t0) * 1000)
            forward.append(acts.forward_ms)
        row = {
            "what": f"capture every stage, 1 image ({choice.key})",
            "device": dev.name,
            "median": f"{statistics.median(times):.2f} ms "
            f"(forward {statistics.median(forward):.2f})",
        }
        if dev.device == "cpu":
            cpu = acts
        elif cpu is not None:
            diff = max(float(np.abs(acts.stages[k] - v).max()) for k, v in cpu.stages.items())
            row["note"] = f"max |GPU − CPU| over all stages {diff:.2e}"
        rows.append(row)
    return rows


def bench_training(steps: int = 200, batch: int = 128) -> dict:
    from explorer.model import CIFAR10_CLASSES, CIFAR10_PREPROCESSING
    from explorer.train import Dataset, TrainConfig, train

    rng = np.random.default_rng(0)
    n = steps * batch
    x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, n)
    data = Dataset("random", CIFAR10_CLASSES, x, y, x[:256], y[:256], np.ones(256, bool), "random")
    cfg = TrainConfig(epochs=1, batch_size=batch, augment="crop+flip")
    _, logs = train(data, CIFAR10_PREPROCESSING, cfg, log=lambda _s: None)
    return {
        "what": f"training, {steps} steps of batch {batch} (crop+flip)",
        "device": f"CPU, {torch.get_num_threads()} threads",
        "median": f"{n / logs[0].seconds:,.0f} images/s",
    }


def bench_page(samples: int = 5) -> list[dict]:
    from playwright.sync_api import sync_playwright

    received = {"ws": 0, "media": 0}
    times, sizes = [], []
    with serve("app.py") as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        def on_ws(ws) -> None:  # noqa: ANN001
            ws.on(
                "framereceived",
                lambda payload: received.__setitem__("ws", received["ws"] + len(payload)),
            )

        def on_response(resp) -> None:  # noqa: ANN001
            if "/media/" in resp.url:  # st.image PNGs arrive over HTTP, not the websocket
                received["media"] += int(resp.headers.get("content-length", 0))

        page.on("websocket", on_ws)
        page.on("response", on_response)
        page.goto(f"{url}/")
        page.wait_for_selector("h1", timeout=60_000)
        page.get_by_test_id("stSidebarNav").get_by_text("Feature maps", exact=True).click()
        page.wait_for_selector("h4:has-text('The network says')", timeout=90_000)
        time.sleep(2)
        box = page.get_by_test_id("stSelectbox").filter(has_text="Test image")
        for i in range(samples + 1):
            box.click()
            options = page.get_by_role("option")
            option = options.nth(2 + 2 * i)
            name = option.inner_text().split(" — ")[0]
            received.update(ws=0, media=0)
            t0 = time.perf_counter()
            option.click()
            page.wait_for_function(
                "(name) => !document.querySelector('[data-testid=\"stStatusWidget\"]') && "
                "[...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                ".every(im => im.complete && im.naturalWidth > 0) && "
                "[...document.querySelectorAll('[data-testid=\"stImageCaption\"]')]"
                ".some(c => c.innerText === 'True label: ' + name)",
                arg=name,
                timeout=30_000,
                polling="raf",
            )
            elapsed = time.perf_counter() - t0
            page.wait_for_timeout(500)  # let late frames arrive (and their events fire)
            if i > 0:  # the first sample warms caches
                times.append(elapsed)
                sizes.append(received["ws"] + received["media"])
        browser.close()
    return [
        {
            "what": f"Feature maps: new gallery sample → all maps shown (median of {samples})",
            "device": "headless Chromium",
            "median": f"{statistics.median(times):.2f} s (target ≤ 1.0 s)",
            "note": f"max {max(times):.2f} s",
        },
        {
            "what": "Feature maps: bytes received for it (websocket + PNGs)",
            "device": "headless Chromium",
            "median": f"{statistics.median(sizes) / 1e6:.2f} MB (target ≤ 1.5 MB)",
        },
    ]


def print_table(rows: list[dict]) -> None:
    width = max(len(r["what"]) for r in rows)
    for r in rows:
        print(f"{r['what']:<{width}}  {r['device']:<24} {r['median']:<34} {r.get('note', '')}")


def run(browser: bool = True, train_steps: int = 200) -> list[dict]:
    """Measure, print the table and return its rows (for bench.run_all)."""
    rows = bench_capture()
    rows.append(bench_training(train_steps))
    if browser:
        rows += bench_page()
    print_table(rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--train-steps", type=int, default=200)
    args = parser.parse_args()
    run(browser=not args.no_browser, train_steps=args.train_steps)


if __name__ == "__main__":
    main()
