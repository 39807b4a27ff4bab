"""The hierarchy page's numbers (explorer.hierarchy): each stage's field measured with gradients
through the real layers, the centre unit against a search over every unit, the chosen maps
against plain PyTorch and NumPy, and the page's link."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.attribution import GalleryResponses
from explorer.hierarchy import (
    FIELD_STAGES,
    HIERARCHY_CHOICES,
    HierarchyState,
    centre_cell,
    chosen_maps,
    field_tour,
    map_scores,
)
from explorer.links import LINK_PARAMS, params_of
from explorer.model import SimpleCNN, builtin_weights
from explorer.receptive_field import field_steps
from explorer.samples import gallery, load_gallery_image

CIFAR = {c.key: c for c in builtin_weights()}["simplecnn-cifar10"]


def measured_field(stage: str, cell: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The input pixels that reach ``cell`` of ``stage``, measured: SimpleCNN's own conv layers
    with every weight 1 and no bias, ReLU left out and max pooling replaced by average pooling
    (same windows), so that every pixel that can reach the cell has a positive gradient and
    every other a zero one. (top, left, bottom, right), ends included."""
    net = SimpleCNN()
    with torch.no_grad():
        for conv in (net.conv1, net.conv2, net.conv3):
            conv.weight.fill_(1.0)
            conv.bias.zero_()
    x = torch.zeros(1, 3, 32, 32, requires_grad=True)
    h = x
    stages = {}
    for i in (1, 2, 3):
        h = stages[f"conv{i}"] = getattr(net, f"conv{i}")(h)
        h = stages[f"pool{i}"] = F.avg_pool2d(h, 2)
    stages["fc1"] = h.flatten(1).sum(dim=1, keepdim=True)  # fc1 mixes every pool3 number
    out = stages[stage][0][cell] if len(cell) == 3 else stages[stage][0, 0]
    (grad,) = torch.autograd.grad(out, x)
    rows, cols = np.nonzero(grad[0].abs().sum(dim=0).numpy())
    return int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())


def test_each_stage_field_is_the_measured_one_and_grows_to_the_whole_image() -> None:
    rows = field_tour()
    assert [r.stage for r in rows] == list(FIELD_STAGES)
    # By hand: r_out = r_in + (k − 1)·j_in, j_out = j_in·s; 3×3 convs, 2×2 pools.
    assert [r.side for r in rows] == [3, 4, 8, 10, 18, 22, 32]
    for row in rows:
        box = row.box
        assert measured_field(row.stage, row.cell) == (box.top, box.left, box.bottom, box.right)
        assert row.share == pytest.approx(box.height * box.width / 1024)
    assert rows[-1].share == 1.0


def test_the_centre_unit_is_the_one_whose_field_is_most_central() -> None:
    # By hand, conv1: cell i sees rows i − 1…i + 1, centred on i; 15 and 16 are equally near
    # the image's centre 15.5, and the later is taken. The others follow with their jumps.
    assert [centre_cell(s) for s in field_steps()] == [16, 16, 8, 8, 8, 4, 4, 4, 2]
    assert [s.stage for s in field_steps()][::3] == ["conv1", "conv2", "conv3"]
    for step in field_steps():

        def off_centre(i: int, step=step) -> float:
            return abs(step.start + i * step.jump + (step.field - 1) / 2 - 15.5)

        best = min(off_centre(i) for i in range(step.side))
        assert off_centre(centre_cell(step)) == best, step.stage
        top = step.start + centre_cell(step) * step.jump
        assert top >= 0 and top + step.field - 1 <= 31  # its whole field is on the image


@pytest.fixture(scope="module")
def responses() -> dict[str, tuple[np.ndarray, GalleryResponses]]:
    """Each conv stage of the shipped CIFAR-10 network on the gallery, by plain PyTorch, and
    the same through explorer.attribution.gallery_responses."""
    from explorer.attribution import gallery_responses

    model = SimpleCNN()
    model.load_state_dict(torch.load(CIFAR.path, weights_only=True))
    model.eval()
    images = np.stack([load_gallery_image(i) for i in gallery("cifar10")])
    x = torch.from_numpy(images.astype(np.float32) / 255).permute(0, 3, 1, 2)
    mean = torch.tensor(CIFAR.preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR.preprocessing.std).view(1, 3, 1, 1)
    h = (x - mean) / std
    out = {}
    with torch.no_grad():
        for i in (1, 2, 3):
            h = getattr(model, f"conv{i}")(h)
            stage = f"conv{i}"
            out[stage] = (
                h.double().numpy(),
                gallery_responses(model, images, CIFAR.preprocessing, stage=stage),
            )
            h = F.max_pool2d(torch.relu(h), 2)
    return out


@pytest.mark.parametrize("stage", ["conv1", "conv2", "conv3"])
@pytest.mark.parametrize("rule", ["mean", "peak"])
def test_the_chosen_maps_are_the_top_scores_by_numpy(responses, stage, rule) -> None:
    maps, found = responses[stage]  # N×C×H×W
    per_image = maps.mean(axis=(2, 3)) if rule == "mean" else maps.max(axis=(2, 3))
    score = per_image.mean(axis=0)
    expected = list(np.argsort(-score, kind="stable")[:4])
    chosen = chosen_maps(found, HierarchyState(maps=4, rank=rule))
    assert [c.channel for c in chosen] == expected
    assert [c.rank for c in chosen] == [1, 2, 3, 4]
    for c in chosen:
        assert c.score == pytest.approx(score[c.channel], rel=1e-6, abs=1e-9)
        peaks = maps[:, c.channel].max(axis=(1, 2))
        assert list(c.top) == list(np.argsort(-peaks, kind="stable")[:3])


def test_ties_go_to_the_lower_map_and_the_count_is_the_states() -> None:
    same = np.array([[1.0, 3.0, 3.0, 2.0], [1.0, 3.0, 3.0, 2.0]])
    found = GalleryResponses(same, np.zeros((2, 4, 2), int), same)
    assert [c.channel for c in chosen_maps(found, HierarchyState(maps=3))] == [1, 2, 3]
    assert len(chosen_maps(found, HierarchyState(maps=1))) == 1
    np.testing.assert_array_equal(map_scores(found, "peak"), [1.0, 3.0, 3.0, 2.0])
    with pytest.raises(ValueError):
        map_scores(found, "median")


def test_the_link_sets_the_state_and_ignores_nonsense() -> None:
    state, warnings = HierarchyState.from_query({"maps": "2", "rank": "peak"})
    assert state == HierarchyState(maps=2, rank="peak") and warnings == []
    assert state.to_query() == {"maps": "2", "rank": "peak"}
    assert HierarchyState().to_query() == {}
    state, warnings = HierarchyState.from_query({"maps": "9", "rank": "<b>x</b>", "w": "x"})
    assert state == HierarchyState()
    assert len(warnings) == 2 and all(w.startswith("Ignored the link's ") for w in warnings)
    with pytest.raises(ValueError):
        HierarchyState().choose("maps", True)
    for choice in HIERARCHY_CHOICES.values():
        assert LINK_PARAMS[choice.param] == "hierarchy"
    assert params_of("hierarchy") == {"maps", "rank"}
