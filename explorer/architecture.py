"""SimpleCNN's architecture as a table: each stage of the forward pass with its output shape
and parameters (``layer_table``), and each layer's parameter count worked out from its own
dimensions (``parameter_arithmetic``, ``conv_params``, ``linear_params``). The Network page
shows them; the model is only read, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explorer.features import apply_stage
from explorer.model import SimpleCNN
from explorer.stages import PARAMETER_STAGES, STAGES


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
    a zero input (``input_shape``, N×3×32×32) through the model's own modules in forward order.

    The model is only read — its mode is not switched, nothing is registered on it — because
    the app shares one model between every session. Dropout is not run: it never changes a
    shape, and in training mode it would draw from torch's global random generator."""
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

    relu = nn.ReLU()  # torch.relu as a module, for its name in the table
    with torch.no_grad():
        rows.append(LayerRow("input", "—", tuple(x.shape), None, None, 0, 0))
        for stage in STAGES:
            if stage.op == "softmax":  # the probabilities: not a layer of the model
                continue
            if stage.op != "dropout":  # dropout never changes a shape: see the docstring
                x = apply_stage(model, stage, x)
            module = getattr(model, stage.module) if stage.module else None
            row(stage.name, relu if stage.op == "relu" else module, x)
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
    for name in PARAMETER_STAGES:
        layer = getattr(model, name)
        if isinstance(layer, nn.Conv2d):
            o, i, k = layer.out_channels, layer.in_channels, layer.kernel_size[0]
            n = conv_params(i, o, k)
            out.append((name, f"{o}·{i}·{k}·{k} + {o} = {n:,}", n))
        else:
            o, i = layer.out_features, layer.in_features
            n = linear_params(i, o)
            out.append((name, f"{o}·{i:,} + {o} = {n:,}", n))
    return out
