"""Train SimpleCNN reproducibly and write its weights with a model card.

    python -m explorer.train cifar10 --data PATH/cifar-10-batches-py --epochs 40
    python -m explorer.train mnist   --data PATH/mnist.npz           --epochs 12

CIFAR-10 is read from the standard ``cifar-10-batches-py`` layout (the official download works
as it is). When a batch carries the extra key ``exact`` (0/1 per image, as written by the
shared data's ``build_full_cifar10.py``, where most pixels come from a lossy JPEG copy), test
accuracy is reported on the exact images only, and on all test images as a second figure.
MNIST is read from an ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (the Keras
``mnist.npz`` layout); digits are padded from 28×28 to 32×32 and repeated on three channels.

The output is ``OUT/simplecnn-<dataset>.pt`` (a plain ``state_dict``), ``.json`` (the model card
the app reads) and ``.md`` (the same card for people). ``--record FILE.npz`` also writes the run's
replay (``explorer.replay``: conv1's filters, the gallery's predictions and the held-out
predictions at every epoch, with the curves); recording does not change the weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.model import (
    CIFAR10_CLASSES,
    CIFAR10_PREPROCESSING,
    DIGIT_CLASSES,
    MNIST_PREPROCESSING,
    Preprocessing,
    SimpleCNN,
    normalise,
)
from explorer.model_input import pad_digits
from explorer.replay import Recorder

# What a replay keeps of the model card: enough to say how the run was made and to find its
# weights (``weights_sha256``).
REPLAY_CARD_FIELDS = (
    "name",
    "dataset",
    "source",
    "train_images",
    "test_images_exact",
    "augmentation",
    "training",
    "test_accuracy",
    "device",
    "seconds",
    "torch",
    "weights_sha256",
)


@dataclass
class Dataset:
    """Images as uint8 N×3×32×32 and int64 labels; ``test_exact`` marks test images whose pixels
    are the original ones (all True unless the source says otherwise)."""

    name: str
    classes: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_exact: np.ndarray
    source: str
    notes: list[str] = field(default_factory=list)


@dataclass
class TrainConfig:
    """Defaults chosen for SimpleCNN, which has no batch norm: SGD with Nesterov momentum and a
    one-cycle schedule trains it stably at a high peak rate and ends with a small one."""

    epochs: int = 40
    batch_size: int = 128
    max_lr: float = 0.05  # peak of the one-cycle schedule
    momentum: float = 0.9
    weight_decay: float = 5e-4  # on weights only; biases are not decayed
    seed: int = 0
    augment: str = "crop+flip"  # "crop+flip" (photos), "affine" (digits), "none"
    threads: int = 0  # 0: all cores


# --------------------------------------------------------------------------------------------
# Data


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batch files, allowing only the NumPy array constructors they use, so a
    tampered data file cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        # Protocol-2 pickles written by Python 3 encode bytes through codecs.encode: harmless.
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201 — pickle protocol
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch file")


def read_cifar_batch(path: Path) -> dict:
    """One ``cifar-10-batches-py`` batch file as a dict with str keys (restricted unpickling)."""
    with open(path, "rb") as f:
        raw = _ArrayUnpickler(f, encoding="bytes").load()
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}


def load_cifar10(folder: Path) -> Dataset:
    """Read ``data_batch_1..5`` and ``test_batch`` from a ``cifar-10-batches-py`` folder."""
    folder = Path(folder)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    # (images, labels, exact-image flags) per batch
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {"train": [], "test": []}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        path = folder / name
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: not a cifar-10-batches-py folder")
        batch = read_cifar_batch(path)
        data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch["labels"][: len(data)], dtype=np.int64)
        exact = np.asarray(batch.get("exact", np.ones(len(data))), dtype=bool)[: len(data)]
        parts["test" if name == "test_batch" else "train"].append((data, labels, exact))
    x_train = np.concatenate([p[0] for p in parts["train"]])
    y_train = np.concatenate([p[1] for p in parts["train"]])
    x_test, y_test, test_exact = parts["test"][0]
    train_exact = np.concatenate([p[2] for p in parts["train"]])
    notes = [
        f"Training images: {len(x_train):,} (the five training batches; "
        f"{int(train_exact.sum()):,} with original pixels, the rest decoded from a JPEG copy). "
        "No test image is used for training.",
        f"Test images: {len(x_test):,}, of which {int(test_exact.sum()):,} have the original "
        "pixels; the headline accuracy is measured on those only.",
    ]
    return Dataset(
        "cifar10",
        CIFAR10_CLASSES,
        x_train,
        y_train,
        x_test,
        y_test,
        test_exact,
        str(folder),
        notes,
    )


def mnist_to_32(images: np.ndarray) -> np.ndarray:
    """N×28×28 uint8 digits → N×3×32×32: 2 px of black on every side, repeated on 3 channels
    (``model_input.pad_digits``, the same padding the app gives a drawn digit)."""
    return pad_digits(images, channel_axis=1)


def load_mnist(path: Path) -> Dataset:
    """Read an ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (uint8 28×28)."""
    with np.load(path, allow_pickle=False) as z:
        x_train, y_train = z["x_train"], z["y_train"].astype(np.int64)
        x_test, y_test = z["x_test"], z["y_test"].astype(np.int64)
    notes = [
        f"Training images: {len(x_train):,}; test images: {len(x_test):,} (the official split).",
        "Digits padded from 28×28 to 32×32 with black and repeated on three channels.",
    ]
    return Dataset(
        "mnist",
        DIGIT_CLASSES,
        mnist_to_32(x_train),
        y_train,
        mnist_to_32(x_test),
        y_test,
        np.ones(len(x_test), dtype=bool),
        str(path),
        notes,
    )


# --------------------------------------------------------------------------------------------
# Augmentation (on normalised N×3×32×32 float tensors; vectorised, seeded by a Generator)


def augment_crop_flip(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random 32×32 crops of the image padded by ``pad`` (zeros = the mean colour after
    normalisation), and a horizontal flip for half of the images."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None]  # N×1×H×1
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :]  # N×1×1×W
    batch = torch.arange(n)[:, None, None, None]
    chans = torch.arange(x.shape[1])[None, :, None, None]
    out = padded[batch, chans, rows, cols]
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(3)
    return out


def augment_affine(x: torch.Tensor, gen: torch.Generator, background: float = 0.0) -> torch.Tensor:
    """Small random rotations (±12°), scalings (0.9–1.1) and shifts (±2.5 px) for digits, so
    that the network also reads digits drawn by hand on the canvas. ``background`` is the
    normalised value of black."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * (12 * np.pi / 180)
    scale = 0.9 + torch.rand(n, generator=gen) * 0.2
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2.5 / 16)  # in [-1, 1] units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x - background, grid, align_corners=False, padding_mode="zeros")
    return out + background


# --------------------------------------------------------------------------------------------
# Training and evaluation


@dataclass
class EpochLog:
    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float
    seconds: float


def evaluate(
    model: nn.Module, x: torch.Tensor, batch_size: int = 1000, device: str = "cpu"
) -> np.ndarray:
    """Predicted class for each normalised image."""
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            preds.append(model(x[i : i + batch_size].to(device)).argmax(1).cpu())
    return torch.cat(preds).numpy()


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """k×k counts: row = true class, column = predicted class."""
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    gen = torch.Generator().manual_seed(seed)
    return gen


def train(
    data: Dataset,
    pre: Preprocessing,
    cfg: TrainConfig,
    device: str = "cpu",
    log: Callable[[str], None] = print,
    on_epoch: Callable[[int, SimpleCNN], None] | None = None,
) -> tuple[SimpleCNN, list[EpochLog]]:
    """Train a fresh SimpleCNN on ``data``; return it (eval mode, CPU) and one log per epoch.

    ``on_epoch(epoch, model)`` (e.g. a ``replay.Recorder``) sees the seeded start as epoch 0 and
    the model after each epoch; it must leave the model and the random generators as it found
    them."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    gen = seed_everything(cfg.seed)
    model = SimpleCNN(len(data.classes)).to(device)
    x_train = normalise(torch.from_numpy(data.x_train), pre)
    y_train = torch.from_numpy(data.y_train)
    x_test = normalise(torch.from_numpy(data.x_test), pre)
    black = float(-pre.mean[0] / pre.std[0])

    decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
    no_decay = [p for n, p in model.named_parameters() if not n.endswith("weight")]
    groups: list[dict[str, Any]] = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay},
    ]
    opt = torch.optim.SGD(
        groups,
        lr=cfg.max_lr,
        momentum=cfg.momentum,
        nesterov=True,
    )
    steps = (len(x_train) + cfg.batch_size - 1) // cfg.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.max_lr, epochs=cfg.epochs, steps_per_epoch=steps
    )
    logs: list[EpochLog] = []
    if on_epoch is not None:
        on_epoch(0, model)
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        total_loss, correct = 0.0, 0
        for step in range(steps):
            idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            if cfg.augment == "crop+flip":
                xb = augment_crop_flip(xb, gen)
            elif cfg.augment == "affine":
                xb = augment_affine(xb, gen, background=black)
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            if step % 50 == 0:
                print(
                    f"\r  epoch {epoch}/{cfg.epochs}  step {step + 1}/{steps}  "
                    f"loss {loss.item():.3f}",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
        exact = data.test_exact
        preds = evaluate(model, x_test[torch.from_numpy(exact)], device=device)
        test_acc = float((preds == data.y_test[exact]).mean())
        entry = EpochLog(
            epoch,
            total_loss / len(x_train),
            correct / len(x_train),
            test_acc,
            time.perf_counter() - t0,
        )
        logs.append(entry)
        log(
            f"\repoch {epoch:3d}/{cfg.epochs}  loss {entry.loss:.4f}  train acc "
            f"{entry.train_accuracy:.4f}  test acc {entry.test_accuracy:.4f}  "
            f"lr {sched.get_last_lr()[0]:.4f}  {entry.seconds:.1f}s"
        )
        if on_epoch is not None:
            on_epoch(epoch, model)
    return model.cpu().eval(), logs


def model_card(
    data: Dataset,
    pre: Preprocessing,
    cfg: TrainConfig,
    model: SimpleCNN,
    logs: list[EpochLog],
    device_name: str,
    seconds: float,
    weights_sha256: str,
) -> dict:
    """Everything a user needs to judge the weights, computed from the trained model."""
    x_test = normalise(torch.from_numpy(data.x_test), pre)
    preds = evaluate(model, x_test)
    exact = data.test_exact
    k = len(data.classes)
    cm = confusion_matrix(data.y_test[exact], preds[exact], k)
    per_class = {c: float(cm[i, i] / max(cm[i].sum(), 1)) for i, c in enumerate(data.classes)}
    card = {
        "name": f"simplecnn-{data.name}",
        "architecture": "SimpleCNN (3→32→64→128 conv 3×3 pad 1, ReLU, 2×2 max-pool; "
        "2048→512→classes, dropout 0.5)",
        "dataset": data.name,
        "classes": list(data.classes),
        "source": data.source,
        "data_notes": data.notes,
        "train_images": int(len(data.x_train)),
        "test_images": int(len(data.x_test)),
        "test_images_exact": int(exact.sum()),
        "preprocessing": asdict(pre),
        "augmentation": {
            "crop+flip": "random 32×32 crop of the image padded by 4 px, horizontal flip p=0.5",
            "affine": "random rotation ±12°, scale 0.9–1.1, shift ±2.5 px",
            "none": "none",
        }[cfg.augment],
        "training": asdict(cfg)
        | {
            "optimizer": "SGD, Nesterov momentum, one-cycle learning-rate schedule",
            "loss": "cross-entropy",
        },
        "test_accuracy": float((preds[exact] == data.y_test[exact]).mean()),
        "test_accuracy_all": float((preds == data.y_test).mean()),
        "per_class_accuracy": per_class,
        "confusion_matrix": cm.tolist(),
        "epochs_log": [asdict(e) for e in logs],
        "device": device_name,
        "seconds": round(seconds, 1),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "weights_sha256": weights_sha256,
    }
    return card


def card_markdown(card: dict) -> str:
    """The model card for people."""
    classes = card["classes"]
    lines = [
        f"# Model card: {card['name']}",
        "",
        f"**Architecture:** {card['architecture']}  ",
        f"**Dataset:** {card['dataset']} ({card['train_images']:,} training images, "
        f"{card['test_images']:,} test images)  ",
        f"**Test accuracy:** {card['test_accuracy'] * 100:.2f}% on "
        f"{card['test_images_exact']:,} test images with original pixels"
        + (
            f" ({card['test_accuracy_all'] * 100:.2f}% on all {card['test_images']:,})"
            if card["test_images_exact"] != card["test_images"]
            else ""
        ),
        "",
        "## Data",
        *[f"- {n}" for n in card["data_notes"]],
        "",
        "## Preprocessing and augmentation",
        f"- Normalisation per channel: mean {card['preprocessing']['mean']}, "
        f"std {card['preprocessing']['std']} (on pixel values scaled to [0, 1]).",
        f"- Augmentation: {card['augmentation']}.",
        "",
        "## Training",
        f"- {card['training']['optimizer']}, {card['training']['epochs']} epochs, batch "
        f"{card['training']['batch_size']}, peak learning rate {card['training']['max_lr']}, "
        f"weight decay {card['training']['weight_decay']}, seed {card['training']['seed']}.",
        f"- Device: {card['device']}; time: {card['seconds'] / 60:.1f} min; "
        f"torch {card['torch']}, Python {card['python']}.",
        f"- Weights SHA-256: `{card['weights_sha256']}`",
        "",
        "## Per-class accuracy",
        "",
        "| class | accuracy |",
        "| --- | --- |",
        *[f"| {c} | {card['per_class_accuracy'][c] * 100:.1f}% |" for c in classes],
        "",
        "## Confusion matrix (rows: true class, columns: predicted)",
        "",
        "| | " + " | ".join(classes) + " |",
        "| --- " * (len(classes) + 1) + "|",
        *[
            f"| **{c}** | " + " | ".join(str(v) for v in row) + " |"
            for c, row in zip(classes, card["confusion_matrix"], strict=True)
        ],
        "",
        "Reproduce with `python -m explorer.train "
        f"{card['dataset']} --data {card['source']} --epochs {card['training']['epochs']} "
        f"--seed {card['training']['seed']}`.",
        "",
    ]
    return "\n".join(lines)


def make_recorder(data: Dataset, pre: Preprocessing) -> Recorder:
    """A recorder for ``data``'s run: the app's gallery images of that dataset (none for other
    data) and the held-out images the headline accuracy is measured on."""
    from explorer.samples import GALLERY_DATASETS, gallery, load_gallery_image

    items = gallery(data.name) if data.name in GALLERY_DATASETS else []
    pictures = (
        np.stack([load_gallery_image(i).transpose(2, 0, 1) for i in items])
        if items
        else (np.zeros((0, 3, 32, 32), dtype=np.uint8))
    )
    exact = data.test_exact
    return Recorder(
        data.name,
        data.classes,
        normalise(torch.from_numpy(pictures), pre),
        np.array([i.label for i in items], dtype=np.int64),
        [i.key for i in items],
        normalise(torch.from_numpy(data.x_test[exact]), pre),
        data.y_test[exact],
    )


def save(model: SimpleCNN, card_fn: Callable[[str], dict], out: Path, name: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{name}.pt"
    torch.save(model.state_dict(), weights)
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    card = card_fn(sha)
    (out / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n")
    (out / f"{name}.md").write_text(card_markdown(card))
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=["cifar10", "mnist"])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder or .npz")
    parser.add_argument("--out", type=Path, default=Path("assets/weights"))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, help="use only the first N training images")
    parser.add_argument("--device", default="auto", help="cuda, mps, cpu or auto")
    parser.add_argument("--record", type=Path, help="also write the run's replay to this .npz")
    args = parser.parse_args(argv)

    if args.dataset == "cifar10":
        data, pre = load_cifar10(args.data), CIFAR10_PREPROCESSING
        cfg = TrainConfig(epochs=args.epochs or 40, augment="crop+flip")
    else:
        data, pre = load_mnist(args.data), MNIST_PREPROCESSING
        cfg = TrainConfig(epochs=args.epochs or 12, max_lr=0.05, augment="affine")
    cfg.seed, cfg.batch_size = args.seed, args.batch_size
    if args.lr:
        cfg.max_lr = args.lr
    if args.limit:
        data.x_train, data.y_train = data.x_train[: args.limit], data.y_train[: args.limit]
        data.notes.append(f"Limited to the first {args.limit:,} training images.")
    from explorer.model import best_device

    dev = best_device() if args.device == "auto" else None
    device = dev.device if dev else args.device
    device_name = dev.name if dev else args.device
    if device == "cpu":
        device_name = f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    print(f"Training SimpleCNN on {data.name}: {len(data.x_train):,} images, {device_name}")
    t0 = time.perf_counter()
    recorder = make_recorder(data, pre) if args.record else None
    model, logs = train(data, pre, cfg, device=device, on_epoch=recorder)
    seconds = time.perf_counter() - t0
    name = f"simplecnn-{data.name}"
    card = save(
        model,
        lambda sha: model_card(data, pre, cfg, model, logs, device_name, seconds, sha),
        args.out,
        name,
    )
    if recorder is not None:
        meta = {k: card[k] for k in REPLAY_CARD_FIELDS}
        recorder.save(args.record, card["epochs_log"], meta)
        print(f"Wrote the replay to {args.record}")
    print(
        f"Test accuracy {card['test_accuracy'] * 100:.2f}% "
        f"({card['test_images_exact']:,} exact test images); wrote {args.out / name}.pt/.json/.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
