"""The stage registry (explorer.stages): everything derived from it matches SimpleCNN as
written by hand, and the forward pass built from it is the model's own."""

from __future__ import annotations

import torch

from explorer.inside import CONV_SOURCE, EXPLAINED_STAGES, LINEAR_SOURCE, POOL_SOURCE, RELU_SOURCE
from explorer.model import SimpleCNN
from explorer.receptive_field import SPATIAL, WHOLE_IMAGE, field_steps
from explorer.stages import (
    BLOCKS,
    CONV_OF_STAGE,
    PARAMETER_STAGES,
    SPATIAL_STAGES,
    STAGE_NAMES,
    STAGES,
    STRIP_STAGES,
    conv_of,
    shown_as,
)


def test_the_stages_in_forward_order() -> None:
    assert STAGE_NAMES == (
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "pool3",
        "flatten", "fc1", "relu4", "dropout", "fc2", "softmax",
    )  # fmt: skip
    for before, stage in zip(STAGES, STAGES[1:], strict=False):
        assert stage.source == before.name  # a chain: each from the one before


def test_derived_lists_match_the_network_written_out() -> None:
    assert SPATIAL_STAGES == SPATIAL == STAGE_NAMES[:9]
    assert BLOCKS == (("conv1", "relu1", "pool1"), ("conv2", "relu2", "pool2"),
                      ("conv3", "relu3", "pool3"))  # fmt: skip
    assert {n: f"conv{n[-1]}" for n in SPATIAL_STAGES} == CONV_OF_STAGE
    assert conv_of("pool2") == "conv2"
    assert STRIP_STAGES == ("flatten", "fc1", "relu4")
    assert PARAMETER_STAGES == ("conv1", "conv2", "conv3", "fc1", "fc2")
    assert shown_as("dropout") == "relu4" and shown_as("conv1") == "conv1"
    assert EXPLAINED_STAGES == STAGE_NAMES
    assert WHOLE_IMAGE == ("fc1", "relu4", "dropout", "fc2", "softmax")


def test_sources_of_each_operation() -> None:
    assert CONV_SOURCE == {"conv1": "input", "conv2": "pool1", "conv3": "pool2"}
    assert RELU_SOURCE == {"relu1": "conv1", "relu2": "conv2", "relu3": "conv3", "relu4": "fc1"}
    assert POOL_SOURCE == {"pool1": "relu1", "pool2": "relu2", "pool3": "relu3"}
    assert LINEAR_SOURCE == {"fc1": "flatten", "fc2": "dropout"}


def test_every_module_named_exists_with_parameters_where_expected() -> None:
    model = SimpleCNN()
    for stage in STAGES:
        if stage.module is not None:
            module = getattr(model, stage.module)
            assert any(True for _ in module.parameters()) == stage.has_parameters, stage.name


def test_receptive_field_steps_follow_the_registry() -> None:
    steps = field_steps()
    assert tuple(s.stage for s in steps) == SPATIAL_STAGES
    assert [s.field for s in steps] == [3, 3, 4, 8, 8, 10, 18, 18, 22]


def test_the_registry_forward_pass_is_the_models_own() -> None:
    from explorer.features import capture_activations

    torch.manual_seed(1)
    model = SimpleCNN().eval()
    x = torch.randn(1, 3, 32, 32)
    acts = capture_activations(model, x)
    with torch.no_grad():
        assert torch.equal(torch.from_numpy(acts.logits.copy())[None], model(x))
