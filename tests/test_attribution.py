"""Attributions and activation maximisation (explorer.attribution): Captum's maps equal
independent autograd references, the shared model is never touched (no hooks left, no gradients,
no mode switch, same numbers), inputs are not mutated, the GPU falls back to the CPU, and the
optimised input really excites its conv3 map."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer import attribution
from explorer.attribution import (
    AttributionError,
    attribute,
    black_baseline,
    gallery_responses,
    maximise_channel,
)
from explorer.features import capture_activations, preprocess
from explorer.model import SimpleCNN, builtin_weights
from explorer.samples import gallery, load_gallery_image
from explorer.weights_file import load_choice

CHOICE = next(c for c in builtin_weights() if c.key == "simplecnn-cifar10")
PRE = CHOICE.preprocessing


@pytest.fixture(scope="module")
def model() -> SimpleCNN:
    return load_choice(CHOICE)


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return preprocess(load_gallery_image(gallery("cifar10")[6]), PRE)


@pytest.fixture(scope="module")
def found(model, x) -> attribution.Attributions:
    return attribute(model, x, 3, PRE)


def input_gradient(model: SimpleCNN, x: torch.Tensor, target: int) -> torch.Tensor:
    """∂ score[target] / ∂ x by plain autograd on a copy: the independent reference."""
    net = attribution.private_copy(model)
    inp = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(inp)[0, target], inp)
    return grad[0]


def test_grad_cam_is_the_gradient_weighted_sum_of_conv3_maps(model, x, found) -> None:
    net = attribution.private_copy(model)
    maps = net.conv3(net.pool(torch.relu(net.conv2(net.pool(torch.relu(net.conv1(x)))))))
    maps = maps.detach().requires_grad_(True)  # 1×128×8×8, then the rest of the forward pass
    rest = net.fc2(torch.relu(net.fc1(torch.flatten(net.pool(torch.relu(maps)), 1))))
    (grads,) = torch.autograd.grad(rest[0, 3], maps)
    weights = grads.mean(dim=(2, 3), keepdim=True)  # one per map: the average gradient
    cam = torch.relu((weights * maps).sum(dim=1, keepdim=True))  # 1×1×8×8
    np.testing.assert_allclose(found.grad_cam_coarse, cam[0, 0].detach(), rtol=1e-5, atol=1e-7)
    fine = F.interpolate(cam, size=(32, 32), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(found.grad_cam, fine[0, 0].detach(), rtol=1e-5, atol=1e-7)
    assert found.grad_cam.max() > 0


def test_saliency_is_the_largest_absolute_input_gradient(model, x, found) -> None:
    expected = input_gradient(model, x, 3).abs().amax(dim=0)
    np.testing.assert_allclose(found.saliency, expected.numpy(), rtol=1e-5, atol=1e-9)


def test_integrated_gradients_follow_the_gauss_legendre_path(model, x, found) -> None:
    """Σ_k w_k ∇score(b + α_k (x − b)) ⊙ (x − b), with Gauss–Legendre nodes on [0, 1]. The
    points go through the network as one batch, as Captum sends them: a convolution of a batch
    rounds a little differently from one image at a time, which near a ReLU's or a max-pool's
    switching point changes which way the gradient goes."""
    nodes, weights = np.polynomial.legendre.leggauss(attribution.IG_STEPS)
    alphas, weights = (nodes + 1) / 2, weights / 2
    base = black_baseline(PRE)
    path = torch.cat([base + float(a) * (x - base) for a in alphas]).requires_grad_(True)
    net = attribution.private_copy(model)
    (grads,) = torch.autograd.grad(net(path)[:, 3].sum(), path)  # each point's own gradient
    total = (torch.from_numpy(weights).view(-1, 1, 1, 1) * grads.double()).sum(dim=0)
    expected = (total * (x - base)[0].double()).sum(dim=0)
    np.testing.assert_allclose(found.integrated, expected.numpy(), rtol=1e-4, atol=1e-6)


def test_integrated_gradients_nearly_add_up_to_the_score_change(model, x, found) -> None:
    with torch.no_grad():
        scores = model(torch.cat([x, black_baseline(PRE)]))[:, 3].double()
    assert found.score == pytest.approx(float(scores[0]), abs=1e-5)
    assert found.baseline_score == pytest.approx(float(scores[1]), abs=1e-5)
    change = found.score - found.baseline_score
    assert found.ig_gap == pytest.approx(found.integrated.sum() - change, abs=1e-4)
    assert abs(found.ig_gap) < 0.05 * abs(change)  # the path integral, 64 points


def all_hooks(net: torch.nn.Module) -> list:
    return [
        h
        for m in net.modules()
        for h in (*m._forward_hooks, *m._forward_pre_hooks, *m._backward_hooks)
    ]


def test_the_shared_model_is_never_touched(model, x) -> None:
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x_before = x.clone()
    attribute(model, x, 5, PRE)
    maximise_channel(model, PRE, 7, steps=3)
    images = np.stack([load_gallery_image(i) for i in gallery("cifar10")[:3]])
    gallery_responses(model, images, PRE)
    assert all_hooks(model) == []
    assert not any(m.training for m in model.modules())
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert torch.equal(x, x_before) and not x.requires_grad


def test_no_hook_is_left_behind_when_the_forward_pass_fails(model, monkeypatch) -> None:
    """Captum hooks conv3 of the private copy for Grad-CAM; a forward pass that raises after
    conv3 must not leave that hook behind (on the copy, and never anything on the model)."""
    copies: list[SimpleCNN] = []
    real = attribution.private_copy

    def boom(*_args: object) -> None:
        raise RuntimeError("boom")

    def failing_copy(m: SimpleCNN, device: str = "cpu") -> SimpleCNN:
        net = real(m, device)
        net.fc2.register_forward_pre_hook(boom)
        copies.append(net)
        return net

    monkeypatch.setattr(attribution, "private_copy", failing_copy)
    with pytest.raises(RuntimeError, match="boom"):
        attribute(model, torch.zeros(1, 3, 32, 32), 0, PRE)
    assert all_hooks(model) == []
    assert len(all_hooks(copies[0])) == 1 and len(copies[0].fc2._forward_pre_hooks) == 1


def test_a_failed_gpu_falls_back_to_the_cpu(model, x, monkeypatch) -> None:
    real = attribution.private_copy

    def no_gpu(m: SimpleCNN, device: str = "cpu") -> SimpleCNN:
        if device != "cpu":
            raise RuntimeError("CUDA error: out of memory\nmore lines")
        return real(m, device)

    monkeypatch.setattr(attribution, "private_copy", no_gpu)
    found = attribute(model, x, 3, PRE, device="cuda")
    assert (
        found.device == "cpu" and found.fallback_reason == "RuntimeError: CUDA error: out of memory"
    )

    def broken(m: SimpleCNN, device: str = "cpu") -> SimpleCNN:
        raise RuntimeError("a bug")

    monkeypatch.setattr(attribution, "private_copy", broken)
    with pytest.raises(RuntimeError, match="a bug"):  # the CPU failing is a bug, not a fallback
        attribute(model, x, 3, PRE)


@pytest.mark.parametrize("target", [-1, 10, 2.5])
def test_a_class_that_does_not_exist_is_a_clear_error(model, x, target) -> None:
    with pytest.raises(AttributionError, match="classes 0 to 9"):
        attribute(model, x, target, PRE)


def test_gallery_responses_are_conv3_of_each_image(model) -> None:
    items = gallery("cifar10")[:4]
    images = np.stack([load_gallery_image(i) for i in items])
    found = gallery_responses(model, images, PRE)
    for n, image in enumerate(images):
        conv3 = capture_activations(model, preprocess(image, PRE)).stages["conv3"]
        np.testing.assert_allclose(found.peak[n], conv3.reshape(128, -1).max(1), atol=1e-5)
        np.testing.assert_allclose(
            found.mean[n], conv3.reshape(128, -1).mean(1), rtol=1e-4, atol=1e-6
        )
        r, c = found.where[n, 40]
        assert conv3[40, r, c] == pytest.approx(conv3[40].max(), abs=1e-5)
    best = found.ranking(40, 2)
    assert found.peak[best[0], 40] == found.peak[:, 40].max() >= found.peak[best[1], 40]


def test_maximised_input_excites_its_map_and_is_seeded(model) -> None:
    seen: list[tuple[int, int]] = []
    first = maximise_channel(model, PRE, 17, steps=20, progress=lambda k, n: seen.append((k, n)))
    again = maximise_channel(model, PRE, 17, steps=20)
    np.testing.assert_array_equal(first.image, again.image)
    assert first.image.shape == (32, 32, 3) and first.image.dtype == np.uint8
    assert seen[-1] == (20, 20) and len(seen) == 20  # every step when there are few
    conv3 = capture_activations(model, preprocess(first.image, PRE)).stages["conv3"][17]
    assert first.mean == pytest.approx(float(conv3.mean()), rel=1e-5)
    assert first.peak == pytest.approx(float(conv3.max()), rel=1e-5)
    assert first.mean > first.start_mean + 1 and first.history[-1] > first.history[0]
    other = maximise_channel(model, PRE, 17, steps=2, seed=1)
    assert not np.array_equal(other.image, first.image)


@pytest.mark.parametrize("channel, steps", [(128, 10), (-1, 10), (0, 0), (0, 10_000)])
def test_maximising_a_map_that_does_not_exist_is_a_clear_error(model, channel, steps) -> None:
    with pytest.raises(AttributionError):
        maximise_channel(model, PRE, channel, steps=steps)


def test_every_method_note_says_what_it_shows_and_where_it_misleads() -> None:
    assert set(attribution.METHOD_NOTES) == {"grad_cam", "saliency", "integrated"}
    for note in attribution.METHOD_NOTES.values():
        assert len(note.shows) > 60 and len(note.misleads) > 60
