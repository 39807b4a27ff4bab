"""Figures for the page "Train" (printed, never asserted).

    python -m bench.bench_training [--threads 1] [--skip-cifar] [--cifar-epochs 20]
    CNNX_FULL_DATA=DIR python -m bench.bench_training --full-cifar 5,13 --threads 2

1. MNIST with the default TrainSettings through ``train_job`` (a no-op control, an emit that
   only records): the job's seconds, its held-out accuracy, and when the held-out accuracy
   first reached 98 % (target: ≥ 98.5 % within about 60 s on two cores);
2. throughput: ``train_job``'s images/s (training time only, as the page shows it) against
   ``train_bare``'s for the same settings (target ≥ 80 %), and the whole job's time against the
   bare loop's (held-out evaluations included);
3. what the loop's choices buy, on 2,560 digits: channels-last against the default layout, and
   tensors held in memory against a torch DataLoader;
4. CIFAR-10 on the shipped subset (5,000 images) with settings worth about 3 minutes here:
   held-out accuracy and time;
5. ``--full-cifar E1,E2``: CIFAR-10's full 50,000 training images (a server's full copy, the
   folder in ``CNNX_FULL_DATA`` as the app reads it; see explorer/training_data.py), one run per
   epoch count with ``FULL_CIFAR_SETTINGS`` through the page's own loop (``train_bare``): the
   loop's seconds and the accuracy on all 10,000 test images (targets: ≥ 70 % within 3 minutes,
   ≥ 80 % within 8). Give it ``--threads 2`` on two otherwise idle cores, as a server lets one
   job have the machine: one torch thread halves the speed (59 vs 29 s an epoch here).

``--threads``: torch's intra-op threads (default 1, what the job queue gives a worker: on a
shared 2-core machine two threads spin-wait on each other and go slower, see explorer/jobs.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from explorer.live_training import ALL_IMAGES, TrainSettings, train_bare, train_job
from explorer.model import SimpleCNN, normalise
from explorer.train import evaluate
from explorer.training_data import load_training_set

# About 3 minutes on one thread of the development CPU. Measured with the bare loop (held-out
# accuracy on the 1,017 exact test images, training seconds), all with crop+flip augmentation
# (without it 5,000 photographs are learnt by heart within a few epochs):
#   SGD 0.05, batch 128, 20 epochs  61.55 %  (the whole job: 171 s)
#   SGD 0.05, batch 128, 25 epochs  64.50 %  155 s    SGD 0.02, batch 64, 15 epochs  60.57 %
#   SGD 0.05, batch 64, 15 epochs   65.49 %   91 s    SGD 0.05, batch 64, 24 epochs  68.04 %  141 s
#   Adam 0.002, batch 64, 15 epochs 65.78 %   83 s    Adam 0.002, batch 32, 15 ep.   66.67 %  118 s
#   Adam 0.002, batch 64, 24 epochs 69.62 %  159 s
CIFAR_SETTINGS = TrainSettings(
    dataset="cifar10",
    images=5_000,
    epochs=22,
    batch=64,
    optimiser="adam",
    lr=0.002,
    schedule="onecycle",
    weight_decay=5e-4,
    augment=True,
)

# The full training set: SGD with momentum and one-cycle, which reaches its accuracy in fewer
# epochs than Adam here; augmentation on (without it the network overfits by the 5th epoch).
FULL_CIFAR_SETTINGS = TrainSettings(
    dataset="cifar10",
    full_data=True,
    images=ALL_IMAGES,
    epochs=5,
    batch=128,
    optimiser="sgd",
    lr=0.05,
    schedule="onecycle",
    augment=True,
    seed=0,
)


class NoControl:
    stepping = False

    def checkpoint(self) -> None:
        return None


def watched_run(settings: TrainSettings) -> dict[str, Any]:
    """Run train_job, recording every event with the wall time it was emitted at."""
    events: list[tuple[float, dict]] = []
    t0 = time.perf_counter()
    result = train_job(
        NoControl(),
        lambda e: events.append((time.perf_counter() - t0, e)),
        dataclasses.asdict(settings),
    )
    wall = time.perf_counter() - t0
    held = [(t, e) for t, e in events if e["kind"] == "held_out"]
    progress = [e for _, e in events if e["kind"] == "progress"][-1]
    return {"result": result, "wall": wall, "held": held, "progress": progress, "events": events}


def first_reaching(held: list[tuple[float, dict]], target: float) -> str:
    for t, e in held:
        if e["accuracy"] >= target:
            return f"{t:.1f} s (step {e['step']})"
    return "never"


def bench_defaults() -> tuple[list[dict], dict]:
    settings = TrainSettings()
    run = watched_run(settings)
    r, p = run["result"], run["progress"]
    rows = [
        {
            "what": "MNIST, default settings, train_job",
            "settings": dataclasses.asdict(settings),
            "held_out_accuracy": f"{r['held_out_accuracy'] * 100:.2f} %",
            "seconds": f"{r['seconds']:.1f} s (wall {run['wall']:.1f} s, of which held-out "
            f"evaluation {p['eval_seconds']:.1f} s in {len(run['held'])} evaluations)",
            "first ≥ 98 %": first_reaching(run["held"], 0.98),
            "first ≥ 98.5 %": first_reaching(run["held"], 0.985),
            "events": f"{len(run['events'])}",
        }
    ]
    return rows, run


def bench_throughput(run: dict) -> list[dict]:
    settings = TrainSettings()
    _, bare_s = train_bare(settings)
    images = run["progress"]["images_seen"]
    bare = images / bare_s
    job = run["progress"]["images_per_s"]
    return [
        {
            "what": "throughput, MNIST defaults",
            "train_bare": f"{bare:.0f} images/s ({bare_s:.1f} s)",
            "train_job": f"{job:.0f} images/s (training time only)",
            "ratio": f"{job / bare * 100:.0f} % (target ≥ 80 %)",
            "whole job vs bare loop": f"{run['result']['seconds']:.1f} s vs {bare_s:.1f} s "
            f"({bare_s / run['result']['seconds'] * 100:.0f} %, held-out evaluations included)",
        }
    ]


def _loop(x: torch.Tensor, y: torch.Tensor, batch: int, layout: torch.memory_format) -> float:
    """images/s of plain SGD steps over (x, y) in memory, normalising each batch."""
    torch.manual_seed(0)
    model = SimpleCNN().train()
    model.to(memory_format=layout)  # type: ignore[call-overload]  # (torch's stub lacks it)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    pre = load_training_set("mnist").preprocessing
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        xb = normalise(x[i : i + batch], pre).contiguous(memory_format=layout)
        loss = F.cross_entropy(model(xb), y[i : i + batch])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
    return len(x) / (time.perf_counter() - t0)


def _dataloader_loop(x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    torch.manual_seed(0)
    model = SimpleCNN().train()
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    pre = load_training_set("mnist").preprocessing
    t0 = time.perf_counter()
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, num_workers=0)
    for xb, yb in loader:
        xb = normalise(xb, pre).contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
    return len(x) / (time.perf_counter() - t0)


def bench_choices(n: int = 2560, batch: int = 128) -> list[dict]:
    data = load_training_set("mnist")
    x = torch.from_numpy(np.array(data.train_x[:n]))
    y = torch.from_numpy(np.array(data.train_y[:n]))
    figures: dict[str, list[float]] = {"default": [], "channels_last": [], "dataloader": []}
    for _ in range(2):  # alternate, best of two: the machine may be shared
        figures["default"].append(_loop(x, y, batch, torch.contiguous_format))
        figures["channels_last"].append(_loop(x, y, batch, torch.channels_last))
        figures["dataloader"].append(_dataloader_loop(x, y, batch))
    best = {k: max(v) for k, v in figures.items()}
    return [
        {
            "what": f"layout, {n:,} digits, batch {batch}",
            "default (NCHW)": f"{best['default']:.0f} images/s",
            "channels-last": f"{best['channels_last']:.0f} images/s "
            f"({best['channels_last'] / best['default']:.2f}×)",
        },
        {
            "what": f"input, {n:,} digits, batch {batch}, channels-last",
            "tensors in memory": f"{best['channels_last']:.0f} images/s",
            "DataLoader (TensorDataset, 0 workers)": f"{best['dataloader']:.0f} images/s",
        },
    ]


def bench_cifar(settings: TrainSettings) -> list[dict]:
    run = watched_run(settings)
    r, p = run["result"], run["progress"]
    return [
        {
            "what": "CIFAR-10 subset, ~3 minutes' settings",
            "settings": dataclasses.asdict(settings),
            "held_out_accuracy": f"{r['held_out_accuracy'] * 100:.2f} % on 1,017 exact test images",
            "seconds": f"{r['seconds']:.1f} s ({p['images_per_s']:.0f} images/s training; "
            f"held-out evaluation {p['eval_seconds']:.1f} s)",
            "best held-out on the way": f"{max(e['accuracy'] for _, e in run['held']) * 100:.2f} %",
        }
    ]


def bench_full_cifar(epochs: int) -> list[dict]:
    """One run of the full training set with ``epochs`` epochs: the accuracy on the 10,000 test
    images against the loop's seconds."""
    data = load_training_set("cifar10", full=True)
    model, seconds = train_bare(dataclasses.replace(FULL_CIFAR_SETTINGS, epochs=epochs))
    x = normalise(torch.from_numpy(data.held_x.copy()), data.preprocessing)
    accuracy = float((evaluate(model, x) == data.held_y).mean())
    return [
        {
            "what": f"full CIFAR-10, {epochs} epochs",
            "training images": f"{len(data.train_x):,}",
            "held_out_accuracy": f"{accuracy * 100:.2f} % on {len(x):,} test images",
            "seconds": f"{seconds:.0f} s ({len(data.train_x) * epochs / seconds:.0f} images/s)",
        }
    ]


def run(
    threads: int = 1,
    cifar: bool = True,
    cifar_epochs: int | None = None,
    full_cifar: tuple[int, ...] = (),
) -> list[dict]:
    torch.set_num_threads(threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    rows: list[dict] = []

    def show(new: list[dict]) -> None:
        for row in new:
            print("  " + "; ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
        rows.extend(new)

    if full_cifar:  # a section of its own: minutes a run, the machine to itself
        for epochs in full_cifar:
            show(bench_full_cifar(epochs))
        return rows
    default_rows, default_run = bench_defaults()
    show(default_rows)
    show(bench_throughput(default_run))
    show(bench_choices())
    if cifar:
        settings = CIFAR_SETTINGS
        if cifar_epochs:
            settings = dataclasses.replace(settings, epochs=cifar_epochs)
        show(bench_cifar(settings))
    print(f"  (load average at the end {os.getloadavg()[0]:.2f})")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-cifar", action="store_true")
    parser.add_argument("--cifar-epochs", type=int)
    parser.add_argument(
        "--full-cifar",
        help="only the full CIFAR-10 runs, these epoch counts (e.g. 5,13); needs CNNX_FULL_DATA",
    )
    args = parser.parse_args()
    full = tuple(int(e) for e in args.full_cifar.split(",")) if args.full_cifar else ()
    run(args.threads, not args.skip_cifar, args.cifar_epochs, full)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
