"""Teaching the shipped SimpleCNN a student's own classes, Teachable-Machine style: the
computation core of the page "Teach it your classes" (Streamlit-free).

A student makes 2–10 classes with at least 5 pictures each. The shipped network's convolution
stack stays frozen: it turns every picture into its 2,048 ``flatten`` numbers once (cached by
the picture's content, so adding one picture and training again computes one picture's
features), and only a new ``fc2`` — one row of 512 weights and a bias per class — learns, on
fc1's ReLU outputs for those features (fc1 is the shipped one, frozen too). The result is an
ordinary ``SimpleCNN(num_classes=K)``: the shipped conv1–conv3 and fc1, the new fc2.

Why only a new fc2 (a logistic regression on fc1's 512 features): measured with
``python -m bench.bench_own_images --heads`` on stand-in tasks — 8 training pictures a class
drawn from the shipped held-out sets (which neither network was trained on), tested on all the
other held-out pictures of those classes, mean of 5 draws, one torch thread:

HEADS_TABLE

Letting fc1 (a million weights) learn too helps pictures unlike the base network's own
(digits through the photo network) by a few points, hurts pictures like them, and takes
several times longer; a new fc2 alone (K×513 numbers) is quick, keeps what fc1 knows, and with
ten pictures a class has less room to learn them by heart. So only fc2 learns.

Reproducible: fc2 starts at zero and learns with full-batch Adam for a fixed number of steps,
so the same pictures, classes and split give the same weights; the seed only decides which
pictures are held out (``held_out_split``).

``own_job(control, emit, ...)`` is a job function for the server's queue (``explorer.jobs``):
it runs in a worker process, calls ``control.checkpoint()`` between batches of features and
between training steps, and emits plain-data events:

* ``{"kind": "features", "done", "total"}`` — pictures whose features are computed so far, of
  those not in the cache it was given;
* ``{"kind": "train", "step", "steps", "loss"}`` — the mean cross-entropy on the training
  pictures, every TRAIN_EVENT_EVERY steps and at the last.

Its result is described in ``own_job``'s docstring.
"""

from __future__ import annotations

import hashlib
import io
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from explorer.errors import UserError
from explorer.model import (
    CIFAR10_PREPROCESSING,
    MNIST_PREPROCESSING,
    WEIGHTS_DIR,
    Preprocessing,
    SimpleCNN,
    build_model,
    normalise,
)
from explorer.model_input import MODEL_SIDE, digit_to_model_image, photo_to_model_image

MIN_CLASSES, MAX_CLASSES = 2, 10
MIN_IMAGES = 5  # a class: 4 to learn from and 1 held out, the fewest that means anything
# A class's most pictures: 500 in all keeps features within about a second and a session's
# pictures within ~3 MB (each is kept as two 32×32 pictures, 6 KB).
MAX_IMAGES = 50
MAX_NAME_CHARS = 24  # fits a bar's label and a thumbnail's caption
NAME_PUNCTUATION = "-'.,!?()&"  # besides letters, digits and spaces (see _allowed)
HELD_OUT_EVERY = 5  # one picture in five of each class is held out…
MIN_HELD_OUT = 1  # …and at least one of every class
SEED_RANGE = (0, 9_999)
FEATURES = 128 * 4 * 4  # conv3's pooled maps, flattened: what the cache keeps per picture
HIDDEN = 512  # fc1's outputs: what the new fc2 reads
# Full-batch Adam from zero: 200 steps at 0.01 reach the accuracy of 500 on the stand-in tasks
# (79.2 vs 78.8 % on CIFAR-10 photos) in well under a second for 100 pictures.
STEPS = 200
LR = 0.01
FEATURE_BATCH = 64  # pictures per forward pass of the conv stack (a checkpoint between)
TRAIN_EVENT_EVERY = 20

#: The networks a student can start from: the shipped weights and how pictures reach them.
BASES: dict[str, tuple[str, Preprocessing]] = {
    "cifar10": ("simplecnn-cifar10", CIFAR10_PREPROCESSING),
    "mnist": ("simplecnn-mnist", MNIST_PREPROCESSING),
}
SOURCES = ("upload", "draw", "camera")


class OwnImagesError(UserError):
    """Classes or pictures that cannot be trained on, in a sentence a student understands."""


# --------------------------------------------------------------------------------------------
# Pictures


@dataclass(frozen=True, eq=False)
class OwnImage:
    """One of the student's pictures as each base network reads it (32×32×3 uint8): ``photo``
    shrunk like a photograph (the CIFAR-10 network), ``digit`` for the MNIST network — a
    drawing centred and scaled like an MNIST digit, a photograph shrunk as for the other
    network (as the network pages prepare an upload). The source picture itself is not kept."""

    source: str  # "upload" | "draw" | "camera"
    photo: np.ndarray
    digit: np.ndarray
    name: str = ""  # an uploaded file's name

    @classmethod
    def from_photo(cls, rgb: np.ndarray, source: str, name: str = "") -> OwnImage:
        """An uploaded or camera picture (H×W×3 uint8)."""
        small = _read_only(photo_to_model_image(rgb))
        return cls(source, small, small, name)

    @classmethod
    def from_drawing(cls, rgb: np.ndarray) -> OwnImage:
        """A drawing (H×W×3 uint8, white strokes on black). ImageError when it has no ink."""
        return cls(
            "draw",
            _read_only(photo_to_model_image(rgb)),
            _read_only(digit_to_model_image(rgb)),
        )

    def for_base(self, base: str) -> np.ndarray:
        """The 32×32×3 picture ``base`` reads."""
        return self.digit if base == "mnist" else self.photo

    def key(self, base: str) -> str:
        """What ``base``'s features of this picture are cached under: the base and the
        SHA-256 of the very pixels it reads."""
        return image_key(base, self.for_base(base))

    @cached_property
    def id(self) -> str:
        """The picture's identity (both preparations): two equal ids are the same picture."""
        digest = hashlib.sha256(np.ascontiguousarray(self.photo).tobytes())
        digest.update(np.ascontiguousarray(self.digit).tobytes())
        return digest.hexdigest()


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.uint8)
    a.setflags(write=False)
    return a


def image_key(base: str, image: np.ndarray) -> str:
    """The feature cache's key of a 32×32×3 picture for ``base``."""
    return f"{base}:{hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()}"


# --------------------------------------------------------------------------------------------
# The classes: names and counts


def clean_name(name: object, position: int) -> str:
    """A class's name as typed (``position``: its number on the page, from 1), with spaces
    tidied; OwnImagesError with a sentence for a name that cannot be used."""
    if not isinstance(name, str):
        raise OwnImagesError(f"Class {position}'s name must be text.")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise OwnImagesError(
            f"Class {position} has no name: give it one, such as “cat” or “thumbs up”."
        )
    if len(cleaned) > MAX_NAME_CHARS:
        raise OwnImagesError(
            f"Class {position}'s name “{cleaned[:MAX_NAME_CHARS]}…” has {len(cleaned)} "
            f"characters; a class name may have at most {MAX_NAME_CHARS}."
        )
    odd = next((ch for ch in cleaned if not _allowed(ch)), None)
    if odd is not None:
        what = "an invisible character" if unicodedata.category(odd)[0] in "CZ" else f"“{odd}”"
        raise OwnImagesError(
            f"Class {position}'s name has {what} in it; a class name may use letters, digits, "
            f"spaces and {' '.join(NAME_PUNCTUATION)} only."
        )
    return cleaned


def _allowed(ch: str) -> bool:
    """Letters (any script, with their accents), digits, a space and NAME_PUNCTUATION: nothing
    that Markdown, HTML or Streamlit's ":icon:" and "$math$" could read as markup wherever a
    page shows the name."""
    return ch == " " or ch in NAME_PUNCTUATION or unicodedata.category(ch)[0] in "LMN"


def class_problems(names: Sequence[object], counts: Sequence[int]) -> list[str]:
    """Every reason these classes cannot be trained yet, one sentence each (empty: ready)."""
    problems: list[str] = []
    k = len(names)
    if k < MIN_CLASSES:
        problems.append(
            f"Make at least {MIN_CLASSES} classes: with {k} there is nothing to tell apart."
        )
    if k > MAX_CLASSES:
        problems.append(f"There are {k} classes; this page takes at most {MAX_CLASSES}.")
    seen: dict[str, int] = {}
    for position, (name, count) in enumerate(zip(names, counts, strict=True), start=1):
        try:
            cleaned = clean_name(name, position)
        except OwnImagesError as exc:
            problems.append(str(exc))
            cleaned = f"class {position}"
        else:
            folded = cleaned.casefold()
            if folded in seen:
                problems.append(
                    f"Classes {seen[folded]} and {position} are both called “{cleaned}”: "
                    "give each class its own name."
                )
            seen.setdefault(folded, position)
        if count < MIN_IMAGES:
            problems.append(
                f"“{cleaned}” has {count} picture{'' if count == 1 else 's'}; every class "
                f"needs at least {MIN_IMAGES} (one in {HELD_OUT_EVERY} is kept aside to test "
                "the network)."
            )
        elif count > MAX_IMAGES:
            problems.append(
                f"“{cleaned}” has {count} pictures; a class may have at most {MAX_IMAGES}."
            )
    return problems


def check_classes(names: Sequence[object], counts: Sequence[int]) -> list[str]:
    """The cleaned names; OwnImagesError (every problem, one sentence each) when not ready."""
    problems = class_problems(names, counts)
    if problems:
        raise OwnImagesError(" ".join(problems))
    return [clean_name(name, i) for i, name in enumerate(names, start=1)]


# --------------------------------------------------------------------------------------------
# The held-out split


def held_out_count(n: int) -> int:
    """How many of a class's ``n`` pictures are held out: one in five, at least one."""
    return max(MIN_HELD_OUT, n // HELD_OUT_EVERY)


def held_out_split(labels: Sequence[int] | np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, held-out indices) into ``labels``, both sorted: of every class,
    ``held_out_count`` pictures drawn by ``seed`` are held out, the rest trained on. Classes
    are drawn in order 0, 1, … from one generator, so the same labels and seed always give the
    same split."""
    y = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for c in range(int(y.max()) + 1 if len(y) else 0):
        members = np.flatnonzero(y == c)
        if len(members):
            held.append(rng.permutation(members)[: held_out_count(len(members))])
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(y)), held_idx)
    return train_idx, held_idx


# --------------------------------------------------------------------------------------------
# The base network, its frozen features, the new fc2


def shipped_model(base: str) -> SimpleCNN:
    """The shipped network ``base`` starts from (eval mode, CPU), read by the app's checked
    loader. OwnImagesError when the server has no such weights."""
    from explorer.weights_file import load_weights_file

    if base not in BASES:
        raise OwnImagesError(f"There is no base network called {base!r}: choose {_bases()}.")
    path = WEIGHTS_DIR / f"{BASES[base][0]}.pt"
    if not path.exists():
        raise OwnImagesError(f"This server has no shipped {base} network to start from.")
    state, classes = load_weights_file(path)
    return build_model(state, classes)


def _bases() -> str:
    return " or ".join(BASES)


def conv_features(
    model: SimpleCNN,
    images: np.ndarray,
    pre: Preprocessing,
    checkpoint: Callable[[int], None] | None = None,
) -> np.ndarray:
    """N×32×32×3 uint8 pictures → N×2048 float32: the frozen conv stack's ``flatten`` output,
    computed exactly as ``SimpleCNN.forward`` does, FEATURE_BATCH pictures at a time.
    ``checkpoint(done)`` is called before each batch (``done``: pictures so far)."""
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[1:] != (MODEL_SIDE, MODEL_SIDE, 3) or x.dtype != np.uint8:
        raise ValueError(f"expected N×32×32×3 uint8 pictures, got {x.shape} {x.dtype}")
    out = np.empty((len(x), FEATURES), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(x), FEATURE_BATCH):
            if checkpoint is not None:
                checkpoint(start)
            batch = torch.from_numpy(np.ascontiguousarray(x[start : start + FEATURE_BATCH]))
            h = normalise(batch.permute(0, 3, 1, 2), pre)
            h = model.pool(torch.relu(model.conv1(h)))
            h = model.pool(torch.relu(model.conv2(h)))
            h = model.pool(torch.relu(model.conv3(h)))
            out[start : start + len(batch)] = torch.flatten(h, 1).numpy()
    return out


def hidden_features(model: SimpleCNN, flat: np.ndarray) -> torch.Tensor:
    """N×2048 ``flatten`` features → N×512: fc1 and its ReLU, the frozen input of fc2
    (dropout is off in eval mode, so it is not applied)."""
    with torch.no_grad():
        return torch.relu(model.fc1(torch.from_numpy(np.asarray(flat, dtype=np.float32))))


@dataclass(frozen=True)
class Head:
    """The new fc2: ``weight`` K×512 and ``bias`` K, and the loss after every step."""

    weight: torch.Tensor
    bias: torch.Tensor
    losses: tuple[float, ...]


def train_head(
    hidden: torch.Tensor,
    labels: torch.Tensor,
    classes: int,
    steps: int = STEPS,
    lr: float = LR,
    on_step: Callable[[int, float], None] | None = None,
) -> Head:
    """A new fc2 for ``classes`` classes learnt on ``hidden`` (N×512) with ``labels`` (N):
    zeros to start, then ``steps`` full-batch Adam steps at ``lr`` on the mean cross-entropy.
    ``on_step(step, loss)`` after each step (step from 1). Deterministic: no random numbers."""
    weight = torch.zeros(classes, HIDDEN, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimiser = torch.optim.Adam([weight, bias], lr=lr)
    x = hidden.detach()
    losses = []
    for step in range(1, steps + 1):
        loss = F.cross_entropy(F.linear(x, weight, bias), labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, losses[-1])
    return Head(weight.detach().clone(), bias.detach().clone(), tuple(losses))


def own_network(base_model: SimpleCNN, head: Head) -> SimpleCNN:
    """``SimpleCNN(num_classes=K)``: the base's conv1–conv3 and fc1, the new fc2 (eval, CPU)."""
    state = OrderedDict(
        (name, value.detach().clone())
        for name, value in base_model.state_dict().items()
        if not name.startswith("fc2.")
    )
    state["fc2.weight"] = head.weight.clone()
    state["fc2.bias"] = head.bias.clone()
    return build_model(state, int(head.weight.shape[0]))


def state_bytes(model: SimpleCNN) -> bytes:
    """``torch.save`` of the model's state_dict (contiguous CPU tensors), as bytes."""
    state = OrderedDict(
        (k, v.detach().cpu().contiguous().clone()) for k, v in model.state_dict().items()
    )
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def predict(model: SimpleCNN, image: np.ndarray, pre: Preprocessing) -> np.ndarray:
    """The class probabilities (softmax, float64) the network gives one 32×32×3 uint8 picture."""
    x = torch.from_numpy(np.array(image, dtype=np.uint8, order="C"))  # a copy: it may be read-only
    with torch.no_grad():
        logits = model.eval()(normalise(x.permute(2, 0, 1)[None], pre))
    return torch.softmax(logits.double(), dim=1)[0].numpy()


# --------------------------------------------------------------------------------------------
# What the held-out number can and cannot say


def held_out_text(result: dict[str, Any]) -> str:
    """The held-out accuracy of ``own_job``'s result with what so few pictures can and cannot
    tell (Markdown, numbers only: no class name in it)."""
    total = int(result["held_out_count"])
    held = result["held_out"]
    correct = sum(int(p == t) for p, t in zip(held["predicted"], held["labels"], strict=True))
    k = len(result["classes"])
    train_total = int(result["train_count"])
    return (
        f"**{correct} of {total} held-out pictures right ({correct / total:.1%}).** The network "
        f"never trained on these {total} pictures, so this is its honest test — but a small "
        f"one: each picture is {100 / total:.3g} percentage points, so one picture more or "
        "less right moves the number that much, and another split (another seed) can give "
        f"quite another number. Guessing would get about {100 / k:.3g} % right with {k} "
        "classes. It shows that the network learned something beyond its training pictures; it "
        "cannot tell how it does on pictures unlike yours (another room, other light, another "
        "person), and pictures taken a second apart are nearly the same picture, which makes "
        f"the test easier than it looks. On its {train_total} training pictures it gets "
        f"{result['train_accuracy']:.1%}: what it has learned by heart counts there."
    )


# --------------------------------------------------------------------------------------------
# The job


class _Control(Protocol):
    def checkpoint(self) -> None: ...


def own_job(
    control: _Control,
    emit: Callable[[dict[str, Any]], None],
    *,
    base: str,
    classes: list[str],
    images: np.ndarray,
    labels: list[int],
    cached: dict[str, np.ndarray] | None = None,
    seed: int = 0,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Teach the shipped ``base`` network the student's ``classes``: ``images`` (N×32×32×3
    uint8, as ``OwnImage.for_base(base)``) with ``labels`` (N class numbers); ``cached``: the
    features already known (``image_key`` → 2048 float32), the rest are computed here;
    ``seed`` decides the held-out split.

    Returns ``{"state_dict", "base", "classes", "seed", "held_out": {"indices", "labels",
    "predicted", "probability"}, "held_out_accuracy", "held_out_count", "train_accuracy",
    "train_count", "features": {key: 2048 float32 for the pictures computed here},
    "computed", "seconds": {"load", "features", "train", "total"}}`` ("load": reading the
    shipped weights). ``state_dict`` is ``torch.save``
    of the SimpleCNN(num_classes=K) as bytes. Raises OwnImagesError for input that cannot be
    trained on; whatever ``checkpoint`` raises (a stop) ends it without a result."""
    began = clock()
    names, x, y = _checked(base, classes, images, labels)
    model = shipped_model(base)
    pre = BASES[base][1]
    # Making the first optimiser in a process imports torch._dynamo (about a second, unless the
    # worker was a spare that imported it ahead): a cost of starting, not of fc2's 200 steps,
    # whose time is shown.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    load_s = clock() - began
    keys = [image_key(base, img) for img in x]
    known = {
        k: np.asarray(v, dtype=np.float32)
        for k, v in (cached or {}).items()
        if np.shape(v) == (FEATURES,)
    }
    todo = list(dict.fromkeys(k for k in keys if k not in known))  # each picture once
    first = {k: keys.index(k) for k in todo}
    emit({"kind": "features", "done": 0, "total": len(todo)})

    def features_checkpoint(done: int) -> None:
        if done:
            emit({"kind": "features", "done": done, "total": len(todo)})
        control.checkpoint()

    computed: dict[str, np.ndarray] = {}
    if todo:
        fresh = conv_features(model, x[[first[k] for k in todo]], pre, features_checkpoint)
        computed = {k: fresh[n] for n, k in enumerate(todo)}
        emit({"kind": "features", "done": len(todo), "total": len(todo)})
    features_s = clock() - began - load_s
    flat = np.stack([computed[k] if k in computed else known[k] for k in keys])

    train_idx, held_idx = held_out_split(y, seed)
    hidden = hidden_features(model, flat)
    labels_t = torch.from_numpy(y)

    def on_step(step: int, loss: float) -> None:
        if step % TRAIN_EVENT_EVERY == 0 or step == STEPS:
            emit({"kind": "train", "step": step, "steps": STEPS, "loss": loss})
        control.checkpoint()

    control.checkpoint()
    t_train = clock()
    head = train_head(hidden[train_idx], labels_t[train_idx], len(names), on_step=on_step)
    train_s = clock() - t_train
    with torch.no_grad():
        probabilities = torch.softmax(F.linear(hidden, head.weight, head.bias).double(), 1)
    predicted = probabilities.argmax(1).numpy()
    network = own_network(model, head)
    return {
        "state_dict": state_bytes(network),
        "base": base,
        "classes": names,
        "seed": seed,
        "held_out": {
            "indices": held_idx.tolist(),
            "labels": y[held_idx].tolist(),
            "predicted": predicted[held_idx].tolist(),
            "probability": probabilities.numpy()[held_idx, predicted[held_idx]].tolist(),
        },
        "held_out_accuracy": float((predicted[held_idx] == y[held_idx]).mean()),
        "held_out_count": len(held_idx),
        "train_accuracy": float((predicted[train_idx] == y[train_idx]).mean()),
        "train_count": len(train_idx),
        "features": computed,
        "computed": len(computed),
        "seconds": {
            "load": load_s,
            "features": features_s,
            "train": train_s,
            "total": clock() - began,
        },
    }


def _checked(
    base: str, classes: list[str], images: np.ndarray, labels: list[int]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    if base not in BASES:
        raise OwnImagesError(f"There is no base network called {base!r}: choose {_bases()}.")
    x = np.asarray(images)
    y = np.asarray(labels)
    if x.ndim != 4 or x.shape[1:] != (MODEL_SIDE, MODEL_SIDE, 3) or x.dtype != np.uint8:
        raise OwnImagesError("The pictures must be 32×32 colour pictures (N×32×32×3 uint8).")
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise OwnImagesError("Every picture needs the number of its class.")
    if len(y) and (y.min() < 0 or y.max() >= len(classes)):
        raise OwnImagesError("A picture's class number is not one of the classes.")
    counts = np.bincount(y, minlength=len(classes)) if len(y) else np.zeros(len(classes), int)
    names = check_classes(classes, counts.tolist())
    return names, x, y.astype(np.int64)


__all__ = [
    "BASES",
    "FEATURES",
    "HELD_OUT_EVERY",
    "HIDDEN",
    "Head",
    "LR",
    "MAX_CLASSES",
    "MAX_IMAGES",
    "MAX_NAME_CHARS",
    "MIN_CLASSES",
    "MIN_IMAGES",
    "OwnImage",
    "OwnImagesError",
    "SEED_RANGE",
    "SOURCES",
    "STEPS",
    "check_classes",
    "class_problems",
    "clean_name",
    "conv_features",
    "held_out_count",
    "held_out_split",
    "held_out_text",
    "hidden_features",
    "image_key",
    "own_job",
    "own_network",
    "predict",
    "shipped_model",
    "state_bytes",
    "train_head",
]
