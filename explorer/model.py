"""SimpleCNN, the devices it runs on, and the weights the app offers.

The class matches the textbook definition attribute for attribute, so a ``state_dict`` saved
from the tutorial version of the network loads unchanged::

    conv1 → ReLU → pool → conv2 → ReLU → pool → conv3 → ReLU → pool → flatten → fc1 → ReLU
    → dropout → fc2

Shapes for one image: 3×32×32 → 32×32×32 → 32×16×16 → 64×16×16 → 64×8×8 → 128×8×8 → 128×4×4
→ 2048 → 512 → 10.

Also here: the devices (CUDA, MPS, the CPU), the built-in weights choices with how an image is
prepared for each (``Preprocessing``, ``normalise``), and ``build_model``. Reading weights from
a file, safely, is ``explorer.weights_file``; the architecture table is
``explorer.architecture``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from explorer.assets import WEIGHTS_DIR, read_card
from explorer.errors import UserError

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
DIGIT_CLASSES = tuple(str(d) for d in range(10))

# At most this many classes: ImageNet, the largest common benchmark, has 1,000. The pages draw a
# bar and a label per class (100,000 classes took a browser tab past 3 GB), and each class adds
# 513 numbers to fc2 (1,000 classes: 2 MB), so this also bounds what building the model costs.
MAX_CLASSES = 1000


class WeightsError(UserError):
    """A weights file that cannot be used, with a sentence a student understands."""


class SimpleCNN(nn.Module):
    """Three conv blocks and a two-layer classifier head, for 3×32×32 inputs."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, kernel_size=3, padding=1)
        # One pooling module serves all three blocks: it has no parameters.
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(128 * 4 * 4, 512)
        self.fc2 = nn.Linear(512, num_classes)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N×3×32×32 images (normalised) → N×num_classes logits."""
        x = self.pool(torch.relu(self.conv1(x)))  # N×32×16×16
        x = self.pool(torch.relu(self.conv2(x)))  # N×64×8×8
        x = self.pool(torch.relu(self.conv3(x)))  # N×128×4×4
        x = torch.flatten(x, 1)  # N×2048, channel-major as in the textbook `view(-1, 128*4*4)`
        x = torch.relu(self.fc1(x))  # N×512
        x = self.dropout(x)  # inactive in eval mode
        return self.fc2(x)  # N×num_classes


# --------------------------------------------------------------------------------------------
# Devices


@dataclass(frozen=True)
class DeviceInfo:
    """Where the model runs: a torch device string and a name a person can read."""

    device: str
    name: str
    is_gpu: bool


def available_devices() -> list[DeviceInfo]:
    """The best GPU first (CUDA, then Apple MPS), the CPU always last."""
    devices: list[DeviceInfo] = []
    if torch.cuda.is_available():
        devices.append(DeviceInfo("cuda", f"CUDA · {torch.cuda.get_device_name(0)}", True))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append(DeviceInfo("mps", "Apple MPS (Metal)", True))
    devices.append(DeviceInfo("cpu", "CPU", False))
    return devices


def best_device() -> DeviceInfo:
    """CUDA, then MPS, else the CPU."""
    return available_devices()[0]


# --------------------------------------------------------------------------------------------
# Weights


@dataclass(frozen=True)
class Preprocessing:
    """How an image in [0, 1] becomes the model's input: ``(x - mean) / std`` per channel."""

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # "rgb": a photo resized to 32×32. "digit": a white-on-black digit, centred and scaled the
    # way MNIST digits are, then padded from 28×28 to 32×32 and repeated on three channels.
    kind: str = "rgb"


@dataclass(frozen=True)
class WeightsChoice:
    """One set of weights the app offers, with what the user needs to know about it."""

    key: str
    label: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    path: Path | None = None  # None: random, seeded initialisation
    card: dict = field(default_factory=dict)


def normalise(x_uint8: torch.Tensor, pre: Preprocessing) -> torch.Tensor:
    """uint8 N×3×H×W → float ``(x/255 - mean) / std`` per channel. The one implementation: the
    trainer and the app both call it, so the app feeds the network exactly what it learned on."""
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1)
    std = torch.tensor(pre.std).view(1, 3, 1, 1)
    return (x_uint8.float() / 255.0 - mean) / std


CIFAR10_PREPROCESSING = Preprocessing(
    mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616), kind="rgb"
)
MNIST_PREPROCESSING = Preprocessing(mean=(0.1307,) * 3, std=(0.3081,) * 3, kind="digit")
UNTRAINED_SEED = 0


def _preprocessing_from_card(card: dict, fallback: Preprocessing) -> Preprocessing:
    pre = card.get("preprocessing")
    if not pre:
        return fallback
    return Preprocessing(mean=tuple(pre["mean"]), std=tuple(pre["std"]), kind=pre["kind"])


def builtin_weights() -> list[WeightsChoice]:
    """The weights shipped in ``assets/weights`` (those present), then the untrained network."""
    choices = []
    for key, label, classes, fallback in (
        ("simplecnn-cifar10", "Trained on CIFAR-10", CIFAR10_CLASSES, CIFAR10_PREPROCESSING),
        ("simplecnn-mnist", "Trained on MNIST digits", DIGIT_CLASSES, MNIST_PREPROCESSING),
    ):
        path = WEIGHTS_DIR / f"{key}.pt"
        if path.exists():
            card = read_card(key, WEIGHTS_DIR)
            pre = _preprocessing_from_card(card, fallback)
            choices.append(WeightsChoice(key, label, classes, pre, path, card))
    choices.append(
        WeightsChoice(
            "untrained",
            f"Untrained (random, seed {UNTRAINED_SEED})",
            CIFAR10_CLASSES,
            CIFAR10_PREPROCESSING,
        )
    )
    return choices


def expected_shapes(num_classes: int = 10) -> OrderedDict[str, tuple[int, ...]]:
    """Every key of SimpleCNN's ``state_dict`` with its shape, read from the class itself on
    the ``meta`` device (shapes without numbers: nothing is allocated, whatever the classes)."""
    return OrderedDict((k, tuple(v.shape)) for k, v in meta_model(num_classes).state_dict().items())


def meta_model(num_classes: int) -> SimpleCNN:
    """A SimpleCNN on the ``meta`` device: every parameter has its shape and dtype but no
    numbers, so nothing is allocated, whatever ``num_classes``."""
    # torch.device(...) as a context is thread-local (a TorchFunctionMode), so other sessions'
    # threads keep creating ordinary CPU tensors meanwhile.
    with torch.device("meta"):
        return SimpleCNN(num_classes)


OVERFLOW_MESSAGE = (
    "These weights make the network's scores overflow (inf/NaN): float32 numbers stop at about "
    "3.4e38, and these weights multiply the numbers past that, layer after layer. Trained "
    "weights never do this; the file is probably corrupt or made by hand."
)

_GLOBAL_RNG = threading.Lock()


def build_model(
    state: OrderedDict[str, torch.Tensor] | None = None,
    num_classes: int = 10,
    seed: int = UNTRAINED_SEED,
) -> SimpleCNN:
    """A SimpleCNN in eval mode on the CPU: with ``state`` loaded (copied: the model shares
    nothing with it), or randomly initialised from ``seed`` (the same seed always gives the
    same network). ``num_classes`` must be 1…MAX_CLASSES, which bounds what is allocated."""
    if not 1 <= num_classes <= MAX_CLASSES:
        raise WeightsError(
            f"A SimpleCNN here has 1 to {MAX_CLASSES:,} classes, not {num_classes:,}."
        )
    if state is None:
        # Module initialisation draws from torch's global generator: seed it, and put back what
        # it was, under a lock so that two sessions building at once cannot interleave.
        with _GLOBAL_RNG:
            generator_state = torch.random.get_rng_state()
            torch.manual_seed(seed)
            model = SimpleCNN(num_classes)
            torch.random.set_rng_state(generator_state)
    else:
        # Built on the meta device, then given uninitialised memory and filled from ``state``:
        # no random initialisation that load_state_dict would overwrite anyway.
        model = meta_model(num_classes).to_empty(device="cpu")
        model.load_state_dict(state)
    return model.eval()


__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_PREPROCESSING",
    "DIGIT_CLASSES",
    "DeviceInfo",
    "MAX_CLASSES",
    "MNIST_PREPROCESSING",
    "OVERFLOW_MESSAGE",
    "Preprocessing",
    "SimpleCNN",
    "UNTRAINED_SEED",
    "WEIGHTS_DIR",
    "WeightsChoice",
    "WeightsError",
    "available_devices",
    "best_device",
    "build_model",
    "builtin_weights",
    "expected_shapes",
    "meta_model",
    "normalise",
]
