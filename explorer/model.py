"""SimpleCNN, the device it runs on, and safe loading of its weights.

The class matches the textbook definition attribute for attribute, so a ``state_dict`` saved
from the tutorial version of the network loads unchanged::

    conv1 → ReLU → pool → conv2 → ReLU → pool → conv3 → ReLU → pool → flatten → fc1 → ReLU
    → dropout → fc2

Shapes for one image: 3×32×32 → 32×32×32 → 32×16×16 → 64×16×16 → 64×8×8 → 128×8×8 → 128×4×4
→ 2048 → 512 → 10.
"""

from __future__ import annotations

import io
import json
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from explorer.errors import UserError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
WEIGHTS_DIR = ASSETS / "weights"

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

# Largest weights file we accept from a user: ours is ~4.6 MB (float32); in float64 it is
# ~9.2 MB. Anything much larger is not a SimpleCNN state_dict.
MAX_WEIGHTS_BYTES = 40 * 1024 * 1024
# Weights this large in magnitude make every activation overflow; no trained network has them.
MAX_ABS_WEIGHT = 1e6


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


def _read_card(name: str) -> dict:
    path = WEIGHTS_DIR / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    return {}


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
            card = _read_card(key)
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
    """Every key of SimpleCNN's ``state_dict`` with its shape."""
    model = SimpleCNN(num_classes)
    return OrderedDict((k, tuple(v.shape)) for k, v in model.state_dict().items())


def validate_state_dict(state: object) -> tuple[OrderedDict[str, torch.Tensor], int]:
    """Check a loaded object is a SimpleCNN ``state_dict``; return it as float32 and its classes.

    Raises :class:`WeightsError` naming the first problem: not a dict, a missing or unexpected
    key, a wrong shape (expected vs found), a non-floating dtype, NaN/inf or absurd values.
    The number of classes is read from ``fc2.weight`` so a 10-class or, say, 2-class head both
    load.
    """
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # a common checkpoint wrapper {"state_dict": ..., ...}
    if not isinstance(state, dict):
        raise WeightsError(
            f"The file holds a {type(state).__name__}, not a state_dict (a dictionary of "
            "tensors). Save your model with torch.save(model.state_dict(), path)."
        )
    # Models wrapped in DataParallel save keys as "module.conv1.weight".
    if state and all(isinstance(k, str) and k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    fc2 = state.get("fc2.weight")
    num_classes = 10
    if isinstance(fc2, torch.Tensor) and fc2.ndim == 2 and fc2.shape[0] >= 1:
        num_classes = int(fc2.shape[0])
    expected = expected_shapes(num_classes)
    missing = [k for k in expected if k not in state]
    unexpected = [str(k) for k in state if k not in expected]
    if missing:
        raise WeightsError(
            f"Key '{missing[0]}' is missing ({len(missing)} missing in all): this is not a "
            f"SimpleCNN state_dict. Expected keys: {', '.join(expected)}."
        )
    if unexpected:
        raise WeightsError(
            f"Unexpected key '{unexpected[0]}' ({len(unexpected)} unexpected in all): this is "
            "not a SimpleCNN state_dict, or it comes from a different architecture."
        )
    clean: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, shape in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"'{key}' is a {type(value).__name__}, not a tensor.")
        if tuple(value.shape) != shape:
            raise WeightsError(
                f"'{key}' has shape {tuple(value.shape)}, but SimpleCNN expects {shape}."
            )
        if not value.dtype.is_floating_point:
            raise WeightsError(f"'{key}' holds {value.dtype} values; weights must be floats.")
        value = value.detach().to("cpu", torch.float32)
        if not torch.isfinite(value).all():
            raise WeightsError(f"'{key}' contains NaN or infinite values.")
        if value.abs().max().item() > MAX_ABS_WEIGHT:
            raise WeightsError(
                f"'{key}' has values up to {value.abs().max().item():.3g}, far beyond any "
                "trained network; the file is probably corrupt."
            )
        clean[key] = value.contiguous()
    return clean, num_classes


def load_state_dict_bytes(data: bytes) -> tuple[OrderedDict[str, torch.Tensor], int]:
    """Read an uploaded ``.pt``/``.pth`` file safely and validate it.

    ``torch.load(..., weights_only=True)`` only rebuilds tensors and plain containers: a file
    crafted to run code when unpickled is refused, not run.
    """
    if len(data) == 0:
        raise WeightsError("The file is empty.")
    if len(data) > MAX_WEIGHTS_BYTES:
        ours = 4 * sum(math.prod(shape) for shape in expected_shapes().values())
        raise WeightsError(
            f"The file is {len(data) / 1e6:.1f} MB; a SimpleCNN state_dict (float32, 10 "
            f"classes) is about {ours / 1e6:.1f} MB."
        )
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 — any failure here is the file's fault
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise WeightsError(
                "The file contains Python objects other than tensors, which could run code "
                "when loaded; it was refused. Save only model.state_dict()."
            ) from exc
        raise WeightsError(
            f"This is not a readable PyTorch weights file (it may be truncated): {reason[:200]}"
        ) from exc
    return validate_state_dict(state)


def build_model(
    state: OrderedDict[str, torch.Tensor] | None = None,
    num_classes: int = 10,
    seed: int = UNTRAINED_SEED,
) -> SimpleCNN:
    """A SimpleCNN in eval mode on the CPU: with ``state`` loaded, or randomly initialised from
    ``seed`` (the same seed always gives the same network)."""
    if state is None:
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        model = SimpleCNN(num_classes)
        torch.random.set_rng_state(generator_state)
    else:
        model = SimpleCNN(num_classes)
        model.load_state_dict(state)
    return model.eval()


def load_weights_file(path: Path) -> tuple[OrderedDict[str, torch.Tensor], int]:
    """Load and validate one of our shipped weights files."""
    return load_state_dict_bytes(Path(path).read_bytes())


def load_choice(choice: WeightsChoice) -> SimpleCNN:
    """The model for a built-in weights choice, in eval mode on the CPU."""
    if choice.path is None:
        return build_model(None, len(choice.classes))
    state, num_classes = load_weights_file(choice.path)
    return build_model(state, num_classes)


# --------------------------------------------------------------------------------------------
# Architecture table


@dataclass(frozen=True)
class LayerRow:
    """One row of the architecture table."""

    name: str
    layer: str
    output_shape: tuple[int, ...]
    weight_shape: tuple[int, ...] | None
    bias_shape: tuple[int, ...] | None
    params: int
    trainable: int


def layer_table(model: SimpleCNN, input_shape: tuple[int, ...] = (1, 3, 32, 32)) -> list[LayerRow]:
    """Each stage of the forward pass with its output shape and parameters, computed by running
    a zero input through the model's own modules in forward order."""
    was_training = model.training
    model.eval()
    rows: list[LayerRow] = []
    device = next(model.parameters()).device
    x = torch.zeros(input_shape, device=device)

    def row(name: str, module: nn.Module | None, out: torch.Tensor) -> None:
        weight = getattr(module, "weight", None) if module is not None else None
        bias = getattr(module, "bias", None) if module is not None else None
        params = list(module.parameters()) if module is not None else []
        rows.append(
            LayerRow(
                name=name,
                layer=repr(module) if module is not None else "torch.flatten(x, 1)",
                output_shape=tuple(out.shape),
                weight_shape=tuple(weight.shape) if weight is not None else None,
                bias_shape=tuple(bias.shape) if bias is not None else None,
                params=sum(p.numel() for p in params),
                trainable=sum(p.numel() for p in params if p.requires_grad),
            )
        )

    relu = nn.ReLU()
    with torch.no_grad():
        rows.append(LayerRow("input", "—", tuple(x.shape), None, None, 0, 0))
        for i, conv in enumerate((model.conv1, model.conv2, model.conv3), start=1):
            x = conv(x)
            row(f"conv{i}", conv, x)
            x = relu(x)
            row(f"relu{i}", relu, x)
            x = model.pool(x)
            row(f"pool{i}", model.pool, x)
        x = torch.flatten(x, 1)
        row("flatten", None, x)
        x = model.fc1(x)
        row("fc1", model.fc1, x)
        x = relu(x)
        row("relu4", relu, x)
        x = model.dropout(x)
        row("dropout", model.dropout, x)
        x = model.fc2(x)
        row("fc2", model.fc2, x)
    model.train(was_training)
    return rows


def parameter_totals(model: nn.Module) -> tuple[int, int]:
    """(all parameters, trainable parameters)."""
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def conv_params(in_channels: int, out_channels: int, k: int) -> int:
    """Weights and biases of a k×k convolution: ``out·in·k·k + out``."""
    return out_channels * in_channels * k * k + out_channels


def linear_params(in_features: int, out_features: int) -> int:
    """Weights and biases of a fully connected layer: ``out·in + out``."""
    return out_features * in_features + out_features


def parameter_arithmetic(model: SimpleCNN) -> list[tuple[str, str, int]]:
    """For each layer with parameters, ``(name, worked formula, count)`` read from the layer's
    own dimensions, e.g. ``("conv1", "32·3·3·3 + 32 = 896", 896)``."""
    out: list[tuple[str, str, int]] = []
    for name in ("conv1", "conv2", "conv3"):
        conv: nn.Conv2d = getattr(model, name)
        o, i, k = conv.out_channels, conv.in_channels, conv.kernel_size[0]
        n = conv_params(i, o, k)
        out.append((name, f"{o}·{i}·{k}·{k} + {o} = {n:,}", n))
    for name in ("fc1", "fc2"):
        fc: nn.Linear = getattr(model, name)
        o, i = fc.out_features, fc.in_features
        n = linear_params(i, o)
        out.append((name, f"{o}·{i:,} + {o} = {n:,}", n))
    return out


__all__ = [
    "CIFAR10_CLASSES",
    "DIGIT_CLASSES",
    "DeviceInfo",
    "LayerRow",
    "Preprocessing",
    "SimpleCNN",
    "WeightsChoice",
    "WeightsError",
    "available_devices",
    "best_device",
    "build_model",
    "builtin_weights",
    "conv_params",
    "expected_shapes",
    "layer_table",
    "linear_params",
    "normalise",
    "load_choice",
    "load_state_dict_bytes",
    "parameter_arithmetic",
    "parameter_totals",
    "validate_state_dict",
]
