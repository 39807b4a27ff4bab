"""Figures for the page "Teach it your classes" (printed, never asserted).

    python -m bench.bench_own_images [--repeats 3] [--heads]

1. From clicking Train to the prediction on a new picture, 10 classes × 10 pictures (target:
   ≤ 30 s on 2 cores), the way the page does it: the job goes through a ``JobQueue`` like the
   server's (one slot, one torch thread per worker process), the bench looks at the job every
   POLL_S as the page's live panel does, and then — in this process, like the page — reads the
   state_dict with the upload's checks and runs the new picture through it. Broken down into
   the worker's start (a fresh process importing torch), the features, fc2's training, and
   the rest (the result's trip, the polling, the prediction). Then the same click again with
   every picture's features cached, as a second Train in a session is.
2. The baseline in the same run: one forward pass of SimpleCNN on one picture in this process
   (median), and the click's time as a multiple of it.
3. ``--heads``: the measurement behind training only a new fc2 (explorer/own_images.py's
   docstring): accuracy and time of a new fc2 on fc1's frozen features against fc1 learning
   too, on stand-in tasks from the shipped held-out sets.

Pictures: the first 10 of every class of the shipped CIFAR-10 held-out set (what the pictures
show does not change the time), and one more as the "new picture". Run with
``taskset -c 0,1`` on a larger machine for a 2-core figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from explorer.jobs import JobQueue
from explorer.model import build_model
from explorer.own_images import BASES, conv_features, predict, shipped_model, train_head
from explorer.training_data import load_training_set
from explorer.weights_file import load_state_dict_bytes

POLL_S = 0.5  # explorer.ui.own_classes.POLL_S: how often the page looks at the job
PER_CLASS = 10


def pictures(per_class: int = PER_CLASS) -> tuple[np.ndarray, list[int], np.ndarray]:
    """(N×32×32×3 uint8, labels, one more picture) from the shipped CIFAR-10 held-out set."""
    data = load_training_set("cifar10")
    picks = [np.flatnonzero(data.held_y == c)[: per_class + 1] for c in range(10)]
    chosen = np.concatenate([p[:per_class] for p in picks])
    x = np.ascontiguousarray(data.held_x[chosen].transpose(0, 2, 3, 1))
    new = np.ascontiguousarray(data.held_x[picks[0][per_class]].transpose(1, 2, 0))
    return x, [int(data.held_y[i]) for i in chosen], new


def forward_ms(repeats: int = 50) -> float:
    """One forward pass of SimpleCNN on one picture in this process: the median, in ms."""
    model = shipped_model("cifar10")
    _, pre = BASES["cifar10"]
    image = pictures(1)[2]
    predict(model, image, pre)  # warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        predict(model, image, pre)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def click(queue: JobQueue, cached: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """One click on Train through to the prediction on a new picture; its timings."""
    x, labels, new = pictures()
    names = [f"class {c}" for c in range(10)]
    began = time.perf_counter()
    job = queue.submit(
        "explorer.own_images:own_job",
        "bench",
        base="cifar10",
        classes=names,
        images=x,
        labels=labels,
        cached=cached or {},
        seed=0,
    )
    first_event = None
    while job.active:
        time.sleep(POLL_S)
        if first_event is None and job.events:
            first_event = time.perf_counter() - began
    if job.status != "done":
        raise RuntimeError(f"the job ended {job.status}: {job.error}")
    result = job.result
    t = time.perf_counter()
    state, k = load_state_dict_bytes(result["state_dict"])  # as the page's cached model does
    model = build_model(state, k)
    probabilities = predict(model, new, BASES["cifar10"][1])
    predict_s = time.perf_counter() - t
    total = time.perf_counter() - began
    return {
        "total_s": total,
        "start_s": total - result["seconds"]["total"] - predict_s,
        "load_s": result["seconds"]["load"],
        "features_s": result["seconds"]["features"],
        "train_s": result["seconds"]["train"],
        "predict_s": predict_s,
        "computed": result["computed"],
        "held_out_accuracy": result["held_out_accuracy"],
        "features": result["features"],
        "answer": int(np.argmax(probabilities)),
        "first_event_s": first_event,
    }


def wait_for_spare(queue: JobQueue, timeout: float = 60.0) -> None:
    """Until ``queue`` has a worker waiting with its modules imported."""
    deadline = time.monotonic() + timeout
    while not any(w.ready and w.idle for w in queue._workers):
        if time.monotonic() > deadline:
            raise RuntimeError("no spare worker became ready")
        time.sleep(0.05)


def run(repeats: int = 3) -> list[dict]:
    torch.set_num_threads(1)  # the server's own threads (app.py): the prediction runs there
    base_ms = forward_ms()
    rows = []
    from explorer.ui.train import TRAINING_PRELOAD

    # The app's queue keeps a spare worker with torch and the code imported (warm); the
    # baseline starts a fresh worker at the click, as the queue did before spares.
    cold = JobQueue(max_running=1, torch_threads=1)
    warm = JobQueue(max_running=1, torch_threads=1, keep_warm=1, preload=TRAINING_PRELOAD)
    try:
        for n in range(repeats):
            for worker, queue in (("cold", cold), ("warm", warm)):
                if worker == "warm":  # a student takes longer to add pictures than this
                    wait_for_spare(queue)
                fresh = click(queue)
                if worker == "warm":
                    wait_for_spare(queue)
                again = click(queue, fresh.pop("features"))
                again.pop("features")
                for label, row in ((f"{worker}, features computed", fresh),
                                   (f"{worker}, features cached", again)):  # fmt: skip
                    rows.append({"run": n + 1, "case": label, "forward_ms": base_ms, **row})
                    print(
                        f"run {n + 1}, {label:23}: click → prediction {row['total_s']:5.2f} s "
                        f"(= {1000 * row['total_s'] / base_ms:,.0f} forward passes of "
                        f"{base_ms:.2f} ms) — worker start {row['start_s']:.2f} s, weights "
                        f"{row['load_s']:.2f} s, features of "
                        f"{row['computed']} pictures {row['features_s']:.2f} s, fc2 "
                        f"{row['train_s']:.2f} s, prediction {1000 * row['predict_s']:.1f} ms; "
                        f"held-out {row['held_out_accuracy']:.0%}",
                        flush=True,
                    )
    finally:
        cold.shutdown()
        warm.shutdown()
    for worker in ("cold", "warm"):
        worst = max(r["total_s"] for r in rows if r["case"].startswith(worker))
        print(f"Worst click → prediction, {worker} worker: {worst:.2f} s (target ≤ 30 s)")
    ratio = max(r["total_s"] for r in rows if r["case"].startswith("cold")) / max(
        r["total_s"] for r in rows if r["case"].startswith("warm")
    )
    print(f"A warm spare answers {ratio:.1f}× sooner at worst (10 classes × 10 pictures)")
    return rows


# --------------------------------------------------------------------------------------------
# --heads: why only a new fc2 learns


def _fit(flat: torch.Tensor, y: torch.Tensor, k: int, model: Any, lr1: float, lr2: float) -> Any:
    """Train fc2 (zeros) with fc1 also learning at ``lr1`` (0: frozen); return a predictor."""
    if lr1 == 0:
        hidden = torch.relu(model.fc1(flat)).detach()
        head = train_head(hidden, y, k, lr=lr2)
        w1, b1, w2, b2 = model.fc1.weight, model.fc1.bias, head.weight, head.bias
    else:
        w1 = model.fc1.weight.detach().clone().requires_grad_(True)
        b1 = model.fc1.bias.detach().clone().requires_grad_(True)
        w2 = torch.zeros(k, 512, requires_grad=True)
        b2 = torch.zeros(k, requires_grad=True)
        opt = torch.optim.Adam([{"params": [w2, b2], "lr": lr2}, {"params": [w1, b1], "lr": lr1}])
        for _ in range(100):
            loss = F.cross_entropy(F.linear(torch.relu(F.linear(flat, w1, b1)), w2, b2), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    def answer(f: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return F.linear(torch.relu(F.linear(f, w1, b1)), w2, b2).argmax(1)

    return answer


def heads(draws: int = 5, per_class: int = 8) -> list[dict]:
    torch.set_num_threads(1)
    tasks = [("cifar10", "cifar10", 10), ("cifar10", "mnist", 10), ("cifar10", "mnist", 3)]
    variants = {
        "new fc2 only (the page)": (0.0, 0.01),
        "fc1 too, fc1 lr 3e-4": (3e-4, 0.01),
        "fc1 too, both lr 1e-3": (1e-3, 1e-3),
    }
    rows = []
    for base, data_name, k in tasks:
        model = shipped_model(base)
        data = load_training_set(data_name)
        pool = np.flatnonzero(data.held_y < k)
        x = np.ascontiguousarray(data.held_x[pool].transpose(0, 2, 3, 1))
        flat = torch.from_numpy(conv_features(model, x, BASES[base][1]))
        y = torch.from_numpy(data.held_y[pool])
        for name, (lr1, lr2) in variants.items():
            accuracy, seconds = [], []
            for draw in range(draws):
                rng = np.random.default_rng(draw)
                train = np.concatenate(
                    [rng.permutation(np.flatnonzero(y.numpy() == c))[:per_class] for c in range(k)]
                )
                rest = np.setdiff1d(np.arange(len(y)), train)
                t = time.perf_counter()
                answer = _fit(flat[train], y[train], k, model, lr1, lr2)
                seconds.append(time.perf_counter() - t)
                accuracy.append(float((answer(flat[rest]) == y[rest]).float().mean()))
            row = {
                "base": base,
                "pictures": data_name,
                "classes": k,
                "head": name,
                "accuracy": float(np.mean(accuracy)),
                "spread": float(np.std(accuracy)),
                "seconds": float(np.mean(seconds)),
            }
            rows.append(row)
            print(
                f"{base} network, {k} {data_name} classes × {per_class} pictures, {name:24}: "
                f"{row['accuracy']:.1%} ± {row['spread']:.1%} on {len(rest):,} held-out, "
                f"{row['seconds']:.2f} s",
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--heads", action="store_true", help="compare the heads instead")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{platform.processor() or platform.machine()}, {cores} cores usable, torch "
          f"{torch.__version__}")  # fmt: skip
    if args.heads:
        heads()
    else:
        run(args.repeats)


if __name__ == "__main__":
    main()
