"""A recorded training run that a whole class can scrub through without training anything.

The trainer (``python -m explorer.train … --record OUT.npz``) calls a :class:`Recorder` after
every epoch, and once before the first (epoch 0: the seeded random start). It keeps, per epoch,
conv1's 32 filters, the class probabilities the network gives the gallery's images, and its
predictions and loss on the held-out images; the trainer's own per-epoch curves are added at the
end. :func:`load_replay` reads the file back (plain ``np.load``, no pickles) into a frozen
:class:`Replay`, which the Train page's replay shows one epoch at a time. Everything a student
sees is in the file: nothing is computed when they move the slider.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.assets import ASSETS_DIR
from explorer.errors import UserError
from explorer.links import LinkReader

if TYPE_CHECKING:
    from explorer.samples import GalleryItem

REPLAY_DIR = ASSETS_DIR / "replay"
FORMAT_VERSION = 1
# The curves the trainer logs per epoch (train.EpochLog's fields, epoch and time aside).
CURVE_FIELDS = ("loss", "train_accuracy", "test_accuracy", "seconds")


def replay_path(dataset: str) -> Path:
    """Where the shipped record of ``dataset``'s network lives."""
    return REPLAY_DIR / f"simplecnn-{dataset}.replay.npz"


# --------------------------------------------------------------------------------------------
# Recording


class Recorder:
    """Collects one snapshot per epoch while the trainer runs.

    ``gallery`` and ``heldout`` are normalised N×3×32×32 float tensors (what the network is fed);
    their labels are int arrays. Snapshots are taken in eval mode under ``no_grad`` and draw no
    random numbers, so recording never changes the run: the weights come out bit for bit the same
    as without a recorder."""

    def __init__(
        self,
        dataset: str,
        classes: tuple[str, ...] | list[str],
        gallery: torch.Tensor,
        gallery_labels: np.ndarray,
        gallery_keys: list[str],
        heldout: torch.Tensor,
        heldout_labels: np.ndarray,
        batch_size: int = 1000,
    ) -> None:
        if len(gallery) != len(gallery_labels) or len(gallery) != len(gallery_keys):
            raise ValueError("the gallery's images, labels and keys differ in number")
        if len(heldout) != len(heldout_labels):
            raise ValueError("the held-out images and labels differ in number")
        self.dataset = dataset
        self.classes = list(classes)
        self.gallery = gallery
        self.gallery_labels = np.asarray(gallery_labels, dtype=np.int64)
        self.gallery_keys = list(gallery_keys)
        self.heldout = heldout
        self.heldout_labels = np.asarray(heldout_labels, dtype=np.int64)
        self.batch_size = batch_size
        self.epochs: list[int] = []
        self.filters: list[np.ndarray] = []
        self.gallery_probs: list[np.ndarray] = []
        self.heldout_pred: list[np.ndarray] = []
        self.heldout_loss: list[float] = []

    def _logits(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        device = next(model.parameters()).device
        parts = [
            model(x[i : i + self.batch_size].to(device)).float().cpu()
            for i in range(0, len(x), self.batch_size)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, len(self.classes))

    def __call__(self, epoch: int, model: nn.Module) -> None:
        """Snapshot ``model`` as it is at the end of ``epoch`` (0: before training)."""
        was_training = model.training
        model.eval()
        with torch.no_grad():
            weight = model.get_parameter("conv1.weight")
            conv1 = weight.detach().float().cpu().numpy().copy()
            probs = torch.softmax(self._logits(model, self.gallery), dim=1).numpy()
            logits = self._logits(model, self.heldout)
            labels = torch.from_numpy(self.heldout_labels)
            loss = float(F.cross_entropy(logits, labels)) if len(labels) else float("nan")
        model.train(was_training)
        self.epochs.append(epoch)
        self.filters.append(conv1)
        self.gallery_probs.append(probs.astype(np.float32))
        self.heldout_pred.append(logits.argmax(1).numpy().astype(np.uint8))
        self.heldout_loss.append(loss)

    def arrays(self, curves: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, np.ndarray]:
        """Everything the file holds. ``curves`` is the trainer's per-epoch log (dicts with
        ``epoch`` and :data:`CURVE_FIELDS`); ``meta`` is the training set-up, stored as JSON."""
        if self.epochs != list(range(len(self.epochs))):
            raise ValueError(f"snapshots must be taken at epochs 0, 1, 2, …; got {self.epochs}")
        if [c["epoch"] for c in curves] != self.epochs[1:]:
            raise ValueError("the curves and the snapshots cover different epochs")
        out: dict[str, np.ndarray] = {
            "format_version": np.array(FORMAT_VERSION),
            "dataset": np.array(self.dataset),
            "classes": np.array(self.classes),
            "meta_json": np.array(json.dumps(meta, sort_keys=True)),
            "epochs": np.array(self.epochs, dtype=np.int64),
            "conv1": np.stack(self.filters).astype(np.float32),
            "gallery_keys": np.array(self.gallery_keys),
            "gallery_labels": self.gallery_labels,
            "gallery_probs": np.stack(self.gallery_probs),
            "heldout_labels": self.heldout_labels.astype(np.uint8),
            "heldout_pred": np.stack(self.heldout_pred),
            "heldout_loss": np.array(self.heldout_loss, dtype=np.float64),
        }
        for name in CURVE_FIELDS:
            out[f"curve_{name}"] = np.array([c[name] for c in curves], dtype=np.float64)
        return out

    def save(self, path: Path, curves: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = self.arrays(curves, meta)
        np.savez_compressed(path, **arrays)


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True, eq=False)
class Replay:
    """A recorded run, read-only. Epochs are 0 (the seeded start) … ``last_epoch``; arrays
    indexed by epoch have ``last_epoch + 1`` rows, the trainer's curves (measured while an epoch
    trains) ``last_epoch`` rows, the first for epoch 1. ``digest`` is the file's SHA-256: the
    record's identity for caches."""

    digest: str
    dataset: str
    classes: tuple[str, ...]
    meta: Mapping[str, Any]
    conv1: np.ndarray  # epoch × 32×3×3×3, float32
    gallery_keys: tuple[str, ...]
    gallery_labels: np.ndarray  # N
    gallery_probs: np.ndarray  # epoch × N × classes
    heldout_labels: np.ndarray  # M
    heldout_pred: np.ndarray  # epoch × M
    heldout_loss: np.ndarray  # epoch
    curves: Mapping[str, np.ndarray]  # CURVE_FIELDS → one value per epoch 1…last

    @property
    def last_epoch(self) -> int:
        return len(self.conv1) - 1

    def heldout_accuracy(self) -> np.ndarray:
        """The fraction of held-out images right, per epoch 0…last (from the recorded answers:
        for epochs ≥ 1 the trainer's own ``test_accuracy``)."""
        return (self.heldout_pred == self.heldout_labels[None, :]).mean(axis=1)

    def at(self, epoch: int) -> EpochView:
        """What the replay shows at ``epoch`` (ValueError outside 0…last)."""
        if not 0 <= epoch <= self.last_epoch:
            raise ValueError(f"epoch {epoch} is not in 0…{self.last_epoch}")
        probs = self.gallery_probs[epoch]
        predicted = probs.argmax(axis=1)
        trained = epoch >= 1
        curve = {name: values[:epoch] for name, values in self.curves.items()}
        return EpochView(
            epoch=epoch,
            last_epoch=self.last_epoch,
            conv1=self.conv1[epoch],
            predicted=predicted,
            confidence=probs[np.arange(len(probs)), predicted],
            correct=predicted == self.gallery_labels,
            heldout_accuracy=float(self.heldout_accuracy()[epoch]),
            heldout_loss=float(self.heldout_loss[epoch]),
            train_loss=float(self.curves["loss"][epoch - 1]) if trained else None,
            train_accuracy=float(self.curves["train_accuracy"][epoch - 1]) if trained else None,
            heldout_curve=(self.heldout_loss[: epoch + 1], self.heldout_accuracy()[: epoch + 1]),
            train_curve=(curve["loss"], curve["train_accuracy"]),
        )


@dataclass(frozen=True, eq=False)
class EpochView:
    """One epoch of a replay: conv1's filters, the gallery's answers (the predicted class, its
    probability, right or wrong, in gallery order) and the figures and curves so far."""

    epoch: int
    last_epoch: int
    conv1: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    correct: np.ndarray
    heldout_accuracy: float
    heldout_loss: float
    train_loss: float | None  # None at epoch 0: nothing trained yet
    train_accuracy: float | None
    heldout_curve: tuple[np.ndarray, np.ndarray]  # loss, accuracy at epochs 0…epoch
    train_curve: tuple[np.ndarray, np.ndarray]  # loss, accuracy during epochs 1…epoch


_ARRAYS = (
    "format_version",
    "dataset",
    "classes",
    "meta_json",
    "epochs",
    "conv1",
    "gallery_keys",
    "gallery_labels",
    "gallery_probs",
    "heldout_labels",
    "heldout_pred",
    "heldout_loss",
    *(f"curve_{name}" for name in CURVE_FIELDS),
)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a)  # a copy: nothing outside can change what the cache shares
    a.flags.writeable = False
    return a


def read_replay(data: bytes) -> Replay:
    """A replay file's bytes → :class:`Replay`; ValueError saying what is wrong with them."""
    if not data.startswith(b"PK"):  # an .npz is a zip file; np.load would try a pickle
        raise ValueError("it is not an .npz file")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            missing = [name for name in _ARRAYS if name not in z.files]
            if missing:
                raise ValueError(f"it lacks {', '.join(missing)}")
            a = {name: z[name] for name in _ARRAYS}
    except (OSError, EOFError, zipfile.BadZipFile) as exc:  # a damaged zip
        raise ValueError(f"it is a damaged .npz file ({exc})") from exc
    if int(a["format_version"]) != FORMAT_VERSION:
        raise ValueError(f"it is format {a['format_version']}, not {FORMAT_VERSION}")
    n_epochs = len(a["epochs"])
    classes = tuple(str(c) for c in a["classes"])
    n_gallery, n_heldout = len(a["gallery_keys"]), len(a["heldout_labels"])
    shapes = {
        "epochs": (a["epochs"], (n_epochs,)),
        "conv1": (a["conv1"], (n_epochs, 32, 3, 3, 3)),
        "gallery_labels": (a["gallery_labels"], (n_gallery,)),
        "gallery_probs": (a["gallery_probs"], (n_epochs, n_gallery, len(classes))),
        "heldout_pred": (a["heldout_pred"], (n_epochs, n_heldout)),
        "heldout_loss": (a["heldout_loss"], (n_epochs,)),
        **{f"curve_{c}": (a[f"curve_{c}"], (n_epochs - 1,)) for c in CURVE_FIELDS},
    }
    for name, (array, shape) in shapes.items():
        if array.shape != shape:
            raise ValueError(f"its {name} is {array.shape}, not {shape}")
    if n_epochs < 1 or not np.array_equal(a["epochs"], np.arange(n_epochs)):
        raise ValueError("its epochs are not 0, 1, 2, …")
    return Replay(
        digest=hashlib.sha256(data).hexdigest(),
        dataset=str(a["dataset"]),
        classes=classes,
        meta=json.loads(str(a["meta_json"])),
        conv1=_frozen(a["conv1"]),
        gallery_keys=tuple(str(k) for k in a["gallery_keys"]),
        gallery_labels=_frozen(a["gallery_labels"]),
        gallery_probs=_frozen(a["gallery_probs"]),
        heldout_labels=_frozen(a["heldout_labels"]),
        heldout_pred=_frozen(a["heldout_pred"]),
        heldout_loss=_frozen(a["heldout_loss"]),
        curves={c: _frozen(a[f"curve_{c}"]) for c in CURVE_FIELDS},
    )


_REMAKE = "see assets/README.md, “Replays”, to record it again"


def replay_bytes(dataset: str, folder: Path | None = None) -> bytes:
    """The shipped replay file of ``dataset``'s network; a UserError if it is missing (our own
    asset: the sentence says how to make it again)."""
    path = (Path(folder) if folder else REPLAY_DIR) / f"simplecnn-{dataset}.replay.npz"
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(
            f"The recorded training of the {dataset} network is missing ({path.name}); {_REMAKE}."
        ) from exc


def parse_replay(dataset: str, data: bytes) -> Replay:
    """``data`` read as the replay of ``dataset``'s network; a UserError says what is wrong."""
    try:
        replay = read_replay(data)
    except ValueError as exc:
        raise UserError(
            f"The recorded training of the {dataset} network cannot be read: {exc}; {_REMAKE}."
        ) from exc
    if replay.dataset != dataset:
        raise UserError(
            f"The recorded training for {dataset} is of a {replay.dataset} network; {_REMAKE}."
        )
    return replay


def load_replay(dataset: str, folder: Path | None = None) -> Replay:
    """The shipped replay of ``dataset``'s network (:func:`replay_bytes`, :func:`parse_replay`)."""
    return parse_replay(dataset, replay_bytes(dataset, folder))


def gallery_items(replay: Replay) -> list[GalleryItem]:
    """The gallery images the replay recorded, in its order; a UserError when the gallery no
    longer has one of them (then the replay must be recorded again)."""
    from explorer.samples import gallery

    items = {item.key: item for item in gallery(replay.dataset)}
    missing = [key for key in replay.gallery_keys if key not in items]
    if missing:
        raise UserError(
            f"The recorded training names gallery images that are not in assets/gallery "
            f"({', '.join(missing[:3])}); {_REMAKE}."
        )
    return [items[key] for key in replay.gallery_keys]


# --------------------------------------------------------------------------------------------
# The link


REPLAY_PARAM = "replay"  # ?replay=12: the replay at epoch 12 (owner "replay" in LINK_PARAMS)


@dataclass(frozen=True)
class ReplayState:
    """The replay's one choice: the epoch shown. The default, 0, is the seeded random start, so
    a student drags forward to watch the network learn."""

    epoch: int = 0

    def choose(self, name: str, value: Any) -> ReplayState:
        """This state with ``name`` (only "epoch") set to ``value`` ≥ 0 (ValueError else); the
        record's own last epoch caps it where it is shown (:meth:`shown_epoch`)."""
        if name != "epoch":
            raise ValueError(f"the replay has no choice {name!r}")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{value!r} is not an epoch")
        return replace(self, epoch=value)

    def shown_epoch(self, last_epoch: int) -> int:
        """The epoch shown for a record of epochs 0…``last_epoch``."""
        return min(self.epoch, last_epoch)

    def to_query(self) -> dict[str, str]:
        return {REPLAY_PARAM: str(self.epoch)} if self.epoch != ReplayState().epoch else {}

    @classmethod
    def from_query(
        cls, params: Mapping[str, object], last_epoch: int, base: ReplayState | None = None
    ) -> tuple[ReplayState, list[str]]:
        """(``base`` or the default, with the link's epoch if it is one of the record's
        0…``last_epoch``; one sentence per value ignored)."""
        read = LinkReader(params)
        epoch = read.whole(REPLAY_PARAM, 0, last_epoch, "an epoch of the recorded training")
        state = base or cls()
        return (state if epoch is None else replace(state, epoch=epoch)), read.warnings
