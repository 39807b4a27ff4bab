"""Performance figures for "Inside the network" (printed, never asserted).

    python -m bench.bench_attribution [--repeats 20] [--threads N]

On every device there is (the CPU always, CUDA when present), one CIFAR-10 gallery image and
the shipped CIFAR-10 weights, each figure the median of ``--repeats`` runs after a warm-up:

* the baseline: one plain forward pass (``model(x)`` without gradients), in the same run, so
  every other figure is also given as a multiple of it;
* Grad-CAM + saliency for one image (target ≤ 150 ms on the CPU), on a ready private copy;
* integrated gradients (64 points) alone, and the page's whole ``attribute`` call (a private
  deep copy, then all three methods);
* activation maximisation of one conv3 map, 256 steps (target ≤ 3 s; median of 3 runs);
* conv3's response to the 20 gallery images, and ``explain`` for a conv3 cell and an fc1 unit.

The CPU's figures depend on how many threads torch may use and on what else the machine runs:
they are measured with torch's default number of threads and with one, and the header prints
the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from explorer import attribution
from explorer.features import capture_activations, preprocess
from explorer.inside import explain
from explorer.model import available_devices, builtin_weights
from explorer.samples import gallery, load_gallery_image
from explorer.weights_file import load_choice


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_ms(action: Callable[[], object], repeats: int, device: str) -> float:
    """The median wall time of ``action`` in ms, after one warm-up call."""
    action()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        action()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_device(device: str, name: str, repeats: int) -> list[dict]:
    choice = next(c for c in builtin_weights() if c.key == "simplecnn-cifar10")
    pre = choice.preprocessing
    model = load_choice(choice).to(device).eval()
    items = gallery("cifar10")
    images = np.stack([load_gallery_image(i) for i in items])
    x = preprocess(images[0], pre)
    xd = x.to(device)
    net = attribution.private_copy(model, device)
    inp = xd.clone().requires_grad_(True)
    target = 3

    def forward() -> None:
        with torch.no_grad():
            model(xd)

    base = median_ms(forward, max(repeats, 50), device)
    rows = [{"what": "baseline: one forward pass (no gradients)", "ms": base}]

    def cam_and_saliency() -> None:
        attribution.grad_cam(net, inp, target)
        attribution.saliency(net, inp, target)

    rows.append(
        {
            "what": "Grad-CAM + saliency, 1 image (target ≤ 150 ms)",
            "ms": median_ms(cam_and_saliency, repeats, device),
        }
    )
    baseline = attribution.black_baseline(pre).to(device)
    rows.append(
        {
            "what": f"integrated gradients, {attribution.IG_STEPS} points",
            "ms": median_ms(
                lambda: attribution.integrated_gradients(net, inp, target, baseline),
                repeats,
                device,
            ),
        }
    )
    rows.append(
        {
            "what": "attribute(): private copy + all three (the page's call)",
            "ms": median_ms(
                lambda: attribution.attribute(model, x, target, pre, device),
                max(3, repeats // 4),
                device,
            ),
        }
    )
    steps = attribution.MAXIMISE_STEPS
    rows.append(
        {
            "what": f"activation maximisation, {steps} steps (target ≤ 3 s)",
            "ms": median_ms(
                lambda: attribution.maximise_channel(model, pre, 17, device=device), 3, device
            ),
        }
    )
    rows.append(
        {
            "what": f"conv3 response to the {len(images)} gallery images",
            "ms": median_ms(
                lambda: attribution.gallery_responses(model, images, pre, device), repeats, device
            ),
        }
    )
    acts = capture_activations(model, x, device)
    for stage, cell in (("conv3", (17, 3, 4)), ("fc1", (100,))):
        rows.append(
            {
                "what": f"explain {stage}{list(cell)} (float64 arithmetic)",
                "ms": median_ms(
                    lambda s=stage, c=cell: explain(model, x, acts, s, c), repeats, device
                ),
            }
        )
    for row in rows:
        row["device"] = name
        row["ratio"] = row["ms"] / base
    return rows


def print_table(rows: list[dict]) -> None:
    width = max(len(r["what"]) for r in rows)
    for r in rows:
        print(
            f"{r['what']:<{width}}  {r['device']:<28} {r['ms']:>10.2f} ms  "
            f"{r['ratio']:>9.1f}× the forward pass"
        )


def run(repeats: int = 20) -> list[dict]:
    """Measure on every device, print the table and return its rows (for bench.run_all)."""
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads for torch, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    rows: list[dict] = []
    for dev in available_devices():
        if dev.device == "mps":
            continue  # torch.mps has no timing barrier we trust here
        if dev.device != "cpu":
            rows += bench_device(dev.device, dev.name, repeats)
            continue
        # On a busy machine torch's threads wait for one another far longer than they work;
        # one thread shows what the arithmetic itself costs.
        threads = torch.get_num_threads()
        for n in sorted({threads, 1}, reverse=True):
            torch.set_num_threads(n)
            rows += bench_device("cpu", f"CPU, {n} thread{'s' if n > 1 else ''}", repeats)
        torch.set_num_threads(threads)
    print_table(rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run(args.repeats)


if __name__ == "__main__":
    main()
