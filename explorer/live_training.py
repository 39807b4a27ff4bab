"""Training SimpleCNN step by step while a page watches: the computation core of the page "Train".

``train_job(control, emit, settings)`` is a job function for the server's job queue
(``explorer.jobs``): it runs in a worker process, calls ``control.checkpoint()`` before every
batch (which returns at once, blocks while the job is paused, or raises once it is stopped) and
sends plain-data events with ``emit`` as it learns. ``train_bare(settings)`` is the very same loop
without checkpoints, events or evaluation, so a bench can tell what watching costs.

The loop is the offline trainer's (``explorer.train``): the same normalisation, augmentation,
weight decay on weights only, confusion matrix and seeding, on the compact sets of
``explorer.training_data`` or, where the server has them, the full data sets (``full_data``).
Images stay in memory as one uint8 tensor (the 10,000 digits take 31 MB, the full 60,000
184 MB; with every image chosen the loaded set itself is used, not a copy) and are normalised a
batch at a time, which costs nothing measurable next to the batch's forward and backward pass
and keeps a job's memory small; the held-out images too, a batch of EVAL_BATCH at a time.

Reproducible: the same settings give the same numbers (on the same machine, torch version and
thread count). The seed decides the random start, the balanced subset of images, the order of the
batches, the augmentation and dropout; evaluating the held-out images draws no random numbers, so
when the evaluations happen (which depends on the clock) never changes what is learned.

Events, each a dict with a ``"kind"``; values are Python numbers, lists and NumPy arrays, never
torch tensors. ``step`` counts the batches done so far (0 = before the first).

* ``{"kind": "progress", "step", "steps", "epoch", "images_seen", "seconds", "images_per_s",
  "eval_seconds", "seconds_left"}`` — ``epoch`` is fractional (1.5 = half-way through the second);
  ``seconds`` is the job's active time (pauses excluded); ``images_per_s`` counts training time
  only (not the held-out evaluations, whose time is ``eval_seconds``); ``seconds_left`` is an
  estimate (None at step 0). At most every PROGRESS_EVERY_S, on every step while stepping, at
  step 0 and at the last step.
* ``{"kind": "train", "step", "loss", "accuracy"}`` — mean cross-entropy and accuracy over the
  training batches since the last such event (augmented, dropout on). About every TRAIN_EVERY_S
  of training, at each epoch's end, and after every step while stepping.
* ``{"kind": "held_out", "step", "loss", "accuracy"}`` — on the whole held-out set (eval mode).
  At step 0, at most every HELD_OUT_EVERY_S of training (see ``held_out_interval``), at each
  epoch's end, and after every step while stepping. Always followed by:
* ``{"kind": "filters", "step", "conv1", "bias"}`` — conv1's weights, 32×3×3×3 float32, and its
  32 biases (float32): a snapshot of conv1 small enough to send every time (3.6 KB), from which
  the page computes the conv1 maps of whichever image the student watches
  (``explorer.train_view.conv1_maps``) — the maps themselves would be 128 KB an image;
* ``{"kind": "strip", "step", "indices", "labels", "predicted", "probability"}`` — the 16 fixed
  held-out images (``strip_indices``): their indices into the held-out set, true classes,
  predicted classes and the probability of the predicted class (lists of 16);
* ``{"kind": "epoch", "step", "epoch", "accuracy", "per_class", "confusion"}`` at each epoch's end,
  after that epoch's held-out event: ``per_class`` K floats (NaN for a class without held-out
  images), ``confusion`` K×K int64 (row: true class, column: predicted).

``train_job`` returns ``{"state_dict", "dataset", "classes", "held_out_accuracy", "held_out_loss",
"steps", "seconds", "settings"}``: ``state_dict`` is ``torch.save`` of the trained weights
(CPU tensors) as bytes, which ``torch.load(io.BytesIO(b), weights_only=True)`` and the app's
upload check (``explorer.weights_file.load_state_dict_bytes``) both read.

Speed on the 2-core development CPU (Xeon @ 2.8 GHz, AVX-512, torch 2.13, one torch thread as
the job queue gives a worker; ``python -m bench.bench_training``, two runs): the defaults reach
98.70 % held-out on MNIST in 42.7–47.3 s of job time (98 % first at 35.8–43.9 s), of which
10–11 s are the held-out evaluations. The job trains at 829–914 images/s where the bare loop
does 799–880 (the same, within the noise: checkpoints and events cost nothing measurable); the
bare loop's time is 79–80 % of the whole job's, the rest being the held-out evaluations. With
two torch threads on the same machine, busy with other work, the same run took 148 s (threads
spin-waiting for a core) and ended at 98.35 %: results are reproducible for a given thread count.
What the loop's choices buy, measured on 2,560 digits: channels-last memory format 1.45–1.70×
the images/s of the default layout (876 vs 606, 1,106 vs 651); the images held as one in-memory
tensor against a ``DataLoader`` over the same tensor, 876–1,106 vs 899–1,095 images/s (nothing:
the loop keeps the tensor for its simplicity and its seeded order, not for speed). Normalising
once up front instead of a batch at a time: 605 vs 601 images/s (nothing), so the images stay
uint8 (4× less memory).
"""

from __future__ import annotations

import dataclasses
import io
import math
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from explorer.errors import UserError
from explorer.features import biases, filters
from explorer.model import (
    WEIGHTS_DIR,
    DeviceInfo,
    Preprocessing,
    SimpleCNN,
    available_devices,
    build_model,
    normalise,
)
from explorer.train import augment_affine, augment_crop_flip, confusion_matrix, seed_everything
from explorer.training_data import DATASETS, TrainingSet, load_held_out, load_training_set

# The choices a page offers, as the values TrainSettings holds.
OPTIMISERS = ("sgd", "adam")
SCHEDULES = ("constant", "onecycle")
STARTS = ("random", "shipped")
MIN_IMAGES = 50  # few enough that a network overfits within a minute (train and held-out split)
ALL_IMAGES = 0  # ``images`` value meaning every training image of the set (one link, both sets)
EPOCH_RANGE = (1, 30)
BATCH_RANGE = (16, 512)
LR_RANGE = (1e-5, 1.0)  # beyond 1.0 both optimisers diverge at once on this network
WEIGHT_DECAY_RANGE = (0.0, 0.1)
SEED_RANGE = (0, 2**31 - 1)

# How often events go out. A page polls about once a second; more progress events than ~4 per
# second would only fill the queue.
PROGRESS_EVERY_S = 0.25
TRAIN_EVERY_S = 1.0
# Held-out evaluation runs the whole held-out set forward (2,000 digits: about 0.5–1 s on two
# cores), so it is spaced to at least HELD_OUT_EVERY_S of training and to at most
# HELD_OUT_MAX_SHARE of the job's time (see held_out_interval).
HELD_OUT_EVERY_S = 2.0
HELD_OUT_MAX_SHARE = 0.2
# Channels-last (N×H×W×C in memory) lets oneDNN's convolutions skip reordering: 1.45–1.70× the
# images/s of the default layout on the development CPU (one thread, batch 128).
CHANNELS_LAST = torch.channels_last
EVAL_BATCH = 500  # forward only: large batches are faster, and 500 images stay under 40 MB
STRIP_SIZE = 16
STRIP_SEED = 0  # the strip is fixed per data set, so two runs show the same images


class SettingsError(UserError):
    """Training settings that cannot be used, in a sentence a student understands."""


@dataclass(frozen=True)
class TrainSettings:
    """One training run's whole set-up; ``dataclasses.asdict`` of it is what ``train_job`` takes
    and what a link carries."""

    # The defaults are the page's "press Start" run. Measured with the bare loop on one thread
    # of the 2-core development CPU (held-out accuracy, training seconds; seed 0 unless said):
    #   SGD 0.05, batch 64, 3 epochs   98.70 % (seeds 1, 2: 98.30, 98.30)   36–39 s  ← chosen
    #   SGD 0.05, batch 128, 2 epochs  97.25 %          SGD 0.05, batch 128, 3 epochs  98.05 %
    #   SGD 0.05, batch 128, 4 epochs  98.35 %   43 s
    #   SGD 0.05, batch 32, 3 epochs   98.55 %   40 s     SGD 0.05, batch 64, 2 epochs   98.15 %
    #   SGD 0.1, batch 64, 3 epochs    98.55 % (seeds 1, 2, 3: 96.75, 97.95, 98.30): unstable
    #   Adam 0.002, batch 128, 2 ep.   97.75–97.90 %      Adam 0.002, batch 64, 3 ep.    98.40 %
    #   Adam 0.003, batch 32, 2 epochs 98.25 % (seed 1: 98.25)   31 s
    #   Adam 0.001, batch 32, 3 epochs 98.45 %   44 s
    # With the held-out evaluations the default job takes 43–47 s (bench/bench_training.py).

    # Digits: the data set SimpleCNN learns well within a minute on two cores.
    dataset: str = "mnist"
    # The subset that ships with the app, so that a link means the same images on every server;
    # True: the server's full copy (explorer.training_data.full_sets), where there is one.
    full_data: bool = False
    # All 10,000 digits (ALL_IMAGES, so one link means "all" on either data set): fewer images
    # would be quicker per epoch but need more epochs for the same accuracy.
    images: int = ALL_IMAGES
    # Three passes: two stop near 98.1 % (98.15 % at batch 64).
    epochs: int = 3
    # 64: twice the updates of 128 for ~5 % fewer images/s (815 vs 865 on one thread), which a
    # short run needs more than speed: 98.70 % against 98.05 % at 3 epochs.
    batch: int = 64
    # SGD with Nesterov momentum 0.9: what trained the shipped weights (explorer.train), and a
    # little ahead of Adam in the table above.
    optimiser: str = "sgd"
    # 0.05: the offline trainer's peak rate for this network (no batch norm); 0.1 is unstable.
    lr: float = 0.05
    # One-cycle: a warm-up (no divergence at the peak rate) and an annealing to a tiny rate
    # at the end, where short runs gain the most.
    schedule: str = "onecycle"
    # The offline trainer's value; on weights only, never on biases.
    weight_decay: float = 5e-4
    # Off: in a run of three epochs augmentation slows the learning more than it helps (it pays
    # off over many epochs, and against overfitting with few images).
    augment: bool = False
    # A random start: watching a network learn from nothing is the point of the page.
    start: str = "random"
    # 0: the app's "Untrained (random, seed 0)" network is this very start.
    seed: int = 0

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> TrainSettings:
        """Settings from a dict such as ``dataclasses.asdict(TrainSettings(...))``, checked;
        missing keys take their defaults. Raises :class:`SettingsError` with a sentence."""
        if not isinstance(settings, dict):
            raise SettingsError("The training settings are missing.")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in settings if k not in names)
        if unknown:
            raise SettingsError(f"Unknown training setting(s): {', '.join(unknown)}.")
        made = cls(**settings)
        made.check()
        return made

    def check(self) -> None:
        """Raise :class:`SettingsError` with a sentence if any value is out of its range."""
        _choice("data set", self.dataset, DATASETS)
        _choice("optimiser", self.optimiser, OPTIMISERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("start", self.start, STARTS)
        if not isinstance(self.augment, bool):
            raise SettingsError("Augmentation is either on or off (true or false).")
        if not isinstance(self.full_data, bool):
            raise SettingsError("The full data set is either used or not (true or false).")
        available = load_held_out(self.dataset, self.full_data).train_count
        if type(self.images) is not int or self.images != ALL_IMAGES:
            _integer("number of training images", self.images, (MIN_IMAGES, available))
        _integer("number of epochs", self.epochs, EPOCH_RANGE)
        _integer("batch size", self.batch, BATCH_RANGE)
        _integer("seed", self.seed, SEED_RANGE)
        _number("learning rate", self.lr, LR_RANGE)
        _number("weight decay", self.weight_decay, WEIGHT_DECAY_RANGE)


def _choice(what: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SettingsError(
            f"The {what} {value!r} is not one of the choices: {', '.join(allowed)}."
        )


def _integer(what: str, value: object, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise SettingsError(f"The {what} must be a whole number, not {value!r}.")
    if not low <= value <= high:
        raise SettingsError(f"The {what} must be between {low:,} and {high:,}, not {value:,}.")


def _number(what: str, value: object, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise SettingsError(f"The {what} must be a number, not {value!r}.")
    if not (math.isfinite(value) and low <= value <= high):
        raise SettingsError(f"The {what} must be between {low:g} and {high:g}, not {value!r}.")


# --------------------------------------------------------------------------------------------
# Choosing images


def balanced_subset(labels: np.ndarray, images: int, seed: int) -> np.ndarray:
    """Indices of ``images`` training images, as evenly spread over the classes as the counts
    allow (classes that get one more are drawn by the seed), sorted. All of them when
    ``images`` is the whole set."""
    n = len(labels)
    if images >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    k = int(labels.max()) + 1
    pools = [rng.permutation(np.flatnonzero(labels == c)) for c in range(k)]
    want = np.full(k, images // k)
    want[rng.choice(k, images % k, replace=False)] += 1
    # A class with too few images gives its share to the others (not the case in the shipped sets).
    taken = np.minimum(want, [len(p) for p in pools])
    while taken.sum() < images:
        room = np.flatnonzero(taken < [len(p) for p in pools])
        taken[room[: images - taken.sum()]] += 1
    return np.sort(np.concatenate([p[:t] for p, t in zip(pools, taken, strict=True)]))


def strip_indices(held_y: np.ndarray, size: int = STRIP_SIZE) -> np.ndarray:
    """The held-out images the page shows with their current predictions: one of every class
    first, then a second one of classes drawn by STRIP_SEED until ``size``; ordered by class."""
    rng = np.random.default_rng(STRIP_SEED)
    k = int(held_y.max()) + 1
    picks = [rng.permutation(np.flatnonzero(held_y == c))[:2] for c in range(k)]
    first = [p[0] for p in picks if len(p)]
    second_classes = rng.permutation(k)
    seconds = [picks[c][1] for c in second_classes if len(picks[c]) > 1]
    chosen = (first + seconds)[:size]
    return np.array(sorted(chosen, key=lambda i: (held_y[i], i)), dtype=np.int64)


# --------------------------------------------------------------------------------------------
# The run: one set-up shared by the watched loop and the bare one


class _Control(Protocol):
    def checkpoint(self) -> None: ...


@dataclass
class _Run:
    """Everything one training run holds: data (uint8 tensors), model, optimiser, schedule."""

    settings: TrainSettings
    data: TrainingSet
    model: SimpleCNN
    x: torch.Tensor  # N×3×32×32 uint8: the chosen training images
    y: torch.Tensor  # N int64
    optimiser: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler | None
    generator: torch.Generator  # batch order and augmentation
    device: str
    steps_per_epoch: int

    @property
    def steps(self) -> int:
        return self.steps_per_epoch * self.settings.epochs

    def batches(self) -> Iterator[torch.Tensor]:
        """Indices of each batch, epoch after epoch (a fresh seeded order every epoch)."""
        b = self.settings.batch
        for _ in range(self.settings.epochs):
            order = torch.randperm(len(self.y), generator=self.generator)
            for s in range(self.steps_per_epoch):
                yield order[s * b : (s + 1) * b]

    def train_step(self, idx: torch.Tensor) -> tuple[float, int]:
        """One update on the images ``idx``; returns (summed loss, correct predictions)."""
        pre = self.data.preprocessing
        xb = normalise(self.x[idx], pre)  # B×3×32×32 float
        yb = self.y[idx]
        if self.settings.augment:
            if pre.kind == "digit":
                xb = augment_affine(xb, self.generator, background=-pre.mean[0] / pre.std[0])
            else:
                xb = augment_crop_flip(xb, self.generator)
        xb, yb = xb.to(self.device).contiguous(memory_format=CHANNELS_LAST), yb.to(self.device)
        logits = self.model(xb)
        loss = F.cross_entropy(logits, yb)
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        if self.schedule is not None:
            self.schedule.step()
        correct = int((logits.argmax(1) == yb).sum())
        return loss.item() * len(idx), correct


def _start_model(settings: TrainSettings, classes: int) -> SimpleCNN:
    if settings.start == "shipped":
        from explorer.weights_file import load_weights_file  # the app's safe, checked loader

        path = WEIGHTS_DIR / f"simplecnn-{settings.dataset}.pt"
        if not path.exists():
            raise SettingsError(
                f"There are no shipped {settings.dataset} weights on this server to start from; "
                "start from a random network instead."
            )
        state, _ = load_weights_file(path)
        return build_model(state, classes)
    return build_model(None, classes, seed=settings.seed)


def _prepare(settings: TrainSettings, device: str) -> _Run:
    """The run's data, model and optimiser. Call inside ``_seeded``: dropout draws from torch's
    global generator, which that seeds."""
    data = load_training_set(settings.dataset, settings.full_data)
    wanted = len(data.train_y) if settings.images == ALL_IMAGES else settings.images
    chosen = balanced_subset(data.train_y, wanted, settings.seed)
    if len(chosen) == len(data.train_y):  # every image, in order: the loaded arrays, no copy
        x, y = _shared_tensor(data.train_x), _shared_tensor(data.train_y)
    else:
        x = torch.from_numpy(data.train_x[chosen])  # fancy indexing copies: a writable array
        y = torch.from_numpy(data.train_y[chosen])
    model = _start_model(settings, len(data.classes)).to(device)
    model.to(memory_format=CHANNELS_LAST)  # type: ignore[call-overload]  # (torch's stub lacks it)
    model.train()
    decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
    no_decay = [p for n, p in model.named_parameters() if not n.endswith("weight")]
    groups: list[dict[str, Any]] = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    optimiser: torch.optim.Optimizer
    if settings.optimiser == "sgd":
        optimiser = torch.optim.SGD(groups, lr=settings.lr, momentum=0.9, nesterov=True)
    else:
        # AdamW: Adam whose weight decay shrinks the weights directly (decoupled), as Loshchilov
        # & Hutter recommend; with weight decay 0 it is exactly Adam.
        optimiser = torch.optim.AdamW(groups, lr=settings.lr)
    steps_per_epoch = math.ceil(len(y) / settings.batch)
    schedule = None
    if settings.schedule == "onecycle":
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=settings.lr, total_steps=steps_per_epoch * settings.epochs
        )
    generator = torch.Generator().manual_seed(settings.seed)
    return _Run(
        settings, data, model, x, y, optimiser, schedule, generator, device, steps_per_epoch
    )


def _shared_tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor on a read-only array's memory (no copy). torch warns that writing to it would
    be undefined; the loop only ever reads the images (indexing a batch copies it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch.from_numpy(array)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's global generator (dropout) and NumPy's as the offline trainer does, and put
    back afterwards what was there: the process-wide state is as before when the run ends, stops
    or fails (the tests and any other work in the process rely on it)."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    numpy_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            seed_everything(seed)
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        np.random.set_state(numpy_state)


# --------------------------------------------------------------------------------------------
# Held-out evaluation


@dataclass(frozen=True)
class HeldOut:
    """The model's scores on the whole held-out set at one moment."""

    loss: float
    accuracy: float
    predicted: np.ndarray  # M ints
    probability: np.ndarray  # M floats: the probability of the predicted class


def held_out_scores(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    pre: Preprocessing,
    device: str = "cpu",
) -> HeldOut:
    """Loss, accuracy and predictions on uint8 images ``x`` (M×3×32×32, normalised by ``pre``
    a batch at a time: 10,000 held-out images as floats would take 123 MB) with labels ``y``,
    in eval mode without gradients. The model is left in the mode it had."""
    was_training = model.training
    model.eval()
    losses, predicted, probability = [], [], []
    try:
        with torch.no_grad():
            for i in range(0, len(x), EVAL_BATCH):
                xb = normalise(x[i : i + EVAL_BATCH], pre)
                xb = xb.to(device).contiguous(memory_format=CHANNELS_LAST)
                logits = model(xb).float()
                yb = y[i : i + EVAL_BATCH].to(device)
                losses.append(F.cross_entropy(logits, yb, reduction="sum").cpu())
                p, k = F.softmax(logits, 1).max(1)
                predicted.append(k.cpu())
                probability.append(p.cpu())
    finally:
        model.train(was_training)
    pred = torch.cat(predicted).numpy()
    return HeldOut(
        loss=float(torch.stack(losses).sum()) / len(x),
        accuracy=float((pred == y.numpy()).mean()),
        predicted=pred,
        probability=torch.cat(probability).numpy(),
    )


def held_out_interval(eval_seconds: float) -> float:
    """Seconds of training between two held-out evaluations: HELD_OUT_EVERY_S, or longer when
    one evaluation takes so long that they would use more than HELD_OUT_MAX_SHARE of the time."""
    return max(HELD_OUT_EVERY_S, eval_seconds * (1 - HELD_OUT_MAX_SHARE) / HELD_OUT_MAX_SHARE)


# --------------------------------------------------------------------------------------------
# The job


def _state_bytes(model: torch.nn.Module) -> bytes:
    state = OrderedDict(
        (k, v.detach().cpu().contiguous().clone()) for k, v in model.state_dict().items()
    )
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def train_job(
    control: _Control,
    emit: Callable[[dict[str, Any]], None],
    settings: dict[str, Any],
    *,
    device: str = "auto",
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Train SimpleCNN as ``settings`` (``dataclasses.asdict(TrainSettings)``) say, calling
    ``control.checkpoint()`` before every batch and sending the events described in this
    module's docstring with ``emit``; return the result described there. ``device``: where to
    train ("cpu", "cuda", "mps"; "auto", the default and what the page's worker uses: the best
    there is, explorer.model.best_device), named in every progress event; ``clock``: seconds,
    for the events' pacing and timings (a test passes a fake one). Raises
    :class:`SettingsError` for bad settings (or a device this machine lacks); whatever
    ``checkpoint()`` raises (a stop) ends the run without a result."""
    chosen = TrainSettings.from_dict(settings)
    where = _device_named(device)
    with _seeded(chosen.seed):
        run = _prepare(chosen, where.device)
        return _watch(run, control, emit, clock, where.name)


def _device_named(device: str) -> DeviceInfo:
    """``device`` ("auto": the best available) with the words the page shows for it; on the
    CPU they say how many torch threads the run has."""
    devices = available_devices()  # the best first
    found = {d.device: d for d in devices}
    chosen = devices[0] if device == "auto" else found.get(device)
    if chosen is None:
        raise SettingsError(f"This machine has no {device!r} device to train on.")
    if chosen.device == "cpu":
        threads = torch.get_num_threads()
        return DeviceInfo("cpu", f"the CPU ({threads} thread{'s' if threads > 1 else ''})", False)
    return chosen


def _watch(
    run: _Run,
    control: _Control,
    emit: Callable[[dict[str, Any]], None],
    clock: Callable[[], float],
    device_name: str,
) -> dict[str, Any]:
    data, model, steps = run.data, run.model, run.steps
    held_x, held_y = _shared_tensor(data.held_x), _shared_tensor(data.held_y)
    strip = strip_indices(data.held_y)
    k = len(data.classes)

    began = clock()
    paused = 0.0  # time blocked in checkpoint(), left out of every figure
    train_s = eval_s = 0.0
    step = images_seen = 0
    last_progress = -math.inf
    last_train_at, last_eval_at = 0.0, 0.0  # in training seconds
    since_loss, since_correct, since_n = 0.0, 0, 0
    interval = HELD_OUT_EVERY_S  # training seconds between held-out evaluations

    def evaluate() -> HeldOut:
        nonlocal eval_s, last_eval_at, interval
        t = clock()
        scores = held_out_scores(model, held_x, held_y, data.preprocessing, run.device)
        took = clock() - t
        eval_s += took
        last_eval_at = train_s
        interval = held_out_interval(took)
        emit({"kind": "held_out", "step": step, "loss": scores.loss, "accuracy": scores.accuracy})
        # copies (C order: the channels-last weights' odd strides stay behind), float32
        conv1, bias = filters(model, "conv1"), biases(model, "conv1")
        emit({"kind": "filters", "step": step, "conv1": conv1, "bias": bias})  # 32×3×3×3, 32
        emit(
            {
                "kind": "strip",
                "step": step,
                "indices": strip.tolist(),
                "labels": data.held_y[strip].tolist(),
                "predicted": scores.predicted[strip].tolist(),
                "probability": scores.probability[strip].astype(float).tolist(),
            }
        )
        return scores

    def progress() -> None:
        nonlocal last_progress
        last_progress = clock()
        seconds = last_progress - began - paused
        emit(
            {
                "kind": "progress",
                "step": step,
                "steps": steps,
                "epoch": step / run.steps_per_epoch,
                "images_seen": images_seen,
                "seconds": seconds,
                "images_per_s": images_seen / train_s if train_s > 0 else 0.0,
                "eval_seconds": eval_s,
                "seconds_left": seconds * (steps - step) / step if step else None,
                "device": device_name,
            }
        )

    progress()
    latest = evaluate()
    for idx in run.batches():
        t = clock()
        control.checkpoint()
        t_step = clock()
        paused += t_step - t
        loss_sum, correct = run.train_step(idx)
        train_s += clock() - t_step
        step += 1
        images_seen += len(idx)
        since_loss += loss_sum
        since_correct += correct
        since_n += len(idx)
        stepping = bool(getattr(control, "stepping", False))
        epoch_end = step % run.steps_per_epoch == 0
        if stepping or epoch_end or train_s - last_train_at >= TRAIN_EVERY_S:
            emit(
                {
                    "kind": "train",
                    "step": step,
                    "loss": since_loss / since_n,
                    "accuracy": since_correct / since_n,
                }
            )
            since_loss, since_correct, since_n = 0.0, 0, 0
            last_train_at = train_s
        if stepping or epoch_end or train_s - last_eval_at >= interval:
            latest = evaluate()
        if epoch_end:
            cm = confusion_matrix(data.held_y, latest.predicted, k)
            counts = cm.sum(1)
            with np.errstate(invalid="ignore", divide="ignore"):
                per_class = np.where(counts > 0, np.diag(cm) / counts, np.nan)
            emit(
                {
                    "kind": "epoch",
                    "step": step,
                    "epoch": step // run.steps_per_epoch,
                    "accuracy": latest.accuracy,
                    "per_class": per_class.astype(np.float64),
                    "confusion": cm,
                }
            )
        if stepping or step == steps or clock() - last_progress >= PROGRESS_EVERY_S:
            progress()

    return {
        "state_dict": _state_bytes(model),
        "dataset": data.name,
        "classes": list(data.classes),
        "held_out_accuracy": latest.accuracy,
        "held_out_loss": latest.loss,
        "steps": steps,
        "seconds": clock() - began - paused,
        "settings": dataclasses.asdict(run.settings),
    }


def train_bare(
    settings: dict[str, Any] | TrainSettings, device: str = "cpu"
) -> tuple[SimpleCNN, float]:
    """The same training as ``train_job`` (same seeds, same numbers) without checkpoints, events
    or evaluation; returns the trained model (eval mode) and the seconds its loop took (setting
    up the data and the model not included, as in ``train_job``'s ``images_per_s``)."""
    chosen = settings if isinstance(settings, TrainSettings) else TrainSettings.from_dict(settings)
    chosen.check()
    with _seeded(chosen.seed):
        run = _prepare(chosen, device)
        began = time.perf_counter()
        for idx in run.batches():
            run.train_step(idx)
        seconds = time.perf_counter() - began
    return run.model.eval(), seconds


__all__ = [
    "ALL_IMAGES",
    "BATCH_RANGE",
    "EPOCH_RANGE",
    "HELD_OUT_EVERY_S",
    "HELD_OUT_MAX_SHARE",
    "HeldOut",
    "LR_RANGE",
    "MIN_IMAGES",
    "OPTIMISERS",
    "PROGRESS_EVERY_S",
    "SCHEDULES",
    "SEED_RANGE",
    "STARTS",
    "STRIP_SIZE",
    "SettingsError",
    "TRAIN_EVERY_S",
    "TrainSettings",
    "WEIGHT_DECAY_RANGE",
    "balanced_subset",
    "held_out_interval",
    "held_out_scores",
    "strip_indices",
    "train_bare",
    "train_job",
]
